/* Reference-counted byte blocks: see block.h and corekv/rt.h. */
#include "base/block.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

typedef void (*release_fn)(struct rt_block *b);

static _Atomic size_t release_min = SIZE_MAX;
static _Atomic release_fn release_hook;

static _Noreturn void oom(size_t n)
{
    log_msg(LOG_WARNING, "out of memory allocating a block of %zu bytes", n);
    abort();
}

struct rt_block *block_alloc(size_t cap)
{
    if (cap > SIZE_MAX - sizeof(struct rt_block) - 1)
        oom(cap);
    struct rt_block *b = malloc(sizeof *b + (cap ? cap : 1));
    if (!b)
        oom(cap);
    b->refs = 1;
    b->len = 0;
    b->cap = cap;
    return b;
}

struct rt_block *block_reserve(struct rt_block *b, size_t cap)
{
    if (cap <= b->cap)
        return b;
    if (cap > SIZE_MAX - sizeof(struct rt_block))
        oom(cap);
    struct rt_block *n = realloc(b, sizeof *b + cap);
    if (!n)
        oom(cap);
    n->cap = cap;
    return n;
}

struct rt_block *block_unshare(struct rt_block *b, size_t cap)
{
    if (!block_shared(b))
        return block_reserve(b, cap);
    struct rt_block *n = block_alloc(cap < b->len ? b->len : cap);
    n->len = b->len;
    if (b->len)
        memcpy(n->data, b->data, b->len);
    b->refs--; /* shared: others still hold it */
    return n;
}

void block_set_release(size_t min_len, void (*fn)(struct rt_block *b))
{
    atomic_store_explicit(&release_hook, fn, memory_order_relaxed);
    atomic_store_explicit(&release_min, fn ? min_len : SIZE_MAX, memory_order_relaxed);
}

void block_free(struct rt_block *b) { free(b); }

/* ---- The public face (corekv/rt.h) ---- */

struct rt_block *rt_block_new(const void *p, size_t len)
{
    struct rt_block *b = block_alloc(len);
    b->len = len;
    if (len)
        memcpy(b->data, p, len);
    return b;
}

void rt_block_ref(struct rt_block *b) { b->refs++; }

void rt_block_unref(struct rt_block *b)
{
    if (!b || --b->refs != 0)
        return;
    if (__builtin_expect(b->cap >= atomic_load_explicit(&release_min, memory_order_relaxed), 0)) {
        release_fn fn = atomic_load_explicit(&release_hook, memory_order_relaxed);
        if (fn) {
            fn(b);
            return;
        }
    }
    free(b);
}

size_t rt_block_len(const struct rt_block *b) { return b->len; }
const char *rt_block_data(const struct rt_block *b) { return b->data; }

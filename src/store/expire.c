/* TTLs: the index of entries that have one, and active expiry.
 *
 * The index is a dense array of entry pointers in no particular order; each entry with a
 * TTL remembers its position (ttl_pos), so adding and removing are O(1) (swap-remove) and
 * a uniform random sample of TTL keys is one random index: active expiry never walks the
 * main table, and costs nothing when no key has a TTL. */
#include <stdlib.h>

#include "base/clock.h"
#include "base/log.h"
#include "store/internal.h"

#define TTL_MIN_CAP 16u
#define EXPIRE_SAMPLES 20u

void store_ttl_add(struct store *s, struct entry *e)
{
    if (s->ttl_len == s->ttl_cap) {
        if (s->ttl_len >= UINT32_MAX) {
            log_msg(LOG_WARNING, "store: too many keys with a TTL");
            abort();
        }
        size_t cap = s->ttl_cap ? s->ttl_cap * 2 : TTL_MIN_CAP;
        s->ttl = store_xrealloc(s->ttl, cap * sizeof *s->ttl);
        s->ttl_cap = cap;
    }
    e->ttl_pos = (uint32_t)s->ttl_len;
    s->ttl[s->ttl_len++] = e;
}

void store_ttl_del(struct store *s, struct entry *e)
{
    size_t pos = e->ttl_pos;
    struct entry *last = s->ttl[--s->ttl_len];
    s->ttl[pos] = last;
    last->ttl_pos = (uint32_t)pos;
    e->expire = ENT_NO_EXPIRE;
    /* Give memory back after mass expiry, with hysteresis (shrink at 1/4, to 1/2). */
    if (s->ttl_cap > TTL_MIN_CAP && s->ttl_len < s->ttl_cap / 4) {
        s->ttl_cap /= 2;
        s->ttl = store_xrealloc(s->ttl, s->ttl_cap * sizeof *s->ttl);
    }
}

void store_ttl_clear(struct store *s)
{
    free(s->ttl);
    s->ttl = NULL;
    s->ttl_len = s->ttl_cap = 0;
}

void store_set_expire(struct store *s, struct entry *e, int64_t unix_ms)
{
    snap_before_change(s, e);
    if (unix_ms == STORE_NO_TTL) {
        if (ent_has_ttl(e))
            store_ttl_del(s, e);
        return;
    }
    /* INT64_MAX is the internal "no TTL"; a deadline 292 million years away can be 1 ms
     * earlier. */
    if (unix_ms == ENT_NO_EXPIRE)
        unix_ms--;
    if (!ent_has_ttl(e))
        store_ttl_add(s, e);
    e->expire = unix_ms;
}

size_t store_expires_count(const struct store *s) { return s->ttl_len; }

size_t store_expire_cycle(struct store *s, uint64_t budget_us)
{
    if (s->ttl_len == 0)
        return 0;
    uint64_t start = clock_mono_us();
    size_t deleted = 0;
    for (;;) {
        size_t n = s->ttl_len < EXPIRE_SAMPLES ? s->ttl_len : EXPIRE_SAMPLES;
        if (n == 0)
            break;
        size_t expired = 0;
        for (size_t i = 0; i < n && s->ttl_len; i++) {
            struct entry *e = s->ttl[store_rand(&s->rng) % s->ttl_len];
            if (ent_expired(s, e)) {
                store_expire_at(s, store_dict_slot_of(&s->d, e));
                expired++;
            }
        }
        deleted += expired;
        /* As Redis: another round only while more than a quarter of the sample was stale. */
        if (expired * 4 <= n)
            break;
        if (clock_mono_us() - start >= budget_us)
            break;
    }
    if (deleted)
        store_dict_check_resize(&s->d);
    return deleted;
}

/* SORT and SORT_RO, internal to src/cmd/sort*.c.
 *
 * One engine serves both ways SORT runs (Redis 7's sort.c semantics throughout):
 *   sort.c        the options and the engine;
 *   sort_local.c  the one-shard execution (every key SORT touches lives on the shard
 *                 that runs it), the internal parts, the command table;
 *   sort_multi.c  the step on the origin: one part when everything is on one shard,
 *                 else the rounds below with pattern keys read from their owners.
 * The engine works in rounds a caller can serve locally or by sending parts: load the
 * elements in their native order; if sorting BY a pattern, resolve one lookup per
 * element; sort; resolve the GET lookups of the output range; emit.
 *
 * Internal commands (parts of the step, never accepted from clients):
 *   __sort <the client's SORT argv[1..]>  the whole command on one shard (its reply in
 *                                         the client's protocol, through rt_txn_command)
 *   __sortread key                -> *n+1 [:type, elements...] in native order (type 0:
 *                                    no key, else enum val_type) | -WRONGTYPE
 *   __sortget key field ...       -> *n [bulk | nil] per pair; an empty field reads a
 *                                    string key, any other the hash field
 *   __sortstore dst elem ...      -> :n; dst becomes the list of elems, or is deleted
 *                                    when there are none */
#ifndef COREKV_CMD_SORT_H
#define COREKV_CMD_SORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cmd/cmd.h"

struct sort_opts {
    bool readonly;        /* SORT_RO: no STORE */
    bool desc, alpha;
    bool dontsort;        /* BY a pattern without '*' ("nosort") */
    int64_t lstart, lcount; /* LIMIT, as given (-1 count: to the end) */
    const rt_str *key;
    const rt_str *by;     /* NULL, or the BY pattern (meaningful unless dontsort) */
    const rt_str *store;  /* NULL, or the destination */
    int ngets;
    const rt_str **gets;  /* GET patterns, in order (allocated; sort_opts_free) */
};

/* Parse argv as Redis's sortCommandGeneric: NULL, or the error text to reply. */
const char *sort_parse(const rt_str *argv, int argc, bool readonly, struct sort_opts *o);
void sort_opts_free(struct sort_opts *o);

/* What a pattern gives for an element. */
enum sort_lk_kind { LK_NONE, LK_ELEM, LK_KEY };

/* One lookup: a key (and a hash field) formed from a pattern and an element. */
struct sort_lk {
    enum sort_lk_kind kind;
    bool hash;            /* read field foff/flen of a hash, else a string key */
    size_t koff, klen, foff, flen; /* in the job's lk_bytes */
    size_t elem;          /* LK_ELEM: the element */
    bool found;           /* result: a value at voff/vlen of the job's vals */
    size_t voff, vlen;
    unsigned shard;       /* the owner (sort_multi.c) */
};

struct sort_elem {
    size_t off, len;      /* bytes in the job's elems */
    double score;
    int64_t by;           /* ALPHA BY: the lookup holding the compare value, or -1 */
};

struct sort_job {
    struct sort_opts o;
    int type;             /* 0: no key; else enum val_type */
    struct buf elems;
    struct sort_elem *v;
    size_t n, cap;
    int64_t start, end;   /* the output range, after LIMIT clamping */
    bool conv_error;
    /* The current round's lookups. */
    struct sort_lk *lk;
    size_t nlk, lkcap;
    struct buf lk_bytes, vals;
};

void sort_job_free(struct sort_job *j);
void sort_job_add(struct sort_job *j, const char *s, size_t len);
/* After loading: Redis's adjustments (forced ALPHA for a set stored unsorted, the
 * native-order reversal of DESC without sorting, the LIMIT range). */
void sort_job_loaded(struct sort_job *j);
/* Round 1: the BY lookups (one per element); returns how many need a key. */
size_t sort_by_round(struct sort_job *j);
/* With the BY lookups resolved: scores, then sort. */
void sort_by_apply(struct sort_job *j);
/* Round 2: the GET lookups of the output range; returns how many need a key. */
size_t sort_get_round(struct sort_job *j);
/* The output gathered for a STORE: items point into the job (valid while it lives). */
struct sort_items {
    rt_str *v;
    size_t n;
};
/* A sort_output callback appending to a struct sort_items (a missing GET is kept as an
 * empty string, as STORE does). */
void sort_items_collect(void *arg, const char *s, size_t len, bool found);
/* The output items in order, valid until the job changes: calls fn for each. */
size_t sort_output_len(const struct sort_job *j);
void sort_output(const struct sort_job *j, void (*fn)(void *arg, const char *s, size_t len,
                                                      bool found),
                 void *arg);
/* The reply without STORE: an array of the output items (nil for a missing GET). */
void sort_reply(const struct sort_job *j, struct buf *out, int proto);
/* Record the result of lookup i. */
void sort_lk_set(struct sort_job *j, size_t i, bool found, const char *s, size_t len);

#define ERR_SORT_CONV "ERR One or more scores can't be converted into double"

/* The key-owning shard of every key a pattern can form, when all of them share one (a
 * hash tag fixed before the '*'); false when they may spread. */
bool sort_pattern_shard(struct rt_shard *sh, const rt_str *pat, unsigned *shard);
/* Whether a pattern reads keys at all ('#' and patterns without '*' do not). */
bool sort_pattern_reads(const rt_str *pat);

void sort_step(struct rt_txn *t, unsigned phase);

#endif

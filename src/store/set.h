/* The set type: one value in one of Redis 7.2's three encodings, and the operations the
 * set commands build on.
 *
 *   OBJ_INTSET     struct intset: every member is the canonical decimal form of an int64,
 *                  at most set-max-intset-entries of them (ascending order).
 *   OBJ_LISTPACK   a listpack of members (insertion order), at most
 *                  set-max-listpack-entries of them, each at most set-max-listpack-value
 *                  bytes (canonical integers are stored as integers by the listpack).
 *   OBJ_HASHTABLE  struct fdict whose keys are the members and whose payloads are empty.
 *
 * Conversions follow Redis 7.2's t_set.c: an intset takes a non-integer by becoming a
 * listpack when that stays within the listpack limits, else a hashtable; an intset that
 * grows past its limit becomes a hashtable; a listpack that would pass its limits becomes
 * a hashtable. Nothing ever converts back on its own (set_maybe_to_intset is SINTERSTORE's
 * explicit step).
 *
 * A struct set_val is a copy of what an entry holds (entry_obj / entry_obj_enc). Calls that
 * change a set may move or replace its object: the caller writes the new pair back with
 * entry_set_obj (or hands it to store_set_obj for a new key). A set is never left empty
 * in the keyspace: a command that empties one deletes the key. */
#ifndef COREKV_STORE_SET_H
#define COREKV_STORE_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/fdict.h"
#include "store/object.h"

struct set_val {
    void *o;
    enum obj_enc enc;
};

/* One member as read from a set. `s`/`len` always hold its bytes; when the encoding
 * stored it as an integer (intset, listpack integer) is_int is true and `i` holds it, and
 * `s` points into `buf`, so a set_elem must not be copied while s is in use. */
struct set_elem {
    const char *s;
    size_t len;
    bool is_int;
    int64_t i;
    char buf[24];
};

/* ---- Creating and releasing ---- */
/* An empty set in the given encoding (intset, listpack or hashtable). */
struct set_val set_new(enum obj_enc enc, size_t size_hint);
/* Redis's setTypeCreate: the encoding a new set starts in, knowing its first member and
 * about how many members will be added (SADD's argument count). */
struct set_val set_new_for(const char *first, size_t len, size_t size_hint);
void set_free(struct set_val *s);

/* ---- Reading ---- */
size_t set_card(const struct set_val *s);
/* Membership (the set is not changed, but a hashtable lookup may move a rehash step). */
bool set_has(struct set_val *s, const char *m, size_t len);
bool set_has_elem(struct set_val *s, const struct set_elem *e);

/* ---- Changing ---- */
/* Add a member; true when it was new. Converts the encoding as Redis 7.2 does. */
bool set_add(struct set_val *s, const char *m, size_t len);
/* The same for a member read from another set (uses its integer form when it has one). */
bool set_add_elem(struct set_val *s, const struct set_elem *e);
/* Remove a member; true when it was there. */
bool set_remove(struct set_val *s, const char *m, size_t len);
bool set_remove_elem(struct set_val *s, const struct set_elem *e);
/* SADD's setTypeMaybeConvert: an intset or listpack about to receive size_hint members
 * beyond its limits becomes a hashtable sized for them at once. */
void set_maybe_convert(struct set_val *s, size_t size_hint);
/* Convert to enc (no-op when already there). The contents must fit an intset when enc is
 * OBJ_INTSET (every member an integer). */
void set_convert(struct set_val *s, enum obj_enc enc);
/* SINTERSTORE's last step when every member is known to be an integer: become an intset
 * unless there are too many for one. */
void set_maybe_to_intset(struct set_val *s);

/* ---- Iteration ---- */
/* Members in the encoding's order: intset ascending, listpack insertion order, hashtable
 * bucket order. The set must not change during the walk. */
struct set_iter {
    struct set_val *s;
    size_t i;
    unsigned char *p;
    struct fd_iter fi;
};
void set_iter_init(struct set_iter *it, struct set_val *s);
bool set_iter_next(struct set_iter *it, struct set_elem *e);
void set_iter_done(struct set_iter *it);

/* ---- Randomness ---- */
/* This thread's generator state (xorshift64*, never 0). */
uint64_t *set_rng(void);
uint64_t set_rand(void);
/* A uniformly-ish random member of a non-empty set (hashtable: random bucket, then random
 * node of its chain, as Redis's dictGetFairRandomKey approximates). */
void set_random(struct set_val *s, struct set_elem *e);
/* Remove a random member of a non-empty set, copying it into *out (out->buf may hold it;
 * long members are copied into *heap, which the caller frees). */
void set_pop_random(struct set_val *s, struct set_elem *out, char **heap);

/* The encoding a set would end in if these members were added one by one, in the set's
 * own order, to an empty intset (SDIFFSTORE's "add the first set, then remove" plan keeps
 * that encoding). Walks at most a few hundred members. */
enum obj_enc set_build_enc(struct set_val *s);

/* ---- Algebra (Redis 7.2's sinterGenericCommand / sunionDiffGenericCommand) ---- */
typedef bool (*set_member_fn)(void *arg, struct set_elem *m);
/* Walk the smallest of sets[0..n) (every one present), calling fn for each member that
 * every other set holds, until fn returns false. The sets do not change. */
void set_inter_walk(struct set_val *sets, int n, set_member_fn fn, void *arg);
/* The union, or the difference sets[0] - sets[1..n), of sets[0..n) (o NULL: a missing
 * key, an empty set), built from an empty intset as Redis builds it, which decides its
 * encoding; the difference picks Redis's algorithm by the sizes (sets[] may be
 * reordered). The caller owns the result. */
struct set_val set_union_diff(struct set_val *sets, int n, bool diff);

/* Bytes the set's structures take (MEMORY USAGE-style estimate). */
size_t set_mem(const struct set_val *s);

#endif

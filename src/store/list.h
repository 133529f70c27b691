/* The list type: what the list commands (cmd/lists.c, cmd/lists_move.c) and the object
 * layer use, over both encodings.
 *
 * A list value is a single listpack (OBJ_LISTPACK) while small, and a quicklist
 * (OBJ_QUICKLIST) past list-max-listpack-size, as in Redis 7.2:
 * - before it grows (push, insert, set), list_grow() converts a listpack that would
 *   exceed one node's limit with the bytes and elements about to be added;
 * - after it shrinks (pop, remove, trim, set), list_shrink() converts a quicklist of a
 *   single node back when that node is within half the limit (hysteresis: the two
 *   thresholds differ, so a list at the edge does not flip on every change).
 * The entry keeps the object pointer and the encoding; every function here that may
 * move or convert the object stores the new one with entry_set_obj, so the entry stays
 * valid across calls (it is never reallocated by them).
 *
 * Elements are handed out as bytes: an element a listpack holds as an integer is
 * formatted in decimal (the form it was pushed in: only canonical decimals are stored as
 * integers). A callback must not change the list it is called for.
 *
 * Lists are never empty in the keyspace: the caller deletes the key when list_len
 * reaches 0 after a removal. */
#ifndef COREKV_STORE_LIST_H
#define COREKV_STORE_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/object.h"

enum list_end { LIST_HEAD = 0, LIST_TAIL = 1 };

/* One element, as bytes valid during the callback. */
typedef void (*list_elem_fn)(void *arg, const char *s, size_t len);

/* Set key to a new empty list (a listpack), replacing nothing: the key must be absent.
 * The caller pushes at least one element before the command ends. */
struct entry *list_create(struct store *s, const char *key, size_t klen);

size_t list_len(const struct entry *e);

/* Conversions (see above). add_bytes / add_count: what is about to be added. */
void list_grow(struct entry *e, size_t add_bytes, size_t add_count);
void list_shrink(struct entry *e);

/* ---- Ends ---- */
void list_push(struct entry *e, enum list_end where, const char *s, size_t len);
/* Pop min(n, len) elements from `where`, handing each to fn before it is removed, in
 * pop order; then list_shrink. Returns how many were popped. The caller deletes the
 * key when the list is left empty. */
size_t list_pop(struct entry *e, enum list_end where, size_t n, list_elem_fn fn, void *arg);
/* The element at an end, without removing it; false when empty. */
bool list_peek(const struct entry *e, enum list_end where, list_elem_fn fn, void *arg);

/* ---- Positions ---- */
/* LINDEX: the element at index (negative from the tail); false when out of range. */
bool list_index(const struct entry *e, int64_t index, list_elem_fn fn, void *arg);
/* LSET: replace the element at index; false (nothing changed) when out of range.
 * Applies list_grow before and list_shrink after, as Redis. */
bool list_set(struct entry *e, int64_t index, const char *s, size_t len);
/* Visit n elements from index `from` (0 <= from < len, n <= elements in that
 * direction): toward the tail, or toward the head when reverse. */
void list_range(const struct entry *e, size_t from, size_t n, bool reverse, list_elem_fn fn,
                void *arg);

/* ---- Searches and edits ---- */
/* LINSERT: insert s before or after the first element equal to pivot (from the head).
 * Returns false when there is no such element (the list is unchanged, though it may
 * have been converted by the list_grow this does first, as Redis does). */
bool list_insert(struct entry *e, bool after, const char *pivot, size_t plen, const char *s,
                 size_t len);
/* LREM: remove up to |count| elements equal to s, from the head (count > 0), from the
 * tail (count < 0), or all (count == 0). Returns how many; list_shrink when any. */
size_t list_rem(struct entry *e, int64_t count, const char *s, size_t len);
/* LTRIM: remove ltrim elements at the head and rtrim at the tail (their sum <= len);
 * then list_shrink. */
void list_trim(struct entry *e, size_t ltrim, size_t rtrim);
/* LPOS: call fn with the index (as LINDEX counts it) of each element equal to s, from
 * the head, or from the tail when from_tail, looking at no more than maxlen elements
 * (0: all), until fn returns false. */
void list_find(const struct entry *e, const char *s, size_t len, bool from_tail,
               size_t maxlen, bool (*fn)(void *arg, size_t index), void *arg);

#endif

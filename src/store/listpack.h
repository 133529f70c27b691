/* Listpack: a compact sequence of strings and integers in one allocation, in Redis's
 * listpack format byte for byte (so a snapshot can write it as Redis does):
 *
 *   <total bytes: u32 LE> <element count: u16 LE, 65535 = "count it"> <elements> <0xFF>
 *   element = <encoding + data> <backlen: 1..5 bytes, the element's size read backwards>
 *
 * Integers are stored in the smallest of Redis's integer encodings (7-bit uint, 13, 16,
 * 24, 32, 64-bit signed); a string that is the canonical decimal form of an int64 (as
 * Redis's lpStringToInt64) is stored as an integer, so lp_get gives it back as one.
 * Strings use 6-, 12- or 32-bit length encodings.
 *
 * Positions: a `unsigned char *p` points at an element's first byte. Any call that
 * changes the listpack (insert, replace, delete) may move it: it returns the new
 * listpack, and the calls that take `unsigned char **p` update *p to stay valid. All
 * other positions are invalidated by a change.
 *
 * Allocation failure aborts (store_xrealloc). Lengths are limited to what fits in a
 * u32 total; callers keep listpacks small (the *-max-listpack-* thresholds), and a
 * quicklist node's size is bounded by list-max-listpack-size. */
#ifndef COREKV_STORE_LISTPACK_H
#define COREKV_STORE_LISTPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LP_HDR_SIZE 6u
#define LP_INTBUF 21 /* enough for any int64 in decimal, no NUL needed */
/* Redis's LISTPACK_MAX_SAFETY_SIZE: an encoding converts before a listpack grows past it. */
#define LP_MAX_SAFETY_SIZE ((size_t)1 << 30)

/* An element's value: a string (s != NULL, len bytes) or an integer (s == NULL, i). */
struct lp_val {
    const unsigned char *s;
    size_t len;
    int64_t i;
};

unsigned char *lp_new(size_t capacity_hint);
void lp_free(unsigned char *lp);
size_t lp_bytes(const unsigned char *lp);
/* Number of elements: O(1) below 65535, else counted. */
size_t lp_count(const unsigned char *lp);

/* Navigation: NULL past either end. */
unsigned char *lp_first(unsigned char *lp);
unsigned char *lp_last(unsigned char *lp);
unsigned char *lp_next(unsigned char *lp, unsigned char *p);
unsigned char *lp_prev(unsigned char *lp, unsigned char *p);
/* The element at index (negative: from the tail, -1 is the last), or NULL. Walks from
 * the nearer end. */
unsigned char *lp_seek(unsigned char *lp, long index);

void lp_get(const unsigned char *p, struct lp_val *v);
/* The element as bytes: a string's own bytes, or an integer formatted into buf. */
const unsigned char *lp_get_str(const unsigned char *p, size_t *len, char buf[LP_INTBUF]);
/* True with *v when the element is an integer, or a string that parses strictly as one. */
bool lp_get_int(const unsigned char *p, int64_t *v);
/* Whether the element equals the bytes s[0..len) (an integer compares by its decimal form). */
bool lp_eq(const unsigned char *p, const char *s, size_t len);

enum lp_where { LP_BEFORE, LP_AFTER };
/* Add s[0..len) (an integer when canonical decimal) at the tail / head. */
unsigned char *lp_append(unsigned char *lp, const char *s, size_t len);
unsigned char *lp_prepend(unsigned char *lp, const char *s, size_t len);
unsigned char *lp_append_int(unsigned char *lp, int64_t v);
/* Insert before or after the element *p; *p then points at the new element. */
unsigned char *lp_insert(unsigned char *lp, unsigned char **p, enum lp_where where,
                         const char *s, size_t len);
/* Replace the element *p with s; *p then points at the replacement. */
unsigned char *lp_replace(unsigned char *lp, unsigned char **p, const char *s, size_t len);
/* Delete the element *p; *p then points at the element that followed, or NULL. */
unsigned char *lp_delete(unsigned char *lp, unsigned char **p);
/* Delete count elements starting at index (negative from the tail); clamps at the end. */
unsigned char *lp_delete_range(unsigned char *lp, long index, size_t count);

/* Search from p for an element equal to s[0..len), comparing every (skip+1)-th element
 * (skip 1: only fields of field/value pairs, only members of member/score pairs).
 * Returns it or NULL. */
unsigned char *lp_find(unsigned char *lp, unsigned char *p, const char *s, size_t len,
                       unsigned skip);

/* Whether bytes[0..size) is a well-formed listpack (header, every element's encoding
 * and backlen, terminator, count): the check before trusting restored bytes. When
 * count is not NULL it receives the element count. */
bool lp_validate(const unsigned char *bytes, size_t size, size_t *count);

#endif

/* Glob matching with Redis's syntax (* ? [abc] [^a-z] \x), iterative: time is
 * O(len(pattern) * len(string)) at worst, no recursion, whatever the pattern. */
#ifndef COREKV_BASE_GLOB_H
#define COREKV_BASE_GLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool glob_match(const char *pat, size_t plen, const char *str, size_t slen, bool nocase);

/* The same with its work capped: every byte of the pattern looked at while matching one
 * byte of the string counts as a step. Past max_steps it stops and answers false with
 * *exceeded set (else *exceeded is false and the answer is glob_match's). A budget
 * linear in plen + slen makes matching a hostile pattern against a hostile string (pub/sub
 * patterns against published channels, both client-chosen) cost no more than reading
 * them a few times, at the price of a false "no match" for patterns that need heavy
 * backtracking to match. */
bool glob_match_bounded(const char *pat, size_t plen, const char *str, size_t slen,
                        bool nocase, uint64_t max_steps, bool *exceeded);

#endif

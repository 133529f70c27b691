/* Glob matching with Redis's syntax (* ? [abc] [^a-z] \x), iterative: time is
 * O(len(pattern) * len(string)) at worst, no recursion, whatever the pattern. */
#ifndef COREKV_BASE_GLOB_H
#define COREKV_BASE_GLOB_H

#include <stdbool.h>
#include <stddef.h>

bool glob_match(const char *pat, size_t plen, const char *str, size_t slen, bool nocase);

#endif

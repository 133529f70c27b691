/* Sorted sets: parsing Redis's score and lexicographic interval syntax (zset.h). */
#include "store/zset.h"

#include "base/numfmt.h"

static bool parse_bound(const char *s, size_t len, double *v, bool *ex)
{
    *ex = false;
    if (len > 0 && s[0] == '(') {
        *ex = true;
        s++;
        len--;
    }
    /* Redis parses with strtod and rejects NaN; the whole string must be used. */
    return str_to_double(s, len, v);
}

bool zs_parse_range(const char *min, size_t minlen, const char *max, size_t maxlen,
                    struct zs_range *r)
{
    return parse_bound(min, minlen, &r->min, &r->minex) &&
           parse_bound(max, maxlen, &r->max, &r->maxex);
}

static bool parse_lex(const char *s, size_t len, const char **v, size_t *vl, uint8_t *kind,
                      bool *ex)
{
    *v = NULL;
    *vl = 0;
    *ex = false;
    if (len == 0)
        return false;
    switch (s[0]) {
    case '+':
        if (len != 1)
            return false;
        *kind = ZLEX_POS;
        return true;
    case '-':
        if (len != 1)
            return false;
        *kind = ZLEX_NEG;
        return true;
    case '(':
    case '[':
        *kind = ZLEX_VAL;
        *ex = s[0] == '(';
        *v = s + 1;
        *vl = len - 1;
        return true;
    default:
        return false;
    }
}

bool zs_parse_lexrange(const char *min, size_t minlen, const char *max, size_t maxlen,
                       struct zs_lexrange *r)
{
    return parse_lex(min, minlen, &r->min, &r->minlen, &r->minkind, &r->minex) &&
           parse_lex(max, maxlen, &r->max, &r->maxlen, &r->maxkind, &r->maxex);
}

/*
 * shard.c - see shard.h.
 */
#include "shard.h"

#include <stdio.h>
#include <string.h>

/* A whole non-negative decimal number of at most 7 digits, from `text` up
 * to `end` (exclusive). */
static bool parse_count(const char *text, const char *end, int64_t *out)
{
    size_t len = (size_t)(end - text);
    if (len == 0 || len > 7 || strspn(text, "0123456789") < len)
        return false;
    int64_t v = 0;
    for (size_t k = 0; k < len; k++)
        v = v * 10 + (text[k] - '0');
    *out = v;
    return true;
}

bool shard_parse(const char *text, int64_t *index, int64_t *count, char *err, size_t err_cap)
{
    const char *slash = strchr(text, '/');
    int64_t i = 0, n = 0;
    if (slash == NULL || !parse_count(text, slash, &i) ||
        !parse_count(slash + 1, slash + 1 + strlen(slash + 1), &n) || n < 1 ||
        n > SHARD_COUNT_MAX || i >= n) {
        snprintf(err, err_cap,
                 "--shard: expected I/N with 1 <= N <= %d and 0 <= I < N (e.g. 0/4), got '%s'",
                 SHARD_COUNT_MAX, text);
        return false;
    }
    *index = i;
    *count = n;
    return true;
}

bool shard_take(void *s)
{
    shard *sh = s;
    bool mine = sh->next % sh->count == sh->index;
    sh->next++;
    return mine;
}

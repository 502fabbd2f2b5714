/*
 * shard.h - --shard I/N: one of N jobs takes every N-th entry of the whole
 * input list, starting at position I.
 *
 * Positions are counted over the list as the command builds it: every
 * image (a directory's images one by one) and every input argument or
 * listed path that fails takes the next position. N jobs given the same
 * inputs therefore split them with no entry done twice and none left out,
 * and each failing entry is reported by exactly one of them.
 *
 * Threading: no global state; a shard is used by one thread at a time.
 */
#ifndef CUTOUT_CLI_SHARD_H
#define CUTOUT_CLI_SHARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest N: more jobs than this would each get almost nothing. */
#define SHARD_COUNT_MAX 1000000

/* Parses "I/N" (decimal, 1 <= N <= SHARD_COUNT_MAX, 0 <= I < N) into
 * *index and *count. False with a one-line message naming --shard in err
 * (capacity err_cap) otherwise. */
bool shard_parse(const char *text, int64_t *index, int64_t *count, char *err, size_t err_cap);

/* A job's place among the shards, and the next position to hand out. */
typedef struct shard {
    int64_t index;
    int64_t count;
    int64_t next;
} shard;

/* True when the entry at the next position belongs to this job; moves on
 * to the position after it. `s` is a shard *, so that it fits
 * input_list_filter's callback. */
bool shard_take(void *s);

#endif /* CUTOUT_CLI_SHARD_H */

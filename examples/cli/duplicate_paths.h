/*
 * duplicate_paths.h - finding equal strings in a long list of output
 * paths in O(n log n), so that a list of a million inputs is planned in
 * seconds rather than compared pair by pair.
 */
#ifndef CUTOUT_CLI_DUPLICATE_PATHS_H
#define CUTOUT_CLI_DUPLICATE_PATHS_H

#include <stdbool.h>
#include <stddef.h>

/* For each of the n entries of `paths`, sets first[k] to the smallest
 * index j with strcmp(paths[j], paths[k]) == 0 (so first[k] == k when no
 * earlier path is equal). NULL entries are skipped: first[k] = k. The
 * caller owns both arrays; nothing is kept. Returns false, with `first`
 * unspecified, when memory runs out. Threading: no shared state. */
bool duplicate_paths_find(const char *const *paths, size_t n, size_t *first);

#endif /* CUTOUT_CLI_DUPLICATE_PATHS_H */

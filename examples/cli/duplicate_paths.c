/*
 * duplicate_paths.c - see duplicate_paths.h.
 */
#include "duplicate_paths.h"

#include <stdlib.h>
#include <string.h>

#include "size_math.h"

typedef struct path_entry {
    const char *path;
    size_t index;
} path_entry;

/* By path, then by index, so that each run of equal paths starts with
 * its earliest entry. */
static int compare_entries(const void *a, const void *b)
{
    const path_entry *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    if (c != 0)
        return c;
    return x->index < y->index ? -1 : (x->index > y->index ? 1 : 0);
}

bool duplicate_paths_find(const char *const *paths, size_t n, size_t *first)
{
    size_t bytes;
    if (!size_mul(n ? n : 1, sizeof(path_entry), &bytes))
        return false;
    path_entry *entries = malloc(bytes);
    if (entries == NULL)
        return false;
    size_t m = 0;
    for (size_t k = 0; k < n; k++) {
        first[k] = k;
        if (paths[k] != NULL) {
            entries[m].path = paths[k];
            entries[m].index = k;
            m++;
        }
    }
    qsort(entries, m, sizeof *entries, compare_entries);
    for (size_t k = 1; k < m; k++)
        if (strcmp(entries[k].path, entries[k - 1].path) == 0)
            first[entries[k].index] = first[entries[k - 1].index];
    free(entries);
    return true;
}

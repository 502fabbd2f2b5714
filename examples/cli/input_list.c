/*
 * input_list.c - collecting input files; see input_list.h.
 */
#include "input_list.h"
#include "message.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "size_math.h"

static char *copy_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *c = malloc(n);
    if (c != NULL)
        memcpy(c, s, n);
    return c;
}

char *input_list_stem(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t len = (dot != NULL && dot != base) ? (size_t)(dot - base) : strlen(base);
    char *stem = malloc(len + 1);
    if (stem != NULL) {
        memcpy(stem, base, len);
        stem[len] = '\0';
    }
    return stem;
}

static bool has_image_extension(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot != NULL && dot != name &&
           (strcasecmp(dot, ".png") == 0 || strcasecmp(dot, ".jpg") == 0 ||
            strcasecmp(dot, ".jpeg") == 0);
}

/* Any change to the items makes the sorted index stale. */
static void drop_index(input_list *list)
{
    free(list->by_file);
    list->by_file = NULL;
}

static bool push(input_list *list, const char *path, const struct stat *st)
{
    drop_index(list);
    if (list->count == list->capacity) {
        size_t cap = list->capacity ? list->capacity * 2 : 16;
        size_t bytes;
        if (!size_mul(cap, sizeof(input_file), &bytes))
            return false;
        input_file *items = realloc(list->items, bytes);
        if (items == NULL)
            return false;
        list->items = items;
        list->capacity = cap;
    }
    input_file *f = &list->items[list->count];
    f->path = copy_string(path);
    f->stem = input_list_stem(path);
    if (f->path == NULL || f->stem == NULL) {
        free(f->path);
        free(f->stem);
        return false;
    }
    f->dev = st->st_dev;
    f->ino = st->st_ino;
    list->count++;
    return true;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Rolls the list back to `count` entries (after a failed directory). */
static void truncate_list(input_list *list, size_t count)
{
    drop_index(list);
    while (list->count > count) {
        list->count--;
        free(list->items[list->count].path);
        free(list->items[list->count].stem);
    }
}

static bool add_directory(input_list *list, const char *dir, char *err, size_t err_cap)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return fail(err, err_cap, "cannot open directory: %s", strerror(errno));

    char **names = NULL;
    size_t n = 0, cap = 0;
    bool ok = true;
    struct dirent *e;
    errno = 0;
    while (ok && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !has_image_extension(e->d_name))
            continue;
        if (n == cap) {
            size_t bytes;
            cap = cap ? cap * 2 : 32;
            char **grown = size_mul(cap, sizeof *names, &bytes) ? realloc(names, bytes) : NULL;
            if (grown == NULL) {
                ok = fail(err, err_cap, "out of memory listing the directory");
                break;
            }
            names = grown;
        }
        names[n] = copy_string(e->d_name);
        if (names[n] == NULL)
            ok = fail(err, err_cap, "out of memory listing the directory");
        else
            n++;
        errno = 0;
    }
    if (ok && errno != 0)
        ok = fail(err, err_cap, "cannot read directory: %s", strerror(errno));
    closedir(d);

    size_t first = list->count;
    if (ok && n == 0)
        ok = fail(err, err_cap, "no PNG or JPEG files in the directory (expected *.png, "
                                "*.jpg or *.jpeg)");
    if (ok) {
        qsort(names, n, sizeof *names, compare_names);
        size_t dir_len = strlen(dir);
        bool slash = dir_len > 0 && dir[dir_len - 1] == '/';
        for (size_t k = 0; ok && k < n; k++) {
            size_t len = dir_len + 1 + strlen(names[k]) + 1;
            char *path = malloc(len);
            struct stat st;
            if (path == NULL) {
                ok = fail(err, err_cap, "out of memory listing the directory");
                break;
            }
            snprintf(path, len, "%s%s%s", dir, slash ? "" : "/", names[k]);
            /* Only regular files (or links to them) are images. */
            if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && !push(list, path, &st))
                ok = fail(err, err_cap, "out of memory listing the directory");
            free(path);
        }
        if (ok && list->count == first)
            ok = fail(err, err_cap, "no PNG or JPEG files in the directory");
    }
    if (!ok)
        truncate_list(list, first);
    for (size_t k = 0; k < n; k++)
        free(names[k]);
    free(names);
    return ok;
}

bool input_list_add(input_list *list, const char *arg, char *err, size_t err_cap)
{
    struct stat st;
    if (stat(arg, &st) != 0)
        return fail(err, err_cap, "cannot open: %s", strerror(errno));
    if (S_ISDIR(st.st_mode))
        return add_directory(list, arg, err, err_cap);
    if (!S_ISREG(st.st_mode))
        return fail(err, err_cap, "not a regular file or directory");
    if (!push(list, arg, &st))
        return fail(err, err_cap, "out of memory");
    return true;
}

/* Orders keys by (dev, ino, index). */
static int compare_keys(const void *a, const void *b)
{
    const input_file_key *x = a, *y = b;
    if (x->dev != y->dev)
        return x->dev < y->dev ? -1 : 1;
    if (x->ino != y->ino)
        return x->ino < y->ino ? -1 : 1;
    if (x->index != y->index)
        return x->index < y->index ? -1 : 1;
    return 0;
}

bool input_list_index_files(input_list *list)
{
    drop_index(list);
    size_t bytes;
    if (list->count == 0)
        return true;
    if (!size_mul(list->count, sizeof(input_file_key), &bytes))
        return false;
    list->by_file = malloc(bytes);
    if (list->by_file == NULL)
        return false;
    for (size_t i = 0; i < list->count; i++) {
        list->by_file[i].dev = list->items[i].dev;
        list->by_file[i].ino = list->items[i].ino;
        list->by_file[i].index = i;
    }
    qsort(list->by_file, list->count, sizeof(input_file_key), compare_keys);
    return true;
}

const input_file *input_list_find_file(const input_list *list, dev_t dev, ino_t ino)
{
    if (list->by_file == NULL) {
        for (size_t i = 0; i < list->count; i++)
            if (list->items[i].dev == dev && list->items[i].ino == ino)
                return &list->items[i];
        return NULL;
    }
    /* The first key not below (dev, ino, 0): equal files are sorted by
     * index, so it is the earliest input of that file, if any. */
    input_file_key want = {dev, ino, 0};
    size_t lo = 0, hi = list->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (compare_keys(&list->by_file[mid], &want) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == list->count || list->by_file[lo].dev != dev || list->by_file[lo].ino != ino)
        return NULL;
    return &list->items[list->by_file[lo].index];
}

void input_list_filter(input_list *list, size_t first, bool (*keep)(void *user), void *user)
{
    drop_index(list);
    size_t kept = first;
    for (size_t i = first; i < list->count; i++) {
        if (keep(user)) {
            list->items[kept++] = list->items[i];
        } else {
            free(list->items[i].path);
            free(list->items[i].stem);
        }
    }
    list->count = kept;
}

void input_list_free(input_list *list)
{
    truncate_list(list, 0);
    free(list->items);
    memset(list, 0, sizeof *list);
}

static int compare_paths(const void *a, const void *b)
{
    return strcmp(((const input_file *)a)->path, ((const input_file *)b)->path);
}

void input_list_sort_by_path(input_list *list)
{
    if (list->count > 1) qsort(list->items, list->count, sizeof *list->items, compare_paths);
}

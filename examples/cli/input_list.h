/*
 * input_list.h - the image files named on the command line, with
 * directories expanded.
 */
#ifndef CUTOUT_CLI_INPUT_LIST_H
#define CUTOUT_CLI_INPUT_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct input_file {
    char *path;  /* as given, or "<dir>/<name>" for a directory's file */
    char *stem;  /* file name without directory and last extension */
    dev_t dev;   /* identity of the file, to never overwrite an input */
    ino_t ino;
} input_file;

/* One input's file identity and position, for the sorted index. */
typedef struct input_file_key {
    dev_t dev;
    ino_t ino;
    size_t index;
} input_file_key;

typedef struct input_list {
    input_file *items;
    size_t count;
    size_t capacity;
    /* Every item's key sorted by (dev, ino, index), made by
     * input_list_index_files; NULL until then and after any change. */
    input_file_key *by_file;
} input_list;

/* Adds one command-line argument: a file (taken whatever its name; the
 * decoder checks its content) or a directory, whose regular files named
 * *.png, *.jpg or *.jpeg (any case) are added sorted by name, without
 * recursion and skipping hidden files. The list owns copies of the strings.
 * Returns false with a one-line message (without the argument) in err when
 * the argument does not exist, cannot be read, is a directory without
 * images, or memory runs out; the list is then unchanged. */
bool input_list_add(input_list *list, const char *arg, char *err, size_t err_cap);

/* Sorts the list by path (byte order), as frames of a video are named. */
void input_list_sort_by_path(input_list *list);

/* The first input (in list order) whose file is (dev, ino), or NULL. A
 * binary search after input_list_index_files (until the list changes); a
 * scan of the list otherwise. */
const input_file *input_list_find_file(const input_list *list, dev_t dev, ino_t ino);

/* Sorts the inputs by file identity, once the list is complete, so that
 * input_list_find_file no longer scans it (a list of a million inputs
 * would otherwise cost a scan per existing output). False when memory
 * runs out; the list still works, by scanning. */
bool input_list_index_files(input_list *list);

/* The stem of `path`: its file name without the directory and the last
 * extension ("dir/name.ext" -> "name", ".hidden" -> ".hidden"), as a new
 * string the caller frees; NULL when out of memory. Reads no file. */
char *input_list_stem(const char *path);

/* Walks the items from index `first` on, in order, and removes those for
 * which keep(user) returns false; the others keep their order. */
void input_list_filter(input_list *list, size_t first, bool (*keep)(void *user), void *user);

/* Frees every entry and the array; the list is empty afterwards. */
void input_list_free(input_list *list);

#endif /* CUTOUT_CLI_INPUT_LIST_H */

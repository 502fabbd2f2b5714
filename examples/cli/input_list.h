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

typedef struct input_list {
    input_file *items;
    size_t count;
    size_t capacity;
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

/* The input whose file is (dev, ino), or NULL. */
const input_file *input_list_find_file(const input_list *list, dev_t dev, ino_t ino);

/* Frees every entry and the array; the list is empty afterwards. */
void input_list_free(input_list *list);

#endif /* CUTOUT_CLI_INPUT_LIST_H */

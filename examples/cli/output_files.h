/*
 * output_files.h - naming, checking and safely writing output files.
 *
 * Every output is written to a hidden temporary file in the output
 * directory (".<name>.XXXXXX") and only then renamed to its final name, so
 * a failed or interrupted image leaves no partial file under a real name.
 * Inputs are never overwritten, and existing outputs are replaced only
 * when asked to.
 *
 * Errors are one-line messages written to the caller's buffer `err` of
 * capacity `err_cap`; nothing here prints or exits.
 */
#ifndef CUTOUT_CLI_OUTPUT_FILES_H
#define CUTOUT_CLI_OUTPUT_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "input_list.h"

/* Creates `dir` and its missing parents (like mkdir -p). False with a
 * message when it cannot, or when `dir` exists and is not a directory. */
bool output_dir_prepare(const char *dir, char *err, size_t err_cap);

/* "<dir>/<stem><suffix>.png" as a new string the caller frees; NULL when
 * out of memory. */
char *output_path(const char *dir, const char *stem, const char *suffix);

/* Checks, before any work, that `path` may be written: it must not be one
 * of the inputs (same device and inode), and must not exist unless
 * `overwrite`. */
bool output_check(const char *path, const input_list *inputs, bool overwrite, char *err,
                  size_t err_cap);

/* One output being written. */
typedef struct output_temp {
    char *final_path; /* copy of the final name */
    char *temp_path;  /* the hidden temporary file, NULL once gone */
    FILE *fp;         /* open for writing until commit or discard */
} output_temp;

/* Creates the temporary file next to `final_path` (permissions as a new
 * file would get from the umask) and opens it in t->fp. On failure *t is
 * left empty and nothing exists on disk. */
bool output_temp_open(output_temp *t, const char *final_path, char *err, size_t err_cap);

/* Closes t->fp (reporting late write errors) and moves the temporary file
 * to its final name: with `overwrite` an existing file is replaced
 * atomically; without it an existing file makes the commit fail. On any
 * failure the temporary file is removed. *t is emptied either way. */
bool output_temp_commit(output_temp *t, bool overwrite, char *err, size_t err_cap);

/* Closes and removes the temporary file, if any, and empties *t. Safe on
 * an empty or already committed output_temp. */
void output_temp_discard(output_temp *t);

#endif /* CUTOUT_CLI_OUTPUT_FILES_H */

/*
 * files_from.h - reading the list of inputs given with --files-from.
 */
#ifndef CUTOUT_CLI_FILES_FROM_H
#define CUTOUT_CLI_FILES_FROM_H

#include <stdbool.h>
#include <stddef.h>

/* Receives one listed path (valid only during the call); returns false to
 * stop reading, after reporting why itself. */
typedef bool (*files_from_fn)(const char *path, void *user);

/* Calls add(path, user) for each path in `source`, in order: a file that
 * holds one path per line, or standard input when source is "-". The
 * newline ends a path and nothing else is stripped, so any file name
 * without a newline can be listed; empty lines are skipped. The list is
 * read line by line, never whole, so its length is not bounded by memory.
 *
 * Returns true once the list has been read to its end. Returns false with
 * a one-line message in err (capacity err_cap) when the list cannot be
 * opened or read, or a line holds a NUL byte (then nothing of that line is
 * passed on); returns false with err empty when add stopped it.
 * Threading: reads standard input when asked to; nothing else is shared. */
bool files_from_read(const char *source, files_from_fn add, void *user, char *err,
                     size_t err_cap);

#endif /* CUTOUT_CLI_FILES_FROM_H */

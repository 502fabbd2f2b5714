/*
 * cutout_files.h - the cutout command's file pipeline as a library,
 * libcutout_files.so, for programs that hand it image files one at a time
 * (the distributed runner's workers load it with ctypes; see
 * python_wrapper/files_library.py).
 *
 * A session holds the command's options and one libcutout context, so a
 * model is loaded once per session, at its first image. Each image goes
 * through the code the command runs, compiled once and linked into both
 * the command and this library: decoded by image_io.c, run through
 * remove_background.c, named and written by image_outputs.c through a
 * temporary file renamed into place. Its output files are therefore byte
 * for byte those of `cutout OPTIONS INPUT` with the same options.
 *
 * Errors: functions that can fail return a cutout_files_status and write a
 * one-line message (without the input's name; the caller adds it) into the
 * caller's buffer `err` of capacity `err_cap`. Nothing prints or exits.
 */
#ifndef CUTOUT_FILES_H
#define CUTOUT_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define CUTOUT_FILES_API __attribute__((visibility("default")))
#else
#define CUTOUT_FILES_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever a declaration below changes; a caller compares it with
 * the version it was written for. */
#define CUTOUT_FILES_ABI_VERSION 1

typedef enum cutout_files_status {
    CUTOUT_FILES_OK = 0,
    CUTOUT_FILES_FAILED = 1,          /* this entry or image failed; others may work */
    CUTOUT_FILES_MODEL_UNUSABLE = 2,  /* the model cannot be found, loaded or run */
    CUTOUT_FILES_USAGE = 3,           /* an option the session cannot take */
    CUTOUT_FILES_SETUP = 4            /* the output folder, --bg-image or the context */
} cutout_files_status;

typedef struct cutout_files cutout_files;

/* A NULL session, input, entry, callback or out is refused with
 * CUTOUT_FILES_USAGE (cutout_files_output_names: CUTOUT_FILES_FAILED). */

/* CUTOUT_FILES_ABI_VERSION of the loaded library. */
CUTOUT_FILES_API int cutout_files_abi_version(void);

/* Opens a session. argv[0 .. argc-1] are options of the cutout command
 * exactly as it takes them (no program name), e.g. {"-o", "out",
 * "--mask"}; the strings are copied. `threads` is the context's thread
 * count (0: every core), `overwrite` lets existing outputs be replaced.
 *
 * Refused, with CUTOUT_FILES_USAGE and a message naming the option: a parse
 * error of the command's own; INPUT arguments, --files-from and --shard
 * (the caller hands over images one at a time); --threads and --overwrite
 * (arguments here); --batch-size other than 1 (a session runs one image
 * per node call, as the command does at its default --batch-size 1; a
 * batch is cropped as a whole with --crop, so other sizes could give other
 * bytes); --quiet (a session prints nothing); --list-models,
 * --version and --help. CUTOUT_FILES_MODEL_UNUSABLE: no file for the
 * model (the message lists the folders searched). CUTOUT_FILES_SETUP: the
 * output folder cannot be created, --bg-image cannot be decoded, or the
 * context cannot be made.
 *
 * On CUTOUT_FILES_OK *out is a session the caller closes with
 * cutout_files_close; otherwise *out is NULL and nothing stays allocated.
 * Creates the output folder. Threading: any thread. */
CUTOUT_FILES_API int cutout_files_open(int argc, const char *const *argv, int32_t threads,
                                       bool overwrite, cutout_files **out, char *err,
                                       size_t err_cap);

/* Receives one listed image path, valid only during the call. */
typedef void (*cutout_files_list_fn)(const char *path, void *user);

/* Lists the images of one INPUT entry as the command reads it: a file is
 * itself (whatever its name; decoding checks it), a directory gives its
 * *.png, *.jpg and *.jpeg files (any case, not hidden, not recursive)
 * sorted by name. Calls fn(path, user) for each, in order, only once the
 * whole entry has been read. CUTOUT_FILES_FAILED with a message such as
 * "cannot open: No such file or directory" when the entry does not exist,
 * cannot be read or is a directory without images (fn is then never
 * called). Needs no session. Threading: any thread. */
CUTOUT_FILES_API int cutout_files_list(const char *entry, cutout_files_list_fn fn, void *user,
                                       char *err, size_t err_cap);

/* The output files the session writes for `input`, named as the command
 * names them: rgba receives "<dir>/<stem>.png" (or "" with --mask-only),
 * mask "<dir>/<stem>_mask.png" with --mask, "<dir>/<stem>.png" with
 * --mask-only, "" otherwise. Reads no file. CUTOUT_FILES_FAILED (both
 * buffers then hold "") when a name does not fit its buffer or memory runs
 * out. Threading: any thread, also during cutout_files_process. */
CUTOUT_FILES_API int cutout_files_output_names(const cutout_files *session, const char *input,
                                               char *rgba, size_t rgba_cap, char *mask,
                                               size_t mask_cap);

/* Removes the background of the image file `input` and writes its output
 * files (cutout_files_output_names): all of them, or none. Refuses, with
 * CUTOUT_FILES_FAILED and the command's message for it, an input that is
 * not a regular file, an output that is the input file itself, an output
 * that exists unless the session overwrites, and every way decoding, the
 * node or writing can fail. CUTOUT_FILES_MODEL_UNUSABLE when the model
 * cannot be loaded or run: every later image would fail the same way.
 *
 * Threading: a session may process several images at once from different
 * threads (the context is shared); a caller that wants the session's
 * threads for one image at a time serialises its calls. */
CUTOUT_FILES_API int cutout_files_process(cutout_files *session, const char *input, char *err,
                                          size_t err_cap);

/* Frees the session, its context and every model it loaded. NULL is a
 * no-op. No call on the session may be running. */
CUTOUT_FILES_API void cutout_files_close(cutout_files *session);

#ifdef __cplusplus
}
#endif

#endif /* CUTOUT_FILES_H */

/*
 * fuzz_model_dir.h - the model folder of the fuzz targets that run nodes: a
 * fresh folder under /tmp with "stub.pt", a model file the C stub shim
 * loads, and whatever other files a target adds; all of it is removed at
 * exit. Header-only (static functions), like fuzz_bytes.h.
 */
#ifndef CUTOUT_FUZZ_MODEL_DIR_H
#define CUTOUT_FUZZ_MODEL_DIR_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz_check.h"

#define FUZZ_MAX_MODEL_FILES 4

static char fuzz_model_dir[64];
static const char *fuzz_model_files[FUZZ_MAX_MODEL_FILES];
static int fuzz_num_model_files;

static void fuzz_remove_model_dir(void)
{
    char path[128];
    for (int i = 0; i < fuzz_num_model_files; i++) {
        snprintf(path, sizeof path, "%s/%s", fuzz_model_dir, fuzz_model_files[i]);
        unlink(path);
    }
    rmdir(fuzz_model_dir);
}

/* Writes `text` to the file `name` (a string that outlives the process's
 * exit handlers) in the folder. Aborts when it cannot. */
static void fuzz_add_model_file(const char *name, const char *text)
{
    FUZZ_CHECK(fuzz_num_model_files < FUZZ_MAX_MODEL_FILES, "too many model files");
    char path[128];
    snprintf(path, sizeof path, "%s/%s", fuzz_model_dir, name);
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
    fuzz_model_files[fuzz_num_model_files++] = name;
}

/* Makes the folder with stub.pt in it and registers its removal with
 * atexit, so exit handlers registered later (a context's destruction) run
 * before it. Unsets CUTOUT_MODEL_PATH, so the folder is the only one
 * searched. Returns the folder's path. Aborts when it cannot. */
static const char *fuzz_make_model_dir(void)
{
    snprintf(fuzz_model_dir, sizeof fuzz_model_dir, "/tmp/cutout-fuzz-XXXXXX");
    FUZZ_CHECK(mkdtemp(fuzz_model_dir) != NULL, "mkdtemp failed");
    atexit(fuzz_remove_model_dir);
    fuzz_add_model_file("stub.pt", "cutout-stub-model\n");
    unsetenv("CUTOUT_MODEL_PATH");
    return fuzz_model_dir;
}

#endif /* CUTOUT_FUZZ_MODEL_DIR_H */

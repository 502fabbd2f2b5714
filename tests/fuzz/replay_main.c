/*
 * replay_main.c - runs a fuzz target over saved inputs without libFuzzer.
 *
 * Linked with a target's source in the normal build (any compiler), so the
 * corpus and every input that once crashed (tests/fuzz/regressions) are
 * replayed by ctest on each build, under the sanitizers when the build has
 * them. Usage: replay_<target> FILE_OR_DIRECTORY...
 * Directories are read one level deep, in name order. Exit status 0 when
 * every input ran (a failing check inside the target aborts the process).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    size_t cap = 4096, n = 0;
    uint8_t *data = malloc(cap);
    size_t got;
    while (data != NULL && (got = fread(data + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            uint8_t *grown = realloc(data, cap * 2);
            if (grown == NULL) free(data);
            data = grown;
            cap *= 2;
        }
    }
    fclose(f);
    if (data == NULL) {
        fprintf(stderr, "replay: out of memory reading %s\n", path);
        return -1;
    }
    /* An exact-size copy, so a read past the end is caught by ASan. */
    uint8_t *exact = malloc(n ? n : 1);
    if (exact == NULL) {
        free(data);
        return -1;
    }
    memcpy(exact, data, n);
    free(data);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 1;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: no such file or directory: %s\n", path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) return run_file(path);
    struct dirent **entries = NULL;
    int n = scandir(path, &entries, NULL, NULL);
    if (n < 0) {
        fprintf(stderr, "replay: cannot list %s\n", path);
        return -1;
    }
    char **names = calloc((size_t)n + 1, sizeof *names);
    int count = 0, ran = 0;
    for (int i = 0; i < n; i++) {
        if (names != NULL && entries[i]->d_name[0] != '.') names[count++] = strdup(entries[i]->d_name);
        free(entries[i]);
    }
    free(entries);
    if (names == NULL) return -1;
    qsort(names, (size_t)count, sizeof *names, compare_names);
    for (int i = 0; i < count; i++) {
        char file[4096];
        snprintf(file, sizeof file, "%s/%s", path, names[i]);
        if (stat(file, &st) == 0 && S_ISREG(st.st_mode)) {
            int r = run_file(file);
            if (r < 0) ran = -1;
            else if (ran >= 0) ran += r;
        }
        free(names[i]);
    }
    free(names);
    return ran;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE_OR_DIRECTORY...\n", argv[0]);
        return 2;
    }
    LLVMFuzzerInitialize(&argc, &argv);
    int total = 0;
    for (int i = 1; i < argc; i++) {
        int r = run_path(argv[i]);
        if (r < 0) return 1;
        total += r;
    }
    printf("%s: %d inputs replayed\n", argv[0], total);
    if (total == 0) {
        fprintf(stderr, "replay: no inputs found (expected a corpus)\n");
        return 1;
    }
    return 0;
}

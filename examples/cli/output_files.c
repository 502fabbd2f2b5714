/*
 * output_files.c - see output_files.h.
 */
#include "output_files.h"
#include "message.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool output_dir_prepare(const char *dir, char *err, size_t err_cap)
{
    size_t len = strlen(dir);
    char *path = malloc(len + 1);
    if (path == NULL)
        return fail(err, err_cap, "out of memory");
    memcpy(path, dir, len + 1);
    /* Create each prefix ending before a '/', then the whole path. */
    bool ok = true;
    for (size_t i = 1; ok && i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char saved = path[i];
        path[i] = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            ok = fail(err, err_cap, "cannot create directory '%s': %s", path, strerror(errno));
        path[i] = saved;
    }
    free(path);
    struct stat st;
    if (ok && (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)))
        ok = fail(err, err_cap, "'%s' is not a directory", dir);
    return ok;
}

char *output_path(const char *dir, const char *stem, const char *suffix)
{
    size_t dir_len = strlen(dir);
    bool slash = dir_len > 0 && dir[dir_len - 1] == '/';
    size_t len = dir_len + 1 + strlen(stem) + strlen(suffix) + sizeof ".png";
    char *path = malloc(len);
    if (path != NULL)
        snprintf(path, len, "%s%s%s%s.png", dir, slash ? "" : "/", stem, suffix);
    return path;
}

bool output_check(const char *path, const input_list *inputs, bool overwrite, char *err,
                  size_t err_cap)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            return true;
        return fail(err, err_cap, "cannot check output %s: %s", path, strerror(errno));
    }
    const input_file *in = input_list_find_file(inputs, st.st_dev, st.st_ino);
    if (in != NULL)
        return fail(err, err_cap, "output %s is the input file %s; refusing to overwrite it",
                    path, in->path);
    if (!overwrite)
        return fail(err, err_cap, "output %s already exists (use --overwrite to replace it)",
                    path);
    return true;
}

/* The permissions a plain new file gets: 0666 minus the umask. */
static mode_t new_file_mode(void)
{
    mode_t mask = umask(0);
    umask(mask);
    return 0666 & ~mask;
}

bool output_temp_open(output_temp *t, const char *final_path, char *err, size_t err_cap)
{
    memset(t, 0, sizeof *t);
    const char *slash = strrchr(final_path, '/');
    size_t dir_len = slash != NULL ? (size_t)(slash - final_path + 1) : 0;
    const char *base = final_path + dir_len;
    /* ".cutout-" marks the file as ours: a cleaner that removes leftovers
     * (cutout-dask) must never match a user's own ".cat.png.backup". */
    size_t len = strlen(final_path) + sizeof "/." + sizeof ".cutout-XXXXXX";
    t->final_path = malloc(strlen(final_path) + 1);
    t->temp_path = malloc(len);
    if (t->final_path == NULL || t->temp_path == NULL) {
        output_temp_discard(t);
        return fail(err, err_cap, "out of memory");
    }
    strcpy(t->final_path, final_path);
    snprintf(t->temp_path, len, "%.*s.%s.cutout-XXXXXX", (int)dir_len, final_path, base);

    int fd = mkstemp(t->temp_path);
    if (fd < 0) {
        int e = errno;
        free(t->temp_path);
        t->temp_path = NULL;
        output_temp_discard(t);
        return fail(err, err_cap, "cannot create a file next to %s: %s", final_path,
                    strerror(e));
    }
    t->fp = fdopen(fd, "wb");
    if (t->fp == NULL || fchmod(fd, new_file_mode()) != 0) {
        int e = errno;
        if (t->fp == NULL)
            close(fd);
        output_temp_discard(t);
        return fail(err, err_cap, "cannot write %s: %s", final_path, strerror(e));
    }
    return true;
}

/* Moves temp to final without replacing an existing file: link() fails
 * with EEXIST when final exists, atomically. Filesystems without hard
 * links fall back to a check followed by rename(). */
static int move_no_replace(const char *temp, const char *final)
{
    if (link(temp, final) == 0) {
        unlink(temp);
        return 0;
    }
    if (errno == EEXIST)
        return -1;
    struct stat st;
    if (lstat(final, &st) == 0) {
        errno = EEXIST;
        return -1;
    }
    return rename(temp, final);
}

bool output_temp_commit(output_temp *t, bool overwrite, char *err, size_t err_cap)
{
    bool ok = true;
    if (t->fp == NULL || t->temp_path == NULL)
        ok = fail(err, err_cap, "internal error: no open output");
    if (ok) {
        int closed = fclose(t->fp);
        t->fp = NULL;
        if (closed != 0)
            ok = fail(err, err_cap, "cannot write %s: %s", t->final_path, strerror(errno));
    }
    if (ok) {
        int moved = overwrite ? rename(t->temp_path, t->final_path)
                              : move_no_replace(t->temp_path, t->final_path);
        if (moved != 0 && errno == EEXIST && !overwrite)
            ok = fail(err, err_cap, "output %s already exists (use --overwrite to replace it)",
                      t->final_path);
        else if (moved != 0)
            ok = fail(err, err_cap, "cannot create %s: %s", t->final_path, strerror(errno));
        else {
            free(t->temp_path); /* it is the final file now */
            t->temp_path = NULL;
        }
    }
    output_temp_discard(t);
    return ok;
}

void output_temp_discard(output_temp *t)
{
    if (t->fp != NULL)
        fclose(t->fp);
    if (t->temp_path != NULL)
        unlink(t->temp_path);
    free(t->temp_path);
    free(t->final_path);
    memset(t, 0, sizeof *t);
}

/*
 * files_from.c - see files_from.h.
 */
#include "files_from.h"
#include "message.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

bool files_from_read(const char *source, files_from_fn add, void *user, char *err,
                     size_t err_cap)
{
    err[0] = '\0';
    bool from_stdin = strcmp(source, "-") == 0;
    FILE *fp = from_stdin ? stdin : fopen(source, "r");
    if (fp == NULL)
        return fail(err, err_cap, "cannot open: %s", strerror(errno));

    char *line = NULL;
    size_t cap = 0;
    long long number = 0;
    bool ok = true;
    ssize_t len;
    errno = 0;
    while (ok && (len = getline(&line, &cap, fp)) >= 0) {
        number++;
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        if (strlen(line) != (size_t)len)
            ok = fail(err, err_cap, "line %lld: holds a NUL byte (expected one path per line)",
                      number);
        else if (len > 0)
            ok = add(line, user);
        errno = 0;
    }
    if (ok && ferror(fp))
        ok = fail(err, err_cap, "cannot read: %s", strerror(errno != 0 ? errno : EIO));
    free(line);
    if (!from_stdin)
        fclose(fp);
    return ok;
}

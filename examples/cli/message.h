/*
 * message.h - the command's one way of writing a failure message.
 */
#ifndef CUTOUT_CLI_MESSAGE_H
#define CUTOUT_CLI_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>

/* Formats the message into err (err_cap bytes, always NUL-terminated when
 * err_cap > 0) and returns false, so that a check can `return fail(...)`.
 * Thread-safe. */
bool fail(char *err, size_t err_cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* CUTOUT_CLI_MESSAGE_H */

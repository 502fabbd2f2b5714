/*
 * error.h - the thread-local error message behind cutout_last_error().
 *
 * Every failing path in the plugin calls cutout_error_set() exactly once with
 * a message of the form "<input>: <problem> (expected X, got Y)" and returns
 * its status. Successful public calls clear the message.
 */
#ifndef CUTOUT_ERROR_H
#define CUTOUT_ERROR_H

#include "cutout.h"

/* Clears the calling thread's message. */
void cutout_error_clear(void);

/* Formats the calling thread's message (truncated to 1 KiB) and returns
 * `status`, so a failing path can `return cutout_error_set(...)`. */
cutout_status cutout_error_set(cutout_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Copies a message that was produced elsewhere (the shim's buffer). */
cutout_status cutout_error_set_text(cutout_status status, const char *text);

/* The calling thread's message buffer (also what cutout_last_error returns). */
const char *cutout_error_text(void);

#endif /* CUTOUT_ERROR_H */

/*
 * progress.h - a one-line progress bar on stderr, and the run's clock.
 *
 * The bar is drawn only when enabled (more than one image, stderr is a
 * terminal, not --quiet); every function is a cheap no-op otherwise, so
 * callers do not need to check. Single-threaded: the node's progress
 * callback runs on the thread that called cutout_node_run.
 */
#ifndef CUTOUT_CLI_PROGRESS_H
#define CUTOUT_CLI_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct progress {
    bool enabled;
    bool drawn;        /* a bar is on the current line */
    int64_t total;     /* images in the run */
    int64_t done;      /* images finished, ok or failed */
    double start_s;    /* monotonic clock at progress_start */
} progress;

/* Starts the clock; enables drawing when `enabled`. */
void progress_start(progress *p, int64_t total, bool enabled);

/* Sets the number of finished images and redraws the bar. */
void progress_set(progress *p, int64_t done);

/* Erases the bar so that a message can be printed on a clean line; the
 * next progress_set draws it again. */
void progress_clear(progress *p);

/* Seconds since progress_start. */
double progress_elapsed(const progress *p);

#endif /* CUTOUT_CLI_PROGRESS_H */

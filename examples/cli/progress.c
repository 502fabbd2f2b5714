/*
 * progress.c - see progress.h.
 */
#include "progress.h"

#include <stdio.h>
#include <time.h>

#define BAR_WIDTH 30

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void progress_start(progress *p, int64_t total, bool enabled)
{
    p->enabled = enabled;
    p->drawn = false;
    p->total = total;
    p->done = 0;
    p->start_s = now_s();
}

void progress_set(progress *p, int64_t done)
{
    p->done = done;
    if (!p->enabled || p->total <= 0)
        return;
    char bar[BAR_WIDTH + 1];
    int64_t filled = done * BAR_WIDTH / p->total;
    for (int i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[BAR_WIDTH] = '\0';
    fprintf(stderr, "\r[%s] %lld/%lld images, %.1f s", bar, (long long)done,
            (long long)p->total, progress_elapsed(p));
    fflush(stderr);
    p->drawn = true;
}

void progress_clear(progress *p)
{
    if (!p->drawn)
        return;
    fputs("\r\033[K", stderr); /* carriage return, erase to end of line */
    p->drawn = false;
}

double progress_elapsed(const progress *p)
{
    return now_s() - p->start_s;
}

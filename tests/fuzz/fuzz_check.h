/*
 * fuzz_check.h - the fuzz targets' assertion: print what broke and abort,
 * so libFuzzer saves the input as a crash (and replay fails).
 */
#ifndef CUTOUT_FUZZ_CHECK_H
#define CUTOUT_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond, ...)                                                   \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n  ", __FILE__,       \
                    __LINE__, #cond);                                           \
            fprintf(stderr, __VA_ARGS__);                                       \
            fprintf(stderr, "\n");                                              \
            abort();                                                            \
        }                                                                       \
    } while (0)

#endif /* CUTOUT_FUZZ_CHECK_H */

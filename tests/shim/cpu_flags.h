/*
 * cpu_flags.h - what /proc/cpuinfo says of the CPU, read independently of
 * the library's own cpuid checks (tests only).
 */
#ifndef CUTOUT_TEST_CPU_FLAGS_H
#define CUTOUT_TEST_CPU_FLAGS_H

#include <stdbool.h>

/* Whether the "flags" line of /proc/cpuinfo contains `flag`, spaces
 * included (" avx512f ", " amx_bf16"); false when it cannot be read. */
bool cpuinfo_has(const char *flag);

#endif

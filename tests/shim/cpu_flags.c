/* cpu_flags.c - see cpu_flags.h. */
#include "cpu_flags.h"

#include <stdio.h>
#include <string.h>

bool cpuinfo_has(const char *flag) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[8192];
    bool found = false;
    while (f != NULL && !found && fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "flags", 5) == 0) found = strstr(line, flag) != NULL;
    if (f != NULL) fclose(f);
    return found;
}

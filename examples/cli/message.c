/* message.c - see message.h. */
#include "message.h"

#include <stdarg.h>
#include <stdio.h>

bool fail(char *err, size_t err_cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_cap, fmt, ap);
    va_end(ap);
    return false;
}

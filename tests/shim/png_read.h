/*
 * png_read.h - decodes a PNG file to 8-bit RGB or RGBA for the C tests.
 */
#ifndef CUTOUT_TEST_PNG_READ_H
#define CUTOUT_TEST_PNG_READ_H

#include <stdint.h>

/* Reads `path` as H x W x 3 uint8 (alpha dropped, palette/grey expanded).
 * On success returns a malloc'ed buffer the caller frees and sets *height and
 * *width; on failure prints why to stderr and returns NULL. */
uint8_t *png_read_rgb(const char *path, int64_t *height, int64_t *width);

/* The same as H x W x 4 uint8, alpha kept (opaque where the file has none). */
uint8_t *png_read_rgba(const char *path, int64_t *height, int64_t *width);

#endif

/* png_read.c - see png_read.h. */
#include "png_read.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads `path` in libpng's simplified `format`. */
static uint8_t *png_read_as(const char *path, uint32_t format, int64_t *height, int64_t *width) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&image, path)) {
        fprintf(stderr, "%s: cannot read PNG (%s)\n", path, image.message);
        return NULL;
    }
    image.format = format;
    size_t bytes = PNG_IMAGE_SIZE(image);
    uint8_t *pixels = calloc(1, bytes); /* an alpha dropped composites onto these zeros */
    if (pixels == NULL) {
        fprintf(stderr, "%s: out of memory for %zu bytes\n", path, bytes);
        png_image_free(&image);
        return NULL;
    }
    if (!png_image_finish_read(&image, NULL, pixels, 0, NULL)) {
        fprintf(stderr, "%s: cannot decode PNG (%s)\n", path, image.message);
        free(pixels);
        png_image_free(&image);
        return NULL;
    }
    *height = image.height;
    *width = image.width;
    return pixels;
}

uint8_t *png_read_rgb(const char *path, int64_t *height, int64_t *width) {
    return png_read_as(path, PNG_FORMAT_RGB, height, width);
}

uint8_t *png_read_rgba(const char *path, int64_t *height, int64_t *width) {
    return png_read_as(path, PNG_FORMAT_RGBA, height, width);
}

/*
 * image_io.h - PNG and JPEG files to and from memory, for the cutout
 * command and the example host.
 *
 * Decoding gives float32 pixels in 0..1, the layout of a cutout IMAGE
 * tensor (height x width x channels, row-major, channels = 3 for RGB or 4
 * for RGBA). Encoding writes 8-bit RGBA or 8-bit grayscale PNG.
 *
 * Errors never exit the process: every function returns false and writes a
 * one-line message (without the file name; the caller adds it) into the
 * caller's buffer `err` of capacity `err_cap`.
 *
 * Threading: the functions keep no global state; different images may be
 * decoded or encoded on different threads at once.
 */
#ifndef CUTOUT_CLI_IMAGE_IO_H
#define CUTOUT_CLI_IMAGE_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A decoded image. `pixels` holds height * width * channels floats in 0..1,
 * owned by the struct and freed by image_free(). */
typedef struct image_f32 {
    int64_t width;
    int64_t height;
    int64_t channels; /* 3 (RGB) or 4 (RGBA, straight alpha) */
    float *pixels;
} image_f32;

/* Decodes the PNG or JPEG file at `path`; the format is told by the file's
 * first bytes, not its name.
 *
 * PNG: every colour type and bit depth. Palette and gray are expanded to
 * RGB, a tRNS chunk becomes an alpha channel, 16-bit samples keep their
 * precision (v / 65535). JPEG: YCbCr, RGB and grayscale; CMYK is refused.
 * Colour profiles, gamma and EXIF orientation are ignored: samples are
 * used as stored.
 *
 * Images with more than `max_pixels` pixels (width x height) are refused
 * after reading the header, before any pixel memory is allocated.
 *
 * On success fills *out (the caller frees it with image_free) and returns
 * true. On failure returns false, leaves *out zeroed, and writes a message
 * such as "not a PNG or JPEG file" or "PNG: IDAT: CRC error" to err. */
bool image_load(const char *path, int64_t max_pixels, image_f32 *out, char *err,
                size_t err_cap);

/* Frees the pixels and zeroes the struct. NULL and zeroed images are fine. */
void image_free(image_f32 *img);

/* Writes an 8-bit PNG of `width` x `height` pixels to the open stream `fp`.
 * `pixels` is row-major with `channels` bytes per pixel: 1 (gray),
 * 3 (RGB) or 4 (RGBA). The stream is flushed but not closed; the caller checks
 * fclose() for late write errors. Returns false with a message on failure
 * (bad arguments, a write error, out of memory). */
bool image_write_png(FILE *fp, const uint8_t *pixels, int64_t width, int64_t height,
                     int channels, char *err, size_t err_cap);

/* A float sample in 0..1 as an 8-bit value, rounded to nearest:
 * clamp to 0..1, then v * 255 + 0.5 truncated. NaN gives 0. */
static inline uint8_t image_unit_to_u8(float v)
{
    if (!(v > 0.0f))
        return 0;
    if (v >= 1.0f)
        return 255;
    return (uint8_t)(v * 255.0f + 0.5f);
}

#endif /* CUTOUT_CLI_IMAGE_IO_H */

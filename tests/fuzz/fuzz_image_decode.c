/*
 * fuzz_image_decode.c - the cutout command's image decoding
 * (examples/cli/image_io.c: PNG through libpng, JPEG through libjpeg) on
 * arbitrary file contents, and PNG encoding of what was decoded.
 *
 * Checks:
 * - image_load either succeeds with 1 <= W, H, W x H <= the pixel limit,
 *   3 or 4 channels and every sample finite in 0..1, or fails with a
 *   message and a zeroed image;
 * - a decoded image (up to 64 K pixels) written with image_write_png and
 *   decoded again gives back exactly its 8-bit samples.
 * Input: the file's bytes. They go into a memfd, which image_load opens
 * by its /proc/self/fd path, so nothing touches the disk.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_check.h"
#include "image_io.h"

/* Smaller than the command's limit (CUTOUT_MAX_PIXELS) to keep each run
 * quick; the code path is the same. */
#define FUZZ_MAX_PIXELS ((int64_t)1 << 20)
#define ROUND_TRIP_MAX_PIXELS ((int64_t)1 << 16)

static int g_input_fd = -1, g_output_fd = -1;
static char g_input_path[64], g_output_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    g_input_fd = memfd_create("cutout-fuzz-input", 0);
    g_output_fd = memfd_create("cutout-fuzz-output", 0);
    FUZZ_CHECK(g_input_fd >= 0 && g_output_fd >= 0, "memfd_create failed");
    snprintf(g_input_path, sizeof g_input_path, "/proc/self/fd/%d", g_input_fd);
    snprintf(g_output_path, sizeof g_output_path, "/proc/self/fd/%d", g_output_fd);
    return 0;
}

static void put_bytes(int fd, const uint8_t *data, size_t size)
{
    FUZZ_CHECK(ftruncate(fd, 0) == 0, "ftruncate failed");
    size_t done = 0;
    while (done < size) {
        ssize_t n = pwrite(fd, data + done, size - done, (off_t)done);
        FUZZ_CHECK(n > 0, "pwrite failed");
        done += (size_t)n;
    }
}

/* Encodes the decoded image as 8-bit RGBA and decodes that again. */
static void round_trip(const image_f32 *img)
{
    size_t pixels = (size_t)(img->width * img->height);
    uint8_t *rgba = malloc(pixels * 4);
    FUZZ_CHECK(rgba != NULL, "out of memory");
    for (size_t p = 0; p < pixels; p++)
        for (int k = 0; k < 4; k++)
            rgba[p * 4 + k] = k < img->channels
                                  ? image_unit_to_u8(img->pixels[p * (size_t)img->channels + (size_t)k])
                                  : 255;
    FUZZ_CHECK(ftruncate(g_output_fd, 0) == 0, "ftruncate failed");
    FILE *fp = fopen(g_output_path, "wb");
    FUZZ_CHECK(fp != NULL, "cannot open the output memfd");
    char err[512] = "";
    bool ok = image_write_png(fp, rgba, img->width, img->height, 4, err, sizeof err);
    FUZZ_CHECK(fclose(fp) == 0 && ok, "encoding failed: %s", err);

    image_f32 again;
    ok = image_load(g_output_path, FUZZ_MAX_PIXELS, &again, err, sizeof err);
    FUZZ_CHECK(ok, "decoding our own PNG failed: %s", err);
    FUZZ_CHECK(again.width == img->width && again.height == img->height && again.channels == 4,
               "round trip changed the size: %lld x %lld x %lld", (long long)again.height,
               (long long)again.width, (long long)again.channels);
    for (size_t i = 0; i < pixels * 4; i++)
        FUZZ_CHECK(image_unit_to_u8(again.pixels[i]) == rgba[i], "sample %zu changed", i);
    image_free(&again);
    free(rgba);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    put_bytes(g_input_fd, data, size);
    image_f32 img;
    memset(&img, 0x5a, sizeof img); /* must be overwritten */
    char err[512] = "";
    bool ok = image_load(g_input_path, FUZZ_MAX_PIXELS, &img, err, sizeof err);
    if (!ok) {
        FUZZ_CHECK(err[0] != '\0', "failure without a message");
        FUZZ_CHECK(img.pixels == NULL && img.width == 0 && img.height == 0,
                   "failure left an image: %s", err);
        return 0;
    }
    FUZZ_CHECK(img.width >= 1 && img.height >= 1 && img.width * img.height <= FUZZ_MAX_PIXELS,
               "decoded size %lld x %lld", (long long)img.height, (long long)img.width);
    FUZZ_CHECK(img.channels == 3 || img.channels == 4, "%lld channels", (long long)img.channels);
    FUZZ_CHECK(img.pixels != NULL, "no pixels");
    size_t samples = (size_t)(img.width * img.height * img.channels);
    for (size_t i = 0; i < samples; i++)
        FUZZ_CHECK(isfinite(img.pixels[i]) && img.pixels[i] >= 0.0f && img.pixels[i] <= 1.0f,
                   "sample %zu = %g", i, img.pixels[i]);
    if (img.width * img.height <= ROUND_TRIP_MAX_PIXELS) round_trip(&img);
    image_free(&img);
    return 0;
}

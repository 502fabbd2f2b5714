/*
 * remove_background.h - runs the CutoutRemoveBackground node (or, with edge
 * options, CutoutRemoveBackgroundAdvanced, followed by
 * CutoutCompositeBackground for a new background) on decoded images and
 * turns the outputs into 8-bit pixels.
 */
#ifndef CUTOUT_CLI_REMOVE_BACKGROUND_H
#define CUTOUT_CLI_REMOVE_BACKGROUND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cutout.h>

#include "image_io.h"
#include "options.h"

/* One image's result, 8-bit, row-major: rgba holds height x width x
 * channels bytes (RGBA, or RGB over a new background; NULL when not asked
 * for), mask height x width bytes. The size is the input's unless the
 * cutout was cropped. Owned by the caller, freed with
 * remove_background_result_free(). */
typedef struct remove_background_result {
    uint8_t *rgba;
    uint8_t *mask;
    int64_t width, height;
    int channels;
} remove_background_result;

/* Runs the node once on `count` images that all have the same width,
 * height and channel count, as one count x H x W x C float32 tensor (a
 * single image is passed without a copy), with the node inputs taken from
 * `o` (model, batch size, precision and the edge options). `background`
 * is the decoded --bg-image (NULL otherwise). `run` carries the progress
 * and abort callbacks (may be NULL). With want_rgba false only masks are
 * produced.
 *
 * Returns CUTOUT_OK and fills results[0 .. count-1]; any other status
 * leaves every result empty and writes a one-line message to err: the
 * library's cutout_last_error() for its failures (and for
 * CUTOUT_CANCELLED), or our own for memory and unexpected outputs. Each
 * output's deleter is called exactly once on every path. */
cutout_status remove_background_run(cutout_context *ctx, const cli_options *o,
                                    const image_f32 *background, const image_f32 *const *images,
                                    int64_t count, const cutout_run_params *run,
                                    bool want_rgba, remove_background_result *results,
                                    char *err, size_t err_cap);

/* Frees both buffers and empties the result. */
void remove_background_result_free(remove_background_result *r);

#endif /* CUTOUT_CLI_REMOVE_BACKGROUND_H */

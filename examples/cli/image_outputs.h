/*
 * image_outputs.h - the output files of one image: their names, and
 * writing all of them or none.
 *
 * Shared by the cutout command and the files session (cutout_files.h), so
 * that both name and write outputs the same way.
 *
 * Errors are one-line messages written to the caller's buffer `err` of
 * capacity `err_cap`; nothing here prints or exits. Threading: no global
 * state; different images may be handled on different threads at once.
 */
#ifndef CUTOUT_CLI_IMAGE_OUTPUTS_H
#define CUTOUT_CLI_IMAGE_OUTPUTS_H

#include <stdbool.h>
#include <stddef.h>

#include "options.h"
#include "remove_background.h"

/* Names the outputs of the input whose stem is `stem` under the options
 * `o`: *rgba_path is "<dir>/<stem>.png" unless --mask-only; *mask_path is
 * "<dir>/<stem>_mask.png" with --mask, "<dir>/<stem>.png" with
 * --mask-only, NULL otherwise. The strings are new; the caller frees them.
 * Returns false when memory runs out (both pointers are then NULL). */
bool image_outputs_name(const cli_options *o, const char *stem, char **rgba_path,
                        char **mask_path);

/* Writes `res` to rgba_path (res->channels per pixel) and its mask to
 * mask_path (either may be NULL: not written), each through a temporary
 * file renamed into place (output_files.h). Either every output exists
 * afterwards, or none does. `overwrite` lets an existing file be replaced;
 * without it an existing file fails the image. */
bool image_outputs_write(const char *rgba_path, const char *mask_path,
                         const remove_background_result *res, bool overwrite, char *err,
                         size_t err_cap);

#endif /* CUTOUT_CLI_IMAGE_OUTPUTS_H */

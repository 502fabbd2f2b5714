/*
 * image_outputs.c - see image_outputs.h.
 */
#include "image_outputs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image_io.h"
#include "output_files.h"

bool image_outputs_name(const cli_options *o, const char *stem, char **rgba_path,
                        char **mask_path)
{
    *rgba_path = NULL;
    *mask_path = NULL;
    if (!o->mask_only)
        *rgba_path = output_path(o->output_dir, stem, "");
    if (o->mask_only)
        *mask_path = output_path(o->output_dir, stem, "");
    else if (o->mask)
        *mask_path = output_path(o->output_dir, stem, "_mask");
    if ((!o->mask_only && *rgba_path == NULL) || ((o->mask || o->mask_only) && *mask_path == NULL)) {
        free(*rgba_path);
        free(*mask_path);
        *rgba_path = NULL;
        *mask_path = NULL;
        return false;
    }
    return true;
}

/* Writes `pixels` to a temporary file for `path`; on failure t is empty. */
static bool write_temp(output_temp *t, const char *path, const uint8_t *pixels,
                       const remove_background_result *res, int channels, char *err,
                       size_t err_cap)
{
    if (!output_temp_open(t, path, err, err_cap))
        return false;
    char why[512];
    if (!image_write_png(t->fp, pixels, res->width, res->height, channels, why, sizeof why)) {
        snprintf(err, err_cap, "%s: %s", path, why);
        output_temp_discard(t);
        return false;
    }
    return true;
}

bool image_outputs_write(const char *rgba_path, const char *mask_path,
                         const remove_background_result *res, bool overwrite, char *err,
                         size_t err_cap)
{
    output_temp rgba, mask;
    memset(&rgba, 0, sizeof rgba);
    memset(&mask, 0, sizeof mask);
    bool ok = true;
    if (rgba_path != NULL)
        ok = write_temp(&rgba, rgba_path, res->rgba, res, res->channels, err, err_cap);
    if (ok && mask_path != NULL)
        ok = write_temp(&mask, mask_path, res->mask, res, 1, err, err_cap);
    if (!ok) {
        output_temp_discard(&rgba);
        output_temp_discard(&mask);
        return false;
    }
    if (rgba_path != NULL && !output_temp_commit(&rgba, overwrite, err, err_cap)) {
        output_temp_discard(&mask);
        return false;
    }
    if (mask_path != NULL && !output_temp_commit(&mask, overwrite, err, err_cap)) {
        if (rgba_path != NULL)
            unlink(rgba_path); /* the image failed: leave none of its files */
        return false;
    }
    return true;
}

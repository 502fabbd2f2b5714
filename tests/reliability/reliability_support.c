/* reliability_support.c - see reliability_support.h. */
#define _GNU_SOURCE
#include "reliability_support.h"

#include <png.h>
#include <stdlib.h>
#include <unistd.h>

int rel_failures;
int rel_checks;

static void describe(rel_image *img)
{
    img->tensor = (DLTensor){.data = img->data,
                             .device = {kDLCPU, 0},
                             .ndim = 4,
                             .dtype = {kDLFloat, 32, 1},
                             .shape = img->shape,
                             .strides = NULL,
                             .byte_offset = 0};
}

rel_image rel_blank(int64_t b, int64_t h, int64_t w, int64_t c)
{
    rel_image img;
    memset(&img, 0, sizeof img);
    img.shape = malloc(4 * sizeof *img.shape);
    img.data = calloc((size_t)(b * h * w * c), sizeof(float));
    if (img.data == NULL || img.shape == NULL) {
        fprintf(stderr, "out of memory for a %lld x %lld x %lld x %lld image\n", (long long)b,
                (long long)h, (long long)w, (long long)c);
        exit(2);
    }
    img.shape[0] = b, img.shape[1] = h, img.shape[2] = w, img.shape[3] = c;
    describe(&img);
    return img;
}

rel_image rel_photo(const char *folder, const char *file, int64_t batch, int channels)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", folder, file);
    png_image png;
    memset(&png, 0, sizeof png);
    png.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&png, path)) {
        fprintf(stderr, "cannot read the photo %s: %s\n", path, png.message);
        exit(2);
    }
    png.format = channels == 4 ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB;
    unsigned char *pixels = malloc(PNG_IMAGE_SIZE(png));
    if (pixels == NULL || !png_image_finish_read(&png, NULL, pixels, 0, NULL)) {
        fprintf(stderr, "cannot decode the photo %s\n", path);
        exit(2);
    }
    rel_image img = rel_blank(batch, png.height, png.width, channels);
    size_t per_item = (size_t)png.height * png.width * (size_t)channels;
    for (int64_t b = 0; b < batch; b++)
        for (size_t k = 0; k < per_item; k++)
            img.data[(size_t)b * per_item + k] = (float)pixels[k] / 255.0f;
    free(pixels);
    return img;
}

void rel_image_free(rel_image *img)
{
    free(img->data);
    free(img->shape);
    memset(img, 0, sizeof *img);
}

cutout_context *rel_context(const char *model_dir)
{
    const char *dirs[] = {model_dir};
    cutout_context_params p = cutout_context_default_params();
    p.model_dirs = dirs;
    p.num_model_dirs = 1;
    p.num_threads = 2;
    cutout_context *ctx = NULL;
    if (cutout_context_create(&p, &ctx) != CUTOUT_OK) {
        fprintf(stderr, "context: %s\n", cutout_last_error());
        exit(2);
    }
    return ctx;
}

cutout_status rel_run(cutout_context *ctx, const DLTensor *image, const DLTensor *mask,
                      const char *model, int64_t batch_size, const cutout_run_params *run,
                      DLManagedTensor *out[2])
{
    cutout_input inputs[4] = {
        {.name = "image", .kind = CUTOUT_VALUE_TENSOR, .tensor = image},
        {.name = "model", .kind = CUTOUT_VALUE_STRING, .s = model},
        {.name = "batch_size", .kind = CUTOUT_VALUE_INT, .i = batch_size},
        {.name = "mask", .kind = CUTOUT_VALUE_TENSOR, .tensor = mask},
    };
    out[0] = out[1] = (DLManagedTensor *)(uintptr_t)8; /* must be overwritten */
    return cutout_node_run(ctx, "CutoutRemoveBackground", inputs, mask ? 4 : 3, run, out, 2);
}

void rel_release(DLManagedTensor *out[2])
{
    for (int i = 0; i < 2; i++) {
        if (out[i] != NULL) out[i]->deleter(out[i]);
        out[i] = NULL;
    }
}

int64_t rel_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long long size = 0, resident = 0;
    if (f == NULL) return -1;
    if (fscanf(f, "%lld %lld", &size, &resident) != 2) resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * (int64_t)sysconf(_SC_PAGESIZE);
}

int rel_finish(const char *suite)
{
    printf("%s: %d checks, %d failed\n", suite, rel_checks, rel_failures);
    return rel_failures == 0 ? 0 : 1;
}

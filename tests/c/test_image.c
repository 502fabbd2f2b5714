/* test_image.c - see test_image.h. */
#include "test_image.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

test_image test_image_blank(int64_t b, int64_t h, int64_t w, int64_t c)
{
    test_image img;
    memset(&img, 0, sizeof img);
    img.shape = malloc(4 * sizeof *img.shape);
    img.data = calloc((size_t)(b * h * w * c), sizeof(float));
    if (img.data == NULL || img.shape == NULL) {
        fprintf(stderr, "out of memory for a %lld x %lld x %lld x %lld image\n", (long long)b,
                (long long)h, (long long)w, (long long)c);
        exit(2);
    }
    img.shape[0] = b, img.shape[1] = h, img.shape[2] = w, img.shape[3] = c;
    img.tensor = (DLTensor){.data = img.data,
                            .device = {kDLCPU, 0},
                            .ndim = 4,
                            .dtype = {kDLFloat, 32, 1},
                            .shape = img.shape,
                            .strides = NULL,
                            .byte_offset = 0};
    return img;
}

test_image test_image_photo(const char *folder, const char *file, int64_t batch, int channels)
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
    unsigned char *pixels = calloc(1, PNG_IMAGE_SIZE(png)); /* alpha dropped: over black */
    if (pixels == NULL || !png_image_finish_read(&png, NULL, pixels, 0, NULL)) {
        fprintf(stderr, "cannot decode the photo %s\n", path);
        exit(2);
    }
    test_image img = test_image_blank(batch, png.height, png.width, channels);
    size_t per_item = (size_t)png.height * png.width * (size_t)channels;
    for (int64_t b = 0; b < batch; b++)
        for (size_t k = 0; k < per_item; k++)
            img.data[(size_t)b * per_item + k] = (float)pixels[k] / 255.0f;
    free(pixels);
    return img;
}

void test_image_free(test_image *img)
{
    free(img->data);
    free(img->shape);
    memset(img, 0, sizeof *img);
}

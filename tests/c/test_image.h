/*
 * test_image.h - real photos and blank images as float32 tensors, for the
 * C tests (unit, reliability). Needs only libpng.
 */
#ifndef CUTOUT_TEST_IMAGE_H
#define CUTOUT_TEST_IMAGE_H

#include <stdint.h>

#include <dlpack/dlpack.h>

/* A B x H x W x C float32 image, compact, in its own heap buffers (so the
 * struct may be copied and `tensor` stays valid). */
typedef struct test_image {
    float *data;
    int64_t *shape;  /* 4 entries */
    DLTensor tensor; /* describes data */
} test_image;

/* Reads `file` from `folder` (8-bit PNG) as RGB (channels 3) or RGBA (4),
 * values / 255, repeated `batch` times. Exits with status 2 when it cannot. */
test_image test_image_photo(const char *folder, const char *file, int64_t batch, int channels);
/* A zero-filled image. Exits with status 2 when out of memory. */
test_image test_image_blank(int64_t b, int64_t h, int64_t w, int64_t c);
/* Frees the buffers; the struct is left empty. */
void test_image_free(test_image *img);

#endif

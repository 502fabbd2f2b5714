/*
 * test_readonly_inputs.c - inputs are never written: everything a host
 * hands to cutout_node_run (pixel data, DLTensor structs, shape and
 * strides arrays, the cutout_input array, strings, the run params) lives
 * in pages that are mprotect-ed read-only before the call. A write would
 * fault; the SIGSEGV handler then names the address and fails the test.
 *
 * Cases: float32 RGB, uint8 RGBA, float16 through channels-first strides
 * with a float32 guide mask, bfloat16 with a uint8 H x W guide, batches,
 * and calls that fail (a bad channel count, NaN) after reading the data.
 *
 * Usage: test_readonly_inputs PHOTO_DIR MODEL_DIR MODEL_NAME
 */
#define _GNU_SOURCE
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "reliability_support.h"

/* One arena of pages: filled while writable, then locked read-only. */
static uint8_t *g_arena;
static size_t g_arena_size, g_arena_used;

static void *arena_alloc(size_t bytes)
{
    size_t at = (g_arena_used + 63) & ~(size_t)63;
    if (at + bytes > g_arena_size) {
        fprintf(stderr, "arena too small\n");
        exit(2);
    }
    g_arena_used = at + bytes;
    return g_arena + at;
}

/* Makes the arena writable and empty again. */
static void arena_reset(void)
{
    if (mprotect(g_arena, g_arena_size, PROT_READ | PROT_WRITE) != 0) exit(2);
    g_arena_used = 0;
}

static void arena_lock(void)
{
    if (mprotect(g_arena, g_arena_size, PROT_READ) != 0) exit(2);
}

static void on_segv(int sig, siginfo_t *info, void *context)
{
    (void)sig;
    (void)context;
    const uint8_t *at = info->si_addr;
    char line[160];
    int n = snprintf(line, sizeof line, "SIGSEGV at %p: %s\n", info->si_addr,
                     at >= g_arena && at < g_arena + g_arena_size
                         ? "the library wrote into a read-only input"
                         : "a crash outside the inputs");
    if (n > 0) {
        ssize_t ignored = write(STDERR_FILENO, line, (size_t)n);
        (void)ignored;
    }
    _exit(1);
}

typedef enum { AS_FLOAT32, AS_UINT8, AS_FLOAT16, AS_BFLOAT16 } storage;

static uint16_t to_half(float v) /* v in 0..1: normal or zero halves */
{
    if (v < 1.0f / 16384.0f) return 0;
    int e;
    float m = frexpf(v, &e); /* v = m * 2^e, m in [0.5, 1) */
    return (uint16_t)(((e + 14) << 10) | ((int)(m * 2048.0f) & 1023));
}

/* A read-only-to-be tensor of `photo` stored as `as`, channels-first when
 * `planar`. All of it is allocated in the arena. */
static DLTensor *arena_image(const rel_image *photo, storage as, bool planar)
{
    int64_t B = photo->shape[0], H = photo->shape[1], W = photo->shape[2], C = photo->shape[3];
    int64_t n = B * H * W * C;
    size_t elem = as == AS_FLOAT32 ? 4 : (as == AS_UINT8 ? 1 : 2);
    uint8_t *data = arena_alloc((size_t)n * elem);
    for (int64_t b = 0; b < B; b++)
        for (int64_t y = 0; y < H; y++)
            for (int64_t x = 0; x < W; x++)
                for (int64_t c = 0; c < C; c++) {
                    float v = photo->data[((b * H + y) * W + x) * C + c];
                    int64_t at = planar ? ((b * C + c) * H + y) * W + x : ((b * H + y) * W + x) * C + c;
                    uint8_t *dst = data + at * (int64_t)elem;
                    if (as == AS_FLOAT32) {
                        memcpy(dst, &v, 4);
                    } else if (as == AS_UINT8) {
                        *dst = (uint8_t)(v * 255.0f + 0.5f);
                    } else if (as == AS_FLOAT16) {
                        uint16_t h = to_half(v);
                        memcpy(dst, &h, 2);
                    } else {
                        uint32_t bits;
                        memcpy(&bits, &v, 4);
                        uint16_t top = (uint16_t)(bits >> 16);
                        memcpy(dst, &top, 2);
                    }
                }
    int64_t *shape = arena_alloc(4 * sizeof *shape);
    memcpy(shape, photo->shape, 4 * sizeof *shape);
    int64_t *strides = NULL;
    if (planar) {
        strides = arena_alloc(4 * sizeof *strides);
        strides[0] = C * H * W, strides[1] = W, strides[2] = 1, strides[3] = H * W;
    }
    static const DLDataType types[] = {{kDLFloat, 32, 1}, {kDLUInt, 8, 1}, {kDLFloat, 16, 1},
                                       {kDLBfloat, 16, 1}};
    DLTensor *t = arena_alloc(sizeof *t);
    *t = (DLTensor){.data = data, .device = {kDLCPU, 0}, .ndim = 4, .dtype = types[as],
                    .shape = shape, .strides = strides, .byte_offset = 0};
    return t;
}

/* A guide mask B x H x W (ndim 3) or H x W (ndim 2) of float32 or uint8. */
static DLTensor *arena_mask(int64_t B, int64_t H, int64_t W, int ndim, storage as)
{
    size_t elem = as == AS_UINT8 ? 1 : 4;
    int64_t n = (ndim == 3 ? B : 1) * H * W;
    uint8_t *data = arena_alloc((size_t)n * elem);
    for (int64_t k = 0; k < n; k++) {
        float v = (float)((k / 7) % 5) / 4.0f;
        if (as == AS_UINT8)
            data[k] = (uint8_t)(v * 255.0f);
        else
            memcpy(data + 4 * k, &v, 4);
    }
    int64_t *shape = arena_alloc(3 * sizeof *shape);
    if (ndim == 3) shape[0] = B, shape[1] = H, shape[2] = W;
    else shape[0] = H, shape[1] = W;
    DLTensor *t = arena_alloc(sizeof *t);
    *t = (DLTensor){.data = data, .device = {kDLCPU, 0}, .ndim = ndim,
                    .dtype = as == AS_UINT8 ? (DLDataType){kDLUInt, 8, 1} : (DLDataType){kDLFloat, 32, 1},
                    .shape = shape};
    return t;
}

static int g_progress_calls;
static void count_progress(int64_t done, int64_t total, void *user)
{
    (void)done;
    (void)total;
    (void)user;
    g_progress_calls++;
}

/* Builds the input list, params and strings in the arena, locks it and
 * runs. Returns the status; outputs are checked and freed here. */
static cutout_status run_locked(cutout_context *ctx, const DLTensor *image, const DLTensor *mask,
                                const char *model, int64_t batch_size)
{
    char *model_copy = arena_alloc(strlen(model) + 1);
    strcpy(model_copy, model);
    char *names = arena_alloc(32);
    memcpy(names, "image\0model\0batch_size\0mask", 28);
    cutout_input *inputs = arena_alloc(4 * sizeof *inputs);
    inputs[0] = (cutout_input){.name = names, .kind = CUTOUT_VALUE_TENSOR, .tensor = image};
    inputs[1] = (cutout_input){.name = names + 6, .kind = CUTOUT_VALUE_STRING, .s = model_copy};
    inputs[2] = (cutout_input){.name = names + 12, .kind = CUTOUT_VALUE_INT, .i = batch_size};
    inputs[3] = (cutout_input){.name = names + 23, .kind = CUTOUT_VALUE_TENSOR, .tensor = mask};
    cutout_run_params *run = arena_alloc(sizeof *run);
    *run = cutout_run_default_params();
    run->progress = count_progress;
    arena_lock();
    DLManagedTensor *out[2];
    g_progress_calls = 0;
    cutout_status st = cutout_node_run(ctx, "CutoutRemoveBackground", inputs, mask ? 4 : 3, run,
                                       out, 2);
    if (st == CUTOUT_OK) {
        const DLTensor *im = &out[0]->dl_tensor;
        REL_CHECK(im->shape[0] == image->shape[0] && im->shape[3] == 4 &&
                      g_progress_calls == image->shape[0],
                  "outputs or progress of a successful call");
        rel_release(out);
    } else {
        REL_CHECK(out[0] == NULL && out[1] == NULL, "a failed call left outputs");
    }
    arena_reset();
    return st;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s PHOTO_DIR MODEL_DIR MODEL_NAME\n", argv[0]);
        return 2;
    }
    const char *model = argv[3];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);

    g_arena_size = (size_t)64 << 20;
    g_arena = mmap(NULL, g_arena_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g_arena == MAP_FAILED) return 2;
    cutout_context *ctx = rel_context(argv[2]);
    rel_image rgb = rel_photo(argv[1], "product_coffee.png", 2, 3);
    rel_image rgba = rel_photo(argv[1], "rgba_bear_tuxpaint.png", 1, 4);
    int64_t B = rgb.shape[0], H = rgb.shape[1], W = rgb.shape[2];
    cutout_status st;

    st = run_locked(ctx, arena_image(&rgb, AS_FLOAT32, false), NULL, model, 1);
    REL_CHECK(st == CUTOUT_OK, "float32 RGB: %s: %s", cutout_status_string(st), cutout_last_error());
    st = run_locked(ctx, arena_image(&rgba, AS_UINT8, false), NULL, model, 1);
    REL_CHECK(st == CUTOUT_OK, "uint8 RGBA: %s: %s", cutout_status_string(st), cutout_last_error());
    DLTensor *half = arena_image(&rgb, AS_FLOAT16, true);
    st = run_locked(ctx, half, arena_mask(B, H, W, 3, AS_FLOAT32), model, 2);
    REL_CHECK(st == CUTOUT_OK, "float16 planar + mask: %s: %s", cutout_status_string(st),
              cutout_last_error());
    DLTensor *bf = arena_image(&rgb, AS_BFLOAT16, false);
    st = run_locked(ctx, bf, arena_mask(B, H / 2, W / 3, 2, AS_UINT8), model, 2);
    REL_CHECK(st == CUTOUT_OK, "bfloat16 + resized uint8 mask: %s: %s", cutout_status_string(st),
              cutout_last_error());

    /* Failing calls read (or refuse) read-only inputs just the same. */
    rgb.data[5] = NAN;
    st = run_locked(ctx, arena_image(&rgb, AS_FLOAT32, false), NULL, model, 1);
    REL_CHECK(st == CUTOUT_ERR_INVALID_INPUT && strstr(cutout_last_error(), "finite"),
              "NaN: %s: %s", cutout_status_string(st), cutout_last_error());
    rgb.data[5] = 0.5f;
    rel_image gray = rel_blank(1, 8, 8, 1);
    st = run_locked(ctx, arena_image(&gray, AS_FLOAT32, false), NULL, model, 1);
    REL_CHECK(st == CUTOUT_ERR_INVALID_INPUT && strstr(cutout_last_error(), "got C = 1"),
              "1 channel: %s: %s", cutout_status_string(st), cutout_last_error());

    rel_image_free(&gray);
    rel_image_free(&rgb);
    rel_image_free(&rgba);
    cutout_context_destroy(ctx);
    munmap(g_arena, g_arena_size);
    return rel_finish("test_readonly_inputs");
}

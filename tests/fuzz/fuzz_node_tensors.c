/*
 * fuzz_node_tensors.c - CutoutRemoveBackground through the public C API
 * (cutout_node_run) with arbitrary DLTensor descriptors for `image` and
 * `mask`: any ndim, shape, strides, byte_offset, dtype, device, NULL
 * pointers, plus the other inputs (batch_size, model) and an abort at any
 * poll. The plugin runs against the C stub shim (tests/c/stub_shim.c).
 *
 * The harness decides on its own, from the documented rules (cutout.h,
 * tensor_check.h), whether a call must succeed, and checks:
 * - a descriptor the rules refuse gets an error whose message starts with
 *   the input's name, no outputs and nothing left allocated; its data is
 *   never read (it points at a 64-byte buffer, so a read past it is an
 *   AddressSanitizer report);
 * - a valid call gets CUTOUT_OK (or INVALID_INPUT when the data holds NaN
 *   or Inf, or CANCELLED when the abort callback said so), and its outputs
 *   are B x H x W x 4 and B x H x W float32 with RGB equal to the input,
 *   alpha in 0..1, MASK equal to the alpha channel, nothing non-finite;
 * - input buffers are byte-for-byte unchanged afterwards.
 *
 * Input layout (fuzz_bytes.h pads with zeros): a selector for the input
 * list, the image descriptor, a mask-present byte and the mask descriptor,
 * batch_size, the abort poll, the fill mode, then bytes that fill the data.
 * Valid descriptors are run only while the work stays small (WORK_CAP).
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cutout.h"
#include "fuzz_bytes.h"
#include "fuzz_check.h"
#include "fuzz_model_dir.h"
#include "fuzz_tensor.h"
#include "stub_shim.h"

static cutout_context *g_ctx;

/* Outcome counts, printed at exit when CUTOUT_FUZZ_STATS is set, to see
 * how much of the corpus reaches the valid path. */
enum { OUT_SKIPPED, OUT_OK, OUT_CANCELLED, OUT_NONFINITE, OUT_MODEL, OUT_REFUSED, OUT_COUNT };
static long g_outcomes[OUT_COUNT];

static void print_outcomes(void)
{
    fprintf(stderr,
            "fuzz_node_tensors outcomes: %ld ok, %ld cancelled, %ld NaN/Inf refused, %ld model "
            "errors, %ld invalid inputs refused, %ld too big to run\n",
            g_outcomes[OUT_OK], g_outcomes[OUT_CANCELLED], g_outcomes[OUT_NONFINITE],
            g_outcomes[OUT_MODEL], g_outcomes[OUT_REFUSED], g_outcomes[OUT_SKIPPED]);
}

static void destroy_context(void) { cutout_context_destroy(g_ctx); }

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dirs[] = {fuzz_make_model_dir()};
    fuzz_add_model_file("broken.pt", "not a model\n");
    cutout_context_params p = cutout_context_default_params();
    p.model_dirs = dirs;
    p.num_model_dirs = 1;
    FUZZ_CHECK(cutout_context_create(&p, &g_ctx) == CUTOUT_OK, "context: %s", cutout_last_error());
    atexit(destroy_context);
    if (getenv("CUTOUT_FUZZ_STATS")) atexit(print_outcomes);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Callbacks                                                                 */

typedef struct call_log {
    int64_t polls, abort_at; /* abort from poll number abort_at on; 0 never */
    bool aborted;
    int64_t progress_calls, last_done, total;
    bool progress_ok;
} call_log;

static bool on_abort(void *user)
{
    call_log *log = user;
    log->polls++;
    if (log->abort_at > 0 && log->polls >= log->abort_at) log->aborted = true;
    return log->aborted;
}

static void on_progress(int64_t done, int64_t total, void *user)
{
    call_log *log = user;
    if (done != log->last_done + 1 || total != log->total) log->progress_ok = false;
    log->last_done = done;
    log->progress_calls++;
}

/* ------------------------------------------------------------------------ */

static void check_outputs(DLManagedTensor *out[2], const tensor_case *img)
{
    int64_t B = img->shape[0], H = img->shape[1], W = img->shape[2], C = img->shape[3];
    const DLTensor *im = &out[0]->dl_tensor, *mk = &out[1]->dl_tensor;
    FUZZ_CHECK(im->ndim == 4 && im->shape[0] == B && im->shape[1] == H && im->shape[2] == W &&
                   im->shape[3] == 4,
               "IMAGE output shape");
    FUZZ_CHECK(mk->ndim == 3 && mk->shape[0] == B && mk->shape[1] == H && mk->shape[2] == W,
               "MASK output shape");
    FUZZ_CHECK(im->dtype.code == kDLFloat && im->dtype.bits == 32 && im->dtype.lanes == 1 &&
                   mk->dtype.code == kDLFloat && mk->dtype.bits == 32 && mk->dtype.lanes == 1,
               "output dtype");
    FUZZ_CHECK(im->strides == NULL && mk->strides == NULL, "outputs are compact");
    const float *rgba = (const float *)((const char *)im->data + im->byte_offset);
    const float *alpha = (const float *)((const char *)mk->data + mk->byte_offset);
    for (int64_t b = 0; b < B; b++)
        for (int64_t y = 0; y < H; y++)
            for (int64_t x = 0; x < W; x++) {
                int64_t p = (b * H + y) * W + x;
                for (int64_t k = 0; k < 3; k++) {
                    int64_t index[4] = {b, y, x, k};
                    float want = element_value(img, element_at(img, index));
                    FUZZ_CHECK(memcmp(&rgba[p * 4 + k], &want, 4) == 0,
                               "RGB at %lld,%lld,%lld,%lld: %g, input %g", (long long)b,
                               (long long)y, (long long)x, (long long)k, rgba[p * 4 + k], want);
                }
                float a = rgba[p * 4 + 3];
                FUZZ_CHECK(a >= 0.0f && a <= 1.0f, "alpha %g outside 0..1", a);
                FUZZ_CHECK(memcmp(&a, &alpha[p], 4) == 0, "MASK differs from the alpha channel");
            }
    (void)C;
}

/* Which input a failure must name: the first one the rules refuse. */
static const char *first_bad_input(tensor_case *img, tensor_case *mask, bool has_mask,
                                   int64_t batch_size, bool *ok)
{
    *ok = false;
    if (batch_size < 1 || batch_size > 64) return "batch_size"; /* checked when binding */
    if (!descriptor_ok(img, 4, 4, true)) return "image";
    if (!within_pixel_limit(img->shape[1], img->shape[2])) return "image";
    if (has_mask) {
        if (!descriptor_ok(mask, 2, 3, false)) return "mask";
        int first = mask->t.ndim - 2;
        if (!within_pixel_limit(mask->shape[first], mask->shape[first + 1])) return "mask";
        int64_t mb = mask->t.ndim == 3 ? mask->shape[0] : 1;
        if (mb != 1 && mb != img->shape[0]) return "mask";
    }
    int64_t bytes;
    if (__builtin_mul_overflow(img->shape[1], img->shape[2], &bytes) ||
        __builtin_mul_overflow(bytes, img->shape[0], &bytes) ||
        __builtin_mul_overflow(bytes, (int64_t)16, &bytes))
        return "image";
    if (img->t.device.device_type != kDLCPU) return "image";
    if (has_mask && mask->t.device.device_type != kDLCPU) return "mask";
    *ok = true;
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_bytes r = fuzz_bytes_of(data, size);
    uint8_t variant = fuzz_u8(&r);
    tensor_case img, mask;
    read_tensor(&r, &img, 4);
    bool has_mask = fuzz_u8(&r) >= 160;
    read_tensor(&r, &mask, 3);
    uint8_t bs = fuzz_u8(&r);
    int64_t batch_size = bs < 224 ? 1 + bs % 8 : fuzz_size(&r);
    uint8_t abort_sel = fuzz_u8(&r);
    uint8_t fill_mode = fuzz_u8(&r) % 3;
    const uint8_t *fill = r.next;
    size_t fill_n = r.left;

    /* The input list: as a host sends it, or with one mistake. Mistakes
     * found while binding come before any tensor check. */
    cutout_input inputs[5] = {
        {.name = "image", .kind = CUTOUT_VALUE_TENSOR, .tensor = &img.t},
        {.name = "model", .kind = CUTOUT_VALUE_STRING, .s = "stub"},
        {.name = "batch_size", .kind = CUTOUT_VALUE_INT, .i = batch_size},
        {.name = "mask", .kind = CUTOUT_VALUE_TENSOR, .tensor = &mask.t},
    };
    size_t n = has_mask ? 4 : 3;
    cutout_status expect_status = CUTOUT_OK; /* when every tensor is valid */
    const char *bind_error = NULL;           /* the input a binding error names */
    bool batch_size_ok = batch_size >= 1 && batch_size <= 64;
    switch (variant < 196 ? 0 : variant % 10) {
    case 0: break;
    case 1: inputs[1].s = "broken"; expect_status = CUTOUT_ERR_MODEL_INVALID; break;
    case 2: inputs[1].s = "missing"; expect_status = CUTOUT_ERR_MODEL_NOT_FOUND; break;
    case 3: inputs[1].s = "../stub"; expect_status = CUTOUT_ERR_INVALID_INPUT; break;
    case 4: /* batch_size left out: its default, 1, applies */
        inputs[2] = inputs[3];
        n--;
        batch_size = 1;
        break;
    case 5:
        inputs[1].s = NULL;
        bind_error = "model";
        break;
    case 6:
        inputs[2].kind = CUTOUT_VALUE_FLOAT;
        bind_error = "batch_size";
        break;
    case 7:
        inputs[n++] = inputs[0];
        bind_error = batch_size_ok ? "image" : "batch_size";
        break;
    case 8:
        inputs[0].tensor = NULL;
        bind_error = "image";
        break;
    case 9:
        inputs[3].tensor = NULL;
        n = 4;
        bind_error = batch_size_ok ? "mask" : "batch_size";
        break;
    }

    bool valid;
    const char *bad = first_bad_input(&img, &mask, has_mask, batch_size, &valid);
    if (bind_error) {
        bad = bind_error;
        valid = false;
    }

    /* Valid: real buffers (skipped when too big for a quick run).
     * Invalid: a small buffer that must never be read past. */
    tensor_case *cases[2] = {&img, has_mask ? &mask : NULL};
    for (int i = 0; i < 2; i++) {
        tensor_case *c = cases[i];
        if (c == NULL || c->t.data == NULL) continue;
        if (valid && (c->buffer_bytes > BUFFER_CAP || c->elements > WORK_CAP)) {
            free(img.buffer);
            g_outcomes[OUT_SKIPPED]++;
            return 0;
        }
        if (!valid) c->buffer_bytes = SMALL_BUFFER;
        c->buffer = malloc(c->buffer_bytes ? c->buffer_bytes : 1);
        FUZZ_CHECK(c->buffer != NULL, "out of memory");
        if (valid)
            fill_buffer(c, fill, fill_n, fill_mode);
        else
            memset(c->buffer, 0x3f, c->buffer_bytes);
        c->t.data = c->buffer;
    }
    bool nonfinite = valid && (any_nonfinite(&img) || (has_mask && any_nonfinite(&mask)));
    uint8_t *copy[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++)
        if (cases[i] && cases[i]->buffer) {
            copy[i] = malloc(cases[i]->buffer_bytes);
            FUZZ_CHECK(copy[i] != NULL, "out of memory");
            memcpy(copy[i], cases[i]->buffer, cases[i]->buffer_bytes);
        }

    call_log log = {.abort_at = abort_sel < 192 ? 0 : abort_sel - 191, .progress_ok = true,
                    .total = img.shape[0]};
    cutout_run_params run = cutout_run_default_params();
    run.should_abort = on_abort;
    run.abort_user = &log;
    run.progress = on_progress;
    run.progress_user = &log;
    DLManagedTensor *out[2] = {(DLManagedTensor *)(uintptr_t)8, (DLManagedTensor *)(uintptr_t)8};
    cutout_status st = cutout_node_run(g_ctx, "CutoutRemoveBackground", inputs, n, &run, out, 2);
    const char *msg = cutout_last_error();

    if (st == CUTOUT_OK) {
        FUZZ_CHECK(valid && expect_status == CUTOUT_OK && !nonfinite && !log.aborted,
                   "succeeded, but the harness expected a failure (%s)",
                   bad ? bad : "NaN/Inf, abort or model");
        FUZZ_CHECK(out[0] != NULL && out[1] != NULL, "success without outputs");
        FUZZ_CHECK(log.progress_ok && log.progress_calls == img.shape[0], "progress calls");
        check_outputs(out, &img);
        g_outcomes[OUT_OK]++;
        out[0]->deleter(out[0]);
        out[1]->deleter(out[1]);
    } else {
        FUZZ_CHECK(out[0] == NULL && out[1] == NULL, "failed (%s) but left outputs",
                   cutout_status_string(st));
        FUZZ_CHECK(msg[0] != '\0', "failed (%s) without a message", cutout_status_string(st));
        FUZZ_CHECK(st != CUTOUT_ERR_INTERNAL && st != CUTOUT_ERR_INVALID_ARGUMENT,
                   "unexpected %s: %s", cutout_status_string(st), msg);
        if (!valid) {
            size_t len = strlen(bad);
            FUZZ_CHECK(strncmp(msg, bad, len) == 0 && msg[len] == ':',
                       "expected a message naming %s, got %s: %s", bad,
                       cutout_status_string(st), msg);
            g_outcomes[OUT_REFUSED]++;
        } else if (st == CUTOUT_CANCELLED) {
            FUZZ_CHECK(log.aborted, "cancelled without an abort: %s", msg);
            g_outcomes[OUT_CANCELLED]++;
        } else if (nonfinite && strstr(msg, "finite") != NULL) {
            FUZZ_CHECK(st == CUTOUT_ERR_INVALID_INPUT, "NaN/Inf gave %s", cutout_status_string(st));
            g_outcomes[OUT_NONFINITE]++;
        } else {
            FUZZ_CHECK(st == expect_status && strncmp(msg, "model:", 6) == 0,
                       "valid inputs failed: %s: %s", cutout_status_string(st), msg);
            g_outcomes[OUT_MODEL]++;
        }
    }
    FUZZ_CHECK(stub_live_tensors() == 0, "%lld tensors left allocated",
               (long long)stub_live_tensors());
    for (int i = 0; i < 2; i++)
        if (copy[i]) {
            FUZZ_CHECK(memcmp(copy[i], cases[i]->buffer, cases[i]->buffer_bytes) == 0,
                       "the library wrote into the %s input", i ? "mask" : "image");
            free(copy[i]);
        }
    free(img.buffer);
    free(mask.buffer);
    return 0;
}

/* shim_cases_model.c - loading models (files good and bad, devices, precisions) and what the shim says about them. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cutout_shim.h"
#include "cpu_flags.h"
#include "cutout_shim_testing.h"
#include "png_read.h"
#include "shim_cases.h"
#include "shim_test_support.h"

/* ------------------------------------------------------------------------ */
/* Cases                                                                     */

int case_version(void) {
    char err[256];
    const char *v = cutout_shim_torch_version();
    int major = -1, minor = -1, patch = -1;
    CHECK(v != NULL && sscanf(v, "%d.%d.%d", &major, &minor, &patch) == 3,
          "torch version \"%s\" is not N.N.N", v ? v : "(null)");
    CHECK(major >= 1, "torch major version %d", major);
    printf("  libtorch %s\n", v);

    bool cuda = true;
    CHECK_STATUS(cutout_shim_cuda_available(&cuda, err, sizeof err), CUTOUT_SHIM_OK, err, NULL);
    printf("  cuda available: %s\n", cuda ? "yes" : "no");
    CHECK_STATUS(cutout_shim_cuda_available(NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err, "available");

    CHECK_STATUS(cutout_shim_set_num_threads(0, err, sizeof err), CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
                 err, "got 0");
    CHECK_STATUS(cutout_shim_set_num_threads(-3, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err, "got -3");
    CHECK_STATUS(cutout_shim_set_num_threads(2, err, sizeof err), CUTOUT_SHIM_OK, err, NULL);
    return 0;
}

int case_load(void) {
    char err[512];
    cutout_shim_model_info info;
    memset(&info, 0x5a, sizeof info);
    cutout_shim_model *model = (cutout_shim_model *)&info; /* must become the model */
    CHECK_STATUS(cutout_shim_model_load(model_path("tiny_valid.pt"), CPU, NULL, &model, &info, err,
                                        sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    CHECK(model != NULL && model != (cutout_shim_model *)&info, "no model");
    CHECK(strcmp(info.name, "tiny") == 0, "name \"%.64s\"", info.name);
    CHECK(strcmp(info.kind, "alpha") == 0, "kind \"%.32s\"", info.kind);
    CHECK(strcmp(info.license, "CC0-1.0") == 0, "license \"%.64s\"", info.license);
    CHECK(info.input_height == 64 && info.input_width == 64, "input %lldx%lld",
          (long long)info.input_height, (long long)info.input_width);
    CHECK(info.mean[0] == 0.485f && info.mean[1] == 0.456f && info.mean[2] == 0.406f,
          "mean %g %g %g", info.mean[0], info.mean[1], info.mean[2]);
    CHECK(info.std[0] == 0.229f && info.std[1] == 0.224f && info.std[2] == 0.225f,
          "std %g %g %g", info.std[0], info.std[1], info.std[2]);
    DLDevice d = cutout_shim_model_device(model);
    CHECK(d.device_type == kDLCPU && d.device_id == 0, "device %d:%d", (int)d.device_type,
          (int)d.device_id);
    cutout_shim_model_free(model);

    /* NULL info is allowed. */
    model = NULL;
    CHECK_STATUS(cutout_shim_model_load(model_path("tiny_valid.pt"), CPU, NULL, &model, NULL, err,
                                        sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    CHECK(model != NULL, "no model");
    cutout_shim_model_free(model);
    cutout_shim_model_free(NULL);
    d = cutout_shim_model_device(NULL);
    CHECK(d.device_type == kDLCPU, "NULL model device");

    /* API misuse. */
    model = (cutout_shim_model *)&info;
    CHECK_STATUS(cutout_shim_model_load(model_path("tiny_valid.pt"), (DLDevice){kDLOpenCL, 0},
                                        NULL, &model, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_DEVICE, err, "device");
    CHECK(model == NULL, "output not NULL after a failure");
    const cutout_shim_load_params short_params = {sizeof(size_t), "fp32", false, false};
    CHECK_STATUS(cutout_shim_model_load(model_path("tiny_valid.pt"), CPU, &short_params, &model,
                                        NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err, "struct_size too small");
    CHECK_STATUS(cutout_shim_model_load(NULL, CPU, NULL, &model, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err, "path");
    CHECK_STATUS(cutout_shim_model_load(model_path("tiny_valid.pt"), CPU, NULL, NULL, NULL, err,
                                        sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err, "out");
    return 0;
}

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "%s: cannot write\n", path);
        exit(1);
    }
}

static void *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *data = xcalloc((size_t)size);
    if (fread(data, 1, (size_t)size, f) != (size_t)size) exit(1);
    fclose(f);
    *n = (size_t)size;
    return data;
}

/* Loading `path` fails with `expected`, leaves the output NULL, and the
 * message names the path and contains `needle`. */
static void expect_load_failure(const char *path, cutout_shim_status expected,
                                const char *needle) {
    char err[1024];
    cutout_shim_model *model = (cutout_shim_model *)err;
    cutout_shim_status s = cutout_shim_model_load(path, CPU, NULL, &model, NULL, err, sizeof err);
    CHECK_STATUS(s, expected, err, needle);
    CHECK(strstr(err, path) != NULL, "message \"%s\" does not name the path %s", err, path);
    CHECK(model == NULL, "output not NULL after a failure for %s", path);
    if (s == CUTOUT_SHIM_OK) cutout_shim_model_free(model);
}

int case_bad_files(void) {
    /* Files that are not TorchScript, made here. */
    char missing[4096], empty[4096], random_bytes[4096], truncated[4096];
    snprintf(missing, sizeof missing, "%s/no_such_model.pt", g_models_dir);
    snprintf(empty, sizeof empty, "%s/empty.pt", g_models_dir);
    snprintf(random_bytes, sizeof random_bytes, "%s/random_bytes.pt", g_models_dir);
    snprintf(truncated, sizeof truncated, "%s/truncated.pt", g_models_dir);
    remove(missing);
    write_file(empty, "", 0);
    uint8_t noise[4096];
    for (size_t i = 0; i < sizeof noise; ++i) noise[i] = (uint8_t)next_random();
    write_file(random_bytes, noise, sizeof noise);
    size_t n = 0;
    void *valid = read_file(model_path("tiny_valid.pt"), &n);
    write_file(truncated, valid, n / 2);
    free(valid);

    expect_load_failure(missing, CUTOUT_SHIM_ERR_MODEL_NOT_FOUND, "no such file");
    expect_load_failure(g_models_dir, CUTOUT_SHIM_ERR_MODEL_INVALID, "not a regular file");
    expect_load_failure(empty, CUTOUT_SHIM_ERR_MODEL_INVALID, "empty file");
    expect_load_failure(random_bytes, CUTOUT_SHIM_ERR_MODEL_INVALID, "not a loadable TorchScript");
    expect_load_failure(truncated, CUTOUT_SHIM_ERR_MODEL_INVALID, "not a loadable TorchScript");
    expect_load_failure(model_path("zip_not_a_model.pt"), CUTOUT_SHIM_ERR_MODEL_INVALID,
                        "not a loadable TorchScript");
    /* An op this libtorch lacks (a file from a newer torch): one line naming
     * the op, with the likely cause and the cure. */
    expect_load_failure(model_path("tiny_newer_torch.pt"), CUTOUT_SHIM_ERR_MODEL_INVALID,
                        "Unknown builtin op: aten::_sigmoid_of_a_newer_torch");
    expect_load_failure(model_path("tiny_newer_torch.pt"), CUTOUT_SHIM_ERR_MODEL_INVALID,
                        "saved by a newer torch than this libtorch");
    expect_load_failure(model_path("tiny_no_meta.pt"), CUTOUT_SHIM_ERR_MODEL_INVALID,
                        "no metadata (expected an extra file cutout_meta.json");
    expect_load_failure(model_path("tiny_meta_not_json.pt"), CUTOUT_SHIM_ERR_MODEL_INVALID,
                        "is not a JSON object");
    expect_load_failure(model_path("tiny_meta_format_2.pt"), CUTOUT_SHIM_ERR_MODEL_INVALID,
                        "\"format\" (expected 1, got 2");
    expect_load_failure(model_path("tiny_meta_kind_depth.pt"), CUTOUT_SHIM_ERR_MODEL_INVALID,
                        "\"kind\" (expected \"alpha\", got \"depth\")");
    expect_load_failure(model_path("tiny_meta_no_name.pt"), CUTOUT_SHIM_ERR_MODEL_INVALID,
                        "has no \"name\"");
    expect_load_failure(model_path("tiny_meta_size_0.pt"), CUTOUT_SHIM_ERR_MODEL_INVALID,
                        "\"input_height\" out of range (expected an integer 1..8192, got 0)");
    expect_load_failure(model_path("tiny_meta_size_9000.pt"), CUTOUT_SHIM_ERR_MODEL_INVALID,
                        "\"input_width\" out of range (expected an integer 1..8192, got 9000)");
    expect_load_failure(model_path("tiny_meta_size_fraction.pt"), CUTOUT_SHIM_ERR_MODEL_INVALID,
                        "got 63.5)");
    expect_load_failure(model_path("tiny_meta_std_0.pt"), CUTOUT_SHIM_ERR_MODEL_INVALID,
                        "\"std\"[1] is out of range (expected a finite number > 0, got 0)");
    expect_load_failure(model_path("tiny_meta_mean_2.pt"), CUTOUT_SHIM_ERR_MODEL_INVALID,
                        "\"mean\" is not an array of 3 numbers (got 2 elements)");
    remove(empty);
    remove(random_bytes);
    remove(truncated);
    return 0;
}

int case_device(void) {
    char err[512];
    bool cuda = false;
    CHECK_STATUS(cutout_shim_cuda_available(&cuda, err, sizeof err), CUTOUT_SHIM_OK, err, NULL);
    cutout_shim_model *model = NULL;
    if (!cuda) {
        CHECK_STATUS(cutout_shim_model_load(model_path("tiny_valid.pt"), (DLDevice){kDLCUDA, 0}, NULL, &model, NULL, err,
                                            sizeof err),
                     CUTOUT_SHIM_ERR_DEVICE, err, "CUDA is not available");
        CHECK(model == NULL, "output not NULL after a failure");
        CHECK_STATUS(cutout_shim_model_load(model_path("tiny_valid.pt"), (DLDevice){kDLCUDA, 1}, NULL, &model, NULL,
                                            err, sizeof err),
                     CUTOUT_SHIM_ERR_DEVICE, err, "got cuda:1");
    }
    CHECK_STATUS(cutout_shim_model_load(model_path("tiny_valid.pt"), (DLDevice){kDLCUDA, 99}, NULL, &model, NULL, err,
                                        sizeof err),
                 CUTOUT_SHIM_ERR_DEVICE, err, "cuda:99");

    /* Tensors on a device the model or image is not on. Their data is never
     * touched, so a dummy pointer is enough. */
    model = load_model("tiny_valid.pt");
    int64_t ishape[4] = {1, 8, 8, 3}, ashape[3] = {1, 8, 8}, oshape[4] = {1, 8, 8, 4};
    test_tensor image = tt_compact(F32, 4, ishape);
    test_tensor alpha = tt_compact(F32, 3, ashape);
    test_tensor out = tt_compact(F32, 4, oshape);
    test_tensor guide = tt_compact(F32, 3, ashape);
    DLTensor cuda_image = image.t;
    cuda_image.device.device_type = kDLCUDA;
    cuda_image.device.device_id = 0;
    CHECK_STATUS(cutout_shim_predict_alpha(model, &cuda_image, 0, 1, NULL, &alpha.t, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_ERR_DEVICE, err, "image: on cuda:0 but the model runs on cpu");
    DLTensor cuda_alpha = alpha.t;
    cuda_alpha.device.device_type = kDLCUDA;
    CHECK_STATUS(cutout_shim_predict_alpha(model, &image.t, 0, 1, NULL, &cuda_alpha, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_ERR_DEVICE, err, "alpha_out: on cuda:0 but the image is on cpu");
    CHECK_STATUS(cutout_shim_finish_items(&image.t, NULL, 0, 1, NULL, &cuda_alpha, &out.t, NULL, NULL, err,
                                          sizeof err),
                 CUTOUT_SHIM_ERR_DEVICE, err, "alpha_out: on cuda:0 but the image is on cpu");
    DLTensor cuda_guide = guide.t;
    cuda_guide.device.device_type = kDLCUDA;
    CHECK_STATUS(cutout_shim_finish_items(&image.t, &cuda_guide, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err,
                                          sizeof err),
                 CUTOUT_SHIM_ERR_DEVICE, err, "guide: on cuda:0 but the image is on cpu");
    DLTensor opencl = image.t;
    opencl.device.device_type = kDLOpenCL;
    CHECK_STATUS(cutout_shim_predict_alpha(model, &opencl, 0, 1, NULL, &alpha.t, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_ERR_DEVICE, err, "image: unsupported DLPack device");
    if (!cuda) {
        int64_t n = -1, first_bad = 0;
        CHECK_STATUS(cutout_shim_find_nonfinite(&cuda_image, &n, &first_bad, err, sizeof err),
                     CUTOUT_SHIM_ERR_DEVICE, err, "CUDA is not available");
        DLDevice dev = {kDLCUDA, 0};
        DLManagedTensor *m = (DLManagedTensor *)err;
        int64_t shape[1] = {4};
        CHECK_STATUS(cutout_shim_alloc_float32(dev, 1, shape, &m, err, sizeof err),
                     CUTOUT_SHIM_ERR_DEVICE, err, "CUDA is not available");
        CHECK(m == NULL, "output not NULL after a failure");
    }
    tt_free(&image);
    tt_free(&alpha);
    tt_free(&out);
    tt_free(&guide);
    cutout_shim_model_free(model);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Precision: resolution, refusal, and bf16 staying close to fp32. */

/* Whether oneDNN's ISA cap, when set, is one of the n `below` ISAs. */
static bool cap_is_one_of(const char *const *below, size_t n) {
    const char *cap = getenv("ONEDNN_MAX_CPU_ISA");
    if (cap == NULL || *cap == '\0') cap = getenv("DNNL_MAX_CPU_ISA");
    for (size_t i = 0; cap != NULL && i < n; ++i)
        if (strcasecmp(cap, below[i]) == 0) return true;
    return false;
}

static const char *const kBelowBf16[] = {"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2",
                                         "AVX512_CORE", "AVX512_CORE_VNNI"};

/* Whether the shim must run bf16 here: the CPU has it (AMX-BF16 or
 * AVX512-BF16) and oneDNN's ISA cap, when set, is not below
 * AVX512_CORE_BF16 (the shim then refuses bf16, as on an AVX2 CPU). */
static bool expect_native_bf16(void) {
    return (cpuinfo_has(" amx_bf16") || cpuinfo_has(" avx512_bf16")) &&
           !cap_is_one_of(kBelowBf16, sizeof kBelowBf16 / sizeof kBelowBf16[0]);
}

int case_precision(void) {
    char err[512];
    cutout_shim_model_info info;
    cutout_shim_model *model = NULL;
    const char *path = model_path("tiny_valid.pt");

    CHECK_STATUS(cutout_shim_model_load(path, CPU, PRECISION(NULL), &model, &info, err, sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    CHECK(strcmp(info.precision, "fp32") == 0, "NULL precision: got %s", info.precision);
    cutout_shim_model_free(model);

    const bool native = expect_native_bf16();
    if (native) {
        CHECK_STATUS(cutout_shim_model_load(path, CPU, PRECISION("bf16"), &model, &info, err,
                                                      sizeof err),
                     CUTOUT_SHIM_OK, err, NULL);
        CHECK(strcmp(info.precision, "bf16") == 0, "bf16: got %s", info.precision);
        cutout_shim_model_free(model);
    } else {
        model = NULL;
        CHECK_STATUS(cutout_shim_model_load(path, CPU, PRECISION("bf16"), &model, &info, err,
                                                      sizeof err),
                     CUTOUT_SHIM_ERR_DEVICE, err,
                     "precision: bf16 needs a CPU with AVX512-BF16 or AMX-BF16");
        CHECK(model == NULL, "bf16 refused but a model came back");
    }

    CHECK_STATUS(cutout_shim_model_load(path, CPU, PRECISION("auto"), &model, &info, err, sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    cutout_shim_model_free(model);
    if (!native) {
        CHECK(strcmp(info.precision, "fp32") == 0, "auto without native bf16: got %s",
              info.precision);
        CHECK(strstr(info.precision_reason, "no native bf16") != NULL ||
                  strstr(info.precision_reason, "ISA cap") != NULL,
              "auto without native bf16: reason '%s'", info.precision_reason);
    } else {
        /* Measured: the choice must follow the ratio the reason reports. */
        const char *measured = strstr(info.precision_reason, "bf16 measured ");
        double ratio = measured != NULL ? atof(measured + strlen("bf16 measured ")) : -1.0;
        const char *expected = ratio >= 1.1 || (ratio > 1.0 / 1.1 && ratio < 1.1) ? "bf16" : "fp32";
        if (strstr(info.precision_reason, "noisy") != NULL) expected = "bf16";
        CHECK(measured != NULL, "auto with native bf16: no measurement in '%s'",
              info.precision_reason);
        CHECK(strcmp(info.precision, expected) == 0, "auto: chose %s after '%s'", info.precision,
              info.precision_reason);
        printf("auto on this cpu: %s (%s)\n", info.precision, info.precision_reason);
    }
    /* A second load in this process reuses the first one's decision. */
    cutout_shim_model_info again;
    CHECK_STATUS(cutout_shim_model_load(path, CPU, PRECISION("auto"), &model, &again, err, sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    cutout_shim_model_free(model);
    CHECK(strcmp(again.precision, info.precision) == 0 &&
              strcmp(again.precision_reason, info.precision_reason) == 0,
          "auto twice: %s (%s), then %s (%s)", info.precision, info.precision_reason,
          again.precision, again.precision_reason);

    model = NULL;
    CHECK_STATUS(cutout_shim_model_load(path, CPU, PRECISION("fp16"), &model, &info, err, sizeof err),
                 CUTOUT_SHIM_ERR_DEVICE, err, "precision: fp16 is not supported on cpu");
    CHECK(model == NULL, "fp16 refused but a model came back");
    CHECK_STATUS(cutout_shim_model_load(path, CPU, PRECISION("int8"), &model, &info, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err,
                 "precision: expected auto, fp32, bf16 or fp16, got 'int8'");
    CHECK(model == NULL, "int8 refused but a model came back");
    return 0;
}

/* The rule "auto" applies to its timings, on made-up timings: a clear
 * winner either way, a tie and a noisy machine (the class rule), none. */
int case_precision_rule(void) {
    struct {
        double fp32[5], bf16[5];
        size_t n;
        bool class_bf16;
        const char *precision, *reason;
    } cases[] = {
        {{10, 10.2, 10.1, 10, 10.3}, {5, 5.1, 5, 5.2, 5}, 5, false, "bf16", "measured 2.00x"},
        {{5, 5.1, 5, 5.2, 5}, {10, 10.2, 10.1, 10, 10.3}, 5, true, "fp32", "measured 0.50x"},
        {{10, 10, 10, 10, 10}, {9.5, 9.6, 9.5, 9.5, 9.5}, 5, true, "bf16", "within 10%"},
        {{10, 10, 10, 10, 10}, {9.5, 9.6, 9.5, 9.5, 9.5}, 5, false, "fp32", "within 10%"},
        {{10, 30, 30, 30, 30}, {5, 5, 5, 5, 5}, 5, false, "fp32", "noisy"},
        {{10, 10, 10, 10, 10}, {5, 5, 5, 5, 5}, 0, true, "bf16", "no timing"},
        {{0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}, 5, false, "fp32", "no usable timing"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        char precision[8], reason[256];
        cutout_shim_precision_from_timings(cases[i].fp32, cases[i].bf16, cases[i].n,
                                           cases[i].class_bf16, precision, sizeof precision,
                                           reason, sizeof reason);
        CHECK(strcmp(precision, cases[i].precision) == 0 && strstr(reason, cases[i].reason) != NULL,
              "timings %zu: expected %s ('%s'), got %s ('%s')", i, cases[i].precision,
              cases[i].reason, precision, reason);
    }
    return 0;
}

/* The photo through the tiny model in bf16: close to fp32 (mean and max
 * difference) and to the Python float32 reference, yet not bit-identical
 * (so the forward pass really ran in bf16). */
int case_bf16_close(void) {
    char err[512];
    if (!expect_native_bf16()) {
        printf("skipped: no native bf16 here (case precision checks that bf16 is refused)\n");
        return 77;
    }
    photo p = load_photo();
    cutout_shim_model *m32 = NULL, *m16 = NULL;
    const char *path = model_path("tiny_valid.pt");
    CHECK_STATUS(cutout_shim_model_load(path, CPU, PRECISION("fp32"), &m32, NULL, err, sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    CHECK_STATUS(cutout_shim_model_load(path, CPU, PRECISION("bf16"), &m16, NULL, err, sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    test_tensor image = photo_batch_u8(&p, 1);
    int64_t ashape[3] = {1, p.height, p.width};
    test_tensor a32 = tt_compact(F32, 3, ashape), a16 = tt_compact(F32, 3, ashape);
    fill_f32(&a32, SENTINEL);
    fill_f32(&a16, SENTINEL);
    /* Twice each: the second call runs on reused (cached) buffers. */
    for (int round = 0; round < 2; ++round) {
        CHECK_STATUS(cutout_shim_predict_alpha(m32, &image.t, 0, 1, NULL, &a32.t, NULL, NULL, err, sizeof err),
                     CUTOUT_SHIM_OK, err, NULL);
        CHECK_STATUS(cutout_shim_predict_alpha(m16, &image.t, 0, 1, NULL, &a16.t, NULL, NULL, err, sizeof err),
                     CUTOUT_SHIM_OK, err, NULL);
    }
    double sum = 0, worst = 0;
    int64_t n = p.height * p.width;
    for (int64_t y = 0; y < p.height; ++y)
        for (int64_t x = 0; x < p.width; ++x) {
            double d = fabs((double)*f32_at3(&a16, 0, y, x) - *f32_at3(&a32, 0, y, x));
            sum += d;
            if (!(d <= worst)) worst = d;
        }
    double to_reference = max_diff(&a16, 0, p.expected_alpha);
    fprintf(stderr, "  bf16 vs fp32: mean %.3g, max %.3g; bf16 vs reference max %.3g\n",
            sum / (double)n, worst, to_reference);
    CHECK(sum / (double)n <= 2e-3, "bf16 mean difference from fp32 %g > 2e-3", sum / (double)n);
    CHECK(worst <= 2e-2, "bf16 max difference from fp32 %g > 2e-2", worst);
    CHECK(to_reference <= 2e-2, "bf16 max difference from the reference %g > 2e-2", to_reference);
    CHECK(worst > 0, "bf16 result is identical to fp32: the forward pass did not run in bf16");
    tt_free(&image);
    tt_free(&a32);
    tt_free(&a16);
    cutout_shim_model_free(m32);
    cutout_shim_model_free(m16);
    free_photo(&p);
    return 0;
}

// model.cpp - loading a TorchScript model and its cutout_meta.json metadata.
//
// Metadata format (the extra file "cutout_meta.json" in the archive):
//   {
//     "format": 1,                     required, must be 1
//     "name": "isnet",                 required, 1..63 bytes
//     "kind": "alpha",                 required, only "alpha"
//     "license": "MIT",                required, 1..63 bytes (SPDX id)
//     "input_height": 1024,            required, integer 1..8192
//     "input_width": 1024,             required, integer 1..8192
//     "mean": [0.5, 0.5, 0.5],         required, 3 finite numbers
//     "std": [1.0, 1.0, 1.0]           required, 3 finite numbers > 0
//   }
// Other keys are ignored.
#include "model.hpp"

#include <cjson/cJSON.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <sys/stat.h>

#include "guard.hpp"
#include "tensor_bridge.hpp"

namespace cutout_shim {
namespace {

const char *const kMetaFile = "cutout_meta.json";
const int64_t kMaxInputSide = 8192;

std::string in_quotes(const std::string &s) { return "'" + s + "'"; }

std::string number_text(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

// Throws MODEL_NOT_FOUND / MODEL_INVALID unless `path` is a readable file.
void require_readable_file(const std::string &path) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR)
            fail(CUTOUT_SHIM_ERR_MODEL_NOT_FOUND,
                 "model " + in_quotes(path) + ": no such file (expected a TorchScript .pt file)");
        fail(CUTOUT_SHIM_ERR_MODEL_INVALID,
             "model " + in_quotes(path) + ": cannot be read (" + std::strerror(e) + ")");
    }
    if (!S_ISREG(st.st_mode))
        fail(CUTOUT_SHIM_ERR_MODEL_INVALID,
             "model " + in_quotes(path) + ": not a regular file (expected a TorchScript .pt file)");
    std::FILE *f = std::fopen(path.c_str(), "rb");
    if (f == nullptr)
        fail(CUTOUT_SHIM_ERR_MODEL_INVALID,
             "model " + in_quotes(path) + ": cannot be read (" + std::strerror(errno) + ")");
    std::fclose(f);
    if (st.st_size == 0)
        fail(CUTOUT_SHIM_ERR_MODEL_INVALID,
             "model " + in_quotes(path) + ": empty file (expected a TorchScript .pt file, got 0 bytes)");
}

// Parses "cpu", "cuda", "cuda:N"; "cuda" means cuda:0.
c10::Device parse_device(const char *text) {
    std::string s = text != nullptr ? text : "cpu";
    bool ok = s == "cpu" || s == "cuda" || s.rfind("cuda:", 0) == 0;
    c10::Device device(c10::DeviceType::CPU);
    if (ok) {
        try {
            device = c10::Device(s);
        } catch (const c10::Error &) {
            ok = false;
        }
    }
    if (!ok)
        fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
             "device: unknown device (expected cpu, cuda or cuda:N, got " + in_quotes(s) + ")");
    if (device.is_cuda() && !device.has_index()) device = c10::Device(c10::DeviceType::CUDA, 0);
    return device;
}

class metadata_reader {
public:
    metadata_reader(const std::string &path, const std::string &json) : path_(path) {
        root_ = cJSON_ParseWithLength(json.data(), json.size());
        if (root_ == nullptr || !cJSON_IsObject(root_))
            bad("is not a JSON object");
    }
    ~metadata_reader() { cJSON_Delete(root_); }
    metadata_reader(const metadata_reader &) = delete;
    metadata_reader &operator=(const metadata_reader &) = delete;

    [[noreturn]] void bad(const std::string &what) const {
        fail(CUTOUT_SHIM_ERR_MODEL_INVALID,
             "model " + in_quotes(path_) + ": metadata " + kMetaFile + " " + what);
    }

    const cJSON *field(const char *key) const {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(root_, key);
        if (item == nullptr) bad("has no \"" + std::string(key) + "\"");
        return item;
    }

    double number(const char *key) const {
        const cJSON *item = field(key);
        if (!cJSON_IsNumber(item))
            bad("\"" + std::string(key) + "\" is not a number");
        return item->valuedouble;
    }

    int64_t integer(const char *key, int64_t lo, int64_t hi) const {
        double v = number(key);
        if (!(v >= static_cast<double>(lo) && v <= static_cast<double>(hi)) || v != std::floor(v))
            bad("\"" + std::string(key) + "\" out of range (expected an integer " +
                std::to_string(lo) + ".." + std::to_string(hi) + ", got " + number_text(v) + ")");
        return static_cast<int64_t>(v);
    }

    void string(const char *key, char *dst, size_t cap) const {
        const cJSON *item = field(key);
        if (!cJSON_IsString(item) || item->valuestring == nullptr)
            bad("\"" + std::string(key) + "\" is not a string");
        size_t n = std::strlen(item->valuestring);
        if (n == 0 || n >= cap)
            bad("\"" + std::string(key) + "\" has a bad length (expected 1.." +
                std::to_string(cap - 1) + " bytes, got " + std::to_string(n) + ")");
        std::memcpy(dst, item->valuestring, n + 1);
    }

    void triple(const char *key, float *dst, bool positive) const {
        const cJSON *item = field(key);
        int n = cJSON_IsArray(item) ? cJSON_GetArraySize(item) : -1;
        if (n != 3)
            bad("\"" + std::string(key) + "\" is not an array of 3 numbers (got " +
                (n < 0 ? std::string("no array") : std::to_string(n) + " elements") + ")");
        for (int i = 0; i < 3; ++i) {
            const cJSON *v = cJSON_GetArrayItem(item, i);
            double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
            if (!std::isfinite(d) || std::fabs(d) > 1e6 || (positive && !(d > 0)))
                bad("\"" + std::string(key) + "\"[" + std::to_string(i) + "] is out of range (expected " +
                    (positive ? "a finite number > 0" : "a finite number") + ", got " +
                    (cJSON_IsNumber(v) ? number_text(d) : std::string("no number")) + ")");
            dst[i] = static_cast<float>(d);
        }
    }

private:
    std::string path_;
    cJSON *root_ = nullptr;
};

cutout_shim_model_info parse_metadata(const std::string &path, const std::string &json) {
    if (json.empty())
        fail(CUTOUT_SHIM_ERR_MODEL_INVALID,
             "model " + in_quotes(path) + ": no metadata (expected an extra file " + kMetaFile +
                 " in the TorchScript archive)");
    metadata_reader meta(path, json);
    cutout_shim_model_info info{};
    double format = meta.number("format");
    if (format != 1)
        meta.bad("has an unsupported \"format\" (expected 1, got " + number_text(format) + ")");
    meta.string("name", info.name, sizeof info.name);
    meta.string("kind", info.kind, sizeof info.kind);
    if (std::strcmp(info.kind, "alpha") != 0)
        meta.bad("has an unsupported \"kind\" (expected \"alpha\", got \"" + std::string(info.kind) +
                 "\")");
    meta.string("license", info.license, sizeof info.license);
    info.input_height = meta.integer("input_height", 1, kMaxInputSide);
    info.input_width = meta.integer("input_width", 1, kMaxInputSide);
    meta.triple("mean", info.mean, false);
    meta.triple("std", info.std, true);
    return info;
}

// The dtype of the first floating-point parameter or buffer; float32 when
// the model has none.
at::ScalarType weights_dtype(const torch::jit::Module &module) {
    for (const at::Tensor &p : module.parameters())
        if (at::isFloatingType(p.scalar_type())) return p.scalar_type();
    for (const at::Tensor &b : module.buffers())
        if (at::isFloatingType(b.scalar_type())) return b.scalar_type();
    return at::kFloat;
}

// Freezing inlines the weights and attributes into the graph as constants;
// on the CPU, optimize_for_inference then rewrites the frozen graph (fused
// and pre-packed convolutions). Measured on ISNet 1024 x 1024 with 2
// threads: forward 1.85 s (eval only) -> 1.85 s (frozen) -> 1.62 s (frozen
// and optimised), identical outputs, about 0.35 s more at load. Both are
// optimisations only: a model they cannot handle keeps running as loaded.
void prepare_for_inference(cutout_shim_model &model) {
    try {
        model.module = torch::jit::freeze(model.module);
    } catch (const std::bad_alloc &) {
        throw;
    } catch (const std::exception &) {
        return;
    }
    if (!model.device.is_cpu()) return;
    try {
        // On a copy: the pass rewrites graphs in place and may stop half-way.
        torch::jit::Module copy = model.module.clone();
        model.module = torch::jit::optimize_for_inference(copy);
    } catch (const std::bad_alloc &) {
        throw;
    } catch (const std::exception &) {
    }
}

// "auto" resolves to what the device computes best; fp32 is the only
// precision this build prepares so far, the others are refused clearly.
std::string resolve_precision(const char *precision, const c10::Device &dev) {
    std::string p = precision == nullptr ? "fp32" : precision;
    if (p != "auto" && p != "fp32" && p != "bf16" && p != "fp16")
        fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
             "precision: expected auto, fp32, bf16 or fp16, got " + in_quotes(p));
    if (p == "auto") return "fp32";
    if (p != "fp32")
        fail(CUTOUT_SHIM_ERR_DEVICE, "precision: " + p + " is not supported on " +
                                         device_string(dev) + " by this build (expected fp32)");
    return p;
}

}  // namespace
}  // namespace cutout_shim

using namespace cutout_shim;

extern "C" cutout_shim_status cutout_shim_model_load(const char *path, const char *device,
                                                     cutout_shim_model **out,
                                                     cutout_shim_model_info *info, char *err,
                                                     size_t err_cap) {
    return cutout_shim_model_load_precision(path, device, "fp32", out, info, err, err_cap);
}

extern "C" cutout_shim_status cutout_shim_model_load_precision(const char *path,
                                                               const char *device,
                                                               const char *precision,
                                                               cutout_shim_model **out,
                                                               cutout_shim_model_info *info,
                                                               char *err, size_t err_cap) {
    if (out != nullptr) *out = nullptr;
    return guarded("model_load", err, err_cap, [&]() -> cutout_shim_status {
        if (out == nullptr) fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT, "out: is NULL");
        if (path == nullptr || *path == '\0')
            fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT, "path: is NULL or empty");
        c10::Device dev = parse_device(device);
        require_device_available(dev, "device");
        const std::string chosen = resolve_precision(precision, dev);
        std::string file(path);
        require_readable_file(file);

        auto model = std::make_unique<cutout_shim_model>();
        model->path = file;
        model->device = dev;
        torch::jit::ExtraFilesMap extra{{kMetaFile, ""}};
        model->module = translate_errors(
            CUTOUT_SHIM_ERR_MODEL_INVALID,
            "model " + in_quotes(file) + ": not a loadable TorchScript file: ",
            [&] { return torch::jit::load(file, dev, extra); });
        model->info = parse_metadata(file, extra[kMetaFile]);
        if (!model->module.find_method("forward"))
            fail(CUTOUT_SHIM_ERR_MODEL_INVALID,
                 "model " + in_quotes(file) + ": has no forward method");

        model->module.eval();
        model->input_dtype = weights_dtype(model->module);
        prepare_for_inference(*model);
        std::snprintf(model->info.precision, sizeof model->info.precision, "%s", chosen.c_str());

        at::TensorOptions f32 = at::TensorOptions().dtype(at::kFloat).device(dev);
        model->mean = at::tensor(at::ArrayRef<float>(model->info.mean, 3), f32).view({1, 3, 1, 1});
        model->std = at::tensor(at::ArrayRef<float>(model->info.std, 3), f32).view({1, 3, 1, 1});
        if (info != nullptr) *info = model->info;
        *out = model.release();
        return CUTOUT_SHIM_OK;
    });
}

extern "C" void cutout_shim_model_free(cutout_shim_model *model) {
    guarded_value(0, [&] {
        delete model;
        return 0;
    });
}

extern "C" DLDevice cutout_shim_model_device(const cutout_shim_model *model) {
    DLDevice cpu;
    cpu.device_type = kDLCPU;
    cpu.device_id = 0;
    if (model == nullptr) return cpu;
    return guarded_value(cpu, [&] { return device_to_dl(model->device); });
}

// model_metadata.cpp - a model file's cutout_meta.json metadata, and the
// checks of the file before torch reads it.
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
//     "std": [1.0, 1.0, 1.0],          required, 3 finite numbers > 0
//     "fit": "letterbox"               optional, "stretch", "balanced" or
//                                      "letterbox": the fit the model was
//                                      trained with
//   }
// Other keys are ignored.
#include "model_metadata.hpp"

#include <cjson/cJSON.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <string>
#include <sys/stat.h>

#include "guard.hpp"

namespace cutout_shim {

const char *const kMetaFile = "cutout_meta.json";

std::string in_quotes(const std::string &text) { return "'" + text + "'"; }

namespace {

const int64_t kMaxInputSide = 8192;

std::string number_text(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
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

    // An optional string that must be one of `choices`; dst stays "" when
    // the key is absent.
    void optional_choice(const char *key, std::initializer_list<const char *> choices, char *dst,
                         size_t cap) const {
        if (cJSON_GetObjectItemCaseSensitive(root_, key) == nullptr) return;
        string(key, dst, cap);
        std::string expected;
        for (const char *c : choices) {
            if (std::strcmp(dst, c) == 0) return;
            expected += (expected.empty() ? "\"" : " or \"") + std::string(c) + "\"";
        }
        bad("has an unsupported \"" + std::string(key) + "\" (expected " + expected + ", got \"" +
            std::string(dst) + "\")");
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

}  // namespace

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
    meta.optional_choice("fit", {"stretch", "balanced", "letterbox"}, info.fit, sizeof info.fit);
    return info;
}

}  // namespace cutout_shim

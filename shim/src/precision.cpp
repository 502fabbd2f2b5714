// precision.cpp - see precision.hpp.
#include "precision.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "cutout_shim_testing.h"
#include "guard.hpp"

namespace cutout_shim {
namespace {

// oneDNN's ISA cap (ONEDNN_MAX_CPU_ISA, or DNNL_MAX_CPU_ISA as oneDNN 2
// reads it) in upper case; "" when none is set.
std::string isa_cap() {
    const char *cap = std::getenv("ONEDNN_MAX_CPU_ISA");
    if (cap == nullptr || *cap == '\0') cap = std::getenv("DNNL_MAX_CPU_ISA");
    std::string isa(cap != nullptr ? cap : "");
    for (char &c : isa) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return isa;
}

// Whether the cap is unset or one of `allowed`. oneDNN runs nothing above
// the cap, so a kernel family it excludes must not be counted on here.
bool isa_cap_is_unset_or(std::initializer_list<const char *> allowed) {
    const std::string cap = isa_cap();
    if (cap.empty() || cap == "ALL" || cap == "DEFAULT") return true;
    for (const char *ok : allowed)
        if (cap == ok) return true;
    return false;
}

std::string ratio_text(double r) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2fx", r);
    return buf;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The 3 x 3 convolution weight (out x in channels) that occurs most often
// in `module`, the larger one on a tie; an undefined tensor when there is
// none. Its shape stands for the model's typical layer.
at::Tensor typical_conv_weight(const torch::jit::Module &module) {
    std::map<std::pair<int64_t, int64_t>, std::pair<int, at::Tensor>> seen;
    for (const at::Tensor &p : module.parameters()) {
        if (p.dim() != 4 || p.size(2) != 3 || p.size(3) != 3 || p.scalar_type() != at::kFloat)
            continue;
        auto &entry = seen[{p.size(0), p.size(1)}];
        if (entry.first++ == 0) entry.second = p;
    }
    at::Tensor best;
    int best_count = 0;
    int64_t best_size = 0;
    for (const auto &kv : seen) {
        const int64_t size = kv.first.first * kv.first.second;
        if (kv.second.first > best_count || (kv.second.first == best_count && size > best_size)) {
            best = kv.second.second;
            best_count = kv.second.first;
            best_size = size;
        }
    }
    return best;
}

// The side of a square input that gives one fp32 call of the convolution
// about 4e8 floating-point operations (a few ms), a multiple of 8 in
// 16..128: long enough to time, short enough to repeat.
int64_t timing_side(const at::Tensor &weight) {
    const double macs_per_pixel = static_cast<double>(weight.size(0) * weight.size(1)) * 9.0;
    const double pixels = 2e8 / macs_per_pixel;
    int64_t side = static_cast<int64_t>(std::sqrt(pixels) / 8.0 + 0.5) * 8;
    return std::min<int64_t>(128, std::max<int64_t>(16, side));
}

struct conv_timing {
    std::vector<double> fp32_s, bf16_s;
    std::string what;
};

// Times `weight` as a stride-1, padding-1 convolution in fp32 and bf16,
// channels_last as the model runs, one call of each per round. Two calls
// of each first make oneDNN's primitives and weight layouts. Stops once at
// least 5 rounds were timed and neither side's fastest time improved by
// more than 1% in the last 3, after 30 rounds, or after 0.4 s.
conv_timing time_convolution(const at::Tensor &weight) {
    at::NoGradGuard no_grad;
    const int64_t side = timing_side(weight);
    const at::Tensor w32 = weight.detach().contiguous(at::MemoryFormat::ChannelsLast);
    const at::Tensor b32 = at::zeros({weight.size(0)}, weight.options());
    const at::Tensor x32 = at::rand({1, weight.size(1), side, side}, weight.options())
                               .contiguous(at::MemoryFormat::ChannelsLast);
    const at::Tensor w16 = w32.to(at::kBFloat16), b16 = b32.to(at::kBFloat16);
    const at::Tensor x16 = x32.to(at::kBFloat16);
    auto once = [&](const at::Tensor &x, const at::Tensor &w, const at::Tensor &b) {
        const auto t0 = std::chrono::steady_clock::now();
        at::Tensor y = at::conv2d(x, w, b, {1, 1}, {1, 1});
        (void)y.data_ptr();
        return seconds_since(t0);
    };
    for (int i = 0; i < 2; ++i) {
        once(x32, w32, b32);
        once(x16, w16, b16);
    }
    conv_timing t;
    t.what = std::to_string(weight.size(1)) + "->" + std::to_string(weight.size(0)) +
             " channels 3x3 at " + std::to_string(side) + "x" + std::to_string(side);
    const auto start = std::chrono::steady_clock::now();
    double best32 = 1e30, best16 = 1e30;
    int since_better = 0;
    for (int round = 0; round < 30; ++round) {
        t.fp32_s.push_back(once(x32, w32, b32));
        t.bf16_s.push_back(once(x16, w16, b16));
        const bool better = t.fp32_s.back() < best32 * 0.99 || t.bf16_s.back() < best16 * 0.99;
        best32 = std::min(best32, t.fp32_s.back());
        best16 = std::min(best16, t.bf16_s.back());
        since_better = better ? 0 : since_better + 1;
        if (round + 1 >= 5 && since_better >= 3) break;
        if (seconds_since(start) > 0.4) break;
    }
    return t;
}

double median_of(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

const char *const kClassRule =
    "the CPU-class rule: bf16 on a CPU with native bf16, which ran the default model faster on "
    "every such CPU measured";

}  // namespace

bool cpu_has_native_bf16() {
#if defined(__x86_64__) || defined(__i386__)
    static const bool native = [] {
        if (!isa_cap_is_unset_or({"AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX512_CORE_AMX",
                                  "AVX512_CORE_AMX_FP16", "AVX10_1_512", "AVX10_1_512_AMX",
                                  "AVX10_1_512_AMX_FP16", "AVX10_2_512", "AVX10_2_512_AMX_2"}))
            return false;
        // Both features need AVX-512 state saved by the OS, which
        // __builtin_cpu_supports("avx512f") checks; AMX-BF16 is
        // CPUID.(EAX=7,ECX=0):EDX bit 22.
        __builtin_cpu_init();
        if (!__builtin_cpu_supports("avx512f")) return false;
        if (__builtin_cpu_supports("avx512bf16")) return true;
        unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;
        return __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) && (edx & (1u << 22)) != 0;
    }();
    return native;
#else
    return false;
#endif
}

precision_choice check_precision(const char *asked, const c10::Device &dev) {
    const std::string p = asked == nullptr ? "fp32" : asked;
    if (p != "auto" && p != "fp32" && p != "bf16" && p != "fp16")
        fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
             "precision: expected auto, fp32, bf16 or fp16, got '" + p + "'");
    if (p == "auto") {
        if (dev.is_cuda()) return {"fp16", "auto: CUDA computes fp16 fastest"};
        if (!cpu_has_native_bf16()) {
            const std::string cap = isa_cap();
            return {"fp32", cap.empty() || cap == "ALL" || cap == "DEFAULT"
                                ? "auto: this CPU has no native bf16 (AVX512-BF16 or AMX-BF16)"
                                : "auto: oneDNN's ISA cap " + cap + " excludes the bf16 kernels"};
        }
        return {"auto", ""};
    }
    if (p == "fp16" && dev.is_cpu())
        fail(CUTOUT_SHIM_ERR_DEVICE,
             "precision: fp16 is not supported on cpu (expected fp32 or bf16 there; fp16 needs cuda)");
    // Without native bf16 libtorch would emulate it, slower than fp32 and
    // less exact, or fail inside oneDNN: refuse it with the reason instead.
    if (p == "bf16" && dev.is_cpu() && !cpu_has_native_bf16())
        fail(CUTOUT_SHIM_ERR_DEVICE,
             "precision: bf16 needs a CPU with AVX512-BF16 or AMX-BF16, and this one (or "
             "ONEDNN_MAX_CPU_ISA) has neither (expected auto or fp32 here)");
    return {p, ""};
}

precision_choice choose_from_timings(const std::vector<double> &fp32_s,
                                     const std::vector<double> &bf16_s, bool class_bf16) {
    const std::string fallback = class_bf16 ? "bf16" : "fp32";
    if (fp32_s.empty() || bf16_s.empty())
        return {fallback, std::string("auto: no timing, so ") + kClassRule};
    const double min32 = *std::min_element(fp32_s.begin(), fp32_s.end());
    const double min16 = *std::min_element(bf16_s.begin(), bf16_s.end());
    if (!(min32 > 0) || !(min16 > 0))
        return {fallback, std::string("auto: no usable timing, so ") + kClassRule};
    const double ratio = min32 / min16;  // > 1: bf16 is faster
    const std::string measured = "bf16 measured " + ratio_text(ratio) + " as fast as fp32";
    if (median_of(fp32_s) > 1.5 * min32 || median_of(bf16_s) > 1.5 * min16)
        return {fallback, "auto: " + measured + " on a noisy machine, so " + kClassRule};
    if (ratio >= 1.1) return {"bf16", "auto: " + measured};
    if (ratio <= 1.0 / 1.1) return {"fp32", "auto: " + measured};
    return {fallback, "auto: " + measured + ", within 10%, so " + kClassRule};
}

precision_choice choose_cpu_auto(const torch::jit::Module &module) {
    static std::mutex mutex;
    static std::map<std::string, precision_choice> decided;
    at::Tensor weight;
    try {
        weight = typical_conv_weight(module);
    } catch (const std::exception &) {
    }
    if (!weight.defined())
        return choose_from_timings({}, {}, true);
    const std::string key = std::to_string(weight.size(0)) + "x" + std::to_string(weight.size(1)) +
                            "/" + isa_cap();
    // One measurement at a time: two at once would time each other.
    std::lock_guard<std::mutex> lock(mutex);
    auto found = decided.find(key);
    if (found != decided.end()) return found->second;
    precision_choice choice;
    try {
        conv_timing t = time_convolution(weight);
        choice = choose_from_timings(t.fp32_s, t.bf16_s, true);
        choice.reason += " (" + t.what + ", " + std::to_string(t.fp32_s.size()) + " rounds)";
    } catch (const std::bad_alloc &) {
        choice = {"fp32", "auto: out of memory while timing bf16, so fp32"};
    } catch (const std::exception &) {
        // A bf16 convolution that fails here would fail in the model too.
        choice = {"fp32", "auto: the bf16 timing convolution failed, so fp32"};
    }
    decided[key] = choice;
    return choice;
}

}  // namespace cutout_shim

extern "C" void cutout_shim_precision_from_timings(const double *fp32_s, const double *bf16_s,
                                                   size_t n, bool class_bf16, char *precision,
                                                   size_t precision_cap, char *reason,
                                                   size_t reason_cap) {
    cutout_shim::guarded_value(0, [&] {
        std::vector<double> t32, t16;
        if (fp32_s != nullptr && bf16_s != nullptr) {
            t32.assign(fp32_s, fp32_s + n);
            t16.assign(bf16_s, bf16_s + n);
        }
        const cutout_shim::precision_choice c =
            cutout_shim::choose_from_timings(t32, t16, class_bf16);
        if (precision != nullptr && precision_cap > 0)
            std::snprintf(precision, precision_cap, "%s", c.precision.c_str());
        if (reason != nullptr && reason_cap > 0)
            std::snprintf(reason, reason_cap, "%s", c.reason.c_str());
        return 0;
    });
}

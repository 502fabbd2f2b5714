// threads.cpp - see threads.hpp.
#include "threads.hpp"

#include <ATen/Parallel.h>

#include <atomic>

namespace cutout_shim {
namespace {

// With the OpenMP backend at::set_num_threads() only reaches the calling
// thread (and threads that have not run parallel work yet), so the count
// is kept here and applied to every thread that runs shim work.
std::atomic<int32_t> g_num_threads{0};
std::atomic<uint64_t> g_num_threads_generation{0};

}  // namespace

void set_thread_count(int32_t n) {
    g_num_threads.store(n);
    g_num_threads_generation.fetch_add(1);
    apply_thread_count_to_this_thread();
}

void apply_thread_count_to_this_thread() {
    thread_local uint64_t seen = 0;
    uint64_t generation = g_num_threads_generation.load();
    if (generation == seen) return;
    int32_t n = g_num_threads.load();
    if (n > 0 && at::get_num_threads() != n) at::set_num_threads(n);
    seen = generation;
}

}  // namespace cutout_shim

// threads.hpp - the intra-op thread count the host asked for, applied to
// every thread that runs shim work.
#pragma once

#include <cstdint>

namespace cutout_shim {

// Records `n` (>= 1) as the process-wide count and applies it to the
// calling thread. Thread-safe.
void set_thread_count(int32_t n);

// Applies the recorded count to the calling thread if it changed since
// this thread last applied it; a no-op before any set_thread_count().
void apply_thread_count_to_this_thread();

}  // namespace cutout_shim

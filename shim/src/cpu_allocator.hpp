// cpu_allocator.hpp - a caching CPU allocator for the shim's own calls.
//
// glibc hands large blocks (above its mmap threshold) back to the kernel on
// every free, so each forward pass page-faults its activation buffers in
// again. This allocator keeps freed large blocks and reuses them, but only
// for allocations made while a cpu_cache_scope is alive on the allocating
// thread: every other allocation of the host process goes to libtorch's
// default CPU allocator unchanged.
#pragma once

#include <cstddef>

namespace cutout_shim {

// Registers the caching allocator with libtorch (once per process; later
// calls do nothing). From then on the library that holds the shim stays
// loaded until the process exits, because tensors may still point at its
// deleter. Thread-safe. Throws nothing.
void install_cpu_allocator();

// While an instance lives, CPU allocations of at least kMinCachedBytes made
// on this thread are served from, and returned to, the cache. Nests.
class cpu_cache_scope {
public:
    cpu_cache_scope();
    ~cpu_cache_scope();
    cpu_cache_scope(const cpu_cache_scope &) = delete;
    cpu_cache_scope &operator=(const cpu_cache_scope &) = delete;
};

// Bytes currently held in the cache (freed, not yet reused). Thread-safe.
size_t cpu_cache_bytes();

}  // namespace cutout_shim

// cpu_allocator.cpp - see cpu_allocator.hpp.
//
// Blocks are cached by size. A request takes the smallest cached block of
// at least its size and at most 1.25 times it; a miss allocates a new
// block, first evicting cached blocks when the cache would exceed
// kCacheCapBytes. Freed blocks go back to the cache while it stays under
// the cap, to the system otherwise. So the memory held beyond what live
// tensors use is bounded by the cap, and a repeated call (same sizes)
// allocates nothing from the system after its first run.
#include "cpu_allocator.hpp"
#include "version_compat.hpp"

#include <c10/core/Allocator.h>
#include <c10/core/impl/alloc_cpu.h>

#include <dlfcn.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <map>
#include <mutex>
#include <new>
#include <unordered_map>

namespace cutout_shim {
namespace {

const size_t kMinCachedBytes = size_t(1) << 20;   // smaller blocks: glibc's heap reuses them
const size_t kCacheCapBytes = size_t(1) << 30;    // at most 1 GiB kept while unused
const size_t kRoundBytes = size_t(1) << 16;       // sizes rounded up to 64 KiB

const size_t kHugePageBytes = size_t(2) << 20;

thread_local int t_scope_depth = 0;

// A new block for the cache. Blocks of 2 MiB or more are aligned to 2 MiB
// and marked for transparent huge pages (where the kernel only gives them
// on request), because the forward pass streams through tens of megabytes
// of activations (benchmarks/RESULTS.md). Freed with free() like c10's own.
void *new_block(size_t size) {
    if (size < kHugePageBytes) return c10::alloc_cpu(size);  // throws c10::Error when out of memory
    void *ptr = nullptr;
    if (posix_memalign(&ptr, kHugePageBytes, size) != 0) throw std::bad_alloc();
    (void)madvise(ptr, size, MADV_HUGEPAGE);  // only a hint: the block works without it
    return ptr;
}

class caching_cpu_allocator final : public c10::Allocator {
public:
    explicit caching_cpu_allocator(c10::Allocator *fallback) : fallback_(fallback) {}

    c10::DataPtr allocate(size_t n) CUTOUT_ALLOCATE_QUALIFIER override {
        if (t_scope_depth == 0 || n < kMinCachedBytes) return fallback_->allocate(n);
        size_t size = (n + kRoundBytes - 1) / kRoundBytes * kRoundBytes;
        void *ptr = take(size);
        if (ptr == nullptr) {
            ptr = new_block(size);
            std::lock_guard<std::mutex> lock(mutex_);
            try {
                live_.emplace(ptr, size);
            } catch (...) {
                c10::free_cpu(ptr);
                throw;
            }
        }
        // The context is the pointer itself, as raw_allocate() (used by
        // oneDNN through libtorch) requires.
        return c10::DataPtr(ptr, ptr, &caching_cpu_allocator::release,
                            c10::Device(c10::DeviceType::CPU));
    }

    c10::DeleterFnPtr raw_deleter() const override { return &caching_cpu_allocator::release; }

#if CUTOUT_ALLOCATOR_HAS_COPY_DATA
    void copy_data(void *dest, const void *src, std::size_t count) const override {
        default_copy_data(dest, src, count);
    }
#endif

    size_t cached_bytes() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return cached_bytes_;
    }

    static caching_cpu_allocator *instance;

private:
    // A cached block of size in [size, 1.25 size] (it stays in live_), or
    // nullptr after making room in the cache for a new one of `size`.
    void *take(size_t size) const {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = free_.lower_bound(size);
        if (it != free_.end() && it->first <= size + size / 4) {
            void *ptr = it->second;
            cached_bytes_ -= it->first;
            free_.erase(it);
            return ptr;
        }
        while (!free_.empty() && cached_bytes_ + size > kCacheCapBytes) {
            auto largest = std::prev(free_.end());
            cached_bytes_ -= largest->first;
            live_.erase(largest->second);
            c10::free_cpu(largest->second);
            free_.erase(largest);
        }
        return nullptr;
    }

    // Deleter of every block this allocator made, and raw deleter for
    // pointers of the fallback allocator (raw_deallocate reaches it too).
    static void release(void *ptr) {
        caching_cpu_allocator *self = instance;
        {
            std::lock_guard<std::mutex> lock(self->mutex_);
            auto live = self->live_.find(ptr);
            if (live != self->live_.end()) {
                size_t size = live->second;
                if (self->cached_bytes_ + size <= kCacheCapBytes) {
                    try {
                        self->free_.emplace(size, ptr);
                        self->cached_bytes_ += size;
                        return;
                    } catch (...) {
                        // no room for the bookkeeping: free the block instead
                    }
                }
                self->live_.erase(live);
                c10::free_cpu(ptr);
                return;
            }
        }
        c10::DeleterFnPtr other = self->fallback_->raw_deleter();
        if (other != nullptr)
            other(ptr);
        else
            c10::free_cpu(ptr);
    }

    c10::Allocator *fallback_;
    mutable std::mutex mutex_;
    mutable std::multimap<size_t, void *> free_;        // cached: size -> block
    mutable std::unordered_map<void *, size_t> live_;   // every block made here -> size
    mutable size_t cached_bytes_ = 0;
};

caching_cpu_allocator *caching_cpu_allocator::instance = nullptr;

// Tensors made through the allocator call release() in this library, so it
// must never be unloaded: take a reference that dlclose cannot drop.
void pin_this_library() {
    Dl_info info;
    if (dladdr(reinterpret_cast<void *>(&pin_this_library), &info) != 0 &&
        info.dli_fname != nullptr)
        dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

}  // namespace

void install_cpu_allocator() {
    static std::once_flag once;
    std::call_once(once, [] {
        try {
            pin_this_library();
            // Leaked on purpose: tensors may be freed during process exit.
            c10::Allocator *fallback = c10::GetAllocator(c10::DeviceType::CPU);
            // Raw pointers of the fallback must be freeable by its raw deleter.
            if (fallback == nullptr || fallback->raw_deleter() == nullptr) return;
            caching_cpu_allocator::instance = new caching_cpu_allocator(fallback);
            c10::SetAllocator(c10::DeviceType::CPU, caching_cpu_allocator::instance,
                              /*priority=*/1);
        } catch (...) {
            // Without the cache everything still works, only slower.
        }
    });
}

cpu_cache_scope::cpu_cache_scope() { ++t_scope_depth; }
cpu_cache_scope::~cpu_cache_scope() { --t_scope_depth; }

size_t cpu_cache_bytes() {
    caching_cpu_allocator *a = caching_cpu_allocator::instance;
    return a != nullptr ? a->cached_bytes() : 0;
}

}  // namespace cutout_shim

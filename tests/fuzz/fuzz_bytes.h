/*
 * fuzz_bytes.h - reading structured values out of a fuzzer's input bytes.
 *
 * A reader hands out the input's bytes front to back; once they run out it
 * returns zeros, so every input, however short, decodes to some value and
 * a target never has to reject one. Header-only (static functions) so each
 * target compiles it with its own instrumentation.
 */
#ifndef CUTOUT_FUZZ_BYTES_H
#define CUTOUT_FUZZ_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct fuzz_bytes {
    const uint8_t *next;
    size_t left;
} fuzz_bytes;

static inline fuzz_bytes fuzz_bytes_of(const uint8_t *data, size_t size)
{
    fuzz_bytes r = {data, size};
    return r;
}

static inline uint8_t fuzz_u8(fuzz_bytes *r)
{
    if (r->left == 0) return 0;
    r->left--;
    return *r->next++;
}

/* Eight bytes, little endian. */
static inline uint64_t fuzz_u64(fuzz_bytes *r)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)fuzz_u8(r) << (8 * i);
    return v;
}

/* A size-like int64: usually small (0..16), sometimes a value at an edge
 * the library must handle (limits, overflow, negative), rarely raw bytes. */
static inline int64_t fuzz_size(fuzz_bytes *r)
{
    static const int64_t edges[] = {
        -1, -2, INT64_MIN, INT64_MAX, INT64_MAX / 2, INT64_MAX / 4 + 1,
        (int64_t)1 << 31, (int64_t)1 << 32, (int64_t)1 << 62, 2047, 2048, 2049,
        4194304, 4194305, 65536, 65537, 1000000, 3037000500 /* ~sqrt(2^63) */,
    };
    uint8_t sel = fuzz_u8(r);
    if (sel < 200) return sel % 17;
    if (sel == 255) return (int64_t)fuzz_u64(r);
    return edges[(sel - 200) % (sizeof edges / sizeof edges[0])];
}

#endif /* CUTOUT_FUZZ_BYTES_H */

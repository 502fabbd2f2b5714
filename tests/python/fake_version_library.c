/*
 * fake_version_library.c - a library that answers only the two version
 * queries of cutout.h, with the values given at compile time. The Python
 * tests load it to see the wrapper refuse an ABI or torch-version mismatch
 * before it touches anything else.
 */
#include <stdint.h>

#ifndef FAKE_ABI_VERSION
#error "define FAKE_ABI_VERSION"
#endif
#ifndef FAKE_TORCH_VERSION
#error "define FAKE_TORCH_VERSION"
#endif

__attribute__((visibility("default"))) int32_t cutout_abi_version(void)
{
    return FAKE_ABI_VERSION;
}

__attribute__((visibility("default"))) const char *cutout_torch_version(void)
{
    return FAKE_TORCH_VERSION;
}

// version_compat.hpp - the differences between the libtorch and oneDNN
// versions the shim builds against, in one place (shim-internal).
//
// Supported: libtorch 1.13 and 2.x; oneDNN 2.x and 3.x. Every version test
// of the shim is here, so the other files have one code path each.
#pragma once

#include <torch/version.h>

#define CUTOUT_TORCH_AT_LEAST(major, minor) \
    (TORCH_VERSION_MAJOR > (major) ||       \
     (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

// libtorch 2.3 made c10::Allocator::allocate non-const and added the pure
// virtual copy_data(); an allocator declares allocate() with this
// qualifier and, from 2.3 on, overrides copy_data() too.
#if CUTOUT_TORCH_AT_LEAST(2, 3)
#define CUTOUT_ALLOCATE_QUALIFIER
#define CUTOUT_ALLOCATOR_HAS_COPY_DATA 1
#else
#define CUTOUT_ALLOCATE_QUALIFIER const
#define CUTOUT_ALLOCATOR_HAS_COPY_DATA 0
#endif

#ifdef CUTOUT_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.hpp>

namespace cutout_shim {

// A forward-inference direct convolution primitive descriptor. oneDNN 3
// dropped the operation descriptor (convolution_forward::desc) and takes
// the same arguments in the primitive descriptor's constructor; dilation
// is oneDNN's (0 = dense) in both. Throws dnnl::error when the CPU has no
// implementation for these types.
inline dnnl::convolution_forward::primitive_desc convolution_inference_pd(
    const dnnl::engine &engine, const dnnl::memory::desc &src, const dnnl::memory::desc &weights,
    const dnnl::memory::desc &bias, const dnnl::memory::desc &dst, const dnnl::memory::dims &strides,
    const dnnl::memory::dims &dilation, const dnnl::memory::dims &padding,
    const dnnl::primitive_attr &attr) {
#if DNNL_VERSION_MAJOR >= 3
    return dnnl::convolution_forward::primitive_desc(
        engine, dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src,
        weights, bias, dst, strides, dilation, padding, padding, attr);
#else
    dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference,
                                         dnnl::algorithm::convolution_direct, src, weights, bias,
                                         dst, strides, dilation, padding, padding);
    return dnnl::convolution_forward::primitive_desc(desc, attr, engine);
#endif
}

// Post-ops that apply a ReLU to the convolution's result; oneDNN 3 dropped
// the scale argument of append_eltwise.
inline dnnl::post_ops relu_post_ops() {
    dnnl::post_ops ops;
#if DNNL_VERSION_MAJOR >= 3
    ops.append_eltwise(dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
#else
    ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
#endif
    return ops;
}

}  // namespace cutout_shim
#endif

// motion.hpp - the motion between two video frames that temporal smoothing
// moves the previous matte along: each subject (a connected region of the
// previous matte) gets one affine motion fitted to its own pixels, the rest
// of the frame a dense Lucas-Kanade flow, and every pixel a trust that says
// how well the chosen motion explains the frame there. All in libtorch ops
// on the frames' device, apart from the labelling of the subjects (on the
// CPU, one byte a pixel at the motion resolution). Errors are libtorch's
// (c10::Error, std::bad_alloc).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace cutout_shim {

// One video frame as motion is measured on it, made once per frame:
// colour  1 x 3 x h x w float32 in 0..1, area-reduced so that its longer
//         side is at most 1024 pixels (subjects' motion and the trust);
// luma    its luminance reduced to at most 256 pixels a side (1 x 1 x h x w):
//         the dense flow, and what scene cuts and near-identical frames are
//         judged on, with the noise averaged away.
struct motion_frame {
    at::Tensor colour, luma;
};

// Item `item` of a B x H x W x C image as a motion_frame.
motion_frame motion_frame_of(const at::Tensor &image, int64_t item);

// The motion from the frame `before` to the frame `after` (motion_frames
// of one size), given the matte of `before` (H x W, the smoothed
// one) and of `after` (H x W, as predicted), H x W being the frames' full
// size. u and v (1 x 1 x H x W) are full-size pixels: the pixel (x, y) of
// `after` shows what was at (x - u, y - v) in `before`. trusted (1 x 1 x
// H x W, 0..1) is 1 where that motion explains the subject's pixels near
// (x, y) and falls to 0 where it does not.
struct matte_motion {
    at::Tensor u, v, trusted;
};
matte_motion estimate_motion(const motion_frame &before, const motion_frame &after,
                             const at::Tensor &matte_before, const at::Tensor &matte_after);

// `x` (N x C x h x w) moved by the motion (u, v) (1 x 1 x h x w): each
// output pixel samples x at its position minus the motion, bilinearly or
// bicubically (which keeps an edge sharp when it is moved again and again),
// borders replicated.
at::Tensor moved(const at::Tensor &x, const at::Tensor &u, const at::Tensor &v, bool bicubic);

}  // namespace cutout_shim

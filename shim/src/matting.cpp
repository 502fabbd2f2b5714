// matting.cpp - see matting.hpp.
#include "matting.hpp"

#include <string>

#include "guard.hpp"
#include "matte_ops.hpp"

namespace cutout_shim {
namespace {

// Window radius of the Laplacian: larger windows carry the known alpha
// further per iteration (He et al.), smaller ones follow finer structure.
constexpr int64_t kRadius = 2;
// Regularisation of each window's colour covariance (per-window form):
// smaller follows weaker colour edges and converges more slowly.
constexpr double kEpsilon = 1e-5;
// Weight of the model's matte in the unknown region, per window covering
// a pixel: where the colours cannot tell foreground from background, the
// model's matte decides.
constexpr double kPriorWeight = 0.002;
// The iteration budget, and the relative residual that ends it earlier.
constexpr int kIterations = 120;
constexpr double kTolerance = 1e-4;
// The trimap of a model's matte: what counts as sure, and how far the
// unknown region reaches beyond the soft pixels.
constexpr double kSure = 0.05;
constexpr int64_t kMatteBandPx = 3;

// The solve works on square tiles: those holding an unknown pixel, each
// with a halo of two window radii (what the Laplacian at a tile's pixels
// reads), so that time and memory follow the unknown region, not the
// image.
constexpr int64_t kTile = 32;
constexpr int64_t kHalo = 2 * kRadius;
constexpr int64_t kPatch = kTile + 2 * kHalo;

// The active tiles of one image, as flat indices into its padded planes
// (padded by kHalo on every side and up to whole tiles; padding is not
// "valid" and holds zeros).
struct tiles {
    int64_t padded_width = 0, padded_size = 0;
    at::Tensor patch;     // K x P x P: a tile with its halo
    at::Tensor interior;  // K x T x T: the tile itself
};

// Per tile patch, the linear model of every window (radius kRadius,
// counting only valid pixels): colour mean, and the inverse of the
// regularised colour covariance as 6 distinct entries of a symmetric 3 x 3.
struct windows {
    at::Tensor image;  // K x 3 x P x P
    at::Tensor valid;  // K x P x P (1 real pixel, 0 padding)
    at::Tensor count;  // K x P x P: valid pixels per window = windows per pixel
    at::Tensor mean;   // K x 3 x P x P
    at::Tensor inv;    // K x 6 x P x P: (00, 01, 02, 11, 12, 22)
};

// `plane` (C x H x W, or H x W) padded as the tiles are, flattened to
// C x padded_size (or padded_size).
at::Tensor padded_flat(const at::Tensor &plane, const tiles &t, int64_t height, int64_t width) {
    const int64_t rows = t.padded_size / t.padded_width;
    const int64_t pad_bottom = rows - height - kHalo, pad_right = t.padded_width - width - kHalo;
    at::Tensor x = plane.dim() == 2 ? plane.unsqueeze(0) : plane;
    x = at::constant_pad_nd(x, {kHalo, pad_right, kHalo, pad_bottom}, 0.0);
    x = x.reshape({x.size(0), t.padded_size});
    return plane.dim() == 2 ? x[0] : x;
}

// The tiles of an H x W image that hold a pixel of `unknown`.
tiles active_tiles(const at::Tensor &unknown) {
    const int64_t height = unknown.size(0), width = unknown.size(1);
    const int64_t rows = (height + kTile - 1) / kTile, cols = (width + kTile - 1) / kTile;
    tiles t;
    t.padded_width = cols * kTile + 2 * kHalo;
    t.padded_size = (rows * kTile + 2 * kHalo) * t.padded_width;
    at::Tensor grid = at::constant_pad_nd(unknown.to(at::kFloat), {0, cols * kTile - width, 0, rows * kTile - height}, 0.0);
    grid = at::max_pool2d(grid.view({1, 1, rows * kTile, cols * kTile}), {kTile, kTile}, {kTile, kTile});
    at::Tensor cells = at::nonzero(grid.view({rows, cols}) > 0.5);  // K x 2
    auto opts = cells.options();
    at::Tensor corner = cells.select(1, 0) * (kTile * t.padded_width) + cells.select(1, 1) * kTile;
    at::Tensor steps = at::arange(kPatch, opts);
    at::Tensor offsets = steps.view({kPatch, 1}) * t.padded_width + steps.view({1, kPatch});
    t.patch = corner.view({-1, 1, 1}) + offsets;
    t.interior = t.patch.narrow(1, kHalo, kTile).narrow(2, kHalo, kTile);
    return t;
}

// Gathers the patches (K x P x P, or K x C x P x P) of a padded flat plane.
at::Tensor gather(const at::Tensor &flat, const tiles &t) {
    const int64_t k = t.patch.size(0);
    if (flat.dim() == 1) return flat.index_select(0, t.patch.reshape(-1)).view({k, kPatch, kPatch});
    return flat.index_select(1, t.patch.reshape(-1)).view({flat.size(0), k, kPatch, kPatch}).transpose(0, 1);
}

windows window_models(const at::Tensor &image_patches, const at::Tensor &valid) {
    windows m;
    m.image = image_patches;
    m.valid = valid;
    // In float64: a covariance is a difference of two close sums.
    at::Tensor v = valid.to(at::kDouble).unsqueeze(1);      // K x 1 x P x P
    at::Tensor I = image_patches.to(at::kDouble) * v;       // K x 3 x P x P
    at::Tensor count = box_sum(v, kRadius, at::kDouble).clamp_min(1.0);
    at::Tensor mean = box_sum(I, kRadius, at::kDouble) / count;
    const int64_t pairs[6][2] = {{0, 0}, {0, 1}, {0, 2}, {1, 1}, {1, 2}, {2, 2}};
    at::Tensor s[6];
    for (int k = 0; k < 6; ++k) {
        const int64_t i = pairs[k][0], j = pairs[k][1];
        at::Tensor product = (I.select(1, i) * I.select(1, j)).unsqueeze(1);
        s[k] = (box_sum(product, kRadius, at::kDouble) / count).squeeze(1) -
               mean.select(1, i) * mean.select(1, j);
        if (i == j) s[k] = s[k] + kEpsilon;
    }
    // The inverse of [[a b c] [b d e] [c e f]] by cofactors.
    const at::Tensor &a = s[0], &b = s[1], &c = s[2], &d = s[3], &e = s[4], &f = s[5];
    at::Tensor A = d * f - e * e, B = c * e - b * f, C = b * e - c * d;
    at::Tensor D = a * f - c * c, E = b * c - a * e, F = a * d - b * b;
    at::Tensor det = a * A + b * B + c * C;
    m.inv = (at::stack({A, B, C, D, E, F}, 1) / det.unsqueeze(1)).to(at::kFloat);
    m.mean = mean.to(at::kFloat);
    m.count = count.squeeze(1).to(at::kFloat);
    return m;
}

// L p on each patch (p: K x P x P), for the matting Laplacian L = sum over
// windows of (identity - the window's projection): per window, p ~ a . I + b
// fitted by ridge regression, and (L p)_i = sum over the windows k covering
// i of p_i - (a_k . I_i + b_k). Exact at the tile pixels (the halo covers
// what their windows read); returns the tiles, K x T x T.
at::Tensor laplacian(const windows &m, const at::Tensor &p) {
    at::Tensor sums = box_sum(at::cat({p.unsqueeze(1), m.image * p.unsqueeze(1)}, 1), kRadius, at::kFloat) /
                      m.count.unsqueeze(1);
    at::Tensor mean_p = sums.select(1, 0);
    at::Tensor cov = sums.narrow(1, 1, 3) - m.mean * mean_p.unsqueeze(1);  // K x 3 x P x P
    const at::Tensor &v = m.inv;
    auto inv = [&](int64_t k) { return v.select(1, k); };
    auto c = [&](int64_t k) { return cov.select(1, k); };
    at::Tensor a0 = inv(0) * c(0) + inv(1) * c(1) + inv(2) * c(2);
    at::Tensor a1 = inv(1) * c(0) + inv(3) * c(1) + inv(4) * c(2);
    at::Tensor a2 = inv(2) * c(0) + inv(4) * c(1) + inv(5) * c(2);
    at::Tensor b = mean_p - a0 * m.mean.select(1, 0) - a1 * m.mean.select(1, 1) - a2 * m.mean.select(1, 2);
    // Windows centred on padding do not exist.
    at::Tensor ab = at::stack({a0, a1, a2, b}, 1) * m.valid.unsqueeze(1);
    at::Tensor s = box_sum(ab, kRadius, at::kFloat);
    at::Tensor lp = m.count * p - (s.narrow(1, 0, 3) * m.image).sum(1) - s.select(1, 3);
    return lp.narrow(1, kHalo, kTile).narrow(2, kHalo, kTile);
}

}  // namespace

trimap trimap_from_hint(const at::Tensor &mask, int64_t band) {
    at::Tensor selected = (mask >= 0.5).to(at::kFloat);
    at::Tensor inside = grow_matte(selected, -band), reach = grow_matte(selected, band);
    return {inside, reach > inside};
}

trimap trimap_from_values(const at::Tensor &mask) {
    return {(mask >= 0.999).to(at::kFloat), at::logical_and(mask > 0.001, mask < 0.999)};
}

trimap trimap_from_matte(const at::Tensor &alpha) {
    at::Tensor soft = at::logical_and(alpha > kSure, alpha < 1.0 - kSure).to(at::kFloat);
    at::Tensor hard = (alpha >= 0.5).to(at::kFloat);
    at::Tensor edge = grow_matte(hard, 1) - grow_matte(hard, -1);  // 1 on the 0.5 contour
    at::Tensor unknown = grow_matte(at::maximum(soft, edge), kMatteBandPx) > 0.5;
    return {hard, unknown};
}

at::Tensor solve_matte(const at::Tensor &image, const trimap &t, const at::Tensor &prior,
                       cutout_shim_abort_fn abort, void *abort_user) {
    const int64_t height = image.size(1), width = image.size(2);
    at::Tensor alpha = at::where(t.unknown, prior, t.known).clamp(0.0, 1.0);
    const tiles tl = active_tiles(t.unknown);
    const int64_t k = tl.patch.size(0);
    if (k == 0) return alpha;
    auto f32 = image.options().dtype(at::kFloat);
    const windows m = window_models(gather(padded_flat(image, tl, height, width), tl),
                                    gather(padded_flat(at::ones({height, width}, f32), tl, height, width), tl));
    auto interior = [&](const at::Tensor &patches) {
        return patches.narrow(1, kHalo, kTile).narrow(2, kHalo, kTile);
    };
    at::Tensor alpha_patches = gather(padded_flat(alpha, tl, height, width), tl);
    at::Tensor x = interior(alpha_patches).clone();
    at::Tensor u = interior(gather(padded_flat(t.unknown.to(at::kFloat), tl, height, width), tl)).contiguous();
    at::Tensor goal = interior(gather(padded_flat(prior, tl, height, width), tl)).contiguous();
    at::Tensor pull = interior(m.count) * kPriorWeight;

    // p lives on the unknown pixels, all inside the tiles: scattered into a
    // zero plane, its patches (halos included) are exact.
    at::Tensor plane = at::zeros({tl.padded_size}, f32);
    const at::Tensor slots = tl.interior.reshape(-1);
    auto patches_of = [&](const at::Tensor &tile_values) {
        plane.index_copy_(0, slots, tile_values.reshape(-1));
        return gather(plane, tl);
    };

    // Conjugate gradients on the unknown pixels: (L + pull) x = pull goal,
    // the known pixels held at their values.
    at::Tensor r = -(laplacian(m, alpha_patches) + pull * (x - goal)) * u;
    at::Tensor p = r.clone();
    double rr = (r * r).sum().item<double>();
    const double stop = rr * kTolerance * kTolerance;
    for (int i = 0; i < kIterations && rr > stop && rr > 0.0; ++i) {
        if (abort != nullptr && abort(abort_user))
            fail(CUTOUT_SHIM_CANCELLED, "matting: cancelled by the abort callback after " +
                                            std::to_string(i) + " iterations");
        at::Tensor q = (laplacian(m, patches_of(p)) + pull * p) * u;
        const double pq = (p * q).sum().item<double>();
        if (!(pq > 0.0)) break;
        const double step = rr / pq;
        x.add_(p, step);
        r.sub_(q, step);
        const double rr_next = (r * r).sum().item<double>();
        p = r + p * (rr_next / rr);
        rr = rr_next;
    }
    // The tiles' pixels back into the image: the unknown ones changed.
    at::Tensor out = padded_flat(alpha, tl, height, width);
    out.index_copy_(0, slots, x.clamp_(0.0, 1.0).reshape(-1));
    const int64_t rows = tl.padded_size / tl.padded_width;
    return out.view({rows, tl.padded_width}).narrow(0, kHalo, height).narrow(1, kHalo, width).contiguous();
}

}  // namespace cutout_shim

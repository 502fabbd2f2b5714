"""The edge options of CutoutRemoveBackgroundAdvanced and
CutoutCompositeBackground on real photos with the default model (ctest
label "model"). Photos are reduced to 384 px and processed at 512 so the
whole file runs in about a minute on a CPU.

Usage: test_edges_nodes.py LIBCUTOUT MODELS_DIR TESTDATA_DIR
Exit status 77 (skipped) when the model file is missing.
"""

import os
import sys

import torch

from tests.support import edge_support as es

FAILURES = []


def check(condition, message):
    if not condition:
        FAILURES.append(message)
        print("FAIL:", message)


def main():
    library, models, testdata = sys.argv[1:4]
    if not os.path.exists(os.path.join(models, "isnet.pt")):
        print("skipped: models/isnet.pt is missing (tools/fetch-model fetches it)")
        return 77
    ctx = es.open_context(library, [models])
    hair = es.batch(es.load_image(os.path.join(testdata, "portrait_hair_kodim04.png"), 384))
    cat = es.batch(es.load_image(os.path.join(testdata, "animal_fur_chelsea.png"), 384))
    fast = dict(process_resolution=512)

    base_image, base_mask, base_box = es.remove_background(ctx, hair, **fast)
    check(base_image.shape[-1] == 4 and base_box.tolist() == [[0, 0, hair.shape[2], hair.shape[1]]],
          f"defaults: expected RGBA and the whole image as box, got {tuple(base_image.shape)} {base_box.tolist()}")
    check(torch.equal(base_image[..., :3], hair), "defaults: RGB is not the input's RGB")
    basic = es.run_node(ctx, "CutoutRemoveBackground", 2, image=hair, model="isnet")[1]
    native = es.remove_background(ctx, hair)[1]
    check(torch.equal(native, basic), "process_resolution 0: differs from the basic node")

    # threshold gives only 0 and 1
    _, mask, _ = es.remove_background(ctx, hair, threshold=0.5, **fast)
    values = torch.unique(mask)
    check(set(values.tolist()) <= {0.0, 1.0}, f"threshold: values other than 0/1: {values[:8].tolist()}")
    check(0.05 < mask.mean().item() < 0.95, f"threshold: degenerate mask, mean {mask.mean().item()}")

    # invert twice is the identity; the mask convention switch gives 1 - alpha
    _, inverted, _ = es.remove_background(ctx, hair, invert_mask=True, **fast)
    check(torch.allclose(1.0 - inverted, base_mask, atol=1e-6), "invert: MASK is not 1 - alpha")
    image_li, mask_li, _ = es.remove_background(ctx, hair, mask_convention="LoadImage", **fast)
    check(torch.allclose(mask_li, 1.0 - base_mask, atol=1e-6), "LoadImage convention: MASK is not 1 - alpha")
    check(torch.equal(image_li[..., 3], base_image[..., 3]), "LoadImage convention: the IMAGE alpha changed")
    # invert twice: feed the inverted cut-out's LoadImage-convention MASK as a guide
    # of an inverted run: alpha = 1 - (pred x (1 - (1 - pred))) is not linear, so
    # test the definition instead: invert(invert(a)) through the mask convention.
    _, twice, _ = es.remove_background(ctx, hair, invert_mask=True, mask_convention="LoadImage", **fast)
    check(torch.allclose(twice, base_mask, atol=1e-6), "invert + LoadImage: not the original alpha")

    # letterbox on a 2:1 image returns the input's size
    wide = cat[:, :, :, :]
    h = wide.shape[1]
    wide = wide[:, : h, : min(wide.shape[2], 2 * h), :]
    wide = torch.nn.functional.interpolate(wide.permute(0, 3, 1, 2), size=(192, 384), mode="bilinear",
                                           align_corners=False).permute(0, 2, 3, 1).contiguous()
    img, mask, _ = es.remove_background(ctx, wide, fit="letterbox", **fast)
    check(tuple(img.shape) == (1, 192, 384, 4) and tuple(mask.shape) == (1, 192, 384),
          f"letterbox: expected 1x192x384, got {tuple(img.shape)} {tuple(mask.shape)}")
    _, stretch_mask, _ = es.remove_background(ctx, wide, **fast)
    a, b = mask > 0.5, stretch_mask > 0.5
    iou = (a & b).sum().item() / max(1, (a | b).sum().item())
    check(iou > 0.8, f"letterbox: matte far from the stretched one (IoU {iou:.3f}; misplaced window?)")

    # RGB + MASK returns C = 3; premultiplied RGB = straight RGB x alpha
    img, mask, _ = es.remove_background(ctx, hair, output="RGB + MASK", **fast)
    check(img.shape[-1] == 3 and torch.equal(img, hair), f"RGB + MASK: expected the input RGB, got C = {img.shape[-1]}")
    check(torch.equal(mask, base_mask), "RGB + MASK: MASK differs")
    img, _, _ = es.remove_background(ctx, hair, output="premultiplied RGBA", **fast)
    check(torch.allclose(img[..., :3], hair * base_mask.unsqueeze(-1), atol=1e-6),
          "premultiplied: RGB is not straight RGB x alpha")

    # the crop box contains the whole subject (a batch shares one box)
    cup = es.batch(es.load_image(os.path.join(testdata, "product_coffee.png"), 384))
    pair = torch.cat([cup, cup * 0.9], 0)
    full_image, full_mask, _ = es.remove_background(ctx, pair, **fast)
    img, mask, box = es.remove_background(ctx, pair, crop_to_subject=True, crop_padding=4, **fast)
    x, y, w, h = box[0].tolist()
    check(torch.equal(box[0], box[1]), "crop: items have different boxes")
    check(tuple(img.shape[1:3]) == (h, w), f"crop: image {tuple(img.shape)} does not match box {box[0].tolist()}")
    outside = full_mask.clone()
    outside[:, y:y + h, x:x + w] = 0
    check(outside.max().item() <= 1.0 / 255.0, "crop: subject pixels outside the box")
    check(torch.equal(mask, full_mask[:, y:y + h, x:x + w]), "crop: MASK is not the window of the full MASK")
    check(w * h < pair.shape[1] * pair.shape[2], "crop: box is the whole image (no subject found?)")

    # grow and blur change the matte the right way; estimate keeps opaque colours
    _, grown, _ = es.remove_background(ctx, hair, threshold=0.5, mask_grow=6, **fast)
    _, cut, _ = es.remove_background(ctx, hair, threshold=0.5, **fast)
    check(grown.sum() > cut.sum() and bool((grown >= cut).all()), "grow: matte did not grow")
    img, mask, _ = es.remove_background(ctx, hair, foreground="estimate", edge_refinement="guided", **fast)
    opaque = mask == 1.0
    check(torch.equal(img[..., :3][opaque], hair[opaque]), "estimate: opaque pixels changed colour")
    check(bool(torch.isfinite(img).all()) and img.min() >= 0 and img.max() <= 1, "estimate/guided: out of range")

    # composite over a colour leaves fully opaque pixels unchanged
    cutout = es.batch(es.load_image(os.path.join(testdata, "rgba_bear_tuxpaint.png")))
    rgb = es.composite(ctx, cutout, background="color", color="#00ff00")
    opaque = cutout[..., 3] == 1.0
    check(torch.equal(rgb[opaque], cutout[..., :3][opaque]), "composite: opaque pixels changed")
    clear = cutout[..., 3] == 0.0
    check(torch.allclose(rgb[clear], torch.tensor([0.0, 1.0, 0.0])), "composite: transparent pixels not the colour")
    # RGB + MASK input with the LoadImage convention gives the same result
    rgb2 = es.composite(ctx, cutout[..., :3].contiguous(), mask=1.0 - cutout[..., 3],
                        mask_convention="LoadImage", background="color", color="#00ff00")
    check(torch.allclose(rgb, rgb2, atol=1e-6), "composite: RGB + LoadImage MASK differs from RGBA")
    # a single background image broadcasts over a batch; output is RGB
    two = torch.cat([cutout, cutout], 0)
    rgb = es.composite(ctx, two, background="image", background_image=cat)
    check(tuple(rgb.shape) == (2, cutout.shape[1], cutout.shape[2], 3), f"composite image: shape {tuple(rgb.shape)}")
    check(torch.equal(rgb[0], rgb[1]), "composite image: items differ")
    try:
        es.composite(ctx, cutout, background="color", color="green")
        check(False, "composite: bad colour accepted")
    except Exception as error:  # the binding raises CutoutInputError
        check("color" in str(error) and "#RRGGBB" in str(error), f"composite: unclear error {error}")

    if FAILURES:
        print(f"{len(FAILURES)} checks failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

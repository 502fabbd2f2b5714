"""The node against the real libcutout (libtorch shim) with the tiny
TorchScript model: alpha = sigmoid(4 * mean of the normalised RGB) at 64 x 64,
resized back. The expected matte is computed here with torch the same way
(area-averaging bilinear when shrinking, plain bilinear when enlarging)."""

import gc
import math

import pytest
import torch
import torch.nn.functional as F

import comfy.model_management
import comfy.utils
import harness


def inner_size(height, width, side=64, power=0.5):
    """The size a fit resizes an image to inside the model's side x side
    input: aspect ratio (width / height)^power (0.5 balanced, the default;
    1 letterbox), as large as fits."""
    k = (width / height) ** power
    ih, iw = min(side, side / k), min(side, side * k)
    return min(side, max(1, math.floor(ih + 0.5))), min(side, max(1, math.floor(iw + 0.5)))


def expected_alpha(image, side=64, power=0.5):
    """The tiny model's matte through a fit (the default one unless told),
    in torch: the image resized to inner_size (antialiased when a side
    shrinks more than 2x), normalised, centred in the input with zero
    padding (the mean), the matte cropped back and resized to the image."""
    x = image[..., :3].float().permute(0, 3, 1, 2)
    height, width = x.shape[2], x.shape[3]
    ih, iw = inner_size(height, width, side, power)
    small = F.interpolate(x, (ih, iw), mode="bilinear", align_corners=False,
                          antialias=height > 2 * ih or width > 2 * iw)
    top, left = (side - ih) // 2, (side - iw) // 2
    padded = F.pad((small - 0.5) / 0.5, (left, side - iw - left, top, side - ih - top))
    alpha = torch.sigmoid(4.0 * padded.mean(dim=1, keepdim=True))[:, :, top:top + ih, left:left + iw]
    return F.interpolate(alpha, (height, width), mode="bilinear", align_corners=False)[:, 0].clamp(0, 1)


def test_library_matches_the_running_torch(real_package, real_library_path):
    library = harness.submodule(real_package, "cutout_library").load_library(real_library_path)
    lib = harness.submodule(real_package, "cutout_library")
    assert lib.release_of(library.torch_version) == lib.release_of(torch.__version__.split("+")[0])
    assert len(lib.loaded_libtorch_copies()) == 1


def test_photos_through_the_tiny_model(real_package):
    image = harness.photo_batch(4, size=(150, 100))
    before = image.clone()
    # fp32 is compared with torch's fp32 reference; "auto" may run in bf16.
    out_image, out_mask = harness.run_node(real_package, image=image, model="tiny", batch_size=3,
                                           precision="fp32")
    assert out_image.shape == (4, 100, 150, 4) and out_mask.shape == (4, 100, 150)
    assert torch.equal(out_image[..., :3], image)
    assert torch.equal(out_image[..., 3], out_mask)
    assert torch.allclose(out_mask, expected_alpha(image), atol=1e-4)
    assert torch.equal(image, before)
    assert comfy.utils.progress_log == [(1, 4), (2, 4), (3, 4), (4, 4)]
    _, auto_mask = harness.run_node(real_package, image=image, model="tiny", batch_size=3)
    assert (auto_mask - expected_alpha(image)).abs().mean() < 1e-3


def test_quality_best_averages_the_fit_with_the_mirror_image_in_letterbox(real_package):
    # The tiny model works pixel by pixel, so a mirrored view's matte, once
    # mirrored back, is its plain view's: best is the mean of the balanced
    # and the letterbox mattes, and differs from fast wherever those differ.
    image = harness.photo_batch(2, size=(150, 100))
    _, fast = harness.run_node(real_package, image=image, model="tiny", precision="fp32")
    _, best = harness.run_node(real_package, image=image, model="tiny", precision="fp32", quality="best")
    expected = (expected_alpha(image) + expected_alpha(image, power=1.0)) / 2
    assert torch.allclose(best, expected, atol=1e-4)
    assert (best - fast).abs().max() > 1e-3


def test_half_precision_strided_input_and_two_dimensional_mask(real_package):
    photos = harness.photo_batch(2, size=(160, 120))
    image = photos.transpose(1, 2).contiguous().transpose(1, 2).half()  # fp16, non-contiguous
    guide = torch.zeros(120, 160)
    guide[20:100, 30:130] = 1.0
    out_image, out_mask = harness.run_node(real_package, image=image, model="tiny", batch_size=2,
                                           mask=guide, precision="fp32")
    assert out_image.dtype == torch.float16 and out_mask.dtype == torch.float16
    assert torch.equal(out_image[..., :3], image)
    expected = expected_alpha(image.float()) * guide
    assert torch.allclose(out_mask.float(), expected, atol=2e-3)
    assert (out_mask[:, guide == 0] == 0).all()


def test_interrupt_after_item_k(real_package):
    comfy.utils.request_interrupt_after(1)
    with pytest.raises(comfy.model_management.InterruptProcessingException):
        harness.run_node(real_package, image=harness.photo_batch(3), model="tiny", batch_size=1)
    assert comfy.utils.progress_log == [(1, 3)]
    assert not comfy.model_management.processing_interrupted()


def test_bad_input_message_comes_from_the_library(real_package):
    with pytest.raises(ValueError, match=r"^image: .*4 dims"):
        harness.run_node(real_package, image=torch.rand(8, 8, 3), model="tiny", batch_size=1)


def test_outputs_are_freed_over_200_calls(real_package):
    image = harness.load_photo("product_coffee.png", size=(256, 256))

    def call():
        out_image, out_mask = harness.run_node(real_package, image=image, model="tiny", batch_size=1)
        assert out_mask.shape == (1, 256, 256)

    for _ in range(20):
        call()
    gc.collect()
    start = harness.rss_bytes()
    for _ in range(200):
        call()
    gc.collect()
    growth = harness.rss_bytes() - start
    # One leaked output pair is 1.25 MiB: 200 of them would add 250 MiB.
    assert growth < 16 * 2**20, f"RSS grew by {growth / 2**20:.1f} MiB over 200 calls"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_inputs_stay_on_the_device(real_package):
    image = harness.photo_batch(2).cuda().half()
    mask = torch.ones(64, 96)  # on the CPU: moved to the image's device
    out_image, out_mask = harness.run_node(real_package, image=image, model="tiny", batch_size=2, mask=mask)
    assert out_image.device == image.device and out_mask.device == image.device
    assert out_image.dtype == torch.float16
    assert torch.equal(out_image[..., :3], image)
    assert torch.allclose(out_mask.float().cpu(), expected_alpha(image.float().cpu()), atol=2e-3)

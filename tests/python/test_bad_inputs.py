"""The bad-input matrix through the ComfyUI package (python_wrapper/) and the
real library: every input of the node with the wrong rank, dtype, device,
channel count, zero dims, overlapping strides, NaN and Inf, values outside
0..1, one pixel over the limit, a huge batch, a mask batch mismatch; missing,
empty, truncated, corrupt and wrong-kind model files; models whose output
has the wrong shape or dtype or holds NaN.

Each call must raise ValueError (bad input) or RuntimeError (model, device,
memory) whose message names the input, leave its inputs unchanged and the
package working, and never crash the interpreter. Bad model files come from
tests/support/make_test_models.py.
"""

import subprocess
import sys

import pytest
import torch

import harness

REPOSITORY = harness.REPOSITORY_DIR


@pytest.fixture(scope="module")
def bad_models_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad_models")
    subprocess.run([sys.executable, str(REPOSITORY / "tests" / "support" / "make_test_models.py"),
                    "reliability", str(folder)], check=True, capture_output=True)
    return folder


@pytest.fixture
def package(real_library_path, bad_models_dir):
    return harness.load_package(real_library_path, extra_model_dirs=[bad_models_dir])


def photos(count=2, size=(48, 32)):
    return harness.photo_batch(count, size=size)


def run(package, **kwargs):
    kwargs.setdefault("model", "tiny")
    kwargs.setdefault("batch_size", 1)
    return harness.run_node(package, **kwargs)


def expect_error(package, error, pattern, **kwargs):
    """Runs, expects `error` matching `pattern`, and checks that no tensor
    input was modified and that a good call still works afterwards."""
    # (Views of a few elements expanded to billions are left out.)
    before = {k: v.clone() for k, v in kwargs.items()
              if isinstance(v, torch.Tensor) and v.numel() <= 10**7}
    with pytest.raises(error, match=pattern):
        run(package, **kwargs)
    for name, value in before.items():
        assert torch.equal(kwargs[name], value) or (value.isnan().any() and torch.equal(
            kwargs[name].nan_to_num(), value.nan_to_num())), f"{name} was modified"
    out_image, out_mask = run(package, image=photos(1))
    assert out_image.shape == (1, 32, 48, 4)


# ----------------------------------------------------------------- the image

@pytest.mark.parametrize("shape", [(32, 48, 3), (1, 1, 32, 48, 3), (32 * 48 * 3,)])
def test_image_rank(package, shape):
    expect_error(package, ValueError, r"^image: expected 4 dims B x H x W x C",
                 image=torch.rand(shape))


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64, torch.bool, torch.complex64,
                                   torch.int8])
def test_image_dtype(package, dtype):
    image = (photos() * 100).to(dtype)
    expect_error(package, ValueError, r"^image: expected dtype", image=image)


def test_image_float64_and_uint8_are_accepted(package):
    image = photos()
    out64, _ = run(package, image=image.double())
    out8, _ = run(package, image=(image * 255).round().to(torch.uint8))
    assert out64.dtype == torch.float64 and out64.shape == (2, 32, 48, 4)
    assert torch.equal(out64[..., :3], image.double())
    assert out8.shape == (2, 32, 48, 4)


def test_image_on_a_device_the_library_cannot_read(package):
    image = torch.empty((1, 32, 48, 3), device="meta")
    with pytest.raises((ValueError, RuntimeError), match="meta"):
        run(package, image=image)


@pytest.mark.parametrize("channels", [1, 2, 5])
def test_image_channel_count(package, channels):
    expect_error(package, ValueError, rf"^image: .*got C = {channels}",
                 image=torch.rand(1, 32, 48, channels))


@pytest.mark.parametrize("shape", [(0, 32, 48, 3), (1, 0, 48, 3), (1, 32, 0, 3), (1, 32, 48, 0)])
def test_image_zero_dims(package, shape):
    expect_error(package, ValueError, r"^image: .*every dim > 0", image=torch.zeros(shape))


def test_image_overlapping_strides_are_read_as_they_are(package):
    base = photos(1)
    same_twice = base.expand(3, -1, -1, -1)  # batch stride 0
    out, mask = run(package, image=same_twice, batch_size=2)
    assert torch.equal(out[0], out[1]) and torch.equal(out[1], out[2])
    gray = base[..., :1].expand(-1, -1, -1, 3)  # channel stride 0
    out, _ = run(package, image=gray)
    assert torch.equal(out[..., :3], gray)
    # Neighbouring pixels share two of their three values.
    flat = torch.rand(32 * 48 + 2)
    shifted = flat.as_strided((1, 32, 48, 3), (0, 48, 1, 1))
    out, _ = run(package, image=shifted)
    assert torch.equal(out[..., :3], shifted)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_image_nan_and_inf_never_reach_an_output(package, bad):
    image = photos()
    image[1, 5, 7, 2] = bad
    expect_error(package, ValueError, r"^image: expected finite values, got 1 NaN or Inf values "
                 r"\(first in item 1\)", image=image)


def test_image_nan_in_the_alpha_channel(package):
    image = torch.rand(1, 32, 48, 4)
    image[0, 0, 0, 3] = float("nan")
    expect_error(package, ValueError, r"^image: expected finite values", image=image)


def test_image_values_outside_0_1(package):
    image = photos() * 40.0 - 20.0
    out, mask = run(package, image=image)
    assert torch.equal(out[..., :3], image)
    assert mask.min() >= 0.0 and mask.max() <= 1.0 and torch.isfinite(mask).all()


def test_image_one_pixel_over_the_limit(package):
    image = torch.zeros(1, 1, 1, 3).expand(1, 2048, 2049, 3)
    expect_error(package, ValueError, r"^image: 2048 x 2049 \(H x W\) is over the limit",
                 image=image)
    taller = torch.zeros(1, 1, 1, 3).expand(1, 4194305, 1, 3)
    expect_error(package, ValueError, r"^image: 4194305 x 1 \(H x W\) is over the limit",
                 image=taller)


def test_image_huge_batch(package):
    image = torch.zeros(1, 8, 8, 3).expand(2**40, 8, 8, 3)
    expect_error(package, RuntimeError, r"^image: a batch of 1099511627776 images .* memory",
                 image=image)


def test_image_that_is_not_a_tensor(package):
    expect_error(package, ValueError, r"^image: expected a torch tensor",
                 image=photos().numpy())


# ------------------------------------------------------------------ the mask

def test_mask_batch_mismatch(package):
    expect_error(package, ValueError, r"^mask: batch of 2 does not match the image batch of 3",
                 image=photos(3), mask=torch.ones(2, 32, 48))


@pytest.mark.parametrize("shape", [(32,), (1, 1, 32, 48), (0, 32, 48), (1, 32, 0)])
def test_mask_shape(package, shape):
    expect_error(package, ValueError, r"^mask: ", image=photos(1), mask=torch.ones(shape))


def test_mask_dtype(package):
    expect_error(package, ValueError, r"^mask: expected dtype", image=photos(1),
                 mask=torch.ones(1, 32, 48, dtype=torch.int64))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_mask_nan_and_inf(package, bad):
    mask = torch.ones(2, 32, 48)
    mask[0, 3, 3] = bad
    expect_error(package, ValueError, r"^mask: expected finite values", image=photos(2),
                 mask=mask)


def test_mask_over_the_limit(package):
    mask = torch.ones(1, 1, 1).expand(1, 2049, 2048)
    expect_error(package, ValueError, r"^mask: 2049 x 2048 \(H x W\) is over the limit",
                 image=photos(1), mask=mask)


def test_mask_values_outside_0_1_are_clamped(package):
    mask = torch.full((1, 32, 48), 5.0)
    mask[0, :16] = -5.0
    _, out_mask = run(package, image=photos(1), mask=mask)
    assert (out_mask[0, :16] == 0).all()
    assert out_mask.min() >= 0.0 and out_mask.max() <= 1.0


# ----------------------------------------------------------- other inputs

@pytest.mark.parametrize("batch_size", [0, 65, -3])
def test_batch_size_out_of_range(package, batch_size):
    expect_error(package, ValueError, rf"^batch_size: expected an integer in 1\.\.64, got {batch_size}",
                 image=photos(1), batch_size=batch_size)


@pytest.mark.parametrize("name", ["../tiny", "", "a/b"])
def test_model_name_that_is_not_a_name(package, name):
    expect_error(package, ValueError, r"^model: expected a model name", image=photos(1), model=name)


# ----------------------------------------------------------------- models

def test_model_missing(package):
    expect_error(package, RuntimeError, r"^model: \"no_such_model\" not found", image=photos(1),
                 model="no_such_model")


@pytest.mark.parametrize("model, pattern", [
    ("empty", "empty file"),
    ("truncated", "not a loadable TorchScript file"),
    ("corrupt", ""),
    ("random", "not a loadable TorchScript file"),
    ("png_image", "not a loadable TorchScript file"),
    ("state_dict", ""),
    ("no_meta", "no metadata"),
    ("kind_depth", "unsupported \"kind\""),
])
def test_model_file_that_is_not_a_model(package, model, pattern):
    expect_error(package, RuntimeError, rf"^model: \"{model}\": .*{pattern}.*CUTOUT_ERR_MODEL_INVALID",
                 image=photos(1), model=model)


@pytest.mark.parametrize("model, pattern", [
    ("nan_out", "not finite"),
    ("inf_out", "not finite"),
    ("int64_out", "wrong dtype"),
    ("bool_out", "wrong dtype"),
    ("two_channels", r"wrong shape \(expected \[1,1,H,W\], got \[1,2,32,32\]\)"),
    ("rank3_out", "expected 4 dims"),
    ("doubled_batch", r"wrong shape \(expected \[1,1,H,W\], got \[2,1,32,32\]\)"),
    ("none_out", "expected a tensor"),
    ("tuple_int_first", "expected a tensor"),
])
def test_model_output_that_is_wrong(package, model, pattern):
    expect_error(package, RuntimeError, rf"^model output: {pattern}.*CUTOUT_ERR_INFERENCE",
                 image=photos(2), model=model, batch_size=2)


def test_model_that_raises(package):
    expect_error(package, RuntimeError, r"^model forward: .*CUTOUT_ERR_INFERENCE",
                 image=photos(1), model="raises")


def test_model_outputs_outside_0_1_are_clamped(package):
    _, mask = run(package, image=photos(2), model="wide_range")
    assert mask.min() >= 0.0 and mask.max() <= 1.0
    assert (mask == 1.0).any() or (mask == 0.0).any()

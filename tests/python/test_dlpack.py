"""DLPack crossings: inputs described in place whatever their strides and
dtype, outputs handed to torch with a deleter that runs exactly once."""

import ctypes
import gc

import pytest
import torch

import harness


def bridge(package):
    return harness.submodule(package, "dlpack_bridge")


class CountingManagedTensor:
    """A DLManagedTensor made in Python over a float32 buffer, whose deleter
    counts its calls."""

    def __init__(self, dlpack, values, shape, strides=None, dtype_code=2):
        self.deletes = 0
        self.buffer = (ctypes.c_float * len(values))(*values)
        self.shape = (ctypes.c_int64 * len(shape))(*shape)
        self.strides = (ctypes.c_int64 * len(shape))(*strides) if strides else None
        self.managed = dlpack.DLManagedTensor()
        tensor = self.managed.dl_tensor
        tensor.data = ctypes.cast(self.buffer, ctypes.c_void_p)
        tensor.device = dlpack.DLDevice(dlpack.KDL_CPU, 0)
        tensor.ndim = len(shape)
        tensor.dtype = dlpack.DLDataType(dtype_code, 32, 1)
        tensor.shape = ctypes.cast(self.shape, ctypes.POINTER(ctypes.c_int64))
        if self.strides is not None:
            tensor.strides = ctypes.cast(self.strides, ctypes.POINTER(ctypes.c_int64))

        def deleter(_self):
            self.deletes += 1

        self.deleter = dlpack.DLManagedTensorDeleter(deleter)
        self.managed.deleter = self.deleter

    @property
    def pointer(self):
        return ctypes.pointer(self.managed)


@pytest.mark.parametrize("strides", [None, (1, 3)], ids=["compact-null-strides", "explicit-strides"])
def test_output_capsule_deleter_runs_once_when_the_tensor_dies(stub_package, strides):
    dlpack = bridge(stub_package)
    owned = CountingManagedTensor(dlpack, [1, 2, 3, 4, 5, 6], (2, 3) if strides is None else (3, 2),
                                  strides)
    tensor = dlpack.managed_tensor_to_torch(owned.pointer)
    expected = [[1, 2, 3], [4, 5, 6]] if strides is None else [[1, 4], [2, 5], [3, 6]]
    assert tensor.tolist() == expected
    owned.buffer[0] = 42.0  # zero-copy: torch sees the producer's memory
    assert tensor.flatten()[0].item() == 42.0
    assert owned.deletes == 0
    view = tensor[0]
    del tensor
    gc.collect()
    assert owned.deletes == 0  # a view keeps the memory alive
    del view
    gc.collect()
    assert owned.deletes == 1


def test_output_torch_refuses_is_freed_by_the_wrapper(stub_package):
    dlpack = bridge(stub_package)
    owned = CountingManagedTensor(dlpack, [1, 2], (2,), dtype_code=3)  # opaque handle: torch refuses
    with pytest.raises(Exception):
        dlpack.managed_tensor_to_torch(owned.pointer)
    assert owned.deletes == 1


def test_input_descriptor_borrows_memory_with_its_strides(stub_package):
    dlpack = bridge(stub_package)
    base = torch.arange(2 * 5 * 7 * 4, dtype=torch.float32).reshape(2, 5, 7, 4)
    view = base[:, 1:, ::2, :3]
    borrowed = dlpack.BorrowedTensor(view)
    described = borrowed.pointer.contents
    assert described.data == view.data_ptr() and described.byte_offset == 0
    assert [described.shape[i] for i in range(4)] == list(view.shape)
    assert [described.strides[i] for i in range(4)] == list(view.stride())
    assert (described.dtype.code, described.dtype.bits, described.dtype.lanes) == (2, 32, 1)
    half = dlpack.BorrowedTensor(view.half()).pointer.contents
    assert (half.dtype.code, half.dtype.bits) == (2, 16)


def reference_run(package, image, **kwargs):
    return harness.run_node(package, image=image.contiguous().float(), model="stub", batch_size=2, **kwargs)


def layouts():
    photos = harness.photo_batch(3, size=(120, 80))
    transposed = photos.transpose(1, 2).contiguous().transpose(1, 2)  # H and W strides swapped
    rgba = torch.cat([photos, torch.ones_like(photos[..., :1])], dim=-1)
    return {
        "transposed": transposed,
        "every-other-pixel": photos[:, ::2, ::2, :],
        "rgb-of-rgba": rgba[..., :3],
        "batch-slice": photos[1:],
        "channels-last-of-nchw": photos.permute(0, 3, 1, 2).contiguous().permute(0, 2, 3, 1),
    }


@pytest.mark.parametrize("name", ["transposed", "every-other-pixel", "rgb-of-rgba", "batch-slice",
                                  "channels-last-of-nchw"])
def test_non_contiguous_inputs_give_the_contiguous_result(stub_package, stub_counters, name):
    image = layouts()[name]
    assert not image.is_contiguous() or name == "batch-slice"
    before = image.clone()
    out_image, out_mask = harness.run_node(stub_package, image=image, model="stub", batch_size=2)
    ref_image, ref_mask = reference_run(stub_package, image)
    assert torch.equal(out_image, ref_image) and torch.equal(out_mask, ref_mask)
    assert torch.equal(image, before)
    del out_image, out_mask, ref_image, ref_mask
    assert stub_counters.stub_live_tensors() == 0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_other_dtypes_come_back_in_the_input_dtype(stub_package, dtype):
    image = harness.photo_batch(2).to(dtype)
    before = image.clone()
    out_image, out_mask = harness.run_node(stub_package, image=image, model="stub", batch_size=1)
    assert out_image.dtype == dtype and out_mask.dtype == dtype
    assert out_image.device == image.device
    assert torch.equal(out_image[..., :3], image)  # RGB is bit-identical, even in fp16
    _, ref_mask = reference_run(stub_package, image)
    tolerance = {torch.float16: 1e-3, torch.bfloat16: 8e-3, torch.float64: 1e-6}[dtype]
    assert torch.allclose(out_mask.float(), ref_mask, atol=tolerance)
    assert torch.equal(image, before)


def test_two_dimensional_and_half_precision_masks(stub_package):
    image = harness.photo_batch(2)
    guide = torch.linspace(0, 1, 96).expand(64, 96)  # [H, W], stride 0 along H
    _, out_mask = harness.run_node(stub_package, image=image, model="stub", batch_size=1, mask=guide)
    _, ref_mask = reference_run(stub_package, image, mask=guide.contiguous()[None].expand(2, 64, 96).contiguous())
    assert torch.equal(out_mask, ref_mask)
    half_guide = guide.half()
    _, out_half = harness.run_node(stub_package, image=image, model="stub", batch_size=1, mask=half_guide)
    assert out_half.dtype == torch.float32  # outputs follow the IMAGE's dtype
    assert torch.allclose(out_half, ref_mask, atol=1e-3)


def test_output_deleters_run_exactly_once(stub_package, stub_counters):
    out_image, out_mask = harness.run_node(stub_package, image=harness.photo_batch(2), model="stub",
                                           batch_size=1)
    assert stub_counters.stub_live_tensors() == 2
    half = out_image[..., :2]
    del out_image
    assert stub_counters.stub_live_tensors() == 2  # the view keeps IMAGE alive
    del half
    assert stub_counters.stub_live_tensors() == 1
    del out_mask
    assert stub_counters.stub_live_tensors() == 0


def test_outputs_are_freed_over_200_calls(stub_package, stub_counters):
    image = harness.load_photo("portrait_astronaut.png", size=(256, 256))

    def call():
        out_image, out_mask = harness.run_node(stub_package, image=image, model="stub", batch_size=1)
        assert out_image.shape == (1, 256, 256, 4)

    for _ in range(20):
        call()
    gc.collect()
    start = harness.rss_bytes()
    for _ in range(200):
        call()
    gc.collect()
    growth = harness.rss_bytes() - start
    assert stub_counters.stub_live_tensors() == 0
    # One leaked output pair is 1.25 MiB: 200 of them would add 250 MiB.
    assert growth < 16 * 2**20, f"RSS grew by {growth / 2**20:.1f} MiB over 200 calls"

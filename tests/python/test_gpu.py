"""The package on a CUDA GPU (ctest label "gpu"). tests/gpu-check runs it on
a machine with one; tests/run does not, and on a machine without CUDA every
test here is skipped. The expected mattes are the CPU torch references of
test_real_library.py: a GPU must give the same mattes, within fp16's step."""

import pytest
import torch

import comfy.model_management
import comfy.utils
import harness
from test_real_library import expected_alpha

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def test_fp16_cuda_in_and_out_with_a_guide_mask_on_the_gpu(real_package):
    image = harness.photo_batch(3, size=(150, 100)).cuda().half()
    guide = torch.rand(3, 100, 150, device="cuda")
    out_image, out_mask = harness.run_node(real_package, image=image, model="tiny", batch_size=2, mask=guide)
    assert out_image.device == image.device and out_mask.device == image.device
    assert out_image.dtype == torch.float16 and out_mask.dtype == torch.float16
    assert torch.equal(out_image[..., :3], image)
    expected = expected_alpha(image.float().cpu()) * guide.cpu()
    assert torch.allclose(out_mask.float().cpu(), expected, atol=3e-3)


def test_batched_passes_give_the_per_image_mattes(real_package):
    image = harness.photo_batch(5, size=(128, 96)).cuda()
    _, one_by_one = harness.run_node(real_package, image=image, model="tiny", batch_size=1, precision="fp32")
    _, batched = harness.run_node(real_package, image=image, model="tiny", batch_size=4, precision="fp32")
    assert torch.allclose(batched, one_by_one, atol=1e-5)
    _, best = harness.run_node(real_package, image=image, model="tiny", batch_size=4, precision="fp32",
                               quality="best")
    expected = (expected_alpha(image.cpu()) + expected_alpha(image.cpu(), power=1.0)) / 2
    assert torch.allclose(best.cpu(), expected, atol=1e-4)


def test_cancel_between_chunks(real_package):
    comfy.utils.request_interrupt_after(2)
    with pytest.raises(comfy.model_management.InterruptProcessingException):
        harness.run_node(real_package, image=harness.photo_batch(6).cuda(), model="tiny", batch_size=2)
    assert comfy.utils.progress_log == [(1, 6), (2, 6)]
    assert not comfy.model_management.processing_interrupted()
    torch.cuda.synchronize()

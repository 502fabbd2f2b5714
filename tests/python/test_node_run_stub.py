"""Running the node on real photos against the stub library, whose fake model
predicts alpha = mean(R, G, B) per pixel, so every output value is known."""

import pytest
import torch

import comfy.model_management
import comfy.utils
import harness


def stub_alpha(image):
    return image[..., :3].float().mean(dim=-1).clamp(0, 1)


def test_batch_of_photos(stub_package, stub_counters):
    image = harness.photo_batch(4)
    before = image.clone()
    out_image, out_mask = harness.run_node(stub_package, image=image, model="stub", batch_size=3)
    assert out_image.shape == (4, 64, 96, 4) and out_mask.shape == (4, 64, 96)
    assert out_image.dtype == torch.float32 and out_mask.dtype == torch.float32
    assert torch.equal(out_image[..., :3], image)  # RGB untouched
    assert torch.allclose(out_mask, stub_alpha(image), atol=1e-6)
    assert torch.equal(out_image[..., 3], out_mask)  # MASK is the alpha channel
    assert torch.equal(image, before)  # the input is never written
    # batch_size 3 over 4 images: two forward passes, progress once per item.
    assert [stub_counters.stub_predict_count(i) for i in range(2)] == [3, 1]
    assert comfy.utils.progress_log == [(1, 4), (2, 4), (3, 4), (4, 4)]
    del out_image, out_mask
    assert stub_counters.stub_live_tensors() == 0


def test_rgba_photo_alpha_multiplies_the_result(stub_package):
    image = harness.load_photo("rgba_bear_tuxpaint.png", mode="RGBA")
    out_image, out_mask = harness.run_node(stub_package, image=image, model="stub", batch_size=1)
    expected = stub_alpha(image) * image[..., 3]
    assert torch.allclose(out_mask, expected, atol=1e-6)
    assert (out_mask[image[..., 3] == 0] == 0).all()
    assert torch.equal(out_image[..., :3], image[..., :3])


def test_guide_mask_batch_and_single(stub_package):
    image = harness.photo_batch(3)
    guide = torch.zeros(3, 64, 96)
    guide[0, :, :48] = 1.0
    guide[1, 10:50, 20:80] = 0.5
    guide[2] = 1.0
    _, out_mask = harness.run_node(stub_package, image=image, model="stub", batch_size=1, mask=guide)
    assert torch.allclose(out_mask, stub_alpha(image) * guide, atol=1e-6)
    # An H x W mask applies to every image of the batch.
    single = guide[1]
    _, out_mask = harness.run_node(stub_package, image=image, model="stub", batch_size=1, mask=single)
    assert torch.allclose(out_mask, stub_alpha(image) * single, atol=1e-6)


def test_interrupt_after_item_k(stub_package, stub_counters):
    image = harness.photo_batch(5)
    comfy.utils.request_interrupt_after(2)
    with pytest.raises(comfy.model_management.InterruptProcessingException):
        harness.run_node(stub_package, image=image, model="stub", batch_size=1)
    assert comfy.utils.progress_log == [(1, 5), (2, 5)]
    assert not comfy.model_management.processing_interrupted()  # ComfyUI's flag is consumed
    assert stub_counters.stub_live_tensors() == 0  # the library freed its outputs


def test_interrupt_raised_inside_the_progress_hook(stub_package, stub_counters):
    # ComfyUI's own progress hook calls throw_exception_if_processing_interrupted(),
    # so the interrupt arrives as an exception inside the C callback.
    hook_calls = []

    def comfy_like_hook(value, total, preview):
        hook_calls.append(value)
        comfy.model_management.throw_exception_if_processing_interrupted()

    comfy.utils.set_progress_bar_global_hook(comfy_like_hook)
    comfy.utils.request_interrupt_after(3)
    with pytest.raises(comfy.model_management.InterruptProcessingException):
        harness.run_node(stub_package, image=harness.photo_batch(5), model="stub", batch_size=1)
    assert hook_calls == [1, 2, 3]
    assert comfy.utils.progress_log == [(1, 5), (2, 5), (3, 5)]
    assert stub_counters.stub_live_tensors() == 0


def test_interrupt_before_the_first_item(stub_package, stub_counters):
    comfy.model_management.interrupt_current_processing(True)
    with pytest.raises(comfy.model_management.InterruptProcessingException):
        harness.run_node(stub_package, image=harness.photo_batch(2), model="stub", batch_size=1)
    assert comfy.utils.progress_log == []
    assert stub_counters.stub_predict_calls() == 0
    assert stub_counters.stub_live_tensors() == 0


def test_exception_in_a_callback_does_not_escape_into_c(stub_package, stub_counters):
    def failing_hook(value, total, preview):
        if value == 2:
            raise KeyError("hook failed at item 2")

    comfy.utils.set_progress_bar_global_hook(failing_hook)
    with pytest.raises(KeyError, match="hook failed at item 2"):
        harness.run_node(stub_package, image=harness.photo_batch(4), model="stub", batch_size=1)
    assert comfy.utils.progress_log == [(1, 4), (2, 4)]
    assert stub_counters.stub_live_tensors() == 0


def test_exception_in_the_last_progress_call_frees_the_outputs(stub_package, stub_counters):
    def failing_hook(value, total, preview):
        if value == total:
            raise KeyError("hook failed at the last item")

    comfy.utils.set_progress_bar_global_hook(failing_hook)
    with pytest.raises(KeyError):
        harness.run_node(stub_package, image=harness.photo_batch(2), model="stub", batch_size=1)
    assert stub_counters.stub_live_tensors() == 0


BAD_IMAGES = {
    "rank 3": (lambda: harness.photo_batch(1)[0], "image"),
    "5 channels": (lambda: torch.rand(1, 8, 8, 5), "image"),
    "nan": (lambda: torch.full((1, 8, 8, 3), float("nan")), "image"),
    "int64": (lambda: torch.zeros(1, 8, 8, 3, dtype=torch.int64), "image"),
    "over the pixel limit": (lambda: torch.zeros(1, 1, 1, 3).expand(1, 2049, 2048, 3), "image"),
}


@pytest.mark.parametrize("case", list(BAD_IMAGES))
def test_bad_image_is_a_value_error_naming_the_input(stub_package, stub_counters, case):
    make, name = BAD_IMAGES[case]
    with pytest.raises(ValueError) as raised:
        harness.run_node(stub_package, image=make(), model="stub", batch_size=1)
    assert str(raised.value).startswith(f"{name}:"), str(raised.value)
    assert stub_counters.stub_live_tensors() == 0


def test_bad_mask_and_batch_size_are_value_errors(stub_package):
    image = harness.photo_batch(2)
    with pytest.raises(ValueError, match=r"^mask:"):
        harness.run_node(stub_package, image=image, model="stub", batch_size=1,
                         mask=torch.ones(2, 3, 64, 96))
    with pytest.raises(ValueError, match=r"^batch_size:"):
        harness.run_node(stub_package, image=image, model="stub", batch_size=0)
    with pytest.raises(ValueError, match=r"^image: expected a torch tensor"):
        harness.run_node(stub_package, image=[[0.5]], model="stub", batch_size=1)


def test_model_errors_are_runtime_errors(stub_package, comfy_root):
    image = harness.photo_batch(1)
    with pytest.raises(RuntimeError) as raised:
        harness.run_node(stub_package, image=image, model="no_such_model", batch_size=1)
    assert "CUTOUT_ERR_MODEL_NOT_FOUND" in str(raised.value)
    assert str(comfy_root / "models" / "cutout") in str(raised.value)
    assert not isinstance(raised.value, ValueError)
    # tiny.pt is TorchScript, which the stub does not load.
    with pytest.raises(RuntimeError, match="CUTOUT_ERR_MODEL_INVALID"):
        harness.run_node(stub_package, image=image, model="tiny", batch_size=1)


def test_models_are_released_when_comfyui_frees_memory(stub_package, stub_counters):
    # ComfyUI's "unload models" request and its free_memory() both drop the
    # loaded models; the next run loads the model again and still works.
    image = harness.photo_batch(1)
    harness.run_node(stub_package, image=image, model="stub", batch_size=1)
    harness.run_node(stub_package, image=image, model="stub", batch_size=1)
    assert stub_counters.stub_models_loaded() == 1
    unloads = comfy.model_management.unload_calls
    comfy.model_management.unload_all_models()
    assert comfy.model_management.unload_calls == unloads + 1  # ComfyUI's own work still runs
    _, mask = harness.run_node(stub_package, image=image, model="stub", batch_size=1)
    assert stub_counters.stub_models_loaded() == 2
    assert torch.allclose(mask, stub_alpha(image), atol=1e-6)
    comfy.model_management.free_memory(1 << 30, torch.device("cpu"))
    harness.run_node(stub_package, image=image, model="stub", batch_size=1)
    assert stub_counters.stub_models_loaded() == 3


def test_frames_are_smoothed_with_the_previous_one(stub_package):
    # The Advanced node's temporal input (the stub blends with the previous
    # smoothed matte): frame 2 of photo, inverse, photo is pulled halfway
    # towards frame 1's smoothed matte.
    photo = harness.photo_batch(1)
    frames = torch.cat([photo, 1.0 - photo, photo])
    advanced = stub_package.NODE_CLASS_MAPPINGS["CutoutRemoveBackgroundAdvanced"]
    run = getattr(advanced(), advanced.FUNCTION)
    plain = run(image=frames, model="stub")[1]
    smooth = run(image=frames, model="stub", temporal=0.5)[1]
    s1 = plain[1] + 0.5 * (plain[0] - plain[1])
    assert torch.allclose(smooth[0], plain[0], atol=1e-6)
    assert torch.allclose(smooth[1], s1, atol=1e-6)
    assert torch.allclose(smooth[2], plain[2] + 0.5 * (s1 - plain[2]), atol=1e-6)

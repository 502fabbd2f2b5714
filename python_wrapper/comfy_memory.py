"""ComfyUI's memory management, as cutout takes part in it.

- When ComfyUI is asked to free memory (the "unload models" request runs
  comfy.model_management.unload_all_models(); loading another model calls
  free_memory()), the nodes' contexts are dropped, and with them every
  loaded cutout model; the next run loads its model again. A context still
  running a node is freed when that call returns.
- After a run on a GPU, cached blocks go back to the driver
  (model_management.soft_empty_cache(), as ComfyUI's own nodes do).
- On a GPU the chunk of frames per forward pass (batch_size) is capped by
  the free memory, so that a large batch_size does not start with an
  allocation that must fail; a chunk that still runs out of memory is
  retried at half its size by the library.

Threading: install() once at import; the hooks may run on any thread.
"""

import threading

import torch

# Device bytes one image of the model's input needs in a forward pass, per
# input pixel, as a conservative estimate for fp16 on CUDA (activations of
# ISNet-sized models); the library halves a chunk that still does not fit.
BYTES_PER_INPUT_PIXEL = 1200
# The share of the free memory a chunk may take.
FREE_SHARE = 0.8

_lock = threading.Lock()
_caches = []
_installed = False


def register(cache):
    """Lets `cache` (a ContextCache) be cleared when ComfyUI frees memory."""
    with _lock:
        _caches.append(cache)


def release_models():
    """Drops every registered cache's contexts (and so their models)."""
    with _lock:
        caches = list(_caches)
    for cache in caches:
        cache.clear()


# Kept on ComfyUI's module, so that every copy of this package that was
# loaded (a reload makes a new one) is released by the same hooks.
_HOOKS = "_cutout_release_hooks"


def _wrap(module, name):
    original = getattr(module, name, None)
    if original is None or getattr(original, "_cutout_wrapped", False):
        return

    def wrapper(*args, **kwargs):
        for hook in list(getattr(module, _HOOKS, ())):
            hook()
        return original(*args, **kwargs)

    wrapper._cutout_wrapped = True
    wrapper.__wrapped__ = original
    wrapper.__doc__ = original.__doc__
    setattr(module, name, wrapper)


def install(model_management):
    """Hooks release_models() into ComfyUI's unload_all_models() and
    free_memory() (no-op outside ComfyUI; once per package copy)."""
    global _installed
    if model_management is None:
        return
    with _lock:
        if _installed:
            return
        _installed = True
        if not hasattr(model_management, _HOOKS):
            setattr(model_management, _HOOKS, [])
        getattr(model_management, _HOOKS).append(release_models)
    _wrap(model_management, "unload_all_models")
    _wrap(model_management, "free_memory")


def chunk_for_free_memory(batch_size, device, input_pixels):
    """batch_size capped so that a chunk's forward pass fits the free memory
    of CUDA `device`; batch_size itself on other devices or when the free
    memory cannot be read."""
    if device.type != "cuda" or not torch.cuda.is_available():
        return batch_size
    try:
        free, _ = torch.cuda.mem_get_info(device)
    except RuntimeError:
        return batch_size
    per_item = max(1, input_pixels * BYTES_PER_INPUT_PIXEL)
    return max(1, min(batch_size, int(free * FREE_SHARE) // per_item))


def after_run(model_management, device):
    """Gives cached GPU blocks back after a run (ComfyUI's soft_empty_cache)."""
    if model_management is not None and device.type == "cuda":
        model_management.soft_empty_cache()

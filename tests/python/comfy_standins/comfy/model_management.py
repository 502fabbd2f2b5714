"""Stand-in for comfy.model_management: ComfyUI's interrupt flag and exception."""

import threading


class InterruptProcessingException(Exception):
    pass


_lock = threading.RLock()
interrupt_processing = False


def interrupt_current_processing(value=True):
    global interrupt_processing
    with _lock:
        interrupt_processing = value


def processing_interrupted():
    with _lock:
        return interrupt_processing


def throw_exception_if_processing_interrupted():
    """Like ComfyUI's: clears the flag and raises when it was set."""
    global interrupt_processing
    with _lock:
        if interrupt_processing:
            interrupt_processing = False
            raise InterruptProcessingException()


# ComfyUI's memory requests, counted so tests see them arrive.
unload_calls = 0
free_memory_calls = 0
soft_empty_cache_calls = 0


def unload_all_models():
    global unload_calls
    unload_calls += 1


def free_memory(memory_required, device, keep_loaded=()):
    global free_memory_calls
    free_memory_calls += 1


def soft_empty_cache(force=False):
    global soft_empty_cache_calls
    soft_empty_cache_calls += 1

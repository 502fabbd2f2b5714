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

"""Stand-in for comfy.utils: a ProgressBar that records every update.

Same surface as ComfyUI's: ProgressBar(total), update_absolute(value,
total=None, preview=None), update(value), and a process-wide hook set with
set_progress_bar_global_hook(). Tests read `progress_log` and may ask for an
interrupt once item k is done (request_interrupt_after).
"""

from . import model_management

PROGRESS_BAR_HOOK = None

# (value, total) of every update_absolute call, in order.
progress_log = []

_interrupt_after = None


def set_progress_bar_global_hook(function):
    global PROGRESS_BAR_HOOK
    PROGRESS_BAR_HOOK = function


def request_interrupt_after(k):
    """Sets ComfyUI's interrupt flag as soon as progress reaches k (None: never)."""
    global _interrupt_after
    _interrupt_after = k


def reset():
    global PROGRESS_BAR_HOOK, _interrupt_after
    PROGRESS_BAR_HOOK = None
    _interrupt_after = None
    progress_log.clear()


class ProgressBar:
    def __init__(self, total):
        self.total = total
        self.current = 0
        self.hook = PROGRESS_BAR_HOOK

    def update_absolute(self, value, total=None, preview=None):
        if total is not None:
            self.total = total
        value = min(value, self.total)
        self.current = value
        progress_log.append((value, self.total))
        if _interrupt_after is not None and value >= _interrupt_after:
            model_management.interrupt_current_processing(True)
        if self.hook is not None:
            self.hook(self.current, self.total, preview)

    def update(self, value):
        self.update_absolute(self.current + value)

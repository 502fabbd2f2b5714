"""An exclusive lock on a file, shared by processes and threads.

Two ComfyUI processes (or two workers) may share one models folder; a lock
file per cache entry makes the second one wait for the first one's import
and then use its result, instead of converting the same file twice.

POSIX: fcntl.flock; Windows: msvcrt.locking on the file's first byte. Each
acquisition opens the file anew, so two threads of one process exclude each
other too. The lock is released when the file is closed, also when the
process dies, so a crashed import never leaves the entry locked.
"""

import os
import time

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt

POLL_SECONDS = 0.2


def _try_lock(fd):
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        return True
    except OSError:
        return False


class FileLock:
    """Holds an exclusive lock on `path` (created if missing) inside a with
    block. while_waiting() is called every POLL_SECONDS while another holder
    has it; an exception it raises (ComfyUI's interrupt) stops the wait and
    propagates. Raises OSError when the file cannot be created."""

    def __init__(self, path, while_waiting=None):
        self.path = path
        self.while_waiting = while_waiting
        self._fd = None

    def __enter__(self):
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            while not _try_lock(fd):
                if self.while_waiting is not None:
                    self.while_waiting()
                time.sleep(POLL_SECONDS)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def __exit__(self, *exc):
        fd, self._fd = self._fd, None
        if fcntl is None:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        os.close(fd)  # closing releases a flock
        return False

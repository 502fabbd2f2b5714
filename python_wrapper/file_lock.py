"""An exclusive lock on a file, shared by processes and threads.

Two ComfyUI processes (or two workers) may share one models folder; a lock
file per cache entry makes the second one wait for the first one's import
and then use its result, instead of converting the same file twice.

POSIX: fcntl.flock; Windows: msvcrt.locking on the file's first byte. Each
acquisition opens the file anew, so two threads of one process exclude each
other too. The lock is released when the file is closed, also when the
process dies, so a crashed import never leaves the entry locked.
"""

import errno
import os
import time

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt

POLL_SECONDS = 0.2


# The errors that mean "another holder has it"; any other (ENOLCK on a
# filesystem without locks, EBADF, ...) is a failure to report at once, not
# a reason to wait forever.
BUSY_ERRNOS = {errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES}
if hasattr(errno, "EDEADLK"):
    BUSY_ERRNOS.add(errno.EDEADLK)  # what msvcrt.locking reports for a held byte


def _try_lock(fd, path):
    """True when the lock was taken, False when another holder has it.
    Raises OSError naming `path` for any other failure."""
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        return True
    except OSError as e:
        if e.errno in BUSY_ERRNOS:
            return False
        raise OSError(e.errno, f"cannot lock {path}: {e.strerror}") from e


class FileLock:
    """Holds an exclusive lock on `path` (created if missing) inside a with
    block. while_waiting() is called every POLL_SECONDS while another holder
    has it; an exception it raises (ComfyUI's interrupt) stops the wait and
    propagates. Raises OSError when the file cannot be created or locked
    for any reason other than another holder (ENOLCK: a filesystem without
    locks), at once."""

    def __init__(self, path, while_waiting=None):
        self.path = path
        self.while_waiting = while_waiting
        self._fd = None

    def __enter__(self):
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            while not _try_lock(fd, self.path):
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

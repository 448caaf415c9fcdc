"""File locks: open-file-description record locks (fcntl F_OFD_*), or
whole-file flock(2) locks.

A lock belongs to the FileLock handle: it conflicts with other handles,
even in the same process, and goes away when the handle is closed or the
process exits. Give each thread its own handle.

The kernel keeps the two kinds apart: a record lock (the default) excludes
other programs' fcntl/lockf locks, a whole-file lock (whole=True) excludes
flock(1) and flock(2) users. Pick the kind the other programs use.
"""
import ctypes
import errno as _errno

from ._lib import check, encode, lib, ms, wait
from ._types import flock_p

FLOCK_SHARED = 0x1
FLOCK_WHOLE = 0x2
_SYNC_CREATE = 0x1


class FileLock:
    """``with FileLock(path):`` holds an exclusive lock on the whole file;
    ``FileLock(path, whole=True)`` makes it a flock(2) lock, the kind
    flock(1) takes."""

    __slots__ = ("_h", "whole", "__weakref__")

    def __init__(self, path, create=True, whole=False):
        """Open path (create=True: create it mode 0600 if missing). whole:
        lock with flock(2) instead of an open-file-description record
        lock (whole file only: no ranges)."""
        self._h = None
        self.whole = bool(whole)
        out = flock_p()
        check(lib.ipk_flock_open(ctypes.byref(out), encode(path),
                                 _SYNC_CREATE if create else 0))
        self._h = out

    def _handle(self):
        if self._h is None:
            raise ValueError("operation on a closed FileLock")
        return self._h

    def lock(self, shared=False, start=0, length=0, timeout=None,
             whole=None):
        """Lock length bytes from start (0, 0: the whole file, however it
        grows), shared (read) or exclusive, waiting up to timeout seconds.
        Locking a range already held converts it. whole (default: the
        handle's kind): a flock(2) lock, start and length must be 0."""
        flags = FLOCK_SHARED if shared else 0
        if self.whole if whole is None else whole:
            flags |= FLOCK_WHOLE
        check(wait(lib.ipk_flock_lock, (self._handle(), flags, start,
                                        length), ms(timeout)))

    def acquire(self, blocking=True, timeout=None, shared=False):
        """True when locked (whole file), False on timeout."""
        try:
            self.lock(shared, 0, 0, timeout if blocking else 0)
            return True
        except OSError as e:
            if e.errno in (_errno.ETIMEDOUT, _errno.EAGAIN):
                return False
            raise

    def unlock(self, start=0, length=0):
        """Unlock a range; 0, 0 (the default) releases the whole file,
        a flock(2) lock included."""
        check(lib.ipk_flock_unlock(self._handle(), start, length))

    release = unlock

    def fileno(self):
        """The descriptor (owned by the handle)."""
        return check(lib.ipk_flock_fd(self._handle()))

    def close(self):
        """Close the handle, releasing its locks."""
        h, self._h = self._h, None
        if h is not None:
            check(lib.ipk_flock_close(h))

    def __del__(self):
        if getattr(self, "_h", None) is not None:
            try:
                lib.ipk_flock_close(self._h)
            except Exception:
                pass
            self._h = None

    def __enter__(self):
        self.lock()
        return self

    def __exit__(self, *exc):
        self.unlock()

"""ipckit.Error and its subclasses: an OSError with the library's own message.

Every failing call raises an Error whose errno is the library's (positive)
error code and whose strerror is the detailed message ipk_last_error() gave
right after the failure, in the thread that made the call. The common codes
get classes that are also the matching built-in OSError subclasses, so
``except TimeoutError`` and ``except BrokenPipeError`` work as usual.
"""
import errno as _errno


class Error(OSError):
    """A failed libipckit call: errno is the code, strerror the detail."""


class Timeout(Error, TimeoutError):
    """ETIMEDOUT: the timeout expired."""


class WouldBlock(Error, BlockingIOError):
    """EAGAIN: timeout 0 and the call would have blocked."""


class PeerGone(Error, BrokenPipeError):
    """EPIPE: the peer went away (send or receive)."""


class NotFound(Error, FileNotFoundError):
    """ENOENT: the named object does not exist."""


class Exists(Error, FileExistsError):
    """EEXIST: the object exists already."""


class PermissionDenied(Error, PermissionError):
    """EACCES/EPERM."""


class OwnerDead(Error):
    """The previous holder of a robust lock died holding it.

    The caller now holds the lock; what it protects may be half updated.
    Repair it, then call ``consistent()`` (on the exception or the lock) and
    unlock. Unlocking without it makes the lock unusable for everyone
    (NotRecoverable).
    """

    lock = None

    def consistent(self):
        """Mark the lock consistent again (the caller still holds it)."""
        self.lock.consistent()


class NotRecoverable(Error):
    """ENOTRECOVERABLE: a robust lock was unlocked after its owner died
    without being marked consistent; nobody can take it any more."""


_BY_ERRNO = {
    _errno.ETIMEDOUT: Timeout,
    _errno.EAGAIN: WouldBlock,
    _errno.EPIPE: PeerGone,
    _errno.ENOENT: NotFound,
    _errno.EEXIST: Exists,
    _errno.EACCES: PermissionDenied,
    _errno.EPERM: PermissionDenied,
    _errno.EOWNERDEAD: OwnerDead,
    _errno.ENOTRECOVERABLE: NotRecoverable,
}


def make_error(code, detail):
    """The exception for a negative (or positive) library error code."""
    code = -code if code < 0 else code
    return _BY_ERRNO.get(code, Error)(code, detail)

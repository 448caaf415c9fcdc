"""ipckit: every Linux IPC mechanism from Python, over libipckit.

    import ipckit
    with ipckit.listen("shm:/frames?size=64M") as ring:
        for msg in ring:              # bytes, one message each
            ...
    with ipckit.dial("unix:/run/app.sock", timeout=5) as c:
        c.send(b"hello")

Timeouts are seconds (float); None waits forever, 0 never blocks. Errors
are ipckit.Error (an OSError) carrying errno and the library's detailed
message. docs/python.md has the tutorial; include/ipckit.h the reference.
The library is found next to the installed package, through the dynamic
linker, or at $IPCKIT_LIB (a path to libipckit.so).
"""
import ctypes as _ctypes

from ._errors import (Error, Exists, NotFound, NotRecoverable, OwnerDead,
                      PeerGone, PermissionDenied, Timeout, WouldBlock)
from ._lib import lib as _cdll
from . import aio
from . import objects
from .channel import (MSG_EXCEPT, MSG_NOERROR, POLLIN, POLLOUT, Channel,
                      Message, QueueInfo, RingInfo, dial, listen, pair, poll,
                      queue_stat, remove, scheme_built, scheme_summary,
                      schemes, signal_block, spawn)
from .flock import FileLock
from .region import Region, RegionInfo, region_stat
from .route import Route
from .sync import (SEMOP_NOUNDO, SEMOP_UNDO, Cond, Mutex, RWLock, Semaphore,
                   sync_remove)
from .zerocopy import Loan, MessageView

FOREVER = None


def version():
    """The library's version, "MAJOR.MINOR.PATCH"."""
    return _cdll.ipk_version().decode()


def strerror(code):
    """Text for an error code (negative or positive errno)."""
    return _cdll.ipk_strerror(code).decode("utf-8", "replace")


def last_error():
    """Detailed message of the last failure of an ipckit call in this
    thread (the exceptions carry it already)."""
    return _cdll.ipk_last_error().decode("utf-8", "replace")


_WARN_FN = _ctypes.CFUNCTYPE(None, _ctypes.c_char_p, _ctypes.c_void_p)
_warn_kept = None  # the C callback must live as long as it is installed


def set_warn_handler(fn):
    """Call fn(message) with each warning the library has for a person (a
    peer it dropped because it spoke the wrong protocol, a refused user);
    None stops it. fn may be called from any thread using a channel."""
    global _warn_kept
    if fn is None:
        _cdll.ipk_set_warn_handler(None, None)
        _warn_kept = None
        return
    cb = _WARN_FN(lambda msg, arg: fn(msg.decode("utf-8", "replace")))
    _cdll.ipk_set_warn_handler(_ctypes.cast(cb, _ctypes.c_void_p), None)
    _warn_kept = cb


__version__ = version()

__all__ = [
    "Error", "Exists", "NotFound", "NotRecoverable", "OwnerDead", "PeerGone",
    "PermissionDenied", "Timeout", "WouldBlock", "aio", "objects",
    "MSG_EXCEPT", "MSG_NOERROR", "POLLIN", "POLLOUT", "Channel", "Message",
    "QueueInfo", "RingInfo", "dial", "listen", "pair", "poll", "queue_stat", "remove",
    "scheme_built", "scheme_summary", "schemes", "signal_block", "spawn",
    "FileLock", "Region", "RegionInfo", "region_stat", "SEMOP_NOUNDO",
    "SEMOP_UNDO", "Cond", "Mutex", "RWLock", "Semaphore", "sync_remove",
    "Loan", "MessageView", "Route", "FOREVER", "version", "strerror", "last_error",
    "set_warn_handler",
]

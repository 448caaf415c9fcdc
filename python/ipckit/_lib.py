"""Finding and loading libipckit.so, and calling it.

Where the library comes from, first match wins:
  1. $IPCKIT_LIB: the path of libipckit.so (or of the directory holding it),
     for running against a build tree: IPCKIT_LIB=build/libipckit.so
  2. next to the installed package: the library directory recorded by
     ``make install`` (in _paths.py, relative to the package)
  3. the dynamic linker's own search (ld.so.cache, LD_LIBRARY_PATH)
"""
import ctypes
import errno as _errno
import math
import os
import time

from . import _api
from ._errors import make_error

_SONAMES = ("libipckit.so.0", "libipckit.so")


def _candidates():
    env = os.environ.get("IPCKIT_LIB")
    if env:
        if os.path.isdir(env):
            return [os.path.join(env, n) for n in _SONAMES], True
        return [env], True
    out = []
    try:
        from . import _paths
        here = os.path.dirname(os.path.abspath(__file__))
        libdir = os.path.normpath(os.path.join(here, _paths.LIBDIR))
        out += [os.path.join(libdir, n) for n in _SONAMES]
    except ImportError:  # running from the source tree
        pass
    return out + list(_SONAMES), False


def _load():
    tried = []
    names, forced = _candidates()
    for name in names:
        if os.sep in name and not os.path.exists(name):
            tried.append(name + " (absent)")
            continue
        try:
            return ctypes.CDLL(name), name
        except OSError as e:
            tried.append("%s (%s)" % (name, e))
            if forced:
                break
    raise ImportError(
        "ipckit: cannot load libipckit.so; tried: %s. Install the library "
        "(make install) or point IPCKIT_LIB at it, e.g. "
        "IPCKIT_LIB=/path/to/build/libipckit.so" % "; ".join(tried))


lib, path = _load()

MISSING = []  # prototypes the loaded library does not export (older build)
for _name, _res, _args, _where in _api.PROTOTYPES:
    try:
        _f = getattr(lib, _name)
    except AttributeError:
        MISSING.append(_name)
        continue
    _f.restype = _res
    _f.argtypes = _args

_last_error = lib.ipk_last_error
_strerror = lib.ipk_strerror

# What wait() returns when alive() said the channel was closed (by another
# thread) between two slices: no errno has this value.
CLOSED = -(1 << 30)


def error(rc):
    """The exception for a failed call. Call it right after the failure, in
    the same thread, before any other ipckit call: the library keeps the
    detailed message per thread and the next failure replaces it."""
    if rc == CLOSED:
        return ValueError("the channel was closed (by another thread) while "
                          "this call waited")
    detail = _last_error().decode("utf-8", "replace")
    code = -rc if rc < 0 else rc
    if detail == "no error recorded":
        detail = _strerror(code).decode("utf-8", "replace")
    return make_error(code, detail)


def check(rc):
    """rc unchanged when >= 0; otherwise raise the library's error."""
    if rc < 0:
        raise error(rc)
    return rc


def text(b):
    return b.decode("utf-8", "surrogateescape") if b is not None else None


def encode(s):
    """An address or path as bytes for the C side (str, bytes or PathLike)."""
    s = os.fspath(s)
    if isinstance(s, str):
        s = s.encode("utf-8", "surrogateescape")
    if b"\0" in s:
        raise ValueError("embedded NUL in %r" % (s,))
    return s


_INT_MAX = 2**31 - 1


def ms(timeout):
    """Seconds (float, None = forever) to the library's timeout_ms."""
    if timeout is None:
        return -1
    if timeout <= 0:
        if timeout < 0:
            raise ValueError("timeout must be None (forever) or >= 0 seconds")
        return 0
    t = timeout * 1000.0
    if t >= _INT_MAX:
        return -1 if t == float("inf") else _INT_MAX
    n = int(t)
    return n + 1 if n < t else n  # round up: 0.0001 s still waits


# Blocking calls wait in C at most this long at a time, so that Python runs
# its signal handlers (Ctrl-C raises KeyboardInterrupt) while a program
# waits: the library itself never lets a signal end a wait.
SLICE_MS = 200
ETIMEDOUT = -_errno.ETIMEDOUT
_now = time.monotonic


def wait(fn, args, t, alive=None):
    """fn(*args, timeout_ms) waiting t ms (-1: forever) in slices of at most
    SLICE_MS; the result of the last slice, or CLOSED once alive() is false
    after a slice."""
    if 0 <= t <= SLICE_MS:
        return fn(*args, t)
    if t < 0:
        while True:
            rc = fn(*args, SLICE_MS)
            if rc != ETIMEDOUT:
                return rc
            if alive is not None and not alive():
                return CLOSED
    end = _now() + t / 1000.0
    step = SLICE_MS
    while True:
        rc = fn(*args, step)
        if rc != ETIMEDOUT:
            return rc
        if alive is not None and not alive():
            return CLOSED
        left = end - _now()
        if left <= 0:
            return rc
        step = min(SLICE_MS, math.ceil(left * 1000.0))


def more(fn, args, t, alive=None):
    """After a first slice of SLICE_MS timed out: the rest of t."""
    return wait(fn, args, t - SLICE_MS if t > 0 else -1, alive)


_GAVE_UP = (ETIMEDOUT, -_errno.ENOENT, -_errno.ECONNREFUSED, -_errno.EAGAIN)


def wait_appear(fn, args, t):
    """Like wait() for calls that, when the time is up, report why they
    could not finish (dial: 'no such file', 'connection refused') instead of
    ETIMEDOUT: a slice that used all its time and failed that way goes on."""
    if 0 <= t <= SLICE_MS:
        return fn(*args, t)
    end = None if t < 0 else _now() + t / 1000.0
    while True:
        step = SLICE_MS
        if end is not None:
            step = min(SLICE_MS, max(0, math.ceil((end - _now()) * 1000.0)))
        t0 = _now()
        rc = fn(*args, step)
        if rc >= 0 or rc not in _GAVE_UP:
            return rc
        if (_now() - t0) * 1000.0 < step * 0.9:  # gave up early: for real
            return rc
        if end is not None and _now() >= end:
            return rc

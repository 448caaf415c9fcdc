"""Addresses of Python buffers, and memoryviews over the library's memory.

Two jobs:

* ``Pinned(obj, writable)``: the address and length of any bytes-like
  object (bytes, bytearray, memoryview, array, mmap, numpy arrays...)
  without copying, held through the buffer protocol for as long as the
  C call needs it.

* ``Window``: a memoryview over memory that the library owns (a ring
  message, a borrowed ring slot, a mapped region). Python code must never
  reach that memory after the library gives it back or unmaps it. A plain
  memoryview cannot promise that: releasing it leaves its slices, and
  arrays built on it, working. So every view of a window hangs off one
  ctypes object that nothing else refers to; while its reference count is
  above what the window itself holds, some view (a slice, a numpy array,
  another memoryview) is still alive, and the memory is kept.
"""
import ctypes
import sys

_PyBUF_WRITABLE = 0x0001


class _Py_buffer(ctypes.Structure):
    _fields_ = [("buf", ctypes.c_void_p), ("obj", ctypes.c_void_p),
                ("len", ctypes.c_ssize_t), ("itemsize", ctypes.c_ssize_t),
                ("readonly", ctypes.c_int), ("ndim", ctypes.c_int),
                ("format", ctypes.c_char_p), ("shape", ctypes.c_void_p),
                ("strides", ctypes.c_void_p), ("suboffsets", ctypes.c_void_p),
                ("internal", ctypes.c_void_p)]


_get = ctypes.pythonapi.PyObject_GetBuffer
_get.argtypes = [ctypes.py_object, ctypes.POINTER(_Py_buffer), ctypes.c_int]
_get.restype = ctypes.c_int
_release = ctypes.pythonapi.PyBuffer_Release
_release.argtypes = [ctypes.POINTER(_Py_buffer)]
_release.restype = None


class Pinned:
    """``with Pinned(obj) as (addr, n):`` the address of a contiguous
    buffer (writable=True: it must be writable)."""

    __slots__ = ("_view",)

    def __init__(self, obj, writable=False):
        if isinstance(obj, str):
            raise TypeError("a bytes-like object is required, not 'str' "
                            "(encode it first)")
        v = _Py_buffer()
        # raises TypeError/BufferError for non-buffers and
        # non-contiguous or read-only (when writable) ones
        try:
            _get(obj, ctypes.byref(v), _PyBUF_WRITABLE if writable else 0)
        except BufferError as e:
            if writable:  # as socket.recv_into says it
                raise TypeError("a writable bytes-like object is required, "
                                "not %r (%s)" % (type(obj).__name__, e))
            raise
        self._view = v

    def __enter__(self):
        v = self._view
        return (v.buf or 0), v.len

    def __exit__(self, *exc):
        _release(ctypes.byref(self._view))


class _Memory(ctypes.c_ubyte * (1 << 46)):
    """The ctypes object every window view is built on (never allocated:
    only placed with from_address; the view handed out is cut to size)."""


class Window:
    """A memoryview (``view``) of n bytes at addr, and the means to tell
    whether any view of it is still alive once ``close()`` released it.
    ``keep`` stays referenced for as long as any view exists (the channel
    or region whose memory it is)."""

    __slots__ = ("_mem", "_base", "_n", "_readonly", "view")

    def __init__(self, addr, n, readonly, keep):
        self._mem = _Memory.from_address(addr)
        self._mem.keep = keep
        # counted the way close() and in_use() count: no local names
        self._base = sys.getrefcount(self._mem)
        self._n = n
        self._readonly = readonly
        self.view = self._cut()

    def _cut(self):
        # every memoryview of the memory descends from one made here; each
        # such family holds one reference to _mem while any member lives.
        # ctypes says "<B"; cast to plain "B" so bytes compare and assign.
        # (The intermediate views die with this expression.)
        if self._readonly:
            return memoryview(self._mem).cast("B")[:self._n].toreadonly()
        return memoryview(self._mem).cast("B")[:self._n]

    def close(self):
        """Release our view; True if no other view of the memory is left
        (then it may be given back), False while some still exist."""
        if self.view is not None:
            try:
                self.view.release()
            except BufferError:
                return False  # exported by our own view: still in use
            self.view = None
        return sys.getrefcount(self._mem) <= self._base

    def try_close(self):
        """close() if no other view exists; else keep a usable view and
        return False."""
        if self.close():
            return True
        if self.view is None:
            self.view = self._cut()
        return False

    def in_use(self):
        """True while any view of the memory exists (after close())."""
        return sys.getrefcount(self._mem) > self._base

    def drop(self):
        """Forget the memory once it is no longer in use."""
        mem, self._mem = self._mem, None
        if mem is not None:
            mem.keep = None

"""Shared-memory regions as memoryviews.

Region.open("shm:/name", size, create=True) maps POSIX shared memory,
"sysvshm:..." a System V segment, "mmap:/path" a file; Region.anonymous(n)
an anonymous mapping shared with children forked afterwards. ``buf`` is a
memoryview of the whole mapping (numpy.frombuffer works on it without a
copy). Like mmap.close(), detach() refuses (BufferError) while slices,
arrays or locks placed in the region still refer to it.
"""
import collections
import ctypes

from ._buffers import Window
from ._lib import check, encode, lib
from ._types import ipk_regioninfo, region_p

REGION_CREATE = 0x1
REGION_ATTACH = 0x2
REGION_RDONLY = 0x4

# RegionInfo.kind
POSIX = 1
SYSV = 2
FILE = 3
ANON = 4

RegionInfo = collections.namedtuple(
    "RegionInfo", [f for f, _ in ipk_regioninfo._fields_])
RegionInfo.__doc__ = "Facts about a region (ipk_regioninfo)."


def _info(st):
    return RegionInfo(*[getattr(st, f) for f in RegionInfo._fields])


class Region:
    """A mapped shared-memory region; ``buf`` is its memoryview."""

    __slots__ = ("_h", "_win", "_addr", "_size", "readonly", "__weakref__")

    def __init__(self, handle, readonly=False):
        self._h = handle
        self.readonly = readonly
        self._win = None
        self._map()

    def _map(self):
        self._addr = lib.ipk_region_addr(self._h) or 0
        self._size = lib.ipk_region_size(self._h)
        self._win = Window(self._addr, self._size, self.readonly, self)

    @classmethod
    def open(cls, url, size=0, *, create=False, exclusive=False,
             readonly=False):
        """Map the region named by url. Without create it must exist
        (NotFound); create=True creates it (size bytes, zero-filled) or
        attaches if it exists, unless exclusive (then Exists). size on
        attach: bytes to map, 0 for all. readonly maps it read-only."""
        if exclusive and not create:
            raise ValueError("exclusive needs create=True")
        flags = (REGION_CREATE if create else 0) | \
            (0 if exclusive else REGION_ATTACH) | \
            (REGION_RDONLY if readonly else 0)
        out = region_p()
        check(lib.ipk_region_open(ctypes.byref(out), encode(url), size, flags))
        return cls(out, readonly)

    @classmethod
    def anonymous(cls, size):
        """An anonymous shared region, shared with children forked later."""
        out = region_p()
        check(lib.ipk_region_anon(ctypes.byref(out), size))
        return cls(out)

    def _handle(self):
        if self._h is None:
            raise ValueError("operation on a detached region")
        return self._h

    @property
    def buf(self):
        """The whole mapping as a memoryview (read-only if mapped so)."""
        self._handle()
        return self._win.view

    @property
    def size(self):
        """Length of the mapping in bytes."""
        return self._size

    @property
    def address(self):
        """Address of the mapping in this process (for C code via ctypes)."""
        return self._addr

    def __len__(self):
        return self._size

    def info(self):
        """RegionInfo: kind, size, attached processes, owner, mode..."""
        st = ipk_regioninfo()
        check(lib.ipk_region_info(self._handle(), ctypes.byref(st)))
        return _info(st)

    def remove(self):
        """Destroy the named object (the mapping stays usable until
        detached; new attaches no longer find it)."""
        check(lib.ipk_region_remove(self._handle()))

    def detach(self):
        """Unmap the region. BufferError while slices, numpy arrays or locks
        placed in it still refer to the memory: delete them first.
        Detaching twice is harmless."""
        if self._h is None:
            return
        w = self._win
        if not w.try_close():
            raise BufferError(
                "views of the region (slices, numpy arrays, locks or "
                "semaphores placed in it) are still alive: delete or close "
                "them before detaching")
        w.drop()
        h, self._h = self._h, None
        check(lib.ipk_region_detach(h))

    close = detach

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.detach()

    def __del__(self):
        if getattr(self, "_h", None) is not None:
            try:
                lib.ipk_region_detach(self._h)
            except Exception:
                pass
            self._h = None

    def __repr__(self):
        return "<ipckit.Region %d bytes%s>" % (
            self._size, " detached" if self._h is None else "")


def region_stat(url):
    """RegionInfo of a region by address, without attaching."""
    st = ipk_regioninfo()
    check(lib.ipk_region_stat(encode(url), ctypes.byref(st)))
    return _info(st)


"""Every IPC object on the machine (ipk_objects_*, docs/inventory.md).

    import ipckit.objects as inv
    with inv.Scan() as s:
        for o in s:
            print(o.address, o.state, o.why)
        orphans = [o for o in s.objects if o.state == "orphan"]
        for o in orphans:
            s.remove(o)            # only that very object, if still unused
    for lim in inv.limits():
        print(lim.name, lim.used, lim.value)
"""
from ctypes import POINTER, byref, c_char_p

from ._lib import check, encode, lib, text
from ._types import ipk_limit, ipk_objscan_opts, objscan_p

LIVE, ORPHAN, UNKNOWN, PERM0 = 1, 2, 3, 4
REMOVE_FORCE = 1


def state_name(state):
    """"live", "orphan", "unknown" or "permission-0" (ipk_objstate_name)."""
    return text(lib.ipk_objstate_name(state))


def _pid(p):
    if p.state == 0 or p.pid <= 0:
        return None
    return (p.pid, {1: True, 2: False}.get(p.state))


class Object:
    """One object of a scan: the fields of struct ipk_object, strings as
    str, numbers the object lacks as None, pids as (pid, alive) with alive
    True, False or None (cannot tell)."""

    def __init__(self, ptr, scan):
        c = ptr.contents
        self._ptr = ptr
        self._scan = scan
        for f in ("kind", "address", "path", "detail", "use", "why"):
            setattr(self, f, text(getattr(c, f)))
        self.state = state_name(c.state)
        self.persist = {1: True, 0: False}.get(c.persist)
        for f in ("id", "key", "messages", "bytes", "attached", "producers",
                  "consumers", "value", "count"):
            v = getattr(c, f)
            setattr(self, f, None if v < 0 else v)
        self.uid, self.gid, self.mode, self.size = c.uid, c.gid, c.mode, c.size
        self.creator = _pid(c.creator)
        self.last = _pid(c.last)
        self.holders = list(c.holders[:min(c.nholders, 8)])
        self.nholders = c.nholders
        self.changed = c.changed

    def __repr__(self):
        return "<ipckit object %s %s: %s>" % (self.address, self.state,
                                              self.why)


class Scan:
    """An inventory taken now (ipk_objects_open): iterate it for Objects;
    notes say what could not be seen. kind limits it to one kind; paths
    adds places to search for mmap: rings, FIFOs and sockets."""

    def __init__(self, kind=None, paths=()):
        self._h = objscan_p()
        keep = [encode(p) for p in paths]
        arr = (c_char_p * (len(keep) + 1))(*keep, None)
        opts = ipk_objscan_opts(encode(kind) if kind else None,
                                arr if keep else None, 0)
        check(lib.ipk_objects_open(byref(self._h), byref(opts)))
        self.objects = []
        while True:
            p = lib.ipk_objects_next(self._h)
            if not p:
                break
            self.objects.append(Object(p, self))
        self.notes = []
        while True:
            n = lib.ipk_objects_note(self._h, len(self.notes))
            if n is None:
                break
            self.notes.append(text(n))

    def __iter__(self):
        return iter(self.objects)

    def __len__(self):
        return len(self.objects)

    def remove(self, obj, force=False):
        """Remove exactly obj (ipk_object_remove): only an orphan not kept
        on purpose, unless force; Error (EBUSY) says why not."""
        if obj._scan is not self or self._h is None:
            raise ValueError("the object is not from this open scan")
        check(lib.ipk_object_remove(obj._ptr, REMOVE_FORCE if force else 0))

    def close(self):
        if self._h is not None:
            lib.ipk_objects_close(self._h)
            self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()


def setns(pid):
    """Enter the IPC, mount and network namespaces of process pid
    (ipk_objects_setns): for good, in a single-threaded process."""
    check(lib.ipk_objects_setns(pid))


class Limit:
    def __init__(self, c):
        self.name, self.what = text(c.name), text(c.what)
        self.value = None if c.value < 0 else c.value
        self.used = None if c.used < 0 else c.used
        self.unit, self.raise_with = text(c.unit), text(getattr(c, "raise"))

    def __repr__(self):
        return "<ipckit limit %s %s/%s %s>" % (self.name, self.used,
                                               self.value, self.unit)


def limits():
    """The kernel limits that bound IPC, with their use (ipk_limits)."""
    n = check(lib.ipk_limits(POINTER(ipk_limit)(), 0))
    arr = (ipk_limit * n)()
    check(lib.ipk_limits(arr, n))
    return [Limit(x) for x in arr]

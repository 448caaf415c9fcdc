"""Semaphores and robust locks shared between processes.

Locks live either in memory the processes share, at an offset the caller
chooses (``Mutex.init(region, offset)`` once, ``Mutex.at(region, offset)``
in the others; any writable buffer works: a Region, an mmap, a
multiprocessing.shared_memory buffer), or by name in their own small
object (``Mutex.open("mutex:/name", create=True)``).

The locks are robust: when a holder dies, the next locker gets OwnerDead
(an ipckit.Error) while holding the lock. Repair the data, call
``consistent()`` (on the lock or the exception), then unlock. Locks belong
to threads: the thread that locked unlocks. ``with lock:`` locks and
unlocks, as threading's locks do.
"""
import ctypes
import errno as _errno
from time import monotonic as _now

from ._errors import OwnerDead
from ._lib import SLICE_MS, check, encode, error, lib, ms, wait
from ._types import ipk_semop, sem_p

SYNC_CREATE = 0x1
SYNC_EXCL = 0x2
SYNC_NOUNDO = 0x4

SEMOP_NOUNDO = 0x1
SEMOP_UNDO = 0x2

RWLOCK_READERS = 64
SEM_MEM_SIZE = 32

_WOULD_WAIT = (-_errno.ETIMEDOUT, -_errno.EAGAIN)


def _flags(create, exclusive):
    if exclusive and not create:
        raise ValueError("exclusive needs create=True")
    return (SYNC_CREATE if create else 0) | (SYNC_EXCL if exclusive else 0)


def _place(buffer, offset, size):
    """A ctypes object over size bytes at offset in a writable buffer
    (holding the buffer for as long as it lives), and its address."""
    from .region import Region
    if isinstance(buffer, Region):
        buffer = buffer.buf
    mv = memoryview(buffer)
    if mv.readonly:
        raise TypeError("a lock needs writable memory")
    if mv.ndim != 1 or mv.format != "B":
        mv = mv.cast("B")
    if offset < 0 or offset + size > mv.nbytes:
        raise ValueError("%d bytes at offset %d do not fit in a buffer of %d"
                         % (size, offset, mv.nbytes))
    holder = (ctypes.c_ubyte * size).from_buffer(mv, offset)
    addr = ctypes.addressof(holder)
    if addr % 8:
        raise ValueError("the address must be aligned to 8 bytes "
                         "(offset %d gives 0x%x)" % (offset, addr))
    return holder, addr


class _Shared:
    """A lock at an address: placed in a buffer (holder keeps the buffer)
    or opened by name (freed with the C close function)."""

    __slots__ = ("_addr", "_holder", "_named", "__weakref__")
    SIZE = 0
    _INIT = None
    _OPEN = None
    _CLOSE = None

    def __init__(self, addr, holder=None, named=False):
        self._addr = addr
        self._holder = holder
        self._named = named

    @classmethod
    def init(cls, buffer, offset=0):
        """Initialise a new lock at offset in buffer (once, while nobody
        uses it) and return it."""
        holder, addr = _place(buffer, offset, cls.SIZE)
        check(cls._INIT(addr))
        return cls(addr, holder)

    @classmethod
    def at(cls, buffer, offset=0):
        """The lock another process initialised at offset in buffer."""
        holder, addr = _place(buffer, offset, cls.SIZE)
        return cls(addr, holder)

    @classmethod
    def open(cls, url, create=False, exclusive=False):
        """A lock by name ("mutex:/name", ...): create=True creates it if
        missing (exclusive: Exists if it is there). Close with close();
        remove with ipckit.sync_remove(url)."""
        out = ctypes.c_void_p()
        check(cls._OPEN(ctypes.byref(out), encode(url),
                        _flags(create, exclusive)))
        return cls(out.value, named=True)

    def _a(self):
        a = self._addr
        if a is None:
            raise ValueError("operation on a closed %s" % type(self).__name__)
        return a

    def _fail(self, rc):
        e = error(rc)
        if isinstance(e, OwnerDead):
            e.lock = self
        return e

    def _free(self):
        a, self._addr = self._addr, None
        if a is not None and self._named:
            check(self._CLOSE(a))

    def close(self):
        """Let go of this handle (never destroys the lock). A placed lock
        stops holding its buffer."""
        self._holder = None
        self._free()

    def __del__(self):
        if getattr(self, "_named", False) and self._addr is not None:
            try:
                self._CLOSE(self._addr)
            except Exception:
                pass
            self._addr = None

    def destroy(self):
        """Destroy a lock placed in memory, once no process uses it."""
        check(self._DESTROY(self._a()))


class Mutex(_Shared):
    """Robust process-shared mutex (ipk_mutex)."""

    __slots__ = ()
    SIZE = 64
    _INIT = lib.ipk_mutex_init
    _OPEN = lib.ipk_mutex_open
    _CLOSE = lib.ipk_mutex_close
    _DESTROY = lib.ipk_mutex_destroy

    def lock(self, timeout=None):
        """Lock, waiting up to timeout seconds (None: forever). Raises
        Timeout, OwnerDead (held: repair, consistent(), unlock) or
        NotRecoverable."""
        rc = wait(lib.ipk_mutex_lock, (self._a(),), ms(timeout))
        if rc < 0:
            raise self._fail(rc)

    def acquire(self, blocking=True, timeout=None):
        """threading-style: True when locked, False on timeout."""
        try:
            self.lock(timeout if blocking else 0)
            return True
        except (TimeoutError, BlockingIOError):
            return False

    def trylock(self):
        """Lock if free: True, else False at once."""
        rc = lib.ipk_mutex_trylock(self._a())
        if rc in _WOULD_WAIT or rc == -_errno.EBUSY:
            return False
        if rc < 0:
            raise self._fail(rc)
        return True

    def consistent(self):
        """After OwnerDead: the data is repaired (call before unlock)."""
        check(lib.ipk_mutex_consistent(self._a()))

    def unlock(self):
        check(lib.ipk_mutex_unlock(self._a()))

    release = unlock

    def __enter__(self):
        self.lock()
        return self

    def __exit__(self, *exc):
        self.unlock()


class Cond(_Shared):
    """Process-shared condition variable used with a Mutex (ipk_cond)."""

    __slots__ = ()
    SIZE = 16
    _INIT = lib.ipk_cond_init
    _OPEN = lib.ipk_cond_open
    _CLOSE = lib.ipk_cond_close
    _DESTROY = lib.ipk_cond_destroy

    def wait(self, mutex, timeout=None):
        """Release mutex (held by the caller), wait for a notify, take the
        mutex again. True when woken (re-check the predicate: wakeups may
        be spurious), False on timeout. OwnerDead if the mutex's holder
        died meanwhile (it is held: repair, consistent(), unlock).
        Without a timeout it returns now and then by itself (a spurious
        wakeup), so that signal handlers such as Ctrl-C's can run."""
        t = ms(timeout)
        rc = lib.ipk_cond_wait(self._a(), mutex._a(), SLICE_MS if t < 0 else t)
        if rc in _WOULD_WAIT:
            return t < 0
        if rc < 0:
            raise mutex._fail(rc)
        return True

    def wait_for(self, mutex, predicate, timeout=None):
        """Wait until predicate() is true (checked with mutex held), at most
        timeout seconds; returns its last value, as threading's does."""
        end = None if timeout is None else _now() + timeout
        result = predicate()
        while not result:
            if end is None:
                self.wait(mutex)
            else:
                left = end - _now()
                if left <= 0:
                    break
                self.wait(mutex, min(left, SLICE_MS / 1000.0))
            result = predicate()
        return result

    def notify(self):
        """Wake at least one waiter."""
        check(lib.ipk_cond_signal(self._a()))

    def notify_all(self):
        """Wake every waiter."""
        check(lib.ipk_cond_broadcast(self._a()))

    signal = notify
    broadcast = notify_all


class _Held:
    __slots__ = ("_rw", "_write", "_timeout")

    def __init__(self, rw, write, timeout):
        self._rw, self._write, self._timeout = rw, write, timeout

    def __enter__(self):
        if self._write:
            self._rw.acquire_write(self._timeout)
        else:
            self._rw.acquire_read(self._timeout)
        return self._rw

    def __exit__(self, *exc):
        self._rw.release()


class RWLock(_Shared):
    """Robust writer-preferring read-write lock (ipk_rwlock): up to 64
    readers at once. A dead reader is forgotten; a dead writer makes the
    next locker get OwnerDead (holding it exclusively)."""

    __slots__ = ()
    SIZE = 3200
    _INIT = lib.ipk_rwlock_init
    _OPEN = lib.ipk_rwlock_open
    _CLOSE = lib.ipk_rwlock_close
    _DESTROY = lib.ipk_rwlock_destroy

    def acquire_read(self, timeout=None):
        """Take it for reading (Timeout, OwnerDead as for Mutex.lock)."""
        rc = wait(lib.ipk_rwlock_rdlock, (self._a(),), ms(timeout))
        if rc < 0:
            raise self._fail(rc)

    def acquire_write(self, timeout=None):
        """Take it for writing."""
        rc = wait(lib.ipk_rwlock_wrlock, (self._a(),), ms(timeout))
        if rc < 0:
            raise self._fail(rc)

    def release(self):
        check(lib.ipk_rwlock_unlock(self._a()))

    unlock = release

    def consistent(self):
        """After OwnerDead: the data is repaired (call before release)."""
        check(lib.ipk_rwlock_consistent(self._a()))

    def read(self, timeout=None):
        """``with rw.read():`` holds it for reading."""
        return _Held(self, False, timeout)

    def write(self, timeout=None):
        """``with rw.write():`` holds it for writing."""
        return _Held(self, True, timeout)


class Semaphore:
    """A POSIX (sem:/name, or in shared memory) or System V (sysvsem:)
    semaphore. ``with sem:`` waits and posts, as threading's do."""

    __slots__ = ("_h", "_holder", "__weakref__")

    def __init__(self, handle, holder=None):
        self._h = handle
        self._holder = holder

    @classmethod
    def open(cls, url, *, create=False, exclusive=False, initial=0,
             undo=True):
        """Open sem:/name or sysvsem:...; create=True creates it with the
        value initial (?value= wins). undo=False: System V operations
        without SEM_UNDO (for signalling between processes)."""
        flags = _flags(create, exclusive) | (0 if undo else SYNC_NOUNDO)
        out = sem_p()
        check(lib.ipk_sem_open(ctypes.byref(out), encode(url), flags, initial))
        return cls(out)

    @classmethod
    def init_at(cls, buffer, offset=0, initial=0):
        """A new unnamed POSIX semaphore at offset in shared memory."""
        holder, addr = _place(buffer, offset, SEM_MEM_SIZE)
        out = sem_p()
        check(lib.ipk_sem_init_at(ctypes.byref(out), addr, initial))
        return cls(out, holder)

    @classmethod
    def attach_at(cls, buffer, offset=0):
        """The unnamed semaphore another process initialised there."""
        holder, addr = _place(buffer, offset, SEM_MEM_SIZE)
        out = sem_p()
        check(lib.ipk_sem_attach_at(ctypes.byref(out), addr))
        return cls(out, holder)

    def _handle(self):
        if self._h is None:
            raise ValueError("operation on a closed semaphore")
        return self._h

    @property
    def created(self):
        """True if this handle created the semaphore."""
        return check(lib.ipk_sem_created(self._handle())) == 1

    def wait(self, timeout=None):
        """Decrement, waiting up to timeout seconds while it is zero
        (Timeout; WouldBlock for timeout 0)."""
        check(wait(lib.ipk_sem_wait, (self._handle(),), ms(timeout)))

    def acquire(self, blocking=True, timeout=None):
        """threading-style: True when decremented, False on timeout."""
        rc = wait(lib.ipk_sem_wait, (self._handle(),),
                  ms(timeout) if blocking else 0)
        if rc in _WOULD_WAIT:
            return False
        check(rc)
        return True

    def trywait(self):
        """Decrement if positive: True, else False at once."""
        rc = lib.ipk_sem_trywait(self._handle())
        if rc in _WOULD_WAIT:
            return False
        check(rc)
        return True

    def post(self):
        """Increment."""
        check(lib.ipk_sem_post(self._handle()))

    release = post

    @property
    def value(self):
        return check(lib.ipk_sem_value(self._handle()))

    def unlink(self):
        """Remove the object (this handle stays usable until closed)."""
        check(lib.ipk_sem_unlink(self._handle()))

    def close(self):
        """Release the handle; never removes the semaphore."""
        h, self._h = self._h, None
        self._holder = None
        if h is not None:
            check(lib.ipk_sem_close(h))

    def __del__(self):
        if getattr(self, "_h", None) is not None:
            try:
                lib.ipk_sem_close(self._h)
            except Exception:
                pass
            self._h = None

    def __enter__(self):
        self.wait()
        return self

    def __exit__(self, *exc):
        self.post()

    # System V sets

    def op(self, ops, timeout=None):
        """Apply (num, op, flags) operations atomically (System V): all or,
        until the timeout, none. flags: SEMOP_NOUNDO, SEMOP_UNDO; a pair
        (num, op) means flags 0."""
        ops = list(ops)
        arr = (ipk_semop * len(ops))()
        for slot, o in zip(arr, ops):
            slot.num, slot.op = o[0], o[1]
            slot.flags = o[2] if len(o) > 2 else 0
        check(wait(lib.ipk_semset_op, (self._handle(), arr, len(ops)),
                   ms(timeout)))

    @property
    def count(self):
        """Semaphores in the set (1 for POSIX)."""
        return check(lib.ipk_semset_count(self._handle()))

    def get(self, num=0):
        """Value of semaphore num of the set."""
        return check(lib.ipk_semset_get(self._handle(), num))

    def set(self, num, value):
        """Set semaphore num of the set (clears undo adjustments)."""
        check(lib.ipk_semset_set(self._handle(), num, value))

    def waiters(self, num=0):
        """(waiting to decrement, waiting for zero) on semaphore num."""
        ndec, nzero = ctypes.c_int(), ctypes.c_int()
        check(lib.ipk_semset_waiters(self._handle(), num, ctypes.byref(ndec),
                                     ctypes.byref(nzero)))
        return ndec.value, nzero.value

    @property
    def id(self):
        """System V identifier (for "sysvsem:@ID")."""
        return check(lib.ipk_semset_id(self._handle()))


def sync_remove(url):
    """Remove a named sem:, sysvsem:, mutex:, cond: or rwlock: object."""
    check(lib.ipk_sync_remove(encode(url)))

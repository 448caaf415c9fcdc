"""Channels: listen, dial, pair, spawn; send and receive whole messages.

A Channel wraps one ``ipk_chan``. Timeouts are seconds (float); None waits
forever and 0 never blocks (WouldBlock when it would). A handle is for one
thread at a time, as in C.
"""
import collections
import ctypes
import errno as _errno
import math
import functools
import os
import threading
import time

from . import route as _route
from ._buffers import Pinned
from ._lib import (CLOSED, ETIMEDOUT, SLICE_MS, check, encode, error, lib,
                   more, ms, text, wait, wait_appear)
from .zerocopy import Loan, MessageView, settle_rx, settle_tx
from ._types import (chan_p, iovec, ipk_msginfo, ipk_pollitem,
                     ipk_queue_info, ipk_ringinfo, ipk_spawn_opts)

POLLIN = 0x1
POLLOUT = 0x4

# per-message flags for recvmsg (sysvmq)
MSG_EXCEPT = 0x1
MSG_NOERROR = 0x2

_SCRATCH = 64 * 1024  # first receive buffer; larger messages are allocated

_send = lib.ipk_send
_sendmsg = lib.ipk_sendmsg
_recv = lib.ipk_recv
_recvmsg = lib.ipk_recvmsg
_recv_alloc = lib.ipk_recv_alloc
_peek = lib.ipk_recv_peek
_peekmsg = lib.ipk_recv_peekmsg
_string_at = ctypes.string_at
_byref = ctypes.byref
_free = ctypes.CDLL(None).free
_free.argtypes = [ctypes.c_void_p]
_free.restype = None
_ENOBUFS = -_errno.ENOBUFS
_EPIPE = -_errno.EPIPE


def _record(name, struct):
    return collections.namedtuple(name, [f for f, _ in struct._fields_])


QueueInfo = _record("QueueInfo", ipk_queue_info)
QueueInfo.__doc__ = "State of a queue as the kernel reports it."
RingInfo = _record("RingInfo", ipk_ringinfo)
RingInfo.__doc__ = "State of a shared-memory ring (ipk_ringinfo)."


def _as_record(cls, st):
    vals = []
    for f in cls._fields:
        v = getattr(st, f)
        vals.append(text(v) if isinstance(v, bytes) else v)
    return cls(*vals)


class Message(bytes):
    """A received message: the bytes, with the metadata the mechanism gave
    as attributes: type (sysvmq type; signal: the signal number), prio (mq),
    pid and uid of the sender where the mechanism tells (else 0), missed
    (publish/subscribe: messages lost just before this one), status (a
    reply on a ?proto=req channel: the number 0..32767 the server attached,
    -1 when it attached none), route (a request on a ?proto=rep channel:
    the Route its reply goes back by, else None)."""

    type = 0
    prio = 0
    pid = 0
    uid = 0
    missed = 0
    status = 0
    route = None

    def __repr__(self):
        return "Message(%s, type=%d, prio=%d, pid=%d, uid=%d%s%s)" % (
            bytes.__repr__(self), self.type, self.prio, self.pid, self.uid,
            ", missed=%d" % self.missed if self.missed else "",
            ", status=%d" % self.status if self.status else "")


def _is_req(url):
    """Whether an address asks for the REQ pattern (?proto=req)."""
    if url is None:
        return False
    url = os.fsdecode(url) if not isinstance(url, str) else url
    query = url.partition("?")[2]
    return any(opt.strip().lower() == "proto=req" for opt in query.split("&"))


def _message(data, info):
    m = Message(data)
    m.type, m.prio, m.pid, m.uid = info.type, info.prio, info.pid, info.uid
    m.missed, m.status = info.missed, info.status
    if info.route.opaque[0] or info.route.opaque[1]:
        m.route = _route.from_info(info)
    return m



def _msginfo(type, prio, route, status):
    """The ipk_msginfo of a send with metadata."""
    info = ipk_msginfo()
    info.type = type or 0
    info.prio = prio or 0
    if route is not None:
        _route.into_info(info, route)
    if status is not None:  # else 0, as a reply with ipk_send carries
        if not isinstance(status, int) or not 0 <= status <= 32767:
            raise ValueError("status must be an int 0..32767 (what a REP "
                             "attaches to its reply), not %r" % (status,))
        info.status = status
    return info


_reap_lock = threading.Lock()


def _guarded(method):
    """A method that may wait in the library: counted in _busy (see
    Channel.__init__)."""
    @functools.wraps(method)
    def call(self, *args, **kw):
        self._enter()
        try:
            return method(self, *args, **kw)
        finally:
            self._leave()
    return call


class Channel:
    """One end of a channel (or a listener on unix:/tcp:).

    Use it as a context manager: leaving the block closes it, and a
    listener removes the object it created (unless ?persist).
    """

    __slots__ = ("_h", "_ring", "_scratch", "_smv", "_cap", "_ptr", "_rx",
                 "_tx", "_slices", "_busy", "_zombie", "__weakref__")

    def __init__(self, handle, url=None):
        self._h = handle
        # calls that may wait, in flight in any thread (list append/pop are
        # atomic under the GIL); close() while one is leaves the handle to
        # the last of them to close (_leave), so no thread calls the library
        # with a freed handle
        self._busy = []
        self._zombie = None
        # receives wait in slices (signal handlers run between them) except
        # on a REQ socket, where a receive that times out cancels the request
        self._slices = not _is_req(url)
        self._scratch = None
        self._ptr = ctypes.c_void_p()
        self._rx = None  # Window of the message lent out by recv_view
        self._tx = None  # Window of the space lent out by borrow
        self._ring = None  # a ring? asked when it matters

    # ------------------------------------------------------------ lifetime

    def _handle(self):
        h = self._h
        if h is None:
            raise ValueError("operation on a closed channel")
        return h

    def _enter(self):
        """The handle for a call that may wait; _leave() when it returns."""
        self._busy.append(None)
        h = self._h
        if h is None:
            self._leave()
            raise ValueError("operation on a closed channel")
        return h

    def _leave(self):
        self._busy.pop()
        # close() clears _h before it looks at _busy (under the lock): one
        # that found us busy has left the handle in _zombie for us
        if self._h is None:
            self._reap()

    def _reap(self):
        with _reap_lock:
            if self._busy or self._zombie is None:
                return
            h, self._zombie = self._zombie, None
        lib.ipk_close(h)

    def _alive(self):
        return self._h is not None

    @property
    def closed(self):
        return self._h is None

    def close(self):
        """Close the channel (a listener removes what it created unless
        ?persist). BufferError while a zero-copy view of its memory is still
        alive: delete those views first. Closing twice is harmless. A call
        waiting in another thread ends (ValueError) within SLICE_MS, or
        when its own wait ends where it is not sliced; the channel is closed
        for good when it has returned."""
        if self._h is None:
            return
        if self._rx is not None:
            settle_rx(self, closing=True)
        if self._tx is not None:
            settle_tx(self, closing=True)
        h, self._h = self._h, None
        with _reap_lock:
            if self._busy:
                self._zombie = h
                return
        check(lib.ipk_close(h))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_h", None) is not None:
            try:
                lib.ipk_close(self._h)
            except Exception:  # interpreter shutting down
                pass
            self._h = None

    def __repr__(self):
        if self._h is None:
            return "<ipckit.Channel closed>"
        try:
            return "<ipckit.Channel %s>" % self.address
        except OSError:
            return "<ipckit.Channel>"

    # ----------------------------------------------------------- sending

    def send(self, data, timeout=None, *, type=None, prio=None, route=None,
             status=None):
        """Send one whole message (any bytes-like object, not copied on the
        way in). type: sysvmq message type; prio: mq priority. On a
        ?proto=rep channel: route (Message.route of a request, or the
        request itself) is the client the reply goes to (default: the last
        request received), status a number 0..32767 that travels with the
        reply to an ipckit requester (Message.status there). Returns the
        number of bytes sent."""
        busy = self._busy
        busy.append(None)
        try:
            h = self._h
            if h is None:
                h = self._handle()
            t = -1 if timeout is None else ms(timeout)
            if self._tx is not None:
                settle_tx(self)
            # not in slices like the receives: a stream send whose time ran out
            # after its first byte counts as sent, and keeps the rest for later
            if type is None and prio is None and route is None and status is None:
                if data.__class__ is bytes:
                    rc = _send(h, data, len(data), t)
                else:
                    with Pinned(data) as (p, n):
                        rc = _send(h, p, n, t)
            else:
                info = _msginfo(type, prio, route, status)
                with Pinned(data) as (p, n):
                    rc = _sendmsg(h, p, n, _byref(info), t)
            if rc < 0:
                raise error(rc)
            return rc
        finally:
            busy.pop()
            if self._h is None:  # closed meanwhile: the last one out closes
                self._reap()

    @_guarded
    def send_many(self, messages, timeout=None):
        """Send several whole messages (bytes-like objects, not copied on
        the way in), in order, in as few system calls as the channel allows
        (unix:, tcp:, pipe: one write for up to 256). Returns how many were
        sent: all of them, unless the timeout expired with some not begun
        (those were not sent). Raises if none could be."""
        h = self._handle()
        t = ms(timeout)
        if self._tx is not None:
            settle_tx(self)
        pins = []
        try:
            for m in messages:
                pins.append(Pinned(m))
            vec = (iovec * max(1, len(pins)))()
            for i, pin in enumerate(pins):
                vec[i].iov_base, vec[i].iov_len = pin.__enter__()
            rc = lib.ipk_send_many(h, vec, len(pins), t)
        finally:
            for pin in pins:
                pin.__exit__(None, None, None)
        if rc < 0:
            raise error(rc)
        return rc

    @_guarded
    def flush(self, timeout=None):
        """Write what the channel keeps queued: messages a ?batch channel
        holds, or the rest of one whose send timed out. WouldBlock or
        TimeoutError leave the rest queued."""
        check(lib.ipk_flush(self._handle(), ms(timeout)))

    @_guarded
    def send_fds(self, data, fds, timeout=None):
        """Send data as one message with open file descriptors (ints or
        objects with fileno(); at most 253) attached: unix: PAIR channels.
        The receiver gets its own copies; these stay yours to close."""
        h = self._handle()
        fds = [f if isinstance(f, int) else f.fileno() for f in fds]
        arr = (ctypes.c_int * max(1, len(fds)))(*fds)
        with Pinned(data) as (addr, n):
            rc = lib.ipk_send_fds(h, addr, n, arr, len(fds), ms(timeout))
        if rc < 0:
            raise error(rc)
        return rc

    @_guarded
    def recv_fds(self, maxfds=253, cap=64 * 1024, timeout=None):
        """Receive one message and the descriptors sent with it, as
        (bytes, [fd, ...]); the descriptors are yours to close (they are
        close-on-exec). A message over cap bytes or with more than maxfds
        descriptors raises (ENOBUFS) and stays queued: ask with more."""
        h = self._handle()
        buf = ctypes.create_string_buffer(max(1, cap))
        arr = (ctypes.c_int * max(1, maxfds))()
        n = ctypes.c_size_t(maxfds)
        rc = lib.ipk_recv_fds(h, buf, cap, arr, _byref(n), ms(timeout))
        if rc < 0:
            raise error(rc)
        return buf.raw[:rc], list(arr[:n.value])

    def shutdown(self):
        """Stop sending: the peer sees end of stream (streams only)."""
        check(lib.ipk_shutdown(self._handle()))

    # --------------------------------------------------------- receiving

    def recv(self, timeout=None):
        """Receive one whole message as bytes. PeerGone (a BrokenPipeError)
        once the peer has gone and nothing is left."""
        busy = self._busy
        busy.append(None)
        try:
            h = self._h
            if h is None:
                h = self._handle()
            t = -1 if timeout is None else ms(timeout)
            if self._rx is not None:
                settle_rx(self)
            buf = self._scratch
            if buf is None:
                buf = self._make_scratch()
            t1 = t if 0 <= t <= SLICE_MS or not self._slices else SLICE_MS
            n = _recv(h, buf, self._cap, t1)
            if n == ETIMEDOUT and t1 != t:
                n = more(_recv, (h, buf, self._cap), t, self._alive)
            if n >= 0:
                return self._smv[:n].tobytes()
            if n != _ENOBUFS:
                raise error(n)
            if self._ring is None:
                self._ring = lib.ipk_ring_info(h, _byref(ipk_ringinfo())) == 0
            if self._ring:  # larger than the buffer: one copy out of the ring
                ptr = self._ptr
                n = self._wait(_peek, (h, _byref(ptr)), t)
                if n < 0:
                    raise error(n)
                try:
                    return _string_at(ptr.value, n)
                finally:
                    check(lib.ipk_recv_release(h))
            return self._recv_alloc(h, None, t)
        finally:
            busy.pop()
            if self._h is None:  # closed meanwhile: the last one out closes
                self._reap()

    def _make_scratch(self):
        # small messages are received here and copied out once; larger ones
        # are copied out of the ring in place, or allocated by the library
        self._cap = min(_SCRATCH, max(1, self.maxmsg))
        self._scratch = ctypes.create_string_buffer(self._cap)
        self._smv = memoryview(self._scratch).cast("B")
        return self._scratch

    def _wait(self, fn, args, t):
        return wait(fn, args, t, self._alive) if self._slices else fn(*args, t)

    def _recv_alloc(self, h, info, t):
        ptr = ctypes.c_void_p()
        n = self._wait(_recv_alloc,
                       (h, _byref(ptr), _byref(info) if info else None), t)
        if n < 0:
            raise error(n)
        try:
            return _string_at(ptr.value, n) if n else b""
        finally:
            _free(ptr)

    @_guarded
    def recvmsg(self, timeout=None, *, type=0, flags=0):
        """Receive one message as a Message (bytes with .type .prio .pid
        .uid). type selects on sysvmq (0 the first, >0 that type, <0 the
        lowest type <= |type|); flags: MSG_EXCEPT, MSG_NOERROR."""
        h = self._handle()
        t = ms(timeout)
        if self._rx is not None:
            settle_rx(self)
        info = ipk_msginfo()
        info.type, info.flags = type, flags
        buf = self._scratch
        if buf is None:
            buf = self._make_scratch()
        n = self._wait(_recvmsg, (h, buf, self._cap, _byref(info)), t)
        if n >= 0:
            return _message(self._smv[:n].tobytes(), info)
        if n != _ENOBUFS:
            raise error(n)
        info = ipk_msginfo()
        info.type, info.flags = type, flags
        return _message(self._recv_alloc(h, info, t), info)

    @_guarded
    def recv_into(self, buffer, timeout=None):
        """Receive one message into a writable buffer; returns its length.
        A message larger than the buffer stays queued (Error ENOBUFS)."""
        h = self._handle()
        t = ms(timeout)
        if self._rx is not None:
            settle_rx(self)
        with Pinned(buffer, writable=True) as (p, n):
            return check(self._wait(_recv, (h, p, n), t))

    def __iter__(self):
        """Messages as they arrive, until the peer has gone."""
        while True:
            try:
                yield self.recv()
            except BrokenPipeError:
                return

    # ---------------------------------------------------------- zero copy

    @_guarded
    def borrow(self, size, timeout=None):
        """Zero-copy send on a ring: space for a message of size bytes in
        the ring itself, as a writable memoryview (``Loan.view``). Fill it,
        then commit() (or use ``with chan.borrow(n) as buf:`` which commits
        the whole size on success and aborts on an exception)."""
        h = self._handle()
        t = ms(timeout)
        if self._tx is not None:
            settle_tx(self)
        ptr = ctypes.c_void_p()
        n = wait(lib.ipk_send_borrow, (h, _byref(ptr), size), t, self._alive)
        if n < 0:
            raise error(n)
        return Loan(self, ptr.value, n)

    @_guarded
    def recv_view(self, timeout=None):
        """Zero-copy receive on a ring: the next message in place, as a
        MessageView whose ``view`` is a read-only memoryview. Release it
        (``with chan.recv_view() as buf:`` does) to let the producer reuse
        the space; the memory is given back only once no view of it (slice,
        numpy array) is left, so Python never reads freed ring memory.
        On a shared-memory subscriber ``missed`` counts the messages lost
        just before this one, and release() raises Error ESTALE when the
        publisher (slow=drop) overwrote the message while it was held:
        discard what was computed from it."""
        h = self._handle()
        t = ms(timeout)
        if self._rx is not None:
            settle_rx(self)
        ptr = self._ptr
        info = ipk_msginfo()
        n = self._wait(_peekmsg, (h, _byref(ptr), _byref(info)), t)
        if n < 0:
            raise error(n)
        return MessageView(self, ptr.value, n, info.missed)

    # -------------------------------------------------------- connections

    @_guarded
    def accept(self, timeout=None):
        """Accept one connection on a unix:/tcp: listener."""
        out = chan_p()
        check(wait(lib.ipk_accept, (self._handle(), _byref(out)),
                   ms(timeout), self._alive))
        return Channel(out)

    # ------------------------------------------------------------- facts

    def fileno(self):
        """A descriptor that is readable when recv() (or accept()) would not
        block, for select/selectors/asyncio. Owned by the channel."""
        return check(lib.ipk_fd(self._handle()))

    @property
    def maxmsg(self):
        """Largest message the channel sends or accepts."""
        return lib.ipk_maxmsg(self._handle())

    @property
    def address(self):
        """The address a peer dials to reach this channel."""
        h = self._handle()
        cap = 256
        while True:
            buf = ctypes.create_string_buffer(cap)
            n = lib.ipk_address(h, buf, cap)
            if n >= 0:
                return text(buf.raw[:n])
            if n != _ENOBUFS or cap > 1 << 20:
                raise error(n)
            cap *= 4

    @property
    def pid(self):
        """Process id of a spawned child, None for other channels."""
        p = lib.ipk_pid(self._handle())
        return p if p > 0 else None

    @_guarded
    def wait(self, timeout=None):
        """Wait for a spawned child to exit; its exit code (negative: the
        signal that killed it), as subprocess reports it."""
        st = ctypes.c_int()
        check(wait(lib.ipk_wait, (self._handle(), _byref(st)), ms(timeout),
                   self._alive))
        return os.waitstatus_to_exitcode(st.value)

    def queue_status(self):
        """QueueInfo of the queue behind a sysvmq:, mq: or signal: channel."""
        st = ipk_queue_info()
        check(lib.ipk_queue_status(self._handle(), _byref(st)))
        return _as_record(QueueInfo, st)

    def ring_info(self):
        """RingInfo of a ring channel (shm:, sysvshm:, mmap:)."""
        st = ipk_ringinfo()
        check(lib.ipk_ring_info(self._handle(), _byref(st)))
        return _as_record(RingInfo, st)

    # --------------------------------------------------- publish/subscribe

    def subscribe(self, prefix=b""):
        """A ?proto=sub channel: receive the messages that start with prefix
        (bytes or str; b"" for everything). No subscription, no messages."""
        p = encode(prefix) if isinstance(prefix, str) else bytes(prefix)
        check(lib.ipk_subscribe(self._handle(), p, len(p)))

    def unsubscribe(self, prefix=b""):
        """Drop a subscription (Error ENOENT if there was none)."""
        p = encode(prefix) if isinstance(prefix, str) else bytes(prefix)
        check(lib.ipk_unsubscribe(self._handle(), p, len(p)))

    @property
    def subscribers(self):
        """A ?proto=pub channel: how many subscribers are attached now."""
        return check(lib.ipk_subscribers(self._handle()))

    # ------------------------------------------------------ request/reply

    def request(self, data, timeout=None):
        """A ?proto=req channel: send a request and wait for its reply,
        within timeout seconds in all. Returns the reply as a Message
        (.status: what the server attached, -1 for none). Timeout when no
        reply came in time; the request is then cancelled."""
        end = None if timeout is None else time.monotonic() + timeout
        self.send(data, timeout)
        left = None
        if end is not None:  # never 0: a receive with timeout 0 keeps the
            left = max(0.001, end - time.monotonic())  # request waiting
        return self.recvmsg(left)

    def reply(self, request, data, status=None, timeout=None):
        """A ?proto=rep channel: answer request (a Message received with
        recvmsg(), or its Route) with data, and a status 0..32767 for an
        ipckit requester. Requests may be answered in any order."""
        r = getattr(request, "route", request)
        if r is None:
            raise ValueError("this message carries no route: reply to a "
                             "request received with recvmsg() on a "
                             "?proto=rep channel")
        return self.send(data, timeout, route=r, status=status)


# ------------------------------------------------------------ constructors

def listen(url):
    """Create (or bind) the endpoint named by url and own it; a listener
    for unix:/tcp: (accept() on it), else a channel that receives."""
    out = chan_p()
    check(lib.ipk_listen(_byref(out), encode(url)))
    return Channel(out, url)


def dial(url, timeout=None):
    """Attach to an existing endpoint, waiting up to timeout seconds for it
    to appear (None: forever)."""
    out = chan_p()
    check(wait_appear(lib.ipk_dial, (_byref(out), encode(url)), ms(timeout)))
    return Channel(out, url)


def pair(url="pipe:"):
    """Both ends of an anonymous channel ("pipe:", "unix:", "unixgram:",
    "shm:") for use across os.fork(): what one end sends the other
    receives. After the fork each process closes the end it does not use."""
    a, b = chan_p(), chan_p()
    check(lib.ipk_pair(encode(url), _byref(a), _byref(b)))
    return Channel(a), Channel(b)


def spawn(args, *, pty=False, framed=False, keep_stderr=False, env=None,
          cwd=None, linger=None):
    """Run args[0] (searched in PATH) as a coprocess: send() writes to its
    stdin, recv() reads its stdout (raw bytes unless framed). env: a
    mapping for the child's environment (None: inherit); linger: seconds
    close() waits for the child before SIGKILL (None: 5)."""
    argv = [encode(a) for a in args]
    if not argv:
        raise ValueError("spawn needs a program to run")
    cargv = (ctypes.c_char_p * (len(argv) + 1))(*argv, None)
    o = ipk_spawn_opts()
    o.pty, o.framed, o.keep_stderr = bool(pty), bool(framed), bool(keep_stderr)
    if env is not None:
        envs = [encode(k) + b"=" + encode(v) for k, v in env.items()]
        cenv = (ctypes.c_char_p * (len(envs) + 1))(*envs, None)
        o.envp = ctypes.cast(cenv, type(o.envp))
    if cwd is not None:
        o.cwd = encode(cwd)
    if linger is not None:
        o.linger_ms = max(1, ms(linger)) if ms(linger) >= 0 else 2**31 - 1
    out = chan_p()
    check(lib.ipk_spawn(_byref(out), cargv, _byref(o)))
    return Channel(out)


def poll(items, timeout=None):
    """Wait until one of the channels is ready. items: channels (meaning
    POLLIN) or (channel, events) pairs. Returns [(channel, revents)] of
    those that are ready (empty on timeout)."""
    pairs = [(i, POLLIN) if isinstance(i, Channel) else i for i in items]
    arr = (ipk_pollitem * len(pairs))()
    for slot, (ch, ev) in zip(arr, pairs):
        slot.chan = ch._handle()
        slot.events = ev
    # poll answers 0 (not ETIMEDOUT) when its time is up: slice by hand
    t = ms(timeout)
    end = None if t < 0 else time.monotonic() + t / 1000.0
    while True:
        step = SLICE_MS if end is None else min(SLICE_MS, max(
            0, math.ceil((end - time.monotonic()) * 1000.0)))
        n = lib.ipk_poll(arr, len(pairs), step)
        if n != 0 or (end is not None and time.monotonic() >= end):
            break
    if n < 0:
        if n in (-_errno.ETIMEDOUT, -_errno.EAGAIN):
            return []
        raise error(n)
    return [(ch, slot.revents) for slot, (ch, _) in zip(arr, pairs)
            if slot.revents]


def remove(url, force=False):
    """Remove the named object (file, socket path, queue, ring, segment).
    Only what the address names; one a live process uses raises Error
    (EBUSY, naming the process) unless force (ipk_remove_flags)."""
    if force:
        check(lib.ipk_remove_flags(encode(url), 1))  # IPK_REMOVE_FORCE
    else:
        check(lib.ipk_remove(encode(url)))


def schemes():
    """Names of the schemes the library knows (built or not)."""
    p = lib.ipk_schemes()
    out = []
    i = 0
    while p[i] is not None:
        out.append(text(p[i]))
        i += 1
    return out


def scheme_built(scheme):
    """True if the scheme is usable in this build."""
    return check(lib.ipk_scheme_built(encode(scheme))) > 0


def scheme_summary(scheme):
    """One line that says what the scheme is."""
    return text(lib.ipk_scheme_summary(encode(scheme)))


def queue_stat(url):
    """QueueInfo of a queue by address, without keeping it open."""
    st = ipk_queue_info()
    check(lib.ipk_queue_stat(encode(url), _byref(st)))
    return _as_record(QueueInfo, st)


def signal_block(url):
    """Block the signal of a signal: address in the calling thread, so
    threads started afterwards inherit it; returns the signal number."""
    return check(lib.ipk_signal_block(encode(url)))

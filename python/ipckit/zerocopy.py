"""Zero-copy messages on shared-memory rings.

A Loan is space borrowed in the ring for the next message (Channel.borrow);
a MessageView is a received message left in place (Channel.recv_view).
Both hand out a memoryview of ring memory. The space goes back to the ring
only when no view of it is left: the memoryview handed out is released
first, and slices, other memoryviews and numpy arrays built on it keep the
memory (and the channel) alive until they are deleted. So no Python code
can ever read or write ring memory that the library has reused.

The channel keeps the Window of what it lent (``_rx``, ``_tx``) and
settles it at its next call; the Loan and MessageView objects are the
user's handles and finish their part when dropped.
"""
from ._buffers import Window
from ._lib import error, lib

_RX_OPEN = ("the previous message view is not released: call its release() "
            "(or receive with 'with chan.recv_view() as buf:')")
_RX_USED = ("a slice, memoryview or numpy array of the previous message is "
            "still alive: delete it before receiving again")
_TX_OPEN = ("the previous borrow is neither committed nor aborted")
_TX_USED = ("a slice, memoryview or numpy array of the previously borrowed "
            "space is still alive: delete it first")


def settle_rx(chan, closing=False):
    """Give back a received message whose views are all gone; BufferError
    while one is still in use."""
    w = chan._rx
    if w.view is not None:
        if not closing:
            raise BufferError(_RX_OPEN)
        w.close()
    if w.in_use():
        raise BufferError(_RX_USED)
    chan._rx = None
    w.drop()
    if chan._h is not None:
        rc = lib.ipk_recv_release(chan._h)
        if rc < 0:
            raise error(rc)


def settle_tx(chan, closing=False):
    """Carry out an abort that waited for the views to go; BufferError
    while a loan is still open (or its views still in use)."""
    w = chan._tx
    if w.view is not None:
        if not closing:
            raise BufferError(_TX_OPEN)
        w.close()
    if w.in_use():
        raise BufferError(_TX_USED)
    chan._tx = None
    w.drop()
    if chan._h is not None:
        rc = lib.ipk_send_abort(chan._h)
        if rc < 0:
            raise error(rc)


class Loan:
    """Ring space for one outgoing message (see Channel.borrow).

    ``view`` is a writable memoryview of ``size`` bytes. commit(n) sends
    its first n bytes; abort() gives the space back unsent (as does
    dropping the Loan, once no view of the space is left). As a context
    manager the block gets the view; leaving it commits the whole size, or
    aborts when the block raised.
    """

    __slots__ = ("_chan", "_win", "size")

    def __init__(self, chan, addr, size):
        self._chan = chan
        self.size = size
        self._win = Window(addr, size, False, chan)
        chan._tx = self._win

    @property
    def view(self):
        w = self._win
        if w is None or w.view is None:
            raise ValueError("the borrowed space was committed or aborted")
        return w.view

    def commit(self, length=None):
        """Send the first length bytes (default: all) as one message.
        The view ends here. BufferError while a slice or array of it is
        still alive (it could write into the message being read): delete
        it, then commit again."""
        w = self._win
        if w is None:
            raise ValueError("the borrowed space was committed or aborted")
        if length is None:
            length = self.size
        if not 0 <= length <= self.size:
            raise ValueError("commit length %d outside 0..%d"
                             % (length, self.size))
        h = self._chan._handle()
        if not w.close():
            raise BufferError(_TX_USED.replace("previously ", "") +
                              ", then commit()")
        self._win = None
        self._chan._tx = None
        w.drop()
        rc = lib.ipk_send_commit(h, length)
        if rc < 0:
            raise error(rc)
        return rc

    def abort(self):
        """Give the space back unsent. If views of it are still alive, the
        abort happens once they are gone (at the channel's next call)."""
        w = self._win
        if w is None:
            return
        self._win = None
        ch = self._chan
        if w.close() and ch._tx is w:
            ch._tx = None
            w.drop()
            if ch._h is not None:
                rc = lib.ipk_send_abort(ch._h)
                if rc < 0:
                    raise error(rc)

    @property
    def done(self):
        """True once committed or aborted."""
        return self._win is None

    def __enter__(self):
        return self.view

    def __exit__(self, exc_type, exc, tb):
        if self._win is None:
            return
        if exc_type is not None:
            self.abort()
        else:
            self.commit()

    def __len__(self):
        return self.size

    def __del__(self):
        # dropped unfinished: abort once the views handed out are gone
        w = getattr(self, "_win", None)
        if w is not None:
            w.view = None  # ours only: a view still held elsewhere lives on
            try:
                if not w.in_use() and self._chan._tx is w:
                    settle_tx(self._chan)
            except Exception:
                pass


class MessageView:
    """A received ring message in place (see Channel.recv_view).

    ``view`` is a read-only memoryview of the message. release() (or
    leaving the ``with`` block, which gives the view) makes ``view``
    unusable and lets the producer reuse the space; if slices or arrays of
    it are still alive, the space is kept until they are gone and given
    back at the channel's next call. Dropping this object without release()
    keeps the views that are still referenced valid, and gives the space
    back once they are gone (``data = chan.recv_view().view`` works).
    ``missed``: on a shared-memory subscriber, the messages lost just
    before this one (else 0).
    """

    __slots__ = ("_chan", "_win", "nbytes", "missed")

    def __init__(self, chan, addr, n, missed=0):
        self._chan = chan
        self.nbytes = n
        self.missed = missed
        self._win = Window(addr, n, True, chan)
        chan._rx = self._win

    @property
    def view(self):
        w = self._win
        if w is None or w.view is None:
            raise ValueError("the message view was released")
        return w.view

    @property
    def released(self):
        """True once the ring space has been given back."""
        w = self._win
        return w is None or (w.view is None and self._chan._rx is not w)

    def __len__(self):
        return self.nbytes

    def __bytes__(self):
        return bytes(self.view)

    def tobytes(self):
        """A copy of the message."""
        return self.view.tobytes()

    def release(self):
        """Stop using the message. Returns True if its space went back to
        the ring now, False if views of it are still alive (it goes back
        once they are gone, at the channel's next call)."""
        w = self._win
        if w is None:
            return True
        ch = self._chan
        if not w.close():
            return False
        self._win = None
        if ch._rx is w:
            settle_rx(ch)
        return True

    def __enter__(self):
        return self.view

    def __exit__(self, *exc):
        self.release()

    def __del__(self):
        # dropped unreleased: give the space back once the views handed out
        # (``chan.recv_view().view`` kept by the caller) are gone
        w = getattr(self, "_win", None)
        if w is not None:
            w.view = None  # ours only: a view still held elsewhere lives on
            try:
                if not w.in_use() and self._chan._rx is w:
                    settle_rx(self._chan)
            except Exception:
                pass

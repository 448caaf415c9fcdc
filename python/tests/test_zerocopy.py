"""Zero-copy on rings: borrowed space and messages read in place, and the
guarantee that Python never touches ring memory after giving it back."""
import ctypes
import gc
import os
import unittest

from support import ipckit, url_for

try:
    import numpy
except ImportError:  # python3-numpy is optional
    numpy = None


def ring_pair():
    url = url_for("shm")
    r = ipckit.listen(url)
    return r, ipckit.dial(url, 5)


def address_of(view):
    """Where a read-only memoryview's bytes are (via a writable alias is not
    possible, so ask ctypes through the buffer protocol)."""
    from ipckit._buffers import Pinned
    with Pinned(view) as (addr, _):
        return addr


class Borrow(unittest.TestCase):

    def test_commit_in_place(self):
        r, w = ring_pair()
        with r, w:
            with w.borrow(10) as buf:
                self.assertIsInstance(buf, memoryview)
                self.assertFalse(buf.readonly)
                self.assertEqual(len(buf), 10)
                buf[:] = b"0123456789"
            self.assertEqual(r.recv(5), b"0123456789")

    def test_partial_commit_and_reuse(self):
        r, w = ring_pair()
        with r, w:
            loan = w.borrow(100)
            loan.view[:5] = b"short"
            self.assertEqual(loan.commit(5), 5)
            self.assertTrue(loan.done)
            with self.assertRaises(ValueError):
                loan.view  # the space is no longer ours
            self.assertEqual(r.recv(5), b"short")
            with self.assertRaises(ValueError):
                w.borrow(10).commit(11)

    def test_exception_aborts(self):
        r, w = ring_pair()
        with r, w:
            with self.assertRaises(ZeroDivisionError):
                with w.borrow(8) as buf:
                    buf[:] = b"unsent!!"
                    1 / 0
            w.send(b"next")
            self.assertEqual(r.recv(5), b"next")
            with self.assertRaises(ipckit.WouldBlock):
                r.recv(0)

    def test_dropped_loan_is_aborted(self):
        r, w = ring_pair()
        with r, w:
            loan = w.borrow(8)
            loan.view[:] = b"dropped!"
            del loan
            w.borrow(8).view[:] = b"dropped!"  # the Loan is gone at once
            w.send(b"kept")
            self.assertEqual(r.recv(5), b"kept")
            with self.assertRaises(ipckit.WouldBlock):
                r.recv(0)

    def test_view_ends_at_commit_even_for_slices(self):
        r, w = ring_pair()
        with r, w:
            loan = w.borrow(8)
            part = loan.view[2:4]
            # a live slice could still write into the sent message
            with self.assertRaises(BufferError):
                loan.commit()
            del part
            loan.commit()
            self.assertEqual(len(r.recv(5)), 8)

    def test_not_a_ring(self):
        a, b = ipckit.pair("pipe:")
        with a, b, self.assertRaises(ipckit.Error) as cm:
            a.borrow(4)
        self.assertEqual(cm.exception.errno, 95)  # EOPNOTSUPP


class View(unittest.TestCase):

    def test_read_in_place(self):
        r, w = ring_pair()
        with r, w:
            payload = os.urandom(1 << 16)
            w.send(payload)
            with r.recv_view(5) as buf:
                self.assertTrue(buf.readonly)
                self.assertEqual(buf, payload)
                self.assertEqual(buf.format, "B")
                # the same bytes each time: they are in the ring, not copied
                self.assertEqual(address_of(buf), address_of(buf[0:]))
            with self.assertRaises(ValueError):
                buf[0]  # released: unusable

    def test_message_view_object(self):
        r, w = ring_pair()
        with r, w:
            w.send(b"abc")
            m = r.recv_view(5)
            self.assertEqual((len(m), bytes(m), m.tobytes()),
                             (3, b"abc", b"abc"))
            self.assertFalse(m.released)
            self.assertTrue(m.release())
            self.assertTrue(m.released)
            with self.assertRaises(ValueError):
                m.view

    def test_space_is_reused_only_after_release(self):
        # a full ring: the producer cannot reuse the space of a message
        # while Python looks at it
        url = url_for("shm").replace("size=1M", "size=8K")
        with ipckit.listen(url) as r, ipckit.dial(url, 5) as w:
            q = r.ring_info().capacity // 4 - 128
            for i in range(4):
                w.send(bytes([65 + i]) * q, 0)
            with r.recv_view(5) as buf:
                self.assertEqual(buf, b"A" * q)
                r2 = r.recv  # the second message cannot be copied out yet
                with self.assertRaises(BufferError):
                    r2(0)
                with self.assertRaises(ipckit.WouldBlock):
                    w.send(b"E" * q, 0)
                self.assertEqual(buf, b"A" * q)  # unchanged
            # the first two records free enough room to wrap around; the
            # second alone would not, so this proves the first went back
            self.assertEqual(r.recv(5), b"B" * q)
            w.send(b"E" * q, 0)
            self.assertEqual([r.recv(5) for _ in range(3)],
                             [b"C" * q, b"D" * q, b"E" * q])

    def test_slices_keep_the_message_until_they_go(self):
        r, w = ring_pair()
        with r, w:
            w.send(b"first")
            w.send(b"second")
            m = r.recv_view(5)
            part = m.view[1:3]
            self.assertFalse(m.release())  # part is alive: space kept
            with self.assertRaises(ValueError):
                m.view
            self.assertEqual(part, b"ir")  # still valid memory
            with self.assertRaises(BufferError):
                r.recv_view(0)
            with self.assertRaises(BufferError):
                r.recv(0)
            with self.assertRaises(BufferError):
                r.close()
            self.assertFalse(r.closed)
            del part
            with r.recv_view(5) as buf:  # the first went back first
                self.assertEqual(buf, b"second")
            self.assertTrue(m.released)

    def test_unreleased_view_blocks_the_next(self):
        r, w = ring_pair()
        with r, w:
            w.send(b"one")
            w.send(b"two")
            m = r.recv_view(5)
            with self.assertRaises(BufferError) as cm:
                r.recv_view(0)
            self.assertIn("release()", str(cm.exception))
            del m  # dropping the view object releases it
            self.assertEqual(r.recv(5), b"two")

    def test_close_ends_a_view_without_slices(self):
        r, w = ring_pair()
        w.send(b"x")
        m = r.recv_view(5)
        buf = m.view
        del buf
        r.close()
        w.close()
        with self.assertRaises(ValueError):
            m.view

    def test_channel_outlives_its_views(self):
        # dropping every reference to the channel keeps its mapping while a
        # slice of a message is still alive
        r, w = ring_pair()
        payload = b"kept mapped"
        w.send(payload)
        part = r.recv_view(5).view[0:]
        del r
        gc.collect()
        self.assertEqual(part, payload)
        del part
        gc.collect()
        w.close()

    @unittest.skipIf(numpy is None, "python3-numpy is not installed")
    def test_numpy_without_copy(self):
        r, w = ring_pair()
        with r, w:
            data = numpy.arange(1 << 16, dtype=numpy.float32)
            w.send(data)  # sent from the array's own memory
            m = r.recv_view(5)
            arr = numpy.frombuffer(m.view, dtype=numpy.float32)
            self.assertEqual(arr.ctypes.data, address_of(m.view))
            self.assertFalse(arr.flags.writeable)
            self.assertTrue(numpy.array_equal(arr, data))
            self.assertFalse(m.release())  # arr still uses it
            self.assertEqual(float(arr[-1]), float((1 << 16) - 1))
            del arr
            w.send(b"next")
            self.assertEqual(r.recv(5), b"next")
            self.assertTrue(m.released)

    @unittest.skipIf(numpy is None, "python3-numpy is not installed")
    def test_numpy_fills_borrowed_space(self):
        r, w = ring_pair()
        with r, w:
            loan = w.borrow(4 * 1000)
            arr = numpy.frombuffer(loan.view, dtype=numpy.int32)
            arr[:] = numpy.arange(1000)
            del arr
            loan.commit()
            got = numpy.frombuffer(r.recv(5), dtype=numpy.int32)
            self.assertTrue(numpy.array_equal(got, numpy.arange(1000)))

    def test_ctypes_alias_is_refused_after_release(self):
        r, w = ring_pair()
        with r, w:
            w.send(b"abcd")
            m = r.recv_view(5)
            view = m.view
            self.assertFalse(view.obj is None)
            m.release()
            with self.assertRaises(ValueError):
                view.obj  # the released memoryview gives nothing away
            with self.assertRaises(ValueError):
                ctypes.c_char.from_buffer_copy(view)


if __name__ == "__main__":
    unittest.main()

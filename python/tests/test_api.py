"""The Pythonic surface: errors, timeouts, iteration, polling, asyncio,
context managers, facts about channels and queues."""
import asyncio
import errno
import os
import selectors
import socket
import threading
import time
import unittest

from support import TMP, ipckit, name, url_for


def send_one(url, data):
    with ipckit.dial(url, 10) as c:
        c.send(data, 10)


class Errors(unittest.TestCase):

    def test_error_is_oserror_with_errno_and_detail(self):
        with self.assertRaises(ipckit.Error) as cm:
            ipckit.listen("nosuchscheme:/x")
        e = cm.exception
        self.assertIsInstance(e, OSError)
        self.assertEqual(e.errno, errno.EINVAL)
        # the library's own message: it lists the schemes it knows
        self.assertIn("unknown scheme", e.strerror)
        self.assertIn("shm:", e.strerror)
        self.assertIn("unknown scheme", str(e))

    def test_classes_follow_the_builtin_ones(self):
        a, b = ipckit.pair("unix:")
        with a, b:
            with self.assertRaises(TimeoutError):
                b.recv(0.01)
            with self.assertRaises(BlockingIOError):
                b.recv(0)
            with self.assertRaises(ipckit.WouldBlock):
                b.recv(0)
        with self.assertRaises(FileNotFoundError):
            ipckit.dial("unix:%s/absent.sock" % TMP, 0)
        with self.assertRaises(FileNotFoundError):
            ipckit.queue_stat("mq:/%s" % name("absent"))

    def test_message_too_large(self):
        url = "fifo:%s/%s?maxmsg=1024" % (TMP, name("big"))
        with ipckit.listen(url) as r, ipckit.dial(url, 5) as w:
            with self.assertRaises(ipckit.Error) as cm:
                w.send(b"x" * 2048)
            self.assertEqual(cm.exception.errno, errno.EMSGSIZE)
            self.assertIn("2048", cm.exception.strerror)
            self.assertIn("1024", cm.exception.strerror)
            # nothing was sent: the next message is whole
            w.send(b"fits")
            self.assertEqual(r.recv(5), b"fits")

    def test_detail_belongs_to_the_thread_that_failed(self):
        # each thread fails differently at the same time; each exception
        # carries its own thread's message
        results = {}
        go = threading.Barrier(4)

        def fail(i):
            go.wait()
            msgs = []
            for _ in range(200):
                try:
                    ipckit.listen("nosuch%d:/x" % i)
                except ipckit.Error as e:
                    msgs.append(e.strerror)
            results[i] = msgs

        ts = [threading.Thread(target=fail, args=(i,)) for i in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        for i, msgs in results.items():
            self.assertEqual(len(msgs), 200)
            for m in msgs:
                self.assertIn("'nosuch%d:'" % i, m)

    def test_str_is_refused(self):
        a, b = ipckit.pair("pipe:")
        with a, b, self.assertRaises(TypeError):
            a.send("text")

    def test_closed_channel(self):
        a, b = ipckit.pair("pipe:")
        a.close()
        a.close()  # harmless
        self.assertTrue(a.closed)
        with self.assertRaises(ValueError):
            a.send(b"x")
        with self.assertRaises(BrokenPipeError):
            b.recv(5)
        b.close()

    def test_strerror_and_last_error(self):
        self.assertEqual(ipckit.strerror(-errno.EPIPE),
                         "peer closed the channel")
        try:
            ipckit.dial("unix:%s/none.sock" % TMP, 0)
        except ipckit.Error as e:
            self.assertEqual(ipckit.last_error(), e.strerror)


class Timeouts(unittest.TestCase):

    def test_seconds_as_floats(self):
        a, b = ipckit.pair("pipe:")
        with a, b:
            t0 = time.monotonic()
            with self.assertRaises(ipckit.Timeout):
                b.recv(0.2)
            took = time.monotonic() - t0
            self.assertGreaterEqual(took, 0.19)
            self.assertLess(took, 10)
            # a tiny positive timeout waits (rounded up), it is not "never"
            with self.assertRaises(ipckit.Timeout):
                b.recv(0.0001)

    def test_none_waits_forever(self):
        a, b = ipckit.pair("pipe:")
        with a, b:
            t = threading.Timer(0.2, a.send, (b"late",))
            t.start()
            self.assertEqual(b.recv(None), b"late")
            t.join()

    def test_negative_is_refused(self):
        a, b = ipckit.pair("pipe:")
        with a, b, self.assertRaises(ValueError):
            b.recv(-1)

    def test_dial_waits_for_the_endpoint(self):
        url = url_for("unix")
        t0 = time.monotonic()
        with self.assertRaises(FileNotFoundError):  # after trying 0.1 s
            ipckit.dial(url, 0.1)
        self.assertGreaterEqual(time.monotonic() - t0, 0.09)
        got = []

        def later():
            time.sleep(0.2)
            with ipckit.listen(url) as lst, lst.accept(10) as c:
                got.append(c.recv(10))

        t = threading.Thread(target=later)
        t.start()
        with ipckit.dial(url, 10) as c:
            c.send(b"after the wait")
        t.join()
        self.assertEqual(got, [b"after the wait"])


class Receiving(unittest.TestCase):

    def test_iteration_ends_when_the_peer_goes(self):
        a, b = ipckit.pair("unix:")
        with b:
            with a:
                for i in range(5):
                    a.send(b"m%d" % i)
            self.assertEqual(list(b), [b"m%d" % i for i in range(5)])

    def test_large_messages_beyond_the_first_buffer(self):
        for url in ("unix:", "shm:?size=8M", "pipe:"):
            with self.subTest(url=url):
                a, b = ipckit.pair(url)
                with a, b:
                    big = os.urandom(3 << 20)
                    t = threading.Thread(target=a.send, args=(big,))
                    t.start()
                    self.assertEqual(b.recv(20), big)
                    t.join()
                    a.send(b"small after")
                    self.assertEqual(b.recvmsg(20), b"small after")

    def test_recv_into(self):
        a, b = ipckit.pair("unixgram:")
        with a, b:
            a.send(b"0123456789")
            small = bytearray(4)
            with self.assertRaises(ipckit.Error) as cm:
                b.recv_into(small, 5)
            self.assertEqual(cm.exception.errno, errno.ENOBUFS)
            buf = bytearray(64)
            n = b.recv_into(memoryview(buf)[8:], 5)  # the message stayed
            self.assertEqual(bytes(buf[8:8 + n]), b"0123456789")
            with self.assertRaises(TypeError):
                b.recv_into(b"read-only")

    def test_recvmsg_metadata_defaults(self):
        a, b = ipckit.pair("pipe:")
        with a, b:
            a.send(b"x")
            m = b.recvmsg(5)
            self.assertEqual(m, b"x")
            self.assertEqual((m.type, m.prio, m.pid, m.uid)[:2], (0, 0))


class Sending(unittest.TestCase):

    def test_send_many_in_order(self):
        for url in ("unix:", "pipe:", "unixgram:"):
            with self.subTest(url=url):
                a, b = ipckit.pair(url)
                with a, b:
                    msgs = [b"m%d" % i * (i % 7) for i in range(300)]
                    msgs[5] = bytearray(b"from a bytearray")
                    msgs[6] = memoryview(b"a view")
                    self.assertEqual(a.send_many(msgs, 5), len(msgs))
                    for m in msgs:
                        self.assertEqual(b.recv(5), bytes(m))
                    self.assertEqual(a.send_many([]), 0)
                    with self.assertRaises(TypeError):
                        a.send_many([b"ok", "text"])

    def test_batch_waits_for_flush(self):
        a, b = ipckit.pair("unix:?batch&batchdelay=0")
        with a, b:
            a.send(b"one")
            a.send_many([b"two", b"three"])
            with self.assertRaises(BlockingIOError):
                b.recv(0)
            a.flush(5)
            self.assertEqual([b.recv(5) for _ in range(3)],
                             [b"one", b"two", b"three"])
            a.flush(0)  # nothing left: fine


    def test_descriptors_with_messages(self):
        a, b = ipckit.pair("unix:")
        r, w = os.pipe()
        with a, b:
            self.assertEqual(a.send_fds(b"fd", [w]), 2)
            data, fds = b.recv_fds(timeout=5)
            self.assertEqual((data, len(fds)), (b"fd", 1))
            os.write(fds[0], b"x")  # the pipe's own write end
            self.assertEqual(os.read(r, 1), b"x")
            os.close(fds[0])
            a.send_fds(b"two", [r, w])
            with self.assertRaises(OSError) as e:
                b.recv_fds(maxfds=1, timeout=5)
            self.assertEqual(e.exception.errno, errno.ENOBUFS)
            data, fds = b.recv_fds(timeout=5)  # it stayed queued
            self.assertEqual((data, len(fds)), (b"two", 2))
            for fd in fds:
                os.close(fd)
            a.send(b"none")
            self.assertEqual(b.recv_fds(timeout=5), (b"none", []))
        os.close(r)
        os.close(w)
        p, q = ipckit.pair("pipe:")
        with p, q, self.assertRaises(OSError) as e:
            p.send_fds(b"x", [0])
        self.assertEqual(e.exception.errno, errno.EOPNOTSUPP)


class Polling(unittest.TestCase):

    def test_selectors_on_every_kind(self):
        for scheme in ("unixgram", "sysvmq", "mq", "shm", "fifo"):
            with self.subTest(scheme=scheme):
                url = url_for(scheme)
                with ipckit.listen(url) as r, \
                        ipckit.dial(r.address, 5) as w:
                    sel = selectors.DefaultSelector()
                    sel.register(r.fileno(), selectors.EVENT_READ)
                    self.assertEqual(sel.select(0), [])
                    w.send(b"ready")
                    self.assertTrue(sel.select(10))
                    self.assertEqual(r.recv(0), b"ready")
                    sel.close()

    def test_listener_is_readable_when_a_client_waits(self):
        url = url_for("unix")
        with ipckit.listen(url) as lst:
            sel = selectors.DefaultSelector()
            sel.register(lst, selectors.EVENT_READ)  # fileno() is used
            self.assertEqual(sel.select(0), [])
            # dial completes with the SP handshake, after the accept
            t = threading.Thread(target=send_one, args=(url, b"hi"))
            t.start()
            self.assertTrue(sel.select(10))
            # readable: a connection arrived (its handshake may still be
            # under way, so accept may wait a little)
            with lst.accept(10) as s:
                self.assertEqual(s.recv(10), b"hi")
            t.join()
            sel.close()

    def test_poll(self):
        a, b = ipckit.pair("unix:")
        c, d = ipckit.pair("unix:")
        with a, b, c, d:
            self.assertEqual(ipckit.poll([b, d], 0), [])
            c.send(b"x")
            got = ipckit.poll([b, (d, ipckit.POLLIN)], 5)
            self.assertEqual([(ch is d, ev) for ch, ev in got],
                             [(True, ipckit.POLLIN)])

    def test_poll_waits_for_the_first_ready(self):
        a, b = ipckit.pair("unixgram:")
        with a, b:
            t = threading.Timer(0.5, a.send, (b"late",))
            t.start()
            t0 = time.monotonic()
            got = ipckit.poll([b])  # no timeout: until one is ready
            t.join()
            self.assertEqual([ch for ch, _ in got], [b])
            self.assertGreaterEqual(time.monotonic() - t0, 0.4)
            self.assertEqual(b.recv(0), b"late")
            t0 = time.monotonic()
            self.assertEqual(ipckit.poll([b], 0.5), [])
            self.assertGreaterEqual(time.monotonic() - t0, 0.45)

    def test_asyncio(self):
        url = url_for("shm")

        async def main():
            with ipckit.listen(url) as r, ipckit.dial(url, 5) as w:
                loop = asyncio.get_running_loop()
                loop.call_later(0.1, w.send, b"one")
                loop.call_later(0.2, w.send, b"two")
                first = await ipckit.aio.recv(r, timeout=10)
                second = await ipckit.aio.recv(r, timeout=10)
                with self.assertRaises(asyncio.TimeoutError):
                    await ipckit.aio.recv(r, timeout=0.05)
                await ipckit.aio.send(w, b"three")
                third = await ipckit.aio.recvmsg(r, timeout=10)
                return first, second, bytes(third)

        self.assertEqual(asyncio.run(main()), (b"one", b"two", b"three"))

    def test_asyncio_accept_and_messages(self):
        url = url_for("unix")

        async def main():
            with ipckit.listen(url) as lst:
                def client():
                    with ipckit.dial(url, 5) as c:
                        for i in range(3):
                            c.send(b"%d" % i)
                loop = asyncio.get_running_loop()
                fut = loop.run_in_executor(None, client)
                conn = await ipckit.aio.accept(lst, timeout=10)
                with conn:
                    got = [m async for m in ipckit.aio.messages(conn)]
                await fut
                return got

        self.assertEqual(asyncio.run(main()), [b"0", b"1", b"2"])


class Lifetime(unittest.TestCase):

    def test_listener_removes_what_it_made(self):
        path = "%s/%s" % (TMP, name("fifo"))
        with ipckit.listen("fifo:" + path):
            self.assertTrue(os.path.exists(path))
        self.assertFalse(os.path.exists(path))
        sock = "%s/%s.sock" % (TMP, name("unix"))
        with ipckit.listen("unix:" + sock):
            self.assertTrue(os.path.exists(sock))
        self.assertFalse(os.path.exists(sock))

    def test_persist_and_remove(self):
        q = "mq:/%s" % name("persist")
        with ipckit.listen(q + "?persist"):
            pass
        try:
            self.assertEqual(ipckit.queue_stat(q).messages, 0)
        finally:
            ipckit.remove(q)
        with self.assertRaises(FileNotFoundError):
            ipckit.queue_stat(q)

    def test_close_while_another_thread_waits(self):
        # the channel is one thread's at a time, but a close() from another
        # thread must not make the waiting call use a freed handle: on shm:
        # that was a SIGSEGV of the interpreter, on fifo: EBADF
        for scheme in ("shm", "fifo", "sysvmq"):
            url = url_for(scheme)
            lst = ipckit.listen(url)
            where = lst.address
            got = []

            def waiter():
                try:
                    got.append(lst.recv(timeout=8))
                except Exception as e:  # what it raised, checked below
                    got.append(e)
            t = threading.Thread(target=waiter)
            t.start()
            time.sleep(0.3)
            t0 = time.monotonic()
            lst.close()
            t.join(6)
            self.assertFalse(t.is_alive(), scheme)
            self.assertLess(time.monotonic() - t0, 6, scheme)
            self.assertEqual(len(got), 1, scheme)
            self.assertIsInstance(got[0], ValueError, scheme)
            self.assertIn("closed", str(got[0]))
            self.assertTrue(lst.closed)
            # closed for good once the waiting call returned: the listener
            # removed what it made
            if scheme == "fifo":
                self.assertFalse(os.path.exists(where[len("fifo:"):]))
            elif scheme == "shm":
                self.assertFalse(os.path.exists(
                    "/dev/shm/" + where[len("shm:/"):].split("?")[0]))
            else:
                with self.assertRaises(FileNotFoundError):
                    ipckit.queue_stat(where)

    def test_garbage_collected_channel_closes(self):
        path = "%s/%s" % (TMP, name("gc"))
        lst = ipckit.listen("fifo:" + path)
        self.assertTrue(os.path.exists(path))
        del lst
        self.assertFalse(os.path.exists(path))


class Facts(unittest.TestCase):

    def test_address_and_maxmsg(self):
        with ipckit.listen("tcp://127.0.0.1:0?maxmsg=4096") as lst:
            addr = lst.address
            self.assertTrue(addr.startswith("tcp://127.0.0.1:"))
            self.assertNotEqual(addr, "tcp://127.0.0.1:0")
            t = threading.Thread(target=send_one, args=(addr, b"over tcp"))
            t.start()
            with lst.accept(10) as s:
                self.assertEqual(s.recv(10), b"over tcp")
                self.assertEqual(s.maxmsg, 4096)
            t.join()
        a, b = ipckit.pair("pipe:")
        with a, b:
            self.assertIsNone(a.pid)
            self.assertIn("pipe", repr(a))

    def test_queue_status(self):
        with ipckit.listen(url_for("sysvmq")) as q:
            q.send(b"12345", type=2)
            q.send(b"678", type=3)
            st = q.queue_status()
            self.assertEqual(st.scheme, "sysvmq")
            self.assertEqual(st.messages, 2)
            self.assertEqual(st.bytes, 8)
            self.assertEqual(st.last_send_pid, os.getpid())
            self.assertEqual(ipckit.queue_stat(q.address).messages, 2)
        with ipckit.listen(url_for("mq")) as q:
            st = q.queue_status()
            self.assertEqual((st.scheme, st.max_messages, st.max_msgsize),
                             ("mq", 10, 8192))

    def test_ring_info(self):
        with ipckit.listen(url_for("shm")) as r:
            info = r.ring_info()
            self.assertGreater(info.capacity, 0)
            self.assertEqual(info.consumer_pid, os.getpid())
            self.assertEqual(info.used, 0)
        a, b = ipckit.pair("pipe:")
        with a, b, self.assertRaises(ipckit.Error) as cm:
            a.ring_info()
        self.assertEqual(cm.exception.errno, errno.EOPNOTSUPP)

    def test_everything_exported_exists(self):
        for n in ipckit.__all__:
            self.assertTrue(hasattr(ipckit, n), n)

    def test_schemes(self):
        names = ipckit.schemes()
        for s in ("pipe", "fifo", "unix", "tcp", "shm", "mq", "sysvmq"):
            self.assertIn(s, names)
            self.assertTrue(ipckit.scheme_built(s))
            self.assertTrue(ipckit.scheme_summary(s))
        self.assertFalse(ipckit.scheme_built("nosuch"))
        self.assertIsNone(ipckit.scheme_summary("nosuch"))
        self.assertRegex(ipckit.version(), r"^\d+\.\d+\.\d+$")

    def test_socket_family_interop_with_stdlib(self):
        # a raw unixgram address talks to Python's own socket module
        path = "%s/%s.dg" % (TMP, name("dg"))
        with ipckit.listen("unixgram:" + path) as r:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            s.sendto(b"from socket", path)
            s.close()
            self.assertEqual(r.recv(5), b"from socket")



class Warnings(unittest.TestCase):

    def test_handler_hears_about_a_dropped_text_peer(self):
        heard = []
        ipckit.set_warn_handler(heard.append)
        try:
            with ipckit.listen("tcp://127.0.0.1:0") as lst:
                host, port = lst.address[len("tcp://"):].rsplit(":", 1)
                with socket.create_connection((host, int(port))) as s:
                    s.sendall(b"hello\n")
                    with self.assertRaises(ipckit.Timeout):
                        lst.accept(timeout=0.3)
                    told = s.recv(512)
        finally:
            ipckit.set_warn_handler(None)
        self.assertIn(b"listen with ?raw", told)
        self.assertEqual(len(heard), 1, heard)
        self.assertIn("unframed text from a plain program", heard[0])


if __name__ == "__main__":
    unittest.main()

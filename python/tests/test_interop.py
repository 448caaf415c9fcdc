"""Python and C (the ipckit tool) on every transport, both directions,
messages compared byte for byte, metadata included."""
import os
import unittest

from support import (CliReceiver, cli_send, ipckit, need_cli, url_for,
                     wait_proc)

# listen on a blocked signal needs it blocked in every thread: block it
# now, before anything starts a thread (unittest imports tests first)
SIG_URL = "signal:self?sig=RTMIN+5"
ipckit.signal_block(SIG_URL)

BINARY = bytes(range(256)) * 4
BIG = os.urandom(200000)
STREAM_MSGS = [b"hello", b"", BINARY, b"\n\0\n", BIG, b"last"]
SMALL_MSGS = [b"hello", b"", BINARY, b"\n\0\n", os.urandom(4000), b"last"]

TRANSPORTS = {
    "fifo": STREAM_MSGS,
    "unix": STREAM_MSGS,
    "tcp": STREAM_MSGS,
    "unixgram": [b"hello", b"", BINARY, b"\n\0\n", os.urandom(60000)],
    "sysvmq": SMALL_MSGS,
    "mq": SMALL_MSGS,
    "shm": STREAM_MSGS,
    "sysvshm": STREAM_MSGS,
    "mmap": STREAM_MSGS,
}
CONNECTED = ("unix", "tcp")


@need_cli
class PythonToC(unittest.TestCase):
    """Python dials and sends; `ipckit recv` listens and prints."""

    def check(self, scheme, msgs, **send_kw):
        r = CliReceiver(url_for(scheme), len(msgs))
        try:
            with ipckit.dial(r.address, timeout=20) as ch:
                for m in msgs:
                    self.assertEqual(ch.send(m, 20, **send_kw), len(m))
            got = r.messages()
        finally:
            r.kill()
        self.assertEqual(len(got), len(msgs))
        for (meta, body), want in zip(got, msgs):
            self.assertEqual(body, want)
            self.assertEqual(meta["len"], len(want))
        return got

    def test_each_transport(self):
        for scheme, msgs in TRANSPORTS.items():
            with self.subTest(scheme=scheme):
                self.check(scheme, msgs)

    def test_bytes_like_objects(self):
        import array
        msgs = [bytearray(b"bytearray"), memoryview(b"xxmemoryview")[2:],
                array.array("I", [1, 2, 3])]
        r = CliReceiver(url_for("shm"), len(msgs))
        try:
            with ipckit.dial(r.address, timeout=20) as ch:
                for m in msgs:
                    ch.send(m)
            got = r.messages()
        finally:
            r.kill()
        self.assertEqual([b for _, b in got], [bytes(m) for m in msgs])

    def test_sysvmq_type(self):
        got = self.check("sysvmq", [b"typed"], type=7)
        self.assertEqual(got[0][0]["type"], 7)

    def test_mq_priority(self):
        got = self.check("mq", [b"urgent"], prio=5)
        self.assertEqual(got[0][0]["prio"], 5)

    def test_signal(self):
        msgs = [b"12345678", b"abc", b"\0\xff\n"]
        r = CliReceiver("signal:self?sig=RTMIN+6", len(msgs))
        try:
            with ipckit.dial(r.address, timeout=20) as ch:
                for m in msgs:
                    ch.send(m, 20)
            got = r.messages()
        finally:
            r.kill()
        # a signal carries 8 bytes: shorter messages keep their length
        self.assertEqual([b for _, b in got], msgs)
        for meta, _ in got:
            self.assertEqual(meta["pid"], os.getpid())
            self.assertEqual(meta["uid"], os.getuid())


@need_cli
class CToPython(unittest.TestCase):
    """Python listens and receives; `ipckit send` dials and sends."""

    def receive(self, listener, scheme, timeout=20):
        if scheme in CONNECTED:
            with listener.accept(timeout) as c:
                return c.recvmsg(timeout)
        # a mailbox: the receive waits for the next sender, whoever came
        # and went before
        return listener.recvmsg(timeout)

    def check(self, scheme, msgs, *send_args, url=None):
        got = []
        with ipckit.listen(url or url_for(scheme)) as lst:
            addr = lst.address
            for m in msgs:
                p = cli_send(addr, m, *send_args, wait=False)
                try:
                    got.append((self.receive(lst, scheme), p.pid))
                finally:
                    wait_proc(p)
        self.assertEqual([bytes(m) for m, _ in got], msgs)
        for m, _ in got:
            self.assertIsInstance(m, ipckit.Message)
        return got

    def test_each_transport(self):
        for scheme, msgs in TRANSPORTS.items():
            with self.subTest(scheme=scheme):
                self.check(scheme, msgs)

    def test_sysvmq_type(self):
        (m, _), = self.check("sysvmq", [b"typed"], "--type", "9")
        self.assertEqual(m.type, 9)

    def test_sysvmq_select_by_type(self):
        with ipckit.listen(url_for("sysvmq")) as q:
            for t, body in ((3, b"three"), (5, b"five")):
                wait_proc(cli_send(q.address, body, "--type", str(t)))
            m = q.recvmsg(5, type=5)
            self.assertEqual((bytes(m), m.type), (b"five", 5))
            m = q.recvmsg(5)
            self.assertEqual((bytes(m), m.type), (b"three", 3))

    def test_mq_priority(self):
        with ipckit.listen(url_for("mq")) as q:
            for prio, body in ((1, b"low"), (6, b"high")):
                wait_proc(cli_send(q.address, body, "--prio", str(prio)))
            m = q.recvmsg(5)
            self.assertEqual((bytes(m), m.prio), (b"high", 6))
            m = q.recvmsg(5)
            self.assertEqual((bytes(m), m.prio), (b"low", 1))

    def test_signal_sender_pid(self):
        msgs = [b"12345678", b"ab"]
        got = self.check("signal", msgs, url=SIG_URL)
        for m, pid in got:
            self.assertEqual(m.pid, pid)
            self.assertEqual(m.uid, os.getuid())
            self.assertEqual(m.type, ipckit.signal_block(SIG_URL))


class Pipes(unittest.TestCase):
    """pipe: joins a parent and the child it forks, so both ends are this
    package; spawn runs any program on pipes."""

    def test_pair_across_fork(self):
        a, b = ipckit.pair("pipe:")
        pid = os.fork()
        if pid == 0:  # child: echo every message back reversed
            code = 1
            try:
                a.close()
                for m in b:
                    b.send(m[::-1])
                code = 0
            finally:
                os._exit(code)
        b.close()
        with a:
            for m in STREAM_MSGS:
                a.send(m)
                self.assertEqual(a.recv(20), m[::-1])
            a.shutdown()
        _, st = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(st), 0)

    def test_spawn_raw(self):
        with ipckit.spawn(["cat"]) as c:
            self.assertGreater(c.pid, 0)
            c.send(BIG)
            c.shutdown()
            data = b"".join(c)
            self.assertEqual(data, BIG)
            self.assertEqual(c.wait(10), 0)

    def test_spawn_framed_documented_wire_format(self):
        # the child frames by hand as docs/channels.md describes (an 8-byte
        # big-endian length, then the bytes): what Python sends arrives whole
        peer = ("import sys, struct\n"
                "i, o = sys.stdin.buffer, sys.stdout.buffer\n"
                "while True:\n"
                "    h = i.read(8)\n"
                "    if len(h) < 8: break\n"
                "    n, = struct.unpack('>Q', h)\n"
                "    d = i.read(n)\n"
                "    o.write(struct.pack('>Q', n) + d[::-1]); o.flush()\n")
        import sys
        with ipckit.spawn([sys.executable, "-c", peer], framed=True) as c:
            for m in STREAM_MSGS:
                c.send(m)
                self.assertEqual(c.recv(20), m[::-1])
            c.shutdown()
            self.assertEqual(c.wait(10), 0)

    def test_spawn_env_cwd_exit_status(self):
        with ipckit.spawn(["sh", "-c", 'printf "%s:%s" "$IPKPY" "$PWD"; '
                           'exit 3'], env={"IPKPY": "yes"}, cwd="/") as c:
            out = b"".join(c)
            self.assertEqual(out, b"yes:/")
            self.assertEqual(c.wait(10), 3)

    def test_spawn_missing_program(self):
        with self.assertRaises(ipckit.NotFound) as cm:
            ipckit.spawn(["/nonexistent/ipkpy-program"])
        self.assertIn("ipkpy-program", cm.exception.strerror)


if __name__ == "__main__":
    unittest.main()

"""Publish/subscribe from Python: topics, subscriber counts, the missed
count of a subscriber that fell behind a shared-memory publisher, the C
tools (ipckit pub, sub) as peers, zero copy on the broadcast ring, and a
subscriber killed with SIGKILL while the publisher and the others go on."""
import errno
import os
import select
import struct
import subprocess
import time
import unittest

from support import (CLI, TMP, child_python, ipckit, name, need_cli,
                     parse_meta, read_line, url_for)


def pub_url(scheme, opts=""):
    """A fresh publisher address and the unique name in it."""
    n = name("pub")
    if scheme == "shm":
        return "shm:/%s?size=256K&proto=pub%s" % (n, opts), n
    if scheme == "unix":
        return "unix:%s/%s.sock?proto=pub%s" % (TMP, n, opts), n
    if scheme == "tcp":
        return "tcp://127.0.0.1:0?proto=pub%s" % opts, n
    if scheme == "mmap":
        return "mmap:%s/%s.ring?size=256K&proto=pub%s" % (TMP, n, opts), n
    raise ValueError(scheme)


def leftovers(tag):
    return [f for d in ("/dev/shm", TMP) for f in os.listdir(d) if tag in f]


def wait_subscribers(pub, n, timeout=20.0):
    end = time.monotonic() + timeout
    while pub.subscribers < n:
        if time.monotonic() > end:
            raise AssertionError("%d subscribers, not %d"
                                 % (pub.subscribers, n))
        time.sleep(0.01)


SUBSCRIBER = """
import struct, sys, ipckit
sub = ipckit.dial(sys.argv[1], 20)
sub.subscribe(b"seq")
sub.subscribe(b"end")
print("ready", flush=True)
want = got = 0
while True:
    m = sub.recvmsg(30)
    if m == b"end":
        break
    seq, = struct.unpack_from("<Q", m, 3)
    if seq != want + m.missed:  # in order; gaps only where it was told
        print("bad", seq, want, m.missed, flush=True)
        sys.exit(1)
    want = seq + 1
    got += 1
    if got == int(sys.argv[2]):
        print("halfway", flush=True)
print("got", got, "of", want, flush=True)
"""


class PubSub(unittest.TestCase):

    def setUp(self):
        self.fds = sorted(os.listdir("/proc/self/fd"))

    def tearDown(self):
        self.assertEqual(sorted(os.listdir("/proc/self/fd")), self.fds,
                         "descriptors leaked")

    def test_topics_on_shared_memory(self):
        url = url_for("shm") + "&proto=pub"
        with ipckit.listen(url) as pub:
            addr = pub.address
            with ipckit.dial(addr, 5) as a, ipckit.dial(addr, 5) as b:
                a.subscribe("weather.")
                b.subscribe(b"")
                self.assertEqual(pub.subscribers, 2)
                for m in (b"news.x", b"weather.rain", b"\x00bin"):
                    pub.send(m)
                self.assertEqual(a.recv(5), b"weather.rain")
                self.assertEqual([b.recv(5) for _ in range(3)],
                                 [b"news.x", b"weather.rain", b"\x00bin"])
                a.unsubscribe("weather.")
                with self.assertRaises(ipckit.Error):
                    a.unsubscribe("weather.")
                with self.assertRaises(ipckit.Error):
                    pub.subscribe("x")  # a publisher does not subscribe

    def test_missed_is_told(self):
        url = url_for("shm").replace("size=1M", "size=64K") + "&proto=pub"
        with ipckit.listen(url) as pub:
            with ipckit.dial(pub.address, 5) as sub:
                sub.subscribe()
                for i in range(5000):
                    pub.send(b"%08d" % i)
                first = sub.recvmsg(5)
                self.assertGreater(first.missed, 0)
                self.assertEqual(int(first), first.missed)

    def test_zero_copy_both_sides(self):
        url, tag = pub_url("shm")
        with ipckit.listen(url) as pub, ipckit.dial(pub.address, 5) as sub:
            sub.subscribe(b"frame")
            with pub.borrow(13) as buf:
                buf[:] = b"frame:in-ring"
            pub.send(b"other topic")
            with sub.recv_view(5) as view:
                self.assertEqual(bytes(view), b"frame:in-ring")
                self.assertTrue(view.readonly)
            with self.assertRaises(ipckit.WouldBlock):
                sub.recv_view(0)  # the other topic was filtered out
        self.assertEqual(leftovers(tag), [])

    def test_missed_comes_with_a_view(self):
        url, tag = pub_url("shm")
        url = url.replace("size=256K", "size=64K")
        with ipckit.listen(url) as pub, ipckit.dial(pub.address, 5) as sub:
            sub.subscribe()
            for i in range(5000):
                pub.send(b"%08d" % i)
            v = sub.recv_view(5)
            self.assertGreater(v.missed, 0)
            self.assertEqual(int(bytes(v.view)), v.missed)
            v.release()
            self.assertEqual(sub.recv_view(5).missed, 0)
        self.assertEqual(leftovers(tag), [])

    @need_cli
    def test_python_pub_to_cli_sub(self):
        for scheme in ("shm", "unix", "tcp", "mmap"):
            with self.subTest(scheme=scheme):
                url, tag = pub_url(scheme)
                with ipckit.listen(url) as pub:
                    subs = [subprocess.Popen(
                        [CLI, "sub", pub.address, "--topic", topic, "-n",
                         "2", "--meta", "-t", "30000"],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                        for topic in ("weather.", "")]
                    try:
                        wait_subscribers(pub, 2)
                        for m in (b"news.1", b"weather.rain\x00\n",
                                  b"weather.sun"):
                            pub.send(m, 10)
                        outs = []
                        for p in subs:
                            out, err = p.communicate(timeout=60)
                            self.assertEqual(p.returncode, 0, err)
                            outs.append(parse_meta(out))
                    finally:
                        for p in subs:
                            if p.poll() is None:
                                p.kill()
                                p.wait()
                    self.assertEqual([b for _, b in outs[0]],
                                     [b"weather.rain\x00\n", b"weather.sun"])
                    self.assertEqual([b for _, b in outs[1]],
                                     [b"news.1", b"weather.rain\x00\n"])
                    self.assertEqual({m["missed"] for o in outs
                                      for m, _ in o}, {0})
                self.assertEqual(leftovers(tag), [])

    @need_cli
    def test_cli_pub_to_python_sub(self):
        for scheme in ("shm", "unix"):
            with self.subTest(scheme=scheme):
                url, tag = pub_url(scheme)
                p = subprocess.Popen(
                    [CLI, "pub", url, "--subscribers", "1", "-t", "30000",
                     "t.one", "skip", "t.two"],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                try:
                    sub_url = url.replace("proto=pub", "proto=sub")
                    with ipckit.dial(sub_url + "&topic=t.", 20) as sub:
                        got = [sub.recvmsg(30) for _ in range(2)]
                    out, err = p.communicate(timeout=60)
                    self.assertEqual(p.returncode, 0, err)
                finally:
                    if p.poll() is None:
                        p.kill()
                        p.wait()
                self.assertEqual(got, [b"t.one", b"t.two"])
                self.assertEqual([m.missed for m in got], [0, 0])
                self.assertEqual(leftovers(tag), [])

    def test_killed_subscriber_does_not_stop_the_others(self):
        """Two subscriber processes; one is killed with SIGKILL halfway.
        The publisher goes on, and the survivor gets every message in
        order: all of them with slow=block (the publisher waits for its
        subscribers, and must not wait for a dead one), or with gaps that
        it is told of (missed) with slow=drop."""
        total = 3000
        for scheme, opts in (("shm", "&slow=block"), ("unix", "&slow=block"),
                             ("shm", "")):
            with self.subTest(scheme=scheme, opts=opts):
                url, tag = pub_url(scheme, opts)
                if scheme == "shm":
                    url = url.replace("size=256K", "size=64K")
                with ipckit.listen(url) as pub:
                    addr = pub.address
                    victim = child_python(SUBSCRIBER, addr, total // 3,
                                          stdin=subprocess.PIPE)
                    keeper = child_python(SUBSCRIBER, addr, total // 3)
                    try:
                        self.assertEqual(read_line(victim), "ready")
                        self.assertEqual(read_line(keeper), "ready")
                        wait_subscribers(pub, 2)
                        fd = victim.stdout.fileno()
                        sent = 0
                        pad = b"x" * 100
                        # publish until the victim is halfway ...
                        while not select.select(
                                [fd], [], [], 0.001 if sent % 64 == 0
                                else 0)[0]:
                            self.assertLess(sent, 100 * total,
                                            "the victim never got halfway")
                            pub.send(b"seq" + struct.pack("<Q", sent) + pad,
                                     20)
                            sent += 1
                        # ... SIGKILL it mid-stream, and go on
                        victim.kill()
                        victim.wait()
                        for _ in range(total):
                            pub.send(b"seq" + struct.pack("<Q", sent) + pad,
                                     20)
                            sent += 1
                        pub.send(b"end", 20)
                        self.assertEqual(read_line(keeper, 60), "halfway")
                        last = read_line(keeper, 60).split()
                        self.assertEqual(last[0::2], ["got", "of"])
                        self.assertEqual(int(last[3]), sent)
                        if "block" in opts:
                            self.assertEqual(int(last[1]), sent)
                        self.assertEqual(keeper.wait(60), 0)
                        self.assertEqual(victim.returncode, -9)
                    finally:
                        for p in (victim, keeper):
                            if p.poll() is None:
                                p.kill()
                            p.wait()
                            for f in (p.stdout, p.stderr, p.stdin):
                                if f:
                                    f.close()
                self.assertEqual(leftovers(tag), [])

    def test_failures(self):
        tag = name("pubfail")
        with self.assertRaises(ipckit.Error) as cm:
            ipckit.listen("mq:/%s?proto=pub" % tag)
        self.assertEqual(cm.exception.errno, errno.EPROTONOSUPPORT)
        with self.assertRaises(ipckit.Error) as cm:
            ipckit.listen("unix:%s/%s.sock?proto=pub&history=3" % (TMP, tag))
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        self.assertIn("history", str(cm.exception))
        url, tag2 = pub_url("shm")
        with ipckit.listen(url) as pub:
            with self.assertRaises(ipckit.Error) as cm:
                pub.recv(0.1)  # a publisher only sends
            self.assertEqual(cm.exception.errno, errno.EOPNOTSUPP)
            with ipckit.dial(pub.address, 5) as sub:
                with self.assertRaises(ipckit.Error) as cm:
                    sub.send(b"x", 0.1)  # a subscriber only receives
                self.assertEqual(cm.exception.errno, errno.EOPNOTSUPP)
                with self.assertRaises(ipckit.NotFound):
                    sub.unsubscribe(b"never")
                sub.subscribe(b"")
                with self.assertRaises(ipckit.Timeout):
                    sub.recv(0.2)  # nothing published
        self.assertEqual(leftovers(tag) + leftovers(tag2), [])


if __name__ == "__main__":
    unittest.main()

"""REQ/REP and PUSH/PULL from Python (?proto=), against Python and against
the C tools (ipckit rep, req, push, pull): routes that let a server hold
several requests and answer them in any order, the status a reply
carries, and the failure paths, which raise clear exceptions and leave no
descriptor, shared-memory object, queue or file behind."""
import asyncio
import errno
import os
import select
import subprocess
import threading
import time
import unittest

from support import CLI, TMP, CliReceiver, ipckit, name, need_cli, url_for

# every mechanism REQ/REP runs on (sysvshm: and signal: are refused)
REQREP_SCHEMES = ("unix", "tcp", "unixgram", "sysvmq", "mq", "fifo", "shm",
                  "mmap")


def rep_url(scheme):
    """A fresh address for a REP server on scheme, and the unique name in
    it (what reply mailboxes beside it are named after)."""
    if scheme == "mq":  # small: each client adds a reply queue of its own
        n = name("mq")
        return "mq:/%s?maxmsg=4&msgsize=1024&proto=rep" % n, n
    url = url_for(scheme)
    sep = "&" if "?" in url else "?"
    return url + sep + "proto=rep", url.split("/")[-1].split("?")[0]


def fds():
    return sorted(os.listdir("/proc/self/fd"))


def leftovers(tag):
    """Objects named after tag in /dev/shm, /dev/mqueue and the tests'
    temporary directory."""
    out = []
    for d in ("/dev/shm", "/dev/mqueue", TMP):
        try:
            out += [os.path.join(d, f) for f in os.listdir(d) if tag in f]
        except FileNotFoundError:
            pass
    return out


def wait_gone(tag, timeout=10.0):
    """Objects named after tag still there after waiting (a server lets a
    closed client's mailbox go at its next look, about once a second)."""
    end = time.monotonic() + timeout
    while True:
        left = leftovers(tag)
        if not left or time.monotonic() > end:
            return left
        time.sleep(0.05)


def stderr_line(p, timeout=20.0):
    """The first line a helper writes on stderr (its --print-address)."""
    fd = p.stderr.fileno()
    line = b""
    end = time.monotonic() + timeout
    while not line.endswith(b"\n"):
        left = end - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            p.kill()
            p.wait()
            raise AssertionError("no address from %s (so far %r)"
                                 % (p.args[:2], line))
        b = os.read(fd, 1)
        if not b:
            p.wait()
            raise AssertionError("%s exited: %r" % (p.args[:2], line))
        line += b
    return line.decode().strip()


def finish(p, timeout=60.0):
    """Wait for a helper; (returncode, stdout, stderr)."""
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise AssertionError("%s did not finish: %r" % (p.args[:2], err))
    return p.returncode, out, err


class ReqRep(unittest.TestCase):

    def test_routes_on_every_scheme(self):
        """Three clients ask at once; the server holds all three requests
        and answers them in reverse order, each to the one that asked,
        with a status each; the client mailboxes go when they close."""
        before = fds()
        for scheme in REQREP_SCHEMES:
            with self.subTest(scheme=scheme):
                url, tag = rep_url(scheme)
                with ipckit.listen(url) as srv:
                    addr = srv.address
                    self.assertIn("proto=req", addr)
                    clients = [ipckit.dial(addr, 10) for _ in range(3)]
                    try:
                        for i, c in enumerate(clients):
                            c.send(b"q%d\x00%s" % (i, scheme.encode()), 10)
                        reqs = [srv.recvmsg(10) for _ in clients]
                        self.assertEqual(
                            sorted(reqs),
                            [b"q%d\x00%s" % (i, scheme.encode())
                             for i in range(3)])
                        self.assertEqual(len({r.route for r in reqs}), 3)
                        for r in reversed(reqs):
                            n = int(r[1:2])
                            self.assertEqual(
                                srv.reply(r, b"a" + r, status=100 + n),
                                len(r) + 1)
                        for i, c in enumerate(clients):
                            got = c.recvmsg(10)
                            self.assertEqual(
                                got, b"aq%d\x00%s" % (i, scheme.encode()))
                            self.assertEqual(got.status, 100 + i)
                            self.assertIsNone(got.route)
                        # request() and a reply with plain send (status 0)
                        c = clients[1]
                        c.send(b"again", 10)
                        self.assertEqual(srv.recv(10), b"again")
                        srv.send(memoryview(b"plain"))
                        got = c.recvmsg(10)
                        self.assertEqual((got, got.status), (b"plain", 0))
                    finally:
                        for c in clients:
                            c.close()
                self.assertEqual(wait_gone(tag), [], scheme)
                if scheme == "sysvmq":  # System V: no file to look for
                    with self.assertRaises(ipckit.NotFound):
                        ipckit.queue_stat(url.split("?")[0])
        self.assertEqual(fds(), before)

    def test_large_messages(self):
        """Requests and replies larger than the receive buffer (64 KiB)
        whole, including on rings, where the pattern layer owns the
        rings (recv must not try to read them in place)."""
        for scheme in ("shm", "mmap", "unix", "tcp"):
            with self.subTest(scheme=scheme):
                url, tag = rep_url(scheme)
                big = os.urandom(200000)
                with ipckit.listen(url) as srv, \
                        ipckit.dial(srv.address, 10) as c:
                    c.send(big, 10)
                    self.assertEqual(srv.recv(10), big)
                    srv.send(big[::-1], 10)
                    self.assertEqual(c.recv(10), big[::-1])
                    c.send(big[:70000], 10)
                    m = srv.recvmsg(10)
                    self.assertEqual(m, big[:70000])
                    srv.reply(m, big[:90000], status=9)
                    r = c.recvmsg(10)
                    self.assertEqual((r, r.status), (big[:90000], 9))
                self.assertEqual(wait_gone(tag), [])

    def test_requests_larger_than_socket_buffers(self):
        """A 4 MiB request and reply on unix: and tcp: (more than the
        kernel buffers): the server, in another thread, gets it whole."""
        for scheme in ("unix", "tcp"):
            with self.subTest(scheme=scheme):
                url, tag = rep_url(scheme)
                big = os.urandom(4 << 20)
                with ipckit.listen(url + "&maxmsg=8M") as srv, \
                        ipckit.dial(srv.address + "&maxmsg=8M", 10) as c:
                    def serve():
                        m = srv.recvmsg(30)
                        srv.reply(m, m[::-1], status=len(m) % 32768,
                                  timeout=30)
                    t = threading.Thread(target=serve)
                    t.start()
                    try:
                        r = c.request(big, 30)
                    finally:
                        t.join()
                    self.assertEqual(r, big[::-1])
                    self.assertEqual(r.status, len(big) % 32768)
                self.assertEqual(wait_gone(tag), [])

    def test_request_helper_and_poll(self):
        url, tag = rep_url("unix")
        with ipckit.listen(url) as srv, ipckit.dial(srv.address, 10) as c:
            c.send(b"1+1", 10)
            # the server's descriptor says when a request is there
            self.assertTrue(select.select([srv], [], [], 10)[0])
            m = srv.recvmsg(0)
            srv.reply(m.route, b"2", status=0)
            self.assertEqual(c.recv(10), b"2")
            # request() sends and waits in one call
            t = threading.Thread(target=lambda: srv.reply(
                srv.recvmsg(10), b"pong", status=7))
            t.start()
            r = c.request(b"ping", 10)
            t.join()
            self.assertEqual((r, r.status), (b"pong", 7))
        self.assertEqual(wait_gone(tag), [])

    def test_asyncio_server_and_clients(self):
        """One event loop: a REP server holding three requests and
        answering them in reverse order, and three REQ clients awaiting."""
        url, tag = rep_url("shm")

        async def main(srv, clients):
            async def server():
                held = [await ipckit.aio.recvmsg(srv, 10) for _ in clients]
                for r in reversed(held):
                    await ipckit.aio.send(srv, b"re:" + r, route=r.route,
                                          status=int(r[1:]))
            return (await asyncio.gather(server(), *(
                ipckit.aio.request(c, b"c%d" % i, 10)
                for i, c in enumerate(clients))))[1:]

        with ipckit.listen(url) as srv:
            clients = [ipckit.dial(srv.address, 10) for _ in range(3)]
            try:
                got = asyncio.run(main(srv, clients))
            finally:
                for c in clients:
                    c.close()
        self.assertEqual(got, [b"re:c0", b"re:c1", b"re:c2"])
        self.assertEqual([m.status for m in got], [0, 1, 2])
        self.assertEqual(wait_gone(tag), [])

    @need_cli
    def test_python_req_against_cli_rep(self):
        """ipckit rep -- CMD answers a Python REQ: the command's output is
        the reply and its exit status comes as Message.status. With -r the
        command reads the request exactly (without it, as a line: a newline
        added)."""
        for scheme in ("unix", "shm", "sysvmq"):
            with self.subTest(scheme=scheme):
                url, tag = rep_url(scheme)
                p = subprocess.Popen(
                    [CLI, "rep", url, "-p", "-r", "-n", "3", "--",
                     "sh", "-c", "tr a-z A-Z; exit 3"],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                try:
                    addr = stderr_line(p)
                    with ipckit.dial(addr, 10) as c:
                        for msg in (b"hello", b"two\nlines\x00nul", b""):
                            r = c.request(msg, 20)
                            self.assertEqual(r, msg.upper())
                            self.assertEqual(r.status, 3)
                    rc, _, err = finish(p)
                    self.assertEqual(rc, 0, err)
                finally:
                    if p.poll() is None:
                        p.kill()
                        p.wait()
                self.assertEqual(wait_gone(tag), [])

    @need_cli
    def test_python_req_against_cli_echo(self):
        url, tag = rep_url("tcp")
        p = subprocess.Popen([CLI, "rep", url, "-p", "-n", "2", "--echo"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            with ipckit.dial(stderr_line(p), 10) as c:
                blob = bytes(range(256)) * 300
                self.assertEqual(c.request(blob, 20), blob)
                self.assertEqual(c.request(b"x", 20), b"x")
            self.assertEqual(finish(p)[0], 0)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()

    @need_cli
    def test_python_rep_against_cli_req(self):
        """ipckit req clients (C) of a Python REP: several asking at once,
        held by the server and answered in reverse order by route; the
        status travels back (req exits with it)."""
        for scheme in ("unix", "shm", "mq", "fifo"):
            with self.subTest(scheme=scheme):
                url, tag = rep_url(scheme)
                with ipckit.listen(url) as srv:
                    addr = srv.address
                    procs = [subprocess.Popen(
                        [CLI, "req", addr, "-m", "-t", "20000",
                         "ask%d" % i], stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE) for i in range(3)]
                    try:
                        reqs = [srv.recvmsg(20) for _ in procs]
                        self.assertEqual(sorted(reqs),
                                         [b"ask0", b"ask1", b"ask2"])
                        for r in reversed(reqs):
                            srv.reply(r, b"for " + r, status=int(r[3:]))
                        for i, p in enumerate(procs):
                            rc, out, err = finish(p)
                            self.assertEqual(rc, i, err)  # its status
                            self.assertEqual(
                                out, b"# len=8 status=%d\nfor ask%d\n"
                                % (i, i))
                    finally:
                        for p in procs:
                            if p.poll() is None:
                                p.kill()
                                p.wait()
                self.assertEqual(wait_gone(tag), [])


class PushPull(unittest.TestCase):

    @need_cli
    def test_python_push_to_cli_pull(self):
        for scheme in ("unix", "sysvmq", "shm"):
            with self.subTest(scheme=scheme):
                url = url_for(scheme)
                url += ("&" if "?" in url else "?") + "proto=pull"
                rx = CliReceiver(url, 3, cmd="pull")
                try:
                    with ipckit.dial(rx.address, 10) as push:
                        self.assertIn("proto=push", rx.address)
                        msgs = [b"job1", b"\x00\xffbin", b"x" * 5000]
                        for m in msgs:
                            push.send(m, 10)
                        got = [body for _, body in rx.messages()]
                    self.assertEqual(got, msgs)
                finally:
                    rx.kill()

    @need_cli
    def test_cli_push_to_python_pull(self):
        for scheme in ("unix", "mq", "shm"):
            with self.subTest(scheme=scheme):
                url, tag = rep_url(scheme)
                url = url.replace("proto=rep", "proto=pull")
                with ipckit.listen(url) as pull:
                    addr = pull.address
                    self.assertIn("proto=push", addr)
                    p = subprocess.Popen([CLI, "push", addr, "a", "bb", "ccc"],
                                         stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE)
                    try:
                        got = [pull.recv(20) for _ in range(3)]
                        self.assertEqual(finish(p)[0], 0)
                    finally:
                        if p.poll() is None:
                            p.kill()
                            p.wait()
                    self.assertEqual(got, [b"a", b"bb", b"ccc"])
                self.assertEqual(wait_gone(tag), [])

    def test_pullers_share_the_work(self):
        url = url_for("unix") + "?proto=push"
        with ipckit.listen(url) as push:
            a = ipckit.dial(push.address, 10)
            b = ipckit.dial(push.address, 10)
            with a, b:
                self.assertIn("proto=pull", push.address)
                for i in range(20):
                    push.send(b"%d" % i, 10)
                got = []
                for c in (a, b):
                    while True:
                        try:
                            got.append(int(c.recv(0.5)))
                        except ipckit.Timeout:
                            break
                self.assertEqual(sorted(got), list(range(20)))


class Failures(unittest.TestCase):
    """Bad options, timeouts and peers that went away: exceptions that say
    what happened, and nothing left open or on disk."""

    def setUp(self):
        self.fds = fds()

    def tearDown(self):
        self.assertEqual(fds(), self.fds, "descriptors leaked")

    def assertRefused(self, fn, code, words):
        with self.assertRaises(ipckit.Error) as cm:
            fn()
        e = cm.exception
        self.assertEqual(e.errno, code, str(e))
        for w in words:
            self.assertIn(w, str(e))
        return e

    def test_bad_addresses(self):
        tag = name("bad")
        sock = "unix:%s/%s.sock" % (TMP, tag)
        self.assertRefused(lambda: ipckit.listen(sock + "?proto=bogus"),
                           errno.EINVAL, ["bogus"])
        self.assertRefused(lambda: ipckit.listen(sock + "?proto=rep&resend=5"),
                           errno.EINVAL, ["resend"])
        self.assertRefused(lambda: ipckit.pair("pipe:?proto=req"),
                           errno.EPROTONOSUPPORT, [])
        self.assertRefused(
            lambda: ipckit.listen("sysvshm:0x7e%06x?proto=rep"
                                  % (os.getpid() & 0xFFFFFF)),
            errno.EPROTONOSUPPORT, ["sysvshm"])
        self.assertRefused(lambda: ipckit.listen(sock + "?proto=req&raw"),
                           errno.EINVAL, [])
        self.assertRefused(
            lambda: ipckit.listen("fifo:%s/%s?proto=pub" % (TMP, tag)),
            errno.EPROTONOSUPPORT, [])
        # a REQ must dial a mailbox: the REP owns it
        self.assertRefused(
            lambda: ipckit.listen("mq:/%s?proto=req" % tag), errno.EINVAL, [])
        self.assertEqual(leftovers(tag), [])

    def test_req_timeouts_and_misuse(self):
        url, tag = rep_url("shm")
        with ipckit.listen(url) as srv, ipckit.dial(srv.address, 10) as c:
            with self.assertRaises(ipckit.Error) as cm:
                c.recv(1)  # no request outstanding
            self.assertEqual(cm.exception.errno, errno.EINVAL)
            with self.assertRaises(ipckit.Timeout):
                c.request(b"slow", 0.3)  # the server does not answer
            late = srv.recvmsg(10)
            self.assertEqual(late, b"slow")
            # the request was cancelled: its late answer is dropped ...
            srv.reply(late, b"late")
            c.send(b"next", 10)
            m = srv.recvmsg(10)
            srv.reply(m, b"on time")
            # ... and the next request gets its own reply
            self.assertEqual(c.recv(10), b"on time")
            # timeout 0 keeps the request waiting (WouldBlock), for loops
            c.send(b"poll", 10)
            with self.assertRaises(ipckit.WouldBlock):
                c.recv(0)
            srv.reply(srv.recvmsg(10), b"polled")
            self.assertEqual(c.recv(10), b"polled")
            # a REQ does not receive requests, a REP does not subscribe
            with self.assertRaises(ipckit.Error):
                c.subscribe(b"")
        self.assertEqual(wait_gone(tag), [])

    def test_bad_routes_and_statuses(self):
        url, tag = rep_url("unix")
        url2, tag2 = rep_url("unix")
        with ipckit.listen(url) as srv, ipckit.listen(url2) as other, \
                ipckit.dial(srv.address, 10) as c:
            with self.assertRaises(ipckit.Error) as cm:
                srv.send(b"nobody asked")
            self.assertEqual(cm.exception.errno, errno.EINVAL)
            self.assertIn("no request", str(cm.exception))
            c.send(b"q", 10)
            m = srv.recvmsg(10)
            with self.assertRaises(ipckit.Error) as cm:
                other.reply(m, b"wrong server")
            self.assertEqual(cm.exception.errno, errno.EINVAL)
            self.assertIn("route", str(cm.exception))
            with self.assertRaises(TypeError):
                srv.send(b"x", route=b"\x00" * 64)
            with self.assertRaises(ValueError):
                ipckit.Route(b"short")
            for bad in (-1, 32768, 1.5):
                with self.assertRaises(ValueError):
                    srv.reply(m, b"x", status=bad)
            with self.assertRaises(ValueError):
                srv.reply(ipckit.Message(b"no route"), b"x")
            srv.reply(m, b"finally", status=32767)
            r = c.recvmsg(10)
            self.assertEqual((r, r.status), (b"finally", 32767))
        self.assertEqual(wait_gone(tag) + wait_gone(tag2), [])

    def test_closed_peers(self):
        """A reply to a client that has gone is dropped silently; a client
        whose server has gone times out (and finds a new server at the
        same address, since it resends)."""
        for scheme in ("unix", "shm", "mq"):
            with self.subTest(scheme=scheme):
                url, tag = rep_url(scheme)
                srv = ipckit.listen(url)
                addr = srv.address
                with ipckit.dial(addr + "&resend=100", 10) as c:
                    c2 = ipckit.dial(addr, 10)
                    c2.send(b"bye", 10)
                    m = srv.recvmsg(10)
                    c2.close()
                    self.assertEqual(srv.reply(m, b"to nobody"), 9)
                    srv.close()
                    # no server: the time runs out, and the error says why
                    # (no such object, connection refused) when it knows
                    with self.assertRaises(ipckit.Error) as cm:
                        c.request(b"anyone?", 0.5)
                    self.assertIn(cm.exception.errno, (
                        errno.ETIMEDOUT, errno.ENOENT, errno.ECONNREFUSED))
                    self.assertIn(tag, str(cm.exception))
                    self.assertLessEqual(str(cm.exception).count("peer:"), 1)
                    with ipckit.listen(url) as srv2:
                        # the same client finds the new server
                        c.send(b"again", 10)
                        m = srv2.recvmsg(20)
                        self.assertEqual(m, b"again")
                        srv2.reply(m, b"here")
                        self.assertEqual(c.recv(20), b"here")
                self.assertEqual(wait_gone(tag), [])

    def test_push_without_puller_times_out(self):
        tag = name("push")
        url = "unix:%s/%s.sock?proto=push" % (TMP, tag)
        with ipckit.listen(url) as push:
            with self.assertRaises(ipckit.Timeout):
                push.send(b"x", 0.2)
            with self.assertRaises(ipckit.Error) as cm:
                push.recv(0.1)  # a pusher only sends
            self.assertEqual(cm.exception.errno, errno.EOPNOTSUPP)
        self.assertEqual(leftovers(tag), [])


if __name__ == "__main__":
    unittest.main()

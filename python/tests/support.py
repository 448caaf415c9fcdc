"""Shared pieces of the Python package's tests.

Names are unique per test process (pid and a counter) and every test
removes what it made. The C side of interoperability tests is the built
ipckit CLI ($IPK_CLI).
"""
import atexit
import itertools
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import ipckit

CLI = os.environ.get("IPK_CLI")
PY = sys.executable
_seq = itertools.count(1)
TMP = tempfile.mkdtemp(prefix="ipkpy-%d-" % os.getpid())
atexit.register(shutil.rmtree, TMP, True)


def name(tag):
    """A name no other test or process uses."""
    return "ipkpy%d_%s_%d" % (os.getpid(), tag, next(_seq))


def sysv_key():
    """A System V key unlikely to collide: 0x7e, the pid, a counter."""
    return 0x7E000000 | ((os.getpid() & 0xFFFF) << 8) | (next(_seq) & 0xFF)


def url_for(scheme):
    """A fresh listen address for a scheme (cleaned up by its owner)."""
    n = name(scheme)
    if scheme == "fifo":
        return "fifo:%s/%s" % (TMP, n)
    if scheme == "unix":
        return "unix:%s/%s.sock" % (TMP, n)
    if scheme == "unixgram":
        return "unixgram:%s/%s.dg" % (TMP, n)
    if scheme == "tcp":
        return "tcp://127.0.0.1:0"
    if scheme == "sysvmq":
        return "sysvmq:0x%08x" % sysv_key()
    if scheme == "mq":
        return "mq:/%s?maxmsg=10&msgsize=8192" % n
    if scheme == "shm":
        return "shm:/%s?size=1M" % n
    if scheme == "sysvshm":
        return "sysvshm:0x%08x?size=1M" % sysv_key()
    if scheme == "mmap":
        return "mmap:%s/%s.ring?size=1M" % (TMP, n)
    raise ValueError(scheme)


def need_cli(test):
    usable = CLI and os.access(CLI, os.X_OK)
    return unittest.skipUnless(
        usable, "IPK_CLI (the built ipckit tool) is not set")(test)


class CliReceiver:
    """``ipckit recv URL -n COUNT --meta --print-address`` in the
    background: it listens, says where, and prints each message with its
    metadata so the bytes can be compared exactly."""

    def __init__(self, url, count, timeout=20.0, extra=(), cmd="recv"):
        self.cmd = cmd
        self.proc = subprocess.Popen(
            [CLI, cmd, url, "-n", str(count), "--meta", "--print-address",
             "-t", str(int(timeout * 1000))] + list(extra),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.address = self._address(timeout)

    def _address(self, timeout):
        deadline = time.monotonic() + timeout
        line = b""
        fd = self.proc.stderr.fileno()
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                self.kill()
                raise AssertionError("ipckit %s did not start listening"
                                     % self.cmd)
            b = os.read(fd, 1)
            if not b:
                self.proc.wait()
                raise AssertionError("ipckit recv exited: %r"
                                     % (line + self.proc.stderr.read()))
            line += b
        return line.decode().strip()

    def messages(self, timeout=30.0):
        """Wait for the receiver to finish; [(meta dict, bytes)]."""
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("ipckit recv did not finish")
        if self.proc.returncode != 0:
            raise AssertionError("ipckit recv failed (%d): %s"
                                 % (self.proc.returncode, err.decode()))
        return parse_meta(out)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def parse_meta(out):
    """Split ``recv --meta`` output: '# len=N type=T ...' line, N bytes,
    newline; repeated."""
    msgs = []
    i = 0
    while i < len(out):
        nl = out.index(b"\n", i)
        head = out[i:nl].decode()
        m = re.match(r"# (.*)$", head)
        if not m:
            raise AssertionError("not a --meta header: %r" % head)
        meta = dict(kv.split("=", 1) for kv in m.group(1).split())
        n = int(meta["len"])
        body = out[nl + 1:nl + 1 + n]
        if out[nl + 1 + n:nl + 2 + n] != b"\n":
            raise AssertionError("message of %d bytes not followed by a "
                                 "newline" % n)
        msgs.append(({k: int(v) for k, v in meta.items()}, body))
        i = nl + 2 + n
    return msgs


class Background:
    """A helper process fed and drained by a thread, so neither side
    blocks the other; wait() checks that it succeeded."""

    def __init__(self, argv, data=b""):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.pid = self.proc.pid
        self.out = self.err = b""
        self._t = threading.Thread(target=self._run, args=(data,))
        self._t.start()

    def _run(self, data):
        self.out, self.err = self.proc.communicate(data)

    def wait(self, timeout=60.0):
        self._t.join(timeout)
        if self._t.is_alive():
            self.proc.kill()
            self._t.join()
            raise AssertionError("a helper process did not finish")
        if self.proc.returncode != 0:
            raise AssertionError("a helper process failed (%d): %s"
                                 % (self.proc.returncode,
                                    self.err.decode(errors="replace")))
        return self.out


def cli_send(url, data, *args, timeout=20.0, wait=True):
    """``ipckit send URL --whole`` with data as the one message; with
    wait=False the running Background (call its wait())."""
    b = Background([CLI, "send", url, "--whole", "-t",
                    str(int(timeout * 1000))] + list(args), data)
    if wait:
        b.wait(timeout + 30)
    return b


def wait_proc(p, timeout=60.0):
    """Wait for a Background or a Popen to succeed."""
    if isinstance(p, Background):
        return p.wait(timeout)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise AssertionError("a helper process did not finish")
    if p.returncode != 0:
        raise AssertionError("a helper process failed (%d): %s"
                             % (p.returncode, err.decode(errors="replace")))
    return out


def child_python(code, *args, **kw):
    """Run a Python snippet in a new interpreter that imports the same
    ipckit (PYTHONPATH and IPCKIT_LIB are inherited)."""
    return subprocess.Popen([PY, "-c", code] + [str(a) for a in args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            **kw)


def read_line(p, timeout=20.0):
    """One line of a child's stdout, waiting at most timeout."""
    fd = p.stdout.fileno()
    line = b""
    deadline = time.monotonic() + timeout
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise AssertionError("no line from the child (so far %r)" % line)
        b = os.read(fd, 1)
        if not b:
            raise AssertionError("the child exited: %r %s" % (
                line, p.stderr.read().decode() if p.stderr else ""))
        line += b
    return line.decode().rstrip("\n")


__all__ = ["ipckit", "CLI", "PY", "TMP", "name", "sysv_key", "url_for",
           "need_cli", "CliReceiver", "parse_meta", "cli_send", "wait_proc",
           "Background",
           "child_python", "read_line"]

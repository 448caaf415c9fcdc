"""Python's signal handlers (Ctrl-C) run while a call waits, though the
library itself never lets a signal end a wait."""
import os
import signal
import threading
import time
import unittest

from support import ipckit, name, url_for


class Interrupted(Exception):
    pass


class SignalsDuringWaits(unittest.TestCase):

    def setUp(self):
        self.calls = 0

        def handler(signum, frame):
            self.calls += 1
            if self.raise_it:
                raise Interrupted()

        self.raise_it = True
        self.old = signal.signal(signal.SIGUSR1, handler)

    def tearDown(self):
        signal.signal(signal.SIGUSR1, self.old)

    def interrupt(self, call, after=0.2):
        """call() is waiting forever; a signal handler that raises must end
        it soon after the signal."""
        t = threading.Timer(after, os.kill, (os.getpid(), signal.SIGUSR1))
        t.start()
        t0 = time.monotonic()
        with self.assertRaises(Interrupted):
            call()
        took = time.monotonic() - t0
        t.join()
        self.assertLess(took, after + 5)
        return took

    def test_recv_forever(self):
        for scheme in ("pipe", "shm"):
            with self.subTest(scheme=scheme):
                if scheme == "pipe":
                    a, b = ipckit.pair("pipe:")
                else:
                    url = url_for("shm")
                    b = ipckit.listen(url)
                    a = ipckit.dial(url, 5)
                with a, b:
                    self.interrupt(lambda: b.recv())
                    a.send(b"still works")  # nothing was lost or broken
                    self.assertEqual(b.recv(5), b"still works")

    def test_long_timeout(self):
        a, b = ipckit.pair("unix:")
        with a, b:
            took = self.interrupt(lambda: b.recv(60))
            self.assertLess(took, 30)

    def test_dial_and_locks(self):
        self.interrupt(lambda: ipckit.dial(url_for("unix")))
        sem = ipckit.Semaphore.open("sem:/%s" % name("sig"), create=True)
        try:
            self.interrupt(lambda: sem.wait())
        finally:
            sem.unlink()
            sem.close()
        with ipckit.Region.anonymous(4096) as r:
            m = ipckit.Mutex.init(r)
            held, done = threading.Event(), threading.Event()

            def holder():
                with m:
                    held.set()
                    done.wait(30)

            t = threading.Thread(target=holder)
            t.start()
            held.wait(10)
            try:
                self.interrupt(lambda: m.lock())
            finally:
                done.set()
                t.join()
            m.close()

    def test_handler_that_returns_does_not_cut_the_wait(self):
        self.raise_it = False
        a, b = ipckit.pair("pipe:")
        with a, b:
            t = threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGUSR1))
            t.start()
            t0 = time.monotonic()
            with self.assertRaises(ipckit.Timeout):
                b.recv(0.6)
            t.join()
            self.assertGreaterEqual(time.monotonic() - t0, 0.55)
            self.assertEqual(self.calls, 1)

    def test_dial_waits_its_whole_timeout(self):
        # dial reports why it failed (no such socket) only when its time is
        # up, not after the first slice of the wait
        t0 = time.monotonic()
        with self.assertRaises(FileNotFoundError):
            ipckit.dial(url_for("unix"), 0.7)
        self.assertGreaterEqual(time.monotonic() - t0, 0.65)


if __name__ == "__main__":
    unittest.main()

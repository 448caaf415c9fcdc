"""Regions as memoryviews; semaphores; robust mutex, cond and rwlock (with
their owner-died recovery across processes); file locks."""
import contextlib
import os
import signal
import subprocess
import threading
import time
import unittest

from support import (CLI, TMP, child_python, ipckit, name, read_line, sysv_key,
                     wait_proc)


class Regions(unittest.TestCase):

    def test_named_region_shared_between_processes(self):
        url = "shm:/%s" % name("region")
        with ipckit.Region.open(url, 4096, create=True, exclusive=True) as r:
            try:
                self.assertEqual(r.size, 4096)
                self.assertEqual(bytes(r.buf[:4]), b"\0\0\0\0")
                r.buf[:5] = b"hello"
                p = child_python(
                    "import sys, ipckit\n"
                    "with ipckit.Region.open(sys.argv[1]) as r:\n"
                    "    print(bytes(r.buf[:5]).decode(), flush=True)\n"
                    "    r.buf[5:10] = b' back'\n", url)
                out = wait_proc(p)
                self.assertEqual(out, b"hello\n")
                self.assertEqual(bytes(r.buf[:10]), b"hello back")
                info = r.info()
                self.assertEqual(info.kind, 1)  # POSIX
                self.assertTrue(info.created)
                self.assertEqual(ipckit.region_stat(url).size, 4096)
                with self.assertRaises(FileExistsError):
                    ipckit.Region.open(url, 4096, create=True, exclusive=True)
            finally:
                r.remove()
        with self.assertRaises(FileNotFoundError):
            ipckit.Region.open(url)

    def test_sysv_and_file_regions(self):
        for url in ("sysvshm:0x%08x" % sysv_key(),
                    "mmap:%s/%s" % (TMP, name("file"))):
            with self.subTest(url=url):
                with ipckit.Region.open(url, 8192, create=True) as r:
                    r.buf[100:103] = b"abc"
                    try:
                        with ipckit.Region.open(url, readonly=True) as ro:
                            self.assertTrue(ro.buf.readonly)
                            self.assertEqual(bytes(ro.buf[100:103]), b"abc")
                            with self.assertRaises(TypeError):
                                ro.buf[0] = 1
                    finally:
                        r.remove()

    def test_detach_refuses_while_views_live(self):
        r = ipckit.Region.anonymous(4096)
        part = r.buf[10:20]
        with self.assertRaises(BufferError):
            r.detach()
        r.buf[10] = 7  # still mapped and usable
        self.assertEqual(part[0], 7)
        del part
        r.detach()
        r.detach()  # harmless
        with self.assertRaises(ValueError):
            r.buf

    def test_anonymous_region_across_fork(self):
        with ipckit.Region.anonymous(4096) as r:
            pid = os.fork()
            if pid == 0:
                r.buf[:6] = b"child!"
                os._exit(0)
            os.waitpid(pid, 0)
            self.assertEqual(bytes(r.buf[:6]), b"child!")


class Semaphores(unittest.TestCase):

    def test_posix_named(self):
        url = "sem:/%s" % name("sem")
        s = ipckit.Semaphore.open(url, create=True, exclusive=True, initial=2)
        try:
            self.assertTrue(s.created)
            self.assertEqual(s.value, 2)
            with s:
                self.assertEqual(s.value, 1)
            self.assertTrue(s.trywait())
            self.assertTrue(s.trywait())
            self.assertFalse(s.trywait())
            self.assertFalse(s.acquire(timeout=0.05))
            with self.assertRaises(ipckit.Timeout):
                s.wait(0.05)
            p = child_python("import sys, ipckit\n"
                             "s = ipckit.Semaphore.open(sys.argv[1])\n"
                             "s.post(); s.close()\n", url)
            wait_proc(p)
            s.wait(5)
        finally:
            s.unlink()
            s.close()
        with self.assertRaises(FileNotFoundError):
            ipckit.Semaphore.open(url)

    def test_sysv_set(self):
        url = "sysvsem:0x%08x?n=3" % sysv_key()
        s = ipckit.Semaphore.open(url, create=True, initial=1)
        try:
            self.assertEqual(s.count, 3)
            self.assertGreaterEqual(s.id, 0)
            s.set(2, 5)
            self.assertEqual([s.get(i) for i in range(3)], [1, 1, 5])
            s.op([(0, -1), (2, -2, ipckit.SEMOP_NOUNDO)])
            self.assertEqual([s.get(i) for i in range(3)], [0, 1, 3])
            with self.assertRaises(ipckit.WouldBlock):
                s.op([(0, -1), (1, -1)], 0)  # all or nothing
            self.assertEqual(s.get(1), 1)
            self.assertEqual(s.waiters(0), (0, 0))
        finally:
            ipckit.sync_remove(url)
            s.close()

    def test_unnamed_in_a_region(self):
        with ipckit.Region.anonymous(4096) as r:
            s = ipckit.Semaphore.init_at(r, 64, initial=0)
            pid = os.fork()
            if pid == 0:
                t = ipckit.Semaphore.attach_at(r, 64)
                t.post()
                os._exit(0)
            s.wait(10)
            os.waitpid(pid, 0)
            s.unlink()
            s.close()
            with self.assertRaises(ValueError):
                ipckit.Semaphore.init_at(r, 4)  # not aligned


CHILD_LOCKER = """
import os, sys, ipckit
kind, where = sys.argv[1], sys.argv[2]
lock = getattr(ipckit, kind).open(where)
if kind == "RWLock":
    lock.acquire_write()
else:
    lock.lock()
print("locked", flush=True)
sys.stdin.read()   # held until killed
"""


class RobustLocks(unittest.TestCase):

    def kill_holder(self, kind, url):
        p = child_python(CHILD_LOCKER, kind, url, stdin=subprocess.PIPE)
        try:
            self.assertEqual(read_line(p), "locked")
        finally:
            p.kill()
            p.communicate()
        self.assertEqual(p.returncode, -signal.SIGKILL)

    def test_mutex_owner_dead_is_recoverable(self):
        url = "mutex:/%s" % name("mutex")
        m = ipckit.Mutex.open(url, create=True)
        try:
            self.kill_holder("Mutex", url)
            with self.assertRaises(ipckit.OwnerDead) as cm:
                with m:
                    self.fail("the block must not run on OwnerDead")
            self.assertIs(cm.exception.lock, m)
            cm.exception.consistent()  # repaired: we hold the lock
            m.unlock()
            with m:  # usable again, and really held
                self.assertFalse(threading_trylock_elsewhere(m))
        finally:
            m.close()
            ipckit.sync_remove(url)

    def test_mutex_not_made_consistent_is_unrecoverable(self):
        url = "mutex:/%s" % name("mutex")
        m = ipckit.Mutex.open(url, create=True)
        try:
            self.kill_holder("Mutex", url)
            with self.assertRaises(ipckit.OwnerDead):
                m.lock(5)
            m.unlock()  # without consistent()
            with self.assertRaises(ipckit.NotRecoverable):
                m.lock(5)
        finally:
            m.close()
            ipckit.sync_remove(url)

    def test_rwlock_writer_dead(self):
        url = "rwlock:/%s" % name("rw")
        rw = ipckit.RWLock.open(url, create=True)
        try:
            self.kill_holder("RWLock", url)
            with self.assertRaises(ipckit.OwnerDead):
                rw.acquire_read(5)
            rw.consistent()
            rw.release()
            with rw.read():
                pass
            with rw.write(5):
                pass
        finally:
            rw.close()
            ipckit.sync_remove(url)

    def test_mutex_and_cond_in_a_region(self):
        with ipckit.Region.anonymous(4096) as r:
            m = ipckit.Mutex.init(r, 0)
            c = ipckit.Cond.init(r, 64)
            pid = os.fork()
            if pid == 0:
                m2, c2 = ipckit.Mutex.at(r, 0), ipckit.Cond.at(r, 64)
                with m2:
                    r.buf[200] = 1
                    c2.notify_all()
                os._exit(0)
            with m:
                deadline = time.monotonic() + 20
                while r.buf[200] != 1 and time.monotonic() < deadline:
                    c.wait(m, 1)
                self.assertEqual(r.buf[200], 1)
            with m:
                self.assertFalse(c.wait(m, 0.05))  # timeout: still held
            os.waitpid(pid, 0)
            self.assertTrue(m.trylock())
            m.unlock()
            m.close()
            c.close()

    def test_threading_style(self):
        with ipckit.Region.anonymous(4096) as r:
            m = ipckit.Mutex.init(r)
            self.assertTrue(m.acquire())
            got = []
            t = threading.Thread(target=lambda: got.append(
                m.acquire(timeout=0.05)))
            t.start()
            t.join()
            self.assertEqual(got, [False])
            m.release()
            m.close()


def threading_trylock_elsewhere(m):
    """Whether another thread can take m now (it cannot while we hold it)."""
    got = []
    t = threading.Thread(target=lambda: got.append(m.trylock()))
    t.start()
    t.join()
    if got[0]:
        m.unlock()
    return got[0]


class FileLocks(unittest.TestCase):

    def test_exclusive_and_shared(self):
        path = "%s/%s.lock" % (TMP, name("flock"))
        a, b = ipckit.FileLock(path), ipckit.FileLock(path)
        try:
            with a:
                self.assertFalse(b.acquire(timeout=0.05))
                with self.assertRaises(ipckit.Timeout):
                    b.lock(timeout=0.05)
            a.lock(shared=True)
            b.lock(shared=True, timeout=1)  # readers share
            b.unlock()
            a.unlock()
            a.lock(start=0, length=10)
            b.lock(start=10, length=10, timeout=1)  # other bytes are free
            self.assertGreaterEqual(a.fileno(), 0)
        finally:
            a.close()
            b.close()
            os.unlink(path)

    def test_cli_lock_excludes_python(self):
        if not CLI:
            self.skipTest("IPK_CLI not set")
        path = "%s/%s.lock" % (TMP, name("flock"))
        # FileLock takes fcntl (OFD) locks: the CLI takes that kind with
        # --fcntl (its default is flock(2), the kind flock(1) takes)
        p = subprocess.Popen([CLI, "lock", "--fcntl", path, "--", "sh", "-c",
                              "echo held; read x"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            self.assertEqual(read_line(p), "held")
            with contextlib.closing(ipckit.FileLock(path)) as f:
                self.assertFalse(f.acquire(timeout=0.05))
                p.stdin.write(b"\n")
                p.stdin.flush()
                self.assertTrue(f.acquire(timeout=20))
                f.release()
        finally:
            p.kill()
            p.communicate()
            os.unlink(path)


if __name__ == "__main__":
    unittest.main()

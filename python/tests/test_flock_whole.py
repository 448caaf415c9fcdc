"""FileLock(whole=True): flock(2) locks on the whole file, the kind
flock(1) takes, checked against /usr/bin/flock (util-linux) both ways; the
default record locks stay apart from them, as the kernel keeps them."""
import contextlib
import errno
import os
import shutil
import subprocess
import unittest

from support import TMP, child_python, ipckit, name, read_line

FLOCK = shutil.which("flock")
CONFLICT = 7  # flock(1) -E: its exit status when the lock is taken


def flock1(path, *opts):
    """Exit status of 'flock -n -E 7 [opts] path true'."""
    return subprocess.run([FLOCK, "-n", "-E", str(CONFLICT)] + list(opts)
                          + [path, "true"], timeout=60).returncode


@unittest.skipUnless(FLOCK, "flock(1) (util-linux) is not installed")
class WholeFileLocks(unittest.TestCase):

    def setUp(self):
        self.path = os.path.join(TMP, name("flock"))
        self.fds = sorted(os.listdir("/proc/self/fd"))

    def tearDown(self):
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.assertEqual(sorted(os.listdir("/proc/self/fd")), self.fds)

    def test_excludes_flock1(self):
        with contextlib.closing(ipckit.FileLock(self.path,
                                                whole=True)) as f:
            with f:
                self.assertEqual(flock1(self.path), CONFLICT)
                self.assertEqual(flock1(self.path, "-s"), CONFLICT)
            self.assertEqual(flock1(self.path), 0)  # unlocked on exit
            f.lock(shared=True)
            self.assertEqual(flock1(self.path, "-s"), 0)
            self.assertEqual(flock1(self.path, "-x"), CONFLICT)
            f.lock()  # converted to exclusive
            self.assertEqual(flock1(self.path, "-s"), CONFLICT)
            f.unlock()
            self.assertEqual(flock1(self.path), 0)

    def test_flock1_holder_excludes_us(self):
        holder = subprocess.Popen(
            [FLOCK, self.path, "sh", "-c", "echo held; read x"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            self.assertEqual(read_line(holder), "held")
            with contextlib.closing(ipckit.FileLock(self.path,
                                                    whole=True)) as f:
                self.assertFalse(f.acquire(blocking=False))
                self.assertFalse(f.acquire(timeout=0.2))
                with self.assertRaises(ipckit.Timeout) as cm:
                    f.lock(timeout=0.1)
                self.assertIn("flock", str(cm.exception))
                self.assertIn(self.path, str(cm.exception))
                holder.stdin.write(b"\n")  # flock(1) lets go ...
                holder.stdin.close()
                self.assertTrue(f.acquire(timeout=30))  # ... we get it
                self.assertEqual(holder.wait(30), 0)
                self.assertEqual(flock1(self.path), CONFLICT)
                f.release()
        finally:
            if holder.poll() is None:
                holder.kill()
            holder.wait()
            holder.stdout.close()

    def test_kinds_are_apart(self):
        """The default (record) lock does not exclude flock(1), and a
        whole-file lock does not exclude a record lock: as the kernel has
        it. Two whole-file handles exclude each other in one process."""
        rec = ipckit.FileLock(self.path)
        whole = ipckit.FileLock(self.path, whole=True)
        other = ipckit.FileLock(self.path)
        try:
            rec.lock()
            self.assertEqual(flock1(self.path), 0)
            self.assertTrue(whole.acquire(timeout=0))
            self.assertFalse(other.acquire(blocking=False))  # record/record
            # the kind can be chosen per call too
            with self.assertRaises(ipckit.WouldBlock):
                other.lock(timeout=0, whole=True)
            whole.unlock()
            other.lock(timeout=0, whole=True)
            other.unlock()
        finally:
            for f in (rec, whole, other):
                f.close()

    def test_ranges_refused(self):
        with contextlib.closing(ipckit.FileLock(self.path,
                                                whole=True)) as f:
            with self.assertRaises(ipckit.Error) as cm:
                f.lock(start=10, length=5)
            self.assertEqual(cm.exception.errno, errno.EINVAL)
            self.assertIn("whole", str(cm.exception))
            self.assertEqual(flock1(self.path), 0)  # nothing was taken

    def test_released_when_the_holder_dies(self):
        code = ("import ipckit, sys\n"
                "f = ipckit.FileLock(sys.argv[1], whole=True)\n"
                "f.lock()\n"
                "print('held', flush=True)\n"
                "sys.stdin.read()\n")
        p = child_python(code, self.path, stdin=subprocess.PIPE)
        try:
            self.assertEqual(read_line(p), "held")
            self.assertEqual(flock1(self.path), CONFLICT)
            p.kill()
            p.wait()
            with contextlib.closing(ipckit.FileLock(self.path,
                                                    whole=True)) as f:
                self.assertTrue(f.acquire(timeout=30))
        finally:
            if p.poll() is None:
                p.kill()
            p.wait()
            for s in (p.stdin, p.stdout, p.stderr):
                s.close()


if __name__ == "__main__":
    unittest.main()

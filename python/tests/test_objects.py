"""The inventory from Python: ipckit.objects.Scan, remove's checks, limits.
Only this test's own objects are looked at or removed."""
import errno
import os
import unittest

from support import TMP, ipckit, url_for


class Inventory(unittest.TestCase):

    def test_a_live_fifo_is_listed_with_its_holder_and_kept(self):
        url = url_for("fifo")
        with ipckit.listen(url):
            with ipckit.objects.Scan(kind="fifo", paths=[TMP]) as s:
                mine = [o for o in s if o.address == url]
                self.assertEqual(len(mine), 1, [o.address for o in s])
                o = mine[0]
                self.assertEqual((o.kind, o.state), ("fifo", "live"))
                self.assertIn(os.getpid(), o.holders)
                with self.assertRaises(ipckit.Error) as cm:
                    s.remove(o)
                self.assertEqual(cm.exception.errno, errno.EBUSY)
            with self.assertRaises(ipckit.Error) as cm:
                ipckit.remove(url)
            self.assertEqual(cm.exception.errno, errno.EBUSY)
            self.assertIn(str(os.getpid()), cm.exception.strerror)
            self.assertTrue(os.path.exists(url[len("fifo:"):]))

    def test_remove_refuses_a_file_that_is_not_a_ring(self):
        path = os.path.join(TMP, "plain-file")
        with open(path, "w") as f:
            f.write("not a ring\n")
        with self.assertRaises(ipckit.Error) as cm:
            ipckit.remove("mmap:" + path)
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        self.assertIn("regular file", cm.exception.strerror)
        self.assertTrue(os.path.exists(path))

    def test_unknown_kind_is_refused(self):
        with self.assertRaises(ipckit.Error) as cm:
            ipckit.objects.Scan(kind="nonsense")
        self.assertEqual(cm.exception.errno, errno.EINVAL)

    def test_limits_name_every_knob(self):
        lims = {l.name: l for l in ipckit.objects.limits()}
        for n in ("msgmni", "msgmax", "msgmnb", "shmmax", "shmall", "shmmni",
                  "semmni", "semmsl", "semmns", "semopm",
                  "mqueue.queues_max", "mqueue.msg_max",
                  "mqueue.msgsize_max", "RLIMIT_MSGQUEUE", "/dev/shm"):
            self.assertIn(n, lims)
            self.assertTrue(lims[n].raise_with)
        self.assertGreater(lims["msgmni"].value, 0)


if __name__ == "__main__":
    unittest.main()

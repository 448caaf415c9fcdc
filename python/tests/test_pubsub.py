"""Publish/subscribe from Python: topics, subscriber counts, and the missed
count of a subscriber that fell behind a shared-memory publisher."""
import unittest

from support import ipckit, url_for


class PubSub(unittest.TestCase):

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


if __name__ == "__main__":
    unittest.main()

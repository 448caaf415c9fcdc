"""A consumer killed with SIGKILL while another keeps going."""
import os
import select
import signal
import struct
import subprocess
import time
import unittest

from support import child_python, ipckit, name, read_line

CONSUMER = """
import struct, sys, ipckit
ring = ipckit.listen(sys.argv[1])      # a second consumer of the ring
print("ready", flush=True)
n = 0
while True:
    m = ring.recv_view(30)
    seq, = struct.unpack_from("<Q", m.view)
    n += 1
    if n == 20:                         # hold this one in place, and die
        print("held", seq, flush=True)
        sys.stdin.read()
    print("got", seq, flush=True)
    m.release()
"""

PRODUCER = """
import struct, sys, ipckit
with ipckit.dial(sys.argv[1], 10) as ring:
    for i in range(int(sys.argv[2])):
        ring.send(struct.pack("<Q", i) + b"p" * 40, 30)
print("done", flush=True)
"""


class KilledConsumer(unittest.TestCase):

    def test_mpmc_ring_survivor_keeps_receiving(self):
        total = 20000
        url = "shm:/%s?mpmc&size=64K" % name("crash")
        with ipckit.listen(url) as ring:
            victim = child_python(CONSUMER, url, stdin=subprocess.PIPE)
            producer = None
            try:
                self.assertEqual(read_line(victim), "ready")
                producer = child_python(PRODUCER, url, total)
                mine, theirs, held = [], [], None
                buf = b""
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    try:
                        m = ring.recv(0.05)
                        mine.append(struct.unpack_from("<Q", m)[0])
                    except (TimeoutError, BrokenPipeError):
                        if producer.poll() is not None and held is not None:
                            try:
                                while True:  # drain what is left
                                    m = ring.recv(0.5)
                                    mine.append(
                                        struct.unpack_from("<Q", m)[0])
                            except (TimeoutError, BrokenPipeError):
                                break
                    if held is None:
                        fd = victim.stdout.fileno()
                        while select.select([fd], [], [], 0)[0]:
                            b = os.read(fd, 4096)
                            if not b:
                                break
                            buf += b
                        lines = buf.split(b"\n")
                        buf = lines.pop()  # a line not yet complete
                        for line in lines:
                            word, _, seq = line.decode().partition(" ")
                            if word == "got":
                                theirs.append(int(seq))
                            elif word == "held":
                                held = int(seq)
                        if held is not None:
                            victim.kill()  # SIGKILL, holding a message
                            victim.communicate()
                out, err = producer.communicate(timeout=60)
            finally:
                for p in (victim, producer):
                    if p is not None and p.poll() is None:
                        p.kill()
                        p.communicate()
            self.assertEqual(victim.returncode, -signal.SIGKILL)
            self.assertEqual(producer.returncode, 0, err.decode())
            self.assertEqual(out, b"done\n")
            self.assertIsNotNone(held)
            # nothing twice, and everything but the message the dead
            # consumer held arrived (the ring frees its record: no stall)
            self.assertEqual(len(mine) + len(theirs), len(set(mine + theirs)))
            missing = set(range(total)) - set(mine) - set(theirs)
            self.assertLessEqual(missing, {held})
            # the survivor received after the kill
            self.assertGreater(max(mine), held)


if __name__ == "__main__":
    unittest.main()

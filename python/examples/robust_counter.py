#!/usr/bin/env python3
"""A counter in shared memory guarded by a robust mutex, surviving a worker
killed while it holds the lock.

    python3 robust_counter.py

Workers add to a counter under the mutex. One is killed with SIGKILL in the
middle of an update; the next worker to lock gets ipckit.OwnerDead, repairs
the half-done update, marks the mutex consistent and carries on. No update
is lost and nobody waits forever.
"""
import os
import signal
import struct
import sys

import ipckit

WORKERS, ADDS = 4, 2000
# layout of the region: the mutex at 0, then counter and "update under way"
MUTEX, COUNTER = 0, 64

region = ipckit.Region.anonymous(4096)
mutex = ipckit.Mutex.init(region, MUTEX)


def get():
    return struct.unpack_from("<qq", region.buf, COUNTER)


def put(value, pending):
    struct.pack_into("<qq", region.buf, COUNTER, value, pending)


def lock():
    try:
        mutex.lock(timeout=30)
    except ipckit.OwnerDead as e:
        # the holder died inside an update: we hold the lock now, with the
        # data as it left it. Undo the half-done step, then say it is fine.
        value, pending = get()
        if pending:
            put(value - pending, 0)
        e.consistent()
        print("worker %d: recovered the lock from a dead holder" % os.getpid())


def worker(die_midway):
    for i in range(ADDS):
        lock()
        value, _ = get()
        put(value + 1, 1)             # update under way...
        if die_midway and i == ADDS // 2:
            os.kill(os.getpid(), signal.SIGKILL)   # ...and killed here
        put(value + 1, 0)             # done
        mutex.unlock()
    os._exit(0)


pids = []
for w in range(WORKERS):
    pid = os.fork()
    if pid == 0:
        worker(die_midway=(w == 0))
    pids.append(pid)
killed = 0
for pid in pids:
    _, status = os.waitpid(pid, 0)
    killed += os.WIFSIGNALED(status)
# read under the lock too: when the others finished before the killed worker
# died, nobody has locked since, and this lock() is the one that recovers
lock()
value, pending = get()
mutex.unlock()
want = (WORKERS - 1) * ADDS + ADDS // 2
print("counter %d (expected %d), %d worker killed" % (value, want, killed))
mutex.close()
region.detach()
sys.exit(0 if value == want and pending == 0 and killed == 1 else 1)

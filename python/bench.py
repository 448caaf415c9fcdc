#!/usr/bin/env python3
"""Round trips between two Python processes: ipckit next to multiprocessing.

    python3 python/bench.py [--pin A,B] [--repeats N] [--quick]

For each mechanism the parent sends a message, the child (forked) sends one
of the same size back, and the parent receives it: one round trip. Printed:
the median over --repeats runs (each run times a batch of round trips and
takes the mean), in microseconds, with the spread of the runs, for 64-byte
and 1 MiB messages:

  ipckit shm ring          ipckit.pair("shm:"): send()/recv() (copies)
  ipckit shm ring 0-copy   borrow()/commit() and recv_view(): the data is
                           produced in and read from the ring; each side
                           touches the first 8 bytes
  ipckit unix:             ipckit.pair("unix:")
  ipckit shm REQ/REP       the child a ?proto=rep server on a named ring, the
  ipckit unix REQ/REP      parent a ?proto=req client: request(), then
                           recvmsg() and reply() by route in the child
  multiprocessing.Pipe     send_bytes()/recv_bytes() (a socketpair)
    Pipe(duplex=False) x2  the same over two one-way pipes
  multiprocessing.Queue    put()/get() of bytes
  shared_memory + Lock     one multiprocessing.shared_memory buffer handed
                           back and forth with two Locks; the receiver copies
                           the message out (bytes(buf[:n]))

Then the two goals: the ring at least 10x faster than multiprocessing.Pipe
at 64 B, and a zero-copy read of a 1 MiB message (recv_view, a numpy array
on it when numpy is there, release; the message written by the other
process) in less time than multiprocessing.Pipe takes to move 64 KiB (half
its 64 KiB round trip).

Figures mean most on an idle machine with the processes pinned to two
cores (--pin 0,1); the placement line says how far apart those cores are
(one cache line bounced between them, timed from Python). It is a program
that prints figures; it asserts nothing.
"""
import argparse
import mmap
import multiprocessing as mp
import os
import platform
import statistics
import struct
import sys
import time
from multiprocessing import shared_memory

try:
    import ipckit
except ImportError:  # run from the source tree
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import ipckit

try:
    import numpy
except ImportError:
    numpy = None

SMALL = 64
LARGE = 1 << 20
PIPE_MOVE = 64 << 10
CTX = mp.get_context("fork")
CPUS = (None, None)


def pin(which):
    cpu = CPUS[which]
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


# ------------------------------------------------------------- mechanisms
# Each mechanism is (setup, parent_roundtrip, child_loop). setup() runs in
# the parent before the fork and returns a state both sides use;
# parent_roundtrip(state, payload) does one round trip; child_loop(state,
# size) echoes until it gets the stop message (an empty one, or a flag).

def ring_setup(size):
    a, b = ipckit.pair("shm:?size=%d" % max(4 << 20, 4 * size))
    return {"p": a, "c": b}


def ring_rt(st, payload):
    st["p"].send(payload)
    st["p"].recv()


def ring_child(st, size):
    c = st["c"]
    while True:
        m = c.recv()
        if not m:
            return
        c.send(m)


def zc_rt(st, payload):
    p = st["p"]
    loan = p.borrow(len(payload))
    loan.view[:8] = payload[:8]  # the producer writes its data in place
    loan.commit()
    m = p.recv_view()
    if m.view[:8] != payload[:8]:
        raise RuntimeError("zero-copy echo out of step")
    m.release()


def zc_child(st, size):
    c = st["c"]
    while True:
        m = c.recv_view()
        n = len(m)
        head = bytes(m.view[:8])
        m.release()
        if n == 0:
            return
        loan = c.borrow(n)
        loan.view[:8] = head
        loan.commit()


def zc_stop(st):
    st["p"].send(b"")


def unix_setup(size):
    a, b = ipckit.pair("unix:")
    return {"p": a, "c": b}


def reqrep_setup(scheme):
    def setup(size):
        n = "ipkbench%d_%s" % (os.getpid(), scheme)
        if scheme == "shm":
            url = "shm:/%s?size=%d&proto=rep" % (n, max(4 << 20, 4 * size))
        else:
            url = "unix:/tmp/%s.sock?proto=rep" % n
        return {"url": url}
    return setup


def reqrep_rt(st, payload):
    c = st.get("p")
    if c is None:  # the child listens after the fork
        c = st["p"] = ipckit.dial(st["url"].replace("proto=rep", "proto=req"),
                                  30)
    c.request(payload)


def reqrep_child(st, size):
    with ipckit.listen(st["url"]) as srv:
        while True:
            m = srv.recvmsg()
            srv.reply(m, m)
            if not m:
                return


def reqrep_stop(st):
    st["p"].request(b"")


def pipe_setup(size):
    a, b = CTX.Pipe()
    return {"p": a, "c": b}


def oneway_setup(size):
    # two one-way pipes (os.pipe underneath) instead of one socketpair
    r1, w1 = CTX.Pipe(duplex=False)
    r2, w2 = CTX.Pipe(duplex=False)
    return {"p": w1, "p_in": r2, "c_in": r1, "c_out": w2}


def oneway_rt(st, payload):
    st["p"].send_bytes(payload)
    st["p_in"].recv_bytes()


def oneway_child(st, size):
    while True:
        m = st["c_in"].recv_bytes()
        if not m:
            return
        st["c_out"].send_bytes(m)


def pipe_rt(st, payload):
    st["p"].send_bytes(payload)
    st["p"].recv_bytes()


def pipe_child(st, size):
    c = st["c"]
    while True:
        m = c.recv_bytes()
        if not m:
            return
        c.send_bytes(m)


def queue_setup(size):
    return {"to_c": CTX.Queue(), "to_p": CTX.Queue()}


def queue_rt(st, payload):
    st["to_c"].put(payload)
    st["to_p"].get()


def queue_child(st, size):
    while True:
        m = st["to_c"].get()
        if not m:
            return
        st["to_p"].put(m)


def queue_stop(st):
    st["to_c"].put(b"")


def shm_setup(size):
    shm = shared_memory.SharedMemory(create=True, size=size + 16)
    go_c, go_p = CTX.Lock(), CTX.Lock()
    go_c.acquire()
    go_p.acquire()
    return {"shm": shm, "go_c": go_c, "go_p": go_p}


def shm_rt(st, payload):
    buf = st["shm"].buf
    n = len(payload)
    struct.pack_into("<q", buf, 0, n)
    buf[16:16 + n] = payload
    st["go_c"].release()
    st["go_p"].acquire()
    n = struct.unpack_from("<q", buf, 0)[0]
    return bytes(buf[16:16 + n])


def shm_child(st, size):
    buf = st["shm"].buf
    while True:
        st["go_c"].acquire()
        n = struct.unpack_from("<q", buf, 0)[0]
        if n < 0:
            return
        data = bytes(buf[16:16 + n])  # take the message out
        buf[16:16 + n] = data  # and write the reply in its place
        st["go_p"].release()


def shm_stop(st):
    struct.pack_into("<q", st["shm"].buf, 0, -1)
    st["go_c"].release()


def shm_cleanup(st):
    st["shm"].close()
    st["shm"].unlink()


def close_pair(st):
    st["p"].close()


def send_empty(st):
    st["p"].send(b"")


def pipe_stop(st):
    st["p"].send_bytes(b"")


MECHANISMS = [
    # name, setup, roundtrip, child, stop, cleanup
    ("ipckit shm ring", ring_setup, ring_rt, ring_child, send_empty,
     close_pair),
    ("ipckit shm ring 0-copy", ring_setup, zc_rt, zc_child, zc_stop,
     close_pair),
    ("ipckit unix:", unix_setup, ring_rt, ring_child, send_empty, close_pair),
    ("ipckit shm REQ/REP", reqrep_setup("shm"), reqrep_rt, reqrep_child,
     reqrep_stop, close_pair),
    ("ipckit unix REQ/REP", reqrep_setup("unix"), reqrep_rt, reqrep_child,
     reqrep_stop, close_pair),
    ("multiprocessing.Pipe", pipe_setup, pipe_rt, pipe_child, pipe_stop,
     close_pair),
    ("  Pipe(duplex=False) x2", oneway_setup, oneway_rt, oneway_child,
     pipe_stop, None),
    ("multiprocessing.Queue", queue_setup, queue_rt, queue_child, queue_stop,
     None),
    ("shared_memory + Lock", shm_setup, shm_rt, shm_child, shm_stop,
     shm_cleanup),
]


def child_main(child, st, size):
    pin(1)
    child(st, size)


def measure(mech, size, repeats, budget):
    """Median and spread (min, max) of the mean round trip, in seconds."""
    name, setup, rt, child, stop, cleanup = mech
    st = setup(size)
    proc = CTX.Process(target=child_main, args=(child, st, size))
    proc.start()
    try:
        payload = os.urandom(size)
        payload = b"\x01" * 8 + payload[8:]  # never the empty stop message
        for _ in range(20 if size <= 4096 else 3):
            rt(st, payload)
        t0 = time.perf_counter()
        n = 0
        while time.perf_counter() - t0 < budget / 4 or n < 3:
            rt(st, payload)
            n += 1
        per = (time.perf_counter() - t0) / n
        batch = max(3, int(budget / per))
        runs = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(batch):
                rt(st, payload)
            runs.append((time.perf_counter() - t0) / batch)
        stop(st)
        proc.join(30)
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join()
        if cleanup:
            cleanup(st)
    return statistics.median(runs), min(runs), max(runs)


# ------------------------------------------------------- zero-copy read

def zc_read_child(st, size):
    """Produce 1 MiB messages in place, one at a time, until told to stop."""
    pin(1)
    c = st["c"]
    seq = 0
    while True:
        loan = c.borrow(size)
        struct.pack_into("<Q", loan.view, 0, seq)
        loan.commit()
        if c.recv() == b"stop":
            return
        seq += 1


def zero_copy_read(repeats, count):
    """Median time of recv_view (+ numpy.frombuffer) + release of a 1 MiB
    message the other process wrote, timed once it is in the ring."""
    st = ring_setup(LARGE)
    p = st["p"]
    proc = CTX.Process(target=zc_read_child, args=(st, LARGE))
    proc.start()
    fd = p.fileno()
    import select
    runs = []
    try:
        for _ in range(repeats):
            times = []
            for _ in range(count):
                while True:  # wait until the message is there (the
                    select.select([fd], [], [], 10)  # doorbell may be early)
                    t0 = time.perf_counter()
                    try:
                        m = p.recv_view(0)
                        break
                    except ipckit.WouldBlock:
                        continue
                if numpy is not None:
                    arr = numpy.frombuffer(m.view, dtype=numpy.uint8)
                    first = int(arr[0])
                    del arr
                else:
                    first = m.view[0]
                m.release()
                times.append(time.perf_counter() - t0)
                if len(m) != LARGE or first < 0:
                    raise RuntimeError("short message")
                p.send(b"next")
            runs.append(statistics.median(times))
        p.recv_view(10).release()
        p.send(b"stop")
        proc.join(30)
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join()
        p.close()
    return statistics.median(runs), min(runs), max(runs)


# ------------------------------------------------------------- placement

def bounce_child(mm, n):
    pin(1)
    for i in range(n):
        v = (2 * i + 1) & 0xFF
        while mm[0] != (2 * i) & 0xFF:
            pass
        mm[0] = v


def cache_line_bounce(n=20000):
    """ns per round trip of one byte bounced between the two processes by
    busy-waiting Python loops (Python's own cost included)."""
    mm = mmap.mmap(-1, 4096)
    mm[0] = 255
    proc = CTX.Process(target=bounce_child, args=(mm, n))
    proc.start()
    t0 = time.perf_counter()
    for i in range(n):
        mm[0] = (2 * i) & 0xFF
        want = (2 * i + 1) & 0xFF
        while mm[0] != want:
            pass
    dt = time.perf_counter() - t0
    proc.join()
    return dt / n * 1e9


def local_loop(n=20000):
    """ns per iteration of the same loop with nobody on the other side."""
    mm = mmap.mmap(-1, 4096)
    t0 = time.perf_counter()
    for i in range(n):
        mm[0] = (2 * i) & 0xFF
        want = (2 * i) & 0xFF
        while mm[0] != want:
            pass
        mm[0] = (2 * i + 1) & 0xFF
        while mm[0] != (2 * i + 1) & 0xFF:
            pass
    return (time.perf_counter() - t0) / n * 1e9


# ---------------------------------------------------------------- output

def us(x):
    v = x * 1e6
    return "%.1f" % v if v < 100 else "%.0f" % v


def fmt(res):
    med, lo, hi = res
    spread = (hi - lo) / med * 100 if med else 0
    return "%8s ±%2.0f%%" % (us(med), spread / 2)


def main():
    global CPUS
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pin", help="CPUs for parent and child, e.g. 0,1")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--quick", action="store_true",
                    help="shorter runs (noisier)")
    args = ap.parse_args()
    if args.pin:
        a, b = (int(x) for x in args.pin.split(","))
        CPUS = (a, b)
        pin(0)
    budget = 0.05 if args.quick else 0.2
    reps = max(3, args.repeats)

    print("ipckit %s, Python %s, %s, %d CPUs" % (
        ipckit.version(), platform.python_version(), platform.machine(),
        os.cpu_count()))
    cpus = ("parent on CPU %d, child on CPU %d" % CPUS if args.pin
            else "not pinned (--pin A,B pins)")
    bounce = statistics.median(cache_line_bounce() for _ in range(3))
    alone = local_loop()
    print("placement: %s; one byte bounced between the processes %.0f ns "
          "per round trip (the same Python loop alone: %.0f ns)" % (
              cpus, bounce, alone))
    print("round trips between two Python processes, median of %d runs "
          "(± half the spread), microseconds:" % reps)
    print()
    print("%-26s %14s %14s" % ("mechanism", "64 B", "1 MiB"))
    results = {}
    for mech in MECHANISMS:
        small = measure(mech, SMALL, reps, budget)
        large = measure(mech, LARGE, reps, budget * 2)
        results[mech[0]] = (small, large)
        print("%-26s %14s %14s" % (mech[0], fmt(small), fmt(large)),
              flush=True)
    pipe64k = measure(MECHANISMS[3], PIPE_MOVE, reps, budget)
    zc = zero_copy_read(reps, 50 if args.quick else 200)
    print()
    ring = results["ipckit shm ring"][0][0]
    pipe = results["multiprocessing.Pipe"][0][0]
    print("goal 1: shm ring round trip at 64 B vs multiprocessing.Pipe: "
          "%s vs %s us: %.1fx faster (goal >= 10x)%s" % (
              us(ring), us(pipe), pipe / ring,
              "" if pipe / ring >= 10 else "  NOT MET"))
    move = pipe64k[0] / 2
    print("goal 2: zero-copy read of 1 MiB (recv_view%s, release) %s us "
          "vs multiprocessing.Pipe moving 64 KiB (half its round trip "
          "%s us) %s us: %.1fx less time%s" % (
              " + numpy.frombuffer" if numpy is not None else "",
              us(zc[0]), us(pipe64k[0]), us(move), move / zc[0],
              "" if zc[0] < move else "  NOT MET"))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""frames_consumer: read frames a C producer writes into a shared-memory
ring, in place (docs/python.md has the tutorial).

    python3 frames_consumer.py [URL [COUNT]]   (default shm:/sensor 100)

Each frame is a 16-byte header (uint64 sequence number, uint32 sample
count, uint32 zero) and the samples as 32-bit floats, sample i of frame s
being s + i (see frames_producer.c). With numpy the samples become an array
over the ring memory itself: nothing is copied.
"""
import struct
import sys

import ipckit

try:
    import numpy
except ImportError:
    numpy = None

url = sys.argv[1] if len(sys.argv) > 1 else "shm:/sensor"
count = int(sys.argv[2]) if len(sys.argv) > 2 else 100

# the consumer creates the ring (big enough for a few frames) and owns it:
# leaving the with block removes it
with ipckit.listen(url + "?size=8M") as ring:
    print("frames_consumer: listening on", ring.address, flush=True)
    total = 0.0
    for _ in range(count):
        with ring.recv_view(timeout=30) as frame:     # a read-only memoryview
            seq, n, _ = struct.unpack_from("<QII", frame)
            if numpy is not None:
                x = numpy.frombuffer(frame, dtype=numpy.float32, count=n,
                                     offset=16)      # no copy: ring memory
                ok = x[0] == seq and x[-1] == seq + n - 1
                total += float(x.sum(dtype=numpy.float64))
                del x  # done with it: the ring may reuse the space
            else:
                x = frame[16:16 + 4 * n].cast("f")
                ok = x[0] == seq and x[-1] == seq + n - 1
                total += sum(x)
                x.release()
            if not ok:
                sys.exit("frames_consumer: frame %d is not what was sent"
                         % seq)
    print("frames_consumer: %d frames of %d samples, sum %.0f (%s)"
          % (count, n, total, "numpy" if numpy is not None else "memoryview"))

#!/usr/bin/env python3
"""numpy arrays sent through a shared-memory ring without a copy.

    python3 numpy_zero_copy.py

A child process fills arrays directly in the ring (borrow), the parent
reads them in place (recv_view); numpy.frombuffer builds each array on the
ring memory itself. Needs Debian's python3-numpy.
"""
import os
import sys

import ipckit

try:
    import numpy as np
except ImportError:
    sys.exit("numpy_zero_copy: needs numpy (apt install python3-numpy)")

ROWS, COLS, FRAMES = 256, 256, 20
NBYTES = ROWS * COLS * 4

to_parent, in_child = ipckit.pair("shm:?size=4M")
pid = os.fork()
if pid == 0:
    # the child: each frame is written where the parent will read it
    to_parent.close()
    for k in range(FRAMES):
        with in_child.borrow(NBYTES) as space:    # writable ring memory
            a = np.frombuffer(space, dtype=np.float32).reshape(ROWS, COLS)
            a[:] = k
            a[0, 0] = -1                          # a marker per frame
            del a                                 # before the space is sent
    in_child.close()
    os._exit(0)

in_child.close()
with to_parent:
    for k in range(FRAMES):
        with to_parent.recv_view(timeout=10) as frame:   # read-only, in place
            a = np.frombuffer(frame, dtype=np.float32).reshape(ROWS, COLS)
            assert not a.flags.owndata and not a.flags.writeable
            assert a[0, 0] == -1 and a[1, 1] == k
            mean = float(a[1:].mean())
            del a                     # gone: the ring may reuse the space
        print("frame %2d: %dx%d float32, mean of rows 1.. = %g (no copy)"
              % (k, ROWS, COLS, mean))
os.waitpid(pid, 0)

#!/usr/bin/env bash
# A hostile peer of `ipckit recv unix:...?large`: large messages whose
# descriptors are wrong (too many, none, a pipe, an unsealed memfd, a size
# that does not match) are each refused once on stderr, with no ?raw hint
# (?raw would not help), and recv keeps serving that connection: the valid
# messages the same peer sends after them arrive. A peer that breaks the
# framing itself is still dropped, once, with the ?raw hint.
TEST_TAG=largecli . "$(dirname "$0")/cli_util.sh"

# peer.py SOCKET MODE: an SP PAIR peer over unix: (the header with the
# large-message marker, then the listener's header), then
#   hostile: five refused large messages, then "after" and a valid large one
#   garbage: a frame of message type 7 (not SP)
cat >"$TMP/peer.py" <<'EOF'
import fcntl, os, socket, struct, sys, time

SEALS = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE

def memfd(data, seal=True):
    fd = os.memfd_create("peer", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    os.write(fd, data)
    if seal:
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, SEALS)
    return fd

def large_frame(n, zero=0):
    return b"\x02" + struct.pack(">QQQ", 16, n, zero)

path, mode = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
for _ in range(1000):
    try:
        s.connect(path)
        break
    except (FileNotFoundError, ConnectionRefusedError):
        time.sleep(0.01)
else:
    sys.exit("no listener at " + path)
s.settimeout(20)
marker = memfd(b"")
socket.send_fds(s, [b"\x00SP\x00\x00\x10\x00\x00"], [marker])
os.close(marker)
got = b""
while len(got) < 8:
    b = s.recv(8 - len(got))
    if not b:
        sys.exit("listener closed during the handshake")
    got += b
if got != b"\x00SP\x00\x00\x11\x00\x00" and got[:4] != b"\x00SP\x00":
    sys.exit("unexpected header %r" % got)
if mode == "garbage":
    s.sendall(b"\x07" + struct.pack(">Q", 3) + b"abc")
    time.sleep(30)  # the listener drops us; the test ends before this
    sys.exit(0)
body = b"L" * 100
r, w = os.pipe()
cases = [
    ([r, w, memfd(body)], large_frame(100)),       # three descriptors
    ([], large_frame(100)),                        # none
    ([r], large_frame(100)),                       # a pipe
    ([memfd(body, seal=False)], large_frame(100)), # unsealed
    ([memfd(body)], large_frame(300)),             # size does not match
]
for fds, frame in cases:
    socket.send_fds(s, [frame], fds)
    for fd in fds:
        if fd not in (r, w):
            os.close(fd)
s.sendall(b"\x01" + struct.pack(">Q", 5) + b"after")
fd = memfd(body)
socket.send_fds(s, [large_frame(100)], [fd])
os.close(fd)
# stay connected until recv has taken both messages and left
s.settimeout(30)
while s.recv(4096):
    pass
EOF

# --- refused large messages: reported once each, the connection goes on
S=$TMP/q.sock
timeout -s INT -k 5 60 "$CLI" recv "unix:$S?large" -n 2 >"$TMP/out" 2>"$TMP/err" &
pid=$!
timeout 40 python3 "$TMP/peer.py" "$S" hostile 2>"$TMP/peer.err" &
ppid=$!
pids=("$pid" "$ppid")
wait "$pid"
rc=$?
wait "$ppid" || bad "peer: $(cat "$TMP/peer.err")"
pids=()
[ $rc -eq 0 ] || bad "recv exited $rc"
printf 'after\n%s\n' "$(printf 'L%.0s' $(seq 100))" | cmp -s - "$TMP/out" ||
	bad "recv printed [$(cat "$TMP/out")]"
n=$(grep -c "connection 1: a large message" "$TMP/err")
[ "$n" -eq 5 ] || bad "$n refusals reported, want 5: [$(cat "$TMP/err")]"
grep -q "3 descriptors instead of its memfd; refused" "$TMP/err" || bad "three fds: [$(cat "$TMP/err")]"
grep -q "0 descriptors instead of its memfd; refused" "$TMP/err" || bad "no fd: [$(cat "$TMP/err")]"
grep -q "a pipe instead of a memfd" "$TMP/err" || bad "pipe: [$(cat "$TMP/err")]"
grep -q "not sealed" "$TMP/err" || bad "unsealed: [$(cat "$TMP/err")]"
grep -q "300 bytes came in a memfd of 100" "$TMP/err" || bad "size: [$(cat "$TMP/err")]"
grep -q "dropped" "$TMP/err" && bad "the connection was dropped: [$(cat "$TMP/err")]"
grep -q "?raw" "$TMP/err" && bad "a ?raw hint for a refused memfd: [$(cat "$TMP/err")]"
[ "$(wc -l <"$TMP/err")" -eq 5 ] || bad "stderr has more than the refusals: [$(cat "$TMP/err")]"

# --- a peer that breaks the framing: dropped once, with the ?raw hint, and
# recv goes on serving the next connection
S=$TMP/g.sock
timeout -s INT -k 5 60 "$CLI" recv "unix:$S?large" -n 1 >"$TMP/out" 2>"$TMP/err" &
pid=$!
timeout 40 python3 "$TMP/peer.py" "$S" garbage 2>"$TMP/peer.err" &
ppid=$!
pids=("$pid" "$ppid")
for _ in $(seq 1000); do grep -q "dropped connection 1" "$TMP/err" && break; sleep 0.02; done
timeout 10 "$CLI" send "unix:$S" next || bad "send after the garbage peer"
wait "$pid"
rc=$?
kill "$ppid" 2>/dev/null
wait "$ppid" 2>/dev/null
pids=()
[ $rc -eq 0 ] || bad "garbage: recv exited $rc"
[ "$(cat "$TMP/out")" = next ] || bad "garbage: recv printed [$(cat "$TMP/out")]"
grep -q "connection 1: peer sent message type 7" "$TMP/err" || bad "garbage: [$(cat "$TMP/err")]"
grep -q "dropped connection 1 after that error (.*listen with ?raw" "$TMP/err" ||
	bad "garbage: no drop with the ?raw hint: [$(cat "$TMP/err")]"
[ "$(grep -c 'message type 7' "$TMP/err")" -eq 1 ] || bad "garbage reported more than once: [$(cat "$TMP/err")]"

summary

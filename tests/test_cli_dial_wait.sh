#!/usr/bin/env bash
# A dial whose --timeout runs out says so in the user's words ("within N
# ms"), then gives the library's own account of the wait: never "--timeout
# 0: not waiting" or a bare "operation would block" after a real wait.
TEST_TAG=cli-dialwait
. "$(dirname "$0")/cli_util.sh"

built unix || { echo "unix: not built"; summary; exit; }

# listener PATH BACKLOG PREFILL: a Unix listener that never accepts (its
# backlog filled with PREFILL connections of its own), until stdin closes.
# Waits until it listens. Sets LPID and LIN (its stdin).
listener() {
	exec {LIN}> >(python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(int(sys.argv[2]))
held = []
for _ in range(int(sys.argv[3])):
    c = socket.socket(socket.AF_UNIX)
    c.setblocking(False)
    c.connect_ex(sys.argv[1])
    held.append(c)
print("ready", flush=True)
sys.stdin.read()
' "$1" "$2" "$3" >"$TMP/listener.out")
	LPID=$!
	for _ in $(seq 1000); do # its one line says it listens
		[ -s "$TMP/listener.out" ] && break
		sleep 0.01
	done
	[ -s "$TMP/listener.out" ] || bad "the test listener did not start"
}
stop_listener() {
	exec {LIN}>&-
	wait "$LPID" 2>/dev/null
	rm -f "$1" "$TMP/listener.out"
}

# 1. A listener that takes the connection (the kernel does, into its
# backlog) but never answers the SP handshake.
sock=$TMP/noaccept.sock
listener "$sock" 1 0
run send "unix:$sock" hi --timeout 2500 >/dev/null 2>"$TMP/err"
expect_status "send to a listener that never accepts" 1 $? "$TMP/err"
one_line "send says the wait it was given, and why it ran out" "$TMP/err" \
	"^ipckit: send unix:$sock: no peer within 2500 ms: unix:$sock: the peer did not complete the SP handshake in time$"
grep -q -e "--timeout 0" -e "would block" "$TMP/err" && bad "send: $(cat "$TMP/err")" || ok
stop_listener "$sock" # send's tries filled its backlog: a fresh one
listener "$sock" 1 0
run recv --dial "unix:$sock" --timeout 1500 >/dev/null 2>"$TMP/err"
expect_status "recv --dial to a listener that never accepts" 1 $? "$TMP/err"
one_line "recv --dial says the wait it was given" "$TMP/err" \
	"^ipckit: recv unix:$sock: .* within 1500 ms: unix:$sock: the peer did not complete the SP handshake in time$"
stop_listener "$sock"

# 2. A listener whose backlog is full from the start: every connect is
# refused at once with EAGAIN, for the whole wait.
listener "$sock" 0 4
run send "unix:$sock" hi --timeout 1500 >/dev/null 2>"$TMP/err"
expect_status "send to a full backlog" 1 $? "$TMP/err"
one_line "send to a full backlog says what the wait met" "$TMP/err" \
	"^ipckit: send unix:$sock: no peer within 1500 ms: .*its listener accepts no connections \(its backlog is full\)$"
# --timeout 0 is the one case where "not waiting" is the truth
run send "unix:$sock" hi --timeout 0 >/dev/null 2>"$TMP/err"
expect_status "send --timeout 0 to a full backlog" 1 $? "$TMP/err"
one_line "send --timeout 0 says it did not wait" "$TMP/err" \
	"^ipckit: send unix:$sock: no peer \(--timeout 0: not waiting\)"
stop_listener "$sock"

summary

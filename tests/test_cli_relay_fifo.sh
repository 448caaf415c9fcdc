#!/usr/bin/env bash
# relay from a FIFO it listens on (relay -a fifo:A B): a FIFO keeps nothing
# once its reader closes it, so relay ends as soon as B leaves, even with
# nothing to move; a writer then finds no reader and keeps its message
# (send fails) instead of handing it to a pipe that dies with relay. What
# was written in between is reported as lost, by count.
TEST_TAG=cli-relay-fifo
. "$(dirname "$0")/cli_util.sh"

# ------------------- B leaves while A is idle: relay ends, A closed at once
for persist in "" "?persist"; do
	a=$TMP/a$nready
	start_ready "$TMP/b.out" recv "unix:$TMP/b$nready" -n 1
	rcv=$PID b=$ADDR
	start_ready "$TMP/relay" relay -a "fifo:$a$persist" "$b"
	relay=$PID
	[ "$ADDR" = "fifo:$a$persist" ] && ok || bad "relay -a did not print its FIFO: '$ADDR'"
	run send "fifo:$a" m1 || bad "send m1"
	finish $rcv
	expect_status "recv behind relay ($persist)" 0 $ST
	expect_eq "m1 arrived ($persist)" m1 "$(cat "$TMP/b.out")"
	# nothing more is sent: relay must notice B leave by itself
	finish $relay
	expect_status "relay whose B left, A idle ($persist)" 1 $ST
	errs_of >"$TMP/relay.err"
	one_line "relay says B left, nothing taken ($persist)" "$TMP/relay.err" \
		"^ipckit: relay unix:.*: B went away \(the receiving side\); 1 message moved A to B; nothing taken from A since$"
	# a message sent now stays with its sender (send fails), not in a pipe
	run send --timeout 500 "fifo:$a" m2 2>"$TMP/send.err"
	expect_status "send into A after relay ended ($persist)" 1 $?
	if [ -z "$persist" ]; then
		expect_gone "relay removed its FIFO" "$a"
	else
		[ -p "$a" ] && ok || bad "?persist FIFO removed"
		run rm "fifo:$a" >/dev/null || bad "rm fifo:$a"
	fi
done

# -------- written into A after B left, before relay saw it: counted as lost
start_ready "$TMP/b.out" recv "unix:$TMP/bw"
rcv=$PID b=$ADDR
start_ready "$TMP/relay" relay -a "fifo:$TMP/aw" "$b"
relay=$PID
run send "fifo:$TMP/aw" m1 || bad "send m1"
for i in $(seq 300); do [ "$(cat "$TMP/b.out")" = m1 ] && break; sleep 0.1; done
expect_eq "m1 arrived" m1 "$(cat "$TMP/b.out")"
# the ipckit process itself under the run wrapper (which forwards neither
# SIGSTOP nor, from its subshell, TERM)
ipckit_pid() {
	local exe p=$1 i
	exe=$(readlink -f "$CLI")
	for i in 1 2 3 4; do
		[ "$(readlink -f /proc/$p/exe)" = "$exe" ] && { echo $p; return; }
		p=$(child_of $p | awk '{print $1}')
	done
	bad "ipckit under $1 not found"
}
rp=$(ipckit_pid $relay) bp=$(ipckit_pid $rcv)
kill -STOP "$rp"        # relay cannot notice B leave ...
kill -TERM "$bp"; wait $rcv
run send --timeout 5000 "fifo:$TMP/aw" m2 m3 # ... and still holds A open
expect_status "send while relay is stopped" 0 $?
kill -CONT "$rp"
finish $relay
expect_status "relay with messages written after B left" 1 $ST
errs_of >"$TMP/relay.err"
one_line "relay counts what the FIFO lost" "$TMP/relay.err" \
	"^ipckit: relay unix:.*: B went away \(the receiving side\); 1 message moved A to B; 2 messages written into FIFO A since are lost: a FIFO keeps nothing once relay, its reader, closes it$"
expect_gone "relay removed its FIFO" "$TMP/aw"

summary

#!/usr/bin/env bash
# relay never loses a message: a message taken from a source is delivered
# or stays there, and a relay whose receiving side went away ends naming it.
# send, recv and relay keep the signals they were started with ignored
# (nohup, background jobs of a script).
TEST_TAG=cli-relay
. "$(dirname "$0")/cli_util.sh"

# count_lines TEXT: number of non-empty lines
count_lines() { grep -c . <<<"$1"; }

# ------------------------------------ queue -> socket, the receiver leaves
if built mq; then
	q=mq:/ipkt-relay-$$
	cleanups+=("'$CLI' rm $q")
	run send --listen "$q?persist" m1 m2 m3 2>"$TMP/err" || bad "fill $q: $(cat "$TMP/err")"
	start_ready "$TMP/b.out" recv tcp://127.0.0.1:0 -n 3
	rcv=$PID
	start "$TMP/relay" relay "$q" "$ADDR"
	relay=$PID
	finish $rcv
	expect_status "receiver behind relay" 0 $ST
	arrived=$(cat "$TMP/b.out")
	expect_eq "relay delivered the first three" $'m1\nm2\nm3' "$arrived"
	# the receiving side has gone; more comes into the queue
	run send "$q" m4 m5 m6 m7 m8 || bad "send m4..m8"
	finish $relay
	expect_status "relay whose receiving side left" 1 $ST "$TMP/relay.err"
	one_line "relay names the side that left" "$TMP/relay.err" \
		"^ipckit: relay tcp://.*: B went away .*3 messages moved A to B"
	left=$(run recv --dial "$q" --idle 0)
	expect_eq "the rest stayed in the queue" $'m4\nm5\nm6\nm7\nm8' "$left"
	expect_eq "mq -> tcp: nothing lost" 8 $(($(count_lines "$arrived") + $(count_lines "$left")))
	run rm "$q" >/dev/null

fi

# ------------------------------------- ring -> socket, the receiver leaves
# relay listens on a ring (a mailbox: senders come and go); the ring keeps
# (?persist) what relay did not take
if built shm; then
	r=shm:/ipkt-relay-$$-r
	cleanups+=("'$CLI' rm $r")
	start_ready "$TMP/b.out" recv tcp://127.0.0.1:0 -n 3
	rcv=$PID
	start_ready "$TMP/relay" relay -a "$r?persist" "$ADDR"
	relay=$PID
	for m in m1 m2 m3; do # one sender after another
		run send --timeout 10000 "$r" $m 2>"$TMP/err" || bad "send $m into the ring: $(cat "$TMP/err")"
	done
	finish $rcv
	expect_status "receiver behind the ring relay" 0 $ST
	arrived=$(cat "$TMP/b.out")
	expect_eq "ring relay delivered three senders' messages" $'m1\nm2\nm3' "$arrived"
	run send --timeout 10000 "$r" m4 m5 m6 m7 m8 2>"$TMP/err" || bad "send m4..m8: $(cat "$TMP/err")"
	finish $relay
	expect_status "ring relay whose receiving side left" 1 $ST
	errs_of >"$TMP/relay.err"
	one_line "ring relay names the side that left" "$TMP/relay.err" \
		"^ipckit: relay tcp://.*: B went away .*3 messages moved A to B"
	left=$(run recv "$r?persist" --idle 500 2>"$TMP/err")
	expect_eq "the rest stayed in the ring" $'m4\nm5\nm6\nm7\nm8' "$left"
	expect_eq "ring -> tcp: nothing lost" 8 $(($(count_lines "$arrived") + $(count_lines "$left")))
	run rm "$r" >/dev/null 2>&1
fi

# Ctrl-C while the destination is full: the message in hand goes back
if built sysvmq; then
	sysv_key 182
	src=sysvmq:$KEY
	sysv_key 183
	dst=sysvmq:$KEY
	qnum() { # messages in the System V queue KEY (from /proc/sysvipc/msg)
		local k=$(($1))
		((k > 0x7fffffff)) && k=$((k - 0x100000000)) # key_t is signed
		awk -v k=$k '$1 == k { print $5 }' /proc/sysvipc/msg
	}
	run send --listen "$src?persist" --type 2 s1 s2 s3 s4 || bad "fill $src"
	run send --listen "$dst?persist&qbytes=16" 0123456789abcdef || bad "fill $dst"
	start "$TMP/relay" relay "$src" "$dst"
	relay=$PID
	# wait until relay holds s1 (one message less in the source)
	for ((i = 0; i < 400; i++)); do
		[ "$(qnum ${src#sysvmq:})" = 3 ] && break
		sleep 0.05
	done
	expect_eq "relay took s1 and waits for room" 3 "$(qnum ${src#sysvmq:})"
	kill -INT $(child_of $relay)
	finish $relay
	expect_status "relay after Ctrl-C" 130 $ST "$TMP/relay.err"
	left=$(run recv --dial --meta "$src" --idle 0 | paste -sd' ')
	expect_eq "Ctrl-C: the message in hand went back, with its type" \
		"# len=2 type=2 prio=0 pid=0 uid=0 s2 # len=2 type=2 prio=0 pid=0 uid=0 s3 # len=2 type=2 prio=0 pid=0 uid=0 s4 # len=2 type=2 prio=0 pid=0 uid=0 s1" "$left"
	expect_eq "Ctrl-C: the full queue kept its one" 0123456789abcdef "$(run recv --dial "$dst" --idle 0)"
	run rm "$src" >/dev/null
	run rm "$dst" >/dev/null
fi

# a FIFO reader that leaves: relay does not take what it cannot hand on
if built sysvmq; then
	sysv_key 181
	run send --listen "sysvmq:$KEY?persist" --type 3 t1 || bad "fill sysvmq"
	start_ready "$TMP/f.out" recv "fifo:$TMP/out" -n 1
	rcv=$PID
	start "$TMP/relay" relay "sysvmq:$KEY" "fifo:$TMP/out"
	relay=$PID
	finish $rcv
	expect_eq "sysvmq -> fifo" t1 "$(cat "$TMP/f.out")"
	run send --type 4 "sysvmq:$KEY" t2
	finish $relay
	expect_status "relay whose FIFO reader left" 1 $ST "$TMP/relay.err"
	grep -q "B went away" "$TMP/relay.err" && ok || bad "relay to a gone FIFO: $(cat "$TMP/relay.err")"
	out=$(run recv --dial --meta "sysvmq:$KEY" --idle 0)
	expect_eq "sysvmq: the message stayed, with its type" $'# len=2 type=4 prio=0 pid=0 uid=0\nt2' "$out"
	run rm "sysvmq:$KEY" >/dev/null
fi

# ------------------------------------------- ignored signals stay ignored
# caught PID SIG: wait until the process has a handler for SIG (it has set
# up its signals), so a signal sent afterwards tests what it decided
caught() {
	local bit=$((1 << ($2 - 1))) i mask
	local exe
	exe=$(readlink -f "$CLI")
	for ((i = 0; i < 600; i++)); do
		# the shell's fork, before it execs ipckit, catches TERM too (the
		# script's trap): only ipckit's own mask counts
		if [ "$(readlink /proc/"$1"/exe 2>/dev/null)" != "$exe" ]; then
			sleep 0.05
			continue
		fi
		mask=$(awk '/^SigCgt:/ { print $2 }' /proc/"$1"/status 2>/dev/null)
		[ -n "$mask" ] && (((0x$mask & bit) != 0)) && return 0
		sleep 0.05
	done
	return 1
}
# ready_fifo: a FIFO to read a command's --print-address from (sets RF, RD)
ready_fifo() {
	nready=$((nready + 1))
	RF=$TMP/ready.$nready
	mkfifo "$RF"
	exec {RD}<>"$RF"
}

# until FILE holds TEXT (a receiver's output), at most 30 s
arrived() { local i; for ((i = 0; i < 300; i++)); do
	[ "$(cat "$1")" = "$2" ] && return 0; sleep 0.1; done; return 1; }

# nohup: SIGHUP is ignored, and relay goes on relaying. (The receiver stays
# until relay is stopped: a relay from a FIFO ends when its receiver leaves.)
start_ready "$TMP/n.out" recv "unix:$TMP/n.sock" -n 2
rcv=$PID rcv_addr=$ADDR
ready_fifo
nohup "$CLI" relay -a "fifo:$TMP/n.fifo" "$rcv_addr" --print-address >"$TMP/nohup.out" 2>"$RF" &
relay=$!
pids+=("$relay")
read -r -t 30 -u "$RD" addr || bad "nohup relay did not start"
kill -HUP $relay
run send --timeout 10000 "fifo:$TMP/n.fifo" "after HUP" 2>"$TMP/err"
expect_status "send through relay after SIGHUP" 0 $? "$TMP/err"
arrived "$TMP/n.out" "after HUP" && ok || bad "nohup relay did not deliver: $(cat "$TMP/n.out")"
kill -0 $relay 2>/dev/null && ok || bad "nohup relay died of SIGHUP"
kill -TERM $relay
finish $relay
expect_status "nohup relay ends on SIGTERM" 143 $ST
run send "$rcv_addr" last || bad "send the receiver its last"
finish $rcv
expect_eq "nohup relay survived SIGHUP" $'after HUP\nlast' "$(cat "$TMP/n.out")"
expect_gone "relay removed its FIFO" "$TMP/n.fifo"

# a background job of a script ignores SIGINT (bash sets it so): recv,
# send and relay keep that immunity; SIGTERM still ends them cleanly
ready_fifo
"$CLI" recv "fifo:$TMP/bg.fifo" -n 2 --print-address >"$TMP/bg.out" 2>"$RF" &
bg=$!
pids+=("$bg")
read -r -t 30 -u "$RD" addr || bad "background recv did not start"
kill -INT $bg
"$CLI" send "fifo:$TMP/bg2.fifo" late >/dev/null 2>"$TMP/bg2.err" &
bgs=$!
pids+=("$bgs")
caught $bgs 15 || bad "background send never set up its signals"
kill -INT $bgs
ready_fifo
"$CLI" relay -a "fifo:$TMP/bg3.fifo" "fifo:$TMP/bg.fifo" --print-address 2>"$RF" &
bgr=$!
pids+=("$bgr")
read -r -t 30 -u "$RD" addr || bad "background relay did not start"
kill -INT $bgr
run send --timeout 10000 "fifo:$TMP/bg3.fifo" "after INT" 2>"$TMP/err"
expect_status "send through a background relay after SIGINT" 0 $? "$TMP/err"
arrived "$TMP/bg.out" "after INT" && ok || bad "background relay did not deliver: $(cat "$TMP/bg.out")"
kill -0 $bgr 2>/dev/null && ok || bad "background relay died of SIGINT"
kill -TERM $bgr
finish $bgr
expect_status "background relay on SIGTERM" 143 $ST
run send --timeout 10000 "fifo:$TMP/bg.fifo" last || bad "send the background recv its last"
finish $bg
expect_status "background recv ignored SIGINT" 0 $ST
expect_eq "background recv got the messages" $'after INT\nlast' "$(cat "$TMP/bg.out")"
expect_gone "SIGTERM: relay removed its FIFO" "$TMP/bg3.fifo"
# the background send still waits for its listener, then delivers
run recv "fifo:$TMP/bg2.fifo" -n 1 --timeout 20000 >"$TMP/bg2.out" 2>"$TMP/err"
expect_status "recv for the background send" 0 $? "$TMP/err"
finish $bgs
expect_status "background send ignored SIGINT" 0 $ST "$TMP/bg2.err"
expect_eq "background send delivered" late "$(cat "$TMP/bg2.out")"

summary

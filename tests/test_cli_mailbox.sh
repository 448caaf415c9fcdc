#!/usr/bin/env bash
# Mailboxes and servers as people use them from the shell: one receiver and
# senders that come and go, on every mailbox scheme; recv on unix:/tcp:
# serving every connection at once and staying (nc -k style); how --idle,
# --timeout and -n end recv and with which exit status.
TEST_TAG=cli-mbox
. "$(dirname "$0")/cli_util.sh"

# ------------------------------------- one receiver, three senders in turn
# recv -n 3 in one terminal; three separate `ipckit send` one after another.
# Every mailbox takes them all, in order, and the receiver removes what it
# made.
mailbox() { # NAME URL [PATH-THAT-MUST-GO]
	local name=$1 url=$2 path=${3:-} i st
	start_ready "$TMP/mb.out" recv "$url" -n 3
	if [ -z "$ADDR" ]; then
		bad "$name: recv did not start: $(errs_of)"
		return
	fi
	for i in one two three; do
		run send --timeout 10000 "$ADDR" "$i" 2>"$TMP/mb.err"
		st=$?
		[ $st -eq 0 ] || { bad "$name: send $i: status $st: $(cat "$TMP/mb.err")"; break; }
	done
	finish $PID
	expect_status "$name: recv -n 3" 0 $ST
	expect_eq "$name: messages" $'one\ntwo\nthree' "$(cat "$TMP/mb.out")"
	[ -n "$path" ] && expect_gone "$name: recv removed it" "$path"
	# the receiver has gone: a late sender is told, it does not wait on
	# (for a ?persist ring, it waits for a next listener: not asked here)
	case $url in *persist*) return ;; esac
	run send --timeout 1000 "$ADDR" late >/dev/null 2>"$TMP/mb.err"
	[ $? -eq 1 ] && ok || bad "$name: a send after the receiver left: $(cat "$TMP/mb.err")"
}

mailbox fifo "fifo:$TMP/mb.fifo" "$TMP/mb.fifo"
mailbox unixgram "unixgram:$TMP/mb.dg" "$TMP/mb.dg"
if built sysvmq; then
	sysv_key 161
	mailbox "sysvmq key" "sysvmq:$KEY"
	grep -qi " $KEY " /proc/sysvipc/msg && bad "sysvmq key: queue left" || ok
	: >"$TMP/ftok"
	mailbox "sysvmq ftok" "sysvmq:$TMP/ftok?proj=7"
fi
built mq && mailbox mq "mq:/ipkt-mbox-$$" "/dev/mqueue/ipkt-mbox-$$"
built signal && mailbox signal "signal:self?sig=RTMIN+3"
# rings: the listener is a mailbox too (producers come and go)
if built shm; then
	mailbox shm "shm:/ipkt-mbox-$$" "/dev/shm/ipkt-mbox-$$"
	mailbox "shm ?mpmc" "shm:/ipkt-mbox-$$-m?mpmc" "/dev/shm/ipkt-mbox-$$-m"
	cleanups+=("'$CLI' rm shm:/ipkt-mbox-$$-p")
	mailbox "shm ?persist" "shm:/ipkt-mbox-$$-p?persist"
	run rm "shm:/ipkt-mbox-$$-p" >/dev/null 2>&1
fi
if built sysvshm; then
	sysv_key 162
	mailbox "sysvshm key" "sysvshm:$KEY?size=64K"
	grep -qi " $KEY " /proc/sysvipc/shm && bad "sysvshm key: segment left" || ok
	: >"$TMP/ftok2"
	mailbox "sysvshm ftok" "sysvshm:$TMP/ftok2?proj=9&size=64K"
fi
built mmap && mailbox mmap "mmap:$TMP/mb.ring?size=64K" "$TMP/mb.ring"

# ------------------------------------------- nc -k: everyone at once, stays
# recv on a connection listener serves every peer at the same time, and is
# still there when they have all left.
nc_k() { # NAME URL
	local name=$1 url=$2 line A B a b st
	mkfifo "$TMP/k.out" "$TMP/k.a" "$TMP/k.b"
	exec {OUT}<>"$TMP/k.out"
	start_ready "$TMP/k.out" recv "$url"
	local recv=$PID addr=$ADDR
	[ -n "$addr" ] || { bad "$name: recv did not start: $(errs_of)"; return; }
	# two long-lived senders, each reading lines from a FIFO we write into
	exec {A}<>"$TMP/k.a" {B}<>"$TMP/k.b"
	# (each closes our copies of the FIFOs, or its stdin would never end)
	run send "$addr" <"$TMP/k.a" 2>"$TMP/k.a.err" {A}>&- {B}>&- {OUT}>&- &
	a=$!
	run send "$addr" <"$TMP/k.b" 2>"$TMP/k.b.err" {A}>&- {B}>&- {OUT}>&- &
	b=$!
	pids+=("$a" "$b")
	got() { # WHO TEXT: the next line out of recv is TEXT
		local line
		if ! read -r -t 20 -u "$OUT" line; then
			bad "$name: nothing arrived for '$2' from $1"
			return 1
		fi
		expect_eq "$name: message from $1" "$2" "$line"
	}
	# interleaved: neither sender waits for the other to leave
	echo a1 >&$A && got A a1
	echo b1 >&$B && got B b1
	echo a2 >&$A && got A a2
	echo b2 >&$B && got B b2
	exec {A}>&-
	finish $a
	expect_status "$name: sender A" 0 $ST "$TMP/k.a.err"
	# B goes on after A left, and a third one comes and goes
	echo b3 >&$B && got B b3
	run send --timeout 10000 "$addr" c1 2>"$TMP/k.c.err"
	expect_status "$name: sender C" 0 $? "$TMP/k.c.err"
	got C c1
	exec {B}>&-
	finish $b
	expect_status "$name: sender B" 0 $ST "$TMP/k.b.err"
	# everyone has left: recv is still listening
	run send --timeout 10000 "$addr" d1 2>"$TMP/k.d.err"
	expect_status "$name: sender D after all left" 0 $? "$TMP/k.d.err"
	got D d1
	kill -0 $recv 2>/dev/null && ok || bad "$name: recv ended when its peers left"
	kill -INT $(child_of $recv)
	finish $recv
	expect_status "$name: recv after Ctrl-C" 130 $ST
	exec {OUT}>&-
	rm -f "$TMP/k.out" "$TMP/k.a" "$TMP/k.b"
}
nc_k unix "unix:$TMP/k.sock"
expect_gone "nc -k unix: socket removed" "$TMP/k.sock"
nc_k tcp "tcp://127.0.0.1:0"

# --json tells the connections apart
start_ready "$TMP/conn.out" recv "unix:$TMP/conn.sock" -n 4 --json
mkfifo "$TMP/c.a"
exec {CA}<>"$TMP/c.a"
run send "$ADDR" <"$TMP/c.a" {CA}>&- &
ca=$!
pids+=("$ca")
echo a1 >&$CA
run send --timeout 10000 "$ADDR" b1 b2 || bad "send b"
echo a2 >&$CA
exec {CA}>&-
finish $ca
finish $PID
expect_status "recv --json of two connections" 0 $ST
out=$(jq -r '"\(.data) \(.conn)"' "$TMP/conn.out" | sort)
a=$(awk '$1 == "a1" { print $2 }' <<<"$out")
b=$(awk '$1 == "b1" { print $2 }' <<<"$out")
expect_eq "a1, a2 on one connection" "a1 $a,a2 $a" "$(grep '^a' <<<"$out" | paste -sd,)"
expect_eq "b1, b2 on another" "b1 $b,b2 $b" "$(grep '^b' <<<"$out" | paste -sd,)"
[ -n "$a" ] && [ -n "$b" ] && [ "$a" != "$b" ] && ok || bad "connection numbers: $out"

# a peer that speaks something else is dropped; the others are served
start_ready "$TMP/mix.out" recv "unix:$TMP/mix.sock" -n 2
python3 - "$TMP/mix.sock" <<'EOF' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"hello, this is not SP\n")
time.sleep(30)
EOF
junk=$!
pids+=("$junk")
run send --timeout 10000 "$ADDR" ok1 ok2 2>"$TMP/err"
expect_status "a sender beside a foreign peer" 0 $? "$TMP/err"
finish $PID
expect_status "recv beside a foreign peer" 0 $ST
expect_eq "messages beside a foreign peer" $'ok1\nok2' "$(cat "$TMP/mix.out")"
kill $junk 2>/dev/null
wait $junk 2>/dev/null

# ------------------------------------------------ how recv ends: statuses
# --timeout after something arrived, with -n 0: drained, success
if built mq; then
	q=mq:/ipkt-mbox-$$-t
	cleanups+=("'$CLI' rm $q")
	run send --listen "$q?persist" m1 m2 2>"$TMP/err" || bad "fill $q: $(cat "$TMP/err")"
	out=$(run recv --dial "$q" --timeout 300 2>"$TMP/err")
	expect_status "recv --timeout drains a queue" 0 $? "$TMP/err"
	expect_eq "drained" $'m1\nm2' "$out"
	# nothing at all: failure
	run recv --dial "$q" --timeout 200 >/dev/null 2>"$TMP/err"
	expect_status "recv --timeout, nothing came" 1 $? "$TMP/err"
	one_line "recv --timeout, nothing came: message" "$TMP/err" "no message within 200 ms"
	# fewer than asked: failure, saying how many
	run send "$q" m3
	out=$(run recv --dial "$q" -n 3 --timeout 200 2>"$TMP/err")
	expect_status "recv -n 3 --timeout with one" 1 $? "$TMP/err"
	one_line "recv -n 3 --timeout with one: message" "$TMP/err" "got 1 of 3"
	expect_eq "recv -n 3 --timeout printed the one" m3 "$out"
	# --idle: quiet for that long is a normal end, whatever came
	run send "$q" m4 m5
	out=$(run recv --dial "$q" --idle 0 2>"$TMP/err")
	expect_status "recv --idle 0 takes what is there" 0 $? "$TMP/err"
	expect_eq "recv --idle 0" $'m4\nm5' "$out"
	run recv --dial "$q" --idle 200 >/dev/null 2>"$TMP/err"
	expect_status "recv --idle on an empty queue" 0 $? "$TMP/err"
	run rm "$q" >/dev/null
fi
t0=$(date +%s%N)
run recv --idle 300 "fifo:$TMP/idle" >/dev/null 2>"$TMP/err"
expect_status "recv --idle 300 on a quiet FIFO" 0 $? "$TMP/err"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -ge 300 ] && ok || bad "--idle 300 ended after $ms ms"
expect_gone "recv --idle removed its FIFO" "$TMP/idle"
# --idle restarts with each message
start_ready "$TMP/idle.out" recv "unix:$TMP/idle.sock" --idle 1500
for m in x y z; do run send --timeout 10000 "$ADDR" $m || bad "send $m"; done
finish $PID
expect_status "recv --idle after messages" 0 $ST
expect_eq "recv --idle got all" $'x\ny\nz' "$(cat "$TMP/idle.out")"
# the exit statuses are in the help
out=$(run help recv)
grep -q -- "--idle" <<<"$out" && grep -qi "exit 0" <<<"$out" &&
	grep -qi "exit 1" <<<"$out" && ok || bad "help recv does not give --idle and the statuses"

summary

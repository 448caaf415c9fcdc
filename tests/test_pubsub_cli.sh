#!/usr/bin/env bash
# ipckit pub / sub end to end over the real binary: shared memory and
# sockets, topics, --meta with exactly the messages missed, a relay from a
# TCP subscriber into a shared-memory publisher, interop with nngcat
# (--pub0/--sub0) both ways on unix: and tcp:, and refusals.
set -u
CLI=${IPK_CLI:?run through ctest (IPK_CLI = path of the ipckit binary)}
TMP=$(mktemp -d /tmp/ipkt-pubsub-$$-XXXXXX) || exit 1
. "${IPK_SOURCE:?run through ctest}/tests/port_util.sh"
pass=0 fail=0
pids=()
shms=()
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	for s in "${shms[@]}"; do
		rm -f "/dev/shm/$s"
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

run() { timeout -s INT -k 5 60 "$CLI" "$@"; }
start() { # start OUT CMD...: background, stdout to OUT, stderr to OUT.err
	local out=$1
	shift
	run "$@" >"$out" 2>"$out.err" &
	PID=$!
	pids+=("$PID")
}
# wait_for FILE PATTERN: until FILE has a line matching PATTERN (30 s)
wait_for() {
	for _ in $(seq 300); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
name() { # a /dev/shm name of ours
	local n="ipkt-$$-$1"
	shms+=("$n")
	echo "/$n"
}

# --- shared memory: every subscriber gets every message, in order
R=$(name ring)
start "$TMP/s1" sub "shm:$R" -n 3
P1=$PID
start "$TMP/s2" sub "shm:$R" -n 3 --meta
P2=$PID
run pub "shm:$R" --subscribers 2 --timeout 20000 one two three ||
	bad "pub on shm failed"
wait "$P1" "$P2"
[ "$(cat "$TMP/s1")" = $'one\ntwo\nthree' ] && ok ||
	bad "shm subscriber 1: $(cat "$TMP/s1" "$TMP/s1.err")"
[ "$(cat "$TMP/s2")" = $'# len=3 missed=0\none\n# len=3 missed=0\ntwo\n# len=5 missed=0\nthree' ] &&
	ok || bad "shm subscriber 2: $(cat "$TMP/s2" "$TMP/s2.err")"
[ ! -e "/dev/shm$R" ] && ok || bad "the ring outlived everyone"

# --- topics, over tcp, stdin lines
start "$TMP/t1" sub "tcp://127.0.0.1:0?proto=sub" --listen --print-address -n 2 --topic weather.
T1=$PID
wait_for "$TMP/t1.err" '^tcp://' || bad "sub --listen printed no address"
ADDR=$(head -1 "$TMP/t1.err")
ADDR=${ADDR%%\?*}
printf 'news.sport\nweather.rain\nnews.politics\nweather.sun\n' |
	run pub "$ADDR" --dial --subscribers 1 --timeout 20000 - ||
	bad "pub --dial on tcp failed"
wait "$T1"
[ "$(cat "$TMP/t1")" = $'weather.rain\nweather.sun' ] && ok ||
	bad "topics: $(cat "$TMP/t1" "$TMP/t1.err")"

# --- a subscriber stopped while the publisher laps it is told exactly
# what it missed: message numbers and missed counts add up
M=$(name missed)
start "$TMP/m" sub "shm:$M" --meta --timeout 3000
MP=$PID
run pub "shm:$M?size=64K" --subscribers 1 --timeout 20000 warmup ||
	bad "pub warmup failed"
wait_for "$TMP/m" '^warmup' || bad "the subscriber saw no warmup"
kill -STOP "$MP"
seq 1 20000 | run pub "shm:$M" - || bad "pub of 20000 failed"
kill -CONT "$MP"
wait "$MP" # ends when nothing more comes within 3 s
awk '
	/^# len=/ { split($3, kv, "="); missed = kv[2]; next }
	$0 == "warmup" { next }
	{ if ($0 != prev + 1 + missed) { print "message " $0 " after " prev \
	    " with " missed " missed"; badn++ } total += missed; prev = $0; got++ }
	END { if (prev != 20000) { print "last " prev; badn++ }
	      if (total == 0) { print "never missed anything"; badn++ }
	      exit badn > 0 }' "$TMP/m" >"$TMP/m.check" && ok ||
	bad "missed counts: $(head -5 "$TMP/m.check")"
grep -q "missed=[1-9]" "$TMP/m" && ok || bad "no missed count printed"

# --- recv --meta says missed too
X=$(name recvmeta)
start "$TMP/r" recv --dial "shm:$X?proto=sub&topic" --meta --timeout 3000
RP=$PID
run pub "shm:$X?size=64K" --subscribers 1 --timeout 20000 first || bad "pub first"
wait_for "$TMP/r" '^first' || bad "recv saw nothing"
kill -STOP "$RP"
seq 1 5000 | run pub "shm:$X" - || bad "pub of 5000 failed"
kill -CONT "$RP"
wait "$RP"
grep -q '^# len=.* missed=[1-9]' "$TMP/r" && ok ||
	bad "recv --meta shows no missed: $(head -3 "$TMP/r")"

# --- relay: a TCP subscriber feeds a shared-memory publisher (fan-out
# across mechanisms)
O=$(name relayout)
start "$TMP/rl.pub" pub "tcp://127.0.0.1:0" --print-address --subscribers 1 \
	--timeout 20000 --interval 50 m1 m2 m3 m4
RPUB=$PID
wait_for "$TMP/rl.pub.err" '^tcp://' || bad "pub printed no address"
TADDR=$(head -1 "$TMP/rl.pub.err")
start "$TMP/rl.out" sub "shm:$O?history=10" -n 4
RSUB=$PID
run relay -b -n 4 "${TADDR}&topic" "shm:$O?proto=pub&history=10" ||
	bad "relay failed: $?"
wait "$RSUB" "$RPUB"
[ "$(cat "$TMP/rl.out")" = $'m1\nm2\nm3\nm4' ] && ok ||
	bad "relay tcp -> shm: $(cat "$TMP/rl.out" "$TMP/rl.out.err")"

# --- nngcat both ways, on unix: and tcp:
if command -v nngcat >/dev/null; then
	for t in unix tcp; do
		if [ $t = unix ]; then
			ip="unix:$TMP/nn1.sock" np="ipc://$TMP/nn1.sock"
			ip2="unix:$TMP/nn2.sock" np2="ipc://$TMP/nn2.sock"
		else
			port=$(free_port) && port2=$(free_port) || exit 1
			ip="tcp://127.0.0.1:$port" np=$ip
			ip2="tcp://127.0.0.1:$port2" np2=$ip2
		fi
		# ipckit publishes, nngcat subscribes
		start "$TMP/n1.$t" pub "$ip" --subscribers 1 --timeout 20000 \
			--print-address alpha beta
		NPUB=$PID
		# nngcat --dial gives up at once on a refused connection
		wait_for "$TMP/n1.$t.err" "^${ip%%:*}:" || bad "pub on $t not listening"
		timeout 20 nngcat --sub0 --dial "$np" --subscribe "" --count 2 \
			--quoted >"$TMP/n1.$t.out" 2>&1
		wait "$NPUB"
		[ "$(cat "$TMP/n1.$t.out")" = $'"alpha"\n"beta"' ] && ok ||
			bad "nngcat --sub0 from ipckit pub on $t: $(cat "$TMP/n1.$t.out" "$TMP/n1.$t.err")"
		# nngcat publishes, ipckit subscribes (with a topic)
		timeout 20 nngcat --pub0 --listen "$np2" --data "topic.x hello" \
			--interval 1 --count 15 >/dev/null 2>&1 &
		NN=$!
		pids+=("$NN")
		run sub "$ip2" --topic topic. -n 2 --timeout 15000 >"$TMP/n2.$t.out" 2>&1
		kill "$NN" 2>/dev/null
		[ "$(cat "$TMP/n2.$t.out")" = $'topic.x hello\ntopic.x hello' ] && ok ||
			bad "ipckit sub from nngcat --pub0 on $t: $(cat "$TMP/n2.$t.out")"
	done
else
	echo "nngcat not installed: interop skipped (scripts/setup.sh installs nng-utils)"
fi

# --- refusals
run pub "fifo:$TMP/f" hello 2>"$TMP/e1"
[ $? -eq 1 ] && grep -q "one receiver" "$TMP/e1" && ok ||
	bad "pub on a fifo: $(cat "$TMP/e1")"
run sub "shm:/x?proto=pub" 2>"$TMP/e2"
[ $? -eq 2 ] && grep -q "names protocol pub" "$TMP/e2" && ok ||
	bad "sub with proto=pub: $(cat "$TMP/e2")"
run sub "shm:$(name absent)" --timeout 100 2>"$TMP/e3"
[ $? -eq 1 ] && ok || bad "sub of nothing: $(cat "$TMP/e3")"
run help pub | grep -q -- "--subscribers" && ok || bad "help pub"

echo "pubsub cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

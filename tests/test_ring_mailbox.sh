#!/usr/bin/env bash
# Rings are mailboxes, the way a person uses them: one `ipckit recv ADDR -n 3`
# and three `ipckit send ADDR word` one after another print all three words,
# for every ring flavour (shm:, both sysvshm: key forms, mmap:, ?mpmc,
# ?persist). Then: a sender never waits for good on a ring that was
# removed, `recv -n 0` keeps receiving sender after sender, and
# `relay -a RING ...` relays from sender after sender.
set -u
CLI=${IPK_CLI:?run through ctest (IPK_CLI = the ipckit binary)}
TMP=$(mktemp -d /tmp/ipkt-mailbox-$$-XXXXXX) || exit 1
KEYFILE=$TMP/keyfile
: >"$KEYFILE"
KEY=$(printf '0x6b%06x' $(($$ & 0xffffff)))
pass=0 fail=0
pids=()
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
cleanup() {
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	rm -f /dev/shm/ipkt-mailbox-$$-*
	for a in "sysvshm:$KEY" "sysvshm:$KEYFILE?proj=9"; do
		"$CLI" rm "$a" >/dev/null 2>&1
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
run() { timeout -k 5 30 "$@"; }

# one receiver, three senders one after another
three_senders() {
	local addr=$1 out=$TMP/out.$2
	run "$CLI" recv "$addr" -n 3 >"$out" 2>"$out.err" &
	local rx=$!
	pids+=("$rx")
	local w
	for w in one two three; do
		# dial waits for the ring to exist; each sender leaves before the next
		run "$CLI" send "$addr" "$w" 2>>"$out.err" || bad "$addr: send $w failed"
	done
	if wait "$rx"; then ok; else bad "$addr: recv -n 3 failed: $(cat "$out.err")"; fi
	pids=()
	if [ "$(cat "$out")" = $'one\ntwo\nthree' ]; then ok; else
		bad "$addr: received '$(tr '\n' ' ' <"$out")'"
	fi
}

three_senders "shm:/ipkt-mailbox-$$-a" shm
three_senders "shm:/ipkt-mailbox-$$-m?mpmc" mpmc
three_senders "sysvshm:$KEY" sysvkey
three_senders "sysvshm:$KEYFILE?proj=9" sysvpath
three_senders "mmap:$TMP/ring.dat" mmap
three_senders "shm:/ipkt-mailbox-$$-p?persist" persist

# every ring above was removed by its receiver, except the persistent one
for n in a m; do
	if [ ! -e /dev/shm/ipkt-mailbox-$$-$n ]; then ok; else bad "ring $n left behind"; fi
done
if [ ! -e "$TMP/ring.dat" ]; then ok; else bad "mmap ring left behind"; fi

# ?persist: the ring outlives its receiver; a sender deposits into it and
# the next receiver gets it
P="shm:/ipkt-mailbox-$$-p?persist"
if [ -e /dev/shm/ipkt-mailbox-$$-p ]; then ok; else bad "persistent ring removed"; fi
if run "$CLI" send "$P" four --timeout 2000; then ok; else bad "send into a kept ring"; fi
got=$(run "$CLI" recv "$P" -n 1 --timeout 2000)
if [ "$got" = four ]; then ok; else bad "kept ring gave '$got'"; fi
"$CLI" rm "shm:/ipkt-mailbox-$$-p" >/dev/null 2>&1

# a ring that is gone: a sender gives up within its timeout, never hangs
start=$(date +%s%N)
run "$CLI" send "shm:/ipkt-mailbox-$$-a" late --timeout 500 2>"$TMP/late.err"
st=$?
ms=$((($(date +%s%N) - start) / 1000000))
if [ $st -ne 0 ] && [ $st -ne 124 ] && [ $ms -lt 10000 ]; then ok; else
	bad "send to a removed ring: status $st after $ms ms"
fi

# recv -n 0 keeps receiving as senders come and go
R0="shm:/ipkt-mailbox-$$-z"
run "$CLI" recv "$R0" -n 0 >"$TMP/zero" 2>"$TMP/zero.err" &
rx=$!
pids+=("$rx")
for w in one two three; do
	run "$CLI" send "$R0" "$w" || bad "recv -n 0: send $w failed"
done
# the third is in the ring once its send returned; give the receiver the
# time to print it (an event would be nicer: poll the output)
for _ in $(seq 100); do
	[ "$(wc -l <"$TMP/zero")" -ge 3 ] && break
	sleep 0.05
done
if kill -0 "$rx" 2>/dev/null; then ok; else bad "recv -n 0 stopped: $(cat "$TMP/zero.err")"; fi
kill -TERM "$rx" 2>/dev/null
wait "$rx" 2>/dev/null
pids=()
if [ "$(cat "$TMP/zero")" = $'one\ntwo\nthree' ]; then ok; else
	bad "recv -n 0 received '$(tr '\n' ' ' <"$TMP/zero")'"
fi

# relay -a RING DEST: sender after sender reaches the destination
RR="shm:/ipkt-mailbox-$$-r"
FIFO="fifo:$TMP/relayed"
run "$CLI" recv "$FIFO" -n 3 >"$TMP/relayed.out" 2>"$TMP/relayed.err" &
dst=$!
pids+=("$dst")
# (a ring relay creates needs ?persist: it keeps what relay did not move)
run "$CLI" relay -a "$RR?persist" "$FIFO" >"$TMP/relay.out" 2>&1 &
rl=$!
pids+=("$rl")
for w in one two three; do
	run "$CLI" send "$RR" "$w" || bad "relay: send $w failed"
done
if wait "$dst"; then ok; else bad "relay destination: $(cat "$TMP/relayed.err")"; fi
if [ "$(cat "$TMP/relayed.out")" = $'one\ntwo\nthree' ]; then ok; else
	bad "relay -a delivered '$(tr '\n' ' ' <"$TMP/relayed.out")' ($(cat "$TMP/relay.out"))"
fi
kill -TERM "$rl" 2>/dev/null
wait "$rl" 2>/dev/null
pids=()
# (the kept ring goes with the cleanup's rm of /dev/shm/ipkt-mailbox-$$-*)

echo "test_ring_mailbox: $pass passed, $fail failed"
[ $fail -eq 0 ]

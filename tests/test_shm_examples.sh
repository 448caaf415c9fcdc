#!/usr/bin/env bash
# The shared-memory examples end to end: the System V server/client pair on
# ipckit regions, the ring producer/consumer pair, and the ipckit CLI over a
# ring. Nothing may be left in /proc/sysvipc/shm or /dev/shm afterwards.
set -u
B=${IPK_BUILD:?run through ctest (IPK_BUILD = the build directory)}
EX=$B/examples
TMP=$(mktemp -d /tmp/ipkt-shmex-$$-XXXXXX) || exit 1
pass=0 fail=0
pids=()
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	rm -rf "$TMP"
	rm -f "/dev/shm/ipkt-shmex-$$" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

run() { timeout -k 5 60 "$@"; }

# ---------------------------------------------- System V server/client
# ftok needs an existing path: a file of our own gives a key nobody shares
KEYFILE=$TMP/keyfile
: >"$KEYFILE"
PROJ=77

run "$EX/sysv_shm_server" "$KEYFILE" $PROJ >"$TMP/server.out" 2>&1 &
srv=$!
pids+=("$srv")
if run "$EX/sysv_shm_client" "$KEYFILE" $PROJ 26 >"$TMP/client.out" 2>&1; then
	ok
else
	bad "sysv client failed: $(cat "$TMP/client.out")"
fi
if wait "$srv"; then ok; else bad "sysv server failed: $(cat "$TMP/server.out")"; fi
pids=()
# every version of the growing string, in order
want=""
expected=""
for l in a b c d e f g h i j k l m n o p q r s t u v w x y z; do
	want="$want$l"
	expected="${expected}server: $want"$'\n'
done
got=$(grep -E '^server: [a-z]+$' "$TMP/server.out")
if [ "$got"$'\n' = "$expected" ]; then ok; else bad "server printed: $got"; fi
if grep -q 'mode 600' "$TMP/server.out"; then ok; else bad "segment mode: $(head -1 "$TMP/server.out")"; fi
if grep -q 'segment removed' "$TMP/server.out"; then ok; else bad "server did not remove"; fi
# the key the server reported, as /proc/sysvipc/shm prints it (decimal;
# proj 77 keeps it below 2^31)
key=$(sed -n 's/^server: segment key 0x\([0-9a-f]*\) .*/\1/p' "$TMP/server.out")
if [ -z "$key" ]; then
	bad "server did not report its key"
elif awk -v k=$((16#$key)) 'NR > 1 && $1 == k { found = 1 } END { exit !found }' \
	/proc/sysvipc/shm; then
	bad "segment 0x$key left in /proc/sysvipc/shm"
else
	ok
fi

# ------------------------------------------------ ring producer/consumer
URL="shm:/ipkt-shmex-$$?size=64K"
run "$EX/ring_consumer" "$URL" >"$TMP/consumer.out" 2>&1 &
con=$!
pids+=("$con")
if run "$EX/ring_producer" "shm:/ipkt-shmex-$$" 1000 >"$TMP/producer.out" 2>&1; then
	ok
else
	bad "producer failed: $(cat "$TMP/producer.out")"
fi
if wait "$con"; then ok; else bad "consumer failed: $(cat "$TMP/consumer.out")"; fi
pids=()
n=$(grep -c '^consumer: message [0-9]* of 1000$' "$TMP/consumer.out")
if [ "$n" = 1000 ]; then ok; else bad "consumer printed $n of 1000 messages"; fi
if grep -q '^consumer: message 1000 of 1000$' "$TMP/consumer.out" &&
   grep -q '^consumer: 1000 messages$' "$TMP/consumer.out"; then
	ok
else
	bad "consumer output: $(tail -3 "$TMP/consumer.out")"
fi
if [ -e "/dev/shm/ipkt-shmex-$$" ]; then
	bad "/dev/shm/ipkt-shmex-$$ left behind"
else
	ok
fi

echo "test_shm_examples: $pass passed, $fail failed"
[ "$fail" = 0 ]

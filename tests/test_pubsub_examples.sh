#!/usr/bin/env bash
# examples/pubsub_frames_pub.c and pubsub_frames_sub.c: one publisher of
# fixed-size frames and three subscriber processes, the same programs on
# shm: and on tcp: with only the address changed. Every frame arrives
# intact at every subscriber (slow=block: none may be missed).
set -u
B=${IPK_BUILD:?run through ctest}/examples
TMP=$(mktemp -d /tmp/ipkt-pubsubex-$$-XXXXXX) || exit 1
pass=0 fail=0
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	rm -f "/dev/shm/ipkt-$$-frames"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
. "${IPK_SOURCE:?run through ctest}/tests/port_util.sh"

# the publisher binds a port it is given: one in the ephemeral range could
# be any concurrent test's client connection (EADDRINUSE)
port=$(free_port) || exit 1
for url in "shm:/ipkt-$$-frames?size=8M&slow=block" \
           "tcp://127.0.0.1:$port?slow=block"; do
	subs=()
	for i in 1 2 3; do
		timeout 60 "$B/pubsub_frames_sub" "$url" >"$TMP/sub$i" 2>&1 &
		subs+=($!)
		pids+=($!)
	done
	if ! timeout 60 "$B/pubsub_frames_pub" "$url" 3 300 300 >"$TMP/pub" 2>&1; then
		fail=$((fail + 1))
		echo "FAIL: publisher on $url: $(cat "$TMP/pub")"
	fi
	for i in 1 2 3; do
		wait "${subs[$((i - 1))]}"
		st=$?
		if [ $st -eq 0 ] &&
		   grep -q '^received 300 frames .* missed 0, torn 0, corrupt 0' "$TMP/sub$i"; then
			pass=$((pass + 1))
		else
			fail=$((fail + 1))
			echo "FAIL: subscriber $i on $url (exit $st): $(cat "$TMP/sub$i")"
		fi
	done
	case $url in
	shm:*) grep -q "(in place)" "$TMP/sub1" && pass=$((pass + 1)) ||
		{ fail=$((fail + 1)); echo "FAIL: shm frames were not read in place"; } ;;
	esac
done
[ ! -e "/dev/shm/ipkt-$$-frames" ] && pass=$((pass + 1)) ||
	{ fail=$((fail + 1)); echo "FAIL: the frame ring was left behind"; }
echo "pubsub examples: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

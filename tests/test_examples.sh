#!/usr/bin/env bash
# The programs in examples/ are documentation: run them and check that they
# do what their comments say.
set -euo pipefail
: "${IPK_BUILD:?run through ctest (IPK_BUILD is the build directory)}"
ex="$IPK_BUILD/examples"
tmp=$(mktemp -d /tmp/ipkt-examples.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
pass=0 fail=0
ok() { echo "ok: $1"; pass=$((pass + 1)); }
bad() { echo "FAIL: $1"; fail=$((fail + 1)); }

# pipe_parent_child: every argument comes back, in order, one per line
out=$("$ex/pipe_parent_child" hello "pipe world" "" last)
want=$'hello\npipe world\n\nlast'
[ "$out" = "$want" ] && ok "pipe_parent_child" || bad "pipe_parent_child printed: $out"
"$ex/pipe_parent_child" >/dev/null 2>&1 && bad "pipe_parent_child without arguments succeeded" ||
	ok "pipe_parent_child usage"

# fifo_reader + fifo_writer: the example in their comments
fifo="$tmp/jobs"
"$ex/fifo_reader" "$fifo" 2 >"$tmp/out1" &
reader=$!
pids+=("$reader")
"$ex/fifo_writer" "$fifo" "first job" "second job"
wait "$reader"
[ "$(cat "$tmp/out1")" = $'first job\nsecond job' ] && ok "fifo reader/writer" ||
	bad "fifo_reader printed: $(cat "$tmp/out1")"
[ ! -e "$fifo" ] && ok "fifo_reader removed its FIFO" || bad "$fifo left behind"

# several writers at once: all messages arrive, each writer's in order
"$ex/fifo_reader" "$fifo" 300 >"$tmp/out2" &
reader=$!
pids+=("$reader")
writers=()
for w in a b c; do
	args=()
	for i in $(seq 1 100); do args+=("$w-$i"); done
	"$ex/fifo_writer" "$fifo" "${args[@]}" &
	writers+=($!)
done
for p in "${writers[@]}"; do wait "$p"; done
wait "$reader"
n=$(wc -l <"$tmp/out2")
[ "$n" -eq 300 ] && ok "300 messages from 3 writers" || bad "got $n of 300 messages"
order=ok
for w in a b c; do
	[ "$(grep "^$w-" "$tmp/out2" | cut -d- -f2 | tr '\n' ' ')" = "$(seq 1 100 | tr '\n' ' ')" ] ||
		order=bad
done
[ $order = ok ] && ok "each writer's messages in order" || bad "a writer's messages out of order"


echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

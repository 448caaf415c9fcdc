#!/usr/bin/env bash
# Plain programs meeting a framed FIFO through the ipckit binary: `echo hi >
# /tmp/f` into `ipckit recv fifo:/tmp/f` is reported once on stderr (it
# looks like unframed text; listen with ?raw) and the receiver goes on with
# the next sender's messages instead of ending.
TEST_TAG=fifocli . "$(dirname "$0")/cli_util.sh"
F=$TMP/f

timeout -s INT -k 5 60 "$CLI" recv "fifo:$F" -n 2 >"$TMP/out" 2>"$TMP/err" &
pid=$!
pids=("$pid")
for _ in $(seq 500); do [ -p "$F" ] && break; sleep 0.01; done
[ -p "$F" ] || { bad "the listener did not make $F"; exit 1; }

echo hi >"$F"
timeout 10 "$CLI" send "fifo:$F" one || bad "send one"
printf 'some longer text from a plain program\n' >"$F"
timeout 10 "$CLI" send "fifo:$F" two || bad "send two"
wait "$pid"
rc=$?
pids=()
[ "$rc" -eq 0 ] || bad "recv exited $rc: $(cat "$TMP/err")"
[ "$(cat "$TMP/out")" = "$(printf 'one\ntwo')" ] ||
	bad "recv printed '$(cat "$TMP/out")'"
n=$(grep -c "looks like unframed text" "$TMP/err")
[ "$n" -eq 2 ] || bad "expected 2 reports, got $n: $(cat "$TMP/err")"
grep -q '?raw' "$TMP/err" || bad "the report does not say ?raw"
grep -q 'peer announced' "$TMP/err" && bad "the old length error"
[ -e "$F" ] && bad "the FIFO was left behind"
summary

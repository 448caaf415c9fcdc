#!/usr/bin/env bash
# Plain programs meeting a framed FIFO through the ipckit binary: `echo hi >
# /tmp/f` into `ipckit recv fifo:/tmp/f` is reported once on stderr (it
# looks like unframed text; listen with ?raw) and the receiver goes on with
# the next sender's messages instead of ending. Once with the receiver
# reading as the writes come, once with it stopped while they land, so that
# it reads text and messages together (a message between two runs of text
# was once dropped with the second one, when the timing put them in one
# read).
TEST_TAG=fifocli . "$(dirname "$0")/cli_util.sh"
F=$TMP/f

timeout -s INT -k 5 60 "$CLI" recv "fifo:$F" -n 4 >"$TMP/out" 2>"$TMP/err" &
pid=$!
pids=("$pid")
for _ in $(seq 500); do [ -p "$F" ] && break; sleep 0.01; done
[ -p "$F" ] || { bad "the listener did not make $F"; exit 1; }
rpid=$(child_of "$pid") # the receiver itself, under timeout
[ -n "$rpid" ] || { bad "no receiver under $pid"; exit 1; }
# a stopped receiver would not die of cleanup's signal
trap 'kill -CONT "$rpid" 2>/dev/null; cleanup' EXIT

# the receiver reads whenever it gets to run
echo hi >"$F"
timeout 10 "$CLI" send "fifo:$F" one || bad "send one"
printf 'some longer text from a plain program\n' >"$F"
timeout 10 "$CLI" send "fifo:$F" two || bad "send two"
# the receiver is stopped: all of this is in the FIFO when it reads next
kill -STOP "$rpid"
echo hi again >"$F"
timeout 10 "$CLI" send "fifo:$F" three || bad "send three"
printf 'more text\n' >"$F"
timeout 10 "$CLI" send "fifo:$F" four || bad "send four"
kill -CONT "$rpid"
wait "$pid"
rc=$?
pids=()
[ "$rc" -eq 0 ] || bad "recv exited $rc: $(cat "$TMP/err")"
[ "$(cat "$TMP/out")" = "$(printf 'one\ntwo\nthree\nfour')" ] ||
	bad "recv printed '$(cat "$TMP/out")'"
n=$(grep -c "looks like unframed text" "$TMP/err")
[ "$n" -eq 4 ] || bad "expected 4 reports, got $n: $(cat "$TMP/err")"
grep -q '?raw' "$TMP/err" || bad "the report does not say ?raw"
grep -q 'peer announced' "$TMP/err" && bad "the old length error"
[ -e "$F" ] && bad "the FIFO was left behind"
summary

#!/usr/bin/env bash
# Runs one Criterion test program and removes the IPC socket its runner
# keeps at /tmp/criterion_<pid>.sock, which Criterion leaves behind when a
# run ends abnormally (the path is fixed inside libcriterion).
"$@" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null' INT TERM
wait "$pid"
rc=$?
rm -f "/tmp/criterion_$pid.sock"
exit "$rc"

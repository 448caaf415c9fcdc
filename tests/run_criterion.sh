#!/usr/bin/env bash
# Runs one Criterion test program and removes the IPC socket its runner
# keeps at /tmp/criterion_<pid>.sock, which Criterion leaves behind when a
# run ends abnormally (the path is fixed inside libcriterion).
#
# Criterion (2.4) counts a test as passed when an assertion fails in its
# suite's .fini, or when .fini exits: the suites' leak checks run there, so
# this wrapper fails the run when Criterion reports either.
log=$(mktemp "${TMPDIR:-/tmp}/ipkt-crit.XXXXXX") || exit 1
exec 3> >(tee "$log" >&2)
tee_pid=$!
"$@" 2>&3 &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null' INT TERM
wait "$pid"
rc=$?
rm -f "/tmp/criterion_$pid.sock"
exec 3>&-
wait "$tee_pid" 2>/dev/null # everything is in the log
if [ "$rc" -eq 0 ] && grep -q -e 'Assertion Failed' \
	-e 'exited during its setup or teardown' "$log"; then
	echo "run_criterion: a suite's setup or teardown check failed" \
		"(see 'Assertion Failed' above)" >&2
	rc=1
fi
rm -f "$log"
exit "$rc"

# Shared part of the inventory shell tests (tests/test_inventory*.sh,
# test_gc_keep.sh), sourced by each: counters, check, killing the processes
# a test started, and adding up the counts of a part run in private
# namespaces (the test runs itself there: `bash "$0" inner ...`).
set -u
CLI=${IPK_CLI:?run through ctest}
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { # DESCRIPTION EXPECTED ACTUAL
	if [ "$2" == "$3" ]; then ok; else
		bad "$1"; diff <(echo "$2") <(echo "$3") | sed 's/^/    /'
	fi
}
# the schema check (tests/inventory_schema.py) needs jsonschema, which the
# system python has (scripts/setup.sh)
PY=/usr/bin/python3
$PY -c 'import jsonschema' 2>/dev/null || PY=python3

# needs_root NAME WHY: skip the whole test (exit 0) unless run by root
needs_root() {
	[ "$(id -u)" -eq 0 ] && return
	echo "$1 needs root ($2)"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
}

# every process a test starts goes into pids; kill_all kills -9 and reaps them
pids=()
kill_all() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	pids=()
}

# the summary line; its status is 0 when nothing failed
counts() {
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}

# ns_result OUTPUT: OUTPUT of a namespace run: print it without its summary
# line, and add that line's counts to ours (no summary is a failure)
ns_result() {
	local line f
	grep -v ' passed, .* failed$' <<<"$1"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' <<<"$1" | tail -1)
	[ -n "$line" ] || { bad "no summary from the namespace run"; return; }
	pass=$((pass + ${line%% passed*}))
	f=${line#*, }
	fail=$((fail + ${f%% failed}))
}

#!/usr/bin/env bash
# make fuzz: run every libFuzzer harness built in BUILD for SECONDS each,
# JOBS at a time, and print execs and crashes per harness. Exit 1 if any
# harness crashed (its input is kept under BUILD/fuzz-crashes/NAME/; commit
# it to tests/fuzz/NAME/ with the fix, so `make test` replays it).
#   usage: run.sh BUILD SECONDS JOBS [NAME...]
set -uo pipefail
build=$1 secs=$2 jobs=$3
shift 3
src=$(cd "$(dirname "$0")" && pwd)
bin=$build/tests/fuzz
work=$build/fuzz-work
crashes=$build/fuzz-crashes

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	for f in "$src"/fuzz_*.c; do
		n=$(basename "$f" .c)
		names+=("${n#fuzz_}")
	done
fi

run_one() {
	local name=$1
	local exe=$bin/fuzz_$name
	mkdir -p "$work/$name" "$crashes/$name"
	local dict=()
	[ -f "$src/$name.dict" ] && dict=(-dict="$src/$name.dict")
	# new inputs go to the work corpus; the committed one is only read
	"$exe" -max_total_time="$secs" -print_final_stats=1 -timeout=20 \
		-rss_limit_mb=2048 -artifact_prefix="$crashes/$name/" "${dict[@]}" \
		"$work/$name" "$src/$name" >"$work/$name.log" 2>&1
	echo $? >"$work/$name.rc"
}

mkdir -p "$work"
running=0
for n in "${names[@]}"; do
	if [ ! -x "$bin/fuzz_$n" ]; then
		echo "fuzz: no harness fuzz_$n in $bin" >&2
		exit 2
	fi
	run_one "$n" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait

# a redirected group, not a pipe into tee: a pipe would run the loop in a
# subshell and lose status
status=0
{
printf '%-16s %12s %8s %8s  %s\n' harness execs crashes seconds result
for n in "${names[@]}"; do
	log=$work/$n.log
	rc=$(cat "$work/$n.rc" 2>/dev/null || echo 1)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
	ncrash=$(find "$crashes/$n" -type f | wc -l)
	result=ok
	if [ "$rc" -ne 0 ] || [ "$ncrash" -gt 0 ]; then
		result="FAILED (exit $rc): see $log"
		status=1
	fi
	printf '%-16s %12s %8s %8s  %s\n' "$n" "${execs:-?}" "$ncrash" \
		"${took:-?}" "$result"
done
} >"$build/fuzz-summary.txt"
cat "$build/fuzz-summary.txt"
if [ "$status" -ne 0 ]; then
	echo "fuzz: crashing inputs are in $crashes/<harness>/; replay one with" >&2
	echo "  $bin/fuzz_<harness> <file>, fix the bug, and commit the file to" >&2
	echo "  tests/fuzz/<harness>/ so make test replays it" >&2
fi
exit $status

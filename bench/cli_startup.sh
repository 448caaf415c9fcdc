#!/usr/bin/env bash
# How fast the command-line tool starts: `ipckit send mq:/NAME x` against
# mq_send_min, the smallest C program that sends the same message, timed
# side by side by hyperfine in three rounds of RUNS runs each (a warm-up
# first). A receiver drains the queue meanwhile, so no send ever waits.
# Prints what `ipckit` loads (ldd), hyperfine's summary per round, each
# round's ratio of the medians, and the median of those ratios.
#
#   bench/cli_startup.sh [BUILD_DIR] [RUNS]      (default: build 300)
set -euo pipefail
build=${1:-build}
runs=${2:-300}
cli=$build/tools/ipckit
min=$build/bench/mq_send_min
for p in "$cli" "$min"; do
	[ -x "$p" ] || { echo "cli_startup: $p is not built (make build)" >&2; exit 1; }
done
command -v hyperfine >/dev/null || { echo "cli_startup: needs hyperfine" >&2; exit 1; }

q=/ipkb-startup-$$
tmp=$(mktemp -d /tmp/ipkb-startup.XXXXXX)
"$cli" recv "mq:$q" -n 0 >/dev/null &
rpid=$!
cleanup() {
	kill "$rpid" 2>/dev/null || true
	wait "$rpid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
# the receiver made the queue when the minimal sender can open it
for _ in $(seq 100); do
	"$min" "$q" ready 2>/dev/null && break
	sleep 0.05
done

echo "ldd $cli:"
ldd "$cli" | sed 's/ (0x[0-9a-f]*)//; s/^/  /'
echo
# rounds alternate which command goes first, so a burst of load from other
# processes does not always land on the same one
rounds=3
for r in $(seq $rounds); do
	if [ $((r % 2)) -eq 1 ]; then
		cmds=("$cli send mq:$q x" "$min $q x")
	else
		cmds=("$min $q x" "$cli send mq:$q x")
	fi
	hyperfine -N --style basic --warmup 20 --runs "$runs" \
		--export-json "$tmp/h$r.json" "${cmds[@]}" >"$tmp/h$r.txt" 2>&1 ||
		{ cat "$tmp/h$r.txt"; exit 1; }
	echo "round $r:"
	grep -E '^Benchmark|Time|Range' "$tmp/h$r.txt" | sed 's/^/  /'
done
echo
python3 - "$tmp" "$rounds" "$runs" <<'PY'
import json, statistics, sys
tmp, rounds, runs = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ratios = []
for r in range(1, rounds + 1):
    res = json.load(open("%s/h%d.json" % (tmp, r)))["results"]
    a = next(x for x in res if " send mq:" in x["command"])
    b = next(x for x in res if " send mq:" not in x["command"])
    ratios.append(a["median"] / b["median"])
    print("round %d: ipckit send median %.3f ms, mq_send_min median %.3f ms: %.2fx"
          % (r, a["median"] * 1e3, b["median"] * 1e3, ratios[-1]))
print("ratio of medians: %.2fx (median of %d rounds of %s runs each; goal: <= 1.3x)"
      % (statistics.median(ratios), rounds, runs))
PY

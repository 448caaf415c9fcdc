#!/usr/bin/env bash
# How fast the command-line tool starts: `ipckit send mq:/NAME x` against
# mq_send_min, the smallest C program that sends the same message, timed
# side by side by hyperfine (alternating is not offered; each command gets
# its warm-up, then RUNS runs). A receiver drains the queue meanwhile, so
# no send ever waits. Prints each command's median and mean and the ratio
# of the medians, and what `ipckit` loads (ldd).
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
hyperfine -N --style basic --warmup 20 --runs "$runs" \
	--export-json "$tmp/h.json" "$cli send mq:$q x" "$min $q x" >"$tmp/h.txt" 2>&1 ||
	{ cat "$tmp/h.txt"; exit 1; }
grep -E '^Benchmark|Time|Range' "$tmp/h.txt"
echo
python3 - "$tmp/h.json" "$runs" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
a, b = r[0], r[1]
ms = lambda v: "%.3f ms" % (v * 1e3)
print("ipckit send:  median %s, mean %s" % (ms(a["median"]), ms(a["mean"])))
print("mq_send_min:  median %s, mean %s" % (ms(b["median"]), ms(b["mean"])))
print("ratio of medians %.2fx, of means %.2fx over %s runs each (goal: <= 1.3x)"
      % (a["median"] / b["median"], a["mean"] / b["mean"], sys.argv[2]))
PY

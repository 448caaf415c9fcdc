#!/usr/bin/env bash
# ipckit bench in a tiny configuration over every row: the JSON is complete
# and consistent, the CSV regular, the HTML well-formed with one chart per
# section, nothing is left behind, and Ctrl-C ends a run cleanly.
# Figures are never judged: this machine is shared and noisy.
set -u
CLI=${IPK_CLI:?run through ctest}
dir=$(mktemp -d /tmp/ipkt-bench.XXXXXX)
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
finish() {
	rm -rf "$dir"
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}

# What a run with this pid could have left behind: names carry the pid,
# System V keys are 0x6b000000 | (pid & 0x3fff) << 10 | ... A concurrent
# run whose pid is the same modulo 16384 makes the same keys: its objects
# are live (their listener's owner record names a running process), ours
# are not once the run is over, so only keys that are not live count (an
# orphan or an unknown one, which nothing proves in use, is a leak). A key
# made before the run started (SINCE, seconds since the epoch; the kernel
# keeps whole seconds) is another run's leftover, not ours.
leftovers() { # PID SINCE
	local pid=$1 since=$2 kind
	ls /tmp /dev/shm /dev/mqueue 2>/dev/null | grep "^ipkb-$pid-"
	for kind in sysvmq sysvshm; do
		"$CLI" ls --kind $kind --json 2>/dev/null |
			jq -r --argjson p $((pid & 0x3fff)) --argjson t "$since" '.objects[]
			| select(.key != null and (.key / 16777216 | floor) == 107
			         and ((.key / 1024 | floor) % 16384) == $p
			         and .state != "live" and .changed >= $t)
			| "sysv key \(.key) (\(.address) \(.state): \(.why))"'
	done
}

# The check itself, on keys of this shell's pid (job 511, which a run of
# this size never makes): a live listener's queue is another run's, a
# killed listener's and a queue nobody recorded are leaks.
key() { printf '0x%08x' $((0x6b000000 | ($$ & 0x3fff) << 10 | 511 << 1 | $1)); }
live_q=$(key 0) dead_q=$(key 1)
t0=$(($(date +%s) - 1))
"$CLI" recv "sysvmq:$live_q" -n 0 --timeout 60000 >/dev/null 2>&1 &
live_pid=$!
"$CLI" recv "sysvmq:$dead_q" -n 0 --timeout 60000 >/dev/null 2>&1 &
dead_pid=$!
for _ in $(seq 400); do
	n=$(awk -v a=$((live_q)) -v b=$((dead_q)) 'NR > 1 && ($1 == a || $1 == b)' \
		/proc/sysvipc/msg | wc -l)
	[ "$n" -eq 2 ] && break
	sleep 0.05
done
kill -9 $dead_pid
wait $dead_pid 2>/dev/null
left=$(leftovers $$ $t0)
grep -Eq "^sysv key $((live_q))( |$)" <<<"$left" && bad "a live queue taken for a leak: $left" || ok
grep -q "^sysv key $((dead_q)) (sysvmq:$dead_q orphan" <<<"$left" && ok || bad "a killed listener's queue not seen: $left"
kill $live_pid
wait $live_pid 2>/dev/null
"$CLI" rm "sysvmq:$dead_q" >/dev/null || bad "rm sysvmq:$dead_q"
"$CLI" rm "sysvmq:$live_q" >/dev/null 2>&1
# a queue no ipckit listener made (nothing records its owner): unknown
if /usr/bin/python3 -c 'import sys, sysv_ipc; sysv_ipc.MessageQueue(int(sys.argv[1], 16), sysv_ipc.IPC_CREX)' "$live_q"; then
	left=$(leftovers $$ $t0)
	grep -q "^sysv key $((live_q)) (sysvmq:$live_q unknown" <<<"$left" && ok ||
		bad "a queue nobody recorded not seen: $left"
	"$CLI" rm "sysvmq:$live_q" >/dev/null || bad "rm sysvmq:$live_q"
else
	bad "cannot make a System V queue with python3-sysv-ipc"
fi
[ -z "$(leftovers $$ $t0)" ] && ok || bad "the check's own queues left: $(leftovers $$ $t0)"

tiny=(--sizes 64,4K --duration 0.02 --repeat 2 --iterations 300)

# ---------------------------------------------------------------- a run
t0=$(($(date +%s) - 1))
"$CLI" bench "${tiny[@]}" --json="$dir/b.json" --csv="$dir/b.csv" \
	--html "$dir/b.html" >"$dir/table.txt" 2>"$dir/err.txt" &
pid=$!
wait $pid
rc=$?
[ $rc -eq 0 ] && ok || { bad "bench exited $rc"; cat "$dir/err.txt" "$dir/table.txt"; }
grep -q '^LATENCY' "$dir/table.txt" && grep -q '^THROUGHPUT' "$dir/table.txt" &&
	ok || bad "the table lacks its sections"
grep -Eq '^CPU placement: (shared cache|split caches|CHANGED)' "$dir/table.txt" &&
	ok || bad "the table does not say the CPU placement"
[ ! -s "$dir/err.txt" ] || grep -q 'wrote' "$dir/err.txt" && ok ||
	bad "unexpected stderr: $(cat "$dir/err.txt")"
"$CLI" bench --list >"$dir/list.txt" && ok || bad "bench --list"

python3 - "$dir/b.json" "$dir/list.txt" <<'EOF' && ok || bad "JSON checks"
import json, math, sys
doc = json.load(open(sys.argv[1]))
rows = {}
for line in open(sys.argv[2]).read().splitlines()[1:]:
    f = line.split()
    rows[f[0]] = (f[1], "not built" if f[3] == "not" else f[3])
errors = []
def err(msg):
    errors.append(msg)

if doc.get("schema") != "ipckit-bench/1":
    err("schema is %r" % doc.get("schema"))
for key in ("version", "host", "config", "series", "results", "ratios",
            "elapsed_s", "interrupted"):
    if key not in doc:
        err("missing top-level key " + key)
if doc["interrupted"]:
    err("run says it was interrupted")
series = {s["id"]: s for s in doc["series"]}
by_row = {}
for s in doc["series"]:
    by_row.setdefault(s["row"], []).append(s)

# every row is present; built ipckit rows and available rows were measured
for rid, (kind, state) in rows.items():
    if rid not in by_row:
        err("row %s missing from the JSON" % rid)
        continue
    for s in by_row[rid]:
        want = "measured" if state == "ok" else ("not built" if state == "not built" else "unavailable")
        if s["state"] != want:
            err("%s: state %s, expected %s" % (s["id"], s["state"], want))
        if s["state"] != "measured" and not s["reason"]:
            err("%s: not measured and no reason" % s["id"])
        if s["wait"] is not None:
            if s["busy_poll"] != (s["wait"] == "spin"):
                err("%s: busy_poll flag wrong" % s["id"])
            if s["wait"] == "spin" and "busy-poll" not in s["label"]:
                err("%s: spin row not labelled busy-poll" % s["id"])

results = {}
for r in doc["results"]:
    sid = r["series"]
    if sid not in series:
        err("result for unknown series " + sid)
        continue
    results[(sid, r["size"])] = r
    if r["status"] == "failed":
        err("%s %d B failed: %s" % (sid, r["size"], r["reason"]))
    if r["status"] != "ok":
        if not r["reason"]:
            err("%s %d B: %s without a reason" % (sid, r["size"], r["status"]))
        continue
    row = series[sid]
    lat, thr = r["latency"], r["throughput"]
    if (lat is not None) != row["latency"]:
        err("%s %d B: latency %r where the row says %r" % (sid, r["size"], lat, row["latency"]))
    if (thr is not None) != row["throughput"]:
        err("%s %d B: throughput %r where the row says %r" % (sid, r["size"], thr, row["throughput"]))
    if lat:
        for k in ("rtt_p50", "rtt_p99", "rtt_p999", "rtt_max", "one_way_p50"):
            if not (isinstance(lat[k], (int, float)) and lat[k] > 0):
                err("%s %d B: latency %s = %r" % (sid, r["size"], k, lat[k]))
        if not lat["rtt_p99"] <= lat["rtt_p999"] <= lat["rtt_max"]:
            err("%s %d B: percentiles out of order" % (sid, r["size"]))
        if lat["rtt_p50"] > lat["rtt_max"]:
            err("%s %d B: p50 above max" % (sid, r["size"]))
        if not math.isclose(lat["one_way_p50"], lat["rtt_p50"] / 2, rel_tol=1e-4):
            err("%s %d B: one-way is not RTT/2" % (sid, r["size"]))
        if len(lat["runs_p50"]) != doc["config"]["repetitions"] or min(lat["runs_p50"]) <= 0:
            err("%s %d B: runs %r" % (sid, r["size"], lat["runs_p50"]))
        if lat["samples"] <= 0 or lat["spread_pct"] < 0:
            err("%s %d B: samples/spread" % (sid, r["size"]))
    if thr:
        for k in ("msgs_per_s", "mib_per_s", "messages", "seconds"):
            if not (isinstance(thr[k], (int, float)) and thr[k] > 0):
                err("%s %d B: throughput %s = %r" % (sid, r["size"], k, thr[k]))
        if not math.isclose(thr["mib_per_s"], thr["msgs_per_s"] * r["size"] / 2**20, rel_tol=1e-4):
            err("%s %d B: MiB/s does not match msg/s" % (sid, r["size"]))
        # one receiver gets everything sent; a fan-out row's receivers may
        # get less from a mechanism that drops
        if row["receivers"] == 1 and row["family"] != "pubsub":
            if thr["sent"] != thr["messages"]:
                err("%s %d B: sent %r, delivered %r" % (sid, r["size"], thr["sent"], thr["messages"]))
        elif not 0 < thr["messages"] <= thr["sent"]:
            err("%s %d B: sent %r, delivered %r" % (sid, r["size"], thr["sent"], thr["messages"]))

# the cache-line floor at the start and the end, and the placement each
# implies, as the threshold says
pl = doc.get("placement")
if not isinstance(pl, dict):
    err("no placement object")
else:
    thr_ns = pl.get("split_threshold_ns")
    if not (isinstance(thr_ns, (int, float)) and thr_ns > 0):
        err("placement threshold %r" % thr_ns)
    known = []
    for end in ("start", "end"):
        f = pl.get(end)
        if not isinstance(f, dict):
            err("placement.%s missing" % end)
            continue
        ns, place = f.get("cacheline_rtt_ns"), f.get("placement")
        if ns is None:
            if place != "unknown" or not f.get("reason"):
                err("placement.%s: no figure, yet %r / reason %r" % (end, place, f.get("reason")))
        elif not (isinstance(ns, (int, float)) and 5 < ns < 1e6):
            err("placement.%s: cache line round trip %r ns" % (end, ns))
        elif place != ("split" if ns >= thr_ns else "shared-cache"):
            err("placement.%s: %r ns classified %r" % (end, ns, place))
        else:
            known.append(place)
    # two CPUs here: both floors are measured
    if doc["config"]["cpus"][1] >= 0 and len(known) != 2:
        err("placement not measured at both ends: %r" % pl)
    if pl.get("changed") != (len(known) == 2 and known[0] != known[1]):
        err("placement.changed = %r for %r" % (pl.get("changed"), known))

# rows that answer without a system call are timed in batches, the same way
# as the cache line they are compared with; the others one round trip each
for (sid, size), r in results.items():
    lat = r["latency"]
    if not lat:
        continue
    s = series[sid]
    spins = s["busy_poll"] or s["spins_first"]
    if s["wait"] == "hybrid" and not s["spins_first"]:
        err("%s: a hybrid ring spins first" % sid)
    want = 64 if spins and size <= 4096 else 1
    if lat["batch"] != want:
        err("%s %d B: batch %r, expected %r" % (sid, size, lat["batch"], want))

# every measured row has at least one figure
for s in doc["series"]:
    if s["state"] == "measured" and not any(
            r["status"] == "ok" for (sid, _), r in results.items() if sid == s["id"]):
        err("%s: measured but no ok result" % s["id"])

# ratios are exactly the quotient of the figures they name
fig = {"rtt_p50": ("latency", "rtt_p50"), "msgs_per_s": ("throughput", "msgs_per_s")}
seen = set()
for x in doc["ratios"]:
    a = results.get((x["subject"], x["size"]))
    b = results.get((x["reference"], x["reference_size"]))
    if x["reference_size"] != x["size"] and x["reference"] != x["subject"]:
        err("ratio %r compares two sizes of two series" % x)
    if not a or not b or a["status"] != "ok" or b["status"] != "ok":
        err("ratio %r names a missing figure" % x)
        continue
    sec, key = fig[x["figure"]]
    want = a[sec][key] / b[sec][key]
    if not (x["value"] > 0 and math.isclose(x["value"], want, rel_tol=1e-4)):
        err("ratio %s/%s %d B = %r, figures give %r" % (x["subject"], x["reference"], x["size"], x["value"], want))
    seen.add((x["metric"], x["subject"], x["reference"], x["size"]))
    if x["reference_size"] != x["size"]:
        seen.add(("size", x["subject"], x["reference_size"], x["size"]))

# and every ipckit row with a measured baseline has its overhead ratios
# (for each measurement both have: a REQ/REP row has latency only)
for (sid, size), r in results.items():
    s = series[sid]
    if s["kind"] != "ipckit" or not s["baseline"] or r["status"] != "ok":
        continue
    b = results.get((s["baseline"], size))
    if b and b["status"] == "ok":
        for m in ("latency", "throughput"):
            if r.get(m) is None or b.get(m) is None:
                continue
            if (m, sid, s["baseline"], size) not in seen:
                err("no %s ratio %s/%s at %d B" % (m, sid, s["baseline"], size))
# a peer is compared with every series it names that was measured beside it
for s in doc["series"]:
    if s["kind"] != "peer" or s["state"] != "measured":
        continue
    for v in (s["versus"] or "").split():
        both = [z for (sid, z), r in results.items() if sid == v and r["status"] == "ok"
                and (s["id"], z) in results and results[(s["id"], z)]["status"] == "ok"]
        if both and not any(x["reference"] == s["id"] and x["subject"] == v for x in doc["ratios"]):
            err("peer %s has no ratio against %s" % (s["id"], v))
# large-message rows: each larger size against the row's smallest
for (sid, size), r in results.items():
    s = series[sid]
    if s["family"] != "large" or r["status"] != "ok":
        continue
    small = min(z for (q, z), rr in results.items() if q == sid and rr["status"] == "ok")
    if size != small and ("size", sid, small, size) not in seen:
        err("%s: no ratio of %d B against %d B" % (sid, size, small))
# every family measured something, with its own kind of figure
fams = {s["family"] for s in doc["series"]}
for f in ("pair", "reqrep", "pubsub", "large", "ref"):
    if f not in fams:
        err("family %s missing" % f)
for s in doc["series"]:
    if s["family"] == "pubsub" and (s["latency"] or not s["throughput"] or s["receivers"] < 1):
        err("%s: a pub/sub row measures throughput to its receivers" % s["id"])
    if s["family"] == "reqrep" and (not s["latency"] or s["throughput"]):
        err("%s: a req/rep row measures latency" % s["id"])

for e in errors[:40]:
    print("  " + e)
sys.exit(1 if errors else 0)
EOF

python3 - "$dir/b.csv" <<'EOF' && ok || bad "CSV checks"
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
head = rows[0]
assert head[0] == "series" and "rtt_p50_us" in head and "msgs_per_s" in head, head
assert len(rows) > 2
for r in rows[1:]:
    assert len(r) == len(head), r
EOF

python3 - "$dir/b.html" <<'EOF' && ok || bad "HTML checks"
import sys
from html.parser import HTMLParser
VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "wbr", "source"}
class P(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.sections = [], [], []
    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("src", "href") or (v and ("//" in v and k != "xmlns")):
                self.errors.append("external reference %s=%s" % (k, v))
        if tag == "script":
            self.errors.append("script element")
        if tag == "section":
            self.sections.append([dict(attrs).get("id"), 0])
        if tag == "svg" and self.sections and "section" in self.stack:
            self.sections[-1][1] += 1
        if tag not in VOID:
            self.stack.append(tag)
    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append("</%s> closes <%s>" % (tag, self.stack[-1] if self.stack else "nothing"))
            return
        self.stack.pop()
p = P()
text = open(sys.argv[1]).read()
p.feed(text)
p.close()
assert text.startswith("<!DOCTYPE html>"), "no doctype"
assert not p.stack, "unclosed: %r" % p.stack
assert not p.errors, p.errors[:5]
assert 'id="placement">CPU placement: ' in text, "no placement in the HTML"
assert ("CHANGED" in text) == ('class="warn"' in text), "placement warning"
ids = [s[0] for s in p.sections]
assert ids == ["latency", "throughput", "ratios"], ids
for sid, charts in p.sections:
    assert charts == 1, "section %s has %d charts" % (sid, charts)
EOF

left=$(leftovers $pid $t0)
[ -z "$left" ] && ok || bad "objects left behind: $left"

# ------------------------------------------------ selection and stdout
"$CLI" bench "${tiny[@]}" --transports pipe --no-peers --json >"$dir/p.json" 2>/dev/null
python3 - "$dir/p.json" <<'EOF' && ok || bad "--transports pipe --json to stdout"
import json, sys
doc = json.load(open(sys.argv[1]))
rows = {s["row"] for s in doc["series"]}
assert rows == {"pipe", "raw-pipe", "ref-cacheline", "ref-handover", "ref-memcpy"}, rows
EOF

# --------------------------------------------------------- usage errors
for args in "--sizes 0" "--sizes 64,x" "--transports nonsense" "--repeat 0" \
	"--duration -1" "--json --csv" "--bogus" "extra"; do
	# shellcheck disable=SC2086
	"$CLI" bench $args >/dev/null 2>"$dir/u.txt"
	rc=$?
	[ $rc -eq 2 ] && [ "$(wc -l <"$dir/u.txt")" -eq 1 ] && ok ||
		bad "bench $args: exit $rc, stderr: $(cat "$dir/u.txt")"
done

# ---------------------------------------------------------------- Ctrl-C
# A longer run in its own process group, interrupted the way a terminal
# does it (SIGINT to the whole group): it stops, removes what it made and
# leaves no process behind.
t0=$(($(date +%s) - 1))
setsid "$CLI" bench --sizes 64,4K --duration 2 --transports fifo,unix \
	>"$dir/int.txt" 2>&1 &
pgid=$!
sleep 1.5
kill -INT -- -"$pgid" 2>/dev/null
wait "$pgid"
rc=$?
[ $rc -eq 130 ] && ok || bad "interrupted bench exited $rc, not 130"
grep -q 'INTERRUPTED' "$dir/int.txt" && ok || bad "no partial report after Ctrl-C"
for _ in $(seq 50); do
	pgrep -g "$pgid" >/dev/null || break
	sleep 0.1
done
pgrep -g "$pgid" >/dev/null && bad "processes left after Ctrl-C: $(pgrep -g "$pgid")" || ok
left=$(leftovers $pgid $t0)
[ -z "$left" ] && ok || bad "objects left after Ctrl-C: $left"

finish

#!/usr/bin/env bash
# The inventory's judgement of pub/sub broadcast rings (shm: with
# ?proto=pub|sub): by the publisher and subscriber records they keep (pid
# and start time), as plain rings are judged by their slots, so a ring
# whose processes were all killed is an orphan gc removes even where some
# processes cannot be inspected.
#
# Everything runs in private IPC, mount and pid namespaces with private
# tmpfs on /dev/shm and /tmp. The viewer is an unprivileged uid, which
# may not inspect root's processes (this namespace's pid 1): the records
# must decide, not the mappings.
. "$(dirname "$0")/inventory_util.sh"
needs_root test_inventory_bcast "namespaces, another uid"

inner() {
	local uid=$1
	mount -t tmpfs tmpfs /dev/shm && mount -t tmpfs tmpfs /tmp || {
		bad "tmpfs mounts"; return; }
	chmod 1777 /dev/shm /tmp
	trap kill_all EXIT
	# an array, not a function: "${U[@]}" cmd & is that command's pid
	local -a U=(setpriv --reuid="$uid" --regid="$uid" --clear-groups)
	as_user() { "${U[@]}" "$@"; }
	# state persist of ADDRESS in the user's listing
	seen() { as_user "$CLI" ls --kind shm --json |
		jq -r ".objects[] | select(.address == \"$1\") | \"\(.state) \(.persist)\""; }

	# a publisher (a line every 0.1 s) and 2 subscribers of NAME, run by the
	# user; PUB, SUB1, SUB2 get their pids once both subscribers got a line
	start() { # NAME QUERY
		local url="shm:/$1?size=64K$2"
		"${U[@]}" "$CLI" sub "$url" -n 0 --timeout 60000 >/tmp/$1.s1 2>&1 &
		SUB1=$!
		"${U[@]}" "$CLI" sub "$url" -n 0 --timeout 60000 >/tmp/$1.s2 2>&1 &
		SUB2=$!
		"${U[@]}" "$CLI" pub "$url" < <(while :; do echo tick; sleep 0.1; done) \
			>/tmp/$1.p 2>&1 &
		PUB=$!
		pids+=($SUB1 $SUB2 $PUB)
		for _ in $(seq 600); do
			grep -q tick /tmp/$1.s1 && grep -q tick /tmp/$1.s2 && return 0
			sleep 0.05
		done
		bad "$1: the subscribers got nothing: $(cat /tmp/$1.*)"
		return 1
	}

	as_user "$CLI" ls 2>&1 | grep -q "^note: .*could not be inspected" && ok ||
		bad "the user can inspect every process: this test would prove nothing"

	# publisher and subscribers killed -9: an orphan, removed by gc
	start bc "" || return
	check "running: live" "live false" "$(seen shm:/bc)"
	kill -9 $PUB $SUB1 $SUB2
	wait $PUB $SUB1 $SUB2 2>/dev/null
	check "all killed: an orphan, not kept" "orphan false" "$(seen shm:/bc)"
	out=$(as_user "$CLI" ls --kind shm 2>&1)
	grep -q "^shm .*shm:/bc .*orphan .*its publisher and subscribers recorded in it are gone" \
		<<<"$out" && ok || bad "ls table: $out"
	out=$(as_user "$CLI" gc --dry-run --kind shm 2>&1)
	grep -q "^would remove shm shm:/bc: " <<<"$out" && ok || bad "gc --dry-run: $out"
	out=$(as_user "$CLI" gc --kind shm 2>&1)
	grep -q "^removed shm shm:/bc: " <<<"$out" && ok || bad "gc: $out"
	[ -e /dev/shm/bc ] && bad "gc left /dev/shm/bc" || ok

	# the subscribers killed, the publisher alive: live by its record
	start bl "" || return
	local pub=$PUB
	kill -9 $SUB1 $SUB2
	wait $SUB1 $SUB2 2>/dev/null
	check "publisher alive: live" "live false" "$(seen shm:/bl)"
	check "its why names the publisher" "publisher pid $pub is alive" \
		"$(as_user "$CLI" ls --kind shm --json |
			jq -r '.objects[] | select(.address == "shm:/bl") | .why')"
	out=$(as_user "$CLI" gc --dry-run --kind shm 2>&1)
	grep -q "shm:/bl" <<<"$out" && bad "gc plans to remove a live ring: $out" || ok
	kill -9 $pub
	wait $pub 2>/dev/null
	check "then the publisher killed: an orphan" "orphan false" "$(seen shm:/bl)"

	# ?persist: an orphan gc keeps
	start bp "&persist" || return
	kill -9 $PUB $SUB1 $SUB2
	wait $PUB $SUB1 $SUB2 2>/dev/null
	check "?persist, all killed: an orphan, kept" "orphan true" "$(seen shm:/bp)"
	out=$(as_user "$CLI" gc --kind shm 2>&1)
	grep -q "shm:/bp" <<<"$out" && grep -q "^removed .*shm:/bp" <<<"$out" &&
		bad "gc removed a ?persist ring: $out" || ok
	[ -e /dev/shm/bp ] && ok || bad "the ?persist ring is gone"

	# the publisher word is pid and start time (low 32 bits), at offset 256
	# of the header (src/shm/bcast.h): naming this namespace's pid 1 (root's
	# shell, which the user may not inspect) with its start time, the ring
	# is live by that record alone; with another start time the pid is
	# another process's, and the ring an orphan
	pubword() { # PID START_DELTA
		/usr/bin/python3 - "$1" "$2" <<'PY'
import struct, sys
pid, delta = int(sys.argv[1]), int(sys.argv[2])
stat = open("/proc/%d/stat" % pid).read()
start = int(stat[stat.rindex(")") + 2:].split()[19]) + delta
with open("/dev/shm/bp", "r+b") as f:
    f.seek(256)
    f.write(struct.pack("<Q", pid | (start & 0xffffffff) << 32))
PY
	}
	pubword 1 0 || bad "write the publisher word"
	check "a record of a live process: live" "live true" "$(seen shm:/bp)"
	check "its why names it" "publisher pid 1 is alive" \
		"$(as_user "$CLI" ls --kind shm --json |
			jq -r '.objects[] | select(.address == "shm:/bp") | .why')"
	pubword 1 1 || bad "write the publisher word"
	check "the pid with another start time: an orphan" "orphan true" "$(seen shm:/bp)"

	kill_all
}

case "${1:-}" in
inner) inner "$2"; counts; exit ;;
esac

# a uid with no account: nothing to create or remove
uid=$((40000 + $$ % 20000))
out=$(unshare --ipc --mount --pid --fork --mount-proc bash "$0" inner "$uid" 2>&1)
ns_result "$out"
counts

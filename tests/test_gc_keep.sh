#!/usr/bin/env bash
# What gc must keep:
#  - semaphores made by a one-shot command (ipckit sem create): nobody uses
#    them between uses, but their value is their state; only rm removes them
#  - a live listener's FIFO on a file system shared with a pid namespace
#    that cannot see the listener: its record's pid cannot be judged there
#
# Every gc and rm runs in private IPC and mount namespaces with private
# tmpfs on /dev/shm and /tmp: nothing of anyone else is ever looked at.
. "$(dirname "$0")/inventory_util.sh"
needs_root test_gc_keep namespaces

private_fs() {
	mount -t tmpfs tmpfs /dev/shm && mount -t tmpfs tmpfs /tmp
}

# H4: inside private pid namespace too, so every process can be inspected
inner_sem() {
	private_fs || { bad "tmpfs"; return; }
	local sv=sysvsem:0x7e5ec001 px=sem:/gc-keep
	"$CLI" sem create $sv --value 3 >/dev/null || bad "sem create $sv"
	"$CLI" sem create $px --value 3 >/dev/null || bad "sem create $px"
	out=$("$CLI" gc 2>&1) || bad "gc failed: $out"
	echo "$out"
	for u in $sv $px; do
		grep -q "^kept [a-z]* $u: a semaphore's value is its state" <<<"$out" &&
			ok || bad "gc does not say it keeps $u"
		check "$u keeps its value through gc" 3 "$("$CLI" sem get $u 2>&1)"
	done
	# and --dry-run plans no removal either
	out=$("$CLI" gc --dry-run 2>&1)
	grep -q "^would remove " <<<"$out" && bad "gc --dry-run plans: $out" || ok
	# ls still calls them orphans (nobody uses them now), kept
	"$CLI" ls --json >/tmp/ls.json
	check "ls: orphans, persist unknown (not ?persist)" "orphan null
orphan null" "$(jq -r '.objects[] | select(.kind == "sem" or .kind == "sysvsem") | "\(.state) \(.persist)"' /tmp/ls.json)"
	# rm removes them
	"$CLI" rm $sv $px && ok || bad "rm of the semaphores"
	check "rm removed them" "" "$(ls /dev/shm | grep '^sem\.'; awk 'NR > 1' /proc/sysvipc/sem)"
}

# H5: a live listener in this (the machine's) pid namespace; gc from a
# child pid namespace that shares /tmp and /dev/shm cannot see it
inner_ns() {
	private_fs || { bad "tmpfs"; return; }
	mkdir /tmp/h5
	"$CLI" recv fifo:/tmp/h5/f >/tmp/h5/out 2>&1 &
	local lis=$!
	for _ in $(seq 400); do
		[ -p /tmp/h5/f ] && ls -a /dev/shm | grep -q '^\.ipk-owner\..*\.fifo\.' && break
		sleep 0.05
	done
	[ -p /tmp/h5/f ] && ok || bad "the listener made no FIFO"
	check "its FIFO is live here" live \
		"$("$CLI" ls --kind fifo --json | jq -r '.objects[] | select(.address == "fifo:/tmp/h5/f") | .state')"
	child() { unshare --pid --fork --mount-proc "$@"; }
	check "from a child pid namespace: unknown, its pid not judged" \
		"unknown $lis null" \
		"$(child "$CLI" ls --kind fifo --json | jq -r '.objects[] | select(.address == "fifo:/tmp/h5/f") | "\(.state) \(.creator.pid) \(.creator.alive)"')"
	out=$(child "$CLI" gc --kind fifo 2>&1) || bad "gc in the child: $out"
	echo "$out"
	[ -p /tmp/h5/f ] && ok || bad "gc in a child pid namespace removed a live listener's FIFO"
	grep -q "^note: this pid namespace .* is not the machine's" <<<"$out" && ok ||
		bad "gc in a child pid namespace does not say its view is partial: $out"
	"$CLI" send --timeout 5000 fifo:/tmp/h5/f still-here >/dev/null 2>&1 && ok ||
		bad "the listener's FIFO no longer takes a message"
	# a listener of the child's own namespace that died is still judged:
	# its FIFO is an orphan there and gc removes it
	out=$(child bash -c '
		"$1" recv fifo:/tmp/h5/g >/dev/null 2>&1 &
		p=$!
		for _ in $(seq 400); do [ -p /tmp/h5/g ] && [ $(ls -a /dev/shm | grep -c "^\.ipk-owner\..*\.fifo\.") -ge 2 ] && break; sleep 0.05; done
		kill -9 $p; wait $p 2>/dev/null
		"$1" gc --kind fifo' _ "$CLI" 2>&1)
	grep -q "^removed fifo fifo:/tmp/h5/g: its listener, pid [0-9]*, is gone" <<<"$out" && ok ||
		bad "a dead listener of the child's namespace: $out"
	[ -e /tmp/h5/g ] && bad "its FIFO is still there" || ok
	kill $lis 2>/dev/null
	wait $lis 2>/dev/null
}

case "${1:-}" in
inner_sem) inner_sem; counts; exit ;;
inner_ns) inner_ns; counts; exit ;;
esac

ns_result "$(unshare --ipc --mount --net --pid --fork --mount-proc bash "$0" inner_sem 2>&1)"
ns_result "$(unshare --ipc --mount --net --fork bash "$0" inner_ns 2>&1)"
counts

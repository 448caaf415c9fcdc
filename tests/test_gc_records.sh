#!/usr/bin/env bash
# Owner records (src/core/owner.h, owner_file.h) whose object was removed
# behind ipckit's back: a listener killed -9, then its FIFO, socket file
# or queue removed with rm(1), ipcrm or another program. Such a record is
# listed as kind "record" (orphan once its object is provably gone and its
# listener dead) and gc removes it; a record whose object is there, whose
# listener runs, or whose object cannot be judged stays.
#
# Everything runs in private IPC and mount namespaces with private tmpfs on
# /dev/shm and /tmp, so the sets asserted are exactly ours.
. "$(dirname "$0")/inventory_util.sh"
needs_root test_gc_records namespaces

records() { ls -A /dev/shm | grep '^\.ipk-owner\.' | sort; }
nrec() { records | grep -c "\.$1\." ; }
# wait until COMMAND succeeds (10 s)
until_ok() {
	for _ in $(seq 200); do "$@" && return 0; sleep 0.05; done
	return 1
}
# the record rows of ls --json: "state type why"
rows() {
	"$CLI" ls --kind record --json | jq -r '.objects[] | "\(.state) \(.type) \(.why)"'
}
# start a listener on $1 in the background (pid in $lis) and wait for its
# record of kind $2 (the $3-th)
listen() {
	"$CLI" recv --timeout -1 "$1" >/dev/null 2>&1 &
	lis=$!
	pids+=("$lis")
	has_rec() { [ "$(nrec "$1")" -ge "$2" ]; }
	until_ok has_rec "$2" "${3:-1}" || bad "no $2 record for $1"
}
kill9() { kill -9 "$1"; wait "$1" 2>/dev/null; }

inner() {
	mount -t tmpfs tmpfs /dev/shm && mount -t tmpfs tmpfs /tmp || {
		bad "tmpfs"
		return
	}
	mkdir /tmp/d

	# --- a FIFO removed with rm after its listener died
	listen fifo:/tmp/d/f fifo
	check "a live listener's record is not listed" "" "$(rows)"
	kill9 "$lis"
	check "its FIFO is still there: the record is not listed" "" "$(rows)"
	rm /tmp/d/f
	check "FIFO gone, listener dead: an orphan record" \
		"orphan fifo /tmp/d/f is gone and its listener, pid $lis, is gone" "$(rows)"
	out=$("$CLI" ls 2>&1)
	grep -q "^record  *fifo  *record:/dev/shm/\.ipk-owner\..* orphan .*owner record of FIFO /tmp/d/f" <<<"$out" &&
		ok || bad "ls does not show the stale record: $out"
	out=$("$CLI" gc 2>&1) || bad "gc failed: $out"
	grep -q "^removed record record:/dev/shm/\.ipk-owner\..*fifo.*: /tmp/d/f is gone" <<<"$out" &&
		ok || bad "gc does not remove the record: $out"
	check "no record left" "" "$(records)"

	# --- a new FIFO at the same path is another inode: the old record is
	# stale, the new FIFO (held open by a live process) stays
	listen fifo:/tmp/d/f fifo
	kill9 "$lis"
	rm /tmp/d/f
	mkfifo /tmp/d/f
	sleep 1000 3<>/tmp/d/f &
	local holder=$!
	pids+=("$holder")
	check "a new FIFO at the recorded path: the record is stale" \
		"orphan fifo /tmp/d/f is gone (another file has its name now) and its listener, pid $lis, is gone" \
		"$(rows)"
	out=$("$CLI" gc 2>&1) || bad "gc failed: $out"
	check "gc removed the record" "" "$(records)"
	[ -p /tmp/d/f ] && ok || bad "gc removed the new FIFO: $out"
	kill9 "$holder"
	rm -f /tmp/d/f

	# --- the listener runs, its FIFO was removed under it: live, kept; it
	# drops the record itself when it closes
	listen fifo:/tmp/d/g fifo
	rm /tmp/d/g
	check "FIFO gone, listener alive: a live record" \
		"live fifo /tmp/d/g is gone; its listener, pid $lis, is alive" "$(rows)"
	out=$("$CLI" gc 2>&1) || bad "gc failed: $out"
	check "gc keeps a live listener's record" 1 "$(nrec fifo)"
	kill -TERM "$lis"
	wait "$lis" 2>/dev/null
	check "the listener dropped it when it closed" "" "$(records)"

	# --- ?persist: the listener closed (pid 0); the kept FIFO was then
	# removed with rm: nothing is kept any more
	"$CLI" recv --timeout 100 'fifo:/tmp/d/p?persist' >/dev/null 2>&1
	check "?persist leaves the FIFO and its record" "1 yes" \
		"$(nrec fifo) $([ -p /tmp/d/p ] && echo yes)"
	check "its record is not listed while the FIFO is there" "" "$(rows)"
	rm /tmp/d/p
	check "the kept FIFO removed with rm: an orphan record" \
		"orphan fifo /tmp/d/p is gone; its listener had closed it" "$(rows)"
	"$CLI" gc >/dev/null 2>&1
	check "gc removed it" "" "$(records)"

	# --- a socket file kept with ?persist, removed with rm
	listen 'unix:/tmp/d/s?persist' sock
	kill9 "$lis"
	rm /tmp/d/s
	check "socket file gone: an orphan record" \
		"orphan sock /tmp/d/s is gone and its listener, pid $lis, is gone" "$(rows)"
	"$CLI" gc >/dev/null 2>&1
	check "gc removed it" "" "$(records)"

	# --- a POSIX queue removed by another program (rm in an mqueue mount
	# of our own; ls and gc use their private one)
	listen mq:/gcrec mq
	kill9 "$lis"
	check "the queue is there: its record is not listed" "" "$(rows)"
	mkdir /tmp/mqfs && mount -t mqueue none /tmp/mqfs &&
		rm /tmp/mqfs/gcrec && umount /tmp/mqfs || bad "rm of the queue"
	check "queue gone: an orphan record" \
		"orphan mq its queue is gone and its listener, pid $lis, is gone" "$(rows)"
	"$CLI" gc >/dev/null 2>&1
	check "gc removed it" "" "$(records)"

	# --- a System V queue removed with ipcrm
	local key=0x7e5ec0a1
	listen "sysvmq:$key" sysvmq
	kill9 "$lis"
	ipcrm -Q "$key" || bad "ipcrm"
	check "System V queue gone: an orphan record" \
		"orphan sysvmq its queue is gone and its listener, pid $lis, is gone" "$(rows)"
	"$CLI" gc >/dev/null 2>&1
	check "gc removed it" "" "$(records)"

	# --- recorded in another mount namespace: its path cannot be judged
	# here, so the record is unknown and stays
	unshare --mount bash -c '
		"$1" recv --timeout -1 fifo:/tmp/d/m >/dev/null 2>&1 &
		p=$!
		for _ in $(seq 200); do ls -A /dev/shm | grep -q fifo && break; sleep 0.05; done
		kill -9 $p; wait $p 2>/dev/null; rm /tmp/d/m' _ "$CLI"
	out=$(rows)
	grep -q "^unknown fifo cannot tell whether its object is gone: its file /tmp/d/m was recorded in another mount namespace$" <<<"$out" &&
		ok || bad "another mount namespace's record: $out"
	"$CLI" gc >/dev/null 2>&1
	check "gc keeps it" 1 "$(nrec fifo)"
	local addr
	addr=$("$CLI" ls --kind record --json | jq -r '.objects[0].address')
	out=$("$CLI" rm "$addr" 2>&1) && bad "rm removed an unknown record without --force"
	grep -q "is unknown: cannot tell whether its object is gone: .*; not removing it (force to remove anyway)" <<<"$out" &&
		ok || bad "rm of an unknown record says: $out"
	"$CLI" rm --force "$addr" || bad "rm --force $addr"
	check "rm --force removed it" "" "$(records)"

	# --- rm record: refuses what is not a stale record
	listen fifo:/tmp/d/h fifo
	# (a file name's % is %25 in an address)
	local name
	name=$(records | head -1)
	out=$("$CLI" rm "record:/dev/shm/${name//%/%25}" 2>&1) && bad "rm removed a live FIFO's record"
	grep -q "owner record of an object that is there" <<<"$out" && ok || bad "rm says: $out"
	out=$("$CLI" rm record:/dev/shm/x 2>&1) && bad "rm record:/dev/shm/x succeeded"
	grep -q "names an owner record" <<<"$out" && ok || bad "rm record:/dev/shm/x says: $out"
	kill -TERM "$lis"
	wait "$lis" 2>/dev/null
	check "nothing left" "" "$(records; ls -A /tmp/d)"
	kill_all
}

case "${1:-}" in
inner) inner; counts; exit ;;
esac

ns_result "$(unshare --ipc --mount --fork bash "$0" inner 2>&1)"
counts

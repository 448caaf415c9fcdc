#!/usr/bin/env bash
# What ls and gc must never disturb or destroy, whatever the scan could see:
#  - a FIFO in /dev/shm: ls does not open it (a writer waiting in open()
#    for a reader would be let through, then fail once ls closes);
#  - a FIFO a live process reads that the scan cannot see (a process of
#    another pid namespace): gc asks the FIFO itself (a write-only open
#    succeeds only when a reader is there) and leaves it;
#  - a socket file a live client bound before connecting (not listening:
#    connecting to it is refused, yet its socket lives);
#  - another user's leftovers: a user's gc leaves them to their owner or
#    root, even in a directory without the sticky bit that would let it.
#
# Everything runs in private IPC and mount namespaces with private tmpfs on
# /dev/shm and /tmp.
. "$(dirname "$0")/inventory_util.sh"
needs_root test_gc_guard "namespaces, setpriv"

until_ok() {
	for _ in $(seq 200); do "$@" && return 0; sleep 0.05; done
	return 1
}
has_fifo_record() { ls -A /dev/shm | grep -q '^\.ipk-owner\..*\.fifo\.'; }

inner() {
	mount -t tmpfs tmpfs /dev/shm && mount -t tmpfs tmpfs /tmp || {
		bad "tmpfs"
		return
	}

	# --- ls does not open a FIFO in /dev/shm
	mkfifo -m 0666 /dev/shm/gc-guard-pipe
	bash -c 'exec 3>/dev/shm/gc-guard-pipe; echo opened >/tmp/opened; exec sleep 1000' &
	local writer=$!
	pids+=("$writer")
	# the writer waits in open() for a reader
	waits_in_open() {
		[ "$(awk '{print $1}' "/proc/$1/syscall" 2>/dev/null)" = 257 ] # openat
	}
	until_ok waits_in_open "$writer" || bad "the writer does not wait in open()"
	"$CLI" ls >/dev/null 2>&1 || bad "ls failed"
	"$CLI" gc --dry-run >/dev/null 2>&1 || bad "gc --dry-run failed"
	# a writer let through writes its mark at once; give it a second
	for _ in $(seq 20); do [ -e /tmp/opened ] && break; sleep 0.05; done
	[ -e /tmp/opened ] && bad "ls opened the FIFO in /dev/shm: the waiting writer went on" || ok
	kill_all
	rm -f /dev/shm/gc-guard-pipe /tmp/opened

	# --- a reader the scan cannot see: a process of this pid namespace,
	# gc from a child pid namespace (a container sharing /tmp)
	mkdir /tmp/d
	mkfifo /tmp/d/plain
	sleep 1000 3<>/tmp/d/plain &
	pids+=("$!")
	local reader=$!
	holds() { [ "$(readlink "/proc/$reader/fd/3" 2>/dev/null)" = /tmp/d/plain ]; }
	until_ok holds || bad "the reader does not hold the FIFO"
	child() { unshare --pid --fork --mount-proc "$@"; }
	out=$(child "$CLI" gc --kind fifo 2>&1)
	[ -p /tmp/d/plain ] && ok || bad "gc from a child pid namespace removed /tmp/d/plain, which a live process reads"
	grep -q "/tmp/d/plain.*open for reading" <<<"$out" && ok ||
		bad "gc does not say why it keeps /tmp/d/plain: $out"
	kill_all
	# nobody reads it now: gc removes it
	out=$(child "$CLI" gc --kind fifo 2>&1) || bad "gc: $out"
	check "gc removes it once nobody reads it" "" "$(ls -A /tmp/d)"

	# --- a socket file a live client bound before connecting: it is not
	# listening (connecting to it is refused), but its socket is alive
	python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1]); s.listen(1); c, _ = s.accept(); time.sleep(1000)' /tmp/d/srv &
	pids+=("$!")
	until_ok test -S /tmp/d/srv || bad "no server socket"
	python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1]); s.connect(sys.argv[2]); time.sleep(1000)' /tmp/d/cli /tmp/d/srv &
	pids+=("$!")
	connected() { grep -q " 03 [0-9]* /tmp/d/cli$" /proc/net/unix; }
	until_ok connected || bad "the client did not connect"
	out=$("$CLI" gc --kind unix 2>&1) || bad "gc: $out"
	[ -S /tmp/d/cli ] && ok || bad "gc removed a live client's bound socket file: $out"
	check "ls: the client's file is live, connected" "live connected" \
		"$("$CLI" ls --kind unix --json | jq -r '.objects[] | select(.address == "unix:/tmp/d/cli") | "\(.state) \(.type)"')"
	kill_all
	rm -f /tmp/d/cli /tmp/d/srv

	# --- another user's leftovers, in a directory anyone may write to
	# (no sticky bit): root's FIFO whose listener died
	mkdir -m 0777 /tmp/w
	"$CLI" recv --timeout -1 fifo:/tmp/w/f >/dev/null 2>&1 &
	lis=$!
	until_ok has_fifo_record || bad "no record of the listener"
	kill -9 "$lis"
	wait "$lis" 2>/dev/null
	as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
	check "nobody sees it as an orphan" orphan \
		"$(as_nobody "$CLI" ls --kind fifo --json --path /tmp/w | jq -r '.objects[] | select(.address == "fifo:/tmp/w/f") | .state')"
	out=$(as_nobody "$CLI" gc --kind fifo --path /tmp/w 2>&1) || bad "gc as nobody: $out"
	[ -p /tmp/w/f ] && ok || bad "nobody's gc removed root's FIFO: $out"
	grep -q "^kept fifo fifo:/tmp/w/f: it belongs to uid 0" <<<"$out" && ok ||
		bad "nobody's gc does not say why it keeps root's FIFO: $out"
	# root's gc removes it, and its record
	"$CLI" gc >/dev/null 2>&1
	check "root's gc removes it and its record" "" "$(ls -A /tmp/w; ls -A /dev/shm)"

	# --- rm by a user who cannot read a live ring: it says it cannot tell,
	# not that the ring is a plain region to remove with ?region
	"$CLI" recv --timeout -1 shm:/gc-guard-ring >/dev/null 2>&1 &
	pids+=($!)
	"$CLI" recv --timeout -1 sysvshm:0x6c6b0001 >/dev/null 2>&1 &
	pids+=($!)
	"$CLI" recv --timeout -1 mmap:/tmp/w/ring >/dev/null 2>&1 &
	pids+=($!)
	has_rings() {
		[ -s /dev/shm/gc-guard-ring ] && [ -s /tmp/w/ring ] &&
			ipcs -m | grep -q 0x6c6b0001
	}
	until_ok has_rings || bad "the three rings did not appear"
	for a in shm:/gc-guard-ring sysvshm:0x6c6b0001 mmap:/tmp/w/ring; do
		out=$(as_nobody "$CLI" rm "$a" 2>&1)
		st=$?
		check "nobody's rm $a fails" 1 "$st"
		case "$out" in
		*"no permission to read"*"not removing it"*) ok ;;
		*) bad "nobody's rm $a: $out" ;;
		esac
		case "$out" in *region*) bad "rm $a points to ?region: $out" ;; esac
	done
	has_rings && ok || bad "a ring went under nobody's rm"
	kill_all
}

case "${1:-}" in
inner) inner; counts; exit ;;
esac

ns_result "$(unshare --ipc --mount --fork bash "$0" inner 2>&1)"
counts

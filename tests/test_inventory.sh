#!/usr/bin/env bash
# The inventory (ipckit ls / gc / rm) on one object of every kind.
#
# Everything that asserts an exact set, and every gc that removes, runs in
# private IPC, mount, network and pid namespaces with private tmpfs on
# /dev/shm and /tmp: other tests' objects never appear in these sets and
# are never touched. Only 'ls' and 'rm' of this test's own objects run in
# the machine's namespaces.
. "$(dirname "$0")/inventory_util.sh"
HOLDER=${IPK_HOLDER:?run through ctest}
SRC=${IPK_SOURCE:?run through ctest}
needs_root test_inventory "namespaces, a throwaway user"

# POSIX queue bytes are charged to the user across IPC namespaces
# (RLIMIT_MSGQUEUE, 800 KiB by default): queues that other programs of
# root keep elsewhere on the machine must not make this test's listeners
# fail with EMFILE. Root may raise its own limit.
ulimit -q unlimited 2>/dev/null || true

# ------------------------------------------------------------ helpers

# start a holder of URL; its pid in HELD; waits for it to say ready
hold() { # [--open] URL
	local out
	exec {fd}< <(exec "$HOLDER" "$@")
	HELD=$!
	pids+=("$HELD")
	if ! read -r -t 20 out <&"$fd" || [ "$out" != ready ]; then
		bad "holder of $* did not start (got '$out')"
		return 1
	fi
	exec {fd}<&-
}

# the addresses of a JSON listing, sorted
addresses() { jq -r '.objects[].address' | sort; }
# the addresses on lines "WORD kind address: ..." of gc output
gc_addresses() { awk -v w="$1" '$0 ~ "^"w" " { n = split(w, a, " "); a2 = $(n + 2); sub(/:$/, "", a2); print a2 }' | sort; }

# ---------------------------------------------- inside the namespaces

inner() {
	mount -t tmpfs tmpfs /dev/shm || { bad "tmpfs on /dev/shm"; return; }
	mount -t tmpfs tmpfs /tmp || { bad "tmpfs on /tmp"; return; }
	W=/tmp/w
	mkdir -p $W
	trap kill_all EXIT

	# one object of every kind whose holder dies, one whose holder lives
	local -a dead=() live=() dead_urls=() live_urls=()
	for s in d l; do
		local k; [ $s = d ] && k=1 || k=2
		local -a urls=(
			"sysvmq:0x7e57000$k"
			"sysvshm:0x7e57001$k?size=64K"
			"sysvsem:0x7e57002$k"
			"shm:/inv-$s"
			"sem:/inv-$s"
			"mq:/inv-$s"
			"mutex:/inv-$s"
			"cond:/inv-$s"
			"rwlock:/inv-$s"
			"fifo:$W/$s.fifo"
			"unix:$W/$s.sock"
			"unixgram:$W/$s.dg"
			"mmap:$W/$s.ring?size=64K"
		)
		for u in "${urls[@]}"; do
			hold "$u" || return
			if [ $s = d ]; then dead+=("$HELD"); dead_urls+=("$u");
			else live+=("$HELD"); live_urls+=("$u"); fi
		done
	done
	# queues, FIFOs, socket files and rings made with ?persist whose
	# listener dies: orphans gc keeps
	local -a kept=("sysvmq:0x7e570003" "mq:/inv-p" "fifo:$W/p.fifo"
		"unix:$W/p.sock" "mmap:$W/p.ring")
	for u in "sysvmq:0x7e570003?persist" "mq:/inv-p?persist" \
		"fifo:$W/p.fifo?persist" "unix:$W/p.sock?persist" \
		"mmap:$W/p.ring?persist&size=64K"; do
		hold "$u" || return
		dead+=("$HELD")
	done
	# what ls names them: no options, a dead datagram socket's type is
	# not known any more (nothing is bound to tell it)
	bare() { sed -e 's/?.*//'; }
	exp_all=$(printf '%s\n' "${dead_urls[@]}" "${live_urls[@]}" "${kept[@]}" | bare | sort)
	exp_dead=$(printf '%s\n' "${dead_urls[@]}" | bare |
		sed -e 's#^unixgram:\(.*/d\.dg\)$#unix:\1#' | sort)
	exp_live=$(printf '%s\n' "${live_urls[@]}" | bare | sort)

	"$CLI" ls --path $W --json >$W/before.json || bad "ls --json"
	check "every object is listed" "$exp_all" "$(addresses <$W/before.json)"
	check "every object with a live holder is live" "$exp_all" \
		"$(jq -r '.objects[] | select(.state == "live") | .address' $W/before.json | sort)"

	check "--kind picks one kind" "fifo:$W/d.fifo fifo:$W/l.fifo fifo:$W/p.fifo" \
		"$("$CLI" ls --kind fifo --json | addresses | tr '\n' ' ' | sed 's/ $//')"
	check "--user root: all of them" "$exp_all" "$("$CLI" ls --path $W --user root --json | addresses)"
	check "--user nobody: none of them" "" "$("$CLI" ls --path $W --user nobody --json | addresses)"

	for p in "${dead[@]}"; do kill -9 "$p"; done
	for p in "${dead[@]}"; do wait "$p" 2>/dev/null; done

	echo "--- ipckit ls after kill -9 of one holder of each kind:"
	"$CLI" ls --path $W | tee $W/table.txt
	"$CLI" ls --path $W --json >$W/after.json || bad "ls --json after kill"
	"$CLI" ls --path $W --orphans --json >$W/orphans.json

	# semaphores hold their value: gc keeps them (rm removes them)
	local -a sems=("sysvsem:0x7e570021" "sem:/inv-d")
	exp_orphans=$(grep -vxF -e "${sems[0]}" -e "${sems[1]}" <<<"$exp_dead")
	check "ls --orphans lists exactly the objects whose holder died" \
		"$(printf '%s\n' "$exp_dead" "${kept[@]}" | sort)" \
		"$(addresses <$W/orphans.json)"
	check "every live object stays live" \
		"$exp_live" \
		"$(jq -r '.objects[] | select(.state == "live") | .address' $W/after.json | sort)"
	# the schema documented in docs/cli.md holds for both listings
	for f in before after orphans; do
		$PY "$SRC/tests/inventory_schema.py" "$SRC/docs/cli.md" objects $W/$f.json \
			&& ok || bad "ls --json ($f) does not follow the documented schema"
	done

	"$CLI" gc --dry-run --path $W >$W/dry.txt || bad "gc --dry-run failed"
	check "gc --dry-run plans exactly the orphans" \
		"$exp_orphans" "$(gc_addresses "would remove" <$W/dry.txt)"
	check "gc --dry-run removes nothing" "$(addresses <$W/after.json)" \
		"$("$CLI" ls --path $W --json | addresses)"
	for k in "${kept[@]}"; do
		grep -q "^kept [a-z]* $k: made with ?persist" $W/dry.txt && ok ||
			bad "gc does not say it keeps $k (?persist): $(cat $W/dry.txt)"
	done
	check "a dead listener's queue names it as gone" \
		"orphan false" \
		"$(jq -r '.objects[] | select(.address == "sysvmq:0x7e570001") | "\(.state) \(.creator.alive)"' $W/after.json)"

	"$CLI" gc --path $W >$W/gc.txt || bad "gc failed: $(cat $W/gc.txt)"
	check "gc removes exactly the orphans" \
		"$exp_orphans" "$(gc_addresses removed <$W/gc.txt)"
	"$CLI" ls --path $W --json >$W/final.json
	check "after gc: the live objects and the kept ones remain" \
		"$(printf '%s\n' "$exp_live" "${kept[@]}" "${sems[@]}" | sort)" \
		"$(addresses <$W/final.json)"
	check "after gc: every live object is still live" "$exp_live" \
		"$(jq -r '.objects[] | select(.state == "live") | .address' $W/final.json | sort)"
	"$CLI" rm "${sems[@]}" && ok || bad "rm of the semaphores gc kept"
	# and still works: a message reaches the live ring, FIFO and queue
	for u in "shm:/inv-l" "fifo:$W/l.fifo" "mq:/inv-l"; do
		"$CLI" send --timeout 5000 "$u" hello >/dev/null 2>&1 && ok ||
			bad "the live $u no longer takes a message after gc"
	done

	# rm refuses live objects, naming the holder; --force removes
	out=$("$CLI" rm "shm:/inv-l" 2>&1) && bad "rm removed a live ring" ||
		{ grep -q "pid" <<<"$out" && ok || bad "rm does not name the holder: $out"; }
	out=$("$CLI" rm "fifo:$W/l.fifo" 2>&1) && bad "rm removed a live FIFO" || ok
	out=$("$CLI" rm "unix:$W/l.sock" 2>&1) && bad "rm removed a live socket" || ok
	hold "unix:@inv-abstract-$$" || return
	out=$("$CLI" rm "unix:@inv-abstract-$$" 2>&1) && bad "rm of an abstract socket succeeded" ||
		{ grep -q "bound by pid $HELD" <<<"$out" && ok ||
			bad "rm of a live abstract socket does not name its holder: $out"; }
	for u in sysvmq:0x7e570002 mq:/inv-l; do
		out=$("$CLI" rm "$u" 2>&1) && bad "rm removed $u, whose listener lives" ||
			{ grep -q "pid [0-9]" <<<"$out" && ok ||
				bad "rm $u does not name its listener: $out"; }
	done
	"$CLI" rm --force "fifo:$W/l.fifo" && [ ! -e $W/l.fifo ] && ok ||
		bad "rm --force of a live FIFO"

	# System V counts agree with ipcs and lsipc (util-linux)
	for k in q m s; do
		case $k in q) kind=sysvmq key=messages ;; m) kind=sysvshm key=sharedmemory ;;
		s) kind=sysvsem key=semaphores ;; esac
		n_ipk=$("$CLI" ls --kind $kind --json | jq '.objects | length')
		n_ipcs=$(ipcs -$k | grep -c '^0x')
		n_lsipc=$(lsipc -$k --json | jq ".$key | length")
		check "$kind: ipckit, ipcs and lsipc count alike" \
			"$n_ipcs $n_ipcs" "$n_ipk $n_lsipc"
		[ $k = q ] && n_queues=$n_ipcs
		[ $k = m ] && n_segs=$n_ipcs
	done
	check "ls --limits counts the queues and segments in use" \
		"$n_queues $n_segs" \
		"$("$CLI" ls --limits --json | jq -r '[.limits[] | select(.name == "msgmni" or .name == "shmmni") | .used] | join(" ")')"
	# private System V objects: listed as @ID, usable and removable so
	# (the maker has exited once its output is read: it is not a live user)
	read -r mid qid <<<"$(/usr/bin/python3 -c '
import sysv_ipc
m = sysv_ipc.SharedMemory(sysv_ipc.IPC_PRIVATE, sysv_ipc.IPC_CREX, size=4096)
q = sysv_ipc.MessageQueue(sysv_ipc.IPC_PRIVATE, sysv_ipc.IPC_CREX)
m.detach()
print(m.id, q.id)')"
	"$CLI" ls --json >$W/ids.json
	check "a private segment is listed by id" "sysvshm:@$mid?region orphan" \
		"$(jq -r ".objects[] | select(.id == $mid and .kind == \"sysvshm\") | \"\(.address) \(.state)\"" $W/ids.json)"
	check "a private queue is listed by id" "sysvmq:@$qid" \
		"$(jq -r ".objects[] | select(.id == $qid and .kind == \"sysvmq\") | .address" $W/ids.json)"
	"$CLI" send --timeout 5000 "sysvmq:@$qid" by-id >/dev/null &&
		check "a message through sysvmq:@ID" "by-id" \
			"$("$CLI" recv --dial -n 1 --timeout 5000 "sysvmq:@$qid")" ||
		bad "send sysvmq:@$qid"
	seg=$(jq -r '.objects[] | select(.address == "sysvshm:0x7e570012") | .id' $W/final.json)
	"$CLI" send --timeout 5000 "sysvshm:@$seg" to-the-ring >/dev/null && ok ||
		bad "send to a ring by id, sysvshm:@$seg"
	out=$("$CLI" rm "sysvshm:@$mid" 2>&1) && bad "rm sysvshm:@$mid removed a plain segment" ||
		{ grep -q "?region" <<<"$out" && ok || bad "rm sysvshm:@$mid: $out"; }
	"$CLI" rm "sysvshm:@$mid?region" "sysvmq:@$qid" && ok || bad "rm by id"
	check "rm by id removed them" "" \
		"$(awk -v id=$mid '$2 == id' /proc/sysvipc/shm; awk -v id=$qid '$2 == id' /proc/sysvipc/msg)"
	kill_all
}

# pid reuse: the recorded pid now belongs to another process
inner_reuse() {
	mount -t tmpfs tmpfs /dev/shm && mount -t tmpfs tmpfs /tmp || return
	trap kill_all EXIT
	hold "shm:/reuse" || return
	local ring=$HELD
	hold "sysvshm:0x7e570021?size=64K" || return
	local seg=$HELD
	kill -9 $ring $seg
	wait $ring $seg 2>/dev/null
	# System V records time in seconds: let the clock pass the slack
	sleep 3
	for p in $ring $seg; do
		echo $((p - 1)) >/proc/sys/kernel/ns_last_pid
		sleep 300 &
		pids+=($!)
		[ $! -eq $p ] && ok || bad "could not reuse pid $p (got $!)"
	done
	"$CLI" ls --json >/tmp/reuse.json
	for a in shm:/reuse sysvshm:0x7e570021; do
		check "$a: its recorded pid is another process's now, still dead" \
			"orphan" "$(jq -r ".objects[] | select(.address == \"$a\") | .state" /tmp/reuse.json)"
	done
	check "the segment's creator is the reused pid, seen as gone" "$seg false" \
		"$(jq -r '.objects[] | select(.address == "sysvshm:0x7e570021") | "\(.creator.pid) \(.creator.alive)"' /tmp/reuse.json)"
	kill_all
}

# an unprivileged user sees what it may, with notes, never an error
inner_rootless() {
	mount -t tmpfs tmpfs /dev/shm && mount -t tmpfs tmpfs /tmp || return
	chmod 1777 /dev/shm /tmp
	trap kill_all EXIT
	hold "shm:/root-ring" || return
	hold "mq:/root-q" || return
	local uid=$1
	out=$(setpriv --reuid="$uid" --regid="$uid" --clear-groups "$CLI" ls 2>&1)
	rc=$?
	check "ls as an unprivileged user exits 0" 0 "$rc"
	grep -q "^note: .*could not be inspected" <<<"$out" && ok ||
		bad "no note about processes it cannot inspect: $out"
	grep -q "^note: POSIX message queues .*mount -t mqueue" <<<"$out" && ok ||
		bad "no note saying how to mount /dev/mqueue: $out"
	grep -q "shm:/root-ring" <<<"$out" && ok || bad "root's ring not listed: $out"
	out=$(setpriv --reuid="$uid" --regid="$uid" --clear-groups "$CLI" ls --json 2>&1) &&
		jq -e '.notes | length >= 2' <<<"$out" >/dev/null && ok ||
		bad "ls --json as a user: $out"

	# a crashed REQ client's reply mailbox (a FIFO, NAME.r<pid>.<nonce>):
	# seen by its user, who may not inspect root's processes, as an orphan
	# by its listener's record, and removed by that user's gc
	as_user() { setpriv --reuid="$uid" --regid="$uid" --clear-groups "$@"; }
	mkdir -m 1777 /tmp/rr
	"$CLI" rep "fifo:/tmp/rr/box?mode=0666" --echo >/dev/null 2>&1 &
	local srv=$!
	pids+=($srv)
	setpriv --reuid="$uid" --regid="$uid" --clear-groups \
		"$CLI" req "fifo:/tmp/rr/box?mode=0666" < <(echo ping; exec sleep 60) >/tmp/rr/out 2>&1 &
	local cli=$!
	pids+=($cli)
	for _ in $(seq 200); do grep -q ping /tmp/rr/out 2>/dev/null && break; sleep 0.05; done
	check "the REQ client has its reply" ping "$(cat /tmp/rr/out)"
	kill -9 $srv $cli
	wait $srv $cli 2>/dev/null
	"$CLI" rm fifo:/tmp/rr/box || bad "rm the dead server's FIFO"
	local box
	box=$(ls /tmp/rr | grep "^box\.r$cli\.")
	[ -n "$box" ] && ok || bad "no reply mailbox of client $cli: $(ls /tmp/rr)"
	as_user "$CLI" ls --kind fifo --json >/tmp/rr/ls.json
	check "the dead client's mailbox: orphan, its creator the client, gone" \
		"orphan $cli false" \
		"$(jq -r ".objects[] | select(.address == \"fifo:/tmp/rr/$box\") | \"\(.state) \(.creator.pid) \(.creator.alive)\"" /tmp/rr/ls.json)"
	out=$(as_user "$CLI" gc --kind fifo 2>&1) || bad "gc as the user: $out"
	grep -q "^removed fifo fifo:/tmp/rr/$box: " <<<"$out" && ok || bad "gc: $out"
	[ -e "/tmp/rr/$box" ] && bad "the mailbox is still there" || ok
	check "its record went with it" "" \
		"$(ls -a /dev/shm | grep "^\.ipk-owner\..*\.fifo\.")"
	kill_all
}

case "${1:-}" in
inner) inner; counts; exit ;;
inner_reuse) inner_reuse; counts; exit ;;
inner_rootless) inner_rootless "$2"; counts; exit ;;
esac

# ------------------------------------------------- the machine's view

ns() { unshare --ipc --mount --net --pid --fork --mount-proc bash "$0" "$@"; }
ns_result "$(ns inner 2>&1)"
ns_result "$(ns inner_reuse 2>&1)"

user=ipkt$$
cleanup() {
	kill_all
	id "$user" >/dev/null 2>&1 && userdel "$user"
	rm -rf "${T:-/nonexistent}"
}
trap cleanup EXIT
if useradd -M -N -s /usr/sbin/nologin "$user"; then
	ns_result "$(ns inner_rootless "$(id -u $user)" 2>&1)"
	userdel "$user" && ok || bad "userdel $user"
else
	bad "useradd $user"
fi

# --ns: a namespace's objects are seen from outside only with --ns
T=$(mktemp -d /tmp/ipkt-inv-XXXXXX)
mkfifo $T/ready
unshare --ipc --mount --fork bash -c '
	mount -t tmpfs tmpfs /dev/shm || exit 1
	echo $$ >"$2"
	exec "$1" "shm:/inv-ns-$3"' _ "$HOLDER" $T/pid $$ >$T/ready 2>/dev/null &
pids+=($!)
read -r -t 20 line <$T/ready
[ "$line" = ready ] && ok || bad "holder inside the namespace did not start"
inside=$(cat $T/pid)
"$CLI" ls --kind shm | grep -q "inv-ns-$$" && bad "a namespace's ring is seen without --ns" || ok
"$CLI" ls --ns "$inside" --kind shm | grep -q "shm:/inv-ns-$$ .*live" && ok ||
	bad "ls --ns $inside does not show the namespace's ring: $("$CLI" ls --ns "$inside" --kind shm 2>&1)"
"$CLI" gc --ns "$inside" --dry-run --kind shm | grep -q "inv-ns-$$" &&
	bad "gc --ns plans to remove a live ring" || ok
kill -9 "$inside"
wait

# ipk_remove refuses what its address does not name (on our own copy of a
# file, never a system file), in the machine's namespace
cp /etc/hostname $T/copy
for u in "mmap:$T/copy" "fifo:$T/copy" "unix:$T/copy" "mmap:$T/copy?region"; do
	out=$("$CLI" rm "$u" 2>&1) && bad "rm $u removed a regular file" ||
		{ grep -q "regular file" <<<"$out" && ok || bad "rm $u: $out"; }
done
[ -f $T/copy ] && ok || bad "the copy is gone"

# ls --limits: every kernel limit with its use and the setting that raises it
"$CLI" ls --limits --json >$T/limits.json || bad "ls --limits --json"
$PY "$SRC/tests/inventory_schema.py" "$SRC/docs/cli.md" limits $T/limits.json &&
	ok || bad "ls --limits --json does not follow the documented schema"
check "ls --limits names every limit" \
	"/dev/shm RLIMIT_MSGQUEUE mqueue.msg_max mqueue.msgsize_max mqueue.queues_max msgmax msgmnb msgmni semmni semmns semmsl semopm shmall shmmax shmmni" \
	"$(jq -r '.limits[].name' $T/limits.json | sort | tr '\n' ' ' | sed 's/ $//')"
check "msgmni is the kernel's" "$(cat /proc/sys/kernel/msgmni)" \
	"$(jq -r '.limits[] | select(.name == "msgmni") | .value' $T/limits.json)"
"$CLI" ls --limits | grep -q "^shmmni .*sysctl -w kernel.shmmni=N" && ok ||
	bad "ls --limits table: $("$CLI" ls --limits)"

# usage errors: one line, exit 2
for args in "ls --kind nonsense" "gc --bogus" "gc sysvshm:0x1" "ls extra"; do
	"$CLI" $args >/dev/null 2>$T/err; rc=$?
	check "ipckit $args exits 2" 2 $rc
	check "ipckit $args: one line" 1 "$(wc -l <$T/err)"
done

counts

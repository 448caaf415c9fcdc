#!/usr/bin/env bash
# Queues (sysvmq:, mq:) in the inventory, one for each state of the owner
# record their listener keeps (src/core/owner.h): the why ls shows, the
# persist --json says, the "(kept)" of the table and gc's decision agree.
#
#   listener alive                         live
#   kept with ?persist, listener closed    orphan, persist, gc keeps
#   kept with ?persist, listener killed    orphan, persist, gc keeps
#   listener killed                        orphan, gc removes
#   taken over from a killed listener and
#   left with unread messages (the rule
#   of ipk__owner_keeps; record pid 0)     orphan, not persist, gc removes
#
# Runs in private IPC and mount namespaces with private /dev/shm (where the
# records live) and /dev/mqueue: the keys and names are ours alone, and gc
# touches nothing else.
. "$(dirname "$0")/inventory_util.sh"
needs_root test_inventory_queues namespaces

inner() {
	# private /tmp and /var/tmp too: gc below must see nothing of the machine's
	# (and it is asked only about queues)
	mount -t tmpfs tmpfs /dev/shm && mount -t tmpfs tmpfs /tmp &&
		mount -t tmpfs tmpfs /var/tmp || { bad "tmpfs mounts"; return; }
	mkdir -p /dev/mqueue && mount -t mqueue none /dev/mqueue ||
		{ bad "mqueue on /dev/mqueue"; return; }
	trap kill_all EXIT

	# a listener of URL in the background; LST its pid, once the queue is there
	listen() { # URL
		"$CLI" recv "$1" --timeout 60000 >/dev/null 2>&1 &
		LST=$!
		pids+=($LST)
		for _ in $(seq 400); do
			present "$1" && return 0
			sleep 0.05
		done
		bad "$1: the listener made nothing"
		return 1
	}
	present() {
		case $1 in
		mq:*) local n=${1#mq:/}; [ -e "/dev/mqueue/${n%%\?*}" ] ;;
		sysvmq:*) local k=${1#sysvmq:}; k=${k%%\?*}
			awk -v k=$((k)) 'NR > 1 && $1 == k { f = 1 } END { exit !f }' \
				/proc/sysvipc/msg ;;
		esac
	}
	kill9() { kill -9 "$1"; wait "$1" 2>/dev/null; }

	local -A why_of=()
	local -a removed=() kept=()
	for s in sysvmq mq; do
		local live dead deadp keptq left
		if [ $s = sysvmq ]; then
			live=sysvmq:0x7e5e0001 dead=sysvmq:0x7e5e0002
			deadp=sysvmq:0x7e5e0003 keptq=sysvmq:0x7e5e0004
			left=sysvmq:0x7e5e0005
		else
			live=mq:/q-live dead=mq:/q-dead deadp=mq:/q-deadp
			keptq=mq:/q-kept left=mq:/q-left
		fi

		# a POSIX queue's listener is found holding it; a System V queue
		# has only the record to tell
		local open=""
		[ $s = mq ] && open=" and nobody has it open"
		listen "$live" || return
		if [ $s = mq ]; then
			why_of[$live]="live false held by pid $LST"
		else
			why_of[$live]="live false its listener, pid $LST, is alive"
		fi

		listen "$dead" || return
		why_of[$dead]="orphan false its listener, pid $LST, is gone$open"
		kill9 $LST

		listen "$deadp?persist" || return
		why_of[$deadp]="orphan true its listener, pid $LST, is gone$open; kept with ?persist"
		kill9 $LST

		"$CLI" recv "$keptq?persist" --idle 0 >/dev/null 2>&1 ||
			bad "$keptq: make a kept one"
		why_of[$keptq]="orphan true its listener closed it and kept it (?persist)"

		# a listener stopped (it reads nothing), sent two messages, killed;
		# the next one takes it over, reads one and leaves the other
		listen "$left" || return
		kill -STOP $LST
		for _ in $(seq 500); do # until the kernel has stopped it
			grep -q '^State:.*T' /proc/$LST/status 2>/dev/null && break
			sleep 0.01
		done
		"$CLI" send --timeout 5000 "$left" a b 2>/dev/null ||
			bad "$left: send into the stopped listener's queue"
		kill9 $LST
		check "$left: the take-over reads one" a \
			"$("$CLI" recv "$left" -n 1 --timeout 5000 2>&1)"
		present "$left" && ok || bad "$left: the taken-over queue was removed with a message in it"
		why_of[$left]="orphan false left by a listener that took it over, with 1 unread message (not ?persist)"

		removed+=("$dead" "$left")
		kept+=("$live" "$deadp" "$keptq")
	done

	"$CLI" ls --json >/tmp/ls.json 2>/dev/null || bad "ls --json"
	"$CLI" ls >/tmp/ls.txt 2>/dev/null || bad "ls"
	for u in "${!why_of[@]}"; do
		check "$u: state, persist and why" "${why_of[$u]}" \
			"$(jq -r ".objects[] | select(.address == \"$u\") | \"\(.state) \(.persist) \(.why)\"" /tmp/ls.json)"
		# the table: "(kept)" exactly when persist, and the same why
		local line
		line=$(grep -E "^(sysvmq|mq) .* $u " /tmp/ls.txt)
		case ${why_of[$u]} in
		"orphan true"*) grep -q " orphan (kept) " <<<"$line" && ok || bad "$u: table: $line" ;;
		*) grep -q "(kept)" <<<"$line" && bad "$u: table says kept: $line" || ok ;;
		esac
		grep -qF "${why_of[$u]#* * }" <<<"$line" && ok || bad "$u: table why: $line"
	done

	# gc: the dry run and the run remove exactly the orphans not kept
	local want
	want=$(printf '%s\n' "${removed[@]}" | sort)
	check "gc --dry-run plans to remove" "$want" \
		"$({ "$CLI" gc --dry-run --kind sysvmq; "$CLI" gc --dry-run --kind mq; } 2>/dev/null | awk '$1 == "would" { a = $4; sub(/:$/, "", a); print a }' | sort)"
	check "gc removes" "$want" \
		"$({ "$CLI" gc --kind sysvmq; "$CLI" gc --kind mq; } 2>/dev/null | awk '$1 == "removed" { a = $3; sub(/:$/, "", a); print a }' | sort)"
	for u in "${removed[@]}"; do present "$u" && bad "$u: still there after gc" || ok; done
	for u in "${kept[@]}"; do present "$u" && ok || bad "$u: gc removed it"; done
	kill_all
}

case "${1:-}" in
inner) inner; counts; exit ;;
esac

out=$(unshare --ipc --mount --fork bash "$0" inner 2>&1)
ns_result "$out"
counts

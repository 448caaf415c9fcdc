#!/usr/bin/env bash
# Queues and rings that outlive a listener keep their messages, whoever
# reads them next (docs/channels.md, "Ownership and cleanup"):
# - a ?persist queue or ring stays when any later recv exits, with or
#   without ?persist in its address; only `ipckit rm` removes it;
# - recv that takes over a dead listener's queue or ring leaves it in place
#   while messages are still in it, and removes it once it emptied it;
# - relay --listen-a/-b on a queue or ring needs ?persist (as send --listen
#   does): without it relay would remove the undelivered messages on exit.
TEST_TAG=cli-kept
. "$(dirname "$0")/cli_util.sh"

sysv_key 0x71
qkey=$KEY
sysv_key 0x72
mkey=$KEY
sysv_key 0x73
dkey=$KEY
sysv_key 0x74
dmkey=$KEY

# Each address under test: queues and the three rings.
addrs=()
built mq && addrs+=("mq:/ipkt-kept-$$")
built sysvmq && addrs+=("sysvmq:$qkey")
built shm && addrs+=("shm:/ipkt-kept-$$")
built sysvshm && addrs+=("sysvshm:$mkey")
built mmap && addrs+=("mmap:$TMP/kept.ring")
for u in "${addrs[@]}"; do cleanups+=("'$CLI' rm '$u'"); done

# the ipckit process below PID (PID: the background job; under it runs the
# time limit, under that ipckit)
ipckit_of() {
	local p=$1 comm
	for _ in 1 2 3; do
		p=$(child_of "$p")
		p=${p%% *}
		[ -n "$p" ] || return
		read -r comm <"/proc/$p/comm" 2>/dev/null
		[ "$comm" = ipckit ] && { echo "$p"; return; }
	done
}

# present URL: the object is there (asked of the kernel, not of ipckit's
# inventory; an mq: queue by dialing it, which takes nothing from an empty
# one: /dev/mqueue need not be mounted)
present() {
	case $1 in
	mq:*) run recv --dial "$1" --timeout 0 --idle 0 >/dev/null 2>&1 ;;
	shm:*) [ -e "/dev/shm/${1#shm:/}" ] ;;
	mmap:*) [ -e "${1#mmap:}" ] ;;
	sysvmq:*) ipcs -q | grep -qi "^${1#sysvmq:} " ;;
	sysvshm:*) ipcs -m | grep -qi "^${1#sysvshm:} " ;;
	esac
}
# gone NAME URL: the object is not there any more
gone() {
	present "$2" && bad "$1: $2 was still there" || ok
}

# ------------------------------------------- a kept object stays, always
for u in "${addrs[@]}"; do
	run recv "$u?persist" --idle 0 2>"$TMP/err"
	expect_status "$u: make a kept one" 0 $? "$TMP/err"
	run send --timeout 5000 "$u" a b 2>"$TMP/err" || bad "$u: send a b: $(cat "$TMP/err")"
	# a recv without ?persist takes one message and exits: the other stays
	out=$(run recv "$u" -n 1 2>"$TMP/err")
	expect_eq "$u: recv -n 1 on the kept one" a "$out"
	out=$(run recv "$u" --idle 0 --timeout 5000 2>"$TMP/err")
	expect_eq "$u: the unread message survived recv's exit" b "$out"
	# emptied by a recv without ?persist, and still kept
	run send --timeout 2000 "$u" c 2>"$TMP/err" || bad "$u: send after the recvs: $(cat "$TMP/err")"
	out=$(run recv "$u?persist" --idle 0 --timeout 5000 2>"$TMP/err")
	expect_eq "$u: still there after being emptied" c "$out"
	present "$u" && ok || bad "$u: the kept one is gone"
	run rm --force "$u" >/dev/null 2>&1
	gone "$u: after rm" "$u"
done

# ----------------------------- a dead listener's leftover: kept while full
# A listener that dies (SIGKILL while stopped, so it cannot have read
# anything) leaves its object with two messages; it was not kept on purpose.
for u in "${addrs[@]}"; do
	start_ready "$TMP/dead.out" recv "$u"
	wrapper=$PID
	if [ -z "$ADDR" ]; then
		bad "$u: the listener did not start: $(errs_of)"
		continue
	fi
	lst=$(ipckit_of "$wrapper")
	if [ -z "$lst" ]; then
		bad "$u: no ipckit process under the listener's job"
		continue
	fi
	kill -STOP "$lst"
	for _ in $(seq 500); do # until the kernel has stopped it
		grep -q '^State:.*T' /proc/"$lst"/status 2>/dev/null && break
		sleep 0.01
	done
	run send --timeout 5000 "$u" a b 2>"$TMP/err" || bad "$u: send into the stopped listener's: $(cat "$TMP/err")"
	kill -KILL "$lst"
	finish "$wrapper"
	out=$(run recv "$u" -n 1 2>"$TMP/err")
	expect_eq "$u: recv -n 1 takes the dead listener's over" a "$out"
	out=$(run recv "$u" --idle 0 --timeout 5000 2>"$TMP/err")
	expect_eq "$u: the unread message survived the take-over" b "$out"
	# that recv emptied it: a leftover nobody kept is removed
	gone "$u: the emptied leftover" "$u"
done

# --------------------------------- relay creates no mailbox it would empty
for u in "${addrs[@]}"; do
	usage_says "$u: relay -a without ?persist" \
		"^ipckit: relay: --listen-a on a (queue|ring) removes it.*\?persist" \
		relay --timeout 1000 -a "$u" "unix:$TMP/nobody.sock"
	gone "$u: the refused relay created nothing" "$u"
done
if built mq; then
	usage_says "relay -b mq: without ?persist" \
		"^ipckit: relay: --listen-b on a queue removes it" \
		relay --timeout 1000 "unix:$TMP/nobody.sock" -b "mq:/ipkt-kept-$$"
	gone "relay -b created nothing" "mq:/ipkt-kept-$$"
fi

# relay -a with ?persist: the receiving side leaves, the message it did not
# take stays in the source, and so does the source
for u in "${addrs[@]}"; do
	start_ready "$TMP/b.out" recv "unix:$TMP/b.sock" -n 1
	rcv=$PID
	start_ready "$TMP/relay" relay -a "$u?persist" "unix:$TMP/b.sock"
	relay=$PID
	run send --timeout 5000 "$u" m1 2>"$TMP/err" || bad "$u: send m1: $(cat "$TMP/err")"
	finish $rcv
	expect_eq "$u: relayed m1" m1 "$(cat "$TMP/b.out")"
	run send --timeout 5000 "$u" m2 2>"$TMP/err" || bad "$u: send m2: $(cat "$TMP/err")"
	finish $relay
	expect_status "$u: relay whose receiver left" 1 $ST
	out=$(run recv "$u" --idle 0 --timeout 5000 2>"$TMP/err")
	expect_eq "$u: m2 stayed in relay's source" m2 "$out"
	present "$u" && ok || bad "$u: the kept source is gone"
	run rm --force "$u" >/dev/null 2>&1
done

summary

#!/usr/bin/env bash
# The CLI on sysvmq:, mq: and signal: end to end, peers that are not ipckit
# (ipcmk -Q, Python's sysv_ipc, the shell's kill), and the queue examples.
# Leaves no queue behind: the keys and names it used are checked at the end.
set -u
CLI=${IPK_CLI:?run through ctest (IPK_CLI = path of the ipckit binary)}
EX=${IPK_BUILD:?run through ctest}/examples
TMP=$(mktemp -d /tmp/ipkt-qcli-$$-XXXXXX) || exit 1
pass=0 fail=0
pids=() keys=() names=() ids=()
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { # check DESCRIPTION COMMAND...: pass if the command succeeds
	local what=$1
	shift
	if "$@"; then ok; else bad "$what"; fi
}

cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	for id in "${ids[@]}"; do ipcrm -q "$id" 2>/dev/null; done
	for k in "${keys[@]}"; do ipcrm -Q "$k" 2>/dev/null; done
	for n in "${names[@]}"; do "$CLI" rm "mq:$n" >/dev/null 2>&1; done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

run() { timeout -s INT -k 5 60 "$CLI" "$@"; }
ex() { local prog=$1; shift; timeout -s INT -k 5 60 "$EX/$prog" "$@"; }

# A System V key and a POSIX queue name unique to this run.
nkey=0
new_key() {
	nkey=$((nkey + 1))
	KEY=$(printf '0x%08x' $((0x30000000 | (($$ & 0xfffff) << 8) | nkey)))
	keys+=("$KEY")
}
new_name() {
	NAME=/ipkt-qcli-$$-$((${#names[@]} + 1))
	names+=("$NAME")
}

# start_ready OUT CMD...: run `ipckit CMD... --print-address` in the
# background and wait for the address it prints once it listens (ADDR).
nready=0
start_ready() {
	local out=$1 rf
	shift
	nready=$((nready + 1))
	rf=$TMP/ready.$nready
	mkfifo "$rf"
	exec {RFD}<>"$rf"
	run "$@" --print-address >"$out" 2>"$rf" &
	PID=$!
	pids+=("$PID")
	ADDR=
	read -r -t 30 -u "$RFD" ADDR || ADDR=
}

# /proc/sysvipc/msg prints keys as signed ints
key_signed() { local v=$(($1 & 0xffffffff)); echo $((v > 0x7fffffff ? v - 0x100000000 : v)); }
key_exists() { awk -v k="$(key_signed "$1")" '$1 == k {f = 1} END {exit !f}' /proc/sysvipc/msg; }
py() { timeout -k 5 30 /usr/bin/python3 "$@"; }

# ------------------------------------------------------------- sysvmq

# ftok address: recv listens (creates), send dials with a type
touch "$TMP/k"
start_ready "$TMP/o1" recv "sysvmq:$TMP/k?proj=102" -n 2 --meta
[ -n "$ADDR" ] && ok || bad "sysvmq recv did not start"
run send "sysvmq:$TMP/k?proj=102" --type 3 hello || bad "send --type 3"
run send "sysvmq:$TMP/k?proj=102" --type 5 world || bad "send --type 5"
wait "$PID"
want=$'# len=5 type=3 prio=0 pid=0 uid=0\nhello\n# len=5 type=5 prio=0 pid=0 uid=0\nworld'
[ "$(cat "$TMP/o1")" = "$want" ] && ok || bad "sysvmq recv --meta printed: $(cat "$TMP/o1")"
run send --timeout 100 "sysvmq:$TMP/k?proj=102" x 2>"$TMP/e1" && bad "send to a removed queue succeeded"
grep -q "no System V queue" "$TMP/e1" && ok || bad "missing queue: $(cat "$TMP/e1")"
run send --timeout 100 "sysvmq:$TMP/nope?proj=1" x 2>"$TMP/e1" && bad "ftok of a missing path succeeded"
grep -q "does not exist" "$TMP/e1" && ok || bad "missing ftok path: $(cat "$TMP/e1")"

# a queue made by ipcmk -Q, used by key; the selectors of msgrcv(2)
id=$(ipcmk -Q -p 0600 2>/dev/null | awk '{print $NF}')
if [ -n "$id" ]; then
	ids+=("$id")
	key=$(awk -v id="$id" '$2 == id {print $1}' /proc/sysvipc/msg)
	key=$(printf '0x%08x' $((key & 0xffffffff)))
	[ "$key" != 0x00000000 ] && ok || bad "no key for ipcmk's queue $id"
	for t in 7 4 2; do run send "sysvmq:$key" --type "$t" "type $t" || bad "send type $t"; done
	# recv listens by default, and attaches to a queue that exists already
	out=$(run recv "sysvmq:$key" --type -5 -n 1 --meta)
	[ "$out" = $'# len=6 type=2 prio=0 pid=0 uid=0\ntype 2' ] && ok ||
		bad "--type -5 gave: $out"
	grep -q " $id " /proc/sysvipc/msg && ok || bad "recv removed a queue it did not create"
	out=$(run recv --dial "sysvmq:$key" --type 7 -n 1)
	[ "$out" = "type 7" ] && ok || bad "--type 7 gave: $out"
	out=$(run recv --dial "sysvmq:$key" -n 1 --timeout 0)
	[ "$out" = "type 4" ] && ok || bad "--type 0 gave: $out"
	run recv --dial "sysvmq:$key" -n 1 --timeout 0 >/dev/null 2>&1 &&
		bad "recv on an empty queue with --timeout 0 succeeded"
	key_exists "$key" && ok || bad "a dialer removed the ipcmk queue"

	# Python's sysv_ipc as a peer, both ways (when it is installed)
	if py -c 'import sysv_ipc' 2>/dev/null; then
		py - "$key" <<'EOF' || bad "python sent"
import sys, sysv_ipc
k = int(sys.argv[1], 16)
assert k != 0  # 0 would make a new private queue
q = sysv_ipc.MessageQueue(k)
q.send(b"from python", type=9)
EOF
		out=$(run recv --dial "sysvmq:$key" --type 9 -n 1 --meta)
		[ "$out" = $'# len=11 type=9 prio=0 pid=0 uid=0\nfrom python' ] && ok ||
			bad "python message: $out"
		run send "sysvmq:$key" --type 4 "to python" || bad "send to python"
		out=$(py - "$key" <<'EOF'
import sys, sysv_ipc
k = int(sys.argv[1], 16)
assert k != 0  # 0 would make a new private queue
q = sysv_ipc.MessageQueue(k)
msg, t = q.receive(block=False, type=4)
print(msg.decode(), t)
EOF
)
		[ "$out" = "to python 4" ] && ok || bad "python received: $out"
	else
		echo "skip: python3-sysv-ipc not installed"
	fi
	ipcrm -q "$id" && ok || bad "ipcrm of the ipcmk queue"
else
	echo "skip: ipcmk -Q did not work"
fi

# a raw key: recv listens and creates it; the message names msgmax
new_key
start_ready "$TMP/o2" recv "sysvmq:$KEY" -n 1
[ "$ADDR" = "sysvmq:$KEY" ] && ok || bad "printed address '$ADDR'"
head -c $(($(cat /proc/sys/kernel/msgmax) + 1)) /dev/zero >"$TMP/big"
run send "sysvmq:$KEY" --whole - <"$TMP/big" 2>"$TMP/e2" && bad "over msgmax was sent"
grep -q "exceeds kernel.msgmax=" "$TMP/e2" && ok || bad "msgmax error: $(cat "$TMP/e2")"
run send "sysvmq:$KEY" done || bad "send to raw key"
wait "$PID"
[ "$(cat "$TMP/o2")" = "done" ] && ok || bad "raw key recv: $(cat "$TMP/o2")"
key_exists "$KEY" && bad "recv left its queue $KEY" || ok

# ipckit rm on a queue that persists
new_key
run send --listen "sysvmq:$KEY?persist" --type 2 kept || bad "send --listen ?persist"
key_exists "$KEY" && ok || bad "?persist queue missing"
out=$(run recv --dial "sysvmq:$KEY" -n 1 --meta)
[ "$out" = $'# len=4 type=2 prio=0 pid=0 uid=0\nkept' ] && ok || bad "persisted message: $out"
run rm "sysvmq:$KEY" && ok || bad "ipckit rm sysvmq"
key_exists "$KEY" && bad "rm left $KEY" || ok

# ------------------------------------------------------------------ mq

new_name
run send --listen "mq:$NAME?maxmsg=4&msgsize=64&persist" --prio 1 low || bad "mq send --listen"
run send "mq:$NAME" --prio 7 high || bad "mq send --prio 7"
run send "mq:$NAME" --prio 3 mid || bad "mq send --prio 3"
out=$(run recv --dial "mq:$NAME" -n 3 --meta)
want=$'# len=4 type=0 prio=7 pid=0 uid=0\nhigh\n# len=3 type=0 prio=3 pid=0 uid=0\nmid\n# len=3 type=0 prio=1 pid=0 uid=0\nlow'
[ "$out" = "$want" ] && ok || bad "mq priorities: $out"
run send "mq:$NAME" "$(head -c 65 /dev/zero | tr '\0' x)" 2>"$TMP/e3" && bad "over msgsize was sent"
grep -q "msgsize=64" "$TMP/e3" && ok || bad "msgsize error: $(cat "$TMP/e3")"
run rm "mq:$NAME" && ok || bad "ipckit rm mq"
run rm "mq:$NAME" 2>/dev/null && bad "mq:$NAME still there"

new_name
start_ready "$TMP/o4" recv "mq:$NAME?maxmsg=2&msgsize=32" -n 2 --meta
[ -n "$ADDR" ] && ok || bad "mq recv did not start"
run send "mq:$NAME" --prio 5 one || bad "mq send one"
run send "mq:$NAME" two || bad "mq send two"
wait "$PID"
want=$'# len=3 type=0 prio=5 pid=0 uid=0\none\n# len=3 type=0 prio=0 pid=0 uid=0\ntwo'
[ "$(cat "$TMP/o4")" = "$want" ] && ok || bad "mq recv: $(cat "$TMP/o4")"
msg_max=$(cat /proc/sys/fs/mqueue/msg_max)
new_name
if run send --listen "mq:$NAME?maxmsg=$((msg_max + 1))&msgsize=16&persist" x 2>"$TMP/e4"; then
	echo "skip: this user may exceed fs.mqueue.msg_max (CAP_SYS_RESOURCE)"
else
	grep -q "exceeds fs.mqueue.msg_max=$msg_max" "$TMP/e4" && ok ||
		bad "msg_max error: $(cat "$TMP/e4")"
fi

# -------------------------------------------------------------- signal

start_ready "$TMP/o5" recv "signal:self?sig=RTMIN+2" -n 3 --meta
case "$ADDR" in
signal:*\?sig=RTMIN+2) ok ;;
*) bad "signal listener printed '$ADDR'" ;;
esac
rpid=${ADDR#signal:}
rpid=${rpid%%\?*}
run send "$ADDR" 42 || bad "send signal"
run send "signal:$rpid?sig=RTMIN+2" 123456789 2>"$TMP/e5" && bad "9 bytes went out"
grep -q "at most 8 bytes" "$TMP/e5" && ok || bad "9 bytes: $(cat "$TMP/e5")"
kill -s RTMIN+2 "$rpid" || bad "kill -s RTMIN+2"
run send "signal:$rpid?sig=RTMIN+2" "${USER:-me}" || bad "send signal 2"
wait "$PID"
{
	read -r m1; read -r v1; read -r m2; read -r v2; read -r m3; read -r v3
} <"$TMP/o5"
sig=$(($(kill -l RTMIN) + 2))
[[ $m1 == "# len=2 type=$sig prio=0 pid="*" uid=$(id -u)" && $v1 == 42 ]] && ok ||
	bad "signal 1: $m1 / $v1"
[[ $m2 == "# len=0 type=$sig prio=0 pid=$$ uid=$(id -u)" && -z $v2 ]] && ok ||
	bad "kill as a peer: $m2 / $v2"
[[ $m3 == "# len="*" type=$sig "* && $v3 == "${USER:-me}" ]] && ok || bad "signal 3: $m3 / $v3"
# the receiver has exited: a sender is told, the pid is not signalled blindly
run send --timeout 100 "signal:$rpid?sig=RTMIN+2" late 2>"$TMP/e6" && bad "send to an exited receiver"
grep -qE "no process|exited" "$TMP/e6" && ok || bad "exited receiver: $(cat "$TMP/e6")"

# ------------------------------------------------------------- examples

new_key
ex sysv_msg_server "sysvmq:$KEY" >"$TMP/srv" 2>&1 &
srv=$!
pids+=("$srv")
for _ in $(seq 100); do grep -q ready "$TMP/srv" && break; sleep 0.05; done
out=$(ex sysv_msg_client "sysvmq:$KEY" hello "typed world")
[ "$out" = $'HELLO\nTYPED WORLD' ] && ok || bad "sysv_msg_client: $out"
# two clients at once each get only their own replies (reply by type)
ex sysv_msg_client "sysvmq:$KEY" $(seq -f a%g 1 50) >"$TMP/c1" &
c1=$!
ex sysv_msg_client "sysvmq:$KEY" $(seq -f b%g 1 50) >"$TMP/c2" &
c2=$!
wait "$c1" && wait "$c2" || bad "concurrent clients failed"
[ "$(tr '\n' ' ' <"$TMP/c1")" = "$(seq -f A%g 1 50 | tr '\n' ' ')" ] && ok || bad "client 1 got others' replies"
[ "$(tr '\n' ' ' <"$TMP/c2")" = "$(seq -f B%g 1 50 | tr '\n' ' ')" ] && ok || bad "client 2 got others' replies"
ex sysv_msg_client "sysvmq:$KEY" quit >/dev/null || bad "quit"
wait "$srv" && ok || bad "sysv_msg_server failed: $(cat "$TMP/srv")"
key_exists "$KEY" && bad "sysv_msg_server left $KEY" || ok

new_name
out=$(ex posix_mq_prio "$NAME")
want=$'6 jobs queued (75 bytes), depth 8, msgsize 64\npriority 9: page the on-call\npriority 5: resize image\npriority 5: send digest\npriority 1: rotate logs\npriority 1: compress backup\npriority 0: defragment'
[ "$out" = "$want" ] && ok || bad "posix_mq_prio: $out"

out=$(ex signal_value) && ok || bad "signal_value failed"
[[ $out == *"child: 5 values, sum 110"* && $out == *"answer 110 from pid"*"expected 110"* ]] && ok ||
	bad "signal_value printed: $out"

# ----------------------------------------------- relay into a queue

# relay from a socket into a queue: the message stays in the queue for its
# consumer, and is not read back out of it and returned to the sender
new_name
run send --listen --timeout 5000 "mq:$NAME?persist" seed >/dev/null 2>&1 ||
	bad "could not create $NAME"
run recv --dial "mq:$NAME" -n 1 --timeout 1000 >/dev/null || bad "drain seed"
start_ready "$TMP/relay.out" relay --listen-a "unix:$TMP/relay.sock" "mq:$NAME"
relay=$PID
out=$(printf 'hello\n' | run send --timeout 5000 "unix:$TMP/relay.sock" 2>&1) ||
	bad "send through relay: $out"
out=$(run recv --dial "mq:$NAME" -n 1 --timeout 5000) && [ "$out" = hello ] && ok ||
	bad "relayed message not in the queue: '$out'"
kill "$relay" 2>/dev/null; wait "$relay" 2>/dev/null
run rm "mq:$NAME" >/dev/null 2>&1

# ------------------------------------------------------ nothing left over

for k in "${keys[@]}"; do key_exists "$k" && bad "System V queue $k left behind"; done
for n in "${names[@]}"; do
	run rm "mq:$n" >/dev/null 2>&1 && bad "POSIX queue $n left behind"
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

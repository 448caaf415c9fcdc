#!/usr/bin/env bash
# The ipckit command-line tool end to end: send, recv, relay, rm, demo,
# help and errors, over the real binary. Run by ctest with IPK_CLI set.
. "$(dirname "$0")/cli_util.sh"

# start_ready OUT NLINES CMD...: like start, with --print-address; waits for
# the NLINES addresses the command prints once it listens (read from a FIFO,
# so there is no polling) and sets ADDR (the last one). Stderr stays in the
# FIFO: errs_of reads what else was written.
nready=0
start_ready() {
	local out=$1 n=$2 rf
	shift 2
	nready=$((nready + 1))
	rf=$TMP/ready.$nready
	mkfifo "$rf"
	exec {RFD}<>"$rf"
	run "$@" --print-address >"$out" 2>"$rf" &
	PID=$!
	pids+=("$PID")
	ADDR=
	for ((i = 0; i < n; i++)); do
		read -r -t 30 -u "$RFD" ADDR || { ADDR=; break; }
	done
}
errs_of() { # what the command behind RFD wrote to stderr since
	while read -r -t 0 -u "$RFD"; do
		read -r -u "$RFD" line && echo "$line"
	done
}

# interrupt PID: SIGINT to the ipckit that the `run` wrapper PID started
# (background jobs of a script ignore SIGINT, and so would the wrapper).
interrupt() {
	local kid
	kid=$(child_of "$1")
	[ -n "$kid" ] && kill -INT $kid
}

# ------------------------------------------------------------ help, version
out=$(run --help)
expect_status "--help" 0 $?
for c in send recv relay demo rm; do
	grep -qE "^  $c " <<<"$out" && ok || bad "--help does not list $c"
done
out=$(run --version)
[[ $out =~ ^ipckit\ [0-9]+\.[0-9]+\.[0-9]+$ ]] && ok || bad "--version: $out"
out=$(run help recv)
expect_status "help recv" 0 $?
grep -q -- "--dial" <<<"$out" && grep -q "LISTENS" <<<"$out" && ok ||
	bad "help recv does not explain listen/--dial"
for c in send recv relay demo rm; do
	out=$(run help $c) && grep -q "^usage: ipckit $c" <<<"$out" &&
		grep -qi "exit status" <<<"$out" && ok || bad "help $c"
	out=$(run $c --help) && grep -q "^usage: ipckit $c" <<<"$out" && ok ||
		bad "$c --help"
done

# ------------------------------------------------------------ usage errors
usage() { # NAME ARGS...: exit 2, one line on stderr
	local name=$1
	shift
	run "$@" >/dev/null 2>"$TMP/err"
	expect_status "$name" 2 $? "$TMP/err"
	one_line "$name" "$TMP/err" "^ipckit: "
}
usage "recv without URL" recv
usage "send without URL" send
usage "relay with one URL" relay unix:@x
usage "relay with three URLs" relay unix:@x unix:@y unix:@z
usage "rm without URL" rm
usage "unknown option" recv --bogus fifo:$TMP/x
usage "missing option value" recv fifo:$TMP/x -n
usage "bad count" recv -n many fifo:$TMP/x
usage "bad timeout" send --timeout soon fifo:$TMP/x hi
usage "unknown command" frobnicate
usage "demo with an argument" demo extra
expect_gone "usage errors create nothing" "$TMP/x"

# ------------------------------------------------- bad addresses: exit 1
failure() { # NAME PATTERN ARGS...: exit 1, one line matching PATTERN
	local name=$1 pat=$2
	shift 2
	run "$@" >/dev/null 2>"$TMP/err"
	expect_status "$name" 1 $? "$TMP/err"
	one_line "$name" "$TMP/err" "$pat"
}
failure "address without scheme" "^ipckit: recv .*no scheme" recv nocolon
failure "unknown scheme" "^ipckit: recv bogus:/x: unknown scheme 'bogus:'" recv bogus:/x
failure "unknown scheme on send" "^ipckit: send .*unknown scheme" send bogus:/x hi
failure "unknown option in address" "unknown option 'nope'" recv "fifo:$TMP/o?nope"
expect_gone "bad option creates nothing" "$TMP/o"
notbuilt=$(run --help | awk '/\[not built\]/ { sub(":", "", $1); print $1; exit }')
if [ -n "$notbuilt" ]; then
	failure "scheme not built ($notbuilt)" "not built" recv "$notbuilt:/ipkt-$$"
fi
failure "dial nothing" "^ipckit: send fifo:.*no FIFO" send --timeout 300 fifo:$TMP/none hi
usage "recv --dial on a FIFO (a dialer only writes)" recv --dial --timeout 300 fifo:$TMP/none
failure "recv --dial with nothing there" "^ipckit: recv unix:.*" recv --dial --timeout 300 unix:$TMP/none

# ------------------------------------------------------------ timeouts
t0=$(date +%s%N)
run recv --timeout 200 fifo:$TMP/quiet >/dev/null 2>"$TMP/err"
st=$?
ms=$((($(date +%s%N) - t0) / 1000000))
expect_status "recv --timeout 200" 1 $st "$TMP/err"
one_line "recv timeout message" "$TMP/err" "no message within 200 ms"
[ "$ms" -lt 5000 ] && ok || bad "recv --timeout 200 took $ms ms"
expect_gone "timed-out recv removes its FIFO" "$TMP/quiet"
run recv --timeout 0 unix:$TMP/zero >/dev/null 2>"$TMP/err"
expect_status "recv --timeout 0" 1 $? "$TMP/err"
one_line "recv --timeout 0 message" "$TMP/err" "no connection waiting"
expect_gone "recv --timeout 0 removes its socket" "$TMP/zero"

# ------------------------------------------------------------ fifo
start "$TMP/out" recv fifo:$TMP/f -n 3
run send --timeout 10000 fifo:$TMP/f hello "two words" ""
expect_status "send fifo" 0 $?
finish $PID
expect_status "recv fifo" 0 $ST "$TMP/out.err"
expect_eq "fifo messages" $'hello\ntwo words\n\n.' "$(cat "$TMP/out"; echo .)"
expect_gone "recv removes its FIFO" "$TMP/f"

# a plain program writes into a raw FIFO: bytes arrive unchanged
start_ready "$TMP/out" 1 recv "fifo:$TMP/raw?raw" -n 1
expect_eq "raw FIFO address" "fifo:$TMP/raw?raw" "$ADDR"
echo hello >"$TMP/raw"
finish $PID
expect_status "recv raw fifo" 0 $ST
expect_eq "echo into a raw FIFO" "hello" "$(cat "$TMP/out")"
expect_eq "raw output has no separator" 6 "$(wc -c <"$TMP/out")"
expect_gone "raw recv removes its FIFO" "$TMP/raw"

# ------------------------------------------------------------ unix
# stdin lines (last one without newline)
start "$TMP/out" recv unix:$TMP/u -n 3
printf 'a\nbb\nccc' | run send --timeout 10000 unix:$TMP/u
expect_status "send unix stdin" 0 $?
finish $PID
expect_status "recv unix -n 3" 0 $ST "$TMP/out.err"
expect_eq "unix stdin lines" $'a\nbb\nccc' "$(cat "$TMP/out")"
expect_gone "recv removes its socket" "$TMP/u"

# arguments around '-', --count; two connections one after the other
start "$TMP/out" recv unix:@ipkt-$$-u2 -n 5
printf 'x\ny\n' | run send --timeout 10000 unix:@ipkt-$$-u2 a - b
run send --timeout 10000 --count 1 unix:@ipkt-$$-u2 c
finish $PID
expect_status "recv re-accepts until COUNT" 0 $ST "$TMP/out.err"
expect_eq "stdin between arguments" $'a\nx\ny\nb\nc' "$(cat "$TMP/out")"

start "$TMP/out" recv unix:@ipkt-$$-u3 -n 3 --raw
run send --timeout 10000 --count 3 unix:@ipkt-$$-u3 ab
finish $PID
expect_eq "send --count with recv --raw" "ababab" "$(cat "$TMP/out")"

# send --listen, recv --dial
start "$TMP/out" send --listen unix:$TMP/sl one two
run recv --dial --timeout 10000 unix:$TMP/sl >"$TMP/out2" 2>"$TMP/err"
expect_status "recv --dial" 0 $? "$TMP/err"
finish $PID
expect_status "send --listen" 0 $ST "$TMP/out.err"
expect_eq "send --listen to recv --dial" $'one\ntwo' "$(cat "$TMP/out2")"
expect_gone "send --listen removes its socket" "$TMP/sl"

# ------------------------------------------------------------ tcp
start_ready "$TMP/out" 1 recv tcp://127.0.0.1:0 -n 2
if [[ $ADDR =~ ^tcp://127\.0\.0\.1:[1-9][0-9]*$ ]]; then
	ok
	run send --timeout 10000 "$ADDR" "over tcp" second
	expect_status "send tcp" 0 $?
else
	bad "recv --print-address gave [$ADDR] $(errs_of)"
fi
finish $PID
expect_status "recv tcp" 0 $ST
expect_eq "tcp messages" $'over tcp\nsecond' "$(cat "$TMP/out")"

# ------------------------------------------------------------ unixgram
start "$TMP/out" recv unixgram:$TMP/g -n 2 --meta
run send --timeout 10000 unixgram:$TMP/g hello ""
finish $PID
expect_status "recv unixgram" 0 $ST "$TMP/out.err"
mapfile -t lines <"$TMP/out"
[[ ${lines[0]:-} =~ ^#\ len=5\ type=0\ prio=0\ pid=[1-9][0-9]*\ uid=[0-9]+$ ]] &&
	ok || bad "--meta line: ${lines[0]:-}"
expect_eq "unixgram message" "hello" "${lines[1]:-}"
[[ ${lines[2]:-} =~ ^#\ len=0\  ]] && ok || bad "--meta of an empty message: ${lines[2]:-}"
expect_eq "unixgram lines" 4 "${#lines[@]}"
expect_gone "recv removes its datagram socket" "$TMP/g"

# ------------------------------------------------------------ --hex
start "$TMP/out" recv unix:@ipkt-$$-hex -n 2 --hex
printf 'hello\0world, this is longer\n' | run send --timeout 10000 --whole unix:@ipkt-$$-hex
run send --timeout 10000 unix:@ipkt-$$-hex ""
finish $PID
expected='00000000  68 65 6c 6c 6f 00 77 6f  72 6c 64 2c 20 74 68 69  |hello.world, thi|
00000010  73 20 69 73 20 6c 6f 6e  67 65 72 0a              |s is longer.|
0000001c
00000000'
expect_eq "--hex dump" "$expected" "$(cat "$TMP/out")"

# ------------------------------------------------------------ binary, --whole
printf 'bin\0\0ary\n\xff\xfe\x00tail-without-newline' >"$TMP/bin"
start "$TMP/out" recv unix:$TMP/bin.sock -n 1 --raw
run send --timeout 10000 --whole unix:$TMP/bin.sock <"$TMP/bin"
finish $PID
cmp -s "$TMP/bin" "$TMP/out" && ok || bad "binary round trip over unix differs"
start "$TMP/out" recv fifo:$TMP/bin.fifo -n 1 --meta
run send --timeout 10000 --whole fifo:$TMP/bin.fifo <"$TMP/bin"
finish $PID
head -1 "$TMP/out" | grep -q "^# len=$(wc -c <"$TMP/bin") " && ok ||
	bad "--whole is one message: $(head -1 "$TMP/out")"
# --meta line, the message, one newline
{ printf '%s\n' "$(head -1 "$TMP/out")"; cat "$TMP/bin"; echo; } >"$TMP/want"
cmp -s "$TMP/want" "$TMP/out" && ok || bad "binary message with --meta over fifo differs"
# a large message, several MiB
head -c 3000000 /dev/urandom >"$TMP/big"
start_ready "$TMP/out" 1 recv tcp://127.0.0.1:0 -n 1 --raw
run send --timeout 20000 --whole "$ADDR" <"$TMP/big"
finish $PID
cmp -s "$TMP/big" "$TMP/out" && ok || bad "3 MB message over tcp differs"

# ------------------------------------------------------------ relay
# unix (relay listens) -> fifo (relay dials a recv): boundaries kept
start "$TMP/out" recv fifo:$TMP/rb -n 3 --meta
RECV=$PID
relay_out=$TMP/relay
start "$relay_out" relay --listen-a unix:$TMP/ra fifo:$TMP/rb
RPID=$PID
run send --timeout 10000 unix:$TMP/ra "m one" "" "three 3"
finish $RECV
expect_status "recv behind relay" 0 $ST
expect_eq "relay keeps boundaries" "# len=5 type=0 prio=0 pid=0 uid=0
m one
# len=0 type=0 prio=0 pid=0 uid=0

# len=7 type=0 prio=0 pid=0 uid=0
three 3" "$(cat "$TMP/out")"
finish $RPID
expect_status "relay ends when its peer goes away" 0 $ST "$relay_out.err"
expect_gone "relay removes what it listened on" "$TMP/ra"
expect_gone "recv behind relay removed its FIFO" "$TMP/rb"

# the other direction: B (a send --listen) answers through relay to A
start "$TMP/out" send --listen unix:$TMP/rback "from B"
SPID=$PID
start "$relay_out" relay --listen-a unix:$TMP/rfront unix:$TMP/rback
RPID=$PID
run recv --dial --timeout 10000 -n 1 unix:$TMP/rfront >"$TMP/out2" 2>"$TMP/err"
expect_status "recv through relay, B to A" 0 $? "$TMP/err"
expect_eq "relay B to A" "from B" "$(cat "$TMP/out2")"
finish $RPID
expect_status "relay B to A exit" 0 $ST "$relay_out.err"
finish $SPID
expect_status "send --listen behind relay" 0 $ST "$TMP/out.err"
expect_gone "relay B to A cleaned up" "$TMP/rfront"

# relay --count
start "$TMP/out" recv unix:@ipkt-$$-rc -n 2
RECV=$PID
start "$relay_out" relay -n 2 --listen-a fifo:$TMP/rc unix:@ipkt-$$-rc
RPID=$PID
run send --timeout 10000 fifo:$TMP/rc 1 2
finish $RPID
expect_status "relay -n 2" 0 $ST "$relay_out.err"
finish $RECV
expect_eq "relay -n 2 forwarded" $'1\n2' "$(cat "$TMP/out")"
expect_gone "relay -n removed its FIFO" "$TMP/rc"

# ------------------------------------------------------------ queues
# (where built) messages wait in a persistent queue, then are picked by
# type / come out by priority
built() { run --help | grep -qE "^  $1 " && ! run --help | grep -E "^  $1 " | grep -q "not built"; }
if built sysvmq; then
	q=sysvmq:$(printf '0x7c%06x' $(($$ & 0xffffff)))
	run send --listen --type 7 "$q?persist" seven 2>"$TMP/err"
	expect_status "send --listen sysvmq?persist" 0 $? "$TMP/err"
	run send --type 3 "$q" three
	out=$(run recv --dial --type -5 -n 1 --meta "$q")
	expect_eq "recv --type -5" $'# len=5 type=3 prio=0 pid=0 uid=0\nthree' "$out"
	out=$(run recv --dial -n 1 "$q")
	expect_eq "recv --type 0 takes the next" "seven" "$out"
	run recv --dial --timeout 0 "$q" >/dev/null 2>"$TMP/err"
	one_line "empty queue, --timeout 0" "$TMP/err" "no message waiting"
	run rm "$q" 2>"$TMP/err"
	expect_status "rm sysvmq" 0 $? "$TMP/err"
	run rm "$q" 2>/dev/null
	expect_status "rm sysvmq again" 1 $?
fi
if built mq; then
	q=mq:/ipkt-$$-cli
	run send --listen --prio 1 "$q?persist" low 2>"$TMP/err"
	expect_status "send --listen mq?persist" 0 $? "$TMP/err"
	run send --prio 5 "$q" high
	out=$(run recv --dial -n 2 --meta "$q" | sed 's/ pid=.*//')
	expect_eq "mq priority order" $'# len=4 type=0 prio=5\nhigh\n# len=3 type=0 prio=1\nlow' "$out"
	run rm "$q" 2>"$TMP/err"
	expect_status "rm mq" 0 $? "$TMP/err"
fi

# ------------------------------------------------------------ Ctrl-C
start_ready "$TMP/out" 1 recv fifo:$TMP/int
[ -p "$TMP/int" ] && ok || bad "recv did not create its FIFO"
interrupt $PID
finish $PID
expect_status "recv after SIGINT" 130 $ST
expect_gone "SIGINT: recv removes its FIFO" "$TMP/int"
expect_eq "SIGINT: recv is quiet" "" "$(errs_of)"

start_ready "$TMP/out" 2 relay --listen-a --listen-b unix:$TMP/i1 unix:$TMP/i2
[ -S "$TMP/i1" ] && [ -S "$TMP/i2" ] && ok || bad "relay did not listen on both"
interrupt $PID
finish $PID
expect_status "relay after SIGINT" 130 $ST
expect_gone "SIGINT: relay removes A" "$TMP/i1"
expect_gone "SIGINT: relay removes B" "$TMP/i2"

# ------------------------------------------------------------ rm
mkfifo "$TMP/rm1"
run rm fifo:$TMP/rm1 >/dev/null 2>"$TMP/err"
expect_status "rm fifo" 0 $? "$TMP/err"
expect_gone "rm removed the FIFO" "$TMP/rm1"
: >"$TMP/plain"
run rm fifo:$TMP/rm1 fifo:$TMP/plain >/dev/null 2>"$TMP/err"
expect_status "rm of missing and wrong-kind objects" 1 $?
expect_eq "rm: one line per failed URL" 2 "$(wc -l <"$TMP/err")"
grep -q "^ipckit: rm fifo:$TMP/rm1: .*No such file" "$TMP/err" && ok ||
	bad "rm missing: $(cat "$TMP/err")"
grep -q "^ipckit: rm fifo:$TMP/plain: .*not a FIFO" "$TMP/err" && ok ||
	bad "rm wrong kind: $(cat "$TMP/err")"
[ -f "$TMP/plain" ] && ok || bad "rm removed a regular file"
run rm -f fifo:$TMP/rm1 2>"$TMP/err"
expect_status "rm -f of a missing object" 0 $? "$TMP/err"
failure "rm unknown scheme" "^ipckit: rm bogus:x: unknown scheme" rm bogus:x

# ------------------------------------------------------------ demo
# run directly (it bounds its own waits) so its pid names what it creates
"$CLI" demo >"$TMP/demo" 2>"$TMP/err" &
DPID=$!
pids+=("$DPID")
finish $DPID
expect_status "demo" 0 $ST "$TMP/err"
grep -qE "^scheme +result +messages +median_us +address" "$TMP/demo" && ok ||
	bad "demo table header: $(cat "$TMP/demo")"
for s in pipe fifo unix unixgram tcp; do
	grep -qE "^$s +ok +[0-9]+ +[0-9.]+ " "$TMP/demo" && ok ||
		bad "demo row $s: $(grep "^$s " "$TMP/demo")"
done
if [ -n "$notbuilt" ]; then
	grep -qE "^$notbuilt +not built" "$TMP/demo" && ok || bad "demo: $notbuilt not shown as not built"
fi
left=$(ls -d /tmp/ipk-demo-"$DPID"[.-]* /dev/shm/ipk-demo-"$DPID"* \
	/dev/mqueue/ipk-demo-"$DPID" 2>/dev/null)
expect_eq "demo leaves no files" "" "$left"
key=$(printf '0x7a%06x' $((DPID & 0xffffff)))
grep -qi " $key " /proc/sysvipc/msg 2>/dev/null && bad "demo left queue $key" || ok

summary

#!/usr/bin/env bash
# The command line checks before it acts and says what it is doing: flags
# that contradict each other or mean nothing are refused (exit 2) before
# anything is made or taken; a wait for an endpoint that is not there is
# announced on a terminal; the library's account of a failure is kept;
# ?raw arguments are lines; lock excludes flock(1) users; output that
# cannot be written fails; --json is there for scripts.
TEST_TAG=cli-chk
. "$(dirname "$0")/cli_util.sh"

# ----------------------------------------------- refused before acting
usage_says "recv: three output formats" "give one" recv --raw --hex --lines "fifo:$TMP/x"
usage_says "recv: --json --meta" "already carries" recv --json --meta "fifo:$TMP/x"
usage_says "send: --prio on fifo:" "--prio is for mq:" send --prio 3 "fifo:$TMP/x" hi
usage_says "send: --type on mq:" "--type is for sysvmq:" send --type 3 mq:/ipkt-chk-$$ hi
usage_says "recv: --type on mq:" "--type selects sysvmq:" recv --type 3 mq:/ipkt-chk-$$
usage_says "send: --print-address without --listen" "creates nothing" send --print-address "fifo:$TMP/x" hi
usage_says "recv: --print-address with --dial" "creates nothing" recv --dial --print-address "unix:$TMP/x"
usage_says "send: --no-newline on a framed address" "--no-newline is for \\?raw" send --no-newline "fifo:$TMP/x" hi
usage_says "send: --whole with only arguments" "--whole" send --whole "fifo:$TMP/x" hi
usage_says "send --listen on a FIFO" "the listener of fifo receives" send --listen "fifo:$TMP/x" hi
usage_says "recv --dial on a FIFO" "does not receive" recv --dial "fifo:$TMP/x"
expect_gone "refused commands made nothing" "$TMP/x"
[ -e /dev/mqueue/ipkt-chk-$$ ] && bad "refused commands made a queue" || ok

# send --listen on a queue destroyed the queue with the message in it
if built mq; then
	usage_says "send --listen on a queue" "add \\?persist" send --listen "mq:/ipkt-chk-$$" kept
	[ -e /dev/mqueue/ipkt-chk-$$ ] && bad "send --listen made the queue anyway" || ok
	cleanups+=("'$CLI' rm mq:/ipkt-chk-$$")
	run send --listen "mq:/ipkt-chk-$$?persist" kept 2>"$TMP/err"
	expect_status "send --listen ?persist" 0 $? "$TMP/err"
	expect_eq "the message is kept" kept "$(run recv --dial "mq:/ipkt-chk-$$" --idle 0)"
	run rm "mq:/ipkt-chk-$$" >/dev/null 2>&1
fi
if built sysvmq; then
	sysv_key 171
	usage_says "send --listen on sysvmq:" "add \\?persist" send --listen "sysvmq:$KEY" kept
	grep -qi " $KEY " /proc/sysvipc/msg && bad "send --listen made the System V queue" || ok
	# a key that is not a number is not taken for a file name
	run recv --dial --timeout 0 sysvmq:0xZZ >/dev/null 2>"$TMP/err"
	expect_status "sysvmq:0xZZ" 1 $? "$TMP/err"
	one_line "sysvmq:0xZZ message" "$TMP/err" "not hexadecimal"
fi

# relay: a relay that cannot move anything is refused before it listens,
# so nothing written to its endpoints is taken and lost
usage_says "relay: both FIFOs listening" "nothing can move" relay -a -b "fifo:$TMP/ra" "fifo:$TMP/rb"
expect_gone "refused relay made no FIFO A" "$TMP/ra"
expect_gone "refused relay made no FIFO B" "$TMP/rb"
usage_says "relay: both FIFOs dialed" "nothing can move" relay "fifo:$TMP/ra" "fifo:$TMP/rb"
usage_says "relay: A and B the same" "same endpoint" relay -a "unix:$TMP/s" "unix:$TMP/s"
usage_says "relay: --print-address, nothing created" "creates none" relay -p "unix:$TMP/s" "fifo:$TMP/rb"
usage_says "relay: pipe:" "pipe: has no address" relay pipe: "fifo:$TMP/rb"
usage_says "send: pipe:" "pipe: has no address" send pipe: hi
usage_says "recv: pipe:" "pipe: has no address" recv pipe:
if built shm; then
	usage_says "relay: two ring listeners" "nothing can move" relay -a -b "shm:/ipkt-chk-$$-a" "shm:/ipkt-chk-$$-b"
	[ -e /dev/shm/ipkt-chk-$$-a ] && bad "refused relay made a ring" || ok
fi
# a relay whose only possible direction is B to A runs that way
start_ready "$TMP/back.out" recv "fifo:$TMP/back" -n 1
back=$PID
start "$TMP/relay.out" relay -b "fifo:$TMP/back" "fifo:$TMP/front"
relay=$PID
run send --timeout 10000 "fifo:$TMP/front" "B to A" || bad "send into relay's B"
finish $back
expect_eq "relay B to A between FIFOs" "B to A" "$(cat "$TMP/back.out")"
kill -INT $(child_of $relay) 2>/dev/null
finish $relay

# help help
out=$(run help help)
expect_status "help help" 0 $?
grep -q "^usage: ipckit help" <<<"$out" && ok || bad "help help: $out"

# ------------------------------------------------ raw sends are lines
mkfifo "$TMP/plain"
exec {PLAIN}<>"$TMP/plain" # the reader: a plain program would do the same
run send --timeout 10000 "fifo:$TMP/plain?raw" hello world 2>"$TMP/err"
expect_status "send ?raw two arguments" 0 $? "$TMP/err"
run send --timeout 10000 --no-newline "fifo:$TMP/plain?raw" a b 2>"$TMP/err"
expect_status "send ?raw --no-newline" 0 $? "$TMP/err"
read -r -t 10 -u $PLAIN l1
read -r -t 10 -u $PLAIN l2
read -r -t 10 -u $PLAIN -N 2 l3
expect_eq "each raw argument is a line (--no-newline glues)" "hello|world|ab" "$l1|$l2|$l3"
read -r -t 0.2 -u $PLAIN -N 1 more && bad "more bytes than written: [$more]" || ok
exec {PLAIN}>&-

# a plain program writing text into a framed FIFO: recv says what happened
# and what to do, listens again, and serves the writers that follow
start_ready "$TMP/fr.out" recv "fifo:$TMP/framed" -n 2
fr=$PID
echo "hello there, plain text" >"$TMP/framed"
read -r -t 20 -u "$RFD" said
echo "$said" >"$TMP/fr.err"
one_line "recv says what happened" "$TMP/fr.err" "^ipckit: recv fifo:.*unframed text.*\\?raw"
run send --timeout 10000 "fifo:$TMP/framed" ok1 ok2 2>"$TMP/err"
expect_status "a framed sender after a plain writer" 0 $? "$TMP/err"
finish $fr
expect_status "recv after a plain writer" 0 $ST
expect_eq "recv serves the writers after it" $'ok1\nok2' "$(cat "$TMP/fr.out")"
expect_eq "recv said it once" "" "$(errs_of)"

# ------------------------------------------- waiting is never silent
# script(1) gives the command a terminal; its output is what a person sees
on_tty() { # SECONDS COMMAND...: run ipckit on a terminal, print what it showed
	local s=$1
	shift
	script -qec "timeout -s INT $s $(printf '%q ' "$CLI" "$@")" /dev/null 2>&1 | tr -d '\r'
}
notice="ipckit: send fifo:$TMP/typo: waiting for a listener (Ctrl-C to stop, --timeout MS to give up)"
out=$(on_tty 2 send "fifo:$TMP/typo" hi)
grep -qxF "$notice" <<<"$out" && ok || bad "no waiting notice on a terminal: [$out]"
expect_eq "the notice comes once" 1 "$(grep -c "waiting for a listener" <<<"$out")"
out=$(on_tty 2 send --quiet "fifo:$TMP/typo" hi)
grep -q "waiting" <<<"$out" && bad "--quiet still said: $out" || ok
out=$(on_tty 2 send --timeout 500 "fifo:$TMP/typo" hi)
grep -q "waiting for" <<<"$out" && bad "a wait shorter than a second was announced: $out" || ok
mkfifo "$TMP/stale"
out=$(on_tty 2 send "fifo:$TMP/stale" hi)
grep -q "ipckit: send fifo:$TMP/stale: waiting for a listener" <<<"$out" && ok ||
	bad "no notice for a FIFO nobody reads: [$out]"
out=$(on_tty 2 recv --dial "unix:$TMP/typo.sock")
grep -q "ipckit: recv unix:$TMP/typo.sock: waiting for a listener" <<<"$out" && ok ||
	bad "no notice for recv --dial: [$out]"
# not on a terminal: nothing but the final failure
run send --timeout 1500 "fifo:$TMP/typo" hi 2>"$TMP/err"
expect_status "send to nothing, timed out" 1 $?
one_line "send to nothing: one line, no notice" "$TMP/err" "no FIFO at $TMP/typo"

# the library's account of a full queue is kept, with the command's context
if built sysvmq; then
	sysv_key 172
	run send --listen "sysvmq:$KEY?persist&qbytes=64" 0123456789012345678901234567890 2>"$TMP/err" ||
		bad "make a small queue: $(cat "$TMP/err")"
	run send "sysvmq:$KEY" 0123456789012345678901234567890 2>"$TMP/err" || bad "fill it: $(cat "$TMP/err")"
	run send -t 300 "sysvmq:$KEY" more >/dev/null 2>"$TMP/err"
	expect_status "send -t 300 to a full queue" 1 $? "$TMP/err"
	one_line "full queue: the command's words" "$TMP/err" "did not take the message within 300 ms"
	grep -q "is full: 2 messages" "$TMP/err" && grep -q "kernel.msgmnb" "$TMP/err" && ok ||
		bad "full queue: the library's account is missing: $(cat "$TMP/err")"
	run rm "sysvmq:$KEY" >/dev/null
fi

# --------------------------------------------- lock and flock(1) users
L=$TMP/lockfile
mkfifo "$TMP/held" "$TMP/go"
flock "$L" sh -c "echo held > '$TMP/held'; read x < '$TMP/go'" &
fl=$!
read -r -t 20 x <"$TMP/held"
out=$(run lock --timeout 0 "$L" -- echo got 2>"$TMP/err")
expect_status "lock while flock(1) holds it" 1 $? "$TMP/err"
expect_eq "the command did not run" "" "$out"
out=$(run lock --fcntl --timeout 0 "$L" -- echo got 2>"$TMP/err")
expect_status "lock --fcntl beside flock(1) (another kind)" 0 $? "$TMP/err"
expect_eq "lock --fcntl ran the command" got "$out"
echo go >"$TMP/go"
wait $fl
# the other way round: flock(1) waits for ipckit lock's holder
run lock "$L" -- sh -c "echo held > '$TMP/held'; read x < '$TMP/go'" &
lk=$!
read -r -t 20 x <"$TMP/held"
flock -n "$L" true
expect_status "flock -n while ipckit lock holds it" 1 $?
python3 -c 'import fcntl, sys; f = open(sys.argv[1], "r+"); fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)' "$L" 2>/dev/null
expect_status "a lockf user is not excluded by the flock(2) default" 0 $?
echo go >"$TMP/go"
finish $lk
expect_status "ipckit lock" 0 $ST
run lock --fcntl "$L" -- sh -c "echo held > '$TMP/held'; read x < '$TMP/go'" &
lk=$!
read -r -t 20 x <"$TMP/held"
python3 -c 'import fcntl, sys; f = open(sys.argv[1], "r+"); fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)' "$L" 2>/dev/null
expect_status "lock --fcntl excludes a lockf user" 1 $?
python3 -c 'import fcntl, sys; f = open(sys.argv[1], "r+"); fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 100)' "$L" 2>/dev/null
expect_status "lock --fcntl holds the whole file" 1 $?
echo go >"$TMP/go"
finish $lk
run lock --range 0:10 "$L" -- sh -c "echo held > '$TMP/held'; read x < '$TMP/go'" &
lk=$!
read -r -t 20 x <"$TMP/held"
python3 -c 'import fcntl, sys; f = open(sys.argv[1], "r+"); fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 100)' "$L" 2>/dev/null
expect_status "lock --range 0:10 leaves byte 100 free" 0 $?
python3 -c 'import fcntl, sys; f = open(sys.argv[1], "r+"); fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB, 5, 0)' "$L" 2>/dev/null
expect_status "lock --range 0:10 holds byte 5" 1 $?
echo go >"$TMP/go"
finish $lk
usage_says "lock --range nonsense" "--range needs" lock --range x "$L" -- true
out=$(run help lock)
grep -q "flock(1)" <<<"$out" && grep -q -- "--fcntl" <<<"$out" && ok || bad "help lock does not say which programs each kind excludes"

# ---------------------------------------- output that cannot be written
full() { # NAME ARGS...: exit 1, one line about stdout
	local name=$1
	shift
	run "$@" >/dev/full 2>"$TMP/err"
	expect_status "$name > /dev/full" 1 $? "$TMP/err"
	one_line "$name > /dev/full: message" "$TMP/err" "No space left on device"
}
full "--help" --help
full "--version" --version
full "help recv" help recv
full "recv --help" recv --help
full "ls" ls
full "demo" demo
cleanups+=("'$CLI' sem rm sem:/ipkt-chk-$$")
run sem create "sem:/ipkt-chk-$$" --value 2
full "sem get" sem get "sem:/ipkt-chk-$$"
full "sem get --json" sem get --json "sem:/ipkt-chk-$$"
start_ready /dev/full recv "unix:$TMP/full.sock" -n 1
run send --timeout 10000 "$ADDR" hi
finish $PID
expect_status "recv > /dev/full" 1 $ST
errs_of | grep -q "No space left on device" && ok || bad "recv > /dev/full said nothing"

# ------------------------------------------------------------- --json
json_ok() { jq -e "$2" >/dev/null 2>&1 <<<"$3" && ok || bad "$1: $3 fails $2"; }
out=$(run sem get --json "sem:/ipkt-chk-$$")
json_ok "sem get --json" '.url == "sem:/ipkt-chk-'$$'" and .value == 2 and .index == 0 and .semaphores == 1' "$out"
run sem rm "sem:/ipkt-chk-$$"
out=$(run demo --json)
json_ok "demo --json" '(.schemes | length) >= 11 and ([.schemes[] | select(.scheme == "fifo")][0].result == "ok") and .failed == 0' "$out"

# recv --json over unixgram (the sender's pid and uid are known): text,
# binary and empty messages
start_ready "$TMP/j.out" recv "unixgram:$TMP/j.dg" -n 3 --json
run send --timeout 10000 "$ADDR" "héllo \"q\"" "" || bad "send json"
printf 'a\xff\x00b' | run send --whole --timeout 10000 "$ADDR" || bad "send binary"
finish $PID
expect_status "recv --json" 0 $ST
mapfile -t lines <"$TMP/j.out"
expect_eq "recv --json: a line per message" 3 "${#lines[@]}"
json_ok "text message" '.encoding == "utf-8" and .data == "héllo \"q\"" and .size == 10 and (.pid | type) == "number" and .uid == '"$(id -u)"' and .type == null and .prio == null and (.time | type) == "number" and .conn == null' "${lines[0]:-}"
json_ok "empty message" '.encoding == "utf-8" and .data == "" and .size == 0' "${lines[1]:-}"
json_ok "binary message" '.encoding == "base64" and .data == "Yf8AYg==" and .size == 4' "${lines[2]:-}"
if built sysvmq; then
	sysv_key 173
	run send --listen --type 5 "sysvmq:$KEY?persist" typed
	out=$(run recv --dial --json -n 1 "sysvmq:$KEY")
	json_ok "sysvmq type in --json" '.type == 5 and .prio == null and .data == "typed"' "$out"
	run rm "sysvmq:$KEY" >/dev/null
fi
if built mq; then
	run send --listen --prio 4 "mq:/ipkt-chk-$$-j?persist" pri
	cleanups+=("'$CLI' rm mq:/ipkt-chk-$$-j")
	out=$(run recv --dial --json -n 1 "mq:/ipkt-chk-$$-j")
	json_ok "mq prio in --json" '.prio == 4 and .type == null and .data == "pri"' "$out"
	run rm "mq:/ipkt-chk-$$-j" >/dev/null
fi
start_ready "$TMP/j.out" recv tcp://127.0.0.1:0 -n 1 --json
run send --timeout 10000 "$ADDR" t
finish $PID
json_ok "tcp: no pid in --json" '.pid == null and .uid == null and .conn == 1' "$(cat "$TMP/j.out")"

summary

#!/usr/bin/env bash
# ipckit req / rep / push / pull from the shell, the way a person uses
# them: a command as an RPC server, its exit status back in req's, several
# requests at once, a time limit, nng's nngcat on either side.
TEST_TAG=protocli . "$(dirname "$0")/cli_util.sh"

# serve OUT ARGS...: `ipckit rep ARGS... --print-address` in the background;
# ADDR is the address it prints (the one requesters dial)
serve() {
	local out=$1
	shift
	rm -f "$out.err" # a fresh file: the last server's address must not be read
	run rep "$@" >"$out" 2>"$out.err" &
	PID=$!
	pids+=("$PID")
	ADDR=
	for ((i = 0; i < 300; i++)); do
		ADDR=$(head -n1 "$out.err" 2>/dev/null)
		[ -n "$ADDR" ] && break
		sleep 0.02
	done
	[ -n "$ADDR" ] || bad "rep $* did not start: $(cat "$out.err")"
}

# ------------------------------------------------- a command as a server
serve "$TMP/up" "unix:$TMP/up.sock" -p -n 3 -- sh -c 'tr a-z A-Z; exit 3'
got=$(run req "$ADDR" hello world)
st=$?
expect_eq "replies" $'HELLO\nWORLD' "$got"
expect_eq "req exits with the command's status" 3 $st
got=$(echo third | run req -m "$ADDR")
# the command read "third" as a line, so its reply is one: 6 bytes
expect_eq "stdin line and --meta" $'# len=6 status=3\nTHIRD' "$got"
wait "$PID"
expect_eq "rep -n 3 exits 0" 0 $?
[ -e "$TMP/up.sock" ] && bad "rep left its socket" || ok

# ----------------------------------------- -j: requests run side by side
# each command waits until three of them run at once: with -j 3 they all
# finish; one at a time they could not
mkdir "$TMP/bar"
serve "$TMP/par" "tcp://127.0.0.1:0" -p -j 3 -n 3 -T 20000 -- sh -c \
	"touch $TMP/bar/\$\$; while [ \$(ls $TMP/bar | wc -l) -lt 3 ]; do sleep 0.02; done; cat"
for i in 1 2 3; do
	run req -t 30000 "$ADDR" "job$i" >"$TMP/par.$i" &
	pids+=($!)
done
for i in 1 2 3; do wait "${pids[-$i]}"; done
expect_eq "concurrent replies" "job1 job2 job3" \
	"$(cat "$TMP/par.1" "$TMP/par.2" "$TMP/par.3" | tr '\n' ' ' | sed 's/ $//')"
wait "$PID"
expect_eq "rep -j 3 exits 0" 0 $?

# ------------------------- a server killed and restarted while req waits
# A ring has no connection whose loss tells the client: only the resend
# brings the request to the new server. With req's defaults (-t, and no
# -R) that resend must come before -t runs out.
R="shm:/ipkt-protocli-rs-$$"
serve "$TMP/rs" "$R" -p -- sh -c "touch $TMP/rs.began; exec sleep 8"
run req -t 8000 "$R" again >"$TMP/rs.out" 2>"$TMP/rs.err" &
REQ=$!
pids+=("$REQ")
for ((i = 0; i < 500; i++)); do [ -e "$TMP/rs.began" ] && break; sleep 0.02; done
[ -e "$TMP/rs.began" ] || bad "the request did not reach the first server"
# the server itself, killed at once (found below run's subshell and
# timeout by its name; its command's sleep is left to end by itself)
srv=
for p in $(child_of "$PID"); do
	for q in $p $(child_of $p); do
		[ "$(cat /proc/$q/comm 2>/dev/null)" = ipckit ] && srv=$q
	done
done
[ -n "$srv" ] && kill -9 "$srv" || bad "no rep process under $PID"
wait "$PID" 2>/dev/null
serve "$TMP/rs2" "$R" -p -n 1 --echo
finish "$REQ"
expect_eq "req with default options finds the restarted server" \
	"0 again" "$ST $(cat "$TMP/rs.out")"
wait "$PID"
expect_eq "the restarted server exits 0" 0 $?
# the dead server's ring, taken over, may still hold a message (a request
# the dead server had taken, the client's goodbye) and is then left for
# the next listener (docs/channels.md, "Ownership and cleanup"): ours to
# remove; the client's reply ring went with the client
run rm --force "$R" >/dev/null 2>&1
left=$(ls /dev/shm | grep -c "^ipkt-protocli-rs-$$")
expect_eq "no ring left behind" 0 "$left"

# ------------------------------------------------------ the time limit
serve "$TMP/slow" "unix:$TMP/slow.sock" -p -n 1 -T 300 -- sh -c 'echo started; exec sleep 30'
got=$(run req -t 20000 "$ADDR" x)
st=$?
expect_eq "output before the limit" "started" "$got"
expect_eq "status 124 past the limit" 124 $st
wait "$PID"
grep -q "ran past the 300 ms limit" "$TMP/slow.err" && ok || bad "no note of the limit: $(cat "$TMP/slow.err")"

# ---------------------------------- a command that cannot run: status 127
serve "$TMP/none" "unix:$TMP/none.sock" -p -n 1 -- /nonexistent/command
run req "$ADDR" x >/dev/null
expect_eq "status 127" 127 $?
wait "$PID"

# -------------------------------------------------------- every mailbox
touch "$TMP/key"
for url in "unixgram:$TMP/g" "sysvmq:$TMP/key?proj=$((($$ % 200) + 1))" \
           "mq:/ipkt-protocli-$$?msgsize=1024&maxmsg=8" "fifo:$TMP/f" \
           "shm:/ipkt-protocli-$$"; do
	serve "$TMP/mb" "$url" -p -n 2 -j 2 -- cat
	got=$(run req "$ADDR" one two)
	expect_eq "$url" $'one\ntwo' "$got"
	wait "$PID"
	expect_eq "$url: rep exits 0" 0 $?
done
ls /dev/shm | grep -q "ipkt-protocli-$$" && bad "shm left behind: $(ls /dev/shm | grep ipkt-protocli-$$)" || ok
# POSIX queues (the server's and the clients' reply queues, NAME.r<pid>.<nonce>)
# and their owner records: listed through a private mount of the queue
# file system where the machine allows one
left=$(unshare --mount sh -c 'd=$(mktemp -d) && mount -t mqueue none "$d" 2>/dev/null ||
	exit 0; ls "$d"; umount "$d"; rmdir "$d"' 2>/dev/null | grep "ipkt-protocli-$$")
left+=$(ls -a /dev/shm | grep "\.mq\..*ipkt-protocli-$$")
[ -z "$left" ] && ok || bad "POSIX queues or their records left behind: $left"

# ------------------------------------------------------------- nngcat
if command -v nngcat >/dev/null; then
	for scheme in unix tcp; do
		if [ $scheme = unix ]; then url=unix:$TMP/nng.sock nurl=ipc://$TMP/nng.sock
		else url="tcp://127.0.0.1:0"; fi
		serve "$TMP/echo" "$url" -p --echo -n 2
		[ $scheme = tcp ] && nurl=${ADDR%%\?*}
		# one request per nngcat: with --count it can fail computing its
		# own receive timeout between requests
		for word in ping pong; do
			got=$(timeout 30 nngcat --req0 --dial "$nurl" --data $word \
				--recv-timeout 10 --quoted)
			expect_eq "nngcat --req0 against rep --echo ($scheme)" "\"$word\"" "$got"
		done
		wait "$PID"
	done
	timeout 30 nngcat --rep0 --listen "ipc://$TMP/nrep.sock" --data pong \
		--count 1 >/dev/null &
	pids+=($!)
	got=$(run req -t 20000 "unix:$TMP/nrep.sock" ping)
	expect_eq "req against nngcat --rep0" "pong" "$got"
fi

# -------------------------------------------------------- push and pull
run pull "unix:$TMP/pp.sock" -n 3 >"$TMP/pulled" &
PID=$!
pids+=("$PID")
run push -t 20000 "unix:$TMP/pp.sock" a b c
expect_eq "push exits 0" 0 $?
wait "$PID"
expect_eq "pulled" $'a\nb\nc' "$(cat "$TMP/pulled")"

# ------------------------------------------------------------ mistakes
run rep "unix:$TMP/x.sock" 2>/dev/null
expect_eq "rep without a command" 2 $?
run rep "unix:$TMP/x.sock" --echo -- cat 2>/dev/null
expect_eq "rep --echo with a command" 2 $?
run req "unix:$TMP/x.sock?proto=rep" hi 2>/dev/null
expect_eq "req on a rep address" 2 $?
err=$(run req -t 300 "unix:$TMP/nobody.sock" hi 2>&1)
expect_eq "req with no server" 1 $?
case "$err" in *"no server"*|*"cannot connect"*) ok ;; *) bad "no server: [$err]" ;; esac
# errors name the address as typed, not with the options req, rep and push
# add themselves (?proto=, ?resend=)
for cmd in "req -t 300 @ hi" "rep @ --echo" "push -t 300 @ hi"; do
	err=$(run ${cmd/@/"unix:$TMP/nobody.sock?bogus=1"} 2>&1)
	case "$err" in
	*proto=* | *resend=*) bad "$cmd quotes options it added: [$err]" ;;
	*"unix:$TMP/nobody.sock?bogus=1"*"unknown option 'bogus'"*) ok ;;
	*) bad "$cmd with a bad option: [$err]" ;;
	esac
done
err=$(run req -t 300 "unix:$TMP/nobody.sock" hi 2>&1)
case "$err" in *proto=* | *resend=*) bad "req quotes options it added: [$err]" ;; *) ok ;; esac

summary

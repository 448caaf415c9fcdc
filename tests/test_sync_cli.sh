#!/usr/bin/env bash
# ipckit sem and ipckit lock from the shell: results, exit codes, one-line
# errors, timeouts. Everything made here is removed; the end checks that no
# semaphore of ours is left in /dev/shm or /proc/sysvipc/sem.
set -u
CLI=${IPK_CLI:?run through ctest (IPK_CLI unset)}
tag="ipkt-$$"
dir=$(mktemp -d /tmp/ipkt-$$-cli.XXXXXX)
fails=0
pids=()

key=$(printf '0x1d%04x01' $(( $$ & 0xffff )))

cleanup() {
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	for f in /dev/shm/sem.$tag-*; do [ -e "$f" ] && rm -f "$f"; done
	"$CLI" sem rm "sysvsem:$key" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# expect STATUS CMD...: run, compare exit status, keep stdout/stderr
expect() {
	local want=$1; shift
	"$@" >"$dir/out" 2>"$dir/err"
	local got=$?
	if [ "$got" != "$want" ]; then
		fail "'$*' exited $got, expected $want; stderr: $(cat "$dir/err")"
		return 1
	fi
	return 0
}
out() { cat "$dir/out"; }
err() { cat "$dir/err"; }
err_has() {
	grep -q -- "$1" "$dir/err" || fail "stderr of last command lacks '$1': $(err)"
	[ "$(wc -l <"$dir/err")" -le 1 ] || fail "error is not one line: $(err)"
}

# ------------------------------------------------------------- sem: POSIX
S="sem:/$tag-a"
expect 0 "$CLI" sem create "$S" --value 2 --mode 0640
[ "$(stat -c %a /dev/shm/sem.$tag-a)" = 640 ] || fail "mode is not 0640"
expect 0 "$CLI" sem get "$S" && [ "$(out)" = 2 ] || fail "get: '$(out)' not 2"
expect 1 "$CLI" sem create "$S"
err_has "ipckit: sem create $S: "
err_has "already exists"
expect 0 "$CLI" sem wait "$S"
expect 0 "$CLI" sem wait "$S" --timeout 1000
expect 0 "$CLI" sem get "$S" && [ "$(out)" = 0 ] || fail "get after waits"
start=$(date +%s%N)
expect 1 "$CLI" sem wait "$S" --timeout 300
err_has "ipckit: sem wait $S: timed out after 300 ms"
[ $(( ($(date +%s%N) - start) / 1000000 )) -ge 300 ] || fail "wait returned early"
expect 1 "$CLI" sem wait "$S" --timeout 0
err_has "not waiting"
expect 0 "$CLI" sem post "$S"
expect 0 "$CLI" sem get "$S" && [ "$(out)" = 1 ] || fail "get after post"

# a waiter in the background is released by a post
"$CLI" sem wait "$S" --timeout 60000 && "$CLI" sem wait "$S" --timeout 60000 &
w=$!
pids+=("$w")
expect 0 "$CLI" sem post "$S"
wait "$w" || fail "background waiter failed"

expect 0 "$CLI" sem rm "$S"
[ ! -e /dev/shm/sem.$tag-a ] || fail "rm left /dev/shm/sem.$tag-a"
expect 1 "$CLI" sem get "$S"
err_has "ipckit: sem get $S: no semaphore"
expect 1 "$CLI" sem rm "$S"
err_has "no semaphore"

# ?value= in the address, default mode 0600
expect 0 "$CLI" sem create "sem:/$tag-b?value=5"
[ "$(stat -c %a /dev/shm/sem.$tag-b)" = 600 ] || fail "default mode not 0600"
expect 0 "$CLI" sem get "sem:/$tag-b" && [ "$(out)" = 5 ] || fail "?value=5"
expect 0 "$CLI" sem rm "sem:/$tag-b"

# --------------------------------------------------------- sem: System V
V="sysvsem:$key?n=2"
expect 0 "$CLI" sem create "$V" --value 1
expect 0 "$CLI" sem get "sysvsem:$key" --index 1 && [ "$(out)" = 1 ] || fail "sysv get index 1"
expect 0 "$CLI" sem wait "sysvsem:$key" --index 1
# no SEM_UNDO in the CLI: the wait stays after the command exits
expect 0 "$CLI" sem get "sysvsem:$key" --index 1 && [ "$(out)" = 0 ] || fail "undo reverted the CLI's wait"
expect 1 "$CLI" sem wait "sysvsem:$key" --index 1 --timeout 200
err_has "timed out after 200 ms"
expect 0 "$CLI" sem post "sysvsem:$key" --index 1
expect 1 "$CLI" sem get "sysvsem:$key" --index 2
err_has "the set has 2 semaphores"
expect 0 "$CLI" sem rm "sysvsem:$key"
expect 1 "$CLI" sem get "sysvsem:$key"
err_has "no System V semaphore set"

# private set: created, printed, reachable by id, removed by id
expect 0 "$CLI" sem create sysvsem:private --value 3
P=$(out)
case "$P" in sysvsem:@[0-9]*) ;; *) fail "private create printed '$P'" ;; esac
expect 0 "$CLI" sem get "$P" && [ "$(out)" = 3 ] || fail "get $P"
expect 0 "$CLI" sem rm "$P"

# ------------------------------------------------------- sem: bad input
expect 2 "$CLI" sem
expect 2 "$CLI" sem frobnicate "$S"
err_has "unknown action"
expect 2 "$CLI" sem create
err_has "missing URL"
expect 2 "$CLI" sem create "sem:/$tag-c" --value -1
err_has "cannot be negative"
expect 2 "$CLI" sem create "sem:/$tag-c" --mode 999
expect 2 "$CLI" sem wait "$S" --timeout abc
expect 2 "$CLI" sem post "$S" --value 3
expect 2 "$CLI" sem get "$S" "$S"
expect 2 "$CLI" sem get --bogus "$S"
expect 1 "$CLI" sem create "sem:/$tag-c?value=-4"
err_has "cannot be negative"
expect 1 "$CLI" sem create "sem:noslash"
expect 1 "$CLI" sem get "fifo:/tmp/x"
err_has "not a semaphore"
[ ! -e /dev/shm/sem.$tag-c ] || fail "bad input created sem.$tag-c"
expect 0 "$CLI" help sem
expect 0 "$CLI" sem --help

# ------------------------------------------------------------------ lock
L="$dir/lockfile"
expect 0 "$CLI" lock "$L" -- true
[ "$(stat -c %a "$L")" = 600 ] || fail "lock file mode is not 0600"
expect 3 "$CLI" lock "$L" -- sh -c 'exit 3'
expect 0 "$CLI" lock "$L" -- sh -c 'echo hello' && [ "$(out)" = hello ] || fail "output"
expect 0 "$CLI" lock "$L" echo no dashes && [ "$(out)" = "no dashes" ] || fail "no --"
expect 127 "$CLI" lock "$L" -- /nonexistent/program
err_has "cannot run"
expect $((128 + 15)) "$CLI" lock "$L" -- sh -c 'kill -TERM $$'

# a holder in the background; others time out, then get it when it ends
mkfifo "$dir/ready" "$dir/go"
hold() { # hold [OPTIONS]: the command reports its pid, then waits for "go"
	"$CLI" lock "$L" "$@" -- sh -c "echo \$\$ > '$dir/ready'; read x < '$dir/go'" &
	holder=$!
	pids+=("$holder")
	read -r cmdpid <"$dir/ready"
	pids+=("$cmdpid")
}
hold
start=$(date +%s%N)
expect 1 "$CLI" lock "$L" --timeout 300 -- true
err_has "ipckit: lock $L: timed out after 300 ms"
[ $(( ($(date +%s%N) - start) / 1000000 )) -ge 300 ] || fail "lock timeout returned early"
expect 1 "$CLI" lock "$L" --timeout 0 -- true
err_has "not waiting"
expect 1 "$CLI" lock "$L" --shared --timeout 0 -- true
echo go >"$dir/go"
wait "$holder" || fail "holder failed"
expect 0 "$CLI" lock "$L" --timeout 10000 -- true

# shared holders run together
hold --shared
expect 0 "$CLI" lock "$L" --shared --timeout 0 -- true
expect 1 "$CLI" lock "$L" --timeout 0 -- true
echo go >"$dir/go"
wait "$holder" || fail "shared holder failed"

# SIGKILL to ipckit: the command still holds the lock (it inherited it),
# until it is killed too; then the lock is free
hold
kill -KILL "$holder"
wait "$holder" 2>/dev/null
expect 1 "$CLI" lock "$L" --timeout 0 -- true
kill -KILL "$cmdpid"
expect 0 "$CLI" lock "$L" --timeout 10000 -- true

# --close: ipckit alone holds it, so killing ipckit frees it at once
hold --close
kill -KILL "$holder"
wait "$holder" 2>/dev/null
expect 0 "$CLI" lock "$L" --timeout 10000 -- true
echo go >"$dir/go" # let the orphaned command finish

# a signal sent to ipckit reaches the command
"$CLI" lock "$L" -- sh -c "trap 'exit 7' TERM; echo \$\$ > '$dir/ready'; while :; do sleep 0.05; done" &
holder=$!
pids+=("$holder")
read -r cmdpid <"$dir/ready"
pids+=("$cmdpid")
kill -TERM "$holder"
wait "$holder"
[ $? = 7 ] || fail "SIGTERM was not passed on to the command"

expect 2 "$CLI" lock
err_has "missing PATH"
expect 2 "$CLI" lock "$L"
err_has "missing COMMAND"
expect 2 "$CLI" lock "$L" --timeout x -- true
expect 2 "$CLI" lock "$L" --bogus -- true
expect 1 "$CLI" lock /nonexistent-dir/x -- true
err_has "ipckit: lock /nonexistent-dir/x: "
expect 0 "$CLI" help lock

# started with SIGCHLD ignored (inherited across exec), lock still sees its
# command exit instead of waiting forever with the lock held
timeout 10 python3 -c 'import os, signal, sys
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
os.execv(sys.argv[1], sys.argv[1:])' "$CLI" lock "$L" -- true ||
	fail "lock with SIGCHLD ignored did not finish"

# ------------------------------------------------------------- leftovers
ls /dev/shm | grep -q "^sem\.$tag-" && fail "semaphores left in /dev/shm"
awk -v k="$(( key ))" 'NR>1 && $1 == k { found=1 } END { exit !found }' \
	/proc/sysvipc/sem && fail "System V set $key left behind"

if [ "$fails" -ne 0 ]; then
	echo "$fails failure(s)" >&2
	exit 1
fi
echo "test_sync_cli: all passed"

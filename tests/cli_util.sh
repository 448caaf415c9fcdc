# Helpers for the shell tests of the ipckit command-line tool (sourced by
# tests/test_cli_*.sh; run by ctest with IPK_CLI set). They run the built
# binary the way a person would and wait on events, never on sleeps.
set -u
CLI=${IPK_CLI:?run through ctest (IPK_CLI = path of the ipckit binary)}
TMP=$(mktemp -d /tmp/ipkt-${TEST_TAG:-cli}-$$-XXXXXX) || exit 1
pass=0 fail=0
pids=() cleanups=()
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

cleanup() {
	local p c
	for p in "${pids[@]}"; do
		# `run ... &` is a subshell whose child (timeout) runs ipckit: a
		# signal to the subshell alone would leave ipckit running until the
		# time limit, and ctest waiting for its output
		kill $(child_of "$p") 2>/dev/null
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	for c in "${cleanups[@]}"; do eval "$c" >/dev/null 2>&1; done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# Every command runs under a time limit so a hang fails instead of blocking;
# the limit's signal is SIGINT, the one the tool handles.
run() { timeout -s INT -k 5 60 "$CLI" "$@"; }

# start OUT CMD...: `ipckit CMD...` in the background, stdout to OUT and
# stderr to OUT.err. Sets PID.
start() {
	local out=$1
	shift
	run "$@" >"$out" 2>"$out.err" &
	PID=$!
	pids+=("$PID")
}

# start_ready OUT CMD...: like start, with --print-address; waits for the
# address the command prints once it listens (read from a FIFO, so there is
# no polling) and sets ADDR. The rest of stderr stays in the FIFO (RFD).
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
errs_of() { # what the command behind RFD wrote to stderr since
	local line
	while read -r -t 0.2 -u "$RFD" line; do echo "$line"; done
}

# the ipckit that the `run` wrapper PID started
child_of() { cat /proc/"$1"/task/*/children 2>/dev/null; }

# finish PID: wait for it; sets ST to its exit status.
finish() { wait "$1"; ST=$?; }

expect_eq() { # NAME EXPECTED ACTUAL
	if [ "$2" == "$3" ]; then ok; else
		bad "$1: expected [$(printf %q "$2")] got [$(printf %q "$3")]"
	fi
}
expect_status() { # NAME EXPECTED ACTUAL [stderr file]
	if [ "$2" -eq "$3" ]; then ok; else
		bad "$1: exit status $3, expected $2 ${4:+($(cat "$4" 2>/dev/null))}"
	fi
}
expect_gone() { # NAME PATH
	[ ! -e "$2" ] && [ ! -L "$2" ] && ok || bad "$1: $2 was left behind"
}
# one_line NAME FILE PATTERN: FILE holds exactly one line, matching PATTERN
one_line() {
	local n
	n=$(wc -l <"$2")
	if [ "$n" -ne 1 ]; then bad "$1: stderr has $n lines: $(cat "$2")"; return; fi
	grep -qE -- "$3" "$2" && ok || bad "$1: stderr [$(cat "$2")] does not match /$3/"
}
# usage NAME ARGS...: exit 2 with one line on stderr
usage() {
	local name=$1
	shift
	run "$@" >/dev/null 2>"$TMP/err"
	expect_status "$name" 2 $? "$TMP/err"
	one_line "$name" "$TMP/err" "^ipckit: "
}
# usage_says NAME PATTERN ARGS...: exit 2, the one line matching PATTERN
usage_says() {
	local name=$1 pat=$2
	shift 2
	run "$@" >/dev/null 2>"$TMP/err"
	expect_status "$name" 2 $? "$TMP/err"
	one_line "$name" "$TMP/err" "$pat"
}

built() { # is the scheme built into this ipckit?
	"$CLI" --help | grep -E "^  $1 " | grep -vq "not built"
}

# A System V key unique to this run (NUM 1..255), removed at exit.
sysv_key() {
	KEY=$(printf '0x%02x%06x' "$1" $(($$ & 0xffffff)))
	cleanups+=("ipcrm -Q $KEY; ipcrm -M $KEY")
}

summary() {
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}

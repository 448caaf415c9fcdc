#!/usr/bin/env bash
# Plain programs (nc, socat) writing text into a framed unix:/tcp: listener
# run by `ipckit recv`: the text peer is dropped at once and told why, recv
# says so on stderr, and a proper sender is still served.
TEST_TAG=sockcli . "$(dirname "$0")/cli_util.sh"
need() { command -v "$1" >/dev/null || { echo "SKIP: $1 is not installed"; exit 0; }; }
need socat

# start recv with --print-address; ADDR gets the address it listens on
start_recv() {
	local out=$1
	shift
	run recv "$@" --print-address >"$out" 2>"$out.err.fifo" &
	PID=$!
	pids+=("$PID")
	# stderr goes through a FIFO we copy to a file, first line is the address
	cat <"$out.err.fifo" >"$out.err" &
	COPIER=$!
	pids+=("$COPIER")
	ADDR=
	for ((i = 0; i < 100; i++)); do
		ADDR=$(head -n1 "$out.err" 2>/dev/null)
		[ -n "$ADDR" ] && break
		sleep 0.1
	done
}

for scheme in unix tcp; do
	out=$TMP/$scheme.out
	mkfifo "$out.err.fifo"
	if [ $scheme = unix ]; then url=unix:$TMP/s.sock; else url=tcp://127.0.0.1:0; fi
	start_recv "$out" "$url" -n 1 --timeout 20000
	[ -n "$ADDR" ] || { bad "$scheme: recv did not start"; continue; }
	if [ $scheme = unix ]; then peer=UNIX-CONNECT:${ADDR#unix:}; else peer=TCP:${ADDR#tcp://}; fi
	t0=$(date +%s%N)
	told=$(printf 'hello from a shell\n' | timeout 10 socat -t 5 - "$peer" 2>&1)
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	case "$told" in
	*"unframed text from a plain program; listen with ?raw"*) ok ;;
	*) bad "$scheme: socat was told [$told]" ;;
	esac
	[ "$ms" -lt 5000 ] && ok || bad "$scheme: the text peer waited $ms ms to be dropped"
	run send --timeout 10000 "$ADDR" "framed message"
	[ $? -eq 0 ] && ok || bad "$scheme: send after the text peer failed"
	wait "$PID"
	st=$?
	wait "$COPIER" # recv has exited: the copy of its stderr is complete
	[ $st -eq 0 ] && ok || bad "$scheme: recv exited $st"
	[ "$(cat "$out")" == "framed message" ] && ok || bad "$scheme: recv printed [$(cat "$out")]"
	grep -q "warning: .*dropped a connection: the peer sent \"hello from a shell" "$out.err" &&
		ok || bad "$scheme: recv's stderr: [$(cat "$out.err")]"
done

summary

#!/usr/bin/env bash
# ipckit rep / req as the docs show them: the RPC example with bc (a
# request is a line on CMD's stdin, a reply printed on a line of its own,
# never followed by an empty one), and a REP server on a FIFO that a plain
# program writes garbage into (dropped with a warning, the server goes on).
TEST_TAG=rpcsh . "$(dirname "$0")/cli_util.sh"
# exact bytes (od), so a missing or doubled newline shows
expect_bytes() { [ "$(printf %s "$2" | od -c)" == "$(printf %s "$3" | od -c)" ] && ok || bad "$1: expected [$(printf %q "$2")] got [$(printf %q "$3")]"; }

# ------------------------------------------- docs/cli.md: rep -- bc, req
if command -v bc >/dev/null; then
	run rep "unix:$TMP/calc.sock" -j 4 -- bc 2>"$TMP/calc.err" &
	pids+=($!)
	# req waits for the server (its -t); the whole output, every byte
	got=$(run req "unix:$TMP/calc.sock" '2+2' '3*7' | od -c)
	expect_bytes "the documented example" "$(printf '4\n21\n' | od -c)" "$got"
	got=$(printf '1+1\n5*5\n' | run req "unix:$TMP/calc.sock" | od -c)
	expect_bytes "stdin lines" "$(printf '2\n25\n' | od -c)" "$got"
	grep -q "syntax error" "$TMP/calc.err" && bad "bc saw a broken line: $(cat "$TMP/calc.err")" || ok
else
	bad "bc is not installed (scripts/setup.sh installs it)"
fi

# a reply that ends in a newline is printed as it is; one without gets one
run rep "unix:$TMP/e.sock" -- sh -c 'echo four' &
pids+=($!)
expect_bytes "a line reply" $'four\n.' "$(run req "unix:$TMP/e.sock" x; echo .)"
run rep "unix:$TMP/n.sock" -- printf five 2>/dev/null &
pids+=($!)
expect_bytes "a reply without newline" $'five\n.' "$(run req "unix:$TMP/n.sock" x; echo .)"
expect_bytes "--raw: exactly" 'five.' "$(run req -r "unix:$TMP/n.sock" x; echo .)"
# what CMD reads: the request and a newline, or with rep -r exactly it
run rep "unix:$TMP/w.sock" -- wc -c &
pids+=($!)
expect_bytes "CMD reads a line" '4' "$(run req "unix:$TMP/w.sock" abc | tr -d ' \n')"
expect_bytes "a request with its newline gets none" '4' \
	"$(run req -w "unix:$TMP/w.sock" < <(printf 'abc\n') | tr -d ' \n')"
run rep "unix:$TMP/r.sock" -r -- wc -c &
pids+=($!)
expect_bytes "rep -r: exactly the request" '3' "$(run req "unix:$TMP/r.sock" abc | tr -d ' \n')"

# ------------------------- garbage into a REP server's FIFO: dropped
run rep "fifo:$TMP/hf" --echo 2>"$TMP/hf.err" &
SRV=$!
pids+=($SRV)
expect_bytes "fifo server answers" $'alive\n.' "$(run req -t 20000 "fifo:$TMP/hf" alive; echo .)"
printf 'garbage-line\n' >"$TMP/hf"
head -c 64 /dev/urandom >"$TMP/hf"
printf '\0\0\0\0\0\0\0\3xyz' >"$TMP/hf" # framed, but no request header
expect_bytes "still answering after garbage" $'again\n.' "$(run req -t 20000 "fifo:$TMP/hf" again; echo .)"
kill -0 "$SRV" 2>/dev/null && ok || bad "the server exited: $(cat "$TMP/hf.err")"
[ -p "$TMP/hf" ] && ok || bad "the server's FIFO is gone"
grep -q "dropped" "$TMP/hf.err" && ok || bad "no warning: $(cat "$TMP/hf.err")"

summary

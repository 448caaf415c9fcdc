#!/usr/bin/env bash
# examples/rpc_kv_server and rpc_kv_client: the same two programs over
# tcp:, unix:, sysvmq: and shm: with only the address changed, and the
# server answering nng's REQ (nngcat --req0).
TEST_TAG=rpcex . "$(dirname "$0")/cli_util.sh"
: "${IPK_BUILD:?run through ctest (IPK_BUILD is the build directory)}"
ex=$IPK_BUILD/examples

# start the server on URL; ADDR is the address it says clients dial
start() {
	rm -f "$TMP/srv.out" # a fresh file: the last server's line must not be read
	timeout 60 "$ex/rpc_kv_server" "$1" >"$TMP/srv.out" 2>"$TMP/srv.err" &
	SRV=$!
	pids+=("$SRV")
	ADDR=
	for ((i = 0; i < 300; i++)); do
		ADDR=$(sed -n 's/^ready //p' "$TMP/srv.out" 2>/dev/null)
		[ -n "$ADDR" ] && break
		sleep 0.02
	done
	[ -n "$ADDR" ] || bad "server on $1 did not start: $(cat "$TMP/srv.err")"
}

touch "$TMP/kv.key"
for url in "tcp://127.0.0.1:0" "unix:$TMP/kv.sock" "sysvmq:$TMP/kv.key" \
           "shm:/ipkt-rpcex-$$"; do
	start "$url"
	got=$(timeout 30 "$ex/rpc_kv_client" "$ADDR" "SET colour blue" \
		"SET shape round" "GET colour" "DEL shape" "KEYS")
	expect_eq "$url" $'OK\nOK\nblue\nOK\ncolour' "$got"
	got=$(timeout 30 "$ex/rpc_kv_client" "$ADDR" "GET shape")
	st=$?
	expect_eq "$url: not found" "NOT FOUND" "$got"
	expect_eq "$url: not found status" 1 $st
	timeout 30 "$ex/rpc_kv_client" "$ADDR" SHUTDOWN >/dev/null
	wait "$SRV"
	expect_eq "$url: server exits 0" 0 $?
done
ls /dev/shm | grep -q "ipkt-rpcex-$$" && bad "shm left behind" || ok

if command -v nngcat >/dev/null; then
	for url in "tcp://127.0.0.1:0" "unix:$TMP/nng.sock"; do
		start "$url"
		nurl=${ADDR%%\?*}
		nurl=${nurl/#unix:/ipc://}
		timeout 30 nngcat --req0 --dial "$nurl" --data "SET answer 42" \
			--recv-timeout 10 -Q >/dev/null
		got=$(timeout 30 nngcat --req0 --dial "$nurl" --data "GET answer" \
			--recv-timeout 10 -Q)
		expect_eq "nngcat asks $url" '"42"' "$got"
		timeout 30 nngcat --req0 --dial "$nurl" --data SHUTDOWN \
			--recv-timeout 10 -Q >/dev/null
		wait "$SRV"
		expect_eq "$url: server exits 0 after nngcat" 0 $?
	done
fi

summary

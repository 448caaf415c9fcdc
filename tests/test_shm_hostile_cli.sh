#!/usr/bin/env bash
# A ring in /dev/shm rewritten by another process, as an attacker with
# write access to it would: the receiver and the sender must refuse it with
# "corrupt" naming the field, never print memory from outside the ring or
# store past it.
set -u
CLI=${IPK_CLI:?run through ctest (IPK_CLI = the ipckit binary)}
N1=/ipkt-hostile-$$-spsc
N2=/ipkt-hostile-$$-mpmc
N3=/ipkt-hostile-$$-spoiled
TMP=$(mktemp -d /tmp/ipkt-hostile-$$-XXXXXX) || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
cleanup() {
	rm -f "/dev/shm$N1" "/dev/shm$N2" "/dev/shm$N3"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
run() { timeout -k 5 30 "$@"; }

# put8 FILE OFFSET HEX16: 8 bytes little-endian at OFFSET
put8() {
	local hex=$3 bytes="" i
	for ((i = 14; i >= 0; i -= 2)); do
		bytes="$bytes\\x${hex:i:2}"
	done
	printf "$bytes" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# a ring that stays after its listener: 4 KiB of header, then the records
make_ring() {
	run "$CLI" recv "$1" -n 1 --timeout 100 >/dev/null 2>&1
	[ -f "/dev/shm$2" ]
}

# ---- SPSC: the consumer's position 8 bytes before the end, and a record
# header there announcing 4 KiB
if make_ring "shm:$N1?size=8192&persist" "$N1"; then
	put8 "/dev/shm$N1" 256 0000000000000ff8       # consumer position
	put8 "/dev/shm$N1" $((4096 + 4088)) 0000000200001000 # COMMITTED, 4096
	run "$CLI" recv "shm:$N1" --hex -n 1 --timeout 2000 >"$TMP/out" 2>"$TMP/err"
	st=$?
	if [ $st -ne 0 ]; then ok; else bad "recv of a corrupt ring exited 0"; fi
	if [ ! -s "$TMP/out" ]; then ok; else
		bad "recv printed bytes from a corrupt ring: $(head -c 300 "$TMP/out")"
	fi
	if grep -q 'corrupt: consumer position' "$TMP/err"; then ok; else
		bad "recv: $(cat "$TMP/err")"
	fi
else
	bad "could not make a ring at shm:$N1"
fi

# ---- MPMC: the producers' position 8 bytes before the end (a reservation
# there would write its size word past the mapping)
if make_ring "shm:$N2?size=16384&mpmc&persist" "$N2"; then
	put8 "/dev/shm$N2" 128 0000000000000ff8       # producer position
	run "$CLI" send "shm:$N2" hello --timeout 2000 >"$TMP/out" 2>"$TMP/err"
	st=$?
	if [ $st -ne 0 ] && [ $st -lt 128 ]; then ok; else
		bad "send into a corrupt ring: status $st"
	fi
	if grep -q 'corrupt: producer position' "$TMP/err"; then ok; else
		bad "send: $(cat "$TMP/err")"
	fi
else
	bad "could not make a ring at shm:$N2"
fi

# ---- a System V key that is not a number is said to be one, not taken
# for a file name ("no ring there", or a wait for a listener)
for key in 0xZZ 0x12zz 0x1ffffffff; do
	for cmd in "send sysvshm:$key hi" "recv sysvshm:$key"; do
		run $CLI $cmd --timeout 500 >/dev/null 2>"$TMP/err"
		st=$?
		[ $st -ne 0 ] && [ $st -lt 124 ] || bad "$cmd: status $st"
		if [ $key = 0x1ffffffff ]; then want="does not fit 32 bits"
		else want="key '$key' is not hexadecimal"; fi
		if grep -qF "$want" "$TMP/err"; then ok; else
			bad "$cmd: $(cat "$TMP/err")"
		fi
	done
done

# spoil_when_laid_out FILE FROM BYTE: once the ring in FILE is laid out
# (its magic, the first word, is set last), BYTE over bytes FROM to 12 KiB
spoil_when_laid_out() {
	local m i
	for ((i = 0; i < 500; i++)); do
		m=$(od -An -tx8 -N8 "$1" 2>/dev/null | tr -d ' ')
		[ -n "$m" ] && [ "$m" != 0000000000000000 ] && break
		sleep 0.01
	done
	head -c $((12288 - $2)) /dev/zero | tr '\0' "$3" |
		dd of="$1" bs=4096 seek="$2" oflag=seek_bytes conv=notrunc status=none
}

# ---- a listener whose ring header is overwritten (its layout, the persist
# word, the slots: every byte from 16 to 12 KiB) fails with an error and
# still takes its own ring away: nobody can attach to that ring again
for how in "" "&mpmc"; do
	run "$CLI" recv "shm:$N3?size=65536$how" -n 1 --timeout 4000 \
		>"$TMP/out" 2>"$TMP/err" &
	pid=$!
	spoil_when_laid_out "/dev/shm$N3" 16 'Z'
	wait "$pid"
	st=$?
	if [ $st -eq 1 ]; then ok; else
		bad "recv$how on a spoiled ring: exit $st ($(cat "$TMP/err"))"
	fi
	if [ ! -e "/dev/shm$N3" ]; then ok; else
		bad "recv$how left its spoiled ring in /dev/shm"
		rm -f "/dev/shm$N3"
	fi
done

# ---- the same for a publisher's broadcast ring: it goes when the
# publisher leaves (every byte from 8 on, its flags among them, all ones:
# the persist flag is set too)
{
	spoil_when_laid_out "/dev/shm$N3" 8 '\377'
	echo after
} | run "$CLI" pub "shm:$N3" >"$TMP/out" 2>"$TMP/err"
if [ ! -e "/dev/shm$N3" ]; then ok; else
	bad "pub left its spoiled broadcast ring in /dev/shm ($(cat "$TMP/err"))"
	rm -f "/dev/shm$N3"
fi

echo "test_shm_hostile_cli: $pass passed, $fail failed"
[ $fail -eq 0 ]

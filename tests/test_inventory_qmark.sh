#!/usr/bin/env bash
# A file name holding '?', '#' or '%' (anyone may make one under /tmp; vgdb
# names its FIFOs "...-by-???-on-???"): ls must list it under an address that
# names that very file ('?' '#' '%' written %3F %23 %25), rm of the listed
# address (table text or --json address_base64) removes it and nothing else,
# and gc does not fail on it. Only this test's own FIFOs are removed; gc runs
# in a private namespace with its own /tmp and /dev/shm.
. "$(dirname "$0")/inventory_util.sh"

if [ "${1:-}" = gc-inner ]; then
	# private /tmp and /dev/shm: gc sees only what this test made
	mount -t tmpfs tmpfs /tmp && mount -t tmpfs tmpfs /dev/shm || { echo "no tmpfs"; exit 1; }
	mkfifo /tmp/vgdb-pipe-from-vgdb-to-1-by-???-on-??? /tmp/w '/tmp/w?mode=0600' /tmp/plain
	"$CLI" gc --kind fifo >/tmp/gc.out 2>&1
	rc=$?
	[ $rc = 0 ] && ok || bad "gc exited $rc: $(cat /tmp/gc.out)"
	for n in 'vgdb-pipe-from-vgdb-to-1-by-???-on-???' 'w?mode=0600' w plain; do
		[ -p "/tmp/$n" ] && bad "gc left the unheld FIFO $n: $(cat /tmp/gc.out)" || ok
	done
	counts
	exit 0
fi

T=$(mktemp -d /tmp/ipkt-qmark-XXXXXX)
trap 'rm -rf "$T" "$T".json "$T".out' EXIT
names=('w?mode=0600' 'a#b' 'p%41q' 'x?persist' 'y?' 'z%' '50%zz' 'all?#%3F')
mkfifo "$T/w" || bad "mkfifo w"
for n in "${names[@]}"; do mkfifo "$T/$n" || bad "mkfifo $n"; done

"$CLI" ls --json --kind fifo --path "$T" >$T.json || bad "ls --json failed"
# name -> (address, decoded address_base64), for our FIFOs
addr() { # NAME: the address ls gives for $T/NAME (by its file), from the JSON
	python3 - "$T" "$1" $T.json <<'PY'
import base64, json, os, sys
tdir, name, path = sys.argv[1], sys.argv[2], sys.argv[3]
want = os.stat(os.path.join(tdir, name))
for o in json.load(open(path))["objects"]:
    a = base64.b64decode(o["address_base64"]).decode()
    if a != o["address"]:
        sys.exit("address and address_base64 differ: %r %r" % (o["address"], a))
    if o.get("inode") == want.st_ino or o.get("ino") == want.st_ino:
        print(a); sys.exit(0)
# no inode in the JSON: the address whose escapes decode to the path
from urllib.parse import unquote
for o in json.load(open(path))["objects"]:
    if o["address"].startswith("fifo:") and \
       unquote(o["address"][5:]) == os.path.join(tdir, name):
        print(o["address"]); sys.exit(0)
sys.exit("not listed: " + name)
PY
}
expect() { # NAME ADDRESS-SUFFIX: the exact listed form
	local a; a=$(addr "$1" 2>&1) || { bad "$1: $a"; return; }
	[ "$a" = "fifo:$T/$2" ] && ok || bad "$1 listed as '$a', expected 'fifo:$T/$2'"
}
expect 'w?mode=0600' 'w%3Fmode=0600'
expect 'a#b' 'a%23b'
expect 'p%41q' 'p%2541q'
expect 'all?#%3F' 'all%3F%23%253F'
expect w w

# the table shows the same address
"$CLI" ls --kind fifo --path "$T" >$T.out 2>&1 || bad "ls failed: $(cat $T.out)"
grep -qF "fifo:$T/w%3Fmode=0600 " $T.out && ok || bad "table: $(grep -F "$T" $T.out)"

# rm of each listed address removes that FIFO, and "w" stays
for i in "${!names[@]}"; do
	n=${names[$i]}
	a=$(addr "$n" 2>&1) || { bad "$n: $a"; continue; }
	"$CLI" rm "$a" >$T.out 2>&1 && ok || bad "rm '$a' failed: $(cat $T.out)"
	[ -e "$T/$n" ] && bad "rm '$a' left $n" || ok
	[ -p "$T/w" ] && ok || { bad "rm '$a' removed the sibling FIFO w"; mkfifo "$T/w"; }
done
# a '%' not followed by two hex digits is itself (existing addresses keep working)
mkfifo "$T/q%zz"
"$CLI" rm "fifo:$T/q%zz" >$T.out 2>&1 && ok || bad "rm fifo:$T/q%zz: $(cat $T.out)"
[ -e "$T/q%zz" ] && bad "q%zz left" || ok
# %00 cannot name a file
"$CLI" rm "fifo:$T/w%00x" >$T.out 2>&1 && bad "%00 accepted" || ok
grep -q '%00' $T.out && ok || bad "%00: unclear message: $(cat $T.out)"
[ -p "$T/w" ] && ok || bad "w removed"
"$CLI" rm "fifo:$T/w" >$T.out 2>&1 && ok || bad "rm w: $(cat $T.out)"

# gc on a machine with such names: exits 0 and removes them (own namespace)
ns_result "$(unshare --ipc --mount --pid --fork --mount-proc bash "$0" gc-inner 2>&1)"
counts

#!/usr/bin/env bash
# Hostile object names in ipckit ls / gc: anyone can make a FIFO under /tmp,
# which ls scans. Control characters must not reach the terminal, a newline
# must not split a row (forged rows), columns are aligned in display
# columns, and --json gives every address exactly (address_base64), so that
# rm takes it back. Only this test's own FIFOs are removed.
. "$(dirname "$0")/inventory_util.sh"
SRC=${IPK_SOURCE:?run through ctest}

T=$(mktemp -d /tmp/ipkt-names-XXXXXX)
trap 'rm -rf "$T" "$T".out "$T".json "$T".err' EXIT
names=("$(printf 'new\nline')" "$(printf 'ctl\x01\x1b[31mred')"
	"$(printf 'bad\xff\xfeutf')" 'ünï€ode' 'plain' "$(printf 'rl\xe2\x80\xaeo')"
	'wide漢字' 'back\slash')
for n in "${names[@]}"; do mkfifo "$T/$n" || bad "mkfifo $n"; done
N=${#names[@]}

# --- the table, in a UTF-8 locale and in the C locale
for loc in C.UTF-8 C; do
	LC_ALL=$loc "$CLI" ls --kind fifo --path "$T" >$T.out 2>&1 ||
		bad "ls ($loc) failed: $(cat $T.out)"
	# our rows: every line naming the directory; one per FIFO
	check "ls ($loc): one row per FIFO, no row split by a newline" "$N" \
		"$(grep -ac "fifo:$T/" $T.out)"
	# and no line that is not a row, the header or a note (a forged row)
	check "ls ($loc): every line is a row, the header or a note" "" \
		"$(grep -avE '^(KIND|sysvmq|sysvshm|sysvsem|shm|sem|mq|mutex|cond|rwlock|fifo|unix|unixgram|mmap) |^note: ' $T.out)"
	grep -qaP '[\x00-\x08\x0b-\x1f\x7f]' $T.out &&
		bad "ls ($loc) printed control characters: $(grep -aP '[\x00-\x1f\x7f]' $T.out | cat -A)" || ok
	for want in 'new\nline' 'ctl\x01\x1b[31mred' 'bad\xff\xfeutf' 'rl\xe2\x80\xaeo' 'back\\slash'; do
		grep -qaF "fifo:$T/$want " $T.out && ok || bad "ls ($loc): no escaped $want"
	done
	if [ $loc = C ]; then
		grep -qaF "fifo:$T/\\xc3\\xbcn\\xc3\\xaf\\xe2\\x82\\xacode " $T.out && ok ||
			bad "ls (C): bytes past ASCII not escaped: $(grep -a "$T" $T.out)"
	else
		grep -qaF "fifo:$T/ünï€ode " $T.out && ok || bad "ls (UTF-8): ünï€ode not shown as is"
	fi
	# the STATE column starts at the same display column on every row
	LC_ALL=C.UTF-8 $PY - "$T" $T.out <<'EOF' && ok || bad "ls ($loc): columns not aligned: $(cat $T.out)"
import sys, unicodedata
tdir, path = sys.argv[1], sys.argv[2]
lines = open(path, encoding="utf-8", errors="strict").read().split("\n")
def width(s):
    return sum(0 if unicodedata.combining(c) else
               2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)
head = lines[0]
col = width(head[:head.index("STATE")])
rows = [l for l in lines if "fifo:" + tdir + "/" in l]
bad = [l for l in rows if width(l[:l.index(" unknown ") + 1] if " unknown " in l
                                else l[:l.index(" orphan ") + 1]) != col]
sys.exit(1 if bad or not rows else 0)
EOF
done

# --- gc prints the same escaped forms (a dry run: nothing is removed)
"$CLI" gc --dry-run --kind fifo --path "$T" >$T.out 2>&1
grep -qaP '[\x00-\x08\x0b-\x1f\x7f]' $T.out &&
	bad "gc printed control characters: $(grep -aP '[\x00-\x1f\x7f]' $T.out | cat -A)" || ok
check "gc: one line per FIFO" "$N" "$(grep -ac "fifo:$T/" $T.out)"

# --- JSON: valid, documented, and every address exact
"$CLI" ls --json --kind fifo --path "$T" >$T.json || bad "ls --json failed"
$PY "$SRC/tests/inventory_schema.py" "$SRC/docs/cli.md" objects $T.json &&
	ok || bad "ls --json does not follow the documented schema"
$PY - "$T" $T.json <<'EOF' && ok || bad "address_base64 is not every FIFO's exact address"
import base64, json, os, sys
tdir = sys.argv[1].encode()
objs = json.load(open(sys.argv[2], encoding="utf-8"))["objects"]
got = sorted(base64.b64decode(o["address_base64"]) for o in objs
             if base64.b64decode(o["address_base64"]).startswith(b"fifo:" + tdir + b"/"))
want = sorted(b"fifo:" + tdir + b"/" + n for n in os.listdir(tdir))
# address is the same text wherever the name is UTF-8
same = all(o["address"].encode("utf-8", "surrogateescape") ==
           base64.b64decode(o["address_base64"]) for o in objs
           if not o["address"].count("\ufffd"))
sys.exit(0 if got == want and same else 1)
EOF

# --- rm takes the exact address back: from JSON, and the table's escaped
# form read by bash's $'...'
b64=$(jq -r --arg p "fifo:$T/" '.objects[] | select(.address | startswith($p)) | .address_base64' $T.json |
	while read -r b; do a=$(base64 -d <<<"$b"); case "$a" in *bad*) echo "$b" ;; esac; done)
"$CLI" rm "$(base64 -d <<<"$b64")" && ok || bad "rm of the address from address_base64"
[ -e "$T/$(printf 'bad\xff\xfeutf')" ] && bad "bad\\xff\\xfeutf still there" || ok
shown=$(LC_ALL=C.UTF-8 "$CLI" ls --kind fifo --path "$T" | grep -aoF "fifo:$T/ctl\\x01\\x1b[31mred")
eval "addr=\$'${shown//\'/\\\'}'"
"$CLI" rm "$addr" && ok || bad "rm \$'$shown'"
[ -e "$T/$(printf 'ctl\x01\x1b[31mred')" ] && bad "ctl... still there" || ok
shown=$(LC_ALL=C.UTF-8 "$CLI" ls --kind fifo --path "$T" | grep -aoF "fifo:$T/back\\\\slash")
eval "addr=\$'${shown//\'/\\\'}'"
"$CLI" rm "$addr" && ok || bad "rm \$'$shown'"
[ -e "$T/back\\slash" ] && bad "back\\slash still there" || ok

# --- rm's messages name the address escaped, on one line
"$CLI" rm "fifo:$T/$(printf 'gone\nrow\x1b[2J')" 2>$T.err && bad "rm of a missing FIFO succeeded"
check "rm: one line for a name with a newline" 1 "$(wc -l <$T.err)"
grep -qaP '\x1b' $T.err && bad "rm printed an escape character: $(cat -A $T.err)" || ok
grep -qaF 'gone\nrow\x1b[2J' $T.err && ok || bad "rm does not show the name escaped: $(cat -A $T.err)"

counts

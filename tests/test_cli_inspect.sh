#!/usr/bin/env bash
# ipckit ls / gc against objects this test makes (and removes) itself.
set -u
CLI=${IPK_CLI:?run through ctest}
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
qids=() mids=()
cleanup() {
	for q in "${qids[@]}"; do ipcrm -q "$q" 2>/dev/null; done
	for m in "${mids[@]}"; do ipcrm -m "$m" 2>/dev/null; done
}
trap cleanup EXIT

# key of a System V object by id, as ls prints it
key_of() { # FILE ID
	awk -v id="$2" '$2 == id { k = $1; if (k < 0) k += 4294967296; printf "0x%08x", k }' "$1"
}

# a segment made by a program that has exited, never attached: the classic leak
out=$(ipcmk -M 4096 -p 0600) || { echo "ipcmk failed"; exit 1; }
mid=${out##*: }
mids+=("$mid")
mkey=$(key_of /proc/sysvipc/shm "$mid")
ls_out=$("$CLI" ls --kind sysvshm)
grep -q "^sysvshm *sysvshm:$mkey *$mid " <<<"$ls_out" && ok || bad "ls does not list $mkey: $ls_out"
grep "$mkey" <<<"$ls_out" | grep -q "creator and last user" && ok || bad "ls does not flag $mkey"
"$CLI" ls --orphans | grep -q "$mkey" && ok || bad "--orphans misses $mkey"

# gc without --force only reports
"$CLI" gc "$mkey" | grep -q "would remove sysvshm $mkey" && ok || bad "gc dry run"
grep -q " $mid " /proc/sysvipc/shm && ok || bad "gc dry run removed the segment"
# gc --force removes exactly the named one
"$CLI" gc --force "$mkey" | grep -q "removed sysvshm $mkey" && ok || bad "gc --force"
grep -q " $mid " /proc/sysvipc/shm && bad "segment still there after gc --force" || ok

# a queue is listed but never collected: an empty queue may have a
# receiver waiting on it
out=$(ipcmk -Q -p 0600) && qid=${out##*: } && qids+=("$qid")
qkey=$(key_of /proc/sysvipc/msg "$qid")
"$CLI" ls --kind sysvmq | grep -q "sysvmq:$qkey" && ok || bad "ls misses queue $qkey"
"$CLI" ls --orphans | grep -q "$qkey" && bad "an empty queue is flagged" || ok
"$CLI" gc --force "$qkey" >/dev/null
grep -q " $qid " /proc/sysvipc/msg && ok || bad "gc removed a queue"

# permission-0 objects are flagged but never collected
out=$(ipcmk -Q -p 0000) && qid0=${out##*: } && qids+=("$qid0")
key0=$(key_of /proc/sysvipc/msg "$qid0")
"$CLI" ls | grep "$key0" | grep -q "permission 0" && ok || bad "permission 0 not flagged"
"$CLI" gc --force "$key0" >/dev/null
grep -q " $qid0 " /proc/sysvipc/msg && ok || bad "gc removed a permission-0 queue"

# usage errors exit 2 with one line
"$CLI" ls --kind nonsense 2>/tmp/ipkt-$$-err; [ $? -eq 2 ] && ok || bad "ls usage exit"
[ "$(wc -l </tmp/ipkt-$$-err)" -eq 1 ] && ok || bad "usage error is not one line"
"$CLI" gc --bogus 2>/tmp/ipkt-$$-err; [ $? -eq 2 ] && ok || bad "gc usage exit"
[ "$(wc -l </tmp/ipkt-$$-err)" -eq 1 ] && ok || bad "gc usage error is not one line: $(cat /tmp/ipkt-$$-err)"
rm -f /tmp/ipkt-$$-err

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

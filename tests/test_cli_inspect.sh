#!/usr/bin/env bash
# ipckit ls / gc against objects this test makes (and removes) itself.
set -u
CLI=${IPK_CLI:?run through ctest}
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
qids=()
cleanup() { for q in "${qids[@]}"; do ipcrm -q "$q" 2>/dev/null; done; }
trap cleanup EXIT

# a never-used queue made by another program is listed and flagged
out=$(ipcmk -Q -p 0600) || { echo "ipcmk failed"; exit 1; }
qid=${out##*: }
qids+=("$qid")
key=$(awk -v id="$qid" '$2 == id { k = $1; if (k < 0) k += 4294967296; printf "0x%08x", k }' /proc/sysvipc/msg)
ls_out=$("$CLI" ls --kind sysvmq)
grep -q "^sysvmq *sysvmq:$key *$qid " <<<"$ls_out" && ok || bad "ls does not list $key: $ls_out"
grep "$key" <<<"$ls_out" | grep -q "never used" && ok || bad "ls does not flag $key"
"$CLI" ls --orphans | grep -q "$key" && ok || bad "--orphans misses $key"

# gc without --force only reports
"$CLI" gc "$key" | grep -q "would remove sysvmq $key" && ok || bad "gc dry run"
grep -q " $qid " /proc/sysvipc/msg && ok || bad "gc dry run removed the queue"

# gc --force removes exactly the named one
"$CLI" gc --force "$key" | grep -q "removed sysvmq $key" && ok || bad "gc --force"
grep -q " $qid " /proc/sysvipc/msg && bad "queue still there after gc --force" || ok

# permission-0 objects are flagged but never collected
out=$(ipcmk -Q -p 0000) && qid0=${out##*: } && qids+=("$qid0")
key0=$(awk -v id="$qid0" '$2 == id { k = $1; if (k < 0) k += 4294967296; printf "0x%08x", k }' /proc/sysvipc/msg)
"$CLI" ls | grep "$key0" | grep -q "permission 0" && ok || bad "permission 0 not flagged"
"$CLI" gc --force "$key0" >/dev/null
grep -q " $qid0 " /proc/sysvipc/msg && ok || bad "gc removed a permission-0 queue"

# usage errors exit 2 with one line
"$CLI" ls --kind nonsense 2>/tmp/ipkt-$$-err; [ $? -eq 2 ] && ok || bad "ls usage exit"
[ "$(wc -l </tmp/ipkt-$$-err)" -eq 1 ] && ok || bad "usage error is not one line"
rm -f /tmp/ipkt-$$-err

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

#!/usr/bin/env bash
# The command-line tool starts like a small C program: it loads libc-level
# libraries only (the benchmark's peer libraries, nng, ZeroMQ, Boost, live
# in ipckit-bench, which `ipckit bench` runs), and `ipckit bench` finds that
# program beside it or in the install's libexec, or says clearly that it is
# missing. (How fast it starts is measured by bench/cli_startup.sh, never
# here: the machine is shared.)
set -u
CLI=${IPK_CLI:?run through ctest}
BUILD=${IPK_BUILD:?run through ctest}
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
dir=$(mktemp -d /tmp/ipkt-startup.XXXXXX)
trap 'rm -rf "$dir"' EXIT

# libc-level: the C library, the loader and the vDSO; libm, libpthread,
# librt and libdl at most; libipckit itself if linked as a shared library.
allowed='^(linux-vdso\.so|linux-gate\.so|ld-linux[-a-z0-9_.]*\.so|libc\.so|libm\.so|libpthread\.so|librt\.so|libdl\.so|libipckit\.so)'
# a sanitizer build also loads the sanitizer's runtime and what it needs
san=$(sed -n 's/^IPK_SANITIZE:STRING=//p' "$BUILD/CMakeCache.txt" 2>/dev/null)
[ -n "$san" ] && allowed="$allowed|^(libasan|libubsan|libtsan|libstdc\+\+|libgcc_s)\.so"

libs=$(ldd "$CLI") || { bad "ldd $CLI failed"; libs=; }
names=$(printf '%s\n' "$libs" | awk 'NF { n = $1; sub(".*/", "", n); print n }')
[ -n "$names" ] && ok || bad "ldd listed nothing"
extra=$(printf '%s\n' "$names" | grep -Ev "$allowed")
[ -z "$extra" ] && ok || bad "ipckit loads more than libc-level libraries:" $extra
printf '%s\n' "$names" | grep -q '^libc\.so' && ok || bad "no libc in: $names"

# the benchmark program is beside it in the build tree, and is what runs
[ -x "$(dirname "$CLI")/ipckit-bench" ] && ok || bad "no ipckit-bench beside $CLI"
"$CLI" bench --list >"$dir/list.txt" 2>&1 && grep -q '^ROW' "$dir/list.txt" &&
	ok || bad "ipckit bench --list: $(cat "$dir/list.txt")"

# alone, the tool still explains bench, and says what is missing
cp "$CLI" "$dir/ipckit"
"$dir/ipckit" help bench >"$dir/help.txt" 2>&1 && grep -q -- '--quick' "$dir/help.txt" &&
	ok || bad "help bench without ipckit-bench: $(cat "$dir/help.txt")"
"$dir/ipckit" bench --help >"$dir/help2.txt" 2>&1 && cmp -s "$dir/help.txt" "$dir/help2.txt" &&
	ok || bad "bench --help differs from help bench"
"$dir/ipckit" bench --list >"$dir/out.txt" 2>"$dir/err.txt"
rc=$?
[ $rc -eq 1 ] && [ ! -s "$dir/out.txt" ] && [ "$(wc -l <"$dir/err.txt")" -eq 1 ] &&
	grep -q 'ipckit-bench' "$dir/err.txt" && grep -q 'not installed' "$dir/err.txt" &&
	ok || bad "bench without ipckit-bench: exit $rc, stderr: $(cat "$dir/err.txt")"
# installed (`make install`): bench found in the install's libexec,
# relative to the tool, also after the whole tree is moved; a tiny run works
cmake --install "$BUILD" --prefix "$dir/p1" >"$dir/install.log" 2>&1 ||
	bad "install: $(cat "$dir/install.log")"
mv "$dir/p1" "$dir/moved"
"$dir/moved/bin/ipckit" bench --list >"$dir/list2.txt" 2>&1 &&
	cmp -s "$dir/list.txt" "$dir/list2.txt" &&
	ok || bad "installed ipckit bench --list: $(cat "$dir/list2.txt")"
"$dir/moved/bin/ipckit" bench --transports pipe --no-peers --no-baselines \
	--sizes 64 --duration 0.01 --repeat 1 --iterations 100 >"$dir/run.txt" 2>&1 &&
	grep -q '^  pipe:' "$dir/run.txt" &&
	ok || bad "installed ipckit bench run: $(cat "$dir/run.txt")"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

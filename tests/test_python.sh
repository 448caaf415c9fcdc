#!/usr/bin/env bash
# The Python package (python/ipckit) under Debian's /usr/bin/python3, as a
# user gets it: installed into a temporary prefix, imported from there with
# nothing of the source tree on the path, the library found beside it.
set -euo pipefail
: "${IPK_BUILD:?run through ctest (IPK_BUILD is the build directory)}"
: "${IPK_SOURCE:?run through ctest (IPK_SOURCE is the source directory)}"
PY=${IPK_PYTHON:-/usr/bin/python3}
[ -x "$PY" ] || { echo "FAIL: $PY not found (scripts/setup.sh installs python3)"; exit 1; }

tmp=$(mktemp -d /tmp/ipkpy-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"
cmake --install "$IPK_BUILD" --prefix "$prefix" >"$tmp/install.log"
init=$(find "$prefix" -path '*/ipckit/__init__.py' | head -n 1)
[ -n "$init" ] || { echo "FAIL: the Python package was not installed"; exit 1; }
site=$(dirname "$(dirname "$init")")
rel=${site#"$prefix"/}

# with PREFIX=/usr/local (the default) the package lands where python3 looks
if ! "$PY" -c 'import sys; sys.exit("/usr/local/'"$rel"'" not in sys.path)'; then
	echo "FAIL: make install puts the package in /usr/local/$rel," \
		"which $PY does not search"
	exit 1
fi
echo "ok: installed in $rel (on $PY's path under /usr/local)"

# a sanitizer build of the library needs its runtime loaded first
san=$(sed -n 's/^IPK_SANITIZE:STRING=//p' "$IPK_BUILD/CMakeCache.txt")
case "$san" in
address)
	export LD_PRELOAD="$(cc -print-file-name=libasan.so) $(cc -print-file-name=libubsan.so)"
	# the interpreter itself keeps memory until exit: not a leak of ours
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
	;;
thread)
	echo "SKIP: the interpreter is not built for ThreadSanitizer"
	exit 0
	;;
esac

cd "$tmp"
export PYTHONPATH="$site" PYTHONDONTWRITEBYTECODE=1
unset IPCKIT_LIB
IPK_PY_PREFIX="$prefix" "$PY" -m unittest discover -s "$IPK_SOURCE/python/tests" -v

# the tutorial of docs/python.md: a C producer built against the install
# (pkg-config), frames read in place by the Python consumer
ex="$IPK_SOURCE/python/examples"
pc=$(find "$prefix" -name ipckit.pc)
libdir=$(dirname "$(dirname "$pc")")
extra=()
[ "$san" = address ] && extra=(-fsanitize=address,undefined)
PKG_CONFIG_PATH=$(dirname "$pc") cc -std=c11 -Wall -Wextra -Werror "${extra[@]}" \
	"$ex/frames_producer.c" -o "$tmp/frames_producer" \
	$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --cflags --libs ipckit)
ring="shm:/ipkpy-tutorial-$$"
"$PY" "$ex/frames_consumer.py" "$ring" 40 >"$tmp/consumer.out" 2>&1 &
consumer=$!
for _ in $(seq 1 200); do
	grep -q listening "$tmp/consumer.out" 2>/dev/null && break
	kill -0 "$consumer" 2>/dev/null || break
	sleep 0.05
done
LD_LIBRARY_PATH="$libdir" "$tmp/frames_producer" "$ring" 40 >"$tmp/producer.out" ||
	{ echo "FAIL: frames_producer"; cat "$tmp/producer.out"; kill "$consumer"; exit 1; }
wait "$consumer" || { echo "FAIL: frames_consumer"; cat "$tmp/consumer.out"; exit 1; }
# sum over frames s < 40 and samples i < 65536 of s + i
want="frames_consumer: 40 frames of 65536 samples, sum 85949153280"
grep -q "^$want" "$tmp/consumer.out" ||
	{ echo "FAIL: frames_consumer printed:"; cat "$tmp/consumer.out"; exit 1; }
[ ! -e "/dev/shm/ipkpy-tutorial-$$" ] || { echo "FAIL: the tutorial ring was left behind"; exit 1; }
echo "ok: tutorial: C producer -> Python consumer, frames read in place"

"$PY" "$ex/robust_counter.py" >"$tmp/counter.out" ||
	{ echo "FAIL: robust_counter.py"; cat "$tmp/counter.out"; exit 1; }
echo "ok: robust_counter.py: $(tail -n 1 "$tmp/counter.out")"
if "$PY" -c 'import numpy' 2>/dev/null; then
	"$PY" "$ex/numpy_zero_copy.py" >"$tmp/numpy.out" ||
		{ echo "FAIL: numpy_zero_copy.py"; cat "$tmp/numpy.out"; exit 1; }
	grep -q "frame 19: .*mean of rows 1.. = 19 (no copy)" "$tmp/numpy.out" ||
		{ echo "FAIL: numpy_zero_copy.py printed:"; cat "$tmp/numpy.out"; exit 1; }
	echo "ok: numpy_zero_copy.py"
else
	echo "SKIP: numpy_zero_copy.py (no python3-numpy)"
fi

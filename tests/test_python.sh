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
	export ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
	;;
thread)
	echo "SKIP: the interpreter is not built for ThreadSanitizer"
	exit 0
	;;
esac

cd "$tmp"
env -u IPCKIT_LIB PYTHONPATH="$site" IPK_PY_PREFIX="$prefix" \
	PYTHONDONTWRITEBYTECODE=1 \
	"$PY" -m unittest discover -s "$IPK_SOURCE/python/tests" -v

#!/usr/bin/env bash
# Install into a temporary prefix, then build and run a program the way a
# user would: flags from pkg-config, shared library first, then static.
set -euo pipefail
: "${IPK_BUILD:?run through ctest (IPK_BUILD is the build directory)}"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"

cmake --install "$IPK_BUILD" --prefix "$prefix" >"$tmp/install.log"
pc=$(find "$prefix" -name ipckit.pc)
[ -n "$pc" ] || { echo "FAIL: no ipckit.pc installed"; exit 1; }
for f in include/ipckit.h bin/ipckit; do
	[ -e "$prefix/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
libdir=$(dirname "$(dirname "$pc")")
for f in libipckit.a libipckit.so; do
	[ -e "$libdir/$f" ] || { echo "FAIL: $f not installed in $libdir"; exit 1; }
done

export PKG_CONFIG_PATH="$(dirname "$pc")"
version=$(pkg-config --modversion ipckit)
[ "$("$prefix/bin/ipckit" --version)" = "ipckit $version" ] ||
	{ echo "FAIL: installed CLI does not report version $version"; exit 1; }
cflags=$(pkg-config --cflags ipckit)
case "$cflags" in
*"$prefix"*|*"$tmp"*) ;;
*) echo "FAIL: pkg-config points outside the install: $cflags"; exit 1 ;;
esac

# a build of the library with sanitizers needs them in the program too
san=$(sed -n 's/^IPK_SANITIZE:STRING=//p' "$IPK_BUILD/CMakeCache.txt")
case "$san" in
address) extra=(-fsanitize=address,undefined) ;;
thread) extra=(-fsanitize=thread) ;;
*) extra=() ;;
esac

cat >"$tmp/hello.c" <<'C'
#include <ipckit.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
	ipk_chan *a, *b;
	char buf[64];
	if (ipk_pair("pipe:", &a, &b) < 0) {
		fprintf(stderr, "pair: %s\n", ipk_last_error());
		return 1;
	}
	if (ipk_send(a, "hello, installed ipckit", 23, 1000) != 23) {
		fprintf(stderr, "send: %s\n", ipk_last_error());
		return 1;
	}
	ssize_t n = ipk_recv(b, buf, sizeof buf, 1000);
	if (n != 23) {
		fprintf(stderr, "recv: %s\n", ipk_last_error());
		return 1;
	}
	printf("%.*s (%s)\n", (int)n, buf, ipk_version());
	ipk_close(a);
	ipk_close(b);
	return 0;
}
C

want="hello, installed ipckit ($version)"

# shared
cc -std=c11 -Wall -Wextra -Werror "${extra[@]}" "$tmp/hello.c" -o "$tmp/hello" \
	$(pkg-config --cflags --libs ipckit)
got=$(LD_LIBRARY_PATH="$libdir" "$tmp/hello")
[ "$got" = "$want" ] || { echo "FAIL: shared: got '$got'"; exit 1; }
# it really used the installed shared library (no pipe into grep -q: with
# pipefail, ldd killed by SIGPIPE would fail the check)
libs=$(LD_LIBRARY_PATH="$libdir" ldd "$tmp/hello")
case "$libs" in
*"$libdir/libipckit.so"*) ;;
*) echo "FAIL: not linked against $libdir/libipckit.so"; echo "$libs"; exit 1 ;;
esac
echo "ok: shared library via pkg-config"

# static: Libs.private must be enough
cc -std=c11 -Wall -Wextra -Werror "${extra[@]}" "$tmp/hello.c" -o "$tmp/hello-static" \
	$(pkg-config --cflags ipckit) -L"$libdir" -Wl,-Bstatic -lipckit -Wl,-Bdynamic \
	$(pkg-config --static --libs-only-l ipckit | sed 's/-lipckit//')
got=$("$tmp/hello-static")
[ "$got" = "$want" ] || { echo "FAIL: static: got '$got'"; exit 1; }
echo "ok: static library via pkg-config --static"
echo "2 passed, 0 failed"

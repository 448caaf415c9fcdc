#!/usr/bin/env bash
# make chaos: run the kill -9 chaos driver. As root, inside private IPC and
# mount namespaces with /dev/shm and /dev/mqueue of its own, so the leak
# check is exact (anything left there is the run's); otherwise on the
# machine's, checking by name.
#   usage: run.sh BUILD KILLS [NAME,...]
set -euo pipefail
build=$1 kills=$2 only=${3:-}
exe=$build/tests/chaos/ipk_chaos
args=(--kills "$kills")
[ -n "$only" ] && args+=(--only "$only")
if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null &&
	unshare --ipc --mount --fork true 2>/dev/null; then
	exec unshare --ipc --mount --fork bash -c '
		mount -t tmpfs -o mode=1777 tmpfs /dev/shm &&
		{ mountpoint -q /dev/mqueue || mkdir -p /dev/mqueue; } &&
		mount -t mqueue mqueue /dev/mqueue &&
		exec "$0" --private "$@"' "$exe" "${args[@]}"
fi
exec "$exe" "${args[@]}"

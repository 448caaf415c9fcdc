#!/usr/bin/env bash
# Install what building and testing ipckit needs on Debian, if it is missing.
# Safe to run repeatedly: it does nothing when everything is there.
set -euo pipefail

pkgs=(build-essential cmake pkg-config clang libclang-rt-dev libcriterion-dev
      nng-utils libnng-dev
      libzmq3-dev g++ libboost-dev
      util-linux python3 python3-sysv-ipc python3-numpy python3-jsonschema jq
      passwd procps socat netcat-openbsd bc)

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
	SUDO=()
elif command -v sudo >/dev/null 2>&1; then
	SUDO=(sudo)
else
	echo "setup: need root (or sudo) to install: ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

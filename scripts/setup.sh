#!/usr/bin/env bash
# Installs what building and testing corekv needs on Debian 12, only what is missing.
set -euo pipefail

packages=(build-essential cmake pkg-config liburing-dev libjemalloc-dev libxxhash-dev
          libcmocka-dev liblzf-dev python3 python3-pytest python3-redis redis-tools redis-server)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# Don't let the redis-server package start a system service on port 6379: tests start
# their own on free ports, and `make run` wants 6379 for corekv.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
    trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"

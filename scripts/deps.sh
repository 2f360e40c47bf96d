#!/usr/bin/env bash
# Install the Debian packages stowage builds and tests with (idempotent).
set -euo pipefail
PKGS=(build-essential cmake pkg-config libssl-dev libzstd-dev liblz4-dev
      zlib1g-dev libjansson-dev libcmocka-dev libcurl4-openssl-dev attr python3
      file)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "installing: ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null

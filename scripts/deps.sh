#!/usr/bin/env bash
# Install what stowage builds and tests with (idempotent): Debian packages,
# then the S3 test server (s3rver, from npm, into tests/s3/node_modules as
# pinned by tests/s3/package-lock.json).
set -euo pipefail
cd "$(dirname "$0")/.."
PKGS=(build-essential cmake pkg-config libssl-dev libzstd-dev liblz4-dev
      zlib1g-dev libjansson-dev libcmocka-dev libcurl4-openssl-dev attr python3
      file libyaml-dev openssl libarchive-dev libmicrohttpd-dev libargon2-dev
      python3-botocore)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -ne 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    SUDO=sudo
  fi
  echo "installing: ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# s3rver for tests/integration/test_s3_*.sh (Node.js and npm come with the
# machine, not from here). Reinstalled only when the lock file changed. A
# failure here does not stop the other tests: the S3 tests then fail and
# say that s3rver is missing.
s3dir=tests/s3
stamp=$s3dir/node_modules/.stowage-lock.sha256
want=$(sha256sum "$s3dir/package-lock.json" | cut -d' ' -f1)
if [ -f "$s3dir/node_modules/s3rver/bin/s3rver.js" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "warning: npm not found: s3rver is not installed and the S3 integration tests will fail" >&2
  exit 0
fi
echo "installing s3rver (npm ci --prefix $s3dir)" >&2
if npm ci --prefix "$s3dir" --no-audit --no-fund --loglevel=error >&2; then
  echo "$want" >"$stamp"
else
  echo "warning: 'npm ci --prefix $s3dir' failed: the S3 integration tests will fail" >&2
fi

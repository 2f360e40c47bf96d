#!/usr/bin/env bash
# Start s3rver (a local S3 implementation on Node.js, installed by
# scripts/deps.sh into tests/s3/node_modules) on 127.0.0.1 on a free port.
#
#   tests/s3/start-s3rver.sh DATA_DIR LOG_FILE BUCKET...
#
# Creates DATA_DIR, starts s3rver in the background with path-style
# addressing only and the buckets created at start-up, waits until it
# answers HTTP, then prints "PORT PID" on stdout and exits 0. The caller
# kills PID (the tests do it in their EXIT trap). On failure it prints the
# reason and the server log on stderr and exits non-zero (2: s3rver or
# node is not installed).
#
# s3rver's only account has access key S3RVER and secret key S3RVER. It
# checks SigV4 signatures itself too (unless S3RVER_ALLOW_MISMATCHED=1).
set -euo pipefail
if (($# < 3)); then
	echo "usage: $0 DATA_DIR LOG_FILE BUCKET..." >&2
	exit 2
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
data=$1 log=$2
shift 2
NODE=${NODE:-node}
bin=$here/node_modules/s3rver/bin/s3rver.js
if ! command -v "$NODE" >/dev/null 2>&1; then
	echo "start-s3rver: node (Node.js) is not installed; scripts/deps.sh installs the S3 test server's needs" >&2
	exit 2
fi
if [[ ! -f $bin ]]; then
	echo "start-s3rver: s3rver is not installed at $bin; run scripts/deps.sh (npm ci --prefix tests/s3)" >&2
	exit 2
fi
mkdir -p "$data"
args=(-d "$data" -a 127.0.0.1 -p 0 --no-vhost-buckets)
if [[ ${S3RVER_ALLOW_MISMATCHED:-0} == 1 ]]; then
	args+=(--allow-mismatched-signatures)
fi
for b in "$@"; do
	args+=(--configure-bucket "$b")
done
# s3rver makes ListObjectsV2 continuation tokens with DES, which OpenSSL 3
# keeps in its legacy provider: without it every truncated listing is a
# 500 (ERR_OSSL_EVP_UNSUPPORTED).
node_flags=()
des='require("crypto").createCipheriv("des", Buffer.alloc(8), Buffer.alloc(8))'
if ! "$NODE" -e "$des" >/dev/null 2>&1; then
	if "$NODE" --openssl-legacy-provider -e "$des" >/dev/null 2>&1; then
		node_flags+=(--openssl-legacy-provider)
	else
		echo "start-s3rver: node has no DES cipher even with --openssl-legacy-provider: s3rver will fail every truncated listing (HTTP 500)" >&2
	fi
fi
# stdin/stdout/stderr away from the caller's pipes, so $(...) returns.
"$NODE" "${node_flags[@]}" "$bin" "${args[@]}" </dev/null >"$log" 2>&1 &
pid=$!
port=
for _ in $(seq 1 300); do
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "start-s3rver: s3rver exited at start-up; its log:" >&2
		sed 's/^/  | /' "$log" >&2
		exit 1
	fi
	port=$(sed -n 's/^S3rver listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$log" | head -n 1)
	[[ -n $port ]] && break
	sleep 0.1
done
if [[ -z $port ]]; then
	kill -9 "$pid" 2>/dev/null || true
	echo "start-s3rver: s3rver did not report a port within 30 s; its log:" >&2
	sed 's/^/  | /' "$log" >&2
	exit 1
fi
# Answering HTTP (any status) is ready.
if ! "${PYTHON:-python3}" - "$port" <<'EOF'; then
import http.client, sys, time
port = int(sys.argv[1])
for _ in range(100):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", "/")
        c.getresponse().read()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
EOF
	kill -9 "$pid" 2>/dev/null || true
	echo "start-s3rver: s3rver on port $port does not answer HTTP; its log:" >&2
	sed 's/^/  | /' "$log" >&2
	exit 1
fi
echo "$port $pid"

# shellcheck shell=bash disable=SC2034
# Shared helpers for the integration tests. Source it after `set -euo pipefail`:
#
#   . "$(dirname "$0")/lib.sh"
#
# Environment (set by ctest, see tests/CMakeLists.txt):
#   STOWAGE    path to the stowage binary
#   STOW_TESTS the tests/ directory
# Optional:
#   KEEP_TMP=1     keep the temp dir (its path is printed) for debugging
#   SW_TIMEOUT=N   seconds before a single stowage command is considered hung
#
# Conventions: `sw ...` runs `stowage ...` and records RC, OUT and ERR (never
# aborts the script). `expect_*` print "ok: ..." or "FAIL: ...: expected X,
# got Y" and count failures; `finish` exits 1 if any check failed. `die`
# is for setup steps without which the rest of the test is meaningless.

TESTS_DIR=${STOW_TESTS:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
IT_DIR=$TESTS_DIR/integration
if [[ -z ${STOWAGE:-} ]]; then
	for c in "$TESTS_DIR/../build-it/stowage" "$TESTS_DIR/../build/stowage"; do
		if [[ -x $c ]]; then STOWAGE=$c; break; fi
	done
fi
STOWAGE=${STOWAGE:-stowage}
SW_TIMEOUT=${SW_TIMEOUT:-180}
PY=${PYTHON:-python3}
treecmp_py() { "$PY" "$IT_DIR/treecmp.py" "$@"; }
mkfixture() { "$PY" "$IT_DIR/mkfixture.py" "$@"; }
repotool() { "$PY" "$IT_DIR/repotool.py" "$@"; }

FAILS=0
CHECKS=0
BG_PIDS=()

export STOWAGE_PASSWORD=${STOWAGE_PASSWORD:-correct horse battery staple}
unset STOWAGE_NEW_PASSWORD STOWAGE_REPO

T=$(mktemp -d "${TMPDIR:-/tmp}/stow-it.XXXXXX")
chmod 755 "$T"

cleanup()
{
	local p
	for p in "${BG_PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null || true
	done
	if [[ ${KEEP_TMP:-0} == 1 ]]; then
		echo "kept temp dir: $T" >&2
	else
		chmod -R u+rwX "$T" 2>/dev/null || true
		rm -rf "$T"
	fi
}
trap cleanup EXIT

# ---------------------------------------------------------------- reporting

# clip N: the first N lines of stdin. Unlike head it reads all input, so
# the producer never dies of SIGPIPE (which pipefail would turn into a
# failed pipeline and set -e into an early exit).
clip()
{
	awk -v n="$1" 'NR <= n'
}

pass()
{
	CHECKS=$((CHECKS + 1))
	printf 'ok: %s\n' "$*"
}

fail()
{
	CHECKS=$((CHECKS + 1))
	FAILS=$((FAILS + 1))
	printf 'FAIL: %s\n' "$*"
}

note()
{
	printf 'NOTE: %s\n' "$*"
}

die()
{
	fail "$@"
	printf 'aborting %s: a setup step failed (%d checks failed)\n' \
		"$(basename "$0")" "$FAILS"
	exit 1
}

# Show the last command's output, indented, truncated.
show_output()
{
	if [[ -s $T/.out ]]; then
		echo "  --- stdout (first 40 lines) ---"
		head -n 40 "$T/.out" | cat -v | sed 's/^/  | /'
	fi
	if [[ -s $T/.err ]]; then
		echo "  --- stderr (first 40 lines) ---"
		head -n 40 "$T/.err" | cat -v | sed 's/^/  | /'
	fi
}

finish()
{
	if ((FAILS > 0)); then
		printf '%s: %d of %d checks FAILED\n' "$(basename "$0")" "$FAILS" "$CHECKS"
		exit 1
	fi
	printf '%s: all %d checks passed\n' "$(basename "$0")" "$CHECKS"
	exit 0
}

# ---------------------------------------------------------------- running

# Check the binary exists before anything else: a missing binary is a
# failure, not a skip.
require_binary()
{
	if ! command -v "$STOWAGE" >/dev/null 2>&1; then
		die "stowage binary: expected an executable at STOWAGE='$STOWAGE', got none (build it first)"
	fi
}

# sw ARGS...: run `stowage ARGS...` with a timeout; sets RC, OUT, ERR.
# stdin is /dev/null so nothing can prompt.
sw()
{
	set +e
	timeout -k 5 "$SW_TIMEOUT" "$STOWAGE" "$@" </dev/null >"$T/.out" 2>"$T/.err"
	RC=$?
	set -e
	OUT=$(cat "$T/.out")
	ERR=$(cat "$T/.err")
	if ((RC == 124)); then
		echo "  (stowage $* timed out after ${SW_TIMEOUT}s)"
	fi
	return 0
}

# v ARGS...: shorthand for `sw vault ARGS...`
v()
{
	sw vault "$@"
}

expect_rc()
{
	local want=$1
	shift
	if [[ $RC == "$want" ]]; then
		pass "$* (exit $RC)"
	else
		fail "$*: expected exit $want, got $RC"
		show_output
	fi
}

# expect_rc_in "0 3" DESC
expect_rc_in()
{
	local want=$1 w
	shift
	for w in $want; do
		if [[ $RC == "$w" ]]; then
			pass "$* (exit $RC)"
			return 0
		fi
	done
	fail "$*: expected exit in {$want}, got $RC"
	show_output
}

expect_eq()
{
	local want=$1 got=$2
	shift 2
	if [[ $want == "$got" ]]; then
		pass "$* (= '$got')"
	else
		fail "$*: expected '$want', got '$got'"
	fi
}

# expect_grep REGEX TEXT DESC  (extended regex, must match)
expect_grep()
{
	local re=$1 text=$2
	shift 2
	if grep -Eq -- "$re" <<<"$text"; then
		pass "$*"
	else
		fail "$*: expected output matching /$re/, got:"
		printf '%s\n' "$text" | clip 30 | cat -v | sed 's/^/  | /'
	fi
}

# expect_grepi: like expect_grep, case-insensitive
expect_grepi()
{
	local re=$1 text=$2
	shift 2
	if grep -Eiq -- "$re" <<<"$text"; then
		pass "$*"
	else
		fail "$*: expected output matching /$re/i, got:"
		printf '%s\n' "$text" | clip 30 | cat -v | sed 's/^/  | /'
	fi
}

expect_no_grep()
{
	local re=$1 text=$2
	shift 2
	if grep -Eq -- "$re" <<<"$text"; then
		fail "$*: expected no line matching /$re/, got:"
		grep -E -- "$re" <<<"$text" | clip 10 | cat -v | sed 's/^/  | /'
	else
		pass "$*"
	fi
}

# --------------------------------------------------------------- vault ops

# new_repo PATH [INIT-ARGS...]: init a repository (cheap KDF) or die.
new_repo()
{
	local repo=$1
	shift
	v init --repo "$repo" --kdf-log-n 10 "$@"
	if [[ $RC != 0 ]]; then
		show_output
		die "vault init --repo $repo $*: expected exit 0, got $RC"
	fi
	if ! grep -Eq '^created repository [^ ]+ at .+' <<<"$OUT"; then
		fail "vault init output: expected 'created repository <id> at <location>', got '$OUT'"
	fi
}

# snap REPO DIR [ARGS...]: snapshot create; sets SNAP to the ID or "" and
# records a failure (not fatal) when the exit code or output is wrong.
snap()
{
	local repo=$1 dir=$2
	shift 2
	SNAP=
	v snapshot create "$dir" --repo "$repo" "$@"
	if [[ $RC != 0 ]]; then
		fail "vault snapshot create $dir $*: expected exit 0, got $RC"
		show_output
		return 0
	fi
	local id
	id=$(printf '%s\n' "$OUT" | grep -E '^[0-9a-f]{64}$' | tail -n 1 || true)
	if [[ -z $id ]]; then
		fail "vault snapshot create $dir: expected a 64-hex-digit ID on stdout, got '$OUT'"
		return 0
	fi
	SNAP=$id
	pass "vault snapshot create $(basename "$dir") $* -> ${id:0:12}"
}

# restore_cmp REPO ID TARGET SRC [TREECMP-ARGS...]: restore and compare.
restore_cmp()
{
	local repo=$1 id=$2 target=$3 src=$4
	shift 4
	v restore "$id" "$target" --repo "$repo"
	if [[ $RC != 0 ]]; then
		fail "vault restore $id -> $(basename "$target"): expected exit 0, got $RC"
		show_output
	fi
	treecmp "$src" "$target" "$@"
}

# treecmp SRC DST [ARGS...]: compare trees, record pass/fail with the diff.
treecmp()
{
	local src=$1 dst=$2 out rc
	shift 2
	set +e
	out=$(treecmp_py "$src" "$dst" "$@" 2>&1)
	rc=$?
	set -e
	if ((rc == 0)); then
		pass "tree $(basename "$dst") equals $(basename "$src") ($(tail -n 1 <<<"$out"))"
	else
		fail "tree $(basename "$dst") vs $(basename "$src"): expected identical, got differences:"
		printf '%s\n' "$out" | clip 60 | sed 's/^/  | /'
	fi
}

# check_clean REPO [ARGS...]: vault check must exit 0 and say so.
check_clean()
{
	local repo=$1
	shift
	v check --repo "$repo" "$@"
	if [[ $RC == 0 ]] && grep -q 'no errors were found' <<<"$OUT"; then
		pass "vault check $* is clean"
	else
		fail "vault check $*: expected exit 0 and 'no errors were found', got exit $RC"
		show_output
	fi
}

is_root()
{
	[[ $(id -u) == 0 ]]
}

# ------------------------------------------------------------------- S3
# For the test_s3_*.sh tests: s3rver (Node.js, installed by scripts/deps.sh
# into tests/s3/node_modules) behind the proxies in tests/s3/. Missing
# tools are a failure with the reason, never a skip.

S3_DIR=$TESTS_DIR/s3
S3_BUCKET=stowage-test
S3_REGION=us-east-1
S3PY=

# s3_require: node, s3rver and a python3 with botocore, or die saying
# which is missing and how to get it. Sets S3PY.
s3_require()
{
	local why=() p
	if ! command -v "${NODE:-node}" >/dev/null 2>&1; then
		why+=("node (Node.js) is not on PATH")
	fi
	if [[ ! -f $S3_DIR/node_modules/s3rver/bin/s3rver.js ]]; then
		why+=("s3rver is not installed in $S3_DIR/node_modules (scripts/deps.sh runs 'npm ci --prefix tests/s3')")
	fi
	for p in "$PY" /usr/bin/python3 python3; do
		if command -v "$p" >/dev/null 2>&1 &&
			"$p" -c 'import botocore.auth' >/dev/null 2>&1; then
			S3PY=$p
			break
		fi
	done
	if [[ -z $S3PY ]]; then
		why+=("no python3 with botocore (Debian: apt-get install python3-botocore; scripts/deps.sh does)")
	fi
	if ((${#why[@]})); then
		local w
		for w in "${why[@]}"; do
			fail "S3 test prerequisite: $w"
		done
		die "the S3 tests need node + s3rver + python3-botocore; run scripts/deps.sh"
	fi
}

# s3_isolate_env: no AWS_* variable, ~/.aws or profile from the machine
# leaks into the test: unset them all, HOME is a fresh empty directory.
s3_isolate_env()
{
	local v
	for v in $(compgen -e | grep -E '^AWS_' || true); do
		unset "$v"
	done
	mkdir -p "$T/home"
	export HOME=$T/home
}

# s3_use_s3rver_keys: export s3rver's (only) credentials.
s3_use_s3rver_keys()
{
	export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
}

# _s3_bg NAME CMD...: start CMD in the background (killed by cleanup),
# logging to $T/NAME.log; wait for it to write $T/NAME.port. Sets BG_PORT.
_s3_bg()
{
	local name=$1 pid i
	shift
	rm -f "$T/$name.port"
	"$@" --port-file "$T/$name.port" </dev/null >"$T/$name.log" 2>&1 &
	pid=$!
	disown "$pid" 2>/dev/null || true # no "Killed" notice at cleanup
	BG_PIDS+=("$pid")
	for i in $(seq 1 200); do
		[[ -s $T/$name.port ]] && break
		if ! kill -0 "$pid" 2>/dev/null; then
			sed 's/^/  | /' "$T/$name.log"
			die "$name: expected it to start, got exit at start-up (log above)"
		fi
		sleep 0.05
	done
	[[ -s $T/$name.port ]] || die "$name: expected a port within 10 s, got none"
	BG_PORT=$(cat "$T/$name.port")
	eval "${name^^}_PID=$pid"
}

# s3_start_s3rver [BUCKET...]: s3rver on a free loopback port with the
# buckets (default: $S3_BUCKET) made; sets S3RVER_PORT, S3RVER_PID,
# S3RVER_DATA (its data directory: objects are files under
# $S3RVER_DATA/BUCKET/KEY._S3rver_object).
s3_start_s3rver()
{
	local r
	(($#)) || set -- "$S3_BUCKET"
	S3RVER_DATA=$T/s3rver-data
	if ! r=$(PYTHON=$S3PY bash "$S3_DIR/start-s3rver.sh" "$S3RVER_DATA" "$T/s3rver.log" "$@" 2>"$T/.s3rver-start"); then
		cat "$T/.s3rver-start"
		die "s3rver: expected it to start, got failure (above)"
	fi
	S3RVER_PORT=${r% *}
	S3RVER_PID=${r#* }
	BG_PIDS+=("$S3RVER_PID")
	pass "s3rver listening on 127.0.0.1:$S3RVER_PORT (buckets: $*)"
}

# s3_start_sigv4_proxy UPSTREAM_PORT [ARGS...]: the SigV4-verifying proxy;
# sets SIGV4_PORT.
s3_start_sigv4_proxy()
{
	local up=$1
	shift
	_s3_bg sigv4 "$S3PY" "$S3_DIR/sigv4_proxy.py" --upstream "127.0.0.1:$up" \
		--region "$S3_REGION" "$@"
	SIGV4_PORT=$BG_PORT
}

# s3_start_fault_proxy UPSTREAM_PORT [ARGS...]: the fault-injecting proxy
# (mode off unless ARGS say otherwise); sets FAULT_PORT.
s3_start_fault_proxy()
{
	local up=$1
	shift
	_s3_bg fault "$S3PY" "$S3_DIR/fault_proxy.py" --upstream "127.0.0.1:$up" "$@"
	FAULT_PORT=$BG_PORT
}

# s3_loc PORT BUCKET PREFIX [EXTRA-QUERY]: a location for --repo, path
# style, endpoint http://127.0.0.1:PORT (URL-encoded), region $S3_REGION.
s3_loc()
{
	local port=$1 bucket=$2 prefix=$3 extra=${4:-}
	local loc="s3://$bucket"
	[[ -n $prefix ]] && loc+="/$prefix"
	loc+="?s3Url=http%3A%2F%2F127.0.0.1%3A$port&s3ForcePathStyle=true&region=$S3_REGION"
	[[ -n $extra ]] && loc+="&$extra"
	printf '%s\n' "$loc"
}

# proxy_get PORT: the proxy's counters (JSON) on stdout (over https with
# PROXY_TLS_CA set to the proxy's certificate).
proxy_get()
{
	"$S3PY" - "$1" <<'PYEOF'
import http.client, os, ssl, sys
ca = os.environ.get("PROXY_TLS_CA")
if ca:  # a proxy serving https (--tls-cert)
    c = http.client.HTTPSConnection("127.0.0.1", int(sys.argv[1]), timeout=10,
                                    context=ssl.create_default_context(cafile=ca))
else:
    c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
c.request("GET", "/__proxy/stats")
r = c.getresponse()
sys.stdout.write(r.read().decode())
sys.exit(0 if r.status == 200 else 1)
PYEOF
}

# proxy_stat PORT KEY[.KEY...]: one counter (0 if absent).
proxy_stat()
{
	proxy_get "$1" | "$S3PY" -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v.get(k, 0) if isinstance(v, dict) else 0
print(v if not isinstance(v, (dict, list)) else json.dumps(v))' "$2"
}

# proxy_config PORT JSON: change a proxy's config (fault_proxy: mode,
# rate, kinds, seed, delay); dies if refused.
proxy_config()
{
	local out
	if ! out=$("$S3PY" - "$1" "$2" <<'PYEOF'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
c.request("POST", "/__proxy/config", body=sys.argv[2].encode(),
          headers={"Content-Type": "application/json"})
r = c.getresponse()
sys.stdout.write(r.read().decode())
sys.exit(0 if r.status == 200 else 1)
PYEOF
	); then
		die "proxy config $2 on port $1: expected 200, got: $out"
	fi
	printf '  (proxy %s config: %s)\n' "$1" "$out"
}

# proxy_reset PORT: zero a proxy's counters.
proxy_reset()
{
	"$S3PY" - "$1" <<'PYEOF' >/dev/null
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
c.request("POST", "/__proxy/reset", body=b"")
sys.exit(0 if c.getresponse().status == 200 else 1)
PYEOF
}

# free_port: a loopback port nothing listens on (bound, then released).
free_port()
{
	"$S3PY" -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# s3rver_keys BUCKET: the keys s3rver holds in BUCKET, sorted.
s3rver_keys()
{
	local d=$S3RVER_DATA/$1
	[[ -d $d ]] || return 0
	find "$d" -type f -name '*._S3rver_object' -printf '%P\n' |
		sed 's/\._S3rver_object$//' | LC_ALL=C sort
}

# s3_show_logs: the tails of the S3 servers' logs (call when a check
# failed, before finish).
s3_show_logs()
{
	local f
	for f in "$T"/s3rver.log "$T"/sigv4.log "$T"/fault.log; do
		[[ -s $f ]] || continue
		echo "  --- $(basename "$f") (last 40 lines) ---"
		tail -n 40 "$f" | cat -v | sed 's/^/  | /'
	done
}

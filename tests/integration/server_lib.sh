# shellcheck shell=bash disable=SC2034
# Shared helpers for tests that drive `stowage server` on one or more
# kubesim clusters with the real kubectl (the end-to-end tests
# test_e2e_*.sh). Source it after lib.sh:
#
#   . "$(dirname "$0")/lib.sh"
#   . "$(dirname "$0")/server_lib.sh"
#
# It replaces lib.sh's EXIT trap with one that stops every server and
# kubesim started here (SIGTERM, then SIGKILL after 5 s), then runs
# lib.sh's cleanup. The kubectl helpers (k, kapply, jp, wait_jp,
# expect_jp, wait_for) are the ones of test_server_bsl.sh /
# test_server_schedule.sh, with the namespace and cluster made explicit.
#
# Clusters: `ks_start NAME` starts a kubesim in $T/ks-NAME as
# tests/kube/with_kubesim.sh does (same contract: kubeconfig, port, token,
# ready) and `use_cluster NAME` points KUBECONFIG (kubectl, the velero
# CLI and stowage server) at it.

ROOT=$(cd "$TESTS_DIR/.." && pwd)
KUBESIM_PY=$ROOT/tools/kubesim/kubesim.py
KS_PIDS=()
SRV_PIDS=()

mkdir -p "$T/home" "$T/bin"
export HOME=$T/home # kubectl's discovery cache and velero's config, never ~/.kube
unset VELERO_NAMESPACE

# ------------------------------------------------------------- processes

# _stop_pid PID [signalled] [TENTHS]: SIGTERM (unless already sent: a
# second one makes stowage server exit at once), wait up to TENTHS tenths
# of a second (50), then SIGKILL.
_stop_pid()
{
	local p=$1
	if [[ ${2:-} != signalled ]]; then
		kill "$p" 2>/dev/null || return 0
	fi
	for _ in $(seq "${3:-50}"); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
}

srv_stop_all()
{
	local p
	for p in "${SRV_PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${SRV_PIDS[@]}"; do
		_stop_pid "$p" signalled $((SRV_GRACE * 10))
	done
	SRV_PIDS=()
}

ks_stop_all()
{
	local p
	for p in "${KS_PIDS[@]}"; do
		_stop_pid "$p"
	done
	KS_PIDS=()
}

trap 'srv_stop_all; ks_stop_all; cleanup' EXIT

# ks_start NAME [KUBESIM-ARGS...]: a kubesim on a loopback port with its
# state in $T/ks-NAME; waits for `ready` (20 s) or dies with its log.
# Sets KS_DIR_<NAME> and KS_PID_<NAME>.
ks_start()
{
	local name=$1 dir=$T/ks-$1 pid
	shift
	mkdir -p "$dir"
	python3 "$KUBESIM_PY" --state-dir "$dir" --port 0 --host-root "$dir/host" \
		"$@" 2>"$dir/kubesim.log" &
	pid=$!
	KS_PIDS+=("$pid")
	for _ in $(seq 200); do
		[[ -f $dir/ready ]] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if [[ ! -f $dir/ready ]]; then
		sed 's/^/  | /' "$dir/kubesim.log" | tail -n 30
		die "kubesim $name: expected it ready within 20 s, got no ready file (log above)"
	fi
	printf -v "KS_DIR_${name^^}" '%s' "$dir"
	printf -v "KS_PID_${name^^}" '%s' "$pid"
	pass "kubesim $name ready on 127.0.0.1:$(cat "$dir/port")"
}

# ks_stop NAME: stop that kubesim (and forget its pid).
ks_stop()
{
	local v=KS_PID_${1^^} p keep=()
	_stop_pid "${!v}"
	for p in "${KS_PIDS[@]}"; do
		[[ $p == "${!v}" ]] || keep+=("$p")
	done
	KS_PIDS=("${keep[@]}")
}

# use_cluster NAME: kubectl, velero and stowage server talk to it.
use_cluster()
{
	export KUBECONFIG=$T/ks-$1/kubeconfig
	CLUSTER=$1
}

# srv_start LOGNAME ARGS...: `stowage server ARGS` on the current cluster
# in the background, stdout+stderr to $T/LOGNAME.log. Sets SRV_PID. Its
# metrics endpoint is on loopback at a port the kernel picks (the default
# :8085 would listen on every interface, and only one of several servers
# on this host could have it), unless ARGS set --metrics-address.
srv_start()
{
	local log=$T/$1.log metrics=(--metrics-address 127.0.0.1:0)
	shift
	[[ " $* " == *" --metrics-address"* ]] && metrics=()
	"$STOWAGE" server "${metrics[@]}" "$@" >"$log" 2>&1 &
	SRV_PID=$!
	SRV_PIDS+=("$SRV_PID")
}

# srv_stop PID [signalled]: stop one server (SIGTERM, then SIGKILL after
# SRV_GRACE seconds, 15: an idle server takes ~3 s to give up its Lease
# and watches, longer on a loaded machine), forget its pid.
SRV_GRACE=${SRV_GRACE:-15}
srv_stop()
{
	local p keep=()
	_stop_pid "$1" "${2:-}" $((SRV_GRACE * 10))
	for p in "${SRV_PIDS[@]}"; do
		[[ $p == "$1" ]] || keep+=("$p")
	done
	SRV_PIDS=("${keep[@]}")
}

# srv_stop_many PID...: stop several servers at once (each takes a few
# seconds to give its Lease and watches up), then forget them.
srv_stop_many()
{
	local p
	for p in "$@"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "$@"; do
		srv_stop "$p" signalled
	done
}

# srv_kill9 PID: SIGKILL, no clean stop (a crashed replica).
srv_kill9()
{
	kill -9 "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	srv_stop "$1" signalled
}

# show_log FILE [N]: the last N (40) lines, indented.
show_log()
{
	echo "  --- $(basename "$1") (last ${2:-40} lines) ---"
	tail -n "${2:-40}" "$1" 2>/dev/null | cat -v | sed 's/^/  | /'
}

# ---------------------------------------------------------------- kubectl

# k ARGS...: kubectl with a timeout; sets RC, OUT, ERR (never aborts).
k()
{
	set +e
	timeout -k 5 60 kubectl --request-timeout=20s "$@" </dev/null >"$T/.out" 2>"$T/.err"
	RC=$?
	set -e
	OUT=$(cat "$T/.out")
	ERR=$(cat "$T/.err")
	return 0
}

# kapply: kubectl apply -f of the YAML on stdin; sets RC, OUT, ERR.
kapply()
{
	cat >"$T/apply.yaml"
	k apply -f "$T/apply.yaml"
}

# jp NS KIND NAME JSONPATH: the value, "" if the object or field is missing.
jp()
{
	k -n "$1" get "$2" "$3" -o "jsonpath=$4"
	[[ $RC == 0 ]] && printf '%s' "$OUT"
	return 0
}

# wait_jp SECONDS NS KIND NAME JSONPATH REGEX: poll until the value
# matches; sets GOT to the last value; returns 1 on timeout.
wait_jp()
{
	local secs=$1 ns=$2 kind=$3 name=$4 path=$5 re=$6 end=$((SECONDS + $1))
	while :; do
		GOT=$(jp "$ns" "$kind" "$name" "$path")
		[[ $GOT =~ $re ]] && return 0
		((SECONDS < end)) || return 1
		sleep 0.3
	done
}

# expect_jp SECONDS NS KIND NAME JSONPATH REGEX DESC...
expect_jp()
{
	local secs=$1 ns=$2 kind=$3 name=$4 path=$5 re=$6
	shift 6
	if wait_jp "$secs" "$ns" "$kind" "$name" "$path" "$re"; then
		pass "$* ($kind/$name $path = '${GOT:0:120}')"
	else
		fail "$*: expected $ns/$kind/$name $path to match /$re/ within ${secs}s, got '${GOT:0:300}'"
	fi
}

# wait_for SECONDS COMMAND...: until COMMAND succeeds; 1 on timeout.
wait_for()
{
	local end=$((SECONDS + $1))
	shift
	while ((SECONDS < end)); do
		if "$@"; then return 0; fi
		sleep 0.3
	done
	"$@"
}

# install_velero NS: the velero.io CRDs (established) and the namespace.
install_velero()
{
	k apply -k "$ROOT/deploy/crds"
	[[ $RC == 0 ]] || die "kubectl apply -k deploy/crds on $CLUSTER: $ERR"
	k wait --for condition=established --timeout=20s crd -l component=velero
	k create namespace "$1"
	[[ $RC == 0 ]] || die "kubectl create namespace $1 on $CLUSTER: $ERR"
}

# install_velero_bg NAME... : install_velero velero on each of these
# clusters at once (background jobs; kubectl's output in
# $T/ks-NAME/install.log); waits for all, dies naming a cluster that failed.
install_velero_bg()
{
	local n pids=() i=0
	for n in "$@"; do
		(
			export KUBECONFIG=$T/ks-$n/kubeconfig
			kc() { timeout -k 5 60 kubectl --request-timeout=20s "$@" </dev/null; }
			kc apply -k "$ROOT/deploy/crds" &&
				kc wait --for condition=established --timeout=20s crd -l component=velero &&
				kc create namespace velero
		) >"$T/ks-$n/install.log" 2>&1 &
		pids+=($!)
	done
	for n in "$@"; do
		if wait "${pids[$i]}"; then
			pass "[$n] velero.io CRDs established, namespace velero"
		else
			sed 's/^/  | /' "$T/ks-$n/install.log" | tail -n 20
			die "[$n] installing the CRDs and namespace velero failed (above)"
		fi
		i=$((i + 1))
	done
}

# ------------------------------------------------------------ velero CLI

# The binary answers to the name velero through a symlink.
ln -sf "$(command -v "$STOWAGE")" "$T/bin/velero"
VELERO=$T/bin/velero

# vel ARGS...: velero ARGS with a timeout; sets RC, OUT, ERR.
vel()
{
	set +e
	timeout -k 5 90 "$VELERO" "$@" </dev/null >"$T/.vout" 2>"$T/.verr"
	RC=$?
	set -e
	OUT=$(cat "$T/.vout")
	ERR=$(cat "$T/.verr")
	return 0
}

# ------------------------------------------------------------- locations

# s3_fetch_prefix URL BUCKET PREFIX DIR: every object under PREFIX/ copied
# through the S3 API (botocore, not stowage) into DIR/<key minus PREFIX/>,
# so a filesystem checker can read it. Prints the number of objects.
s3_fetch_prefix()
{
	"$S3PY" - "$@" <<'PYEOF'
import os, sys, botocore.session
from botocore.config import Config
url, bucket, prefix, out = sys.argv[1:5]
c = botocore.session.Session().create_client(
    "s3", region_name="us-east-1", endpoint_url=url,
    aws_access_key_id="S3RVER", aws_secret_access_key="S3RVER",
    config=Config(s3={"addressing_style": "path"}))
n = 0
for page in c.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
    for o in page.get("Contents", []):
        rel = o["Key"][len(prefix) + 1:]
        p = os.path.join(out, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(c.get_object(Bucket=bucket, Key=o["Key"])["Body"].read())
        n += 1
print(n)
PYEOF
}

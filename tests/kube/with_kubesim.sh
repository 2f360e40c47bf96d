#!/usr/bin/env bash
# with_kubesim.sh PROGRAM [ARGS...]
#
# Starts kubesim (tools/kubesim) in a fresh temp dir, waits until it is ready,
# runs PROGRAM with these in its environment, stops kubesim, removes the dir
# and exits with PROGRAM's status:
#
#   KUBECONFIG              DIR/kubeconfig (context kubesim, namespace default)
#   STOW_KUBESIM_URL        https://127.0.0.1:PORT
#   STOW_KUBESIM_DIR        DIR (ca.crt, token, client.crt/key, kubesim.log, ...)
#   STOW_KUBESIM_TOKEN      the bearer token
#   STOW_KUBESIM_HOST_ROOT  DIR/host (the simulated nodes' filesystem root)
#
# KUBESIM_ARGS adds arguments to kubesim (e.g. "--nodes node-1,node-2");
# KEEP_TMP=1 keeps the dir.
set -uo pipefail

if [[ $# -lt 1 ]]; then
	echo "usage: $0 PROGRAM [ARGS...]" >&2
	exit 2
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kubesim=$here/../../tools/kubesim/kubesim.py
dir=$(mktemp -d "${TMPDIR:-/tmp}/kubesim.XXXXXX")
pid=

stop()
{
	if [[ -n $pid ]]; then
		kill "$pid" 2>/dev/null
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	if [[ ${KEEP_TMP:-0} == 1 ]]; then
		echo "kept kubesim dir: $dir" >&2
	else
		rm -rf "$dir"
	fi
}
trap stop EXIT

# shellcheck disable=SC2086
python3 "$kubesim" --state-dir "$dir" --port 0 --host-root "$dir/host" \
	${KUBESIM_ARGS:-} 2>"$dir/kubesim.log" &
pid=$!
for _ in $(seq 200); do
	[[ -f $dir/ready ]] && break
	if ! kill -0 "$pid" 2>/dev/null; then
		break
	fi
	sleep 0.1
done
if [[ ! -f $dir/ready ]]; then
	echo "with_kubesim: kubesim did not become ready; its log:" >&2
	cat "$dir/kubesim.log" >&2
	exit 1
fi

port=$(cat "$dir/port")
export KUBECONFIG=$dir/kubeconfig
export STOW_KUBESIM_URL=https://127.0.0.1:$port
export STOW_KUBESIM_DIR=$dir
export STOW_KUBESIM_TOKEN
STOW_KUBESIM_TOKEN=$(cat "$dir/token")
export STOW_KUBESIM_HOST_ROOT=$dir/host

"$@"
rc=$?
if [[ $rc -ne 0 ]]; then
	echo "with_kubesim: $1 exited $rc; kubesim log tail:" >&2
	tail -n 40 "$dir/kubesim.log" >&2
fi
exit $rc

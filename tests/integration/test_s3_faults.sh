#!/usr/bin/env bash
# The S3 backend under network and server faults: s3rver behind
# tests/s3/fault_proxy.py, with a short deadline and retries in the
# location (timeout=2&retries=8).
#
# Transient faults (a seeded share of requests: connections reset mid
# request or mid response, truncated bodies, 500, 503 SlowDown, answers
# later than the deadline, stalls mid-body): backup and restore succeed,
# the restore equals the source, and check --read-data (without faults)
# is clean.
#
# Persistent faults (every request, or every PUT, fails one way): the
# backup fails with exit 1 and a message that says what went wrong (the
# HTTP status, "timed out", the endpoint); afterwards, without faults, the
# repository checks clean, has no new snapshot, and a backup succeeds.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_binary
s3_require
s3_isolate_env
s3_use_s3rver_keys

echo "== servers"
s3_start_s3rver
s3_start_fault_proxy "$S3RVER_PORT" --mode off --seed "${FAULT_SEED:-20240611}" --delay 3
EP=127.0.0.1:$FAULT_PORT
# The injector must really inject: its self-check against this s3rver.
set +e
selfcheck=$("$S3PY" "$S3_DIR/fault_proxy.py" --upstream "127.0.0.1:$S3RVER_PORT" --self-check 2>"$T/selfcheck.log")
rc=$?
set -e
if ((rc == 0)); then
	pass "fault proxy self-check: every fault kind fails a plain request as promised"
else
	fail "fault proxy self-check: expected exit 0, got $rc:"
	sed 's/^/  | /' <<<"$selfcheck"
fi
R=$(s3_loc "$FAULT_PORT" "$S3_BUCKET" faults/repo "timeout=2&retries=8")
# For the persistent faults: give up sooner.
RQ=$(s3_loc "$FAULT_PORT" "$S3_BUCKET" faults/repo "timeout=2&retries=2")
SRC=$T/src
mkfixture bulk "$SRC" --mb 24 --small-files 60 --seed 3 >/dev/null
mkdir -p "$SRC/many"
for i in $(seq 1 40); do
	head -c $((i * 977)) /dev/urandom >"$SRC/many/f$i"
done
TC=(--no-xattr)
is_root || TC+=(--no-owner)

echo "== init (no faults)"
new_repo "$R"

echo "== transient faults: backup, restore"
proxy_config "$FAULT_PORT" '{"mode": "transient", "rate": 0.15, "min_faults": 1, "kinds": ["drop_request", "drop_response", "truncate", "error500", "error503", "delay", "stall"]}'
t0=$SECONDS
snap "$R" "$SRC" --tag faults=transient
S1=$SNAP
echo "  (backup took $((SECONDS - t0)) s; proxy: $(proxy_get "$FAULT_PORT" | tr -d '\n'))"
faulted=$(proxy_stat "$FAULT_PORT" faulted)
if ((faulted > 0)); then
	pass "the proxy faulted $faulted requests during the backup"
else
	fail "the proxy: expected some faulted requests during the backup, got $faulted"
fi
if [[ -n $S1 ]]; then
	proxy_reset "$FAULT_PORT"
	t0=$SECONDS
	restore_cmp "$R" "$S1" "$T/r1" "$SRC" "${TC[@]}"
	echo "  (restore took $((SECONDS - t0)) s; proxy: $(proxy_get "$FAULT_PORT" | tr -d '\n'))"
	faulted=$(proxy_stat "$FAULT_PORT" faulted)
	((faulted > 0)) && pass "the proxy faulted $faulted requests during the restore" ||
		fail "the proxy: expected some faulted requests during the restore, got $faulted"
fi
proxy_config "$FAULT_PORT" '{"mode": "off"}'
check_clean "$R" --read-data
v snapshot list -o json --repo "$R"
n=$("$S3PY" -c 'import json,sys; print(len(json.loads(sys.argv[1])))' "$OUT" 2>&1 || true)
expect_eq "$([[ -n $S1 ]] && echo 1 || echo 0)" "$n" "snapshots after the transient-fault backup (one if it succeeded)"

echo "== every distinct request fails once (its first attempt)"
# Deterministic, unlike the transient phase: each PUT, GET, HEAD, list and
# DELETE meets a reset, a truncated or dropped response (after the server
# carried the request out) or a 500/503 on its first attempt, so every
# retry path runs, including re-sending an upload on a reused connection.
mkfixture bulk "$SRC/once" --mb 4 --small-files 10 --seed 11 >/dev/null
proxy_reset "$FAULT_PORT"
proxy_config "$FAULT_PORT" '{"mode": "persistent", "first_n": 1, "methods": [], "kinds": ["drop_request", "drop_response", "truncate", "error500", "error503"]}'
t0=$SECONDS
snap "$R" "$SRC" --tag faults=once
S1b=$SNAP
echo "  (backup took $((SECONDS - t0)) s; proxy: $(proxy_get "$FAULT_PORT" | tr -d '\n'))"
if [[ -n $S1b ]]; then
	t0=$SECONDS
	restore_cmp "$R" "$S1b" "$T/r1b" "$SRC" "${TC[@]}"
	echo "  (restore took $((SECONDS - t0)) s; proxy: $(proxy_get "$FAULT_PORT" | tr -d '\n'))"
fi
proxy_config "$FAULT_PORT" '{"mode": "off", "first_n": 0}'
check_clean "$R" --read-data
# Snapshots that must exist now: those whose backup reported success.
NSNAP=0
for id in "$S1" "$S1b"; do
	if [[ -n $id ]]; then NSNAP=$((NSNAP + 1)); fi
done

# persistent NAME JSON REGEX: with every request faulted per JSON, a backup
# of a changed tree fails with exit 1 and stderr matching REGEX (case-
# insensitive).
persistent()
{
	local name=$1 cfg=$2 re=$3 t0
	echo "== persistent faults: $name"
	printf '%s\n' "$name" >"$SRC/persistent-$name.txt"
	proxy_reset "$FAULT_PORT"
	proxy_config "$FAULT_PORT" "$cfg"
	t0=$SECONDS
	v snapshot create "$SRC" --repo "$RQ" --tag faults="$name"
	echo "  (failed after $((SECONDS - t0)) s; proxy: $(proxy_get "$FAULT_PORT" | tr -d '\n'))"
	proxy_config "$FAULT_PORT" '{"mode": "off"}'
	printf '  stderr: %s\n' "$(clip 3 <<<"$ERR")"
	expect_rc 1 "backup with persistent $name"
	expect_grepi "$re" "$ERR" "the error names what failed ($name: /$re/)"
	expect_no_grep '^[0-9a-f]{64}$' "$OUT" "no snapshot ID printed ($name)"
	if ((SECONDS - t0 > 90)); then
		fail "backup with persistent $name: expected to give up within 90 s, took $((SECONDS - t0)) s"
	fi
}

persistent 503-all '{"mode": "persistent", "kinds": ["error503"], "methods": []}' \
	'503|SlowDown|reduce your request rate'
persistent 500-puts '{"mode": "persistent", "kinds": ["error500"], "methods": ["PUT"]}' \
	'500|InternalError|internal error'
persistent timeout-all '{"mode": "persistent", "kinds": ["delay"], "methods": []}' \
	'timed out|timeout'
# Only faults that keep the request from the server: a PUT the server
# carried out while the client saw it fail (drop_response) could leave a
# writer lease behind, which blocks gc until it expires (ten minutes, as
# designed); the retry of such PUTs is covered by the phase above.
persistent reset-puts '{"mode": "persistent", "kinds": ["drop_request"], "methods": ["PUT"]}' \
	"$EP|connection|reset"
persistent truncated-gets '{"mode": "persistent", "kinds": ["truncate"], "methods": ["GET"]}' \
	"$EP|truncat|partial|short|incomplete|closed|content-length"

echo "== after the persistent faults, without faults"
check_clean "$R" --read-data
v snapshot list -o json --repo "$R"
n=$("$S3PY" -c 'import json,sys; print(len(json.loads(sys.argv[1])))' "$OUT" 2>&1 || true)
expect_eq "$NSNAP" "$n" "snapshots after the failed backups (none of them left one)"
snap "$R" "$SRC" --tag faults=after
S2=$SNAP
if [[ -n $S2 ]]; then
	restore_cmp "$R" "$S2" "$T/r2" "$SRC" "${TC[@]}"
fi
v gc --repo "$R"
expect_rc 0 "gc removes what the failed backups left"
check_clean "$R" --read-data

((FAILS == 0)) || s3_show_logs
finish

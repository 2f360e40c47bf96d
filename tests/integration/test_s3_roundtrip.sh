#!/usr/bin/env bash
# The vault on S3: s3rver behind tests/s3/sigv4_proxy.py, which recomputes
# every request's SigV4 signature with botocore and refuses a mismatch as
# S3 does. init, snapshot a fixture tree, an incremental snapshot after
# changes, restore both and compare, check --read-data, key add / change,
# snapshot list -o json, snapshot delete + gc; a second repository under
# another prefix of the same bucket stays separate. At the end the proxy
# must have verified requests and rejected none. Then the same over https
# (a second proxy serving TLS; caCert): bodies go UNSIGNED-PAYLOAD there,
# hashed over plain http.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_binary
s3_require
s3_isolate_env
s3_use_s3rver_keys

echo "== servers"
"$S3PY" "$S3_DIR/sigv4_proxy.py" --help >/dev/null
s3_start_s3rver
s3_start_sigv4_proxy "$S3RVER_PORT"
# The verifier must be able to fail: a bad signature through it is refused.
set +e
selfcheck=$("$S3PY" "$S3_DIR/sigv4_proxy.py" --upstream "127.0.0.1:$S3RVER_PORT" \
	--region "$S3_REGION" --bucket "$S3_BUCKET" --self-check 2>"$T/selfcheck.log")
rc=$?
set -e
if ((rc == 0)); then
	pass "sigv4 proxy self-check: a wrong signature, a changed body, an unsigned x-amz header, an old date are all refused ($(tail -n 2 <<<"$selfcheck" | clip 1))"
else
	fail "sigv4 proxy self-check: expected exit 0, got $rc:"
	sed 's/^/  | /' <<<"$selfcheck"
fi

R=$(s3_loc "$SIGV4_PORT" "$S3_BUCKET" rt/repo)
R2=$(s3_loc "$SIGV4_PORT" "$S3_BUCKET" rt/other)
SRC=$T/src
echo "repository: $R"

echo "== fixture"
FX=$(mkfixture roundtrip "$SRC" --no-huge)
echo "$FX"
TREECMP_ARGS=()
[[ $FX == *xattrs=no* ]] && TREECMP_ARGS+=(--no-xattr)
[[ $FX == *owners=no* ]] && TREECMP_ARGS+=(--no-owner)

echo "== init"
v snapshot list --repo "$R"
expect_rc 5 "snapshot list before init (no repository under the prefix)"
expect_grep "no repository at s3://$S3_BUCKET/rt/repo" "$ERR" "the missing repository is named"
new_repo "$R"
expect_grep "^created repository [0-9a-f]+ at s3://$S3_BUCKET/rt/repo" "$OUT" "init names the S3 location"
keys=$(s3rver_keys "$S3_BUCKET")
if [[ -n $keys ]] && ! grep -qv '^rt/repo/' <<<"$keys"; then
	pass "every object init wrote is under the prefix rt/repo/ ($(wc -l <<<"$keys") objects)"
else
	fail "objects after init: expected some, all under rt/repo/, got:"
	sed 's/^/  | /' <<<"$keys" | clip 20
fi
v init --repo "$R" --kdf-log-n 10
expect_rc_in "1 5" "a second init at the same location is refused"

echo "== first snapshot, restore"
snap "$R" "$SRC" --tag run=1
S1=$SNAP
[[ -n $S1 ]] || {
	s3_show_logs
	die "first snapshot failed; nothing else can be checked"
}
restore_cmp "$R" "$S1" "$T/r1" "$SRC" "${TREECMP_ARGS[@]}"

echo "== changes, incremental snapshot"
mkfixture bulk "$SRC/added" --mb 3 --small-files 20 --seed 7 >/dev/null
printf 'changed contents\n' >"$SRC/changed.txt"
rm -rf "$SRC/nested/a" 2>/dev/null || true
first_file=$(find "$SRC" -maxdepth 1 -type f -size +100k | LC_ALL=C sort | clip 1)
if [[ -n $first_file ]]; then
	printf 'appended\n' >>"$first_file"
fi
v snapshot create "$SRC" --repo "$R" --tag run=2 --json
expect_rc 0 "incremental snapshot create --json"
S2=$(grep -E '^[0-9a-f]{64}$' <<<"$OUT" | tail -n 1 || true)
[[ -n $S2 && $S2 != "$S1" ]] && pass "incremental snapshot ID ${S2:0:12}" ||
	fail "incremental snapshot: expected a new 64-hex ID, got '$OUT'"
summary=$(grep '"type":"summary"' <<<"$ERR" | tail -n 1 || true)
[[ -n $summary ]] || summary='{}'
reused=$("$S3PY" -c 'import json,sys; print(json.loads(sys.argv[1]).get("files_reused", -1))' "$summary")
if ((reused > 0)); then
	pass "incremental snapshot reused $reused unchanged files from the parent"
else
	fail "incremental snapshot: expected files_reused > 0, got $reused (summary: $summary)"
fi
restore_cmp "$R" "$S2" "$T/r2" "$SRC" "${TREECMP_ARGS[@]}"
rm -rf "$T/r1b"
# S1 again after S2 was written: it must still be the first state (the
# first restore, r1, was compared with the source before the changes).
restore_cmp "$R" "$S1" "$T/r1b" "$T/r1" "${TREECMP_ARGS[@]}"
v diff "$S1" "$S2" --repo "$R"
expect_rc 0 "vault diff S1 S2"
expect_grep '^\+ .*added' "$OUT" "diff shows the added directory"

echo "== check"
check_clean "$R" --read-data

echo "== snapshot list -o json"
v snapshot list -o json --repo "$R"
expect_rc 0 "snapshot list -o json"
ids=$("$S3PY" -c 'import json,sys; print(" ".join(s["id"] for s in json.loads(sys.argv[1])))' "$OUT" 2>&1 || true)
expect_eq "$S1 $S2" "$ids" "snapshot list -o json: both snapshots, oldest first"

echo "== keys"
printf 'second password\n' >"$T/pw2"
printf 'third password\n' >"$T/pw3"
v key add --repo "$R" --new-password-file "$T/pw2" --kdf-log-n 10
expect_rc 0 "key add"
SLOT2=$(grep -E '^[0-9a-f]+$' <<<"$OUT" | tail -n 1 || true)
[[ -n $SLOT2 ]] && pass "key add prints the slot ID $SLOT2" || fail "key add: expected a slot ID, got '$OUT'"
v snapshot list --repo "$R" --password-file "$T/pw2"
expect_rc 0 "the added password opens the repository"
v key change --repo "$R" --password-file "$T/pw2" --new-password-file "$T/pw3" --kdf-log-n 10
expect_rc 0 "key change (second -> third password)"
v snapshot list --repo "$R" --password-file "$T/pw2"
expect_rc 4 "the changed (old) password is rejected"
expect_grepi "wrong password" "$ERR" "the rejection says wrong password"
v snapshot list --repo "$R" --password-file "$T/pw3"
expect_rc 0 "the new password opens the repository"
v key list -o json --repo "$R"
expect_rc 0 "key list -o json"
nslots=$("$S3PY" -c 'import json,sys; print(len(json.loads(sys.argv[1])))' "$OUT" 2>&1 || true)
expect_eq 2 "$nslots" "two key slots (init's and the changed one)"

echo "== a second repository under another prefix"
new_repo "$R2"
v snapshot list -o json --repo "$R2"
expect_rc 0 "snapshot list in the second repository"
expect_eq "[]" "$(tr -d ' \n' <<<"$OUT")" "the second repository has no snapshots"
v snapshot list -o json --repo "$R"
n=$("$S3PY" -c 'import json,sys; print(len(json.loads(sys.argv[1])))' "$OUT" 2>&1 || true)
expect_eq 2 "$n" "the first repository still has its two snapshots"

echo "== delete + gc"
packs_before=$(s3rver_keys "$S3_BUCKET" | grep -c '^rt/repo/' || true)
v snapshot delete "$S1" --repo "$R"
expect_rc 0 "snapshot delete S1"
v gc --repo "$R"
expect_rc 0 "gc"
expect_grep '^deleted [0-9]+ unreferenced packs' "$OUT" "gc reports what it deleted"
packs_after=$(s3rver_keys "$S3_BUCKET" | grep -c '^rt/repo/' || true)
if ((packs_after < packs_before)); then
	pass "gc removed objects from the bucket ($packs_before -> $packs_after under rt/repo/)"
else
	fail "gc: expected fewer objects under rt/repo/, got $packs_before -> $packs_after"
fi
v gc --repo "$R" -n
expect_rc 0 "gc --dry-run after gc"
expect_grep '^would delete 0 unreferenced packs' "$OUT" "nothing left to collect"
check_clean "$R" --read-data
rm -rf "$T/r2b"
restore_cmp "$R" "$S2" "$T/r2b" "$SRC" "${TREECMP_ARGS[@]}"
check_clean "$R2"

echo "== the verifying proxy"
stats=$(proxy_get "$SIGV4_PORT")
verified=$(proxy_stat "$SIGV4_PORT" verified)
rejected=$(proxy_stat "$SIGV4_PORT" rejected)
echo "  proxy stats: $stats"
if ((verified > 0)); then
	pass "the proxy verified $verified signed requests"
else
	fail "the proxy: expected verified > 0, got $verified (did stowage talk to it?)"
fi
expect_eq 0 "$rejected" "requests the proxy rejected (bad signatures)"
if ((rejected > 0)); then
	grep -A12 REJECT "$T/sigv4.log" | clip 60 | sed 's/^/  | /'
fi

echo "== over https: caCert, bodies sent UNSIGNED-PAYLOAD, still verified"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$T/tls-key.pem" -out "$T/tls-cert.pem" >"$T/openssl.log" 2>&1 ||
	die "openssl could not make the test certificate: $(tail -3 "$T/openssl.log")"
_s3_bg sigv4tls "$S3PY" "$S3_DIR/sigv4_proxy.py" --upstream "127.0.0.1:$S3RVER_PORT" \
	--region "$S3_REGION" --tls-cert "$T/tls-cert.pem" --tls-key "$T/tls-key.pem"
TLS_PORT=$BG_PORT
ca_q=$("$S3PY" -c 'import sys, urllib.parse as u; print(u.quote(sys.argv[1], safe=""))' "$T/tls-cert.pem")
RT_NOCA="s3://$S3_BUCKET/rt/tls?s3Url=https%3A%2F%2F127.0.0.1%3A$TLS_PORT&s3ForcePathStyle=true&region=$S3_REGION"
RT="$RT_NOCA&caCert=$ca_q"
v init --repo "$RT_NOCA" --kdf-log-n 10
if ((RC != 0)); then
	pass "init over https without the CA is refused (exit $RC)"
else
	fail "init over https without the CA: expected a failure, got exit 0"
fi
expect_grepi 'certificate' "$ERR" "the refusal names the certificate problem"
new_repo "$RT"
snap "$RT" "$SRC" --tag run=tls
[[ -n $SNAP ]] && restore_cmp "$RT" "$SNAP" "$T/rtls" "$SRC" "${TREECMP_ARGS[@]}"
check_clean "$RT" --read-data
unsigned=$(PROXY_TLS_CA=$T/tls-cert.pem proxy_stat "$TLS_PORT" unsigned_payload)
verified=$(PROXY_TLS_CA=$T/tls-cert.pem proxy_stat "$TLS_PORT" verified)
rejected=$(PROXY_TLS_CA=$T/tls-cert.pem proxy_stat "$TLS_PORT" rejected)
if ((unsigned > 0 && verified > unsigned)); then
	pass "over https the proxy verified $verified requests, $unsigned of them with UNSIGNED-PAYLOAD bodies"
else
	fail "over https: expected UNSIGNED-PAYLOAD bodies among the verified requests, got verified=$verified unsigned=$unsigned"
fi
expect_eq 0 "$rejected" "requests the https proxy rejected (bad signatures)"
unsigned_http=$(proxy_stat "$SIGV4_PORT" unsigned_payload)
expect_eq 0 "$unsigned_http" "bodies sent unsigned over plain http (all must be hashed)"

((FAILS == 0)) || s3_show_logs
finish

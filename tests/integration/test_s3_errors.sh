#!/usr/bin/env bash
# S3 configuration and access errors, each with the exit code and the
# message a user needs (s3rver behind the SigV4-verifying proxy):
# a wrong secret key or access key, a missing bucket, an unreachable
# endpoint, missing credentials, a wrong region, a bad location; and the
# credential sources that must work: a shared-credentials file with a
# non-default profile (credentialsFile=...&profile=... and AWS_PROFILE),
# the environment over the file, a session token (signed, as S3 wants).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_binary
s3_require
s3_isolate_env
s3_use_s3rver_keys
# shellcheck disable=SC2034 # read by sw in lib.sh
SW_TIMEOUT=120

echo "== servers"
s3_start_s3rver
s3_start_sigv4_proxy "$S3RVER_PORT"
EP=127.0.0.1:$SIGV4_PORT
R=$(s3_loc "$SIGV4_PORT" "$S3_BUCKET" errors/repo)
# no_keys CMD...: run CMD (a shell function too) without AWS_ACCESS_KEY_ID
# and AWS_SECRET_ACCESS_KEY in the environment.
no_keys()
{
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
	"$@"
	s3_use_s3rver_keys
}
# show_err: the message the user saw, for the log.
show_err() { printf '  stderr: %s\n' "$(clip 3 <<<"$ERR")"; }
urlenc() { "$S3PY" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }

echo "== a working repository first"
new_repo "$R"
mkdir -p "$T/src"
printf 'hello\n' >"$T/src/a.txt"
snap "$R" "$T/src"
[[ -n $SNAP ]] || die "a snapshot with the right credentials failed; the error cases would prove nothing"

echo "== wrong secret key"
AWS_SECRET_ACCESS_KEY=not-the-secret v snapshot list --repo "$R"
expect_rc 1 "snapshot list with a wrong secret key"
show_err
expect_grep 'SignatureDoesNotMatch|credentials' "$ERR" "the error mentions the signature or the credentials"
expect_no_grep 'no repository at' "$ERR" "a wrong key is not reported as a missing repository"
AWS_SECRET_ACCESS_KEY=not-the-secret v init --repo "$(s3_loc "$SIGV4_PORT" "$S3_BUCKET" errors/other)" --kdf-log-n 10
expect_rc 1 "init with a wrong secret key"
show_err
expect_grep 'SignatureDoesNotMatch|credentials' "$ERR" "init's error mentions the signature or the credentials"
rej=$(proxy_stat "$SIGV4_PORT" rejected_by_code.SignatureDoesNotMatch)
((rej > 0)) && pass "the proxy refused $rej requests as SignatureDoesNotMatch" ||
	fail "the proxy: expected SignatureDoesNotMatch rejections, got $rej"

echo "== unknown access key"
AWS_ACCESS_KEY_ID=AKIANOSUCHKEY v snapshot list --repo "$R"
expect_rc 1 "snapshot list with an unknown access key"
show_err
expect_grep 'InvalidAccessKeyId|access key|credentials' "$ERR" "the error mentions the access key or the credentials"

echo "== missing bucket"
RB=$(s3_loc "$SIGV4_PORT" no-such-bucket errors/repo)
v init --repo "$RB" --kdf-log-n 10
expect_rc_in "5 1" "init in a bucket that does not exist"
show_err
expect_grep 'no-such-bucket.*does not exist|does not exist.*no-such-bucket' "$ERR" "init: the bucket is named and said not to exist"
v snapshot list --repo "$RB"
expect_rc_in "5 1" "snapshot list in a bucket that does not exist"
show_err
expect_grep 'does not exist' "$ERR" "snapshot list: 'does not exist'"
expect_grep 'no-such-bucket' "$ERR" "snapshot list: the bucket is named"

echo "== unreachable endpoint"
closed=$(free_port)
RU=$(s3_loc "$closed" "$S3_BUCKET" errors/repo "timeout=2&retries=1")
t0=$SECONDS
v snapshot list --repo "$RU"
expect_rc 1 "snapshot list at a closed port"
show_err
expect_grep 'cannot reach' "$ERR" "the error says 'cannot reach'"
expect_grep "127\.0\.0\.1:$closed" "$ERR" "the error names the endpoint"
if ((SECONDS - t0 <= 30)); then
	pass "gave up after $((SECONDS - t0)) s (retries=1)"
else
	fail "unreachable endpoint with retries=1: expected to give up within 30 s, took $((SECONDS - t0)) s"
fi

echo "== missing credentials"
no_keys v snapshot list --repo "$R"
expect_rc 1 "snapshot list without credentials (no environment, no file)"
show_err
expect_grep 'AWS_ACCESS_KEY_ID' "$ERR" "the error names AWS_ACCESS_KEY_ID"
expect_grep "$HOME/\.aws/credentials|~/\.aws/credentials" "$ERR" "the error names the credentials file it looked in"
AWS_SHARED_CREDENTIALS_FILE=$T/nowhere/creds no_keys v snapshot list --repo "$R"
expect_rc 1 "snapshot list with AWS_SHARED_CREDENTIALS_FILE naming a missing file"
show_err
expect_grep "$T/nowhere/creds" "$ERR" "the error names \$AWS_SHARED_CREDENTIALS_FILE's path"

echo "== a shared-credentials file with a non-default profile"
CREDS=$T/aws-credentials
cat >"$CREDS" <<'EOF'
[default]
aws_access_key_id = S3RVER
aws_secret_access_key = the-default-profile-is-wrong

[stowage-test]
aws_access_key_id = S3RVER
aws_secret_access_key = S3RVER
EOF
RP=$(s3_loc "$SIGV4_PORT" "$S3_BUCKET" errors/repo "credentialsFile=$(urlenc "$CREDS")&profile=stowage-test")
no_keys v snapshot list -o json --repo "$RP"
expect_rc 0 "snapshot list with credentialsFile=...&profile=stowage-test"
grep -q "$SNAP" <<<"$OUT" && pass "the profile's credentials read the repository" ||
	fail "snapshot list via the profile: expected snapshot $SNAP, got '$OUT'"
# The same, the path not URL-encoded (no '&' or '=' in it, so unambiguous).
RPRAW=$(s3_loc "$SIGV4_PORT" "$S3_BUCKET" errors/repo "credentialsFile=$CREDS&profile=stowage-test")
no_keys v snapshot list --repo "$RPRAW"
expect_rc 0 "snapshot list with credentialsFile=<plain path>&profile=stowage-test"
no_keys snap "$RP" "$T/src" --tag via=profile
# AWS_PROFILE and AWS_SHARED_CREDENTIALS_FILE instead of the query keys.
AWS_PROFILE=stowage-test AWS_SHARED_CREDENTIALS_FILE=$CREDS no_keys v snapshot list --repo "$R"
expect_rc 0 "snapshot list with AWS_PROFILE + AWS_SHARED_CREDENTIALS_FILE"
# The default profile of that file holds a wrong secret.
no_keys v snapshot list --repo "$(s3_loc "$SIGV4_PORT" "$S3_BUCKET" errors/repo "credentialsFile=$(urlenc "$CREDS")")"
expect_rc 1 "snapshot list with the file's default profile (a wrong secret)"
show_err
expect_grep 'SignatureDoesNotMatch|credentials' "$ERR" "the error mentions the signature or the credentials"
# A profile the file does not have.
no_keys v snapshot list --repo "$(s3_loc "$SIGV4_PORT" "$S3_BUCKET" errors/repo "credentialsFile=$(urlenc "$CREDS")&profile=nosuchprofile")"
expect_rc 1 "snapshot list with a profile the file does not have"
show_err
expect_grep 'nosuchprofile' "$ERR" "the error names the missing profile"
expect_grep "$CREDS" "$ERR" "the error names the credentials file"
# The environment wins over the file (both set, the file's default wrong).
AWS_SHARED_CREDENTIALS_FILE=$CREDS v snapshot list --repo "$R"
expect_rc 0 "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY win over the credentials file"

echo "== a session token is sent and signed"
proxy_reset "$SIGV4_PORT"
AWS_SESSION_TOKEN=FwoGZXIvYXdzEXAMPLETOKEN v snapshot list --repo "$R"
expect_rc 0 "snapshot list with AWS_SESSION_TOKEN"
expect_eq 0 "$(proxy_stat "$SIGV4_PORT" rejected)" "requests refused with a session token (x-amz-security-token must be signed)"

echo "== wrong region"
RR=$(s3_loc "$SIGV4_PORT" "$S3_BUCKET" errors/repo)
RR=${RR/region=$S3_REGION/region=eu-west-3}
v snapshot list --repo "$RR"
expect_rc 1 "snapshot list signed for another region than the server's"
show_err
expect_grep 'region|AuthorizationHeaderMalformed' "$ERR" "the error mentions the region"

echo "== a server whose clock is an hour ahead"
proxy_config "$SIGV4_PORT" '{"clock_skew_s": 3600}'
v snapshot list --repo "$R"
expect_rc 1 "snapshot list against a server whose clock is an hour ahead"
show_err
expect_grepi 'clock' "$ERR" "the error says the clocks differ"
expect_grep 'by (359[0-9]|360[0-9]) s' "$ERR" "the error gives the skew (about 3600 s)"
proxy_config "$SIGV4_PORT" '{"clock_skew_s": 0}'

echo "== bad locations"
v snapshot list --repo 's3://'
expect_rc_in "1 2" "s3:// without a bucket"
show_err
expect_grepi 'bucket' "$ERR" "the error says the bucket is missing"
v snapshot list --repo "$(s3_loc "$SIGV4_PORT" "$S3_BUCKET" errors/repo "timeout=soon")"
expect_rc_in "1 2" "timeout=soon"
show_err
expect_grep 'timeout' "$ERR" "the error names the bad key"
v snapshot list --repo "s3://$S3_BUCKET/errors/repo?s3Url=ftp%3A%2F%2F127.0.0.1%3A$SIGV4_PORT&s3ForcePathStyle=true"
expect_rc_in "1 2" "s3Url with an ftp:// scheme"
show_err
expect_grep 'ftp' "$ERR" "the error names the bad endpoint"

echo "== the endpoint given without URL-encoding"
v snapshot list --repo "s3://$S3_BUCKET/errors/repo?s3Url=http://$EP&s3ForcePathStyle=true&region=$S3_REGION"
expect_rc 0 "s3Url=http://127.0.0.1:PORT (plain) works like the encoded form"

((FAILS == 0)) || s3_show_logs
finish

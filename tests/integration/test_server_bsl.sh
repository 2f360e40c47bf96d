#!/usr/bin/env bash
# stowage server's location controllers on kubesim with the real kubectl,
# on the filesystem provider and on s3rver:
# - BackupStorageLocation validation: a filesystem location becomes
#   Available (and the default), one with a stray top-level junk/ turns
#   Unavailable with a message naming it, an S3 location with a
#   credentials Secret is Available, wrong credentials are Unavailable
#   with a message about them, accessMode is mirrored into status;
# - backup sync: a velero-backup.json put by hand into a location (as
#   another cluster would) becomes a Backup within the sync period, with
#   server-set metadata dropped and the local location name; an in-flight
#   one is left alone; a Completed Backup whose objects are gone from its
#   location is deleted from the cluster, one of another location is not;
# - DownloadRequest: BackupLog on the filesystem location comes back
#   inline (data: URL, same bytes), on S3 as a presigned URL that curl
#   fetches (same bytes);
# - ServerStatusRequest: Processed with serverVersion and plugins.
#
# Runs itself under tests/kube/with_kubesim.sh. Skips (exit 0 with a note)
# if kubectl is not installed.
set -euo pipefail

if [[ -z ${STOW_KUBESIM_DIR:-} ]]; then
	if ! command -v kubectl >/dev/null 2>&1; then
		echo "NOTE: kubectl not installed: skipping"
		exit 0
	fi
	here=$(cd "$(dirname "$0")" && pwd)
	exec bash "${STOW_TESTS:-$here/..}/kube/with_kubesim.sh" bash "$0" "$@"
fi

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
require_binary
s3_require
s3_isolate_env # also a fresh HOME: kubectl's cache is never ~/.kube

ROOT=$(cd "$TESTS_DIR/.." && pwd)
NS=velero
FS=$T/fs
SERVER_PID=

# k ARGS...: kubectl with a timeout; sets RC, OUT, ERR
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

# kapply: kubectl apply -f of the YAML on stdin; sets RC, OUT, ERR
kapply()
{
	cat >"$T/apply.yaml"
	k apply -f "$T/apply.yaml"
}

# jp KIND NAME JSONPATH: the value, "" if the object or field is missing
jp()
{
	k -n "$NS" get "$1" "$2" -o "jsonpath=$3"
	[[ $RC == 0 ]] && printf '%s' "$OUT"
	return 0
}

# wait_jp SECONDS KIND NAME JSONPATH REGEX: poll until the value matches;
# sets GOT to the last value; returns 1 on timeout.
wait_jp()
{
	local secs=$1 kind=$2 name=$3 path=$4 re=$5 i
	for ((i = 0; i < secs * 5; i++)); do
		GOT=$(jp "$kind" "$name" "$path")
		if [[ $GOT =~ $re ]]; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}

# expect_jp SECONDS KIND NAME JSONPATH REGEX DESC
expect_jp()
{
	local secs=$1 kind=$2 name=$3 path=$4 re=$5
	shift 5
	if wait_jp "$secs" "$kind" "$name" "$path" "$re"; then
		pass "$* ($kind/$name $path = '${GOT:0:160}')"
	else
		fail "$*: expected $kind/$name $path to match /$re/ within ${secs}s, got '${GOT:0:300}'"
	fi
}

server_log()
{
	echo "  --- server log (last 40 lines) ---"
	tail -n 40 "$T/server.log" | cat -v | sed 's/^/  | /'
}

stop_server()
{
	if [[ -n $SERVER_PID ]]; then
		kill "$SERVER_PID" 2>/dev/null || true
		for _ in $(seq 50); do
			kill -0 "$SERVER_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
		SERVER_PID=
	fi
}
trap 'stop_server; cleanup' EXIT

# A Completed Backup as Velero writes velero-backup.json (from another
# cluster: its uid, resourceVersion and location name).
backup_json()
{
	local name=$1 phase=$2 expiration=$3
	cat <<EOF
{
  "kind": "Backup",
  "apiVersion": "velero.io/v1",
  "metadata": {
    "name": "$name",
    "namespace": "velero",
    "uid": "0f4c6a8e-1b7e-4c1e-9a43-5c1f1d2e3a4b",
    "resourceVersion": "918273",
    "generation": 7,
    "creationTimestamp": "2026-11-24T01:00:00Z",
    "labels": {
      "velero.io/schedule-name": "nightly",
      "velero.io/storage-location": "primary"
    },
    "annotations": {
      "velero.io/source-cluster-k8s-gitversion": "v1.32.0",
      "velero.io/source-cluster-k8s-major-version": "1",
      "velero.io/source-cluster-k8s-minor-version": "32"
    },
    "managedFields": [{"manager": "velero-server", "operation": "Update"}]
  },
  "spec": {
    "metadata": {},
    "includedNamespaces": ["app"],
    "storageLocation": "primary",
    "ttl": "720h0m0s",
    "defaultVolumesToFsBackup": false,
    "itemOperationTimeout": "4h0m0s"
  },
  "status": {
    "version": 1,
    "formatVersion": "1.1.0",
    "expiration": "$expiration",
    "phase": "$phase",
    "startTimestamp": "2026-11-24T01:00:00Z",
    "completionTimestamp": "2026-11-24T01:00:09Z",
    "progress": {"totalItems": 12, "itemsBackedUp": 12}
  }
}
EOF
}

echo "== cluster"
k apply -k "$ROOT/deploy/crds"
[[ $RC == 0 ]] || die "kubectl apply -k deploy/crds: expected exit 0, got $RC: $ERR"
k create namespace "$NS"
[[ $RC == 0 ]] || die "kubectl create namespace $NS: expected exit 0, got $RC: $ERR"
for _ in $(seq 50); do
	k get backupstoragelocations -n "$NS"
	[[ $RC == 0 ]] && break
	sleep 0.2
done

echo "== locations on disk and on s3rver"
mkdir -p "$FS/loc1/pfx" "$FS/loc2/junk"
echo stray >"$FS/loc2/junk/file"
mkdir -p "$FS/loc2/backups"
s3_start_s3rver
S3URL=http://127.0.0.1:$S3RVER_PORT
printf '[default]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n' >"$T/cred-good"
printf '[default]\naws_access_key_id = NOTME\naws_secret_access_key = WRONGSECRET\n' >"$T/cred-bad"
k -n "$NS" create secret generic cloud-credentials --from-file=cloud="$T/cred-good"
[[ $RC == 0 ]] || die "creating the credentials secret: $ERR"
k -n "$NS" create secret generic wrong-credentials --from-file=cloud="$T/cred-bad"
[[ $RC == 0 ]] || die "creating the wrong credentials secret: $ERR"

# A backup of "another cluster" in each location, put by hand.
NOW_PLUS=$(date -u -d '+30 days' +%Y-%m-%dT%H:%M:%SZ)
mkdir -p "$FS/loc1/pfx/backups/nightly-1" "$FS/loc1/pfx/backups/running-1"
backup_json nightly-1 Completed "$NOW_PLUS" >"$FS/loc1/pfx/backups/nightly-1/velero-backup.json"
printf 'time="2026-11-24T01:00:00Z" level=info msg="Setting up backup log" backup=velero/nightly-1\n' |
	gzip -c >"$FS/loc1/pfx/backups/nightly-1/nightly-1-logs.gz"
backup_json running-1 InProgress "$NOW_PLUS" >"$FS/loc1/pfx/backups/running-1/velero-backup.json"
backup_json s3-nightly-1 Completed "$NOW_PLUS" >"$T/s3-backup.json"
head -c 300000 /dev/urandom | gzip -c >"$T/s3-logs.gz" # not small: 300 kB
"$S3PY" - "$S3URL" "$S3_BUCKET" "$T/s3-backup.json" "$T/s3-logs.gz" <<'PYEOF' ||
import sys, botocore.session
from botocore.config import Config
url, bucket, meta, logs = sys.argv[1:5]
c = botocore.session.Session().create_client(
    "s3", region_name="us-east-1", endpoint_url=url,
    aws_access_key_id="S3RVER", aws_secret_access_key="S3RVER",
    config=Config(s3={"addressing_style": "path"}))
pfx = "velero/backups/s3-nightly-1/"
c.put_object(Bucket=bucket, Key=pfx + "velero-backup.json", Body=open(meta, "rb").read())
c.put_object(Bucket=bucket, Key=pfx + "s3-nightly-1-logs.gz", Body=open(logs, "rb").read())
PYEOF
	die "putting the S3 backup into s3rver failed"

echo "== server"
"$STOWAGE" server -n "$NS" --leader-elect false --backup-sync-period 2s \
	--store-validation-frequency 3s --fs-root "$FS" >"$T/server.log" 2>&1 &
SERVER_PID=$!

kapply <<EOF
apiVersion: velero.io/v1
kind: BackupStorageLocation
metadata: {name: default, namespace: $NS}
spec:
  provider: filesystem
  objectStorage: {bucket: loc1, prefix: pfx}
---
apiVersion: velero.io/v1
kind: BackupStorageLocation
metadata: {name: junk, namespace: $NS}
spec:
  provider: stowage.io/filesystem
  accessMode: ReadOnly
  objectStorage: {bucket: /loc2}
---
apiVersion: velero.io/v1
kind: BackupStorageLocation
metadata: {name: s3, namespace: $NS}
spec:
  provider: aws
  objectStorage: {bucket: $S3_BUCKET, prefix: velero}
  credential: {name: cloud-credentials, key: cloud}
  config:
    region: us-east-1
    s3ForcePathStyle: "true"
    s3Url: $S3URL
---
apiVersion: velero.io/v1
kind: BackupStorageLocation
metadata: {name: s3-wrong, namespace: $NS}
spec:
  provider: velero.io/aws
  objectStorage: {bucket: $S3_BUCKET, prefix: velero}
  credential: {name: wrong-credentials, key: cloud}
  config: {region: us-east-1, s3ForcePathStyle: "true", s3Url: "$S3URL"}
---
apiVersion: velero.io/v1
kind: BackupStorageLocation
metadata: {name: elsewhere, namespace: $NS}
spec:
  provider: filesystem
  objectStorage: {bucket: no-such-dir}
EOF
[[ $RC == 0 ]] || die "applying the BackupStorageLocations: $ERR"

echo "== validation"
expect_jp 15 bsl default '{.status.phase}' '^Available$' "a filesystem location under --fs-root becomes Available"
expect_jp 5 bsl default '{.status.lastValidationTime}' '^20[0-9-]+T[0-9:]+Z$' "lastValidationTime is set"
expect_jp 5 bsl default '{.spec.default}' '^true$' "with no default location, the server's --default-backup-storage-location (default) becomes it"
expect_jp 5 bsl default '{.status.accessMode}' '^ReadWrite$' "status.accessMode mirrors the spec (ReadWrite by default)"
expect_jp 15 bsl junk '{.status.phase}' '^Unavailable$' "a location with a stray top-level directory is Unavailable"
expect_jp 5 bsl junk '{.status.message}' 'junk/' "its message names the stray prefix"
expect_jp 5 bsl junk '{.status.accessMode}' '^ReadOnly$' "status.accessMode mirrors ReadOnly"
expect_jp 15 bsl s3 '{.status.phase}' '^Available$' "an S3 location on s3rver with a credentials Secret becomes Available"
expect_jp 15 bsl s3-wrong '{.status.phase}' '^Unavailable$' "an S3 location with wrong credentials is Unavailable"
expect_jp 5 bsl s3-wrong '{.status.message}' '(InvalidAccessKeyId|SignatureDoesNotMatch|credentials).*secret velero/wrong-credentials' "its message says the credentials of that Secret were refused"
expect_jp 15 bsl elsewhere '{.status.message}' 'no-such-dir does not exist' "a missing directory is Unavailable with the path"
expect_jp 5 bsl s3 '{.status.message}' '^$' "an Available location has no message"

echo "== credentials rotation, one default"
k -n "$NS" create secret generic wrong-credentials --from-file=cloud="$T/cred-good" --dry-run=client -o yaml
printf '%s\n' "$OUT" >"$T/rotated.yaml"
k apply -f "$T/rotated.yaml"
[[ $RC == 0 ]] || fail "rotating the wrong-credentials secret: $ERR"
expect_jp 15 bsl s3-wrong '{.status.phase}' '^Available$' "after the Secret is fixed, the next validation makes the location Available (secret change noticed)"
kapply <<EOF
apiVersion: velero.io/v1
kind: BackupStorageLocation
metadata: {name: newer-default, namespace: $NS}
spec:
  provider: filesystem
  default: true
  objectStorage: {bucket: loc1, prefix: other}
EOF
[[ $RC == 0 ]] || fail "creating a second default location: $ERR"
expect_jp 10 bsl default '{.spec.default}' '^false$' "with two default locations the older one is unset"
expect_jp 5 bsl newer-default '{.spec.default}' '^true$' "and the most recently created keeps it"

echo "== backup sync"
expect_jp 15 backup nightly-1 '{.status.phase}' '^Completed$' "a backup put into the filesystem location appears in the cluster (Completed)"
expect_jp 5 backup nightly-1 '{.metadata.labels.velero\.io/storage-location}' '^default$' "its storage-location label is the local location name"
expect_jp 5 backup nightly-1 '{.spec.storageLocation}' '^default$' "its spec.storageLocation is the local location name"
expect_jp 5 backup nightly-1 '{.metadata.labels.velero\.io/schedule-name}' '^nightly$' "its other labels are kept"
uid=$(jp backup nightly-1 '{.metadata.uid}')
if [[ -n $uid && $uid != 0f4c6a8e-1b7e-4c1e-9a43-5c1f1d2e3a4b ]]; then
	pass "the stored uid is not carried over (uid $uid)"
else
	fail "synced backup uid: expected a new one, got '$uid'"
fi
expect_jp 5 backup nightly-1 '{.status.progress.itemsBackedUp}' '^12$' "its status is kept"
expect_jp 15 backup s3-nightly-1 '{.metadata.labels.velero\.io/storage-location}' '^s3$' "a backup put into the S3 location appears too"
expect_jp 10 bsl default '{.status.lastSyncedTime}' '^20[0-9-]+T' "the location's lastSyncedTime is set"
sleep 2.5 # at least one more sync period
k -n "$NS" get backup running-1
if [[ $RC != 0 ]]; then
	pass "an unexpired in-flight backup (InProgress) is not synced"
else
	fail "in-flight backup running-1: expected not to be synced, got it in the cluster"
fi

kapply <<EOF
apiVersion: velero.io/v1
kind: Backup
metadata:
  name: gone-1
  namespace: $NS
  labels: {velero.io/storage-location: default}
spec: {storageLocation: default}
status: {phase: Completed}
---
apiVersion: velero.io/v1
kind: Backup
metadata:
  name: kept-1
  namespace: $NS
  labels: {velero.io/storage-location: other}
spec: {storageLocation: other}
status: {phase: Completed}
---
apiVersion: velero.io/v1
kind: Backup
metadata:
  name: new-1
  namespace: $NS
  labels: {velero.io/storage-location: default}
spec: {storageLocation: default}
EOF
[[ $RC == 0 ]] || fail "creating the cluster-only backups: $ERR"
gone=
for _ in $(seq 50); do
	k -n "$NS" get backup gone-1
	if [[ $RC != 0 ]]; then gone=1; break; fi
	sleep 0.2
done
if [[ -n $gone ]]; then
	pass "a Completed backup of the location that the location no longer holds is deleted from the cluster"
else
	fail "backup gone-1: expected it deleted within 10 s, it is still there"
fi
k -n "$NS" get backup kept-1 new-1
expect_rc 0 "a backup of another location and one not Completed are kept"

echo "== download requests"
kapply <<EOF
apiVersion: velero.io/v1
kind: DownloadRequest
metadata: {name: nightly-1-log, namespace: $NS}
spec: {target: {kind: BackupLog, name: nightly-1}}
---
apiVersion: velero.io/v1
kind: DownloadRequest
metadata: {name: s3-nightly-1-log, namespace: $NS}
spec: {target: {kind: BackupLog, name: s3-nightly-1}}
EOF
[[ $RC == 0 ]] || fail "creating the download requests: $ERR"
expect_jp 10 downloadrequest nightly-1-log '{.status.phase}' '^Processed$' "the filesystem BackupLog request is Processed"
expect_jp 5 downloadrequest nightly-1-log '{.status.expiration}' '^20[0-9-]+T' "it has an expiration"
url=$(jp downloadrequest nightly-1-log '{.status.downloadURL}')
if [[ $url == data:application/octet-stream\;base64,* ]] &&
	printf '%s' "${url#*,}" | base64 -d >"$T/dl-fs.gz" 2>/dev/null &&
	cmp -s "$T/dl-fs.gz" "$FS/loc1/pfx/backups/nightly-1/nightly-1-logs.gz"; then
	pass "its downloadURL is a data: URL with exactly the stored log (gzip, $(stat -c %s "$T/dl-fs.gz") bytes)"
else
	fail "filesystem download URL: expected a data: URL of the stored bytes, got '${url:0:120}'"
fi
expect_jp 10 downloadrequest s3-nightly-1-log '{.status.phase}' '^Processed$' "the S3 BackupLog request is Processed"
url=$(jp downloadrequest s3-nightly-1-log '{.status.downloadURL}')
expect_grep "^$S3URL/$S3_BUCKET/velero/backups/s3-nightly-1/s3-nightly-1-logs\.gz\?X-Amz-Algorithm=AWS4-HMAC-SHA256&.*X-Amz-Expires=600&.*X-Amz-Signature=[0-9a-f]{64}$" "$url" "its downloadURL is a presigned URL valid 10 minutes"
if curl -fsS -o "$T/dl-s3.gz" "$url" && cmp -s "$T/dl-s3.gz" "$T/s3-logs.gz"; then
	pass "curl fetches the presigned URL without credentials and gets the same bytes ($(stat -c %s "$T/dl-s3.gz") bytes)"
else
	fail "fetching the presigned URL: expected the stored log, got a failure or other bytes"
fi
# Independently: botocore presigning the same object at the same instant
# with the same credentials must produce exactly this URL.
if boto=$("$S3PY" - "$url" "$S3URL" "$S3_BUCKET" <<'PYEOF'
import datetime, sys, urllib.parse
from unittest import mock
import botocore.session
from botocore.config import Config
url, endpoint, bucket = sys.argv[1:4]
q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
when = datetime.datetime.strptime(q["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ")
c = botocore.session.Session().create_client(
    "s3", region_name="us-east-1", endpoint_url=endpoint,
    aws_access_key_id="S3RVER", aws_secret_access_key="S3RVER",
    config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
with mock.patch("botocore.auth.get_current_datetime", return_value=when):
    print(c.generate_presigned_url("get_object", Params={
        "Bucket": bucket,
        "Key": "velero/backups/s3-nightly-1/s3-nightly-1-logs.gz"},
        ExpiresIn=600))
PYEOF
) && [[ $boto == "$url" ]]; then
	pass "botocore presigns the same URL at the same instant (byte for byte)"
else
	fail "presigned URL vs botocore's: expected equal, got ours '$url' and botocore's '$boto'"
fi

PAST=$(date -u -d '-1 minute' +%Y-%m-%dT%H:%M:%SZ)
kapply <<EOF
apiVersion: velero.io/v1
kind: DownloadRequest
metadata: {name: expired-1, namespace: $NS}
spec: {target: {kind: BackupLog, name: nightly-1}}
status: {phase: Processed, downloadURL: "http://example.invalid/x", expiration: "$PAST"}
EOF
gone=
for _ in $(seq 50); do
	k -n "$NS" get downloadrequest expired-1
	if [[ $RC != 0 ]]; then gone=1; break; fi
	sleep 0.2
done
if [[ -n $gone ]]; then
	pass "an expired DownloadRequest is deleted"
else
	fail "DownloadRequest expired-1: expected it deleted within 10 s, it is still there"
fi

echo "== server status request"
kapply <<EOF
apiVersion: velero.io/v1
kind: ServerStatusRequest
metadata: {name: status-1, namespace: $NS}
EOF
expect_jp 10 serverstatusrequest status-1 '{.status.phase}' '^Processed$' "a ServerStatusRequest is Processed"
expect_jp 5 serverstatusrequest status-1 '{.status.serverVersion}' '^[0-9v]' "with serverVersion"
expect_jp 5 serverstatusrequest status-1 '{.status.plugins[*].name}' 'velero.io/aws.*stowage.io/filesystem' "and the object-store plugins"
expect_jp 5 serverstatusrequest status-1 '{.status.processedTimestamp}' '^20[0-9-]+T' "and processedTimestamp"
OLD=$(date -u -d '-2 minutes' +%Y-%m-%dT%H:%M:%SZ)
kapply <<EOF
apiVersion: velero.io/v1
kind: ServerStatusRequest
metadata: {name: old-1, namespace: $NS}
status: {phase: Processed, processedTimestamp: "$OLD", serverVersion: "0"}
EOF
gone=
for _ in $(seq 50); do
	k -n "$NS" get serverstatusrequest old-1
	if [[ $RC != 0 ]]; then gone=1; break; fi
	sleep 0.2
done
if [[ -n $gone ]]; then
	pass "a ServerStatusRequest processed over a minute ago is deleted"
else
	fail "ServerStatusRequest old-1: expected it deleted within 10 s, it is still there"
fi

echo "== server"
if kill -0 "$SERVER_PID" 2>/dev/null; then
	pass "the server is still running"
else
	fail "the server exited early"
fi
stop_server
if ! grep -q 'level=error' "$T/server.log"; then
	pass "the server logged no errors"
else
	note "server errors (expected only for the refused locations):"
	grep 'level=error' "$T/server.log" | clip 5 | sed 's/^/  | /'
fi
if grep -q 'S3RVER\|WRONGSECRET' "$T/server.log"; then
	fail "the server log shows a credential"
else
	pass "no credential appears in the server log"
fi
leftover=$(find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'stowage-credentials-*' -newer "$T/cred-good" 2>/dev/null | head -n 3)
if [[ -z $leftover ]]; then
	pass "no credentials file is left in the temp dir"
else
	fail "credentials temp files left: $leftover"
fi
((FAILS == 0)) || server_log
finish

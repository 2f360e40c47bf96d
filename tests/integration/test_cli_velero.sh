#!/usr/bin/env bash
# The Velero-compatible CLI (`velero` = the stowage binary through a
# symlink named velero) on kubesim with the real kubectl.
#
# Part 1, no server running: what each command creates is checked with
# kubectl, field by field against what Velero's CLI writes for the same
# flags (Backup, Schedule, Restore, BackupStorageLocation,
# DeleteBackupRequest); the get tables, -o json / -o yaml (parsed),
# describe, pause/unpause, set --default, errors for missing objects,
# --help of every command; and every `velero` command of the seed
# (shared/seed/velero-kopia-seed.md) that the CLI implements.
# Part 2, with `stowage server` and a filesystem location: `backup create
# --wait` ends Completed (exit 0) showing progress, `backup logs` prints
# the log (inline data: URL), `backup describe --details` lists the
# resources, `backup download` writes the tarball, `version` shows the
# server's version, `restore create --wait` completes; with s3rver, logs
# and downloads through presigned http:// URLs.
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

ROOT=$(cd "$TESTS_DIR/.." && pwd)
mkdir -p "$T/bin" "$T/home"
ln -s "$(command -v "$STOWAGE")" "$T/bin/velero"
VELERO=$T/bin/velero
s3_isolate_env # no AWS_* from the machine; HOME=$T/home (kubectl's cache, velero's config)
unset VELERO_NAMESPACE
SERVER_PID=

# k ARGS...: kubectl; sets RC, OUT, ERR
k()
{
	set +e
	timeout -k 5 60 kubectl --request-timeout=20s "$@" </dev/null >"$T/.kout" 2>"$T/.kerr"
	RC=$?
	set -e
	OUT=$(cat "$T/.kout")
	ERR=$(cat "$T/.kerr")
	return 0
}

# v ARGS...: velero ARGS; sets RC, OUT, ERR (stdin: $VIN or /dev/null)
v()
{
	local t0=$SECONDS
	set +e
	timeout -k 5 90 "$VELERO" "$@" <"${VIN:-/dev/null}" >"$T/.vout" 2>"$T/.verr"
	RC=$?
	set -e
	if ((SECONDS - t0 > 5)); then
		echo "  (slow: velero $* took $((SECONDS - t0)) s)"
	fi
	OUT=$(cat "$T/.vout")
	ERR=$(cat "$T/.verr")
	return 0
}

# vok DESC ARGS...: velero ARGS must exit 0
vok()
{
	local desc=$1
	shift
	v "$@"
	if [[ $RC == 0 ]]; then
		pass "$desc"
	else
		fail "$desc: expected exit 0 from velero $*, got $RC: ${ERR:0:400}"
	fi
}

# spec_is KIND NAME JSON DESC: the object's .spec equals JSON exactly
spec_is()
{
	local kind=$1 name=$2 want=$3 desc=$4 got
	k -n velero get "$kind" "$name" -o json
	got=$(printf '%s' "$OUT" | "$PY" -c 'import json,sys; print(json.dumps(json.load(sys.stdin).get("spec"), sort_keys=True))' 2>&1 || true)
	want=$(printf '%s' "$want" | "$PY" -c 'import json,sys; print(json.dumps(json.load(sys.stdin), sort_keys=True))')
	if [[ $got == "$want" ]]; then
		pass "$desc"
	else
		fail "$desc: expected spec $want, got $got"
	fi
}

# expect_match VALUE REGEX DESC
expect_match()
{
	if [[ $1 =~ $2 ]]; then
		pass "$3 ('$1')"
	else
		fail "$3: expected a match of /$2/, got '$1'"
	fi
}

# field_is KIND NAME JSONPATH VALUE DESC
field_is()
{
	k -n velero get "$1" "$2" -o "jsonpath=$3"
	expect_eq "$4" "$OUT" "$5"
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

START=$(date +%s)

echo "== [$(($(date +%s) - ${START:-$(date +%s)})) s] cluster"
k apply -k "$ROOT/deploy/crds"
[[ $RC == 0 ]] || die "kubectl apply -k deploy/crds: $ERR"
k wait --for condition=established --timeout=20s crd -l component=velero
k create namespace velero
[[ $RC == 0 ]] || die "create namespace velero: $ERR"

echo "== [$(($(date +%s) - ${START:-$(date +%s)})) s] help"
for cmd in "backup" "backup create" "backup get" "backup describe" "backup logs" \
	"backup delete" "backup download" "restore" "restore create" "restore get" \
	"restore describe" "restore logs" "restore delete" "schedule" "schedule create" \
	"schedule get" "schedule describe" "schedule delete" "schedule pause" \
	"schedule unpause" "backup-location" "backup-location create" \
	"backup-location get" "backup-location set" "backup-location delete" "repo" "repo get" \
	"client" "client config" "client config get" "client config set" "get backups" \
	"create backup" "describe restores" "delete schedule" "snapshot-location" \
	"snapshot-location create" "snapshot-location get" "snapshot-location set" \
	"version"; do
	# shellcheck disable=SC2086
	v $cmd --help
	if [[ $RC == 0 && $OUT == "Usage: velero $cmd"* ]]; then
		pass "velero $cmd --help"
	else
		fail "velero $cmd --help: expected exit 0 and 'Usage: velero $cmd', got $RC: ${OUT:0:200} ${ERR:0:200}"
	fi
done
v backup create --help
expect_grep '--include-namespaces' "$OUT" "backup create --help lists --include-namespaces"
expect_grep '--default-volumes-to-fs-backup' "$OUT" "backup create --help lists --default-volumes-to-fs-backup"

echo "== [$(($(date +%s) - ${START:-$(date +%s)})) s] backup-location create (the seed's flags)"
vok "backup-location create" backup-location create default --provider aws --bucket velero-backups \
	--config region=minio,s3ForcePathStyle=true,s3Url=http://minio.storage.svc.cluster.local:9000 \
	--credential cloud-credentials=cloud --default
expect_eq 'Backup storage location "default" configured successfully.' "$OUT" "backup-location create: Velero's message"
spec_is backupstoragelocation default '{"provider":"aws","objectStorage":{"bucket":"velero-backups"},
	"config":{"region":"minio","s3ForcePathStyle":"true","s3Url":"http://minio.storage.svc.cluster.local:9000"},
	"credential":{"name":"cloud-credentials","key":"cloud"},"default":true,"accessMode":"ReadWrite"}' \
	"backup-location create: the BSL spec as Velero writes it"
vok "backup-location create with a prefix, read-only" backup-location create second --provider aws \
	--bucket b2 --prefix cluster-a --access-mode ReadOnly --backup-sync-period 2m
spec_is backupstoragelocation second '{"provider":"aws","objectStorage":{"bucket":"b2","prefix":"cluster-a"},
	"accessMode":"ReadOnly","backupSyncPeriod":"2m0s"}' "backup-location create: prefix, accessMode, backupSyncPeriod"
v backup-location create third --provider aws
expect_eq 2 "$RC" "backup-location create without --bucket: usage error"
vok "backup-location set second --default" backup-location set second --default
field_is backupstoragelocation second '{.spec.default}' true "set --default: second is the default"
field_is backupstoragelocation default '{.spec.default}' false "set --default: default lost the flag (one default, as Velero)"
v backup-location get
expect_grep '^NAME +PROVIDER +BUCKET/PREFIX +PHASE +LAST VALIDATED +ACCESS MODE +DEFAULT$' "$OUT" "backup-location get: Velero's columns"
expect_grep '^second +aws +b2/cluster-a +Unknown +Unknown +ReadOnly +true$' "$OUT" "backup-location get: the row of second"
vok "backup-location set default --default" backup-location set default --default

vok "snapshot-location create" snapshot-location create default --provider aws --config region=us-east-1
expect_eq 'Snapshot volume location "default" configured successfully.' "$OUT" "snapshot-location create: Velero's message"
spec_is volumesnapshotlocation default '{"provider":"aws","config":{"region":"us-east-1"}}' "snapshot-location create: the VSL spec"
vok "snapshot-location set --credential" snapshot-location set default --credential cloud-credentials=cloud
field_is volumesnapshotlocation default '{.spec.credential.name}/{.spec.credential.key}' cloud-credentials/cloud "snapshot-location set: the credential"
v get snapshot-locations
expect_grep '^default +aws$' "$OUT" "velero get snapshot-locations: NAME PROVIDER"

echo "== [$(($(date +%s) - ${START:-$(date +%s)})) s] backup create"
vok "backup create b1" backup create b1 --include-namespaces app --ttl 24h --selector app=web
expect_eq 'Backup request "b1" submitted successfully.
Run `velero backup describe b1` or `velero backup logs b1` for more details.' "$OUT" "backup create: Velero's message"
spec_is backup b1 '{"metadata":{},"includedNamespaces":["app"],"labelSelector":{"matchLabels":{"app":"web"}},
	"ttl":"24h0m0s","hooks":{},"csiSnapshotTimeout":"0s","itemOperationTimeout":"0s"}' \
	"backup create b1: exactly Velero's spec fields"
vok "backup create with every kind of flag" backup create b-all --exclude-namespaces kube-system,velero \
	--include-resources deployments.apps --exclude-resources secrets --include-cluster-resources=false \
	--or-selector "tier=db or app in (web,api)" --labels team=a,env=dev --annotations note=x \
	--storage-location default --snapshot-volumes=false --snapshot-move-data --default-volumes-to-fs-backup \
	--ordered-resources 'pods=ns1/a,ns1/b;persistentvolumeclaims=ns1/c' --csi-snapshot-timeout 5m \
	--item-operation-timeout 1h --resource-policies-configmap pol --data-mover velero --parallel-files-upload 4
spec_is backup b-all '{"metadata":{},"includedNamespaces":["*"],"excludedNamespaces":["kube-system","velero"],
	"includedResources":["deployments.apps"],"excludedResources":["secrets"],
	"orLabelSelectors":[{"matchLabels":{"tier":"db"}},{"matchExpressions":[{"key":"app","operator":"In","values":["web","api"]}]}],
	"snapshotVolumes":false,"ttl":"0s","includeClusterResources":false,"hooks":{},"storageLocation":"default",
	"defaultVolumesToFsBackup":true,"orderedResources":{"pods":"ns1/a,ns1/b","persistentvolumeclaims":"ns1/c"},
	"csiSnapshotTimeout":"5m0s","itemOperationTimeout":"1h0m0s","resourcePolicy":{"kind":"configmap","name":"pol"},
	"snapshotMoveData":true,"datamover":"velero","uploaderConfig":{"parallelFilesUpload":4}}' \
	"backup create: every spec flag lands where Velero puts it"
field_is backup b-all '{.metadata.labels.team},{.metadata.labels.env},{.metadata.annotations.note}' 'a,dev,x' \
	"backup create --labels/--annotations: on the Backup's metadata"
v backup create b-bad --selector a=b --or-selector "c=d or e=f"
expect_eq 2 "$RC" "backup create: --selector with --or-selector is refused"
expect_grep "either a 'selector' or an 'or-selector'" "$ERR" "backup create: Velero's message for both selectors"
v backup create b-bad --include-resources pods --include-cluster-scoped-resources nodes
expect_eq 2 "$RC" "backup create: old and new resource filters are refused together"
v backup create b-bad --storage-location nowhere
expect_eq 5 "$RC" "backup create: an unknown --storage-location is refused"
expect_grep 'backupstoragelocations.velero.io "nowhere" not found' "$ERR" "backup create: the API's not-found message"
v backup create
expect_eq 2 "$RC" "backup create without a name: usage error"
expect_grep 'a backup name is required' "$ERR" "backup create without a name: Velero's message"
v backup create b1
expect_eq 1 "$RC" "backup create of an existing name fails"
expect_grep 'already exists' "$ERR" "backup create of an existing name: says so"
v backup create b-print --include-namespaces x -o yaml
expect_eq 0 "$RC" "backup create -o yaml prints"
printf '%s\n' "$OUT" >"$T/print.yaml"
expect_eq 'Backup b-print ["x"]' "$("$PY" -c 'import yaml,sys,json; d=yaml.safe_load(open(sys.argv[1])); print(d["kind"], d["metadata"]["name"], json.dumps(d["spec"]["includedNamespaces"]))' "$T/print.yaml" 2>&1)" \
	"backup create -o yaml: a YAML Backup"
k -n velero get backup b-print
expect_eq 1 "$RC" "backup create -o yaml: nothing created (as Velero)"

echo "== [$(($(date +%s) - ${START:-$(date +%s)})) s] schedule create (the seed's flags)"
vok "schedule create daily" schedule create daily --schedule="0 2 * * *" --default-volumes-to-fs-backup --ttl 720h
expect_eq 'Schedule "daily" created successfully.' "$OUT" "schedule create: Velero's message"
spec_is schedule daily '{"template":{"metadata":{},"includedNamespaces":["*"],"ttl":"720h0m0s","hooks":{},
	"defaultVolumesToFsBackup":true,"csiSnapshotTimeout":"0s","itemOperationTimeout":"0s"},
	"schedule":"0 2 * * *","useOwnerReferencesInBackup":false}' "schedule create: exactly Velero's spec"
vok "schedule create with paused, skip-immediately, owner references" schedule create hourly \
	--schedule "@every 1h" --paused --skip-immediately --use-owner-references-in-backup \
	--include-namespaces production,database --storage-location default
spec_is schedule hourly '{"template":{"metadata":{},"includedNamespaces":["production","database"],"ttl":"0s",
	"hooks":{},"storageLocation":"default","csiSnapshotTimeout":"0s","itemOperationTimeout":"0s"},
	"schedule":"@every 1h","useOwnerReferencesInBackup":true,"paused":true,"skipImmediately":true}' \
	"schedule create: --paused, --skip-immediately, --use-owner-references-in-backup"
v schedule create nocron --ttl 1h
expect_eq 2 "$RC" "schedule create without --schedule: usage error"
vok "schedule unpause hourly" schedule unpause hourly
field_is schedule hourly '{.spec.paused}' false "schedule unpause: spec.paused false"
vok "schedule pause hourly" schedule pause hourly
field_is schedule hourly '{.spec.paused}' true "schedule pause: spec.paused true"
v schedule get
expect_grep '^NAME +STATUS +CREATED +SCHEDULE +BACKUP TTL +LAST BACKUP +SELECTOR +PAUSED$' "$OUT" "schedule get: Velero's columns"
expect_grep '^daily +New +[0-9-]+ [0-9:]+ [-+][0-9]{4} [A-Z]+ +0 2 \* \* \* +720h0m0s +n/a +<none> +false$' "$OUT" "schedule get: the row of daily"
vok "backup create --from-schedule" backup create --from-schedule daily
FROM=$(printf '%s' "$OUT" | sed -n 's/^Backup request "\(.*\)" submitted successfully.$/\1/p')
expect_match "$FROM" '^daily-[0-9]{14}$' "backup create --from-schedule: named <schedule>-<timestamp>"
field_is backup "$FROM" '{.metadata.labels.velero\.io/schedule-name},{.spec.ttl},{.spec.defaultVolumesToFsBackup}' \
	'daily,720h0m0s,true' "backup create --from-schedule: the template and the schedule-name label"
v schedule describe daily
expect_grep '^Schedule:  0 2 \* \* \*$' "$OUT" "schedule describe: the cron"
expect_grep '^Backup Template:$' "$OUT" "schedule describe: the template"

echo "== [$(($(date +%s) - ${START:-$(date +%s)})) s] restore create"
vok "restore create --from-backup b1 --namespace-mappings app:app2" restore create --from-backup b1 --namespace-mappings app:app2
RNAME=$(printf '%s' "$OUT" | sed -n 's/^Restore request "\(.*\)" submitted successfully.$/\1/p')
expect_match "$RNAME" '^b1-[0-9]{14}$' "restore create: the name defaults to <backup>-<YYYYMMDDHHMMSS>"
spec_is restore "$RNAME" '{"backupName":"b1","includedNamespaces":["*"],"namespaceMapping":{"app":"app2"},
	"hooks":{},"itemOperationTimeout":"0s","uploaderConfig":{}}' "restore create: exactly Velero's spec"
vok "restore create r2 with filters" restore create r2 --from-backup b1 --include-namespaces app \
	--include-resources configmaps --exclude-resources secrets --existing-resource-policy update \
	--restore-volumes=false --selector 'tier!=db' --status-include-resources deployments
spec_is restore r2 '{"backupName":"b1","includedNamespaces":["app"],"includedResources":["configmaps"],
	"excludedResources":["secrets"],"labelSelector":{"matchExpressions":[{"key":"tier","operator":"NotIn","values":["db"]}]},
	"restorePVs":false,"restoreStatus":{"includedResources":["deployments"]},"hooks":{},
	"existingResourcePolicy":"update","itemOperationTimeout":"0s","uploaderConfig":{}}' \
	"restore create: filters, policy, restorePVs, restoreStatus"
vok "restore create --from-schedule" restore create r3 --from-schedule daily
spec_is restore r3 '{"scheduleName":"daily","includedNamespaces":["*"],"hooks":{},"itemOperationTimeout":"0s",
	"uploaderConfig":{}}' "restore create --from-schedule: scheduleName"
v restore create r4 --from-backup nope
expect_eq 5 "$RC" "restore create from a missing backup fails"
expect_grep 'backups.velero.io "nope" not found' "$ERR" "restore create from a missing backup: the API's message"
v restore create r4 --from-backup b1 --existing-resource-policy sometimes
expect_eq 2 "$RC" "restore create: a bad --existing-resource-policy is refused"
v restore create r4
expect_eq 2 "$RC" "restore create without a source: usage error"
v restore get
expect_grep '^NAME +BACKUP +STATUS +STARTED +COMPLETED +ERRORS +WARNINGS +CREATED +SELECTOR$' "$OUT" "restore get: Velero's columns"
expect_grep "^r2 +b1 +New +<nil> +<nil> +0 +0 +[0-9-]+ [0-9:]+ [-+][0-9]{4} [A-Z]+ +tier!=db$" "$OUT" "restore get: the row of r2"
v restore describe "$RNAME"
expect_grep '^Namespace mappings:  app:app2$' "$OUT" "restore describe: the namespace mapping"

echo "== [$(($(date +%s) - ${START:-$(date +%s)})) s] get, -o json, -o yaml, describe"
v backup get
expect_grep '^NAME +STATUS +ERRORS +WARNINGS +CREATED +EXPIRES +STORAGE LOCATION +SELECTOR$' "$OUT" "backup get: Velero's columns"
expect_grep '^b1 +New +0 +0 +<nil> +23h +app=web$' "$OUT" "backup get: b1 (New, expires in 23h from its TTL, selector)"
v backup get -o json
printf '%s' "$OUT" >"$T/list.json"
expect_eq "BackupList 3" "$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["kind"], len(d["items"]))' "$T/list.json" 2>&1)" \
	"backup get -o json: a BackupList of the 3 backups"
v backup get b1 -o json
printf '%s' "$OUT" >"$T/one.json"
expect_eq "Backup b1 app=web" "$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["kind"], d["metadata"]["name"], "app="+d["spec"]["labelSelector"]["matchLabels"]["app"])' "$T/one.json" 2>&1)" \
	"backup get NAME -o json: the object itself (Velero prints a one-item list as the item)"
for what in backup schedule restore backup-location; do
	v "$what" get -o yaml
	printf '%s\n' "$OUT" >"$T/$what.yaml"
	got=$("$PY" -c 'import yaml,sys; d=yaml.safe_load(open(sys.argv[1])); print(d["kind"].endswith("List") or d["kind"], len(d.get("items", [d])) > 0)' "$T/$what.yaml" 2>&1 || true)
	expect_eq "True True" "$got" "$what get -o yaml parses as YAML"
	v "$what" get -o json
	printf '%s' "$OUT" >"$T/$what.json"
	cmp <("$PY" -c 'import yaml,sys,json; print(json.dumps(yaml.safe_load(open(sys.argv[1])), sort_keys=True))' "$T/$what.yaml") \
		<("$PY" -c 'import sys,json; print(json.dumps(json.load(open(sys.argv[1])), sort_keys=True))' "$T/$what.json") >/dev/null 2>&1 &&
		pass "$what get: -o yaml and -o json carry the same data" ||
		fail "$what get: -o yaml and -o json differ"
done
v backup describe b1
expect_grep '^Name: +b1$' "$OUT" "backup describe: name"
expect_grep '^Phase:  New$' "$OUT" "backup describe: phase"
expect_grep '^  Included:  app$' "$OUT" "backup describe: included namespaces"
expect_grep '^Label selector:  app=web$' "$OUT" "backup describe: selector"
expect_grep '^TTL:  24h0m0s$' "$OUT" "backup describe: TTL"
v backup get nope
expect_eq 5 "$RC" "backup get of a missing backup: exit 5"
expect_eq $'An error occurred: backups.velero.io "nope" not found\n(list them with `velero backup get`)' "$ERR" "backup get of a missing backup: Velero's message and what to do"
v backup get -n elsewhere
expect_eq "" "$(printf '%s' "$OUT" | sed 1d)" "backup get -n elsewhere: another namespace (empty)"
VELERO_NAMESPACE=elsewhere v backup get b1
expect_eq 5 "$RC" "VELERO_NAMESPACE picks the namespace"
vok "client config set namespace=elsewhere" client config set namespace=elsewhere
expect_eq "elsewhere" "$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["namespace"])' "$HOME/.config/velero/config.json" 2>&1)" \
	"client config set: writes Velero's config.json"
v client config get namespace features
expect_eq $'namespace: elsewhere\nfeatures: <NOT SET>' "$OUT" "client config get: Velero's form"
v backup get b1
expect_eq 5 "$RC" "the client config's namespace is used"
v backup get b1 -n velero
expect_eq 0 "$RC" "-n overrides the client config"
vok "client config set namespace= (removes it)" client config set namespace=
v backup get b1
expect_eq 0 "$RC" "without the key the namespace is velero again"

echo "== [$(($(date +%s) - ${START:-$(date +%s)})) s] verb-first aliases"
v backup get
WANT=$OUT
v get backups
expect_eq "$WANT" "$OUT" "velero get backups = velero backup get"
v get backup b1 -o json
expect_grep '"name": "b1"' "$OUT" "velero get backup b1 -o json"
vok "velero create backup b-alias" create backup b-alias --include-namespaces alias
field_is backup b-alias '{.spec.includedNamespaces}' '["alias"]' "velero create backup: the same Backup"
v describe schedules daily
expect_grep '^Schedule:  0 2 \* \* \*$' "$OUT" "velero describe schedules daily"
v get snapshots
expect_eq 2 "$RC" "velero get of an unknown noun: usage error"

echo "== [$(($(date +%s) - ${START:-$(date +%s)})) s] delete"
VIN=$T/no
echo n >"$VIN"
v backup delete b1
VIN=
expect_grep 'Cancelled' "$OUT" "backup delete without --confirm asks and honours 'n'"
vok "backup delete b1 --confirm" backup delete b1 --confirm
expect_grep '^Request to delete backup "b1" submitted successfully.$' "$OUT" "backup delete: Velero's message"
k -n velero get deletebackuprequests -o json
printf '%s' "$OUT" >"$T/dbr.json"
UID1=$(kubectl -n velero get backup b1 -o 'jsonpath={.metadata.uid}')
expect_eq "b1- b1 b1 $UID1" "$("$PY" -c 'import json,sys; i=json.load(open(sys.argv[1]))["items"]; d=i[0]; m=d["metadata"]; print(len(i)==1 and m["generateName"], d["spec"]["backupName"], m["labels"]["velero.io/backup-name"], m["labels"]["velero.io/backup-uid"])' "$T/dbr.json" 2>&1)" \
	"backup delete: one DeleteBackupRequest (generateName, backupName, backup-name and backup-uid labels)"
k -n velero get backup b1
expect_eq 0 "$RC" "backup delete: the Backup stays until the server processes the request"
vok "restore delete r3 --confirm" restore delete r3 --confirm
k -n velero get restore r3
expect_eq 1 "$RC" "restore delete: the Restore is gone"
vok "schedule delete hourly --confirm" schedule delete hourly --confirm
expect_eq "Schedule deleted: hourly" "$OUT" "schedule delete: Velero's message"
vok "backup-location delete third-free --confirm" backup-location delete second --confirm
k -n velero get backupstoragelocation second
expect_eq 1 "$RC" "backup-location delete: the BSL is gone"

echo "== [$(($(date +%s) - ${START:-$(date +%s)})) s] the seed's velero commands (shared/seed/velero-kopia-seed.md)"
k create namespace app
vok "seed: backup create daily-backup" backup create daily-backup --default-volumes-to-fs-backup --include-namespaces app,database
spec_is backup daily-backup '{"metadata":{},"includedNamespaces":["app","database"],"ttl":"0s","hooks":{},
	"defaultVolumesToFsBackup":true,"csiSnapshotTimeout":"0s","itemOperationTimeout":"0s"}' "seed: daily-backup spec"
vok "seed: backup create pvc-backup" backup create pvc-backup --include-resources persistentvolumeclaims,persistentvolumes --default-volumes-to-fs-backup
spec_is backup pvc-backup '{"metadata":{},"includedNamespaces":["*"],"includedResources":["persistentvolumeclaims","persistentvolumes"],
	"ttl":"0s","hooks":{},"defaultVolumesToFsBackup":true,"csiSnapshotTimeout":"0s","itemOperationTimeout":"0s"}' "seed: pvc-backup spec"
vok "seed: backup create prod-backup" backup create prod-backup --selector environment=production --default-volumes-to-fs-backup
spec_is backup prod-backup '{"metadata":{},"includedNamespaces":["*"],"labelSelector":{"matchLabels":{"environment":"production"}},
	"ttl":"0s","hooks":{},"defaultVolumesToFsBackup":true,"csiSnapshotTimeout":"0s","itemOperationTimeout":"0s"}' "seed: prod-backup spec"
vok "seed: backup create daily-backup-20240101" backup create daily-backup-20240101 --include-namespaces app
vok "seed: backup create full-backup" backup create full-backup
vok "seed: restore create --from-backup daily-backup-20240101" restore create --from-backup daily-backup-20240101
vok "seed: restore create --from-backup prod-backup --namespace-mappings production:staging" \
	restore create --from-backup prod-backup --namespace-mappings production:staging
vok "seed: restore create --from-backup full-backup --include-resources persistentvolumeclaims,configmaps" \
	restore create --from-backup full-backup --include-resources persistentvolumeclaims,configmaps
k -n velero get restores -o json
printf '%s' "$OUT" >"$T/restores.json"
expect_eq "ok" "$("$PY" - "$T/restores.json" <<'PYEOF' 2>&1
import json, sys
items = json.load(open(sys.argv[1]))["items"]
by = {i["spec"].get("backupName"): i["spec"] for i in items}
assert by["prod-backup"]["namespaceMapping"] == {"production": "staging"}, by
assert by["full-backup"]["includedResources"] == ["persistentvolumeclaims", "configmaps"], by
assert "daily-backup-20240101" in by, by
print("ok")
PYEOF
)" "seed: the three restores carry their flags"
vok "seed: backup describe daily-backup-20240101" backup describe daily-backup-20240101
vok "seed: schedule create daily (done above) reads back" schedule get daily
# `backup logs NAME` and `logs --details` parse; without a server they
# report the backup is not finished (Velero's message).
v backup logs daily-backup-20240101
expect_grep 'are not available until it.s finished processing' "$ERR" "seed: backup logs before the backup ran: Velero's message"
v backup logs backup-name --details
expect_grep 'backups.velero.io "backup-name" not found' "$ERR" "seed: backup logs --details parses (missing backup reported)"

cat >"$T/repo.yaml" <<'EOF'
apiVersion: velero.io/v1
kind: BackupRepository
metadata:
  name: app-default-kopia
  namespace: velero
  labels:
    velero.io/storage-location: default
spec:
  volumeNamespace: app
  backupStorageLocation: default
  repositoryType: kopia
  maintenanceFrequency: 1h0m0s
status:
  phase: Ready
EOF
k apply -f "$T/repo.yaml"
v repo get
expect_grep '^NAME +STATUS +LAST MAINTENANCE$' "$OUT" "seed: repo get: Velero's columns"
expect_grep '^app-default-kopia +Ready +<never>$' "$OUT" "seed: repo get: the repository"

echo "== [$(($(date +%s) - ${START:-$(date +%s)})) s] version"
v version --client-only
expect_eq $'Client:\n\tVersion: '"$("$STOWAGE" version | sed -n '1s/^stowage //p')"$'\n\tGit commit: <unknown>' "$OUT" "velero version --client-only"
v version --timeout 1s
expect_grep '<error getting server version: timed out waiting for server status request to be processed>' "$OUT" \
	"velero version without a server: Velero's message"
"$STOWAGE" version >"$T/sv" 2>&1 || true
expect_grep '^vault format: ' "$(cat "$T/sv")" "stowage version: stowage's own form"

echo "== [$(($(date +%s) - ${START:-$(date +%s)})) s] end to end with stowage server and a filesystem location"
if ! "$STOWAGE" server --help >/dev/null 2>&1; then
	note "stowage server is not available: skipping the end-to-end part"
else
	# The objects of part 1 would keep the server busy (a queue of
	# backups to an unreachable S3): start from a clean namespace.
	for kind in backups restores schedules deletebackuprequests backupstoragelocations; do
		k -n velero delete "$kind" --all --wait=false
	done
	LOC=$T/loc
	mkdir -p "$LOC"
	vok "backup-location create fs" backup-location create fs --provider filesystem --bucket "$LOC" --default
	k -n velero create configmap settings --from-literal=color=blue -n app
	# Incompressible data: the tarball outgrows the server's inline
	# download limit (768 KiB), so `backup download` gets a
	# stowage-fs:// URL and reads the mounted location directory.
	head -c 650000 /dev/urandom | base64 -w0 >"$T/big.txt"
	k -n app create configmap big --from-file=data="$T/big.txt"
	[[ $RC == 0 ]] || note "could not create the big ConfigMap: $ERR"
	k -n app label configmap settings app=web
	"$STOWAGE" server -n velero --leader-elect false --backup-sync-period 1h \
		>"$T/server.out" 2>"$T/server.log" &
	SERVER_PID=$!
	for _ in $(seq 100); do
		[[ $(kubectl -n velero get bsl fs -o 'jsonpath={.status.phase}' 2>/dev/null) == Available ]] && break
		sleep 0.2
	done
	v backup create b2 --include-namespaces app --wait
	if [[ $RC == 0 ]]; then pass "backup create --wait: exit 0"; else fail "backup create --wait: expected exit 0, got $RC: ${ERR:0:300} ${OUT:0:600}"; fi
	expect_grep '^Backup completed with status: Completed' "$OUT" "backup create --wait: prints Completed"
	expect_grep 'items backed up' "$OUT" "backup create --wait: shows progress (items backed up / total)"
	v backup logs b2
	expect_eq 0 "$RC" "backup logs b2: exit 0 ($ERR)"
	expect_grep 'level=info' "$OUT" "backup logs b2: prints log lines"
	v backup describe b2 --details
	expect_eq 0 "$RC" "backup describe --details: exit 0 (${ERR:0:300})"
	expect_grep '^Phase:  Completed$' "$OUT" "backup describe b2: Completed"
	expect_grep '^  v1/ConfigMap:$' "$OUT" "backup describe --details: the resource list"
	expect_grep '^    - app/settings$' "$OUT" "backup describe --details: the ConfigMap backed up"
	v backup download b2 -o "$T/b2.tar.gz"
	expect_eq 0 "$RC" "backup download: exit 0 ($ERR)"
	expect_grep 'resources/configmaps/namespaces/app/settings.json' "$(tar tzf "$T/b2.tar.gz" 2>&1)" "backup download: the tarball holds the ConfigMap"
	SIZE=$(stat -c %s "$T/b2.tar.gz")
	if ((SIZE > 786432)); then
		pass "backup download: a tarball over the inline limit ($SIZE bytes) came through stowage-fs://"
		cmp -s "$T/b2.tar.gz" "$LOC/backups/b2/b2.tar.gz" &&
			pass "backup download: the same bytes as in the location" ||
			fail "backup download: the file differs from $LOC/backups/b2/b2.tar.gz"
		STOWAGE_FS_ROOT=$T/not-mounted v backup download b2 -o "$T/b2-again.tar.gz"
		expect_eq 5 "$RC" "backup download without the location mounted: not found"
		expect_grep 'only be read where the location.s directory is mounted' "$ERR" "backup download without the mount: says why"
	else
		note "the tarball ($SIZE bytes) came inline; stowage-fs:// not exercised"
	fi
	v version --timeout 10s
	expect_grep '^Server:$' "$OUT" "velero version: Server section"
	expect_grep 'Version: ' "$(printf '%s' "$OUT" | sed -n '/^Server:/,$p')" "velero version: the server's version through a ServerStatusRequest"
	if grep -q restore "$T/server.log" 2>/dev/null || [[ -f $ROOT/src/velero/restore_ctl.c ]]; then
		k delete namespace app --wait=false
		sleep 1
		v restore create r-e2e --from-backup b2 --namespace-mappings app:app3 --wait
		if [[ $RC == 0 ]]; then
			pass "restore create --wait: exit 0"
			k -n app3 get configmap settings -o 'jsonpath={.data.color}'
			expect_eq blue "$OUT" "restore: the ConfigMap is back under the mapped namespace"
			v restore describe r-e2e
			expect_grep '^Phase:  Completed$' "$OUT" "restore describe: Completed"
			expect_grep '^Warnings:' "$OUT" "restore describe: the Warnings block"
			v restore describe r-e2e --details
			expect_eq 0 "$RC" "restore describe --details: exit 0 (${ERR:0:300})"
			expect_grep '^Resource List:$' "$OUT" "restore describe --details: the resource list"
			expect_grep '^  v1/ConfigMap:$' "$OUT" "restore describe --details: the ConfigMaps restored"
			# Again onto the restored objects: they exist now, so the
			# server may warn; describe fetches RestoreResults then.
			k -n app3 patch configmap settings --type merge -p '{"data":{"color":"red"}}'
			v restore create r-again --from-backup b2 --namespace-mappings app:app3 --wait
			v restore describe r-again
			expect_eq 0 "$RC" "restore describe r-again: exit 0 (${ERR:0:300})"
			if grep -q '^  Namespaces:$' <<<"$OUT"; then
				expect_grep '^    app3:  .*settings' "$OUT" "restore describe: the per-namespace warning from RestoreResults"
			else
				expect_grep '^Warnings:  <none>$' "$OUT" "restore describe: no warnings reported"
			fi
		else
			note "restore create --wait: exit $RC (restore controller not ready?): ${OUT:0:300} ${ERR:0:200}"
		fi
	fi
	# An S3 location (s3rver): logs and downloads come as presigned
	# http:// URLs that the CLI fetches with libcurl.
	S3PY=
	for p in "$PY" /usr/bin/python3; do
		if "$p" -c 'import botocore.auth' >/dev/null 2>&1; then
			S3PY=$p
			break
		fi
	done
	if command -v "${NODE:-node}" >/dev/null 2>&1 && [[ -n $S3PY &&
		-f $S3_DIR/node_modules/s3rver/bin/s3rver.js ]]; then
		s3_start_s3rver
		printf '[default]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n' >"$T/cred"
		k -n velero create secret generic cloud-credentials --from-file=cloud="$T/cred"
		vok "backup-location create s3 (s3rver)" backup-location create s3 --provider aws \
			--bucket "$S3_BUCKET" --prefix cli \
			--config "region=$S3_REGION,s3ForcePathStyle=true,s3Url=http://127.0.0.1:$S3RVER_PORT" \
			--credential cloud-credentials=cloud
		for _ in $(seq 100); do
			[[ $(kubectl -n velero get bsl s3 -o 'jsonpath={.status.phase}' 2>/dev/null) == Available ]] && break
			sleep 0.2
		done
		v backup create b3 --storage-location s3 --include-namespaces app3 --wait
		expect_eq 0 "$RC" "backup create --wait to S3: exit 0 (${ERR:0:200})"
		v backup logs b3
		expect_eq 0 "$RC" "backup logs from S3: exit 0 (${ERR:0:200})"
		expect_grep 'level=info msg="Setting up backup"' "$OUT" "backup logs from S3: the log, fetched by presigned URL and gunzipped"
		v backup download b3 -o "$T/b3.tar.gz"
		expect_grep 'resources/configmaps/namespaces/app3/settings.json' "$(tar tzf "$T/b3.tar.gz" 2>&1)" \
			"backup download from S3: the tarball"
	else
		note "node, s3rver or botocore missing: the S3 download part is skipped"
	fi
	stop_server
fi

echo "== [$(($(date +%s) - ${START:-$(date +%s)})) s] done in $(($(date +%s) - START)) s"
finish

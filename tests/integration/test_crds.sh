#!/usr/bin/env bash
# deploy/crds against kubesim and the real kubectl.
#
# Installs the velero.io CRDs with `kubectl apply -k deploy/crds`, checks
# discovery (api-resources, short names), runs the static schema checks of
# crds_check.py (structural schema, Velero's field list, names, columns),
# validates every fixture against the schemas (kubesim does not validate,
# so a real API server's pruning/rejection is emulated there), applies the
# seed's velero.io manifests, the objects of the seed's CLI commands and
# Velero-docs-style Backups/Restores/Schedule, and asserts on `kubectl get`
# printer columns and on status writes as Velero does them (no status
# subresource: Velero's CRDs declare none).
#
# Runs itself under tests/kube/with_kubesim.sh. Skips (exit 0 with a note)
# if kubectl is not installed. STOW_SEED_DIR (default /work/shared/seed, then
# ../shared/seed next to the repository) holds the seed; without it the
# fixtures alone are used.
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

ROOT=$(cd "$TESTS_DIR/.." && pwd)
CRDS=$ROOT/deploy/crds
FIX=$IT_DIR/crds_fixtures
CHECK=$IT_DIR/crds_check.py
mkdir -p "$T/home"
export HOME=$T/home # kubectl's discovery cache, never ~/.kube

SEED_DIR=${STOW_SEED_DIR:-}
if [[ -z $SEED_DIR ]]; then
	for d in /work/shared/seed "$ROOT/../shared/seed"; do
		if [[ -d $d ]]; then SEED_DIR=$d; break; fi
	done
fi

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

expect_ok()
{
	if [[ $RC == 0 ]]; then
		pass "$*"
	else
		fail "$*: kubectl exited $RC"
		show_output
	fi
}

# py_checks ARGS...: run crds_check.py, turn its ok:/FAIL: lines into checks
py_checks()
{
	local line out
	if ! out=$("$PY" "$CHECK" "$@" 2>&1); then
		fail "crds_check.py $*: crashed"
		printf '%s\n' "$out" | clip 30 | sed 's/^/  | /'
		return 0
	fi
	[[ -n $out ]] || fail "crds_check.py $*: printed no result"
	while IFS= read -r line; do
		case $line in
		ok:\ *) pass "${line#ok: }" ;;
		FAIL:\ *) fail "${line#FAIL: }" ;;
		*) note "crds_check.py: $line" ;;
		esac
	done <<<"$out"
}

# row NAME: the row of $OUT (kubectl's table output; several tables allowed)
# whose NAME cell is NAME, as "COLUMN=cell;COLUMN=cell;..." using the
# header's column offsets (cells may be empty)
row()
{
	"$PY" -c '
import re, sys
want, text = sys.argv[1], sys.stdin.read()
hdr = None
for line in text.split("\n"):
    if not line.strip():
        hdr = None
        continue
    if hdr is None:
        hdr = [(m.start(), m.group(0)) for m in re.finditer(r"\S+(?: \S+)*", line)]
        continue
    starts = [p for p, _ in hdr] + [10**6]
    cells = [line[starts[i]:starts[i + 1]].strip() for i in range(len(hdr))]
    names = [n for _, n in hdr]
    if cells[names.index("NAME")] == want:
        print(";".join("%s=%s" % (n, c) for n, c in zip(names, cells)))
        break
' "$1" <<<"$OUT"
}

# to_json FILE-OR-DIR OUT: kubectl's own parse of a manifest, as JSON
to_json()
{
	local src=$1 dst=$2
	if [[ -d $src && -f $src/kustomization.yaml ]]; then
		k apply -k "$src" --dry-run=client -o json
	else
		k apply -f "$src" --dry-run=client -o json
	fi
	if [[ $RC != 0 ]]; then
		fail "kubectl parse of $(basename "$src") (--dry-run=client -o json): exit $RC"
		show_output
		return 1
	fi
	printf '%s\n' "$OUT" >"$dst"
}

KINDS=(backups restores schedules backupstoragelocations volumesnapshotlocations
	backuprepositories podvolumebackups podvolumerestores deletebackuprequests
	downloadrequests serverstatusrequests datauploads datadownloads)

# ------------------------------------------------------------ the files
listed=$(grep -E '^- ' "$CRDS/kustomization.yaml" | sed 's/^- //' | LC_ALL=C sort)
present=$(for f in "$CRDS"/*; do
	[[ ${f##*/} == kustomization.yaml ]] || printf '%s\n' "${f##*/}"
done | LC_ALL=C sort)
if [[ $present == "$listed" ]]; then
	pass "kustomization.yaml lists every file of deploy/crds, and only those"
else
	fail "kustomization.yaml: expected the files of deploy/crds, got a different list:"
	diff <(printf '%s\n' "$present") <(printf '%s\n' "$listed") | sed 's/^/  | /' || true
fi
expect_eq 13 "$(wc -l <<<"$present")" "13 CRD files (11 velero.io/v1 kinds, 2 v2alpha1)"

# ------------------------------------------------------------ install
k apply -k "$CRDS"
expect_ok "kubectl apply -k deploy/crds"
for r in "${KINDS[@]}"; do
	expect_grep "^customresourcedefinition.apiextensions.k8s.io/$r.velero.io created$" "$OUT" \
		"apply created $r.velero.io"
done
# the other ways: the rendered kustomization through -f -, and -f per file
# (`kubectl apply -f deploy/crds/` would also read kustomization.yaml and
# fail on its kind after applying the CRDs: see docs/crds.md)
set +e
kubectl kustomize "$CRDS" 2>"$T/.err" | timeout -k 5 60 kubectl apply -f - >"$T/.out" 2>>"$T/.err"
RC=$?
set -e
OUT=$(cat "$T/.out")
expect_ok "kubectl kustomize deploy/crds | kubectl apply -f -"
expect_eq 13 "$(grep -c ' unchanged$' <<<"$OUT" || true)" "re-apply through -f -: 13 unchanged"
fargs=()
for f in "$CRDS"/velero.io_*.yaml; do fargs+=(-f "$f"); done
k apply "${fargs[@]}"
expect_ok "kubectl apply -f <each CRD file>"
expect_eq 13 "$(grep -c ' unchanged$' <<<"$OUT" || true)" "re-apply per file: 13 unchanged"
k wait --for condition=established --timeout=20s crd -l component=velero
expect_ok "kubectl wait: every CRD labelled component=velero is Established"
expect_eq 13 "$(grep -c 'condition met' <<<"$OUT" || true)" "13 CRDs carry component=velero"

k api-resources --api-group=velero.io
expect_ok "kubectl api-resources --api-group=velero.io"
expect_grep '^NAME +SHORTNAMES +APIVERSION +NAMESPACED +KIND$' "$OUT" "api-resources: header"
expect_grep '^backupstoragelocations +bsl +velero.io/v1 +true +BackupStorageLocation$' "$OUT" \
	"api-resources: backupstoragelocations, short name bsl"
expect_grep '^volumesnapshotlocations +vsl +velero.io/v1 +true +VolumeSnapshotLocation$' "$OUT" \
	"api-resources: volumesnapshotlocations, short name vsl"
expect_grep '^serverstatusrequests +ssr +velero.io/v1 +true +ServerStatusRequest$' "$OUT" \
	"api-resources: serverstatusrequests, short name ssr"
for kr in Backup:backups Restore:restores Schedule:schedules BackupRepository:backuprepositories \
	PodVolumeBackup:podvolumebackups PodVolumeRestore:podvolumerestores \
	DeleteBackupRequest:deletebackuprequests DownloadRequest:downloadrequests; do
	expect_grep "^${kr#*:} +velero.io/v1 +true +${kr%%:*}\$" "$OUT" \
		"api-resources: ${kr#*:} (no short name, as in Velero)"
done
for kr in DataUpload:datauploads DataDownload:datadownloads; do
	expect_grep "^${kr#*:} +velero.io/v2alpha1 +true +${kr%%:*}\$" "$OUT" \
		"api-resources: ${kr#*:} at velero.io/v2alpha1"
done
expect_eq 13 "$(grep -c 'velero.io/' <<<"$OUT" || true)" "api-resources: exactly 13 velero.io kinds"
k api-versions
expect_grep '^velero.io/v1$' "$OUT" "api-versions: velero.io/v1"
expect_grep '^velero.io/v2alpha1$' "$OUT" "api-versions: velero.io/v2alpha1"

# ------------------------------------------------------------ static checks
if to_json "$CRDS" "$T/crds.json"; then
	py_checks crds "$T/crds.json"
else
	die "cannot read deploy/crds as JSON"
fi

# ------------------------------------------------------------ seed fixtures
if [[ -n $SEED_DIR ]]; then
	# every ```yaml block of the seed that is a velero.io object must be
	# one of our fixtures, byte for byte
	set +e
	seedcmp=$("$PY" - "$SEED_DIR" "$FIX" <<'PYEOF'
import glob, os, re, sys
seed, fix = sys.argv[1], sys.argv[2]
n = 0
for md in sorted(glob.glob(os.path.join(seed, "*.md"))):
    for b in re.findall(r"```ya?ml\n(.*?)```", open(md).read(), re.S):
        if not re.search(r"^apiVersion: velero\.io/", b, re.M):
            continue
        n += 1
        kind = re.search(r"^kind: (\w+)", b, re.M).group(1)
        name = re.search(r"^  name: (\S+)", b, re.M).group(1)
        fn = os.path.join(fix, "seed_%s_%s.yaml" % (kind.lower(), name))
        if not os.path.exists(fn):
            print("FAIL: seed %s %s (%s) has no fixture %s" % (kind, name, os.path.basename(md),
                                                              os.path.basename(fn)))
        elif open(fn).read() != b:
            print("FAIL: fixture %s differs from the seed's block" % os.path.basename(fn))
        else:
            print("ok: fixture %s is the seed's %s %s, byte for byte" %
                  (os.path.basename(fn), kind, name))
print("COUNT %d" % n)
PYEOF
	)
	set -e
	while IFS= read -r line; do
		case $line in
		ok:\ *) pass "${line#ok: }" ;;
		FAIL:\ *) fail "${line#FAIL: }" ;;
		COUNT\ *) expect_eq 2 "${line#COUNT }" "the seed has 2 velero.io manifests" ;;
		esac
	done <<<"$seedcmp"
else
	note "no seed directory (STOW_SEED_DIR): using the fixtures as they are"
fi

# ------------------------------------------------------------ schema validation
FIXTURES=(seed_backupstoragelocation_default.yaml seed_schedule_daily-backup.yaml
	seed_cli_objects.yaml docs_backups.yaml docs_restores.yaml docs_schedule.yaml
	other_kinds.yaml)
for f in "${FIXTURES[@]}"; do
	if to_json "$FIX/$f" "$T/$f.json"; then
		py_checks objects "$T/crds.json" "$T/$f.json"
	fi
done
if to_json "$FIX/invalid.yaml" "$T/invalid.json"; then
	py_checks objects "$T/crds.json" "$T/invalid.json" --invalid
fi

# ------------------------------------------------------------ apply
k create namespace velero
expect_ok "create namespace velero"
k apply -f "$FIX/seed_backupstoragelocation_default.yaml"
expect_eq "backupstoragelocation.velero.io/default created" "$OUT" \
	"the seed's BackupStorageLocation applies unchanged"
k apply -f "$FIX/seed_schedule_daily-backup.yaml"
expect_eq "schedule.velero.io/daily-backup created" "$OUT" "the seed's Schedule applies unchanged"
k apply -f "$FIX/seed_cli_objects.yaml"
expect_ok "apply the objects of the seed's velero commands"
for o in backup.velero.io/daily-backup backup.velero.io/pvc-backup backup.velero.io/prod-backup \
	restore.velero.io/prod-backup-20240101020000 restore.velero.io/full-backup-20240101020000 \
	schedule.velero.io/daily volumesnapshotlocation.velero.io/default; do
	expect_grep "^$o created$" "$OUT" "apply created $o"
done
k apply -f "$FIX/docs_backups.yaml" -f "$FIX/docs_restores.yaml" -f "$FIX/docs_schedule.yaml"
expect_ok "apply Velero-docs-style Backups, Restores and Schedule"
for o in backup.velero.io/shop-full backup.velero.io/platform-scoped \
	restore.velero.io/shop-full-to-staging restore.velero.io/latest-daily \
	schedule.velero.io/shop-hourly; do
	expect_grep "^$o created$" "$OUT" "apply created $o"
done
k apply -f "$FIX/other_kinds.yaml"
expect_ok "apply one object of every other kind"
expect_eq 8 "$(grep -c ' created$' <<<"$OUT" || true)" "8 more objects created"
k apply -f "$FIX/docs_backups.yaml" -f "$FIX/seed_backupstoragelocation_default.yaml"
expect_no_grep '(created|configured)$' "$OUT" "re-apply: unchanged"

# ------------------------------------------------------------ get with printer columns
k get backups,restores,schedules,bsl -A
expect_ok "kubectl get backups,restores,schedules,bsl -A"
expect_grep '^NAMESPACE +NAME +STATUS +ERRORS +WARNINGS +CREATED +EXPIRES +STORAGE LOCATION$' \
	"$OUT" "backups: NAME STATUS ERRORS WARNINGS CREATED EXPIRES STORAGE LOCATION"
expect_eq "NAMESPACE=velero;NAME=backup.velero.io/shop-full;STATUS=;ERRORS=;WARNINGS=;CREATED=;EXPIRES=;STORAGE LOCATION=default" \
	"$(row backup.velero.io/shop-full)" "backups: shop-full (no status yet)"
expect_grep '^NAMESPACE=velero;NAME=backup.velero.io/daily-backup;' "$(row backup.velero.io/daily-backup)" \
	"backups: the seed command's daily-backup"
expect_grep '^NAMESPACE +NAME +BACKUP +STATUS +STARTED +COMPLETED +ERRORS +WARNINGS +AGE$' "$OUT" \
	"restores: NAME BACKUP STATUS STARTED COMPLETED ERRORS WARNINGS AGE"
expect_grep '^NAMESPACE=velero;NAME=restore.velero.io/shop-full-to-staging;BACKUP=shop-full;STATUS=;STARTED=;COMPLETED=;ERRORS=;WARNINGS=;AGE=[0-9]+[smhd][0-9smh]*$' \
	"$(row restore.velero.io/shop-full-to-staging)" "restores: shop-full-to-staging shows its backup"
expect_grep '^NAMESPACE +NAME +STATUS +SCHEDULE +LASTBACKUP +AGE +PAUSED$' "$OUT" \
	"schedules: NAME STATUS SCHEDULE LASTBACKUP AGE PAUSED (Velero's columns)"
expect_grep '^NAMESPACE=velero;NAME=schedule.velero.io/daily-backup;STATUS=;SCHEDULE=0 2 \* \* \*;LASTBACKUP=;AGE=[0-9]+[smhd][0-9smh]*;PAUSED=$' \
	"$(row schedule.velero.io/daily-backup)" "schedules: the seed's daily-backup with its cron expression"
expect_grep '^NAMESPACE=velero;NAME=schedule.velero.io/shop-hourly;STATUS=;SCHEDULE=CRON_TZ=Europe/Paris 0 \* \* \* \*;LASTBACKUP=;AGE=[0-9]+[smhd][0-9smh]*;PAUSED=true$' \
	"$(row schedule.velero.io/shop-hourly)" "schedules: shop-hourly is paused"
expect_grep '^NAMESPACE +NAME +PHASE +LAST VALIDATED +AGE +DEFAULT$' "$OUT" \
	"bsl: NAME PHASE LAST VALIDATED AGE DEFAULT (Velero's columns)"
expect_grep '^NAMESPACE=velero;NAME=backupstoragelocation.velero.io/default;PHASE=;LAST VALIDATED=;AGE=[0-9]+[smhd][0-9smh]*;DEFAULT=$' \
	"$(row backupstoragelocation.velero.io/default)" "bsl: the seed's default location"

k get bsl,vsl -n velero -o name
expect_eq "backupstoragelocation.velero.io/default
volumesnapshotlocation.velero.io/default" "$OUT" "short names bsl and vsl work in kubectl get"
k get ssr -n velero
expect_eq "NAME=velero-cli-abcde;STATUS=" "$(row velero-cli-abcde)" "ssr: NAME STATUS"
k get podvolumebackups -n velero
expect_grep '^NAME=shop-full-x7k2p;STATUS=;CREATED=;NAMESPACE=shop;POD=db-0;VOLUME=data;UPLOADER TYPE=kopia;STORAGE LOCATION=default;AGE=[0-9]+[smhd][0-9smh]*$' \
	"$(row shop-full-x7k2p)" "podvolumebackups: Velero's columns"
k get podvolumerestores -n velero
expect_grep '^NAME=shop-full-to-staging-q9w8e;NAMESPACE=shop-staging;POD=db-0;UPLOADER TYPE=kopia;VOLUME=data;STATUS=;TOTALBYTES=;BYTESDONE=;AGE=[0-9]+[smhd][0-9smh]*$' \
	"$(row shop-full-to-staging-q9w8e)" "podvolumerestores: Velero's columns"
k get deletebackuprequests -n velero
expect_eq "NAME=shop-full-r4t5y;BACKUPNAME=shop-full;STATUS=" "$(row shop-full-r4t5y)" \
	"deletebackuprequests: BACKUPNAME STATUS"
k get backuprepositories -n velero
expect_grep '^NAME=shop-default-kopia;AGE=[0-9]+[smhd][0-9smh]*;REPOSITORY TYPE=kopia$' "$(row shop-default-kopia)" \
	"backuprepositories: AGE REPOSITORY TYPE"
k get vsl -n velero
expect_grep '^NAME=default;PROVIDER=aws;AGE=[0-9]+[smhd][0-9smh]*$' "$(row default)" "vsl: PROVIDER AGE"
k get datauploads -n velero
expect_grep '^NAME=shop-full-m3n4b;STATUS=;STARTED=;BYTES DONE=;TOTAL BYTES=;INCREMENTAL BYTES=;STORAGE LOCATION=default;AGE=[0-9]+[smhd][0-9smh]*;NODE=$' \
	"$(row shop-full-m3n4b)" "datauploads: Velero's columns"
k get datadownloads -n velero
expect_grep '^NAME=shop-full-to-staging-z1x2c;STATUS=;STARTED=;BYTES DONE=;TOTAL BYTES=;STORAGE LOCATION=default;AGE=[0-9]+[smhd][0-9smh]*;NODE=$' \
	"$(row shop-full-to-staging-z1x2c)" "datadownloads: Velero's columns"
k get downloadrequests -n velero
expect_grep '^NAME=shop-full-3f2504e0-4f89-11d3-9a0c-0305e82c3301;TARGET KIND=BackupLog;TARGET NAME=shop-full;STATUS=;AGE=[0-9]+[smhd][0-9smh]*$' \
	"$(row shop-full-3f2504e0-4f89-11d3-9a0c-0305e82c3301)" "downloadrequests: TARGET KIND TARGET NAME STATUS AGE"

# ------------------------------------------------------------ status as Velero writes it
# Velero's CRDs have no status subresource: the server writes .status with
# ordinary PATCH/UPDATE of the object, and /status is not served.
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
later=$(date -u -d '+720 hours' +%Y-%m-%dT%H:%M:%SZ)
k patch backup shop-full -n velero --type=merge -p \
	"{\"status\":{\"phase\":\"Completed\",\"errors\":0,\"warnings\":2,\"startTimestamp\":\"$now\",\"completionTimestamp\":\"$now\",\"expiration\":\"$later\",\"formatVersion\":\"1.1.0\",\"version\":1,\"progress\":{\"totalItems\":12,\"itemsBackedUp\":12}}}"
expect_eq "backup.velero.io/shop-full patched" "$OUT" "status written with a merge patch of the Backup"
k get backup shop-full -n velero
expect_grep "^NAME=shop-full;STATUS=Completed;ERRORS=0;WARNINGS=2;CREATED=[0-9]+[smhd][0-9smh]*;EXPIRES=$later;STORAGE LOCATION=default\$" \
	"$(row shop-full)" "get backup: Completed, 0 errors, 2 warnings, created, expires, location"
k patch backup shop-full -n velero --subresource=status --type=merge -p '{"status":{"phase":"Failed"}}'
if [[ $RC != 0 ]] && grep -qiE 'not ?found|could not find' <<<"$ERR"; then
	pass "patch --subresource=status is refused (NotFound): no status subresource, as in Velero"
else
	fail "patch --subresource=status: expected NotFound, got exit $RC"
	show_output
fi
k get backup shop-full -n velero -o jsonpath='{.status.phase}'
expect_eq Completed "$OUT" "the refused status patch changed nothing"
k apply -f "$FIX/docs_backups.yaml"
k get backup shop-full -n velero -o jsonpath='{.status.phase}/{.status.progress.itemsBackedUp}'
expect_eq "Completed/12" "$OUT" "re-applying the manifest (no status in it) keeps the status"
k patch backup shop-full -n velero --type=merge -p '{"spec":{"ttl":"24h0m0s"}}'
k get backup shop-full -n velero -o jsonpath='{.spec.ttl} {.status.phase}'
expect_eq "24h0m0s Completed" "$OUT" "a spec write keeps the status"

k patch bsl default -n velero --type=merge -p \
	"{\"spec\":{\"default\":true},\"status\":{\"phase\":\"Available\",\"lastValidationTime\":\"$now\"}}"
expect_eq "backupstoragelocation.velero.io/default patched" "$OUT" "BSL: phase and default written"
k get bsl -n velero
expect_grep '^NAME=default;PHASE=Available;LAST VALIDATED=[0-9]+[smhd][0-9smh]*;AGE=[0-9]+[smhd][0-9smh]*;DEFAULT=true$' \
	"$(row default)" "get bsl: PHASE Available, LAST VALIDATED, AGE, DEFAULT true"
k patch schedule daily-backup -n velero --type=merge -p \
	"{\"status\":{\"phase\":\"Enabled\",\"lastBackup\":\"$now\"}}"
k get schedule daily-backup -n velero
expect_grep '^NAME=daily-backup;STATUS=Enabled;SCHEDULE=0 2 \* \* \*;LASTBACKUP=[0-9]+[smhd][0-9smh]*;AGE=[0-9]+[smhd][0-9smh]*;PAUSED=$' \
	"$(row daily-backup)" "get schedule: Enabled with LASTBACKUP"
k patch restore shop-full-to-staging -n velero --type=merge -p \
	"{\"status\":{\"phase\":\"PartiallyFailed\",\"errors\":1,\"warnings\":0,\"startTimestamp\":\"$now\",\"completionTimestamp\":\"$now\"}}"
k get restore shop-full-to-staging -n velero
expect_grep '^NAME=shop-full-to-staging;BACKUP=shop-full;STATUS=PartiallyFailed;STARTED=[0-9]+[smhd][0-9smh]*;COMPLETED=[0-9]+[smhd][0-9smh]*;ERRORS=1;WARNINGS=0;AGE=[0-9]+[smhd][0-9smh]*$' \
	"$(row shop-full-to-staging)" "get restore: PartiallyFailed with times and counts"

# what kubectl shows is what the schema check validated: read the objects
# back (with the status written above) and validate them again
k get backups,restores,schedules,backupstoragelocations -n velero -o json
expect_ok "get the objects back as JSON"
printf '%s\n' "$OUT" >"$T/live.json"
py_checks objects "$T/crds.json" "$T/live.json"

# ------------------------------------------------------------ explain (optional)
k explain backups.spec.ttl
if [[ $RC == 0 ]]; then
	expect_grep 'ttl' "$OUT" "kubectl explain backups.spec.ttl"
else
	note "kubectl explain: unavailable here ($(head -n 1 <<<"$ERR")) — kubesim serves no CRD schemas in /openapi/v3"
fi

# ------------------------------------------------------------ uninstall
k delete -k "$CRDS"
expect_ok "kubectl delete -k deploy/crds"
expect_eq 13 "$(grep -c 'deleted' <<<"$OUT" || true)" "13 CRDs deleted"
k api-resources --api-group=velero.io --no-headers
expect_eq "" "$OUT" "no velero.io kind is served after the uninstall"

finish

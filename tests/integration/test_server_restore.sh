#!/usr/bin/env bash
# `stowage server` restores (src/velero/restore_ctl.c) on kubesim with the
# real kubectl and a filesystem BackupStorageLocation.
#
# The backups are written by this test in Velero's layout (velero-spec §2,
# §3) with Python's tarfile, from the objects kubectl reads back from the
# cluster (so they carry real server-set metadata): the restore is tested
# independently of stowage's own backup controller. Then:
#   - the app namespace is deleted with kubectl, a Restore brings the
#     Deployment, ConfigMap, Secret, PVC and Service back, labelled with
#     velero.io/backup-name and velero.io/restore-name, server-set
#     metadata stripped, the Service's clusterIP not carried over, and
#     logs/results/resource list/itemoperations/volumeinfo uploaded under
#     restores/<name>/;
#   - namespaceMapping app1 -> app1-copy; includedResources [configmaps];
#     existingResourcePolicy none (warning) and update (patched back); an
#     existing ServiceAccount merged;
#     scheduleName (the newest Completed backup of the schedule);
#   - hostile tarballs (broken JSON item, "../" entry, symlink entry): the
#     bad entries are reported in the results, the good items restored,
#     nothing written outside, the spill dir cleaned;
#   - PVs: a Retain PV without snapshot restored with its binding reset,
#     a Delete one left to the provisioner (its PVC loses volumeName); a
#     CRD restored before its custom resource, whose status comes back
#     with restoreStatus;
#   - deleting a Restore deletes restores/<name>/ (Velero's finalizer);
#   - a backup made by stowage's own Backup controller, restored;
#   - a missing backup and a spec with both selectors: FailedValidation
#     with Velero's messages; a Restore left InProgress is marked Failed
#     when the server starts;
#   - the server stops cleanly (a sanitizer build reports nothing).
#
# Runs itself under tests/kube/with_kubesim.sh. Skips (exit 0 with a note)
# without kubectl.
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
mkdir -p "$T/home" "$T/loc" "$T/tmp" "$T/objs"
export HOME=$T/home # kubectl's discovery cache, never ~/.kube
LOC=$T/loc

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

# kj NS KIND NAME JSONPATH: one field (empty if absent).
kj()
{
	k get -n "$1" "$2" "$3" -o "jsonpath=$4"
	printf '%s' "$OUT"
}

require_binary

# ---------------------------------------------------------------- setup

k apply -k "$ROOT/deploy/crds"
[[ $RC == 0 ]] || die "installing the CRDs: $ERR"
k create namespace velero
[[ $RC == 0 ]] || die "namespace velero: $ERR"
cat >"$T/bsl.yaml" <<EOF
apiVersion: velero.io/v1
kind: BackupStorageLocation
metadata: {name: default, namespace: velero}
spec:
  provider: filesystem
  default: true
  objectStorage: {bucket: $LOC}
EOF
k apply -f "$T/bsl.yaml"
[[ $RC == 0 ]] || die "BSL: $ERR"

# The application, as a user would apply it.
cat >"$T/app.yaml" <<'EOF'
apiVersion: v1
kind: Namespace
metadata: {name: app1, labels: {team: blue}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: app1, labels: {app: web}}
data: {greeting: hello}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: other, namespace: app1, labels: {app: other}}
data: {x: "1"}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: app1, labels: {app: web}}
type: Opaque
stringData: {password: s3cret}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: builder, namespace: app1}
imagePullSecrets: [{name: reg-a}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: app1, labels: {app: web}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: app1, labels: {app: web}}
spec:
  selector: {app: web}
  clusterIP: 10.96.7.7
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: app1, labels: {app: web}}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx:1.27}]
EOF
k apply -f "$T/app.yaml"
[[ $RC == 0 ]] || die "applying the app: $ERR"

# Read every object back as the API server returns it (uid,
# resourceVersion, managedFields, status...): what a backup holds.
dump()
{
	local gr=$1 ns=$2 kind=$3 name=$4
	k get ${ns:+-n "$ns"} "$kind" "$name" -o json
	[[ $RC == 0 ]] || die "reading $kind $name: $ERR"
	printf '%s\n' "$OUT" >"$T/objs/$gr@${ns:-_}@$name.json"
}
dump namespaces "" namespace app1
dump configmaps app1 configmap cfg
dump configmaps app1 configmap other
dump secrets app1 secret creds
dump persistentvolumeclaims app1 pvc data
dump serviceaccounts app1 serviceaccount builder
dump services app1 service web
dump deployments.apps app1 deployment web
orig_uid=$(kj app1 configmap cfg '{.metadata.uid}')

# mkbackup NAME [hostile]: backups/NAME/{velero-backup.json,NAME.tar.gz}
# from $T/objs (Velero's layout: metadata/version first, each item twice,
# un-versioned and <v>-preferredversion, regular files 0755).
# hostile1: a broken JSON item, then a "../" entry;
# hostile2: a symlink entry.
mkbackup()
{
	"$PY" - "$LOC" "$T/objs" "$1" "${2:-}" "${3:-}" <<'PY'
import io, json, os, sys, tarfile, time
loc, objs, name, hostile, sched = sys.argv[1:6]
d = os.path.join(loc, "backups", name)
os.makedirs(d, exist_ok=True)
now = int(time.time())
def add(tf, path, data, typ=tarfile.REGTYPE, link=""):
    ti = tarfile.TarInfo(path)
    ti.mode = 0o755
    ti.mtime = now
    ti.type = typ
    ti.linkname = link
    ti.size = len(data) if typ == tarfile.REGTYPE else 0
    tf.addfile(ti, io.BytesIO(data) if typ == tarfile.REGTYPE else None)
with tarfile.open(os.path.join(d, name + ".tar.gz"), "w:gz",
                  format=tarfile.USTAR_FORMAT) as tf:
    add(tf, "metadata/version", b"1.1.0\n")
    for f in sorted(os.listdir(objs)):
        gr, ns, item = f[:-5].split("@")
        obj = json.load(open(os.path.join(objs, f)))
        data = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
        ver = obj["apiVersion"].split("/")[-1]
        where = "cluster" if ns == "_" else "namespaces/" + ns
        add(tf, "resources/%s/%s/%s.json" % (gr, where, item), data)
        add(tf, "resources/%s/%s-preferredversion/%s/%s.json"
            % (gr, ver, where, item), data)
    if hostile == "hostile1":
        add(tf, "resources/configmaps/namespaces/hostile/bad.json",
            b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":')
        add(tf, "resources/configmaps/namespaces/../../../escape.json",
            b'{"apiVersion":"v1","kind":"ConfigMap","metadata":'
            b'{"name":"escape","namespace":"hostile"}}')
    elif hostile == "hostile2":
        add(tf, "resources/configmaps/namespaces/hostile/link.json", b"",
            tarfile.SYMTYPE, "/etc/passwd")
backup = {
    "apiVersion": "velero.io/v1", "kind": "Backup",
    "metadata": {"name": name, "namespace": "velero"},
    "spec": {"includedNamespaces": ["*"], "storageLocation": "default",
             "ttl": "720h0m0s"},
    "status": {"phase": "Completed", "version": 1, "formatVersion": "1.1.0",
               "startTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                               time.gmtime(now)),
               "completionTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                    time.gmtime(now))},
}
if sched:
    backup["metadata"]["labels"] = {"velero.io/schedule-name": sched}
with open(os.path.join(d, "velero-backup.json"), "w") as f:
    json.dump(backup, f, indent=2)
with open(os.path.join(d, "cr.json"), "w") as f:
    json.dump(backup, f)
PY
	k apply -f "$LOC/backups/$1/cr.json"
	rm -f "$LOC/backups/$1/cr.json"
	[[ $RC == 0 ]] || die "Backup object $1: $ERR"
}

mkbackup b1 "" nightly
[[ -s $LOC/backups/b1/b1.tar.gz ]] || die "writing backup b1"

# A restore left InProgress by a server that died: Failed at start.
cat >"$T/stale.yaml" <<'EOF'
apiVersion: velero.io/v1
kind: Restore
metadata: {name: stale, namespace: velero}
spec: {backupName: b1}
status: {phase: InProgress}
EOF
k apply -f "$T/stale.yaml"
[[ $RC == 0 ]] || die "stale restore: $ERR"

# ---------------------------------------------------------------- server

TMPDIR=$T/tmp timeout -k 5 300 "$STOWAGE" server -n velero --leader-elect false \
	--store-validation-frequency 5s >"$T/server.log" 2>&1 &
BG_PIDS+=($!)
SERVER_PID=$!

# wait_phase NAME WANT...: until the Restore's phase is one of WANT
# (30 s); sets PHASE.
wait_phase()
{
	local name=$1 w
	shift
	PHASE=
	for _ in $(seq 300); do
		PHASE=$(kj velero restore "$name" '{.status.phase}')
		for w in "$@"; do
			[[ $PHASE == "$w" ]] && return 0
		done
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			echo "server exited; its log:"
			tail -n 30 "$T/server.log"
			return 1
		fi
		sleep 0.1
	done
	return 1
}

# restore NAME SPEC-YAML: create a Restore.
restore()
{
	printf 'apiVersion: velero.io/v1\nkind: Restore\nmetadata: {name: %s, namespace: velero}\nspec:\n%s\n' \
		"$1" "$2" >"$T/r-$1.yaml"
	k apply -f "$T/r-$1.yaml"
	[[ $RC == 0 ]] || fail "creating Restore $1: $ERR"
}

# gz FILE: the decompressed content.
gz() { "$PY" -c 'import gzip,sys; sys.stdout.write(gzip.open(sys.argv[1]).read().decode())' "$1"; }

wait_phase stale Failed || true
expect_eq Failed "$PHASE" "a restore InProgress at server start is marked Failed"
expect_grep 'found a restore with status "InProgress" during the server starting' \
	"$(kj velero restore stale '{.status.failureReason}')" "its failureReason is Velero's"

# ---------------------------------------------------------------- full restore

k delete namespace app1 --wait=true
[[ $RC == 0 ]] || die "deleting app1: $ERR"
k get configmap cfg -n app1
[[ $RC != 0 ]] || die "app1/cfg is still there after deleting the namespace"

restore r1 '  backupName: b1'
wait_phase r1 Completed PartiallyFailed Failed || true
expect_eq Completed "$PHASE" "restore r1 from b1"
if [[ $PHASE != Completed ]]; then
	k get restore -n velero r1 -o yaml
	echo "$OUT" | clip 40
	tail -n 30 "$T/server.log"
fi
for kind in deployment configmap secret pvc service; do
	name=web
	case $kind in configmap) name=cfg ;; secret) name=creds ;; pvc) name=data ;; esac
	expect_eq r1 "$(kj app1 "$kind" "$name" '{.metadata.labels.velero\.io/restore-name}')" \
		"$kind $name is back with velero.io/restore-name"
	expect_eq b1 "$(kj app1 "$kind" "$name" '{.metadata.labels.velero\.io/backup-name}')" \
		"$kind $name carries velero.io/backup-name"
done
expect_eq hello "$(kj app1 configmap cfg '{.data.greeting}')" "configmap data restored"
expect_eq blue "$(kj "" namespace app1 '{.metadata.labels.team}')" \
	"namespace app1 recreated from the backed-up Namespace (labels)"
new_uid=$(kj app1 configmap cfg '{.metadata.uid}')
if [[ -n $new_uid && $new_uid != "$orig_uid" ]]; then
	pass "the restored configmap has a new uid (server-set metadata stripped)"
else
	fail "restored uid: expected a new one, got '$new_uid' (was '$orig_uid')"
fi
expect_eq "" "$(kj app1 service web '{.spec.clusterIP}' | grep -x 10.96.7.7 || true)" \
	"the Service's backed-up clusterIP is not carried over"
expect_eq 1 "$(kj app1 deployment web '{.spec.replicas}')" "deployment spec restored"
expect_eq "" "$(kj velero restore r1 '{.status.errors}' | grep -v '^0$' || true)" "r1 has no errors"
expect_grep '^[0-9]+$' "$(kj velero restore r1 '{.status.progress.itemsRestored}')" \
	"r1 status.progress.itemsRestored"
expect_eq "$(kj velero restore r1 '{.status.progress.totalItems}')" \
	"$(kj velero restore r1 '{.status.progress.itemsRestored}')" "r1 restored every item"
expect_grep 'Z$' "$(kj velero restore r1 '{.status.completionTimestamp}')" "r1 completionTimestamp"
expect_grep 'Z$' "$(kj velero restore r1 '{.status.startTimestamp}')" "r1 startTimestamp"

R1=$LOC/restores/r1
for f in restore-r1-logs.gz restore-r1-results.gz restore-r1-resource-list.json.gz \
	restore-r1-itemoperations.json.gz r1-volumeinfo.json.gz; do
	if [[ -s $R1/$f ]]; then pass "uploaded restores/r1/$f"; else fail "missing restores/r1/$f"; fi
done
if [[ -s $R1/restore-r1-resource-list.json.gz ]]; then
	rl=$(gz "$R1/restore-r1-resource-list.json.gz")
	expect_grep '"v1/ConfigMap":\["app1/cfg\(created\)","app1/other\(created\)"\]' "$rl" \
		"resource list: ConfigMaps created"
	expect_grep '"apps/v1/Deployment":\["app1/web\(created\)"\]' "$rl" "resource list: Deployment"
	expect_grep '"v1/Namespace":\["app1\(created\)"\]' "$rl" "resource list: Namespace"
fi
[[ -s $R1/restore-r1-results.gz ]] && expect_eq '{}' "$(gz "$R1/restore-r1-results.gz" |
	"$PY" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["errors"]))')" "results: no errors"
[[ -s $R1/restore-r1-logs.gz ]] && expect_grep 'restored.*configmaps/app1/cfg' \
	"$(gz "$R1/restore-r1-logs.gz")" "restore log names the items"
[[ -s $R1/restore-r1-logs.gz ]] && expect_eq \
	"namespaces persistentvolumeclaims serviceaccounts secrets configmaps services deployments.apps" \
	"$(gz "$R1/restore-r1-logs.gz" | sed -n 's/.*msg="restoring resource".* resource=\([^ ]*\).*/\1/p' | xargs)" \
	"r1 restored the resources in Velero's priority order"
[[ -s $R1/r1-volumeinfo.json.gz ]] && expect_eq '[]' "$(gz "$R1/r1-volumeinfo.json.gz" | tr -d '\n')" \
	"volumeinfo is []"

# ---------------------------------------------------------------- mapping, filters

restore r2 '  backupName: b1
  namespaceMapping: {app1: app1-copy}'
wait_phase r2 Completed PartiallyFailed Failed || true
expect_eq Completed "$PHASE" "restore r2 with namespaceMapping app1 -> app1-copy"
expect_eq hello "$(kj app1-copy configmap cfg '{.data.greeting}')" "configmap in app1-copy"
expect_eq r2 "$(kj app1-copy deployment web '{.metadata.labels.velero\.io/restore-name}')" \
	"deployment in app1-copy"
expect_eq app1-copy "$(kj app1-copy pvc data '{.metadata.namespace}')" "pvc in app1-copy"
expect_eq blue "$(kj "" namespace app1-copy '{.metadata.labels.team}')" \
	"app1-copy created from app1's Namespace"

restore r3 '  backupName: b1
  includedResources: [configmaps]
  namespaceMapping: {app1: app1-cm}'
wait_phase r3 Completed PartiallyFailed Failed || true
expect_eq Completed "$PHASE" "restore r3 with includedResources [configmaps]"
k get configmaps -n app1-cm -o name
expect_grep 'configmap/cfg' "$OUT" "r3: configmap cfg restored"
k get deployments,secrets,pvc,services -n app1-cm -o name
expect_eq "" "$OUT" "r3: nothing but configmaps in app1-cm"

restore r4 '  backupName: b1
  labelSelector: {matchLabels: {app: other}}
  namespaceMapping: {app1: app1-sel}'
wait_phase r4 Completed PartiallyFailed Failed || true
expect_eq Completed "$PHASE" "restore r4 with a labelSelector"
k get configmaps,deployments -n app1-sel -o name
expect_eq "configmap/other" "$OUT" "r4: only the selected configmap"

# ---------------------------------------------------------------- existing resources

k patch configmap cfg -n app1 --type merge -p '{"data":{"greeting":"changed"}}'
k patch serviceaccount builder -n app1 --type merge -p '{"imagePullSecrets":[{"name":"reg-b"}]}'
restore r5 '  backupName: b1
  includedResources: [configmaps, serviceaccounts]
  includedNamespaces: [app1]'
wait_phase r5 Completed PartiallyFailed Failed || true
expect_eq Completed "$PHASE" "restore r5 over existing objects (policy none)"
expect_eq "reg-b reg-a" "$(kj app1 serviceaccount builder '{.imagePullSecrets[*].name}')" \
	"an existing ServiceAccount is merged (imagePullSecrets of both)"
[[ -s $LOC/restores/r5/restore-r5-resource-list.json.gz ]] && expect_grep 'app1/builder\(updated\)' \
	"$(gz "$LOC/restores/r5/restore-r5-resource-list.json.gz")" "r5 lists the ServiceAccount as updated"
expect_eq changed "$(kj app1 configmap cfg '{.data.greeting}')" "policy none leaves the existing object"
expect_grep '^[1-9]' "$(kj velero restore r5 '{.status.warnings}')" "policy none: a warning"
[[ -s $LOC/restores/r5/restore-r5-results.gz ]] && expect_grep \
	'could not restore, ConfigMap \\"cfg\\" already exists. Warning: the in-cluster version is different than the backed-up version' \
	"$(gz "$LOC/restores/r5/restore-r5-results.gz")" "the warning is Velero's, under namespace app1"
[[ -s $LOC/restores/r5/restore-r5-resource-list.json.gz ]] && expect_grep 'app1/cfg\(skipped\)' \
	"$(gz "$LOC/restores/r5/restore-r5-resource-list.json.gz")" "r5 lists cfg as skipped"

restore r6 '  backupName: b1
  includedResources: [configmaps]
  includedNamespaces: [app1]
  existingResourcePolicy: update'
wait_phase r6 Completed PartiallyFailed Failed || true
expect_eq Completed "$PHASE" "restore r6 (policy update)"
expect_eq hello "$(kj app1 configmap cfg '{.data.greeting}')" "policy update patched cfg back"
[[ -s $LOC/restores/r6/restore-r6-resource-list.json.gz ]] && expect_grep 'app1/cfg\(updated\)' \
	"$(gz "$LOC/restores/r6/restore-r6-resource-list.json.gz")" "r6 lists cfg as updated"

# ---------------------------------------------------------------- schedule

k delete namespace app1 --wait=true
restore r7 '  scheduleName: nightly
  includedResources: [configmaps]'
wait_phase r7 Completed PartiallyFailed Failed || true
expect_eq Completed "$PHASE" "restore r7 from scheduleName nightly"
expect_eq b1 "$(kj velero restore r7 '{.spec.backupName}')" "r7 names the schedule's backup"
expect_eq hello "$(kj app1 configmap cfg '{.data.greeting}')" "r7 restored cfg"

# ---------------------------------------------------------------- hostile

# Good items: a configmap in namespace "hostile".
rm -f "$T"/objs/*
cat >"$T/objs/configmaps@hostile@good.json" <<'EOF'
{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"good","namespace":"hostile","uid":"x","resourceVersion":"1"},"data":{"ok":"yes"}}
EOF
mkbackup evil1 hostile1
mkbackup evil2 hostile2
restore r8 '  backupName: evil1'
wait_phase r8 Completed PartiallyFailed Failed || true
expect_eq PartiallyFailed "$PHASE" "restore of a tarball with a broken item and a ../ entry"
expect_eq yes "$(kj hostile configmap good '{.data.ok}')" "its good item is restored"
expect_grep '^[2-9]' "$(kj velero restore r8 '{.status.errors}')" "r8 counts both errors"
if [[ -s $LOC/restores/r8/restore-r8-results.gz ]]; then
	res=$(gz "$LOC/restores/r8/restore-r8-results.gz")
	expect_grep 'bad\.json' "$res" "results name the broken item"
	expect_grep 'escape\.json' "$res" "results name the ../ entry"
fi
restore r9 '  backupName: evil2
  namespaceMapping: {hostile: hostile2}'
wait_phase r9 Completed PartiallyFailed Failed || true
expect_eq PartiallyFailed "$PHASE" "restore of a tarball with a symlink entry"
expect_eq yes "$(kj hostile2 configmap good '{.data.ok}')" "its good item is restored"
[[ -s $LOC/restores/r9/restore-r9-results.gz ]] && expect_grep 'link\.json' \
	"$(gz "$LOC/restores/r9/restore-r9-results.gz")" "results name the symlink entry"
expect_eq "" "$(find "$T" / -xdev -maxdepth 1 -name escape.json 2>/dev/null; find "$T" -name escape.json)" \
	"nothing was written outside"
expect_eq "" "$(ls -A "$T/tmp")" "the restores' spill dirs are removed"

# ---------------------------------------------------------------- validation

restore r10 '  backupName: nope'
wait_phase r10 FailedValidation Completed Failed || true
expect_eq FailedValidation "$PHASE" "restore of a missing backup"
expect_grep 'Error retrieving backup: backups.velero.io \\?"nope\\?" not found' \
	"$(kj velero restore r10 '{.status.validationErrors}')" "its validation message"
# A backup whose location is Unavailable (its directory does not exist).
cat >"$T/broken.yaml" <<EOF2
apiVersion: velero.io/v1
kind: BackupStorageLocation
metadata: {name: broken, namespace: velero}
spec:
  provider: filesystem
  objectStorage: {bucket: $T/no-such-dir}
---
apiVersion: velero.io/v1
kind: Backup
metadata: {name: b-broken, namespace: velero}
spec: {storageLocation: broken}
status: {phase: Completed}
EOF2
k apply -f "$T/broken.yaml"
[[ $RC == 0 ]] || fail "BSL broken: $ERR"
for _ in $(seq 100); do
	[[ $(kj velero bsl broken '{.status.phase}') == Unavailable ]] && break
	sleep 0.1
done
restore r14 '  backupName: b-broken'
wait_phase r14 FailedValidation Completed Failed || true
expect_eq FailedValidation "$PHASE" "restore from an Unavailable location"
expect_grep 'the BSL broken is unavailable, cannot retrieve the backup' \
	"$(kj velero restore r14 '{.status.validationErrors}')" "its validation message"
restore r11 '  backupName: b1
  scheduleName: nightly
  labelSelector: {matchLabels: {a: b}}
  orLabelSelectors: [{matchLabels: {c: d}}]
  includedResources: [nodes]'
wait_phase r11 FailedValidation Completed Failed || true
expect_eq FailedValidation "$PHASE" "an invalid spec"
ve=$(kj velero restore r11 '{.status.validationErrors}')
expect_grep 'Either a backup or schedule must be specified' "$ve" "backup XOR schedule"
expect_grep 'only one can be specified' "$ve" "selectors"
expect_grep 'nodes are non-restorable resources' "$ve" "non-restorable resources"

# ---------------------------------------------------------------- PVs, CRDs

# app3: a static PV (Retain) pre-bound to PVC "static", a dynamically
# provisioned one (Delete, no snapshot) behind PVC "dyn", and a custom
# resource with a status whose CRD is in the backup too.
cat >"$T/app3.yaml" <<'EOF2'
apiVersion: v1
kind: Namespace
metadata: {name: app3}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-keep}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  hostPath: {path: /tmp/pv-keep}
  claimRef: {namespace: app3, name: static}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: static, namespace: app3}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: ""
  volumeName: pv-keep
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: dyn, namespace: app3}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
EOF2
k apply -f "$T/app3.yaml"
[[ $RC == 0 ]] || fail "applying app3: $ERR"
for _ in $(seq 100); do
	k get widgets.example.com -n app3
	[[ $RC == 0 ]] && break
	sleep 0.1
done
cat >"$T/w1.yaml" <<'EOF2'
apiVersion: example.com/v1
kind: Widget
metadata: {name: w1, namespace: app3}
spec: {size: 3}
EOF2
k apply -f "$T/w1.yaml"
[[ $RC == 0 ]] || fail "creating widget w1: $ERR"
k patch widgets.example.com w1 -n app3 --subresource=status --type merge -p '{"status":{"ready":true}}'
[[ $RC == 0 ]] || fail "widget status: $ERR"
dynpv=
for _ in $(seq 100); do
	dynpv=$(kj app3 pvc dyn '{.spec.volumeName}')
	[[ -n $dynpv && $(kj app3 pvc static '{.status.phase}') == Bound ]] && break
	sleep 0.1
done
[[ -n $dynpv ]] || fail "pvc app3/dyn was not provisioned"
rm -f "$T"/objs/*
dump namespaces "" namespace app3
dump persistentvolumes "" pv pv-keep
dump persistentvolumes "" pv "$dynpv"
dump persistentvolumeclaims app3 pvc static
dump persistentvolumeclaims app3 pvc dyn
dump customresourcedefinitions.apiextensions.k8s.io "" crd widgets.example.com
dump widgets.example.com app3 widgets.example.com w1
printf '%s' "$(kj "" pv pv-keep '{.spec.claimRef.uid}')" >"$T/static-uid"
mkbackup b3
# The disaster: the namespace, the retained PV and the CRD are gone.
k delete namespace app3 --wait=true
k delete pv pv-keep --wait=true
k delete crd widgets.example.com --wait=true
k get pv "$dynpv"
expect_rc_in "1" "the dynamic PV went with its claim (reclaim policy Delete)"

restore r13 '  backupName: b3
  restoreStatus: {includedResources: [widgets.example.com]}'
wait_phase r13 Completed PartiallyFailed Failed || true
expect_eq Completed "$PHASE" "restore r13: PVs, PVCs, a CRD and its custom resource"
if [[ $PHASE != Completed && -s $LOC/restores/r13/restore-r13-results.gz ]]; then
	gz "$LOC/restores/r13/restore-r13-results.gz"
fi
expect_eq r13 "$(kj "" pv pv-keep '{.metadata.labels.velero\.io/restore-name}')" \
	"the Retain PV without snapshot is restored as-is"
expect_eq app3 "$(kj "" pv pv-keep '{.spec.claimRef.namespace}')" "its claimRef names app3"
if [[ $(kj "" pv pv-keep '{.spec.claimRef.uid}') != "$(cat "$T/static-uid")" ]]; then
	pass "its binding was reset (claimRef.uid is not the old claim's)"
else
	fail "pv-keep still carries the old claim uid"
fi
expect_eq pv-keep "$(kj app3 pvc static '{.spec.volumeName}')" "PVC static keeps volumeName pv-keep"
k get pv "$dynpv"
expect_rc_in "1" "the Delete PV without snapshot is not restored"
newpv=
for _ in $(seq 50); do
	newpv=$(kj app3 pvc dyn '{.spec.volumeName}')
	[[ -n $newpv ]] && break
	sleep 0.1
done
if [[ $newpv != "$dynpv" ]]; then
	pass "PVC dyn lost its old volumeName and is provisioned anew ('$newpv')"
else
	fail "PVC dyn still names the old PV $dynpv"
fi
expect_eq 3 "$(kj app3 widgets.example.com w1 '{.spec.size}')" "the CR is restored after its CRD"
expect_eq true "$(kj app3 widgets.example.com w1 '{.status.ready}')" "restoreStatus: its status too"
[[ -s $LOC/restores/r13/restore-r13-logs.gz ]] && expect_eq \
	"customresourcedefinitions.apiextensions.k8s.io namespaces persistentvolumes persistentvolumeclaims widgets.example.com" \
	"$(gz "$LOC/restores/r13/restore-r13-logs.gz" | sed -n 's/.*msg="restoring resource".* resource=\([^ ]*\).*/\1/p' | xargs)" \
	"r13: CRDs first, then namespaces, PVs, PVCs, then the custom resources"
if [[ -s $LOC/restores/r13/restore-r13-resource-list.json.gz ]]; then
	rl=$(gz "$LOC/restores/r13/restore-r13-resource-list.json.gz")
	expect_grep '"apiextensions.k8s.io/v1/CustomResourceDefinition":\["widgets.example.com\(created\)"\]' \
		"$rl" "resource list: the CRD"
	expect_grep '"example.com/v1/Widget":\["app3/w1\(created\)"\]' "$rl" "resource list: the CR"
fi

# ---------------------------------------------------------------- deletion

expect_grep 'restores.velero.io/external-resources-finalizer' \
	"$(kj velero restore r1 '{.metadata.finalizers}')" "r1 carries Velero's finalizer"
k delete restore r1 -n velero --wait=true --timeout=20s
expect_rc_in 0 "deleting Restore r1"
k get restore r1 -n velero
expect_rc_in 1 "Restore r1 is gone"
expect_eq "" "$(find "$LOC/restores/r1" -type f 2>/dev/null)" \
	"its objects under restores/r1/ went with it"
if [[ -s $LOC/restores/r2/restore-r2-results.gz ]]; then
	pass "other restores' objects stay"
else
	fail "restores/r2 lost its objects"
fi
k delete restore r10 -n velero --wait=true --timeout=20s
expect_rc_in 0 "a Restore that failed validation (no finalizer) deletes at once"

# ---------------------------------------------------------------- round trip

# A backup made by stowage's own Backup controller (backup_ctl.c) of a
# namespace, restored after the namespace is deleted.
cat >"$T/app2.yaml" <<'EOF2'
apiVersion: v1
kind: Namespace
metadata: {name: app2}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: app2}
data: {mode: round-trip}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: app2, labels: {app: api}}
spec:
  replicas: 2
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: api, image: busybox:1.36}]
---
apiVersion: velero.io/v1
kind: Backup
metadata: {name: own, namespace: velero}
spec: {includedNamespaces: [app2]}
EOF2
k apply -f "$T/app2.yaml"
[[ $RC == 0 ]] || fail "applying app2 and Backup own: $ERR"
bphase=
for _ in $(seq 300); do
	bphase=$(kj velero backup own '{.status.phase}')
	[[ $bphase == Completed || $bphase == PartiallyFailed || $bphase == Failed ||
		$bphase == FailedValidation ]] && break
	sleep 0.1
done
expect_eq Completed "$bphase" "stowage's backup controller backed up app2"
if [[ $bphase == Completed ]]; then
	k delete namespace app2 --wait=true
	restore r12 '  backupName: own'
	wait_phase r12 Completed PartiallyFailed Failed || true
	expect_eq Completed "$PHASE" "restore r12 of stowage's own backup"
	expect_eq round-trip "$(kj app2 configmap settings '{.data.mode}')" "app2/settings is back"
	expect_eq 2 "$(kj app2 deployment api '{.spec.replicas}')" "app2/api is back"
	expect_eq r12 "$(kj app2 deployment api '{.metadata.labels.velero\.io/restore-name}')" \
		"app2/api carries the restore label"
fi

if ! kill -0 "$SERVER_PID" 2>/dev/null; then
	fail "the server died; its log:"
	tail -n 30 "$T/server.log"
fi
# A clean stop, so a sanitizer build reports leaks and errors in its log.
kill -TERM "$SERVER_PID" 2>/dev/null || true
for _ in $(seq 300); do
	kill -0 "$SERVER_PID" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$SERVER_PID" 2>/dev/null; then
	note "the server did not stop within 30 s of SIGTERM (a leak report cannot be read)"
fi
if grep -Eq 'Sanitizer|runtime error' "$T/server.log"; then
	fail "sanitizer reports in the server log:"
	grep -E 'Sanitizer|runtime error' -A12 "$T/server.log" | clip 60
else
	pass "no sanitizer reports in the server log"
fi
finish

#!/usr/bin/env bash
# `stowage server` backs up a cluster as Velero does, checked from outside.
#
# On kubesim with the real kubectl: the velero.io CRDs, namespace velero, a
# filesystem BackupStorageLocation `default` at a temp dir, the server in
# the background (no leader election). Workloads in two namespaces (a
# Deployment, a ConfigMap, a Secret, a StatefulSet with a
# volumeClaimTemplate, a labelled pod, objects labelled
# velero.io/exclude-from-backup=true). Backups created with kubectl as
# Velero's docs write them: everything; includedNamespaces; includedResources;
# a labelSelector; invalid ones (FailedValidation with Velero's messages).
# Each finished backup is checked in the location with python3's gzip,
# tarfile and json only (and velero_layout_check.py): the tarball's
# metadata/version, item paths and their -preferredversion twins, no
# excluded object, the StatefulSet's PVCs with their PVs, the resource list
# equal to the tarball, velero-backup.json Completed, status.progress.
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
require_binary

ROOT=$(cd "$TESTS_DIR/.." && pwd)
LOC=$T/location
mkdir -p "$T/home" "$LOC"
export HOME=$T/home # kubectl's discovery cache, never ~/.kube

# k ARGS...: kubectl with a timeout; sets RC, OUT, ERR
k()
{
	set +e
	timeout -k 5 60 kubectl --request-timeout=20s "$@" </dev/null >"$T/.out" 2>"$T/.err"
	RC=$?
	set -e
	OUT=$(cat "$T/.out")
	# shellcheck disable=SC2034 # kept for symmetry with lib.sh's sw
	ERR=$(cat "$T/.err")
	return 0
}

# apply YAML-TEXT: kubectl apply -f - ; dies on failure
apply()
{
	set +e
	printf '%s\n' "$1" | timeout -k 5 60 kubectl --request-timeout=20s apply -f - >"$T/.out" 2>"$T/.err"
	RC=$?
	set -e
	[[ $RC == 0 ]] || { show_output; die "kubectl apply: $(head -c 300 "$T/.err")"; }
}

# jp BACKUP JSONPATH: a field of a Backup
jp()
{
	k -n velero get backup "$1" -o "jsonpath=$2"
	printf '%s' "$OUT"
}

# wait_phase BACKUP PHASE...: until the Backup reaches one of the phases
# or a final one (60 s); prints the phase reached
wait_phase()
{
	local b=$1 p
	shift
	for _ in $(seq 300); do
		p=$(jp "$b" '{.status.phase}')
		[[ -n $p ]] || { sleep 0.2; continue; }
		case " $* Completed PartiallyFailed Failed FailedValidation " in
		*" $p "*) printf '%s' "$p"; return 0 ;;
		esac
		sleep 0.2
	done
	printf '%s' "$p"
}

START=$(date +%s)

# ---------------------------------------------------------------- setup
k apply -k "$ROOT/deploy/crds"
[[ $RC == 0 ]] || { show_output; die "kubectl apply -k deploy/crds"; }
k wait --for condition=established --timeout=20s crd -l component=velero
k create namespace velero
[[ $RC == 0 ]] || die "create namespace velero"
apply "apiVersion: velero.io/v1
kind: BackupStorageLocation
metadata:
  name: default
  namespace: velero
spec:
  provider: filesystem
  default: true
  objectStorage:
    bucket: $LOC"
apply "apiVersion: velero.io/v1
kind: BackupStorageLocation
metadata:
  name: readonly
  namespace: velero
spec:
  provider: filesystem
  accessMode: ReadOnly
  objectStorage:
    bucket: $T/ro-location"

# Workloads: app1 and app2, plus one namespace labelled out of backups.
apply "apiVersion: v1
kind: Namespace
metadata:
  name: app1
---
apiVersion: v1
kind: Namespace
metadata:
  name: app2
---
apiVersion: v1
kind: Namespace
metadata:
  name: secret-ns
  labels:
    velero.io/exclude-from-backup: \"true\"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: app1
  labels:
    app: web
data:
  color: blue
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: scratch
  namespace: app1
  labels:
    velero.io/exclude-from-backup: \"true\"
data:
  tmp: \"1\"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: hidden
  namespace: secret-ns
data:
  k: v
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
  namespace: app1
type: Opaque
stringData:
  password: hunter2
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: app1
  labels:
    app: web
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:1.27
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
  namespace: app2
spec:
  serviceName: db
  replicas: 2
  selector:
    matchLabels:
      app: db
  template:
    metadata:
      labels:
        app: db
    spec:
      containers:
      - name: db
        image: postgres:16
        volumeMounts:
        - name: data
          mountPath: /var/lib/postgresql/data
  volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests:
          storage: 1Gi
---
apiVersion: v1
kind: Pod
metadata:
  name: tools
  namespace: app2
  labels:
    app: tools
    tier: ops
spec:
  priorityClassName: ops-critical
  containers:
  - name: sh
    image: busybox:1.36
    command: [sleep, \"3600\"]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: tools-config
  namespace: app2
  labels:
    app: tools
data:
  a: b"

# Related items: a ServiceAccount named by a ClusterRoleBinding, a pod with
# a PriorityClass, a custom resource whose CRD comes along.
apply "apiVersion: v1
kind: ServiceAccount
metadata:
  name: deployer
  namespace: app1
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: deployer-role
rules:
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: deployer-binding
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: deployer-role
subjects:
- kind: ServiceAccount
  name: deployer
  namespace: app1
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata:
  name: ops-critical
value: 1000
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names:
    plural: widgets
    singular: widget
    kind: Widget
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true"
k wait --for condition=established --timeout=20s crd widgets.example.com
apply "apiVersion: example.com/v1
kind: Widget
metadata:
  name: gear
  namespace: app1
spec:
  teeth: 12"

# An object being deleted (held by a finalizer): never backed up.
apply "apiVersion: v1
kind: ConfigMap
metadata:
  name: dying
  namespace: app1
  finalizers: [example.com/hold]
data:
  a: b"
k -n app1 delete configmap dying --wait=false
k -n app1 get configmap dying -o 'jsonpath={.metadata.deletionTimestamp}'
[[ -n $OUT ]] || die "configmap app1/dying has no deletionTimestamp after the delete"

# The StatefulSet's claims are bound before any backup starts.
for _ in $(seq 150); do
	k -n app2 get pvc -o 'jsonpath={range .items[*]}{.status.phase}{" "}{end}'
	[[ $OUT == "Bound Bound " ]] && break
	sleep 0.2
done
expect_eq "Bound Bound " "$OUT" "the StatefulSet's two PVCs are Bound"
k -n app2 get pvc data-db-0 -o 'jsonpath={.spec.volumeName}'
PV0=$OUT
[[ -n $PV0 ]] || die "PVC data-db-0 has no volumeName"

# The server, in the background.
"$STOWAGE" server -n velero --leader-elect false --log-level debug \
	--backup-sync-period 1h \
	>"$T/server.out" 2>"$T/server.log" &
SERVER=$!
BG_PIDS+=("$SERVER")

# ---------------------------------------------------------------- backups
# Every state the Backups go through, for the progress checks.
timeout -k 5 200 kubectl -n velero get backups -w -o json >"$T/watch.json" 2>/dev/null &
WATCH=$!
BG_PIDS+=("$WATCH")
sleep 0.5
apply "apiVersion: velero.io/v1
kind: Backup
metadata:
  name: full
  namespace: velero
spec: {}
---
apiVersion: velero.io/v1
kind: Backup
metadata:
  name: only-app1
  namespace: velero
spec:
  includedNamespaces:
  - app1
  ttl: 24h0m0s
---
apiVersion: velero.io/v1
kind: Backup
metadata:
  name: only-cm
  namespace: velero
spec:
  includedResources:
  - configmaps
---
apiVersion: velero.io/v1
kind: Backup
metadata:
  name: tools-only
  namespace: velero
spec:
  labelSelector:
    matchLabels:
      app: tools
---
apiVersion: velero.io/v1
kind: Backup
metadata:
  name: either
  namespace: velero
spec:
  includedNamespaces: ['app*']
  orLabelSelectors:
  - matchLabels:
      app: web
  - matchLabels:
      tier: ops
---
apiVersion: velero.io/v1
kind: Backup
metadata:
  name: ordered
  namespace: velero
spec:
  includedResources: [configmaps]
  orderedResources:
    configmaps: app2/tools-config,app1/nosuch,app1/scratch,app1/settings
---
apiVersion: velero.io/v1
kind: Backup
metadata:
  name: bad-ns
  namespace: velero
spec:
  includedNamespaces: [app1, app2]
  excludedNamespaces: [app2]
---
apiVersion: velero.io/v1
kind: Backup
metadata:
  name: bad-mixed
  namespace: velero
spec:
  includedResources: [pods]
  excludedClusterScopedResources: [nodes]
  labelSelector:
    matchLabels: {a: b}
  orLabelSelectors:
  - matchLabels: {c: d}
---
apiVersion: velero.io/v1
kind: Backup
metadata:
  name: bad-ttl
  namespace: velero
spec:
  ttl: forever
---
apiVersion: velero.io/v1
kind: Backup
metadata:
  name: bad-location
  namespace: velero
spec:
  storageLocation: nowhere
---
apiVersion: velero.io/v1
kind: Backup
metadata:
  name: to-readonly
  namespace: velero
spec:
  storageLocation: readonly"

for b in full only-app1 only-cm tools-only either ordered; do
	expect_eq Completed "$(wait_phase "$b")" "backup $b: phase"
done
for b in bad-ns bad-mixed bad-ttl bad-location to-readonly; do
	expect_eq FailedValidation "$(wait_phase "$b")" "backup $b: phase"
done

# ------------------------------------------------------------ progress
kill "$WATCH" 2>/dev/null || true
wait "$WATCH" 2>/dev/null || true
if out=$("$PY" - "$T/watch.json" <<'EOF'
import datetime, json, sys
text = open(sys.argv[1]).read()
dec, i, seen = json.JSONDecoder(), 0, []
while True:
    while i < len(text) and text[i].isspace():
        i += 1
    if i >= len(text):
        break
    o, i = dec.raw_decode(text, i)
    if o.get("metadata", {}).get("name") == "full":
        seen.append(o.get("status", {}))
mid = [(s["progress"].get("itemsBackedUp", 0), s["progress"].get("totalItems", 0))
       for s in seen if s.get("phase") == "InProgress" and s.get("progress")]
mid = [m for m in mid if m[0] > 0]
final = [s for s in seen if s.get("phase") == "Completed"]
if not final:
    print("FAIL: the watch never saw full Completed"); sys.exit(1)
f = lambda t: datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%SZ")
secs = (f(final[-1]["completionTimestamp"]) - f(final[-1]["startTimestamp"])).total_seconds()
if any(d > t for d, t in mid):
    print("FAIL: itemsBackedUp above totalItems in %r" % mid); sys.exit(1)
if len(mid) > secs + 2:
    print("FAIL: %d progress updates in %d s (at most one a second)" % (len(mid), secs)); sys.exit(1)
if secs >= 3 and not mid:
    print("FAIL: no progress update during a %d s backup" % secs); sys.exit(1)
print("%d progress updates during %d s, last %r" % (len(mid), secs, mid[-1] if mid else None))
EOF
); then
	pass "full: status.progress patched while running, at most once a second ($out)"
else
	fail "full: progress: $out"
fi

# ------------------------------------------------------------ validation
ve()
{
	jp "$1" '{range .status.validationErrors[*]}{@}{"\n"}{end}'
}
expect_grep "^Invalid included/excluded namespace lists: excludes list cannot contain an item in the includes list: app2$" \
	"$(ve bad-ns)" "bad-ns: Velero's message for a namespace in both lists"
expect_grep "They cannot be used together" "$(ve bad-mixed)" \
	"bad-mixed: old and new resource filters refused"
expect_grep "^encountered labelSelector as well as orLabelSelectors in backup spec, only one can be specified$" \
	"$(ve bad-mixed)" "bad-mixed: labelSelector with orLabelSelectors refused"
expect_grep "^Invalid ttl forever: " "$(ve bad-ttl)" "bad-ttl: a ttl that is no Go duration"
expect_eq forever "$(jp bad-ttl '{.spec.ttl}')" "bad-ttl: the spec is left as written"
# As Velero's prepareBackupRequest: defaults and expiration also on a
# backup that failed validation (GC removes it at expiry), no start time.
expect_grep '^20[0-9-]+T[0-9:]+Z$' "$(jp bad-ns '{.status.expiration}')" "bad-ns: expiration set"
expect_eq "" "$(jp bad-ns '{.status.startTimestamp}')" "bad-ns: no startTimestamp"
expect_eq "default" "$(jp bad-ns '{.metadata.labels.velero\.io/storage-location}')" "bad-ns: storage-location label"
expect_grep "the default 'nowhere' wasn't found" "$(ve bad-location)" \
	"bad-location: unknown storage location"
expect_grep "^backup can't be created because backup storage location readonly is currently in read-only mode$" \
	"$(ve to-readonly)" "to-readonly: Velero's read-only message"
# A location its controller found Unavailable (here: foreign data at its
# top level) fails a backup at once, with Velero's message.
mkdir -p "$T/broken-location/junk"
echo x >"$T/broken-location/junk/x"
apply "apiVersion: velero.io/v1
kind: BackupStorageLocation
metadata:
  name: broken
  namespace: velero
spec:
  provider: filesystem
  objectStorage:
    bucket: $T/broken-location"
for _ in $(seq 150); do
	k -n velero get bsl broken -o 'jsonpath={.status.phase}'
	[[ $OUT == Unavailable ]] && break
	sleep 0.2
done
expect_eq Unavailable "$OUT" "broken: the location with foreign data is Unavailable"
apply "apiVersion: velero.io/v1
kind: Backup
metadata:
  name: to-unavailable
  namespace: velero
spec:
  storageLocation: broken"
expect_eq FailedValidation "$(wait_phase to-unavailable)" "to-unavailable: phase"
expect_eq "backup can't be created because BackupStorageLocation broken is in Unavailable status." \
	"$(ve to-unavailable)" "to-unavailable: Velero's unavailable-location message"
if [[ ! -e $LOC/backups/bad-ns ]]; then
	pass "nothing written for a backup that failed validation"
else
	fail "backups/bad-ns exists in the location"
fi

# ------------------------------------------------------------ status
expect_eq "1.1.0" "$(jp full '{.status.formatVersion}')" "full: status.formatVersion"
expect_eq "1" "$(jp full '{.status.version}')" "full: status.version"
expect_eq "default" "$(jp full '{.metadata.labels.velero\.io/storage-location}')" \
	"full: label velero.io/storage-location (default BSL picked)"
expect_eq "default" "$(jp full '{.spec.storageLocation}')" "full: spec.storageLocation filled in"
expect_eq "720h0m0s" "$(jp full '{.spec.ttl}')" "full: default TTL"
expect_grep '^20[0-9-]+T[0-9:]+Z$' "$(jp full '{.status.startTimestamp}')" "full: startTimestamp"
expect_grep '^20[0-9-]+T[0-9:]+Z$' "$(jp full '{.status.completionTimestamp}')" "full: completionTimestamp"
expect_eq "0" "$(jp full '{.status.errors}')" "full: no errors"
if "$PY" - "$(jp only-app1 '{.status.startTimestamp}')" "$(jp only-app1 '{.status.expiration}')" <<'EOF'; then
import sys, datetime
f = lambda s: datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ")
d = (f(sys.argv[2]) - f(sys.argv[1])).total_seconds()
sys.exit(0 if abs(d - 86400) <= 2 else 1)
EOF
	pass "only-app1: expiration = start + 24h"
else
	fail "only-app1: expiration is not start + 24h"
fi

# ------------------------------------------------------------ the location
# check BACKUP: independent checks; prints "ok: ..." / "FAIL: ..." lines
check()
{
	local b=$1 total backed
	shift
	total=$(jp "$b" '{.status.progress.totalItems}')
	backed=$(jp "$b" '{.status.progress.itemsBackedUp}')
	"$PY" - "$LOC" "$b" "$total" "$backed" "$@" <<'EOF'
import gzip, json, os, sys, tarfile
loc, name, total, done = sys.argv[1:5]
want = sys.argv[5:]
d = os.path.join(loc, "backups", name)
def ok(c, msg):
    print(("ok: " if c else "FAIL: ") + name + ": " + msg)
meta = json.load(open(os.path.join(d, "velero-backup.json")))
ok(meta.get("kind") == "Backup" and meta.get("apiVersion") == "velero.io/v1", "velero-backup.json is a velero.io/v1 Backup")
ok(meta.get("status", {}).get("phase") == "Completed", "velero-backup.json phase Completed (got %r)" % meta.get("status", {}).get("phase"))
names = []
content = {}
with tarfile.open(os.path.join(d, name + ".tar.gz"), "r:gz") as t:
    for m in t.getmembers():
        names.append(m.name)
        content[m.name] = t.extractfile(m).read() if m.isfile() else None
ok(names and names[0] == "metadata/version" and content["metadata/version"] == b"1.1.0\n", "metadata/version first, 1.1.0")
items = [n for n in names if n.startswith("resources/") and "/v1-preferredversion/" not in n and "-preferredversion/" not in n]
twins = [n for n in names if "-preferredversion/" in n]
ok(len(items) == len(twins), "every item has a -preferredversion twin (%d items, %d twins)" % (len(items), len(twins)))
for n in items:
    gr, rest = n[len("resources/"):].split("/", 1)
    ver = json.loads(content[n])["apiVersion"].split("/")[-1]
    twin = "resources/%s/%s-preferredversion/%s" % (gr, ver, rest)
    if content.get(twin) != content[n]:
        ok(False, "twin of %s missing or different" % n)
rl = json.loads(gzip.open(os.path.join(d, name + "-resource-list.json.gz")).read())
listed = sorted(sum(([k + "|" + v for v in vs] for k, vs in rl.items()), []))
from_tar = []
for n in items:
    o = json.loads(content[n])
    md = o["metadata"]
    from_tar.append(o["apiVersion"] + "/" + o["kind"] + "|" + ((md["namespace"] + "/") if md.get("namespace") else "") + md["name"])
ok(listed == sorted(from_tar), "resource list equals the tarball's items (%d)" % len(listed))
ok(int(total or -1) == len(items) and int(done or -1) == len(items), "status.progress %s/%s = %d items" % (done, total, len(items)))
res = json.loads(gzip.open(os.path.join(d, name + "-results.gz")).read())
ok(set(res) == {"errors", "warnings"}, "results has errors and warnings")
for f, want_v in (("-volumesnapshots.json.gz", None), ("-podvolumebackups.json.gz", None), ("-itemoperations.json.gz", None), ("-volumeinfo.json.gz", [])):
    raw = gzip.open(os.path.join(d, name + f)).read()
    ok(json.loads(raw) == want_v and raw.endswith(b"\n"), f + " is " + json.dumps(want_v))
log = gzip.open(os.path.join(d, name + "-logs.gz")).read().decode()
ok("Backing up item" in log, "the log names the items backed up")
for w in want:
    neg = w.startswith("!")
    p = w[1:] if neg else w
    ok((p in names) != neg, ("no " if neg else "has ") + p)
EOF
}

py_checks()
{
	local line out
	out=$(check "$@" 2>&1) || true
	[[ -n $out ]] || fail "check $1: printed nothing"
	while IFS= read -r line; do
		case $line in
		ok:\ *) pass "${line#ok: }" ;;
		FAIL:\ *) fail "${line#FAIL: }" ;;
		*) fail "check $1: $line" ;;
		esac
	done <<<"$out"
}

layout_check()
{
	local out
	if [[ -f $IT_DIR/velero_layout_check.py ]]; then
		if out=$("$PY" "$IT_DIR/velero_layout_check.py" "$LOC" "$1" 2>&1); then
			pass "velero_layout_check.py $1"
		else
			fail "velero_layout_check.py $1:"
			printf '%s\n' "$out" | clip 20 | sed 's/^/  | /'
		fi
	fi
}

PVC0=resources/persistentvolumeclaims/namespaces/app2/data-db-0.json
PVC1=resources/persistentvolumeclaims/namespaces/app2/data-db-1.json
py_checks full \
	resources/configmaps/namespaces/app1/settings.json \
	resources/configmaps/v1-preferredversion/namespaces/app1/settings.json \
	resources/secrets/namespaces/app1/creds.json \
	resources/deployments.apps/namespaces/app1/web.json \
	resources/deployments.apps/v1-preferredversion/namespaces/app1/web.json \
	resources/statefulsets.apps/namespaces/app2/db.json \
	resources/pods/namespaces/app2/tools.json \
	resources/pods/namespaces/app2/db-0.json \
	"$PVC0" "$PVC1" \
	"resources/persistentvolumes/cluster/$PV0.json" \
	resources/namespaces/cluster/app1.json \
	resources/namespaces/cluster/app2.json \
	resources/customresourcedefinitions.apiextensions.k8s.io/cluster/backups.velero.io.json \
	'!resources/configmaps/namespaces/app1/scratch.json' \
	'!resources/configmaps/namespaces/app1/dying.json' \
	'!resources/configmaps/namespaces/secret-ns/hidden.json' \
	'!resources/namespaces/cluster/secret-ns.json'
layout_check full

# Some namespaces: no cluster types of their own, but the PVs of the PVCs.
py_checks only-app1 \
	resources/configmaps/namespaces/app1/settings.json \
	resources/deployments.apps/namespaces/app1/web.json \
	resources/namespaces/cluster/app1.json \
	'!resources/configmaps/namespaces/app1/scratch.json' \
	'!resources/namespaces/cluster/app2.json' \
	'!resources/statefulsets.apps/namespaces/app2/db.json' \
	'!resources/customresourcedefinitions.apiextensions.k8s.io/cluster/backups.velero.io.json' \
	resources/serviceaccounts/namespaces/app1/deployer.json \
	resources/clusterrolebindings.rbac.authorization.k8s.io/cluster/deployer-binding.json \
	resources/clusterroles.rbac.authorization.k8s.io/cluster/deployer-role.json \
	resources/widgets.example.com/namespaces/app1/gear.json \
	resources/widgets.example.com/v1-preferredversion/namespaces/app1/gear.json \
	resources/customresourcedefinitions.apiextensions.k8s.io/cluster/widgets.example.com.json \
	'!resources/nodes/cluster/node-1.json'
layout_check only-app1

py_checks only-cm \
	resources/configmaps/namespaces/app1/settings.json \
	resources/configmaps/namespaces/app2/tools-config.json \
	'!resources/secrets/namespaces/app1/creds.json' \
	'!resources/namespaces/cluster/app1.json' \
	'!resources/configmaps/namespaces/app1/scratch.json' \
	'!resources/widgets.example.com/namespaces/app1/gear.json' \
	'!resources/customresourcedefinitions.apiextensions.k8s.io/cluster/widgets.example.com.json'
layout_check only-cm

# orderedResources: the named items first, in that order (a missing one
# and an excluded one skipped), the rest after.
py_checks ordered \
	resources/configmaps/namespaces/app2/tools-config.json \
	resources/configmaps/namespaces/app1/settings.json \
	'!resources/configmaps/namespaces/app1/scratch.json'
order=$("$PY" - "$LOC/backups/ordered/ordered.tar.gz" <<'EOF'
import sys, tarfile
with tarfile.open(sys.argv[1], "r:gz") as t:
    print(" ".join(m.name.rsplit("/", 1)[1][:-5] for m in t.getmembers()
                   if m.name.startswith("resources/configmaps/namespaces/")))
EOF
)
expect_grep "^tools-config settings( [a-z0-9.-]+)*$" "$order" "ordered: tools-config, then settings, then the rest"
layout_check ordered

py_checks tools-only \
	resources/pods/namespaces/app2/tools.json \
	resources/configmaps/namespaces/app2/tools-config.json \
	resources/namespaces/cluster/app2.json \
	'!resources/configmaps/namespaces/app1/settings.json' \
	'!resources/pods/namespaces/app2/db-0.json' \
	'!resources/namespaces/cluster/app1.json' \
	resources/priorityclasses.scheduling.k8s.io/cluster/ops-critical.json
layout_check tools-only

# orLabelSelectors: one list per selector; the StatefulSet pod of neither
# selector is left out, the PVC of no selected pod too.
py_checks either \
	resources/configmaps/namespaces/app1/settings.json \
	resources/deployments.apps/namespaces/app1/web.json \
	resources/pods/namespaces/app2/tools.json \
	'!resources/configmaps/namespaces/app2/tools-config.json' \
	'!resources/pods/namespaces/app2/db-0.json' \
	"!$PVC0"
layout_check either

# The StatefulSet backup of app2 alone: the pods pull their PVCs, the PVCs
# their PVs, though cluster types are otherwise left out.
apply "apiVersion: velero.io/v1
kind: Backup
metadata:
  name: app2-pods
  namespace: velero
spec:
  includedNamespaces: [app2]
  includedResources: [pods, persistentvolumeclaims, persistentvolumes]"
expect_eq Completed "$(wait_phase app2-pods)" "backup app2-pods: phase"
py_checks app2-pods \
	resources/pods/namespaces/app2/db-0.json \
	"$PVC0" "$PVC1" \
	"resources/persistentvolumes/cluster/$PV0.json" \
	'!resources/configmaps/namespaces/app2/tools-config.json'
layout_check app2-pods

# A location whose directory is missing: the backup fails with the reason.
apply "apiVersion: velero.io/v1
kind: BackupStorageLocation
metadata:
  name: missing
  namespace: velero
spec:
  provider: filesystem
  objectStorage:
    bucket: $T/no-such-dir
---
apiVersion: velero.io/v1
kind: Backup
metadata:
  name: to-missing
  namespace: velero
spec:
  storageLocation: missing
  includedNamespaces: [app1]"
# Created together with its location, the backup races the location's
# first validation: either it runs and fails naming the directory, or the
# location is already Unavailable (naming it) and the backup fails
# validation.
phase=$(wait_phase to-missing)
case $phase in
Failed)
	pass "to-missing: a backup into a missing directory fails (Failed)"
	expect_grep "no-such-dir" "$(jp to-missing '{.status.failureReason}')" \
		"to-missing: failureReason names the location's problem"
	;;
FailedValidation)
	pass "to-missing: a backup into a missing directory fails (FailedValidation)"
	expect_eq "backup can't be created because BackupStorageLocation missing is in Unavailable status." \
		"$(ve to-missing)" "to-missing: the location's Unavailable status is the reason"
	k -n velero get bsl missing -o 'jsonpath={.status.message}'
	expect_grep "no-such-dir" "$OUT" "to-missing: the location's message names the directory"
	;;
*) fail "to-missing: phase $phase, expected Failed or FailedValidation" ;;
esac

# The Backup object of a finished backup is deleted (not its data) and made
# again: the location has it already, so it fails and nothing is touched.
before=$(stat -c %Y "$LOC/backups/only-cm/only-cm.tar.gz")
k -n velero delete backup only-cm
apply "apiVersion: velero.io/v1
kind: Backup
metadata:
  name: only-cm
  namespace: velero
spec:
  includedResources: [secrets]"
expect_eq Failed "$(wait_phase only-cm)" "only-cm again: phase"
expect_eq "backup already exists in object storage" \
	"$(jp only-cm '{.status.failureReason}')" "only-cm again: Velero's reason"
expect_eq "$before" "$(stat -c %Y "$LOC/backups/only-cm/only-cm.tar.gz")" \
	"only-cm again: the stored tarball is untouched"

# velero-backup.json carries Velero's spec defaults.
if "$PY" - "$LOC/backups/full/velero-backup.json" <<'EOF'; then
import json, sys
s = json.load(open(sys.argv[1]))["spec"]
want = {"csiSnapshotTimeout": "10m0s", "itemOperationTimeout": "4h0m0s",
        "defaultVolumesToFsBackup": False, "snapshotMoveData": False,
        "includedNamespaces": ["*"], "ttl": "720h0m0s", "storageLocation": "default"}
bad = {k: s.get(k) for k in want if s.get(k) != want[k]}
print(bad if bad else "", end="")
sys.exit(1 if bad else 0)
EOF
	pass "full: velero-backup.json has Velero's spec defaults"
else
	fail "full: velero-backup.json spec defaults differ"
fi

# A backup left InProgress (a leader that died) is failed at start.
apply "apiVersion: velero.io/v1
kind: Backup
metadata:
  name: orphan
  namespace: velero
  labels:
    velero.io/storage-location: default
spec:
  includedNamespaces: [app1]
status:
  phase: InProgress"
full_done=$(jp full '{.status.completionTimestamp}')
kill "$SERVER"
wait "$SERVER" 2>/dev/null || true
"$STOWAGE" server -n velero --leader-elect false --backup-sync-period 1h \
	>>"$T/server.out" 2>>"$T/server.log" &
SERVER=$!
BG_PIDS+=("$SERVER")
expect_eq Failed "$(wait_phase orphan Failed)" "orphan: an InProgress backup is failed at server start"
expect_grep 'found a backup with status "InProgress" during the server starting, mark it as "Failed"' \
	"$(jp orphan '{.status.failureReason}')" "orphan: Velero's failure reason"
# A Completed backup is never run again after the restart (a run takes
# a few seconds: it would show).
sleep 3
expect_eq "$full_done" "$(jp full '{.status.completionTimestamp}')" \
	"full: not run again after the restart (same completionTimestamp)"
n=$(grep -c 'backup started.*backup=full\b' "$T/server.log" || true)
expect_eq 1 "$n" "full: started exactly once in the server log"

kill "$SERVER"
wait "$SERVER" 2>/dev/null || true
if ((FAILS > 0)); then
	echo "--- server log (last 60 lines) ---"
	tail -n 60 "$T/server.log"
fi
note "took $(($(date +%s) - START)) s"
finish

#!/usr/bin/env bash
# End to end: cross-cluster disaster recovery with `stowage server`, the
# `velero` CLI (the stowage binary through a symlink named velero) and the
# real kubectl, on two kubesim clusters sharing one location - once on
# s3rver (provider aws) and once on a directory (provider filesystem).
#
# For each provider:
#   cluster A: CRDs, namespace velero, BSL `default`, stowage server;
#     workloads applied with kubectl in app1 and app2 (Namespace, Deployment,
#     ConfigMap, Secret, Service, StatefulSet with a volumeClaimTemplate,
#     whose PVC kubesim's kubelet provisions); `velero backup create dr1
#     --include-namespaces app1,app2 --wait` ends Completed;
#   the location is read with python3 (botocore for S3, gzip/tarfile/json,
#     velero_layout_check.py), not with stowage: Velero's layout, and the
#     tarball holds every workload object with the ConfigMap's data;
#   cluster B: CRDs, namespace velero, BSL `dr` on the same bucket/prefix
#     with accessMode ReadOnly, stowage server --backup-sync-period 2s:
#     Backup dr1 appears by sync (Completed, labelled with the local BSL);
#     `velero restore create --from-backup dr1 --wait` brings every object
#     back with A's names, labels velero.io/backup-name / restore-name, and
#     A's ConfigMap and Secret data; backups/dr1/ stays byte for byte as
#     A wrote it (restore logs do go to restores/<name>/, as in Velero);
#     velero backup logs / describe --details / restore logs work on B;
#     a restore with --namespace-mappings app1:app1-dr puts app1
#     into app1-dr; one with --include-resources configmaps (app2 mapped to
#     app2-cm) restores ConfigMaps only;
#   back on A: namespace app1 deleted with kubectl, `velero restore create
#     --include-namespaces app1 --wait` brings it back; its restore logs and
#     results are in the location under restores/<name>/.
#
# The servers run to the end and must stop cleanly on SIGTERM. Every
# process (two kubesims per provider, their servers, s3rver) is stopped by
# the EXIT trap. Loopback only (servers' metrics on 127.0.0.1:0). Skips (exit 0 with a note) when
# kubectl is not installed.
set -euo pipefail

if ! command -v kubectl >/dev/null 2>&1; then
	echo "NOTE: kubectl not installed: skipping"
	exit 0
fi

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/server_lib.sh
. "$(dirname "$0")/server_lib.sh"
require_binary
s3_require
s3_isolate_env
START=$SECONDS
NS=velero
LOC=$T/location
mkdir -p "$LOC"

step()
{
	echo "== [$((SECONDS - START)) s] $*"
}

step "s3rver"
s3_start_s3rver
S3URL=http://127.0.0.1:$S3RVER_PORT
printf '[default]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n' >"$T/cred"

# The workloads, in namespace $1.
workloads()
{
	cat <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: $1, labels: {team: $1-team}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: $1, labels: {app: web}}
data: {greeting: "hello from $1", "config.yaml": "replicas: 3\nmode: dr\n"}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: $1, labels: {app: web}}
type: Opaque
stringData: {password: "s3cret-$1", token: "tok-$1"}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: $1, labels: {app: web}}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: $1, labels: {app: web}}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx:1.27}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: $1, labels: {app: db}}
spec:
  replicas: 1
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
      - name: db
        image: postgres:16
        volumeMounts: [{name: data, mountPath: /var/lib/postgresql/data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
EOF
}

# bsl_yaml NAME ACCESSMODE PROVIDER PREFIX: the location, on $LOC or s3rver.
bsl_yaml()
{
	local name=$1 mode=$2 prov=$3 pfx=$4
	if [[ $prov == filesystem ]]; then
		cat <<EOF
apiVersion: velero.io/v1
kind: BackupStorageLocation
metadata: {name: $name, namespace: $NS}
spec:
  provider: filesystem
  accessMode: $mode
  objectStorage: {bucket: $LOC, prefix: $pfx}
EOF
	else
		cat <<EOF
apiVersion: velero.io/v1
kind: BackupStorageLocation
metadata: {name: $name, namespace: $NS}
spec:
  provider: aws
  accessMode: $mode
  objectStorage: {bucket: $S3_BUCKET, prefix: $pfx}
  credential: {name: cloud-credentials, key: cloud}
  config: {region: us-east-1, s3ForcePathStyle: "true", s3Url: "$S3URL"}
EOF
	fi
}

# setup_cluster NAME PROVIDER PREFIX BSL ACCESSMODE SERVER-ARGS...: on a
# started cluster with the CRDs: the credentials, the BSL, the server.
setup_cluster()
{
	local name=$1 prov=$2 pfx=$3 bsl=$4 mode=$5
	shift 5
	use_cluster "$name"
	if [[ $prov == aws ]]; then
		k -n "$NS" create secret generic cloud-credentials --from-file=cloud="$T/cred"
		[[ $RC == 0 ]] || die "credentials secret on $name: $ERR"
	fi
	kapply < <(bsl_yaml "$bsl" "$mode" "$prov" "$pfx")
	[[ $RC == 0 ]] || die "BSL $bsl on $name: $ERR"
	srv_start "server-$name" -n "$NS" --identity "server-$name" \
		--store-validation-frequency 5s "$@"
	eval "SRV_$name=$SRV_PID"
	expect_jp 20 "$NS" bsl "$bsl" '{.status.phase}' '^Available$' "[$name] BSL $bsl ($prov, $mode) is Available"
}

# restored_ok NS RESTORE SRC: the workload objects are in NS, labelled
# velero.io/backup-name=dr1 and velero.io/restore-name=RESTORE, with their
# own labels, and the ConfigMap/Secret data cluster A had in SRC; NS has
# SRC's labels. One kubectl call, checked with python3.
restored_ok()
{
	local ns=$1 r=$2 src=$3 line
	k get -o json namespace "$ns"
	printf '%s\n' "$OUT" >"$T/ns.json"
	k -n "$ns" get -o json configmap/cfg secret/creds service/web deployment/web statefulset/db pvc/data-db-0
	[[ $RC == 0 ]] || fail "[$CLUSTER] $ns: expected every workload object after restore $r, kubectl says: ${ERR:0:300}"
	printf '%s\n' "$OUT" >"$T/objs.json"
	while IFS= read -r line; do
		case $line in
		ok\ *) pass "[$CLUSTER] ${line#ok }" ;;
		*) fail "[$CLUSTER] ${line#bad }" ;;
		esac
	done < <("$PY" - "$T/ns.json" "$T/objs.json" "$ns" "$r" "$src" "${CM_DATA[$src]}" "${SECRET_DATA[$src]}" <<'PYEOF' 2>&1
import json, sys
nsf, objf, ns, r, src, cm, sec = sys.argv[1:8]
try:
    nsobj = json.load(open(nsf))
except ValueError:
    nsobj = {}
try:
    items = json.load(open(objf)).get("items", [])
except ValueError:
    items = []
def check(ok, msg):
    print(("ok " if ok else "bad ") + msg)
got = {(o["kind"], o["metadata"]["name"]): o for o in items}
for kind, name, own in (("ConfigMap", "cfg", "web"), ("Secret", "creds", "web"),
                        ("Service", "web", "web"), ("Deployment", "web", "web"),
                        ("StatefulSet", "db", "db"),
                        ("PersistentVolumeClaim", "data-db-0", "db")):
    o = got.get((kind, name))
    if o is None:
        check(False, "%s/%s %s: expected it restored by %s, it is missing" % (ns, kind, name, r))
        continue
    l = o["metadata"].get("labels", {})
    want = ("dr1", r, own)
    have = (l.get("velero.io/backup-name"), l.get("velero.io/restore-name"), l.get("app"))
    check(have == want, "%s/%s %s restored by %s: labels backup-name, restore-name, app %s (want %s)"
          % (ns, kind, name, r, have, want))
c = got.get(("ConfigMap", "cfg"), {}).get("data")
check(c == json.loads(cm), "%s/cfg data equals %s's on cluster A: %s" % (ns, src, json.dumps(c)))
d = got.get(("Secret", "creds"), {}).get("data")
check(d == json.loads(sec), "%s/creds data equals %s's on cluster A: %s" % (ns, src, json.dumps(d)))
t = nsobj.get("metadata", {}).get("labels", {}).get("team")
check(t == src + "-team", "namespace %s has the labels of %s (team=%s)" % (ns, src, t))
PYEOF
	)
}

# restore_wait NAME DESC ARGS...: velero restore create NAME ARGS --wait,
# checked on the output and on the Restore's phase.
restore_wait()
{
	local name=$1 desc=$2
	shift 2
	vel restore create "$name" --wait "$@"
	expect_grep "Restore completed with status: Completed" "$OUT" "[$CLUSTER] $desc: velero restore create $name --wait says Completed"
	if ! grep -q 'Restore completed with status: Completed' <<<"$OUT"; then
		printf '  | %s\n' "${OUT:0:600}" "${ERR:0:400}"
		k -n "$NS" get restore "$name" -o yaml
		printf '%s\n' "$OUT" | clip 40 | sed 's/^/  | /'
	fi
	expect_jp 5 "$NS" restore "$name" '{.status.phase}' '^Completed$' "[$CLUSTER] restore $name phase"
}

declare -A CM_DATA SECRET_DATA

# location_sums PROVIDER PREFIX SUBDIR: "sha256  key" of every object
# under PREFIX/SUBDIR, sorted (the S3 side through s3rver's data dir).
location_sums()
{
	local d
	if [[ $1 == filesystem ]]; then
		d=$LOC/$2/$3
	else
		d=$S3RVER_DATA/$S3_BUCKET/$2/$3
	fi
	[[ -d $d ]] || return 0
	(cd "$d" && find . -type f ! -name '*._S3rver_metadata.json' -print0 |
		LC_ALL=C sort -z | xargs -0 -r sha256sum)
}

run_provider()
{
	local prov=$1 pfx a b store
	pfx=dr-$prov
	a=${prov:0:2}a
	b=${prov:0:2}b
	CM_DATA=()
	SECRET_DATA=()

	step "$prov: cluster A ($a)"
	setup_cluster "$a" "$prov" "$pfx" default ReadWrite --backup-sync-period 2s
	kapply < <(workloads app1)
	[[ $RC == 0 ]] || die "[$a] applying app1: $ERR"
	kapply < <(workloads app2)
	[[ $RC == 0 ]] || die "[$a] applying app2: $ERR"
	expect_jp 20 app1 pvc data-db-0 '{.status.phase}' '^Bound$' "[$a] the StatefulSet's claim app1/data-db-0 is provisioned and Bound"
	expect_jp 20 app2 pod db-0 '{.status.phase}' '^Running$' "[$a] the StatefulSet's pod app2/db-0 runs"
	expect_jp 20 app1 deployment web '{.status.availableReplicas}' '^1$' "[$a] deployment app1/web is available"
	for ns in app1 app2; do
		CM_DATA[$ns]=$(jp "$ns" configmap cfg '{.data}')
		SECRET_DATA[$ns]=$(jp "$ns" secret creds '{.data}')
	done

	step "$prov: backup dr1 on A with the velero CLI"
	vel backup create dr1 --include-namespaces app1,app2 --wait
	expect_grep '^Backup completed with status: Completed' "$OUT" "[$a] velero backup create dr1 --wait says Completed"
	expect_grep 'items backed up' "$OUT" "[$a] --wait showed progress"
	expect_jp 5 "$NS" backup dr1 '{.status.phase}' '^Completed$' "[$a] backup dr1 phase"
	items=$(jp "$NS" backup dr1 '{.status.progress.itemsBackedUp}')
	expect_grep '^[1-9][0-9]+$' "$items" "[$a] dr1 backed up items ($items)"

	step "$prov: the location, read with python3"
	if [[ $prov == filesystem ]]; then
		store=$LOC/$pfx
	else
		store=$T/fetched-$pfx
		n=$(s3_fetch_prefix "$S3URL" "$S3_BUCKET" "$pfx" "$store" 2>&1) || n="error: $n"
		expect_grep '^[0-9]+$' "$n" "[$a] objects under s3://$S3_BUCKET/$pfx/ fetched with botocore ($n)"
	fi
	if out=$("$PY" "$IT_DIR/velero_layout_check.py" "$store" dr1 2>&1); then
		pass "[$a] velero_layout_check.py: dr1 in Velero's layout"
	else
		fail "[$a] velero_layout_check.py dr1:"
		printf '%s\n' "$out" | clip 20 | sed 's/^/  | /'
	fi
	if out=$("$PY" - "$store/backups/dr1" "${CM_DATA[app1]}" "$items" <<'PYEOF' 2>&1
import gzip, json, sys, tarfile
d, cmdata, items = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
meta = json.load(open(d + "/velero-backup.json"))
assert meta["status"]["phase"] == "Completed", meta["status"]
assert sorted(meta["spec"]["includedNamespaces"]) == ["app1", "app2"], meta["spec"]
with tarfile.open(d + "/dr1.tar.gz", "r:gz") as tf:
    names = set(m.name for m in tf.getmembers())
    cm = json.load(tf.extractfile("resources/configmaps/namespaces/app1/cfg.json"))
want = []
for ns in ("app1", "app2"):
    for gr, n in (("configmaps", "cfg"), ("secrets", "creds"), ("services", "web"),
                  ("deployments.apps", "web"), ("statefulsets.apps", "db"),
                  ("persistentvolumeclaims", "data-db-0"), ("pods", "db-0")):
        want.append("resources/%s/namespaces/%s/%s.json" % (gr, ns, n))
    want.append("resources/namespaces/cluster/%s.json" % ns)
missing = [w for w in want if w not in names]
assert not missing, "missing from the tarball: %s" % missing
assert any(n.startswith("resources/persistentvolumes/cluster/") for n in names), "no PV"
assert cm["data"] == cmdata, (cm["data"], cmdata)
unversioned = [n for n in names if n.startswith("resources/") and
               n.split("/")[2] in ("cluster", "namespaces")]
assert len(unversioned) == items, "%d un-versioned items, status says %d" % (len(unversioned), items)
rl = json.loads(gzip.open(d + "/dr1-resource-list.json.gz").read())
assert "v1/ConfigMap" in rl and "app1/cfg" in rl["v1/ConfigMap"], rl.keys()
print("%d entries, %d items" % (len(names), len(unversioned)))
PYEOF
	); then
		pass "[$a] tarball holds every workload object, A's ConfigMap data, as many items as status says ($out)"
	else
		fail "[$a] tarball contents: $out"
	fi

	sum_before=$(location_sums "$prov" "$pfx" backups/dr1/)
	expect_grep 'velero-backup.json' "$sum_before" "[$a] backups/dr1/ checksummed"

	step "$prov: cluster B ($b), same location, ReadOnly"
	setup_cluster "$b" "$prov" "$pfx" dr ReadOnly --backup-sync-period 2s
	expect_jp 15 "$NS" backup dr1 '{.status.phase}' '^Completed$' "[$b] backup dr1 appears by sync, Completed"
	expect_jp 2 "$NS" backup dr1 '{.spec.storageLocation}' '^dr$' "[$b] its spec.storageLocation is B's location name"
	expect_jp 2 "$NS" backup dr1 '{.metadata.labels.velero\.io/storage-location}' '^dr$' "[$b] its storage-location label is B's location name"
	vel backup get
	expect_grep '^dr1 +Completed' "$OUT" "[$b] velero backup get lists dr1 Completed"
	vel backup logs dr1
	expect_grep 'level=info.*backup=velero/dr1' "$OUT" "[$b] velero backup logs dr1 prints A's backup log through a DownloadRequest (rc $RC)"
	vel backup describe dr1 --details
	expect_grep '^    - app1/cfg$' "$OUT" "[$b] velero backup describe dr1 --details lists app1/cfg (rc $RC)"
	k get namespace app1
	[[ $RC != 0 ]] && pass "[$b] app1 does not exist on B before the restore" || fail "[$b] app1 exists on B before any restore"

	step "$prov: restores on B"
	restore_wait r1 "full restore" --from-backup dr1
	restored_ok app1 r1 app1
	vel restore logs r1
	expect_grep 'restored.*configmaps/app1/cfg' "$OUT" "[$b] velero restore logs r1 shows the ConfigMap restored (rc $RC)"
	restored_ok app2 r1 app2
	expect_jp 20 app1 pvc data-db-0 '{.status.phase}' '^Bound$' "[$b] the restored claim app1/data-db-0 is Bound on B"
	expect_jp 20 app1 pod db-0 '{.status.phase}' '^Running$' "[$b] the StatefulSet's pod app1/db-0 runs on B"
	sum_after=$(location_sums "$prov" "$pfx" backups/dr1/)
	expect_eq "$sum_before" "$sum_after" "[$b] backups/dr1/ in the location is byte for byte as A wrote it (B synced and restored from a ReadOnly location)"

	restore_wait r2 "namespace mapping" --from-backup dr1 --include-namespaces app1 --namespace-mappings app1:app1-dr
	restored_ok app1-dr r2 app1

	restore_wait r3 "configmaps only" --from-backup dr1 --include-namespaces app2 \
		--namespace-mappings app2:app2-cm --include-resources configmaps
	expect_eq "${CM_DATA[app2]}" "$(jp app2-cm configmap cfg '{.data}')" "[$b] app2-cm/cfg restored with app2's data"
	expect_eq "dr1 r3" "$(jp app2-cm configmap cfg '{.metadata.labels.velero\.io/backup-name} {.metadata.labels.velero\.io/restore-name}')" "[$b] app2-cm/cfg labelled by r3"
	k -n app2-cm get secrets,services,deployments,statefulsets,pvc,pods -o name
	expect_eq "" "$OUT" "[$b] --include-resources configmaps: no Secret, Service, Deployment, StatefulSet, PVC or Pod in app2-cm (rc $RC)"

	step "$prov: back on A: delete app1, restore"
	use_cluster "$a"
	k delete namespace app1 --wait=true --timeout=60s
	k get namespace app1
	[[ $RC != 0 ]] && pass "[$a] namespace app1 deleted with kubectl" || fail "[$a] namespace app1 still there after delete: $OUT"
	restore_wait ra "restore after namespace loss" --from-backup dr1 --include-namespaces app1
	restored_ok app1 ra app1
	expect_jp 20 app1 pvc data-db-0 '{.status.phase}' '^Bound$' "[$a] the restored claim app1/data-db-0 is Bound again"
	expect_eq "${SECRET_DATA[app2]}" "$(jp app2 secret creds '{.data}')" "[$a] app2 untouched by the app1 restore"
	if [[ $prov == filesystem ]]; then
		got=$(cd "$LOC/$pfx/restores/ra" 2>/dev/null && ls | sort | tr '\n' ' ')
	else
		got=$(s3rver_keys "$S3_BUCKET" | grep "^$pfx/restores/ra/" | sed 's|.*/||' | sort | tr '\n' ' ')
	fi
	expect_grep 'restore-ra-logs\.gz.*restore-ra-results\.gz' "$got" "[$a] restores/ra/ holds the restore's logs and results ($got)"

	CLUSTERS+=("$a" "$b")
}

PROVIDERS=${E2E_PROVIDERS:-filesystem aws}
step "clusters"
all=()
for p in $PROVIDERS; do
	all+=("${p:0:2}a" "${p:0:2}b")
done
for c in "${all[@]}"; do
	ks_start "$c"
done
install_velero_bg "${all[@]}"

CLUSTERS=()
for p in $PROVIDERS; do
	run_provider "$p"
done

# The servers ran to the end (those of the first provider idle, syncing):
# stopped together, their logs checked.
step "servers"
pids=()
for c in "${CLUSTERS[@]}"; do
	v=SRV_$c
	if kill -0 "${!v}" 2>/dev/null; then
		pass "[$c] server still running"
	else
		fail "[$c] server exited early"
	fi
	pids+=("${!v}")
done
srv_stop_many "${pids[@]}"
for c in "${CLUSTERS[@]}"; do
	if grep -Eq 'Sanitizer|runtime error' "$T/server-$c.log"; then
		fail "[$c] sanitizer reports in the server log"
	fi
	if grep -q 'msg=stopped' "$T/server-$c.log"; then
		pass "[$c] server stopped cleanly on SIGTERM"
	else
		fail "[$c] server: expected msg=stopped in its log after SIGTERM"
	fi
	grep -E 'level=error' "$T/server-$c.log" | clip 5 | sed "s/^/  [$c] server error: /" || true
	((FAILS == 0)) || show_log "$T/server-$c.log" 25
done
ks_stop_all

step "done"
((FAILS == 0)) || s3_show_logs
finish

#!/usr/bin/env bash
# kubesim against the real kubectl: every step asserts on kubectl's output.
#
# Starts tools/kubesim itself (with --persist, so the last part can restart
# the "cluster"), uses its own kubeconfig and HOME (kubectl's discovery cache
# goes there), never ~/.kube. Skips (exit 0 with a note) if kubectl is not
# installed. The exec steps skip while kubesim/execsvc.py does not exist.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if ! command -v kubectl >/dev/null 2>&1; then
	note "kubectl not installed: skipping"
	exit 0
fi

ROOT=$(cd "$TESTS_DIR/.." && pwd)
KUBESIM=$ROOT/tools/kubesim/kubesim.py
FIX=$IT_DIR
SIM=$T/sim
mkdir -p "$SIM" "$T/home"
export HOME=$T/home
unset KUBECONFIG
KCFG=$T/kubeconfig
KS_PID=

start_kubesim()
{
	rm -f "$SIM/ready"
	python3 "$KUBESIM" --state-dir "$SIM" --persist "$SIM/store.json" \
		--nodes node-1,node-2 2>>"$SIM/kubesim.log" &
	KS_PID=$!
	BG_PIDS+=("$KS_PID")
	local i
	for i in $(seq 200); do
		[[ -f $SIM/ready ]] && break
		kill -0 "$KS_PID" 2>/dev/null || break
		sleep 0.1
	done
	if [[ ! -f $SIM/ready ]]; then
		cat "$SIM/kubesim.log" >&2
		die "kubesim did not become ready"
	fi
	cp "$SIM/kubeconfig" "$KCFG"
}

stop_kubesim()
{
	kill "$KS_PID" 2>/dev/null || true
	wait "$KS_PID" 2>/dev/null || true
}

# k ARGS...: kubectl with our kubeconfig and a timeout; sets RC, OUT, ERR
k()
{
	set +e
	timeout -k 5 60 kubectl --kubeconfig "$KCFG" --request-timeout=20s "$@" \
		</dev/null >"$T/.out" 2>"$T/.err"
	RC=$?
	set -e
	OUT=$(cat "$T/.out")
	ERR=$(cat "$T/.err")
	return 0
}

# jq_py EXPR: evaluate a python expression on $OUT parsed as JSON (as `d`)
jq_py()
{
	python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); print(eval(sys.argv[1]))' \
		"$1" <<<"$OUT"
}

expect_ok()
{
	if [[ $RC == 0 ]]; then
		pass "$*"
	else
		fail "$*: kubectl exited $RC"
		printf '%s\n%s\n' "$OUT" "$ERR" | clip 20 | sed 's/^/  | /'
	fi
}

# kubesim's own unit tests (patches, selectors, printer columns, store)
set +e
python3 "$ROOT/tools/kubesim/test_units.py" >"$T/.out" 2>&1
RC=$?
set -e
OUT=$(cat "$T/.out")
expect_grep '^OK$' "$OUT" "kubesim unit tests (tools/kubesim/test_units.py, exit $RC)"

start_kubesim

# ------------------------------------------------------------ discovery
k version -o json
expect_grep '"gitVersion": "v1\.32' "$OUT" "kubectl version shows the server version"
k get --raw /version
expect_eq "v1.32.0-kubesim" "$(jq_py 'd["gitVersion"]')" "get --raw /version"
k api-versions
expect_grep '^apps/v1$' "$OUT" "api-versions lists apps/v1"
expect_grep '^v1$' "$OUT" "api-versions lists v1"
expect_grep '^coordination.k8s.io/v1$' "$OUT" "api-versions lists coordination.k8s.io/v1"
k api-resources
expect_grep '^deployments +deploy +apps/v1 +true +Deployment$' "$OUT" "api-resources: deployments"
expect_grep '^persistentvolumes +pv +v1 +false +PersistentVolume$' "$OUT" \
	"api-resources: persistentvolumes are cluster-scoped"
expect_grep '^customresourcedefinitions +crd,crds +apiextensions.k8s.io/v1 +false' "$OUT" \
	"api-resources: customresourcedefinitions"
k get --raw /api/v1
expect_grep '"pods/exec"' "$OUT" "/api/v1 lists pods/exec"

# ------------------------------------------------------------ multi-document apply
k apply -f "$FIX/kubectl_crds.yaml"
expect_grep 'customresourcedefinition.apiextensions.k8s.io/backups.velero.io created' "$OUT" \
	"apply the Velero CRDs"
k api-resources --api-group=velero.io
expect_grep '^backupstoragelocations +bsl +velero.io/v1 +true +BackupStorageLocation$' "$OUT" \
	"a CRD is served at once (api-resources)"
k apply -f "$FIX/kubectl_app.yaml"
expect_ok "apply the application"
for what in namespace/shop configmap/shop-config secret/shop-secret \
	persistentvolumeclaim/shop-uploads deployment.apps/web statefulset.apps/db service/web; do
	expect_grep "^$what created$" "$OUT" "apply created $what"
done
k apply -f "$FIX/kubectl_app.yaml"
expect_grep '^deployment.apps/web unchanged$' "$OUT" "re-apply of the same file: unchanged"
# (a Secret with stringData is "configured" every time, as on a real server:
# the live object has only data, so kubectl's three-way patch is never empty)
expect_no_grep '^[^s].*(configured|created)' "$OUT" "re-apply of the same file changes nothing"

# ------------------------------------------------------------ get
k get deployments -n shop
expect_grep '^NAME +READY +UP-TO-DATE +AVAILABLE +AGE$' "$OUT" "get deployments: table header"
expect_grep '^web ' "$OUT" "get deployments: the row"
k get configmap shop-config -n shop
expect_grep '^shop-config +2 +[0-9]+s$' "$OUT" "get configmap: NAME DATA AGE"
k get sts db -n shop -o json
expect_eq "2Gi" "$(jq_py 'd["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]')" \
	"statefulset volumeClaimTemplates kept"
expect_eq "1" "$(jq_py 'd["metadata"]["generation"]')" "generation starts at 1"
k get configmap shop-config -n shop -o yaml
expect_grep '^  mode: production$' "$OUT" "get -o yaml"
expect_grep '^  uid: [0-9a-f-]{36}$' "$OUT" "objects get a uid"
expect_no_grep 'generation:' "$OUT" "configmaps have no generation (as in 1.32)"
k get secret shop-secret -n shop -o jsonpath='{.data.password}'
expect_eq "$(printf s3cr3t | base64)" "$OUT" "stringData is stored as data"
k get cm,secret,pvc -n shop -l app=shop -o name
expect_grep '^configmap/shop-config$' "$OUT" "get -l app=shop across kinds: configmap"
expect_grep '^secret/shop-secret$' "$OUT" "get -l app=shop across kinds: secret"
expect_grep '^persistentvolumeclaim/shop-uploads$' "$OUT" "get -l app=shop across kinds: pvc"
k get cm,secret -n shop -l 'app=shop,tier!=config' -o name
expect_eq "secret/shop-secret" "$OUT" "get -l with != "
k get deploy,sts -n shop -l 'tier in (frontend,db)' -o name
expect_eq "deployment.apps/web statefulset.apps/db" "$(echo $OUT)" "get -l 'tier in (...)'"
k get deploy,sts -n shop -l 'tier notin (frontend),!missing' -o name
expect_eq "statefulset.apps/db" "$OUT" "get -l 'notin' and '!key'"
k get cm -n shop --field-selector metadata.name=shop-config -o name
expect_eq "configmap/shop-config" "$OUT" "get --field-selector metadata.name="
k get cm -n shop --field-selector metadata.name!=shop-config -o name
expect_no_grep 'shop-config' "$OUT" "get --field-selector metadata.name!="
k get ns --field-selector status.phase=Active -o name
expect_grep '^namespace/shop$' "$OUT" "get ns --field-selector status.phase=Active"
k get pods --field-selector spec.bogus=x
expect_grep 'field label not supported: spec.bogus' "$ERR" "unsupported field selector is refused"
k get cm nope -n shop
expect_grep 'configmaps "nope" not found' "$ERR" "get of a missing object: NotFound"

# ------------------------------------------------------------ label, annotate, patch
k label cm shop-config -n shop color=blue
expect_grep '^configmap/shop-config labeled$' "$OUT" "label"
k get cm -n shop -l color=blue -L color
expect_grep '^shop-config +2 +[0-9]+s +blue$' "$OUT" "get -l color=blue -L color"
k annotate cm shop-config -n shop owner=team-a
expect_grep '^configmap/shop-config annotated$' "$OUT" "annotate"
k get cm shop-config -n shop -o jsonpath='{.metadata.annotations.owner}'
expect_eq "team-a" "$OUT" "annotation stored"
k label cm shop-config -n shop color-
expect_grep 'unlabeled' "$OUT" "label key- removes the label"
k patch cm shop-config -n shop --type merge -p '{"data":{"extra":"1","greeting":null}}'
expect_grep 'patched' "$OUT" "patch --type merge"
k get cm shop-config -n shop -o json
expect_eq "{'extra': '1', 'mode': 'production'}" "$(jq_py 'dict(sorted(d["data"].items()))')" \
	"merge patch added one key and removed another"
k patch cm shop-config -n shop --type json \
	-p '[{"op":"test","path":"/data/mode","value":"production"},{"op":"add","path":"/data/json","value":"yes"},{"op":"remove","path":"/data/extra"}]'
expect_grep 'patched' "$OUT" "patch --type json"
k get cm shop-config -n shop -o jsonpath='{.data}'
expect_eq '{"json":"yes","mode":"production"}' "$OUT" "json patch applied"
k patch cm shop-config -n shop --type json -p '[{"op":"test","path":"/data/mode","value":"nope"}]'
expect_grep 'testing value /data/mode failed' "$ERR" "json patch test op failure is reported"
k patch deploy web -n shop --type strategic \
	-p '{"spec":{"template":{"spec":{"containers":[{"name":"web","env":[{"name":"MODE","value":"debug"}]}]}}}}'
expect_grep 'patched' "$OUT" "patch --type strategic"
k get deploy web -n shop -o json
expect_eq "['web', 'sidecar']" "$(jq_py '[c["name"] for c in d["spec"]["template"]["spec"]["containers"]]')" \
	"strategic patch merged containers by name"
expect_eq "[('MODE', 'debug'), ('GREETING', None)]" \
	"$(jq_py '[(e["name"], e.get("value")) for e in d["spec"]["template"]["spec"]["containers"][0]["env"]]')" \
	"strategic patch merged env by name"
expect_eq "2" "$(jq_py 'd["metadata"]["generation"]')" "a spec change bumps generation"
k patch deploy web -n shop --type strategic \
	-p '{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","$patch":"delete"}]}}}}'
k get deploy web -n shop -o jsonpath='{.spec.template.spec.containers[*].name}'
expect_eq "web" "$OUT" "strategic patch \$patch: delete removes a list element"

# ------------------------------------------------------------ scale, auth
k scale deploy web -n shop --replicas=1
expect_grep '^deployment.apps/web scaled$' "$OUT" "scale (the scale subresource)"
k get deploy web -n shop -o jsonpath='{.spec.replicas}'
expect_eq "1" "$OUT" "scale changed spec.replicas"
k get --raw /apis/apps/v1/namespaces/shop/statefulsets/db/scale
expect_eq "Scale 1 app=shop,tier=db" "$(jq_py 'd["kind"]+" "+str(d["spec"]["replicas"])+" "+d["status"]["selector"]')" \
	"get the Scale of a statefulset"
k auth can-i create pods
expect_eq "yes" "$OUT" "auth can-i"

# ------------------------------------------------------------ re-apply after a change
sed -e 's/replicas: 2/replicas: 3/' -e 's/mode: production/mode: staging/' \
	-e 's/image: nginx:1.27/image: nginx:1.28/' "$FIX/kubectl_app.yaml" >"$T/app2.yaml"
k label deploy web -n shop extra=kept
k apply -f "$T/app2.yaml"
expect_grep '^configmap/shop-config configured$' "$OUT" "re-apply after a change: configmap configured"
expect_grep '^deployment.apps/web configured$' "$OUT" "re-apply after a change: deployment configured"
expect_grep '^persistentvolumeclaim/shop-uploads unchanged$' "$OUT" "re-apply after a change: pvc unchanged"
k get deploy web -n shop -o json
expect_eq "3 nginx:1.28 kept" \
	"$(jq_py '"%s %s %s" % (d["spec"]["replicas"], d["spec"]["template"]["spec"]["containers"][0]["image"], d["metadata"]["labels"]["extra"])')" \
	"apply updated replicas and image, kept a label set by kubectl label"
expect_eq "['web', 'sidecar']" "$(jq_py '[c["name"] for c in d["spec"]["template"]["spec"]["containers"]]')" \
	"apply restored the deleted container"
k get cm shop-config -n shop -o jsonpath='{.data.mode}'
expect_eq "staging" "$OUT" "apply updated the configmap"
k apply -f "$T/app2.yaml"
expect_no_grep '^[^s].*(configured|created)' "$OUT" "apply is idempotent"

# ------------------------------------------------------------ conflicts, finalizers
k get cm shop-config -n shop -o json
python3 -c 'import json,sys; d=json.load(sys.stdin); d["metadata"]["resourceVersion"]="1"; d["data"]["x"]="y"; print(json.dumps(d))' \
	<<<"$OUT" >"$T/stale.json"
k replace -f "$T/stale.json"
expect_grep 'the object has been modified' "$ERR" "replace with a stale resourceVersion: 409 Conflict"
cat >"$T/fin.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: held
  namespace: shop
  finalizers: [example.com/hold]
data: {a: b}
EOF
k create -f "$T/fin.yaml"
expect_grep '^configmap/held created$' "$OUT" "create -f"
k delete cm held -n shop --wait=false
expect_grep 'deleted' "$OUT" "delete of an object with a finalizer"
k get cm held -n shop -o jsonpath='{.metadata.deletionTimestamp}'
expect_grep '^20[0-9-]+T' "$OUT" "it stays, with a deletionTimestamp"
k patch cm held -n shop --type merge -p '{"metadata":{"finalizers":null}}'
k get cm held -n shop
expect_grep 'not found' "$ERR" "removing the finalizer completes the deletion"
k create -f "$T/fin.yaml" --dry-run=server -o name
expect_eq "configmap/held" "$OUT" "create --dry-run=server"
k get cm held -n shop
expect_grep 'not found' "$ERR" "dry run stored nothing"

# ------------------------------------------------------------ typed clients (protobuf bodies)
k create namespace proto
expect_grep '^namespace/proto created$' "$OUT" "create namespace (a protobuf body)"
k create configmap gen -n proto --from-literal=a=1 --from-literal=b=2
expect_grep '^configmap/gen created$' "$OUT" "create configmap --from-literal"
k create secret generic pw -n proto --from-literal=password=hunter2 --type=example.com/pw
expect_grep '^secret/pw created$' "$OUT" "create secret generic"
k get cm,secret -n proto -o json
expect_eq "{'a': '1', 'b': '2'} example.com/pw aHVudGVyMg==" \
	"$(jq_py '"%s %s %s" % (d["items"][0]["data"], d["items"][1]["type"], d["items"][1]["data"]["password"])')" \
	"protobuf-encoded objects decoded"

# the typed clients' protobuf bodies decode to what kubectl itself shows
# with --dry-run=client (its JSON of the same object)
same_as_client()
{
	local what=$1
	shift
	kubectl --kubeconfig "$KCFG" create --dry-run=client -o json "$@" >"$T/client.json" 2>&1
	k create -o json "$@"
	printf '%s\n' "$OUT" >"$T/server.json"
	python3 - "$T/client.json" "$T/server.json" >"$T/cmp.out" 2>&1 <<'EOF' || true
import json, sys
want = json.load(open(sys.argv[1]))
got = json.load(open(sys.argv[2]))
def strip(o):
    o.get("metadata", {}).pop("creationTimestamp", None)
    return o
def sub(a, b):          # every field kubectl sent is on the server (defaults aside)
    if isinstance(a, dict):
        return isinstance(b, dict) and all(k in b and sub(v, b[k]) for k, v in a.items()
                                           if v is not None)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(sub, a, b))
    return a == b
print("same" if sub(strip(want), strip(got)) else "DIFFERENT: %s vs %s" % (want, got))
EOF
	expect_eq "same" "$(cat "$T/cmp.out")" "$what"
}
same_as_client "create deployment (protobuf)" deployment gen-d -n proto --image=nginx:1 \
	--replicas=2 --port=8080
same_as_client "create service (protobuf)" service clusterip gen-s -n proto --tcp=80:8080
same_as_client "create job (protobuf)" job gen-j -n proto --image=busybox -- sh -c 'echo hi'
same_as_client "create rolebinding (protobuf)" rolebinding gen-rb -n proto --clusterrole=view \
	--user=alice --serviceaccount=proto:robot

# ------------------------------------------------------------ custom resources
cat >"$T/backup.yaml" <<'EOF'
apiVersion: velero.io/v1
kind: Backup
metadata:
  name: nightly
  namespace: shop
spec:
  includedNamespaces: [shop]
  storageLocation: default
  ttl: 720h0m0s
---
apiVersion: velero.io/v1
kind: BackupStorageLocation
metadata:
  name: default
  namespace: shop
spec:
  provider: aws
  default: true
  objectStorage:
    bucket: backups
EOF
k apply -f "$T/backup.yaml"
expect_grep '^backup.velero.io/nightly created$' "$OUT" "create a Backup"
k get backups -n shop
expect_grep '^NAME +PHASE +STORAGE LOCATION +AGE$' "$OUT" "get backups: printer columns"
expect_grep '^nightly +default +[0-9]+s$' "$OUT" "get backups: the row"
k patch backup nightly -n shop --type merge -p '{"status":{"phase":"Completed"}}'
k get backup nightly -n shop -o jsonpath='{.status.phase}'
expect_eq "" "$OUT" "status written through the main resource is ignored"
k patch backup nightly -n shop --subresource=status --type merge \
	-p '{"status":{"phase":"Completed"},"spec":{"ttl":"1h"}}'
expect_grep 'patched' "$OUT" "patch --subresource=status"
k get backup nightly -n shop -o json
expect_eq "Completed 720h0m0s" "$(jq_py 'd["status"]["phase"] + " " + d["spec"]["ttl"]')" \
	"a status write changes only status"
k get backups -n shop
expect_grep '^nightly +Completed +default +[0-9]+s$' "$OUT" "get backups shows the phase"
k get bsl -n shop
expect_grep '^NAME +PHASE +LAST VALIDATED +AGE +DEFAULT$' "$OUT" "get bsl: printer columns"
expect_grep '^default +[0-9]+s +true$' "$OUT" "get bsl: the row"
cat >"$T/bad-backup.yaml" <<'EOF'
apiVersion: velero.io/v1
kind: Backup
metadata: {name: bad, namespace: shop}
spec:
  storageLocation: default
  bogusField: 1
EOF
k apply -f "$T/bad-backup.yaml"
expect_grep 'strict decoding error: unknown field "spec.bogusField"' "$ERR" \
	"unknown field of a custom resource: refused (kubectl's default --validate=strict)"
k apply -f "$T/bad-backup.yaml" --validate=warn
expect_grep 'Warning: unknown field "spec.bogusField"' "$ERR" "--validate=warn: a warning"
k get backup bad -n shop -o jsonpath='{.spec}'
expect_eq '{"storageLocation":"default"}' "$OUT" "the unknown field is pruned"
k patch backup bad -n shop --type merge -p '{"spec":{"snapshotVolumes":"yes"}}'
expect_grep 'spec.snapshotVolumes in body must be of type boolean' "$ERR" \
	"the CRD schema's types are enforced"
k delete backup bad -n shop
k patch backup nightly -n shop --type strategic -p '{"spec":{"ttl":"2h"}}'
expect_grep 'strategic-merge-patch\+json is not supported' "$ERR" \
	"strategic merge patch of a custom resource is refused"

# ------------------------------------------------------------ watch
# wait_for_line FILE REGEX SECONDS
wait_for_line()
{
	local i
	for i in $(seq $(($3 * 10))); do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
timeout 20 kubectl --kubeconfig "$KCFG" get cm -n shop -w >"$T/watch.out" 2>"$T/watch.err" &
WPID=$!
wait_for_line "$T/watch.out" '^shop-config ' 15 || true
cat >"$T/w.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata: {name: watched, namespace: shop}
data: {k: v}
EOF
k apply -f "$T/w.yaml"
wait_for_line "$T/watch.out" '^watched ' 15 || true
kill "$WPID" 2>/dev/null || true
wait "$WPID" 2>/dev/null || true
expect_grep '^shop-config ' "$(cat "$T/watch.out")" "get -w lists first"
expect_grep '^watched +1 +[0-9]+s$' "$(cat "$T/watch.out")" "get -w sees a configmap created meanwhile"
k get --raw /api/v1/namespaces/shop/configmaps
RV=$(jq_py 'd["metadata"]["resourceVersion"]')
k get --raw "/api/v1/namespaces/shop/configmaps?watch=true&resourceVersion=$RV&timeoutSeconds=1"
expect_eq "" "$OUT" "watch from the list's resourceVersion: nothing new, ends at timeoutSeconds"

# ------------------------------------------------------------ exec
if [[ -f $ROOT/tools/kubesim/kubesim/execsvc.py ]]; then
	cat >"$T/pod.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: shell, namespace: shop}
spec:
  containers:
  - name: main
    image: busybox
    command: [sleep, infinity]
EOF
	k apply -f "$T/pod.yaml"
	k wait --for=jsonpath='{.status.phase}'=Running pod/shell -n shop --timeout=20s
	expect_ok "pod shell is Running"
	k exec -n shop shell -- echo hello from exec
	expect_eq "0 hello from exec" "$RC $OUT" "exec: stdout and exit code"
	k exec -n shop shell -- sh -c 'echo oops >&2; exit 3'
	expect_eq "3" "$RC" "exec: the command's exit code"
	expect_grep 'oops' "$ERR" "exec: stderr"
else
	note "kubesim/execsvc.py absent: skipping the exec steps"
fi

# ------------------------------------------------------------ delete
k delete -f "$T/w.yaml"
expect_grep '^configmap "watched" deleted' "$OUT" "delete -f"
k get cm watched -n shop
expect_grep 'not found' "$ERR" "deleted object is gone"

# ------------------------------------------------------------ restart with persistence
k get backup nightly -n shop -o jsonpath='{.metadata.uid}'
UID_BEFORE=$OUT
stop_kubesim
start_kubesim
k get backup nightly -n shop -o jsonpath='{.metadata.uid} {.status.phase}'
expect_eq "$UID_BEFORE Completed" "$OUT" "after a restart the Backup (a CR) is still there"
k get deploy web -n shop -o jsonpath='{.spec.replicas}'
expect_eq "3" "$OUT" "after a restart the deployment is still there"

# ------------------------------------------------------------ namespace cascade
k delete namespace shop --timeout=30s
expect_grep '^namespace "shop" deleted' "$OUT" "delete namespace"
k get ns shop
expect_grep 'namespaces "shop" not found' "$ERR" "the namespace is gone"
k get cm,deploy,backups -A -o name
expect_no_grep 'shop' "$OUT" "its objects are gone"
k delete crd backups.velero.io
expect_grep 'deleted' "$OUT" "delete a CRD"
k get backups -A
expect_grep "doesn't have a resource type \"backups\"|could not find the requested resource" "$ERR" \
	"its resource is no longer served"

stop_kubesim

# ------------------------------------------------------------ protocol checks
# What kubectl does not exercise (control endpoints, paging, watch resume,
# bookmarks, 410 after compaction, client certificates), on a fresh kubesim.
set +e
KUBESIM_BOOKMARK_INTERVAL=1 timeout -k 5 120 bash "$TESTS_DIR/kube/with_kubesim.sh" \
	python3 "$ROOT/tools/kubesim/selftest.py" >"$T/.out" 2>&1
RC=$?
set -e
OUT=$(cat "$T/.out")
grep -E '^(ok|FAIL):' <<<"$OUT" || true
expect_grep '^selftest: all checks passed$' "$OUT" "kubesim selftest (exit $RC)"

finish

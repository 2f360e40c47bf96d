#!/usr/bin/env bash
# kubesim's kubelet stand-in and pods/exec, driven by the real kubectl:
#   - WebSocket framing and the exec channel protocol (Python unit tests);
#   - nodes and the default StorageClass;
#   - a StatefulSet with volumeClaimTemplates: PVCs Bound to provisioned PVs,
#     pods Running on a node, the pod volume directory in the kubelet layout
#     (pods/<uid>/volumes/kubernetes.io~csi/<pv>/mount) showing the PV's data;
#   - an init container with the Velero restore-helper image run as a local
#     process: the pod is Running only after it has finished;
#   - kubectl exec: stdout, stderr, exit code, stdin, error messages;
#   - kubectl delete pod removes the pod directory, not the PV data;
#   - Deployment -> ReplicaSet -> pods;
#   - a restart with --persist: state kept, controllers still working;
#   - deleting claims deletes their PVs (policy Delete) and the data dirs.
# Starts its own kubesim (with_kubesim.sh cannot restart one).
# shellcheck disable=SC2317 # the predicates are called through wait_until
set -euo pipefail
. "$(dirname "$0")/lib.sh"

KUBESIM=$TESTS_DIR/../tools/kubesim/kubesim.py
KUBECTL=${KUBECTL:-kubectl}
command -v "$KUBECTL" >/dev/null || die "kubectl: expected on PATH, got none"
[[ -f $KUBESIM ]] || die "kubesim: expected $KUBESIM"

# ---------------------------------------------------------------- unit tests

set +e
"$PY" "$IT_DIR/kubesim_ws_unit.py" >"$T/unit.log" 2>&1
RC=$?
set -e
if [[ $RC == 0 ]]; then
	pass "WebSocket framing and exec channel unit tests ($(grep -Eo 'Ran [0-9]+ tests' "$T/unit.log"))"
else
	fail "WebSocket unit tests: expected exit 0, got $RC"
	clip 40 <"$T/unit.log" | sed 's/^/  | /'
fi

# ---------------------------------------------------------------- kubesim

SIM=$T/sim
HOST=$T/host
KPID=
start_kubesim()
{
	rm -f "$SIM/ready"
	mkdir -p "$SIM"
	"$PY" "$KUBESIM" --state-dir "$SIM" --port 0 --host-root "$HOST" \
		--persist "$T/cluster.json" --nodes node-1,node-2 2>>"$SIM/kubesim.log" &
	KPID=$!
	BG_PIDS+=("$KPID")
	local _
	for _ in $(seq 100); do
		[[ -f $SIM/ready ]] && break
		kill -0 "$KPID" 2>/dev/null || break
		sleep 0.1
	done
	if [[ ! -f $SIM/ready ]]; then
		tail -n 30 "$SIM/kubesim.log" >&2 || true
		die "kubesim: expected $SIM/ready, got none"
	fi
	export KUBECONFIG=$SIM/kubeconfig
}
stop_kubesim()
{
	kill "$KPID" 2>/dev/null || true
	wait "$KPID" 2>/dev/null || true
}

# k ARGS: kubectl with a timeout; sets RC, OUT, ERR.
k()
{
	set +e
	timeout -k 2 20 "$KUBECTL" "$@" </dev/null >"$T/.out" 2>"$T/.err"
	RC=$?
	set -e
	OUT=$(cat "$T/.out")
	ERR=$(cat "$T/.err")
}

# wait_until SECONDS CMD...: poll CMD (quietly) until it succeeds.
wait_until()
{
	local limit=$1 i
	shift
	for ((i = 0; i < limit * 10; i++)); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

jp() # jp RESOURCE NAME JSONPATH
{
	"$KUBECTL" get "$1" "$2" -o "jsonpath=$3" 2>/dev/null
}

phase_is() { [[ $(jp pod "$1" '{.status.phase}') == "$2" ]]; }

start_kubesim

k get nodes -o 'jsonpath={range .items[*]}{.metadata.name}={.metadata.labels.kubernetes\.io/hostname}:{.status.conditions[?(@.type=="Ready")].status} {end}'
expect_eq "node-1=node-1:True node-2=node-2:True " "$OUT" "nodes Ready with hostname labels"
k get storageclass standard -o 'jsonpath={.provisioner} {.metadata.annotations.storageclass\.kubernetes\.io/is-default-class}'
expect_eq "kubesim.io/hostpath true" "$OUT" "default StorageClass standard"

# ---------------------------------------------------------------- StatefulSet

cat >"$T/sts.yaml" <<'EOF'
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  replicas: 2
  serviceName: web
  updateStrategy: {type: RollingUpdate}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: nginx:1.27
        env: [{name: GREETING, value: hello}]
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
EOF
k apply -f "$T/sts.yaml"
expect_rc 0 "kubectl apply StatefulSet"
if wait_until 20 phase_is web-1 Running; then
	pass "StatefulSet pods web-0, web-1 Running"
else
	fail "StatefulSet pods: expected web-1 Running, got '$(jp pod web-1 '{.status.phase}')'"
fi
k rollout status statefulset/web --timeout=10s
expect_rc 0 "kubectl rollout status statefulset/web"
k get pvc -o 'jsonpath={range .items[*]}{.metadata.name}:{.status.phase}:{.status.capacity.storage} {end}'
expect_eq "data-web-0:Bound:1Gi data-web-1:Bound:1Gi " "$OUT" "claims from volumeClaimTemplates Bound"
PV0=$(jp pvc data-web-0 '{.spec.volumeName}')
PVC0_UID=$(jp pvc data-web-0 '{.metadata.uid}')
expect_eq "pvc-$PVC0_UID" "$PV0" "provisioned PV named pvc-<claim uid>"
k get pv "$PV0" -o 'jsonpath={.status.phase} {.spec.claimRef.namespace}/{.spec.claimRef.name} {.spec.persistentVolumeReclaimPolicy} {.spec.capacity.storage} {.spec.csi.driver}'
expect_eq "Bound default/data-web-0 Delete 1Gi kubesim.io/hostpath" "$OUT" "PV bound to its claim"
k get pod web-0 -o 'jsonpath={.spec.nodeName} {.status.hostIP} {.status.podIP} {.status.containerStatuses[0].ready}'
expect_grep '^node-[12] 127\.0\.1\.[12] 127\.[0-9.]+ true$' "$OUT" "web-0 scheduled with IPs and a ready container"
k get pods -o wide
expect_grep 'web-0 +1/1 +Running' "$OUT" "kubectl get pods shows web-0 1/1 Running"

UID0=$(jp pod web-0 '{.metadata.uid}')
MOUNT=$HOST/pods/$UID0/volumes/kubernetes.io~csi/$PV0/mount
if [[ -d $MOUNT ]]; then
	pass "pod volume dir pods/<uid>/volumes/kubernetes.io~csi/<pv>/mount exists"
else
	fail "pod volume dir: expected $MOUNT, got: $(find "$HOST/pods/$UID0" 2>&1 | clip 10)"
fi
echo "payload-1" >"$MOUNT/file.txt" || true
expect_eq "payload-1" "$(cat "$HOST/volumes/$PV0/file.txt" 2>&1)" "data written in the pod's mount is in the PV's directory"
if [[ -f $HOST/pods/$UID0/volumes/kubernetes.io~csi/$PV0/vol_data.json ]]; then
	pass "vol_data.json next to mount"
else
	fail "vol_data.json: expected next to $MOUNT"
fi

# Static binding, as after a restore: a PV pre-bound to a claim that names
# it, a class-less claim matched to a class-less PV; Retain keeps the PV.
cat >"$T/static.yaml" <<'EOF'
apiVersion: v1
kind: PersistentVolume
metadata: {name: restored-pv}
spec:
  capacity: {storage: 2Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: standard
  claimRef: {namespace: default, name: claim1}
  csi: {driver: kubesim.io/hostpath, volumeHandle: restored-pv}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: claim1}
spec:
  volumeName: restored-pv
  storageClassName: standard
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: nocls}
spec:
  capacity: {storage: 5Gi}
  accessModes: [ReadWriteOnce, ReadWriteMany]
  storageClassName: ""
  csi: {driver: kubesim.io/hostpath, volumeHandle: nocls}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: claim2}
spec:
  storageClassName: ""
  accessModes: [ReadWriteMany]
  resources: {requests: {storage: 1Gi}}
EOF
k apply -f "$T/static.yaml"
expect_rc 0 "kubectl apply static PVs and claims"
bound2() { [[ $(jp pvc claim1 '{.status.phase}')$(jp pvc claim2 '{.status.phase}') == BoundBound ]]; }
wait_until 10 bound2 || true
k get pvc claim1 claim2 -o 'jsonpath={range .items[*]}{.metadata.name}:{.status.phase}:{.spec.volumeName}:{.status.capacity.storage} {end}'
expect_eq "claim1:Bound:restored-pv:2Gi claim2:Bound:nocls:5Gi " "$OUT" "pre-bound and class-less claims bound statically"
expect_eq "Bound $(jp pvc claim1 '{.metadata.uid}')" "$(jp pv restored-pv '{.status.phase} {.spec.claimRef.uid}')" "pre-bound PV completed with the claim's uid"
k delete pvc claim1 claim2
expect_rc 0 "kubectl delete pvc claim1 claim2"
released() { [[ $(jp pv restored-pv '{.status.phase}') == Released ]]; }
if wait_until 10 released; then
	pass "PV with policy Retain Released when its claim is deleted"
else
	fail "restored-pv: expected Released, got '$(jp pv restored-pv '{.status.phase}')'"
fi
if [[ -d $HOST/volumes/restored-pv ]]; then
	pass "Retain keeps the PV's directory"
else
	fail "Retain: expected $HOST/volumes/restored-pv kept"
fi
k delete pv restored-pv nocls
expect_rc 0 "kubectl delete pv restored-pv nocls"

# ---------------------------------------------------------------- exec

k exec web-0 -- sh -c 'echo hi; echo err >&2; exit 3'
expect_eq 3 "$RC" "kubectl exec exit code"
expect_eq "hi" "$OUT" "kubectl exec stdout"
expect_grep '^err$' "$ERR" "kubectl exec stderr"
expect_grep 'command terminated with exit code 3' "$ERR" "kubectl reports the exit code"
# shellcheck disable=SC2016 # expanded by the exec'd shell
k exec web-0 -c app -- sh -c 'echo "$GREETING"; pwd; cat "$KUBESIM_VOLUME_DATA/file.txt"'
expect_rc 0 "kubectl exec -c app"
expect_eq "hello
$HOST/containers/$UID0/app
payload-1" "$OUT" "exec: container env, per-container workdir, volume path"
set +e
OUT=$(printf 'abcdef' | timeout 20 "$KUBECTL" exec -i web-0 -- wc -c 2>"$T/.err")
RC=$?
set -e
expect_eq "0 6" "$RC ${OUT//[[:space:]]/}" "kubectl exec -i: stdin forwarded and closed"
k exec web-0 -c nope -- true
expect_grep 'container nope is not valid for pod web-0' "$ERR" "exec into an unknown container"
k exec nosuchpod -- true
expect_grep 'pods "nosuchpod" not found' "$ERR" "exec into a missing pod"
k exec web-0 -- no-such-binary
expect_grep 'executable file not found' "$ERR" "exec of a missing executable"

# ---------------------------------------------------------------- init container

cat >"$T/init.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {a.txt: AAA}
---
apiVersion: v1
kind: Secret
metadata: {name: sec}
data: {pw: czNjcmV0}
---
apiVersion: v1
kind: Pod
metadata: {name: restored}
spec:
  initContainers:
  - name: restore-wait
    image: velero/velero-restore-helper:v1.15.0
    command: [sh, -c]
    args: ['sleep 2; echo restored > "$KUBESIM_VOLUME_SCRATCH/done"']
    volumeMounts: [{name: scratch, mountPath: /scratch}]
  - name: not-a-helper
    image: busybox
    command: ["false"]
  containers:
  - name: app
    image: busybox
    volumeMounts: [{name: scratch, mountPath: /scratch}]
  volumes:
  - {name: scratch, emptyDir: {}}
  - {name: cfg, configMap: {name: cfg}}
  - {name: sec, secret: {secretName: sec}}
EOF
k apply -f "$T/init.yaml"
expect_rc 0 "kubectl apply pod with a restore-helper init container"
sleep 0.7
RUID=$(jp pod restored '{.metadata.uid}')
DONE=$HOST/pods/$RUID/volumes/kubernetes.io~empty-dir/scratch/done
STATE="$(jp pod restored '{.status.phase}') $([[ -n $(jp pod restored '{.status.initContainerStatuses[0].state.running.startedAt}') ]] && echo running) $([[ -e $DONE ]] && echo file || echo nofile)"
expect_eq "Pending running nofile" "$STATE" "pod Pending while the helper runs"
k exec restored -c restore-wait -- pwd
expect_eq "$HOST/containers/$RUID/restore-wait" "$OUT" "exec into the running init container"
seen=
for _ in $(seq 100); do
	if phase_is restored Running; then
		seen=$([[ -f $DONE ]] && echo file || echo nofile)
		break
	fi
	sleep 0.1
done
expect_eq "file" "$seen" "pod Running only once the helper finished (its file is there)"
expect_eq "restored" "$(cat "$DONE" 2>&1)" "helper wrote into its volume via KUBESIM_VOLUME_SCRATCH"
k get pod restored -o 'jsonpath={range .status.initContainerStatuses[*]}{.name}={.state.terminated.reason} {end}'
expect_eq "restore-wait=Completed not-a-helper=Completed " "$OUT" "init container statuses"
expect_eq "AAA" "$(cat "$HOST/pods/$RUID/volumes/kubernetes.io~configmap/cfg/a.txt" 2>&1)" "configMap volume keys as files"
expect_eq "s3cret" "$(cat "$HOST/pods/$RUID/volumes/kubernetes.io~secret/sec/pw" 2>&1)" "secret volume keys decoded"

k delete pod restored
expect_rc 0 "kubectl delete pod restored"
if wait_until 5 test ! -e "$HOST/pods/$RUID"; then
	pass "deleted pod's directory removed"
else
	fail "deleted pod's directory: expected $HOST/pods/$RUID gone, still there"
fi

# A failing helper: retried with back-off; with restartPolicy Never the pod fails.
cat >"$T/retry.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: retry}
spec:
  initContainers:
  - name: flaky
    image: registry.example/stowage-helper:dev
    command: [sh, -c, 'if [ -f tried ]; then exit 0; fi; touch tried; exit 1']
  containers: [{name: app, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata: {name: never}
spec:
  restartPolicy: Never
  initContainers:
  - name: broken
    image: velero/velero-restore-helper:v1.15.0
    command: [sh, -c, 'exit 7']
  containers: [{name: app, image: busybox}]
EOF
k apply -f "$T/retry.yaml"
expect_rc 0 "kubectl apply failing helpers"
if wait_until 10 phase_is retry Running; then
	pass "failed helper retried, then the pod Running"
else
	fail "retry pod: expected Running, got '$(jp pod retry '{.status.phase}')'"
fi
expect_eq "1" "$(jp pod retry '{.status.initContainerStatuses[0].restartCount}')" "restartCount of the retried helper"
if wait_until 10 phase_is never Failed; then
	pass "restartPolicy Never: a failed helper fails the pod"
else
	fail "never pod: expected Failed, got '$(jp pod never '{.status.phase}')'"
fi
expect_eq "7" "$(jp pod never '{.status.initContainerStatuses[0].state.terminated.exitCode}')" "exit code of the failed helper"
k delete pod retry never
expect_rc 0 "kubectl delete pods retry never"

# Velero's restore-wait init container, as a Velero restore adds it: the
# built-in helper waits for the done-file in each /restores/<volume>.
cat >"$T/vrestore.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: vrestore}
spec:
  initContainers:
  - name: restore-wait
    image: velero/velero-restore-helper:v1.15.0
    command: [/velero-restore-helper]
    args: [restore-uid-1]
    volumeMounts: [{name: data, mountPath: /restores/data}]
  containers:
  - name: app
    image: busybox
    volumeMounts: [{name: data, mountPath: /data}]
  volumes:
  - {name: data, emptyDir: {}}
EOF
k apply -f "$T/vrestore.yaml"
expect_rc 0 "kubectl apply pod with Velero's restore-wait init container"
sleep 1.5
VUID=$(jp pod vrestore '{.metadata.uid}')
VDIR=$HOST/pods/$VUID/volumes/kubernetes.io~empty-dir/data
expect_eq "Pending" "$(jp pod vrestore '{.status.phase}')" "restore-wait: Pending until the done-file exists"
mkdir -p "$VDIR/.velero" && echo restored-data >"$VDIR/file" && : >"$VDIR/.velero/restore-uid-1"
if wait_until 10 phase_is vrestore Running; then
	pass "restore-wait: Running once the done-file is written"
else
	fail "restore-wait: expected Running, got '$(jp pod vrestore '{.status.phase}')'"
fi
if [[ ! -e $VDIR/.velero && -f $VDIR/file ]]; then
	pass "restore-wait removed .velero, kept the data"
else
	fail "restore-wait: expected .velero removed and file kept, got: $(find "$VDIR" -mindepth 1 -printf '%P ')"
fi
k delete pod vrestore
expect_rc 0 "kubectl delete pod vrestore"

# A StatefulSet pod deleted: its dir goes, the PV data stays, the pod comes back.
k delete pod web-0
expect_rc 0 "kubectl delete pod web-0"
if wait_until 5 test ! -e "$HOST/pods/$UID0"; then
	pass "web-0's old pod directory removed"
else
	fail "web-0's old pod directory: expected gone, still there"
fi
expect_eq "payload-1" "$(cat "$HOST/volumes/$PV0/file.txt" 2>&1)" "PV data kept after pod deletion"
newuid() { local u; u=$(jp pod web-0 '{.metadata.uid}'); [[ -n $u && $u != "$UID0" ]] && phase_is web-0 Running; }
if wait_until 20 newuid; then
	UID0=$(jp pod web-0 '{.metadata.uid}')
	pass "StatefulSet recreated web-0 (Running)"
	expect_eq "payload-1" "$(cat "$HOST/pods/$UID0/volumes/kubernetes.io~csi/$PV0/mount/file.txt" 2>&1)" \
		"recreated web-0 sees the same volume data"
else
	fail "StatefulSet: expected web-0 recreated and Running"
fi

# ---------------------------------------------------------------- Deployment

cat >"$T/deploy.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 3
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers: [{name: api, image: busybox}]
EOF
k apply -f "$T/deploy.yaml"
expect_rc 0 "kubectl apply Deployment"
k rollout status deployment/api --timeout=20s
expect_rc 0 "kubectl rollout status deployment/api"
k get pods -l app=api -o 'jsonpath={range .items[*]}{.status.phase} {end}'
expect_eq "Running Running Running " "$OUT" "Deployment -> ReplicaSet -> 3 pods Running"
k get rs -l app=api -o 'jsonpath={.items[0].status.readyReplicas}'
expect_eq "3" "$OUT" "ReplicaSet status readyReplicas"

# Adoption, as after a restore: pods and a ReplicaSet created without
# ownerReferences before their owners are adopted, not duplicated.
cat >"$T/orphans.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: db-0, labels: {app: db}}
spec: {containers: [{name: db, image: postgres}]}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: front-oldhash, labels: {app: front, pod-template-hash: oldhash}}
spec:
  replicas: 2
  selector: {matchLabels: {app: front, pod-template-hash: oldhash}}
  template:
    metadata: {labels: {app: front, pod-template-hash: oldhash}}
    spec: {containers: [{name: front, image: nginx}]}
---
apiVersion: v1
kind: Pod
metadata: {name: front-oldhash-aaaaa, labels: {app: front, pod-template-hash: oldhash}}
spec: {containers: [{name: front, image: nginx}]}
EOF
k apply -f "$T/orphans.yaml"
expect_rc 0 "kubectl apply orphan pods and ReplicaSet"
DB_UID=$(jp pod db-0 '{.metadata.uid}')
cat >"$T/owners.yaml" <<'EOF'
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 1
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: postgres}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: front}
spec:
  replicas: 2
  selector: {matchLabels: {app: front}}
  template:
    metadata: {labels: {app: front}}
    spec: {containers: [{name: front, image: nginx}]}
EOF
k apply -f "$T/owners.yaml"
expect_rc 0 "kubectl apply the owners"
k rollout status deployment/front --timeout=20s
expect_rc 0 "kubectl rollout status deployment/front"
adopted() { [[ $(jp pod db-0 '{.metadata.ownerReferences[0].kind}') == StatefulSet ]]; }
wait_until 10 adopted || true
expect_eq "$DB_UID StatefulSet" "$(jp pod db-0 '{.metadata.uid} {.metadata.ownerReferences[0].kind}')" "StatefulSet adopted its orphan pod"
k get rs -l app=front -o 'jsonpath={range .items[*]}{.metadata.name}:{.metadata.ownerReferences[0].kind} {end}'
expect_eq "front-oldhash:Deployment " "$OUT" "Deployment adopted the ReplicaSet with its template, no new one"
k get pods -l app=front -o 'jsonpath={range .items[*]}{.metadata.ownerReferences[0].name} {end}'
expect_eq "front-oldhash front-oldhash " "$OUT" "ReplicaSet adopted its orphan pod and made one more"
k delete statefulset db
k delete deployment front
expect_rc 0 "kubectl delete deployment front"

# ---------------------------------------------------------------- restart with --persist

stop_kubesim
pass "kubesim stopped"
start_kubesim
k get pods -o 'jsonpath={range .items[*]}{.metadata.name}={.status.phase} {end}'
expect_grep 'web-0=Running web-1=Running' "$OUT" "pods Running after a restart"
expect_eq "$UID0" "$(jp pod web-0 '{.metadata.uid}')" "same web-0 after the restart"
if [[ -d $HOST/pods/$UID0/volumes/kubernetes.io~csi/$PV0/mount ]]; then
	pass "pod volume dir still there after the restart"
else
	fail "pod volume dir: expected to survive a restart"
fi
k patch statefulset web --type merge -p '{"spec":{"replicas":3}}'
expect_rc 0 "kubectl patch statefulset web replicas=3 after the restart"
if wait_until 20 phase_is web-2 Running; then
	pass "controllers work after the restart: web-2 Running"
else
	fail "after restart: expected web-2 Running, got '$(jp pod web-2 '{.status.phase}')'"
fi
expect_eq "Bound" "$(jp pvc data-web-2 '{.status.phase}')" "data-web-2 Bound after the restart"
k get nodes -o 'jsonpath={range .items[*]}{.metadata.name} {end}'
expect_eq "node-1 node-2 " "$OUT" "nodes not duplicated by the restart"

# ---------------------------------------------------------------- teardown

k delete statefulset web
expect_rc 0 "kubectl delete statefulset web"
if wait_until 10 test -z "$("$KUBECTL" get pods -l app=web -o name 2>/dev/null)"; then
	pass "StatefulSet pods garbage-collected"
else
	fail "StatefulSet pods: expected gone"
fi
k delete pvc data-web-0 data-web-1 data-web-2
expect_rc 0 "kubectl delete pvc"
gone_pvs() { [[ -z $("$KUBECTL" get pv -o name 2>/dev/null) ]]; }
if wait_until 10 gone_pvs; then
	pass "PVs with reclaim policy Delete deleted with their claims"
else
	fail "PVs: expected none, got $("$KUBECTL" get pv -o name 2>&1 | tr '\n' ' ')"
fi
if wait_until 5 test ! -e "$HOST/volumes/$PV0"; then
	pass "PV data directory removed"
else
	fail "PV data directory: expected $HOST/volumes/$PV0 gone"
fi
k delete deployment api
if wait_until 10 test -z "$("$KUBECTL" get pods -o name 2>/dev/null)"; then
	pass "Deployment's ReplicaSet and pods garbage-collected"
else
	fail "pods: expected none left"
fi
if wait_until 5 test -z "$(ls "$HOST/pods")"; then
	pass "no pod directories left"
else
	fail "pod directories: expected none, got $(find "$HOST/pods" -mindepth 1 -maxdepth 1 -printf '%P ')"
fi

stop_kubesim
finish

"""The kubelet stand-in: nodes, a volume provisioner, workload controllers and
pod "execution", enough for backups and restores of pods with volumes.

What it does, as a real cluster's components would:

- nodes (kubelet registration): Node objects, Ready, with capacity and the
  kubernetes.io/hostname label;
- provisioner and PV controller: a default StorageClass `standard` with
  provisioner kubesim.io/hostpath; a PVC of that class gets a CSI PV
  `pvc-<pvc-uid>` whose data lives in HOST_ROOT/volumes/pvc-<pvc-uid>/;
  pre-bound or matching PVs are bound; a PV whose claim is gone is Released
  and, with reclaim policy Delete, deleted together with its directory;
- controllers: StatefulSet (pods <sts>-<i>, PVCs <tpl>-<sts>-<i>),
  Deployment -> ReplicaSet -> pods, and the garbage collection of their
  dependents when the owner is gone;
- scheduler: pods without spec.nodeName go to a node matching their
  nodeSelector, round-robin;
- kubelet: volume directories under HOST_ROOT/pods/<pod-uid>/volumes/
  <plugin>/<name>/ in the real layout, init containers whose image is the
  project's helper run as local processes, then phase Running; a deleted
  pod's directory is removed.

Directory layout under HOST_ROOT: see docs/kubesim-kubelet.md.

Threads: the store listener only queues keys; one worker thread reconciles
them (and resyncs everything periodically, so state loaded from a persisted
file is picked up at start); one thread per pod runs its init containers.
Every reconcile is idempotent: it compares and writes only what differs.
"""

import atexit
import base64
import copy
import datetime
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback

PROVISIONER = "kubesim.io/hostpath"
CSI_DRIVER = "kubesim.io/hostpath"
DEFAULT_CLASS = "standard"
DEFAULT_HELPER_IMAGES = ("stowage", "velero-restore-helper")
RESYNC_SECONDS = 10.0

# Stands in for Velero's restore helper image entry point
# (/velero-restore-helper RESTORE_UID) when no local program of that path
# exists: it waits until every volume mounted under /restores/ holds the
# done-file .velero/<RESTORE_UID> that the node agent writes after filling
# it, then removes the .velero directories and exits 0. The mounts are found
# through KUBESIM_MOUNTS (mountPath -> host directory).
RESTORE_HELPER = r"""
import json, os, shutil, sys, time
if len(sys.argv) != 2:
    print("ERROR: need exactly one argument, the restore's UID", file=sys.stderr)
    sys.exit(1)
uid = sys.argv[1]
mounts = json.loads(os.environ.get("KUBESIM_MOUNTS") or "{}")
vols = sorted(host for path, host in mounts.items()
              if path.rstrip("/").startswith("/restores/"))
while True:
    missing = [v for v in vols if not os.path.exists(os.path.join(v, ".velero", uid))]
    if not missing:
        break
    print("Not found: %s" % os.path.join(missing[0], ".velero", uid), flush=True)
    time.sleep(1)
print("All restores are done", flush=True)
for v in vols:
    shutil.rmtree(os.path.join(v, ".velero"), ignore_errors=True)
"""

_host_root_lock = threading.Lock()
_host_root = None


def current_host_root():
    """The host root of the running kubelet (execsvc uses it)."""
    with _host_root_lock:
        root = _host_root
    return root or os.environ.get("STOW_KUBESIM_HOST_ROOT") or \
        os.path.join(os.environ.get("TMPDIR", "/tmp"), "kubesim-host")


def _set_host_root(root):
    global _host_root
    with _host_root_lock:
        _host_root = root


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _meta(obj):
    return obj.setdefault("metadata", {})


def _code(exc):
    return getattr(exc, "code", None)


def _safe_hash(data, length=10):
    """A short stable hash in the alphabet Kubernetes uses for generated
    names (no vowels, no look-alike digits)."""
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    n = int.from_bytes(hashlib.sha256(data.encode()).digest()[:8], "big")
    out = []
    for _ in range(length):
        n, r = divmod(n, len(alphabet))
        out.append(alphabet[r])
    return "".join(out)


def _env_name(volume):
    return "KUBESIM_VOLUME_" + re.sub(r"[^A-Za-z0-9]", "_", volume).upper()


def _inside(base, path):
    base = os.path.realpath(base)
    path = os.path.realpath(path)
    return path == base or path.startswith(base + os.sep)


def _quantity_bytes(q):
    """Parse a resource quantity ("1Gi", "500M", "1e3") to a number; for
    comparisons only."""
    if q is None:
        return 0
    s = str(q).strip()
    suffixes = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40,
                "Pi": 1 << 50, "Ei": 1 << 60, "k": 10 ** 3, "M": 10 ** 6,
                "G": 10 ** 9, "T": 10 ** 12, "P": 10 ** 15, "E": 10 ** 18, "m": 1e-3}
    for suf in sorted(suffixes, key=len, reverse=True):
        if s.endswith(suf):
            try:
                return float(s[:-len(suf)]) * suffixes[suf]
            except ValueError:
                return 0
    try:
        return float(s)
    except ValueError:
        return 0


def _same_template(rs_template, template):
    """Templates equal but for the pod-template-hash label (and empty maps)."""
    def norm(t):
        t = copy.deepcopy(t)
        meta = t.get("metadata") or {}
        labels = meta.get("labels") or {}
        labels.pop("pod-template-hash", None)
        if labels:
            meta["labels"] = labels
        else:
            meta.pop("labels", None)
        if meta:
            t["metadata"] = meta
        else:
            t.pop("metadata", None)
        return t
    return norm(rs_template) == norm(template)


def selector_matches(selector, labels):
    """A LabelSelector (matchLabels, matchExpressions) against labels. An
    empty selector matches nothing here: controllers never adopt with one."""
    ml = selector.get("matchLabels") or {}
    exprs = selector.get("matchExpressions") or []
    if not ml and not exprs:
        return False
    if any(labels.get(k) != v for k, v in ml.items()):
        return False
    for e in exprs:
        key, op, values = e.get("key"), e.get("operator"), e.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


# ---------------------------------------------------------------- volumes

def pv_data_dir(host_root, pv):
    """Where a PV's data lives on the host, or None if it has none we know."""
    spec = pv.get("spec") or {}
    csi = spec.get("csi")
    if csi and csi.get("driver") == CSI_DRIVER:
        path = (csi.get("volumeAttributes") or {}).get("path")
        return path or os.path.join(host_root, "volumes", _meta(pv).get("name", ""))
    if spec.get("local"):
        return spec["local"].get("path")
    if spec.get("hostPath"):
        return spec["hostPath"].get("path")
    return None


def _pv_plugin(pv):
    """(plugin dir, per-volume dir relative to it) for a PV-backed volume,
    as the real kubelet lays them out."""
    spec = pv.get("spec") or {}
    name = _meta(pv).get("name")
    if spec.get("csi"):
        return "kubernetes.io~csi", os.path.join(name, "mount")
    if spec.get("local"):
        return "kubernetes.io~local-volume", name
    if spec.get("hostPath"):
        return None, None     # host paths are used in place, no pod directory
    for key in ("nfs", "iscsi", "rbd", "cephfs", "fc", "awsElasticBlockStore",
                "gcePersistentDisk", "azureDisk", "azureFile"):
        if spec.get(key):
            return "kubernetes.io~" + key.lower(), name
    return "kubernetes.io~csi", os.path.join(name, "mount")


def volume_paths(store, pod, host_root):
    """{volume name: host directory} for the pod's volumes that have one.
    Pure computation (nothing is created); PVC volumes need a bound PV."""
    uid = _meta(pod).get("uid", "")
    ns = _meta(pod).get("namespace")
    base = os.path.join(host_root, "pods", uid, "volumes")
    out = {}
    for vol in (pod.get("spec") or {}).get("volumes") or []:
        name = vol.get("name")
        if not name:
            continue
        if "persistentVolumeClaim" in vol:
            claim = (vol["persistentVolumeClaim"] or {}).get("claimName")
            pvc = store.get("", "v1", "persistentvolumeclaims", ns, claim) if claim else None
            pvname = ((pvc or {}).get("spec") or {}).get("volumeName")
            pv = store.get("", "v1", "persistentvolumes", None, pvname) if pvname else None
            if pv is None:
                continue
            plugin, rel = _pv_plugin(pv)
            if plugin is None:
                out[name] = pv_data_dir(host_root, pv)
            else:
                out[name] = os.path.join(base, plugin, rel)
        elif "hostPath" in vol:
            out[name] = (vol["hostPath"] or {}).get("path")
        else:
            plugin = _plugin_for(vol)
            out[name] = os.path.join(base, plugin, name)
    return out


_PLUGINS = {
    "emptyDir": "kubernetes.io~empty-dir",
    "configMap": "kubernetes.io~configmap",
    "secret": "kubernetes.io~secret",
    "projected": "kubernetes.io~projected",
    "downwardAPI": "kubernetes.io~downward-api",
    "csi": "kubernetes.io~csi",
    "nfs": "kubernetes.io~nfs",
    "ephemeral": "kubernetes.io~csi",
}


def _plugin_for(vol):
    for key, plugin in _PLUGINS.items():
        if key in vol:
            return plugin
    others = [k for k in vol if k != "name"]
    return "kubernetes.io~" + (others[0].lower() if others else "empty-dir")


def container_workdir(host_root, pod, container):
    """HOST_ROOT/containers/<pod-uid>/<container>/, created."""
    path = os.path.join(host_root, "containers", _meta(pod).get("uid", "nouid"), container)
    os.makedirs(path, exist_ok=True)
    return path


def _find_container(pod, name):
    spec = pod.get("spec") or {}
    for key in ("containers", "initContainers", "ephemeralContainers"):
        for c in spec.get(key) or []:
            if c.get("name") == name:
                return c
    return {}


def _field_value(pod, path):
    meta = _meta(pod)
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": (pod.get("spec") or {}).get("nodeName"),
        "spec.serviceAccountName": (pod.get("spec") or {}).get("serviceAccountName"),
        "status.podIP": (pod.get("status") or {}).get("podIP"),
        "status.hostIP": (pod.get("status") or {}).get("hostIP"),
    }
    if path in simple:
        return simple[path] or ""
    m = re.match(r"metadata\.(labels|annotations)\['(.*)'\]$", path)
    if m:
        return (meta.get(m.group(1)) or {}).get(m.group(2), "")
    return ""


def _key_from(store, ns, kind, ref):
    if not ref:
        return None
    resource = "configmaps" if kind == "configMap" else "secrets"
    obj = store.get("", "v1", resource, ns, ref.get("name"))
    if obj is None:
        return None
    key = ref.get("key")
    if resource == "configmaps":
        return (obj.get("data") or {}).get(key)
    raw = (obj.get("data") or {}).get(key)
    if raw is None:
        return (obj.get("stringData") or {}).get(key)
    try:
        return base64.b64decode(raw).decode("utf-8", "replace")
    except ValueError:
        return None


def process_env(store, pod, container_name, host_root):
    """The environment of a local process standing in for a container:
    PATH from kubesim, the container's env and envFrom (values, field refs,
    ConfigMap and Secret keys), and where the pod's volumes are on the host:
    KUBESIM_VOLUME_<NAME>=<dir> per volume and KUBESIM_MOUNTS, a JSON object
    mapping each of the container's mountPaths to its host directory."""
    meta = _meta(pod)
    ns = meta.get("namespace")
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOSTNAME": meta.get("name", ""),
        "HOME": container_workdir(host_root, pod, container_name),
        "KUBESIM_POD_NAME": meta.get("name", ""),
        "KUBESIM_POD_NAMESPACE": ns or "",
        "KUBESIM_POD_UID": meta.get("uid", ""),
        "KUBESIM_CONTAINER_NAME": container_name,
    }
    c = _find_container(pod, container_name)
    for src in c.get("envFrom") or []:
        prefix = src.get("prefix") or ""
        if src.get("configMapRef"):
            obj = store.get("", "v1", "configmaps", ns, src["configMapRef"].get("name"))
            for k, v in ((obj or {}).get("data") or {}).items():
                env[prefix + k] = v
        if src.get("secretRef"):
            obj = store.get("", "v1", "secrets", ns, src["secretRef"].get("name"))
            for k, v in ((obj or {}).get("data") or {}).items():
                try:
                    env[prefix + k] = base64.b64decode(v).decode("utf-8", "replace")
                except ValueError:
                    pass
    for e in c.get("env") or []:
        name = e.get("name")
        if not name:
            continue
        if "value" in e:
            env[name] = str(e.get("value") or "")
            continue
        vf = e.get("valueFrom") or {}
        val = None
        if vf.get("fieldRef"):
            val = _field_value(pod, vf["fieldRef"].get("fieldPath", ""))
        elif vf.get("configMapKeyRef"):
            val = _key_from(store, ns, "configMap", vf["configMapKeyRef"])
        elif vf.get("secretKeyRef"):
            val = _key_from(store, ns, "secret", vf["secretKeyRef"])
        env[name] = val or ""
    vols = volume_paths(store, pod, host_root)
    for vname, path in vols.items():
        if path:
            env[_env_name(vname)] = path
    mounts = {}
    for vm in c.get("volumeMounts") or []:
        path = vols.get(vm.get("name"))
        if path and vm.get("mountPath"):
            sub = vm.get("subPath") or ""
            mounts[vm["mountPath"]] = os.path.join(path, sub) if sub else path
    env["KUBESIM_MOUNTS"] = json.dumps(mounts, sort_keys=True)
    return env


def _write_if_changed(path, data):
    try:
        with open(path, "rb") as f:
            if f.read() == data:
                return
    except OSError:
        pass
    tmp = path + ".kubesim-tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _project_keys(directory, entries, items):
    """Write {key: bytes} into directory, honouring a volume's items list
    (key -> relative path); keys or paths that would escape are skipped."""
    os.makedirs(directory, exist_ok=True)
    if items:
        pairs = [(it.get("path"), entries.get(it.get("key"))) for it in items]
    else:
        pairs = list(entries.items())
    for rel, data in pairs:
        if not rel or data is None or rel.startswith("/") or ".." in rel.split("/"):
            continue
        path = os.path.join(directory, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        _write_if_changed(path, data)


def _object_entries(obj, binary):
    out = {}
    if obj is None:
        return out
    for k, v in (obj.get("data") or {}).items():
        if binary:
            try:
                out[k] = base64.b64decode(v)
            except ValueError:
                pass
        else:
            out[k] = str(v).encode()
    for k, v in (obj.get("binaryData") or {}).items():
        try:
            out[k] = base64.b64decode(v)
        except ValueError:
            pass
    return out


# ---------------------------------------------------------------- the kubelet

class Kubelet:
    def __init__(self, store, host_root=None, nodes=None, helper_images=None,
                 resync_seconds=RESYNC_SECONDS, log=None):
        self.store = store
        self.host_root = os.path.abspath(host_root or current_host_root())
        self.nodes = list(nodes or ["node-1"])
        env_images = os.environ.get("KUBESIM_HELPER_IMAGES")
        if helper_images is None and env_images:
            helper_images = [s for s in env_images.split(",") if s.strip()]
        self.helper_images = tuple(helper_images or DEFAULT_HELPER_IMAGES)
        # KUBESIM_COMMAND_MAP: JSON {"/path/in/image": ["/local/program", "arg"...]}
        # so a helper image's entry point can be replaced by a local program.
        try:
            self.command_map = json.loads(os.environ.get("KUBESIM_COMMAND_MAP") or "{}")
        except ValueError:
            self.command_map = {}
        self.resync_seconds = resync_seconds
        self._log_stream = log or sys.stderr
        self._cv = threading.Condition()
        self._queue = []            # ordered pending keys
        self._queued = set()
        self._gone = {}             # key -> deleted object, for deletion work
        self._stop = False
        self._thread = None
        self._rr = 0                # round-robin scheduling counter
        self._init_lock = threading.Lock()
        self._init_state = {}       # pod uid -> {container: result dict}
        self._init_threads = {}     # pod uid -> thread
        self._init_procs = {}       # pod uid -> Popen
        self._dead_uids = set()
        _set_host_root(self.host_root)

    # ------------------------------------------------------------ lifecycle

    def start(self):
        for sub in ("pods", "volumes", "containers", "logs"):
            os.makedirs(os.path.join(self.host_root, sub), exist_ok=True)
        self.store.add_listener(self._on_event)
        # Helpers run in their own sessions: do not leave them behind when
        # kubesim exits.
        atexit.register(self.stop)
        self._thread = threading.Thread(target=self._run, name="kubesim-kubelet", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        with self._init_lock:
            procs = list(self._init_procs.values())
        for p in procs:
            self._killpg(p)

    def _log(self, msg):
        try:
            self._log_stream.write("kubesim kubelet: %s\n" % msg)
            self._log_stream.flush()
        except (OSError, ValueError):
            pass

    # ------------------------------------------------------------ queue

    def _enqueue(self, key, gone=None):
        with self._cv:
            if gone is not None:
                self._gone[key] = gone
            if key not in self._queued:
                self._queued.add(key)
                self._queue.append(key)
                self._cv.notify()

    def _later(self, key, delay):
        t = threading.Timer(delay, self._enqueue, (key,))
        t.daemon = True
        t.start()

    def _on_event(self, event_type, group, version, resource, obj):
        """Store listener: never does work, only queues keys."""
        try:
            meta = (obj or {}).get("metadata") or {}
            ns, name, uid = meta.get("namespace"), meta.get("name"), meta.get("uid")
            deleted = event_type == "DELETED"
            if group == "" and resource == "pods":
                if deleted:
                    self._enqueue(("pod-gone", uid), gone=copy.deepcopy(obj))
                else:
                    self._enqueue(("pod", ns, name))
                for ref in meta.get("ownerReferences") or []:
                    if ref.get("kind") == "StatefulSet":
                        self._enqueue(("sts", ns, ref.get("name")))
                    elif ref.get("kind") == "ReplicaSet":
                        self._enqueue(("rs", ns, ref.get("name")))
            elif group == "" and resource == "persistentvolumeclaims":
                self._enqueue(("pvc", ns, name))
                vol = (obj.get("spec") or {}).get("volumeName")
                if vol:
                    self._enqueue(("pv", vol))
                self._enqueue(("pods-in", ns))
                if deleted:
                    self._enqueue(("gc", ns))
            elif group == "" and resource == "persistentvolumes":
                if deleted:
                    self._enqueue(("pv-gone", uid), gone=copy.deepcopy(obj))
                else:
                    self._enqueue(("pv", name))
                ref = (obj.get("spec") or {}).get("claimRef") or {}
                if ref.get("name"):
                    self._enqueue(("pvc", ref.get("namespace"), ref.get("name")))
            elif group == "apps" and resource == "statefulsets":
                self._enqueue(("gc", ns) if deleted else ("sts", ns, name))
            elif group == "apps" and resource == "deployments":
                self._enqueue(("gc", ns) if deleted else ("deploy", ns, name))
            elif group == "apps" and resource == "replicasets":
                self._enqueue(("gc", ns) if deleted else ("rs", ns, name))
                for ref in meta.get("ownerReferences") or []:
                    if ref.get("kind") == "Deployment":
                        self._enqueue(("deploy", ns, ref.get("name")))
            elif group == "" and resource in ("configmaps", "secrets") and not deleted:
                self._enqueue(("pods-in", ns))
            elif group == "" and resource == "nodes" and deleted and name in self.nodes:
                self._enqueue(("nodes",))
            elif group == "storage.k8s.io" and resource == "storageclasses":
                self._enqueue(("pods-in", None))
        except Exception:           # a listener must never break the store
            self._log("listener: " + traceback.format_exc())

    def _run(self):
        try:
            self._ensure_nodes()
            self._ensure_storage_class()
        except Exception:
            self._log("setup: " + traceback.format_exc())
        self._resync()
        next_resync = time.monotonic() + self.resync_seconds
        while True:
            with self._cv:
                while not self._queue and not self._stop:
                    left = next_resync - time.monotonic()
                    if left <= 0:
                        break
                    self._cv.wait(left)
                if self._stop:
                    return
                key = self._queue.pop(0) if self._queue else None
                if key is not None:
                    self._queued.discard(key)
                gone = self._gone.pop(key, None) if key is not None else None
            if key is None:
                self._resync()
                next_resync = time.monotonic() + self.resync_seconds
                continue
            try:
                self._process(key, gone)
            except Exception as e:
                if _code(e) == 409:
                    # Someone else wrote first: look again shortly.
                    self._later(key, 0.05)
                elif _code(e) == 404:
                    # Gone between our read and our write: the next look
                    # finds out (slower, in case it is a missing type).
                    self._later(key, 0.5)
                else:
                    self._log("%s: %s" % (key, traceback.format_exc()))
                    self._later(key, 1.0)

    def _resync(self):
        """Queue every object we reconcile: picks up state loaded from a
        persisted file and anything an event did not cover."""
        s = self.store
        try:
            self._enqueue(("nodes",))
            for pv in s.list("", "v1", "persistentvolumes"):
                self._enqueue(("pv", pv["metadata"]["name"]))
            for pvc in s.list("", "v1", "persistentvolumeclaims"):
                self._enqueue(("pvc", pvc["metadata"].get("namespace"), pvc["metadata"]["name"]))
            namespaces = set()
            for res, tag in (("statefulsets", "sts"), ("deployments", "deploy"),
                             ("replicasets", "rs")):
                for o in s.list("apps", "v1", res):
                    namespaces.add(o["metadata"].get("namespace"))
                    self._enqueue((tag, o["metadata"].get("namespace"), o["metadata"]["name"]))
            live = set()
            for pod in s.list("", "v1", "pods"):
                m = pod["metadata"]
                live.add(m.get("uid"))
                namespaces.add(m.get("namespace"))
                self._enqueue(("pod", m.get("namespace"), m["name"]))
            for ns in namespaces:
                self._enqueue(("gc", ns))
            # Pod directories whose pod no longer exists (deleted while we
            # were not running).
            pods_dir = os.path.join(self.host_root, "pods")
            for uid in os.listdir(pods_dir) if os.path.isdir(pods_dir) else []:
                if uid not in live:
                    self._enqueue(("pod-gone", uid), gone={"metadata": {"uid": uid}})
        except Exception:
            self._log("resync: " + traceback.format_exc())

    def _process(self, key, gone):
        kind = key[0]
        if kind == "pod":
            self._sync_pod(key[1], key[2])
        elif kind == "pod-gone":
            self._pod_gone(gone or {"metadata": {"uid": key[1]}})
        elif kind == "pods-in":
            for pod in self.store.list("", "v1", "pods", key[1]):
                if (pod.get("status") or {}).get("phase") != "Running":
                    self._enqueue(("pod", pod["metadata"].get("namespace"),
                                   pod["metadata"]["name"]))
        elif kind == "pvc":
            self._sync_pvc(key[1], key[2])
        elif kind == "pv":
            self._sync_pv(key[1])
        elif kind == "pv-gone":
            self._pv_gone(gone or {})
        elif kind == "sts":
            self._sync_statefulset(key[1], key[2])
        elif kind == "deploy":
            self._sync_deployment(key[1], key[2])
        elif kind == "rs":
            self._sync_replicaset(key[1], key[2])
        elif kind == "gc":
            self._collect_garbage(key[1])
        elif kind == "nodes":
            self._ensure_nodes()

    # ------------------------------------------------------------ writes

    def _create(self, group, resource, ns, obj):
        try:
            return self.store.create(group, "v1", resource, ns, obj)
        except Exception as e:
            if _code(e) == 409:
                return None
            raise

    def _delete(self, group, resource, ns, name):
        try:
            return self.store.delete(group, "v1", resource, ns, name)
        except Exception as e:
            if _code(e) == 404:
                return None
            raise

    def _update_status(self, group, resource, obj, status):
        """Write status if it differs from obj's; obj carries resourceVersion."""
        if obj.get("status") == status:
            return obj
        new = copy.deepcopy(obj)
        new["status"] = status
        return self.store.update(group, "v1", resource, _meta(obj).get("namespace"), new,
                                 subresource="status")

    # ------------------------------------------------------------ nodes

    def _node_ip(self, node):
        try:
            i = self.nodes.index(node)
        except ValueError:
            i = 0
        return "127.0.1.%d" % (i + 1)

    def _ensure_nodes(self):
        now = _now()
        for name in self.nodes:
            if self.store.get("", "v1", "nodes", None, name) is not None:
                continue
            capacity = {"cpu": "4", "memory": "8Gi", "pods": "110",
                        "ephemeral-storage": "100Gi", "hugepages-2Mi": "0"}
            node = {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": name, "labels": {
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "beta.kubernetes.io/os": "linux",
                    "beta.kubernetes.io/arch": "amd64",
                }},
                "spec": {"podCIDR": "127.%d.0.0/16" % (10 + self.nodes.index(name))},
            }
            created = self._create("", "nodes", None, node)
            if created is None:
                continue
            status = {
                "capacity": capacity,
                "allocatable": dict(capacity),
                "conditions": [
                    self._cond(t, "False", r, m, now) for t, r, m in (
                        ("MemoryPressure", "KubeletHasSufficientMemory",
                         "kubelet has sufficient memory available"),
                        ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                        ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"))
                ] + [self._cond("Ready", "True", "KubeletReady", "kubelet is posting ready status", now)],
                "addresses": [{"type": "InternalIP", "address": self._node_ip(name)},
                              {"type": "Hostname", "address": name}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {
                    "machineID": _safe_hash("machine" + name, 32),
                    "systemUUID": _safe_hash("system" + name, 32),
                    "bootID": _safe_hash("boot" + name, 32),
                    "kernelVersion": os.uname().release,
                    "osImage": "kubesim",
                    "containerRuntimeVersion": "kubesim://1.0.0",
                    "kubeletVersion": "v1.32.0-kubesim",
                    "kubeProxyVersion": "v1.32.0-kubesim",
                    "operatingSystem": "linux",
                    "architecture": "amd64",
                },
            }
            self._update_status("", "nodes", created, status)

    @staticmethod
    def _cond(ctype, status, reason=None, message=None, now=None, heartbeat=True):
        c = {"type": ctype, "status": status, "lastTransitionTime": now or _now()}
        if heartbeat:
            c["lastHeartbeatTime"] = c["lastTransitionTime"]
        if reason:
            c["reason"] = reason
        if message:
            c["message"] = message
        return c

    # ------------------------------------------------------------ storage

    def _ensure_storage_class(self):
        if self.store.get("storage.k8s.io", "v1", "storageclasses", None, DEFAULT_CLASS):
            return
        self._create("storage.k8s.io", "storageclasses", None, {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": DEFAULT_CLASS, "annotations": {
                "storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": PROVISIONER,
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "Immediate",
            "allowVolumeExpansion": True,
        })

    def _default_class(self):
        for sc in self.store.list("storage.k8s.io", "v1", "storageclasses"):
            ann = _meta(sc).get("annotations") or {}
            if ann.get("storageclass.kubernetes.io/is-default-class") == "true":
                return sc
        return None

    def _sync_pvc(self, ns, name):
        s = self.store
        pvc = s.get("", "v1", "persistentvolumeclaims", ns, name)
        if pvc is None or _meta(pvc).get("deletionTimestamp"):
            return
        spec = pvc.get("spec") or {}
        volname = spec.get("volumeName")
        if volname:
            self._bind(pvc, s.get("", "v1", "persistentvolumes", None, volname))
            return
        cls = spec.get("storageClassName")
        if cls is None:
            # As the PV controller does since 1.28: a claim without a
            # class gets the default class when one exists.
            sc = self._default_class()
            if sc is None:
                return
            pvc = copy.deepcopy(pvc)
            pvc["spec"]["storageClassName"] = cls = _meta(sc)["name"]
            pvc = s.update("", "v1", "persistentvolumeclaims", ns, pvc)
        pv = self._matching_pv(pvc, cls)
        if pv is None and cls:
            sc = s.get("storage.k8s.io", "v1", "storageclasses", None, cls)
            if sc is not None and sc.get("provisioner") == PROVISIONER:
                pv = self._provision(pvc, sc)
        if pv is not None:
            self._bind(pvc, pv)
        elif (pvc.get("status") or {}).get("phase") != "Pending":
            self._update_status("", "persistentvolumeclaims", pvc, {"phase": "Pending"})

    def _matching_pv(self, pvc, cls):
        """An existing PV for this claim: our own provisioned one (after a
        restart), one pre-bound to it, or an Available one that fits."""
        s = self.store
        m = _meta(pvc)
        mine = s.get("", "v1", "persistentvolumes", None, "pvc-" + m.get("uid", ""))
        if mine is not None:
            return mine
        want = _quantity_bytes(((pvc["spec"].get("resources") or {}).get("requests") or {})
                               .get("storage"))
        modes = set(pvc["spec"].get("accessModes") or [])
        best = None
        for pv in s.list("", "v1", "persistentvolumes"):
            ps = pv.get("spec") or {}
            ref = ps.get("claimRef")
            if ref:
                if ref.get("namespace") == m.get("namespace") and ref.get("name") == m.get("name") \
                        and ref.get("uid") in (None, "", m.get("uid")):
                    return pv
                continue
            if (pv.get("status") or {}).get("phase") not in (None, "Available"):
                continue
            if (ps.get("storageClassName") or "") != (cls or ""):
                continue
            if not modes.issubset(set(ps.get("accessModes") or [])):
                continue
            size = _quantity_bytes((ps.get("capacity") or {}).get("storage"))
            if size < want:
                continue
            if best is None or size < _quantity_bytes(best["spec"]["capacity"]["storage"]):
                best = pv
        return best

    def _provision(self, pvc, sc):
        m = _meta(pvc)
        pvname = "pvc-" + m["uid"]
        path = os.path.join(self.host_root, "volumes", pvname)
        os.makedirs(path, exist_ok=True)
        spec = pvc.get("spec") or {}
        pv = {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": pvname, "annotations": {
                "pv.kubernetes.io/provisioned-by": PROVISIONER,
                "volume.kubernetes.io/provisioner-deletion-secret-name": "",
                "volume.kubernetes.io/provisioner-deletion-secret-namespace": "",
            }},
            "spec": {
                "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
                "capacity": {"storage": ((spec.get("resources") or {}).get("requests") or {})
                             .get("storage", "1Gi")},
                "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                             "namespace": m.get("namespace"), "name": m["name"],
                             "uid": m["uid"], "resourceVersion": m.get("resourceVersion")},
                "csi": {"driver": CSI_DRIVER, "volumeHandle": pvname, "fsType": "ext4",
                        "volumeAttributes": {"path": path,
                                             "storage.kubernetes.io/csiProvisionerIdentity":
                                                 "kubesim-" + PROVISIONER}},
                "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy") or "Delete",
                "storageClassName": _meta(sc)["name"],
                "volumeMode": spec.get("volumeMode") or "Filesystem",
            },
        }
        created = self._create("", "persistentvolumes", None, pv)
        if created is None:
            created = self.store.get("", "v1", "persistentvolumes", None, pvname)
        return created

    def _bind(self, pvc, pv):
        """Bind claim and volume both ways (PV first: a crash in between
        leaves a PV pointing at the claim, which the next sync completes)."""
        if pv is None:
            if (pvc.get("status") or {}).get("phase") == "Bound":
                self._update_status("", "persistentvolumeclaims", pvc,
                                    dict(pvc["status"], phase="Lost"))
            return
        s = self.store
        m = _meta(pvc)
        pvname = _meta(pv)["name"]
        ref = (pv.get("spec") or {}).get("claimRef") or {}
        if ref.get("uid") and ref.get("uid") != m["uid"]:
            return      # bound to another claim (of the same name, earlier)
        if ref.get("name") and (ref.get("name"), ref.get("namespace")) != (m["name"], m.get("namespace")):
            return
        if ref.get("uid") != m["uid"]:
            pv = copy.deepcopy(pv)
            pv["spec"]["claimRef"] = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                      "namespace": m.get("namespace"), "name": m["name"],
                                      "uid": m["uid"], "resourceVersion": m.get("resourceVersion")}
            ann = _meta(pv).setdefault("annotations", {})
            ann.setdefault("pv.kubernetes.io/bound-by-controller", "yes")
            pv = s.update("", "v1", "persistentvolumes", None, pv)
        data = pv_data_dir(self.host_root, pv)
        if data and _inside(os.path.join(self.host_root, "volumes"), data):
            os.makedirs(data, exist_ok=True)
        self._update_status("", "persistentvolumes", pv, {"phase": "Bound"})
        spec = pvc.get("spec") or {}
        ann = m.get("annotations") or {}
        if spec.get("volumeName") != pvname or ann.get("pv.kubernetes.io/bind-completed") != "yes":
            pvc = copy.deepcopy(pvc)
            pvc["spec"]["volumeName"] = pvname
            a = _meta(pvc).setdefault("annotations", {})
            a["pv.kubernetes.io/bind-completed"] = "yes"
            if not spec.get("volumeName"):
                a["pv.kubernetes.io/bound-by-controller"] = "yes"
            if (pv["metadata"].get("annotations") or {}).get("pv.kubernetes.io/provisioned-by") == PROVISIONER:
                a["volume.beta.kubernetes.io/storage-provisioner"] = PROVISIONER
                a["volume.kubernetes.io/storage-provisioner"] = PROVISIONER
            pvc = s.update("", "v1", "persistentvolumeclaims", m.get("namespace"), pvc)
        status = {"phase": "Bound",
                  "accessModes": list((pv.get("spec") or {}).get("accessModes") or []),
                  "capacity": dict((pv.get("spec") or {}).get("capacity") or {})}
        self._update_status("", "persistentvolumeclaims", pvc, status)

    def _sync_pv(self, name):
        s = self.store
        pv = s.get("", "v1", "persistentvolumes", None, name)
        if pv is None or _meta(pv).get("deletionTimestamp"):
            return
        spec = pv.get("spec") or {}
        phase = (pv.get("status") or {}).get("phase")
        data = pv_data_dir(self.host_root, pv)
        if data and _inside(os.path.join(self.host_root, "volumes"), data):
            os.makedirs(data, exist_ok=True)
        ref = spec.get("claimRef")
        if not ref or not ref.get("name"):
            if phase != "Available":
                self._update_status("", "persistentvolumes", pv, {"phase": "Available"})
            return
        pvc = s.get("", "v1", "persistentvolumeclaims", ref.get("namespace"), ref["name"])
        if pvc is not None and (not ref.get("uid") or ref["uid"] == _meta(pvc).get("uid")):
            if (pvc.get("spec") or {}).get("volumeName") in (None, "", name):
                if phase != "Bound" and not ref.get("uid"):
                    self._update_status("", "persistentvolumes", pv, {"phase": "Available"})
                self._enqueue(("pvc", ref.get("namespace"), ref["name"]))
            return
        if not ref.get("uid"):
            # Pre-bound to a claim that does not exist yet.
            if phase != "Available":
                self._update_status("", "persistentvolumes", pv, {"phase": "Available"})
            return
        # The claim this volume was bound to is gone.
        if phase != "Released":
            pv = self._update_status("", "persistentvolumes", pv, {
                "phase": "Released", "lastPhaseTransitionTime": _now()})
        if spec.get("persistentVolumeReclaimPolicy", "Delete") == "Delete":
            self._delete("", "persistentvolumes", None, name)

    def _pv_gone(self, pv):
        """A deleted PV with reclaim policy Delete loses its data directory
        (only ever one under HOST_ROOT/volumes)."""
        spec = pv.get("spec") or {}
        if spec.get("persistentVolumeReclaimPolicy", "Delete") != "Delete":
            return
        data = pv_data_dir(self.host_root, pv)
        vols = os.path.join(self.host_root, "volumes")
        if data and _inside(vols, data) and os.path.realpath(data) != os.path.realpath(vols):
            shutil.rmtree(data, ignore_errors=True)

    # ------------------------------------------------------------ controllers

    @staticmethod
    def _owner_ref(obj, kind, api_version="apps/v1"):
        m = _meta(obj)
        return {"apiVersion": api_version, "kind": kind, "name": m["name"], "uid": m["uid"],
                "controller": True, "blockOwnerDeletion": True}

    @staticmethod
    def _controller_uid(obj):
        for ref in _meta(obj).get("ownerReferences") or []:
            if ref.get("controller"):
                return ref.get("uid")
        return None

    def _owned(self, group, resource, ns, owner, kind=None, member=None):
        """Objects whose controller is owner. With kind, orphans (no
        controller reference, not being deleted) that match the owner's
        selector -- and `member(obj)` if given -- are adopted first, as the
        real controllers do: a restore creates pods and ReplicaSets without
        ownerReferences before their owners."""
        uid = _meta(owner)["uid"]
        selector = (owner.get("spec") or {}).get("selector")
        out = []
        for o in self.store.list(group, "v1", resource, ns):
            cuid = self._controller_uid(o)
            if cuid == uid:
                out.append(o)
            elif cuid is None and kind and selector and \
                    not _meta(o).get("deletionTimestamp") and \
                    selector_matches(selector, _meta(o).get("labels") or {}) and \
                    (member is None or member(o)):
                o = copy.deepcopy(o)
                _meta(o).setdefault("ownerReferences", []).append(self._owner_ref(owner, kind))
                out.append(self.store.update(group, "v1", resource, ns, o))
        return out

    @staticmethod
    def _pod_ready(pod):
        st = pod.get("status") or {}
        if st.get("phase") != "Running" or _meta(pod).get("deletionTimestamp"):
            return False
        return any(c.get("type") == "Ready" and c.get("status") == "True"
                   for c in st.get("conditions") or [])

    def _sync_statefulset(self, ns, name):
        s = self.store
        sts = s.get("apps", "v1", "statefulsets", ns, name)
        if sts is None or _meta(sts).get("deletionTimestamp"):
            return
        spec = sts.get("spec") or {}
        replicas = spec.get("replicas", 1)
        if replicas is None:
            replicas = 1
        ordered = spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        tpl = spec.get("template") or {}
        revision = "%s-%s" % (name, _safe_hash(json.dumps(tpl, sort_keys=True)))
        selector = (spec.get("selector") or {}).get("matchLabels") or {}
        retention = (spec.get("persistentVolumeClaimRetentionPolicy") or {}).get("whenDeleted")
        pods = {_meta(p)["name"]: p for p in self._owned(
            "", "pods", ns, sts, "StatefulSet",
            lambda p: self._ordinal(name, _meta(p)["name"]) is not None)}
        for i in range(replicas):
            for vct in spec.get("volumeClaimTemplates") or []:
                self._ensure_claim(sts, vct, i, selector, retention == "Delete")
            pname = "%s-%d" % (name, i)
            pod = pods.get(pname)
            if pod is None:
                if s.get("", "v1", "pods", ns, pname) is not None:
                    break       # a stranger (or the old pod, terminating) has the name
                self._create("", "pods", ns, self._sts_pod(sts, i, revision))
                if ordered:
                    break
            elif (pod.get("status") or {}).get("phase") in ("Failed", "Succeeded") \
                    and not _meta(pod).get("deletionTimestamp"):
                # A finished pod is replaced, as the StatefulSet controller does.
                self._delete("", "pods", ns, pname)
                break
            elif ordered and not self._pod_ready(pod):
                break
        # Scale down, highest ordinal first.
        extra = sorted((p for n, p in pods.items()
                        if self._ordinal(name, n) is not None and self._ordinal(name, n) >= replicas),
                       key=lambda p: -self._ordinal(name, _meta(p)["name"]))
        for p in extra[:1] if ordered else extra:
            self._delete("", "pods", ns, _meta(p)["name"])
        pods = [p for p in self._owned("", "pods", ns, sts) if not _meta(p).get("deletionTimestamp")]
        ready = sum(1 for p in pods if self._pod_ready(p))
        status = dict(sts.get("status") or {})
        status.update({
            "observedGeneration": _meta(sts).get("generation", 1),
            "replicas": len(pods),
            "readyReplicas": ready,
            "currentReplicas": len(pods),
            "updatedReplicas": len(pods),
            "availableReplicas": ready,
            "currentRevision": revision,
            "updateRevision": revision,
            "collisionCount": status.get("collisionCount", 0),
        })
        self._update_status("apps", "statefulsets", sts, status)

    @staticmethod
    def _ordinal(sts_name, pod_name):
        prefix = sts_name + "-"
        if pod_name.startswith(prefix) and pod_name[len(prefix):].isdigit():
            return int(pod_name[len(prefix):])
        return None

    def _ensure_claim(self, sts, vct, i, selector, owned):
        ns = _meta(sts).get("namespace")
        vm = vct.get("metadata") or {}
        cname = "%s-%s-%d" % (vm.get("name"), _meta(sts)["name"], i)
        if self.store.get("", "v1", "persistentvolumeclaims", ns, cname) is not None:
            return
        labels = dict(vm.get("labels") or {})
        labels.update(selector)
        meta = {"name": cname, "namespace": ns, "labels": labels}
        if vm.get("annotations"):
            meta["annotations"] = dict(vm["annotations"])
        if owned:
            meta["ownerReferences"] = [self._owner_ref(sts, "StatefulSet")]
        self._create("", "persistentvolumeclaims", ns, {
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": meta, "spec": copy.deepcopy(vct.get("spec") or {})})

    def _sts_pod(self, sts, i, revision):
        m = _meta(sts)
        spec = sts.get("spec") or {}
        tpl = copy.deepcopy(spec.get("template") or {})
        tm = tpl.get("metadata") or {}
        name = "%s-%d" % (m["name"], i)
        labels = dict(tm.get("labels") or {})
        labels.update({"statefulset.kubernetes.io/pod-name": name,
                       "apps.kubernetes.io/pod-index": str(i),
                       "controller-revision-hash": revision})
        meta = {"name": name, "namespace": m.get("namespace"), "labels": labels,
                "ownerReferences": [self._owner_ref(sts, "StatefulSet")]}
        if tm.get("annotations"):
            meta["annotations"] = dict(tm["annotations"])
        pspec = tpl.get("spec") or {}
        pspec["hostname"] = name
        if spec.get("serviceName"):
            pspec["subdomain"] = spec["serviceName"]
        vols = [v for v in pspec.get("volumes") or []]
        for vct in spec.get("volumeClaimTemplates") or []:
            vname = (vct.get("metadata") or {}).get("name")
            vols = [v for v in vols if v.get("name") != vname]
            vols.append({"name": vname, "persistentVolumeClaim": {
                "claimName": "%s-%s-%d" % (vname, m["name"], i)}})
        if vols:
            pspec["volumes"] = vols
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": pspec}

    def _sync_deployment(self, ns, name):
        s = self.store
        d = s.get("apps", "v1", "deployments", ns, name)
        if d is None or _meta(d).get("deletionTimestamp"):
            return
        spec = d.get("spec") or {}
        replicas = spec.get("replicas", 1)
        if replicas is None:
            replicas = 1
        tpl = spec.get("template") or {}
        h = _safe_hash(json.dumps(tpl, sort_keys=True))
        rsname = "%s-%s" % (name, h)
        owned = self._owned("apps", "replicasets", ns, d, "Deployment")
        revs = [int((_meta(r).get("annotations") or {}).get("deployment.kubernetes.io/revision", "0") or 0)
                for r in owned]
        # The new ReplicaSet is the one with the Deployment's template (its
        # pod-template-hash label aside), whatever its name: a restored one
        # carries the hash of the cluster it came from.
        new = next((r for r in owned if _same_template(
            (r.get("spec") or {}).get("template") or {}, tpl)), None)
        if new is None:
            tpl2 = copy.deepcopy(tpl)
            tm = tpl2.setdefault("metadata", {})
            tm.setdefault("labels", {})["pod-template-hash"] = h
            sel = copy.deepcopy(spec.get("selector") or {})
            sel.setdefault("matchLabels", {})["pod-template-hash"] = h
            self._create("apps", "replicasets", ns, {
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": rsname, "namespace": ns,
                             "labels": dict(tm["labels"]),
                             "annotations": {
                                 "deployment.kubernetes.io/revision": str(max(revs + [0]) + 1),
                                 "deployment.kubernetes.io/desired-replicas": str(replicas),
                             },
                             "ownerReferences": [self._owner_ref(d, "Deployment")]},
                "spec": {"replicas": replicas, "selector": sel, "template": tpl2},
            })
            return      # the ReplicaSet's events bring us back
        for rs in owned:
            want = replicas if rs is new else 0
            if (rs.get("spec") or {}).get("replicas") != want:
                rs = copy.deepcopy(rs)
                rs["spec"]["replicas"] = want
                s.update("apps", "v1", "replicasets", ns, rs)
        total = sum((r.get("status") or {}).get("replicas", 0) for r in owned)
        nst = new.get("status") or {}
        updated = nst.get("replicas", 0)
        ready = sum((r.get("status") or {}).get("readyReplicas", 0) for r in owned)
        available = sum((r.get("status") or {}).get("availableReplicas", 0) for r in owned)
        old = d.get("status") or {}
        done = updated == replicas and total == replicas and available >= replicas
        now = _now()

        def cond(ctype, status, reason, message):
            for c in old.get("conditions") or []:
                if c.get("type") == ctype and c.get("status") == status and c.get("reason") == reason:
                    return c
            return {"type": ctype, "status": status, "reason": reason, "message": message,
                    "lastUpdateTime": now, "lastTransitionTime": now}
        status = {
            "observedGeneration": _meta(d).get("generation", 1),
            "replicas": total,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": available,
            "conditions": [
                cond("Available", "True" if available >= replicas else "False",
                     "MinimumReplicasAvailable" if available >= replicas else "MinimumReplicasUnavailable",
                     "Deployment has minimum availability." if available >= replicas
                     else "Deployment does not have minimum availability."),
                cond("Progressing", "True",
                     "NewReplicaSetAvailable" if done else "ReplicaSetUpdated",
                     ('ReplicaSet "%s" has successfully progressed.' if done
                      else 'ReplicaSet "%s" is progressing.') % _meta(new)["name"]),
            ],
        }
        if total - available > 0:
            status["unavailableReplicas"] = total - available
        for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"):
            if not status[k]:
                del status[k]
        self._update_status("apps", "deployments", d, status)

    def _sync_replicaset(self, ns, name):
        s = self.store
        rs = s.get("apps", "v1", "replicasets", ns, name)
        if rs is None or _meta(rs).get("deletionTimestamp"):
            return
        spec = rs.get("spec") or {}
        replicas = spec.get("replicas", 1)
        if replicas is None:
            replicas = 1
        pods = [p for p in self._owned("", "pods", ns, rs, "ReplicaSet")
                if not _meta(p).get("deletionTimestamp")
                and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        tpl = spec.get("template") or {}
        for _ in range(replicas - len(pods)):
            tm = tpl.get("metadata") or {}
            suffix = _safe_hash("%s%s%f" % (name, os.urandom(8).hex(), time.time()), 5)
            meta = {"name": "%s-%s" % (name, suffix), "namespace": ns,
                    "labels": dict(tm.get("labels") or {}),
                    "ownerReferences": [self._owner_ref(rs, "ReplicaSet")]}
            if tm.get("annotations"):
                meta["annotations"] = dict(tm["annotations"])
            self._create("", "pods", ns, {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
                                          "spec": copy.deepcopy(tpl.get("spec") or {})})
        if len(pods) > replicas:
            # Not-ready pods go first, then the youngest.
            victims = sorted(pods, key=lambda p: (self._pod_ready(p),
                                                  _meta(p).get("creationTimestamp", "")),
                             reverse=False)[:len(pods) - replicas]
            for p in victims:
                self._delete("", "pods", ns, _meta(p)["name"])
            pods = [p for p in pods if p not in victims]
        ready = sum(1 for p in pods if self._pod_ready(p))
        status = {"replicas": len(pods), "fullyLabeledReplicas": len(pods),
                  "readyReplicas": ready, "availableReplicas": ready,
                  "observedGeneration": _meta(rs).get("generation", 1)}
        for k in ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"):
            if not status[k]:
                del status[k]
        self._update_status("apps", "replicasets", rs, status)
        for ref in _meta(rs).get("ownerReferences") or []:
            if ref.get("kind") == "Deployment":
                self._enqueue(("deploy", ns, ref.get("name")))

    def _collect_garbage(self, ns):
        """Delete pods, ReplicaSets and claims whose controlling owner (a
        StatefulSet, ReplicaSet or Deployment) no longer exists -- the
        garbage collector's background propagation, for these kinds."""
        s = self.store
        owners = {}
        for res in ("statefulsets", "replicasets", "deployments"):
            for o in s.list("apps", "v1", res, ns):
                owners[_meta(o).get("uid")] = o
        kinds = {"StatefulSet", "ReplicaSet", "Deployment"}
        for group, res in (("", "pods"), ("apps", "replicasets"), ("", "persistentvolumeclaims")):
            for o in s.list(group, "v1", res, ns):
                for ref in _meta(o).get("ownerReferences") or []:
                    if ref.get("controller") and ref.get("kind") in kinds \
                            and ref.get("uid") not in owners:
                        self._delete(group, res, _meta(o).get("namespace"), _meta(o)["name"])
                        break

    # ------------------------------------------------------------ pods

    def _pick_node(self, pod):
        sel = (pod.get("spec") or {}).get("nodeSelector") or {}
        candidates = []
        for name in self.nodes:
            node = self.store.get("", "v1", "nodes", None, name)
            if node is None or (node.get("spec") or {}).get("unschedulable"):
                continue
            labels = _meta(node).get("labels") or {}
            if all(labels.get(k) == v for k, v in sel.items()):
                candidates.append(name)
        if not candidates:
            return None
        self._rr += 1
        return candidates[self._rr % len(candidates)]

    def _claims_ready(self, pod):
        """(True, None) when every PVC volume of the pod is bound, else
        (False, why)."""
        ns = _meta(pod).get("namespace")
        for vol in (pod.get("spec") or {}).get("volumes") or []:
            if "persistentVolumeClaim" not in vol:
                continue
            claim = (vol["persistentVolumeClaim"] or {}).get("claimName")
            pvc = self.store.get("", "v1", "persistentvolumeclaims", ns, claim)
            if pvc is None:
                return False, 'persistentvolumeclaim "%s" not found' % claim
            if (pvc.get("status") or {}).get("phase") != "Bound" or \
                    not (pvc.get("spec") or {}).get("volumeName"):
                return False, "pod has unbound immediate PersistentVolumeClaims"
        return True, None

    def _pod_ip(self, pod, node):
        h = hashlib.sha256(_meta(pod).get("uid", "").encode()).digest()
        try:
            i = self.nodes.index(node)
        except ValueError:
            i = 0
        return "127.%d.%d.%d" % (10 + i, h[0], 2 + h[1] % 250)

    def _sync_pod(self, ns, name):
        s = self.store
        pod = s.get("", "v1", "pods", ns, name)
        if pod is None:
            return
        m = _meta(pod)
        spec = pod.get("spec") or {}
        status = pod.get("status") or {}
        if m.get("deletionTimestamp"):
            # Graceful deletion: the kubelet stops the pod, then removes it.
            self._stop_pod(m.get("uid"))
            if not m.get("finalizers"):
                self._delete("", "pods", ns, name)
            return
        if status.get("phase") in ("Succeeded", "Failed"):
            return
        node = spec.get("nodeName")
        if not node:
            ok, why = self._claims_ready(pod)
            if ok:
                node = self._pick_node(pod)
                if node is None:
                    why = "0/%d nodes are available: %d node(s) didn't match Pod's node " \
                          "affinity/selector." % (len(self.nodes), len(self.nodes))
            if not ok or node is None:
                self._write_pod_status(pod, {
                    "phase": "Pending",
                    "conditions": self._conditions(status, [
                        ("PodScheduled", "False", "Unschedulable", why)]),
                    "qosClass": self._qos(spec)})
                return
            pod = copy.deepcopy(pod)
            pod["spec"]["nodeName"] = node
            s.update("", "v1", "pods", ns, pod)
            return          # the update's event brings us back
        if node not in self.nodes:
            return          # another (imaginary) kubelet's pod
        ok, why = self._claims_ready(pod)
        if not ok:
            return          # wait for the claims; their events bring us back
        self._materialise_volumes(pod)
        inits = spec.get("initContainers") or []
        results = self._init_results(pod)
        done = [c["name"] for c in inits if (results.get(c["name"]) or {}).get("exitCode") == 0]
        failed_hard = any(r.get("exitCode") not in (None, 0) and r.get("final")
                          for r in results.values())
        base = {"hostIP": self._node_ip(node), "hostIPs": [{"ip": self._node_ip(node)}],
                "podIP": status.get("podIP") or self._pod_ip(pod, node),
                "startTime": status.get("startTime") or _now(),
                "qosClass": self._qos(spec)}
        base["podIPs"] = [{"ip": base["podIP"]}]
        if failed_hard:
            st = dict(base, phase="Failed")
            st["conditions"] = self._conditions(status, [
                ("PodReadyToStartContainers", "True", None, None),
                ("Initialized", "False", "ContainersNotInitialized",
                 "containers with incomplete status: [%s]" % " ".join(
                     c["name"] for c in inits if c["name"] not in done)),
                ("Ready", "False", "PodFailed", None),
                ("ContainersReady", "False", "PodFailed", None),
                ("PodScheduled", "True", None, None)])
            st["initContainerStatuses"] = self._init_statuses(pod, inits, results)
            st["containerStatuses"] = self._container_statuses(pod, running=False)
            self._write_pod_status(pod, st)
            return
        if len(done) < len(inits):
            self._run_init_containers(pod)
            pending = [c["name"] for c in inits if c["name"] not in done]
            st = dict(base, phase="Pending")
            st["conditions"] = self._conditions(status, [
                ("PodReadyToStartContainers", "True", None, None),
                ("Initialized", "False", "ContainersNotInitialized",
                 "containers with incomplete status: [%s]" % " ".join(pending)),
                ("Ready", "False", "ContainersNotReady",
                 "containers with unready status: [%s]" % " ".join(
                     c["name"] for c in spec.get("containers") or [])),
                ("ContainersReady", "False", "ContainersNotReady",
                 "containers with unready status: [%s]" % " ".join(
                     c["name"] for c in spec.get("containers") or [])),
                ("PodScheduled", "True", None, None)])
            st["initContainerStatuses"] = self._init_statuses(pod, inits, results)
            st["containerStatuses"] = self._container_statuses(pod, running=False)
            self._write_pod_status(pod, st)
            return
        st = dict(base, phase="Running")
        st["conditions"] = self._conditions(status, [
            ("PodReadyToStartContainers", "True", None, None),
            ("Initialized", "True", None, None),
            ("Ready", "True", None, None),
            ("ContainersReady", "True", None, None),
            ("PodScheduled", "True", None, None)])
        if inits:
            st["initContainerStatuses"] = self._init_statuses(pod, inits, results)
        st["containerStatuses"] = self._container_statuses(pod, running=True)
        self._write_pod_status(pod, st)

    def _write_pod_status(self, pod, st):
        self._update_status("", "pods", pod, st)

    @staticmethod
    def _qos(spec):
        req = lim = False
        guaranteed = True
        for c in spec.get("containers") or []:
            r = (c.get("resources") or {})
            rq, lm = r.get("requests") or {}, r.get("limits") or {}
            req = req or bool(rq)
            lim = lim or bool(lm)
            for res in ("cpu", "memory"):
                if res not in lm or (res in rq and rq[res] != lm[res]):
                    guaranteed = False
        if not req and not lim:
            return "BestEffort"
        return "Guaranteed" if guaranteed else "Burstable"

    @staticmethod
    def _conditions(old_status, wanted):
        """Pod conditions, keeping lastTransitionTime where status is unchanged."""
        old = {c.get("type"): c for c in old_status.get("conditions") or []}
        out = []
        for ctype, status, reason, message in wanted:
            prev = old.get(ctype)
            c = {"type": ctype, "status": status,
                 "lastProbeTime": None,
                 "lastTransitionTime": prev["lastTransitionTime"]
                 if prev and prev.get("status") == status and prev.get("lastTransitionTime")
                 else _now()}
            if reason:
                c["reason"] = reason
            if message:
                c["message"] = message
            out.append(c)
        return out

    @staticmethod
    def _container_id(pod, name):
        return "kubesim://" + hashlib.sha256(
            ("%s/%s" % (_meta(pod).get("uid"), name)).encode()).hexdigest()

    @staticmethod
    def _image_id(image):
        return "kubesim://" + (image or "") + "@sha256:" + hashlib.sha256(
            (image or "").encode()).hexdigest()

    def _container_statuses(self, pod, running):
        old = {c.get("name"): c for c in (pod.get("status") or {}).get("containerStatuses") or []}
        out = []
        for c in (pod.get("spec") or {}).get("containers") or []:
            prev = old.get(c["name"]) or {}
            cs = {"name": c["name"], "image": c.get("image", ""),
                  "imageID": self._image_id(c.get("image")) if running else "",
                  "ready": running, "restartCount": 0, "started": running}
            if running:
                started = ((prev.get("state") or {}).get("running") or {}).get("startedAt") or _now()
                cs["containerID"] = self._container_id(pod, c["name"])
                cs["state"] = {"running": {"startedAt": started}}
            else:
                cs["state"] = {"waiting": {"reason": "PodInitializing"}}
            cs["lastState"] = {}
            out.append(cs)
        return out

    def _init_statuses(self, pod, inits, results):
        out = []
        blocked = False
        for c in inits:
            r = results.get(c["name"]) or {}
            cs = {"name": c["name"], "image": c.get("image", ""), "imageID": "",
                  "ready": False, "restartCount": r.get("restartCount", 0),
                  "started": False, "lastState": {}}
            if r.get("exitCode") == 0 and not blocked:
                cs.update(ready=True, imageID=self._image_id(c.get("image")),
                          containerID=self._container_id(pod, c["name"]),
                          state={"terminated": {"exitCode": 0, "reason": "Completed",
                                                "startedAt": r.get("startedAt"),
                                                "finishedAt": r.get("finishedAt"),
                                                "containerID": self._container_id(pod, c["name"])}})
            elif r.get("running") and not blocked:
                blocked = True
                cs.update(started=True, imageID=self._image_id(c.get("image")),
                          containerID=self._container_id(pod, c["name"]),
                          state={"running": {"startedAt": r.get("startedAt")}})
                if r.get("lastExitCode") is not None:
                    cs["lastState"] = {"terminated": {"exitCode": r["lastExitCode"],
                                                      "reason": "Error"}}
            elif r.get("exitCode") not in (None, 0) and not blocked:
                blocked = True
                term = {"exitCode": r["exitCode"], "reason": "Error",
                        "startedAt": r.get("startedAt"), "finishedAt": r.get("finishedAt"),
                        "containerID": self._container_id(pod, c["name"])}
                if r.get("final"):
                    cs["state"] = {"terminated": term}
                else:
                    cs["state"] = {"waiting": {"reason": "CrashLoopBackOff",
                                               "message": "back-off restarting failed container"}}
                    cs["lastState"] = {"terminated": term}
            else:
                blocked = True
                cs["state"] = {"waiting": {"reason": "PodInitializing"}}
            out.append(cs)
        return out

    # ------------------------------------------------------------ init containers

    def _is_helper(self, image):
        image = image or ""
        return any(p in image for p in self.helper_images)

    def _init_results(self, pod):
        """Results of init containers: this process's own runs, else what the
        pod's status says (completed ones are not run again after a restart)."""
        uid = _meta(pod).get("uid")
        with self._init_lock:
            mine = copy.deepcopy(self._init_state.get(uid))
        if mine is not None:
            return mine
        return self._results_from_status(pod)

    def _run_init_containers(self, pod):
        uid = _meta(pod).get("uid")
        with self._init_lock:
            t = self._init_threads.get(uid)
            if t is not None and t.is_alive():
                return
            if uid not in self._init_state:
                self._init_state[uid] = self._results_from_status(pod)
            t = threading.Thread(target=self._init_runner, args=(copy.deepcopy(pod),),
                                 name="kubesim-init-" + uid[:8], daemon=True)
            self._init_threads[uid] = t
        t.start()

    @staticmethod
    def _results_from_status(pod):
        out = {}
        for cs in (pod.get("status") or {}).get("initContainerStatuses") or []:
            term = (cs.get("state") or {}).get("terminated") or {}
            if term.get("exitCode") == 0:
                out[cs.get("name")] = {"exitCode": 0, "startedAt": term.get("startedAt"),
                                       "finishedAt": term.get("finishedAt"),
                                       "restartCount": cs.get("restartCount", 0)}
        return out

    def _set_result(self, uid, name, **fields):
        with self._init_lock:
            r = self._init_state.setdefault(uid, {}).setdefault(name, {})
            r.update(fields)

    def _init_runner(self, pod):
        m = _meta(pod)
        uid, ns, name = m.get("uid"), m.get("namespace"), m.get("name")
        spec = pod.get("spec") or {}
        never = spec.get("restartPolicy") == "Never"
        for c in spec.get("initContainers") or []:
            cname = c.get("name")
            backoff = 1.0
            while True:
                with self._init_lock:
                    if uid in self._dead_uids:
                        return
                    r = dict(self._init_state.get(uid, {}).get(cname) or {})
                if r.get("exitCode") == 0:
                    break
                self._set_result(uid, cname, running=True, startedAt=_now(),
                                 lastExitCode=r.get("exitCode"), exitCode=None)
                self._enqueue(("pod", ns, name))
                if self._is_helper(c.get("image")):
                    # Re-read the pod: the status now has its IPs, for env.
                    fresh = self.store.get("", "v1", "pods", ns, name) or pod
                    rc = self._run_process(fresh, c)
                else:
                    rc = 0
                if rc is None:
                    return      # the pod went away
                self._set_result(uid, cname, running=False, exitCode=rc, finishedAt=_now(),
                                 final=never and rc != 0,
                                 restartCount=r.get("restartCount", 0) + (1 if rc else 0))
                self._enqueue(("pod", ns, name))
                if rc == 0:
                    break
                if never:
                    return
                time.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    def _run_process(self, pod, c):
        """Run an init container's command+args locally; its exit code, or
        None if the pod was deleted meanwhile."""
        m = _meta(pod)
        uid = m.get("uid")
        cname = c.get("name")
        argv = list(c.get("command") or []) + list(c.get("args") or [])
        if argv and argv[0] in self.command_map:
            repl = self.command_map[argv[0]]
            argv = (list(repl) if isinstance(repl, list) else [repl]) + argv[1:]
        elif argv and os.path.basename(argv[0]) == "velero-restore-helper" \
                and not os.access(argv[0], os.X_OK):
            argv = [sys.executable, "-c", RESTORE_HELPER] + argv[1:]
        logdir = os.path.join(self.host_root, "logs", "%s_%s_%s" % (m.get("namespace"),
                                                                   m.get("name"), uid), cname)
        os.makedirs(logdir, exist_ok=True)
        if not argv:
            self._log("pod %s/%s init container %s: no command, treated as done"
                      % (m.get("namespace"), m.get("name"), cname))
            return 0
        workdir = container_workdir(self.host_root, pod, cname)
        env = process_env(self.store, pod, cname, self.host_root)
        try:
            with open(os.path.join(logdir, "0.log"), "ab") as log:
                p = subprocess.Popen(argv, cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=log, start_new_session=True)
        except OSError as e:
            self._log("pod %s/%s init container %s: %s" % (m.get("namespace"), m.get("name"),
                                                           cname, e))
            return 127 if isinstance(e, FileNotFoundError) else 126
        with self._init_lock:
            if uid in self._dead_uids:
                self._killpg(p)
                return None
            self._init_procs[uid] = p
        rc = p.wait()
        with self._init_lock:
            self._init_procs.pop(uid, None)
            if uid in self._dead_uids:
                return None
        return 128 - rc if rc < 0 else rc

    @staticmethod
    def _killpg(p):
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass

    def _stop_pod(self, uid):
        with self._init_lock:
            self._dead_uids.add(uid)
            p = self._init_procs.pop(uid, None)
        if p is not None:
            self._killpg(p)

    def _pod_gone(self, pod):
        uid = _meta(pod).get("uid")
        if not uid or "/" in uid or uid in (".", ".."):
            return
        if not _meta(pod).get("name"):
            # Found by the resync as a directory without a pod: the pod may
            # have been created since that listing. Only this thread creates
            # pod directories, so a check here is final.
            if any(_meta(p).get("uid") == uid for p in self.store.list("", "v1", "pods")):
                return
        self._stop_pod(uid)
        with self._init_lock:
            self._init_state.pop(uid, None)
            self._init_threads.pop(uid, None)
        # rmtree does not follow symlinks: the links to PV data go, the data stays.
        shutil.rmtree(os.path.join(self.host_root, "pods", uid), ignore_errors=True)
        shutil.rmtree(os.path.join(self.host_root, "containers", uid), ignore_errors=True)
        m = _meta(pod)
        if m.get("name"):
            shutil.rmtree(os.path.join(self.host_root, "logs", "%s_%s_%s" % (
                m.get("namespace"), m.get("name"), uid)), ignore_errors=True)

    # ------------------------------------------------------------ volume directories

    def _materialise_volumes(self, pod):
        """Create HOST_ROOT/pods/<uid>/volumes/<plugin>/<name> for each volume,
        as a kubelet mounts them: PVC volumes link to the PV's data
        directory, configMap/secret volumes get their keys as files."""
        s = self.store
        m = _meta(pod)
        uid, ns = m.get("uid"), m.get("namespace")
        if not uid or "/" in uid:
            return
        base = os.path.join(self.host_root, "pods", uid, "volumes")
        os.makedirs(base, exist_ok=True)
        for vol in (pod.get("spec") or {}).get("volumes") or []:
            name = vol.get("name")
            if not name or "/" in name or name in (".", ".."):
                continue
            if "persistentVolumeClaim" in vol:
                claim = (vol["persistentVolumeClaim"] or {}).get("claimName")
                pvc = s.get("", "v1", "persistentvolumeclaims", ns, claim)
                pvname = ((pvc or {}).get("spec") or {}).get("volumeName")
                pv = s.get("", "v1", "persistentvolumes", None, pvname) if pvname else None
                if pv is not None:
                    self._mount_pv(base, pv)
                continue
            if "hostPath" in vol:
                continue
            path = os.path.join(base, _plugin_for(vol), name)
            os.makedirs(path, exist_ok=True)
            if "configMap" in vol:
                src = vol["configMap"] or {}
                obj = s.get("", "v1", "configmaps", ns, src.get("name"))
                _project_keys(path, _object_entries(obj, binary=False), src.get("items"))
            elif "secret" in vol:
                src = vol["secret"] or {}
                obj = s.get("", "v1", "secrets", ns, src.get("secretName"))
                _project_keys(path, _object_entries(obj, binary=True), src.get("items"))
            elif "projected" in vol:
                for src in (vol["projected"] or {}).get("sources") or []:
                    if src.get("configMap"):
                        obj = s.get("", "v1", "configmaps", ns, src["configMap"].get("name"))
                        _project_keys(path, _object_entries(obj, binary=False),
                                      src["configMap"].get("items"))
                    elif src.get("secret"):
                        obj = s.get("", "v1", "secrets", ns, src["secret"].get("name"))
                        _project_keys(path, _object_entries(obj, binary=True),
                                      src["secret"].get("items"))
                    elif src.get("serviceAccountToken"):
                        _project_keys(path, {src["serviceAccountToken"].get("path", "token"):
                                             b"kubesim-token"}, None)

    def _mount_pv(self, base, pv):
        plugin, rel = _pv_plugin(pv)
        if plugin is None:
            return
        target = pv_data_dir(self.host_root, pv)
        mount = os.path.join(base, plugin, rel)
        os.makedirs(os.path.dirname(mount), exist_ok=True)
        if plugin == "kubernetes.io~csi":
            csi = (pv.get("spec") or {}).get("csi") or {}
            _write_if_changed(os.path.join(os.path.dirname(mount), "vol_data.json"), json.dumps({
                "attachmentID": "",
                "driverName": csi.get("driver", ""),
                "nodeName": "",
                "specVolID": _meta(pv).get("name"),
                "volumeHandle": csi.get("volumeHandle", ""),
                "volumeLifecycleMode": "Persistent",
            }, sort_keys=True).encode())
        if target is None:
            os.makedirs(mount, exist_ok=True)     # a driver we do not emulate
            return
        if _inside(os.path.join(self.host_root, "volumes"), target):
            os.makedirs(target, exist_ok=True)
        if os.path.islink(mount):
            if os.readlink(mount) == target:
                return
            os.unlink(mount)
        elif os.path.isdir(mount):
            try:
                os.rmdir(mount)
            except OSError:
                return              # not empty: leave it, never lose data
        os.symlink(target, mount)

"""The object store: every object kubesim serves, one resourceVersion counter,
the watch history, watchers and listeners, and optional persistence.

Objects are kept as plain dicts and never mutated once stored: every write
puts a new dict, so history entries and watch queues can share them. Callers
outside get deep copies.

Internal API (used by kubelet.py / execsvc.py, see docs/kubesim.md):

    get(group, version, resource, namespace, name) -> dict | None
    list(group, version, resource, namespace=None) -> list
    create(group, version, resource, namespace, obj) -> dict
    update(group, version, resource, namespace, obj, subresource=None) -> dict
    delete(group, version, resource, namespace, name) -> dict | None
    add_listener(fn)   fn(type, group, version, resource, obj), after commit,
                       outside the lock, in commit order (a dispatcher thread)
"""

import base64
import collections
import copy
import datetime
import json
import os
import queue
import random
import re
import sys
import threading
import time
import uuid

from . import errors, schema
from .errors import ApiError
from .resources import Registry, crd_types

CRD_KEY = ("apiextensions.k8s.io", "customresourcedefinitions")
NS_KEY = ("", "namespaces")
INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
# PUT of a missing object creates it for these (AllowCreateOnUpdate).
CREATE_ON_UPDATE = {("", "events"), ("", "endpoints"), ("discovery.k8s.io", "endpointslices")}

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
NS_CLEANUP_DELAY = 0.5
GENERATION_KINDS = {("", "replicationcontrollers"), ("policy", "poddisruptionbudgets"),
                    ("autoscaling", "horizontalpodautoscalers"), ("networking.k8s.io", "ingresses"),
                    ("networking.k8s.io", "networkpolicies"), ("networking.k8s.io", "ingressclasses"),
                    CRD_KEY}
_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                        r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_GEN_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def log(msg, *args):
    sys.stderr.write("kubesim: " + (msg % args if args else msg) + "\n")
    sys.stderr.flush()


class Watcher:
    """One watch stream's queue. Items: ("EVENT", type, obj) | ("BOOKMARK", rv)
    | ("CLOSE", abrupt)."""

    def __init__(self, group, version, resource, filt):
        self.group, self.version, self.resource = group, version, resource
        self.filter = filt
        self.q = queue.Queue()

    def offer(self, etype, obj, old):
        """Queue an event if it concerns this watch; an object that starts or
        stops matching the selectors is seen as ADDED or DELETED."""
        now_in = self.filter(obj)
        was_in = old is not None and self.filter(old)
        if etype == "MODIFIED":
            if now_in and not was_in:
                etype = "ADDED"
            elif was_in and not now_in:
                etype = "DELETED"
            elif not now_in:
                return
        elif etype == "ADDED" and not now_in:
            return
        elif etype == "DELETED" and not (now_in or was_in):
            return
        self.q.put(("EVENT", etype, obj))


class Store:
    def __init__(self, persist=None, history_max=20000):
        self.lock = threading.RLock()
        self.registry = Registry()
        self.objects = collections.defaultdict(dict)   # (group, resource) -> {(ns, name): obj}
        self.owner_index = collections.defaultdict(set)  # owner uid -> {(g, r, ns, name)}
        self.rv = 0
        self.history = collections.deque()   # (rv, type, group, resource, obj, old)
        self.history_max = history_max
        self.history_floor = 0                # watches from rv < floor get 410
        self.watchers = set()
        self.listeners = []
        self.snapshots = collections.OrderedDict()  # list snapshots for continue
        self.ip_counter = 10
        self.persist = persist
        self._events = queue.Queue()
        self._dirty = threading.Event()
        self._ns_wake = threading.Event()
        self._ns_seen = {}        # terminating namespace -> when first seen
        self._save_lock = threading.Lock()
        self._stopping = False
        threading.Thread(target=self._dispatch_loop, name="listeners", daemon=True).start()
        if persist and os.path.exists(persist):
            self._load(persist)
        else:
            for ns in INITIAL_NAMESPACES:
                self.create("", "v1", "namespaces", None,
                            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        threading.Thread(target=self._namespace_loop, name="namespaces", daemon=True).start()
        if persist:
            threading.Thread(target=self._persist_loop, name="persist", daemon=True).start()

    # ------------------------------------------------------------ helpers

    def _type(self, group, version, resource):
        rt = self.registry.lookup(group, version, resource)
        if rt is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource",
                           {"group": group, "kind": resource})
        return rt

    def _out(self, rt, obj):
        """A deep copy of a stored object as seen through rt's version."""
        out = copy.deepcopy(obj)
        out["apiVersion"] = rt.api_version
        return out

    def _next_rv(self):
        self.rv += 1
        return self.rv

    def _ns(self, rt, namespace, obj=None):
        if not rt.namespaced:
            return ""
        md_ns = (obj or {}).get("metadata", {}).get("namespace")
        if namespace and md_ns and md_ns != namespace:
            raise errors.bad_request("the namespace of the provided object does not match "
                                     "the namespace sent on the request")
        ns = namespace or md_ns
        if not ns:
            raise errors.bad_request("a namespace is required for %s" % rt.resource)
        return ns

    def _commit(self, etype, rt, key, obj, old):
        """Record a change (under the lock): store, history, watchers, listeners."""
        table = self.objects[(rt.group, rt.resource)]
        if old is not None:
            self._index_owners(rt, old, remove=True)
        if etype == "DELETED":
            table.pop(key, None)
        else:
            table[key] = obj
            self._index_owners(rt, obj)
        rv = int(obj["metadata"]["resourceVersion"])
        self.history.append((rv, etype, rt.group, rt.resource, obj, old))
        while len(self.history) > self.history_max:
            self.history_floor = self.history.popleft()[0]
        for w in list(self.watchers):
            if w.group == rt.group and w.resource == rt.resource:
                w.offer(etype, self._versioned(w.version, obj),
                        None if old is None else self._versioned(w.version, old))
        if self.listeners:
            self._events.put((etype, rt.group, rt.version, rt.resource, obj))
        self._dirty.set()
        if rt.resource == "namespaces" or obj["metadata"].get("namespace"):
            self._ns_wake.set()

    def _versioned(self, version, obj):
        api = obj.get("apiVersion", "")
        if "/" in api:
            g = api.split("/")[0]
            want = "%s/%s" % (g, version)
        else:
            want = version
        if api == want:
            return obj
        out = dict(obj)
        out["apiVersion"] = want
        return out

    def _index_owners(self, rt, obj, remove=False):
        md = obj["metadata"]
        for ref in md.get("ownerReferences") or []:
            uid = ref.get("uid")
            if not uid:
                continue
            entry = (rt.group, rt.resource, md.get("namespace", ""), md["name"])
            if remove:
                self.owner_index[uid].discard(entry)
                if not self.owner_index[uid]:
                    del self.owner_index[uid]
            else:
                self.owner_index[uid].add(entry)

    # ------------------------------------------------------------ reads

    def get(self, group, version, resource, namespace, name):
        with self.lock:
            rt = self._type(group, version, resource)
            obj = self.objects[(group, resource)].get(((namespace or "") if rt.namespaced else "", name))
            return None if obj is None else self._out(rt, obj)

    def list(self, group, version, resource, namespace=None):
        with self.lock:
            rt = self._type(group, version, resource)
            items = self._sorted(rt, lambda o: not namespace or
                                 o["metadata"].get("namespace") == namespace)
            return [self._out(rt, o) for o in items]

    def _sorted(self, rt, pred):
        table = self.objects[(rt.group, rt.resource)]
        return [table[k] for k in sorted(table) if pred(table[k])]

    def _state_at(self, rt, rv):
        """{key: obj} of rt as it was at resourceVersion rv (undoing history)."""
        if rv < self.history_floor:
            raise errors.gone("too old resource version: %d (%d)" % (rv, self.history_floor + 1))
        table = dict(self.objects[(rt.group, rt.resource)])
        for (erv, etype, g, r, obj, old) in reversed(self.history):
            if erv <= rv:
                break
            if g != rt.group or r != rt.resource:
                continue
            key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            if etype == "ADDED":
                table.pop(key, None)
            else:
                table[key] = old
        return table

    def list_page(self, group, version, resource, filt, limit=0, cont=None,
                  resource_version=None, match=None):
        """A list (or one page of it): (items, resourceVersion, continue, remaining).

        resource_version/match as in the API: unset, "0" or NotOlderThan give
        the current state (a version newer than the current one is a 504
        "Too large resource version"); Exact gives the state at that version
        (410 if the history no longer has it)."""
        with self.lock:
            rt = self._type(group, version, resource)
            want = None
            if resource_version not in (None, "", "0") and not cont:
                try:
                    want = int(resource_version)
                except ValueError:
                    raise errors.bad_request("invalid resource version: %s" % resource_version)
                if want > self.rv:
                    raise ApiError(504, "Timeout", "Too large resource version: %d, current: %d"
                                   % (want, self.rv), {"causes": [{
                                       "reason": "ResourceVersionTooLarge",
                                       "message": "Too large resource version"}],
                                       "retryAfterSeconds": 1})
            if match == "Exact" and want is not None and want != self.rv:
                state = self._state_at(rt, want)
                items = [state[k] for k in sorted(state) if filt(state[k])]
                rv, offset, snap_id = want, 0, None
            elif cont:
                try:
                    tok = json.loads(base64.urlsafe_b64decode(cont.encode()).decode())
                    snap_id, offset, rv = tok["id"], int(tok["off"]), int(tok["rv"])
                    if tok.get("r") != "%s/%s" % (group, resource):
                        raise ValueError("another resource's token")
                except Exception:
                    raise errors.bad_request("continue key is not valid: illegal base64 data")
                snap = self.snapshots.get(snap_id)
                if snap is None or rv < self.history_floor:
                    raise ApiError(410, "Expired",
                                   "The provided continue parameter is too old to display a "
                                   "consistent list result. You can start a new list without "
                                   "the continue parameter.")
                items = snap
            else:
                items = self._sorted(rt, filt)
                rv, offset, snap_id = self.rv, 0, None
            if limit and offset + limit < len(items):
                if snap_id is None:
                    snap_id = uuid.uuid4().hex
                    self.snapshots[snap_id] = items
                    while len(self.snapshots) > 64:
                        self.snapshots.popitem(last=False)
                page = items[offset:offset + limit]
                tok = {"id": snap_id, "off": offset + limit, "rv": rv,
                       "r": "%s/%s" % (group, resource)}
                nxt = base64.urlsafe_b64encode(json.dumps(tok).encode()).decode()
                remaining = len(items) - offset - limit
            else:
                page, nxt, remaining = items[offset:], "", None
            return [self._out(rt, o) for o in page], str(rv), nxt, remaining

    # ------------------------------------------------------------ create

    def create(self, group, version, resource, namespace, obj, dry_run=False,
               field_validation=None, warnings=None):
        with self.lock:
            rt = self._type(group, version, resource)
            obj = copy.deepcopy(obj)
            if not isinstance(obj, dict):
                raise errors.bad_request("the body of the request was in an unknown format")
            md = obj.get("metadata")
            if not isinstance(md, dict):
                md = obj["metadata"] = {}
            ns = self._ns(rt, namespace, obj)
            if rt.namespaced:
                nsobj = self.objects[NS_KEY].get(("", ns))
                if nsobj is None:
                    raise errors.not_found("", "namespaces", ns)
                if nsobj["metadata"].get("deletionTimestamp"):
                    raise ApiError(403, "Forbidden",
                                   '%s "%s" is forbidden: unable to create new content in '
                                   'namespace %s because it is being terminated'
                                   % (rt.resource, md.get("name") or md.get("generateName", ""),
                                      ns, ), {"name": md.get("name", ""), "group": rt.group,
                                              "kind": rt.resource,
                                              "causes": [{"reason": "NamespaceTerminating"}]})
                md["namespace"] = ns
            else:
                md.pop("namespace", None)
            table = self.objects[(rt.group, rt.resource)]
            if not md.get("name"):
                gen = md.get("generateName")
                if not gen:
                    raise errors.invalid(rt.group, rt.kind, "", [
                        ("metadata.name", "Required value: name or generateName is required")])
                for _ in range(20):
                    cand = gen + "".join(random.choice(_GEN_ALPHABET) for _ in range(5))
                    if (ns, cand) not in table:
                        break
                md["name"] = cand
            name = md["name"]
            self._validate_name(rt, name)
            if (ns, name) in table:
                raise errors.already_exists(rt.group, rt.resource, name)
            obj["apiVersion"] = "%s/%s" % (rt.group, self.registry.storage_version(
                rt.group, rt.resource)) if rt.group else "v1"
            obj["kind"] = rt.kind
            for k in ("deletionTimestamp", "deletionGracePeriodSeconds", "selfLink",
                      "managedFields"):
                md.pop(k, None)
            md["uid"] = str(uuid.uuid4())
            md["creationTimestamp"] = now_rfc3339()
            if self._has_generation(rt):
                md["generation"] = 1
            else:
                md.pop("generation", None)
            if rt.has_status:
                obj.pop("status", None)
            self._prepare_create(rt, obj)
            self._normalize(rt, obj)
            self._structural(rt, obj, field_validation, warnings)
            self._validate(rt, obj)
            if dry_run:
                md["resourceVersion"] = str(self.rv)
                return self._out(rt, obj)
            md["resourceVersion"] = str(self._next_rv())
            self._commit("ADDED", rt, (ns, name), obj, None)
            if (rt.group, rt.resource) == CRD_KEY:
                self._crd_changed(obj)
            return self._out(rt, obj)

    def _validate_name(self, rt, name):
        ok = True
        if rt.name_rule == "label":
            ok = len(name) <= 63 and _DNS_LABEL.match(name)
            what = "a lowercase RFC 1123 label must consist of lower case alphanumeric " \
                   "characters or '-', and must start and end with an alphanumeric character"
        elif rt.name_rule == "path":
            ok = name not in (".", "..") and "/" not in name and "%" not in name
            what = "may not contain '/' or '%'"
        else:
            ok = len(name) <= 253 and _DNS_SUBDOMAIN.match(name)
            what = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric " \
                   "characters, '-' or '.', and must start and end with an alphanumeric character"
        if not ok:
            raise errors.invalid(rt.group, rt.kind, name,
                                 [("metadata.name", 'Invalid value: "%s": %s' % (name, what))])

    def _structural(self, rt, obj, field_validation=None, warnings=None):
        """Prune, default and validate a custom resource by its CRD's schema.
        Unknown fields: an error with fieldValidation=Strict, a warning with
        Warn (the default), silently dropped with Ignore."""
        if rt.crd is None:
            return
        crd = self.objects[CRD_KEY].get(("", rt.crd))
        sch = schema.version_schema(crd, rt.version)
        if not sch:
            return
        pruned = []
        errs = schema.apply(obj, sch, pruned)
        pruned = [p.lstrip(".") for p in pruned]
        if pruned and field_validation == "Strict":
            raise ApiError(400, "BadRequest", '%s in version "%s" cannot be handled as a %s: '
                           'strict decoding error: %s' % (
                               rt.kind, rt.version, rt.kind,
                               ", ".join('unknown field "%s"' % p for p in pruned)))
        if pruned and field_validation in (None, "", "Warn") and warnings is not None:
            warnings.extend('unknown field "%s"' % p for p in pruned)
        if errs:
            raise errors.invalid(rt.group, rt.kind, obj["metadata"].get("name", ""), errs)

    def _validate(self, rt, obj):
        md = obj["metadata"]
        for field in ("labels", "annotations"):
            val = md.get(field)
            if val is None:
                continue
            if not isinstance(val, dict) or not all(isinstance(v, str) for v in val.values()):
                raise errors.invalid(rt.group, rt.kind, md.get("name", ""),
                                     [("metadata." + field, "Invalid value: must be a map "
                                       "of strings")])
        for k, v in (md.get("labels") or {}).items():
            if not _LABEL_KEY.match(k) or len(k.split("/")[-1]) > 63 or \
                    len(v) > 63 or not _LABEL_VALUE.match(v):
                raise errors.invalid(rt.group, rt.kind, md.get("name", ""), [
                    ("metadata.labels", 'Invalid value: "%s": a valid label must be an empty '
                     "string or consist of alphanumeric characters, '-', '_' or '.', and "
                     "must start and end with an alphanumeric character" % v
                     if _LABEL_KEY.match(k) else 'Invalid value: "%s": invalid label key' % k)])
        if (rt.group, rt.resource) == CRD_KEY:
            spec = obj.get("spec") or {}
            names = spec.get("names") or {}
            want = "%s.%s" % (names.get("plural", ""), spec.get("group", ""))
            if md["name"] != want:
                raise errors.invalid(rt.group, rt.kind, md["name"], [
                    ("metadata.name", 'Invalid value: "%s": must be spec.names.plural+"."+'
                     'spec.group' % md["name"])])
            if not spec.get("versions") or not names.get("kind"):
                raise errors.invalid(rt.group, rt.kind, md["name"], [
                    ("spec", "Required value: versions and names.kind are required")])

    @staticmethod
    def _normalize(rt, obj):
        """Conversions the server does on every write."""
        if (rt.group, rt.resource) == ("", "secrets"):
            sd = obj.pop("stringData", None)
            if isinstance(sd, dict):
                data = obj.get("data") or {}
                for k, v in sd.items():
                    data[k] = base64.b64encode(str(v).encode()).decode()
                obj["data"] = data
            obj.setdefault("type", "Opaque")

    def _prepare_create(self, rt, obj):
        """Server-side defaults a real API server sets on create (a few)."""
        key = (rt.group, rt.resource)
        md = obj["metadata"]
        if key == NS_KEY:
            md.setdefault("labels", {})["kubernetes.io/metadata.name"] = md["name"]
            obj["spec"] = {"finalizers": ["kubernetes"]}
            obj["status"] = {"phase": "Active"}
        elif key == ("", "pods"):
            spec = obj.setdefault("spec", {})
            spec.setdefault("restartPolicy", "Always")
            spec.setdefault("dnsPolicy", "ClusterFirst")
            spec.setdefault("schedulerName", "default-scheduler")
            spec.setdefault("serviceAccountName", "default")
            spec.setdefault("terminationGracePeriodSeconds", 30)
            obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
        elif key == ("", "services"):
            spec = obj.setdefault("spec", {})
            spec.setdefault("type", "ClusterIP")
            if spec["type"] != "ExternalName" and not spec.get("clusterIP"):
                self.ip_counter += 1
                ip = "10.96.%d.%d" % (self.ip_counter // 250, self.ip_counter % 250 + 1)
                spec["clusterIP"] = ip
                spec["clusterIPs"] = [ip]
            for p in spec.get("ports") or []:
                p.setdefault("protocol", "TCP")
                if "port" in p:
                    p.setdefault("targetPort", p["port"])
            spec.setdefault("sessionAffinity", "None")
            obj["status"] = {"loadBalancer": {}}
        elif key in (("apps", "deployments"), ("apps", "statefulsets"), ("apps", "replicasets")):
            obj.setdefault("spec", {}).setdefault("replicas", 1)
            obj["status"] = {}
        elif key == ("", "persistentvolumeclaims"):
            obj["status"] = {"phase": "Pending"}
        elif key == ("", "persistentvolumes"):
            obj.setdefault("spec", {}).setdefault("persistentVolumeReclaimPolicy", "Retain")
            obj["status"] = {"phase": "Available"}
        elif key == CRD_KEY:
            obj["status"] = self._crd_status(obj)

    @staticmethod
    def _crd_status(crd, old=None):
        """Established/NamesAccepted conditions, accepted names, stored
        versions (which only grow); the old status if nothing changed."""
        spec = crd.get("spec") or {}
        t = now_rfc3339()
        storage = [v["name"] for v in spec.get("versions") or [] if v.get("storage")]
        if old:
            storage = list(old.get("storedVersions") or []) + \
                [v for v in storage if v not in (old.get("storedVersions") or [])]
            if old.get("acceptedNames") == (spec.get("names") or {}):
                return dict(copy.deepcopy(old), storedVersions=storage)
        return {
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                 "message": "no conflicts found", "lastTransitionTime": t},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                 "message": "the initial names have been accepted", "lastTransitionTime": t},
            ],
            "acceptedNames": copy.deepcopy(spec.get("names") or {}),
            "storedVersions": storage,
        }

    def _crd_changed(self, crd):
        self.registry.remove_crd(crd["metadata"]["name"])
        for rt in crd_types(crd):
            self.registry.add(rt)

    # ------------------------------------------------------------ update

    def update(self, group, version, resource, namespace, obj, subresource=None,
               dry_run=False, field_validation=None, warnings=None):
        with self.lock:
            rt = self._type(group, version, resource)
            obj = copy.deepcopy(obj)
            if not isinstance(obj, dict) or not isinstance(obj.get("metadata"), dict):
                raise errors.bad_request("the body of the request was in an unknown format")
            md = obj["metadata"]
            ns = self._ns(rt, namespace, obj)
            name = md.get("name")
            if not name:
                raise errors.invalid(rt.group, rt.kind, "", [
                    ("metadata.name", "Required value: name is required")])
            key = (ns, name)
            old = self.objects[(rt.group, rt.resource)].get(key)
            if old is None:
                if (rt.group, rt.resource) in CREATE_ON_UPDATE and subresource is None:
                    md.pop("resourceVersion", None)
                    return self.create(group, version, resource, ns, obj, dry_run=dry_run,
                                       field_validation=field_validation, warnings=warnings)
                raise errors.not_found(rt.group, rt.resource, name)
            omd = old["metadata"]
            if md.get("resourceVersion") and md["resourceVersion"] != omd["resourceVersion"]:
                raise errors.conflict(rt.group, rt.resource, name,
                                      "the object has been modified; please apply your "
                                      "changes to the latest version and try again")
            if md.get("uid") and md["uid"] != omd["uid"]:
                raise errors.conflict(rt.group, rt.resource, name,
                                      "Precondition failed: UID in precondition: %s, UID in "
                                      "object meta: %s" % (omd["uid"], md["uid"]))
            if subresource == "status":
                new = copy.deepcopy(old)
                if "status" in obj:
                    new["status"] = obj["status"]
                else:
                    new.pop("status", None)
            elif subresource in (None, "finalize"):
                new = obj
                new["apiVersion"] = old["apiVersion"]
                new["kind"] = old["kind"]
                if rt.has_status or subresource == "finalize":
                    if "status" in old:
                        new["status"] = copy.deepcopy(old["status"])
                    else:
                        new.pop("status", None)
                if (rt.group, rt.resource) == NS_KEY and subresource is None:
                    new["spec"] = copy.deepcopy(old.get("spec", {}))
                nmd = new["metadata"]
                for k in ("uid", "creationTimestamp", "deletionTimestamp",
                          "deletionGracePeriodSeconds", "generation"):
                    if k in omd:
                        nmd[k] = omd[k]
                    else:
                        nmd.pop(k, None)
                if rt.namespaced:
                    nmd["namespace"] = ns
                nmd.pop("selfLink", None)
                nmd.pop("managedFields", None)
                if (rt.group, rt.resource) == CRD_KEY:
                    self._validate(rt, new)
                    new["status"] = self._crd_status(new, old.get("status"))
            else:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            self._normalize(rt, new)
            self._structural(rt, new, field_validation, warnings)
            self._validate(rt, new)
            if (rt.group, rt.resource) in (("", "configmaps"), ("", "secrets")) and \
                    old.get("immutable") and subresource is None:
                changed = [f for f in ("data", "binaryData", "immutable")
                           if new.get(f) != old.get(f)]
                if changed:
                    raise errors.invalid(rt.group, rt.kind, name, [
                        (changed[0], "Forbidden: field is immutable when `immutable` is set")])
            if self._has_generation(rt) and self._spec_of(rt, new) != self._spec_of(rt, old):
                new["metadata"]["generation"] = omd.get("generation", 1) + 1
            new["metadata"]["resourceVersion"] = omd["resourceVersion"]
            if new == old:
                return self._out(rt, old)   # no-op: no new resourceVersion, no event
            if dry_run:
                return self._out(rt, new)
            new["metadata"]["resourceVersion"] = str(self._next_rv())
            if omd.get("deletionTimestamp") and not new["metadata"].get("finalizers") \
                    and not self._ns_blocked(rt, new):
                self._commit("DELETED", rt, key, new, old)
                self._after_delete(rt, new, None)
                return self._out(rt, new)
            self._commit("MODIFIED", rt, key, new, old)
            if (rt.group, rt.resource) == CRD_KEY:
                self._crd_changed(new)
            return self._out(rt, new)

    @staticmethod
    def _has_generation(rt):
        """Kinds whose registry strategy maintains metadata.generation (1.32)."""
        return rt.crd is not None or (rt.group, rt.resource) in GENERATION_KINDS or \
            rt.group in ("apps", "batch", "snapshot.storage.k8s.io")

    @staticmethod
    def _spec_of(rt, obj):
        return {k: v for k, v in obj.items()
                if k not in ("metadata", "apiVersion", "kind") and not (k == "status" and rt.has_status)}

    @staticmethod
    def _ns_blocked(rt, obj):
        return (rt.group, rt.resource) == NS_KEY and (obj.get("spec") or {}).get("finalizers")

    # ------------------------------------------------------------ delete

    def delete(self, group, version, resource, namespace, name, propagation=None,
               preconditions=None, dry_run=False):
        with self.lock:
            rt = self._type(group, version, resource)
            ns = (namespace or "") if rt.namespaced else ""
            key = (ns, name)
            old = self.objects[(rt.group, rt.resource)].get(key)
            if old is None:
                raise errors.not_found(rt.group, rt.resource, name)
            omd = old["metadata"]
            pre = preconditions or {}
            if pre.get("uid") and pre["uid"] != omd["uid"]:
                raise errors.conflict(rt.group, rt.resource, name,
                                      "Precondition failed: UID in precondition: %s, UID in "
                                      "object meta: %s" % (pre["uid"], omd["uid"]))
            if pre.get("resourceVersion") and pre["resourceVersion"] != omd["resourceVersion"]:
                raise errors.conflict(rt.group, rt.resource, name,
                                      "Precondition failed: ResourceVersion in precondition: "
                                      "%s, ResourceVersion in object meta: %s"
                                      % (pre["resourceVersion"], omd["resourceVersion"]))
            if dry_run:
                return self._out(rt, old)
            if propagation == "Foreground":
                self._delete_dependents(omd["uid"], "Background")
            if omd.get("finalizers") or self._ns_blocked(rt, old):
                if omd.get("deletionTimestamp"):
                    return self._out(rt, old)
                new = copy.deepcopy(old)
                new["metadata"]["deletionTimestamp"] = now_rfc3339()
                new["metadata"]["deletionGracePeriodSeconds"] = 0
                if (rt.group, rt.resource) == NS_KEY:
                    new["status"] = {"phase": "Terminating"}
                new["metadata"]["resourceVersion"] = str(self._next_rv())
                self._commit("MODIFIED", rt, key, new, old)
                return self._out(rt, new)
            new = copy.deepcopy(old)
            new["metadata"]["resourceVersion"] = str(self._next_rv())
            self._commit("DELETED", rt, key, new, old)
            self._after_delete(rt, new, propagation)
            return self._out(rt, new)

    def _after_delete(self, rt, obj, propagation):
        if (rt.group, rt.resource) == CRD_KEY:
            name = obj["metadata"]["name"]
            for t in [t for t in self.registry.types.values() if t.crd == name]:
                for k in list(self.objects[(t.group, t.resource)]):
                    cur = self.objects[(t.group, t.resource)][k]
                    gone = copy.deepcopy(cur)
                    gone["metadata"]["resourceVersion"] = str(self._next_rv())
                    self._commit("DELETED", t, k, gone, cur)
                break
            self.registry.remove_crd(name)
            # watches of resources no longer served end, as on a real server
            served = {(g, r) for (g, _, r) in self.registry.types}
            for w in [w for w in self.watchers if (w.group, w.resource) not in served]:
                w.q.put(("CLOSE", False))
                self.watchers.discard(w)
        self._delete_dependents(obj["metadata"]["uid"], propagation or "Background")

    def _delete_dependents(self, uid, propagation):
        """Garbage collection of objects whose ownerReferences name uid."""
        for (g, r, ns, name) in list(self.owner_index.get(uid, ())):
            ver = self.registry.storage_version(g, r)
            if ver is None:
                continue
            cur = self.objects[(g, r)].get((ns, name))
            if cur is None:
                continue
            try:
                if propagation == "Orphan":
                    new = copy.deepcopy(cur)
                    new["metadata"]["ownerReferences"] = [
                        ref for ref in cur["metadata"].get("ownerReferences", [])
                        if ref.get("uid") != uid]
                    if not new["metadata"]["ownerReferences"]:
                        del new["metadata"]["ownerReferences"]
                    self.update(g, ver, r, ns, new)
                else:
                    self.delete(g, ver, r, ns, name, propagation)
            except ApiError:
                pass

    def delete_collection(self, group, version, resource, filt, propagation=None):
        with self.lock:
            rt = self._type(group, version, resource)
            out = []
            for o in self._sorted(rt, filt):
                md = o["metadata"]
                try:
                    out.append(self.delete(group, version, resource, md.get("namespace"),
                                           md["name"], propagation))
                except ApiError:
                    pass
            return out

    # ------------------------------------------------------------ namespaces

    def _namespace_loop(self):
        """The namespace controller: empties Terminating namespaces, then
        removes its finalizer so the namespace goes away."""
        while not self._stopping:
            self._ns_wake.wait(1.0)
            self._ns_wake.clear()
            time.sleep(0.05)
            try:
                self._sweep_namespaces()
            except Exception as e:   # keep the controller alive
                log("namespace controller: %r", e)

    def _sweep_namespaces(self):
        with self.lock:
            terminating = [o for o in self.objects[NS_KEY].values()
                           if o["metadata"].get("deletionTimestamp")]
            now = time.monotonic()
            for nso in terminating:
                ns = nso["metadata"]["name"]
                # like the real controller, start a moment after the delete
                # (kubectl delete -f deletes a namespace and then its objects)
                since = self._ns_seen.setdefault(ns, now)
                if now - since < NS_CLEANUP_DELAY:
                    self._ns_wake.set()
                    continue
                left = 0
                for rt in list(self.registry.types.values()):
                    if not rt.namespaced or rt.version != self.registry.storage_version(
                            rt.group, rt.resource):
                        continue
                    for (ons, name), o in list(self.objects[(rt.group, rt.resource)].items()):
                        if ons != ns:
                            continue
                        left += 1
                        if not o["metadata"].get("deletionTimestamp"):
                            try:
                                self.delete(rt.group, rt.version, rt.resource, ns, name)
                            except ApiError:
                                pass
                if not self._has_content(ns):
                    cur = self.objects[NS_KEY].get(("", ns))
                    if cur is None:
                        continue
                    new = copy.deepcopy(cur)
                    new["spec"] = {k: v for k, v in (cur.get("spec") or {}).items()
                                   if k != "finalizers"}
                    self.update("", "v1", "namespaces", None, new, subresource="finalize")
                    self._ns_seen.pop(ns, None)

    def _has_content(self, ns):
        for (g, r), table in self.objects.items():
            if (g, r) == NS_KEY:
                continue
            for (ons, _) in table:
                if ons == ns:
                    return True
        return False

    # ------------------------------------------------------------ watch

    def watch(self, group, version, resource, filt, resource_version=None, send_initial=False):
        """Register a watcher. Raises ApiError 410 if resource_version is older
        than the history kept. send_initial (sendInitialEvents=true): the
        current objects as ADDED, then a BOOKMARK marking their end."""
        with self.lock:
            rt = self._type(group, version, resource)
            w = Watcher(group, version, resource, filt)
            if send_initial or resource_version in (None, "", "0"):
                for o in self._sorted(rt, filt):
                    w.q.put(("EVENT", "ADDED", self._versioned(version, o)))
                if send_initial:
                    w.q.put(("BOOKMARK", str(self.rv), "initial-events-end"))
            else:
                try:
                    since = int(resource_version)
                except ValueError:
                    raise errors.bad_request("invalid resource version: %s" % resource_version)
                if since < self.history_floor:
                    raise errors.gone("too old resource version: %d (%d)"
                                      % (since, self.history_floor + 1))
                for (rv, etype, g, r, obj, old) in self.history:
                    if rv > since and g == group and r == resource:
                        w.offer(etype, self._versioned(version, obj),
                                None if old is None else self._versioned(version, old))
            self.watchers.add(w)
            return w

    def unwatch(self, w):
        with self.lock:
            self.watchers.discard(w)

    def bookmark(self, w):
        with self.lock:
            w.q.put(("BOOKMARK", str(self.rv)))

    def drop_watches(self, abrupt=False):
        with self.lock:
            n = len(self.watchers)
            for w in self.watchers:
                w.q.put(("CLOSE", abrupt))
            self.watchers.clear()
            return n

    def compact(self):
        """Forget all history: older resourceVersions now get 410 Gone."""
        with self.lock:
            self.history.clear()
            self.history_floor = self.rv
            self.snapshots.clear()
            for w in self.watchers:
                w.q.put(("CLOSE", False))
            self.watchers.clear()

    # ------------------------------------------------------------ listeners

    def add_listener(self, fn):
        with self.lock:
            self.listeners.append(fn)

    def _dispatch_loop(self):
        while True:
            etype, g, v, r, obj = self._events.get()
            for fn in list(self.listeners):
                try:
                    fn(etype, g, v, r, copy.deepcopy(obj))
                except Exception as e:
                    log("listener %r failed: %r", fn, e)

    # ------------------------------------------------------------ persistence

    def _persist_loop(self):
        while True:
            self._dirty.wait()
            time.sleep(0.1)
            self._dirty.clear()
            try:
                self.save()
            except Exception as e:
                log("persist failed: %r", e)

    def save(self):
        if not self.persist:
            return
        with self._save_lock:
            self._save()

    def _save(self):
        with self.lock:
            state = {"resourceVersion": self.rv, "ipCounter": self.ip_counter,
                     "objects": [o for (g, r), t in sorted(self.objects.items())
                                 for _, o in sorted(t.items())],
                     "keys": [[g, r] for (g, r), t in sorted(self.objects.items())
                              for _ in t]}
            data = json.dumps(state, sort_keys=True)
        tmp = self.persist + ".tmp"
        with open(tmp, "w") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.persist)
        dfd = os.open(os.path.dirname(os.path.abspath(self.persist)), os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def _load(self, path):
        with open(path) as f:
            state = json.load(f)
        with self.lock:
            pairs = list(zip(state["keys"], state["objects"]))
            # CRDs first, so their resources are registered
            pairs.sort(key=lambda p: 0 if tuple(p[0]) == CRD_KEY else 1)
            for (g, r), obj in pairs:
                md = obj["metadata"]
                self.objects[(g, r)][(md.get("namespace", ""), md["name"])] = obj
                if (g, r) == CRD_KEY:
                    self._crd_changed(obj)
                rt = self.registry.lookup(g, self.registry.storage_version(g, r) or "", r)
                if rt is not None:
                    self._index_owners(rt, obj)
            self.rv = int(state["resourceVersion"])
            self.ip_counter = state.get("ipCounter", 10)
            self.history_floor = self.rv
        log("loaded %d objects from %s (resourceVersion %d)", len(pairs), path, self.rv)

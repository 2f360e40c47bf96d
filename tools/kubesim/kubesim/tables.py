"""meta.k8s.io/v1 Table responses (what `kubectl get` asks for with
Accept: application/json;as=Table): per-kind columns for built-ins and the
additionalPrinterColumns of CRDs."""

import datetime
import json
import re


def _parse_time(ts):
    try:
        return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        return None


def human_duration(seconds):
    """Durations the way kubectl prints ages (2m5s, 3h, 4d2h, ...)."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return "%ds" % s
    m = s // 60
    if m < 10:
        return "%dm%ds" % (m, s % 60) if s % 60 else "%dm" % m
    if m < 180:
        return "%dm" % m
    h = m // 60
    if h < 8:
        return "%dh%dm" % (h, m % 60) if m % 60 else "%dh" % h
    if h < 48:
        return "%dh" % h
    if h < 24 * 8:
        return "%dd%dh" % (h // 24, h % 24) if h % 24 else "%dd" % (h // 24)
    if h < 24 * 365 * 2:
        return "%dd" % (h // 24)
    if h < 24 * 365 * 8:
        d = (h // 24) % 365
        return "%dy%dd" % (h // 24 // 365, d) if d else "%dy" % (h // 24 // 365)
    return "%dy" % (h // 24 // 365)


def age(ts):
    t = _parse_time(ts)
    if t is None:
        return "<unknown>"
    return human_duration((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds())


def _g(obj, *path, default=None):
    cur = obj
    for p in path:
        if isinstance(cur, dict):
            cur = cur.get(p)
        elif isinstance(cur, list) and isinstance(p, int) and p < len(cur):
            cur = cur[p]
        else:
            return default
        if cur is None:
            return default
    return cur


def _col(name, typ="string", desc="", priority=0, fmt=""):
    return {"name": name, "type": typ, "format": fmt, "description": desc or name,
            "priority": priority}


NAME = _col("Name", fmt="name", desc="Name must be unique within a namespace.")
AGE = _col("Age", desc="CreationTimestamp is a timestamp representing the server time when "
           "this object was created.")


def _created(o):
    return age(_g(o, "metadata", "creationTimestamp"))


def _pod_cells(o):
    containers = _g(o, "spec", "containers", default=[])
    statuses = _g(o, "status", "containerStatuses", default=[])
    ready = sum(1 for s in statuses if s.get("ready"))
    restarts = sum(int(s.get("restartCount") or 0) for s in statuses)
    reason = _g(o, "status", "reason") or _g(o, "status", "phase", default="Unknown")
    for s in statuses:
        waiting = _g(s, "state", "waiting", "reason")
        term = _g(s, "state", "terminated", "reason")
        if waiting:
            reason = waiting
        elif term and reason == "Running":
            reason = term
    if _g(o, "metadata", "deletionTimestamp"):
        reason = "Terminating"
    return ["%d/%d" % (ready, len(containers)), reason, restarts, _created(o),
            _g(o, "status", "podIP", default="<none>"), _g(o, "spec", "nodeName", default="<none>"),
            "<none>", "<none>"]


def _ports(o):
    out = []
    for p in _g(o, "spec", "ports", default=[]):
        s = "%s" % p.get("port")
        if p.get("nodePort"):
            s += ":%s" % p["nodePort"]
        out.append("%s/%s" % (s, p.get("protocol", "TCP")))
    return ",".join(out) or "<none>"


def _access(modes):
    short = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX",
             "ReadWriteOncePod": "RWOP"}
    return ",".join(short.get(m, m) for m in modes or [])


def _claim(o):
    ref = _g(o, "spec", "claimRef")
    return "%s/%s" % (ref.get("namespace", ""), ref.get("name", "")) if ref else ""


def _node_status(o):
    for c in _g(o, "status", "conditions", default=[]):
        if c.get("type") == "Ready":
            st = "Ready" if c.get("status") == "True" else "NotReady"
            break
    else:
        st = "Unknown"
    if _g(o, "spec", "unschedulable"):
        st += ",SchedulingDisabled"
    return st


def _node_roles(o):
    roles = [k.split("/", 1)[1] for k in (_g(o, "metadata", "labels", default={}))
             if k.startswith("node-role.kubernetes.io/")]
    return ",".join(sorted(roles)) or "<none>"


# (group, resource) -> (columns after Name, cells function)
BUILTIN = {
    ("", "pods"): ([_col("Ready"), _col("Status"), _col("Restarts", "string"), AGE,
                    _col("IP", priority=1), _col("Node", priority=1),
                    _col("Nominated Node", priority=1), _col("Readiness Gates", priority=1)],
                   _pod_cells),
    ("", "namespaces"): ([_col("Status"), AGE],
                         lambda o: [_g(o, "status", "phase", default=""), _created(o)]),
    ("", "configmaps"): ([_col("Data", "integer"), AGE],
                         lambda o: [len(_g(o, "data", default={})) +
                                    len(_g(o, "binaryData", default={})), _created(o)]),
    ("", "secrets"): ([_col("Type"), _col("Data", "integer"), AGE],
                      lambda o: [o.get("type", "Opaque"), len(_g(o, "data", default={})),
                                 _created(o)]),
    ("", "services"): ([_col("Type"), _col("Cluster-IP"), _col("External-IP"),
                        _col("Port(s)"), AGE, _col("Selector", priority=1)],
                       lambda o: [_g(o, "spec", "type", default="ClusterIP"),
                                  _g(o, "spec", "clusterIP", default="<none>"), "<none>",
                                  _ports(o), _created(o),
                                  ",".join("%s=%s" % kv for kv in sorted(
                                      _g(o, "spec", "selector", default={}).items()))
                                  or "<none>"]),
    ("", "serviceaccounts"): ([_col("Secrets", "integer"), AGE],
                              lambda o: [len(o.get("secrets") or []), _created(o)]),
    ("", "persistentvolumeclaims"): (
        [_col("Status"), _col("Volume"), _col("Capacity"), _col("Access Modes"),
         _col("StorageClass"), _col("VolumeAttributesClass"), AGE],
        lambda o: [_g(o, "status", "phase", default=""), _g(o, "spec", "volumeName", default=""),
                   _g(o, "status", "capacity", "storage", default=""),
                   _access(_g(o, "status", "accessModes")),
                   _g(o, "spec", "storageClassName", default=""), "<unset>", _created(o)]),
    ("", "persistentvolumes"): (
        [_col("Capacity"), _col("Access Modes"), _col("Reclaim Policy"), _col("Status"),
         _col("Claim"), _col("StorageClass"), _col("VolumeAttributesClass"), _col("Reason"),
         AGE],
        lambda o: [_g(o, "spec", "capacity", "storage", default=""),
                   _access(_g(o, "spec", "accessModes")),
                   _g(o, "spec", "persistentVolumeReclaimPolicy", default=""),
                   _g(o, "status", "phase", default=""), _claim(o),
                   _g(o, "spec", "storageClassName", default=""), "<unset>",
                   _g(o, "status", "reason", default=""), _created(o)]),
    ("", "nodes"): ([_col("Status"), _col("Roles"), AGE, _col("Version")],
                    lambda o: [_node_status(o), _node_roles(o), _created(o),
                               _g(o, "status", "nodeInfo", "kubeletVersion", default="")]),
    ("apps", "deployments"): (
        [_col("Ready"), _col("Up-to-date", "integer"), _col("Available", "integer"), AGE],
        lambda o: ["%d/%d" % (_g(o, "status", "readyReplicas", default=0),
                              _g(o, "spec", "replicas", default=0)),
                   _g(o, "status", "updatedReplicas", default=0),
                   _g(o, "status", "availableReplicas", default=0), _created(o)]),
    ("apps", "statefulsets"): (
        [_col("Ready"), AGE],
        lambda o: ["%d/%d" % (_g(o, "status", "readyReplicas", default=0),
                              _g(o, "spec", "replicas", default=0)), _created(o)]),
    ("apps", "replicasets"): (
        [_col("Desired", "integer"), _col("Current", "integer"), _col("Ready", "integer"), AGE],
        lambda o: [_g(o, "spec", "replicas", default=0), _g(o, "status", "replicas", default=0),
                   _g(o, "status", "readyReplicas", default=0), _created(o)]),
    ("apps", "daemonsets"): (
        [_col("Desired", "integer"), _col("Current", "integer"), _col("Ready", "integer"),
         _col("Up-to-date", "integer"), _col("Available", "integer"), _col("Node Selector"), AGE],
        lambda o: [_g(o, "status", "desiredNumberScheduled", default=0),
                   _g(o, "status", "currentNumberScheduled", default=0),
                   _g(o, "status", "numberReady", default=0),
                   _g(o, "status", "updatedNumberScheduled", default=0),
                   _g(o, "status", "numberAvailable", default=0),
                   ",".join("%s=%s" % kv for kv in sorted(_g(
                       o, "spec", "template", "spec", "nodeSelector", default={}).items()))
                   or "<none>", _created(o)]),
    ("batch", "jobs"): (
        [_col("Status"), _col("Completions"), AGE],
        lambda o: ["Complete" if _g(o, "status", "succeeded", default=0) >=
                   _g(o, "spec", "completions", default=1) else "Running",
                   "%d/%d" % (_g(o, "status", "succeeded", default=0),
                              _g(o, "spec", "completions", default=1)), _created(o)]),
    ("apiextensions.k8s.io", "customresourcedefinitions"): (
        [_col("Created At", "date")],
        lambda o: [_g(o, "metadata", "creationTimestamp", default="")]),
}


# ------------------------------------------------------------------ JSONPath

_TOKEN = re.compile(r"\.([A-Za-z0-9_\-]+|\*)|\[(\d+|\*)\]|\[\?\(@\.([A-Za-z0-9_.\-]+)\s*==\s*"
                    r"['\"]([^'\"]*)['\"]\)\]|\['([^']+)'\]")


def jsonpath(obj, path):
    """The simple JSONPath of additionalPrinterColumns: .a.b[0].c,
    [?(@.type=="Ready")], ['dotted.key']. Returns None when absent."""
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    if path.startswith("$"):
        path = path[1:]
    vals = [obj]
    pos = 0
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if not m:
            return None
        pos = m.end()
        nxt = []
        for v in vals:
            if m.group(1) is not None:
                if m.group(1) == "*":
                    nxt.extend(v.values() if isinstance(v, dict) else v if isinstance(v, list)
                               else [])
                elif isinstance(v, dict) and m.group(1) in v:
                    nxt.append(v[m.group(1)])
            elif m.group(2) is not None:
                if isinstance(v, list):
                    if m.group(2) == "*":
                        nxt.extend(v)
                    elif int(m.group(2)) < len(v):
                        nxt.append(v[int(m.group(2))])
            elif m.group(3) is not None:
                if isinstance(v, list):
                    for it in v:
                        if str(jsonpath(it, "." + m.group(3))) == m.group(4):
                            nxt.append(it)
            elif isinstance(v, dict) and m.group(5) in v:
                nxt.append(v[m.group(5)])
        vals = nxt
        if not vals:
            return None
    return vals[0] if len(vals) == 1 else vals


def _crd_cell(value, typ):
    if value is None:
        return None
    if typ == "date":
        return age(value) if isinstance(value, str) else value
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return value


def _crd_columns(rt):
    """Name, then the CRD's additionalPrinterColumns (Age if it has none)."""
    pcs = rt.printer_columns or []
    cols = [NAME] + [_col(c.get("name", ""), c.get("type", "string"), c.get("description", ""),
                          c.get("priority", 0), c.get("format", "")) for c in pcs]
    if not pcs:
        return cols + [AGE], lambda o: [_created(o)]
    return cols, lambda o: [_crd_cell(jsonpath(o, c.get("jsonPath", "")), c.get("type", "string"))
                            for c in pcs]


def _columns(rt):
    """(column definitions, object -> all cells)."""
    if rt.crd is not None:
        cols, crd_cells = _crd_columns(rt)
        return cols, lambda o: [o["metadata"]["name"]] + crd_cells(o)
    if (rt.group, rt.resource) in (("", "events"), ("events.k8s.io", "events")):
        return EVENT_COLUMNS, _event_cells
    spec = BUILTIN.get((rt.group, rt.resource))
    if spec is None:
        return [NAME, AGE], lambda o: [o["metadata"]["name"], _created(o)]
    cols, cells = spec
    return [NAME] + cols, lambda o: [o["metadata"]["name"]] + cells(o)


EVENT_COLUMNS = [_col("Last Seen"), _col("Type"), _col("Reason"), _col("Object"),
                 _col("Subobject", priority=1), _col("Source", priority=1), _col("Message"),
                 _col("First Seen", priority=1), _col("Count", "integer", priority=1),
                 dict(NAME, priority=1)]


def _event_cells(o):
    io = o.get("involvedObject") or o.get("regarding") or {}
    last = o.get("lastTimestamp") or o.get("eventTime") or _g(o, "metadata", "creationTimestamp")
    first = o.get("firstTimestamp") or o.get("eventTime") or _g(o, "metadata",
                                                                 "creationTimestamp")
    src = _g(o, "source", "component") or o.get("reportingComponent") or ""
    if _g(o, "source", "host"):
        src += ", " + _g(o, "source", "host")
    return [age(last), o.get("type", ""), o.get("reason", ""),
            "%s/%s" % (str(io.get("kind", "")).lower(), io.get("name", "")),
            io.get("fieldPath", ""), src, o.get("message") or o.get("note", ""), age(first),
            o.get("count", 1), o["metadata"]["name"]]


def table(rt, items, include_object=None, resource_version="", headers=True):
    cols, cells = _columns(rt)
    rows = []
    for o in items:
        row = {"cells": cells(o)}
        if include_object == "Object":
            row["object"] = o
        elif include_object != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": o["metadata"]}
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
            "metadata": {"resourceVersion": resource_version},
            "columnDefinitions": cols if headers else [], "rows": rows}

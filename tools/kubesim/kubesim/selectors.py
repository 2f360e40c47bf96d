"""Label selectors and field selectors, as the API server parses them."""

import re

from .errors import ApiError

_KEY = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _split_top(s):
    """Split on commas that are not inside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def _bad(sel, why):
    return ApiError(400, "BadRequest", "unable to parse requirement: %s: %s" % (why, sel))


def parse_labels(sel):
    """A label selector string -> list of (key, op, values)."""
    reqs = []
    if not sel:
        return reqs
    for part in _split_top(sel):
        m = re.match(r"^(\S+)\s+(in|notin)\s*\((.*)\)$", part)
        if m:
            key, op, vals = m.group(1), m.group(2), [v.strip() for v in m.group(3).split(",")]
            vals = [v for v in vals if v != ""] if op == "notin" else vals
        elif part.startswith("!"):
            key, op, vals = part[1:].strip(), "!", []
        else:
            m = re.match(r"^([^=!<>\s]+)\s*(==|=|!=)\s*(\S*)$", part)
            if m:
                key, op, vals = m.group(1), m.group(2), [m.group(3)]
                if op == "==":
                    op = "="
            elif re.match(r"^[^=!<>\s()]+$", part):
                key, op, vals = part, "exists", []
            else:
                raise _bad(part, "invalid label selector")
        if not _KEY.match(key) or len(key) > 317:
            raise _bad(part, "invalid label key %r" % key)
        for v in vals:
            if len(v) > 63 or not _VALUE.match(v):
                raise _bad(part, "invalid label value %r" % v)
        reqs.append((key, op, vals))
    return reqs


def match_labels(reqs, labels):
    labels = labels or {}
    for key, op, vals in reqs:
        has = key in labels
        v = labels.get(key)
        if op == "=" and not (has and v == vals[0]):
            return False
        if op == "!=" and has and v == vals[0]:
            return False
        if op == "in" and not (has and v in vals):
            return False
        if op == "notin" and has and v in vals:
            return False
        if op == "exists" and not has:
            return False
        if op == "!" and has:
            return False
    return True


# Field selectors every kind supports, plus the per-kind extras the real
# server registers (pkg/registry/*/strategy.go GetAttrs).
COMMON_FIELDS = ("metadata.name", "metadata.namespace")
KIND_FIELDS = {
    ("", "pods"): ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
                   "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
                   "status.podIP", "status.nominatedNodeName"),
    ("", "namespaces"): ("status.phase",),
    ("", "secrets"): ("type",),
    ("", "nodes"): ("spec.unschedulable",),
    ("", "events"): ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                     "involvedObject.uid", "involvedObject.apiVersion",
                     "involvedObject.resourceVersion", "involvedObject.fieldPath",
                     "reason", "reportingComponent", "source", "type"),
    ("", "persistentvolumeclaims"): ("status.phase",),
    ("", "persistentvolumes"): ("status.phase",),
    ("", "replicationcontrollers"): ("status.replicas",),
    ("apps", "replicasets"): ("status.replicas",),
    ("batch", "jobs"): ("status.successful",),
}


def parse_fields(sel, group, resource):
    reqs = []
    if not sel:
        return reqs
    allowed = COMMON_FIELDS + KIND_FIELDS.get((group, resource), ())
    for part in _split_top(sel):
        m = re.match(r"^([^=!\s]+)\s*(==|=|!=)\s*(.*)$", part)
        if not m:
            raise ApiError(400, "BadRequest", "invalid selector: '%s'; can't understand '%s'"
                           % (sel, part))
        field, op, val = m.group(1), m.group(2), m.group(3).strip()
        if field not in allowed:
            raise ApiError(400, "BadRequest",
                           'field label not supported: %s' % field)
        reqs.append((field, "!=" if op == "!=" else "=", val))
    return reqs


def field_value(obj, field):
    cur = obj
    for part in field.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def match_fields(reqs, obj):
    for field, op, val in reqs:
        v = field_value(obj, field)
        if op == "=" and v != val:
            return False
        if op == "!=" and v == val:
            return False
    return True


class Filter:
    """Namespace + label + field selection applied to lists and watches."""

    def __init__(self, namespace=None, label_selector="", field_selector="",
                 group="", resource=""):
        self.namespace = namespace
        self.labels = parse_labels(label_selector)
        self.fields = parse_fields(field_selector, group, resource)

    def __call__(self, obj):
        if obj is None:
            return False
        md = obj.get("metadata", {})
        if self.namespace and md.get("namespace") != self.namespace:
            return False
        return match_labels(self.labels, md.get("labels")) and match_fields(self.fields, obj)

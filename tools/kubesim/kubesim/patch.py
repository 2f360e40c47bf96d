"""The three patch formats of the API server.

merge_patch       RFC 7386 JSON merge patch (application/merge-patch+json)
json_patch        RFC 6902 JSON patch (application/json-patch+json)
strategic_merge   Kubernetes strategic merge patch for built-in kinds
                  (application/strategic-merge-patch+json), what kubectl
                  apply/label/annotate/patch send.
"""

import copy

from .errors import ApiError


def _invalid(msg):
    return ApiError(422, "Invalid", msg)


# ------------------------------------------------------------------ RFC 7386

def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


# ------------------------------------------------------------------ RFC 6902

def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise _invalid("JSON pointer must start with '/': %r" % path)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container, tok, allow_end=False):
    if tok == "-" and allow_end:
        return len(container)
    if not tok.isdigit() or (len(tok) > 1 and tok[0] == "0"):
        raise _invalid("invalid array index %r" % tok)
    i = int(tok)
    if i > len(container) or (i == len(container) and not allow_end):
        raise _invalid("array index %d out of bounds" % i)
    return i


def _parent(doc, toks):
    cur = doc
    for t in toks[:-1]:
        if isinstance(cur, dict):
            if t not in cur:
                raise _invalid("doc is missing path: /%s" % "/".join(toks))
            cur = cur[t]
        elif isinstance(cur, list):
            cur = cur[_index(cur, t)]
        else:
            raise _invalid("doc is missing path: /%s" % "/".join(toks))
    return cur


def _get(doc, path):
    toks = _pointer(path)
    if not toks:
        return doc
    par = _parent(doc, toks)
    last = toks[-1]
    if isinstance(par, dict):
        if last not in par:
            raise _invalid("doc is missing key: %s" % path)
        return par[last]
    if isinstance(par, list):
        return par[_index(par, last)]
    raise _invalid("doc is missing path: %s" % path)


def _remove(doc, path):
    toks = _pointer(path)
    if not toks:
        raise _invalid("cannot remove the whole document")
    par = _parent(doc, toks)
    last = toks[-1]
    if isinstance(par, dict):
        if last not in par:
            raise _invalid("unable to remove nonexistent key: %s: missing value" % last)
        return par.pop(last)
    if isinstance(par, list):
        return par.pop(_index(par, last))
    raise _invalid("doc is missing path: %s" % path)


def _add(doc, path, value, replace=False):
    toks = _pointer(path)
    if not toks:
        return value
    par = _parent(doc, toks)
    last = toks[-1]
    if isinstance(par, dict):
        if replace and last not in par:
            raise _invalid("replace operation does not apply: doc is missing key: %s: "
                           "missing value" % path)
        par[last] = value
    elif isinstance(par, list):
        if replace:
            par[_index(par, last)] = value
        else:
            par.insert(_index(par, last, allow_end=True), value)
    else:
        raise _invalid("doc is missing path: %s" % path)
    return doc


def json_patch(target, ops):
    if not isinstance(ops, list):
        raise ApiError(400, "BadRequest", "json patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op:
            raise ApiError(400, "BadRequest", "invalid JSON patch operation: %r" % (op,))
        kind, path = op["op"], op.get("path", "")
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            doc = _add(doc, path, copy.deepcopy(op.get("value")), replace=True)
        elif kind == "move":
            val = _remove(doc, op.get("from", ""))
            doc = _add(doc, path, val)
        elif kind == "copy":
            doc = _add(doc, path, copy.deepcopy(_get(doc, op.get("from", ""))))
        elif kind == "test":
            if _get(doc, path) != op.get("value"):
                raise _invalid("testing value %s failed" % path)
        else:
            raise ApiError(400, "BadRequest", "Unexpected kind: %s" % kind)
    return doc


# ------------------------------------------------------------------ strategic

# patchMergeKey of the list fields of built-in kinds (from the Go struct
# tags). Lists not named here are replaced as a whole ("atomic").
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "env": "name", "volumes": "name", "volumeMounts": "mountPath",
    "volumeDevices": "devicePath", "imagePullSecrets": "name", "hostAliases": "ip",
    "conditions": "type", "ownerReferences": "uid", "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name", "schedulingGates": "name", "taints": "key",
    "readinessGates": None,
}
# lists of scalars merged as sets
PRIMITIVE_MERGE = {"finalizers"}


def _merge_key(field, parent):
    if field == "ports":
        return "containerPort" if parent in ("containers", "initContainers",
                                             "ephemeralContainers") else "port"
    return MERGE_KEYS.get(field)


def strategic_merge(target, patch, field=None, parent=None):
    """Apply a strategic merge patch (a dict) to target (a dict)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    orders = {}
    for k, v in patch.items():
        if k in ("$patch", "$retainKeys"):
            continue
        if k.startswith("$setElementOrder/"):
            orders[k.split("/", 1)[1]] = v
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            key = k.split("/", 1)[1]
            if isinstance(out.get(key), list):
                out[key] = [x for x in out[key] if x not in (v or [])]
            continue
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict):
            merged = strategic_merge(out.get(k), v, k, field)
            if merged is None:
                out.pop(k, None)
            else:
                out[k] = merged
        elif isinstance(v, list):
            out[k] = _merge_list(out.get(k), v, k, field)
        else:
            out[k] = copy.deepcopy(v)
    for key, order in orders.items():
        if isinstance(out.get(key), list):
            out[key] = _apply_order(out[key], order, _merge_key(key, field))
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain}
    return out


def _merge_list(orig, patch, field, parent):
    orig = orig if isinstance(orig, list) else []
    if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in patch):
        return [copy.deepcopy(x) for x in patch
                if not (isinstance(x, dict) and x.get("$patch") == "replace")]
    if field in PRIMITIVE_MERGE and all(not isinstance(x, (dict, list)) for x in patch):
        out = list(orig)
        for x in patch:
            if x not in out:
                out.append(x)
        return out
    key = _merge_key(field, parent)
    if not key or not all(isinstance(x, dict) for x in patch):
        return copy.deepcopy(patch)
    out = copy.deepcopy(orig)
    for item in patch:
        if key not in item:
            # kubectl sends the key; without it the element cannot be matched
            out.append(copy.deepcopy(item))
            continue
        idx = next((i for i, o in enumerate(out)
                    if isinstance(o, dict) and o.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append(strategic_merge({}, item, field, parent))
        else:
            out[idx] = strategic_merge(out[idx], item, field, parent)
    return out


def _apply_order(items, order, key):
    """$setElementOrder: the listed elements in the given order, the rest after."""
    def ident(x):
        return x.get(key) if key and isinstance(x, dict) else x
    wanted = [o.get(key) if key and isinstance(o, dict) else o for o in order]
    placed = []
    for w in wanted:
        placed.extend(x for x in items if ident(x) == w and x not in placed)
    return placed + [x for x in items if x not in placed]

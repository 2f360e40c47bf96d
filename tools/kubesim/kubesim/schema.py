"""Structural-schema handling of custom resources, as the API server does it
for CRDs (apiextensions.k8s.io/v1): pruning of unknown fields, defaulting,
and the basic validations (type, nullable, enum, required, min/max length,
minimum/maximum, min/max items, pattern).

metadata, apiVersion and kind are never pruned or validated here (the store
handles them)."""

import copy
import re

_TYPES = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def _type_ok(value, typ):
    if typ is None:
        return True
    if isinstance(value, bool) and typ in ("integer", "number"):
        return False
    if typ == "integer" and isinstance(value, float) and value.is_integer():
        return True
    return isinstance(value, _TYPES.get(typ, (object,)))


def _json_type(value):
    for name in ("boolean", "integer", "number", "string", "array", "object"):
        if _type_ok(value, name):
            return name
    return "null"


def apply(obj, schema, pruned=None):
    """Prune, default and validate obj (a custom resource) in place.
    Returns a list of (field path, message) errors; the paths of pruned
    unknown fields are appended to pruned."""
    errs = []
    pruned = [] if pruned is None else pruned
    if not isinstance(schema, dict):
        return errs
    props = schema.get("properties") or {}
    for key in list(obj):
        if key in ("apiVersion", "kind", "metadata"):
            continue
        if key not in props and not schema.get("x-kubernetes-preserve-unknown-fields"):
            del obj[key]
            pruned.append(".%s" % key)
    for key, sub in props.items():
        if key in ("apiVersion", "kind", "metadata"):
            continue
        if key not in obj and "default" in sub:
            obj[key] = _copy(sub["default"])
        if key in obj:
            obj[key] = _walk(obj[key], sub, key, errs, pruned)
            if obj[key] is None and not sub.get("nullable"):
                del obj[key]
    for req in schema.get("required") or []:
        if req not in obj and req not in ("apiVersion", "kind", "metadata"):
            errs.append((req, "Required value"))
    return errs


def _copy(v):
    return copy.deepcopy(v)


def _walk(value, schema, path, errs, pruned):
    if not isinstance(schema, dict):
        return value
    if value is None:
        if not schema.get("nullable"):
            # the real server drops nulls of non-nullable fields when pruning
            return None
        return value
    if schema.get("x-kubernetes-int-or-string"):
        if not isinstance(value, (int, str)) or isinstance(value, bool):
            errs.append((path, 'Invalid value: "%s": %s in body must be of type '
                         'int-or-string: "%s"' % (_json_type(value), path, _json_type(value))))
        return value
    typ = schema.get("type")
    if not _type_ok(value, typ):
        errs.append((path, 'Invalid value: "%s": %s in body must be of type %s: "%s"'
                     % (_json_type(value), path, typ, _json_type(value))))
        return value
    if "enum" in schema and value not in schema["enum"]:
        errs.append((path, 'Unsupported value: %s: supported values: %s'
                     % (_quote(value), ", ".join(_quote(v) for v in schema["enum"]))))
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errs.append((path, "Too long: may not be more than %d bytes" % schema["maxLength"]))
        if "minLength" in schema and len(value) < schema["minLength"]:
            errs.append((path, "Invalid value: %s: %s in body should be at least %d chars long"
                         % (_quote(value), path, schema["minLength"])))
        if "pattern" in schema:
            try:
                if not re.search(schema["pattern"], value):
                    errs.append((path, "Invalid value: %s: %s in body should match '%s'"
                                 % (_quote(value), path, schema["pattern"])))
            except re.error:
                pass
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errs.append((path, "Invalid value: %s: %s in body should be greater than or "
                         "equal to %s" % (value, path, schema["minimum"])))
        if "maximum" in schema and value > schema["maximum"]:
            errs.append((path, "Invalid value: %s: %s in body should be less than or equal "
                         "to %s" % (value, path, schema["maximum"])))
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errs.append((path, "Too many: %d: must have at most %d items"
                         % (len(value), schema["maxItems"])))
        if "minItems" in schema and len(value) < schema["minItems"]:
            errs.append((path, "Invalid value: %d: %s in body should have at least %d items"
                         % (len(value), path, schema["minItems"])))
        items = schema.get("items")
        return [_walk(v, items, "%s[%d]" % (path, i), errs, pruned) for i, v in enumerate(value)]
    if isinstance(value, dict):
        if schema.get("x-kubernetes-embedded-resource"):
            keep = {"apiVersion", "kind", "metadata"}
        else:
            keep = set()
        props = schema.get("properties")
        addl = schema.get("additionalProperties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields")
        out = {}
        for k, v in value.items():
            if props is not None and k in props:
                out[k] = _walk(v, props[k], "%s.%s" % (path, k), errs, pruned)
            elif isinstance(addl, dict):
                out[k] = _walk(v, addl, "%s.%s" % (path, k), errs, pruned)
            elif preserve or addl is True or k in keep:
                out[k] = v
            else:
                pruned.append(".%s.%s" % (path, k))
        for k, sub in (props or {}).items():
            if k not in out and isinstance(sub, dict) and "default" in sub:
                out[k] = _copy(sub["default"])
                out[k] = _walk(out[k], sub, "%s.%s" % (path, k), errs, pruned)
        for req in schema.get("required") or []:
            if req not in out:
                errs.append(("%s.%s" % (path, req), "Required value"))
        out = {k: v for k, v in out.items() if v is not None or
               (props or {}).get(k, {}).get("nullable") or preserve}
        return out
    return value


def _quote(v):
    return '"%s"' % v if isinstance(v, str) else str(v)


def version_schema(crd, version):
    """The openAPIV3Schema of one version of a CRD object, or None."""
    spec = (crd or {}).get("spec") or {}
    for v in spec.get("versions") or []:
        if v.get("name") == version:
            return ((v.get("schema") or {}).get("openAPIV3Schema")) or \
                ((spec.get("validation") or {}).get("openAPIV3Schema"))
    return None

"""A minimal OpenAPI v3 (/openapi/v3 and /openapi/v3/<gv>) for kubectl.

kubectl (1.27+) validates with `--validate=strict` by asking the server to do
it (the `fieldValidation` query parameter); it only does that when the
OpenAPI v3 document of the object's group-version has a PATCH operation with
an `x-kubernetes-group-version-kind` naming the kind and a `fieldValidation`
query parameter. That is what these documents carry, and no schemas: with no
`requestBody` on the PATCH operations, `kubectl apply` computes strategic
merge patches from its compiled-in types (built-in kinds) and JSON merge
patches for custom resources, as it does against servers without schemas.
/openapi/v2 is 404: kubectl copes.
"""

import hashlib
import json

_PARAMS = [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
           for n in ("dryRun", "fieldManager", "fieldValidation", "force")]


def _gv_path(group, version):
    return "api/%s" % version if not group else "apis/%s/%s" % (group, version)


def gv_document(registry, group, version):
    paths = {}
    for rt in registry.in_group_version(group, version):
        base = "/" + _gv_path(group, version)
        if rt.namespaced:
            base += "/namespaces/{namespace}"
        gvk = {"group": group, "version": version, "kind": rt.kind}
        for sub in [None] + [s for s in rt.subresources if s == "status"]:
            item = "%s/%s/{name}%s" % (base, rt.resource, "/" + sub if sub else "")
            op = {"x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": "patch",
                  "parameters": _PARAMS,
                  "operationId": "patch%s%s" % (rt.kind, "Status" if sub else ""),
                  "responses": {"200": {"description": "OK"}}}
            paths[item] = {"patch": op}
    return {"openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": "v1.32.0"},
            "paths": paths, "components": {"schemas": {}}}


def _hash(doc):
    return hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest().upper()


def root(registry):
    paths = {}
    for g in [""] + registry.groups():
        for v in registry.versions(g):
            doc = gv_document(registry, g, v)
            p = _gv_path(g, v)
            paths[p] = {"serverRelativeURL": "/openapi/v3/%s?hash=%s" % (p, _hash(doc))}
    return {"paths": paths}


def lookup(registry, rest):
    """The document for /openapi/v3/<rest>, or None."""
    parts = rest.strip("/").split("/")
    if len(parts) == 2 and parts[0] == "api":
        g, v = "", parts[1]
    elif len(parts) == 3 and parts[0] == "apis":
        g, v = parts[1], parts[2]
    else:
        return None
    if v not in registry.versions(g):
        return None
    return gv_document(registry, g, v)

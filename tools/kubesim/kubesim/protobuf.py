"""Just enough of the Kubernetes protobuf encoding to read request bodies.

kubectl's typed clients (`kubectl create namespace|configmap|secret|
serviceaccount ...`) send `application/vnd.kubernetes.protobuf` bodies and
do not fall back to JSON. Responses are always JSON (clients accept it).
The body is "k8s\\0" + runtime.Unknown{typeMeta, raw}; raw is the object's
message. Only the kinds below are decoded; others get 415.
"""

import base64
import datetime

from .errors import ApiError

MAGIC = b"k8s\x00"


def _varint(buf, pos):
    shift = result = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def fields(buf):
    """Yield (field number, wire type, value) of one message."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        num, wt = key >> 3, key & 7
        if wt == 0:
            val, pos = _varint(buf, pos)
        elif wt == 2:
            n, pos = _varint(buf, pos)
            val = buf[pos:pos + n]
            pos += n
        elif wt == 1:
            val = buf[pos:pos + 8]
            pos += 8
        elif wt == 5:
            val = buf[pos:pos + 4]
            pos += 4
        else:
            raise ValueError("unsupported wire type %d" % wt)
        yield num, wt, val


# A schema maps field number -> (json name, type); types: "string", "bytes",
# "int", "bool", "time", "map", "bytesmap", a nested schema dict, or
# ("repeated", type).
TIME = "time"
OWNER_REF = {1: ("kind", "string"), 3: ("name", "string"), 4: ("uid", "string"),
             5: ("apiVersion", "string"), 6: ("controller", "bool"),
             7: ("blockOwnerDeletion", "bool")}
OBJECT_META = {
    1: ("name", "string"), 2: ("generateName", "string"), 3: ("namespace", "string"),
    5: ("uid", "string"), 6: ("resourceVersion", "string"), 7: ("generation", "int"),
    8: ("creationTimestamp", TIME), 10: ("deletionGracePeriodSeconds", "int"),
    11: ("labels", "map"), 12: ("annotations", "map"),
    13: ("ownerReferences", ("repeated", OWNER_REF)), 14: ("finalizers", ("repeated", "string")),
}
OBJECT_REF = {1: ("kind", "string"), 2: ("namespace", "string"), 3: ("name", "string"),
              4: ("uid", "string"), 5: ("apiVersion", "string"),
              6: ("resourceVersion", "string"), 7: ("fieldPath", "string")}
LOCAL_REF = {1: ("name", "string")}
# workloads (k8s.io/api core/v1, apps/v1, batch/v1 generated.proto)
INT_OR_STRING = "intorstring"
LABEL_SELECTOR = {1: ("matchLabels", "map"),
                  2: ("matchExpressions", ("repeated", {
                      1: ("key", "string"), 2: ("operator", "string"),
                      3: ("values", ("repeated", "string"))}))}
CONTAINER_PORT = {1: ("name", "string"), 2: ("hostPort", "int"), 3: ("containerPort", "int"),
                  4: ("protocol", "string"), 5: ("hostIP", "string")}
KEY_SELECTOR = {1: ("localObjectReference", {1: ("name", "string")}), 2: ("key", "string"),
                3: ("optional", "bool")}
ENV_VAR = {1: ("name", "string"), 2: ("value", "string"),
           3: ("valueFrom", {1: ("fieldRef", {1: ("apiVersion", "string"),
                                               2: ("fieldPath", "string")}),
                             3: ("configMapKeyRef", KEY_SELECTOR),
                             4: ("secretKeyRef", KEY_SELECTOR)})}
QUANTITY_MAP = "quantitymap"
CONTAINER = {1: ("name", "string"), 2: ("image", "string"), 3: ("command", ("repeated", "string")),
             4: ("args", ("repeated", "string")), 5: ("workingDir", "string"),
             6: ("ports", ("repeated", CONTAINER_PORT)), 7: ("env", ("repeated", ENV_VAR)),
             8: ("resources", {1: ("limits", QUANTITY_MAP), 2: ("requests", QUANTITY_MAP)}),
             9: ("volumeMounts", ("repeated", {1: ("name", "string"), 2: ("readOnly", "bool"),
                                               3: ("mountPath", "string"),
                                               4: ("subPath", "string")})),
             13: ("terminationMessagePath", "string"), 14: ("imagePullPolicy", "string"),
             16: ("stdin", "bool"), 17: ("stdinOnce", "bool"), 18: ("tty", "bool"),
             20: ("terminationMessagePolicy", "string")}
POD_SPEC = {2: ("containers", ("repeated", CONTAINER)), 3: ("restartPolicy", "string"),
            4: ("terminationGracePeriodSeconds", "int"), 6: ("dnsPolicy", "string"),
            7: ("nodeSelector", "map"), 8: ("serviceAccountName", "string"),
            10: ("nodeName", "string"), 19: ("schedulerName", "string"),
            20: ("initContainers", ("repeated", CONTAINER))}
POD_TEMPLATE = {1: ("metadata", None), 2: ("spec", POD_SPEC)}   # metadata set below
JOB_SPEC = {1: ("parallelism", "int"), 2: ("completions", "int"),
            3: ("activeDeadlineSeconds", "int"), 4: ("selector", LABEL_SELECTOR),
            5: ("manualSelector", "bool"), 6: ("template", POD_TEMPLATE),
            7: ("backoffLimit", "int"), 8: ("ttlSecondsAfterFinished", "int"),
            9: ("completionMode", "string"), 10: ("suspend", "bool")}
POLICY_RULE = {1: ("verbs", ("repeated", "string")), 2: ("apiGroups", ("repeated", "string")),
               3: ("resources", ("repeated", "string")),
               4: ("resourceNames", ("repeated", "string")),
               5: ("nonResourceURLs", ("repeated", "string"))}
SUBJECT = {1: ("kind", "string"), 2: ("apiGroup", "string"), 3: ("name", "string"),
           4: ("namespace", "string")}
ROLE_REF = {1: ("apiGroup", "string"), 2: ("kind", "string"), 3: ("name", "string")}

RESOURCE_ATTRS = {1: ("namespace", "string"), 2: ("verb", "string"), 3: ("group", "string"),
                  4: ("version", "string"), 5: ("resource", "string"),
                  6: ("subresource", "string"), 7: ("name", "string")}
SCHEMAS = {
    ("apps/v1", "Deployment"): {
        1: ("metadata", OBJECT_META),
        2: ("spec", {1: ("replicas", "int"), 2: ("selector", LABEL_SELECTOR),
                     3: ("template", POD_TEMPLATE),
                     4: ("strategy", {1: ("type", "string"),
                                      2: ("rollingUpdate", {1: ("maxUnavailable", INT_OR_STRING),
                                                            2: ("maxSurge", INT_OR_STRING)})}),
                     5: ("minReadySeconds", "int"), 6: ("revisionHistoryLimit", "int"),
                     7: ("paused", "bool"), 9: ("progressDeadlineSeconds", "int")}),
        3: ("status", {})},
    ("batch/v1", "Job"): {1: ("metadata", OBJECT_META), 2: ("spec", JOB_SPEC), 3: ("status", {})},
    ("batch/v1", "CronJob"): {
        1: ("metadata", OBJECT_META),
        2: ("spec", {1: ("schedule", "string"), 2: ("startingDeadlineSeconds", "int"),
                     3: ("concurrencyPolicy", "string"), 4: ("suspend", "bool"),
                     5: ("jobTemplate", {1: ("metadata", OBJECT_META), 2: ("spec", JOB_SPEC)}),
                     6: ("successfulJobsHistoryLimit", "int"),
                     7: ("failedJobsHistoryLimit", "int"), 8: ("timeZone", "string")}),
        3: ("status", {})},
    ("v1", "Service"): {
        1: ("metadata", OBJECT_META),
        2: ("spec", {1: ("ports", ("repeated", {1: ("name", "string"), 2: ("protocol", "string"),
                                                3: ("port", "int"),
                                                4: ("targetPort", INT_OR_STRING),
                                                5: ("nodePort", "int"),
                                                6: ("appProtocol", "string")})),
                     2: ("selector", "map"), 3: ("clusterIP", "string"), 4: ("type", "string"),
                     5: ("externalIPs", ("repeated", "string")),
                     7: ("sessionAffinity", "string"), 10: ("externalName", "string"),
                     18: ("clusterIPs", ("repeated", "string"))}),
        3: ("status", {1: ("loadBalancer", {})})},
    ("rbac.authorization.k8s.io/v1", "Role"): {1: ("metadata", OBJECT_META),
                                               2: ("rules", ("repeated", POLICY_RULE))},
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): {1: ("metadata", OBJECT_META),
                                                      2: ("rules", ("repeated", POLICY_RULE))},
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): {1: ("metadata", OBJECT_META),
                                                      2: ("subjects", ("repeated", SUBJECT)),
                                                      3: ("roleRef", ROLE_REF)},
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): {
        1: ("metadata", OBJECT_META), 2: ("subjects", ("repeated", SUBJECT)),
        3: ("roleRef", ROLE_REF)},
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): {
        1: ("metadata", OBJECT_META),
        2: ("spec", {1: ("resourceAttributes", RESOURCE_ATTRS),
                     2: ("nonResourceAttributes", {1: ("path", "string"),
                                                   2: ("verb", "string")})})},
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): {
        1: ("metadata", OBJECT_META), 2: ("spec", {1: ("namespace", "string")})},
    ("authentication.k8s.io/v1", "SelfSubjectReview"): {1: ("metadata", OBJECT_META)},
    ("v1", "Namespace"): {1: ("metadata", OBJECT_META),
                          2: ("spec", {1: ("finalizers", ("repeated", "string"))}),
                          3: ("status", {1: ("phase", "string")})},
    ("v1", "ConfigMap"): {1: ("metadata", OBJECT_META), 2: ("data", "map"),
                          3: ("binaryData", "bytesmap"), 4: ("immutable", "bool")},
    ("v1", "Secret"): {1: ("metadata", OBJECT_META), 2: ("data", "bytesmap"),
                       3: ("type", "string"), 4: ("stringData", "map"),
                       5: ("immutable", "bool")},
    ("v1", "ServiceAccount"): {1: ("metadata", OBJECT_META),
                               2: ("secrets", ("repeated", OBJECT_REF)),
                               3: ("imagePullSecrets", ("repeated", LOCAL_REF)),
                               4: ("automountServiceAccountToken", "bool")},
}


def _scalar(typ, wt, val):
    if typ == "string":
        return val.decode("utf-8")
    if typ == "bytes":
        return base64.b64encode(bytes(val)).decode()
    if typ == "int":
        return val - (1 << 64) if val >= 1 << 63 else val
    if typ == "bool":
        return bool(val)
    if typ == INT_OR_STRING:
        f = {n: v for n, _, v in fields(val)}
        return f.get(3, b"").decode() if f.get(1) == 1 else _scalar("int", 0, f.get(2, 0))
    if typ == TIME:
        secs = dict((n, v) for n, _, v in fields(val)).get(1, 0)
        if not secs:
            return ""      # the zero time: null in JSON, dropped here
        return datetime.datetime.fromtimestamp(secs, datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
    if isinstance(typ, dict):
        return decode(val, typ)
    raise ValueError("unknown type %r" % (typ,))


def decode(buf, schema):
    out = {}
    for num, wt, val in fields(buf):
        if num not in schema:
            continue
        name, typ = schema[num]
        if typ == QUANTITY_MAP:
            entry = {n: v for n, _, v in fields(val)}
            q = {n: v for n, _, v in fields(entry.get(2, b""))}
            out.setdefault(name, {})[entry.get(1, b"").decode()] = q.get(1, b"").decode()
        elif typ in ("map", "bytesmap"):
            entry = {n: v for n, _, v in fields(val)}
            k = entry.get(1, b"").decode("utf-8")
            v = entry.get(2, b"")
            out.setdefault(name, {})[k] = (v.decode("utf-8") if typ == "map"
                                           else base64.b64encode(bytes(v)).decode())
        elif isinstance(typ, tuple):
            out.setdefault(name, []).append(_scalar(typ[1], wt, val))
        else:
            v = _scalar(typ, wt, val)
            if v not in ("", 0, False) or isinstance(typ, dict):
                out[name] = v     # zero values are "omitempty" in JSON
    return out


def decode_body(body):
    """A protobuf request body -> the object as JSON would give it."""
    unsupported = ApiError(415, "UnsupportedMediaType",
                           "the body of the request was in an unknown format - accepted media "
                           "types include: application/json, application/yaml")
    if not body.startswith(MAGIC):
        raise unsupported
    try:
        unknown = {n: v for n, _, v in fields(body[len(MAGIC):])}
        tm = {n: v.decode() for n, _, v in fields(unknown.get(1, b""))}
        api_version, kind = tm.get(1, ""), tm.get(2, "")
        schema = SCHEMAS.get((api_version, kind))
        if schema is None:
            raise unsupported
        obj = decode(unknown.get(2, b""), schema)
    except (ValueError, UnicodeDecodeError, KeyError) as e:
        raise ApiError(400, "BadRequest", "cannot decode protobuf body: %s" % e)
    obj["apiVersion"] = api_version
    obj["kind"] = kind
    return obj


POD_TEMPLATE[1] = ("metadata", OBJECT_META)

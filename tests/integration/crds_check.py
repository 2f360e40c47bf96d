#!/usr/bin/env python3
"""Static checks of deploy/crds (stdlib only), run by test_crds.sh.

    crds_check.py crds CRDS.json
        structural-schema rules, names/scope/labels/subresources/printer
        columns, and every field of FIELDS present with its type
    crds_check.py objects CRDS.json OBJS.json [--invalid]
        validate objects against the CRD schemas the way an API server would
        (types, enums, required, unknown fields that would be pruned);
        with --invalid every object must be rejected

The JSON inputs are what `kubectl ... --dry-run=client -o json` prints (an
object or a List). Prints one "ok: ..." or "FAIL: ..." line per check.
"""

import json
import re
import sys

# ------------------------------------------------------------------ facts
# Kinds as Velero defines them (velero-spec.md §1): plural, version, short names.
KINDS = {
    "Backup": ("backups", "v1", []),
    "Restore": ("restores", "v1", []),
    "Schedule": ("schedules", "v1", []),
    "BackupStorageLocation": ("backupstoragelocations", "v1", ["bsl"]),
    "VolumeSnapshotLocation": ("volumesnapshotlocations", "v1", ["vsl"]),
    "BackupRepository": ("backuprepositories", "v1", []),
    "PodVolumeBackup": ("podvolumebackups", "v1", []),
    "PodVolumeRestore": ("podvolumerestores", "v1", []),
    "DeleteBackupRequest": ("deletebackuprequests", "v1", []),
    "DownloadRequest": ("downloadrequests", "v1", []),
    "ServerStatusRequest": ("serverstatusrequests", "v1", ["ssr"]),
    "DataUpload": ("datauploads", "v2alpha1", []),
    "DataDownload": ("datadownloads", "v2alpha1", []),
}

# Printer columns Velero declares (name, jsonPath); stowage adds columns to
# Backup, Restore, VolumeSnapshotLocation and DownloadRequest, which have none
# in Velero (kubectl then shows only NAME and AGE).
COLUMNS = {
    "BackupStorageLocation": [("Phase", ".status.phase"),
                              ("Last Validated", ".status.lastValidationTime"),
                              ("Age", ".metadata.creationTimestamp"),
                              ("Default", ".spec.default")],
    "Schedule": [("Status", ".status.phase"), ("Schedule", ".spec.schedule"),
                 ("LastBackup", ".status.lastBackup"), ("Age", ".metadata.creationTimestamp"),
                 ("Paused", ".spec.paused")],
    "DeleteBackupRequest": [("BackupName", ".spec.backupName"), ("Status", ".status.phase")],
    "ServerStatusRequest": [("Status", ".status.phase")],
    "BackupRepository": [("Age", ".metadata.creationTimestamp"),
                         ("Repository Type", ".spec.repositoryType")],
    "Backup": [("Status", ".status.phase"), ("Errors", ".status.errors"),
               ("Warnings", ".status.warnings"), ("Created", ".status.startTimestamp"),
               ("Expires", ".status.expiration"), ("Storage Location", ".spec.storageLocation")],
}

# Every field of velero-spec.md §1, with its type:
#   string integer int64 boolean object time (date-time string) duration
#   map (string to string) []string []object selector (LabelSelector)
#   ref (TypedLocalObjectReference) secretkey (SecretKeySelector)
#   objref (ObjectReference)
# "?" = nullable (a Go pointer, slice or map that may be null);
# "=A|B" = the enum.  "a[].b" = field b of the items of array a.
_BACKUP_SPEC = """
metadata.labels map
includedNamespaces []string?
excludedNamespaces []string?
includedResources []string?
excludedResources []string?
includeClusterResources boolean?
includedClusterScopedResources []string?
excludedClusterScopedResources []string?
includedNamespaceScopedResources []string?
excludedNamespaceScopedResources []string?
labelSelector selector?
orLabelSelectors []object?
orLabelSelectors[] selector
snapshotVolumes boolean?
ttl duration
volumeGroupSnapshotLabelKey string
hooks.resources []object?
hooks.resources[].name string
hooks.resources[].includedNamespaces []string?
hooks.resources[].excludedNamespaces []string?
hooks.resources[].includedResources []string?
hooks.resources[].excludedResources []string?
hooks.resources[].labelSelector selector?
hooks.resources[].pre []object
hooks.resources[].pre[].exec.container string
hooks.resources[].pre[].exec.command []string
hooks.resources[].pre[].exec.onError string=Continue|Fail
hooks.resources[].pre[].exec.timeout duration
hooks.resources[].post []object
hooks.resources[].post[].exec.container string
hooks.resources[].post[].exec.command []string
hooks.resources[].post[].exec.onError string=Continue|Fail
hooks.resources[].post[].exec.timeout duration
storageLocation string
volumeSnapshotLocations []string
defaultVolumesToRestic boolean?
defaultVolumesToFsBackup boolean?
orderedResources map?
csiSnapshotTimeout duration
itemOperationTimeout duration
resourcePolicy ref?
snapshotMoveData boolean?
datamover string
uploaderConfig.parallelFilesUpload integer
"""

_DM_PHASES = "New|Accepted|Prepared|InProgress|Canceling|Canceled|Completed|Failed"

FIELDS = {
    "Backup": "\n".join("spec." + l for l in _BACKUP_SPEC.split("\n") if l) + """
status.version integer
status.formatVersion string
status.expiration time?
status.phase string=New|Queued|ReadyToStart|FailedValidation|InProgress|WaitingForPluginOperations|WaitingForPluginOperationsPartiallyFailed|Finalizing|FinalizingPartiallyFailed|Completed|PartiallyFailed|Failed|Deleting
status.queuePosition integer
status.validationErrors []string?
status.startTimestamp time?
status.completionTimestamp time?
status.volumeSnapshotsAttempted integer
status.volumeSnapshotsCompleted integer
status.failureReason string
status.warnings integer
status.errors integer
status.progress.totalItems integer
status.progress.itemsBackedUp integer
status.csiVolumeSnapshotsAttempted integer
status.csiVolumeSnapshotsCompleted integer
status.backupItemOperationsAttempted integer
status.backupItemOperationsCompleted integer
status.backupItemOperationsFailed integer
status.hookStatus.hooksAttempted integer
status.hookStatus.hooksFailed integer
""",
    "Restore": """
spec.backupName string
spec.scheduleName string
spec.includedNamespaces []string?
spec.excludedNamespaces []string?
spec.includedResources []string?
spec.excludedResources []string?
spec.namespaceMapping map
spec.labelSelector selector?
spec.orLabelSelectors []object?
spec.orLabelSelectors[] selector
spec.restorePVs boolean?
spec.restoreStatus object?
spec.restoreStatus.includedResources []string?
spec.restoreStatus.excludedResources []string?
spec.preserveNodePorts boolean?
spec.includeClusterResources boolean?
spec.hooks.resources []object
spec.hooks.resources[].name string
spec.hooks.resources[].includedNamespaces []string?
spec.hooks.resources[].excludedNamespaces []string?
spec.hooks.resources[].includedResources []string?
spec.hooks.resources[].excludedResources []string?
spec.hooks.resources[].labelSelector selector?
spec.hooks.resources[].postHooks []object
spec.hooks.resources[].postHooks[].exec.container string
spec.hooks.resources[].postHooks[].exec.command []string
spec.hooks.resources[].postHooks[].exec.onError string=Continue|Fail
spec.hooks.resources[].postHooks[].exec.execTimeout duration
spec.hooks.resources[].postHooks[].exec.waitTimeout duration
spec.hooks.resources[].postHooks[].exec.waitForReady boolean?
spec.hooks.resources[].postHooks[].init.initContainers []object
spec.hooks.resources[].postHooks[].init.timeout duration
spec.existingResourcePolicy string=none|update
spec.itemOperationTimeout duration
spec.resourceModifier ref?
spec.uploaderConfig.writeSparseFiles boolean?
spec.uploaderConfig.parallelFilesDownload integer
status.phase string=New|FailedValidation|InProgress|WaitingForPluginOperations|WaitingForPluginOperationsPartiallyFailed|Finalizing|FinalizingPartiallyFailed|Completed|PartiallyFailed|Failed
status.validationErrors []string?
status.warnings integer
status.errors integer
status.failureReason string
status.startTimestamp time?
status.completionTimestamp time?
status.progress.totalItems integer
status.progress.itemsRestored integer
status.restoreItemOperationsAttempted integer
status.restoreItemOperationsCompleted integer
status.restoreItemOperationsFailed integer
status.hookStatus.hooksAttempted integer
status.hookStatus.hooksFailed integer
""",
    "Schedule": "\n".join("spec.template." + l for l in _BACKUP_SPEC.split("\n") if l) + """
spec.schedule string
spec.useOwnerReferencesInBackup boolean?
spec.paused boolean
spec.skipImmediately boolean?
status.phase string=New|Enabled|FailedValidation
status.lastBackup time?
status.lastSkipped time?
status.validationErrors []string
""",
    "BackupStorageLocation": """
spec.provider string
spec.objectStorage.bucket string
spec.objectStorage.prefix string
spec.objectStorage.caCert string
spec.objectStorage.caCertRef secretkey?
spec.config map
spec.credential secretkey?
spec.default boolean
spec.accessMode string=ReadOnly|ReadWrite
spec.backupSyncPeriod duration?
spec.validationFrequency duration?
status.phase string=Available|Unavailable
status.lastSyncedTime time?
status.lastValidationTime time?
status.message string
status.lastSyncedRevision string
status.accessMode string=ReadOnly|ReadWrite
""",
    "VolumeSnapshotLocation": """
spec.provider string
spec.config map
spec.credential secretkey?
status.phase string=Available|Unavailable
""",
    "BackupRepository": """
spec.volumeNamespace string
spec.backupStorageLocation string
spec.repositoryType string=kopia|restic|
spec.resticIdentifier string
spec.maintenanceFrequency duration
spec.repositoryConfig map?
status.phase string=New|Ready|NotReady
status.message string
status.lastMaintenanceTime time?
status.recentMaintenance []object
status.recentMaintenance[].result string=Succeeded|Failed
status.recentMaintenance[].startTimestamp time?
status.recentMaintenance[].completeTimestamp time?
status.recentMaintenance[].message string
""",
    "PodVolumeBackup": """
spec.node string
spec.pod objref
spec.volume string
spec.backupStorageLocation string
spec.repoIdentifier string
spec.uploaderType string=kopia|restic|
spec.tags map
spec.uploaderSettings map?
spec.cancel boolean
status.phase string=%s
status.path string
status.snapshotID string
status.message string
status.startTimestamp time?
status.completionTimestamp time?
status.progress.totalBytes int64
status.progress.bytesDone int64
status.incrementalBytes int64
status.acceptedTimestamp time?
""" % _DM_PHASES,
    "PodVolumeRestore": """
spec.pod objref
spec.volume string
spec.backupStorageLocation string
spec.repoIdentifier string
spec.uploaderType string=kopia|restic|
spec.snapshotID string
spec.sourceNamespace string
spec.uploaderSettings map?
spec.cancel boolean
spec.snapshotSize int64
status.phase string=%s
status.message string
status.startTimestamp time?
status.completionTimestamp time?
status.progress.totalBytes int64
status.progress.bytesDone int64
status.acceptedTimestamp time?
status.node string
""" % _DM_PHASES,
    "DeleteBackupRequest": """
spec.backupName string
status.phase string=New|InProgress|Processed
status.errors []string?
""",
    "DownloadRequest": """
spec.target.kind string=BackupLog|BackupContents|BackupVolumeSnapshots|BackupItemOperations|BackupResourceList|BackupResults|RestoreLog|RestoreResults|RestoreResourceList|RestoreItemOperations|CSIBackupVolumeSnapshots|CSIBackupVolumeSnapshotContents|BackupVolumeInfos|RestoreVolumeInfo
spec.target.name string
status.phase string=New|Processed
status.downloadURL string
status.expiration time?
""",
    "ServerStatusRequest": """
spec object
status.phase string=New|Processed
status.processedTimestamp time?
status.serverVersion string
status.plugins []object?
status.plugins[].name string
status.plugins[].kind string
""",
    "DataUpload": """
spec.snapshotType string=CSI
spec.csiSnapshot object?
spec.csiSnapshot.volumeSnapshot string
spec.csiSnapshot.storageClass string
spec.csiSnapshot.snapshotClass string
spec.csiSnapshot.driver string
spec.sourcePVC string
spec.datamover string
spec.backupStorageLocation string
spec.sourceNamespace string
spec.dataMoverConfig map?
spec.cancel boolean
spec.operationTimeout duration
status.phase string=%s
status.path string
status.snapshotID string
status.dataMoverResult map?
status.message string
status.startTimestamp time?
status.completionTimestamp time?
status.progress.totalBytes int64
status.progress.bytesDone int64
status.incrementalBytes int64
status.node string
status.nodeOS string=auto|linux|windows
status.acceptedByNode string
status.acceptedTimestamp time?
""" % _DM_PHASES,
    "DataDownload": """
spec.targetVolume.pvc string
spec.targetVolume.pv string
spec.targetVolume.namespace string
spec.backupStorageLocation string
spec.datamover string
spec.snapshotID string
spec.sourceNamespace string
spec.dataMoverConfig map
spec.cancel boolean
spec.operationTimeout duration
spec.nodeOS string=auto|linux|windows
spec.snapshotSize int64
status.phase string=%s
status.message string
status.startTimestamp time?
status.completionTimestamp time?
status.progress.totalBytes int64
status.progress.bytesDone int64
status.node string
status.nodeOS string=auto|linux|windows
status.acceptedByNode string
status.acceptedTimestamp time?
""" % _DM_PHASES,
}

# Required fields (Go fields without omitempty/+optional), per kind.
REQUIRED = {
    "Schedule": ["spec.schedule", "spec.template"],
    "BackupStorageLocation": ["spec.provider", "spec.objectStorage",
                              "spec.objectStorage.bucket"],
    "VolumeSnapshotLocation": ["spec.provider"],
    "BackupRepository": ["spec.volumeNamespace", "spec.backupStorageLocation",
                         "spec.maintenanceFrequency"],
    "PodVolumeBackup": ["spec.node", "spec.pod", "spec.volume", "spec.backupStorageLocation",
                        "spec.repoIdentifier"],
    "PodVolumeRestore": ["spec.pod", "spec.volume", "spec.backupStorageLocation",
                         "spec.repoIdentifier", "spec.snapshotID", "spec.sourceNamespace"],
    "DeleteBackupRequest": ["spec.backupName"],
    "DownloadRequest": ["spec.target", "spec.target.kind", "spec.target.name"],
    "Backup": ["spec.hooks.resources[].name",
               "spec.hooks.resources[].pre[].exec.command"],
    "DataUpload": ["spec.operationTimeout"],
    "DataDownload": ["spec.operationTimeout"],
}

# ------------------------------------------------------------------ output

RESULTS = []


def ok(msg):
    RESULTS.append("ok: " + msg)


def bad(msg):
    RESULTS.append("FAIL: " + msg)


def items_of(doc):
    if doc.get("kind", "").endswith("List") and "items" in doc:
        return doc["items"]
    return [doc]


# ------------------------------------------------------------------ structural


def structural(node, path, errs):
    """Rules of a structural schema (apiextensions.k8s.io/v1) plus ours:
    every node has a type; properties and additionalProperties exclusive;
    required names exist; enum values match the type; no enum+nullable
    (a null would fail the enum); preserve-unknown-fields only on
    RawExtension-like items."""
    if not isinstance(node, dict):
        errs.append("%s: not a schema object" % path)
        return
    t = node.get("type")
    if t is None and not node.get("x-kubernetes-int-or-string"):
        errs.append("%s: no type" % path)
    if t not in (None, "object", "array", "string", "integer", "number", "boolean"):
        errs.append("%s: unknown type %r" % (path, t))
    for bad_key in ("$ref", "definitions", "dependencies", "additionalItems",
                    "patternProperties", "uniqueItems", "anyOf", "oneOf", "allOf", "not"):
        if bad_key in node:
            errs.append("%s: %s is not expected here (not structural or not Velero's)" %
                        (path, bad_key))
    if "properties" in node and "additionalProperties" in node:
        errs.append("%s: both properties and additionalProperties" % path)
    if ("properties" in node or "additionalProperties" in node) and t != "object":
        errs.append("%s: properties on a non-object" % path)
    if "items" in node and t != "array":
        errs.append("%s: items on a non-array" % path)
    if t == "array" and "items" not in node:
        errs.append("%s: array without items" % path)
    for r in node.get("required", []):
        if r not in node.get("properties", {}):
            errs.append("%s: required %r is not a property" % (path, r))
    if "enum" in node:
        pytype = {"string": str, "integer": int, "boolean": bool}.get(t)
        for v in node["enum"]:
            if pytype is None or not isinstance(v, pytype):
                errs.append("%s: enum value %r is not a %s" % (path, v, t))
        if node.get("nullable"):
            errs.append("%s: enum and nullable together" % path)
    if node.get("format") == "date-time" and t != "string":
        errs.append("%s: date-time on a %s" % (path, t))
    if node.get("x-kubernetes-preserve-unknown-fields") and not path.endswith("initContainers[]"):
        errs.append("%s: x-kubernetes-preserve-unknown-fields outside Velero's free-form "
                    "parts" % path)
    if node.get("x-kubernetes-preserve-unknown-fields") and node.get("properties"):
        errs.append("%s: preserve-unknown-fields with properties" % path)
    if "default" in node:
        errs.append("%s: defaults are not Velero's (the server defaults)" % path)
    for k, v in node.get("properties", {}).items():
        structural(v, "%s.%s" % (path, k) if path else k, errs)
    if isinstance(node.get("additionalProperties"), dict):
        structural(node["additionalProperties"], path + "{}", errs)
    if "items" in node:
        structural(node["items"], path + "[]", errs)


def lookup(schema, path):
    node = schema
    for seg in path.split("."):
        arr = seg.endswith("[]")
        name = seg[:-2] if arr else seg
        if name:
            props = node.get("properties")
            if not props or name not in props:
                return None
            node = props[name]
        if arr:
            if node.get("type") != "array" or "items" not in node:
                return None
            node = node["items"]
    return node


def type_ok(node, want):
    nullable = want.endswith("?")
    want = want.rstrip("?")
    enum = None
    if "=" in want:
        want, e = want.split("=", 1)
        enum = e.split("|")
    t = node.get("type")
    problems = []
    simple = {"string": "string", "integer": "integer", "boolean": "boolean", "object": "object",
              "duration": "string", "time": "string", "int64": "integer"}
    if want in simple:
        if t != simple[want]:
            problems.append("type %s, expected %s" % (t, simple[want]))
        if want == "time" and node.get("format") != "date-time":
            problems.append("format %s, expected date-time" % node.get("format"))
        if want == "int64" and node.get("format") != "int64":
            problems.append("format %s, expected int64" % node.get("format"))
    elif want == "map":
        ap = node.get("additionalProperties")
        if t != "object" or not isinstance(ap, dict) or ap.get("type") != "string":
            problems.append("not a string-to-string map")
    elif want.startswith("[]"):
        it = node.get("items", {})
        if t != "array" or it.get("type") != want[2:]:
            problems.append("not an array of %s" % want[2:])
    elif want in ("selector", "ref", "secretkey", "objref"):
        props = node.get("properties", {})
        need = {"selector": {"matchLabels", "matchExpressions"},
                "ref": {"apiGroup", "kind", "name"},
                "secretkey": {"name", "key"},
                "objref": {"kind", "namespace", "name", "uid"}}[want]
        if t != "object" or not need <= set(props):
            problems.append("not a %s object (has %s)" % (want, sorted(props)))
        if want == "selector":
            me = props.get("matchExpressions", {}).get("items", {}).get("properties", {})
            if not {"key", "operator", "values"} <= set(me):
                problems.append("matchExpressions items lack key/operator/values")
            if not type_ok(props.get("matchLabels", {}), "map")[0]:
                problems.append("matchLabels is not a map")
    else:
        problems.append("unknown expected type %r in the field list" % want)
    if nullable and not node.get("nullable"):
        problems.append("not nullable")
    if enum is not None and sorted(node.get("enum") or [None]) != sorted(enum):
        problems.append("enum %s, expected %s" % (node.get("enum"), enum))
    return (not problems), problems


def schema_paths(node, path=""):
    out = set()
    for k, v in node.get("properties", {}).items():
        p = "%s.%s" % (path, k) if path else k
        out.add(p)
        out |= schema_paths(v, p)
    if "items" in node:
        out |= schema_paths(node["items"], path + "[]")
    return out


def check_crds(crds):
    by_kind = {}
    for c in crds:
        if c.get("kind") != "CustomResourceDefinition":
            bad("unexpected object %s/%s in deploy/crds" % (c.get("kind"),
                                                           c.get("metadata", {}).get("name")))
            continue
        by_kind[c["spec"]["names"]["kind"]] = c
    missing = sorted(set(KINDS) - set(by_kind))
    extra = sorted(set(by_kind) - set(KINDS))
    if missing or extra:
        bad("CRD kinds: missing %s, unexpected %s" % (missing, extra))
    else:
        ok("one CRD for each of the %d velero.io kinds" % len(KINDS))
    for kind, (plural, version, shorts) in KINDS.items():
        c = by_kind.get(kind)
        if c is None:
            continue
        errs = []
        spec = c["spec"]
        names = spec["names"]
        if c["metadata"]["name"] != plural + ".velero.io":
            errs.append("name %s" % c["metadata"]["name"])
        if spec.get("group") != "velero.io":
            errs.append("group %s" % spec.get("group"))
        if spec.get("scope") != "Namespaced":
            errs.append("scope %s" % spec.get("scope"))
        want_names = {"kind": kind, "listKind": kind + "List", "plural": plural,
                      "singular": kind.lower()}
        for k, v in want_names.items():
            if names.get(k) != v:
                errs.append("names.%s %r, expected %r" % (k, names.get(k), v))
        if sorted(names.get("shortNames") or []) != sorted(shorts):
            errs.append("shortNames %s, expected %s (Velero's)" % (names.get("shortNames"),
                                                                    shorts))
        if names.get("categories"):
            errs.append("categories %s: Velero has none" % names["categories"])
        labels = c["metadata"].get("labels") or {}
        if labels.get("component") != "velero":
            errs.append("label component=velero missing")
        if not any("stowage" in v for v in (c["metadata"].get("annotations") or {}).values()):
            errs.append("no annotation pointing at stowage")
        vers = spec.get("versions") or []
        if [v.get("name") for v in vers] != [version]:
            errs.append("versions %s, expected [%s]" % ([v.get("name") for v in vers], version))
        if errs:
            bad("%s: %s" % (kind, "; ".join(errs)))
        else:
            ok("%s: %s.velero.io, %s, Namespaced, names and short names %s" %
               (kind, plural, version, shorts or "(none)"))
        if not vers:
            continue
        v = vers[0]
        if not (v.get("served") and v.get("storage")):
            bad("%s: version not served/storage" % kind)
        subs = v.get("subresources")
        # Velero: Backup and Restore have no subresources key; the other
        # kinds declare an empty one. No kind has a status subresource:
        # Velero writes .status with ordinary updates of the whole object.
        if kind in ("Backup", "Restore"):
            sub_ok = subs is None
        else:
            sub_ok = subs == {}
        if sub_ok:
            ok("%s: subresources as Velero's (%s, no status subresource)" %
               (kind, "none" if subs is None else "{}"))
        else:
            bad("%s: subresources %r differ from Velero's" % (kind, subs))

        schema = v.get("schema", {}).get("openAPIV3Schema")
        if not schema:
            bad("%s: no openAPIV3Schema" % kind)
            continue
        errs = []
        structural(schema, "", errs)
        if schema.get("type") != "object":
            errs.append("root is not an object")
        for k in ("apiVersion", "kind", "metadata", "spec", "status"):
            if k not in schema.get("properties", {}):
                errs.append("root lacks %s" % k)
        if schema.get("properties", {}).get("metadata") != {"type": "object"}:
            errs.append("metadata is not just {type: object}")
        if errs:
            bad("%s: structural schema: %s" % (kind, "; ".join(errs[:8])))
        else:
            ok("%s: structural schema (every node typed, no stray keywords)" % kind)

        # the field list
        want = [l.split(None, 1) for l in FIELDS[kind].strip().split("\n") if l.strip()]
        errs = []
        for path, typ in want:
            node = lookup(schema, path)
            if node is None:
                errs.append("%s missing" % path)
                continue
            good, why = type_ok(node, typ)
            if not good:
                errs.append("%s: %s" % (path, ", ".join(why)))
        if errs:
            bad("%s: fields: %s" % (kind, "; ".join(errs)))
        else:
            ok("%s: all %d fields of the spec's list, with their types" % (kind, len(want)))
        # nothing in spec/status beyond the list (Velero's names only)
        listed = {p for p, _ in want}
        opaque = {p for p, t in want
                  if t.rstrip("?") in ("selector", "ref", "secretkey", "objref")}
        extra = set()
        for p in schema_paths(schema):
            if p.split(".")[0] not in ("spec", "status") or p in ("spec", "status"):
                continue
            if p in listed or any(l.startswith(p + ".") or l.startswith(p + "[]")
                                  for l in listed):
                continue
            if any(p.startswith(l + ".") for l in opaque):
                continue   # inside a selector/reference, checked by type_ok
            extra.add(p)
        if extra:
            bad("%s: fields not in Velero's list: %s" % (kind, sorted(extra)))
        else:
            ok("%s: no field beyond Velero's" % kind)
        errs = []
        for path in REQUIRED.get(kind, []):
            parent, _, name = path.rpartition(".")
            pnode = lookup(schema, parent) if parent else schema
            if pnode is None or name not in (pnode.get("required") or []):
                errs.append(path)
        if errs:
            bad("%s: not required: %s" % (kind, errs))
        elif kind in REQUIRED:
            ok("%s: required fields %s" % (kind, REQUIRED[kind]))

        # printer columns
        cols = v.get("additionalPrinterColumns") or []
        errs = []
        for col in cols:
            jp = col.get("jsonPath", "")
            t = col.get("type")
            if t not in ("string", "integer", "number", "boolean", "date"):
                errs.append("%s: type %s" % (col.get("name"), t))
            if jp.startswith(".metadata."):
                continue
            node = lookup(schema, jp.lstrip("."))
            if node is None:
                errs.append("%s: %s is not in the schema" % (col.get("name"), jp))
                continue
            st = node.get("type")
            if t == "date" and not (st == "string" and node.get("format") == "date-time"):
                errs.append("%s: date column on a %s" % (col.get("name"), st))
            if t in ("integer", "boolean") and st != t:
                errs.append("%s: %s column on a %s" % (col.get("name"), t, st))
        if kind in COLUMNS:
            got = [(c.get("name"), c.get("jsonPath")) for c in cols]
            if got != COLUMNS[kind]:
                errs.append("columns %s, expected %s" % (got, COLUMNS[kind]))
        if errs:
            bad("%s: printer columns: %s" % (kind, "; ".join(errs)))
        else:
            ok("%s: printer columns %s" % (kind, [c.get("name") for c in cols]))
    return by_kind


# ------------------------------------------------------------------ validation

_DT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def validate(node, value, path, errs):
    if value is None:
        if not node.get("nullable"):
            errs.append("%s: null but not nullable (the server drops or rejects it)" % path)
        return
    t = node.get("type")
    if node.get("x-kubernetes-preserve-unknown-fields") and t == "object":
        if not isinstance(value, dict):
            errs.append("%s: expected an object" % path)
        return
    check = {"object": lambda v: isinstance(v, dict),
             "array": lambda v: isinstance(v, list),
             "string": lambda v: isinstance(v, str),
             "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
             "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
             "boolean": lambda v: isinstance(v, bool)}.get(t)
    if check and not check(value):
        errs.append("%s: %r is not a %s" % (path, value, t))
        return
    if "enum" in node and value not in node["enum"]:
        errs.append("%s: %r not in %s" % (path, value, node["enum"]))
    if node.get("format") == "date-time" and not _DT.match(value):
        errs.append("%s: %r is not a date-time" % (path, value))
    if "minItems" in node and len(value) < node["minItems"]:
        errs.append("%s: fewer than %d items" % (path, node["minItems"]))
    if t == "object":
        props = node.get("properties")
        ap = node.get("additionalProperties")
        for r in node.get("required", []):
            if r not in value:
                errs.append("%s.%s: required" % (path, r))
        for k, v in value.items():
            if props is not None and k in props:
                validate(props[k], v, "%s.%s" % (path, k), errs)
            elif isinstance(ap, dict):
                validate(ap, v, "%s.%s" % (path, k), errs)
            elif path == "" and k in ("apiVersion", "kind", "metadata"):
                continue
            elif props is not None or ap is not None:
                errs.append("%s.%s: unknown field (a real API server prunes it)" % (path, k))
    if t == "array":
        for i, v in enumerate(value):
            validate(node["items"], v, "%s[%d]" % (path, i), errs)


def check_objects(by_kind, objs, expect_invalid):
    for o in objs:
        kind = o.get("kind")
        name = "%s %s/%s" % (kind, o.get("metadata", {}).get("namespace", ""),
                             o.get("metadata", {}).get("name") or
                             o.get("metadata", {}).get("generateName"))
        c = by_kind.get(kind)
        if c is None or not o.get("apiVersion", "").startswith("velero.io/"):
            bad("%s: no velero.io CRD for it" % name)
            continue
        v = c["spec"]["versions"][0]
        if o["apiVersion"] != "velero.io/" + v["name"]:
            bad("%s: apiVersion %s, the CRD serves velero.io/%s" % (name, o["apiVersion"],
                                                                    v["name"]))
            continue
        errs = []
        validate(v["schema"]["openAPIV3Schema"], o, "", errs)
        errs = [e.lstrip(".") for e in errs]
        if expect_invalid:
            if errs:
                ok("%s is rejected by the schema (%s)" % (name, errs[0]))
            else:
                bad("%s: expected the schema to reject it, got no error" % name)
        elif errs:
            bad("%s: schema: %s" % (name, "; ".join(errs)))
        else:
            ok("%s is valid against the CRD schema, nothing pruned" % name)


def main(argv):
    with open(argv[1]) as f:
        crds = items_of(json.load(f))
    if argv[0] == "crds":
        check_crds(crds)
    elif argv[0] == "objects":
        global RESULTS
        by_kind = check_crds(crds)
        RESULTS = []
        with open(argv[2]) as f:
            objs = items_of(json.load(f))
        check_objects(by_kind, objs, "--invalid" in argv[3:])
    else:
        print("usage: crds_check.py crds|objects ...", file=sys.stderr)
        return 2
    for r in RESULTS:
        print(r)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The kinds kubesim serves: built-in API groups and, at run time, CRDs.

A ResourceType describes one served resource (group, version, plural) with
what discovery reports about it. The Registry holds them; the Store adds and
removes CRD-backed types when CustomResourceDefinitions change.
"""

import copy
import re


class ResourceType:
    def __init__(self, group, version, resource, kind, namespaced=True,
                 short_names=(), categories=(), subresources=(), verbs=None,
                 singular=None, crd=None, printer_columns=None,
                 name_rule="subdomain"):
        self.group = group
        self.version = version
        self.resource = resource
        self.kind = kind
        self.namespaced = namespaced
        self.short_names = list(short_names)
        self.categories = list(categories)
        self.subresources = list(subresources)   # e.g. ["status", "exec"]
        self.verbs = verbs or ["create", "delete", "deletecollection", "get",
                               "list", "patch", "update", "watch"]
        self.singular = singular or kind.lower()
        self.crd = crd                      # CRD name when CRD-backed
        self.printer_columns = printer_columns  # CRD additionalPrinterColumns
        self.name_rule = name_rule          # subdomain | label | path
        # the scale subresource: where replicas and the selector live
        self.scale_paths = (".spec.replicas", ".status.replicas", None)
        self.list_kind = kind + "List"

    @property
    def api_version(self):
        return self.version if not self.group else "%s/%s" % (self.group, self.version)

    @property
    def has_status(self):
        return "status" in self.subresources

    @property
    def strategic(self):
        """Strategic merge patch is only accepted for built-in kinds."""
        return self.crd is None

    def discovery_entry(self):
        """APIResource entries (the resource and its subresources)."""
        out = [{
            "name": self.resource,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(self.verbs),
        }]
        if self.short_names:
            out[0]["shortNames"] = list(self.short_names)
        if self.categories:
            out[0]["categories"] = list(self.categories)
        for sub in self.subresources:
            out.append({
                "name": "%s/%s" % (self.resource, sub),
                "singularName": "",
                "namespaced": self.namespaced,
                "kind": SUBRESOURCE_KINDS.get(sub, self.kind),
                "verbs": list(SUBRESOURCE_VERBS.get(sub, ["get", "patch", "update"])),
            })
            if sub in ("scale", "eviction"):
                out[-1]["group"], out[-1]["version"] = SUBRESOURCE_GV[sub]
        return out

    def aggregated_entry(self):
        """One APIResourceDiscovery (apidiscovery.k8s.io/v2)."""
        e = {
            "resource": self.resource,
            "responseKind": {"group": self.group, "version": self.version, "kind": self.kind},
            "scope": "Namespaced" if self.namespaced else "Cluster",
            "singularResource": self.singular,
            "verbs": list(self.verbs),
        }
        if self.short_names:
            e["shortNames"] = list(self.short_names)
        if self.categories:
            e["categories"] = list(self.categories)
        subs = []
        for sub in self.subresources:
            kind = SUBRESOURCE_KINDS.get(sub, self.kind)
            group, version = SUBRESOURCE_GV.get(sub, (self.group, self.version))
            subs.append({
                "subresource": sub,
                "responseKind": {"group": group, "version": version, "kind": kind},
                "verbs": list(SUBRESOURCE_VERBS.get(sub, ["get", "patch", "update"])),
            })
        if subs:
            e["subresources"] = subs
        return e


SUBRESOURCE_KINDS = {"exec": "PodExecOptions", "log": "Pod", "attach": "PodAttachOptions",
                     "eviction": "Eviction", "binding": "Binding", "finalize": "Namespace",
                     "scale": "Scale"}
SUBRESOURCE_GV = {"exec": ("", "v1"), "log": ("", "v1"), "attach": ("", "v1"),
                  "eviction": ("policy", "v1"), "binding": ("", "v1"), "finalize": ("", "v1"),
                  "scale": ("autoscaling", "v1")}
SUBRESOURCE_VERBS = {"exec": ["create", "get"], "log": ["get"], "attach": ["create", "get"],
                     "eviction": ["create"], "binding": ["create"], "finalize": ["update"],
                     "status": ["get", "patch", "update"]}

ALL = ("all",)


def _builtin():
    R = ResourceType
    st = ("status",)
    return [
        # core
        R("", "v1", "namespaces", "Namespace", False, ["ns"], subresources=("finalize", "status"),
          verbs=["create", "delete", "get", "list", "patch", "update", "watch"], name_rule="label"),
        R("", "v1", "pods", "Pod", True, ["po"], ALL, ("exec", "log", "status", "binding", "eviction")),
        R("", "v1", "services", "Service", True, ["svc"], ALL, st, name_rule="label",
          verbs=["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]),
        R("", "v1", "configmaps", "ConfigMap", True, ["cm"]),
        R("", "v1", "secrets", "Secret", True),
        R("", "v1", "serviceaccounts", "ServiceAccount", True, ["sa"]),
        R("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, ["pvc"], subresources=st),
        R("", "v1", "persistentvolumes", "PersistentVolume", False, ["pv"], subresources=st),
        R("", "v1", "nodes", "Node", False, ["no"], subresources=st),
        R("", "v1", "events", "Event", True, ["ev"]),
        R("", "v1", "endpoints", "Endpoints", True, ["ep"], singular="endpoints"),
        R("", "v1", "limitranges", "LimitRange", True, ["limits"]),
        R("", "v1", "resourcequotas", "ResourceQuota", True, ["quota"], subresources=st),
        R("", "v1", "replicationcontrollers", "ReplicationController", True, ["rc"], ALL, st),
        R("", "v1", "podtemplates", "PodTemplate", True),
        # apps
        R("apps", "v1", "deployments", "Deployment", True, ["deploy"], ALL, ("status", "scale")),
        R("apps", "v1", "statefulsets", "StatefulSet", True, ["sts"], ALL, ("status", "scale")),
        R("apps", "v1", "daemonsets", "DaemonSet", True, ["ds"], ALL, st),
        R("apps", "v1", "replicasets", "ReplicaSet", True, ["rs"], ALL, ("status", "scale")),
        R("apps", "v1", "controllerrevisions", "ControllerRevision", True),
        # batch
        R("batch", "v1", "jobs", "Job", True, [], ALL, st),
        R("batch", "v1", "cronjobs", "CronJob", True, ["cj"], ALL, st),
        # autoscaling
        R("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True,
          ["hpa"], ALL, st),
        # rbac
        R("rbac.authorization.k8s.io", "v1", "roles", "Role", True, name_rule="path"),
        R("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True, name_rule="path"),
        R("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False, name_rule="path"),
        R("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False,
          name_rule="path"),
        # storage
        R("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, ["sc"]),
        R("storage.k8s.io", "v1", "csidrivers", "CSIDriver", False),
        R("snapshot.storage.k8s.io", "v1", "volumesnapshotclasses", "VolumeSnapshotClass", False,
          ["vsclass", "vsclasses"]),
        R("snapshot.storage.k8s.io", "v1", "volumesnapshots", "VolumeSnapshot", True,
          ["vs"], subresources=st),
        R("snapshot.storage.k8s.io", "v1", "volumesnapshotcontents", "VolumeSnapshotContent", False,
          ["vsc", "vscs"], subresources=st),
        # coordination
        R("coordination.k8s.io", "v1", "leases", "Lease", True),
        # apiextensions
        R("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
          False, ["crd", "crds"], ("api-extensions",), st),
        # policy
        R("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ["pdb"], subresources=st),
        # networking
        R("networking.k8s.io", "v1", "ingresses", "Ingress", True, ["ing"], subresources=st),
        R("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, ["netpol"]),
        R("networking.k8s.io", "v1", "ingressclasses", "IngressClass", False),
        # scheduling
        R("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False, ["pc"]),
        # discovery
        R("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True),
        # reviews: create-only, answered and not stored (everyone may do anything)
        R("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview",
          False, verbs=["create"]),
        R("authorization.k8s.io", "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview",
          False, verbs=["create"]),
        R("authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview",
          False, verbs=["create"]),
        R("authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview",
          False, verbs=["create"]),
    ]


def version_priority(v):
    """Sort key: GA before beta before alpha, higher numbers first, then
    non-Kubernetes-style names alphabetically."""
    m = re.match(r"^v(\d+)(?:(alpha|beta)(\d+))?$", v)
    if not m:
        return (3, 0, 0, v)
    stage = {None: 0, "beta": 1, "alpha": 2}[m.group(2)]
    return (stage, -int(m.group(1)), -int(m.group(3) or 0), v)


class Registry:
    """Served resource types, keyed by (group, version, resource)."""

    def __init__(self):
        self.types = {}
        self.group_order = []       # groups in discovery order
        for rt in _builtin():
            self.add(rt)

    def add(self, rt):
        self.types[(rt.group, rt.version, rt.resource)] = rt
        if rt.group not in self.group_order:
            self.group_order.append(rt.group)

    def remove_crd(self, crd_name):
        for key in [k for k, rt in self.types.items() if rt.crd == crd_name]:
            del self.types[key]
        live = {rt.group for rt in self.types.values()}
        self.group_order = [g for g in self.group_order if g in live]

    def lookup(self, group, version, resource):
        return self.types.get((group, version, resource))

    def by_kind(self, group, version, kind):
        for rt in self.types.values():
            if rt.group == group and rt.version == version and rt.kind == kind:
                return rt
        return None

    def versions(self, group):
        """Served versions of a group, preferred first (Kubernetes version
        priority: v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > anything else)."""
        out = []
        for rt in self.types.values():
            if rt.group == group and rt.version not in out:
                out.append(rt.version)
        return sorted(out, key=version_priority)

    def preferred_version(self, group):
        vs = self.versions(group)
        return vs[0] if vs else None

    def storage_version(self, group, resource):
        """The version a (group, resource) is stored in: the first one
        registered (built-ins have one; crd_types puts the storage one first)."""
        for rt in self.types.values():
            if rt.group == group and rt.resource == resource:
                return rt.version
        return None

    def in_group_version(self, group, version):
        return [rt for rt in self.types.values() if rt.group == group and rt.version == version]

    def groups(self):
        return [g for g in self.group_order if g]


def crd_types(crd):
    """ResourceTypes served for a CustomResourceDefinition object."""
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    group = spec.get("group", "")
    plural = names.get("plural", "")
    out = []
    versions = spec.get("versions") or []
    # the storage version first: it is the one objects are kept in
    versions = sorted(versions, key=lambda v: 0 if v.get("storage") else 1)
    for v in versions:
        if not v.get("served", True):
            continue
        subs = []
        if "status" in (v.get("subresources") or {}):
            subs.append("status")
        scale = (v.get("subresources") or {}).get("scale")
        if scale is not None:
            subs.append("scale")
        out.append(ResourceType(
            group, v.get("name"), plural, names.get("kind", ""),
            spec.get("scope", "Namespaced") == "Namespaced",
            names.get("shortNames") or [], names.get("categories") or [], subs,
            singular=names.get("singular") or names.get("kind", "").lower(),
            crd=crd["metadata"]["name"],
            printer_columns=copy.deepcopy(v.get("additionalPrinterColumns")),
            name_rule="subdomain"))
        out[-1].list_kind = names.get("listKind") or names.get("kind", "") + "List"
        if scale is not None:
            out[-1].scale_paths = (scale.get("specReplicasPath", ".spec.replicas"),
                                   scale.get("statusReplicasPath", ".status.replicas"),
                                   scale.get("labelSelectorPath"))
    return out

#!/usr/bin/env python3
"""Unit tests of kubesim's pure parts (patches, selectors, JSONPath, store
semantics without HTTP). Run: python3 tools/kubesim/test_units.py"""

import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kubesim import patch, selectors, tables  # noqa: E402
from kubesim.errors import ApiError  # noqa: E402
from kubesim.store import Store  # noqa: E402


class MergePatch(unittest.TestCase):
    def test_rfc7386_examples(self):
        cases = [
            ({"a": "b"}, {"a": "c"}, {"a": "c"}),
            ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
            ({"a": "b"}, {"a": None}, {}),
            ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
            ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
            ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
            ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
        ]
        for target, p, want in cases:
            self.assertEqual(patch.merge_patch(target, p), want)


class JsonPatch(unittest.TestCase):
    doc = {"a": {"b": [1, 2, 3]}, "c~/d": 1}

    def test_ops(self):
        out = patch.json_patch(self.doc, [
            {"op": "add", "path": "/a/b/1", "value": 9},
            {"op": "add", "path": "/a/b/-", "value": 4},
            {"op": "remove", "path": "/a/b/0"},
            {"op": "replace", "path": "/c~0~1d", "value": 2},
            {"op": "copy", "from": "/a/b", "path": "/copy"},
            {"op": "move", "from": "/copy", "path": "/moved"},
            {"op": "test", "path": "/moved/0", "value": 9},
        ])
        self.assertEqual(out, {"a": {"b": [9, 2, 3, 4]}, "c~/d": 2, "moved": [9, 2, 3, 4]})
        self.assertEqual(self.doc["a"]["b"], [1, 2, 3])

    def test_failures(self):
        for ops in ([{"op": "test", "path": "/a/b/0", "value": 5}],
                    [{"op": "remove", "path": "/nope"}],
                    [{"op": "replace", "path": "/nope", "value": 1}],
                    [{"op": "add", "path": "/a/b/7", "value": 1}]):
            with self.assertRaises(ApiError) as cm:
                patch.json_patch(self.doc, ops)
            self.assertEqual(cm.exception.code, 422)


class StrategicMerge(unittest.TestCase):
    pod = {"spec": {
        "containers": [
            {"name": "a", "image": "x", "env": [{"name": "E1", "value": "1"}],
             "ports": [{"containerPort": 80, "name": "http"}], "args": ["-v"]},
            {"name": "b", "image": "y"}],
        "volumes": [{"name": "v1", "emptyDir": {}}, {"name": "v2", "secret": {"secretName": "s"}}],
        "tolerations": [{"key": "k"}]},
        "metadata": {"finalizers": ["f1"]}}

    def test_merge_by_key(self):
        out = patch.strategic_merge(self.pod, {"spec": {"containers": [
            {"name": "a", "env": [{"name": "E2", "value": "2"}], "args": ["-q"],
             "ports": [{"containerPort": 80, "protocol": "TCP"}]},
            {"name": "c", "image": "z"}]}})
        a = out["spec"]["containers"][0]
        self.assertEqual([c["name"] for c in out["spec"]["containers"]], ["a", "b", "c"])
        self.assertEqual(a["env"], [{"name": "E1", "value": "1"}, {"name": "E2", "value": "2"}])
        self.assertEqual(a["args"], ["-q"])           # no merge key: replaced
        self.assertEqual(a["ports"], [{"containerPort": 80, "name": "http", "protocol": "TCP"}])
        self.assertEqual(a["image"], "x")

    def test_directives(self):
        out = patch.strategic_merge(self.pod, {
            "metadata": {"finalizers": ["f2"], "$deleteFromPrimitiveList/finalizers": ["f1"]},
            "spec": {
                "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                "containers": [{"name": "a", "$patch": "delete"}],
                "volumes": [{"name": "v2", "$retainKeys": ["name", "emptyDir"],
                             "emptyDir": {}}],
                "tolerations": [{"key": "new"}]}})
        self.assertEqual(out["metadata"]["finalizers"], ["f2"])
        self.assertEqual([c["name"] for c in out["spec"]["containers"]], ["b"])
        self.assertEqual(out["spec"]["volumes"], [{"name": "v1", "emptyDir": {}},
                                                  {"name": "v2", "emptyDir": {}}])
        self.assertEqual(out["spec"]["tolerations"], [{"key": "new"}])

    def test_replace_and_delete(self):
        out = patch.strategic_merge(self.pod, {"spec": {"containers": [
            {"name": "only", "image": "q"}, {"$patch": "replace"}]}})
        self.assertEqual(out["spec"]["containers"], [{"name": "only", "image": "q"}])
        out = patch.strategic_merge(self.pod, {"spec": {"$patch": "replace", "volumes": []}})
        self.assertEqual(out["spec"], {"volumes": []})
        out = patch.strategic_merge(self.pod, {"spec": {"tolerations": None}})
        self.assertNotIn("tolerations", out["spec"])

    def test_service_ports_by_port(self):
        svc = {"spec": {"ports": [{"port": 80, "name": "a"}, {"port": 443, "name": "b"}]}}
        out = patch.strategic_merge(svc, {"spec": {"ports": [{"port": 443, "targetPort": 8443}]}})
        self.assertEqual(out["spec"]["ports"][1], {"port": 443, "name": "b", "targetPort": 8443})


class Selectors(unittest.TestCase):
    def test_labels(self):
        labels = {"app": "web", "tier": "fe", "env": ""}
        for sel, want in [("app=web", True), ("app==web", True), ("app!=web", False),
                          ("app in (web, db)", True), ("app notin (web)", False),
                          ("tier", True), ("!tier", False), ("!missing", True),
                          ("app=web,tier=be", False), ("missing!=x", True),
                          ("x in (a),app=web", False), ("env=", True), ("", True)]:
            self.assertEqual(selectors.match_labels(selectors.parse_labels(sel), labels),
                             want, sel)
        for bad in ("app=(", "a b c", "=x"):
            with self.assertRaises(ApiError):
                selectors.parse_labels(bad)

    def test_fields(self):
        pod = {"metadata": {"name": "p", "namespace": "n"}, "spec": {"nodeName": "node-1"},
               "status": {"phase": "Running"}}
        f = selectors.parse_fields("spec.nodeName=node-1,status.phase!=Pending", "", "pods")
        self.assertTrue(selectors.match_fields(f, pod))
        f = selectors.parse_fields("metadata.name==q", "", "pods")
        self.assertFalse(selectors.match_fields(f, pod))
        with self.assertRaises(ApiError):
            selectors.parse_fields("spec.nodeName=x", "", "configmaps")


class JsonPathColumns(unittest.TestCase):
    def test_paths(self):
        obj = {"status": {"phase": "Ok", "conditions": [{"type": "A", "status": "False"},
                                                        {"type": "Ready", "status": "True"}]},
               "metadata": {"labels": {"a.b/c": "v"}}}
        self.assertEqual(tables.jsonpath(obj, ".status.phase"), "Ok")
        self.assertEqual(tables.jsonpath(obj, ".status.conditions[1].type"), "Ready")
        self.assertEqual(tables.jsonpath(obj, '.status.conditions[?(@.type=="Ready")].status'),
                         "True")
        self.assertEqual(tables.jsonpath(obj, ".metadata.labels['a.b/c']"), "v")
        self.assertIsNone(tables.jsonpath(obj, ".spec.nothing"))
        self.assertEqual(tables.human_duration(75), "75s")
        self.assertEqual(tables.human_duration(9 * 60 + 5), "9m5s")
        self.assertEqual(tables.human_duration(5 * 3600), "5h")
        self.assertEqual(tables.human_duration(3 * 86400 + 7200), "3d2h")


class Structural(unittest.TestCase):
    sch = {"type": "object", "properties": {
        "spec": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string"},
            "size": {"type": "integer", "default": 3, "minimum": 1},
            "mode": {"type": "string", "enum": ["a", "b"]},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "list": {"type": "array", "items": {"type": "object", "properties": {
                "x": {"type": "integer", "default": 7}}}},
            "port": {"x-kubernetes-int-or-string": True}}},
        "status": {"type": "object", "properties": {"phase": {"type": "string"}}}}}

    def test_prune_default(self):
        from kubesim import schema
        obj = {"apiVersion": "v", "kind": "K", "metadata": {"name": "n", "x": 1},
               "top": 1, "spec": {"name": "n", "junk": {"a": 1}, "labels": {"k": "v"},
                                  "free": {"any": {"thing": 1}}, "list": [{"y": 1}],
                                  "port": "http"}}
        pruned = []
        self.assertEqual(schema.apply(obj, self.sch, pruned), [])
        self.assertEqual(sorted(pruned), [".spec.junk", ".spec.list[0].y", ".top"])
        self.assertEqual(obj["spec"], {"name": "n", "size": 3, "labels": {"k": "v"},
                                       "free": {"any": {"thing": 1}}, "list": [{"x": 7}],
                                       "port": "http"})
        self.assertEqual(obj["metadata"], {"name": "n", "x": 1})

    def test_errors(self):
        from kubesim import schema
        obj = {"spec": {"size": 0, "mode": "c", "labels": {"k": 1}, "port": 1.5}}
        errs = dict(schema.apply(obj, self.sch))
        self.assertEqual(sorted(errs), ["spec.labels.k", "spec.mode", "spec.name",
                                        "spec.port", "spec.size"])


class StoreSemantics(unittest.TestCase):
    def setUp(self):
        self.s = Store()

    def cm(self, name, ns="default", **extra):
        o = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
        o["metadata"].update(extra)
        return self.s.create("", "v1", "configmaps", ns, o)

    def test_listener_order_and_reentrancy(self):
        seen, done = [], threading.Event()

        def fn(etype, g, v, r, obj):
            seen.append((etype, obj["metadata"]["name"]))
            if obj["metadata"]["name"] == "a" and etype == "ADDED":
                self.cm("b")                      # a listener may write
            if obj["metadata"]["name"] == "b":
                done.set()
        self.s.add_listener(fn)
        a = self.cm("a")
        a["data"] = {"x": "1"}
        self.s.update("", "v1", "configmaps", "default", a)
        self.assertTrue(done.wait(5))
        self.assertEqual(seen[:3], [("ADDED", "a"), ("MODIFIED", "a"), ("ADDED", "b")])

    def test_owner_gc_and_orphan(self):
        owner = self.cm("owner")
        ref = [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner",
                "uid": owner["metadata"]["uid"]}]
        self.cm("dep1", ownerReferences=ref)
        self.s.delete("", "v1", "configmaps", "default", "owner")
        self.assertIsNone(self.s.get("", "v1", "configmaps", "default", "dep1"))
        owner = self.cm("owner2")
        ref[0]["uid"] = owner["metadata"]["uid"]
        self.cm("dep2", ownerReferences=ref)
        self.s.delete("", "v1", "configmaps", "default", "owner2", propagation="Orphan")
        dep = self.s.get("", "v1", "configmaps", "default", "dep2")
        self.assertNotIn("ownerReferences", dep["metadata"])

    def test_validation(self):
        for bad in ({"labels": {"a": "b c"}}, {"labels": {"-a": "b"}},
                    {"labels": {"a": "x" * 64}}, {"annotations": {"a": 1}}):
            with self.assertRaises(ApiError) as cm:
                self.cm("v", **bad)
            self.assertEqual(cm.exception.code, 422)
        self.cm("ok", labels={"example.com/a": "", "b": "x.y_z-1"})
        frozen = self.s.create("", "v1", "configmaps", "default", {
            "metadata": {"name": "frozen"}, "data": {"a": "1"}, "immutable": True})
        frozen["data"] = {"a": "2"}
        with self.assertRaises(ApiError) as cm:
            self.s.update("", "v1", "configmaps", "default", frozen)
        self.assertEqual(cm.exception.code, 422)
        frozen["data"] = {"a": "1"}
        frozen["metadata"]["labels"] = {"l": "v"}
        self.s.update("", "v1", "configmaps", "default", frozen)

    def test_crd_versions(self):
        crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
               "metadata": {"name": "gadgets.example.com"},
               "spec": {"group": "example.com", "scope": "Namespaced",
                        "names": {"plural": "gadgets", "kind": "Gadget"},
                        "versions": [{"name": "v1alpha1", "served": True, "storage": False},
                                     {"name": "v1beta1", "served": True, "storage": True},
                                     {"name": "v1", "served": True, "storage": False}]}}
        self.s.create("apiextensions.k8s.io", "v1", "customresourcedefinitions", None, crd)
        self.assertEqual(self.s.registry.versions("example.com"), ["v1", "v1beta1", "v1alpha1"])
        self.s.create("example.com", "v1", "gadgets", "default", {"metadata": {"name": "g"}})
        g = self.s.get("example.com", "v1alpha1", "gadgets", "default", "g")
        self.assertEqual(g["apiVersion"], "example.com/v1alpha1")
        self.assertEqual(self.s.objects[("example.com", "gadgets")][("default", "g")]
                         ["apiVersion"], "example.com/v1beta1")

    def test_crd_lifecycle(self):
        crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
               "metadata": {"name": "widgets.example.com"},
               "spec": {"group": "example.com", "scope": "Cluster",
                        "names": {"plural": "widgets", "kind": "Widget"},
                        "versions": [{"name": "v1", "served": True, "storage": True,
                                      "subresources": {"status": {}}}]}}
        self.s.create("apiextensions.k8s.io", "v1", "customresourcedefinitions", None, crd)
        w = self.s.create("example.com", "v1", "widgets", None, {
            "metadata": {"name": "w"}, "spec": {"size": 1}, "status": {"ok": True}})
        self.assertNotIn("status", w)
        self.assertEqual(w["metadata"]["generation"], 1)
        w["status"] = {"ok": True}
        w["spec"]["size"] = 2
        w2 = self.s.update("example.com", "v1", "widgets", None, w, subresource="status")
        self.assertEqual((w2["spec"]["size"], w2["status"]), (1, {"ok": True}))
        self.s.delete("apiextensions.k8s.io", "v1", "customresourcedefinitions", None,
                      "widgets.example.com")
        with self.assertRaises(ApiError) as cm:
            self.s.list("example.com", "v1", "widgets")
        self.assertEqual(cm.exception.code, 404)


if __name__ == "__main__":
    unittest.main(verbosity=1)

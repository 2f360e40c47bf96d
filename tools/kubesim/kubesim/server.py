"""The HTTPS front of kubesim: routing, authentication, discovery, CRUD,
patch, watch streams, Table output and the /kubesim/ test-control endpoints."""

import base64
import collections
import json
import os
import queue
import re
import select
import secrets
import signal
import socket
import ssl
import sys
import threading
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import certs, errors, openapi, patch as patchlib, protobuf, tables
from .errors import ApiError, status_object, bad_request
from .selectors import Filter
from .store import Store, log

try:
    from . import execsvc
except ImportError:
    execsvc = None
try:
    from . import kubelet
except ImportError:
    kubelet = None

VERSION_INFO = {
    "major": "1", "minor": "32", "gitVersion": "v1.32.0-kubesim",
    "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23.0", "compiler": "gc",
    "platform": "linux/amd64",
}
AGGREGATED_CT = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
PATCH_TYPES = {
    "application/merge-patch+json": "merge",
    "application/json-patch+json": "json",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
    "application/apply-patch+json": "apply",
}
BOOKMARK_INTERVAL = float(os.environ.get("KUBESIM_BOOKMARK_INTERVAL", "3"))


class Fault:
    def __init__(self, spec):
        self.method = (spec.get("method") or "*").upper()
        self.path_re = re.compile(spec.get("path_regex") or "")
        self.status = int(spec.get("status", 500))
        self.retry_after = spec.get("retry_after")
        self.count = int(spec.get("count", 1))
        self.drop = bool(spec.get("drop")) or self.status == 0
        self.message = spec.get("message") or "injected fault"

    def matches(self, method, path):
        return self.count > 0 and self.method in ("*", method) and self.path_re.search(path)


class Sim:
    """Shared state of one kubesim: the store, token, faults, request log."""

    def __init__(self, store, token, port=0):
        self.store = store
        self.token = token
        self.port = port
        self.faults = []
        self.requests = collections.deque(maxlen=1000)
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def take_fault(self, method, path):
        with self.lock:
            for f in self.faults:
                if f.matches(method, path):
                    f.count -= 1
                    if f.count <= 0:
                        self.faults.remove(f)
                    return f
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kubesim/1.32"
    sim = None   # set on the subclass made by serve()

    def log_message(self, fmt, *args):
        if os.environ.get("KUBESIM_VERBOSE"):
            log("%s %s", self.address_string(), fmt % args)

    def do_GET(self):
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    # ------------------------------------------------------------ plumbing

    _entry = None   # this request's entry in the request log

    def send_response(self, code, message=None):
        if self._entry is not None:
            self._entry["status"] = code
            self._entry = None
        super().send_response(code, message)

    def _send(self, code, body, ctype="application/json", headers=None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        for k, v in (headers.items() if isinstance(headers, dict) else headers or ()):
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, e):
        headers = {}
        if e.retry_after is not None:
            headers["Retry-After"] = str(e.retry_after)
        self._send(e.code, e.status(), headers=headers)

    def _body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _json_object(self, raw):
        """The request body, which must be a JSON object."""
        obj = self._json_body(raw)
        if not isinstance(obj, dict):
            raise bad_request("the body of the request must be a JSON object")
        return obj

    def _json_body(self, raw):
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype == "application/vnd.kubernetes.protobuf":
            return protobuf.decode_body(raw)   # a few kinds; 415 for the rest
        if ctype and not (ctype.endswith("json") or ctype.endswith("yaml")):
            # CBOR and the like: client-go falls back to JSON after a 415
            raise ApiError(415, "UnsupportedMediaType",
                           'the body of the request was in an unknown format - accepted media '
                           'types include: application/json, application/yaml')
        if not raw:
            raise bad_request("the body of the request was empty")
        try:
            return json.loads(raw)
        except ValueError as e:
            raise bad_request("the body of the request was in an unknown format: "
                              "accepted media types include: application/json (%s)" % e)

    def _authenticated(self):
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer ") and secrets.compare_digest(
                auth[7:].strip().encode("utf-8", "replace"), self.sim.token.encode()):
            return True
        try:
            return bool(self.connection.getpeercert())
        except (AttributeError, ValueError):
            return False

    def _dispatch(self):
        try:
            url = urllib.parse.urlsplit(self.path)
            path = url.path.rstrip("/") or "/"
            query = {k: v[-1] for k, v in urllib.parse.parse_qs(
                url.query, keep_blank_values=True).items()}
            if path in ("/healthz", "/livez", "/readyz"):
                self._send(200, b"ok", "text/plain")
                return
            if not self._authenticated():
                self._body()
                self._send(401, status_object(401, "Unauthorized", "Unauthorized"))
                return
            if path.startswith("/kubesim/"):
                self._control(path, query, self._body())
                return
            self._entry = {
                "time": time.time(), "method": self.command, "path": path, "query": url.query,
                "headers": {h: self.headers.get(h) for h in ("User-Agent", "Content-Type",
                                                              "Accept")
                            if self.headers.get(h) is not None}}
            self.sim.requests.append(self._entry)
            fault = self.sim.take_fault(self.command, path)
            if fault is not None:
                self._body()
                if fault.drop:
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                raise ApiError(fault.status, _reason(fault.status), fault.message,
                               retry_after=fault.retry_after)
            m = re.match(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)/exec$", path)
            if m:
                if execsvc is None:
                    raise ApiError(501, "NotImplemented", "pods/exec is not available "
                                   "(kubesim/execsvc.py missing)")
                execsvc.handle(self, self.sim.store, m.group(1), m.group(2), query)
                self.close_connection = True
                return
            self._route(path, query, self._body())
        except ApiError as e:
            self._error(e)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True
        except Exception as e:   # a bug: report it as a 500 Status
            traceback.print_exc(file=sys.stderr)
            try:
                self._send(500, status_object(500, "InternalError", "kubesim: %r" % e))
            except OSError:
                self.close_connection = True

    # ------------------------------------------------------------ control

    def _control(self, path, query, raw):
        sim = self.sim
        if path == "/kubesim/faults" and self.command == "POST":
            spec = self._json_body(raw)
            specs = spec if isinstance(spec, list) else [spec]
            with sim.lock:
                sim.faults.extend(Fault(s) for s in specs)
            self._send(200, {"faults": len(sim.faults)})
        elif path == "/kubesim/faults" and self.command == "DELETE":
            with sim.lock:
                sim.faults.clear()
            self._send(200, {"faults": 0})
        elif path == "/kubesim/drop-watches" and self.command == "POST":
            n = sim.store.drop_watches(abrupt=query.get("abrupt") in ("1", "true"))
            self._send(200, {"dropped": n})
        elif path == "/kubesim/compact" and self.command == "POST":
            sim.store.compact()
            self._send(200, {"resourceVersion": str(sim.store.rv)})
        elif path == "/kubesim/requests" and self.command == "GET":
            self._send(200, list(sim.requests))
        elif path == "/kubesim/requests" and self.command == "DELETE":
            sim.requests.clear()
            self._send(200, [])
        elif path == "/kubesim/stats" and self.command == "GET":
            with sim.store.lock:
                self._send(200, {"resourceVersion": str(sim.store.rv),
                                 "watches": len(sim.store.watchers),
                                 "objects": sum(len(t) for t in sim.store.objects.values()),
                                 "historyFloor": str(sim.store.history_floor)})
        elif path == "/kubesim/save" and self.command == "POST":
            sim.store.save()
            self._send(200, {"saved": bool(sim.store.persist)})
        else:
            raise ApiError(404, "NotFound", "no such kubesim control endpoint")

    # ------------------------------------------------------------ routing

    def _route(self, path, query, raw):
        store = self.sim.store
        if path == "/version":
            return self._send(200, VERSION_INFO)
        if path == "/openapi/v3" or path.startswith("/openapi/v3/"):
            with store.lock:
                doc = openapi.root(store.registry) if path == "/openapi/v3" else \
                    openapi.lookup(store.registry, path[len("/openapi/v3/"):])
            if doc is not None:
                return self._send(200, doc)
        if path.startswith("/openapi/") or path == "/swagger.json":
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if path == "/api":
            if self._wants_aggregated():
                return self._send(200, self._aggregated([""]), AGGREGATED_CT)
            return self._send(200, {"kind": "APIVersions", "versions": ["v1"],
                                    "serverAddressByClientCIDRs": [{
                                        "clientCIDR": "0.0.0.0/0",
                                        "serverAddress": "127.0.0.1:%d" % self.sim.port}]})
        if path == "/apis":
            with store.lock:
                groups = store.registry.groups()
                if self._wants_aggregated():
                    return self._send(200, self._aggregated(groups), AGGREGATED_CT)
                return self._send(200, {"kind": "APIGroupList", "apiVersion": "v1",
                                        "groups": [self._group_doc(g) for g in groups]})
        parts = path.strip("/").split("/")
        if parts[0] == "api":
            if len(parts) < 2 or parts[1] != "v1":
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            group, version, rest = "", "v1", parts[2:]
        elif parts[0] == "apis":
            group = parts[1]
            with store.lock:
                if group not in store.registry.groups():
                    raise ApiError(404, "NotFound",
                                   "the server could not find the requested resource")
                if len(parts) == 2:
                    return self._send(200, self._group_doc(group))
                version = parts[2]
                if version not in store.registry.versions(group):
                    raise ApiError(404, "NotFound",
                                   "the server could not find the requested resource")
            rest = parts[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            return self._send(200, self._resource_list(group, version))
        self._resource(group, version, rest, query, raw)

    def _wants_aggregated(self):
        accept = self.headers.get("Accept", "")
        return "as=APIGroupDiscoveryList" in accept and "v=v2;" in accept.replace(
            "v=v2beta1", "") + ";"

    def _group_doc(self, group):
        reg = self.sim.store.registry
        vers = [{"groupVersion": "%s/%s" % (group, v), "version": v} for v in reg.versions(group)]
        return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": vers,
                "preferredVersion": vers[0]}

    def _resource_list(self, group, version):
        with self.sim.store.lock:
            entries = []
            for rt in self.sim.store.registry.in_group_version(group, version):
                entries.extend(rt.discovery_entry())
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": version if not group else "%s/%s" % (group, version),
                "resources": entries}

    def _aggregated(self, groups):
        reg = self.sim.store.registry
        items = []
        for g in groups:
            versions = [{"version": v, "freshness": "Current",
                         "resources": [rt.aggregated_entry() for rt in reg.in_group_version(g, v)]}
                        for v in reg.versions(g)]
            items.append({"metadata": {"name": g, "creationTimestamp": None},
                          "versions": versions})
        return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
                "metadata": {}, "items": items}

    def _resource(self, group, version, rest, query, raw):
        """rest: the path after /api/v1 or /apis/g/v."""
        store = self.sim.store
        watch = query.get("watch") in ("1", "true")
        if rest[0] == "watch":
            watch, rest = True, rest[1:]
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces" and not (
                len(rest) == 3 and rest[2] in ("status", "finalize")):
            namespace, rest = rest[1], rest[2:]
        resource = rest[0]
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if len(rest) > 3:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        with store.lock:
            rt = store.registry.lookup(group, version, resource)
        if rt is None or (sub and sub not in rt.subresources):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if namespace and not rt.namespaced:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        dry_run = query.get("dryRun") == "All"
        method = self.command
        if sub is None:
            verb = {"GET": "watch" if watch else ("get" if name else "list"), "HEAD": "get",
                    "POST": "create", "PUT": "update", "PATCH": "patch",
                    "DELETE": "delete" if name else "deletecollection"}.get(method)
            if verb not in rt.verbs:
                raise ApiError(405, "MethodNotAllowed",
                               "%s is not supported on resources of kind %s" % (
                                   verb or method, _qualified_resource(rt)))
        if sub == "scale" and name is not None:
            return self._scale(rt, namespace, name, raw, dry_run)
        if name is None:
            if method in ("GET", "HEAD"):
                filt = Filter(namespace, query.get("labelSelector", ""),
                              query.get("fieldSelector", ""), group, resource)
                if watch:
                    return self._watch(rt, filt, query)
                return self._list(rt, filt, query)
            if method == "POST" and rt.verbs == ["create"]:
                return self._send(201, _review(rt, self._json_body(raw)))
            if method == "POST":
                obj = self._json_object(raw)
                warnings = []
                out = store.create(group, version, resource, namespace, obj, dry_run=dry_run,
                                   field_validation=query.get("fieldValidation"),
                                   warnings=warnings)
                return self._send(201, out, headers=_warning_headers(warnings))
            if method == "DELETE":
                opts = self._delete_options(raw, query)
                filt = Filter(namespace, query.get("labelSelector", ""),
                              query.get("fieldSelector", ""), group, resource)
                items = store.delete_collection(group, version, resource, filt,
                                                opts.get("propagationPolicy"))
                return self._send(200, {"kind": rt.list_kind, "apiVersion": rt.api_version,
                                        "metadata": {"resourceVersion": str(store.rv)},
                                        "items": items})
            raise ApiError(405, "MethodNotAllowed", "method %s not allowed" % method)
        if watch:
            filt = Filter(namespace, query.get("labelSelector", ""),
                          "metadata.name=%s" % name, group, resource)
            return self._watch(rt, filt, query)
        if method in ("GET", "HEAD"):
            if sub == "log":
                obj = store.get(group, version, resource, namespace, name)
                if obj is None:
                    raise_not_found(rt, name)
                return self._send(200, b"", "text/plain")
            obj = store.get(group, version, resource, namespace, name)
            if obj is None:
                raise_not_found(rt, name)
            return self._send_obj(rt, obj, query)
        if method == "PUT":
            obj = self._json_object(raw)
            if (obj.get("metadata") or {}).get("name") not in (None, name):
                raise bad_request("the name of the object (%s) does not match the name on the "
                                  "URL (%s)" % (obj["metadata"]["name"], name))
            obj.setdefault("metadata", {})["name"] = name
            warnings = []
            out = store.update(group, version, resource, namespace, obj, subresource=sub,
                               dry_run=dry_run, field_validation=query.get("fieldValidation"),
                               warnings=warnings)
            return self._send(200, out, headers=_warning_headers(warnings))
        if method == "PATCH":
            return self._patch(rt, namespace, name, sub, raw, query, dry_run)
        if method == "DELETE":
            opts = self._delete_options(raw, query)
            out = store.delete(group, version, resource, namespace, name,
                               opts.get("propagationPolicy"), opts.get("preconditions"),
                               dry_run=dry_run)
            return self._send(200, out)
        if method == "POST" and sub == "binding":
            body = self._json_object(raw)
            with store.lock:
                pod = store.get(group, version, resource, namespace, name)
                if pod is None:
                    raise_not_found(rt, name)
                pod["spec"]["nodeName"] = (body.get("target") or {}).get("name")
                store.update(group, version, resource, namespace, pod)
            return self._send(201, status_object(201, "", "", None))
        if method == "POST" and sub == "eviction":
            store.delete(group, version, resource, namespace, name)
            return self._send(201, status_object(201, "", "", None))
        raise ApiError(405, "MethodNotAllowed", "method %s not allowed" % method)

    def _delete_options(self, raw, query):
        opts = {}
        if raw:
            try:
                opts = json.loads(raw) or {}
            except ValueError:
                raise bad_request("invalid DeleteOptions body")
        if query.get("propagationPolicy"):
            opts["propagationPolicy"] = query["propagationPolicy"]
        if opts.get("orphanDependents") is True and not opts.get("propagationPolicy"):
            opts["propagationPolicy"] = "Orphan"
        return opts

    # ------------------------------------------------------------ scale

    def _scale(self, rt, namespace, name, raw, dry_run):
        """GET/PUT/PATCH of the scale subresource (autoscaling/v1 Scale)."""
        store = self.sim.store
        spec_path, status_path, sel_path = rt.scale_paths

        def lookup(obj, path):
            cur = obj
            for p in (path or "").strip(".").split("."):
                cur = cur.get(p) if isinstance(cur, dict) else None
            return cur

        with store.lock:
            obj = store.get(rt.group, rt.version, rt.resource, namespace, name)
            if obj is None:
                raise_not_found(rt, name)
            md = obj["metadata"]
            sel = lookup(obj, sel_path) if sel_path else None
            if sel is None and rt.crd is None:
                ml = (obj.get("spec") or {}).get("selector") or {}
                ml = ml.get("matchLabels", ml) if isinstance(ml, dict) else {}
                sel = ",".join("%s=%s" % kv for kv in sorted(ml.items()))
            scale = {"kind": "Scale", "apiVersion": "autoscaling/v1",
                     "metadata": {k: md[k] for k in ("name", "namespace", "uid",
                                                     "resourceVersion", "creationTimestamp")
                                  if k in md},
                     "spec": {"replicas": lookup(obj, spec_path) or 0},
                     "status": {"replicas": lookup(obj, status_path) or 0}}
            if sel:
                scale["status"]["selector"] = sel
            if self.command in ("GET", "HEAD"):
                return self._send(200, scale)
            body = self._json_body(raw)
            if self.command == "PUT":
                new = body if isinstance(body, dict) else {}
            elif self.command == "PATCH":
                ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
                kind = PATCH_TYPES.get(ctype)
                if kind == "json":
                    new = patchlib.json_patch(scale, body)
                elif kind in ("merge", "strategic", "apply"):
                    new = patchlib.merge_patch(scale, body)
                else:
                    raise ApiError(415, "UnsupportedMediaType", "unsupported patch type")
            else:
                raise ApiError(405, "MethodNotAllowed", "method not allowed")
            want_rv = (new.get("metadata") or {}).get("resourceVersion")
            if want_rv and want_rv != md["resourceVersion"]:
                raise errors.conflict(rt.group, rt.resource, name,
                                      "the object has been modified; please apply your "
                                      "changes to the latest version and try again")
            replicas = (new.get("spec") or {}).get("replicas")
            if not isinstance(replicas, int) or replicas < 0:
                raise errors.invalid("autoscaling", "Scale", name, [
                    ("spec.replicas", "Invalid value: must be a non-negative integer")])
            cur = obj
            parts = spec_path.strip(".").split(".")
            for p in parts[:-1]:
                cur = cur.setdefault(p, {})
            cur[parts[-1]] = replicas
            out = store.update(rt.group, rt.version, rt.resource, namespace, obj,
                               dry_run=dry_run)
            scale["spec"]["replicas"] = replicas
            scale["metadata"]["resourceVersion"] = out["metadata"]["resourceVersion"]
            return self._send(200, scale)

    # ------------------------------------------------------------ reads

    def _as_table(self):
        return "as=Table" in self.headers.get("Accept", "")

    def _send_obj(self, rt, obj, query):
        if self._as_table():
            return self._send(200, tables.table(rt, [obj], query.get("includeObject"),
                                                str(obj["metadata"]["resourceVersion"])))
        self._send(200, obj)

    def _list(self, rt, filt, query):
        store = self.sim.store
        try:
            limit = int(query.get("limit") or 0)
        except ValueError:
            raise bad_request("invalid limit")
        items, rv, cont, remaining = store.list_page(
            rt.group, rt.version, rt.resource, filt, limit, query.get("continue"),
            query.get("resourceVersion"), query.get("resourceVersionMatch"))
        md = {"resourceVersion": rv}
        if cont:
            md["continue"] = cont
            if remaining is not None:
                md["remainingItemCount"] = remaining
        if self._as_table():
            t = tables.table(rt, items, query.get("includeObject"), rv)
            t["metadata"] = md
            return self._send(200, t)
        self._send(200, {"kind": rt.list_kind, "apiVersion": rt.api_version,
                         "metadata": md, "items": items})

    def _watch(self, rt, filt, query):
        store = self.sim.store
        try:
            timeout = float(query.get("timeoutSeconds") or 1800)
        except ValueError:
            raise bad_request("invalid timeoutSeconds")
        bookmarks = query.get("allowWatchBookmarks") in ("1", "true")
        as_table = self._as_table()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        try:
            w = store.watch(rt.group, rt.version, rt.resource, filt, query.get("resourceVersion"),
                            send_initial=query.get("sendInitialEvents") in ("1", "true"))
        except ApiError as e:
            self._chunk({"type": "ERROR", "object": e.status()})
            self._chunk(None)
            return
        deadline = time.monotonic() + timeout
        next_bm = time.monotonic() + BOOKMARK_INTERVAL
        first = True
        try:
            while not self.sim.stop.is_set():
                now = time.monotonic()
                if now >= deadline:
                    break
                if bookmarks and now >= next_bm:
                    store.bookmark(w)
                    next_bm = now + BOOKMARK_INTERVAL
                try:
                    item = w.q.get(timeout=min(0.5, max(0.01, deadline - now)))
                except queue.Empty:
                    if self._peer_gone():
                        self.close_connection = True
                        return
                    continue
                if item[0] == "CLOSE":
                    if item[1]:
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    break
                if item[0] == "BOOKMARK":
                    md = {"resourceVersion": item[1]}
                    if len(item) > 2:
                        md["annotations"] = {"k8s.io/initial-events-end": "true"}
                    elif not bookmarks:
                        continue
                    self._chunk({"type": "BOOKMARK", "object": {
                        "kind": rt.kind, "apiVersion": rt.api_version, "metadata": md}})
                    continue
                _, etype, obj = item
                if as_table:
                    obj = tables.table(rt, [obj], query.get("includeObject"),
                                       obj["metadata"]["resourceVersion"], headers=first)
                    first = False
                self._chunk({"type": etype, "object": obj})
            self._chunk(None)
        except OSError:
            self.close_connection = True
        finally:
            store.unwatch(w)

    def _peer_gone(self):
        """True if the client closed an idle watch connection (EOF or TLS
        close_notify), so its thread and watcher can go."""
        sock = self.connection
        try:
            if not select.select([sock], [], [], 0)[0] and not sock.pending():
                return False
            sock.settimeout(0.05)
            try:
                data = sock.recv(1)
            finally:
                sock.settimeout(None)
            return not data
        except (socket.timeout, ssl.SSLWantReadError):
            return False
        except (OSError, ValueError):
            return True

    def _chunk(self, event):
        if event is None:
            self.wfile.write(b"0\r\n\r\n")
        else:
            data = json.dumps(event).encode() + b"\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    # ------------------------------------------------------------ patch

    def _patch(self, rt, namespace, name, sub, raw, query, dry_run):
        store = self.sim.store
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        kind = PATCH_TYPES.get(ctype)
        if kind is None or (kind == "strategic" and not rt.strategic):
            raise ApiError(415, "UnsupportedMediaType",
                           "the body of the request was in an unknown format - accepted media "
                           "types include: application/json-patch+json, "
                           "application/merge-patch+json, application/apply-patch+yaml" +
                           (", application/strategic-merge-patch+json" if rt.strategic else ""))
        body = self._json_body(raw)
        if kind != "json" and not isinstance(body, dict):
            raise bad_request("the patch must be a JSON object")
        fv = query.get("fieldValidation")
        warnings = []
        with store.lock:
            cur = store.get(rt.group, rt.version, rt.resource, namespace, name)
            if cur is None:
                if kind == "apply":
                    body.setdefault("metadata", {})["name"] = name
                    out = store.create(rt.group, rt.version, rt.resource, namespace, body,
                                       dry_run=dry_run, field_validation=fv, warnings=warnings)
                    return self._send(201, out, headers=_warning_headers(warnings))
                raise_not_found(rt, name)
            if kind == "merge":
                new = patchlib.merge_patch(cur, body)
            elif kind == "json":
                new = patchlib.json_patch(cur, body)
            elif kind == "strategic" or (kind == "apply" and rt.strategic):
                new = patchlib.strategic_merge(cur, body)
            else:
                new = patchlib.merge_patch(cur, body)
            if not isinstance(new, dict):
                raise ApiError(422, "Invalid", "the patch produced something that is not an "
                               "object")
            md = new.setdefault("metadata", {})
            if not md.get("resourceVersion"):
                # a patch that names a resourceVersion is checked against it
                md["resourceVersion"] = cur["metadata"]["resourceVersion"]
            md["name"] = name
            out = store.update(rt.group, rt.version, rt.resource, namespace, new,
                               subresource=sub, dry_run=dry_run, field_validation=fv,
                               warnings=warnings)
        self._send(200, out, headers=_warning_headers(warnings))


def _qualified_resource(rt):
    return rt.resource if not rt.group else "%s.%s" % (rt.resource, rt.group)


def _warning_headers(warnings):
    """Warning response headers (RFC 7234 style, code 299, as the API server)."""
    if not warnings:
        return None
    return [("Warning", '299 - "%s"' % w.replace("\\", "\\\\").replace('"', '\\"'))
            for w in warnings]


def _review(rt, body):
    """The answer to a (Self)SubjectAccessReview, rules review or SelfSubjectReview."""
    out = dict(body) if isinstance(body, dict) else {}
    out["apiVersion"], out["kind"] = rt.api_version, rt.kind
    out.setdefault("metadata", {})["creationTimestamp"] = None
    if rt.resource.endswith("accessreviews"):
        out["status"] = {"allowed": True, "reason": "kubesim allows everything"}
    elif rt.resource == "selfsubjectrulesreviews":
        out["status"] = {"resourceRules": [{"verbs": ["*"], "apiGroups": ["*"],
                                            "resources": ["*"]}],
                         "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                         "incomplete": False}
    else:
        out["status"] = {"userInfo": {"username": "kubesim-admin",
                                      "groups": ["system:masters", "system:authenticated"]}}
    return out


def raise_not_found(rt, name):
    raise errors.not_found(rt.group, rt.resource, name)


def _reason(code):
    return {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
            405: "MethodNotAllowed", 409: "Conflict", 410: "Expired", 422: "Invalid",
            429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
            504: "Timeout"}.get(code, "")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def write_kubeconfig(path, port, ca_pem, token):
    ca = base64.b64encode(ca_pem).decode()
    text = """apiVersion: v1
kind: Config
clusters:
- name: kubesim
  cluster:
    server: https://127.0.0.1:%d
    certificate-authority-data: %s
users:
- name: kubesim
  user:
    token: %s
contexts:
- name: kubesim
  context:
    cluster: kubesim
    user: kubesim
    namespace: default
current-context: kubesim
preferences: {}
""" % (port, ca, token)
    _write_atomic(path, text)


def _write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def main(args):
    state = os.path.abspath(args.state_dir)
    os.makedirs(state, exist_ok=True)
    for f in ("ready",):
        try:
            os.unlink(os.path.join(state, f))
        except FileNotFoundError:
            pass
    certs.ensure(state)
    token_file = os.path.join(state, "token")
    token = args.token
    if not token and os.path.exists(token_file):
        token = open(token_file).read().strip()
    token = token or secrets.token_hex(24)
    _write_atomic(token_file, token + "\n")
    host_root = os.path.abspath(args.host_root or os.path.join(state, "host"))
    os.makedirs(host_root, exist_ok=True)
    nodes = [n for n in (args.nodes or "node-1").split(",") if n]

    persist = os.path.abspath(args.persist) if args.persist else None
    if persist:
        os.makedirs(os.path.dirname(persist), exist_ok=True)
    store = Store(persist=persist)
    sim = Sim(store, token)

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(state, "server.crt"), os.path.join(state, "server.key"))
    ctx.load_verify_locations(os.path.join(state, "ca.crt"))
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])

    handler = type("BoundHandler", (Handler,), {"sim": sim})
    httpd = Server(("127.0.0.1", args.port), handler)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True,
                                   do_handshake_on_connect=False)
    port = httpd.server_address[1]
    sim.port = port

    if kubelet is not None:
        kubelet.Kubelet(store, host_root=host_root, nodes=nodes).start()
    else:
        for n in nodes:
            if store.get("", "v1", "nodes", None, n) is None:
                store.create("", "v1", "nodes", None, {
                    "apiVersion": "v1", "kind": "Node",
                    "metadata": {"name": n, "labels": {"kubernetes.io/hostname": n}}})

    write_kubeconfig(os.path.join(state, "kubeconfig"), port,
                     open(os.path.join(state, "ca.crt"), "rb").read(), token)
    _write_atomic(os.path.join(state, "port"), "%d\n" % port)
    t = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2},
                         daemon=True)
    t.start()
    _write_atomic(os.path.join(state, "ready"), "https://127.0.0.1:%d\n" % port)
    log("listening on https://127.0.0.1:%d (state %s)", port, state)

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    signal.signal(signal.SIGINT, lambda *a: done.set())
    while not done.wait(0.5):
        pass
    sim.stop.set()
    store.drop_watches()
    httpd.shutdown()
    if store.persist:
        store.save()
    log("stopped")
    return 0

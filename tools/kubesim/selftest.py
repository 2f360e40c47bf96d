#!/usr/bin/env python3
"""Protocol checks of kubesim that kubectl does not exercise: the /kubesim/
control endpoints, pagination, watch resume/bookmarks/410, conflicts, auth.

Run under tests/kube/with_kubesim.sh (it reads STOW_KUBESIM_URL, _DIR and
_TOKEN):  tests/kube/with_kubesim.sh python3 tools/kubesim/selftest.py
Prints "ok: ..." per check; exits 1 if any failed.
"""

import http.client
import json
import os
import socket
import ssl
import sys
import threading
import time
import urllib.parse

URL = urllib.parse.urlsplit(os.environ["STOW_KUBESIM_URL"])
DIR = os.environ["STOW_KUBESIM_DIR"]
TOKEN = os.environ["STOW_KUBESIM_TOKEN"]
FAILS = []


def ctx(cert=False):
    c = ssl.create_default_context(cafile=os.path.join(DIR, "ca.crt"))
    if cert:
        c.load_cert_chain(os.path.join(DIR, "client.crt"), os.path.join(DIR, "client.key"))
    return c


def conn(cert=False, timeout=10):
    return http.client.HTTPSConnection(URL.hostname, URL.port, context=ctx(cert),
                                       timeout=timeout)


def req(method, path, body=None, token=TOKEN, ctype="application/json", cert=False,
        headers=None):
    c = conn(cert)
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = ctype
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    raw = r.read()
    c.close()
    try:
        return r.status, json.loads(raw), r
    except ValueError:
        return r.status, raw, r


def check(cond, what, detail=""):
    if cond:
        print("ok: " + what)
    else:
        FAILS.append(what)
        print("FAIL: %s %s" % (what, detail))


def watch(path, timeout=10):
    """Open a watch; returns (connection, response, line iterator)."""
    c = conn(timeout=timeout)
    c.request("GET", path, headers={"Authorization": "Bearer " + TOKEN})
    r = c.getresponse()

    def events():
        while True:
            line = r.readline()
            if not line:
                return
            yield json.loads(line)
    return c, r, events()


def cm(name, ns="default", labels=None, data=None):
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
            "data": data or {"k": name}}


CM = "/api/v1/namespaces/default/configmaps"


def main():
    # auth
    st, body, _ = req("GET", "/api/v1/namespaces", token=None)
    check(st == 401 and body.get("kind") == "Status" and body.get("reason") == "Unauthorized",
          "401 Status without a token", st)
    st, body, _ = req("GET", "/api/v1/namespaces", token=None, cert=True)
    check(st == 200 and body["kind"] == "NamespaceList", "a client certificate from the CA "
          "authenticates", st)
    names = [n["metadata"]["name"] for n in body["items"]]
    check(names[:4] == ["default", "kube-node-lease", "kube-public", "kube-system"],
          "initial namespaces", names)

    # create, generateName, conflict
    st, body, _ = req("POST", CM, {"metadata": {"generateName": "gen-"}, "data": {}})
    check(st == 201 and body["metadata"]["name"].startswith("gen-") and
          len(body["metadata"]["name"]) == 9, "generateName", body)
    st, a, _ = req("POST", CM, cm("a"))
    st2, body, _ = req("POST", CM, cm("a"))
    check(st2 == 409 and body["reason"] == "AlreadyExists", "create twice: 409 AlreadyExists")
    stale = dict(a, data={"x": "1"})
    st, upd, _ = req("PUT", CM + "/a", stale)
    check(st == 200 and int(upd["metadata"]["resourceVersion"]) >
          int(a["metadata"]["resourceVersion"]), "update bumps resourceVersion")
    st, body, _ = req("PUT", CM + "/a", stale)
    check(st == 409 and body["reason"] == "Conflict", "update with a stale rv: 409 Conflict")
    st, body, _ = req("POST", CM, cm("Bad_Name"))
    check(st == 422 and body["reason"] == "Invalid", "invalid name: 422 Invalid")
    st, body, _ = req("POST", "/api/v1/namespaces/nope/configmaps", cm("x", "nope"))
    check(st == 404 and body["reason"] == "NotFound", "namespace must exist")

    # faults
    st, body, _ = req("POST", "/kubesim/faults", {"method": "GET", "path_regex": "^" + CM + "$",
                                                  "status": 429, "retry_after": 1, "count": 2})
    got = [req("GET", CM) for _ in range(3)]
    check([g[0] for g in got] == [429, 429, 200], "fault: the next 2 GETs get 429",
          [g[0] for g in got])
    check(got[0][2].getheader("Retry-After") == "1" and got[0][1]["reason"] == "TooManyRequests",
          "fault: Retry-After header and a Status")
    req("POST", "/kubesim/faults", {"path_regex": "^" + CM + "/a$", "status": 0, "drop": True})
    try:
        req("GET", CM + "/a")
        check(False, "fault: drop closes the connection")
    except (http.client.HTTPException, ConnectionError, ssl.SSLError, OSError):
        check(True, "fault: drop closes the connection")
    st, _, _ = req("GET", CM + "/a")
    check(st == 200, "fault: count used up")

    # request log
    st, log, _ = req("GET", "/kubesim/requests", headers={"User-Agent": "selftest/1"})
    check(st == 200 and any(e["path"] == CM and e["method"] == "GET" and
                            e.get("status") == 429 for e in log) and
          all("headers" in e for e in log), "request log (with statuses)")

    # pagination over a consistent snapshot
    for i in range(25):
        req("POST", CM, cm("page-%02d" % i, labels={"page": "yes"}))
    seen, cont, pages = [], "", 0
    while True:
        q = "?labelSelector=page%3Dyes&limit=10" + ("&continue=" + urllib.parse.quote(cont)
                                                    if cont else "")
        st, body, _ = req("GET", CM + q)
        pages += 1
        seen += [o["metadata"]["name"] for o in body["items"]]
        if pages == 1:
            req("POST", CM, cm("page-00a", labels={"page": "yes"}))   # not in this list
            rv0 = body["metadata"]["resourceVersion"]
        cont = body["metadata"].get("continue")
        if not cont:
            break
    check(seen == ["page-%02d" % i for i in range(25)] and pages == 3,
          "limit/continue: 3 consistent pages", (pages, seen))
    st, body, _ = req("GET", CM + "?labelSelector=page%3Dyes&limit=10")
    req("POST", "/kubesim/compact")
    st, body, _ = req("GET", CM + "?labelSelector=page%3Dyes&limit=10&continue=" +
                      urllib.parse.quote(body["metadata"]["continue"]))
    check(st == 410 and body["reason"] == "Expired", "continue after compaction: 410 Expired")

    # watch: from an old rv after compaction -> ERROR 410
    c, r, ev = watch(CM + "?watch=true&resourceVersion=%s" % rv0)
    e = next(ev)
    check(e["type"] == "ERROR" and e["object"]["code"] == 410, "watch from a compacted rv: "
          "ERROR 410", e)
    c.close()

    # watch: resume, selectors, bookmarks, drop
    st, body, _ = req("GET", CM + "?labelSelector=w%3D1")
    rv = body["metadata"]["resourceVersion"]
    req("POST", CM, cm("w1", labels={"w": "1"}))
    req("POST", CM, cm("w2", labels={"w": "2"}))
    c, r, ev = watch(CM + "?watch=true&labelSelector=w%%3D1&allowWatchBookmarks=true"
                     "&resourceVersion=%s" % rv)
    e = next(ev)
    check(e["type"] == "ADDED" and e["object"]["metadata"]["name"] == "w1",
          "watch resumes from a resourceVersion, selector applied", e)
    st, w2, _ = req("GET", CM + "/w2")
    w2["metadata"]["labels"] = {"w": "1"}
    req("PUT", CM + "/w2", w2)
    e = next(ev)
    check(e["type"] == "ADDED" and e["object"]["metadata"]["name"] == "w2",
          "an object that starts matching is ADDED", e)
    t0 = time.time()
    e = next(ev)
    check(e["type"] == "BOOKMARK" and e["object"]["metadata"]["resourceVersion"] and
          time.time() - t0 < 10, "bookmark", e)
    threading.Timer(0.5, lambda: req("POST", "/kubesim/drop-watches")).start()
    rest = list(ev)
    check(all(x["type"] == "BOOKMARK" for x in rest), "drop-watches ends the stream")
    c.close()

    # timeoutSeconds
    t0 = time.time()
    c, r, ev = watch(CM + "?watch=true&timeoutSeconds=1&resourceVersion=%s" % rv)
    n = len(list(ev))
    check(1 <= time.time() - t0 < 10 and n == 3, "timeoutSeconds ends the watch", n)
    c.close()

    # field selector on a single-object watch, DELETED event
    c, r, ev = watch(CM + "?watch=true&fieldSelector=metadata.name%3Dw1")
    e = next(ev)
    req("DELETE", CM + "/w1")
    e = next(ev)
    check(e["type"] == "DELETED" and e["object"]["metadata"]["name"] == "w1", "DELETED event")
    c.close()

    # table
    st, body, _ = req("GET", CM + "/a", headers={
        "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"})
    check(body.get("kind") == "Table" and body["rows"][0]["cells"][0] == "a", "Table output")

    # dropped connection via drop-watches?abrupt=1: raw bytes, no final chunk
    st, body, _ = req("GET", CM)
    raw = ctx().wrap_socket(socket.create_connection((URL.hostname, URL.port), timeout=10),
                            server_hostname=URL.hostname)
    raw.sendall(("GET %s?watch=true&resourceVersion=%s HTTP/1.1\r\nHost: x\r\n"
                 "Authorization: Bearer %s\r\n\r\n"
                 % (CM, body["metadata"]["resourceVersion"], TOKEN)).encode())
    threading.Timer(0.3, lambda: req("POST", "/kubesim/drop-watches?abrupt=1")).start()
    got = b""
    try:
        while True:
            chunk = raw.recv(65536)
            if not chunk:
                break
            got += chunk
    except (ssl.SSLError, OSError):
        pass
    raw.close()
    check(got.startswith(b"HTTP/1.1 200") and not got.endswith(b"0\r\n\r\n"),
          "drop-watches?abrupt=1 cuts the stream without its last chunk", got[-40:])

    # status subresource of a built-in kind: ignored on create and update
    rq = "/api/v1/namespaces/default/resourcequotas"
    st, q, _ = req("POST", rq, {"metadata": {"name": "q"}, "spec": {"hard": {"pods": "1"}},
                                "status": {"hard": {"pods": "9"}}})
    check(st == 201 and "status" not in q, "status is dropped on create", q)
    q["status"] = {"used": {"pods": "0"}}
    st, q, _ = req("PUT", rq + "/q/status", q)
    q["status"] = {"used": {"pods": "5"}}
    q["spec"]["hard"]["pods"] = "2"
    st, q, _ = req("PUT", rq + "/q", q)
    check(q["status"] == {"used": {"pods": "0"}} and q["spec"]["hard"]["pods"] == "2" and
          "generation" not in q["metadata"], "main-resource writes keep status", q)

    # list at an exact resourceVersion; too large a resourceVersion
    st, before, _ = req("GET", CM + "?labelSelector=x%3D1")
    rv1 = before["metadata"]["resourceVersion"]
    req("POST", CM, cm("x1", labels={"x": "1"}))
    st, x1, _ = req("GET", CM + "/x1")
    x1["data"] = {"changed": "yes"}
    req("PUT", CM + "/x1", x1)
    st, now, _ = req("GET", CM + "?labelSelector=x%3D1")
    rv2 = now["metadata"]["resourceVersion"]
    req("DELETE", CM + "/x1")
    st, then, _ = req("GET", CM + "?labelSelector=x%%3D1&resourceVersion=%s"
                      "&resourceVersionMatch=Exact" % rv1)
    check(st == 200 and then["items"] == [] and then["metadata"]["resourceVersion"] == rv1,
          "list at an exact older resourceVersion", then)
    st, then, _ = req("GET", CM + "?labelSelector=x%%3D1&resourceVersion=%s"
                      "&resourceVersionMatch=Exact" % rv2)
    check(st == 200 and [o["data"] for o in then["items"]] == [{"changed": "yes"}],
          "list at an exact resourceVersion sees the object as it was", then)
    st, body, _ = req("GET", CM + "?resourceVersion=%d" % (int(rv2) + 1000))
    check(st == 504 and "Too large resource version" in body["message"],
          "list with too large a resourceVersion: 504", body)

    # watch-list: sendInitialEvents
    c, r, ev = watch(CM + "?watch=true&sendInitialEvents=true&allowWatchBookmarks=true"
                     "&resourceVersionMatch=NotOlderThan&labelSelector=page%3Dyes")
    got = []
    for e in ev:
        got.append(e)
        if e["type"] == "BOOKMARK":
            break
    check(len(got) == 27 and got[-1]["object"]["metadata"].get("annotations") ==
          {"k8s.io/initial-events-end": "true"}, "sendInitialEvents: objects then a bookmark",
          len(got))
    c.close()

    # a watch whose client went away is cleaned up
    def watches_become(n, seconds=10):
        deadline = time.time() + seconds
        while True:
            cur = req("GET", "/kubesim/stats")[1]["watches"]
            if cur == n or time.time() > deadline:
                return cur
            time.sleep(0.1)
    n0 = watches_become(0)
    c, r, ev = watch(CM + "?watch=true&resourceVersion=%s" % rv2)
    n1 = watches_become(1)
    c.close()
    r.close()
    n2 = watches_become(0)
    check((n0, n1, n2) == (0, 1, 0), "closed watches are noticed", (n0, n1, n2))

    if FAILS:
        print("selftest: %d checks FAILED: %s" % (len(FAILS), FAILS))
        return 1
    print("selftest: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

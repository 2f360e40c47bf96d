#!/usr/bin/env python3
"""Small helpers for the integration tests (standard library only).

  repotool.py flip FILE               xor the byte in the middle with 0xff;
                                      prints the offset
  repotool.py truncate FILE           cut the file to half its size
  repotool.py objects REPO            list repository files as
                                      "<top-dir> <size> <relpath>"
  repotool.py search ROOT NEEDLE...   binary-safe search of every file under
                                      ROOT; NEEDLE is text, or @FILE for the
                                      bytes of FILE, or hex:HEX. Prints
                                      "FOUND <needle-label> in <relpath>" per
                                      hit; exit 1 if any needle was found.
  repotool.py snaplist FILE           parse `snapshot list -o json` output;
                                      print "id=<id> host=<h> path=<p>
                                      tags=<k=v,...>" per snapshot (oldest
                                      first as given); exit 1 if not a JSON
                                      array of objects with an id
  repotool.py summary FILE            find the {"type":"summary"} JSON line
                                      in FILE and print it (sorted keys);
                                      exit 1 if none
  repotool.py jsonfind FILE REGEX     print "path=value" for every key in
                                      the JSON document (or JSON lines) in
                                      FILE whose name matches REGEX
  repotool.py sleepkill PID SECONDS SIGNAL   sleep, then send SIGNAL
"""
import json
import os
import re
import signal
import sys
import time


def flip(path):
    size = os.path.getsize(path)
    if size == 0:
        print("empty file", file=sys.stderr)
        return 2
    off = size // 2
    with open(path, "r+b") as f:
        f.seek(off)
        b = f.read(1)
        f.seek(off)
        f.write(bytes([b[0] ^ 0xFF]))
    print(off)
    return 0


def truncate(path):
    size = os.path.getsize(path)
    os.truncate(path, size // 2)
    print(size // 2)
    return 0


def objects(repo):
    for dirpath, _, files in os.walk(repo):
        for f in sorted(files):
            p = os.path.join(dirpath, f)
            rel = os.path.relpath(p, repo)
            top = rel.split(os.sep)[0] if os.sep in rel else "."
            print("%s %d %s" % (top, os.path.getsize(p), rel))
    return 0


def search(root, needles):
    labels = []
    for n in needles:
        if n.startswith("@"):
            with open(n[1:], "rb") as f:
                labels.append((n, f.read()))
        elif n.startswith("hex:"):
            labels.append((n, bytes.fromhex(n[4:])))
        else:
            labels.append((n, os.fsencode(n)))
    found = False
    nfiles = 0
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            with open(p, "rb") as fh:
                data = fh.read()
            nfiles += 1
            for label, needle in labels:
                if needle and needle in data:
                    print("FOUND %s in %s" % (label[:60], os.path.relpath(p, root)))
                    found = True
    print("searched %d files for %d needles" % (nfiles, len(labels)), file=sys.stderr)
    return 1 if found else 0


def norm_tags(t):
    if t is None:
        return []
    if isinstance(t, dict):
        return sorted("%s=%s" % (k, v) for k, v in t.items())
    out = []
    for x in t:
        if isinstance(x, str):
            out.append(x)
        elif isinstance(x, dict):
            k = x.get("key", x.get("name"))
            out.append("%s=%s" % (k, x.get("value")))
    return sorted(out)


def first(d, *names):
    for n in names:
        if n in d:
            return d[n]
    return None


def snaplist(path):
    with open(path) as f:
        doc = json.load(f)
    if not isinstance(doc, list):
        print("not a JSON array: %r" % type(doc), file=sys.stderr)
        return 1
    for s in doc:
        if not isinstance(s, dict):
            print("element is not an object: %r" % s, file=sys.stderr)
            return 1
        sid = first(s, "id", "ID", "snapshot_id", "snapshot")
        if not isinstance(sid, str):
            print("snapshot without an id: %r" % s, file=sys.stderr)
            return 1
        print("id=%s host=%s path=%s tags=%s" % (
            sid, first(s, "host", "hostname"), first(s, "path", "source", "paths"),
            ",".join(norm_tags(first(s, "tags", "labels")))))
    return 0


def json_docs(path):
    with open(path) as f:
        text = f.read()
    try:
        return [json.loads(text)]
    except ValueError:
        pass
    docs = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{") or line.startswith("["):
            try:
                docs.append(json.loads(line))
            except ValueError:
                pass
    return docs


def summary(path):
    for d in json_docs(path):
        if isinstance(d, dict) and d.get("type") == "summary":
            print(json.dumps(d, sort_keys=True))
            return 0
    return 1


def jsonfind(path, regex):
    rx = re.compile(regex, re.I)

    def walk(x, prefix):
        if isinstance(x, dict):
            for k, v in x.items():
                p = prefix + "." + k if prefix else k
                if rx.search(k) and not isinstance(v, (dict, list)):
                    print("%s=%s" % (p, json.dumps(v)))
                walk(v, p)
        elif isinstance(x, list):
            for i, v in enumerate(x):
                walk(v, "%s[%d]" % (prefix, i))

    for d in json_docs(path):
        walk(d, "")
    return 0


def sleepkill(pid, secs, sig):
    time.sleep(float(secs))
    try:
        os.kill(int(pid), getattr(signal, sig))
        print("sent %s after %.3fs" % (sig, float(secs)))
    except ProcessLookupError:
        print("process had exited before %.3fs" % float(secs))
    return 0


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    cmd = argv[1]
    if cmd == "flip":
        return flip(argv[2])
    if cmd == "truncate":
        return truncate(argv[2])
    if cmd == "objects":
        return objects(argv[2])
    if cmd == "search":
        return search(argv[2], argv[3:])
    if cmd == "snaplist":
        return snaplist(argv[2])
    if cmd == "summary":
        return summary(argv[2])
    if cmd == "jsonfind":
        return jsonfind(argv[2], argv[3])
    if cmd == "sleepkill":
        return sleepkill(argv[2], argv[3], argv[4])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

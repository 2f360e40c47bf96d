#!/usr/bin/env python3
"""Independent checker of a Velero backup in a filesystem location.

Standard library only, and written from Velero's documented layout (see
docs/velero-layout.md), not from stowage's reader: given a location
directory (and optionally a prefix inside it) and a backup name, it checks

- the location's top level holds only backups/ restores/ restic/ metadata/
  plugins/ kopia/;
- backups/<name>/velero-backup.json: plain (not gzip) JSON of a Backup,
  apiVersion velero.io/v1, metadata.name = <name>;
- <name>.tar.gz: one gzip stream around a tar of USTAR/PAX headers (as
  Go's archive/tar writes), regular files only, mode 0755, no directory
  entries, metadata/version first holding "1.1.0\\n", every other entry an
  item path resources/<gr>/[<ver>[-preferredversion]/](cluster/<name>.json|
  namespaces/<ns>/<name>.json) holding compact JSON with sorted keys (Go's
  json.Marshal bytes) whose metadata matches the path, and a
  <ver>-preferredversion twin with identical bytes for every un-versioned
  item;
- the side objects present: gzip, and for *.json.gz compact JSON plus one
  "\\n" (json.Encoder); results, resource list (sorted, unique, equal to
  the tarball's un-versioned items) and the array files in their shapes.

Exit 0 when everything holds, 1 with one line per problem otherwise.
"""
import argparse
import gzip
import io
import json
import os
import re
import sys
import tarfile

ALLOWED_TOP = {"backups", "restores", "restic", "metadata", "plugins", "kopia"}
ITEM_RE = re.compile(
    r"^resources/(?P<gr>[^/]+)/(?:(?P<ver>[a-z0-9]+?)(?P<pref>-preferredversion)?/)?"
    r"(?:cluster/(?P<cname>[^/]+)\.json|namespaces/(?P<ns>[^/]+)/(?P<nname>[^/]+)\.json)$")
SIDE = {
    "-logs.gz": "text",
    "-results.gz": "results",
    "-resource-list.json.gz": "resource-list",
    "-podvolumebackups.json.gz": "array",
    "-volumesnapshots.json.gz": "array",
    "-itemoperations.json.gz": "array",
    "-volumeinfo.json.gz": "array",
    "-csi-volumesnapshots.json.gz": "array",
    "-csi-volumesnapshotcontents.json.gz": "array",
    "-csi-volumesnapshotclasses.json.gz": "array",
}

problems = []


def bad(msg):
    problems.append(msg)


def go_compact(obj):
    """Bytes of Go's json.Marshal for a decoded value: compact, sorted
    keys, HTML-safe escapes."""
    s = json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    s = (s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
         .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
    return s.encode("utf-8")


def has_float(v):
    if isinstance(v, float):
        return True
    if isinstance(v, dict):
        return any(has_float(x) for x in v.values())
    if isinstance(v, list):
        return any(has_float(x) for x in v)
    return False


def gunzip(path, what):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:3] != b"\x1f\x8b\x08":
        bad(f"{what}: not gzip (magic {raw[:3].hex()})")
        return None
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError) as e:
        bad(f"{what}: gzip stream broken: {e}")
        return None


def check_top(root):
    if not os.path.isdir(root):
        bad(f"location {root} is not a directory")
        return
    for e in sorted(os.listdir(root)):
        if os.path.isdir(os.path.join(root, e)) and e not in ALLOWED_TOP:
            bad(f"location: unexpected top-level prefix {e}/")


def check_backup_json(path, name):
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        bad(f"velero-backup.json: {e}")
        return
    if raw[:2] == b"\x1f\x8b":
        bad("velero-backup.json: gzipped, must be plain JSON")
        return
    try:
        b = json.loads(raw)
    except ValueError as e:
        bad(f"velero-backup.json: bad JSON: {e}")
        return
    if not isinstance(b, dict):
        bad("velero-backup.json: not an object")
        return
    if b.get("apiVersion") != "velero.io/v1" or b.get("kind") != "Backup":
        bad("velero-backup.json: apiVersion/kind not velero.io/v1 Backup")
    if (b.get("metadata") or {}).get("name") != name:
        bad("velero-backup.json: metadata.name is not the backup name")


def raw_headers(tar, what):
    """Walk the tar blocks: Go writes USTAR magic ("ustar\\0" "00") for
    USTAR and PAX headers, type '0' files and 'x' pax records only."""
    off, n = 0, len(tar)
    if n % 512:
        bad(f"{what}: tar length {n} is not a multiple of 512")
    while off + 512 <= n:
        h = tar[off:off + 512]
        if h == b"\0" * 512:
            if tar[off:] != b"\0" * (n - off) or n - off < 1024:
                bad(f"{what}: tar does not end with zero blocks only")
            return
        chk = sum(h[:148]) + 8 * 32 + sum(h[156:])
        try:
            stored = int(h[148:156].strip(b"\0 ") or b"0", 8)
        except ValueError:
            stored = -1
        if chk != stored:
            bad(f"{what}: header checksum wrong at offset {off}")
            return
        name = h[:100].rstrip(b"\0").decode("utf-8", "replace")
        if h[257:265] != b"ustar\x0000":
            bad(f"{what}: {name}: header is not USTAR/PAX (magic {h[257:265]!r})")
        typ = h[156:157]
        if typ not in (b"0", b"x"):
            bad(f"{what}: {name}: entry type {typ!r}, only regular files allowed")
        if typ == b"0" and int(h[100:108].strip(b"\0 ") or b"0", 8) != 0o755:
            bad(f"{what}: {name}: mode {h[100:108]!r}, want 0755")
        size = int(h[124:136].strip(b"\0 ") or b"0", 8)
        off += 512 + (size + 511) // 512 * 512
    bad(f"{what}: tar has no end-of-archive blocks")


def check_tarball(path, what):
    """Returns {(apiVersion/Kind): [ns/name]} of the un-versioned items."""
    tar = gunzip(path, what)
    if tar is None:
        return None
    raw_headers(tar, what)
    try:
        tf = tarfile.open(fileobj=io.BytesIO(tar), mode="r:")
        members = tf.getmembers()
    except tarfile.TarError as e:
        bad(f"{what}: tar unreadable: {e}")
        return None
    if not members or members[0].name != "metadata/version":
        bad(f"{what}: first entry is not metadata/version")
    contents = {}
    listed = {}
    for m in members:
        if not m.isreg():
            bad(f"{what}: {m.name}: not a regular file")
            continue
        if m.mode != 0o755:
            bad(f"{what}: {m.name}: mode {oct(m.mode)}, want 0o755")
        if m.name.startswith("/") or ".." in m.name.split("/"):
            bad(f"{what}: {m.name}: unsafe path")
            continue
        data = tf.extractfile(m).read()
        if m.name in contents:
            bad(f"{what}: {m.name}: duplicate entry")
        contents[m.name] = data
        if m.name == "metadata/version":
            if data != b"1.1.0\n":
                bad(f"{what}: metadata/version holds {data!r}, want '1.1.0\\n'")
            continue
        mt = ITEM_RE.match(m.name)
        if not mt:
            bad(f"{what}: {m.name}: not an item path")
            continue
        try:
            obj = json.loads(data)
        except ValueError as e:
            bad(f"{what}: {m.name}: bad JSON: {e}")
            continue
        if go_compact(obj) != data and not has_float(obj):
            bad(f"{what}: {m.name}: not compact sorted JSON as Go writes it")
        md = obj.get("metadata") if isinstance(obj, dict) else None
        if not isinstance(md, dict):
            bad(f"{what}: {m.name}: no metadata")
            continue
        name = mt.group("cname") or mt.group("nname")
        ns = mt.group("ns")
        if md.get("name") != name:
            bad(f"{what}: {m.name}: metadata.name {md.get('name')!r} differs")
        if ns is not None and md.get("namespace") != ns:
            bad(f"{what}: {m.name}: metadata.namespace {md.get('namespace')!r} differs")
        if ns is None and md.get("namespace"):
            bad(f"{what}: {m.name}: cluster-scoped item with a namespace")
        if mt.group("ver") is None:
            key = f"{obj.get('apiVersion')}/{obj.get('kind')}"
            listed.setdefault(key, []).append(f"{ns}/{name}" if ns else name)
    # Twins: every un-versioned item has a <ver>-preferredversion copy with
    # the same bytes, and every preferred copy has its un-versioned one.
    for p, data in contents.items():
        mt = ITEM_RE.match(p)
        if not mt:
            continue
        gr = mt.group("gr")
        rest = p[len(f"resources/{gr}/"):]
        if mt.group("pref"):
            plain = f"resources/{gr}/" + rest.split("/", 1)[1]
            if contents.get(plain) != data:
                bad(f"{what}: {p}: no identical un-versioned copy {plain}")
        elif mt.group("ver") is None:
            twins = [q for q in contents
                     if q.startswith(f"resources/{gr}/") and q.endswith("/" + rest)
                     and "-preferredversion/" in q]
            if len(twins) != 1 or contents[twins[0]] != data:
                bad(f"{what}: {p}: no identical -preferredversion copy")
    return {k: sorted(v) for k, v in listed.items()}


def check_result(r, what):
    if not isinstance(r, dict):
        bad(f"{what}: Result is not an object")
        return
    for k, v in r.items():
        if k in ("velero", "cluster"):
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                bad(f"{what}: {k} is not a list of strings")
        elif k == "namespaces":
            if not isinstance(v, dict) or not all(
                    isinstance(x, list) and all(isinstance(y, str) for y in x)
                    for x in v.values()):
                bad(f"{what}: namespaces is not an object of string lists")
        else:
            bad(f"{what}: unknown member {k}")


def check_side(path, kind, what, tar_items):
    data = gunzip(path, what)
    if data is None or kind == "text":
        return
    if kind == "results":
        # Written by json.Encoder too: compact + "\n".
        pass
    if not data.endswith(b"\n") or data.endswith(b"\n\n"):
        bad(f"{what}: does not end with exactly one newline (json.Encoder)")
        return
    try:
        v = json.loads(data)
    except ValueError as e:
        bad(f"{what}: bad JSON: {e}")
        return
    if not has_float(v) and go_compact(v) + b"\n" != data:
        bad(f"{what}: not compact JSON as Go's json.Encoder writes it")
    if kind == "array":
        if v is not None and not isinstance(v, list):
            bad(f"{what}: neither null nor an array")
    elif kind == "results":
        if not isinstance(v, dict) or set(v) - {"errors", "warnings"}:
            bad(f"{what}: not {{errors, warnings}}")
        else:
            for k in ("errors", "warnings"):
                if k in v:
                    check_result(v[k], f"{what}: {k}")
    elif kind == "resource-list":
        if not isinstance(v, dict):
            bad(f"{what}: not an object")
            return
        for k, lst in v.items():
            if not isinstance(lst, list) or lst != sorted(set(lst)):
                bad(f"{what}: {k}: not a sorted list of unique names")
        if tar_items is not None and v != tar_items:
            bad(f"{what}: differs from the tarball's items: "
                f"list {sorted(v)} vs tarball {sorted(tar_items)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prefix", default="", help="prefix inside the location")
    ap.add_argument("location", help="the location's directory")
    ap.add_argument("backup", help="the backup name")
    a = ap.parse_args()
    root = os.path.join(a.location, a.prefix.strip("/")) if a.prefix.strip("/") else a.location
    name = a.backup
    check_top(root)
    bdir = os.path.join(root, "backups", name)
    if not os.path.isdir(bdir):
        bad(f"backups/{name}/ does not exist")
    else:
        check_backup_json(os.path.join(bdir, "velero-backup.json"), name)
        tpath = os.path.join(bdir, f"{name}.tar.gz")
        items = None
        if os.path.exists(tpath):
            items = check_tarball(tpath, f"{name}.tar.gz")
        else:
            bad(f"{name}.tar.gz missing")
        for f in sorted(os.listdir(bdir)):
            if f in ("velero-backup.json", f"{name}.tar.gz"):
                continue
            sfx = f[len(name):] if f.startswith(name) else None
            if sfx not in SIDE:
                bad(f"backups/{name}/{f}: not an object Velero writes")
                continue
            check_side(os.path.join(bdir, f), SIDE[sfx], f, items)
    for p in problems:
        print("velero_layout_check: " + p)
    if problems:
        return 1
    print(f"velero_layout_check: backup {name} OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Compare two directory trees the way a backup must preserve them.

usage: treecmp.py SRC DST [--no-owner] [--no-xattr] [--root] [--paths-only]
                          [--ignore RELPATH]...

Compares, for every entry below the roots (the roots themselves only with
--root): file type, permission bits including setuid/setgid/sticky, uid/gid,
mtime in nanoseconds, xattrs (names and values), content bytes (SHA-256),
size, symlink targets, device numbers, hard-link groups (which paths share an
inode) and sparseness (a sparse source file must be sparse after restore).

Walks with directory file descriptors, so paths longer than PATH_MAX work.
Names are bytes; they are printed with non-printable bytes escaped.

Exit status 0 when identical, 1 when different (one line per difference),
2 on usage errors. --paths-only prints each differing relative path once
instead (escaped the same way), for scripts.
"""
import argparse
import hashlib
import os
import stat
import sys

SPARSE_MIN_SIZE = 1 << 20


def esc(p: bytes) -> str:
    out = []
    for b in p:
        if b == 0x5C:
            out.append("\\\\")
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            out.append("\\x%02x" % b)
    # Keep valid UTF-8 readable.
    try:
        s = p.decode("utf-8")
        if all(c.isprintable() for c in s) and "\\" not in s:
            return s
    except UnicodeDecodeError:
        pass
    return "".join(out)


def proc_path(dir_fd: int, name: bytes) -> bytes:
    return b"/proc/self/fd/%d/" % dir_fd + name


def read_xattrs(target, follow):
    """target: a path (bytes) or an fd."""
    try:
        if isinstance(target, int):
            names = os.listxattr(target)
        else:
            names = os.listxattr(target, follow_symlinks=follow)
    except OSError as e:
        return {"<error>": str(e).encode()}
    res = {}
    for n in names:
        try:
            if isinstance(target, int):
                res[n] = os.getxattr(target, n)
            else:
                res[n] = os.getxattr(target, n, follow_symlinks=follow)
        except OSError as e:
            res[n] = ("<error %s>" % e).encode()
    return res


BLOCK = 1 << 20
_zero_digest = {}


def zero_digest(n):
    d = _zero_digest.get(n)
    if d is None:
        d = _zero_digest[n] = hashlib.sha256(bytes(n)).digest()
    return d


def content_digest(fd: int, size: int) -> str:
    """A digest of the content that does not depend on the file's layout:
    SHA-256 over the SHA-256 of each 1 MiB block. Blocks that lie entirely
    in a hole are not read (their digest is that of zeros), so a 4 GiB
    sparse file costs only its data."""
    outer = hashlib.sha256()
    off = 0
    while off < size:
        n = min(BLOCK, size - off)
        try:
            data_at = os.lseek(fd, off, os.SEEK_DATA)
        except OSError:
            data_at = size  # ENXIO: only a hole from here to the end
        if data_at >= off + n:
            # Skip whole hole blocks quickly.
            skip_to = min(size, data_at - (data_at - off) % BLOCK)
            while off < skip_to:
                m = min(BLOCK, size - off)
                outer.update(zero_digest(m))
                off += m
            continue
        b = os.pread(fd, n, off)
        while len(b) < n:
            more = os.pread(fd, n - len(b), off + len(b))
            if not more:
                break
            b += more
        outer.update(hashlib.sha256(b).digest())
        off += n
    # Anything beyond st_size (a file that grew) is part of the content too.
    extra = os.pread(fd, 1, size)
    if extra:
        outer.update(b"grew")
    return outer.hexdigest()


def has_hole(fd: int, size: int) -> bool:
    if size == 0:
        return False
    try:
        off = os.lseek(fd, 0, os.SEEK_HOLE)
    except OSError:
        return False
    return off < size


def scan(root: bytes, want_xattr: bool, include_root: bool):
    """Return {relpath: info} for everything below root."""
    entries = {}
    errors = []

    def info_for(dir_fd, name, rel, st):
        fmt = stat.S_IFMT(st.st_mode)
        info = {
            "type": fmt,
            "mode": stat.S_IMODE(st.st_mode),
            "uid": st.st_uid,
            "gid": st.st_gid,
            "mtime_ns": st.st_mtime_ns,
            "ino": (st.st_dev, st.st_ino),
            "nlink": st.st_nlink,
        }
        if fmt == stat.S_IFREG:
            info["size"] = st.st_size
            info["alloc"] = st.st_blocks * 512
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dir_fd)
            except OSError as e:
                errors.append("%s: cannot open: %s" % (esc(rel), e))
                return info
            try:
                info["content"] = content_digest(fd, st.st_size)
                info["hole"] = has_hole(fd, st.st_size)
                if want_xattr:
                    info["xattrs"] = read_xattrs(fd, True)
            finally:
                os.close(fd)
        elif fmt == stat.S_IFLNK:
            info["target"] = os.readlink(name, dir_fd=dir_fd)
            if want_xattr:
                info["xattrs"] = read_xattrs(proc_path(dir_fd, name), False)
        elif fmt in (stat.S_IFCHR, stat.S_IFBLK):
            info["rdev"] = st.st_rdev
            if want_xattr:
                info["xattrs"] = read_xattrs(proc_path(dir_fd, name), False)
        elif fmt == stat.S_IFDIR:
            pass  # xattrs read with the directory's own fd in walk()
        else:
            if want_xattr:
                info["xattrs"] = read_xattrs(proc_path(dir_fd, name), False)
        return info

    def walk(dir_fd, rel):
        try:
            names = sorted(os.listdir(dir_fd))
        except OSError as e:
            errors.append("%s: cannot list: %s" % (esc(rel) or ".", e))
            return
        for n in names:
            name = os.fsencode(n)
            r = rel + b"/" + name if rel else name
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            entries[r] = info_for(dir_fd, name, r, st)
            if stat.S_ISDIR(st.st_mode):
                try:
                    sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW,
                                  dir_fd=dir_fd)
                except OSError as e:
                    errors.append("%s: cannot open dir: %s" % (esc(r), e))
                    continue
                try:
                    if want_xattr:
                        entries[r]["xattrs"] = read_xattrs(sub, True)
                    walk(sub, r)
                finally:
                    os.close(sub)

    top = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if include_root:
            st = os.fstat(top)
            entries[b"."] = {
                "type": stat.S_IFMT(st.st_mode), "mode": stat.S_IMODE(st.st_mode),
                "uid": st.st_uid, "gid": st.st_gid, "mtime_ns": st.st_mtime_ns,
                "ino": None, "nlink": st.st_nlink,
            }
            if want_xattr:
                entries[b"."]["xattrs"] = read_xattrs(top, True)
        walk(top, b"")
    finally:
        os.close(top)
    return entries, errors


TYPE_NAMES = {
    stat.S_IFREG: "file", stat.S_IFDIR: "dir", stat.S_IFLNK: "symlink",
    stat.S_IFIFO: "fifo", stat.S_IFSOCK: "socket", stat.S_IFCHR: "chardev",
    stat.S_IFBLK: "blockdev",
}


def link_groups(entries):
    groups = {}
    for rel, info in entries.items():
        if info["type"] == stat.S_IFDIR or info["ino"] is None:
            continue
        groups.setdefault(info["ino"], []).append(rel)
    return {k: sorted(v) for k, v in groups.items()}


def fmt_x(d):
    return "{" + ", ".join("%s=%r" % (k, v) for k, v in sorted(d.items())) + "}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--no-owner", action="store_true")
    ap.add_argument("--no-xattr", action="store_true")
    ap.add_argument("--root", action="store_true",
                    help="also compare the root directories' own attributes")
    ap.add_argument("--paths-only", action="store_true")
    ap.add_argument("--ignore", action="append", default=[],
                    help="relative path (and everything below) to skip")
    a = ap.parse_args()

    src, serr = scan(os.fsencode(a.src), not a.no_xattr, a.root)
    dst, derr = scan(os.fsencode(a.dst), not a.no_xattr, a.root)
    ignores = [os.fsencode(i) for i in a.ignore]

    def ignored(rel):
        return any(rel == i or rel.startswith(i + b"/") for i in ignores)

    diffs = []  # (rel, text)

    for e in serr:
        diffs.append((b"", "source scan error: " + e))
    for e in derr:
        diffs.append((b"", "restored scan error: " + e))

    for rel in sorted(set(src) | set(dst)):
        if ignored(rel):
            continue
        s, d = src.get(rel), dst.get(rel)
        if d is None:
            diffs.append((rel, "%s: missing in restored tree (source: %s)"
                          % (esc(rel), TYPE_NAMES.get(s["type"], "?"))))
            continue
        if s is None:
            diffs.append((rel, "%s: unexpected extra entry in restored tree (%s)"
                          % (esc(rel), TYPE_NAMES.get(d["type"], "?"))))
            continue
        if s["type"] != d["type"]:
            diffs.append((rel, "%s: type: expected %s, got %s" % (
                esc(rel), TYPE_NAMES.get(s["type"]), TYPE_NAMES.get(d["type"]))))
            continue

        def cmp(field, show=str):
            if s.get(field) != d.get(field):
                diffs.append((rel, "%s: %s: expected %s, got %s" % (
                    esc(rel), field, show(s.get(field)), show(d.get(field)))))

        # A symlink's permission bits are always 0777 on Linux.
        if s["type"] != stat.S_IFLNK:
            cmp("mode", lambda m: "None" if m is None else "%04o" % m)
        if not a.no_owner:
            cmp("uid")
            cmp("gid")
        cmp("mtime_ns")
        if not a.no_xattr:
            cmp("xattrs", lambda x: "None" if x is None else fmt_x(x))
        if s["type"] == stat.S_IFREG:
            cmp("size")
            cmp("content")
            size = s.get("size", 0)
            if (size >= SPARSE_MIN_SIZE and s.get("alloc", 0) * 2 < size):
                # Sparse source: the restored file's holes must be holes.
                # Allow generous rounding (whole chunks written around the
                # data), but the allocation must stay far below the size.
                dalloc = d.get("alloc", 0)
                if dalloc * 4 > size or not d.get("hole"):
                    diffs.append((rel, "%s: sparseness: expected allocated <= %d "
                                  "bytes with holes (source allocates %d of %d), "
                                  "got %d allocated, has hole=%s" % (
                                      esc(rel), size // 4, s.get("alloc"), size,
                                      dalloc, d.get("hole"))))
        elif s["type"] == stat.S_IFLNK:
            cmp("target", lambda t: repr(t))
        elif s["type"] in (stat.S_IFCHR, stat.S_IFBLK):
            cmp("rdev")

    # Hard-link groups must be the same partition of paths.
    sg = [g for g in link_groups(src).values() if len(g) > 1]
    dg = link_groups(dst)
    d_by_path = {}
    for g in dg.values():
        for p in g:
            d_by_path[p] = g
    for g in sg:
        g = [p for p in g if not ignored(p)]
        if len(g) < 2:
            continue
        got = d_by_path.get(g[0])
        if got != g:
            diffs.append((g[0], "hard links: expected [%s] to share one inode, got "
                          "[%s] sharing the inode of %s" % (
                              ", ".join(esc(p) for p in g),
                              ", ".join(esc(p) for p in (got or [])), esc(g[0]))))
    s_linked = {p for g in sg for p in g}
    for g in dg.values():
        if len(g) > 1 and not all(p in s_linked for p in g):
            diffs.append((g[0], "hard links: restored [%s] share an inode, but in "
                          "the source they are separate files" % (
                              ", ".join(esc(p) for p in g))))

    if a.paths_only:
        seen = []
        for rel, _ in diffs:
            if rel not in seen:
                seen.append(rel)
        for rel in seen:
            print(esc(rel) if rel else "<scan-error>")
    else:
        for _, text in diffs[:200]:
            print(text)
        if len(diffs) > 200:
            print("... and %d more differences" % (len(diffs) - 200))
        nfiles = sum(1 for e in src.values() if e["type"] == stat.S_IFREG)
        print("%d differences; compared %d entries (%d files)"
              % (len(diffs), len(src), nfiles))
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Generate fixture trees for the integration tests (deterministic per seed).

usage:
  mkfixture.py roundtrip DIR [--no-huge]
      every kind of entry: empty/small/multi-MiB random/compressible files,
      sparse files (64 MiB, and with --no-huge absent: one > 4 GiB), empty
      and nested dirs, relative/absolute/dangling symlinks, hard links,
      setuid/setgid/sticky/0600/0755/0000 modes, nanosecond mtimes, user
      xattrs, other owners (as root), and names with odd bytes. Prints
      "xattrs=yes|no owners=yes|no" on stdout.
  mkfixture.py deep DIR
      a file below a directory chain longer than PATH_MAX (4096 bytes).
  mkfixture.py bulk DIR --mb N [--seed S] [--small-files K] [--prefix P]
      about N MiB: half random, half compressible, in a few large files plus
      K small files.
"""
import argparse
import os
import random
import stat
import sys

MiB = 1 << 20


def write(path, data, mode=None):
    with open(path, "wb") as f:
        f.write(data)
    if mode is not None:
        os.chmod(path, mode)


_LINES = None


def compressible(rng, n):
    """Text that compresses well (~4x with zstd -1) but does not
    deduplicate: random sequences of lines from a small vocabulary."""
    global _LINES
    if _LINES is None:
        r = random.Random(12345)
        words = [b"alpha", b"bravo", b"charlie", b"delta", b"echo", b"foxtrot",
                 b"golf", b"hotel", b"india", b"juliet", b"kilo", b"lima"]
        _LINES = [b" ".join(r.choice(words) for _ in range(r.randrange(4, 14))) + b"\n"
                  for _ in range(4096)]
    k = n // 40 + 1
    out = b"".join(rng.choices(_LINES, k=k))
    while len(out) < n:
        out += b"".join(rng.choices(_LINES, k=k))
    return out[:n]


def xattrs_supported(d):
    probe = os.path.join(d, ".xattr-probe")
    write(probe, b"")
    try:
        os.setxattr(probe, "user.probe", b"1")
        return True
    except OSError:
        return False
    finally:
        os.unlink(probe)


def set_times(root, seed):
    """Give every entry (bottom-up, so directories last) a distinct mtime
    with a nanosecond part; a few get edge values."""
    rng = random.Random(seed)
    special = {
        b"mtime_epoch": 0,
        b"mtime_ns_one": 1_600_000_000 * 10**9 + 1,
        b"mtime_future": 4_102_444_800 * 10**9 + 999_999_999,
    }
    for dirpath, dirnames, filenames in os.walk(os.fsencode(root), topdown=False):
        for n in filenames + dirnames:
            p = os.path.join(dirpath, n)
            ns = special.get(n)
            if ns is None:
                ns = rng.randrange(1_000_000_000, 1_700_000_000) * 10**9 + \
                    rng.randrange(1, 10**9)
            os.utime(p, ns=(ns, ns), follow_symlinks=False)


def roundtrip(d, huge, seed=1):
    rng = random.Random(seed)
    root = os.getuid() == 0
    os.makedirs(d, exist_ok=True)
    xa = xattrs_supported(d)
    j = lambda *p: os.path.join(d, *p)

    # Regular files.
    write(j("empty"), b"")
    write(j("small.txt"), b"hello\n")
    write(j("random.bin"), rng.randbytes(6 * MiB + 12345))
    write(j("compressible.txt"), compressible(rng, 4 * MiB))
    write(j(".hidden"), b"hidden\n")
    write(j("zeros_4m"), bytes(4 * MiB))  # all zero, but not sparse

    # Sparse files: a few data blocks at offsets in a 64 MiB file, one that
    # is a hole only, and one beyond 4 GiB (32-bit offsets).
    with open(j("sparse.img"), "wb") as f:
        f.truncate(64 * MiB)
        for off in (0, 20 * MiB, 40 * MiB + 123, 64 * MiB - 4096):
            f.seek(off)
            f.write(rng.randbytes(4096))
    with open(j("holes_only.img"), "wb") as f:
        f.truncate(16 * MiB)
    if huge:
        with open(j("sparse_4g.img"), "wb") as f:
            f.truncate(4 * 1024 * MiB + 8192)
            f.seek(4 * 1024 * MiB + 100)
            f.write(b"beyond 4 GiB\n" * 10)

    # Directories.
    os.makedirs(j("emptydir"))
    os.makedirs(j("nested", "a", "b", "c", "d", "e"))
    os.makedirs(j("nested", "a", "b", "emptyleaf"))
    write(j("nested", "a", "b", "c", "d", "e", "file.txt"), b"deep file\n")
    write(j("nested", "a", "top.txt"), b"top of a\n")
    os.makedirs(j("many"))
    for i in range(300):
        write(j("many", "f%04d" % i), b"file %d\n" % i * (i % 7 + 1))

    # Symlinks.
    os.symlink("small.txt", j("link_rel"))
    os.symlink("../../small.txt", j("nested", "a", "link_up"))
    os.symlink("/etc/hostname", j("link_abs"))
    os.symlink("does/not/exist", j("link_dangling"))
    os.symlink("nested", j("link_dir"))
    os.symlink("x" * 1000, j("link_long_target"))

    # Hard links: a group of three across directories, and a pair.
    write(j("hl1"), b"hard linked content\n")
    os.link(j("hl1"), j("hl2"))
    os.link(j("hl1"), j("nested", "a", "hl3"))
    write(j("hlB1"), rng.randbytes(3000))
    os.link(j("hlB1"), j("hlB2"))

    # Owners (before modes: chown clears setuid).
    if root:
        write(j("owned_file"), b"owned by 1234:5678\n")
        os.chown(j("owned_file"), 1234, 5678)
        os.makedirs(j("owned_dir"))
        write(j("owned_dir", "inner"), b"inner\n")
        os.chown(j("owned_dir"), 4321, 8765)
        os.symlink("small.txt", j("owned_link"))
        os.lchown(j("owned_link"), 2222, 3333)
        write(j("setuid_owned"), b"#!/bin/sh\n")
        os.chown(j("setuid_owned"), 1234, 5678)
        os.chmod(j("setuid_owned"), 0o4755)

    # Modes.
    write(j("mode_0600"), b"private\n", 0o600)
    write(j("mode_0755"), b"#!/bin/sh\necho hi\n", 0o755)
    write(j("mode_0444"), b"read only\n", 0o444)
    write(j("setuid"), b"setuid\n", 0o4755)
    write(j("setgid"), b"setgid\n", 0o2711)
    os.makedirs(j("sticky_dir"))
    write(j("sticky_dir", "f"), b"in sticky\n")
    os.chmod(j("sticky_dir"), 0o1777)
    os.makedirs(j("dir_0700"))
    os.chmod(j("dir_0700"), 0o700)
    if root:
        write(j("mode_0000"), b"nobody may read me (but root)\n", 0o000)

    # Odd names (bytes).
    odd = [
        "héllo wörld 日本語.txt".encode(),
        b"with space.txt", b" leading space", b"trailing space ",
        b"new\nline", b"tab\tname", b"latin1-\xe9\xff\xfe",
        b"L" * 251 + b".txt",                    # 255 bytes
        "é".encode() * 127 + b"x",               # 255 bytes, multi-byte
        b"-dash", b"back\\slash", b"quote\"'", b"star*?[x]", b"..dots",
        b"%s%n", "emoji 🎉".encode(), b"\x01ctrl\x7f",
    ]
    for n in odd:
        write(os.path.join(os.fsencode(d), n), b"odd name: " + n + b"\n")
    wd = os.path.join(os.fsencode(d), b"dir with\nnewline")
    os.makedirs(wd)
    write(os.path.join(wd, b"inner file"), b"inside a dir with a newline\n")

    # Extended attributes.
    if xa:
        os.setxattr(j("small.txt"), "user.comment", b"hello xattr")
        os.setxattr(j("small.txt"), "user.binary", bytes(range(256)))
        os.setxattr(j("small.txt"), "user.empty", b"")
        os.setxattr(j("random.bin"), "user.big", rng.randbytes(3000))
        os.setxattr(j("nested"), "user.dir_attr", b"on a directory")
        os.setxattr(j("hl1"), "user.on_hardlink", b"shared")
    else:
        print("NOTE: filesystem at %s does not support user xattrs; fixture "
              "has none" % d, file=sys.stderr)

    set_times(d, seed)
    # Read-only directory with content: set its mode last (restore must
    # create the children before applying it).
    os.makedirs(j("ro_dir"))
    write(j("ro_dir", "child"), b"child of a 0555 dir\n")
    os.utime(j("ro_dir", "child"), ns=(1_500_000_000_123_456_789,) * 2)
    os.chmod(j("ro_dir"), 0o555)
    os.utime(j("ro_dir"), ns=(1_500_000_001_987_654_321,) * 2)
    print("xattrs=%s owners=%s" % ("yes" if xa else "no", "yes" if root else "no"))


def deep(d):
    os.makedirs(d, exist_ok=True)
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    total = 0
    level = 0
    while total <= 4200:
        name = ("level%02d_" % level).encode() + b"d" * 190
        os.mkdir(name, dir_fd=fd)
        nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nfd
        total += len(name) + 1
        level += 1
    f = os.open(b"bottom.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(f, b"more than PATH_MAX below the root\n")
    os.close(f)
    os.close(fd)
    print("depth=%d path_bytes=%d" % (level, total + len("bottom.txt")))


def bulk(d, mb, seed, small_files, prefix):
    rng = random.Random(seed)
    os.makedirs(d, exist_ok=True)
    half = mb * MiB // 2
    # Random half in files of up to 16 MiB.
    n = 0
    left = half
    while left > 0:
        sz = min(left, rng.randrange(4 * MiB, 16 * MiB))
        write(os.path.join(d, "%srandom_%02d.bin" % (prefix, n)), rng.randbytes(sz))
        left -= sz
        n += 1
    left = half
    n = 0
    while left > 0:
        sz = min(left, rng.randrange(4 * MiB, 16 * MiB))
        write(os.path.join(d, "%stext_%02d.txt" % (prefix, n)), compressible(rng, sz))
        left -= sz
        n += 1
    sd = os.path.join(d, "%ssmall" % prefix)
    os.makedirs(sd, exist_ok=True)
    for i in range(small_files):
        sub = os.path.join(sd, "d%02d" % (i % 10))
        os.makedirs(sub, exist_ok=True)
        write(os.path.join(sub, "s%04d" % i), rng.randbytes(rng.randrange(0, 64 * 1024)))


def main():
    ap = argparse.ArgumentParser()
    sp = ap.add_subparsers(dest="cmd", required=True)
    r = sp.add_parser("roundtrip")
    r.add_argument("dir")
    r.add_argument("--no-huge", action="store_true")
    dp = sp.add_parser("deep")
    dp.add_argument("dir")
    b = sp.add_parser("bulk")
    b.add_argument("dir")
    b.add_argument("--mb", type=int, required=True)
    b.add_argument("--seed", type=int, default=1)
    b.add_argument("--small-files", type=int, default=100)
    b.add_argument("--prefix", default="")
    a = ap.parse_args()
    if a.cmd == "roundtrip":
        roundtrip(a.dir, not a.no_huge)
    elif a.cmd == "deep":
        deep(a.dir)
    else:
        bulk(a.dir, a.mb, a.seed, a.small_files, a.prefix)


if __name__ == "__main__":
    main()

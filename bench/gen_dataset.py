#!/usr/bin/env python3
"""Dataset tooling for bench/run.sh (python3 standard library only).

Subcommands:
  build      OUT --size BYTES [--seed N]   build the main dataset
  mutate     SRC OUT [--seed N] [--fraction F]
                                           mutated copy of SRC (unchanged files are
                                           hard links to SRC; changed ones are new files)
  sync       SRC DST                       rsync-like: make DST equal to SRC (changed
                                           files are written to a temp file and renamed,
                                           so inode, mtime and ctime change; deleted files
                                           are removed)
  smallfiles OUT --count N [--seed N]      N files of 0-4 KiB, ~1000 per directory
  verify     SRC DST                       compare two trees (names, types, sizes,
                                           sha256 of contents, symlink targets)
  warm       DIR                           read every file once (page cache warm-up)
  size       DIR                           print {"bytes": .., "files": ..} as JSON

Everything generated is a function of the seed (and, for the copied system
files, of what is installed on this machine), so runs are comparable.
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import stat
import sys
import time

MiB = 1 << 20
VERSION = 3  # bump when the generated content changes (invalidates cached datasets)

# Where "real" files come from, in order, with the share of the system budget
# each gets (what a source cannot fill spills over to the next one).
SYSTEM_SOURCES = [
    ("python", ["/usr/lib/python3.*", "/usr/lib/python3", "/usr/local/lib/python3.*"], 0.25),
    ("include", ["/usr/include"], 0.25),
    ("share", ["/usr/share"], 0.50),
]
# Skipped: not standard Debian content (environment-specific lists).
SKIP_DIRS = {"/usr/share/package-lists"}
SYSTEM_MAX_FILE = 32 * MiB

# Shares of the total budget.
SHARE_SYSTEM = 0.35
SHARE_RANDOM = 0.25
SHARE_LOGS = 0.20
SHARE_HALF = 0.20

WORDS = (
    "request response client server session token user cache miss hit backend "
    "frontend worker queue job task retry timeout connection closed opened "
    "accepted rejected upstream downstream database query index table row "
    "commit rollback lock acquired released snapshot backup restore volume pod "
    "node namespace deployment replica container image pull push registry "
    "health check ready live probe failed succeeded scheduled evicted oom "
    "kubelet apiserver etcd controller reconcile watch event status update "
    "created deleted patched bytes sent received latency p99 gc pause heap"
).split()
LEVELS = ["INFO"] * 14 + ["DEBUG"] * 4 + ["WARN"] * 2 + ["ERROR"]
COMPONENTS = ["api", "auth", "db", "sched", "store", "net", "web", "cron", "gc", "sync"]
SERVICES = ["gateway", "billing", "catalog", "search", "orders", "users", "mailer", "ingest"]


def parse_size(s):
    s = str(s).strip()
    mult = 1
    suffixes = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    if s and s[-1].upper() in suffixes:
        mult = suffixes[s[-1].upper()]
        s = s[:-1]
    return int(float(s) * mult)


# ---------------------------------------------------------------- generators

class LogGen:
    """Log-like text: timestamped lines, a small vocabulary, ids and numbers."""

    def __init__(self, rng, start_ts=1_700_000_000.0):
        self.rng = rng
        self.ts = start_ts

    def lines(self, nbytes):
        """Return str of about nbytes (whole lines, at least one)."""
        rng = self.rng
        out = []
        n = 0
        choices = rng.choices
        rnd = rng.random
        randint = rng.randint
        while n < nbytes:
            self.ts += rnd() * 0.05
            t = time.gmtime(self.ts)
            ms = int((self.ts % 1) * 1000)
            msg = " ".join(choices(WORDS, k=randint(3, 12)))
            line = "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s [%s] %s req=%08x dur=%dms status=%d\n" % (
                t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ms,
                choices(LEVELS)[0], choices(COMPONENTS)[0], msg,
                rng.getrandbits(32), randint(0, 5000), choices((200, 200, 200, 201, 204, 304, 400, 404, 500))[0])
            out.append(line)
            n += len(line)
        return "".join(out)

    def bytes(self, nbytes):
        return self.lines(nbytes).encode()[:nbytes] if nbytes > 0 else b""


def write_random(path, size, rng):
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, 4 * MiB)
            f.write(rng.randbytes(n))
            left -= n


def write_log(path, size, rng):
    g = LogGen(rng, 1_700_000_000.0 + rng.random() * 1e7)
    with open(path, "w") as f:
        left = size
        while left > 0:
            s = g.lines(min(left, MiB))
            f.write(s)
            left -= len(s)


def write_half(path, size, rng, block):
    """Alternating random and compressible (log text) blocks of `block` bytes."""
    g = LogGen(rng)
    with open(path, "wb") as f:
        left = size
        i = 0
        while left > 0:
            n = min(left, block)
            if i % 2 == 0:
                f.write(rng.randbytes(n))
            else:
                f.write(g.bytes(n))
            left -= n
            i += 1


def split_sizes(rng, total, lo, hi):
    """Split total into sizes in [lo, hi] (the last may be smaller)."""
    sizes = []
    left = total
    while left > 0:
        s = min(left, rng.randint(lo, hi))
        sizes.append(s)
        left -= s
    return sizes


# --------------------------------------------------------------------- build

def expand_sources(patterns):
    import glob
    out = []
    for p in patterns:
        for d in sorted(glob.glob(p)):
            if os.path.isdir(d) and not os.path.islink(d) and d not in out:
                out.append(d)
    return out


def copy_system(out, budget):
    """Copy regular files from the system sources, sorted walk, until each
    source's budget is reached. Returns (bytes, files)."""
    total_b = total_f = 0
    carry = 0
    for name, patterns, share in SYSTEM_SOURCES:
        src_budget = int(budget * share) + carry
        used = 0
        for root in expand_sources(patterns):
            if used >= src_budget:
                break
            # keep the source's path below sys/<name>/ so trees do not collide
            base = os.path.join(out, "sys", name, root.strip("/").replace("/", "_"))
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames[:] = sorted(d for d in dirnames
                                     if os.path.join(dirpath, d) not in SKIP_DIRS)
                if used >= src_budget:
                    dirnames[:] = []
                    break
                rel = os.path.relpath(dirpath, root)
                for fn in sorted(filenames):
                    sp = os.path.join(dirpath, fn)
                    try:
                        st = os.lstat(sp)
                    except OSError:
                        continue
                    if not stat.S_ISREG(st.st_mode) or st.st_size > SYSTEM_MAX_FILE:
                        continue
                    if used + st.st_size > src_budget:
                        continue
                    dp = os.path.normpath(os.path.join(base, rel, fn))
                    try:
                        with open(sp, "rb") as fi:
                            data = fi.read()
                    except OSError:
                        continue
                    os.makedirs(os.path.dirname(dp), exist_ok=True)
                    with open(dp, "wb") as fo:
                        fo.write(data)
                    os.chmod(dp, (st.st_mode & 0o755) | 0o644)
                    os.utime(dp, ns=(st.st_mtime_ns, st.st_mtime_ns))
                    used += len(data)
                    total_f += 1
        total_b += used
        carry = max(0, src_budget - used)
    return total_b, total_f


def cmd_build(a):
    size = parse_size(a.size)
    seed = a.seed
    out = a.out
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    summary = {}

    b, f = copy_system(out, int(size * SHARE_SYSTEM))
    summary["system"] = {"bytes": b, "files": f}
    # Whatever the system could not supply goes to the generated categories.
    gen_budget = size - b
    gshare = SHARE_RANDOM + SHARE_LOGS + SHARE_HALF

    # large random files (incompressible)
    rng = random.Random(seed * 1000 + 1)
    d = os.path.join(out, "random")
    os.makedirs(d)
    total = int(gen_budget * SHARE_RANDOM / gshare)
    sizes = split_sizes(rng, total, max(1, min(8 * MiB, total // 4)), max(1, min(96 * MiB, total // 2)))
    for i, s in enumerate(sizes):
        write_random(os.path.join(d, "blob-%03d.bin" % i), s, rng)
    summary["random"] = {"bytes": total, "files": len(sizes)}

    # log-like files
    rng = random.Random(seed * 1000 + 2)
    total = int(gen_budget * SHARE_LOGS / gshare)
    sizes = split_sizes(rng, total, max(1, min(256 << 10, total // 8)), max(1, min(48 * MiB, total // 3)))
    for i, s in enumerate(sizes):
        svc = SERVICES[i % len(SERVICES)]
        d = os.path.join(out, "logs", svc)
        os.makedirs(d, exist_ok=True)
        write_log(os.path.join(d, "%s-2024-%02d-%02d.log" % (svc, 1 + (i // 28) % 12, 1 + i % 28)), s, rng)
    summary["logs"] = {"bytes": total, "files": len(sizes)}

    # half-and-half files: alternating random and compressible blocks; the block
    # size varies per file so some chunks are mixed and some are all one kind
    rng = random.Random(seed * 1000 + 3)
    d = os.path.join(out, "mixed")
    os.makedirs(d)
    total = gen_budget - summary["random"]["bytes"] - summary["logs"]["bytes"]
    sizes = split_sizes(rng, total, max(1, min(4 * MiB, total // 4)), max(1, min(64 * MiB, total // 2)))
    for i, s in enumerate(sizes):
        block = rng.choice([32 << 10, 256 << 10, MiB, 4 * MiB])
        write_half(os.path.join(d, "half-%03d-b%dk.dat" % (i, block >> 10)), s, rng, block)
    summary["mixed"] = {"bytes": total, "files": len(sizes)}

    summary["total"] = tree_size(out)
    print(json.dumps(summary))


# -------------------------------------------------------------------- mutate

def list_files(root):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in sorted(filenames):
            p = os.path.join(dirpath, fn)
            st = os.lstat(p)
            if stat.S_ISREG(st.st_mode):
                out.append((os.path.relpath(p, root), st.st_size))
    return out


def cmd_mutate(a):
    src, out = a.src, a.out
    if os.path.exists(out):
        shutil.rmtree(out)
    # hard-link farm of src; every change below writes a new file and renames
    # it into place, so src is never touched
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        rel = os.path.relpath(dirpath, src)
        od = os.path.normpath(os.path.join(out, rel))
        os.makedirs(od, exist_ok=True)
        for fn in filenames:
            os.link(os.path.join(dirpath, fn), os.path.join(od, fn))

    rng = random.Random(a.seed * 1000 + 7)
    files = list_files(out)
    total = sum(s for _, s in files)
    budget = int(total * a.fraction)
    st = {"dataset_bytes": total, "budget_bytes": budget, "modified_files": 0, "modified_bytes": 0,
          "appended_files": 0, "appended_bytes": 0, "new_files": 0, "new_bytes": 0,
          "deleted_files": 0, "deleted_bytes": 0}

    def rewrite(rel, fn):
        p = os.path.join(out, rel)
        tmp = p + ".bench-tmp"
        shutil.copyfile(p, tmp)
        fn(tmp)
        os.rename(tmp, p)

    touched = set()
    big = [f for f in files if f[1] >= 256 << 10]
    small_text = [f for f in files if f[0].startswith("sys/") and 256 <= f[1] < 256 << 10]

    # 1. in-place edits at random offsets (size unchanged): ~40 % of the budget
    edit_budget = int(budget * 0.40)
    # a few tiny edits to small real files (like a config or source edit)
    for rel, size in rng.sample(small_text, min(len(small_text), 40)):
        off = rng.randrange(0, size - 64)
        n = rng.randint(8, 64)
        tag = rng.getrandbits(32)

        def ed(t, off=off, n=n, tag=tag):
            with open(t, "r+b") as f:
                f.seek(off)
                f.write((b"#bench-edit-%08x " % tag * 8)[:n])
        rewrite(rel, ed)
        touched.add(rel)
        st["modified_files"] += 1
        st["modified_bytes"] += n
        edit_budget -= n
    rng.shuffle(big)
    while edit_budget > 0 and big:
        rel, size = big.pop()
        edits = []
        for _ in range(rng.randint(1, 8)):
            n = min(rng.randint(4 << 10, 64 << 10), size)
            edits.append((rng.randrange(0, size - n + 1), n))
        seed = rng.getrandbits(64)

        def ed(t, edits=edits, seed=seed):
            r = random.Random(seed)
            with open(t, "r+b") as f:
                for off, n in edits:
                    f.seek(off)
                    f.write(r.randbytes(n))
        rewrite(rel, ed)
        touched.add(rel)
        done = sum(n for _, n in edits)
        st["modified_files"] += 1
        st["modified_bytes"] += done
        edit_budget -= done

    # 2. appends to log files (log growth): ~30 % of the budget
    logs = [f for f in files if f[0].startswith("logs/") and f[0] not in touched]
    rng.shuffle(logs)
    app_budget = int(budget * 0.30)
    per = max(1, app_budget // max(1, min(len(logs), 12)))
    for rel, size in logs[:12]:
        if app_budget <= 0:
            break
        n = min(per, app_budget)
        text = LogGen(rng, 1_800_000_000.0).bytes(n)

        def ap(t, text=text):
            with open(t, "ab") as f:
                f.write(text)
        rewrite(rel, ap)
        touched.add(rel)
        st["appended_files"] += 1
        st["appended_bytes"] += len(text)
        app_budget -= len(text)

    # 3. new files: ~30 % of the budget
    new_budget = budget - st["modified_bytes"] - st["appended_bytes"]
    nd = os.path.join(out, "new")
    os.makedirs(nd, exist_ok=True)
    parts = [("new/upload.bin", "random", 0.5), ("new/service-new.log", "log", 0.3),
             ("new/mixed-new.dat", "half", 0.2)]
    for rel, kind, share in parts:
        n = max(1, int(new_budget * share))
        p = os.path.join(out, rel)
        if kind == "random":
            write_random(p, n, rng)
        elif kind == "log":
            write_log(p, n, rng)
        else:
            write_half(p, n, rng, 64 << 10)
        st["new_files"] += 1
        st["new_bytes"] += os.path.getsize(p)
    for i in range(5):
        p = os.path.join(nd, "note-%d.txt" % i)
        with open(p, "wb") as f:
            f.write(LogGen(rng).bytes(rng.randint(100, 4000)))
        st["new_files"] += 1
        st["new_bytes"] += os.path.getsize(p)

    # 4. delete a few (real) files
    cand = [f for f in files if f[0] not in touched and f[0].startswith("sys/")]
    victims = rng.sample(cand, min(len(cand), 12))
    for rel, size in victims:
        os.unlink(os.path.join(out, rel))
        st["deleted_files"] += 1
        st["deleted_bytes"] += size

    changed = st["modified_bytes"] + st["appended_bytes"] + st["new_bytes"]
    st["changed_bytes"] = changed
    st["changed_fraction"] = round(changed / max(1, total), 5)
    st["total"] = tree_size(out)
    print(json.dumps(st))


# ---------------------------------------------------------------------- sync

def cmd_sync(a):
    """Like `rsync -a --delete SRC/ DST/` without --inplace: files whose size or
    mtime differ are written to a temp file next to the target and renamed."""
    src, dst = a.src, a.dst
    copied = deleted = 0
    for dirpath, dirnames, filenames in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        dd = os.path.normpath(os.path.join(dst, rel))
        os.makedirs(dd, exist_ok=True)
        for fn in filenames:
            sp, dp = os.path.join(dirpath, fn), os.path.join(dd, fn)
            ss = os.lstat(sp)
            try:
                ds = os.lstat(dp)
                if ds.st_size == ss.st_size and ds.st_mtime_ns == ss.st_mtime_ns:
                    continue
            except FileNotFoundError:
                pass
            tmp = os.path.join(dd, ".%s.bench-sync" % fn)
            shutil.copyfile(sp, tmp)
            shutil.copystat(sp, tmp)
            os.rename(tmp, dp)
            copied += 1
    for dirpath, dirnames, filenames in os.walk(dst, topdown=False):
        rel = os.path.relpath(dirpath, dst)
        sd = os.path.normpath(os.path.join(src, rel))
        for fn in filenames:
            if not os.path.lexists(os.path.join(sd, fn)):
                os.unlink(os.path.join(dirpath, fn))
                deleted += 1
        if not os.path.isdir(sd):
            os.rmdir(dirpath)
    print(json.dumps({"copied": copied, "deleted": deleted}))


# ---------------------------------------------------------------- smallfiles

def cmd_smallfiles(a):
    out, n = a.out, a.count
    if os.path.exists(out):
        shutil.rmtree(out)
    rng = random.Random(a.seed * 1000 + 11)
    per_dir = 1000
    total = 0
    text = LogGen(random.Random(a.seed)).bytes(1 << 20)
    for i in range(n):
        if i % per_dir == 0:
            d = os.path.join(out, "d%03d" % (i // per_dir // 100), "d%05d" % (i // per_dir))
            os.makedirs(d, exist_ok=True)
        size = rng.randint(0, 4096)
        if size == 0:
            data = b""
        elif rng.random() < 0.5:
            data = rng.randbytes(size)
        else:
            # text: unique header + a slice of a log pool (compressible)
            hdr = b"%d %x\n" % (i, rng.getrandbits(64))
            off = rng.randrange(0, len(text) - size)
            data = (hdr + text[off:off + size])[:size]
        with open(os.path.join(d, "f%07d" % i), "wb") as f:
            f.write(data)
        total += size
    print(json.dumps({"files": n, "bytes": total}))


# -------------------------------------------------------------------- verify

def file_digest(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        while True:
            b = f.read(4 * MiB)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def scan(root):
    ent = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            if stat.S_ISDIR(st.st_mode):
                ent[rel] = ("dir",)
            elif stat.S_ISLNK(st.st_mode):
                ent[rel] = ("link", os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                ent[rel] = ("file", st.st_size, p)
            else:
                ent[rel] = ("other",)
    return ent


def cmd_verify(a):
    s, d = scan(a.src), scan(a.dst)
    problems = []
    for rel in sorted(set(s) - set(d)):
        problems.append("missing in restore: " + rel)
    for rel in sorted(set(d) - set(s)):
        problems.append("extra in restore: " + rel)
    nfiles = nbytes = 0
    for rel in sorted(set(s) & set(d)):
        a_, b_ = s[rel], d[rel]
        if a_[0] != b_[0]:
            problems.append("type differs: " + rel)
        elif a_[0] == "link" and a_[1] != b_[1]:
            problems.append("link target differs: " + rel)
        elif a_[0] == "file":
            if a_[1] != b_[1]:
                problems.append("size differs: %s (%d vs %d)" % (rel, a_[1], b_[1]))
            elif file_digest(a_[2]) != file_digest(b_[2]):
                problems.append("content differs: " + rel)
            nfiles += 1
            nbytes += a_[1]
    res = {"ok": not problems, "files_compared": nfiles, "bytes_compared": nbytes,
           "problems": len(problems), "first_problems": problems[:20]}
    print(json.dumps(res))
    sys.exit(0 if not problems else 1)


# --------------------------------------------------------------- warm / size

def tree_size(root):
    b = f = 0
    for dirpath, dirnames, filenames in os.walk(root):
        for fn in filenames:
            st = os.lstat(os.path.join(dirpath, fn))
            if stat.S_ISREG(st.st_mode):
                b += st.st_size
                f += 1
    return {"bytes": b, "files": f}


def cmd_warm(a):
    n = 0
    buf = bytearray(4 * MiB)
    for dirpath, dirnames, filenames in os.walk(a.dir):
        for fn in filenames:
            p = os.path.join(dirpath, fn)
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb", buffering=0) as f:
                    while True:
                        k = f.readinto(buf)
                        if not k:
                            break
                        n += k
    print(json.dumps({"bytes_read": n}))


def cmd_size(a):
    print(json.dumps(tree_size(a.dir)))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("out")
    b.add_argument("--size", default="2G")
    b.add_argument("--seed", type=int, default=42)
    m = sub.add_parser("mutate")
    m.add_argument("src")
    m.add_argument("out")
    m.add_argument("--seed", type=int, default=42)
    m.add_argument("--fraction", type=float, default=0.01)
    s = sub.add_parser("sync")
    s.add_argument("src")
    s.add_argument("dst")
    sf = sub.add_parser("smallfiles")
    sf.add_argument("out")
    sf.add_argument("--count", type=int, default=1_000_000)
    sf.add_argument("--seed", type=int, default=42)
    v = sub.add_parser("verify")
    v.add_argument("src")
    v.add_argument("dst")
    w = sub.add_parser("warm")
    w.add_argument("dir")
    z = sub.add_parser("size")
    z.add_argument("dir")
    sub.add_parser("version")
    a = p.parse_args()
    if a.cmd == "version":
        print(VERSION)
        return
    {"build": cmd_build, "mutate": cmd_mutate, "sync": cmd_sync, "smallfiles": cmd_smallfiles,
     "verify": cmd_verify, "warm": cmd_warm, "size": cmd_size}[a.cmd](a)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Turn bench/run.sh's raw records into tables (stdout), JSON and Markdown.

usage: report.py META.json RESULTS.jsonl OUT.json OUT.md
"""
import json
import sys

MiB = 1 << 20

# step id, title, throughput target (stowage speed / restic speed), repo-size
# target applies
STEPS = [
    ("initial", "Initial backup", 3.0, True),
    ("nochange", "No-change backup", 5.0, True),
    ("mutation", "Backup after the ~1 % mutation", 3.0, True),
    ("restore", "Full restore of the latest snapshot", 2.0, False),
    ("small", "Small files: initial backup", None, False),
]
# Over S3 (run.sh --s3) the issue sets one throughput target: the initial
# backup >= 2x restic's on loopback.
S3_THROUGHPUT_TARGETS = {"initial": 2.0}
RSS_RATIO_TARGET = 0.5
REPO_RATIO_TARGET = 1.02
SMALL_RSS_MIB_TARGET = 200.0
BASELINE = "restic"


def fmt(v, spec, none="-"):
    return none if v is None else format(v, spec)


def build(meta, recs):
    by = {}
    verify = {}
    for r in recs:
        if r["step"] == "verify":
            verify[r["tool"]] = r
        else:
            by[(r["tool"], r["step"])] = r
    tools = [t for t in meta["options"]["tools"].split(",") if t]
    s3 = bool(meta["options"].get("s3"))
    steps = {}
    for sid, title, thr_target, repo_target in STEPS:
        if s3:
            thr_target = S3_THROUGHPUT_TARGETS.get(sid)
        base = by.get((BASELINE, sid))
        if base and base["status"] == "error":
            base = None
        rows = []
        for t in tools:
            r = by.get((t, sid))
            if r is None:
                continue
            row = {"tool": t, "status": r["status"], "rc": r["rc"], "wall_s": r["wall_s"],
                   "cpu_s": r.get("cpu_s"), "other_cpu_pct": r.get("other_cpu_pct"),
                   "max_rss_mib": round(r["max_rss_kib"] / 1024, 1),
                   "repo_mib": round(r["repo_bytes"] / MiB, 1),
                   "cache_mib": round(r.get("cache_bytes", 0) / MiB, 1),
                   "dataset_bytes": r["dataset_bytes"], "dataset_files": r["dataset_files"],
                   "log": r["log"]}
            if "s3rver_cpu_s" in r:
                row["s3rver_cpu_s"] = r["s3rver_cpu_s"]
                row["s3rver_cpu_pct"] = r.get("s3rver_cpu_pct")
                row["s3rver_hwm_mib"] = round(r.get("s3rver_hwm_kib", 0) / 1024, 1)
                row["s3_requests"] = r.get("s3_requests")
                row["s3_ranged_gets"] = r.get("s3_ranged_gets")
            ok = r["status"] != "error"
            wall = max(r["wall_s"], 0.01)
            row["mb_s"] = round(r["dataset_bytes"] / 1e6 / wall, 1) if ok else None
            row["files_s"] = round(r["dataset_files"] / wall, 0) if ok else None
            row["speed_vs_restic"] = row["rss_vs_restic"] = row["repo_vs_restic"] = None
            row["cpu_vs_restic"] = None
            if ok and base and t != BASELINE:
                row["speed_vs_restic"] = round(max(base["wall_s"], 0.01) / wall, 2)
                if r.get("cpu_s") is not None and base.get("cpu_s"):
                    row["cpu_vs_restic"] = round(r["cpu_s"] / max(0.01, base["cpu_s"]), 2)
                row["rss_vs_restic"] = round(r["max_rss_kib"] / max(1, base["max_rss_kib"]), 2)
                if sid != "restore":
                    row["repo_vs_restic"] = round(r["repo_bytes"] / max(1, base["repo_bytes"]), 3)
            if sid == "restore" and t in verify:
                row["verified"] = bool(verify[t].get("ok"))
                row["verify"] = verify[t]
            if t == "stowage":
                tg = {}
                if sid == "small":
                    tg["peak RSS < %g MiB" % SMALL_RSS_MIB_TARGET] = {
                        "value": row["max_rss_mib"] if ok else None,
                        "met": ok and row["max_rss_mib"] < SMALL_RSS_MIB_TARGET}
                else:
                    if thr_target is not None:
                        tg["speed >= %gx restic" % thr_target] = {
                            "value": row["speed_vs_restic"],
                            "met": None if row["speed_vs_restic"] is None else row["speed_vs_restic"] >= thr_target}
                    tg["peak RSS <= %gx restic" % RSS_RATIO_TARGET] = {
                        "value": row["rss_vs_restic"],
                        "met": None if row["rss_vs_restic"] is None else row["rss_vs_restic"] <= RSS_RATIO_TARGET}
                    if repo_target:
                        tg["repo size <= %gx restic" % REPO_RATIO_TARGET] = {
                            "value": row["repo_vs_restic"],
                            "met": None if row["repo_vs_restic"] is None else row["repo_vs_restic"] <= REPO_RATIO_TARGET}
                    if sid == "restore" and "verified" in row:
                        tg["restore verified"] = {"value": row["verified"], "met": row["verified"]}
                row["targets"] = tg
            rows.append(row)
        if rows:
            steps[sid] = {"title": title, "rows": rows}
    return steps


def target_text(row):
    tg = row.get("targets")
    if not tg:
        return ""
    parts = []
    for name, v in tg.items():
        mark = "n/a" if v["met"] is None else ("met" if v["met"] else "MISSED")
        parts.append("%s: %s" % (name, mark))
    return "; ".join(parts)


def table_rows(sid, step):
    small = sid == "small"
    s3 = any("s3rver_cpu_s" in r for r in step["rows"])
    head = ["tool", "wall s", "MB/s"] + (["files/s"] if small else []) + \
        ["CPU s", "peak RSS MiB", "repo MiB", "speed x restic", "CPU x restic", "RSS x restic",
         "repo x restic", "other CPU %"] + \
        (["s3rver CPU s", "s3rver CPU %", "S3 requests"] if s3 else []) + \
        (["verified"] if sid == "restore" else []) + ["targets (stowage)"]
    out = []
    for r in step["rows"]:
        if r["status"] == "error":
            cells = [r["tool"], "FAILED rc=%d" % r["rc"], "-"] + (["-"] if small else []) + \
                ["-"] * (11 if s3 else 8) + (["-"] if sid == "restore" else []) + \
                ["see %s" % r["log"]]
            out.append(cells)
            continue
        star = "*" if r["status"] == "warning" else ""
        cells = [r["tool"] + star, fmt(r["wall_s"], ".2f"), fmt(r["mb_s"], ".1f")]
        if small:
            cells.append(fmt(r["files_s"], ".0f"))
        cells += [fmt(r["cpu_s"], ".2f"), fmt(r["max_rss_mib"], ".1f"), fmt(r["repo_mib"], ".1f"),
                  fmt(r["speed_vs_restic"], ".2f"), fmt(r["cpu_vs_restic"], ".2f"),
                  fmt(r["rss_vs_restic"], ".2f"), fmt(r["repo_vs_restic"], ".3f"),
                  fmt(r["other_cpu_pct"], ".0f")]
        if s3:
            cells += [fmt(r.get("s3rver_cpu_s"), ".2f"), fmt(r.get("s3rver_cpu_pct"), ".0f"),
                      fmt(r.get("s3_requests"), "d")]
        if sid == "restore":
            cells.append({True: "ok", False: "FAILED"}.get(r.get("verified"), "-"))
        cells.append(target_text(r))
        out.append(cells)
    return head, out


def text_table(head, rows):
    w = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w[i]) if i == 0 or i == len(cells) - 1
                                   else str(c).rjust(w[i]) for i, c in enumerate(cells)).rstrip()
    return "\n".join([line(head), line(["-" * x for x in w])] + [line(r) for r in rows])


def md_table(head, rows):
    out = ["| " + " | ".join(head) + " |",
           "| " + " | ".join("---" if i == 0 or i == len(head) - 1 else "---:" for i in range(len(head))) + " |"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def step_caption(sid, step, meta):
    r = step["rows"][0]
    if sid == "small":
        return "%d files, %.1f MiB" % (r["dataset_files"], r["dataset_bytes"] / MiB)
    return "%.1f MiB in %d files" % (r["dataset_bytes"] / MiB, r["dataset_files"])


def main():
    meta_f, raw_f, out_json, out_md = sys.argv[1:5]
    meta = json.load(open(meta_f))
    recs = [json.loads(l) for l in open(raw_f) if l.strip()]
    steps = build(meta, recs)

    ds = meta["dataset"]
    s3 = bool(meta["options"].get("s3"))
    mut = ds.get("generation", {}).get("mutation", {})
    header = [
        "stowage benchmark, %s, %d CPUs (%s), %.1f GiB RAM, kernel %s; other processes used %s %% of the CPUs "
        "just before the run" % (
            meta["date"], meta["host"]["nproc"], meta["host"].get("cpu", "?"), meta["host"]["mem_kib"] / 2**20,
            meta["host"]["kernel"], meta["host"].get("busy_pct_before_run", "?")),
        "dataset: %.1f MiB in %d files (seed %s); mutation: %.2f %% of bytes changed "
        "(%d files edited, %d appended, %d new, %d deleted)" % (
            ds["bytes"] / MiB, ds["files"], meta["options"]["seed"], 100 * mut.get("changed_fraction", 0),
            mut.get("modified_files", 0), mut.get("appended_files", 0), mut.get("new_files", 0),
            mut.get("deleted_files", 0)),
        "versions: " + "; ".join("%s: %s" % kv for kv in meta["versions"].items()),
        "settings: " + "; ".join("%s: %s" % kv for kv in meta["settings"].items()
                                 if kv[0] in meta["versions"]),
    ]
    if s3:
        header.insert(0, "repositories on S3: %s; %s" % (meta["s3"]["server"], meta["s3"]["buckets"]))
    notes = [
        "MB/s = dataset bytes (10^6) / wall seconds, also for the no-change and after-mutation backups "
        "(dataset scanned per second). 'speed x restic' = restic wall / tool wall (= throughput ratio); "
        "'RSS x restic' and 'repo x restic' = tool / restic. Repo size is `du -sb` of the repository (S3: see below) after "
        "the step. CPU s = user + system time of the tool; 'CPU x restic' = tool CPU / restic CPU (less "
        "sensitive to a busy machine than wall time). 'other CPU %' = CPU time other processes used during "
        "the step, in % of all CPUs over the step's wall time (includes kernel writeback of the tool's own "
        "writes; more than ~10 % means the wall times are disturbed). '*' = finished with a warning exit code.",
        "Targets (stowage vs restic): initial >= 3x, no-change >= 5x, after-mutation >= 3x, restore >= 2x "
        "throughput; peak RSS <= 0.5x; repo size <= 1.02x; small files peak RSS < 200 MiB." if not s3 else
        "Targets (stowage vs restic) over S3 on loopback: initial backup >= 2x throughput (the only S3 "
        "throughput target); peak RSS <= 0.5x; repo size <= 1.02x; small files peak RSS < 200 MiB.",
    ]
    if s3:
        notes.append(
            "S3 run: repo size = the sum of s3rver's object files (not its metadata/MD5 side files). "
            "'s3rver CPU s' = user + system time of the s3rver (Node.js) process during the step, "
            "'s3rver CPU %' the same in % of all CPUs over the step's wall time; it is not in the tool's "
            "CPU s, and not in 'other CPU %'. 'S3 requests' = requests s3rver answered during the step "
            "(from its log; results.json also has how many were ranged GETs). Peak RSS is the tool's only.")

    print()
    print("\n".join(header))
    md = ["# stowage benchmark results", ""] + ["- " + h for h in header] + [""]
    for sid, title, _, _ in STEPS:
        if sid not in steps:
            continue
        step = steps[sid]
        head, rows = table_rows(sid, step)
        cap = "%s (%s)" % (title, step_caption(sid, step, meta))
        print("\n" + cap)
        print(text_table(head, rows))
        md += ["## " + cap, "", md_table(head, rows), ""]
    noisy = [(sid, r["tool"], r["other_cpu_pct"]) for sid, st in steps.items() for r in st["rows"]
             if (r.get("other_cpu_pct") or 0) > 10]
    if noisy:
        w = ("WARNING: the machine was busy during %d of the measured steps (other processes > 10 %% of the "
             "CPUs, up to %.0f %%); wall-time ratios are unreliable, compare CPU s as well." %
             (len(noisy), max(n[2] for n in noisy)))
        print("\n" + w)
        md += ["**" + w + "**", ""]
    verify_fail = [r for s in steps.values() for r in s["rows"] if r.get("verified") is False]
    for r in verify_fail:
        print("\nVERIFY FAILED for %s: %s" % (r["tool"], r["verify"].get("first_problems")))
        md += ["**Restore verification FAILED for %s**: %s" % (r["tool"], r["verify"].get("first_problems")), ""]
    print()
    for n in notes:
        print(n)
    md += ["Notes:", ""] + ["- " + n for n in notes] + [""]

    json.dump({"meta": meta, "steps": steps, "records": recs}, open(out_json, "w"), indent=1)
    open(out_md, "w").write("\n".join(md))


if __name__ == "__main__":
    main()

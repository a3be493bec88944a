#!/usr/bin/env python3
"""Summarises one or more NAB result folders (one per seed) with the NAB dev subset's own scorer.

    scripts/nab-summary.py NAB_DIR RESULTS [RESULTS ...] [--files] [--causes] [--json] [--at THRESHOLD]

For each folder, and as the mean over the folders: the three profiles (threshold swept over all files), the
cross-validated scores (each category at the threshold the other categories choose), false-positive
detections at the standard threshold, and per category the standard score at the category's own swept
threshold (as NAB_DIR/README.md quotes HTM's), the category's share of the cross-validated standard score
(normalised over the category's windows) and its false positives. HTM's figures are read from
NAB_DIR/README.md and printed beside. `--files` adds per-file false positives and missed windows (mean over
the folders) at the standard threshold. `--at T` adds each profile's score and false positives at the fixed
threshold T (e.g. the daemon's default episode threshold) instead of the swept one. `--causes` adds, by the
`cause` column `omen replay` writes (the evidence behind each scored point), the windows hit (a window's first
detection) and the false-positive detections at the standard threshold and at T (skipped, with a note, when a
folder's files have no such column: results of an older build).
"""

import collections
import csv
import importlib.util
import json
import os
import re
import sys

PROFILES = ["standard", "reward_low_FP_rate", "reward_low_FN_rate"]
SHORT = {"standard": "std", "reward_low_FP_rate": "lowFP", "reward_low_FN_rate": "lowFN"}


def load_scorer(nab_dir):
    spec = importlib.util.spec_from_file_location("nab_score", os.path.join(nab_dir, "score.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def htm_reference(nab_dir):
    """HTM's whole-set and per-category figures from the README (empty when absent)."""
    ref = {"overall": None, "categories": {}}
    try:
        text = open(os.path.join(nab_dir, "README.md")).read()
    except OSError:
        return ref
    m = re.search(r"\|\s*Numenta HTM[^|]*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)", text)
    if m:
        ref["overall"] = [float(x) for x in m.groups()]
    m = re.search(r"Numenta HTM per category[^:]*:(.*?)(?:\n\n|$)", text, re.S)
    if m:
        for cat, val in re.findall(r"(\w+)\s+(\d+(?:\.\d+)?)", m.group(1)):
            ref["categories"][cat] = float(val)
    return ref


def build_cases(sc, nab_dir, results, windows, times_cache):
    cases = []
    for key in sorted(windows):
        path = sc.find_result_file(results, key, None)
        if path is None:
            sys.exit("%s: no result for %s" % (results, key))
        _, scores = sc.read_result(path)
        if key not in times_cache:
            times_cache[key] = sc.read_data_timestamps(os.path.join(nab_dir, "data", key))
        times = times_cache[key]
        if len(scores) != len(times):
            sys.exit("%s: %d rows, data has %d" % (path, len(scores), len(times)))
        cases.append(sc.FileCase(key, times, windows[key], scores))
    return cases


def read_causes(sc, results, key):
    """The `cause` column of a result file (empty strings where a row scored 0), or None without one."""
    with open(sc.find_result_file(results, key, None), newline="") as f:
        rows = csv.DictReader(f)
        if "cause" not in (rows.fieldnames or []):
            return None
        return [r["cause"] for r in rows]


def by_cause(cases, causes, thr):
    """Windows hit and false-positive detections at `thr`, by the cause of the detection that counts: a window's
    first detection after the probationary rows (the one NAB credits), every detection outside windows."""
    hits, fps = collections.Counter(), collections.Counter()
    for c, cs in zip(cases, causes):
        seen = set()
        for i in range(c.probation, c.n):
            if c.scores[i] < thr:
                continue
            cause = cs[i] or "?"
            if c.kind[i] < 0:
                fps[cause] += 1
            elif c.kind[i] not in seen:
                seen.add(c.kind[i])
                hits[cause] += 1
    return hits, fps


def normalised(raw, nwin, prof):
    null, perfect = -prof["fn"] * nwin, prof["tp"] * nwin
    return 100.0 * (raw - null) / (perfect - null) if perfect != null else float("nan")


def sweep_threshold(sc, cases, prof):
    ev = sorted((e for c in cases for e in c.events()), key=lambda e: -e[0])
    return sc.sweep(ev, sum(c.nwin for c in cases), prof)[1]


def summarise(sc, cases, at=None):
    profs = sc.DEFAULT_PROFILES
    cat_of = lambda c: c.key.split("/", 1)[0]
    cats = sorted({cat_of(c) for c in cases})
    nwin = sum(c.nwin for c in cases)
    out = {"plain": {}, "cv": {}, "categories": {}, "files": {}}
    for p in PROFILES:
        thr = sweep_threshold(sc, cases, profs[p])
        rs = [c.score(thr, profs[p]) for c in cases]
        out["plain"][p] = normalised(sum(r["raw"] for r in rs), nwin, profs[p])
        if p == "standard":
            out["threshold"] = thr
            out["tp"] = sum(r["tp_windows"] for r in rs)
            out["fp"] = sum(r["fp_detections"] for r in rs)
            for c, r in zip(cases, rs):
                out["files"][c.key] = {"fp": r["fp_detections"], "fn": r["fn_windows"]}
        raw = 0.0
        for cat in cats:
            inside = [c for c in cases if cat_of(c) == cat]
            rest = [c for c in cases if cat_of(c) != cat]
            t = sweep_threshold(sc, rest, profs[p])
            craw = sum(c.score(t, profs[p])["raw"] for c in inside)
            raw += craw
            if p == "standard":
                cw = sum(c.nwin for c in inside)
                own = sweep_threshold(sc, inside, profs[p]) if cw else None
                d = out["categories"].setdefault(cat, {})
                d["own"] = (normalised(sum(c.score(own, profs[p])["raw"] for c in inside), cw, profs[p])
                            if cw else float("nan"))
                d["cv"] = normalised(craw, cw, profs[p]) if cw else float("nan")
                d["cv_fp"] = sum(c.score(t, profs[p])["fp_detections"] for c in inside)
                d["fp"] = sum(out["files"][c.key]["fp"] for c in inside)
        out["cv"][p] = normalised(raw, nwin, profs[p])
        if at is not None:
            rs = [c.score(at, profs[p]) for c in cases]
            out.setdefault("at", {})[p] = normalised(sum(r["raw"] for r in rs), nwin, profs[p])
            if p == "standard":
                out["at_fp"] = sum(r["fp_detections"] for r in rs)
                out["at_tp"] = sum(r["tp_windows"] for r in rs)
    return out


def mean(xs):
    return sum(xs) / len(xs)


def main(argv):
    show_files = "--files" in argv
    show_causes = "--causes" in argv
    as_json = "--json" in argv
    at = None
    if "--at" in argv:
        i = argv.index("--at")
        at = float(argv[i + 1])
        argv = argv[:i] + argv[i + 2:]
    args = [a for a in argv if not a.startswith("--")]
    if len(args) < 2:
        sys.exit(__doc__)
    nab_dir, folders = args[0], args[1:]
    sc = load_scorer(nab_dir)
    sc.warn = lambda msg: None
    windows = json.load(open(os.path.join(nab_dir, "labels.json")))
    times_cache = {}
    runs = []
    for f in folders:
        cases = build_cases(sc, nab_dir, f, windows, times_cache)
        runs.append(summarise(sc, cases, at))
        if show_causes:
            causes = [read_causes(sc, f, c.key) for c in cases]
            if any(x is None for x in causes):
                print("%s: no cause column (results of a build before omen replay wrote one); no table by "
                      "cause" % f, file=sys.stderr)
                show_causes = False
                continue
            runs[-1]["causes"] = {label: by_cause(cases, causes, t) for label, t in
                                  [("standard", runs[-1]["threshold"])] + ([("at", at)] if at is not None else [])}
    if as_json:
        print(json.dumps(runs, indent=1))
        return 0
    ref = htm_reference(nab_dir)

    print("%-28s %7s %7s %7s %7s %5s %5s %8s" % ("run", "std", "lowFP", "lowFN", "cv-std", "TP", "FP", "thr"))
    for f, r in zip(folders, runs):
        print("%-28s %7.2f %7.2f %7.2f %7.2f %5d %5d %8.4f" % (
            os.path.basename(os.path.normpath(f))[:28], *[r["plain"][p] for p in PROFILES], r["cv"]["standard"],
            r["tp"], r["fp"], r["threshold"]))
    if len(runs) > 1:
        print("%-28s %7.2f %7.2f %7.2f %7.2f %5.1f %5.1f" % (
            "mean of %d" % len(runs), *[mean([r["plain"][p] for r in runs]) for p in PROFILES],
            mean([r["cv"]["standard"] for r in runs]), mean([r["tp"] for r in runs]),
            mean([r["fp"] for r in runs])))
    print("cross-validated, mean: " + "  ".join(
        "%s %.2f" % (SHORT[p], mean([r["cv"][p] for r in runs])) for p in PROFILES))
    if at is not None:
        print("at threshold %g, mean: %s  TP %.1f  FP %.1f" % (at, "  ".join(
            "%s %.2f" % (SHORT[p], mean([r["at"][p] for r in runs])) for p in PROFILES),
            mean([r["at_tp"] for r in runs]), mean([r["at_fp"] for r in runs])))
    if ref["overall"]:
        h = ref["overall"]
        print("%-28s %7.2f %7.2f %7.2f %7.2f %5s %5s" % ("Numenta HTM (README)", *h, "", "106"))
    print()
    print("per category (standard; mean of %d): own = threshold swept on the category, cv = at the threshold the "
          "others choose, FP at the whole-set threshold" % len(runs))
    print("%-24s %7s %7s %7s %6s %6s" % ("category", "own", "HTM", "cv", "FP", "cv-FP"))
    for cat in sorted(runs[0]["categories"]):
        ds = [r["categories"][cat] for r in runs]
        htm = ref["categories"].get(cat)
        print("%-24s %7.2f %7s %7.2f %6.1f %6.1f" % (
            cat, mean([d["own"] for d in ds]), "%.1f" % htm if htm is not None else "-",
            mean([d["cv"] for d in ds]), mean([d["fp"] for d in ds]), mean([d["cv_fp"] for d in ds])))
    if show_causes:
        names = sorted({k for r in runs for h, fp in r["causes"].values() for k in list(h) + list(fp)},
                       key=lambda k: -sum(r["causes"]["standard"][1][k] for r in runs))
        print()
        print("by cause (mean of %d): windows hit / false positives" % len(runs))
        print("%-18s" % "threshold" + "".join("%14s" % n for n in names) + "%14s" % "all")
        for label in runs[0]["causes"]:
            name = "standard (swept)" if label == "standard" else "%g" % at
            cells = ["%5.1f / %5.1f" % (mean([r["causes"][label][0][n] for r in runs]),
                                        mean([r["causes"][label][1][n] for r in runs])) for n in names]
            total = "%5.1f / %5.1f" % (mean([sum(r["causes"][label][0].values()) for r in runs]),
                                       mean([sum(r["causes"][label][1].values()) for r in runs]))
            print("%-18s" % name + "".join("%14s" % c for c in cells) + "%14s" % total)
    if show_files:
        print()
        print("per file at the standard threshold (mean of %d): FP detections, missed windows" % len(runs))
        keys = sorted(runs[0]["files"], key=lambda k: -mean([r["files"][k]["fp"] for r in runs]))
        for k in keys:
            print("%-60s %6.1f %5.1f" % (k, mean([r["files"][k]["fp"] for r in runs]),
                                         mean([r["files"][k]["fn"] for r in runs])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""Where a detector stands at a false-positive budget: each result folder scored at the fixed threshold that gives
the best standard score with at most BUDGET false-positive detections (the issue's "no more than HTM's 106").

    scripts/nab-frontier.py 106 nab-results-42 nab-results-1 nab-results-2

Exact and in-process: NAB's scorer (`score.py`, loaded as a module) turns each file into its events (a false
positive, a window first detected, a window's credit improved), and one walk down the distinct scores finds the
threshold with the best standard score among those within the budget, as `score.py DIR --threshold T` would score
it. Prints, per folder, that threshold, the standard and reward-low-FP scores there, windows hit and false
positives, then their means. About a second a folder. NAB_DIR (default ../shared/nab) holds score.py, data/ and
labels.json.

(Until session 16 this bisected on the threshold and scanned upward by ×1.08 steps with a run of `score.py` each,
about a minute a folder; the exact walk scores the same or up to a few tenths higher where a step skipped the best
threshold.)
"""
import importlib.util
import json
import os
import statistics
import sys


def summary_module():
    """scripts/nab-summary.py, whose scorer loading, per-file cases and normalisation this shares."""
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location("nab_summary", os.path.join(here, "nab-summary.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


SUMMARY = summary_module()


def frontier(sc, cases, budget):
    """(threshold, standard, reward-low-FP, windows, false positives) at the best threshold within the budget."""
    prof = sc.DEFAULT_PROFILES["standard"]
    nwin = sum(c.nwin for c in cases)
    events = sorted((e for c in cases for e in c.events()), key=lambda e: -e[0])
    raw, fp, best = -prof["fn"] * nwin, 0, None
    i = 0
    while i < len(events):
        s = events[i][0]
        while i < len(events) and events[i][0] == s:
            raw += sc.event_weight(events[i], prof)
            fp += events[i][1] == 0
            i += 1
        if fp > budget:
            break
        if best is None or raw > best[1] + 1e-12:
            best = (s, raw)
    if best is None:
        return None
    thr = best[0]
    profs = sc.DEFAULT_PROFILES
    at = [c.score(thr, profs["standard"]) for c in cases]
    low = sum(c.score(thr, profs["reward_low_FP_rate"])["raw"] for c in cases)
    return (thr, SUMMARY.normalised(sum(r["raw"] for r in at), nwin, profs["standard"]),
            SUMMARY.normalised(low, nwin, profs["reward_low_FP_rate"]),
            sum(r["tp_windows"] for r in at), sum(r["fp_detections"] for r in at))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    budget = float(sys.argv[1])
    nab_dir = os.environ.get("NAB_DIR", "../shared/nab")
    sc = SUMMARY.load_scorer(nab_dir)
    sc.warn = lambda msg: None
    windows = json.load(open(os.path.join(nab_dir, "labels.json")))
    times = {}
    rows = []
    for folder in sys.argv[2:]:
        r = frontier(sc, SUMMARY.build_cases(sc, nab_dir, folder, windows, times), budget)
        if r is None:
            sys.exit(f"{folder}: no threshold keeps {budget:g} false positives")
        rows.append(r)
        print(f"{folder}  threshold {r[0]:.4f}  std {r[1]:.2f}  lowFP {r[2]:.2f}  windows {r[3]}  FP {r[4]}",
              flush=True)
    means = [statistics.mean(r[i] for r in rows) for i in range(1, 5)]
    print("mean  std %.2f  lowFP %.2f  windows %.1f  FP %.1f" % tuple(means))


if __name__ == "__main__":
    main()

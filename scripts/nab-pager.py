#!/usr/bin/env python3
"""What a pager's threshold catches on NAB, and which evidence tells the labelled onsets from the false ones.

    scripts/nab-pager.py RESULTS [RESULTS ...] [--thresholds "0.4 0.3 0.25 0.2"] [--terms [--floor 0.03]]

For each fixed threshold: the windows hit and the false-positive detections (NAB's rules: after the probation,
a detection outside every window is a false positive), as means over the result folders (one per seed). NAB's
profiles sweep the threshold down to where a window is worth ~17 false positives (0.03-0.15 for Omen); an operator
pages at a fixed one, where these two numbers are what they live with.

`--terms` (folders of `omen replay --terms`) adds, over the candidate onsets (score at or above `--floor`, the
region the swept threshold reaches), each term's AUC for "first detection of a labelled window" against "false
positive": 0.5 means the term does not tell them apart among the points the onset rule has already picked.
`range_position` is 2 where the value was a new maximum or minimum of the series' remembered values, 1 at their
edge, 0 inside.

NAB_DIR (default ../shared/nab) holds data/, labels.json and score.py, whose window geometry this uses.
"""
import argparse
import csv
import importlib
import json
import os
import sys


def summary_module():
    """scripts/nab-summary.py (its name is no identifier, so it is imported by file name from this folder)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    return importlib.import_module("nab-summary")


def auc(pairs):
    """P(score of a positive > score of a negative), ties counted half."""
    pos = sorted(v for label, v in pairs if label)
    neg = sorted(v for label, v in pairs if not label)
    if not pos or not neg:
        return float("nan")
    wins, i, j = 0.0, 0, 0
    # For each positive, negatives strictly below and equal (two pointers over sorted lists).
    for v in pos:
        while i < len(neg) and neg[i] < v:
            i += 1
        j = max(j, i)
        while j < len(neg) and neg[j] <= v:
            j += 1
        wins += i + 0.5 * (j - i)
    return wins / (len(pos) * len(neg))


TERMS = ["s_value", "s_context", "s_residual", "s_head", "s_change", "surprise", "range_position"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folders", nargs="+")
    ap.add_argument("--thresholds", default="0.5 0.4 0.35 0.3 0.25 0.2 0.15 0.1")
    ap.add_argument("--terms", action="store_true", help="per-term AUC among the candidate onsets")
    ap.add_argument("--floor", type=float, default=0.03, help="candidate onsets: score at or above this")
    a = ap.parse_args()
    nab = os.environ.get("NAB_DIR", "../shared/nab")
    S = summary_module().load_scorer(nab)
    labels = json.load(open(os.path.join(nab, "labels.json")))
    thresholds = [float(t) for t in a.thresholds.split()]
    hits = {t: 0 for t in thresholds}
    fps = {t: 0 for t in thresholds}
    candidates = []  # (is first detection of a window, row)
    for folder in a.folders:
        for key, windows in sorted(labels.items()):
            path = os.path.join(folder, key)
            with open(path, newline="") as fh:
                rows = list(csv.DictReader(fh))
            scores = [float(r["anomaly_score"]) for r in rows]
            times = S.read_data_timestamps(os.path.join(nab, "data", key))
            case = S.FileCase(key, times, windows, scores)
            for t in thresholds:
                hit = set()
                for i in range(case.probation, case.n):
                    if scores[i] >= t:
                        if case.kind[i] < 0:
                            fps[t] += 1
                        else:
                            hit.add(case.kind[i])
                hits[t] += len(hit)
            if a.terms:
                if "s_value" not in rows[0]:
                    sys.exit(f"{path}: no term columns; replay with --terms")
                seen = set()
                for i in range(case.probation, case.n):
                    if scores[i] < a.floor:
                        continue
                    k = case.kind[i]
                    if k >= 0:
                        if k in seen:
                            continue
                        seen.add(k)
                    candidates.append((k >= 0, rows[i]))
    n = len(a.folders)
    print("threshold  windows hit  false positives   (means over %d folder%s; %d windows)"
          % (n, "" if n == 1 else "s", sum(len(w) for w in labels.values())))
    for t in thresholds:
        print(f"{t:9.3g}  {hits[t] / n:11.1f}  {fps[t] / n:15.1f}")
    if a.terms:
        positives = sum(1 for label, _ in candidates if label)
        print(f"\ncandidate onsets (score >= {a.floor}): {len(candidates)}, of them first detections of a window: "
              f"{positives}")
        print("AUC among them (first detection of a window against false positive):")
        for term in ["anomaly_score"] + TERMS:
            pairs = []
            for label, r in candidates:
                x = r.get(term, "")
                pairs.append((label, float(x) if x not in ("", None) else 0.0))
            print(f"  {term:22s} {auc(pairs):.3f}")


if __name__ == "__main__":
    main()

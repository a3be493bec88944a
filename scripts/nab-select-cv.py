#!/usr/bin/env python3
"""Does choosing a knob's value on NAB carry over? Leave-one-category-out selection of the value and the threshold.

    scripts/nab-select-cv.py NAME=RESULTS[,RESULTS...] NAME=RESULTS[,RESULTS...] ... [--profile standard]

Each argument is one candidate value of a knob (NAME, e.g. `w200`) with its result folders, one per seed
(`omen replay` output, or `scripts/nab-terms.py`'s rescored folders). The cross-validated score of
`scripts/nab-summary.py` holds each category out of the *threshold* choice only; a knob chosen on all 40 files
still saw every category. Here each category is held out of both choices:

  1. for each candidate, the other categories choose their threshold (NAB's sweep) and are scored at it;
  2. the candidate whose other-category score is best (mean over seeds) is the one the held-out category gets;
  3. the held-out category is scored at that candidate's results and at the threshold the others chose.

The held-out scores, summed over categories and normalised as NAB does, are the "selected" score: what a user
would get on a category nobody tuned on, if the knob had been tuned the way we tune it. It is printed beside
each candidate's own cross-validated score (threshold held out, knob fixed). A selected score close to the best
candidate's means the choice carries over; a selected score below every candidate's but the chosen one's means
the choice chases categories.

NAB_DIR (default ../shared/nab) holds data/, labels.json and score.py.
"""
import argparse
import importlib
import json
import os
import sys


def summary_module():
    """scripts/nab-summary.py (its name is no identifier, so it is imported by file name from this folder)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    return importlib.import_module("nab-summary")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("candidates", nargs="+", help="NAME=FOLDER[,FOLDER...] (one folder per seed)")
    ap.add_argument("--profile", default="standard", choices=["standard", "reward_low_FP_rate", "reward_low_FN_rate"])
    a = ap.parse_args()
    nab = os.environ.get("NAB_DIR", "../shared/nab")
    M = summary_module()
    sc = M.load_scorer(nab)
    prof = sc.DEFAULT_PROFILES[a.profile]
    windows = json.load(open(os.path.join(nab, "labels.json")))
    times = {}
    names, cases = [], []  # cases[v][seed] = list of FileCase
    for arg in a.candidates:
        name, _, folders = arg.partition("=")
        if not folders:
            sys.exit(f"{arg}: expected NAME=FOLDER[,FOLDER...]")
        names.append(name)
        cases.append([M.build_cases(sc, nab, f, windows, times) for f in folders.split(",")])
    seeds = {len(v) for v in cases}
    if len(seeds) != 1:
        sys.exit("every candidate needs the same number of seed folders")
    cat_of = lambda c: c.key.split("/", 1)[0]
    cats = sorted({cat_of(c) for c in cases[0][0]})
    nwin = sum(c.nwin for c in cases[0][0])

    def held_out(v, s, cat):
        """(raw score of the other categories at their own threshold, raw of `cat` at that threshold)."""
        rest = [c for c in cases[v][s] if cat_of(c) != cat]
        inside = [c for c in cases[v][s] if cat_of(c) == cat]
        t = M.sweep_threshold(sc, rest, prof)
        return sum(c.score(t, prof)["raw"] for c in rest), sum(c.score(t, prof)["raw"] for c in inside)

    n = len(cases[0])
    table = {(v, s, cat): held_out(v, s, cat) for v in range(len(names)) for s in range(n) for cat in cats}
    print(f"profile {a.profile}, {n} seed(s), {len(cats)} categories held out in turn")
    print(f"{'candidate':14s} {'CV (knob fixed)':>16s}")
    for v, name in enumerate(names):
        cv = sum(M.normalised(sum(table[(v, s, cat)][1] for cat in cats), nwin, prof) for s in range(n)) / n
        print(f"{name:14s} {cv:16.2f}")
    selected_raw = [0.0] * n
    print("\nheld-out category: the candidate the other categories choose")
    for cat in cats:
        best = max(range(len(names)), key=lambda v: sum(table[(v, s, cat)][0] for s in range(n)))
        for s in range(n):
            selected_raw[s] += table[(best, s, cat)][1]
        print(f"  {cat:26s} {names[best]}")
    selected = sum(M.normalised(r, nwin, prof) for r in selected_raw) / n
    print(f"\nselected (knob and threshold both held out): {selected:.2f}")


if __name__ == "__main__":
    main()

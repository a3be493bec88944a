#!/usr/bin/env python3
"""Where a detector stands at a false-positive budget: each result folder scored at the fixed threshold that gives
the best standard score with at most BUDGET false-positive detections (the issue's "no more than HTM's 106").

    scripts/nab-frontier.py 106 nab-results-42 nab-results-1 nab-results-2

Per folder: bisection on the threshold for the lowest one within the budget, then a scan upward (×1.08 a step, up
to 0.3) for the best standard score within it, each a run of NAB's scorer (`score.py DIR --threshold T --json`);
prints that threshold, the standard and reward-low-FP scores, windows hit and false positives, then their means.
About a minute a folder. NAB_DIR (default ../shared/nab) holds score.py.
"""
import json
import os
import statistics
import subprocess
import sys


def score(folder, threshold):
    """(standard, reward-low-FP, windows hit, false positives) at a fixed threshold."""
    scorer = os.path.join(os.environ.get("NAB_DIR", "../shared/nab"), "score.py")
    out = subprocess.run([sys.executable, scorer, folder, "--threshold", str(threshold), "--json"],
                         capture_output=True, text=True, check=True).stdout
    p = json.loads(out)["profiles"]
    s = p["standard"]
    return s["score"], p["reward_low_FP_rate"]["score"], s["tp_windows"], s["fp_detections"]


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    budget = float(sys.argv[1])
    rows = []
    for folder in sys.argv[2:]:
        lo, hi = 0.005, 0.6
        for _ in range(18):
            mid = (lo + hi) / 2
            if score(folder, mid)[3] <= budget:
                hi = mid
            else:
                lo = mid
        best = None
        t = hi
        while t < 0.3:
            r = score(folder, t)
            if r[3] <= budget and (best is None or r[0] > best[1][0]):
                best = (t, r)
            t *= 1.08
        if best is None:
            sys.exit(f"{folder}: no threshold below 0.3 keeps {budget:g} false positives")
        rows.append(best)
        print(f"{folder}  threshold {best[0]:.4f}  std {best[1][0]:.2f}  lowFP {best[1][1]:.2f}  "
              f"windows {best[1][2]}  FP {best[1][3]}", flush=True)
    means = [statistics.mean(b[1][i] for b in rows) for i in range(4)]
    print("mean  std %.2f  lowFP %.2f  windows %.1f  FP %.1f" % tuple(means))


if __name__ == "__main__":
    main()

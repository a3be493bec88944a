#!/usr/bin/env python3
"""How good is the model's one-step prediction? Per NAB file, the mean absolute error of `omen replay`'s
`prediction` column against two naive forecasts: the previous value, and the median of the previous five.

    scripts/nab-model-error.py nab-results-42          # a folder written by scripts/nab.sh or nab-seeds.sh

A ratio above 1 means the model predicts worse than that naive forecast. Points before row 300 (the default warm-up)
and rows without a prediction are left out. NAB_DIR (default ../shared/nab) gives the file list (labels.json).
"""
import csv
import json
import os
import sys


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    folder = sys.argv[1]
    nab = os.environ.get("NAB_DIR", "../shared/nab")
    with open(os.path.join(nab, "labels.json")) as fh:
        keys = sorted(json.load(fh))
    worse = 0
    print(f"{'file':58s} {'points':>7s} {'vs previous':>12s} {'vs median of 5':>15s}")
    for key in keys:
        with open(os.path.join(folder, key), newline="") as fh:
            rows = list(csv.DictReader(fh))
        v = [float(r["value"]) for r in rows]
        model = previous = median = 0.0
        n = 0
        for i in range(300, len(rows)):
            if rows[i]["prediction"] == "":
                continue
            n += 1
            model += abs(v[i] - float(rows[i]["prediction"]))
            previous += abs(v[i] - v[i - 1])
            median += abs(v[i] - sorted(v[i - 5:i])[2])
        if n == 0 or previous == 0 or median == 0:
            print(f"{key[:58]:58s} {n:7d} {'-':>12s} {'-':>15s}")
            continue
        worse += model > previous
        print(f"{key[:58]:58s} {n:7d} {model / previous:12.2f} {model / median:15.2f}")
    print(f"the model is worse than the previous value on {worse} of {len(keys)} files")


if __name__ == "__main__":
    main()

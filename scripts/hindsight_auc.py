#!/usr/bin/env python3
"""How well the hindsight review separates real anomalies from false alarms, on labelled files.

Reads the results of `omen replay --hindsight` (RESULTS/<category>/<file>.csv, as scripts/nab.sh writes them
with `--hindsight`), groups rows into episodes by their `episode` column, calls an episode positive when it
overlaps a labelled window of its file, and prints the ROC AUC of the episodes' hindsight scores (and, for
comparison, of their online peak `anomaly_score`): the probability that a random positive episode scores above
a random negative one (ties count half). 0.5 = no separation.

    scripts/hindsight_auc.py RESULTS [--labels ../shared/nab/labels.json]
"""

import argparse
import csv
import datetime as dt
import json
import os
import sys


def parse_time(text):
    text = text.strip()
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            return dt.datetime.strptime(text, fmt)
        except ValueError:
            pass
    raise ValueError("unreadable timestamp %r" % text)


def auc(positives, negatives):
    """Mann-Whitney U / (|P| |N|), ties counted half; None when a class is empty."""
    if not positives or not negatives:
        return None
    wins = 0.0
    for p in positives:
        for n in negatives:
            wins += 1.0 if p > n else (0.5 if p == n else 0.0)
    return wins / (len(positives) * len(negatives))


def episodes_of(path):
    """{episode: (first time, last time, hindsight score, peak anomaly score)} of one results file."""
    episodes = {}
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if "hindsight_score" not in (reader.fieldnames or []):
            raise SystemExit("%s has no hindsight_score column: replay with --hindsight" % path)
        for row in reader:
            if not row["episode"]:
                continue
            t = parse_time(row["timestamp"])
            e = int(row["episode"])
            h = float(row["hindsight_score"])
            s = float(row["anomaly_score"])
            if e in episodes:
                first, _, _, peak = episodes[e]
                episodes[e] = (first, t, h, max(peak, s))
            else:
                episodes[e] = (t, t, h, s)
    return episodes


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results")
    ap.add_argument("--labels", default=os.path.join(here, "..", "..", "shared", "nab", "labels.json"))
    args = ap.parse_args()
    with open(args.labels) as f:
        labels = json.load(f)

    rows = []  # (category, positive, hindsight, peak)
    for name, windows in sorted(labels.items()):
        path = os.path.join(args.results, name)
        if not os.path.exists(path):
            print("missing results for %s" % name, file=sys.stderr)
            continue
        spans = [(parse_time(a), parse_time(b)) for a, b in windows]
        for first, last, h, peak in episodes_of(path).values():
            positive = any(first <= b and last >= a for a, b in spans)
            rows.append((name.split("/")[0], positive, h, peak))

    def report(title, subset):
        pos = [r for r in subset if r[1]]
        neg = [r for r in subset if not r[1]]
        a_h = auc([r[2] for r in pos], [r[2] for r in neg])
        a_p = auc([r[3] for r in pos], [r[3] for r in neg])
        fmt = lambda a: "  n/a" if a is None else "%.3f" % a
        print("%-24s %5d %5d   %s       %s" % (title, len(pos), len(neg), fmt(a_h), fmt(a_p)))

    print("%-24s %5s %5s   %s  %s" % ("episodes", "in", "out", "AUC hindsight", "AUC online peak"))
    report("all", rows)
    for category in sorted({r[0] for r in rows}):
        report(category, [r for r in rows if r[0] == category])


if __name__ == "__main__":
    main()

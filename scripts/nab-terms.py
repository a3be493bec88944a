#!/usr/bin/env python3
"""Recombine the scoring terms of `omen replay --terms` results offline, and score the recombination on NAB.

A detection idea that only changes how the calibrated stage's terms become a score (their weights, how they are
combined, the daily rate, the onset rule) can be measured here in seconds instead of a rebuild and a replay:

    NAB_RESULTS=terms scripts/nab-seeds.sh .build/release/omen --terms     # once: terms-42, terms-1, terms-2
    scripts/nab-terms.py terms-42 terms-1 terms-2                          # must reproduce the replay exactly
    scripts/nab-terms.py terms-42 terms-1 terms-2 --value-weight 0.6 --onset-window 100
    scripts/nab-terms.py terms-42 terms-1 terms-2 --rule my_rule.py        # def combine(t, p) -> surprise

Without options it recomputes every score with the defaults and checks that it matches the replay's own
`anomaly_score` (it exits 1 if any row differs by more than 1e-9): the rules below are the scorer's
(`Sources/Detection/Scorer.swift`), so keep them in step. It writes the rescored files to OUT-<folder> (default
OUT = rescored) and prints scripts/nab-summary.py's table for them (NAB_DIR, default ../shared/nab).

The frozen-run tracker (`frozen_detection`) runs on each row's value, as in the scorer, after `combine`: a rule
sees the terms without it. What it cannot measure: anything that changes a term itself (calibration, tails, the model), and the feedback of
scores into training (`exclude_anomalies` leaves the points of episodes at the default threshold out of training,
so a rule that moves episodes would, in the daemon, also move later predictions a little). `self_weight` > 0 is not
modelled. A rule file defines `combine(t, p)`, where `t` is a dict of the row's terms (value, context, residual,
head, change: floats or None; flat: bool; predicted: bool; log10_points_per_day; range_position: 0 inside the
remembered values, 1 at their edge, 2 beyond them (a new maximum or minimum); index: the row's index in its file,
0 at a file's start; x: the row's value) and `p` the options (value_weight, context_weight,
gaussian_weight, change_weight); it returns the combined surprise before the daily rate. It may set t["force"] =
True to make the row an onset whatever the onset window holds, as a new extreme's first point is.
"""
import argparse
import csv
import datetime
import importlib.util
import math
import os
import struct
import subprocess
import sys


def f32(x):
    """x rounded to Float, as the onset filter compares."""
    return struct.unpack("f", struct.pack("f", x))[0] if math.isfinite(x) else x


def per_day(s, l10):
    """Cadence.perDay: -log10(1 - (1 - p)^N) with N = 10^l10 points a day."""
    if l10 <= 0:
        return s
    lx = l10 - s
    if lx < -8:
        return s - l10
    return -math.log10(-math.expm1(-(10 ** lx)))


def combine_mean(t, p):
    """The scorer's weighted mean of the terms' surprises."""
    if not t["predicted"]:
        return t["value"]
    value = t["value"]
    if t["context"] is not None:
        c = min(p["context_weight"], 1)
        value = (1 - c) * value + c * t["context"]
    stage = t["residual"] if t["residual"] is not None else 0.0
    if t["residual"] is not None and t["head"] is not None:
        g = min(p["gaussian_weight"], 1)
        stage = (1 - g) * t["residual"] + g * t["head"]
    if t["change"] is not None and p["change_weight"] > 0:
        c = min(p["change_weight"], 1)
        stage = (1 - c) * stage + c * t["change"]
    if t["flat"]:
        stage = 0.0
    w = min(max(p["value_weight"], 0), 1)
    return (1 - w) * stage + w * value


def number(x):
    return float(x) if x != "" else None


class FrozenTracker:
    """The scorer's frozen-run tracker (`FrozenTracker` in Sources/Detection/Scoring/Stages.swift): the surprise of
    a run of exact repeats when it becomes the series' longest, and again when its surprise doubles, under a
    two-state Markov chain of the series' repeats (decayed transition counts) as it stood when the run began, or
    the more lenient chain of the hour (UTC) each step falls in (its counts kept as Float, as the scorer keeps
    them, and shrunk toward the series' chain by HOUR_PRIOR pseudo-steps)."""

    HOURS = 24
    HOUR_PRIOR = 5.0

    def __init__(self, memory=6000, min_steps=50):
        self.decay = 1 - 1 / max(memory, 1)
        self.min_steps = min_steps
        self.ar = self.rar = self.ac = self.rac = 0.0
        self.last_was_repeat = False
        self.steps = 0
        self.run = self.max_run = 0
        self.last = math.nan
        self.fired = 0.0
        self.q01 = self.q11 = 1.0
        self.hour_counts = [0.0] * (4 * self.HOURS)  # per hour: after a repeat, repeats among them, after a change, ...
        self.hour_step = [0] * self.HOURS
        self.run_hour_q11 = None
        self.run_surprise = 0.0

    def hour_decay(self, b):
        gap = self.steps - self.hour_step[b]
        return 1.0 if gap <= 0 else self.decay if gap == 1 else self.decay ** gap

    def observe(self, v, stamp):
        t = stamp - math.floor(stamp / 86400.0) * 86400.0 if math.isfinite(stamp) else 0.0
        h = min(self.HOURS - 1, max(0, int(t / 3600)))
        is_repeat = v == self.last
        if not is_repeat:
            self.max_run = max(self.max_run, self.run)
        self.run = self.run + 1 if is_repeat else 0
        self.last = v
        surprise = 0.0
        if self.run == 0:
            self.fired = 0.0
        if self.run == 1:
            if self.ac + self.ar >= self.min_steps:
                self.q01 = (self.rac + 1) / (self.ac + 2)
                self.q11 = (self.rar + 2 * self.q01) / (self.ar + 2)
                # The hours as they stand at the run's start, never stricter than the series' chain.
                k, c = self.HOUR_PRIOR, self.hour_counts
                self.run_hour_q11 = []
                for b in range(self.HOURS):
                    f = self.hour_decay(b)
                    q = (c[4 * b + 1] * f + k * self.q11) / (c[4 * b] * f + k)
                    self.run_hour_q11.append(max(q, self.q11))
                f = self.hour_decay(h)
                self.q01 = max((c[4 * h + 3] * f + k * self.q01) / (c[4 * h + 2] * f + k), self.q01)
                self.run_surprise = -math.log10(self.q01)
            else:
                self.q01 = self.q11 = 1.0
                self.run_hour_q11 = None
        if self.run >= 2 and self.run_hour_q11 is not None:
            self.run_surprise -= math.log10(self.run_hour_q11[h])
        if self.run > self.max_run:
            if self.run_hour_q11 is None:
                s = -math.log10(self.q01) - (self.run - 1) * math.log10(self.q11)
            else:
                s = self.run_surprise
            if self.run == self.max_run + 1 or s >= 2 * self.fired:
                surprise = s
                self.fired = s
        if self.steps > 0:
            d = self.decay
            self.ar *= d
            self.rar *= d
            self.ac *= d
            self.rac *= d
            if self.last_was_repeat:
                self.ar += 1
                if is_repeat:
                    self.rar += 1
            else:
                self.ac += 1
                if is_repeat:
                    self.rac += 1
            # The hour's counts, as Float: decayed to this step, then the transition added.
            c, i = self.hour_counts, 4 * h
            f = f32(self.hour_decay(h))
            for j in range(i, i + 4):
                c[j] = f32(c[j] * f)
            self.hour_step[h] = self.steps
            j = i if self.last_was_repeat else i + 2
            c[j] = f32(c[j] + 1)
            if is_repeat:
                c[j + 1] = f32(c[j + 1] + 1)
        self.last_was_repeat = is_repeat
        self.steps = min(self.steps + 1, 1 << 30)
        return surprise


def timestamp(text):
    """Seconds since the epoch of a NAB timestamp (UTC), as `omen replay` reads it."""
    return datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=datetime.timezone.utc).timestamp()


def rescore(path, combine, p):
    """(rows as dicts, new scores, replay's own scores) for one result file."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or "s_value" not in rows[0]:
        sys.exit(f"{path}: no term columns; replay with --terms")
    window = []
    onsets = []  # (row index, surprise) of the window's onsets, each more surprising than every later one
    scores = []
    previous_at_edge = False
    frozen = FrozenTracker(memory=p["history"], min_steps=max(p["min_history"], 1))
    seen = 0
    first = None  # the series' first timestamp (the scorer's `warmedUp`: its first day is silent)
    has_range = "range_position" in rows[0]
    for i, r in enumerate(rows):
        if r["s_value"] == "":
            scores.append(0.0)  # a refused point: the scorer never saw it
            continue
        t = {
            "value": float(r["s_value"]), "context": number(r["s_context"]), "residual": number(r["s_residual"]),
            "head": number(r["s_head"]), "change": number(r["s_change"]), "flat": r["flat"] == "1",
            "predicted": r["prediction"] != "", "log10_points_per_day": float(r["log10_points_per_day"]),
            # For rules that keep state along a file: the row's index (0 starts a file), its raw value and its time
            # (seconds since the epoch, UTC).
            "index": i, "x": float(r["value"]), "stamp": timestamp(r["timestamp"]),
            # Against the remembered values (results of builds before the column: taken as beyond, so no
            # discount, and no new-extreme onsets: see `has_range`).
            "range_position": int(r.get("range_position", "2")),
            # The sustained-shift surprise (`shift_weight`), empty before `ready` and in results without the column.
            "shift": number(r.get("s_shift") or ""),
        }
        # The scorer adds the weighted shift after the terms' mean, so a rule sees the terms without it.
        s = combine(t, p) + p["shift_weight"] * (t["shift"] or 0.0)
        stamp = t["stamp"]
        first = stamp if first is None else first
        if p["frozen_detection"]:
            fs = frozen.observe(t["x"], t["stamp"])
            # The scorer's `ready`: the value history holds min_history values before this one, and the series is
            # past its first day (`min_history_span`) or has brought a whole history of points.
            warmed = (p["min_history_span"] <= 0 or seen + 1 > p["history"]
                      or stamp - first >= p["min_history_span"])
            if seen >= p["min_history"] and warmed and fs > s:
                s = fs
        seen += 1
        s = min(max(s, 0.0), 300.0) if math.isfinite(s) else 0.0
        if p["daily_rate"]:
            s = per_day(s, float(r["log10_points_per_day"]))
        kept = s
        if p["onset_window"] > 0:
            prev = max(window) if window else 0.0
            # Within the last day of points (the daily rate's N), an onset must beat onset_factor times the day's
            # most surprising onset (the scorer's `OnsetFilter.recentOnsetMax`).
            same_day = p["onset_factor"] != 1 and p["daily_rate"]
            idx = seen - 1  # the scorer's point count: refused rows never reach it
            if same_day and f32(s) > prev:
                day = max(1, int(min(10 ** float(r["log10_points_per_day"]), p["onset_window"])))
                recent = next((v for j, v in onsets if idx - j <= day), None)
                if recent is not None:
                    prev = max(prev, f32(recent * f32(p["onset_factor"])))
            window.append(f32(s))
            if len(window) > p["onset_window"]:
                window.pop(0)
            # The first point of an excursion beyond every remembered value is an onset whatever the window holds.
            new_excursion = (p["new_extreme_onsets"] and has_range and t["range_position"] == 2
                             and not previous_at_edge)
            # A rule may make a row an onset whatever the window holds (it sets t["force"] in combine).
            new_excursion = new_excursion or t.get("force", False)
            if f32(s) <= prev and not new_excursion:
                kept = s * p["repeat_factor"]
            elif same_day:
                # `OnsetFilter.recordOnset`: drop what left the window and what this onset outranks; at most 16.
                onsets = [(j, v) for j, v in onsets if idx - j <= p["onset_window"]]
                while onsets and onsets[-1][1] <= f32(s):
                    onsets.pop()
                if len(onsets) == 16:
                    onsets.pop()
                onsets.append((idx, f32(s)))
        previous_at_edge = t["range_position"] != 0
        if t["range_position"] != 2:
            kept *= min(max(p["in_range_factor"], 0.0), 1.0)
        score = kept / (kept + p["surprise_half"])
        scores.append(score if math.isfinite(score) else 0.0)
    return rows, scores, [float(r["anomaly_score"]) for r in rows]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folders", nargs="+", help="result folders of `omen replay --terms` (one per seed)")
    ap.add_argument("--value-weight", type=float, default=0.5)
    ap.add_argument("--context-weight", type=float, default=0.5)
    ap.add_argument("--gaussian-weight", type=float, default=0.3)
    ap.add_argument("--change-weight", type=float, default=0.3)
    ap.add_argument("--onset-window", type=int, default=200)
    ap.add_argument("--onset-factor", type=float, default=2.0)
    ap.add_argument("--repeat-factor", type=float, default=0.0)
    ap.add_argument("--in-range-factor", type=float, default=0.5)
    ap.add_argument("--shift-weight", type=float, default=0.05)
    ap.add_argument("--no-new-extreme-onsets", action="store_true")
    ap.add_argument("--surprise-half", type=float, default=4.0)
    ap.add_argument("--no-daily-rate", action="store_true")
    ap.add_argument("--no-frozen-detection", action="store_true")
    ap.add_argument("--history", type=int, default=6000, help="the scorer's history (the frozen run's memory)")
    ap.add_argument("--min-history", type=int, default=50)
    ap.add_argument("--min-history-span", type=float, default=86400,
                    help="seconds a series is silent for after its first point (the scorer's min_history_span)")
    ap.add_argument("--rule", help="a Python file defining combine(t, p)")
    ap.add_argument("--out", default="rescored", help="prefix of the rescored folders")
    ap.add_argument("--at", default="0.25", help="also score at this fixed threshold (nab-summary.py --at)")
    a = ap.parse_args()
    p = {
        "value_weight": a.value_weight, "context_weight": a.context_weight, "gaussian_weight": a.gaussian_weight,
        "change_weight": a.change_weight, "onset_window": a.onset_window, "onset_factor": a.onset_factor, "repeat_factor": a.repeat_factor,
        "in_range_factor": a.in_range_factor, "shift_weight": a.shift_weight,
        "new_extreme_onsets": not a.no_new_extreme_onsets,
        "surprise_half": a.surprise_half, "daily_rate": not a.no_daily_rate,
        "frozen_detection": not a.no_frozen_detection, "history": a.history, "min_history": a.min_history,
        "min_history_span": a.min_history_span,
    }
    combine = combine_mean
    if a.rule:
        spec = importlib.util.spec_from_file_location("rule", a.rule)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        combine = module.combine
    # Every option at its default (the scorer's defaults): the rescored files must equal the replay's own.
    reproduce = a.rule is None and all(
        getattr(a, k) == ap.get_default(k) for k in vars(a) if k not in ("folders", "out", "at"))
    worst = 0.0
    outs = []
    for folder in a.folders:
        out = f"{a.out}-{os.path.basename(os.path.normpath(folder))}"
        for root, _, files in os.walk(folder):
            for name in sorted(files):
                if not name.endswith(".csv"):
                    continue
                src = os.path.join(root, name)
                rows, scores, own = rescore(src, combine, p)
                worst = max([worst] + [abs(x - y) for x, y in zip(scores, own)])
                dst = os.path.join(out, os.path.relpath(src, folder))
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                with open(dst, "w") as fh:
                    fh.write("timestamp,anomaly_score\n")
                    for r, s in zip(rows, scores):
                        fh.write(f"{r['timestamp']},{s!r}\n")
        outs.append(out)
    here = os.path.dirname(os.path.abspath(__file__))
    nab = os.environ.get("NAB_DIR", "../shared/nab")
    subprocess.run([sys.executable, os.path.join(here, "nab-summary.py"), nab] + outs + ["--at", a.at], check=True)
    if reproduce:
        print(f"reproduction: largest difference from the replay's own scores {worst:.3g}")
        if worst > 1e-9:
            sys.exit(1)


if __name__ == "__main__":
    main()

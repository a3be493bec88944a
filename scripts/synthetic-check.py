#!/usr/bin/env python3
"""What a pager reader would see: `omen replay` at the defaults on synthetic series an operator meets every day.

    scripts/synthetic-check.py .build/release/omen [--seeds 1,2,3] [-- extra `omen replay` flags]

Two tables, no data files needed (standard library only; the series are generated in a temporary folder):

1. Normal series, no anomaly in them: a daily sine, a GC sawtooth, a small Poisson gauge, a CPU that saturates at
   100 %, log-normal latency, a flapping 0/1 state, a 12-hour gap in the data, a weekly pattern (weekends at 40 %), a
   random walk, a Poisson request rate with a daily cycle, an hourly cron burst, a disk that grows and is cleaned
   daily, an error counter and an event count that fall silent at night. Each row: the episodes `omen replay` opened (at the default threshold) per seed, and their causes. Every
   episode here is a false page.
2. The same kinds of anomaly injected into four of them, once per seed, 70 % of the way in: a spike of 6 standard
   deviations, a drop to zero for an hour, a level shift of one standard deviation, a value frozen for two hours,
   the noise five times larger for two hours, the values halved for two hours. Each cell: how many points after
   the injection the first point at or above the default threshold came, and its cause, or "miss" (nothing within
   six hours); "+N fp" counts points at or above it elsewhere in the file.

Nothing here is tuned on: it is a check that the defaults do not cry wolf on ordinary shapes and what they miss.
"""
import csv
import math
import os
import random
import re
import subprocess
import sys
import tempfile

DAY = 86400
T0 = 1_700_000_000
THRESHOLD = 0.25  # [episodes] threshold's default


def poisson(rng, lam):
    if lam > 50:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def normal_series(rng):
    """name -> (timestamps, values)"""
    out = {}
    t5 = list(range(0, 14 * DAY, 300))
    t1 = list(range(0, 7 * DAY, 60))
    sine = lambda t: math.sin(2 * math.pi * t / DAY)
    out["daily_sine"] = (t5, [50 + 20 * sine(t) + rng.gauss(0, 2) for t in t5])
    out["sawtooth"] = (t1, [200 + 800 * ((t % 1800) / 1800) + rng.gauss(0, 10) for t in t1])
    out["poisson3"] = (t1, [poisson(rng, 3) for _ in t1])
    out["cpu_clipped"] = (t5, [min(100, max(0, 70 + 40 * sine(t) + rng.gauss(0, 5))) for t in t5])
    out["latency_lognormal"] = (t1, [math.exp(rng.gauss(3, 0.5)) for _ in t1])
    out["binary_state"] = (t1, [1 if rng.random() < 0.2 else 0 for _ in t1])
    kept = [t for t in t5 if not (5 * DAY < t < 5.5 * DAY)]
    out["gap12h"] = (kept, [50 + 20 * sine(t) + rng.gauss(0, 2) for t in kept])
    t28 = list(range(0, 28 * DAY, 300))
    out["weekly"] = (t28, [(0.4 if (t // DAY) % 7 >= 5 else 1.0) * (100 + 50 * sine(t)) + rng.gauss(0, 3) for t in t28])
    walk, w = [], 100.0
    for _ in t1:
        w += rng.gauss(0, 0.5)
        walk.append(w)
    out["random_walk"] = (t1, walk)
    t14 = list(range(0, 14 * DAY, 60))
    out["request_rate"] = (t14, [poisson(rng, 600 + 400 * sine(t)) for t in t14])
    out["hourly_cron"] = (t1, [20 + rng.gauss(0, 1) + (60 if t % 3600 < 300 else 0) for t in t1])
    out["disk_growth"] = (t1, [40 + 2 * t / DAY + 5 * ((t % DAY) / DAY) + rng.gauss(0, 0.05) for t in t1])
    # Counts that fall silent at night: an error counter a minute, and events every 5 minutes over four weeks.
    out["sparse_errors"] = (t14, [poisson(rng, 0.25 * (1 + sine(t)) ** 2) for t in t14])
    out["night_zero_counts"] = (t28, [poisson(rng, 4 * max(0.0, sine(t)) ** 2 + 0.02) for t in t28])
    return out


def base_series(kind, rng):
    sine = lambda t: math.sin(2 * math.pi * t / DAY)
    if kind == "daily_sine":
        t = list(range(0, 10 * DAY, 300))
        return t, [50 + 20 * sine(x) + rng.gauss(0, 2) for x in t]
    if kind == "request_rate":
        t = list(range(0, 6 * DAY, 60))
        return t, [float(poisson(rng, 600 + 400 * sine(x))) for x in t]
    if kind == "latency_lognormal":
        t = list(range(0, 6 * DAY, 60))
        return t, [math.exp(rng.gauss(3, 0.5)) for _ in t]
    t = list(range(0, 10 * DAY, 300))  # cpu_clipped
    return t, [min(100, max(0, 70 + 40 * sine(x) + rng.gauss(0, 5))) for x in t]


def sd(xs):
    m = sum(xs) / len(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / len(xs))


def inject(kind, t, x, at, rng):
    x = list(x)
    hour = 3600 // (t[1] - t[0])
    s = sd(x[:at])
    if kind == "spike":
        x[at] += 6 * s
    elif kind == "drop_to_zero":
        for i in range(at, at + hour):
            x[i] = 0
    elif kind == "level_shift":
        for i in range(at, len(x)):
            x[i] += s
    elif kind == "frozen":
        for i in range(at, at + 2 * hour):
            x[i] = x[at]
    elif kind == "noise_x5":
        step = sd([b - a for a, b in zip(x[:at - 1], x[1:at])]) / math.sqrt(2)
        for i in range(at, at + 2 * hour):
            x[i] += rng.gauss(0, 4 * step)
    elif kind == "halved":
        for i in range(at, at + 2 * hour):
            x[i] *= 0.5
    return x


def write(path, t, x):
    with open(path, "w") as f:
        f.write("timestamp,value\n")
        for a, b in zip(t, x):
            f.write(f"{T0 + a},{b:.6g}\n")


def replay(binary, path, extra):
    out = path + ".out"
    r = subprocess.run([binary, "replay", path, "--output", out] + extra, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"omen replay {path} failed: {r.stderr.strip()}")
    m = re.search(r"(\d+) anomaly episodes?", r.stdout + r.stderr)
    rows = list(csv.DictReader(open(out)))
    return (int(m.group(1)) if m else -1), rows


def main(argv):
    if len(argv) < 2 or argv[1].startswith("-"):
        sys.exit(__doc__)
    binary = argv[1]
    seeds = [1, 2, 3]
    extra = []
    rest = argv[2:]
    if "--" in rest:
        extra = rest[rest.index("--") + 1:]
        rest = rest[:rest.index("--")]
    if rest[:1] == ["--seeds"]:
        seeds = [int(s) for s in rest[1].split(",")]
    with tempfile.TemporaryDirectory(prefix="omen-synthetic-") as tmp:
        print(f"1. normal series: episodes opened per seed ({', '.join(map(str, seeds))}), causes")
        table = {}
        for seed in seeds:
            for name, (t, x) in normal_series(random.Random(seed)).items():
                path = os.path.join(tmp, f"{name}-{seed}.csv")
                write(path, t, x)
                n, rows = replay(binary, path, extra)
                causes = [r["cause"] for r in rows if float(r["anomaly_score"]) >= THRESHOLD]
                table.setdefault(name, []).append((n, causes))
        total = 0
        for name, runs in table.items():
            total += sum(n for n, _ in runs)
            causes = sorted({c for _, cs in runs for c in cs})
            print(f"   {name:18s} {' / '.join(str(n) for n, _ in runs):12s} {', '.join(causes)}")
        print(f"   false pages in all: {total} over {len(table) * len(seeds)} series")
        print()
        print("2. injected anomalies: points to the first alert and its cause, per seed")
        for base in ["daily_sine", "request_rate", "latency_lognormal", "cpu_clipped"]:
            for kind in ["spike", "drop_to_zero", "level_shift", "frozen", "noise_x5", "halved"]:
                cells = []
                for seed in seeds:
                    rng = random.Random(seed * 100 + 7)
                    t, x = base_series(base, rng)
                    at = int(len(t) * 0.7) + seed * 13
                    path = os.path.join(tmp, f"{base}-{kind}-{seed}.csv")
                    write(path, t, inject(kind, t, x, at, rng))
                    _, rows = replay(binary, path, extra)
                    s = [float(r["anomaly_score"]) for r in rows]
                    horizon = 6 * 3600 // (t[1] - t[0])
                    hit = next((i for i in range(at, min(len(s), at + horizon)) if s[i] >= THRESHOLD), None)
                    fp = sum(1 for i, v in enumerate(s) if v >= THRESHOLD and not at <= i < at + horizon)
                    cell = f"{hit - at} pts/{rows[hit]['cause']}" if hit is not None else "miss"
                    cells.append(cell + (f" +{fp} fp" if fp else ""))
                print(f"   {base:18s} {kind:13s} " + " | ".join(cells))


if __name__ == "__main__":
    main(sys.argv)

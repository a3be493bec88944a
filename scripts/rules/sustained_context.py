"""A `scripts/nab-terms.py --rule`: sustained time-of-day evidence (session 16, measured and not taken).

Per point: M = the mean of the time-of-day term's surprise (`s_context`, 0 where the bin does not speak) over the
last hour of points (a day's points / 24 × HOURS, at least HMIN and at most 2,000); S = -log10 of M's upper-tail
rank among the series' own earlier means (the last 6,000; none until 200), less FLOOR decades (not below 0); the
combined surprise gets C * S before the daily rate and the onset rule, as `shift_weight`'s term does. MODE=null
feeds the same pipeline -log10 of iid uniform draws instead of the term (the control: the same mixing, no evidence).
HOURS=k averages over k hours of points (default 1); MODE=vcount averages 1 for a value whose value term is at
least VLEVEL and 0 otherwise (the window's rate of rare values: spikes that crowd), MODE=vnull the same at the
nominal rate 10^-VLEVEL, independently. PERDAY=1 rates S as a day's before FLOOR (`per_day`, over a day's
points / h windows); MINDAYS=D ranks M only once the earlier means span D days of points; WEEKDAY=1 ranks M against
the same weekday's means only (UTC); GATE=G adds S only where the point's own combined surprise is at least G.

    C=0.2 HMIN=12 NAB_DIR=../shared/nab scripts/nab-terms.py terms-42 terms-1 terms-2 \
        --rule scripts/rules/sustained_context.py --out sc

docs/detection-variants.md, "Session 16", has the figures.
"""
import bisect
import collections
import importlib.util
import math
import os
import random

_here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_spec = importlib.util.spec_from_file_location("nab_terms", os.path.join(_here, "nab-terms.py"))
_terms = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_terms)

C = float(os.environ.get("C", "0.2"))
FLOOR = float(os.environ.get("FLOOR", "0"))
HMIN = int(os.environ.get("HMIN", "12"))
MODE = os.environ.get("MODE", "ctx")
GATE = float(os.environ.get("GATE", "0"))
VLEVEL = float(os.environ.get("VLEVEL", "2"))
HOURS = float(os.environ.get("HOURS", "1"))
PERDAY = os.environ.get("PERDAY", "0") == "1"
MINDAYS = float(os.environ.get("MINDAYS", "0"))
WEEKDAY = os.environ.get("WEEKDAY", "0") == "1"
MIN_MEANS, MEMORY = 200, 6000

_state = {}
_files = 0


def sustained(t):
    """S for this row (state kept along a file, reset where t["index"] is 0): the rank surprise of the last hour's
    mean, after PERDAY and FLOOR. `sustained_reopen.py` uses it too."""
    global _state, _files
    if t["index"] == 0 or not _state:
        _files += 1
        _state = {"ring": collections.deque(), "sum": 0.0, "banks": {}, "rng": random.Random(_files)}
    st = _state
    if MODE == "ctx":
        x = t["context"] or 0.0
    elif MODE == "vcount":  # a rare value (value term >= VLEVEL): the mean is then the window's rate of them
        x = 1.0 if t["value"] >= VLEVEL else 0.0
    elif MODE == "vnull":  # its control: rare at the nominal rate 10^-VLEVEL, independently
        x = 1.0 if st["rng"].random() < 10 ** -VLEVEL else 0.0
    else:
        x = -math.log10(1 - st["rng"].random())
    l10 = t["log10_points_per_day"]
    h = int(min(max(10 ** l10 / 24 * HOURS, HMIN), 2000)) if l10 > 0 else HMIN
    st["ring"].append(x)
    st["sum"] += x
    while len(st["ring"]) > h:
        st["sum"] -= st["ring"].popleft()
    m = st["sum"] / len(st["ring"])
    # The earlier means, sorted, and in arrival order (one bank, or one a weekday: 1970-01-01 was a Thursday).
    means, fifo = st["banks"].setdefault(int((t["stamp"] // 86400 + 4) % 7) if WEEKDAY else 0,
                                         ([], collections.deque()))
    s = 0.0
    if len(means) >= max(MIN_MEANS, MINDAYS * (10 ** l10 if l10 > 0 else 0)):
        above = len(means) - bisect.bisect_left(means, m)
        s = -math.log10((above + 1) / (len(means) + 1))
        if PERDAY:
            s = _terms.per_day(s, math.log10(max(10 ** l10 / h, 1.0)) if l10 > 0 else 0.0)
        s = max(0.0, s - FLOOR)
    bisect.insort(means, m)
    fifo.append(m)
    if len(fifo) > MEMORY:
        del means[bisect.bisect_left(means, fifo.popleft())]
    return s


def combine(t, p):
    s = sustained(t)
    base = _terms.combine_mean(t, p)
    return base + (C * s if base >= GATE else 0.0)

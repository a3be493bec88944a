"""A `scripts/nab-terms.py --rule`: a sustained hour that opens an episode (session 17, measured and not taken).

S is `sustained_context.py`'s: M = the mean of the time-of-day term's surprise over the last hour of points (a
day's points / 24, at least HMIN, at most 2,000), S = -log10 of M's upper-tail rank among the series' own earlier
means (the last 6,000; none until 200). When S reaches S0 the point is an onset whatever the onset window holds
(`t["force"]`, as a new extreme's first point is) with the surprise max(base + C * S, K * S), and again each time S
reaches DOUBLE times the S that last fired, as a frozen run re-opens; S falling below S0 / 2 ends the stretch. C
adds S to every point as `sustained_context.py` does (0 here: only the forced onsets carry it). MODE=null feeds the
same pipeline -log10 of iid uniform draws instead of the term (the control: the same onsets, no evidence).

With 6,000 means at most, S cannot exceed log10(6,001) = 3.78: S0 = 3.3 asks for the highest hour in at least
2,000 means, so the doubling never fires twice in one stretch. K = 1 treats S like any per-point p-value: the rank
among n autocorrelated means is about h times too small (n / h independent hours), and the daily rate that follows
counts a day's points instead of its 24 hours, about h times too many chances; the two cancel.

    S0=3.3 K=1 NAB_DIR=../shared/nab scripts/nab-terms.py terms-42 terms-1 terms-2 \\
        --rule scripts/rules/sustained_reopen.py --out sr

docs/detection-variants.md, "Session 17", has the figures.
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

C = float(os.environ.get("C", "0"))
K = float(os.environ.get("K", "1"))
S0 = float(os.environ.get("S0", "3.3"))
DOUBLE = float(os.environ.get("DOUBLE", "2"))
HMIN = int(os.environ.get("HMIN", "12"))
MODE = os.environ.get("MODE", "ctx")
MIN_MEANS, MEMORY = 200, 6000

_state = {}
_files = 0


def combine(t, p):
    global _state, _files
    if t["index"] == 0 or not _state:
        _files += 1
        _state = {"ring": collections.deque(), "sum": 0.0, "means": [], "fifo": collections.deque(),
                  "rng": random.Random(_files), "fired": 0.0}
    st = _state
    base = _terms.combine_mean(t, p)
    x = (t["context"] or 0.0) if MODE == "ctx" else -math.log10(1 - st["rng"].random())
    l10 = t["log10_points_per_day"]
    h = int(min(max(10 ** l10 / 24, HMIN), 2000)) if l10 > 0 else HMIN
    st["ring"].append(x)
    st["sum"] += x
    while len(st["ring"]) > h:
        st["sum"] -= st["ring"].popleft()
    m = st["sum"] / len(st["ring"])
    means, fifo = st["means"], st["fifo"]
    s = 0.0
    if len(means) >= MIN_MEANS:
        above = len(means) - bisect.bisect_left(means, m)
        s = -math.log10((above + 1) / (len(means) + 1))
    bisect.insort(means, m)
    fifo.append(m)
    if len(fifo) > MEMORY:
        del means[bisect.bisect_left(means, fifo.popleft())]
    out = base + C * s
    if s < S0 / 2:
        st["fired"] = 0.0
    elif s >= S0 and s >= DOUBLE * st["fired"]:
        st["fired"] = s
        t["force"] = True
        out = max(out, K * s)
    return out

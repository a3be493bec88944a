"""A `scripts/nab-terms.py --rule`: a sustained hour that opens an episode (session 17, measured and not taken).

S is `sustained_context.py`'s (its HMIN and MODE apply; leave its FLOOR, PERDAY, MINDAYS and WEEKDAY off): the rank
surprise of the mean of the time-of-day term's surprise over the last hour of points among the series' own earlier
means (at most 6,000; none until 200). When S reaches S0 the point is an onset whatever the onset window holds
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
import importlib.util
import os

_spec = importlib.util.spec_from_file_location(
    "sustained_context", os.path.join(os.path.dirname(os.path.abspath(__file__)), "sustained_context.py"))
_context = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_context)

C = float(os.environ.get("C", "0"))
K = float(os.environ.get("K", "1"))
S0 = float(os.environ.get("S0", "3.3"))
DOUBLE = float(os.environ.get("DOUBLE", "2"))

_fired = 0.0


def combine(t, p):
    global _fired
    if t["index"] == 0:
        _fired = 0.0
    s = _context.sustained(t)
    out = _context._terms.combine_mean(t, p) + C * s
    if s < S0 / 2:
        _fired = 0.0
    elif s >= S0 and s >= DOUBLE * _fired:
        _fired = s
        t["force"] = True
        out = max(out, K * s)
    return out

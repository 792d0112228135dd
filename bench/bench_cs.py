"""Benchmark: Callaway-Sant'Anna ATT(g,t) with the multiplier bootstrap vs the csdid package.

Design: N units x 6 years (2010-2015), cohorts 2012 / 2013 / 2014 and never treated, no
covariates, never-treated controls, doubly robust estimator, 999 multiplier-bootstrap draws on
both sides. Agreement is checked first: every ATT(g,t) equals csdid's to 1e-8. Times are the
median and range of ``REPEATS`` fits; csdid is timed with ``bstrap=True`` and the same number
of draws (its bootstrap SEs are random, so only the point estimates are compared).

csdid is a reference, not a dependency: ``pip install csdid==0.4.3`` to run this benchmark
(``bench/run_all.py`` reports it as skipped otherwise).

Run: ``.venv/bin/python bench/bench_cs.py [units ...]`` (default 5000 50000).
"""

from __future__ import annotations

import contextlib
import io
import statistics
import sys
import time
import warnings

import numpy as np
import pandas as pd

REPEATS, N_DRAWS = 3, 999


def simulate(n_units: int, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    years = np.arange(2010, 2016)
    g = rng.choice([0, 2012, 2013, 2014], size=n_units, p=[0.4, 0.2, 0.2, 0.2])
    unit = np.repeat(np.arange(n_units), years.size)
    year = np.tile(years, n_units)
    gg = g[unit]
    effect = np.where((gg > 0) & (year >= gg), -0.1 - 0.02 * (year - gg), 0.0)
    y = rng.normal(size=n_units)[unit] + 0.05 * (year - 2010) + effect + rng.normal(0, 0.5, unit.size)
    return pd.DataFrame({"unit": unit, "year": year, "g": gg, "y": y})


def _ours(panel):
    import climetrics as cm

    return cm.callaway_santanna(panel, "y", adoption="g", n_draws=N_DRAWS, seed=1)


def _theirs(df, bstrap=True):
    from csdid.att_gt import ATTgt

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        return ATTgt(yname="y", tname="year", idname="unit", gname="g", data=df,
                     control_group="nevertreated", biters=N_DRAWS).fit(est_method="dr", bstrap=bstrap)


def _timed(fn):
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), [min(times), max(times)]


def one(n_units: int) -> dict:
    import climetrics as cm

    df = simulate(n_units)
    panel = cm.Panel(df, "unit", "year")
    ours = _ours(panel).attgt.sort_values(["g", "t"])
    ref = _theirs(df, bstrap=False).results
    diff = float(np.max(np.abs(ours["att"].to_numpy() - np.asarray(ref["att"], float))))
    if diff > 1e-8:
        raise AssertionError(f"ATT(g,t) differ from csdid by {diff:.1e}")
    t_ours, r_ours = _timed(lambda: _ours(panel))
    t_ref, r_ref = _timed(lambda: _theirs(df))
    return {"units": n_units, "ours_seconds": t_ours, "ours_range": r_ours,
            "reference_seconds": t_ref, "reference_range": r_ref, "ratio": t_ref / t_ours,
            "max_abs_diff": diff}


def run(sizes=(5_000,)) -> dict:
    cases = [one(n) for n in sizes]
    return {"name": f"Callaway-Sant'Anna with {N_DRAWS} multiplier-bootstrap draws vs csdid, "
            + ", ".join(f"{c['units']:,}" for c in cases) + " units x 6 years",
            "ours_seconds": sum(c["ours_seconds"] for c in cases),
            "reference_seconds": sum(c["reference_seconds"] for c in cases),
            "ratio": sum(c["reference_seconds"] for c in cases) / sum(c["ours_seconds"] for c in cases),
            "cases": cases}


def main(argv: list[str]) -> None:
    r = run(tuple(int(a) for a in argv) or (5_000, 50_000))
    for c in r["cases"]:
        print(f"{c['units']:>7,} units: climetrics {c['ours_seconds']:.2f} s [{c['ours_range'][0]:.2f}-"
              f"{c['ours_range'][1]:.2f}] | csdid {c['reference_seconds']:.2f} s [{c['reference_range'][0]:.2f}-"
              f"{c['reference_range'][1]:.2f}] | ratio {c['ratio']:.1f}x | max |ATT diff| {c['max_abs_diff']:.1e}")


if __name__ == "__main__":
    main(sys.argv[1:])

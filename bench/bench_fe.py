"""Benchmark: climetrics' fixed-effects fit (``twfe``) vs pyfixest ``feols`` at 1M and 5M rows.

Designs (unit x year panels, one treatment and two controls, CRV1 SEs clustered by unit):

* balanced, unit + year FE (the closed-form two-way demeaning);
* unbalanced (5% of rows dropped at random), unit + year FE (the exact concentrated solve);
* unbalanced, unit + year + industry-year FE (600 industry-year levels).

Agreement is checked first: coefficients and SEs equal pyfixest's with its demeaning tolerance
tightened to 1e-14 (``fixef_tol``) to 1e-10 relative. Times are the median and range of
``REPEATS`` fits each, with pyfixest at its default tolerance (1e-8); the first pyfixest fit
(numba compilation) is not timed. Peak memory is the largest numpy allocation seen by
``tracemalloc`` during one fit of each.

Run: ``.venv/bin/python bench/bench_fe.py [rows ...]`` (default 1000000 5000000).
"""

from __future__ import annotations

import statistics
import sys
import time
import tracemalloc
import warnings

import numpy as np
import pandas as pd

REPEATS, N_YEARS, N_INDUSTRIES, RTOL = 3, 10, 60, 1e-10


def simulate(rows: int, unbalanced: bool, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_units = rows // N_YEARS
    unit = np.repeat(np.arange(n_units), N_YEARS)
    year = np.tile(np.arange(2010, 2010 + N_YEARS), n_units)
    industry = rng.integers(0, N_INDUSTRIES, n_units)[unit]
    adopt = np.where(rng.random(n_units) < 0.4, rng.integers(2013, 2019, n_units), 0)[unit]
    did = ((adopt > 0) & (year >= adopt)).astype(float)
    x1, x2 = rng.normal(size=(2, unit.size))
    y = (0.1 * did + 0.5 * x1 - 0.2 * x2 + rng.normal(size=n_units)[unit]
         + rng.normal(size=N_YEARS)[year - 2010] + rng.normal(size=unit.size))
    df = pd.DataFrame({"unit": unit, "year": year, "ind_year": industry * 10_000 + year,
                       "did": did, "x1": x1, "x2": x2, "y": y})
    if unbalanced:
        df = df.loc[rng.random(len(df)) >= 0.05].reset_index(drop=True)
    return df


def _ours(panel, fe):
    import climetrics as cm

    return cm.twfe(panel, "y", "did", ["x1", "x2"], fe=fe)


def _theirs(df, fe, tol=1e-8):
    import pyfixest as pf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pf.feols(f"y ~ did + x1 + x2 | {' + '.join(fe)}", data=df, vcov={"CRV1": "unit"},
                        fixef_tol=tol)


def _timed(fn, repeats=REPEATS):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), [min(times), max(times)]


def _peak_mib(fn) -> float:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def one(rows: int, unbalanced: bool, fe: list[str]) -> dict:
    import climetrics as cm

    df = simulate(rows, unbalanced)
    panel = cm.Panel(df, "unit", "year")
    ours = _ours(panel, fe)
    ref = _theirs(df, fe, tol=1e-14)
    diff = max(
        float(np.max(np.abs(ours.coefs["estimate"].to_numpy() / ref.coef().to_numpy() - 1))),
        float(np.max(np.abs(ours.coefs["std_error"].to_numpy() / ref.se().to_numpy() - 1))),
    )
    if diff > RTOL:
        raise AssertionError(f"twfe differs from pyfixest by {diff:.1e} > {RTOL:g}")
    _theirs(df.head(1000), fe)  # numba compilation, not timed
    t_ours, r_ours = _timed(lambda: _ours(panel, fe))
    t_ref, r_ref = _timed(lambda: _theirs(df, fe))
    return {
        "design": f"{len(df):,} rows, {'unbalanced' if unbalanced else 'balanced'}, FE {' + '.join(fe)}",
        "ours_seconds": t_ours, "ours_range": r_ours,
        "reference_seconds": t_ref, "reference_range": r_ref,
        "ratio": t_ref / t_ours, "max_rel_diff": diff,
        "ours_peak_mib": _peak_mib(lambda: _ours(panel, fe)),
        "reference_peak_mib": _peak_mib(lambda: _theirs(df, fe)),
    }


def run(sizes=(1_000_000,)) -> dict:
    cases = [one(n, ub, fe) for n in sizes for ub, fe in (
        (False, ["unit", "year"]), (True, ["unit", "year"]), (True, ["unit", "year", "ind_year"]))]
    ours = sum(c["ours_seconds"] for c in cases)
    ref = sum(c["reference_seconds"] for c in cases)
    return {"name": "fixed effects: twfe vs pyfixest feols (CRV1), balanced/unbalanced, 2 and 3 FE, "
            + ", ".join(f"{n:,}" for n in sizes) + " rows (sum of medians)",
            "ours_seconds": ours, "reference_seconds": ref, "ratio": ref / ours, "cases": cases}


def main(argv: list[str]) -> None:
    sizes = tuple(int(a) for a in argv) or (1_000_000, 5_000_000)
    r = run(sizes)
    for c in r["cases"]:
        print(f"{c['design']:60s} climetrics {c['ours_seconds']:6.2f} s [{c['ours_range'][0]:.2f}-"
              f"{c['ours_range'][1]:.2f}] peak {c['ours_peak_mib']:6.0f} MiB | pyfixest "
              f"{c['reference_seconds']:6.2f} s [{c['reference_range'][0]:.2f}-{c['reference_range'][1]:.2f}] "
              f"peak {c['reference_peak_mib']:6.0f} MiB | ratio {c['ratio']:.2f}x | max rel diff "
              f"{c['max_rel_diff']:.1e}")


if __name__ == "__main__":
    main(sys.argv[1:])

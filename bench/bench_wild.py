"""Benchmark: wild cluster bootstrap (climetrics.core.wild_bootstrap) vs wildboottest.

Design: balanced panels of G units x 16 years with two controls, unit + year FE, errors
clustered by unit, WCR test of the treatment coefficient with B = 9,999 Webb draws (no full
enumeration), at G = 20, 50 and 200 clusters. The reference is pyfixest's ``Feols.wildboottest``
(the ``wildboottest`` package; fixed effects as explicit dummy columns, numba kernel compiled
before timing). Only the bootstrap is timed on both sides (the regression fit is not). Each side
is run 3 times and the median is reported; the two p-values are printed with the Monte Carlo
tolerance ``4 sqrt(2 p (1 - p) / B)`` they must agree to (different random draws).

Run: ``.venv/bin/python bench/bench_wild.py``
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import pandas as pd
import pyfixest as pf

from climetrics.core.wild_bootstrap import WildOptions, wild_bootstrap_test

SIZES = (20, 50, 200)
N_YEARS, N_DRAWS, N_REPEATS = 16, 9999, 3


def simulate(n_units: int, seed: int = 7) -> pd.DataFrame:
    """Staggered treatment of a third of the units, effect 0.1, unit-correlated errors."""
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units), N_YEARS)
    year = np.tile(np.arange(N_YEARS), n_units)
    start = np.where(rng.random(n_units) < 1 / 3, rng.integers(4, N_YEARS, n_units), 10**6)
    d = (year >= start[unit]).astype(float)
    x1, x2 = rng.normal(size=unit.size), rng.normal(size=unit.size)
    y = (0.1 * d + 0.5 * x1 - 0.3 * x2 + rng.normal(size=n_units)[unit]
         + rng.normal(size=N_YEARS)[year] + rng.normal(size=n_units)[unit] * rng.normal(size=unit.size)
         + rng.normal(size=unit.size))
    return pd.DataFrame({"unit": unit, "year": year, "d": d, "x1": x1, "x2": x2, "y": y})


def ours(df: pd.DataFrame) -> float:
    regs = ["d", "x1", "x2"]
    unit = df["unit"].to_numpy()
    (test,) = wild_bootstrap_test(df["y"].to_numpy(), df[regs].to_numpy(), regs,
                                  [unit, df["year"].to_numpy()], unit, terms=["d"],
                                  options=WildOptions(n_draws=N_DRAWS, weights_type="webb", seed=1))
    return test.p_value


def reference(fit) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fit.wildboottest(reps=N_DRAWS, param="d", weights_type="webb", seed=1)
    return float(np.asarray(out["Pr(>|t|)"]))


def _median_time(fn) -> tuple[float, object]:
    times, value = [], None
    for _ in range(N_REPEATS):
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), value


def run() -> dict:
    rows = []
    for g in SIZES:
        df = simulate(g)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = pf.feols("y ~ d + x1 + x2 | unit + year", data=df, vcov={"CRV1": "unit"})
        reference(fit)  # warm-up: numba compilation
        ours(df)
        t_ours, p_ours = _median_time(lambda df=df: ours(df))
        t_ref, p_ref = _median_time(lambda fit=fit: reference(fit))
        tol = 4 * math.sqrt(2 * max(p_ref * (1 - p_ref), 1 / N_DRAWS) / N_DRAWS)
        rows.append({"clusters": g, "n_obs": len(df), "ours_seconds": t_ours,
                     "reference_seconds": t_ref, "ratio": t_ref / t_ours, "p_ours": p_ours,
                     "p_reference": p_ref, "p_tolerance": tol})
    largest = rows[-1]
    return {
        "name": f"wild cluster bootstrap: WCR, {N_DRAWS} Webb draws, unit + year FE, "
                f"G = {', '.join(map(str, SIZES))} vs wildboottest (pyfixest)",
        "ours_seconds": largest["ours_seconds"],
        "reference_seconds": largest["reference_seconds"],
        "ratio": largest["ratio"],
        "sizes": rows,
    }


def main() -> None:
    r = run()
    print(f"design: G units x {N_YEARS} years, 2 controls, unit + year FE, WCR, B = {N_DRAWS} Webb "
          f"draws; median of {N_REPEATS} runs, bootstrap only")
    print(f"{'G':>5} {'n':>6} {'climetrics s':>13} {'wildboottest s':>15} {'ratio':>7} "
          f"{'p ours':>8} {'p ref':>8} {'|diff| <= tol':>14}")
    for row in r["sizes"]:
        ok = abs(row["p_ours"] - row["p_reference"]) <= row["p_tolerance"]
        print(f"{row['clusters']:>5} {row['n_obs']:>6} {row['ours_seconds']:>13.3f} "
              f"{row['reference_seconds']:>15.3f} {row['ratio']:>6.1f}x {row['p_ours']:>8.4f} "
              f"{row['p_reference']:>8.4f} {('yes' if ok else 'NO'):>8} ({row['p_tolerance']:.4f})")
    print("ratio = wildboottest time / climetrics time")


if __name__ == "__main__":
    main()

"""Benchmark: batched placebo TWFE kernel vs. a loop of pyfixest fits.

Design: 300 units x 16 years, 4 controls, unit + year FE, CRV1 SEs clustered by unit,
R = 1000 random staggered pseudo-treatment draws. The pyfixest loop is timed on the first
50 draws and extrapolated linearly to 1000 (the output says so). Before timing, the batched
results are checked against pyfixest on the first draws so both sides compute the same thing.

Run: ``.venv/bin/python bench/bench_placebo.py``
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
import pyfixest as pf

from climetrics.core.batched import batched_twfe

N_UNITS, N_YEARS, N_CONTROLS, N_DRAWS = 300, 16, 4, 1000
N_LOOP_TIMED, N_CHECKED, N_REPEATS = 50, 5, 5
RTOL = 1e-8
FORMULA = "y ~ d + " + " + ".join(f"x{j + 1}" for j in range(N_CONTROLS)) + " | unit + year"


def simulate(seed: int = 2024) -> tuple[pd.DataFrame, np.ndarray]:
    """Balanced panel and N_DRAWS staggered pseudo-treatment columns."""
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(N_UNITS), N_YEARS)
    year = np.tile(np.arange(N_YEARS), N_UNITS)
    X = rng.normal(size=(unit.size, N_CONTROLS))
    y = (
        X @ rng.normal(size=N_CONTROLS)
        + rng.normal(size=N_UNITS)[unit]
        + rng.normal(size=N_YEARS)[year]
        + rng.normal(size=unit.size)
    )
    start = rng.integers(3, N_YEARS + 4, size=(N_UNITS, N_DRAWS))
    D = (year[:, None] >= start[unit]).astype(float)
    df = pd.DataFrame(X, columns=[f"x{j + 1}" for j in range(N_CONTROLS)])
    df["y"], df["unit"], df["year"] = y, unit, year
    return df, D


def run_batched(df: pd.DataFrame, D: np.ndarray):
    X = df[[f"x{j + 1}" for j in range(N_CONTROLS)]].to_numpy()
    unit = df["unit"].to_numpy()
    return batched_twfe(df["y"].to_numpy(), D, X, [unit, df["year"].to_numpy()], unit)


def run_pyfixest(df: pd.DataFrame, D: np.ndarray, n: int) -> np.ndarray:
    """(n, 3) array of coefficient, SE and p-value of d from n separate pyfixest fits."""
    data = df.copy()
    out = np.empty((n, 3))
    for r in range(n):
        data["d"] = D[:, r]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = pf.feols(FORMULA, data=data, vcov={"CRV1": "unit"})
        out[r] = fit.coef()["d"], fit.se()["d"], fit.pvalue()["d"]
    return out


def check_agreement(df: pd.DataFrame, D: np.ndarray) -> float:
    """Assert batched == pyfixest on the first draws; return the largest relative difference."""
    batched = run_batched(df, D[:, :N_CHECKED])
    ours = np.column_stack([batched.coef, batched.se, batched.pvalue])
    reference = run_pyfixest(df, D, N_CHECKED)
    np.testing.assert_allclose(ours, reference, rtol=RTOL, atol=0)
    return float(np.max(np.abs(ours / reference - 1)))


def run() -> dict:
    """Check agreement, time both sides; return the timings and the ratio (for bench/run_all.py)."""
    df, D = simulate()
    max_diff = check_agreement(df, D)
    run_pyfixest(df, D, 2)  # warm-up (imports, JIT) for both sides
    run_batched(df, D[:, :2])

    times = []
    for _ in range(N_REPEATS):
        t0 = time.perf_counter()
        fit = run_batched(df, D)
        times.append(time.perf_counter() - t0)
    t_batched = float(np.median(times))

    t0 = time.perf_counter()
    run_pyfixest(df, D, N_LOOP_TIMED)
    t_loop_part = time.perf_counter() - t0
    t_loop = t_loop_part * N_DRAWS / N_LOOP_TIMED
    return {
        "name": f"placebo: {N_DRAWS} TWFE draws ({N_UNITS}x{N_YEARS}, {N_CONTROLS} controls, CRV1) "
        "batched vs pyfixest loop",
        "ours_seconds": t_batched,
        "reference_seconds": t_loop,
        "ratio": t_loop / t_batched,
        "reference_note": f"pyfixest loop timed on {N_LOOP_TIMED} fits, extrapolated linearly",
        "max_rel_diff": max_diff,
        "ours_first_seconds": times[0],
        "ours_fastest_seconds": min(times),
        "n_degenerate": fit.n_degenerate,
        "loop_seconds_timed": t_loop_part,
    }


def main() -> None:
    r = run()
    print(
        f"design: {N_UNITS} units x {N_YEARS} years (n={N_UNITS * N_YEARS}), {N_CONTROLS} controls, "
        f"unit + year FE, CRV1 by unit, R={N_DRAWS} pseudo-treatment draws"
    )
    print(
        f"check:  batched == pyfixest on the first {N_CHECKED} draws "
        f"(max relative difference {r['max_rel_diff']:.1e} <= {RTOL:g})"
    )
    print(
        f"batched kernel, {N_DRAWS} draws:  {r['ours_seconds']:8.3f} s  (median of {N_REPEATS} runs; "
        f"first {r['ours_first_seconds']:.3f} s, fastest {r['ours_fastest_seconds']:.3f} s; "
        f"{r['n_degenerate']} degenerate draws)"
    )
    print(
        f"pyfixest loop, {N_LOOP_TIMED} fits timed: {r['loop_seconds_timed']:8.3f} s  "
        f"({1000 * r['loop_seconds_timed'] / N_LOOP_TIMED:.1f} ms per fit)"
    )
    print(
        f"pyfixest loop, {N_DRAWS} fits:   {r['reference_seconds']:8.3f} s  "
        f"(extrapolated linearly from the {N_LOOP_TIMED} timed fits)"
    )
    print(f"speed-up (pyfixest loop / batched kernel): {r['ratio']:.0f}x")


if __name__ == "__main__":
    main()

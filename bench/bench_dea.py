"""Benchmark: NDDF performance of ~5,000 DMUs on one global frontier -- climetrics (one HiGHS
model per frontier, updated per DMU, column generation) vs. a loop of scipy.optimize.linprog.

Design: ``cm.simulate()`` city panel, 297 cities x 16 years = 4,752 DMUs; inputs capital,
labour, energy; good output GDP; bad output CO2; CRS; global frontier (every DMU is evaluated
against all 4,752); ZAW (2012) / seed 000 weights (1/9, 1/9, 1/9, 1/3, 1/3).

The linprog side solves the same LP as the package (ZAW 2012 model (6) with absolute slacks
``theta = beta * data``: ``X'lam + theta_x <= x_o``, ``-Y'lam + theta_y <= -y_o``,
``B'lam + theta_b = b_o``), with the constraint matrices built once outside the loop so that
only the per-DMU vectors change -- i.e. the loop pays only for a fresh solve per DMU. It is
timed on ``N_LOOP`` evenly spaced DMUs and extrapolated linearly to all DMUs (the output says
so; ``--full`` times the whole loop). Before timing, the linprog values of those DMUs are
checked against climetrics to 1e-8.

Run: ``.venv/bin/python bench/bench_dea.py [--full]``
"""

from __future__ import annotations

import sys
import time

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

import climetrics as cm
from climetrics.measure import nddf_performance

INPUTS, GOOD, BAD = ["capital", "labour", "energy"], ["gdp"], ["co2"]
W = np.array([1 / 9, 1 / 9, 1 / 9, 1 / 3, 1 / 3])
N_LOOP, N_REPEATS, TOL = 400, 3, 1e-8


def run_climetrics(panel):
    return nddf_performance(panel, INPUTS, GOOD, BAD, rts="crs", frontier="global")


def linprog_loop(Z: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """NDDF value of each DMU in ``rows`` from one linprog call per DMU (same LP)."""
    n, p = Z.shape
    # rows x1..x3 and y (theta_b has no entry there), then the bad-output equality row
    A_ub = sp.csr_matrix(
        np.hstack([np.diag([1.0, 1.0, 1.0, 1.0, 0.0])[:4], np.vstack([Z[:, :3].T, -Z[:, 3]])])
    )
    A_eq = sp.csr_matrix(np.hstack([np.array([[0, 0, 0, 0, 1.0]]), Z[:, 4][None]]))
    bounds = [(0, None)] * (p + n)
    out = np.empty(len(rows))
    for i, o in enumerate(rows):
        z = Z[o]
        c = np.r_[-W / z, np.zeros(n)]
        r = linprog(
            c,
            A_ub=A_ub,
            b_ub=np.r_[z[:3], -z[3]],
            A_eq=A_eq,
            b_eq=z[4:],
            bounds=bounds,
            method="highs",
        )
        if r.status != 0:
            raise RuntimeError(f"linprog failed for DMU {o}: {r.message}")
        out[i] = -r.fun
    return out


def run(full: bool = False) -> dict:
    """Check agreement, time both sides; return the timings and the ratio (for bench/run_all.py)."""
    panel = cm.simulate().panel
    Z = panel.df[INPUTS + GOOD + BAD].to_numpy(float)
    n = len(Z)
    res = run_climetrics(panel)  # warm-up, and the values checked below
    rows = np.arange(n) if full else np.linspace(0, n - 1, N_LOOP).round().astype(int)
    t0 = time.perf_counter()
    ref = linprog_loop(Z, rows)
    t_loop = time.perf_counter() - t0
    diff = float(np.abs(res["nddf"].to_numpy()[rows] - ref).max())
    assert diff <= TOL, f"climetrics and linprog differ by {diff:.3g}"
    times = []
    for _ in range(N_REPEATS):
        t0 = time.perf_counter()
        run_climetrics(panel)
        times.append(time.perf_counter() - t0)
    t_cm = min(times)
    how = (
        "timed on all DMUs"
        if full
        else f"timed on {len(rows)} DMUs, x{n / len(rows):.2f} extrapolated"
    )
    return {
        "name": f"DEA: NDDF of {n} DMUs on one global frontier vs a scipy linprog loop",
        "ours_seconds": t_cm,
        "reference_seconds": t_loop * n / len(rows),
        "ratio": t_loop * n / len(rows) / t_cm,
        "reference_note": f"linprog loop {how}",
        "max_abs_diff": diff,
        "n_dmus": n,
        "n_checked": len(rows),
        "loop_seconds_timed": t_loop,
    }


def main(full: bool = False) -> None:
    r = run(full)
    n = r["n_dmus"]
    print(
        f"NDDF, global CRS frontier: {n} DMUs (297 cities x 16 years), 5 variables; "
        f"one LP of {n} intensity columns per DMU"
    )
    print(
        f"check: climetrics == linprog on {r['n_checked']} DMUs, max |diff| = {r['max_abs_diff']:.2e} "
        f"(tol {TOL:g})"
    )
    print(
        f"climetrics nddf_performance : {r['ours_seconds']:8.2f} s  (best of {N_REPEATS}; "
        f"{1e3 * r['ours_seconds'] / n:.3f} ms per DMU)"
    )
    print(
        f"linprog loop                : {r['reference_seconds']:8.2f} s  ({r['reference_note']}; "
        f"{1e3 * r['loop_seconds_timed'] / r['n_checked']:.3f} ms per DMU)"
    )
    print(f"speed-up                    : {r['ratio']:8.1f} x")


if __name__ == "__main__":
    main(full="--full" in sys.argv[1:])

"""Benchmark: panel SDM with two-way fixed effects, standard errors and effects, as N grows.

Design: N units at uniform random points (N = 1,000, 3,000, 10,000, 30,000), T = 10 periods,
3 regressors; W = 6 nearest neighbours, row-standardised (asymmetric, so no symmetric
eigen-shortcut). Data simulated from an SDM with unit and period effects, rho = 0.4.

Timed (each at least 3 runs; median and range printed):

* ``sdm`` -- :func:`spatial_panel` (SDM, two-way effects, Lee-Yu, i.i.d. information-matrix
  standard errors) plus :func:`impacts` with 1,000 draws;
* ``sdm clustered`` -- the same with standard errors clustered by unit, plus effects;
* ``spreg`` (N <= 3,000, where its dense N x N inverse fits) -- PySAL ``spreg.Panel_FE_Lag`` on
  ``[X, WX]`` with unit effects against our direct-approach SDM with unit effects (the same
  model; estimates compared), and the ratio of their median times.

Above 2,000 units the information matrix uses estimated traces (see
:func:`climetrics.estimate.spatial.logdet.trace_estimates`; accuracy in tests/test_logdet.py).
Targets (issue 17): N = 10,000 under 5 s and N = 30,000 under 60 s on 2 cores.

Run: ``.venv/bin/python bench/bench_spatial.py [N ...]`` (also importable: :func:`run`).
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.linalg import splu

import climetrics as cm
from climetrics.estimate.spatial.effects import impacts
from climetrics.estimate.spatial.models import spatial_panel
from climetrics.estimate.spatial.weights import SpatialWeights

SIZES, T, K, NEIGHBOURS, RHO, SEED, REPEATS = (1000, 3000, 10_000, 30_000), 10, 3, 6, 0.4, 11, 3
SPREG_MAX_N = 3000
X = [f"x{j + 1}" for j in range(K)]


def knn_weights(pts: np.ndarray, k: int) -> sparse.csr_array:
    """Row-standardised k-nearest-neighbour matrix."""
    from scipy.spatial import cKDTree

    _, idx = cKDTree(pts).query(pts, k + 1)
    rows = np.repeat(np.arange(len(pts)), k)
    return sparse.csr_array((np.full(rows.size, 1 / k), (rows, idx[:, 1:].ravel())))


def simulate(n: int) -> tuple[pd.DataFrame, sparse.csr_array]:
    rng = np.random.default_rng(SEED)
    w = knn_weights(rng.uniform(size=(n, 2)), NEIGHBOURS)
    x = rng.normal(size=(n, T, K))
    beta, theta = np.array([1.0, -0.5, 0.3]), np.array([0.5, 0.2, 0.0])
    mu, tau = rng.normal(size=n), rng.normal(size=T)
    lu = splu(sparse.csc_array(sparse.eye_array(n) - RHO * w))
    y = np.empty((n, T))
    for t in range(T):
        rhs = x[:, t] @ beta + (w @ x[:, t]) @ theta + mu + tau[t] + rng.normal(scale=0.5, size=n)
        y[:, t] = lu.solve(rhs)
    df = pd.DataFrame(x.reshape(n * T, K), columns=X)
    df["unit"], df["year"], df["y"] = np.repeat(np.arange(n), T), np.tile(2000 + np.arange(T), n), y.ravel()
    return df, w


def fit_spreg(df: pd.DataFrame, w: sparse.csr_array, n: int):
    """spreg Panel_FE_Lag on [X, WX] (period-major long format, as spreg expects)."""
    import libpysal
    import spreg

    d = df.sort_values(["year", "unit"])
    xs = d[X].to_numpy()
    wx = np.vstack([w @ xs[t * n : (t + 1) * n] for t in range(T)])
    wl = libpysal.weights.WSP(sparse.csr_matrix(w)).to_W(silence_warnings=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        o = spreg.Panel_FE_Lag(d[["y"]].to_numpy(), np.hstack([xs, wx]), wl)
    return o.betas.ravel()


def timed(fn, repeats: int = REPEATS):
    """Wall times of ``repeats`` calls and the last output."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return times, out


def _line(label: str, times: list[float]) -> str:
    return (f"  {label:<34} median {statistics.median(times):7.2f} s   "
            f"range {min(times):6.2f}-{max(times):6.2f} s   ({len(times)} runs)")


def run(n: int = SPREG_MAX_N) -> dict:
    """Times (lists of seconds) of the fits at ``n`` units, and spreg's where it runs.

    For ``bench/run_all.py`` also ``name``, ``ours_seconds`` (median, SDM two-way with SEs
    and effects), ``reference_seconds`` (median spreg time, None above 3,000 units) and
    ``ratio`` (spreg's median over our unit-FE fit's median, the same model)."""
    df, w = simulate(n)
    panel = cm.Panel(df, unit="unit", time="year")
    sw = SpatialWeights(pd.Index(np.arange(n)), w, f"{NEIGHBOURS} nearest neighbours", row_standardized=True)

    def full(**kw):
        res = spatial_panel(panel, "y", X, sw, model="sdm", effects="twoway", **kw)
        return res, impacts(res, n_draws=1000, seed=1)

    out = {"n": n}
    out["sdm"], (res, eff) = timed(lambda: full())
    out["sdm_clustered"], (res_cl, _) = timed(lambda: full(cluster="unit"))
    out["rho"], out["traces"] = res.coef("rho"), res.meta["traces"]
    out["se_ratio_cluster_iid"] = float(res_cl.se("rho") / res.se("rho"))
    out.update(name=f"spatial panel SDM, two-way FE + SEs + effects, N={n:,}, T={T}, kNN W",
               ours_seconds=statistics.median(out["sdm"]), reference_seconds=None, ratio=None)
    if n <= SPREG_MAX_N:
        try:
            import spreg  # noqa: F401
        except ImportError:
            return out
        ours = lambda: spatial_panel(panel, "y", X, sw, model="sdm", effects="unit", lee_yu=False)  # noqa: E731
        out["ours_unit"], r = timed(ours)
        out["spreg"], b = timed(lambda: fit_spreg(df, w, n), repeats=REPEATS if n <= 1000 else 1)
        out["max_abs_diff_vs_spreg"] = float(np.max(np.abs(r.coefs["estimate"].to_numpy() - b)))
        out["reference_seconds"] = statistics.median(out["spreg"])
        out["ratio"] = out["reference_seconds"] / statistics.median(out["ours_unit"])
    return out


def main(sizes=SIZES) -> None:
    import scipy.optimize  # noqa: F401  (imports outside the timings)
    import scipy.stats  # noqa: F401

    print(f"panel SDM, two-way FE, T = {T}, {NEIGHBOURS}-NN W, with SEs and effects (1,000 draws)")
    for n in sizes:
        r = run(n)
        print(f"N = {n:,} (rho = {r['rho']:.4f}, traces {r['traces']})")
        print(_line("SDM + effects (i.i.d. SEs)", r["sdm"]))
        print(_line("SDM + effects (clustered by unit)", r["sdm_clustered"]))
        if "spreg" in r:
            print(_line("ours, SDM unit FE (direct ML)", r["ours_unit"]))
            print(_line("spreg.Panel_FE_Lag on [X, WX]", r["spreg"]))
            print(f"  ratio spreg / climetrics: {r['ratio']:.1f}x; max |diff| of estimates "
                  f"{r['max_abs_diff_vs_spreg']:.1e}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or SIZES)

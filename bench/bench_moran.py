"""Benchmark: batched Moran permutation inference vs. plain loops over the same permutations.

Design: the 337 prefecture-level cities, binary contiguity (Hainan's cities linked to their
nearest seats), row-standardised; variable = seat latitude plus N(0, 1) noise.

* Global: ``moran(..., n_draws=9999)`` (chunks of permutations as one sparse matrix
  product) vs. a Python loop computing I once per permutation, on the same permutation draws.
* Local: ``local_moran(..., n_draws=999)`` (conditional permutations of all units as one
  contraction per chunk) vs. a loop over units x permutations, timed on ``N_LOOP_UNITS`` units
  and extrapolated linearly to all 337 (the output says so).

Both loops draw their permutations with the package's own per-permutation streams
(blocks of ``replicate_rng`` streams), so the comparison is of the arithmetic, and their
p-values are checked to equal the package's before timing.

Run: ``.venv/bin/python bench/bench_moran.py``
"""

from __future__ import annotations

import time

import numpy as np

from climetrics import data
from climetrics.estimate.spatial.moran import PERMUTATION_BLOCK, _draws, local_moran, moran
from climetrics.estimate.spatial.weights import contiguity

R_GLOBAL, R_LOCAL, N_LOOP_UNITS, SEED = 9999, 999, 20, 1


def setup():
    c = data.cities()
    w = contiguity("city", ids=c["adcode"], attach_islands="nearest").standardized()
    x = c["lat"].to_numpy() + np.random.default_rng(0).normal(size=len(c))
    return w, x


def global_loop(x, w):
    z = x - x.mean()
    m, n = w.matrix, z.size
    obs = n / m.sum() * (z @ (m @ z)) / (z @ z)
    above = below = 0
    for perm in _draws(np.arange(-(-R_GLOBAL // PERMUTATION_BLOCK)), SEED, R_GLOBAL, n):
        zp = z[perm]
        ip = n / m.sum() * (zp @ (m @ zp)) / (z @ z)
        above, below = above + (ip >= obs), below + (ip <= obs)
    return (1 + min(above, below)) / (R_GLOBAL + 1)


def local_loop(x, w, units):
    z = x - x.mean()
    n, m2 = z.size, z @ z / z.size
    blocks = np.arange(-(-R_LOCAL // PERMUTATION_BLOCK))
    draws = _draws(blocks, SEED, R_LOCAL, n - 1, int(np.diff(w.matrix.indptr).max()))
    out = []
    for i in units:
        row = w.matrix[[i]]
        obs = z[i] / m2 * (row @ z)[0]
        above = below = 0
        for d in draws:
            others = d[: row.nnz] + (d[: row.nnz] >= i)
            ip = z[i] / m2 * (z[others] @ row.data)
            above, below = above + (ip >= obs), below + (ip <= obs)
        out.append((1 + min(above, below)) / (R_LOCAL + 1))
    return np.array(out)


def best_of(fn, repeats=3):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main():
    w, x = setup()
    t_cm, r = best_of(lambda: moran(x, w, n_draws=R_GLOBAL, seed=SEED))
    t_loop, p_loop = best_of(lambda: global_loop(x, w), repeats=1)
    assert r.p_perm == p_loop, (r.p_perm, p_loop)
    print(
        f"global Moran, n={w.n}, {R_GLOBAL} permutations: climetrics {t_cm:.3f} s, "
        f"loop {t_loop:.3f} s, ratio {t_loop / t_cm:.1f}x"
    )

    t_cm, loc = best_of(lambda: local_moran(x, w, n_draws=R_LOCAL, seed=SEED))
    units = np.arange(N_LOOP_UNITS)
    t_part, p_loop = best_of(lambda: local_loop(x, w, units), repeats=1)
    np.testing.assert_array_equal(loc["p_perm"].to_numpy()[units], p_loop)
    t_loop = t_part * w.n / N_LOOP_UNITS
    print(
        f"local Moran, n={w.n}, {R_LOCAL} permutations: climetrics {t_cm:.3f} s, loop "
        f"{t_loop:.1f} s (timed on {N_LOOP_UNITS} units, extrapolated), ratio {t_loop / t_cm:.0f}x"
    )


if __name__ == "__main__":
    main()

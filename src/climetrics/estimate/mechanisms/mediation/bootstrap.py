"""The batched cluster bootstrap of the mediation paths (see the package docstring) and its
percentile and bias-corrected intervals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ....core.demean import _Factor
from ....errors import EstimationError

#: Size of one ``(n, draws, variables)`` float block of the batched bootstrap (2 MiB measured
#: twice as fast as 32 MiB in bench/bench_bootstrap.py: blocks stay in cache).
_CHUNK_BYTES = 2 * 2**20


def percentile_ci(draws: np.ndarray, alpha: float = 0.05) -> tuple[float, float]:
    """Percentile bootstrap interval: the ``alpha/2`` and ``1 - alpha/2`` quantiles."""
    d = np.asarray(draws, dtype=float)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.quantile(d, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def bias_corrected_ci(draws: np.ndarray, estimate: float, alpha: float = 0.05) -> tuple[float, float]:
    """Bias-corrected (BC) percentile interval (Efron 1987; Efron & Tibshirani 1993, §14.3).

    ``z0 = Φ⁻¹(share of draws below the estimate)`` (ties count one half); the interval is the
    pair of draw quantiles at ``Φ(2 z0 ± z_{1-alpha/2})``. The share is clipped to
    ``[1/(2B), 1 - 1/(2B)]`` so that ``z0`` stays finite. No acceleration constant (that would
    be BCa), as in the mediation literature (MacKinnon et al. 2004).
    """
    d = np.asarray(draws, dtype=float)
    d = d[np.isfinite(d)]
    if d.size == 0 or not np.isfinite(estimate):
        return float("nan"), float("nan")
    n = d.size
    share = (np.sum(d < estimate) + 0.5 * np.sum(d == estimate)) / n
    share = min(max(share, 0.5 / n), 1 - 0.5 / n)
    z0 = stats.norm.ppf(share)
    zc = stats.norm.ppf(1 - alpha / 2)
    qs = stats.norm.cdf([2 * z0 - zc, 2 * z0 + zc])
    lo, hi = np.quantile(d, qs)
    return float(lo), float(hi)


# ---------------------------------------------------------------------- batched bootstrap
def _weighted_demean(
    X3: np.ndarray, w: np.ndarray, factors: list[_Factor], tol: float, maxiter: int
) -> np.ndarray:
    """Weighted within transformation of ``X3`` (n, c, p), one weight column per draw (n, c).

    Weighted alternating projections (Gauss–Seidel sweeps over the fixed effects): subtract
    the weighted mean of each FE level, draw by draw, until every weighted level mean is at most
    ``tol`` times the column's largest absolute value. A draw stops sweeping as soon as it has
    converged, so its result does not depend on the other draws of the chunk (the replicate
    engine may chunk draws in any way). Levels with zero total weight (units not drawn) are left
    untouched; their rows carry zero weight anyway. Modifies ``X3`` in place.
    """
    n, c, p = X3.shape
    inv = []
    for f in factors:
        s = np.asarray(f.summer @ w)
        inv.append(np.divide(1.0, s, out=np.zeros_like(s), where=s > 0))
    scale = np.abs(X3).max(axis=0)
    active = np.arange(c)
    work = X3
    for _ in range(maxiter):
        largest = np.zeros((active.size, p))
        for f, iv in zip(factors, inv, strict=True):
            sums = np.asarray(f.summer @ (work * w[:, :, None]).reshape(n, active.size * p))
            means = sums.reshape(-1, active.size, p) * iv[:, :, None]
            work -= means[f.codes]
            np.maximum(largest, np.abs(means).max(axis=0), out=largest)
        done = np.all(largest <= tol * scale, axis=1)
        if done.any() and work is not X3:
            X3[:, active[done]] = work[:, done]
        if done.all():
            return X3
        if done.any():  # continue with the draws still moving only
            keep = ~done
            active, work, w, scale = active[keep], work[:, keep], w[:, keep], scale[keep]
            inv = [iv[:, keep] for iv in inv]
    raise EstimationError(
        f"weighted fixed-effect demeaning in the bootstrap did not converge in {maxiter} sweeps"
    )


def bootstrap_gram(
    V: np.ndarray,
    fe: Sequence[np.ndarray],
    cluster: np.ndarray,
    weights: np.ndarray,
    *,
    chunk_size: int | None = None,
    tol: float = 1e-13,
    maxiter: int = 10_000,
) -> np.ndarray:
    """Weighted within cross-product matrices of ``V`` for many cluster-bootstrap draws.

    Parameters
    ----------
    V : ndarray, shape (n, p)
        Variables of the regressions (outcome, mediator, treatment, controls), rows already
        restricted to the estimation sample.
    fe : sequence of integer code arrays, each (n,)
        Fixed effects; an empty sequence means a constant only (pooled OLS).
    cluster : ndarray of int, shape (n,)
        Cluster code ``0..G-1`` of every row (the resampling unit).
    weights : ndarray, shape (G, B)
        How many times each cluster is drawn in each bootstrap sample.

    Returns
    -------
    ndarray, shape (B, p, p)
        ``Σ_i m_ib v~_ib v~_ib'`` with ``v~_ib`` the row of ``V`` net of the fixed effects under
        the weights ``m_ib = weights[cluster_i, b]``. Any least-squares coefficient of one
        column of ``V`` on others (with the fixed effects) follows from blocks of it. Each
        draw's matrix is computed independently of the others (same result in any chunking).
    """
    V = np.asarray(V, dtype=float)
    n, p = V.shape
    weights = np.asarray(weights, dtype=float)
    fe = list(fe) if len(fe) else [np.zeros(n, dtype=np.intp)]
    factors = [_Factor.from_codes(f) for f in fe]
    n_draws = weights.shape[1]
    size = chunk_size or _default_chunk(n, p)
    out = np.empty((n_draws, p, p))
    for start in range(0, n_draws, size):
        cols = slice(start, min(start + size, n_draws))
        w = weights[cluster, cols]  # (n, c)
        X3 = np.repeat(V[:, None, :], w.shape[1], axis=1)
        _weighted_demean(X3, w, factors, tol, maxiter)
        for j in range(w.shape[1]):  # contiguous per-draw products: chunking-independent
            v = np.ascontiguousarray(X3[:, j, :])
            out[start + j] = (v * w[:, j : j + 1]).T @ v
    return out


def _default_chunk(n: int, p: int) -> int:
    """Draws per block of the batched bootstrap (one ``(n, draws, p)`` block of _CHUNK_BYTES)."""
    return max(1, _CHUNK_BYTES // (8 * n * p))


def cluster_bootstrap_weights(n_clusters: int, seed: int, draws: np.ndarray) -> np.ndarray:
    """``(G, len(draws))`` cluster frequencies ``m ~ Multinomial(G, 1/G)`` of bootstrap
    ``draws``, each from its own stream (:func:`climetrics.core.replicate.replicate_rng`)."""
    from ....core.replicate import replicate_rng

    p = np.full(n_clusters, 1.0 / n_clusters)
    out = np.empty((n_clusters, len(draws)), dtype=np.int64)
    for j, b in enumerate(draws):
        out[:, j] = replicate_rng(seed, b).multinomial(n_clusters, p)
    return out


@dataclass(frozen=True)
class MediationBootstrapJob:
    """Shared data of :func:`mediation_bootstrap_kernel`: the sample's variables, FE and
    cluster codes, and the column positions of the three Baron–Kenny regressions."""

    V: np.ndarray
    fe: list[np.ndarray]
    cluster: np.ndarray
    n_clusters: int
    seed: int
    y: int
    m: int
    treat: int
    ctrl_a: list[int]
    ctrl_b: list[int]
    ctrl_c: list[int]


def mediation_bootstrap_kernel(draws: np.ndarray, job: MediationBootstrapJob) -> np.ndarray:
    """Replicate kernel: ``(len(draws), 5)`` array of ``a, b, c', c`` and a void flag (draws in
    which the treatment has no variation left, e.g. no treated unit drawn)."""
    weights = cluster_bootstrap_weights(job.n_clusters, job.seed, draws)
    gram = bootstrap_gram(job.V, job.fe, job.cluster, weights)
    it = job.treat
    coef_a = _solve_blocks(gram, job.m, [it, *job.ctrl_a])
    coef_b = _solve_blocks(gram, job.y, [it, job.m, *job.ctrl_b])
    coef_c = _solve_blocks(gram, job.y, [it, *job.ctrl_c])
    t = job.V[:, it]
    w = weights[job.cluster]
    wsum = w.sum(axis=0)
    tss = (w * t[:, None] ** 2).sum(axis=0) - (w * t[:, None]).sum(axis=0) ** 2 / wsum
    void = gram[:, it, it] <= 1e-9 * np.maximum(tss, np.finfo(float).tiny)
    return np.column_stack([coef_a[:, 0], coef_b[:, 1], coef_b[:, 0], coef_c[:, 0], void])


def _solve_blocks(gram: np.ndarray, lhs: int, rhs: Sequence[int]) -> np.ndarray:
    """Coefficients of column ``lhs`` on columns ``rhs`` for every draw (NaN if singular)."""
    rhs = list(rhs)
    A = gram[:, rhs][:, :, rhs]
    c = gram[:, rhs, lhs]
    try:
        return np.linalg.solve(A, c[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:
        out = np.full(c.shape, np.nan)
        for i in range(A.shape[0]):
            try:
                out[i] = np.linalg.solve(A[i], c[i])
            except np.linalg.LinAlgError:
                pass
        return out


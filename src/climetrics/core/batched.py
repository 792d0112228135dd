"""Batched TWFE regressions for placebo and randomization-inference tests.

A placebo test re-estimates the same fixed-effects regression

    y_it = beta * D_it^(r) + X_it' gamma + alpha_i + lambda_t + e_it

for many pseudo-treatment columns ``D^(r)``, r = 1..R. Everything that does not involve
``D^(r)`` is shared, so the R regressions collapse into a few matrix operations:

1. Within-transform ``y``, ``X`` and all columns of ``D`` once (see :mod:`.within`).
2. Partial the demeaned controls ``X~`` out of ``y~`` and of every ``d~_r`` with one QR
   factorisation ``X~ = QR``: ``v* = v~ - Q Q' v~``.
3. By the Frisch–Waugh–Lovell (FWL) theorem ``beta_r = d*_r'y* / d*_r'd*_r`` and the residuals
   ``e_r = y* - beta_r d*_r`` are those of the full regression.
4. The row of ``(W'W)^{-1} W'`` belonging to ``beta`` in the full design ``W = [d~_r, X~]`` is
   ``d*_r' / d*_r'd*_r``, so the (beta, beta) element of the cluster-robust (CRV1) sandwich is

       V_r = c * sum_g (sum_{i in g} d*_ri e_ri)^2 / (d*_r'd*_r)^2

   with ``c`` the small-sample correction. The cluster sums for all r are one sparse product
   of the ``(G, n)`` cluster-indicator matrix with the ``(n, R)`` matrix ``d*_r * e_r``.

Columns of ``D`` are processed in chunks to bound memory. Results equal separate
``pyfixest.feols("y ~ d + x1 + ... | unit + time", vcov={"CRV1": cluster})`` fits with
pyfixest's default small-sample correction (see :class:`SmallSampleCorrection`).

References
----------
Frisch, R. and Waugh, F. V. (1933); Lovell, M. C. (1963). The FWL theorem.

Cameron, A. C., Gelbach, J. B. and Miller, D. L. (2011). Robust inference with multiway
clustering. *Journal of Business & Economic Statistics* 29(2), 238–249.

Cameron, A. C. and Miller, D. L. (2015). A practitioner's guide to cluster-robust inference.
*Journal of Human Resources* 50(2), 317–372.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import scipy.stats

from ..errors import EstimationError
from .covariance import SmallSampleCorrection
from .demean import FixedEffects, find_singletons

__all__ = ["BatchedFit", "batched_twfe", "batched_twfe_full"]

#: Default size of one ``(n, chunk)`` float block, and the fewest draws a chunk holds. A chunk
#: keeps about six such blocks alive. Per-chunk overhead (the demeaning passes, the thin
#: products with the controls' Q, the sparse cluster sums) is paid per call, so chunks of one
#: or two draws -- what a 1 MiB block gives at 60,000+ rows -- were three times slower than
#: chunks of 16+ draws (bench/bench_placebo.py at 3,000 x 20); 16 MiB blocks keep memory near
#: 100 MB for small panels and about 300 MB at 400,000 rows.
_CHUNK_BYTES = 16 * 2**20
_MIN_CHUNK = 16


@dataclass(frozen=True)
class BatchedFit:
    """Estimates of R regressions that differ only in the treatment column.

    Attributes
    ----------
    coef, se, tstat, pvalue : ndarray
        Shape ``(R,)`` for :func:`batched_twfe` (the treatment coefficient); shape
        ``(R, 1 + k)`` for :func:`batched_twfe_full` (treatment first, then the controls).
        NaN for degenerate draws.
    degenerate : ndarray of bool, shape (R,)
        Draws whose treatment column has no variation left after the fixed effects and
        controls are partialled out (pyfixest would drop the variable).
    n_obs : int
        Observations used (after dropping missing rows and, by default, singletons).
    n_clusters : int
    df_k : int
        Parameter count of the small-sample correction (see :class:`SmallSampleCorrection`).
    df_t : int
        Degrees of freedom of the t distribution, ``n_clusters - 1``.
    ssc_factor : float
        Multiplier applied to the CRV1 sandwich.
    n_missing : int
        Rows dropped for missing values.
    n_singletons : int
        Singleton observations found (dropped unless ``drop_singletons=False``).
    """

    coef: np.ndarray
    se: np.ndarray
    tstat: np.ndarray
    pvalue: np.ndarray
    degenerate: np.ndarray
    n_obs: int
    n_clusters: int
    df_k: int
    df_t: int
    ssc_factor: float
    n_missing: int
    n_singletons: int

    @property
    def n_degenerate(self) -> int:
        """Number of degenerate draws."""
        return int(self.degenerate.sum())


def batched_twfe(
    y: np.ndarray,
    D: np.ndarray,
    X: np.ndarray | None,
    fe: Sequence[np.ndarray],
    cluster: np.ndarray,
    *,
    ssc: SmallSampleCorrection | None = None,
    drop_singletons: bool = True,
    chunk_size: int | None = None,
    tol: float = 1e-12,
    maxiter: int = 10_000,
    collin_tol: float = 1e-9,
) -> BatchedFit:
    """Estimate ``y ~ d_r + X | fe`` with CRV1 standard errors for every column ``d_r`` of D.

    Parameters
    ----------
    y : ndarray, shape (n,)
        Outcome.
    D : ndarray, shape (n, R) or (n,)
        Treatment draws, one regression per column.
    X : ndarray, shape (n, k), or None
        Controls common to all regressions (``None`` or ``k = 0`` for none).
    fe : sequence of integer code arrays, each of shape (n,)
        Fixed effects, e.g. ``[unit_codes, time_codes]``. A negative code marks a missing
        value (the convention of :func:`pandas.factorize`).
    cluster : integer code array, shape (n,)
        Cluster of each observation (negative = missing).
    ssc : SmallSampleCorrection, optional
        Small-sample correction; default matches pyfixest's default.
    drop_singletons : bool
        Drop observations that are alone in a level of some FE, as pyfixest and fixest do by
        default. Their number is reported in ``n_singletons`` and in a warning either way.
    chunk_size : int, optional
        Number of D columns processed at once. Default: as many as keep one ``(n, chunk)``
        block at about 4 MiB (at least one column); working memory is about six such blocks.
    tol, maxiter : float, int
        Convergence settings of the alternating projections (unbalanced panels).
    collin_tol : float
        A draw is degenerate if the residual sum of squares of ``d_r`` on the FE and controls
        is at most ``collin_tol`` times its total sum of squares about its mean.

    Returns
    -------
    BatchedFit
        ``coef``, ``se``, ``tstat`` and ``pvalue`` of shape ``(R,)``.

    Raises
    ------
    EstimationError
        On inconsistent shapes, rows where only some draws are missing, collinear controls,
        fewer than two clusters, or non-convergence of the demeaning.

    Notes
    -----
    Rows with a missing outcome, control, FE or cluster code, or with every draw missing,
    are dropped for all draws (as pyfixest drops them in each fit). Rows where only some
    draws are missing are rejected, because separate fits would then use different samples.
    """
    model, D = _Model.build(y, D, X, fe, cluster, ssc, drop_singletons, tol, maxiter, collin_tol)
    coef = np.full(D.shape[1], np.nan)
    var = np.full(D.shape[1], np.nan)
    degenerate = np.zeros(D.shape[1], dtype=bool)
    for cols in model.column_blocks(D.shape[1], chunk_size):
        coef[cols], var[cols], degenerate[cols] = model.treatment_moments(D[model.rows, cols])
    return model.fit(coef, var, degenerate)


def batched_twfe_full(
    y: np.ndarray,
    D: np.ndarray,
    X: np.ndarray | None,
    fe: Sequence[np.ndarray],
    cluster: np.ndarray,
    *,
    ssc: SmallSampleCorrection | None = None,
    drop_singletons: bool = True,
    chunk_size: int | None = None,
    tol: float = 1e-12,
    maxiter: int = 10_000,
    collin_tol: float = 1e-9,
) -> BatchedFit:
    """Like :func:`batched_twfe`, but return every slope coefficient and its CRV1 SE.

    The control coefficients follow from FWL without refitting,
    ``gamma_r = (X~'X~)^{-1} X~'(y~ - beta_r d~_r)``. Their standard errors need the full
    ``(1 + k)``-dimensional sandwich ``B_r^{-1} (sum_g s_gr s_gr') B_r^{-1}`` with
    ``B_r = W_r'W_r``, ``W_r = [d~_r, X~]`` and cluster scores ``s_gr = sum_{i in g} W_ri e_ri``;
    ``B_r^{-1}`` is formed blockwise from the QR factor of ``X~`` and ``d*_r'd*_r``. This costs
    about ``1 + k`` times as much as :func:`batched_twfe`.

    Parameters and exceptions are those of :func:`batched_twfe`.

    Returns
    -------
    BatchedFit
        ``coef``, ``se``, ``tstat`` and ``pvalue`` of shape ``(R, 1 + k)``: column 0 is the
        treatment, columns ``1..k`` the controls in the order of ``X``.
    """
    model, D = _Model.build(y, D, X, fe, cluster, ssc, drop_singletons, tol, maxiter, collin_tol)
    width = 1 + model.X.shape[1]
    coef = np.full((D.shape[1], width), np.nan)
    var = np.full((D.shape[1], width), np.nan)
    degenerate = np.zeros(D.shape[1], dtype=bool)
    for cols in model.column_blocks(D.shape[1], chunk_size):
        chunk = model.fit_chunk(cols, D[model.rows, cols])
        h = model.solve_controls(chunk.d_tilde)  # (k, c): coefficients of d~_r on X~
        coef[chunk.cols, 0] = chunk.beta
        coef[chunk.cols, 1:] = model.gamma_y - (h * chunk.beta).T
        bread = model.bread_inverse(h, chunk.ss)  # (c, 1+k, 1+k)
        scores = np.stack(
            [model.cluster_sums(w * chunk.resid) for w in model.design_columns(chunk.d_tilde)],
            axis=-1,
        )  # (G, c, 1+k)
        influence = np.einsum("rij,grj->gri", bread, scores)
        var[chunk.cols] = np.sum(influence**2, axis=0)
        degenerate[chunk.cols] = chunk.degenerate
    return model.fit(coef, var, degenerate)


@dataclass(frozen=True)
class _Chunk:
    """Per-chunk quantities shared by the two estimators."""

    cols: slice
    d_tilde: np.ndarray  # FE-demeaned draws (n, c)
    d_star: np.ndarray  # draws with FE and controls partialled out (n, c)
    ss: np.ndarray  # d*'d*, NaN where degenerate (c,)
    beta: np.ndarray  # NaN where degenerate (c,)
    resid: np.ndarray  # residuals of the full regressions (n, c)
    degenerate: np.ndarray  # (c,)


@dataclass(frozen=True)
class _Model:
    """The parts of the R regressions that do not depend on the draw (picklable: this is the
    shared data of the placebo kernel on parallel backends)."""

    rows: np.ndarray  # indices of the rows used
    fes: FixedEffects
    X: np.ndarray  # demeaned controls (n, k)
    q: np.ndarray  # Q of the QR factorisation of X (n, k)
    r: np.ndarray  # R of the QR factorisation of X (k, k)
    y_star: np.ndarray  # outcome with FE and controls partialled out (n,)
    gamma_y: np.ndarray  # coefficients of y~ on X~ (k,)
    summer: sp.csr_matrix  # cluster indicator (G, n)
    n_clusters: int
    df_k: int
    ssc_factor: float
    n_missing: int
    n_singletons: int
    tol: float
    maxiter: int
    collin_tol: float

    @classmethod
    def build(
        cls, y, D, X, fe, cluster, ssc, drop_singletons, tol, maxiter, collin_tol
    ) -> tuple[_Model, np.ndarray]:
        """The model and the validated ``(n_input, R)`` draws (only used to select rows)."""
        y, D, X, fe, cluster = _as_arrays(y, D, X, fe, cluster)
        rows, n_missing, n_singletons = _usable_rows(y, D, X, fe, cluster, drop_singletons)
        fes = FixedEffects([f[rows] for f in fe])
        cluster = np.unique(cluster[rows], return_inverse=True)[1].ravel()
        n_clusters = int(cluster.max()) + 1
        if n_clusters < 2:
            raise EstimationError("clustered standard errors need at least two clusters")
        X_tilde = fes.demean(X[rows], tol=tol, maxiter=maxiter)
        q, r = _controls_qr(X_tilde, X[rows], collin_tol)
        y_tilde = fes.demean(y[rows], tol=tol, maxiter=maxiter)
        qy = q.T @ y_tilde
        ssc = SmallSampleCorrection() if ssc is None else ssc
        df_k = ssc.df_k(1 + X.shape[1], fes.n_levels, fes.nested_in(cluster))
        model = cls(
            rows=rows,
            fes=fes,
            X=X_tilde,
            q=q,
            r=r,
            y_star=y_tilde - q @ qy,
            gamma_y=scipy.linalg.solve_triangular(r, qy),
            summer=sp.csr_matrix(
                (np.ones(rows.size), (cluster, np.arange(rows.size))),
                shape=(n_clusters, rows.size),
            ),
            n_clusters=n_clusters,
            df_k=df_k,
            ssc_factor=ssc.factor(rows.size, df_k, n_clusters),
            n_missing=n_missing,
            n_singletons=n_singletons,
            tol=tol,
            maxiter=maxiter,
            collin_tol=collin_tol,
        )
        return model, D

    def default_chunk(self) -> int:
        """Draws per block: one ``(n, chunk)`` block of about :data:`_CHUNK_BYTES`, and at least
        :data:`_MIN_CHUNK` draws."""
        return max(_MIN_CHUNK, _CHUNK_BYTES // (8 * self.rows.size))

    def column_blocks(self, n_draws: int, chunk_size: int | None) -> Iterator[slice]:
        """Consecutive column slices of ``chunk_size`` (default :meth:`default_chunk`) draws."""
        size = chunk_size or self.default_chunk()
        for start in range(0, n_draws, size):
            yield slice(start, min(start + size, n_draws))

    def treatment_moments(self, d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Treatment coefficient, unscaled CRV1 variance and degeneracy of every column of
        ``d`` (rows already restricted to :attr:`rows`); each column is fitted on its own."""
        chunk = self.fit_chunk(slice(0, d.shape[1]), d)
        scores = self.cluster_sums(chunk.d_star * chunk.resid)
        return chunk.beta, np.sum(scores**2, axis=0) / chunk.ss**2, chunk.degenerate

    def fit_chunk(self, cols: slice, d: np.ndarray) -> _Chunk:
        """Demean, partial out and fit the draws ``d`` (the columns ``cols`` of D)."""
        total = _centered_ss(d)
        d_tilde = self.fes.demean(d, tol=self.tol, maxiter=self.maxiter)
        d_star = d_tilde - _thin_product(self.q, _thin_product(self.q.T, d_tilde))
        ss = np.einsum("ij,ij->j", d_star, d_star)
        degenerate = ss <= self.collin_tol * total
        ss[degenerate] = np.nan
        beta = np.einsum("ic,i->c", d_star, self.y_star) / ss
        resid = d_star * -beta
        resid += self.y_star[:, None]
        return _Chunk(cols, d_tilde, d_star, ss, beta, resid, degenerate)

    def cluster_sums(self, M: np.ndarray) -> np.ndarray:
        """``(G, c)`` sums of the rows of ``M`` within each cluster."""
        return np.asarray(self.summer @ M)

    def solve_controls(self, V: np.ndarray) -> np.ndarray:
        """Least-squares coefficients of every column of ``V`` on the demeaned controls."""
        return scipy.linalg.solve_triangular(self.r, _thin_product(self.q.T, V))

    def design_columns(self, d_tilde: np.ndarray) -> Iterator[np.ndarray]:
        """The columns of ``W_r = [d~_r, X~]``, each broadcastable against ``(n, c)``."""
        yield d_tilde
        for j in range(self.X.shape[1]):
            yield self.X[:, j : j + 1]

    def bread_inverse(self, h: np.ndarray, ss: np.ndarray) -> np.ndarray:
        """``(W_r'W_r)^{-1}`` for every draw by the partitioned inverse.

        With ``A = X~'X~``, ``h_r = A^{-1} X~'d~_r`` and ``s_r = d*_r'd*_r`` (the Schur
        complement): ``[[1/s, -h'/s], [-h/s, A^{-1} + h h'/s]]``.
        """
        k, c = h.shape
        r_inv = scipy.linalg.solve_triangular(self.r, np.eye(k))
        out = np.empty((c, 1 + k, 1 + k))
        out[:, 0, 0] = 1.0 / ss
        out[:, 0, 1:] = -(h / ss).T
        out[:, 1:, 0] = out[:, 0, 1:]
        out[:, 1:, 1:] = (r_inv @ r_inv.T) + np.einsum("ir,jr->rij", h, h / ss)
        return out

    def fit(self, coef: np.ndarray, var: np.ndarray, degenerate: np.ndarray) -> BatchedFit:
        """Apply the small-sample correction and form t statistics and p-values."""
        if degenerate.any():
            warnings.warn(
                f"{int(degenerate.sum())} of {degenerate.size} treatment draws have no variation "
                "left after the fixed effects and controls; their estimates are NaN",
                stacklevel=3,
            )
        se = np.sqrt(self.ssc_factor * var)
        tstat = coef / se
        df_t = self.n_clusters - 1
        return BatchedFit(
            coef=coef,
            se=se,
            tstat=tstat,
            pvalue=2.0 * scipy.stats.t.sf(np.abs(tstat), df_t),
            degenerate=degenerate,
            n_obs=int(self.rows.size),
            n_clusters=self.n_clusters,
            df_k=self.df_k,
            df_t=df_t,
            ssc_factor=self.ssc_factor,
            n_missing=self.n_missing,
            n_singletons=self.n_singletons,
        )


def _as_arrays(y, D, X, fe, cluster):
    """Validate shapes and dtypes; return float y (n,), D (n, R), X (n, k) and int codes."""
    y = np.asarray(y, dtype=float).ravel()
    n = y.size
    D = np.asarray(D, dtype=float)
    D = D.reshape(n, -1) if D.ndim == 1 else D
    X = np.empty((n, 0)) if X is None else np.asarray(X, dtype=float)
    X = X.reshape(n, -1) if X.ndim == 1 else X
    fe = [_codes(f, f"fe[{i}]", n) for i, f in enumerate(fe)]
    cluster = _codes(cluster, "cluster", n)
    for name, arr in (("D", D), ("X", X)):
        if arr.shape[0] != n:
            raise EstimationError(f"{name} has {arr.shape[0]} rows but y has {n}")
    if D.shape[1] == 0:
        raise EstimationError("D has no columns: nothing to estimate")
    if not fe:
        raise EstimationError("batched_twfe needs at least one fixed effect")
    return y, D, X, fe, cluster


def _codes(arr, name: str, n: int) -> np.ndarray:
    arr = np.asarray(arr)
    if not np.issubdtype(arr.dtype, np.integer):
        raise EstimationError(
            f"{name} must hold integer codes (e.g. from pandas.factorize), not {arr.dtype}"
        )
    if arr.shape != (n,):
        raise EstimationError(f"{name} has shape {arr.shape}, expected ({n},)")
    return arr


def _usable_rows(y, D, X, fe, cluster, drop_singletons: bool) -> tuple[np.ndarray, int, int]:
    """Row indices kept for estimation, the number missing and the number of singletons."""
    d_missing = np.isnan(D)
    partial = d_missing.any(axis=1) & ~d_missing.all(axis=1)
    if partial.any():
        first = int(np.flatnonzero(partial)[0])
        raise EstimationError(
            f"{int(partial.sum())} rows (first: row {first}) are missing in some treatment "
            "draws but not in others; separate fits would use different samples"
        )
    codes_missing = np.any([f < 0 for f in [*fe, cluster]], axis=0)
    missing = np.isnan(y) | np.isnan(X).any(axis=1) | d_missing[:, 0] | codes_missing
    rows = np.flatnonzero(~missing)
    singleton = find_singletons([f[rows] for f in fe])
    n_singletons = int(singleton.sum())
    if n_singletons:
        action = "dropped" if drop_singletons else "kept"
        warnings.warn(f"{n_singletons} singleton observations {action}", stacklevel=4)
    if drop_singletons:
        rows = rows[~singleton]
    if rows.size == 0:
        raise EstimationError("no observations left after dropping missing values and singletons")
    return rows, int(missing.sum()), n_singletons


def _controls_qr(X_tilde: np.ndarray, X_raw: np.ndarray, collin_tol: float):
    """Reduced QR of the demeaned controls; reject controls collinear with FE or each other."""
    q, r = np.linalg.qr(X_tilde)
    scale = np.sqrt(_centered_ss(X_raw))
    bad = np.abs(np.diag(r)) <= np.sqrt(collin_tol) * np.maximum(scale, np.finfo(float).tiny)
    if bad.any():
        raise EstimationError(
            f"control column(s) {np.flatnonzero(bad).tolist()} of X are collinear with the fixed "
            "effects or with earlier controls; drop them"
        )
    return q, r


def _thin_product(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``A @ B`` for a product with a thin (k-column or k-row) factor, without BLAS threads.

    These products are memory-bound, so threads gain little; multithreaded BLAS, called
    many times per chunk, was measured to slow the whole kernel threefold when other
    processes keep the cores busy (e.g. several placebo runs in parallel).
    """
    return np.einsum("ij,jk->ik", A, B)


def _centered_ss(M: np.ndarray) -> np.ndarray:
    """Sum of squares of every column of ``M`` about its mean (for tolerance thresholds)."""
    mean = M.mean(axis=0)
    return np.maximum(np.einsum("ij,ij->j", M, M) - M.shape[0] * mean**2, 0.0)

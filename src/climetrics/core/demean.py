"""Fixed-effects projection (the within transformation) for many columns at once.

The within transformation replaces every column ``x`` of a matrix by its residual from a
regression on a set of fixed effects (FE), ``M_F x``. By the Frisch–Waugh–Lovell theorem
the slope coefficients of ``y ~ X | FE`` are those of ``M_F y ~ M_F X``.

* One FE: ``M_F x`` is ``x`` minus its group means (exact, one pass).
* A balanced unit x time panel (every unit observed exactly once in every period): the
  closed form ``x - unit mean - time mean + grand mean``.
* Unbalanced panels and three or more FE where all but the largest FE have few levels in all
  (e.g. unit + year, firm + year + industry-year): the exact concentrated solve. With ``a`` the
  largest FE and ``D`` the dummies of the others (``L`` columns), FWL gives

      M_F x = M_a (x - D theta),   (D' M_a D) theta = D' M_a x,

  an ``L x L`` system whose matrix ``D'D - C' diag(1/n_a) C`` (``C = D_a' D`` the crosstab of
  ``a`` with the other FE) costs a few passes over the data; ``M_a`` is subtracting group
  means. Any solution of the (singular: one redundant level per FE) system gives the same
  projection because ``M_a D v = 0`` for ``v`` in its null space. No iteration.
* Anything else (several large FE): the method of alternating projections — demean by each
  FE in turn until the group means of every FE vanish (Guimarães & Portugal 2010; Gaure 2013;
  Correia 2016 for the reghdfe/fixest variant).

Every path checks its output with the same criterion as the alternating projections (all group
means at most ``tol`` times the column's scale) and continues with sweeps if needed, so the
result is the projection to that tolerance whatever path produced it.

Weights ``w`` (regression weights) give the weighted projection ``x - D (D'WD)^- D'W x``: group
means become weighted means, and the same three paths apply (the balanced closed form only with
equal weights). All columns are projected together: group sums come from one sparse indicator
matrix product per FE, so the cost of a pass is ``O(n * p)`` for ``p`` columns.

References
----------
Guimarães, P. and Portugal, P. (2010). A simple feasible procedure to fit models with
high-dimensional fixed effects. *Stata Journal* 10(4), 628–649.

Correia, S. (2016). A feasible estimator for linear models with multi-way fixed effects.
Working paper.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..errors import EstimationError

__all__ = ["FixedEffects", "demean", "find_singletons"]


def _compact_codes(codes: np.ndarray) -> np.ndarray:
    """Map arbitrary integer codes to ``0..G-1`` (order of first sorted appearance)."""
    codes = np.asarray(codes).ravel()
    if codes.size and codes.min() >= 0 and codes.max() < codes.size:
        if np.all(np.bincount(codes) > 0):  # already compact (e.g. from pandas.factorize)
            return codes.astype(np.intp, copy=False)
    return np.unique(codes, return_inverse=True)[1].astype(np.intp).ravel()


#: The concentrated solve is used while the FE other than the largest have at most this many
#: levels in all (the ``L x L`` system is then cheap to factor); above it, alternating projections.
CONCENTRATED_MAX_LEVELS = 4000


@dataclass(frozen=True)
class _Factor:
    """One fixed effect: compact codes, level (weight) totals and the group-sum operator.

    With regression weights ``summer`` holds the weights (its product with ``X`` gives weighted
    group sums) and ``counts`` the weight total of each level.
    """

    codes: np.ndarray
    counts: np.ndarray
    summer: sp.csr_matrix

    @classmethod
    def from_codes(cls, codes: np.ndarray, weights: np.ndarray | None = None) -> _Factor:
        compact = _compact_codes(codes)
        n = compact.size
        w = np.ones(n) if weights is None else weights
        counts = np.bincount(compact, weights=w, minlength=int(compact.max()) + 1 if n else 0)
        summer = sp.csr_matrix((w, (compact, np.arange(n))), shape=(counts.size, n))
        return cls(compact, counts, summer)

    @property
    def n_levels(self) -> int:
        return self.counts.size

    def group_means(self, X: np.ndarray) -> np.ndarray:
        """``(n_levels, p)`` (weighted) means of every column of ``X`` within each level."""
        return (self.summer @ X) / _positive(self.counts)[:, None]

    def nested_in(self, cluster: np.ndarray) -> bool:
        """True if every level of this FE lies inside a single cluster (O(n), no sorting)."""
        of_level = np.empty(self.n_levels, dtype=cluster.dtype)
        of_level[self.codes] = cluster  # some cluster of each level
        return bool(np.all(of_level[self.codes] == cluster))


class FixedEffects:
    """A set of fixed effects, prepared once and reused to demean many matrices.

    Parameters
    ----------
    fe : sequence of array_like of int, each of shape (n,)
        One integer code array per fixed effect (e.g. ``[unit_codes, time_codes]``). Codes need
        not be contiguous; they are compacted internally.

    Attributes
    ----------
    n_obs : int
        Number of observations ``n``.
    n_levels : list of int
        Number of distinct levels of each fixed effect.
    balanced : bool
        True for exactly two FE forming a balanced panel (every pair of levels observed once)
        without weights, in which case the closed-form two-way demeaning is used.
    weights : ndarray or None
        Regression weights of the weighted projection (None: equal weights).
    """

    def __init__(self, fe: Sequence[np.ndarray], weights: np.ndarray | None = None):
        if len(fe) == 0:
            raise EstimationError(
                "at least one fixed effect is required for the within transformation"
            )
        sizes = {np.asarray(f).size for f in fe}
        if len(sizes) != 1:
            raise EstimationError(
                f"fixed-effect code arrays have different lengths: {sorted(sizes)}"
            )
        self.n_obs = sizes.pop()
        self.weights = _checked_weights(weights, self.n_obs)
        self._factors = [_Factor.from_codes(f, self.weights) for f in fe]
        self.n_levels = [f.n_levels for f in self._factors]
        equal = self.weights is None
        self._grid = _balanced_grid(*self._factors) if len(fe) == 2 and equal else None
        self.balanced = self._grid is not None
        self._concentrated: _Concentrated | None = None

    def nested_in(self, cluster: np.ndarray) -> list[bool]:
        """For each FE, whether it is nested in ``cluster`` (every level inside one cluster)."""
        cluster = _compact_codes(cluster)
        return [f.nested_in(cluster) for f in self._factors]

    def demean(self, X: np.ndarray, *, tol: float = 1e-12, maxiter: int = 10_000) -> np.ndarray:
        """Return ``M_F X``, the residual of every column of ``X`` on the fixed effects.

        Parameters
        ----------
        X : ndarray, shape (n,) or (n, p)
            Columns to transform. Not modified.
        tol : float
            Convergence tolerance of the alternating projections: iteration stops once every
            group mean of every FE is at most ``tol`` times the column's largest absolute value.
            Ignored for the exact one-FE and balanced two-way cases.
        maxiter : int
            Maximum number of sweeps over all FE.

        Returns
        -------
        ndarray
            Array of the same shape as ``X``.

        Raises
        ------
        EstimationError
            If the alternating projections have not converged after ``maxiter`` sweeps.
        """
        X = np.asarray(X, dtype=float)
        if X.shape[0] != self.n_obs:
            raise EstimationError(
                f"X has {X.shape[0]} rows but the fixed effects have {self.n_obs}"
            )
        M = X.reshape(self.n_obs, -1)
        if len(self._factors) == 1:
            out = _demean_one(M, self._factors[0])
        elif self._grid is not None:
            out = _demean_balanced_pair(M, self._grid)
        else:
            start = None
            if sum(self.n_levels) - max(self.n_levels) <= CONCENTRATED_MAX_LEVELS:
                if self._concentrated is None:
                    self._concentrated = _Concentrated.build(self._factors, self.weights)
                start = self._concentrated.project(M)
            out = _alternating_projections(M, self._factors, tol=tol, maxiter=maxiter, start=start)
        return out.reshape(X.shape)


def _checked_weights(weights: np.ndarray | None, n: int) -> np.ndarray | None:
    """Weights as a float array (None stays None); non-finite or negative weights are an error."""
    if weights is None:
        return None
    w = np.asarray(weights, dtype=float).ravel()
    if w.size != n:
        raise EstimationError(f"weights have {w.size} values but the fixed effects have {n}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise EstimationError("regression weights must be finite and non-negative")
    return w


@dataclass(frozen=True)
class _Concentrated:
    """The exact projection on several FE by concentrating out the largest one (see module doc).

    ``big`` is the largest FE and ``others`` the rest (``L`` levels in all, at ``offsets``);
    ``cross`` is the ``(n_big, L)`` crosstab ``D_a' W D``. The concentrated matrix
    ``A = D'WD - C' diag(1/w_a) C`` is singular (one redundant level per FE, more when FE are
    nested, e.g. year inside industry-year, or levels are not connected), so it is factored by
    Cholesky with complete pivoting (LAPACK ``dpstrf``), which finds its rank ``r``:
    ``P'AP = U'U`` with ``U[:r, :r]`` invertible. The solution that is zero on the other
    pivots solves ``A theta = b`` exactly for every ``b`` in the range of ``A`` (as
    ``D'M_a x`` is), and any solution gives the same projection.
    """

    big: _Factor
    others: list[_Factor]
    offsets: np.ndarray
    cross: sp.csr_matrix
    pivots: np.ndarray  # the r pivot positions of A
    factor: np.ndarray  # U[:r, :r]

    @classmethod
    def build(cls, factors: list[_Factor], weights: np.ndarray | None) -> _Concentrated:
        import scipy.linalg

        order = np.argsort([-f.n_levels for f in factors], kind="stable")
        big, others = factors[order[0]], [factors[i] for i in order[1:]]
        offsets = np.cumsum([0] + [f.n_levels for f in others])
        n, n_levels = big.codes.size, int(offsets[-1])
        w = np.ones(n) if weights is None else weights
        crosstab = [
            sp.csr_matrix((w, (big.codes, f.codes + off)), shape=(big.n_levels, n_levels))
            for f, off in zip(others, offsets[:-1], strict=True)
        ]
        cross = sum(crosstab[1:], crosstab[0]).tocsr()  # D_a' W D
        gram = np.zeros((n_levels, n_levels))  # D' W D: diagonal blocks and pairwise crosstabs
        for i, (fi, oi) in enumerate(zip(others, offsets[:-1], strict=True)):
            gram[oi : oi + fi.n_levels, oi : oi + fi.n_levels] = np.diag(fi.counts)
            for fj, oj in zip(others[i + 1 :], offsets[i + 1 : -1], strict=True):
                block = sp.csr_matrix((w, (fi.codes, fj.codes)), shape=(fi.n_levels, fj.n_levels))
                gram[oi : oi + fi.n_levels, oj : oj + fj.n_levels] = block.toarray()
                gram[oj : oj + fj.n_levels, oi : oi + fi.n_levels] = block.toarray().T
        gram -= (cross.T @ (sp.diags(1.0 / _positive(big.counts)) @ cross)).toarray()
        tol = n_levels * np.finfo(float).eps * max(float(np.max(np.abs(np.diag(gram)))), 1.0)
        u, piv, rank, _ = scipy.linalg.lapack.dpstrf(gram, lower=0, tol=tol)
        pivots = piv[:rank] - 1  # LAPACK's pivots are 1-based
        return cls(big, others, offsets, cross, pivots, np.triu(u[:rank, :rank]))

    def project(self, M: np.ndarray) -> np.ndarray:
        """``M_a (M - D theta)`` with ``theta`` solving the concentrated normal equations."""
        import scipy.linalg

        big, others = self.big, self.others
        big_means = (big.summer @ M) / _positive(big.counts)[:, None]
        rhs = np.vstack([f.summer @ M for f in others]) - self.cross.T @ big_means
        theta = np.zeros((int(self.offsets[-1]), M.shape[1]))
        half = scipy.linalg.solve_triangular(self.factor, rhs[self.pivots], trans="T", check_finite=False)
        theta[self.pivots] = scipy.linalg.solve_triangular(self.factor, half, check_finite=False)
        resid = M.copy()
        for f, off in zip(others, self.offsets[:-1], strict=True):
            resid -= theta[off : off + f.n_levels][f.codes]
        resid -= big.group_means(resid)[big.codes]
        return resid


def _positive(counts: np.ndarray) -> np.ndarray:
    """Level totals with empty (zero-weight) levels set to 1, so their zero sums stay zero."""
    return np.where(counts > 0, counts, 1.0)


def demean(
    X: np.ndarray,
    fe: Sequence[np.ndarray],
    *,
    weights: np.ndarray | None = None,
    tol: float = 1e-12,
    maxiter: int = 10_000,
) -> np.ndarray:
    """Within-transform every column of ``X`` with respect to the fixed effects ``fe``.

    Convenience wrapper around ``FixedEffects(fe).demean(X, ...)``; build a
    :class:`FixedEffects` once instead when demeaning several matrices with the same FE.

    Parameters
    ----------
    X : ndarray, shape (n,) or (n, p)
    fe : sequence of integer code arrays, each of shape (n,)
    weights : ndarray of shape (n,), optional
        Regression weights (weighted projection).
    tol, maxiter
        See :meth:`FixedEffects.demean`.

    Returns
    -------
    ndarray
        ``M_F X``, same shape as ``X``.
    """
    return FixedEffects(fe, weights).demean(X, tol=tol, maxiter=maxiter)


def find_singletons(fe: Sequence[np.ndarray]) -> np.ndarray:
    """Flag singleton observations: those alone in their level of some fixed effect.

    Removal is iterated to a fixed point, as in fixest and reghdfe (dropping one singleton can
    turn another observation into a singleton). Singletons are fitted perfectly by their own
    FE, so they do not change any slope estimate, but they inflate the observation count used
    by small-sample corrections (Correia 2015).

    Parameters
    ----------
    fe : sequence of integer code arrays, each of shape (n,)

    Returns
    -------
    ndarray of bool, shape (n,)
        True for observations that would be dropped as singletons.

    References
    ----------
    Correia, S. (2015). Singletons, cluster-robust standard errors and fixed effects: a bad
    mix. Working paper.
    """
    if len(fe) == 0:
        raise EstimationError("singleton detection needs at least one fixed effect")
    codes = [_compact_codes(f) for f in fe]
    keep = np.ones(codes[0].size, dtype=bool)
    changed = True
    while changed:
        changed = False
        for c in codes:
            counts = np.bincount(c[keep], minlength=c.max() + 1 if c.size else 0)
            alone = keep & (counts[c] == 1)
            if alone.any():
                keep &= ~alone
                changed = True
    return ~keep


@dataclass(frozen=True)
class _Grid:
    """Layout of a balanced two-way panel as an ``(n_a, n_b)`` grid of cells.

    ``order`` sorts the rows by (level of a, level of b); it is None when they already are,
    so the closed form runs on a reshaped view without gathering rows.
    """

    order: np.ndarray | None
    shape: tuple[int, int]


def _balanced_grid(a: _Factor, b: _Factor) -> _Grid | None:
    """The grid layout if every (level of a, level of b) pair occurs exactly once, else None."""
    if a.codes.size != a.n_levels * b.n_levels:
        return None
    cell = a.codes * b.n_levels + b.codes
    if np.any(np.bincount(cell, minlength=cell.size) != 1):
        return None
    in_order = bool(np.all(cell == np.arange(cell.size)))
    return _Grid(None if in_order else np.argsort(cell), (a.n_levels, b.n_levels))


def _demean_one(M: np.ndarray, factor: _Factor) -> np.ndarray:
    """Exact projection on a single FE: subtract group means."""
    return M - factor.group_means(M)[factor.codes]


def _demean_balanced_pair(M: np.ndarray, grid: _Grid) -> np.ndarray:
    """Closed form for a balanced two-way panel: ``x - mean_a - mean_b + grand mean``."""
    cells = M if grid.order is None else M[grid.order]
    cube = cells.reshape(*grid.shape, -1)
    a_means = cube.mean(axis=1, keepdims=True)
    b_means = cube.mean(axis=0, keepdims=True)
    out = cube - a_means
    out -= b_means - a_means.mean(axis=0, keepdims=True)
    out = out.reshape(M.shape)
    if grid.order is None:
        return out
    result = np.empty_like(out)
    result[grid.order] = out
    return result


def _alternating_projections(
    M: np.ndarray,
    factors: list[_Factor],
    *,
    tol: float,
    maxiter: int,
    start: np.ndarray | None = None,
) -> np.ndarray:
    """Demean by each FE in turn (Gauss–Seidel sweeps) until all group means vanish.

    Convergence is declared when, within one sweep, the largest group mean subtracted for any
    FE is at most ``tol * max|x|`` for every column, i.e. the current iterate is orthogonal to
    every FE indicator up to that relative tolerance. ``start`` is an iterate to continue from
    (e.g. the exact concentrated projection, which then passes the check in one sweep).
    """
    out = M.copy() if start is None else start
    scale = np.max(np.abs(M), axis=0, initial=0.0)
    for _ in range(maxiter):
        largest = np.zeros(M.shape[1])
        for factor in factors:
            means = factor.group_means(out)
            out -= means[factor.codes]
            np.maximum(largest, np.max(np.abs(means), axis=0, initial=0.0), out=largest)
        if np.all(largest <= tol * scale):
            return out
    worst = float(np.max(largest / np.where(scale > 0, scale, 1.0)))
    raise EstimationError(
        f"fixed-effect demeaning did not converge in {maxiter} iterations "
        f"(largest relative group mean {worst:.3g} > tol {tol:.3g}); increase maxiter or check "
        "the fixed effects for weakly connected components"
    )

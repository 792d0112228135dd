"""Covariance of estimates: the one cluster-sum kernel, the sandwich, small-sample rules, and
the coefficient table built from estimates and standard errors.

Cluster-robust (CRV1) variance of an M-estimator with bread ``B = (X'X)^{-1}`` and scores
``s_i = x_i e_i`` (Cameron & Miller 2015, eq. 11)::

    V = c * B (sum_g S_g S_g') B,     S_g = sum_{i in g} s_i,

with ``c`` the small-sample factor of :class:`SmallSampleCorrection`. Every estimator of the
package forms ``S_g`` with :func:`cluster_sums` and ``V`` with :func:`sandwich`, and turns
estimates and standard errors into the tidy table with :func:`coef_table`.

References
----------
Cameron, A. C. and Miller, D. L. (2015). A practitioner's guide to cluster-robust inference.
*Journal of Human Resources* 50(2), 317-372.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import EstimationError

__all__ = [
    "SmallSampleCorrection",
    "cluster_codes",
    "cluster_sums",
    "coef_table",
    "sandwich",
]


def cluster_codes(values) -> tuple[np.ndarray, int]:
    """Compact integer codes ``0..G-1`` of cluster labels (any dtype) and ``G``."""
    codes, uniques = pd.factorize(pd.Series(np.asarray(values)), sort=True)
    if (codes < 0).any():
        raise EstimationError("the cluster variable has missing values in the estimation sample")
    return codes.astype(np.intp), len(uniques)


def cluster_sums(scores: np.ndarray, codes: np.ndarray | None, n_clusters: int | None = None) -> np.ndarray:
    """``(G, k)`` sums of the rows of ``scores`` within each cluster.

    ``codes`` are compact cluster codes (see :func:`cluster_codes`); ``None`` means every
    observation is its own cluster (heteroskedasticity-robust), and the rows come back as they
    are. One sparse product: ``O(n k)`` whatever ``G``.
    """
    scores = np.asarray(scores, dtype=float)
    if codes is None:
        return scores
    codes = np.asarray(codes, dtype=np.intp)
    g = int(codes.max()) + 1 if n_clusters is None else int(n_clusters)
    indicator = sp.csr_matrix((np.ones(codes.size), (codes, np.arange(codes.size))), shape=(g, codes.size))
    out = indicator @ (scores if scores.ndim == 2 else scores[:, None])
    return np.asarray(out) if scores.ndim == 2 else np.asarray(out).ravel()


def sandwich(bread: np.ndarray, scores: np.ndarray, codes: np.ndarray | None, *, factor: float = 1.0,
             n_clusters: int | None = None) -> np.ndarray:
    """``factor * B (sum_g S_g S_g') B`` made exactly symmetric."""
    s = cluster_sums(scores, codes, n_clusters)
    v = factor * bread @ (s.T @ s) @ bread
    return (v + v.T) / 2


@dataclass(frozen=True)
class SmallSampleCorrection:
    """Small-sample correction of the CRV1 variance, following fixest / pyfixest ``ssc()``.

    The variance is multiplied by ``(N - 1) / (N - df_k)`` (if ``k_adj``) and by
    ``G / (G - 1)`` (if ``G_adj``); p-values use a t distribution with ``G - 1`` degrees of
    freedom. With ``F`` fixed effects having ``L_1..L_F`` levels and ``k`` slope coefficients:

    * ``k_fixef="none"``: ``df_k = k``;
    * ``k_fixef="full"``: ``df_k = k + sum(L_f) - (F - 1)`` (Stata ``areg``, dummy regression);
    * ``k_fixef="nonnested"`` (fixest / reghdfe default): as ``"full"``, but every FE nested in
      the clusters (each of its levels inside a single cluster) counts as one parameter
      instead of ``L_f``. For unit + time FE clustered by unit this is ``df_k = k + T``.
    """

    k_adj: bool = True
    k_fixef: Literal["none", "nonnested", "full"] = "nonnested"
    G_adj: bool = True

    def __post_init__(self):
        if self.k_fixef not in ("none", "nonnested", "full"):
            raise EstimationError(
                f"k_fixef must be 'none', 'nonnested' or 'full', not {self.k_fixef!r}"
            )

    def df_k(self, n_coef: int, fe_levels: Sequence[int], fe_nested: Sequence[bool]) -> int:
        """Number of parameters counted in ``(N - 1) / (N - df_k)``."""
        if self.k_fixef == "none" or not fe_levels:
            return n_coef
        full = n_coef + sum(fe_levels) - (len(fe_levels) - 1)
        if self.k_fixef == "full":
            return full
        nested = [
            levels for levels, is_nested in zip(fe_levels, fe_nested, strict=True) if is_nested
        ]
        return full - sum(nested) + len(nested)

    def factor(self, n_obs: int, df_k: int, n_clusters: int) -> float:
        """Multiplier of the CRV1 sandwich."""
        k_part = (n_obs - 1) / (n_obs - df_k) if self.k_adj else 1.0
        g_part = n_clusters / (n_clusters - 1) if self.G_adj else 1.0
        return k_part * g_part


def coef_table(
    terms: Sequence[str],
    estimate: np.ndarray,
    std_error: np.ndarray,
    *,
    df: float | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Tidy coefficient table: t(df) statistics (standard normal when ``df`` is None), two-sided
    p-values and ``(1 - alpha)`` confidence intervals. A zero or missing standard error gives a
    missing statistic, p-value and interval, never a spurious "infinitely significant" row."""
    # scipy.special, not scipy.stats: the same functions, and a fraction of the import time
    from scipy import special

    est = np.asarray(estimate, dtype=float)
    se = np.asarray(std_error, dtype=float)
    usable = np.isfinite(se) & (se > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(usable, est / np.where(usable, se, 1.0), np.nan)
    if df is None:
        crit, tail = special.ndtri(1 - alpha / 2), special.ndtr(-np.abs(z))
    else:
        crit, tail = special.stdtrit(df, 1 - alpha / 2), special.stdtr(df, -np.abs(z))
    half = np.where(usable, crit * se, np.nan)
    return pd.DataFrame(
        {
            "term": list(terms),
            "estimate": est,
            "std_error": se,
            "statistic": z,
            "p_value": 2 * tail,
            "ci_low": est - half,
            "ci_high": est + half,
        }
    )

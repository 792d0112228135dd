"""Matching on a score: nearest neighbour (MatchIt conventions), radius and kernel matching
(psmatch2 conventions), common support, and the ATT with psmatch2's analytic standard error."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ....errors import EstimationError
from .balance import Balance, balance
from .score import KERNELS, METHODS, _treatment


@dataclass
class Matching:
    """Treated units matched to controls on a score.

    Attributes
    ----------
    method
        ``"nearest"``, ``"radius"`` or ``"kernel"``.
    treat
        Treatment indicator (bool), one per unit.
    score
        The score matched on.
    pairs
        ``(n_treated, n_control)`` array: ``pairs[i, j]`` is the weight of the j-th control for the
        i-th treated unit (both in data order). Rows of matched treated units sum to one; rows of
        unmatched or off-support treated units are zero.
    support
        Common-support flag per unit: ``False`` for treated units trimmed by :func:`common_support`.
    options
        The matching options used (caliper in score units, bandwidth, ...).
    """

    method: str
    treat: np.ndarray
    score: np.ndarray
    pairs: np.ndarray
    support: np.ndarray
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def treated(self) -> np.ndarray:
        """Positions of the treated units."""
        return np.flatnonzero(self.treat)

    @property
    def controls(self) -> np.ndarray:
        """Positions of the control units."""
        return np.flatnonzero(~self.treat)

    @property
    def weights(self) -> np.ndarray:
        """psmatch2 ``_weight``: 1 for matched treated units, for controls the sum over treated
        units of the weights they receive, 0 for unused units."""
        w = np.zeros(len(self.treat))
        w[self.treated] = (self.pairs > 0).any(axis=1)
        w[self.controls] = self.pairs.sum(axis=0)
        return w

    @property
    def matched(self) -> np.ndarray:
        """Units in the matched sample (positive weight)."""
        return self.weights > 0

    @property
    def n_off_support(self) -> int:
        """Treated units dropped by the common-support restriction."""
        return int((~self.support[self.treated]).sum())

    @property
    def n_unmatched(self) -> int:
        """Treated units on support without a control within the caliper or kernel window."""
        on = self.support[self.treated]
        return int((on & ~(self.pairs > 0).any(axis=1)).sum())

    def match_sets(self) -> dict[int, list[int]]:
        """Positions of the controls matched to each matched treated unit (by position)."""
        c = self.controls
        return {
            int(i): [int(c[j]) for j in np.flatnonzero(row > 0)]
            for i, row in zip(self.treated, self.pairs, strict=True)
            if (row > 0).any()
        }

    def att(self, y: Any) -> tuple[float, float]:
        """Average effect on the matched treated units and psmatch2's analytic standard error.

        ``ATT = mean_i [y_i - sum_j W_ij y_j]``. The standard error is
        ``sqrt(Var_T(y) / N1 + Var_C(y) * sum_j w_j² / N1²)`` with ``Var_T`` over the matched
        treated units, ``Var_C`` over the controls with positive weight ``w_j`` (unweighted) and
        ``N1`` matched treated units. Like psmatch2, it treats the weights as fixed and ignores
        that the propensity score is estimated.
        """
        y = np.asarray(y, dtype=float)
        rows = (self.pairs > 0).any(axis=1)
        w = self.pairs[rows]
        yc = y[self.controls]
        return _att_se(y[self.treated][rows], w @ yc, w.sum(axis=0), yc)

    def balance(self, data: pd.DataFrame, covariates: Sequence[str], *, model: str = "probit") -> Balance:
        """:func:`balance` of ``covariates`` (rows of ``data`` aligned with the units)."""
        return balance(data, self.treat, covariates, self.weights, model=model)


def _att_se(y_t: np.ndarray, y_cf: np.ndarray, w_c: np.ndarray, y_c: np.ndarray) -> tuple[float, float]:
    """ATT and psmatch2 standard error from treated outcomes, their matched counterfactuals,
    control weights and control outcomes."""
    n1 = len(y_t)
    used = w_c > 0
    var1 = np.var(y_t, ddof=1) if n1 > 1 else np.nan
    var0 = np.var(y_c[used], ddof=1) if used.sum() > 1 else np.nan
    se = np.sqrt(var1 / n1 + var0 * np.sum(w_c**2) / n1**2)
    return float(np.mean(y_t - y_cf)), float(se)


def _inputs(score: Any, treat: Any) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(score, dtype=float)
    if s.ndim != 1 or len(s) != len(np.asarray(treat)):
        raise ValueError("score and treat must be one-dimensional and of equal length")
    if not np.isfinite(s).all():
        raise EstimationError(f"the score has {int((~np.isfinite(s)).sum())} missing or infinite values")
    return s, _treatment(treat, "treat")


def common_support(score: Any, treat: Any) -> np.ndarray:
    """psmatch2 ``common``: treated units whose score lies outside the range of the control
    scores are off support; controls are always on support.

    Returns
    -------
    Boolean array, ``True`` on support.

    Raises
    ------
    EstimationError
        If no treated unit lies within the range of the control scores.
    """
    s, t = _inputs(score, treat)
    lo, hi = s[~t].min(), s[~t].max()
    on = ~t | ((s >= lo) & (s <= hi))
    if not on[t].any():
        raise EstimationError(
            f"no control units on common support: the control scores span [{lo:.4g}, {hi:.4g}] and "
            f"every treated score lies outside it (treated span [{s[t].min():.4g}, {s[t].max():.4g}])"
        )
    return on


def _support(s: np.ndarray, t: np.ndarray, trim: bool) -> np.ndarray:
    return common_support(s, t) if trim else np.ones(len(s), dtype=bool)


def _caliper_units(caliper: float | None, scale: str, s: np.ndarray) -> float:
    """Caliper in score units: as given, or times the SD of the score (MatchIt ``std.caliper``)."""
    if caliper is None:
        return np.inf
    if caliper <= 0:
        raise ValueError(f"caliper must be positive, got {caliper}")
    if scale == "sd":
        return float(caliper * np.std(s, ddof=1))
    if scale == "score":
        return float(caliper)
    raise ValueError(f"caliper_scale must be 'sd' or 'score', got {scale!r}")


def _nothing_matched(what: str) -> EstimationError:
    return EstimationError(f"no treated unit has a control within {what}; widen it")


def _treated_order(s_t: np.ndarray, order: str) -> np.ndarray:
    if order == "largest":
        return np.argsort(-s_t, kind="stable")
    if order == "smallest":
        return np.argsort(s_t, kind="stable")
    if order == "data":
        return np.arange(len(s_t))
    raise ValueError(f"order must be 'largest', 'smallest' or 'data', got {order!r}")


def _nearest(dist: np.ndarray, usable: np.ndarray, k: int, caliper: float) -> np.ndarray:
    """Column positions of the ``k`` closest usable controls within the caliper; among equally
    distant controls the first in data order wins (MatchIt's ``which.min``)."""
    d = np.where(usable & (dist <= caliper), dist, np.inf)
    best = np.argsort(d, kind="stable")[:k]
    return best[np.isfinite(d[best])]


def nearest_neighbor_match(
    score: Any,
    treat: Any,
    *,
    k: int = 1,
    replace: bool = False,
    caliper: float | None = None,
    caliper_scale: str = "sd",
    order: str = "largest",
    trim: bool = False,
) -> Matching:
    """Greedy k:1 nearest-neighbour matching on a score (MatchIt ``method = "nearest"``).

    Each treated unit in turn takes the closest available control(s); among equally distant
    controls the first in data order wins, so the result is deterministic. With replacement a
    treated unit takes its ``k`` closest distinct controls at once.

    Parameters
    ----------
    score, treat
        Score to match on (propensity score or its linear index) and 0/1 treatment, per unit.
    k
        Controls per treated unit. Without replacement, every treated unit gets its first match
        before any gets its second (MatchIt).
    replace
        Whether a control may be matched to several treated units (MatchIt default ``False``).
        With replacement the matching order is irrelevant.
    caliper
        Largest admissible ``|p_j - p_i|``; treated units without a control this close stay
        unmatched.
    caliper_scale
        ``"sd"`` (default, MatchIt): ``caliper`` in standard deviations of ``score`` over all
        units; ``"score"``: in score units.
    order
        Order in which treated units choose: ``"largest"`` score first (MatchIt default),
        ``"smallest"`` or ``"data"``.
    trim
        Drop treated units outside the range of the control scores first (:func:`common_support`).

    Returns
    -------
    Matching
        Each matched treated unit gives weight ``1 / k_i`` to each of its ``k_i`` controls.

    Raises
    ------
    EstimationError
        No treated or no control units, nothing on common support, or no match within the caliper.
    """
    s, t = _inputs(score, treat)
    if k < 1:
        raise ValueError(f"k must be a positive integer, got {k}")
    support = _support(s, t, trim)
    cal = _caliper_units(caliper, caliper_scale, s)
    t_idx, c_idx = np.flatnonzero(t), np.flatnonzero(~t)
    s_c = s[c_idx]
    pairs = np.zeros((len(t_idx), len(c_idx)))
    taken = pairs > 0  # controls already matched to each treated unit
    free = np.ones(len(c_idx), dtype=bool)
    # with replacement every treated unit takes its k nearest at once; without, k rounds
    for _ in range(1 if replace else k):
        for i in _treated_order(s[t_idx], order):
            if not support[t_idx[i]]:
                continue
            js = _nearest(np.abs(s_c - s[t_idx[i]]), free & ~taken[i], k if replace else 1, cal)
            taken[i, js] = True
            if not replace:
                free[js] = False
    pairs[taken] = 1.0
    pairs /= np.maximum(pairs.sum(axis=1, keepdims=True), 1.0)
    if not pairs.any():
        raise _nothing_matched(f"the caliper ({cal:.4g} in score units)")
    opts = {"k": k, "replace": replace, "caliper": cal if caliper is not None else None,
            "order": order, "trim": trim}
    return Matching("nearest", t, s, pairs, support, opts)


def _kernel(u: np.ndarray, kind: str) -> np.ndarray:
    if kind == "epan":
        return np.where(np.abs(u) <= 1, 1 - u**2, 0.0)
    if kind == "normal":
        return stats.norm.pdf(u)
    if kind == "uniform":
        return (np.abs(u) <= 1).astype(float)
    raise ValueError(f"kernel must be one of {KERNELS}, got {kind!r}")


def _kernel_pairs(s: np.ndarray, t: np.ndarray, support: np.ndarray, kind: str, h: float) -> np.ndarray:
    """Row-normalised kernel weights of every control for every treated unit on support."""
    if not h > 0:
        raise ValueError(f"the bandwidth / caliper must be positive, got {h}")
    t_idx, c_idx = np.flatnonzero(t), np.flatnonzero(~t)
    k = _kernel((s[c_idx][None, :] - s[t_idx][:, None]) / h, kind)
    k[~support[t_idx]] = 0.0
    total = k.sum(axis=1, keepdims=True)
    return np.divide(k, total, out=np.zeros_like(k), where=total > 0)


def kernel_match(
    score: Any,
    treat: Any,
    *,
    kernel: str = "epan",
    bandwidth: float = 0.06,
    trim: bool = False,
) -> Matching:
    """Kernel matching (Heckman, Ichimura & Todd 1997, 1998; psmatch2 ``kernel``).

    Each treated unit ``i`` is compared with a weighted average of all controls, control ``j``
    receiving ``K((p_j - p_i) / h) / sum_l K((p_l - p_i) / h)``.

    Parameters
    ----------
    score, treat
        Score and 0/1 treatment per unit.
    kernel
        ``"epan"`` (Epanechnikov, ``1 - u²`` on ``|u| <= 1``, psmatch2 default) or ``"normal"``
        (Gaussian density; every control gets positive weight).
    bandwidth
        ``h`` in score units (psmatch2 default 0.06; seed 002 uses 0.2).
    trim
        Apply :func:`common_support` first (psmatch2 ``common``).

    Raises
    ------
    EstimationError
        No treated or no control units, nothing on common support, or (Epanechnikov) no treated
        unit with a control within the bandwidth.
    """
    s, t = _inputs(score, treat)
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    support = _support(s, t, trim)
    pairs = _kernel_pairs(s, t, support, kernel, bandwidth)
    if not pairs.any():
        raise _nothing_matched(f"the kernel bandwidth ({bandwidth:.4g})")
    return Matching("kernel", t, s, pairs, support, {"kernel": kernel, "bandwidth": bandwidth, "trim": trim})


def radius_match(score: Any, treat: Any, *, caliper: float, trim: bool = False) -> Matching:
    """Radius (caliper) matching, psmatch2 ``radius``: every control with ``|p_j - p_i| <=
    caliper`` gets equal weight; ``caliper`` is in score units.

    Raises
    ------
    EstimationError
        No treated or no control units, nothing on common support, or no control within the
        caliper of any treated unit.
    """
    s, t = _inputs(score, treat)
    support = _support(s, t, trim)
    pairs = _kernel_pairs(s, t, support, "uniform", caliper)
    if not pairs.any():
        raise _nothing_matched(f"the caliper ({caliper:.4g} in score units)")
    return Matching("radius", t, s, pairs, support, {"caliper": caliper, "trim": trim})


def match(score: Any, treat: Any, method: str = "nearest", **options: Any) -> Matching:
    """Dispatch to :func:`nearest_neighbor_match`, :func:`radius_match` or :func:`kernel_match`."""
    funcs = {"nearest": nearest_neighbor_match, "radius": radius_match, "kernel": kernel_match}
    if method not in funcs:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return funcs[method](score, treat, **options)

"""Propensity-score matching (PSM) and PSM-DID on city-year panels.

The pieces, each usable on its own:

* :func:`propensity_score` - logit or probit model of treatment on covariates (statsmodels),
  with McFadden's pseudo-R².
* :func:`nearest_neighbor_match`, :func:`radius_match`, :func:`kernel_match` and the dispatcher
  :func:`match` - matching on a score. They return a :class:`Matching` holding the weight of
  every control for every treated unit and the psmatch2 weights (``_weight``: 1 for a matched
  treated unit, for a control the sum over treated units of the weights it receives).
* :func:`common_support` - psmatch2's ``common`` option.
* :func:`balance` - the covariate balance test of Stata ``pstest`` (seed 002 Table 5).
* :func:`psm_did` - the two PSM-DID designs of applied work: match units on their pre-period
  covariate means, or match observations year by year; then re-estimate the TWFE DID on the
  matched sample.

Conventions
-----------
Nearest-neighbour matching reproduces R MatchIt 4.5 ``method = "nearest"`` (Ho, Imai, King &
Stuart 2011): greedy, treated units taken in decreasing order of the score (``order =
"largest"``); without replacement and ``k > 1``, every treated unit receives its first match
before any receives a second. A treated unit takes the closest available control; among equally
distant controls the first in data order wins (MatchIt's ``which.min``), so results do not
depend on anything but the data order. A caliper admits controls with ``|p_j - p_i| <=
caliper``; by default it is given in standard deviations of the score matched on over all units
(MatchIt ``std.caliper``), so ``caliper=0.2`` when matching on the linear index of a logit is
Austin's (2011) 0.2 SD of the logit.

Kernel and radius matching, common support, the weights, the analytic standard error of the ATT
and the balance statistics follow psmatch2 / pstest (Leuven & Sianesi 2003): for treated unit
``i`` the weight of control ``j`` is ``K((p_j - p_i) / h)`` normalised to sum to one over the
controls, with ``K(u) = 1 - u²`` on ``|u| <= 1`` (Epanechnikov), the standard normal density
(Gaussian) or ``1`` on ``|u| <= 1`` (radius matching, ``h`` = caliper); a treated unit with no control inside
the kernel window is unmatched (psmatch2 sets ``_support = 0``).

References
----------
Rosenbaum, P. R. & Rubin, D. B. (1983). The central role of the propensity score in
    observational studies for causal effects. *Biometrika* 70(1), 41-55.
Rosenbaum, P. R. & Rubin, D. B. (1985). Constructing a control group using multivariate matched
    sampling methods that incorporate the propensity score. *The American Statistician* 39(1),
    33-38.
Heckman, J. J., Ichimura, H. & Todd, P. E. (1997). Matching as an econometric evaluation
    estimator: evidence from evaluating a job training programme. *Review of Economic Studies*
    64(4), 605-654.
Heckman, J. J., Ichimura, H. & Todd, P. E. (1998). Matching as an econometric evaluation
    estimator. *Review of Economic Studies* 65(2), 261-294.
Leuven, E. & Sianesi, B. (2003). PSMATCH2: Stata module to perform full Mahalanobis and
    propensity score matching, common support graphing, and covariate imbalance testing.
    Statistical Software Components S432001, Boston College.
Ho, D. E., Imai, K., King, G. & Stuart, E. A. (2011). MatchIt: nonparametric preprocessing for
    parametric causal inference. *Journal of Statistical Software* 42(8).
Abadie, A. & Imbens, G. W. (2008). On the failure of the bootstrap for matching estimators.
    *Econometrica* 76(6), 1537-1557.
Austin, P. C. (2011). Optimal caliper widths for propensity-score matching when estimating
    differences in means and differences in proportions in observational studies.
    *Pharmaceutical Statistics* 10(2), 150-161.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ...core.covariance import coef_table
from ...core.results import (
    EstimationResult,
    Result,
    ResultSet,
    TestResult,
    TestSet,
    jsonable,
    tidy_frame,
)
from ...core.wording import count, p_phrase, significance_phrase
from ...errors import EstimationError, PanelError, did_you_mean, show
from ...panel import Panel
from ...report.tables import Table, fmt, stars
from ..baseline.twfe import _small_sample, collinear_columns, twfe

MODELS = ("logit", "probit")
METHODS = ("nearest", "radius", "kernel")
KERNELS = ("epan", "normal")
_EXTREME = 1e-12  # fitted scores this close to 0 or 1 signal (quasi-)complete separation


# ====================================================================== propensity score
@dataclass(frozen=True)
class PropensityScore:
    """A fitted propensity-score model (Rosenbaum & Rubin 1983).

    Attributes
    ----------
    score
        Fitted probability of treatment, one per row of the data.
    index
        Linear predictor ``x'b`` (the log-odds for a logit model).
    treat
        Treatment indicator (bool).
    covariates, model
        Covariates and link (``"logit"`` or ``"probit"``).
    fit
        The statsmodels results object.
    """

    score: np.ndarray
    index: np.ndarray
    treat: np.ndarray
    covariates: tuple[str, ...]
    model: str
    fit: Any = field(repr=False)

    @property
    def pseudo_r2(self) -> float:
        """McFadden's pseudo-R², ``1 - lnL / lnL0``."""
        return float(self.fit.prsquared)

    @property
    def lr_chi2(self) -> float:
        """Likelihood-ratio chi² of the covariates against a constant-only model."""
        return float(self.fit.llr)

    @property
    def lr_pvalue(self) -> float:
        return float(self.fit.llr_pvalue)


def _frame(data: pd.DataFrame | Panel) -> pd.DataFrame:
    return data.df if isinstance(data, Panel) else data


def _require(df: pd.DataFrame, cols: Sequence[str], role: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        hints = "; ".join(f"'{c}'{did_you_mean(c, df.columns)}" for c in missing)
        raise PanelError(f"{role} column not found: {hints}")


def _treatment(values: Any, name: str) -> np.ndarray:
    """0/1 treatment as bool; raise if it is not binary or has no treated or no control rows."""
    v = pd.to_numeric(pd.Series(np.asarray(values)), errors="coerce")
    bad = ~v.isin([0, 1])
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise EstimationError(
            f"treatment '{name}' must be 0/1 without missing values; row {i} has {show(np.asarray(values)[i])}"
        )
    t = v.to_numpy() == 1
    if not t.any():
        raise EstimationError(f"no treated units: '{name}' is 0 in every row used")
    if t.all():
        raise EstimationError(f"no control units: '{name}' is 1 in every row used")
    return t


def _covariate_matrix(df: pd.DataFrame, covariates: Sequence[str]) -> np.ndarray:
    x = df[list(covariates)].apply(pd.to_numeric, errors="coerce")
    bad = x.isna().sum()
    bad = bad[bad > 0]
    if len(bad):
        raise EstimationError(
            "covariates have missing or non-numeric values ("
            + ", ".join(f"{k}: {v} rows" for k, v in bad.items())
            + "); drop or impute those rows first"
        )
    return x.to_numpy(float)


def _separating_covariate(x: np.ndarray, t: np.ndarray, names: Sequence[str]) -> str | None:
    """First covariate whose treated and control values do not overlap (at most touch).

    Such a covariate separates treatment completely or quasi-completely, so the maximum-likelihood
    estimate does not exist (its coefficient diverges).
    """
    for j, name in enumerate(names):
        a, b = x[t, j], x[~t, j]
        if a.min() >= b.max() or a.max() <= b.min():
            return name
    return None


def _fit_binary(t: np.ndarray, x: np.ndarray, names: Sequence[str], model: str):
    import statsmodels.api as sm

    cls = sm.Logit if model == "logit" else sm.Probit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # non-convergence is checked below
        try:
            return cls(t.astype(float), np.column_stack([np.ones(len(t)), x])).fit(
                method="newton", maxiter=100, tol=1e-10, disp=0
            )
        except np.linalg.LinAlgError as err:
            raise EstimationError(
                f"the propensity model cannot be estimated (singular information matrix); "
                f"check the covariates {', '.join(names)} for separation or collinearity"
            ) from err


def propensity_score(
    data: pd.DataFrame | Panel,
    treat: str,
    covariates: Sequence[str],
    *,
    model: str = "logit",
) -> PropensityScore:
    """Estimate the propensity score ``P(treat = 1 | covariates)`` by maximum likelihood.

    Parameters
    ----------
    data
        A DataFrame or :class:`~climetrics.panel.Panel` (its rows are used as they are).
    treat
        0/1 treatment column.
    covariates
        Numeric covariate columns (a constant is added).
    model
        ``"logit"`` (default, as R ``glm`` / MatchIt) or ``"probit"`` (the psmatch2 default).

    Returns
    -------
    PropensityScore

    Raises
    ------
    EstimationError
        If there are no treated or no control rows, a covariate has missing values, is collinear
        with the constant or other covariates, or separates treatment (named when a single
        covariate does so), or the likelihood does not converge.
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    df = _frame(data)
    covariates = list(covariates)
    if not covariates:
        raise EstimationError("the propensity model needs at least one covariate")
    _require(df, [treat], "treatment")
    _require(df, covariates, "covariate")
    t = _treatment(df[treat], treat)
    x = _covariate_matrix(df, covariates)
    design = np.column_stack([np.ones(len(t)), x])
    collinear = collinear_columns(design, ["constant", *covariates])
    if collinear:
        raise EstimationError(
            f"covariate '{collinear[0]}' is constant or collinear with earlier covariates; "
            "drop it from the propensity model"
        )
    sep = _separating_covariate(x, t, covariates)
    if sep is not None:
        raise EstimationError(
            f"perfect separation in the propensity model: covariate '{sep}' separates treated from "
            "control units (their values do not overlap), so its coefficient diverges; "
            "drop or coarsen it"
        )
    fit = _fit_binary(t, x, covariates, model)
    with np.errstate(over="ignore", under="ignore"):  # diverging fits are reported below
        score = np.asarray(fit.predict(), dtype=float)
    extreme = (score < _EXTREME) | (score > 1 - _EXTREME)
    if not fit.mle_retvals.get("converged", True) or extreme.any():
        raise EstimationError(
            f"perfect separation in the propensity model: a combination of the covariates "
            f"{', '.join(covariates)} predicts treatment (almost) exactly "
            f"({int(extreme.sum())} fitted scores of 0 or 1); drop or coarsen covariates"
        )
    index = design @ np.asarray(fit.params, dtype=float)
    return PropensityScore(score, index, t, tuple(covariates), model, fit)


# ====================================================================== matching
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


# ====================================================================== balance (pstest)
@dataclass(eq=False)
class Balance(Result):
    """Covariate balance before and after matching, as Stata ``pstest``.

    Attributes
    ----------
    frame
        One row per covariate and sample (``Unmatched`` / ``Matched``): ``mean_treated``,
        ``mean_control``, ``bias`` (standardised % bias), ``reduction`` (% reduction of ``|bias|``,
        matched rows), ``t``, ``p_value`` and ``df`` of the mean-difference test.
    samples
        Per sample: ``pseudo_r2``, ``lr_chi2``, ``lr_pvalue`` of the propensity model re-estimated on
        the sample (weighted by the matching weights after matching), ``mean_bias`` and
        ``median_bias`` of ``|bias|`` over the covariates.
    model
        Link of the re-estimated propensity model.
    """

    frame: pd.DataFrame
    samples: pd.DataFrame
    model: str = "probit"

    @property
    def tests(self) -> TestSet:
        """The mean-difference t-tests (per covariate and sample) and the LR tests that the
        covariates jointly do not predict treatment (per sample), as :class:`TestResult`."""
        out = [
            TestResult(f"{r.variable} ({r.sample}): equal means", r.t, r.p_value, df=r.df, distribution="t",
                       null=f"treated and controls have the same mean of {r.variable}", alpha=0.1)
            for r in self.frame.itertuples()
        ]
        out += [
            TestResult(f"LR test ({sample}): covariates do not predict treatment", s["lr_chi2"], s["lr_pvalue"],
                       df=float(s["lr_df"]), distribution="chi2",
                       null="the covariates jointly have no effect on the propensity score", alpha=0.1)
            for sample, s in self.samples.iterrows()
        ]
        return TestSet(out, title="Covariate balance tests")

    def tidy(self) -> pd.DataFrame:
        """One row per covariate and sample: the mean difference treated - control as estimate,
        its t-test, and ``variable``, ``sample``, the means, ``bias`` and ``reduction``."""
        f = self.frame
        diff = f["mean_treated"] - f["mean_control"]
        with np.errstate(divide="ignore", invalid="ignore"):
            se = np.where(f["t"] != 0, diff / f["t"], np.nan)
        return tidy_frame(f.assign(term=f["variable"] + " (" + f["sample"] + ")", estimate=diff,
                                   std_error=se, statistic=f["t"]).drop(columns=["t"]))

    def summary(self) -> dict[str, Any]:
        """Per sample the propensity model's pseudo-R² and LR test and the mean / median |bias|;
        the largest matched |bias| and the covariates still different at 10%."""
        after = self.frame[self.frame["sample"] == "Matched"]
        worst = after.loc[after["bias"].abs().idxmax()] if len(after) else None
        return {
            "model": self.model,
            "samples": {k: {c: jsonable(v) for c, v in row.items()} for k, row in self.samples.iterrows()},
            "max_abs_bias_matched": jsonable(abs(float(worst["bias"]))) if worst is not None else None,
            "worst_covariate": str(worst["variable"]) if worst is not None else None,
            "n_different_10pct": int((after["p_value"] < 0.1).sum()),
        }

    def reading(self) -> str:
        """Covariate balance after matching: the worst standardised bias, how many covariates
        still differ at 10%, and the |bias| < 10% rule of thumb (Rosenbaum & Rubin 1985)."""
        after = self.frame[self.frame["sample"].str.lower().str.startswith("matched")]
        if after.empty:
            return "No matched sample: balance after matching cannot be assessed."
        worst = after.loc[after["bias"].abs().idxmax()]
        n_sig = int((after["p_value"] < 0.1).sum())
        return (f"After matching the largest standardized bias is {worst['bias']:.1f}% ({worst['variable']}) and "
                f"{n_sig} of {count(len(after), 'covariate')} still differ at 10%"
                + ("; balance is acceptable (|bias| < 10% is the usual rule of thumb)." if abs(worst["bias"]) < 10
                   else "; balance is imperfect, so read the matched estimates with care."))

    def table(self, *, labels: dict[str, str] | None = None, digits: int = 4,
              title: str | None = "Covariate balance test") -> Table:
        """Seed 002 Table 5 / pstest layout: per covariate an Unmatched and a Matched row with
        means, ``t (p-value)``, % bias and % reduction of ``|bias|``, then the summary rows."""
        labels = labels or {}
        rows: list[list[str]] = []
        for var, part in self.frame.groupby("variable", sort=False):
            for first, (_, r) in enumerate(part.iterrows()):
                rows.append([
                    labels.get(var, var) if first == 0 else "",
                    r["sample"],
                    fmt(r["mean_treated"], digits),
                    fmt(r["mean_control"], digits),
                    f"{fmt(r['t'], 2)} ({fmt(r['p_value'], 3)})",
                    fmt(r["bias"], 1),
                    fmt(r["reduction"], 1),
                ])
        rules = [len(rows)]
        for name, col, cell in (
            ("Pseudo R²", 5, lambda s: fmt(s["pseudo_r2"], 3)),
            ("LR chi² (p-value)", 4, lambda s: f"{fmt(s['lr_chi2'], 2)} ({fmt(s['lr_pvalue'], 3)})"),
            ("Mean |bias|", 5, lambda s: fmt(s["mean_bias"], 1)),
            ("Median |bias|", 5, lambda s: fmt(s["median_bias"], 1)),
        ):
            for first, (sample, s) in enumerate(self.samples.iterrows()):
                row = [name if first == 0 else "", str(sample), "", "", "", "", ""]
                row[col] = cell(s)
                rows.append(row)
        notes = [
            "%bias: standardised difference 100 (mean T - mean C) / sqrt((var T + var C) / 2), with the "
            "variances of the unmatched sample in both rows (Rosenbaum & Rubin 1985; pstest). "
            "Matched means, t-tests and the re-estimated "
            f"{self.model} model use the matching weights."
        ]
        return Table(
            columns=["Sample", "Treated", "Control", "t-test (p-value)", "%bias", "%reduct |bias|"],
            rows=rows, title=title, notes=notes, rules=rules, stub="Variable",
        )

    def __repr__(self) -> str:
        return self.table().to_text()


def _mean_difference_test(x: np.ndarray, t: np.ndarray, w: np.ndarray) -> tuple[float, float, float]:
    """t statistic, p-value and degrees of freedom of the treatment coefficient in the weighted regression of ``x`` on
    a constant and ``t`` with residual degrees of freedom ``sum(w) - 2`` (Stata ``regress`` with
    importance weights, as pstest)."""
    w1, w0 = w[t].sum(), w[~t].sum()
    m1, m0 = np.average(x[t], weights=w[t]), np.average(x[~t], weights=w[~t])
    rss = np.sum(w[t] * (x[t] - m1) ** 2) + np.sum(w[~t] * (x[~t] - m0) ** 2)
    df = w1 + w0 - 2
    se = np.sqrt(rss / df * (1 / w1 + 1 / w0))
    if not se > 0:
        return np.nan, np.nan, float(df)
    tstat = (m1 - m0) / se
    return float(tstat), float(2 * stats.t.sf(abs(tstat), df)), float(df)


def _weighted_pseudo_r2(t: np.ndarray, x: np.ndarray, w: np.ndarray, model: str) -> tuple[float, float, float, int]:
    """McFadden pseudo-R², LR chi², its p-value and degrees of freedom of a binary model fitted
    with frequency (Stata importance) weights ``w``."""
    import statsmodels.api as sm

    link = sm.families.links.Logit() if model == "logit" else sm.families.links.Probit()
    design = np.column_stack([np.ones(len(t)), x])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sm.GLM(t.astype(float), design, family=sm.families.Binomial(link=link),
                     freq_weights=w).fit(tol=1e-12, maxiter=200)
    p0 = np.sum(w * t) / np.sum(w)
    llnull = np.sum(w * np.where(t, np.log(p0), np.log1p(-p0)))
    chi2 = 2 * (fit.llf - llnull)
    dof = np.linalg.matrix_rank(design) - 1
    return float(1 - fit.llf / llnull), float(chi2), float(stats.chi2.sf(chi2, dof)), int(dof)


def balance(
    data: pd.DataFrame | Panel,
    treat: str | Any,
    covariates: Sequence[str],
    weights: Any,
    *,
    model: str = "probit",
) -> Balance:
    """Covariate balance before and after matching (Stata ``pstest`` conventions).

    For each covariate: the means of treated and controls in the unmatched sample and in the
    matched sample (weighted by ``weights``); the standardised % bias
    ``100 (m_T - m_C) / sqrt((s²_T + s²_C) / 2)`` of Rosenbaum & Rubin (1985), where ``s²`` are
    the *unmatched* sample variances in both rows; the % reduction ``100 (1 - |bias_M| /
    |bias_U|)``; and the t-test of equal means (OLS of the covariate on treatment before matching,
    weighted least squares with ``sum(w) - 2`` degrees of freedom after). The propensity model is
    re-estimated on both samples for the pseudo-R² and the LR test of joint insignificance.

    Parameters
    ----------
    data
        Covariate data, one row per unit.
    treat
        Treatment column name or 0/1 array aligned with ``data``.
    covariates
        Columns to test.
    weights
        Matching weights (:attr:`Matching.weights`): positive for the matched sample (1 for matched
        treated units), 0 for unmatched and off-support units.
    model
        Link of the re-estimated propensity model: ``"probit"`` as pstest, or ``"logit"``.

    Returns
    -------
    Balance
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    df = _frame(data)
    covariates = list(covariates)
    _require(df, covariates, "covariate")
    if isinstance(treat, str):
        _require(df, [treat], "treatment")
        t = _treatment(df[treat], treat)
    else:
        t = _treatment(treat, "treat")
    w = np.asarray(weights, dtype=float)
    if w.shape != t.shape or not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("weights must be finite, non-negative and aligned with the data")
    m = w > 0
    if not (m & t).any() or not (m & ~t).any():
        raise EstimationError("the matched sample needs at least one treated and one control unit")
    x = _covariate_matrix(df, covariates)
    frame = pd.DataFrame(
        [r for j, name in enumerate(covariates) for r in _covariate_rows(name, x[:, j], t, w)]
    )
    summary = pd.DataFrame(
        [_sample_summary(t, x, np.ones(len(t)), frame.loc[frame["sample"] == "Unmatched", "bias"], model),
         _sample_summary(t[m], x[m], w[m], frame.loc[frame["sample"] == "Matched", "bias"], model)],
        index=pd.Index(["Unmatched", "Matched"], name="sample"),
    )
    return Balance(frame, summary, model)


def _covariate_rows(name: str, x: np.ndarray, t: np.ndarray, w: np.ndarray) -> list[dict[str, Any]]:
    m = w > 0
    scale = np.sqrt((np.var(x[t], ddof=1) + np.var(x[~t], ddof=1)) / 2)
    rows = []
    for sample, xs, ts, ws in (("Unmatched", x, t, np.ones(len(x))), ("Matched", x[m], t[m], w[m])):
        m1, m0 = np.average(xs[ts], weights=ws[ts]), np.average(xs[~ts], weights=ws[~ts])
        tstat, p, df = _mean_difference_test(xs, ts, ws)
        bias = 100 * (m1 - m0) / scale if scale > 0 else np.nan
        rows.append({"variable": name, "sample": sample, "mean_treated": m1, "mean_control": m0,
                     "bias": bias, "reduction": np.nan, "t": tstat, "p_value": p, "df": df})
    unmatched, matched = rows[0]["bias"], rows[1]["bias"]
    rows[1]["reduction"] = 100 * (1 - abs(matched) / abs(unmatched)) if unmatched else np.nan
    return rows


def _sample_summary(t: np.ndarray, x: np.ndarray, w: np.ndarray, bias: pd.Series, model: str) -> dict[str, float]:
    r2, chi2, p, dof = _weighted_pseudo_r2(t, x, w, model)
    return {"pseudo_r2": r2, "lr_chi2": chi2, "lr_pvalue": p, "lr_df": dof,
            "mean_bias": float(bias.abs().mean()), "median_bias": float(bias.abs().median())}


# ====================================================================== PSM-DID
@dataclass(eq=False, repr=False)
class PSMDiD(Result):
    """Result of :func:`psm_did`.

    Attributes
    ----------
    design
        ``"cross-section"`` (units matched on pre-period covariate means) or
        ``"period-by-period"`` (observations matched within each year).
    did
        TWFE DID re-estimated on the matched sample (units, or observations, with positive weight).
    did_weighted
        The same regression weighted by the matching weights (when requested).
    balance
        :class:`Balance` of the matching covariates.
    att, att_se
        Matched comparison of outcomes and psmatch2's analytic standard error. Cross-section:
        ATT of the post-minus-pre change of the outcome (difference-in-differences matching,
        Heckman, Ichimura & Todd 1997). Period-by-period: ATT on the outcome level over treated
        observations with the treatment switched on.
    att_se_boot
        Bootstrap standard error (cross-section design, when ``n_draws > 0``).
    scores
        Per matched entity (unit, or unit-year): ``treated``, ``score``, ``weight``, ``support``.
    counts
        ``treated``, ``control``, ``off_support`` (trimmed by common support), ``unmatched``
        (no control within the caliper / kernel window), ``matched_treated``, ``matched_control``.
    matching
        The :class:`Matching` (cross-section) or a dict year -> :class:`Matching`.
    notes
        Plain-language notes (dropped units, skipped years, ...).
    """

    design: str
    did: EstimationResult
    balance: Balance
    att: float
    att_se: float
    scores: pd.DataFrame
    counts: dict[str, int]
    matching: Matching | dict[int, Matching]
    did_weighted: EstimationResult | None = None
    att_se_boot: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def att_t(self) -> float:
        """t statistic of the ATT with the analytic standard error."""
        return self.att / self.att_se

    @property
    def treat(self) -> str:
        return self.did.key_term

    @property
    def results(self) -> list[EstimationResult]:
        """The DID on the matched sample, then (if estimated) the matching-weighted DID."""
        return [self.did, *([self.did_weighted] if self.did_weighted is not None else [])]

    @property
    def _att_outcome(self) -> str:
        return "outcome change" if self.design == "cross-section" else "outcome level"

    def tidy(self) -> pd.DataFrame:
        """The treatment coefficient of each DID regression (``estimator`` = its label), then the
        matched ATT with psmatch2's analytic SE and normal p-value / 95% CI."""
        rows = []
        for r in self.results:
            t = r.tidy()
            rows.append(t[t["term"] == self.treat].assign(estimator=r.label or r.model))
        att = coef_table(["ATT"], np.array([self.att]), np.array([self.att_se]))
        rows.append(att.assign(estimator=f"Matched {self._att_outcome} (psmatch2)"))
        return tidy_frame(pd.concat(rows, ignore_index=True))

    def summary(self) -> dict[str, Any]:
        return {
            "design": self.design,
            "estimate": self.did.coef(self.treat), "se": self.did.se(self.treat), "p": self.did.pvalue(self.treat),
            "att": jsonable(self.att), "att_se": jsonable(self.att_se),
            "att_se_boot": jsonable(self.att_se_boot) if self.att_se_boot is not None else None,
            "counts": dict(self.counts), "balance": self.balance.summary(),
        }

    def reading(self) -> str:
        """The matched-sample DID, the matched ATT and the covariate balance after matching."""
        b, p = self.did.coef(self.treat), self.did.pvalue(self.treat)
        return (f"On the matched sample the DID estimate is {b:.4f} ({p_phrase(p)}, {significance_phrase(p)}); "
                f"the matched ATT of the {self._att_outcome} is {self.att:.4f} (SE {self.att_se:.4f}). "
                + self.balance.reading())

    def table(self, *, labels: dict[str, str] | None = None, keep: Sequence[str] | None = None,
              title: str | None = "PSM-DID estimates", **kwargs: Any) -> Table:
        """The DID regressions side by side (matched sample, matching weights)."""
        keep = list(keep) if keep is not None else [self.treat, *self.did.meta.get("controls", [])]
        return ResultSet(self.results).table(labels=labels, keep=keep, title=title,
                                             column_labels=[r.label or r.model for r in self.results], **kwargs)

    def att_table(self, *, digits: int = 4, title: str | None = "Average treatment effect on the treated") -> Table:
        """Seed 002 Table 4 layout: ATT with stars and t statistic, group sizes."""
        p = 2 * stats.norm.sf(abs(self.att_t))
        rows = [["ATT", fmt(self.att, digits) + stars(p)], ["", f"({fmt(self.att_t, 2)})"]]
        if self.att_se_boot is not None:
            rows.append(["Bootstrap SE", fmt(self.att_se_boot, digits)])
        c = self.counts
        rows += [["Treated", fmt(c["matched_treated"])], ["Control", fmt(c["matched_control"])],
                 ["Total", fmt(c["matched_treated"] + c["matched_control"])]]
        return Table(columns=["Estimate"], rows=rows, title=title, rules=[2],
                     notes=["t statistic in parentheses (analytic psmatch2 standard error, ignoring "
                            "estimation of the propensity score). * p<0.1, ** p<0.05, *** p<0.01."])

    def plot(self, *, bins: int = 30):
        """Histogram densities of the score for treated and controls before matching (all units)
        and after matching (matched units, controls weighted by their matching weights).

        Returns the matplotlib figure (matplotlib is imported on first use).
        """
        from ...report.figures import _pyplot

        plt = _pyplot()
        sc = self.scores
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharex=True, sharey=True)
        edges = np.linspace(sc["score"].min(), sc["score"].max(), bins + 1)
        after = sc["weight"] > 0
        for ax, title, part, w in ((axes[0], "Before matching", sc, None),
                                   (axes[1], "After matching", sc[after], sc.loc[after, "weight"])):
            for flag, label, style in ((1, "Treated", "-"), (0, "Control", "--")):
                g = part["treated"] == flag
                ax.hist(part.loc[g, "score"], bins=edges, density=True, histtype="step", ls=style,
                        weights=None if w is None else w[g], label=label)
            ax.set_title(title)
            ax.set_xlabel("Propensity score")
            ax.spines[["top", "right"]].set_visible(False)
        axes[0].set_ylabel("Density")
        axes[0].legend(frameon=False)
        return fig


def _unit_groups(df: pd.DataFrame, unit: str, time: str, treat: str, group: str | None) -> tuple[pd.Series, pd.Series]:
    """Ever-treated indicator and adoption period (first period with ``treat == 1``) per unit."""
    d = _treatment(df[treat], treat)
    adoption = df.loc[d].groupby(unit)[time].min()
    units = pd.Index(df[unit].unique())
    ever = pd.Series(units.isin(adoption.index), index=units)
    if group is None:
        return ever, adoption
    g = df.groupby(unit)[group].agg(["min", "max"])
    varying = g.index[g["min"] != g["max"]]
    if len(varying):
        raise PanelError(f"group '{group}' must be constant within units; {unit} {show(varying[0])} changes")
    given = _treatment(g["max"], group)
    conflict = g.index[given != ever.reindex(g.index).to_numpy()]
    if len(conflict):
        raise EstimationError(
            f"group '{group}' disagrees with treatment '{treat}' for {len(conflict)} units, e.g. "
            f"{unit} {show(conflict[0])}: a unit is in the treated group exactly when it is ever treated"
        )
    return ever, adoption


def _outcome_changes(df: pd.DataFrame, unit: str, time: str, y: str, cohorts: np.ndarray) -> pd.DataFrame:
    """Mean of ``y`` from period g on minus its mean before g, per unit (rows) and cohort g (columns)."""
    wide = df.pivot(index=unit, columns=time, values=y)
    periods = wide.columns.to_numpy()
    return pd.DataFrame(
        {g: wide.loc[:, periods >= g].mean(axis=1) - wide.loc[:, periods < g].mean(axis=1) for g in cohorts}
    )


def _change_att(m: Matching, delta: np.ndarray, cohort: np.ndarray) -> tuple[float, float]:
    """ATT of outcome changes when each treated unit's change (and that of its controls) is
    measured around its own adoption period: ``delta[u, c]`` is unit u's change around cohort c,
    ``cohort[u]`` the cohort column of treated unit u. A control's outcome in the psmatch2 standard
    error is its weighted mean change over the windows it serves (its single change when all
    treated units adopt together)."""
    rows = (m.pairs > 0).any(axis=1)
    t_sel, c_idx = m.treated[rows], m.controls
    w = m.pairs[rows]
    y_t = delta[t_sel, cohort[t_sel]]
    y_c = delta[c_idx][:, cohort[t_sel]].T * w  # weighted control changes, per treated unit
    w_c = w.sum(axis=0)
    c_bar = np.divide(y_c.sum(axis=0), w_c, out=np.zeros_like(w_c), where=w_c > 0)
    return _att_se(y_t, y_c.sum(axis=1), w_c, c_bar)


def _weighted_twfe(panel: Panel, y: str, treat: str, controls: Sequence[str], weights: np.ndarray,
                   fe: list[str], cluster: str | None) -> EstimationResult:
    """TWFE DID by weighted least squares (pyfixest analytic weights) on the rows with positive
    weight, CRV1 standard errors with the small-sample factor of :func:`climetrics.estimate.baseline.twfe.twfe`.
    Singletons are kept (a matched unit keeps all its periods, so there are none in a balanced
    panel)."""
    import pyfixest as pf

    keep = weights > 0
    cols = list(dict.fromkeys([y, treat, *controls, *fe, *([cluster] if cluster else [])]))
    df = panel.df.loc[keep, cols].assign(_w=weights[keep]).dropna().reset_index(drop=True)
    safe = {c: f"v{i}" for i, c in enumerate(cols)}
    regs = [treat, *controls]
    fml = f"{safe[y]} ~ {' + '.join(safe[r] for r in regs)}"
    if fe:
        fml += f" | {' + '.join(safe[f] for f in fe)}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.feols(fml, data=df.rename(columns=safe), weights="_w", fixef_rm="none",
                       vcov={"CRV1": safe[cluster]} if cluster else "hetero",
                       ssc=pf.ssc(k_adj=False, G_adj=False) if cluster else pf.ssc(k_fixef="full"))
    back = {v: k for k, v in safe.items()}
    names = [back.get(c, "_cons" if c == "Intercept" else c) for c in fit._coefnames]
    beta = np.asarray(fit._beta_hat, dtype=float)
    if cluster:
        factor, _, n_clusters = _small_sample(df, fe, cluster, n_slopes=len(beta))
        se, df_t = np.sqrt(np.diag(fit._vcov) * factor), n_clusters - 1
    else:
        se, df_t, n_clusters = np.asarray(fit._se, dtype=float), float(np.atleast_1d(fit._df_t)[0]), None
    return EstimationResult(
        coefs=coef_table(names, beta, se, df=df_t), depvar=y,
        model="TWFE (weighted)" if len(fe) >= 2 else "WLS", n_obs=int(fit._N),
        fixed_effects=tuple(fe), vcov="CRV1" if cluster else "hetero", cluster=cluster,
        n_clusters=n_clusters, stats={"r2": float(fit._r2)},
        notes=["Weighted by the PSM matching weights (treated 1, controls their psmatch2 _weight)."],
        meta={"treat": [treat], "controls": list(controls), "df_t": df_t},
    )


def _counts(treated: np.ndarray, weights: np.ndarray, support: np.ndarray) -> dict[str, int]:
    matched = weights > 0
    return {
        "treated": int(treated.sum()),
        "control": int((~treated).sum()),
        "off_support": int((treated & ~support).sum()),
        "unmatched": int((treated & support & ~matched).sum()),
        "matched_treated": int((matched & treated).sum()),
        "matched_control": int((matched & ~treated).sum()),
    }


def psm_did(
    panel: Panel,
    y: str,
    treat: str,
    controls: Sequence[str] | None = None,
    *,
    covariates: Sequence[str] | None = None,
    fe: Sequence[str] | None = None,
    cluster: str | None = "unit",
    n_draws: int = 0,
    seed: int = 0,
    group: str | None = None,
    period_by_period: bool = False,
    method: str = "kernel",
    model: str = "probit",
    on: str = "score",
    weighted: bool = False,
    **match_options: Any,
) -> PSMDiD:
    """Propensity-score-matching difference-in-differences (PSM-DID).

    Two designs of applied work:

    * cross-section (default): the unit-level treatment is "ever treated" (or ``group``); the
      pre period is every period before the first adoption in the panel; units are matched on
      their pre-period covariate means; the TWFE DID is re-estimated on the matched units (all
      their periods). The ATT is the matched comparison of outcome changes (Heckman, Ichimura &
      Todd 1997): each treated unit's mean outcome from its adoption on minus its mean before,
      against the same change of its matched controls.
    * ``period_by_period=True``: within each period, observations of the treated group are matched
      to control-group observations on that period's covariates (one propensity model per period);
      matched observations (positive weight) are kept for the DID. The ATT compares outcome
      levels of treated observations with ``treat == 1`` and their matched controls.

    Parameters
    ----------
    panel
        The panel.
    y
        Outcome.
    treat
        0/1 DID treatment (switched on from adoption).
    controls
        Controls of the DID regression (as in :func:`climetrics.twfe`).
    covariates
        Matching covariates: the variables of the propensity-score model. They are a different
        thing from the regression ``controls`` (they predict treatment, measured before it in the
        cross-section design), although applied work often uses the same list; default: the
        controls. At least one of ``controls`` and ``covariates`` must be given.
    group
        Unit-level treated-group column (0/1, constant within units, 1 exactly for the units that
        are ever treated); default: derived from ``treat``.
    period_by_period
        Match within each period instead of on pre-period means.
    method
        ``"kernel"`` (default, seed 002), ``"nearest"`` or ``"radius"``; ``match_options`` go to
        :func:`kernel_match`, :func:`nearest_neighbor_match` or :func:`radius_match` (e.g.
        ``bandwidth=0.2``, ``kernel="normal"``, ``k=1``, ``replace=True``, ``caliper=0.05``).
        Common-support trimming is on unless ``trim=False`` is passed.
    model
        ``"probit"`` (default, as psmatch2 and seed 002) or ``"logit"``; the balance test
        re-estimates the same model.
    on
        Match on the ``"score"`` (probability) or on its linear ``"index"`` (log-odds for logit).
    fe, cluster
        As in :func:`climetrics.estimate.baseline.twfe.twfe` (default unit and time FE, clustered by
        unit; ``cluster=None``: heteroskedasticity-robust standard errors).
    weighted
        Also estimate the DID by weighted least squares with the matching weights, every
        observation of a unit carrying the unit's weight (``did_weighted``).
    n_draws, seed
        Bootstrap replications for the ATT standard error (cross-section design), resampling
        treated and control units separately and re-estimating the score and the matching each
        time. The bootstrap is not valid for nearest-neighbour matching (Abadie & Imbens 2008).

    Returns
    -------
    PSMDiD

    Raises
    ------
    EstimationError
        No treated or no control units, no pre-treatment period, separation in the propensity
        model, nothing on common support, or nothing matched.
    """
    if on not in ("score", "index"):
        raise ValueError(f"on must be 'score' or 'index', got {on!r}")
    if controls is None and covariates is None:
        raise ValueError("psm_did needs matching covariates: give controls= or covariates=")
    covariates = list(controls if covariates is None else covariates)
    controls = covariates if controls is None else list(controls)
    panel.require([y, treat, *covariates, *controls], context="psm_did")
    if group is not None:
        panel.require([group], context="psm_did")
    match_options.setdefault("trim", True)
    fe_l = [panel.unit, panel.time] if fe is None else [
        panel.unit if f == "unit" else panel.time if f == "time" else f for f in fe
    ]
    clus = panel.unit if cluster == "unit" else cluster
    design = _Design(panel, y, treat, covariates, group, method, model, on, match_options)
    parts, weights = design.by_period() if period_by_period else design.cross_section(n_draws, seed)
    did = twfe(panel.subset(weights > 0, note="PSM matched sample"), y, treat, controls, fe=fe_l, cluster=clus)
    did.notes.append(f"Estimated on the PSM matched sample ({parts['design']} {method} matching).")
    did.label = "Matched sample"
    if weighted:
        parts["did_weighted"] = _weighted_twfe(panel, y, treat, did.meta["controls"], weights, fe_l, clus)
        parts["did_weighted"].label = "Matching weights"
    return PSMDiD(did=did, **parts)


@dataclass
class _Design:
    """Inputs shared by the two PSM-DID designs."""

    panel: Panel
    y: str
    treat: str
    covariates: list[str]
    group: str | None
    method: str
    model: str
    on: str
    options: dict[str, Any]

    @property
    def indicator(self) -> str:
        """Name of the unit-level treated-group indicator in messages and fitted models."""
        return self.group or f"ever_{self.treat}"

    def fit(self, x: pd.DataFrame, t: np.ndarray) -> tuple[PropensityScore, Matching]:
        ps = propensity_score(x.assign(**{self.indicator: t.astype(int)}), self.indicator,
                              self.covariates, model=self.model)
        return ps, match(ps.score if self.on == "score" else ps.index, t, self.method, **self.options)

    def cross_section(self, n_draws: int, seed: int) -> tuple[dict[str, Any], np.ndarray]:
        """Match units on pre-period covariate means; returns the PSMDiD fields and row weights."""
        df, unit, time = self.panel.df, self.panel.unit, self.panel.time
        ever, adoption = _unit_groups(df, unit, time, self.treat, self.group)
        first = adoption.min()
        pre = df[time] < first
        if not pre.any():
            raise EstimationError(
                f"no pre-treatment period: the first adoption ({first}) is in the first period of the panel"
            )
        cohorts = np.sort(adoption.unique())
        x = df.loc[pre].groupby(unit)[self.covariates].mean().reindex(ever.index)
        delta = _outcome_changes(df, unit, time, self.y, cohorts).reindex(ever.index)
        ok = x.notna().all(axis=1) & delta.notna().all(axis=1)
        notes = []
        if not ok.all():
            notes.append(f"{int((~ok).sum())} units without pre-period covariates or without outcomes "
                         f"before and after every adoption date dropped, e.g. {show(ok.index[~ok][0])}.")
        x, delta, t = x[ok], delta[ok].to_numpy(), ever[ok].to_numpy()
        ps, m = self.fit(x, t)
        # cohort column of each treated unit (controls get column 0; it is never read for them)
        cohort = np.searchsorted(cohorts, adoption.reindex(x.index).fillna(cohorts[0]).to_numpy())
        att, se = _change_att(m, delta, cohort)
        boot = None
        if n_draws:
            boot, failed = self.bootstrap(x, t, delta, cohort, n_draws, seed)
            if failed:
                notes.append(f"{failed} of {n_draws} bootstrap draws could not be matched and were skipped.")
        w = m.weights
        scores = pd.DataFrame({unit: x.index, "treated": t.astype(int), "score": ps.score,
                               "weight": w, "support": m.support})
        parts = {"design": "cross-section", "balance": m.balance(x, self.covariates, model=self.model),
                 "att": att, "att_se": se, "att_se_boot": boot, "scores": scores,
                 "counts": _counts(t, w, m.support), "matching": m, "notes": notes}
        return parts, df[unit].map(pd.Series(w, index=x.index)).fillna(0.0).to_numpy()

    def bootstrap(self, x: pd.DataFrame, t: np.ndarray, delta: np.ndarray, cohort: np.ndarray,
                  n_draws: int, seed: int) -> tuple[float, int]:
        """SD of the ATT over bootstrap samples drawn within treated and within control units,
        re-estimating the score and the matching each time; returns it and the failed draws."""
        rng = np.random.default_rng(seed)
        t_idx, c_idx = np.flatnonzero(t), np.flatnonzero(~t)
        draws, failed = [], 0
        for _ in range(n_draws):
            idx = np.concatenate([rng.choice(t_idx, len(t_idx)), rng.choice(c_idx, len(c_idx))])
            try:
                _, m = self.fit(x.iloc[idx], t[idx])
            except EstimationError:
                failed += 1
                continue
            draws.append(_change_att(m, delta[idx], cohort[idx])[0])
        return (float(np.std(draws, ddof=1)) if len(draws) > 1 else np.nan), failed

    def by_period(self) -> tuple[dict[str, Any], np.ndarray]:
        """Match observations within each period; returns the PSMDiD fields and row weights."""
        df, unit, time = self.panel.df, self.panel.unit, self.panel.time
        ever, _ = _unit_groups(df, unit, time, self.treat, self.group)
        g = df[unit].map(ever).to_numpy(bool)
        complete = df[self.covariates].notna().all(axis=1).to_numpy()
        notes = []
        if not complete.all():
            notes.append(f"{int((~complete).sum())} observations with missing covariates left unmatched.")
        n = len(df)
        weights, support, scores = np.zeros(n), np.ones(n, dtype=bool), np.full(n, np.nan)
        d, yv = df[self.treat].to_numpy(float), df[self.y].to_numpy(float)
        blocks, matchings = [], {}
        for period, rows in df.groupby(time).indices.items():
            rows = rows[complete[rows]]
            tp = g[rows]
            if tp.all() or not tp.any():
                notes.append(f"{time} {period} skipped: no {'control' if tp.all() else 'treated'}-group observations.")
                continue
            try:
                ps, m = self.fit(df.iloc[rows], tp)
            except EstimationError as err:
                raise EstimationError(f"{time} {period}: {err}") from err
            matchings[int(period)] = m
            weights[rows], support[rows], scores[rows] = m.weights, m.support, ps.score
            blocks.append(_post_block(m, d[rows], yv[rows]))
        if not matchings:
            raise EstimationError("no period has both treated-group and control-group observations")
        y_t, y_cf, w_c, y_c = (np.concatenate(b) for b in zip(*blocks, strict=True))
        if not len(y_t):
            raise EstimationError(f"no matched observation has '{self.treat}' = 1; the ATT is not defined")
        att, se = _att_se(y_t, y_cf, w_c, y_c)
        used = ~np.isnan(scores)
        bal = balance(df.loc[used, self.covariates], g[used], self.covariates, weights[used], model=self.model)
        table = pd.DataFrame({unit: df[unit], time: df[time], "treated": g.astype(int), "score": scores,
                              "weight": weights, "support": support})[used].reset_index(drop=True)
        parts = {"design": "period-by-period", "balance": bal, "att": att, "att_se": se,
                 "scores": table, "counts": _counts(g[used], weights[used], support[used]),
                 "matching": matchings, "notes": notes}
        return parts, weights


def _post_block(m: Matching, d: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    """ATT pieces of one period: outcomes of matched treated observations with the treatment on,
    their matched counterfactuals, the control weights they induce and the control outcomes."""
    post = (d[m.treated] == 1) & (m.pairs > 0).any(axis=1)
    w = m.pairs[post]
    y_c = y[m.controls]
    return y[m.treated][post], w @ y_c, w.sum(axis=0), y_c

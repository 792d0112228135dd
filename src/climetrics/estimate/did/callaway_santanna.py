"""Callaway & Sant'Anna (2021) group-time average treatment effects, ATT(g,t).

For every cohort ``g`` (units first treated in period ``g``) and period ``t``, ATT(g,t) is a
2x2 DID between cohort ``g`` and a comparison group (never-treated units, or units not yet
treated by ``max(t, base)``), from the base period ``b`` to ``t`` (CS 2021, eq. 2.6-2.7):

    ATT(g,t) = E[Y_t - Y_b | G = g] - E[Y_t - Y_b | C]       (unconditional parallel trends)

With covariates the 2x2 DID is estimated, as in R ``did``, by one of Sant'Anna & Zhao (2020):

* ``"reg"``: outcome regression (SZ eq. 2.2) -- OLS of Y_t - Y_b on X among controls, the
  treated average of the prediction is subtracted;
* ``"ipw"``: normalised inverse-probability weighting (Abadie 2005; SZ eq. 2.4), logit
  propensity score;
* ``"dr"``: the doubly-robust estimator (SZ eq. 3.1) with logit propensity score and OLS
  outcome regression, as R ``did`` / ``DRDID::drdid_panel`` compute it (R ``did``'s "dr");
* ``"dr_imp"``: SZ's improved doubly-robust estimator (sec. 3.1; ``DRDID::drdid_imp_panel``):
  inverse-probability-tilting propensity score and weighted outcome regression, locally
  efficient, with an influence function free of nuisance-estimation terms.

Propensity scores are capped at 1 - 1e-6 and control units with a score of 0.995 or more are
trimmed, as DRDID does.

Covariates are taken in the earlier of the two periods compared (``min(t, b)``), i.e. the
base period for post-treatment cells, as R ``did`` does.

Every estimate comes with its influence function ``psi`` (n_units x n_cells), scaled so that
``estimate - truth ~ mean(psi)``; the analytic standard error is ``sqrt(mean(psi^2) / n)``
(or ``sqrt(sum_c S_c^2) / n`` with S_c the sum of psi over cluster c). Aggregations (CS 2021,
sec. 4 and eq. 3.10-3.12) are weighted averages of ATT(g,t) with weights proportional to cohort
size; their influence functions include the estimation of the weights. Uniform confidence bands
use the multiplier bootstrap (CS 2021, sec. 4.1, algorithm 1), computed as one matrix product
of a (clusters x draws) matrix of Rademacher or Mammen weights with the influence functions,
chunked over draws on the replicate engine (:mod:`climetrics.core.replicate`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ...core.covariance import cluster_codes, cluster_sums, coef_table
from ...core.results import EstimationResult
from ...errors import EstimationError, PanelError, show
from ...panel import Panel
from .staggered import (
    NEVER,
    as_list,
    require_never_treated,
    require_pre_period,
    unit_cohorts,
)

_METHODS = ("dr", "dr_imp", "ipw", "reg")
_CONTROLS = {"never": "never-treated", "notyet": "not-yet-treated"}
_KINDS = {
    "simple": "simple",
    "dynamic": "dynamic",
    "event": "dynamic",
    "group": "group",
    "calendar": "calendar",
}
TRIM = 0.995  # controls with propensity score >= TRIM get zero weight (DRDID's trim.level)


# ---------------------------------------------------------------------- 2x2 DID kernels
def _logit(x: np.ndarray, d: np.ndarray, tol: float = 1e-12, max_iter: int = 100) -> np.ndarray:
    """Maximum-likelihood logit by Newton-Raphson; returns fitted probabilities."""
    beta = np.zeros(x.shape[1])
    failure = "the propensity-score logit did not converge (perfect separation?)"
    with np.errstate(over="ignore"):  # exp overflow is the separation case reported below
        for _ in range(max_iter):
            p = 1.0 / (1.0 + np.exp(-x @ beta))
            try:
                step = np.linalg.solve((x * (p * (1 - p))[:, None]).T @ x, x.T @ (d - p))
            except np.linalg.LinAlgError:
                raise EstimationError(
                    failure + "; the information matrix became singular"
                ) from None
            beta += step
            if np.abs(step).max() < tol:
                return 1.0 / (1.0 + np.exp(-x @ beta))
    raise EstimationError(failure)


def _outcome_regression(
    dy: np.ndarray, d: np.ndarray, x: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """OLS of ``dy`` on ``x`` among controls: fitted values for everyone and the asymptotic
    linear representation of the coefficients (n x k)."""
    c = d == 0
    beta = np.linalg.lstsq(x[c], dy[c], rcond=None)[0]
    fit = x @ beta
    bread = np.linalg.inv(x[c].T @ x[c] / len(d))
    return fit, ((1 - d) * (dy - fit))[:, None] * x @ bread


def _tilting(x: np.ndarray, d: np.ndarray, tol: float = 1e-12, max_iter: int = 100) -> np.ndarray:
    """Inverse probability tilting (Graham, Pinto & Egel 2012) for the ATT: ``g`` minimising
    the convex loss ``mean[(1-D) exp(X'g) - D X'g]``, whose first-order condition
    ``mean[(1-D) exp(X'g) X] = mean[D X]`` balances the covariates of the reweighted controls
    exactly (SZ 2020 eq. 3.6). Newton-Raphson with step halving; returns ``expit(X'g)``."""

    def loss(g: np.ndarray) -> float:
        return float(np.mean((1 - d) * np.exp(x @ g) - d * (x @ g)))

    gamma = np.zeros(x.shape[1])
    gamma[0] = np.log(d.mean() / (1 - d.mean()))  # first column is the intercept
    for _ in range(max_iter):
        odds = (1 - d) * np.exp(x @ gamma)
        step = np.linalg.solve((x * odds[:, None]).T @ x, x.T @ (d - odds))
        size, current = 1.0, loss(gamma)
        while loss(gamma + size * step) > current + 1e-15 * abs(current) and size > 1e-10:
            size /= 2
        gamma += size * step
        if np.abs(size * step).max() < tol:
            return 1.0 / (1.0 + np.exp(-x @ gamma))
    raise EstimationError("the inverse-probability-tilting propensity score did not converge")


def _control_weights(p: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Capped scores and trimmed, unnormalised control weights ``(1-D) p / (1-p)`` (DRDID)."""
    p = np.minimum(p, 1 - 1e-6)
    return p, (1 - d) * (p < TRIM) * p / (1 - p)


def _propensity(d: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Logit propensity score: its asymptotic linear representation (n x k) and the control
    weights."""
    p, w_c = _control_weights(_logit(x, d), d)
    bread = np.linalg.inv((x * (p * (1 - p))[:, None]).T @ x / len(d))
    return (d - p)[:, None] * x @ bread, w_c


def did_reg(dy: np.ndarray, d: np.ndarray, x: np.ndarray) -> tuple[float, np.ndarray]:
    """Outcome-regression DID (Heckman, Ichimura & Todd 1997; SZ 2020 eq. 2.2).

    Returns the ATT and its influence function on the 2x2 sample."""
    fit, lin_or = _outcome_regression(dy, d, x)
    md = d.mean()
    att = float(np.mean(d * (dy - fit)) / md)
    inf = (d * (dy - fit - att) - lin_or @ np.mean(d[:, None] * x, 0)) / md
    return att, inf


def did_ipw(dy: np.ndarray, d: np.ndarray, x: np.ndarray) -> tuple[float, np.ndarray]:
    """Normalised (Hajek) IPW DID (Abadie 2005; SZ 2020 eq. 2.4 with normalised weights)."""
    lin_ps, w_c = _propensity(d, x)
    eta_t = np.sum(d * dy) / np.sum(d)
    eta_c = np.sum(w_c * dy) / np.sum(w_c)
    inf_t = d * (dy - eta_t) / d.mean()
    r_c = w_c * (dy - eta_c)
    inf_c = (r_c + lin_ps @ np.mean(r_c[:, None] * x, 0)) / w_c.mean()
    return float(eta_t - eta_c), inf_t - inf_c


def did_dr(dy: np.ndarray, d: np.ndarray, x: np.ndarray) -> tuple[float, np.ndarray]:
    """Doubly-robust DID for panel data (SZ 2020 eq. 3.1; R ``DRDID::drdid_panel``).

    ``ATT = E_w1[dY - m(X)] - E_w0[dY - m(X)]`` with ``w1 = D / E[D]``,
    ``w0 = p(X)(1-D)/(1-p(X))`` normalised, ``m`` the control outcome regression of dY on X.
    The influence function includes the estimation of ``p`` and ``m`` (SZ 2020, Appendix).
    """
    fit, lin_or = _outcome_regression(dy, d, x)
    lin_ps, w_c = _propensity(d, x)
    r = dy - fit
    eta_t = np.sum(d * r) / np.sum(d)
    eta_c = np.sum(w_c * r) / np.sum(w_c)
    inf_t = (d * (r - eta_t) - lin_or @ np.mean(d[:, None] * x, 0)) / d.mean()
    r_c = w_c * (r - eta_c)
    inf_c = (
        r_c + lin_ps @ np.mean(r_c[:, None] * x, 0) - lin_or @ np.mean(w_c[:, None] * x, 0)
    ) / w_c.mean()
    return float(eta_t - eta_c), inf_t - inf_c


def did_dr_imp(dy: np.ndarray, d: np.ndarray, x: np.ndarray) -> tuple[float, np.ndarray]:
    """Improved (locally efficient and doubly robust) DID for panel data (SZ 2020 sec. 3.1,
    eq. 3.5-3.7; R ``DRDID::drdid_imp_panel``).

    The propensity score comes from inverse probability tilting and the control outcome
    regression is weighted least squares with weights ``p/(1-p)``. These choices make the
    estimation effects of both nuisance models vanish, so the influence function is just
    ``w1 (r - eta1) / E[w1] - w0 (r - eta0) / E[w0]`` with ``r = dY - m(X)``.
    """
    _, w_c = _control_weights(_tilting(x, d), d)
    c = d == 0
    root = np.sqrt(w_c[c])
    beta = np.linalg.lstsq(x[c] * root[:, None], dy[c] * root, rcond=None)[0]
    r = dy - x @ beta
    eta_t = np.sum(d * r) / np.sum(d)
    eta_c = np.sum(w_c * r) / np.sum(w_c)
    inf = d * (r - eta_t) / d.mean() - w_c * (r - eta_c) / w_c.mean()
    return float(eta_t - eta_c), inf


_KERNELS = {"reg": did_reg, "ipw": did_ipw, "dr": did_dr, "dr_imp": did_dr_imp}


# ---------------------------------------------------------------------- data preparation
@dataclass
class _Design:
    """Balanced wide data: outcome (n x T), covariates (n x T x k), cohort of each unit."""

    units: np.ndarray
    periods: np.ndarray
    y: np.ndarray
    x: np.ndarray
    cohort: np.ndarray
    cluster: np.ndarray
    notes: list[str]


def _wide(
    panel: Panel, y: str, covariates: list[str], cohort: pd.Series, cluster: str | None
) -> _Design:
    """Pivot to a balanced unit x period array, dropping units with a missing value."""
    df = panel.df
    cols = [y, *covariates]
    panel.require(cols, context="callaway_santanna")
    periods = np.sort(df[panel.time].unique())
    units = cohort.index.to_numpy()
    ui = pd.Index(units).get_indexer(df[panel.unit])
    ti = np.searchsorted(periods, df[panel.time].to_numpy())
    cube = np.full((len(units), len(periods), len(cols)), np.nan)
    cube[ui, ti] = df[cols].apply(pd.to_numeric).to_numpy(float)
    keep = np.isfinite(cube).all(axis=(1, 2))
    notes = []
    if not keep.all():
        bad = units[~keep]
        notes.append(
            f"{len(bad)} {panel.unit} units dropped for a missing period or missing {', '.join(cols)} "
            f"(e.g. {show(bad[0])}); the estimator needs a balanced panel."
        )
    if not keep.any():
        raise EstimationError(f"no {panel.unit} is observed with {', '.join(cols)} in every period")
    if cluster is None:
        clus = units
    else:
        panel.require([cluster], numeric=False, context="callaway_santanna")
        per_unit = df.groupby(panel.unit, sort=True)[cluster]
        varying = per_unit.nunique()
        if (varying > 1).any():
            raise EstimationError(
                f"cluster '{cluster}' varies within {panel.unit} {show(varying.index[varying > 1][0])}; "
                "clusters must contain whole units"
            )
        clus = per_unit.first().to_numpy()
    return _Design(
        units[keep],
        periods,
        cube[keep, :, 0],
        cube[keep, :, 1:],
        cohort.to_numpy(float)[keep],
        np.asarray(clus)[keep],
        notes,
    )


def _cell_plan(
    cohorts: np.ndarray, periods: np.ndarray, base_period: str, anticipation: int
) -> list[tuple[float, int, int]]:
    """(g, index of t, index of base) for every ATT(g,t) to estimate (CS 2021 sec. 3.1).

    ``varying``: pre-treatment cells compare t with t-1 (short differences); ``universal``:
    every cell uses the last period before ``g - anticipation`` (that cell itself is 0 and
    omitted). Post-treatment cells always use the last period before ``g - anticipation``.
    """
    plan = []
    for g in cohorts:
        base_g = int(np.flatnonzero(periods + anticipation < g)[-1])
        for it in range(len(periods)):
            if periods[it] >= g - anticipation:
                plan.append((g, it, base_g))
            elif base_period == "universal":
                if it != base_g:
                    plan.append((g, it, base_g))
            elif it > 0:
                plan.append((g, it, it - 1))
    return plan


# ---------------------------------------------------------------------- inference
def analytic_se(psi: np.ndarray, cluster: np.ndarray) -> np.ndarray:
    """``sqrt(sum_c S_c^2) / n`` per column, S_c the within-cluster sum of the influence
    function; with one unit per cluster this is ``sqrt(mean(psi^2) / n)`` (R ``did``).

    With a single cluster the influence functions sum to zero and this would be 0; a standard
    error of 0 (one cluster, or no variation) is reported as NaN, so no p-value or star is
    printed for an effect whose uncertainty cannot be estimated."""
    codes, n_clusters = cluster_codes(cluster)[:2]
    s = cluster_sums(psi, codes)
    se = np.sqrt((s**2).sum(0)) / psi.shape[0]
    if n_clusters < 2:
        return np.full(se.shape, np.nan)
    return np.where(se > 0, se, np.nan)


def multiplier_weights(n_clusters: int, seed: int, draws: np.ndarray, kind: str) -> np.ndarray:
    """``(G, len(draws))`` i.i.d. multiplier weights, draw ``b`` from its own stream
    (:func:`climetrics.core.replicate.replicate_rng`): Rademacher (+-1 w.p. 1/2) or Mammen
    (``(1 - sqrt5)/2`` w.p. ``(sqrt5 + 1)/(2 sqrt5)``, else ``(1 + sqrt5)/2``)."""
    from ...core.replicate import replicate_rng

    r5 = np.sqrt(5.0)
    out = np.empty((n_clusters, len(draws)))
    for j, b in enumerate(draws):
        rng = replicate_rng(seed, b)
        if kind == "rademacher":
            out[:, j] = rng.choice([-1.0, 1.0], size=n_clusters)
        else:
            out[:, j] = np.where(
                rng.random(n_clusters) < (r5 + 1) / (2 * r5), (1 - r5) / 2, (1 + r5) / 2
            )
    return out


@dataclass(frozen=True)
class MultiplierJob:
    """Shared data of :func:`multiplier_kernel`: cluster sums of the influence functions."""

    sums: np.ndarray  # (G, K)
    n: int  # rows of psi
    seed: int
    weights: str


def multiplier_kernel(draws: np.ndarray, job: MultiplierJob) -> np.ndarray:
    """Replicate kernel: ``(len(draws), K)`` bootstrap deviations ``v_b' S / n``."""
    v = multiplier_weights(job.sums.shape[0], job.seed, draws, job.weights)
    return v.T @ job.sums / job.n


def multiplier_bootstrap(
    psi: np.ndarray,
    cluster: np.ndarray,
    *,
    n_boot: int,
    alpha: float,
    seed: int,
    weights: str,
    backend: Any = None,
) -> tuple[np.ndarray, float]:
    """Bootstrap standard errors and the uniform critical value (CS 2021 algorithm 1).

    Draws ``theta* - theta = V' S / n``, ``V`` a (clusters x n_boot) matrix of i.i.d.
    Rademacher or Mammen weights (:func:`multiplier_weights`) and ``S`` the cluster sums of the
    influence functions, in chunks of draws on the replicate engine (``backend``, see
    :mod:`climetrics.core.replicate`). The SE is the interquartile range of the draws over
    ``q(0.75) - q(0.25)`` of N(0,1); the critical value is the ``1 - alpha`` quantile of
    ``max_k |theta*_k - theta_k| / se_k`` (columns with zero variance are left out).
    """
    from ...core.replicate import map_replicates

    if weights not in ("rademacher", "mammen"):
        raise ValueError(f"bootstrap weights must be 'rademacher' or 'mammen', got {weights!r}")
    s = cluster_sums(psi, cluster_codes(cluster)[0])
    job = MultiplierJob(s, psi.shape[0], seed, weights)
    draws = map_replicates(
        multiplier_kernel,
        n_boot,
        job,
        backend=backend,
        default_chunk=max(1, 2**19 // s.shape[0]),
        label="multiplier bootstrap draws",
    )
    q75, q25 = np.quantile(draws, [0.75, 0.25], axis=0)
    se = (q75 - q25) / (stats.norm.ppf(0.75) - stats.norm.ppf(0.25))
    ok = se > 1e-12 * max(1.0, float(np.abs(draws).max(initial=0.0)))
    se = np.where(ok, se, np.nan)
    if not ok.any():
        return se, np.nan
    tmax = np.max(np.abs(draws[:, ok]) / se[ok], axis=1)
    return se, float(np.quantile(tmax, 1 - alpha))


@dataclass
class _Inference:
    """Shared inference settings of one fit."""

    cluster: np.ndarray
    alpha: float
    n_boot: int
    seed: int
    weights: str
    backend: Any = None

    def frame(self, est: np.ndarray, psi: np.ndarray) -> tuple[pd.DataFrame, float]:
        """Estimate, analytic SE, pointwise CI, bootstrap SE and uniform band per column."""
        se = analytic_se(psi, self.cluster)
        z = stats.norm.ppf(1 - self.alpha / 2)
        out = pd.DataFrame({"att": est, "se": se, "ci_low": est - z * se, "ci_high": est + z * se})
        if self.n_boot > 0:
            se_b, crit = multiplier_bootstrap(
                psi,
                self.cluster,
                n_boot=self.n_boot,
                alpha=self.alpha,
                seed=self.seed,
                weights=self.weights,
                backend=self.backend,
            )
            out["se_boot"] = se_b
            out["band_low"], out["band_high"] = est - crit * se_b, est + crit * se_b
        else:
            crit = np.nan
        return out, crit


# ---------------------------------------------------------------------- results
@dataclass
class CSAggregate:
    """An aggregation of ATT(g,t): overall effect and effects by event time, cohort or period.

    Attributes
    ----------
    kind
        ``"simple"``, ``"dynamic"``, ``"group"`` or ``"calendar"``.
    att, se
        Overall effect and its analytic standard error.
    by
        Effects by level (``e`` event time, ``g`` cohort or ``t`` period): columns ``att``,
        ``se``, ``ci_low``, ``ci_high`` (pointwise) and, with the bootstrap, ``se_boot``,
        ``band_low``, ``band_high`` (uniform band over the levels). Empty for ``"simple"``.
    crit_val
        Bootstrap critical value of the uniform band (NaN without bootstrap).
    psi, psi_by
        Influence functions (n_units) of the overall effect and (n_units x levels) of ``by``.
    """

    kind: str
    att: float
    se: float
    by: pd.DataFrame
    crit_val: float
    psi: np.ndarray = field(repr=False)
    psi_by: np.ndarray = field(repr=False)
    parent: CallawaySantAnna = field(repr=False)

    def to_result(self) -> EstimationResult:
        """EstimationResult with term ``"ATT"`` (overall) and one term per level
        (``"e=-2"``, ``"g=2014"``, ``"t=2016"``); z-based p-values and CIs."""
        p, by = self.parent, self.by
        levels = [f"{by.columns[0]}={int(v)}" for v in by.iloc[:, 0]] if len(by) else []
        est = np.r_[self.att, by["att"].to_numpy() if len(by) else []]
        se = np.r_[self.se, by["se"].to_numpy() if len(by) else []]
        return EstimationResult(
            coefs=coef_table(["ATT", *levels], est, se, alpha=p.alpha),
            depvar=p.y,
            model="Callaway-Sant'Anna",
            n_obs=p.n_units * p.n_periods,
            vcov="influence function",
            cluster=p.cluster_name,
            n_clusters=p.n_clusters,
            notes=list(p.notes),
            meta={
                "aggregation": self.kind,
                "control": p.control,
                "method": p.method,
                "crit_val": self.crit_val,
                "n_units": p.n_units,
            },
        )

    def table(self, **kwargs: Any):
        """Paper-style table of :meth:`to_result`."""
        kwargs.setdefault("stat", "se")
        return self.to_result().table(**kwargs)


@dataclass
class CallawaySantAnna:
    """ATT(g,t) estimates of :func:`callaway_santanna` and their influence functions.

    ``attgt`` has columns ``g``, ``t``, ``base`` (base period), ``event_time``, ``post``,
    ``att``, ``se``, ``ci_low``, ``ci_high`` and, with the bootstrap, ``se_boot``,
    ``band_low``, ``band_high`` (uniform over all cells). ``psi`` is the n_units x cells
    influence-function matrix (rows in ``units`` order).
    """

    attgt: pd.DataFrame
    psi: np.ndarray = field(repr=False)
    cohort: np.ndarray = field(repr=False)
    units: np.ndarray = field(repr=False)
    y: str
    control: str
    method: str
    alpha: float
    crit_val: float
    n_periods: int
    cluster_name: str | None
    notes: list[str]
    inference: _Inference = field(repr=False)

    @property
    def n_units(self) -> int:
        return len(self.units)

    @property
    def n_clusters(self) -> int:
        return len(np.unique(self.inference.cluster))

    # -------------------------------------------------------------- aggregation
    def aggregate(
        self,
        kind: str = "simple",
        *,
        min_e: float = -np.inf,
        max_e: float = np.inf,
        balance_e: int | None = None,
    ) -> CSAggregate:
        """Aggregate ATT(g,t) (CS 2021 sec. 3.3; R ``did::aggte``).

        ``simple``: cohort-size-weighted average of post-treatment ATT(g,t) (t >= g);
        ``dynamic`` / ``event``: by event time ``e = t - g`` (eq. 3.10), overall = mean over
        e >= 0; ``group``: by cohort, mean over its post periods (eq. 3.11), overall weighted by
        cohort size; ``calendar``: by period (eq. 3.12), overall = mean over periods.
        ``min_e``/``max_e`` restrict event times (all kinds but calendar); ``balance_e`` keeps,
        for ``dynamic``, only cohorts observed at least ``balance_e`` periods after treatment.
        """
        if kind not in _KINDS:
            raise ValueError(f"kind must be one of {sorted(_KINDS)}, got {kind!r}")
        kind = _KINDS[kind]
        tab = self.attgt
        g, e = tab["g"].to_numpy(), tab["event_time"].to_numpy()
        window = (e >= min_e) & (e <= max_e)
        pg = np.array([np.mean(self.cohort == c) for c in g])
        member = self.cohort[:, None] == g[None, :]
        parts = {
            "simple": self._simple,
            "dynamic": self._dynamic,
            "group": self._group,
            "calendar": self._calendar,
        }[kind]
        if kind == "dynamic" and balance_e is not None:
            last = tab.groupby("g")["event_time"].transform("max").to_numpy()
            window &= (last >= balance_e) & (e <= balance_e)
        cells = np.flatnonzero(window | (kind == "calendar"))
        levels, est_by, psi_by, overall, psi_all = parts(cells, pg, member)
        if not len(levels) and kind != "simple":
            raise EstimationError(
                f"no ATT(g,t) falls in the requested window for the {kind} aggregation"
            )
        se = float(analytic_se(psi_all[:, None], self.inference.cluster)[0])
        if kind == "simple":
            by, crit = pd.DataFrame(), np.nan
        else:
            by, crit = self.inference.frame(est_by, psi_by)
            by.insert(0, {"dynamic": "e", "group": "g", "calendar": "t"}[kind], levels)
        return CSAggregate(kind, overall, se, by, crit, psi_all, psi_by, self)

    def _weighted(
        self, idx: np.ndarray, pg: np.ndarray, member: np.ndarray, with_wif: bool = True
    ) -> tuple[float, np.ndarray]:
        """Cohort-size-weighted mean of ATT(g,t) over cells ``idx`` and its influence function,
        including the estimated weights (R ``did`` ``wif``)."""
        att = self.attgt["att"].to_numpy()[idx]
        w = pg[idx] / pg[idx].sum()
        psi = self.psi[:, idx] @ w
        if with_wif:
            dev = member[:, idx] - pg[idx]  # n x cells: 1[G=g] - P(G=g)
            wif = dev / pg[idx].sum() - np.outer(dev.sum(1), pg[idx] / pg[idx].sum() ** 2)
            psi = psi + wif @ att
        return float(att @ w), psi

    def _by(self, keys: np.ndarray, cells: np.ndarray, pg, member, with_wif: bool):
        levels = np.unique(keys[cells])
        fits = [self._weighted(cells[keys[cells] == v], pg, member, with_wif) for v in levels]
        est = np.array([f[0] for f in fits])
        psi = np.column_stack([f[1] for f in fits]) if fits else np.zeros((self.n_units, 0))
        return levels, est, psi

    def _simple(self, cells, pg, member):
        post = cells[self.attgt["post"].to_numpy()[cells]]
        if not len(post):
            raise EstimationError("no post-treatment ATT(g,t) in the requested window")
        att, psi = self._weighted(post, pg, member)
        return np.array([]), np.array([]), np.zeros((self.n_units, 0)), att, psi

    def _dynamic(self, cells, pg, member):
        e = self.attgt["event_time"].to_numpy()
        levels, est, psi = self._by(e, cells, pg, member, True)
        pos = levels >= 0
        overall = float(est[pos].mean()) if pos.any() else np.nan
        return (
            levels,
            est,
            psi,
            overall,
            psi[:, pos].mean(1) if pos.any() else np.full(self.n_units, np.nan),
        )

    def _group(self, cells, pg, member):
        post = cells[self.attgt["post"].to_numpy()[cells]]
        g = self.attgt["g"].to_numpy()
        levels, est, psi = self._by(g, post, pg, member, False)
        pgg = np.array([np.mean(self.cohort == c) for c in levels])
        w = pgg / pgg.sum()
        dev = (self.cohort[:, None] == levels[None, :]) - pgg
        wif = dev / pgg.sum() - np.outer(dev.sum(1), pgg / pgg.sum() ** 2)
        return levels, est, psi, float(est @ w), psi @ w + wif @ est

    def _calendar(self, cells, pg, member):
        post = cells[self.attgt["post"].to_numpy()[cells]]
        t = self.attgt["t"].to_numpy()
        levels, est, psi = self._by(t, post, pg, member, True)
        return levels, est, psi, float(est.mean()), psi.mean(1)

    # -------------------------------------------------------------- output
    def to_result(self) -> EstimationResult:
        """EstimationResult with one term ``"ATT(g,t)"`` per cell (z-based inference)."""
        tab = self.attgt
        terms = [f"ATT({int(g)},{int(t)})" for g, t in zip(tab["g"], tab["t"], strict=True)]
        return EstimationResult(
            coefs=coef_table(terms, tab["att"], tab["se"], alpha=self.alpha),
            depvar=self.y,
            model="Callaway-Sant'Anna",
            n_obs=self.n_units * self.n_periods,
            vcov="influence function",
            cluster=self.cluster_name,
            n_clusters=self.n_clusters,
            notes=list(self.notes),
            meta={
                "control": self.control,
                "method": self.method,
                "crit_val": self.crit_val,
                "n_units": self.n_units,
            },
        )

    def table(self, **kwargs: Any):
        """Paper-style table of the ATT(g,t) estimates."""
        kwargs.setdefault("stat", "se")
        return self.to_result().table(**kwargs)


# ---------------------------------------------------------------------- estimator
def _controls(cohort: np.ndarray, g: float, threshold: float, control: str) -> np.ndarray:
    """Comparison units of cohort ``g``: never treated, or also not yet treated by ``threshold``."""
    never = np.isinf(cohort)
    if control == "never":
        return never
    return never | ((cohort > threshold) & (cohort != g))


def _thin_inference_notes(des: _Design, cohorts: np.ndarray, unit: str, cluster: str) -> list[str]:
    """Warnings (also returned as notes) for what the ATT(g,t) table would otherwise hide: a
    cohort left with no unit, hence no ATT(g,t) cell; a single treated unit; a single cluster
    (then every standard error is NaN, see :func:`analytic_se`)."""
    out = []
    empty = [f"{g:g}" for g in cohorts if not (des.cohort == g).any()]
    if empty:
        out.append(f"cohort(s) {', '.join(empty)} get no ATT(g,t) cell: all their {unit} units "
                   "were dropped (missing periods or values)")
    treated = np.isfinite(des.cohort)
    if treated.sum() == 1:
        out.append(f"only one treated {unit} ({show(des.units[treated][0])}): every ATT(g,t) rests "
                   "on that unit alone and its standard error is unreliable (Conley & Taber 2011)")
    if len(np.unique(des.cluster)) < 2:
        out.append(f"all units are in one cluster of '{cluster}': standard errors cannot be "
                   "estimated and are reported as missing")
    for msg in out:
        warnings.warn(msg, UserWarning, stacklevel=3)
    return [m[0].upper() + m[1:] + "." for m in out]


def _estimate_cells(des: _Design, plan, control: str, method: str, anticipation: int):
    """ATT(g,t) and the n x cells influence-function matrix."""
    kernel = _KERNELS[method]
    n = len(des.units)
    psi = np.zeros((n, len(plan)))
    att = np.empty(len(plan))
    ones = np.ones((n, 1))
    for k, (g, it, ib) in enumerate(plan):
        treated = des.cohort == g
        comp = _controls(des.cohort, g, des.periods[max(it, ib)] + anticipation, control)
        if not comp.any():
            raise EstimationError(
                f"no {_CONTROLS[control]} units to compare cohort {g:g} with in {des.periods[it]}"
            )
        s = treated | comp
        x = np.hstack([ones, des.x[:, min(it, ib), :]])[s]
        dy = (des.y[:, it] - des.y[:, ib])[s]
        att[k], inf = kernel(dy, treated[s].astype(float), x)
        psi[s, k] = inf * n / s.sum()
    return att, psi


def callaway_santanna(
    panel: Panel,
    y: str,
    group: str,
    *,
    control: str = "never",
    method: str = "dr",
    covariates: str | Sequence[str] = (),
    anticipation: int = 0,
    base_period: str = "varying",
    alpha: float = 0.05,
    n_boot: int = 999,
    seed: int = 0,
    bootstrap_weights: str = "rademacher",
    cluster: str | None = None,
    backend: Any = None,
    scheduler: str | None = None,
) -> CallawaySantAnna:
    """Callaway & Sant'Anna (2021) group-time average treatment effects.

    Parameters
    ----------
    panel, y
        Data and outcome. Units not observed (with ``y`` and covariates) in every period are
        dropped with a note: the estimator uses the balanced panel.
    group
        Column with each unit's first-treatment period (constant within unit); ``0`` or missing
        means never treated. Cohorts first treated after the last period (+ anticipation) are
        treated as never treated, as in R ``did``.
    control
        ``"never"`` (never-treated units) or ``"notyet"`` (never treated and not yet treated by
        ``max(t, base) + anticipation``). Without never-treated units, ``"notyet"`` drops the
        periods from the last cohort's adoption on and uses that cohort only as a control, as
        R ``did`` does.
    method
        ``"dr"`` doubly robust as in R ``did`` (default), ``"dr_imp"`` improved doubly robust
        (SZ 2020 sec. 3.1), ``"ipw"`` or ``"reg"``; all identical without covariates.
    covariates
        Pre-treatment covariates (values in period ``min(t, base)``).
    anticipation
        Number of periods before adoption in which units may already react.
    base_period
        ``"varying"`` (pre-treatment cells are short differences t-1 -> t) or ``"universal"``
        (all cells relative to period g - anticipation - 1).
    alpha
        Significance level of the pointwise intervals and uniform bands.
    n_boot, seed, bootstrap_weights
        Multiplier bootstrap draws (0 = no bootstrap), seed, ``"rademacher"`` or ``"mammen"``.
    cluster
        Column defining clusters (constant within unit) for standard errors and the bootstrap;
        default: the unit.
    backend, scheduler
        Where the bootstrap draws run (:mod:`climetrics.core.replicate`): ``"serial"`` (default),
        ``"processes"``, ``"dask"`` (``scheduler="tcp://host:port"``) or a ``Backend``; every
        draw has its own random stream, so results are the same on every backend.

    Returns
    -------
    CallawaySantAnna
        ATT(g,t) table and influence functions; ``.aggregate(kind)`` for summaries.

    Raises
    ------
    EstimationError
        No never-treated units with ``control="never"``; a cohort treated in the first period;
        a group column varying within a unit.
    """
    if control not in _CONTROLS:
        raise ValueError(f"control must be 'never' or 'notyet', got {control!r}")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if base_period not in ("varying", "universal"):
        raise ValueError(f"base_period must be 'varying' or 'universal', got {base_period!r}")
    if anticipation < 0:
        raise ValueError(f"anticipation must be >= 0, got {anticipation}")
    covs = as_list(covariates)
    if y in covs or group in covs:
        raise PanelError(f"covariates {covs} must not include the outcome or the group column")
    cohort = unit_cohorts(panel, group)
    periods = np.sort(panel.df[panel.time].unique())
    notes: list[str] = []
    late = np.isfinite(cohort) & (cohort > periods[-1] + anticipation)
    if late.any():
        notes.append(
            f"{int(late.sum())} units first treated after {periods[-1]} are treated as never treated."
        )
        cohort = cohort.where(~late, NEVER)
    require_pre_period(cohort, int(periods[0]), panel.unit, anticipation)
    treated_cohorts = np.unique(cohort[np.isfinite(cohort)])
    if not len(treated_cohorts):
        raise EstimationError(f"group column '{group}' marks no unit as treated within the panel")
    if control == "never":
        require_never_treated(cohort, control)
    elif not np.isinf(cohort).any():
        last = treated_cohorts[-1]
        if len(treated_cohorts) < 2:
            raise EstimationError(
                "every unit is treated in the same period and none is never treated: no comparison group"
            )
        panel = panel.subset(
            panel.df[panel.time].to_numpy() < last - anticipation,
            note=f"periods before the last cohort ({last:g})",
        )
        treated_cohorts = treated_cohorts[:-1]
        notes.append(
            f"No never-treated units: periods from {last:g} on dropped; cohort {last:g} serves only as a control."
        )
    des = _wide(panel, y, covs, cohort, cluster)
    notes += des.notes
    notes += _thin_inference_notes(des, treated_cohorts, panel.unit, cluster or panel.unit)
    plan = _cell_plan(
        np.array([g for g in treated_cohorts if (des.cohort == g).any()]),
        des.periods,
        base_period,
        anticipation,
    )
    att, psi = _estimate_cells(des, plan, control, method, anticipation)
    g = np.array([p[0] for p in plan])
    t = des.periods[[p[1] for p in plan]]
    from ...core.replicate import resolve_backend

    if bootstrap_weights not in ("rademacher", "mammen"):
        raise ValueError(
            f"bootstrap weights must be 'rademacher' or 'mammen', got {bootstrap_weights!r}"
        )
    inference = _Inference(
        des.cluster,
        alpha,
        n_boot,
        seed,
        bootstrap_weights,
        resolve_backend(backend, scheduler=scheduler),
    )
    frame, crit = inference.frame(att, psi)
    attgt = pd.concat(
        [
            pd.DataFrame(
                {
                    "g": g.astype(int),
                    "t": t.astype(int),
                    "base": des.periods[[p[2] for p in plan]].astype(int),
                    "event_time": (t - g).astype(int),
                    "post": t >= g,
                }
            ),
            frame,
        ],
        axis=1,
    )
    return CallawaySantAnna(
        attgt=attgt,
        psi=psi,
        cohort=des.cohort,
        units=des.units,
        y=y,
        control=control,
        method=method,
        alpha=alpha,
        crit_val=crit,
        n_periods=len(des.periods),
        cluster_name=cluster or panel.unit,
        notes=notes,
        inference=inference,
    )

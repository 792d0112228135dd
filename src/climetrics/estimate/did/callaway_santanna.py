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
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ...errors import EstimationError, PanelError, show
from ...panel import Panel
from ..baseline.twfe import _as_list, collinear_columns
from .cs_results import (
    CallawaySantAnna,
    CSAggregate,
    _Inference,
    analytic_se,
    multiplier_bootstrap,
)
from .staggered import (
    NEVER,
    require_never_treated,
    require_pre_period,
    resolve_cohorts,
)

__all__ = ["CSAggregate", "CallawaySantAnna", "analytic_se", "callaway_santanna", "multiplier_bootstrap"]

_METHODS = ("dr", "dr_imp", "ipw", "reg")
_CONTROLS = {"never": "never-treated", "notyet": "not-yet-treated"}
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
    """Balanced wide data: outcome (n x T), controls (n x T x k), cohort of each unit."""

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


def _estimate_cells(des: _Design, plan, control: str, method: str, anticipation: int,
                    names: list[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """ATT(g,t), the n x cells influence-function matrix and notes.

    In each 2x2 sample, controls that are constant or collinear with the others (given the
    intercept) are left out of that cell's regressions (R ``did`` drops them likewise); the
    notes name them once.
    """
    kernel = _KERNELS[method]
    n = len(des.units)
    psi = np.zeros((n, len(plan)))
    att = np.empty(len(plan))
    ones = np.ones((n, 1))
    dropped: dict[str, int] = {}
    for k, (g, it, ib) in enumerate(plan):
        treated = des.cohort == g
        comp = _controls(des.cohort, g, des.periods[max(it, ib)] + anticipation, control)
        if not comp.any():
            raise EstimationError(
                f"no {_CONTROLS[control]} units to compare cohort {g:g} with in {des.periods[it]}"
            )
        s = treated | comp
        x = np.hstack([ones, des.x[:, min(it, ib), :]])[s]
        if x.shape[1] > 1:
            bad = collinear_columns(x, ["(intercept)", *names])
            for b in bad:
                dropped[b] = dropped.get(b, 0) + 1
            if bad:
                x = x[:, [j for j, c in enumerate(["(intercept)", *names]) if c not in bad]]
        dy = (des.y[:, it] - des.y[:, ib])[s]
        try:
            att[k], inf = kernel(dy, treated[s].astype(float), x)
        except (EstimationError, np.linalg.LinAlgError) as err:
            raise EstimationError(
                f"ATT({g:g},{des.periods[it]}) cannot be estimated with method='{method}' and controls "
                f"{names}: {err}. Cohort {g:g} has {int(treated.sum())} units; use fewer controls, "
                "method='reg', or no controls"
            ) from None
        psi[s, k] = inf * n / s.sum()
    notes = [f"Control '{c}' is constant or collinear with the other controls in {m} of the "
             f"{len(plan)} 2x2 comparisons and is left out there." for c, m in dropped.items()]
    return att, psi, notes


def _thin_cohorts(des: _Design, cohorts: np.ndarray, unit: str) -> tuple[np.ndarray, list[str]]:
    """Cohorts with a single unit are dropped as treated groups, with a note: the treated part
    of the influence function of a one-unit mean is identically zero, so its analytic SE would
    reflect the controls only (spuriously small), and a propensity score cannot be fitted on
    one unit. Their units still serve as not-yet-treated controls."""
    keep, notes = [], []
    for g in cohorts:
        members = des.cohort == g
        if members.sum() == 1:
            notes.append(f"Cohort {g:g} has a single {unit} ({show(des.units[members][0])}): its ATT(g,t) "
                         "cannot have a valid standard error, so the cohort is dropped as a treated group.")
        else:
            keep.append(g)
    return np.array(keep, dtype=float), notes


def callaway_santanna(
    panel: Panel,
    y: str,
    *,
    adoption: str | None = None,
    treat: str | None = None,
    controls: str | Sequence[str] = (),
    cluster: str | None = None,
    n_draws: int = 999,
    seed: int = 0,
    alpha: float = 0.05,
    backend: Any = None,
    control: str = "never",
    method: str = "dr",
    anticipation: int = 0,
    base_period: str = "varying",
    bootstrap_weights: str = "rademacher",
    scheduler: str | None = None,
) -> CallawaySantAnna:
    """Callaway & Sant'Anna (2021) group-time average treatment effects.

    Parameters
    ----------
    panel, y
        Data and outcome. Units not observed (with ``y`` and controls) in every period are
        dropped with a note: the estimator uses the balanced panel.
    adoption
        The adoption-year column: each unit's first-treatment period (constant within unit);
        ``0`` or missing means never treated. Cohorts first treated after the last period
        (+ anticipation) are treated as never treated, as in R ``did``.
    treat
        Instead of ``adoption``: an absorbing 0/1 treatment column, whose first 1 is the
        adoption period.
    controls
        Pre-treatment covariates (values in period ``min(t, base)``). Time-invariant controls
        are fine (the conditioning is on levels, as in R ``did``); in a 2x2 comparison where a
        control is constant or collinear with the others it is left out there, with a note.
    cluster
        Column defining clusters (constant within unit) for standard errors and the bootstrap;
        ``None`` (default): no clustering beyond the unit (units are independent draws; the
        influence function is per unit).
    n_draws, seed, bootstrap_weights
        Multiplier bootstrap draws (0 = no bootstrap), seed, ``"rademacher"`` or ``"mammen"``.
    alpha
        Significance level of the pointwise intervals and uniform bands.
    backend, scheduler
        Where the bootstrap draws run (:mod:`climetrics.core.replicate`): ``"serial"`` (default),
        ``"processes"``, ``"dask"`` (``scheduler="tcp://host:port"``) or a ``Backend``; every
        draw has its own random stream, so results are the same on every backend.
    control
        ``"never"`` (never-treated units) or ``"notyet"`` (never treated and not yet treated by
        ``max(t, base) + anticipation``). Without never-treated units, ``"notyet"`` drops the
        periods from the last cohort's adoption on and uses that cohort only as a control, as
        R ``did`` does.
    method
        ``"dr"`` doubly robust as in R ``did`` (default), ``"dr_imp"`` improved doubly robust
        (SZ 2020 sec. 3.1), ``"ipw"`` or ``"reg"``; all identical without controls.
    anticipation
        Number of periods before adoption in which units may already react.
    base_period
        ``"varying"`` (pre-treatment cells are short differences t-1 -> t) or ``"universal"``
        (all cells relative to period g - anticipation - 1).

    Returns
    -------
    CallawaySantAnna
        ATT(g,t) table and influence functions; ``.aggregate(kind)`` for summaries.

    Notes
    -----
    A cohort of a single unit is dropped as a treated group with a note: one treated unit
    leaves the variance of its mean unidentified, and a propensity score cannot be fitted on it.

    Raises
    ------
    EstimationError
        No never-treated units with ``control="never"``; a cohort treated in the first period;
        an adoption column varying within a unit; no cohort left to estimate.
    """
    if control not in _CONTROLS:
        raise ValueError(f"control must be 'never' or 'notyet', got {control!r}")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if base_period not in ("varying", "universal"):
        raise ValueError(f"base_period must be 'varying' or 'universal', got {base_period!r}")
    if anticipation < 0:
        raise ValueError(f"anticipation must be >= 0, got {anticipation}")
    covs = _as_list(controls)
    if y in covs or adoption in covs or treat in covs:
        raise PanelError(f"controls {covs} must not include the outcome, adoption or treatment column")
    cohort = resolve_cohorts(panel, adoption=adoption, treat=treat)
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
        raise EstimationError(f"'{adoption or treat}' marks no unit as treated within the panel")
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
    present = np.array([g for g in treated_cohorts if (des.cohort == g).any()])
    estimable, thin = _thin_cohorts(des, present, panel.unit)
    notes += thin
    if not len(estimable):
        raise EstimationError(
            "no cohort can be estimated: " + " ".join(thin) if thin else "no treated cohort left in the balanced panel"
        )
    plan = _cell_plan(estimable, des.periods, base_period, anticipation)
    att, psi, cell_notes = _estimate_cells(des, plan, control, method, anticipation, covs)
    notes += cell_notes
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
        n_draws,
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

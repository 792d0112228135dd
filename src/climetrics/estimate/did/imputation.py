"""Borusyak, Jaravel & Spiess (2024) imputation estimator.

Step 1 (BJS 2024, Theorem 2): fit unit and period fixed effects (and covariates) by OLS on the
untreated observations only (never-treated units and treated units before adoption),
``Y_it = a_i + l_t + X_it'b + e_it``.
Step 2: impute the untreated outcome of every treated observation, ``Y_it(0) = a_i + l_t +
X_it'b``, and its effect ``tau_it = Y_it - Y_it(0)``.
Step 3: average: the ATT over all treated observations, and per horizon ``h = t - g`` the mean
over treated observations at that horizon.

Every estimate is linear in the outcomes, ``tau_w = sum_it v_it Y_it`` with ``v_it = w_it`` on
treated observations and ``v = -Z_0 (Z_0'Z_0)^-1 Z_1' w_1`` on untreated ones (``Z`` the fixed
effects and covariates). The standard error is BJS's conservative clustered variance
(Theorem 3, eq. 8)::

    Var = sum_clusters ( sum_{it in cluster} v_it e~_it )^2

with ``e~_it = Y_it - Y_it(0)`` (step-1 residual) for untreated observations and
``e~_it = tau_it - tau_bar`` for treated ones, ``tau_bar`` the ``v^2``-weighted mean of
``tau`` in the observation's cohort x period cell (BJS eq. 9). With ``leave_out=True`` the cell
mean excludes the observation's own cluster (BJS Appendix A.6), which removes the downward bias
of the residuals in small cells. Normal inference.

Pre-trend test (BJS Test 1): OLS on untreated observations of ``Y`` on the fixed effects,
covariates and dummies for the ``pretrends`` periods before adoption, with CRV1 standard errors
(small-sample factor as fixest/reghdfe, unit effects nested in clusters counted once).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...core.covariance import coef_table
from ...core.results import EstimationResult
from ...errors import EstimationError, PanelError
from ...panel import Panel
from ..baseline.twfe import _as_list, _small_sample, collinear_columns
from .staggered import (
    codes,
    event_term,
    require_pre_period,
    resolve_cohorts,
    twoway_demean,
)


@dataclass
class _FixedEffects:
    """Normal equations of ``Y = a_unit + l_time + X b`` on a subsample, solved by eliminating
    the (diagonal) unit block; the first period's effect is normalised to zero."""

    unit: np.ndarray
    time: np.ndarray
    x: np.ndarray
    n_units: int
    n_periods: int

    def _rest(self, rows: np.ndarray) -> np.ndarray:
        """Period dummies (but the first) and covariates of ``rows``: the non-unit regressors."""
        t = np.zeros((rows.sum(), self.n_periods))
        t[np.arange(rows.sum()), self.time[rows]] = 1.0
        return np.hstack([t[:, 1:], self.x[rows]])

    def cross(self, rows: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``Z_rows' a`` split into the unit block (U x m) and the rest (r x m)."""
        a = a.reshape(len(a), -1)
        au = np.zeros((self.n_units, a.shape[1]))
        np.add.at(au, self.unit[rows], a)
        return au, self._rest(rows).T @ a

    def fit(self, rows: np.ndarray) -> _Solver:
        """Factorise ``Z_rows' Z_rows`` (the step-1 normal matrix)."""
        count = np.bincount(self.unit[rows], minlength=self.n_units).astype(float)
        rest = self._rest(rows)
        m_ur = np.zeros((self.n_units, rest.shape[1]))
        np.add.at(m_ur, self.unit[rows], rest)
        schur = rest.T @ rest - m_ur.T @ (m_ur / count[:, None])
        return _Solver(count, m_ur, schur)

    def predict(self, rows: np.ndarray, theta_u: np.ndarray, theta_r: np.ndarray) -> np.ndarray:
        """``Z_rows theta`` for parameter blocks (U x m) and (r x m)."""
        return theta_u[self.unit[rows]] + self._rest(rows) @ theta_r


@dataclass
class _Solver:
    count: np.ndarray
    m_ur: np.ndarray
    schur: np.ndarray

    def solve(self, bu: np.ndarray, br: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(Z'Z)^-1 b`` by block elimination of the diagonal unit block."""
        try:
            theta_r = np.linalg.solve(self.schur, br - self.m_ur.T @ (bu / self.count[:, None]))
        except np.linalg.LinAlgError:
            raise EstimationError(
                "the untreated observations do not identify the period effects and covariates "
                "(collinear covariates, or a period without untreated observations)"
            ) from None
        return (bu - self.m_ur @ theta_r) / self.count[:, None], theta_r


def _targets(rel: np.ndarray, horizons: Sequence[int] | None) -> tuple[list[str], np.ndarray]:
    """Weights (treated obs x targets): the ATT, then one column per horizon."""
    hs = np.unique(rel) if horizons is None else np.asarray(sorted(horizons))
    cols = [np.ones(len(rel))] + [(rel == h).astype(float) for h in hs]
    empty = [int(h) for h, c in zip(hs, cols[1:], strict=True) if not c.any()]
    if empty:
        raise EstimationError(f"no treated observation at horizon(s) {empty}")
    w = np.column_stack(cols)
    return ["ATT"] + [event_term(h) for h in hs], w / w.sum(0)


def _residual_treated(tau: np.ndarray, v: np.ndarray, cell: np.ndarray, cluster: np.ndarray,
                      leave_out: bool) -> np.ndarray:
    """``tau - tau_bar`` per target: ``tau_bar`` is the v^2-weighted cell mean (BJS eq. 9),
    excluding the own cluster when ``leave_out`` (kept when the cell has a single cluster)."""
    v2 = v**2
    num = np.zeros((cell.max() + 1, v.shape[1]))
    den = np.zeros_like(num)
    np.add.at(num, cell, v2 * tau[:, None])
    np.add.at(den, cell, v2)
    n_cell, d_cell = num[cell], den[cell]
    if leave_out:
        key = pd.factorize(pd.MultiIndex.from_arrays([cell, cluster]))[0]
        own_n = np.zeros((key.max() + 1, v.shape[1]))
        own_d = np.zeros_like(own_n)
        np.add.at(own_n, key, v2 * tau[:, None])
        np.add.at(own_d, key, v2)
        rest = d_cell - own_d[key]
        ok = rest > 1e-14 * d_cell
        n_cell = np.where(ok, n_cell - own_n[key], n_cell)
        d_cell = np.where(ok, rest, d_cell)
    with np.errstate(invalid="ignore", divide="ignore"):
        bar = np.where(d_cell > 0, n_cell / d_cell, 0.0)
    return tau[:, None] - bar


def _pretrend_test(df: pd.DataFrame, y: str, covs: list[str], k: int, unit: str, time: str,
                   cluster: str, rel: np.ndarray) -> pd.DataFrame:
    """BJS Test 1: leads 1..k on the untreated sample, CRV1 (nested small-sample factor)."""
    leads = np.column_stack([(rel == -h).astype(float) for h in range(1, k + 1)])
    names = [event_term(-h) for h in range(1, k + 1)]
    empty = [n for n, c in zip(names, leads.T, strict=True) if not c.any()]
    if empty:
        raise EstimationError(f"no untreated observation at pre-trend horizon(s) {', '.join(empty)}")
    x = np.column_stack([leads, df[covs].to_numpy(float)]) if covs else leads
    u, t = codes(df[unit]), codes(df[time])
    xd, yd = twoway_demean(x, u, t), twoway_demean(df[y].to_numpy(float), u, t)
    coef = np.linalg.lstsq(xd, yd, rcond=None)[0]
    bread = np.linalg.inv(xd.T @ xd)
    score = np.zeros((codes(df[cluster]).max() + 1, x.shape[1]))
    np.add.at(score, codes(df[cluster]), xd * (yd - xd @ coef)[:, None])
    factor, _, _ = _small_sample(df, [unit, time], cluster, n_slopes=x.shape[1])
    se = np.sqrt(np.diag(factor * bread @ score.T @ score @ bread))
    return pd.DataFrame({"term": names, "estimate": coef[:k], "std_error": se[:k]})


def did_imputation(
    panel: Panel,
    y: str,
    *,
    adoption: str | None = None,
    treat: str | None = None,
    controls: str | Sequence[str] = (),
    cluster: str | None = "unit",
    alpha: float = 0.05,
    horizons: Sequence[int] | None = None,
    pretrends: int = 0,
    leave_out: bool = False,
) -> EstimationResult:
    """Borusyak, Jaravel & Spiess (2024) imputation DID estimator.

    Parameters
    ----------
    panel, y
        Data and outcome.
    adoption
        The adoption-year column: first-treatment period of each unit (0 / missing = never
        treated).
    treat
        Instead of ``adoption``: an absorbing 0/1 treatment column.
    controls
        Time-varying controls, fitted on untreated observations only. Controls collinear with
        the unit and period effects on the untreated observations (e.g. time-invariant ones) or
        with each other are dropped with a note, as the reference package (R/Stata
        ``did_imputation`` via fixest/reghdfe) does.
    horizons
        Event times ``t - g`` (>= 0) to report; default every horizon in the data.
    pretrends
        Number of pre-adoption leads in the pre-trend test (0 = none).
    leave_out
        Leave-one-cluster-out cell means in the variance (BJS Appendix A.6).
    cluster
        Cluster variable (``"unit"`` = the panel's unit column); ``None``: no clustering (every
        observation its own cluster in the BJS variance).
    alpha
        Level of the confidence intervals.

    Returns
    -------
    EstimationResult
        Terms ``"ATT"`` (all treated observations), ``"e=<h>"`` per horizon and, with
        ``pretrends``, ``"e=-1"``... (pre-trend coefficients). ``meta["tau"]`` holds the
        imputed effect of every treated observation.
    """
    covs = _as_list(controls)
    if y in covs:
        raise PanelError(f"outcome '{y}' also appears among the controls")
    if horizons is not None and any(h < 0 for h in horizons):
        raise ValueError("horizons must be >= 0; use pretrends= for pre-adoption periods")
    clus = panel.unit if cluster == "unit" else cluster
    panel.require([y, *covs], context="did_imputation")
    if clus is not None:
        panel.require([clus], numeric=False, context="did_imputation")
    cohort = resolve_cohorts(panel, adoption=adoption, treat=treat)
    require_pre_period(cohort, int(panel.periods[0]), panel.unit)
    if not np.isfinite(cohort).any():
        raise EstimationError(f"'{adoption or treat}' marks no unit as treated")
    df = panel.df[list(dict.fromkeys([panel.unit, panel.time, y, *covs, *([clus] if clus else [])]))]
    notes = []
    complete = df[[y, *covs]].notna().all(axis=1)
    if not complete.all():
        notes.append(f"{int((~complete).sum())} observations with missing values dropped.")
        df = df.loc[complete]
    g = df[panel.unit].map(cohort).to_numpy(float)
    t_obs = df[panel.time].to_numpy()
    treated = t_obs >= g
    df, g, treated, note = _imputable(df, g, treated, panel.unit, panel.time)
    notes += note
    rel = df[panel.time].to_numpy() - g
    covs, note = _identified_controls(df.loc[~treated], covs, panel.unit, panel.time)
    notes += note
    fe = _FixedEffects(codes(df[panel.unit]), codes(df[panel.time]), df[covs].to_numpy(float),
                       df[panel.unit].nunique(), df[panel.time].nunique())
    untreated = ~treated
    solver = fe.fit(untreated)
    yv = df[y].to_numpy(float)
    theta = solver.solve(*fe.cross(untreated, yv[untreated]))
    tau = yv[treated] - fe.predict(treated, *theta)[:, 0]
    resid0 = yv[untreated] - fe.predict(untreated, *theta)[:, 0]
    terms, w1 = _targets(rel[treated], horizons)
    v0 = -fe.predict(untreated, *solver.solve(*fe.cross(treated, w1)))
    est = w1.T @ tau
    cell = codes(pd.MultiIndex.from_arrays([g[treated], df[panel.time].to_numpy()[treated]]))
    cl = codes(df[clus]) if clus is not None else np.arange(len(df))
    e1 = _residual_treated(tau, w1, cell, cl[treated], leave_out)
    score = np.zeros((cl.max() + 1, len(terms)))
    np.add.at(score, cl[treated], w1 * e1)
    np.add.at(score, cl[untreated], v0 * resid0[:, None])
    se = np.sqrt((score**2).sum(0))
    table = coef_table(terms, est, se, alpha=alpha)
    if pretrends > 0:
        if clus is None:
            df = df.assign(_obs=np.arange(len(df)))
        pre = _pretrend_test(df.loc[untreated], y, covs, pretrends, panel.unit, panel.time, clus or "_obs",
                             rel[untreated])
        table = pd.concat([table, coef_table(pre["term"], pre["estimate"], pre["std_error"], alpha=alpha)],
                          ignore_index=True)
    tau_frame = df.loc[treated, [panel.unit, panel.time]].assign(event_time=rel[treated], tau=tau)
    return EstimationResult(
        coefs=table, depvar=y, model="Imputation (BJS)", n_obs=len(df),
        fixed_effects=(panel.unit, panel.time), vcov="BJS conservative" + (" leave-out" if leave_out else ""),
        cluster=clus, n_clusters=int(cl.max() + 1),
        notes=notes + ["Imputation estimator (Borusyak, Jaravel & Spiess 2024): unit and period effects "
                       "fitted on untreated observations" + (f"; pre-trend leads e=-1..-{pretrends} "
                                                             "tested on untreated observations" if pretrends else "") + "."],
        meta={"tau": tau_frame.reset_index(drop=True), "n_treated": int(treated.sum()),
              "n_untreated": int(untreated.sum()), "leave_out": leave_out, "controls": covs},
    )


def _identified_controls(untreated: pd.DataFrame, covs: list[str], unit: str,
                         time: str) -> tuple[list[str], list[str]]:
    """Controls identified in step 1: those with variation left once the unit and period
    effects are partialled out on the untreated observations, and not collinear with each
    other. The others (time-invariant controls, for one) would make the step-1 normal matrix
    singular up to rounding and the imputed effects arbitrary; they are dropped with a note."""
    if not covs:
        return covs, []
    xd = twoway_demean(untreated[covs].to_numpy(float), codes(untreated[unit]), codes(untreated[time]))
    raw = np.linalg.norm(untreated[covs].to_numpy(float) - untreated[covs].to_numpy(float).mean(0), axis=0)
    absorbed = [c for c, a, b in zip(covs, np.linalg.norm(xd, axis=0), raw, strict=True) if a <= 1e-8 * max(b, 1e-300)]
    rest = [c for c in covs if c not in absorbed]
    bad = absorbed + (collinear_columns(xd[:, [covs.index(c) for c in rest]], rest) if rest else [])
    if not bad:
        return covs, []
    return [c for c in covs if c not in bad], [
        f"Control(s) {', '.join(bad)} dropped: collinear with the unit and period effects (e.g. constant within "
        "units) or with the other controls on the untreated observations, so step 1 cannot identify them."]


def _imputable(df: pd.DataFrame, g: np.ndarray, treated: np.ndarray, unit: str,
               time: str) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, list[str]]:
    """Drop treated observations whose unit or period has no untreated observation (their
    untreated outcome is not identified), with a note naming how many and which periods."""
    ok_units = set(df.loc[~treated, unit])
    ok_periods = set(df.loc[~treated, time])
    keep = ~treated | (df[unit].isin(ok_units) & df[time].isin(ok_periods)).to_numpy()
    if not (treated & keep).any():
        raise EstimationError("no treated observation can be imputed: no untreated observation shares its unit and period")
    notes = []
    if not keep.all():
        periods = sorted(set(df.loc[~keep, time]))
        notes.append(f"{int((~keep).sum())} treated observations cannot be imputed (no untreated observation "
                     f"in their unit or period, e.g. {time} {periods[0]}) and are dropped.")
    return df.loc[keep].reset_index(drop=True), g[keep], treated[keep], notes

"""PSM-DID estimation: the cross-section and period-by-period designs (:func:`psm_did`)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ....core.covariance import coef_table
from ....core.results import (
    EstimationResult,
)
from ....errors import EstimationError, PanelError, show
from ....panel import Panel
from ...baseline.twfe import _small_sample, twfe
from .balance import balance
from .matching import Matching, _att_se, match
from .results import PSMDiD
from .score import PropensityScore, _treatment, propensity_score


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

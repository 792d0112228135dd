"""Sun & Abraham (2021) interaction-weighted (IW) event study.

Step 1 (SA 2021 eq. 29): a two-way fixed-effects regression saturated in cohort x relative
period,

    y_it = a_i + l_t + sum_{g not C} sum_{l not in ref} delta_{g,l} 1[G_i = g] 1[t - g = l] + X_it'b + e_it,

estimated on the treated cohorts and a control cohort C (never-treated units, or the last-treated
cohort with the sample cut before it adopts). Each delta_{g,l} is a DID of cohort g against C
between relative period l and the reference period(s) ``ref`` (default -1), so it is free of the
contamination that makes ordinary event-study leads and lags mix effects of other periods.

Step 2 (SA 2021 eq. 30-31): the IW estimate of relative period l averages delta_{g,l} over
cohorts with weights equal to their sample shares among the cohorts observed at l,
``w_{g,l} = N_{g,l} / sum_g N_{g,l}``; the overall ATT averages all post-treatment cells
(l >= 0) with weights ``N_{g,l} / sum N`` (fixest ``aggregate(att)``). Standard errors follow by
the delta method from the cluster-robust (CRV1) covariance of the deltas, treating the weights
as fixed (as fixest and pyfixest do); small-sample factor ``(N-1)/(N-K) * G/(G-1)`` with the
unit fixed effects nested in the clusters counted once (fixest/reghdfe). t(G-1) inference.
"""

from __future__ import annotations

from collections.abc import Sequence

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
    require_never_treated,
    require_pre_period,
    resolve_cohorts,
    twoway_demean,
)

_CONTROLS = ("never", "lastcohort")


def _sample(panel: Panel, y: str, covs: list[str], cohort: pd.Series, control: str,
            cluster: str) -> tuple[pd.DataFrame, float, list[str]]:
    """Estimation rows (complete cases; cut and restricted for the last-cohort control),
    the control cohort code and notes."""
    df = panel.df[list(dict.fromkeys([panel.unit, panel.time, y, *covs, cluster]))].copy()
    df["_g"] = df[panel.unit].map(cohort).to_numpy(float)
    notes = []
    if control == "never":
        require_never_treated(cohort, control)
        ctrl = np.inf
    else:
        finite = np.unique(cohort[np.isfinite(cohort)])
        if len(finite) < 2:
            raise EstimationError("control='lastcohort' needs at least two treated cohorts")
        ctrl = float(finite[-1])
        keep = (df[panel.time] < ctrl) & np.isfinite(df["_g"])
        notes.append(f"Control cohort: units first treated in {ctrl:g}; periods from {ctrl:g} on and "
                     "never-treated units dropped.")
        df = df.loc[keep]
    complete = df[[y, *covs]].notna().all(axis=1)
    if not complete.all():
        notes.append(f"{int((~complete).sum())} observations with missing values dropped.")
        df = df.loc[complete]
    if df.empty:
        raise EstimationError("no observations left for the Sun-Abraham regression")
    return df.reset_index(drop=True), ctrl, notes


def _cells(df: pd.DataFrame, time: str, ctrl: float, refs: Sequence[int]) -> pd.DataFrame:
    """Cohort x relative-period cells to interact (all but the reference periods), with counts."""
    treated = df["_g"].to_numpy() != ctrl
    rel = (df[time].to_numpy() - df["_g"].to_numpy())[treated]
    cells = pd.DataFrame({"g": df["_g"].to_numpy()[treated], "e": rel}).value_counts().rename("n_obs")
    cells = cells.reset_index().sort_values(["g", "e"], ignore_index=True)
    if cells.empty:
        raise EstimationError("no treated cohort in the Sun-Abraham estimation sample")
    cohorts = set(cells["g"])
    cells = cells[~cells["e"].isin(refs)].reset_index(drop=True)
    only_ref = sorted(cohorts - set(cells["g"]))
    if only_ref:
        raise EstimationError(
            f"cohort {only_ref[0]:g} is observed only in the reference period(s) {list(refs)}; "
            "it has no effect to estimate"
        )
    return cells


def _crv1(x: np.ndarray, e: np.ndarray, cluster: np.ndarray) -> np.ndarray:
    """Raw cluster-robust sandwich ``(X'X)^-1 (sum_c X_c'e_c e_c'X_c) (X'X)^-1``."""
    bread = np.linalg.inv(x.T @ x)
    score = np.zeros((cluster.max() + 1, x.shape[1]))
    np.add.at(score, cluster, x * e[:, None])
    return bread @ score.T @ score @ bread


def _aggregate(cells: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """Weight matrix (aggregates x cells): IW estimates by relative period, then the ATT."""
    e = cells["e"].to_numpy()
    n = cells["n_obs"].to_numpy(float)
    levels = np.unique(e)
    w = np.array([np.where(e == lv, n, 0.0) for lv in levels])
    post = np.where(e >= 0, n, 0.0)
    w = np.vstack([w, post[None, :]]) if post.sum() > 0 else w
    w /= w.sum(1, keepdims=True)
    terms = [event_term(lv) for lv in levels] + (["ATT"] if post.sum() > 0 else [])
    return terms, w


def sun_abraham(
    panel: Panel,
    y: str,
    *,
    adoption: str | None = None,
    treat: str | None = None,
    controls: str | Sequence[str] = (),
    cluster: str | None = "unit",
    alpha: float = 0.05,
    control: str = "never",
    ref: int | Sequence[int] = -1,
) -> EstimationResult:
    """Sun & Abraham (2021) interaction-weighted event study.

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
        Time-varying controls entering linearly. Controls collinear with the fixed effects
        (time-invariant ones are absorbed by the unit effects) or with each other are dropped
        with a note, as fixest does.
    control
        ``"never"``: never-treated units are the control cohort. ``"lastcohort"``: the
        last-treated cohort is, on the periods before it adopts (never-treated units dropped).
    ref
        Relative period(s) excluded as reference (default -1).
    cluster
        Cluster variable (``"unit"`` = the panel's unit column); ``None``: no clustering
        (heteroskedasticity-robust, factor ``N/(N-K)`` with every fixed-effect level counted,
        t(N-K) inference).
    alpha
        Level of the confidence intervals.

    Returns
    -------
    EstimationResult
        Terms ``"e=<l>"`` (IW estimate per relative period) and ``"ATT"`` (post-treatment
        average). ``meta`` holds ``cohort_effects`` (g, e, n_obs, estimate, std_error),
        ``weights`` (aggregates x cells) and ``vcov`` of the cohort effects.
    """
    if control not in _CONTROLS:
        raise ValueError(f"control must be one of {_CONTROLS}, got {control!r}")
    covs = _as_list(controls)
    refs = [int(r) for r in ([ref] if np.isscalar(ref) else ref)]
    if y in covs:
        raise PanelError(f"outcome '{y}' also appears among the controls")
    clus = panel.unit if cluster == "unit" else cluster
    panel.require([y, *covs], context="sun_abraham")
    if clus is not None:
        panel.require([clus], numeric=False, context="sun_abraham")
    cohort = resolve_cohorts(panel, adoption=adoption, treat=treat)
    require_pre_period(cohort, int(panel.periods[0]), panel.unit)
    df, ctrl, notes = _sample(panel, y, covs, cohort, control, clus if clus is not None else panel.unit)
    if clus is None:
        df["_obs"] = np.arange(len(df))
    cells = _cells(df, panel.time, ctrl, refs)
    g, rel = df["_g"].to_numpy(), df[panel.time].to_numpy() - df["_g"].to_numpy()
    dummies = ((g[:, None] == cells["g"].to_numpy()) & (rel[:, None] == cells["e"].to_numpy())).astype(float)
    names = [f"g{int(a)}:e{int(b)}" for a, b in zip(cells["g"], cells["e"], strict=True)]
    raw = np.column_stack([dummies, df[covs].to_numpy(float)]) if covs else dummies
    u, t = codes(df[panel.unit]), codes(df[panel.time])
    xd = twoway_demean(raw, u, t)
    yd = twoway_demean(df[y].to_numpy(float), u, t)
    bad = collinear_columns(xd, names + covs)
    bad_cells = [b for b in bad if b not in covs]
    if bad_cells:
        raise EstimationError(
            f"Sun-Abraham cohort x period indicators collinear with the fixed effects or each other: "
            f"{', '.join(bad_cells)}"
        )
    if bad:
        notes.append(f"Control(s) {', '.join(bad)} dropped: collinear with the unit and period effects "
                     "(e.g. constant within units) or with the other controls.")
        keep = list(range(len(names))) + [len(names) + i for i, c in enumerate(covs) if c not in bad]
        xd = xd[:, keep]
        covs = [c for c in covs if c not in bad]
    coef = np.linalg.lstsq(xd, yd, rcond=None)[0]
    clus_col = clus if clus is not None else "_obs"
    factor, k_all, n_clusters = _small_sample(df, [panel.unit, panel.time], clus_col, n_slopes=xd.shape[1],
                                              nested=clus is not None)
    df_t = n_clusters - 1 if clus is not None else len(df) - k_all
    vcov = factor * _crv1(xd, yd - xd @ coef, codes(df[clus_col]))
    k = len(cells)
    beta, v = coef[:k], vcov[:k, :k]
    terms, w = _aggregate(cells)
    est, se = w @ beta, np.sqrt(np.einsum("ij,jk,ik->i", w, v, w))
    table = coef_table(terms, est, se, alpha=alpha, df=df_t)
    if covs:
        table = pd.concat([table, coef_table(covs, coef[k:], np.sqrt(np.diag(vcov)[k:]), alpha=alpha,
                                                df=df_t)], ignore_index=True)
    effects = cells.assign(estimate=beta, std_error=np.sqrt(np.diag(v)))
    return EstimationResult(
        coefs=table, depvar=y, model="Sun-Abraham", n_obs=len(df),
        fixed_effects=(panel.unit, panel.time), vcov="CRV1" if clus is not None else "hetero", cluster=clus,
        n_clusters=n_clusters if clus is not None else None,
        notes=notes + [f"Interaction-weighted event study (Sun & Abraham 2021); reference period(s) {refs}; "
                       f"control cohort: {'never treated' if np.isinf(ctrl) else f'{ctrl:g}'}."],
        meta={"cohort_effects": effects, "weights": pd.DataFrame(w, index=terms, columns=names),
              "vcov": pd.DataFrame(v, index=names, columns=names), "control": control, "ref": refs,
              "controls": covs, "df_t": df_t},
    )

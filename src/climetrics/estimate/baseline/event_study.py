"""Dynamic (event-study) DID: relative-time dummies around each unit's adoption year.

    y_it = sum_{k != ref} beta_k 1[t - g_i = k] + X_it' gamma + mu_i + lambda_t + e_it

(seed 002 eq. 2; Beck, Levine & Levkov 2010 as used in seed 000). Endpoints are binned
(``k <= lo`` and ``k >= hi`` each share one dummy) so that no treated observation silently
falls into the reference category. Never-treated units have all dummies zero. The joint Wald
test that every lead is zero is the usual pre-trend test; it cannot prove parallel trends
(Roth 2022), and with staggered adoption and heterogeneous effects the lead and lag
coefficients can be contaminated (Sun & Abraham 2021) -- see the robust estimators.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...core.results import EstimationResult, Result
from ...core.wild_bootstrap import WildOptions
from ...errors import EstimationError, PanelError
from ...panel import Panel
from ...report.tables import Table, fmt, stars
from .twfe import _as_list, _fit_one, _wild_options


def adoption_year(panel: Panel, treat: str) -> pd.Series:
    """First period in which ``treat`` equals 1, per row's unit (NaN for never-treated units).

    Raises if the treatment switches off again (the event study assumes absorbing treatment).
    """
    panel.require([treat], context="event_study")
    df = panel.df
    d = df[treat].astype(float)
    first = df.loc[d == 1].groupby(panel.unit)[panel.time].min()
    g = df[panel.unit].map(first)
    off = (d == 0) & (df[panel.time] > g)
    if off.any():
        i = off.idxmax()
        raise PanelError(
            f"treatment '{treat}' switches off again: {panel.unit} {df.at[i, panel.unit]!s} is treated from "
            f"{int(g.at[i])} but has {treat} = 0 in {df.at[i, panel.time]}; the event study needs an "
            "absorbing (staggered) treatment"
        )
    return g


def _dummy_name(k: int) -> str:
    return f"_ev_m{-k}" if k < 0 else f"_ev_p{k}"


def _label(k: int, lo: int, hi: int, binned: bool) -> str:
    if binned and k == lo:
        return f"≤ {k}"
    if binned and k == hi:
        return f"≥ {k}"
    return str(k)


@dataclass
class EventStudyResult(Result):
    """Event-study estimates: per-period coefficients, the pre-trend test and the fit."""

    coefs: (
        pd.DataFrame
    )  # k, label, estimate, std_error, statistic, p_value, ci_low, ci_high, n_treated_obs
    fit: EstimationResult
    ref: tuple[int, ...]
    pretrend: dict[str, float] | None
    outcome: str

    def table(self, *, digits: int = 4) -> Table:
        """One row per event period: coefficient with stars, SE, 95% CI."""
        rows = []
        for r in self.coefs.itertuples():
            if r.k in self.ref:
                rows.append([r.label, "0 (reference)", "", "", fmt(int(r.n_treated_obs))])
                continue
            rows.append(
                [
                    r.label,
                    fmt(r.estimate, digits) + stars(r.p_value),
                    fmt(r.std_error, digits),
                    f"[{fmt(r.ci_low, digits)}, {fmt(r.ci_high, digits)}]",
                    fmt(int(r.n_treated_obs)),
                ]
            )
        notes = [
            f"Event time k = year - adoption year; reference period k = {', '.join(map(str, self.ref))}. "
            f"Standard errors clustered by {self.fit.cluster}."
            if self.fit.cluster
            else f"Event time k = year - adoption year; reference period k = {', '.join(map(str, self.ref))}."
        ]
        if self.pretrend is not None:
            pt = self.pretrend
            notes.append(
                f"Joint test that all leads are zero: {pt.distribution_label} = {pt.statistic:.3f}, "
                f"p = {pt.p_value:.3f}."
            )
        notes += self.fit.notes
        return Table(
            columns=["Estimate", "SE", "95% CI", "Treated obs."],
            rows=rows,
            title=f"Event study: {self.outcome}",
            notes=notes,
            stub="Event time",
        )

    def figure(self, *, ylabel: str | None = None, title: str | None = None):
        """Coefficients with 95% CIs against event time; the reference period plotted at 0."""
        from ...report.figures import _pyplot

        plt = _pyplot()
        c = self.coefs
        fig, ax = plt.subplots(figsize=(6.4, 3.6))
        pre = c["k"] < 0
        for mask, color in ((pre, "#7a7a7a"), (~pre, "#1f4e8c")):
            s = c[mask]
            ax.errorbar(
                s["k"],
                s["estimate"],
                yerr=[s["estimate"] - s["ci_low"], s["ci_high"] - s["estimate"]],
                fmt="o",
                capsize=3,
                color=color,
                ms=4,
            )
        ax.axhline(0, color="black", lw=0.8)
        ax.axvline(-0.5, color="grey", lw=0.8, ls="--")
        ax.set_xticks(c["k"], c["label"])
        ax.set_xlabel("Years relative to adoption")
        ax.set_ylabel(ylabel or f"Effect on {self.outcome}")
        if title:
            ax.set_title(title)
        ax.spines[["top", "right"]].set_visible(False)
        return fig


def event_study(
    panel: Panel,
    y: str,
    *,
    treat: str | None = None,
    adoption: str | None = None,
    controls: str | Sequence[str] = (),
    window: tuple[int, int] = (-5, 5),
    bin_endpoints: bool = True,
    ref: int | Sequence[int] = -1,
    control: str = "all",
    fe: Sequence[str] | None = None,
    cluster: str | None = "unit",
    ssc: str = "nested",
    engine: str = "auto",
    weights: str | None = None,
    inference: str | WildOptions = "analytic",
    n_draws: int = 9999,
    seed: int = 0,
) -> EventStudyResult:
    """Event-study regression around each unit's adoption year.

    Parameters
    ----------
    treat
        Staggered 0/1 treatment column; the adoption year is its first 1 (or give ``adoption``,
        a column with each unit's adoption year, NaN for never treated).
    window
        ``(lo, hi)`` event-time window, e.g. ``(-8, 6)`` as in seed 002.
    bin_endpoints
        Put ``k <= lo`` into the ``lo`` dummy and ``k >= hi`` into the ``hi`` dummy (default).
        Otherwise treated observations outside the window are dropped (never silently pooled
        with the reference period).
    ref
        Omitted period(s); ``-1`` by default. With no never-treated units two periods must be
        omitted (the dummies are otherwise collinear with the unit and time effects).
    control
        ``"all"``: never-treated and not-yet-treated units serve as comparisons (standard
        dynamic TWFE). ``"notyet"``: drop never-treated units, comparing only units adopting at
        different times (requires two reference periods).
    engine
        ``"auto"`` (climetrics' own fit) or ``"pyfixest"``, as in :func:`climetrics.twfe`.
    weights
        Column of positive regression weights, as in :func:`climetrics.twfe`.
    inference, n_draws, seed
        ``"wild"``: p-values and intervals of every event-time coefficient from the wild cluster
        bootstrap (same draws for all), as in :func:`climetrics.twfe`; the joint pre-trend
        test stays the analytic Wald test.
    """
    if (treat is None) == (adoption is None):
        raise EstimationError(
            "event_study needs exactly one of treat= (0/1 column) or adoption= (year column)"
        )
    lo, hi = window
    if not lo < 0 <= hi:
        raise EstimationError(f"window must satisfy lo < 0 <= hi, got {window}")
    refs = tuple(sorted(set(_as_list(ref) if not isinstance(ref, int) else [ref])))
    if any(not lo <= r <= hi for r in refs):
        raise EstimationError(f"reference period(s) {refs} must lie inside the window {window}")
    if control not in ("all", "notyet"):
        raise EstimationError(f"control must be 'all' or 'notyet', got {control!r}")
    if treat is not None:
        g = adoption_year(panel, treat)
    else:
        panel.require([adoption], context="event_study")
        g = panel.df[adoption].astype(float)
        if g.groupby(panel.df[panel.unit]).nunique().max() > 1:
            raise PanelError(f"adoption column '{adoption}' is not constant within {panel.unit}")
    if g.notna().sum() == 0:
        raise EstimationError("event_study: no unit is ever treated")
    never = g.isna()
    work = panel
    if control == "notyet":
        if len(refs) < 2:
            raise EstimationError(
                "control='notyet' drops never-treated units; omit two periods, e.g. ref=(-1, lo)"
            )
        work = panel.subset((~never).to_numpy(), note="event_study: ever-treated units only")
        g = g[~never].reset_index(drop=True)
        never = g.isna()
    elif not never.any() and len(refs) < 2:
        raise EstimationError(
            "there are no never-treated units, so event-time dummies are collinear with the unit and time "
            f"effects; omit two periods, e.g. ref=(-1, {lo})"
        )
    k = (work.df[work.time] - g).to_numpy()
    if bin_endpoints:
        k = np.where(k < lo, lo, np.where(k > hi, hi, k))
    else:
        outside = ~never.to_numpy() & ((k < lo) | (k > hi))
        if outside.any():
            work = work.subset(
                ~outside, note=f"event_study: treated observations outside {window} dropped"
            )
            k = k[~outside]
            never = never[~outside].reset_index(drop=True)
    periods = [p for p in range(lo, hi + 1) if p not in refs]
    cols = {}
    counts = {}
    for p in range(lo, hi + 1):
        m = (k == p) & ~never.to_numpy()
        counts[p] = int(m.sum())
        if p in refs:
            continue
        cols[_dummy_name(p)] = m.astype(float)
    empty = [p for p in periods if counts[p] == 0]
    if empty:
        raise EstimationError(
            f"no treated observation at event time(s) {empty}; narrow the window {window}"
        )
    work = work.assign(**cols)
    fe_l = [work.unit, work.time] if fe is None else list(fe)
    clus = work.unit if cluster == "unit" else cluster
    try:
        fit = _fit_one(
            work, y, list(cols), _as_list(controls), fe_l, clus, "hetero", ssc, engine,
            weights=weights, wild=_wild_options(inference, n_draws, seed),
        )
    except EstimationError as err:
        if "collinear" in str(err):
            raise EstimationError(
                f"event-time dummies are collinear with the fixed effects ({err}); omit another period, "
                f"e.g. ref=({refs[0]}, {lo})"
            ) from err
        raise
    rows = []
    for p in range(lo, hi + 1):
        lab = _label(p, lo, hi, bin_endpoints)
        if p in refs:
            rows.append(
                {
                    "k": p,
                    "label": lab,
                    "estimate": 0.0,
                    "std_error": 0.0,
                    "statistic": np.nan,
                    "p_value": np.nan,
                    "ci_low": 0.0,
                    "ci_high": 0.0,
                    "n_treated_obs": counts[p],
                }
            )
            continue
        r = fit.coefs.loc[fit.coefs["term"] == _dummy_name(p)].iloc[0]
        rows.append(
            {
                "k": p,
                "label": lab,
                **{
                    c: float(r[c])
                    for c in ("estimate", "std_error", "statistic", "p_value", "ci_low", "ci_high")
                },
                "n_treated_obs": counts[p],
            }
        )
    leads = [_dummy_name(p) for p in periods if p < 0]
    lead_ks = ", ".join(str(p) for p in periods if p < 0)
    pretrend = (
        fit.wald_test(
            leads,
            name="Joint test of the leads",
            null=f"all lead coefficients (k = {lead_ks}) are zero (parallel pre-trends)",
        )
        if leads
        else None
    )
    fit.coefs["term"] = fit.coefs["term"].replace(
        {_dummy_name(p): f"k={_label(p, lo, hi, bin_endpoints)}" for p in periods}
    )
    return EventStudyResult(
        coefs=pd.DataFrame(rows), fit=fit, ref=refs, pretrend=pretrend, outcome=y
    )

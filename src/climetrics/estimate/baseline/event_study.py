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
from typing import Any

import numpy as np
import pandas as pd

from ...core.results import EstimationResult, Result, TestResult, jsonable, tidy_frame
from ...core.wild_bootstrap import WildOptions
from ...core.wording import count, p_phrase
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


@dataclass(eq=False, repr=False)
class EventStudyResult(Result):
    """Event-study estimates: per-period coefficients, the pre-trend test and the fit.

    Attributes
    ----------
    coefs
        One row per event period ``k`` (reference rows included, estimate 0): ``k``, ``label``,
        estimate, std_error, statistic, p_value, ci_low, ci_high, ``n_treated_obs``.
    fit
        The dynamic TWFE regression (:class:`EstimationResult`; event terms named ``k=<label>``).
    ref
        Omitted (reference) period(s).
    pretrend
        Joint Wald test that every lead is zero (:class:`TestResult`), None without leads.
    """

    coefs: pd.DataFrame
    fit: EstimationResult
    ref: tuple[int, ...]
    pretrend: TestResult | None
    outcome: str

    @property
    def results(self) -> list[EstimationResult]:
        return [self.fit]

    def tidy(self) -> pd.DataFrame:
        """One row per event period (term ``k=<label>``), then ``k``, ``label``,
        ``n_treated_obs`` and ``reference`` (True for the omitted periods)."""
        c = self.coefs.copy()
        c["term"] = "k=" + c["label"].astype(str)
        c["reference"] = c["k"].isin(self.ref)
        return tidy_frame(c)

    def summary(self) -> dict[str, Any]:
        """Pre-trend test, post-period significance and the range of post-period estimates."""
        c = self.coefs[~self.coefs["k"].isin(self.ref)]
        pre, post = c[c["k"] < 0], c[c["k"] >= 0]
        return {
            "outcome": self.outcome,
            "n_obs": self.fit.n_obs,
            "reference": list(self.ref),
            "n_leads": int(len(pre)),
            "n_leads_significant_5pct": int((pre["p_value"] < 0.05).sum()),
            "n_post": int(len(post)),
            "post_significant_5pct": [int(k) for k in post.loc[post["p_value"] < 0.05, "k"]],
            "post_estimate_min": jsonable(float(post["estimate"].min())) if len(post) else None,
            "post_estimate_max": jsonable(float(post["estimate"].max())) if len(post) else None,
            "pretrend": self.pretrend.summary() if self.pretrend is not None else None,
        }

    def reading(self) -> str:
        """Pre-trends (individual and joint), then which post-adoption coefficients are
        significant -- without dating an "onset" from them: one significant coefficient among
        several is what chance alone produces at the 5% level now and then."""
        c = self.coefs[~self.coefs["k"].isin(self.ref)]
        pre, post = c[c["k"] < 0], c[c["k"] >= 0]
        parts = []
        if len(pre) and self.pretrend is not None:
            n_sig = int((pre["p_value"] < 0.05).sum())
            pt = self.pretrend
            verdict = ("no evidence against parallel pre-trends" if pt.p_value >= 0.1
                       else "evidence of diverging pre-trends, which undermines the DID design")
            parts.append(
                f"{n_sig} of {count(len(pre), 'lead coefficient')} are significant at 5%; the joint test "
                f"that all leads are zero gives {pt.distribution_label} = {pt.statistic:.2f} "
                f"({p_phrase(pt.p_value)}): {verdict}. A pre-trend test can fail to detect violations "
                "that are small or that only start at adoption (Roth 2022)."
            )
        if not len(post):
            return " ".join(parts)
        sig = post[post["p_value"] < 0.05]
        span = (f" Post-adoption estimates range from {post['estimate'].min():.4f} to "
                f"{post['estimate'].max():.4f}.")
        if not len(sig):
            parts.append(f"None of the {count(len(post), 'post-adoption coefficient')} is significant at 5%."
                         + span)
            return " ".join(parts)
        ks = ", ".join(str(lab) for lab in sig["label"])
        text = (f"{len(sig)} of {count(len(post), 'post-adoption coefficient')} "
                f"{'is' if len(sig) == 1 else 'are'} significant at 5% (event time{'s' if len(sig) > 1 else ''} {ks}).")
        if len(sig) == 1 and len(post) > 1:
            text += (" A single significant coefficient among several can arise by chance, so it does "
                     "not date when an effect starts.")
        parts.append(text + span)
        return " ".join(parts)

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

    def plot(self, *, ylabel: str | None = None, title: str | None = None):
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
    treat: str | None = None,
    controls: str | Sequence[str] = (),
    *,
    adoption: str | None = None,
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
    alpha: float = 0.05,
) -> EventStudyResult:
    """Event-study regression around each unit's adoption year.

    Parameters
    ----------
    treat
        Staggered 0/1 treatment column; the adoption year is its first 1 (or give ``adoption``,
        a column with each unit's adoption year, NaN for never treated).
    controls
        Control variables, as in :func:`climetrics.twfe`.
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
    cluster, ssc
        As in :func:`climetrics.twfe`: clustered by unit by default, ``cluster=None`` for
        heteroskedasticity-robust standard errors.
    engine
        ``"auto"`` (climetrics' own fit) or ``"pyfixest"``, as in :func:`climetrics.twfe`.
    weights
        Column of positive regression weights, as in :func:`climetrics.twfe`.
    alpha
        Level of the confidence intervals (``0.05``: 95%).
    inference, n_draws, seed
        ``"wild"``: p-values and intervals of every event-time coefficient from the wild cluster
        bootstrap (same draws for all), as in :func:`climetrics.twfe`; the joint pre-trend
        test stays the analytic Wald test.

    Returns
    -------
    EventStudyResult
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
            weights=weights, wild=_wild_options(inference, n_draws, seed), alpha=alpha,
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

"""Staggered adoption: shared checks, two-way demeaning and the estimator comparison.

Two-way fixed effects (TWFE) is a weighted average of many 2x2 comparisons, some of which use
already-treated units as controls; with staggered adoption and effects that change over time
it can be far from any average treatment effect and even have the wrong sign (Goodman-Bacon
2021; de Chaisemartin & D'Haultfoeuille 2020). The heterogeneity-robust estimators live in
their own modules:

* :func:`climetrics.estimate.did.callaway_santanna.callaway_santanna` -- Callaway & Sant'Anna (2021) ATT(g,t);
* :func:`climetrics.estimate.did.sun_abraham.sun_abraham` -- Sun & Abraham (2021) interaction weights;
* :func:`climetrics.estimate.did.imputation.did_imputation` -- Borusyak, Jaravel & Spiess (2024);
* :mod:`climetrics.estimate.did.bacon` -- the Goodman-Bacon decomposition and the TWFE weights of
  de Chaisemartin & D'Haultfoeuille (2020).

This module holds what they share -- the cohort (first-treatment period) of every unit, with
the degenerate designs rejected by name, a two-way within transformation, normal-theory
coefficient tables -- and :func:`compare_estimators`, the side-by-side "TWFE vs robust" table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...core.results import EstimationResult, Result, ResultSet, jsonable, tidy_frame
from ...errors import EstimationError, PanelError, show
from ...panel import Panel

NEVER = np.inf  # cohort code of never-treated units


def resolve_cohorts(panel: Panel, *, adoption: str | None = None, treat: str | None = None) -> pd.Series:
    """First-treatment period of every unit (``inf`` = never treated), from an adoption-year
    column (:func:`unit_cohorts`) or an absorbing 0/1 treatment (:func:`cohorts_from_treatment`).
    Exactly one of the two must be given."""
    if (adoption is None) == (treat is None):
        raise PanelError("give either adoption= (each unit's adoption-year column) or treat= (an absorbing "
                         "0/1 treatment column), not " + ("both" if adoption else "neither"))
    return unit_cohorts(panel, adoption) if adoption is not None else cohorts_from_treatment(panel, treat)


def unit_cohorts(panel: Panel, group: str) -> pd.Series:
    """First-treatment period of every unit, from a column constant within units.

    ``0`` or missing means never treated and is coded ``inf``.

    Raises
    ------
    EstimationError
        If the column varies within a unit (the unit and its values are named) or holds a
        negative or non-integer value.
    """
    panel.require([group], context="staggered DID (adoption = first-treatment period)")
    g = pd.to_numeric(panel.df[group]).astype(float)
    units = panel.df[panel.unit]
    n_values = g.fillna(-1.0).groupby(units, sort=True).nunique()
    varying = n_values[n_values > 1]
    if len(varying):
        u = varying.index[0]
        vals = sorted({"missing" if np.isnan(v) else f"{v:g}" for v in g[units == u].unique()})
        raise EstimationError(
            f"adoption column '{group}' must be constant within each unit (it is the period the unit "
            f"is first treated), but {panel.unit} {show(u)} has values {', '.join(vals)}"
            + (f"; {len(varying) - 1} more units vary" if len(varying) > 1 else "")
        )
    if (g < 0).any():
        i = int(np.argmax((g < 0).to_numpy()))
        raise EstimationError(
            f"adoption column '{group}' must hold first-treatment periods (0 or missing = never "
            f"treated); {panel.unit} {show(units.iloc[i])} has {g.iloc[i]:g}"
        )
    frac = (g.notna() & (g % 1 != 0)).to_numpy()
    if frac.any():
        i = int(np.argmax(frac))
        raise EstimationError(
            f"group column '{group}' must hold whole first-treatment periods (e.g. 2015); "
            f"{panel.unit} {show(units.iloc[i])} has {g.iloc[i]:g}"
        )
    first = g.groupby(units, sort=True).first()
    return first.where(first.notna() & (first != 0), NEVER)


def cohorts_from_treatment(panel: Panel, treat: str) -> pd.Series:
    """First period with ``treat == 1`` for every unit (``inf`` if never), for an absorbing 0/1
    treatment. Raises :class:`EstimationError` naming a unit whose treatment switches off."""
    panel.require([treat], context="staggered DID")
    d = pd.to_numeric(panel.df[treat]).astype(float)
    if d.isna().any() or not set(np.unique(d)) <= {0.0, 1.0}:
        raise EstimationError(f"treatment '{treat}' must be a 0/1 dummy without missing values")
    units = panel.df[panel.unit]
    drops = d.groupby(units, sort=False).diff() < 0
    if drops.any():
        i = int(np.argmax(drops.to_numpy()))
        raise EstimationError(
            f"treatment '{treat}' switches off for {panel.unit} {show(units.iloc[i])} in "
            f"{panel.df[panel.time].iloc[i]}; staggered DID needs an absorbing treatment "
            "(once treated, always treated)"
        )
    t = panel.df[panel.time].astype(float).where(d == 1)
    return t.groupby(units, sort=True).min().fillna(NEVER)


def require_pre_period(cohorts: pd.Series, first_period: int, unit: str, anticipation: int = 0) -> None:
    """Reject cohorts treated in (or, with anticipation, right after) the first period: they
    have no untreated period, so nothing identifies their untreated outcome."""
    early = cohorts[np.isfinite(cohorts) & (cohorts <= first_period + anticipation)]
    if len(early):
        g = early.min()
        n = int((early == g).sum())
        when = "in the first period" if anticipation == 0 else f"within anticipation={anticipation} of the first period"
        raise EstimationError(
            f"cohort {g:g} ({n} units, e.g. {unit} {show(early.index[early == g][0])}) is treated "
            f"{when} {first_period}: it has no pre-treatment period. Drop these units or extend "
            "the panel backwards"
        )


def require_never_treated(cohorts: pd.Series, control: str) -> None:
    """Raise when the never-treated comparison group is requested but empty."""
    if not np.isinf(cohorts).any():
        raise EstimationError(
            f"control='{control}' needs never-treated units, but every unit is treated by the "
            "end of the panel; use the not-yet-treated (or last-treated cohort) as controls"
        )


# ---------------------------------------------------------------------- two-way demeaning
def twoway_demean(x: np.ndarray, unit: np.ndarray, time: np.ndarray) -> np.ndarray:
    """Residuals of the columns of ``x`` on unit and time dummies, by the package's one within
    transformation (:class:`climetrics.core.demean.FixedEffects`). ``unit`` and ``time`` are
    integer codes.

    A column that lies in the span of the fixed effects (e.g. a time-invariant control) comes
    back as exact zeros: its residual is rounding noise, at most ``1e-10`` times the column's
    variation about its mean, and the estimators' collinearity checks look for zero columns.
    """
    from ...core.demean import demean

    r = np.asarray(x, dtype=float)
    squeeze = r.ndim == 1
    r = r.reshape(len(r), -1)
    out = demean(r, [unit, time])
    spread = np.linalg.norm(r - r.mean(axis=0), axis=0)
    out[:, np.linalg.norm(out, axis=0) <= 1e-10 * spread] = 0.0
    return out[:, 0] if squeeze else out


def codes(values: pd.Series | np.ndarray) -> np.ndarray:
    """Integer codes ``0..K-1`` of ``values`` in sorted order."""
    return pd.factorize(np.asarray(values), sort=True)[0]


# ---------------------------------------------------------------------- result tables
def event_term(e: float) -> str:
    """Name of the event-time-``e`` coefficient, e.g. ``"e=-2"``, ``"e=0"``."""
    return f"e={int(e)}"


# ---------------------------------------------------------------------- comparison
@dataclass(eq=False, repr=False)
class EstimatorComparison(Result):
    """Overall effect from TWFE and the heterogeneity-robust estimators, side by side.

    ``columns`` holds one single-term (``"ATT"``) result per estimator (``labels``); ``note``
    says in plain words whether TWFE differs from the robust estimators beyond their sampling
    uncertainty (and only then advises to prefer the robust estimates); ``notes`` say which
    controls every column uses; ``skipped`` which robust estimators could not be computed on
    the data, and why; ``differs`` which robust estimators differ from TWFE beyond uncertainty.
    """

    columns: ResultSet
    labels: list[str]
    note: str
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    differs: list[str] = field(default_factory=list)
    alpha: float = 0.05

    @property
    def results(self) -> list[EstimationResult]:
        return list(self.columns)

    def frame(self) -> pd.DataFrame:
        """One row per estimator: estimate, SE and confidence interval."""
        rows = [r.coefs.iloc[0] for r in self.columns]
        out = pd.DataFrame(rows)[["estimate", "std_error", "ci_low", "ci_high"]]
        out.insert(0, "estimator", self.labels)
        return out.reset_index(drop=True)

    def tidy(self) -> pd.DataFrame:
        """One row per estimator (``term`` = the estimator) with ``model`` after the standard
        columns."""
        out = pd.concat([r.tidy() for r in self.columns], ignore_index=True)
        out["term"] = self.labels
        out["model"] = [r.model for r in self.columns]
        return tidy_frame(out)

    def summary(self) -> dict[str, Any]:
        return {"estimates": {lab: {k: jsonable(v) for k, v in r.coefs.iloc[0].items() if k != "term"}
                              for lab, r in zip(self.labels, self.columns, strict=True)},
                "differs": list(self.differs), "skipped": len(self.skipped)}

    def reading(self) -> str:
        return self.note

    def table(self, **kwargs: Any):
        """Paper-style table (see :func:`climetrics.report.tables.regression_table`)."""
        kwargs.setdefault("column_labels", self.labels)
        kwargs.setdefault("stat", "se")
        notes = list(kwargs.pop("notes", None) or [])
        return self.columns.table(notes=notes + [self.note] + self.notes + self.skipped, **kwargs)

    def plot(self, **kwargs: Any):
        """Each estimator's overall effect with its ``1 - alpha`` confidence interval."""
        from ...report.figures import coefficient_path

        f = self.frame()
        fig = coefficient_path(list(f["estimator"]), f["estimate"].to_numpy(), f["ci_low"].to_numpy(),
                               f["ci_high"].to_numpy(), ylabel=kwargs.get("ylabel", "Average effect on the treated"))
        fig.axes[0].set_title(kwargs.get("title") or "TWFE versus heterogeneity-robust estimators")
        return fig


def _disagreement(labels: Sequence[str], results: Sequence[EstimationResult], alpha: float) -> tuple[str, list[str]]:
    """Plain-language comparison of the robust estimates with TWFE, and which differ.

    A robust estimate differs from TWFE when ``|b_r - b_TWFE| > z_(1-alpha/2) sqrt(se_r^2 +
    se_TWFE^2)``. Treating the two as independent overstates the variance of the difference
    (both use the same data), so this errs on the side of not claiming a difference: the advice
    to prefer the robust estimates is given only when the gap is beyond that uncertainty.
    """
    from scipy import stats

    from ...core.wording import count

    z = float(stats.norm.ppf(1 - alpha / 2))
    b = np.array([r.coef("ATT") for r in results])
    se = np.array([r.se("ATT") for r in results])
    twfe, robust = b[0], b[1:]
    gap_se = np.sqrt(se[1:] ** 2 + se[0] ** 2)
    far = [lab for lab, d, s in zip(labels[1:], robust - twfe, gap_se, strict=True) if abs(d) > z * s]
    if not len(robust):
        return "", []
    spread = f"TWFE gives {twfe:.4f}; the robust estimators give {', '.join(f'{x:.4f}' for x in robust)}"
    if not far:
        return (f"{spread}. The differences are within their sampling uncertainty (each gap is smaller than "
                f"{z:.2f} times the standard error of the difference), so the data show no sign that "
                "heterogeneous effects bias TWFE here."), []
    flips = [lab for lab in far if np.sign(robust[labels.index(lab) - 1]) != np.sign(twfe)]
    text = (f"{spread}. {', '.join(far)} {'differs' if len(far) == 1 else 'differ'} from TWFE by more than "
            f"{z:.2f} standard errors of the difference ({count(len(far), 'estimator')} of {len(robust)})"
            + (f", and {', '.join(flips)} {'has' if len(flips) == 1 else 'have'} the opposite sign" if flips else "")
            + ". With staggered adoption TWFE also compares newly treated with already-treated units, which "
            "biases it when effects change over time; prefer the robust estimates.")
    return text, far


def _within_unit_constant(panel: Panel, cols: list[str]) -> list[str]:
    """Columns constant within every unit (absorbed by unit fixed effects)."""
    df = panel.df
    out = []
    for c in cols:
        v = pd.to_numeric(df[c], errors="coerce")
        spread = v.groupby(df[panel.unit]).agg(lambda s: s.max() - s.min()).max()
        scale = max(float(v.abs().max()), 1e-300)
        if not spread > 1e-12 * scale:
            out.append(c)
    return out


def compare_estimators(
    panel: Panel,
    y: str,
    *,
    adoption: str | None = None,
    treat: str | None = None,
    controls: str | Sequence[str] = (),
    cluster: str | None = "unit",
    n_draws: int = 0,
    alpha: float = 0.05,
) -> EstimatorComparison:
    """TWFE versus heterogeneity-robust estimators of the overall ATT, side by side.

    Columns: TWFE coefficient on the treatment dummy (:func:`climetrics.twfe`, clustered),
    Callaway-Sant'Anna "simple" aggregation (never-treated controls, doubly robust),
    Sun-Abraham ATT (observation-weighted post-period interaction effects) and the
    Borusyak-Jaravel-Spiess imputation average over all treated observations. All four target
    the average effect on treated observations; with homogeneous effects they agree.

    Parameters
    ----------
    panel, y
        Data and outcome.
    adoption, treat
        The adoption-year column and/or an absorbing 0/1 treatment. TWFE uses ``treat``
        (default ``1[time >= adoption]``); the robust estimators use ``adoption`` (default: the
        first period with ``treat == 1``).
    controls
        The same controls enter every column (CS uses their base-period values; the others
        enter linearly). Controls constant within units are absorbed by the unit effects of
        TWFE, SA and BJS, so they are left out of every column, CS included, with a note; if an
        estimator still drops a control (collinearity), the note says the columns differ.
    cluster
        Cluster variable of every standard error (``"unit"`` = the panel's unit column, also
        CS's default; ``None``: no clustering).
    n_draws
        Bootstrap draws for the CS uniform bands (not needed for the overall ATT; 0 skips).
    alpha
        Level of the intervals and of the "differs beyond uncertainty" comparison.
    """
    from ... import twfe
    from ..baseline.twfe import _as_list
    from .callaway_santanna import callaway_santanna
    from .imputation import did_imputation
    from .sun_abraham import sun_abraham

    covs = _as_list(controls)
    if adoption is None and treat is None:
        raise PanelError("give adoption= (each unit's adoption-year column) and/or treat= (a 0/1 treatment)")
    if adoption is None:
        panel.require([treat], context="compare_estimators")
        known = panel.df[treat].notna().to_numpy()
        cohort = cohorts_from_treatment(panel if known.all() else panel.subset(known, note=f"rows with {treat}"), treat)
        adoption = "_adoption"
        if adoption in panel:
            raise PanelError(f"column '{adoption}' exists; pass adoption= explicitly")
        panel = panel.assign(**{adoption: panel.df[panel.unit].map(cohort.replace(NEVER, 0)).to_numpy(float)})
    if treat is None:
        cohort = unit_cohorts(panel, adoption)
        g = panel.df[panel.unit].map(cohort).to_numpy(float)
        treat = "_treated"
        if treat in panel:
            raise PanelError(f"column '{treat}' exists; pass treat= explicitly")
        panel = panel.assign(**{treat: (panel.df[panel.time].to_numpy() >= g).astype(float)})
    notes = []
    fixed = _within_unit_constant(panel, covs) if covs else []
    if fixed:
        covs = [c for c in covs if c not in fixed]
        notes.append(f"Control(s) {', '.join(fixed)} are constant within units: the unit effects of TWFE, "
                     "Sun-Abraham and the imputation estimator absorb them, so they are left out of every "
                     "column (Callaway-Sant'Anna included) to compare like with like.")
    tw = twfe(panel, y, treat, covs, cluster=cluster)
    used = {"TWFE": list(tw.meta.get("controls", covs))}
    tw_row = tw.coefs[tw.coefs["term"] == treat].assign(term="ATT")
    tw_att = EstimationResult(coefs=tw_row, depvar=y, model="TWFE", n_obs=tw.n_obs,
                              fixed_effects=tw.fixed_effects, vcov=tw.vcov, cluster=tw.cluster,
                              n_clusters=tw.n_clusters)
    cs_cluster = None if cluster in ("unit", panel.unit) else cluster
    robust = {
        "Callaway-Sant'Anna": lambda: callaway_santanna(
            panel, y, adoption=adoption, controls=covs, n_draws=n_draws, alpha=alpha,
            cluster=cs_cluster).aggregate("simple").to_result(),
        "Sun-Abraham": lambda: sun_abraham(panel, y, adoption=adoption, controls=covs, cluster=cluster, alpha=alpha),
        "Imputation (BJS)": lambda: did_imputation(panel, y, adoption=adoption, controls=covs, cluster=cluster,
                                                   alpha=alpha),
    }
    results, labels, skipped = [tw_att], ["TWFE"], []
    for label, fit in robust.items():
        try:  # one estimator failing on these data (e.g. a tiny cohort) must not hide the others
            r = fit()
        except EstimationError as err:
            skipped.append(f"{label} could not be estimated on these data: {err}")
            continue
        results.append(r)
        labels.append(label)
        used[label] = list(r.meta.get("controls", covs))
        notes += [f"{label}: {n}" for n in r.notes if "dropped" in n and "Control" not in n]
    if len({tuple(v) for v in used.values()}) > 1:
        notes.append("The columns do not use the same controls: " + "; ".join(
            f"{lab}: {', '.join(v) or 'none'}" for lab, v in used.items()) + ".")
    elif covs:
        notes.append(f"Every column controls for {', '.join(covs)}.")
    results = [
        EstimationResult(coefs=r.coefs[r.coefs["term"] == "ATT"], depvar=y, model=r.model,
                         n_obs=r.n_obs, fixed_effects=r.fixed_effects, vcov=r.vcov,
                         cluster=r.cluster, n_clusters=r.n_clusters)
        for r in results
    ]
    note, differs = _disagreement(labels, results, alpha)
    return EstimatorComparison(ResultSet(results, title="TWFE vs heterogeneity-robust estimators"),
                               labels, note, skipped, notes, differs, alpha)

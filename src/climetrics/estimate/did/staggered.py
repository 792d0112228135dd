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

import numpy as np
import pandas as pd

from ...core.results import EstimationResult, ResultSet
from ...errors import EstimationError, PanelError, show
from ...panel import Panel

NEVER = np.inf  # cohort code of never-treated units


def as_list(x: str | Sequence[str] | None) -> list[str]:
    """``None`` -> ``[]``, ``"a"`` -> ``["a"]``, sequences -> list."""
    if x is None:
        return []
    return [x] if isinstance(x, str) else list(x)


def unit_cohorts(panel: Panel, group: str) -> pd.Series:
    """First-treatment period of every unit, from a column constant within units.

    ``0`` or missing means never treated and is coded ``inf``.

    Raises
    ------
    EstimationError
        If the column varies within a unit (the unit and its values are named) or holds a
        negative or non-integer value.
    """
    panel.require([group], context="staggered DID (group = first-treatment period)")
    g = pd.to_numeric(panel.df[group]).astype(float)
    units = panel.df[panel.unit]
    n_values = g.fillna(-1.0).groupby(units, sort=True).nunique()
    varying = n_values[n_values > 1]
    if len(varying):
        u = varying.index[0]
        vals = sorted({"missing" if np.isnan(v) else f"{v:g}" for v in g[units == u].unique()})
        raise EstimationError(
            f"group column '{group}' must be constant within each unit (it is the period the unit "
            f"is first treated), but {panel.unit} {show(u)} has values {', '.join(vals)}"
            + (f"; {len(varying) - 1} more units vary" if len(varying) > 1 else "")
        )
    if (g < 0).any():
        i = int(np.argmax((g < 0).to_numpy()))
        raise EstimationError(
            f"group column '{group}' must hold first-treatment periods (0 or missing = never "
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
def twoway_demean(
    x: np.ndarray, unit: np.ndarray, time: np.ndarray, *, tol: float = 1e-14, max_iter: int = 10_000
) -> np.ndarray:
    """Residuals of the columns of ``x`` on unit and time dummies.

    Alternating projections (method of Gauss-Seidel on the two factors); a balanced panel
    converges after one sweep, so its residuals are exact: ``x_it - x_i. - x_.t + x_..``.
    ``unit`` and ``time`` are integer codes ``0..G-1`` and ``0..T-1``.
    """
    r = np.array(x, dtype=float, copy=True)
    squeeze = r.ndim == 1
    r = r.reshape(len(r), -1)
    nu, nt = np.bincount(unit), np.bincount(time)

    def sweep(codes: np.ndarray, counts: np.ndarray) -> np.ndarray:
        means = np.stack([np.bincount(codes, r[:, j], len(counts)) for j in range(r.shape[1])], 1)
        return means[codes] / counts[codes, None]

    scale = max(1.0, float(np.abs(r).max(initial=0.0)))
    for _ in range(max_iter):
        r -= sweep(unit, nu)
        step = sweep(time, nt)
        r -= step
        if np.abs(step).max(initial=0.0) <= tol * scale:
            break
    else:
        raise EstimationError("two-way demeaning did not converge (is the panel connected?)")
    return r[:, 0] if squeeze else r


def codes(values: pd.Series | np.ndarray) -> np.ndarray:
    """Integer codes ``0..K-1`` of ``values`` in sorted order."""
    return pd.factorize(np.asarray(values), sort=True)[0]


# ---------------------------------------------------------------------- result tables
def event_term(e: float) -> str:
    """Name of the event-time-``e`` coefficient, e.g. ``"e=-2"``, ``"e=0"``."""
    return f"e={int(e)}"


# ---------------------------------------------------------------------- comparison
@dataclass
class EstimatorComparison:
    """Overall effect from TWFE and the heterogeneity-robust estimators, side by side.

    ``results`` holds one single-term (``"ATT"``) result per estimator; ``note`` says in plain
    words whether and how TWFE disagrees with the robust estimators (empty when it does not);
    ``skipped`` says which robust estimators could not be computed on the data, and why.
    """

    results: ResultSet
    labels: list[str]
    note: str
    skipped: list[str] = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        """One row per estimator: estimate, SE and confidence interval."""
        rows = [r.coefs.iloc[0] for r in self.results]
        out = pd.DataFrame(rows)[["estimate", "std_error", "ci_low", "ci_high"]]
        out.insert(0, "estimator", self.labels)
        return out.reset_index(drop=True)

    def table(self, **kwargs):
        """Paper-style table (see :func:`climetrics.report.tables.regression_table`)."""
        kwargs.setdefault("column_labels", self.labels)
        kwargs.setdefault("stat", "se")
        notes = list(kwargs.pop("notes", None) or [])
        return self.results.table(notes=notes + ([self.note] if self.note else []) + self.skipped, **kwargs)

    def __repr__(self) -> str:
        return self.table().to_text()


def _disagreement(labels: Sequence[str], est: np.ndarray, twfe_se: float) -> str:
    """Plain-language note on where the robust estimates (``est[1:]``) part from TWFE."""
    twfe, robust = est[0], est[1:]
    flips = [lab for lab, b in zip(labels[1:], robust, strict=True) if np.sign(b) != np.sign(twfe)]
    far = [lab for lab, b in zip(labels[1:], robust, strict=True) if abs(b - twfe) > twfe_se]
    parts = []
    if flips:
        parts.append(f"{', '.join(flips)} {'has' if len(flips) == 1 else 'have'} the opposite sign to TWFE")
    if far:
        gap = np.max(np.abs(robust - twfe))
        parts.append(
            f"{', '.join(far)} differ{'s' if len(far) == 1 else ''} from TWFE by more than one TWFE "
            f"standard error ({twfe_se:.4g}; largest gap {gap:.4g})"
        )
    if not parts:
        return ""
    return (
        "TWFE and the heterogeneity-robust estimators disagree: " + "; ".join(parts) + ". With "
        "staggered adoption TWFE also compares newly treated with already-treated units, which "
        "biases it when effects change over time; prefer the robust estimates."
    )


def compare_estimators(
    panel: Panel,
    y: str,
    group: str,
    *,
    treat: str | None = None,
    covariates: str | Sequence[str] = (),
    cluster: str = "unit",
    n_boot: int = 0,
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
    group
        First-treatment period of each unit (0 / missing = never treated).
    treat
        Treatment dummy for TWFE; default ``1[time >= group]``.
    covariates
        Controls (CS uses their base-period values; the others enter linearly).
    cluster
        Cluster variable of every standard error (``"unit"`` = the panel's unit column).
    n_boot
        Bootstrap draws for the CS uniform bands (not needed for the overall ATT; 0 skips).
    """
    from ... import twfe
    from .callaway_santanna import callaway_santanna
    from .imputation import did_imputation
    from .sun_abraham import sun_abraham

    covs = as_list(covariates)
    if treat is None:
        cohort = unit_cohorts(panel, group)
        g = panel.df[panel.unit].map(cohort).to_numpy(float)
        treat = "_treated"
        if treat in panel:
            raise PanelError(f"column '{treat}' exists; pass treat= explicitly")
        panel = panel.assign(**{treat: (panel.df[panel.time].to_numpy() >= g).astype(float)})
    tw = twfe(panel, y, treat, covs, cluster=cluster)
    tw_row = tw.coefs[tw.coefs["term"] == treat].assign(term="ATT")
    tw_att = EstimationResult(coefs=tw_row, depvar=y, model="TWFE", n_obs=tw.n_obs,
                              fixed_effects=tw.fixed_effects, vcov=tw.vcov, cluster=tw.cluster,
                              n_clusters=tw.n_clusters)
    robust = {
        "Callaway-Sant'Anna": lambda: callaway_santanna(
            panel, y, group, covariates=covs, n_boot=n_boot,
            cluster=None if cluster == "unit" else cluster).aggregate("simple").to_result(),
        "Sun-Abraham": lambda: sun_abraham(panel, y, group, covariates=covs, cluster=cluster),
        "Imputation (BJS)": lambda: did_imputation(panel, y, group, covariates=covs),
    }
    results, labels, skipped = [tw_att], ["TWFE"], []
    for label, fit in robust.items():
        try:  # one estimator failing on these data (e.g. a tiny cohort) must not hide the others
            results.append(fit())
            labels.append(label)
        except EstimationError as err:
            skipped.append(f"{label} could not be estimated on these data: {err}")
    results = [
        EstimationResult(coefs=r.coefs[r.coefs["term"] == "ATT"], depvar=y, model=r.model,
                         n_obs=r.n_obs, fixed_effects=r.fixed_effects, vcov=r.vcov,
                         cluster=r.cluster, n_clusters=r.n_clusters)
        for r in results
    ]
    est = np.array([r.coef("ATT") for r in results])
    note = _disagreement(labels, est, results[0].se("ATT")) if len(results) > 1 else ""
    return EstimatorComparison(ResultSet(results, title="TWFE vs heterogeneity-robust estimators"),
                               labels, note, skipped)

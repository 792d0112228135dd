"""Heterogeneity analysis: does the policy effect differ across groups of units?

Seed 000 (sec. 6.2, Table 8) splits cities at the mean of residents' disposable income and
adds the interaction ``DID x high income`` to the baseline regression; seed 002 compares
subsamples by location, city size and industrial structure. This module does both, on one
group definition, and tests the difference:

1. **Groups** are defined per unit (never per observation, so a unit cannot switch group
   because of the policy): a time-invariant ``by`` column is used as it is; a time-varying one
   is summarised by the unit's mean over the **common pre-treatment window** -- the periods
   before the first period in which any unit is treated -- so every unit is measured over the
   same years and before any effect of the policy (if some unit is treated from the first
   period, each unit's own untreated periods are used instead). ``baseline_period`` fixes the
   value at one period instead. Numeric values are split at the median or the mean (``"low"``
   at or below, ``"high"`` above, as seed 000: "above the mean"), or into ``q`` quantile groups
   ``Q1..Qq`` (``Qk`` holds the values in ``(cut_{k-1}, cut_k]``), or at fixed thresholds
   (``split=("threshold", c)``: ``"low"`` at or below ``c``, ``"high"`` above); categorical
   columns (region, coastal, ...) give one group per category. The split is over units,
   unweighted. ``by`` may also name a grouping bundled in :mod:`climetrics.data.groupings`
   (``"city_cluster"``, ``"resource_based"``, ``"sub_provincial"``, ``"size_class"`` with a
   ``population`` column, ...) that the panel does not have as a column: the panel's units are
   matched to the bundled city table by adcode or name.
2. **Subsample regressions**: the baseline TWFE regression on each group separately (time
   effects and control coefficients free to differ across groups).
3. **Interacted model** on the pooled sample with the common unit and time fixed effects::

       y_it = sum_g beta_g (D_it x 1[g_i = g]) + X_it' gamma [+ sum_{g>1} (X_it x 1[g_i = g])' delta_g]
              + mu_i + lambda_t + e_it

   The group main effects are absorbed by the unit FE. Only the treatment is interacted by
   default; ``interact_controls=True`` also lets the control coefficients differ by group. The
   time effects stay common. ``beta_g`` is the effect in group ``g``; the **Wald test** of
   ``beta_1 = ... = beta_q`` uses the model's clustered covariance:
   ``F = (R b)' (R V R')^{-1} (R b) / (q - 1)`` with rows of ``R`` the differences to the first
   group, p-value from ``F(q - 1, G - 1)``.
4. **Seed-000 interaction term**: the same model parametrised as ``D + sum_{g>1} D x 1[g]``,
   whose ``D x high`` coefficient is the difference between the groups (a reparametrisation:
   its Wald statistic equals that of step 3).
5. **Permutation test** of the difference: the group labels are permuted across units (group
   sizes kept), the interacted model is re-estimated and the studentized statistic (the Wald F
   of the differences; ``t²`` for two groups) is compared with the observed one,
   ``p = (1 + #{F_r >= F}) / (1 + R)`` (Phipson & Smyth 2010; studentizing keeps the test
   valid for unequal group variances, Chung & Romano 2013). For two groups the p-value of the
   raw difference ``|beta_high - beta_low|`` is reported too.

   The permutations are **batched**: only the interacted columns change with the labels, so
   ``y`` and the common regressors are projected on the fixed effects once; all permuted
   ``D x 1[g]`` (and ``X x 1[g]``) columns are within-transformed together, the common
   regressors are partialled out with one QR factorisation (Frisch–Waugh–Lovell), and the
   coefficients and CRV1 covariances of every draw follow from batched small solves and one
   sparse cluster-sum product -- no regression is re-run through pyfixest. With the observed
   labels the kernel reproduces the :func:`~climetrics.twfe` fit (checked in the tests).

References
----------
Chung, E. and Romano, J. P. (2013). Exact and asymptotically robust permutation tests.
*Annals of Statistics* 41(2), 484–507.

Phipson, B. and Smyth, G. K. (2010). Permutation p-values should never be zero.
*Statistical Applications in Genetics and Molecular Biology* 9(1).

Cameron, A. C. and Miller, D. L. (2015). A practitioner's guide to cluster-robust inference.
*Journal of Human Resources* 50(2), 317–372.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

from ...core.covariance import SmallSampleCorrection
from ...core.demean import FixedEffects, find_singletons
from ...core.results import EstimationResult, Result
from ...data import GROUPINGS, city_groups, city_size_class
from ...errors import EstimationError, PanelError, show
from ...panel import Panel
from ...report.tables import Table, fmt, regression_table
from ..baseline.twfe import _as_list, twfe

__all__ = ["GroupDefinition", "HeterogeneityResult", "define_groups", "heterogeneity"]

SPLITS = ("median", "mean", "quantile", "category", "threshold")
_CHUNK_BYTES = 16 * 2**20


# ---------------------------------------------------------------------- group definition
@dataclass
class GroupDefinition:
    """How units were assigned to groups.

    Attributes
    ----------
    by, split
        Grouping column and rule.
    labels
        Group labels in order; the first is the reference group of the interaction terms.
    units
        DataFrame with the unit column, ``value`` (the unit-level value of ``by``) and
        ``group`` (NaN for units whose value could not be formed).
    cutpoints
        Thresholds of numeric splits (empty for categories).
    basis
        How the unit-level value was formed (time-invariant, pre-treatment mean, baseline).
    """

    by: str
    split: str
    labels: list[str]
    units: pd.DataFrame
    cutpoints: list[float]
    basis: str
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        if self.split == "category":
            rule = f"one group per category of {self.by}"
        elif self.split == "quantile":
            rule = f"{len(self.labels)} quantile groups of {self.by} (cuts {', '.join(f'{c:.4g}' for c in self.cutpoints)})"
        elif self.split == "threshold" and len(self.cutpoints) > 1:
            rule = f"{self.by} cut at the fixed thresholds {', '.join(f'{c:.4g}' for c in self.cutpoints)}"
        elif self.split == "threshold":
            rule = f"{self.by} above the fixed threshold {self.cutpoints[0]:.4g} = high, otherwise low"
        else:
            rule = f"{self.by} above its {self.split} ({self.cutpoints[0]:.4g}) = high, otherwise low"
        return f"Groups: {rule}; unit value: {self.basis}."

    def group_of(self, unit_values: pd.Series) -> pd.Series:
        """Group label of each element of ``unit_values`` (unit identifiers)."""
        m = self.units.set_index(self.units.columns[0])["group"]
        return unit_values.map(m)


def _unit_values(
    panel: Panel, by: str, *, treat: str | None, baseline_period: int | None, numeric: bool
) -> tuple[pd.Series, str, list[str]]:
    """One value of ``by`` per unit and a description of how it was formed."""
    df = panel.df
    u, t = panel.unit, panel.time
    notes: list[str] = []
    if baseline_period is not None:
        if baseline_period not in set(df[t]):
            raise PanelError(f"baseline_period {baseline_period} is not a period of the panel")
        at = df.loc[df[t] == baseline_period].set_index(u)[by]
        vals = at.reindex(pd.Index(df[u].unique(), name=u))
        return vals, f"value in {t} {baseline_period}", notes
    s = df[by]
    per_unit = s.groupby(df[u], sort=False).nunique(dropna=True)
    if (per_unit <= 1).all():
        vals = s.groupby(df[u], sort=False).first()
        return vals, "time-invariant", notes
    bad = per_unit[per_unit > 1].index[0]
    if not numeric:
        raise PanelError(
            f"'{by}' changes over time within units (e.g. {u} {show(bad)}); give "
            "baseline_period= to fix each unit's category at one period"
        )
    if treat is None:
        raise PanelError(
            f"'{by}' varies over time; give baseline_period= or the treatment column so that "
            "groups can be formed on pre-treatment values"
        )
    d = pd.to_numeric(df[treat], errors="coerce")
    treated_t = df.loc[d.fillna(0) != 0, t]
    first = int(treated_t.min()) if len(treated_t) else int(df[t].max()) + 1
    window = df[t] < first
    if window.any():
        vals = s.where(window).groupby(df[u], sort=False).mean()
        basis = f"mean over the common pre-treatment periods {int(df[t].min())}-{first - 1}"
    else:
        vals = s.where(d == 0).groupby(df[u], sort=False).mean()
        basis = "mean over the unit's own untreated periods (no period precedes every adoption)"
        notes.append(
            f"Some unit is treated from the first period, so '{by}' is averaged over each "
            "unit's own untreated periods; units never untreated have no group."
        )
    return vals, basis, notes


def _parse_split(split) -> tuple[str, list[float]]:
    """``(rule, thresholds)`` from ``split``: a rule name or ``("threshold", value(s))``."""
    if isinstance(split, tuple):
        if len(split) != 2 or split[0] != "threshold":
            raise ValueError(f"a tuple split must be ('threshold', value or values), got {split!r}")
        cuts = np.atleast_1d(np.asarray(split[1], dtype=float))
        if cuts.size == 0 or not np.isfinite(cuts).all() or len(set(cuts)) != cuts.size:
            raise ValueError(f"thresholds must be distinct finite numbers, got {split[1]!r}")
        return "threshold", sorted(float(c) for c in cuts)
    if split == "threshold":
        raise ValueError("split='threshold' needs its value: split=('threshold', 0.5)")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS[:-1]} or ('threshold', value), got {split!r}")
    return split, []


def _bundled_grouping(
    panel: Panel,
    by: str,
    *,
    population: str | None,
    population_unit: str | None,
    include_unverified: bool,
    treat: str,
    baseline_period: int | None,
) -> tuple[Panel, str]:
    """The panel with the bundled grouping ``by`` added as a column, and a note saying so.

    ``size_class`` classifies each unit's ``population`` (formed as a numeric ``by`` would be:
    time-invariant, pre-treatment mean or ``baseline_period`` value) with
    :func:`climetrics.data.city_size_class`; other groupings map the units through
    :func:`climetrics.data.city_groups`.
    """
    if by != "size_class":
        if population is not None:
            raise ValueError(f"population= is only used with by='size_class' (got by={by!r})")
        col = city_groups(panel.df[panel.unit], by, include_unverified=include_unverified, column=panel.unit)
        return panel.assign(**{by: col.to_numpy()}), f"Groups: the bundled grouping '{by}' ({GROUPINGS[by]})."
    if population is None or population_unit is None:
        raise ValueError(
            "by='size_class' needs population= (a population column) and population_unit= "
            "('persons' or '10k persons')"
        )
    panel.require([population], context="heterogeneity")
    vals, basis, _ = _unit_values(panel, population, treat=treat, baseline_period=baseline_period, numeric=True)
    classes = city_size_class(vals, unit=population_unit, detailed=False).astype(object)
    note = (
        f"Groups: the five city-size classes of 国发〔2014〕51号 applied to '{population}' ({basis}); the "
        "official classes refer to urban-area resident population."
    )
    return panel.assign(size_class=panel.df[panel.unit].map(classes).to_numpy()), note


def define_groups(
    panel: Panel,
    by: str,
    *,
    split: str | tuple = "median",
    q: int | None = None,
    baseline_period: int | None = None,
    treat: str | None = None,
) -> GroupDefinition:
    """Assign every unit to a group by the value of ``by``.

    Parameters
    ----------
    panel
        The data.
    by
        Grouping column (e.g. ``"income"``, ``"region"``, ``"coastal"``).
    split
        ``"median"`` or ``"mean"``: two groups, ``"high"`` strictly above the threshold and
        ``"low"`` otherwise; ``"quantile"``: ``q`` groups ``Q1..Qq`` cut at the ``k/q``
        quantiles of the unit values (``Qk`` takes values in ``(cut_{k-1}, cut_k]``);
        ``("threshold", c)``: ``"low"`` at or below the fixed value ``c`` and ``"high"`` above;
        ``("threshold", [c1, ..., ck])``: k + 1 groups ``"<= c1"``, ``"(c1, c2]"``, ...,
        ``"> ck"``; ``"category"``: one group per distinct value (sorted).
    q
        Number of quantile groups (``split="quantile"`` only; at least 2).
    baseline_period
        Use the value of ``by`` in this period. Otherwise a time-invariant column is used as is,
        and a time-varying numeric column is averaged over the common pre-treatment window
        (needs ``treat``); see the module docstring.
    treat
        Treatment column, to locate the pre-treatment window of a time-varying ``by``.

    Returns
    -------
    GroupDefinition

    Raises
    ------
    EstimationError
        If fewer than two non-empty groups result (e.g. every unit has the same value) or a
        quantile group is empty because of ties.
    """
    split, thresholds = _parse_split(split)
    if split == "quantile":
        if q is None or int(q) != q or q < 2:
            raise ValueError(f"split='quantile' needs an integer q >= 2 groups, got q={q!r}")
        q = int(q)
    elif q is not None:
        raise ValueError(f"q is only used with split='quantile' (got split={split!r})")
    numeric = split != "category"
    panel.require([by], numeric=numeric, context="heterogeneity")
    if by in (panel.unit, panel.time):
        raise PanelError(f"cannot group by the key column '{by}'")
    vals, basis, notes = _unit_values(
        panel, by, treat=treat, baseline_period=baseline_period, numeric=numeric
    )
    ok = vals.notna()
    if not ok.any():
        raise EstimationError(f"no unit has a value of '{by}' to form groups ({basis})")
    if (~ok).any():
        miss = list(vals.index[~ok][:5])
        notes.append(
            f"{int((~ok).sum())} units have no value of '{by}' ({basis}) and are left out of the "
            f"heterogeneity analysis (e.g. {', '.join(map(str, miss))})."
        )
    v = vals[ok]
    cuts: list[float] = []
    if split == "category":
        cats = sorted(v.unique(), key=lambda x: (str(type(x)), x))
        labels = [str(c) for c in cats]
        if len(set(labels)) != len(labels):
            raise EstimationError(f"categories of '{by}' are not distinct as text: {labels}")
        group = v.map(dict(zip(cats, labels, strict=True)))
    else:
        x = v.astype(float).to_numpy()
        if split in ("median", "mean"):
            cut = float(np.median(x) if split == "median" else x.mean())
            cuts = [cut]
            labels = ["low", "high"]
            idx = (x > cut).astype(int)
        elif split == "threshold":
            cuts = thresholds
            labels = ["low", "high"] if len(cuts) == 1 else [
                f"<= {cuts[0]:g}", *(f"({a:g}, {b:g}]" for a, b in zip(cuts[:-1], cuts[1:], strict=True)), f"> {cuts[-1]:g}"
            ]
            idx = np.searchsorted(np.asarray(cuts), x, side="left")
        else:
            cuts = [float(c) for c in np.quantile(x, np.arange(1, q) / q)]
            labels = [f"Q{k + 1}" for k in range(q)]
            idx = np.searchsorted(np.asarray(cuts), x, side="left")
        counts = np.bincount(idx, minlength=len(labels))
        if (counts == 0).any():
            empty = [lab for lab, c in zip(labels, counts, strict=True) if c == 0]
            raise EstimationError(
                f"splitting '{by}' at the {split} leaves group(s) {empty} empty "
                f"(too many ties among the {x.size} unit values); use fewer groups or another split"
            )
        group = pd.Series(np.asarray(labels, dtype=object)[idx], index=v.index)
    if len(labels) < 2:
        raise EstimationError(
            f"'{by}' takes a single value ({show(v.iloc[0])}) across units: there is only one group"
        )
    units = pd.DataFrame({panel.unit: vals.index, "value": vals.to_numpy()})
    units["group"] = units[panel.unit].map(group)
    return GroupDefinition(
        by=by, split=split, labels=labels, units=units, cutpoints=cuts, basis=basis, notes=notes
    )


# ---------------------------------------------------------------------- batched permutations
@dataclass(frozen=True)
class _BlockKernel:
    """Regressions ``y ~ Z + W_r | FE`` that share ``y``, ``Z`` and FE; only ``W_r`` varies."""

    fes: FixedEffects
    q: np.ndarray  # Q of the demeaned common regressors (n, kz)
    y_star: np.ndarray  # outcome net of FE and Z (n,)
    summer: sp.csr_matrix  # cluster indicator (G, n)
    factor: float  # CRV1 small-sample factor

    @classmethod
    def build(cls, y, Z, fe_codes, cluster, n_varying: int) -> _BlockKernel:
        fes = FixedEffects(fe_codes)
        yt = fes.demean(y)
        Zt = fes.demean(Z.reshape(len(y), -1))
        q, _ = np.linalg.qr(Zt)
        g = int(cluster.max()) + 1
        n = len(y)
        ssc = SmallSampleCorrection(k_fixef="nonnested")
        df_k = ssc.df_k(Zt.shape[1] + n_varying, fes.n_levels, fes.nested_in(cluster))
        summer = sp.csr_matrix((np.ones(n), (cluster, np.arange(n))), shape=(g, n))
        return cls(fes, q, yt - q @ (q.T @ yt), summer, ssc.factor(n, df_k, g))

    def fit(self, W: np.ndarray, n_test: int) -> tuple[np.ndarray, np.ndarray]:
        """Coefficients ``(R, m)`` of the varying block and the Wald F of its first
        ``n_test`` coefficients (CRV1, same small-sample factor as :func:`twfe`)."""
        n, r, m = W.shape
        Wt = self.fes.demean(W.reshape(n, r * m))
        Wt -= self.q @ (self.q.T @ Wt)
        Ws = Wt.reshape(n, r, m)
        A = np.einsum("irk,irl->rkl", Ws, Ws)
        c = np.einsum("irk,i->rk", Ws, self.y_star)
        raw = W.reshape(n, r * m)
        tss = (np.einsum("ij,ij->j", raw, raw) - n * raw.mean(axis=0) ** 2).reshape(r, m)
        bad = (np.diagonal(A, axis1=1, axis2=2) <= 1e-9 * np.maximum(tss, 1e-300)).any(axis=1)
        A[bad] = np.eye(m)
        Ainv = np.linalg.inv(A)
        beta = np.einsum("rkl,rl->rk", Ainv, c)
        e = self.y_star[:, None] - np.einsum("irk,rk->ir", Ws, beta)
        S = np.asarray(self.summer @ (Ws * e[:, :, None]).reshape(n, r * m)).reshape(-1, r, m)
        meat = np.einsum("grk,grl->rkl", S, S)
        V = self.factor * Ainv @ meat @ Ainv
        bt = beta[:, :n_test]
        Vt = V[:, :n_test, :n_test].copy()
        Vt[bad] = np.eye(n_test)
        F = np.einsum("rk,rk->r", bt, np.linalg.solve(Vt, bt[:, :, None])[:, :, 0]) / n_test
        beta[bad] = np.nan
        F[bad] = np.nan
        return beta, F


# ---------------------------------------------------------------------- results
@dataclass(eq=False)
class HeterogeneityResult(Result):
    """Group-wise effects, the interacted model and the tests of equal effects.

    Attributes
    ----------
    groups
        The :class:`GroupDefinition`.
    subsamples
        One :class:`EstimationResult` per group (empty if not requested).
    interacted
        Pooled model with one treatment coefficient per group (terms ``"<treat> x <group>"``).
    interaction
        The same model as seed 000 writes it: ``treat`` plus ``treat x <group>`` for every
        non-reference group (the difference to the reference group).
    wald
        Wald test of equal treatment effects across groups: ``F``, ``df1``, ``df2``, ``p_value``.
    permutation
        Permutation test: ``F`` (observed), ``p_value``, ``n_perm``, ``n_valid``, and for two
        groups ``diff`` and ``p_value_diff``; draws in :attr:`perm_draws`.
    perm_draws
        DataFrame with the Wald F and difference coefficient(s) of every permutation.
    perm_assignments
        ``(units, n_perm)`` group of every unit in every permutation (rows in the order of
        ``perm_units``; values index :attr:`labels`).
    """

    y: str
    treat: str
    controls: list[str]
    groups: GroupDefinition
    subsamples: dict[str, EstimationResult]
    interacted: EstimationResult | None
    interaction: EstimationResult | None
    wald: dict[str, float] | None
    permutation: dict[str, float] | None
    perm_draws: pd.DataFrame | None
    group_terms: dict[str, str]
    diff_terms: dict[str, str]
    notes: list[str] = field(default_factory=list)
    perm_assignments: np.ndarray | None = field(default=None, repr=False)
    perm_units: np.ndarray | None = field(default=None, repr=False)

    @property
    def labels(self) -> list[str]:
        return list(self.groups.labels)

    def estimate(self, group: str, *, source: str = "subsample") -> float:
        """Treatment effect in ``group`` from the subsample fit or the interacted model."""
        if source == "subsample":
            return self.subsamples[group].coef(self.treat)
        if self.interacted is None:
            raise ValueError("the interacted model was not fitted (interaction=False)")
        return self.interacted.coef(self.group_terms[group])

    def summary(self) -> pd.DataFrame:
        """One row per group: units, treated units, N and both sets of estimates."""
        rows = []
        u = self.groups.units
        for g in self.labels:
            row: dict[str, object] = {
                "group": g,
                "units": int((u["group"] == g).sum()),
            }
            if g in self.subsamples:
                r = self.subsamples[g]
                row.update(
                    treated_units=r.meta.get("treated_units"),
                    n_obs=r.n_obs,
                    estimate=r.coef(self.treat),
                    std_error=r.se(self.treat),
                    p_value=r.pvalue(self.treat),
                    ci_low=r.confint(self.treat)[0],
                    ci_high=r.confint(self.treat)[1],
                )
            if self.interacted is not None:
                t = self.group_terms[g]
                row.update(
                    interacted=self.interacted.coef(t),
                    interacted_se=self.interacted.se(t),
                )
            rows.append(row)
        return pd.DataFrame(rows)

    def table(
        self,
        *,
        labels: dict[str, str] | None = None,
        digits: int = 4,
        stat: str = "t",
        title: str | None = None,
    ) -> Table:
        """Columns: one subsample regression per group, then the seed-000 interaction model;
        rows for the treatment and the ``treat x group`` terms, then the tests."""
        labels = dict(labels or {})
        results = [self.subsamples[g] for g in self.labels if g in self.subsamples]
        cols = [f"{self.groups.by}: {g}" for g in self.labels if g in self.subsamples]
        if self.interaction is not None:
            results.append(self.interaction)
            cols.append("Interaction")
        keep = [self.treat, *self.diff_terms.values()]
        n = len(results)
        extra: dict[str, list[str]] = {"Controls": ["Yes" if self.controls else "No"] * n}
        u = self.groups.units
        extra["Units"] = [
            fmt(int((u["group"] == g).sum())) for g in self.labels if g in self.subsamples
        ] + ([fmt(int(u["group"].notna().sum()))] if self.interaction is not None else [])
        if self.wald is not None:
            w = self.wald
            extra["Equal effects: Wald F (p)"] = [""] * (n - 1) + [
                f"{fmt(w['F'], 3)} ({fmt(w['p_value'], 3)})"
            ]
        if self.permutation is not None:
            p = self.permutation
            extra["Permutation p"] = [""] * (n - 1) + [
                f"{fmt(p['p_value'], 3)} ({p['n_valid']} draws)"
            ]
        notes = [self.groups.describe()]
        if self.interaction is not None:
            ref = self.labels[0]
            notes.append(
                f"Interaction column: {self.treat} plus {self.treat} x group for each group other "
                f"than '{ref}', with common fixed effects; the {self.treat} x group coefficient is "
                f"the difference from the '{ref}' group."
            )
        notes += self.groups.notes + self.notes
        return regression_table(
            results,
            keep=keep,
            labels=labels,
            stat=stat,
            digits=digits,
            title=title or f"Heterogeneity of the effect of {self.treat} on {self.y} by {self.groups.by}",
            column_labels=cols,
            extra_rows=extra,
            notes=notes,
        )

    def forest_plot(self, *, ax=None, title: str | None = None, level: float = 0.95):
        """Group estimates with confidence intervals (subsample fits, and the interacted model
        as hollow markers). Returns the matplotlib figure."""
        from ...report.figures import _pyplot

        plt = _pyplot()
        if ax is None:
            fig, ax = plt.subplots(figsize=(6.0, 0.6 * len(self.labels) + 1.6))
        else:
            fig = ax.figure
        ypos = np.arange(len(self.labels))[::-1].astype(float)
        sources = []
        if self.subsamples:
            sources.append(("subsample", 0.12, "o", "full"))
        if self.interacted is not None:
            sources.append(("interacted", -0.12, "s", "none"))
        for name, off, marker, fill in sources:
            est, lo, hi = [], [], []
            for g in self.labels:
                if name == "subsample":
                    r, term = self.subsamples[g], self.treat
                else:
                    r, term = self.interacted, self.group_terms[g]
                b, s = r.coef(term), r.se(term)
                crit = stats.t.ppf((1 + level) / 2, r.meta.get("df_t") or np.inf)
                est.append(b)
                lo.append(b - crit * s)
                hi.append(b + crit * s)
            est_a = np.asarray(est)
            err = np.vstack([est_a - np.asarray(lo), np.asarray(hi) - est_a])
            shift = off if len(sources) > 1 else 0.0
            ax.errorbar(est_a, ypos + shift, xerr=err, fmt=marker, fillstyle=fill, capsize=3,
                        color="C0" if name == "subsample" else "C1",
                        label="Subsample regressions" if name == "subsample" else "Interacted model")
        ax.axvline(0, color="black", lw=0.6)
        ax.set_yticks(ypos, [f"{self.groups.by}: {g}" for g in self.labels])
        ax.set_xlabel(f"Effect of {self.treat} on {self.y} ({round(100 * level)}% CI)")
        sub = ""
        if self.wald is not None:
            sub = f" (equal effects: Wald p = {self.wald['p_value']:.3g})"
        ax.set_title(title or f"Heterogeneity by {self.groups.by}{sub}")
        ax.legend(frameon=False, fontsize="small")
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        return fig

    def __repr__(self) -> str:
        return self.table().to_text()


# ---------------------------------------------------------------------- estimation
def _term_name(panel: Panel, base: str, group: str) -> str:
    name = f"{base} x {group}"
    if name in panel.columns:
        raise PanelError(f"cannot create interaction column '{name}': a column of that name exists")
    return name


def heterogeneity(
    panel: Panel,
    y: str,
    treat: str,
    controls: str | Sequence[str] = (),
    *,
    by: str,
    split: str | tuple | None = None,
    q: int | None = None,
    baseline_period: int | None = None,
    population: str | None = None,
    population_unit: str | None = None,
    include_unverified: bool = False,
    interaction: bool = True,
    subsamples: bool = True,
    interact_controls: bool = False,
    n_perm: int = 999,
    seed: int = 0,
    fe: str | Sequence[str] | None = None,
    cluster: str | None = "unit",
) -> HeterogeneityResult:
    """Heterogeneous treatment effects across groups of units.

    Parameters
    ----------
    panel, y, treat, controls
        Data, outcome, treatment (e.g. the DID dummy) and controls of the baseline model.
    by, split, q, baseline_period
        Group definition; see :func:`define_groups`. ``by`` is a column or, if the panel has no
        such column, a bundled grouping (:data:`climetrics.data.GROUPINGS`: ``"coastal"``,
        ``"region"``, ``"city_cluster"``, ``"sub_provincial"``, ``"resource_based"``,
        ``"resource_type"``, ``"size_class"``), matched to the panel's units by adcode or
        city name. ``split`` defaults to ``"category"`` for bundled groupings and
        ``"median"`` otherwise (``split`` is ``"median"``, ``"mean"``, ``("threshold", c)``,
        ``"quantile"`` with ``q`` groups, or ``"category"``).
    population, population_unit
        For ``by="size_class"``: the population column and its unit (``"persons"`` or
        ``"10k persons"``), see :func:`climetrics.data.city_size_class`.
    include_unverified
        Use the entries of a bundled list that are not verified against a public source
        (otherwise those units get no group and are left out, with a note).
    interaction
        Fit the pooled interacted model, the Wald test of equal effects and the seed-000
        ``treat x group`` regression.
    subsamples
        Fit the baseline TWFE regression separately in every group.
    interact_controls
        Also interact the controls with the group dummies in the pooled model.
    n_perm
        Permutations of the group labels across units for the permutation test (0 to skip).
    seed
        Seed of the permutations.
    fe, cluster
        As in :func:`~climetrics.twfe` (default unit and time FE, clustered by unit).

    Returns
    -------
    HeterogeneityResult

    Raises
    ------
    EstimationError
        If a group has no treated units, a subsample regression cannot be estimated, or fewer
        than two groups can be formed.
    """
    if not (interaction or subsamples):
        raise ValueError("nothing to estimate: both interaction and subsamples are False")
    if n_perm < 0:
        raise ValueError(f"n_perm must be >= 0, got {n_perm}")
    ctrl = _as_list(controls)
    fe_l = [panel.unit, panel.time] if fe is None else _as_list(fe)
    fe_l = [panel.unit if f == "unit" else panel.time if f == "time" else f for f in fe_l]
    clus = panel.unit if cluster == "unit" else cluster
    panel.require([y, treat, *ctrl], context="heterogeneity")
    panel.require(list(dict.fromkeys(fe_l + ([clus] if clus else []))), numeric=False,
                  context="heterogeneity")
    if by in (y, treat):
        raise PanelError(f"cannot group by '{by}': it is the outcome or the treatment")
    notes: list[str] = []
    if by not in panel.columns and by in GROUPINGS:
        panel, note = _bundled_grouping(
            panel, by, population=population, population_unit=population_unit,
            include_unverified=include_unverified, treat=treat, baseline_period=baseline_period,
        )
        notes.append(note)
        split = "category" if split is None else split
    elif population is not None:
        raise ValueError(f"population= is only used with the bundled by='size_class' (got by={by!r})")
    groups = define_groups(panel, by, split=split or "median", q=q, baseline_period=baseline_period, treat=treat)
    labels = groups.labels

    # ------------------------------------------------------------ estimation sample
    df = panel.df
    grp = groups.group_of(df[panel.unit])
    cols = list(dict.fromkeys([y, treat, *ctrl, *fe_l, *([clus] if clus else [])]))
    use = (grp.notna() & df[cols].notna().all(axis=1)).to_numpy()
    sub = panel.subset(use, note=f"heterogeneity sample ({by})") if not use.all() else panel
    if fe_l:
        codes = [pd.factorize(sub.df[f], sort=True)[0] for f in fe_l]
        single = find_singletons(codes)
        if single.any():
            sub = sub.subset(~single, note="drop singletons")
    sgrp = groups.group_of(sub.df[panel.unit]).to_numpy()
    d = sub.df[treat].astype(float).to_numpy()
    for g in labels:
        in_g = sgrp == g
        if not in_g.any():
            raise EstimationError(f"group '{g}' of '{by}' has no observations in the estimation sample")
        if not (d[in_g] != 0).any():
            n_u = sub.df.loc[in_g, panel.unit].nunique()
            raise EstimationError(
                f"group '{g}' of '{by}' has no treated units ({n_u} units, {treat} = 0 throughout); "
                "the effect cannot be estimated in this group - merge groups or use fewer quantiles"
            )

    kw = dict(fe=fe_l, cluster=clus)
    subs: dict[str, EstimationResult] = {}
    if subsamples:
        for g in labels:
            part = sub.subset(sgrp == g, note=f"{by} = {g}")
            try:
                res = twfe(part, y, treat, ctrl, **kw)
            except EstimationError as e:
                raise EstimationError(f"subsample {by} = '{g}': {e}") from e
            res.label = f"{by}: {g}"
            subs[g] = res

    group_terms = {g: _term_name(sub, treat, g) for g in labels}
    diff_terms = {g: group_terms[g] for g in labels[1:]}
    interacted = inter = wald = perm = draws = assignments = perm_units = None
    if interaction:
        dummies = {g: (sgrp == g).astype(float) for g in labels}
        new = {group_terms[g]: d * dummies[g] for g in labels}
        ctrl_terms: dict[str, tuple[str, str]] = {}
        if interact_controls:
            for g in labels[1:]:
                for c in ctrl:
                    name = _term_name(sub, c, g)
                    ctrl_terms[name] = (c, g)
                    new[name] = sub.df[c].astype(float).to_numpy() * dummies[g]
        aug = sub.assign(**new)
        extra_ctrl = [*ctrl, *ctrl_terms]
        interacted = twfe(aug, y, [group_terms[g] for g in labels], extra_ctrl, **kw)
        interacted.label = f"{treat} by {by}"
        inter = twfe(aug, y, [treat, *diff_terms.values()], extra_ctrl, **kw)
        inter.label = f"{treat} x {by}"
        dropped = [c for c in extra_ctrl if c not in inter.meta["controls"]]
        if dropped:
            notes.append(f"Dropped from the interacted model (collinear): {', '.join(dropped)}.")
        wald = _wald_equal(interacted, [group_terms[g] for g in labels])
        if n_perm:
            perm, draws, assignments, perm_units = _permutation(
                sub, y, treat, groups, sgrp, inter, ctrl_terms, fe_l, clus, n_perm, seed, diff_terms
            )
            if clus is None:
                notes.append(
                    "Without clustering, the permutation statistic uses a heteroskedasticity-"
                    "robust variance (each observation its own cluster, factor N/(N-K))."
                )
            if perm["n_valid"] < n_perm:
                notes.append(
                    f"{n_perm - perm['n_valid']} of {n_perm} permutations left a group without "
                    "treatment variation and were discarded."
                )
    return HeterogeneityResult(
        y=y,
        treat=treat,
        controls=ctrl,
        groups=groups,
        subsamples=subs,
        interacted=interacted,
        interaction=inter,
        wald=wald,
        permutation=perm,
        perm_draws=draws,
        group_terms=group_terms,
        diff_terms=diff_terms,
        notes=notes,
        perm_assignments=assignments,
        perm_units=perm_units,
    )


def _wald_equal(res: EstimationResult, terms: list[str]) -> dict[str, float]:
    """Wald test of ``beta_1 = ... = beta_q``: ``F = (Rb)'(RVR')^{-1}(Rb)/(q-1)``."""
    idx = [res.terms.index(t) for t in terms]
    b = res.coefs["estimate"].to_numpy()[idx]
    V = np.asarray(res.cov)[np.ix_(idx, idx)]
    k = len(terms)
    R = np.hstack([-np.ones((k - 1, 1)), np.eye(k - 1)])
    rb = R @ b
    F = float(rb @ np.linalg.solve(R @ V @ R.T, rb) / (k - 1))
    df2 = res.meta.get("df_t")
    p = float(stats.f.sf(F, k - 1, df2)) if df2 else float(stats.chi2.sf(F * (k - 1), k - 1))
    return {"F": F, "df1": k - 1, "df2": float(df2) if df2 else float("inf"), "p_value": p}


def _permutation(
    sub: Panel,
    y: str,
    treat: str,
    groups: GroupDefinition,
    sgrp: np.ndarray,
    inter: EstimationResult,
    ctrl_terms: dict[str, tuple[str, str]],
    fe_l: list[str],
    clus: str | None,
    n_perm: int,
    seed: int,
    diff_terms: dict[str, str],
) -> tuple[dict[str, float], pd.DataFrame, np.ndarray, np.ndarray]:
    """Batched permutation test of equal effects (see the module docstring)."""
    df = sub.df
    labels = groups.labels
    kept = inter.meta["controls"]
    common = [c for c in kept if c not in ctrl_terms]
    varying_ctrl = [ctrl_terms[c] for c in kept if c in ctrl_terms]
    n = len(df)
    if inter.n_obs != n:  # pragma: no cover - defensive
        raise EstimationError("internal: permutation sample differs from the interacted fit")
    ucodes, uniq = pd.factorize(df[sub.unit])
    label_idx = {g: k for k, g in enumerate(labels)}
    row_g = np.array([label_idx[g] for g in sgrp])
    unit_g = np.empty(len(uniq), dtype=int)
    unit_g[ucodes] = row_g
    fe_codes = [pd.factorize(df[f], sort=True)[0] for f in fe_l] or [np.zeros(n, dtype=int)]
    cl = pd.factorize(df[clus])[0] if clus else np.arange(n)
    d = df[treat].astype(float).to_numpy()
    Z = np.column_stack([d, *(df[c].astype(float).to_numpy() for c in common)])
    m_test = len(labels) - 1
    m = m_test + len(varying_ctrl)
    kernel = _BlockKernel.build(df[y].astype(float).to_numpy(), Z, fe_codes, cl, m)
    xs = {c: df[c].astype(float).to_numpy() for c, _ in varying_ctrl}

    def block(assign: np.ndarray) -> np.ndarray:  # assign: (n, r) group index per row
        r = assign.shape[1]
        W = np.empty((n, r, m))
        for k in range(1, len(labels)):
            W[:, :, k - 1] = d[:, None] * (assign == k)
        for j, (c, g) in enumerate(varying_ctrl):
            W[:, :, m_test + j] = xs[c][:, None] * (assign == label_idx[g])
        return W

    beta_obs, F_obs = kernel.fit(block(row_g[:, None]), m_test)
    rng = np.random.default_rng(seed)
    perms = np.stack([rng.permutation(unit_g) for _ in range(n_perm)], axis=1)  # (units, R)
    size = max(1, _CHUNK_BYTES // (8 * n * m))
    betas, Fs = [], []
    for s in range(0, n_perm, size):
        b, f = kernel.fit(block(perms[ucodes, s : s + size]), m_test)
        betas.append(b[:, :m_test])
        Fs.append(f)
    beta = np.vstack(betas)
    F = np.concatenate(Fs)
    valid = np.isfinite(F)
    n_valid = int(valid.sum())
    f_obs = float(F_obs[0])
    tol = 1e-12 * abs(f_obs)
    out = {
        "F": f_obs,
        "p_value": float((1 + np.sum(F[valid] >= f_obs - tol)) / (1 + n_valid)),
        "n_perm": n_perm,
        "n_valid": n_valid,
        "seed": seed,
    }
    draws = pd.DataFrame({"F": F})
    for k, g in enumerate(labels[1:]):
        draws[diff_terms[g]] = beta[:, k]
    if m_test == 1:
        diff = float(beta_obs[0, 0])
        out["diff"] = diff
        a = np.abs(beta[valid, 0])
        out["p_value_diff"] = float((1 + np.sum(a >= abs(diff) - 1e-12 * abs(diff))) / (1 + n_valid))
    return out, draws, perms, np.asarray(uniq)

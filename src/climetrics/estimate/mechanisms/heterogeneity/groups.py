"""Groups of units for the heterogeneity analysis (:func:`define_groups`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ....data import GROUPINGS, city_groups, city_size_class
from ....errors import EstimationError, PanelError, show
from ....panel import Panel

SPLITS = ("median", "mean", "quantile", "category", "threshold")

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

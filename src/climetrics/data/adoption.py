"""Treatment columns from an adoption-year column (any units: states, counties, firms).

Many public panels record treatment timing as one column holding each unit's first treated
period, with 0 or an empty cell for never-treated units (R ``did``'s ``first.treat`` in
``mpdta``, Stata ``csdid``'s ``gvar``). :func:`adoption_dummies` turns such a column into the
three columns every DID section of climetrics uses, the same trio that
:func:`climetrics.data.policy_dummies` builds from a calendar:

* ``{name}``       -- 1 from the adoption period on (the staggered DID dummy), else 0;
* ``{name}_treat`` -- 1 for units ever treated within the panel's periods;
* ``{name}_year``  -- the adoption period, NaN for never-treated units.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import PanelError, did_you_mean, show
from ..panel import Panel


def adoption_dummies(
    panel: Panel,
    adoption: str,
    *,
    name: str | None = None,
    never: Sequence[float] = (0,),
) -> Panel:
    """Return a new Panel with the DID dummy, ever-treated flag and cohort from ``adoption``.

    Parameters
    ----------
    panel
        Any panel (units need not be Chinese cities).
    adoption
        Column with each unit's first treated period (e.g. ``first_treat``); the values in
        ``never`` (default 0) and empty cells mean never treated. It must be constant within a
        unit and hold whole periods.
    name
        Name of the DID dummy (default: ``"did"``); ``{name}_treat`` and ``{name}_year`` are
        added beside it.
    never
        Values that mark never-treated units besides empty cells.

    Units adopting after the panel's last period are never treated within the sample, and
    units adopting at or before its first period are treated throughout (no pre-period):
    both are kept and reported with a warning, since such cohorts identify no effect in a
    staggered design.
    """
    import warnings

    if adoption not in panel.columns:
        raise PanelError(
            f"adoption-year column '{adoption}' not in the panel{did_you_mean(adoption, panel.columns)}"
        )
    name = name or "did"
    new = [name, f"{name}_treat", f"{name}_year"]
    clash = [c for c in new if c in panel.columns and c != adoption]
    if clash:
        raise PanelError(f"the panel already has column(s) {clash}; pass name= to choose other names")
    df = panel.df
    raw = pd.to_numeric(df[adoption], errors="coerce")
    text = df[adoption].notna() & raw.isna()
    if text.any():
        i = int(np.flatnonzero(text.to_numpy())[0])
        raise PanelError(
            f"adoption-year column '{adoption}' must hold periods, but {panel.unit} "
            f"{show(df[panel.unit].iloc[i])} has {show(df[adoption].iloc[i])}"
        )
    year = raw.where(~raw.isin(list(never)))
    fractional = year.notna() & (year != np.round(year))
    if fractional.any():
        i = int(np.flatnonzero(fractional.to_numpy())[0])
        raise PanelError(
            f"adoption-year column '{adoption}' must hold whole periods (e.g. 2015), but {panel.unit} "
            f"{show(df[panel.unit].iloc[i])} has {show(df[adoption].iloc[i])}"
        )
    per_unit = year.groupby(df[panel.unit]).nunique(dropna=False)
    varying = per_unit[per_unit > 1]
    if len(varying):
        u = varying.index[0]
        vals = sorted({show(v) for v in df.loc[df[panel.unit] == u, adoption]})
        raise PanelError(
            f"adoption-year column '{adoption}' must be constant within each {panel.unit}, but "
            f"{panel.unit} {show(u)} has {', '.join(vals)} ({len(varying)} units vary)"
        )
    t = df[panel.time].astype(float)
    first, last = float(t.min()), float(t.max())
    unit_year = year.groupby(df[panel.unit]).first()
    late = unit_year[unit_year > last]
    early = unit_year[unit_year <= first]
    if len(late):
        warnings.warn(
            f"{len(late)} {panel.unit}(s) adopt after the last period {last:g} (e.g. "
            f"{show(late.index[0])} in {late.iloc[0]:g}); they are never treated in this sample",
            stacklevel=2,
        )
        year = year.where(year <= last)
    if len(early):
        warnings.warn(
            f"{len(early)} {panel.unit}(s) adopt at or before the first period {first:g} (e.g. "
            f"{show(early.index[0])} in {early.iloc[0]:g}): treated throughout, they have no "
            "pre-period and identify no effect in a staggered design",
            stacklevel=2,
        )
    did = (year.notna() & (t >= year)).astype(float)
    return panel.assign(
        **{name: did.to_numpy(), f"{name}_treat": year.notna().astype(float).to_numpy(),
           f"{name}_year": year.to_numpy(dtype=float)}
    )

"""The [prepare] steps of a study that build indicators with :mod:`climetrics.measure`.

Each step adds one or more columns to the panel and equals the direct call of its function:

* ``[[prepare.carbon]]`` -- :func:`~climetrics.measure.fossil_co2` (seed 001 eq. 9);
* ``[[prepare.downscale]]`` -- :func:`~climetrics.measure.downscale` of a provincial column
  (repeated on every city row) by a city proxy (seed 000);
* ``[[prepare.fill_trailing]]`` -- :func:`~climetrics.measure.fill_trailing` (seed 003);
* ``[[prepare.agglomeration]]`` -- :func:`~climetrics.measure.producer_service_agglomeration`
  (seed 002 eq. 6);
* ``[[prepare.entropy]]`` -- :func:`~climetrics.measure.entropy_index`, pooled or year by year;
* ``[[prepare.nddf]]`` -- the ``cpi`` (= ``tfcpi``) or ``ecpi`` of
  :func:`~climetrics.measure.nddf_performance` (seed 000 eq. 2).

A data problem found by the measure function is re-raised as a :class:`ConfigError` that names
the config key of the step (``prepare.entropy[0]``), so the user knows which table to fix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from ..errors import ConfigError, PanelError
from ..panel import Panel


def _new_column(panel: Panel, key: str, name: str) -> None:
    if name in panel:
        raise ConfigError(
            f"'{key}': column '{name}' already exists in the data; choose another name"
        )


def _call(key: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """``fn(*args, **kw)`` with data errors reported under the config key of the step."""
    try:
        return fn(*args, **kw)
    except PanelError as err:
        raise ConfigError(f"'{key}': {err}") from err


def add_carbon(panel: Panel, spec: dict[str, Any], key: str) -> Panel:
    """CO2 from fuel consumption columns (IPCC reference method, seed 001 eq. 9)."""
    from ..measure import fossil_co2

    _new_column(panel, f"{key}.column", spec["column"])
    co2 = _call(
        key,
        fossil_co2,
        panel.df,
        spec["fuels"],
        units=spec["units"],
        gas_units=spec["gas_units"],
        output_units=spec["output_units"],
    )
    return panel.assign(**{spec["column"]: co2.to_numpy()})


def add_downscaled(panel: Panel, spec: dict[str, Any], key: str) -> Panel:
    """City share of a provincial total: ``value x proxy / sum of proxy over the province-year``."""
    from ..measure import downscale

    _new_column(panel, f"{key}.column", spec["column"])
    prov, value = spec["province"], spec["value"]
    keys = [prov, panel.time]
    df = panel.df
    spread = df.groupby(keys, sort=True)[value].nunique(dropna=False)
    if (spread > 1).any():
        p, t = spread.index[(spread > 1).argmax()]
        raise ConfigError(
            f"'{key}.value': '{value}' should be the provincial total, the same on every city row of a "
            f"province-year, but it differs within {prov} {p!r}, {panel.time} {t}"
        )
    totals = df.groupby(keys, sort=True, as_index=False)[value].first()
    out = _call(
        key, downscale, totals, df, spec["proxy"], province=prov, time=panel.time, value=value
    )
    return panel.assign(**{spec["column"]: out[value].to_numpy()})


def fill_trailing_years(panel: Panel, spec: dict[str, Any], key: str) -> Panel:
    """Forecast the missing trailing years of each listed column, unit by unit (seed 003)."""
    from ..measure import fill_trailing

    opts = {
        k: spec[k] for k in ("method", "last_observed", "fit_years", "until", "log", "on_short")
    }
    for col in spec["columns"]:
        panel = _call(key, fill_trailing, panel, col, **opts)
    return panel


def add_agglomeration(panel: Panel, spec: dict[str, Any], key: str) -> Panel:
    """Producer-service specialisation index, overall and by tier (seed 002 eq. 6)."""
    from ..measure import producer_service_agglomeration

    tiers = spec["tiers"]
    for name in (spec["prefix"], *(f"{spec['prefix']}_{t}" for t in tiers)):
        _new_column(panel, f"{key}.prefix", name)
    out = _call(
        key,
        producer_service_agglomeration,
        panel.df,
        tiers,
        spec["total"],
        time=panel.time,
        prefix=spec["prefix"],
    )
    return panel.assign(**{c: out[c].to_numpy() for c in out.columns})


def add_entropy(panel: Panel, spec: dict[str, Any], key: str) -> tuple[Panel, pd.DataFrame]:
    """Entropy-weight index; also returns the weights table (one row per indicator and year)."""
    from ..measure import entropy_index

    _new_column(panel, f"{key}.column", spec["column"])
    by = panel.time if spec["weights"] == "per_year" else None
    index, weights = _call(
        key,
        entropy_index,
        panel.df,
        spec["positive"],
        spec["negative"],
        by=by,
        shift=float(spec["shift"]),
        name=spec["column"],
    )
    return panel.assign(**{spec["column"]: index.to_numpy()}), weights


def add_nddf(panel: Panel, spec: dict[str, Any], key: str) -> Panel:
    """Total-factor carbon performance (NDDF, seed 000): the ``cpi`` (default) or ``ecpi`` of
    :func:`~climetrics.measure.nddf_performance` as a new column, aligned by unit and year."""
    from ..measure import nddf_performance

    _new_column(panel, f"{key}.column", spec["column"])
    res = _call(
        key,
        nddf_performance,
        panel,
        spec["inputs"],
        spec["good"],
        spec["bad"],
        frontier=spec["frontier"],
        rts=spec["rts"],
        energy=spec["energy"] if spec["index"] == "ecpi" else None,
    )
    k = [panel.unit, panel.time]
    merged = panel.df[k].merge(res[[*k, spec["index"]]], on=k, how="left")
    return panel.assign(**{spec["column"]: merged[spec["index"]].to_numpy()})

"""The [prepare] steps of a study that build indicators with :mod:`climetrics.measure`.

Each step adds one or more columns to the panel and equals the direct call of its function:

* ``[[prepare.carbon]]`` -- :func:`~climetrics.measure.fossil_co2` (seed 001 eq. 9);
* ``[[prepare.city_co2]]`` -- :func:`~climetrics.measure.city_co2` (seed 002: electricity x
  regional grid factor + gas + LPG + heat + an optional transport term sum_f fuel_f x
  factor_f), grid factors inline or from a CSV file;
* ``[[prepare.digital_economy]]`` -- :func:`~climetrics.measure.provincial_digital_economy`
  (seed 001 eqs. 1-4) from IO tables found by a path pattern, merged into a province-year panel;
  its ``columns`` exports the summary measures and the value added of each core sector (the
  seed's digital manufacturing and digital services);
* ``[[prepare.downscale]]`` -- :func:`~climetrics.measure.downscale` of a provincial column
  (repeated on every city row) by a city proxy (seed 000);
* ``[[prepare.fill_trailing]]`` -- :func:`~climetrics.measure.fill_trailing` (seed 003);
* ``[[prepare.deflate]]`` -- :func:`~climetrics.measure.deflate`: real values by a price index
  rebased to a base year;
* ``[[prepare.capital_stock]]`` -- :func:`~climetrics.measure.capital_stock`: perpetual-inventory
  capital stock (Hall & Jones 1999 start), e.g. seed 000's DEA capital input;
* ``[[prepare.agglomeration]]`` -- :func:`~climetrics.measure.producer_service_agglomeration`
  (seed 002 eq. 6);
* ``[[prepare.entropy]]`` -- :func:`~climetrics.measure.entropy_index`, pooled or year by year;
* ``[[prepare.nddf]]`` -- the ``cpi`` (= ``tfcpi``) or ``ecpi`` of
  :func:`~climetrics.measure.nddf_performance` (seed 000 eq. 2).

A data problem found by the measure function is re-raised as a :class:`ConfigError` that names
the config key of the step (``prepare.entropy[0]``), so the user knows which table to fix.
"""

from __future__ import annotations

import glob
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import ConfigError, PanelError, did_you_mean, show
from ..panel import Panel
from .config import digital_column_key, digital_columns


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


def _csv(base_dir: Path, name: str, key: str, **kw: Any) -> pd.DataFrame:
    """A CSV file named in the config (relative to the config file); errors name the key."""
    path = (base_dir / name).resolve()
    if not path.is_file():
        raise ConfigError(f"'{key}': file '{name}' not found (looked for {path})")
    try:
        return pd.read_csv(path, **kw)
    except (ValueError, pd.errors.ParserError) as err:
        raise ConfigError(f"'{key}': cannot read '{name}' as CSV: {err}") from err


def _grid_factor_file(base_dir: Path, name: str, key: str) -> pd.DataFrame:
    """The region, factor[, year] table of a grid-factor CSV, checked row by row."""
    tab = _csv(base_dir, name, key)
    tab.columns = [str(c).strip() for c in tab.columns]
    allowed = ("region", "factor", "year")
    miss = [c for c in ("region", "factor") if c not in tab.columns]
    extra = [c for c in tab.columns if c not in allowed]
    if miss or extra:
        what = (
            "lacks column(s) " + ", ".join(miss)
            if miss
            else "has unknown column(s) " + ", ".join(extra)
        )
        raise ConfigError(f"'{key}': '{name}' {what}; give region, factor and optionally year")
    keys = ["region", "year"] if "year" in tab.columns else ["region"]
    if tab[keys].isna().any().any():
        i = tab[keys].isna().any(axis=1).idxmax()
        raise ConfigError(f"'{key}': '{name}' line {i + 2} has an empty {' or '.join(keys)}")
    fac = pd.to_numeric(tab["factor"], errors="coerce")
    bad = ~(fac >= 0) | ~fac.map(math.isfinite)
    if bad.any():
        i = bad.idxmax()
        raise ConfigError(
            f"'{key}': '{name}' line {i + 2}: factor {show(tab.at[i, 'factor'])} of region "
            f"{show(tab.at[i, 'region'])} must be a number >= 0 (t CO2/MWh)"
        )
    dup = tab.duplicated(keys, keep=False)
    if dup.any():
        i = dup.idxmax()
        where = ", ".join(f"{k} {show(tab.at[i, k])}" for k in keys)
        raise ConfigError(f"'{key}': '{name}' has more than one factor for {where}")
    return tab.assign(factor=fac.astype(float))


def _check_regions(panel: Panel, region: str, factors: Any, key: str) -> None:
    """Every grid region (and year) of the data has a factor; the error names the first row."""
    df = panel.df
    by_year = isinstance(factors, pd.DataFrame) and "year" in factors.columns
    if by_year:
        have = set(zip(factors["region"], factors["year"], strict=True))
        pairs = zip(df[region], df[panel.time], strict=True)
        gap = pd.Series([(r, t) not in have for r, t in pairs], index=df.index)
    else:
        have = set(factors["region"] if isinstance(factors, pd.DataFrame) else factors)
        gap = ~df[region].isin(have)
    gap &= df[region].notna()
    if gap.any():
        i = gap.idxmax()
        r, t = df.at[i, region], df.at[i, panel.time]
        if by_year:
            what = f"for (region, year) ({show(r)}, {show(t)})"
        else:
            what = f"for region {show(r)}{did_you_mean(str(r), map(str, have))}"
        regions = sorted(map(str, set(df.loc[gap, region])))
        raise ConfigError(
            f"'{key}': no grid emission factor {what} (first at {panel.unit} "
            f"{show(df.at[i, panel.unit])}, {panel.time} {show(t)}; {int(gap.sum())} row(s) "
            f"lack a factor, region(s) {regions}); add it to grid_factors"
        )


def add_city_co2(panel: Panel, spec: dict[str, Any], key: str, base_dir: Path) -> Panel:
    """City CO2 from electricity (regional grid factor), gas, LPG and heat (seed 002)."""
    from ..measure import city_co2

    _new_column(panel, f"{key}.column", spec["column"])
    factors = spec["grid_factors"]
    year = None
    if isinstance(factors, str):
        factors = _grid_factor_file(base_dir, factors, f"{key}.grid_factors")
        year = panel.time if "year" in factors.columns else None
    if spec["electricity"] is not None:
        _check_regions(panel, spec["grid_region"], factors, f"{key}.grid_factors")
    co2 = _call(
        key,
        city_co2,
        panel.df,
        spec["electricity"],
        spec["grid_region"],
        spec["gas"],
        spec["lpg"],
        spec["heat"],
        grid_factors=factors,
        heat_factor=spec["heat_factor"],
        transport=spec["transport"],
        year=year,
        units=spec["units"],
        output_units=spec["output_units"],
    )
    return panel.assign(**{spec["column"]: co2.to_numpy()})


def _io_search(pattern: str, base_dir: Path, province: str | None) -> tuple[str, re.Pattern[str]]:
    """Glob and regex of the IO-table files of one province (``None``: of every province)."""
    root = "" if os.path.isabs(pattern) else str(base_dir) + os.sep
    globs, regex = [glob.escape(root)], [re.escape(root)]
    for tok in re.split(r"(\{province\}|\{year\})", pattern):
        if tok == "{province}":
            globs.append("*" if province is None else glob.escape(province))
            regex.append("[^/]+" if province is None else re.escape(province))
        elif tok == "{year}":
            globs.append("[0-9]" * 4)
            regex.append("(?P<year>[0-9]{4})")
        else:
            globs.append(glob.escape(tok))
            regex.append(re.escape(tok))
    return "".join(globs), re.compile("".join(regex))


def io_table_files(pattern: str, base_dir: Path, province: str) -> dict[int, str]:
    """``{year: path}`` of the IO tables of ``province`` matching a ``tables`` pattern."""
    g, rx = _io_search(pattern, base_dir, province)
    return {int(m["year"]): p for p in sorted(glob.glob(g)) if (m := rx.fullmatch(p))}


def input_files(prepare: dict[str, Any], base_dir: Path) -> list[Path]:
    """The files the [prepare] measurement steps read besides the data (for the cache key)."""
    out = []
    for spec in prepare["city_co2"]:
        if isinstance(spec["grid_factors"], str):
            out.append((base_dir / spec["grid_factors"]).resolve())
    for spec in prepare["digital_economy"]:
        if spec["annual"] is not None:
            out.append((base_dir / spec["annual"]).resolve())
        g, rx = _io_search(spec["tables"], base_dir, None)
        out += [Path(p) for p in sorted(glob.glob(g)) if rx.fullmatch(p)]
    return out


def _used_table_years(tyears: list[int], pyears: set[int]) -> set[int]:
    """Table years that give a panel year its value: the year itself, or a neighbour table of a
    panel year between two tables."""
    used = {t for t in tyears if t in pyears}
    for a, b in zip(tyears, tyears[1:], strict=False):
        if any(a < y < b for y in pyears):
            used |= {a, b}
    return used


def add_digital_economy(panel: Panel, spec: dict[str, Any], key: str, base_dir: Path) -> Panel:
    """Digital-economy value added and share of each province-year from IO tables (seed 001)."""
    from ..measure import provincial_digital_economy

    cols = digital_columns(spec)
    for m, col in cols.items():
        _new_column(panel, f"{key}.{digital_column_key(spec, m)}", col)
    df = panel.df
    prov = df[panel.unit].astype(str)
    years = df[panel.time]
    pattern = spec["tables"]
    tables: dict[str, dict[int, str]] = {}
    for p in prov.unique():
        found = io_table_files(pattern, base_dir, p)
        if not found:
            g, _ = _io_search(pattern, base_dir, p)
            raise ConfigError(
                f"'{key}.tables': no IO table for {panel.unit} {p!r} (no file matches {g}); every "
                f"{panel.unit} of the panel needs its tables, named by the pattern {pattern!r}"
            )
        pyears = {int(y) for y in years[prov == p]}
        tyears = sorted(found)
        unused = [t for t in tyears if t not in _used_table_years(tyears, pyears)]
        if unused:
            t = unused[0]
            raise ConfigError(
                f"'{key}.tables': the IO table of {panel.unit} {p!r}, year {t} ({found[t]}) lies "
                f"outside the panel's years of {p!r} ({min(pyears)}-{max(pyears)}) and no panel "
                "year lies between it and the next table; remove it (or extend the panel)"
            )
        tables[p] = found
    annual = None
    if spec["annual"] is not None:
        annual = _csv(base_dir, spec["annual"], f"{key}.annual", dtype={"province": str})
        miss = [c for c in ("province", "year") if c not in annual.columns]
        if miss:
            raise ConfigError(
                f"'{key}.annual': '{spec['annual']}' needs columns province and year (missing "
                f"{', '.join(miss)}) and the annual aggregates (gdp, parent aggregates)"
            )
    res = _call(
        key,
        provincial_digital_economy,
        tables,
        spec["core_sectors"],
        digital_products=spec["digital_products"],
        annual=annual,
        parent_sectors=spec["parent_sectors"],
        method=spec["method"],
    )
    idx = pd.MultiIndex.from_arrays([prov, years.astype(int)], names=["province", "year"])
    vals = res.summary.reindex(idx)
    gap = vals["source"].isna().to_numpy()
    if gap.any() and spec["outside"] == "error":
        i = int(gap.argmax())
        p, t = prov.iloc[i], int(years.iloc[i])
        raise ConfigError(
            f"'{key}': no digital-economy value for {panel.unit} {p!r}, {panel.time} {t} (and "
            f"{int(gap.sum()) - 1} other panel row(s)): the IO tables of {p!r} are for "
            f"{', '.join(map(str, sorted(tables[p])))}; years outside them are not extrapolated "
            "and years between tables need a row in 'annual'. Set outside = \"missing\" to leave "
            "such rows missing"
        )
    core = res.core.reindex(idx)  # value added of each core sector
    return panel.assign(
        **{
            col: (vals[m] if m in vals.columns else core[m.strip()]).to_numpy()
            for m, col in cols.items()
        }
    )


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


def add_deflated(panel: Panel, spec: dict[str, Any], key: str) -> Panel:
    """Real values ``<column><suffix> = column / (P / P_base_year)`` of each listed column."""
    from ..measure import deflate

    for c in spec["columns"]:
        _new_column(panel, f"{key}.suffix", f"{c}{spec['suffix']}")
    cols, deflator, base = spec["columns"], spec["deflator"], spec["base_year"]
    return _call(key, deflate, panel, cols, deflator, base, suffix=spec["suffix"])


def add_capital_stock(panel: Panel, spec: dict[str, Any], key: str) -> Panel:
    """Perpetual-inventory capital stock ``K_t = K_{t-1}(1 - delta) + I_t / P_t``."""
    from ..measure import capital_stock

    _new_column(panel, f"{key}.column", spec["column"])
    k = _call(
        key,
        capital_stock,
        panel,
        spec["investment"],
        float(spec["delta"]),
        deflator=spec["deflator"],
        base_year=spec["base_year"],
        initial=spec["initial"],
        growth_years=spec["growth_years"],
        name=spec["column"],
    )
    return panel.assign(**{spec["column"]: k.to_numpy()})


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

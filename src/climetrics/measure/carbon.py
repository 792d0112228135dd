"""CO2 emissions from energy use by the emission-factor (IPCC reference) method.

* :func:`fossil_co2` -- provincial (or any) CO2 from seven fossil fuels (seed 001, eq. 9 and
  Table 4)::

      CO2_i = sum_n  E_in x NCV_n x CC_n x O_n x 44/12

  with ``E`` the final consumption of fuel ``n``, ``NCV`` its net (low) calorific value,
  ``CC`` the carbon content per unit of energy, ``O`` the oxidation rate and 44/12 the
  molecular-weight ratio of CO2 to C (IPCC 2006 Guidelines, Vol. 2, Ch. 1, eq. 1.1).
* :func:`city_co2` -- city-level CO2 from electricity, gas, LPG and heat (seed 002, following
  Wu et al.): electricity x regional grid emission factor + natural gas + LPG + heat.
* :func:`emission_factors` -- the bundled default factors (``data/emission_factors.csv``, with
  the source of every number in ``data/EMISSION_FACTORS.md``).

Default factors: NCV from the *China Energy Statistical Yearbook* conversion table, carbon
content and oxidation (1.0) from the IPCC 2006 Guidelines, Vol. 2, Ch. 1, Table 1.3. Any factor
can be overridden.

References
----------
IPCC (2006). 2006 IPCC Guidelines for National Greenhouse Gas Inventories, Vol. 2: Energy,
Ch. 1. IGES, Hayama.
National Bureau of Statistics of China. China Energy Statistical Yearbook (appendix:
conversion factors to standard coal).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from ..errors import PanelError, did_you_mean, show

__all__ = ["CO2_PER_C", "FUELS", "KJ_PER_KGCE", "city_co2", "emission_factors", "fossil_co2"]

#: mass ratio CO2 / C (44/12)
CO2_PER_C = 44.0 / 12.0
#: energy content of standard coal equivalent, kJ per kgce (7,000 kcal)
KJ_PER_KGCE = 29_307.6
#: the seven fuels of seed 001 (default column names of :func:`fossil_co2`)
FUELS = ("coal", "coke", "gasoline", "kerosene", "diesel", "fuel_oil", "natural_gas")

# input units -> (physical basis, multiplier to kg or m3 or kgce)
_MASS_UNITS = {"kg": 1.0, "t": 1e3, "10^4 t": 1e7}
_VOLUME_UNITS = {"m3": 1.0, "10^4 m3": 1e4, "10^8 m3": 1e8}
_TCE_UNITS = {"kgce": 1.0, "tce": 1e3, "10^4 tce": 1e7}
# output units: multiplier from tonnes
_OUT_UNITS = {"kg": 1e3, "t": 1.0, "10^4 t": 1e-4, "Mt": 1e-6}
_FACTOR_FIELDS = ("ncv", "carbon_content", "oxidation")


@lru_cache(maxsize=1)
def _bundled() -> pd.DataFrame:
    with resources.files("climetrics.data").joinpath("emission_factors.csv").open(encoding="utf-8") as fh:
        tab = pd.read_csv(fh).set_index("fuel")
    return tab.astype({f: float for f in _FACTOR_FIELDS})


def emission_factors() -> pd.DataFrame:
    """The bundled default factors, one row per fuel (a fresh copy).

    Columns: ``label``, ``basis`` (``mass``: NCV per kg, ``volume``: NCV per m3), ``ncv``
    (kJ/kg or kJ/m3), ``carbon_content`` (kg C/GJ), ``oxidation`` and a ``*_source`` column per
    factor (codes explained in ``data/EMISSION_FACTORS.md``): ``CESY`` = China Energy
    Statistical Yearbook, ``IPCC2006_<fuel>`` = IPCC 2006 Guidelines Vol. 2 Ch. 1 Table 1.3.
    """
    return _bundled().copy()


def _factor_table(factors: Mapping[str, Mapping[str, float]] | pd.DataFrame | None) -> pd.DataFrame:
    """Bundled factors with the user's overrides applied field by field."""
    tab = emission_factors()
    if factors is None:
        return tab
    if isinstance(factors, pd.DataFrame):
        fac = factors.set_index("fuel") if "fuel" in factors.columns else factors
        factors = {k: {f: v for f, v in row.items() if pd.notna(v)} for k, row in fac.to_dict("index").items()}
    for fuel, over in factors.items():
        if not isinstance(over, Mapping):
            raise PanelError(
                f"factors['{fuel}'] must be a dict such as {{'carbon_content': 26.37}}, got {show(over)}"
            )
        unknown = [f for f in over if f not in (*_FACTOR_FIELDS, "basis")]
        if unknown:
            raise PanelError(
                f"factors['{fuel}']: unknown field(s) {unknown}; allowed: {', '.join(_FACTOR_FIELDS)}, basis"
            )
        if fuel not in tab.index:
            need = [f for f in (*_FACTOR_FIELDS, "basis") if f not in over]
            if need:
                raise PanelError(
                    f"factors['{fuel}']: '{fuel}' is not a bundled fuel{did_you_mean(fuel, tab.index)}; "
                    f"a new fuel needs all of ncv, carbon_content, oxidation and basis ('mass' or "
                    f"'volume'); missing: {', '.join(need)}"
                )
            new = {c: np.nan for c in tab.columns}
            new.update(label=fuel, basis=over["basis"])
            tab = pd.concat([tab, pd.DataFrame([new], index=pd.Index([fuel], name=tab.index.name))])
        for f, v in over.items():
            if f == "basis":
                if v not in ("mass", "volume"):
                    raise PanelError(f"factors['{fuel}']['basis'] must be 'mass' or 'volume', got {show(v)}")
                tab.loc[fuel, "basis"] = v
                continue
            try:
                val = float(v)
            except (TypeError, ValueError):
                raise PanelError(f"factors['{fuel}']['{f}'] must be a number, got {show(v)}") from None
            if not np.isfinite(val) or val < 0 or (f == "oxidation" and val > 1):
                raise PanelError(f"factors['{fuel}']['{f}'] = {val} is not a valid factor")
            tab.loc[fuel, f] = val
            tab.loc[fuel, f"{f}_source"] = "user"
    return tab


def _unit_of(units: str | Mapping[str, str], gas_units: str, fuel: str, basis: str) -> str:
    if isinstance(units, Mapping):
        if fuel in units:
            return units[fuel]
        return gas_units if basis == "volume" else "10^4 t"
    if units in _TCE_UNITS:
        return units
    return gas_units if basis == "volume" else units


def _to_gj(q: pd.Series, unit: str, fuel: str, basis: str, ncv: float) -> pd.Series:
    """Consumption in ``unit`` -> energy in GJ."""
    if unit in _TCE_UNITS:
        return q * _TCE_UNITS[unit] * KJ_PER_KGCE / 1e6
    table = _VOLUME_UNITS if basis == "volume" else _MASS_UNITS
    if unit not in table:
        kind = "a volume" if basis == "volume" else "a mass"
        raise PanelError(
            f"unit {show(unit)} for '{fuel}' is not {kind} unit; use one of "
            f"{', '.join(table)} or a standard-coal unit ({', '.join(_TCE_UNITS)})"
        )
    return q * table[unit] * ncv / 1e6


def _total(res: pd.DataFrame, detail: bool) -> pd.Series | pd.DataFrame:
    """Sum of the per-source CO2 columns, missing where any source is missing (never a silent
    zero); with ``detail`` the per-source columns plus ``co2``."""
    total = res.sum(axis=1, min_count=res.shape[1]).where(res.notna().all(axis=1))
    total.name = "co2"
    if detail:
        return res.assign(co2=total)
    return total


def fossil_co2(
    df: Any,
    fuels: dict[str, str] | None = None,
    *,
    units: str | Mapping[str, str] = "10^4 t",
    gas_units: str = "10^8 m3",
    factors: Mapping[str, Mapping[str, float]] | pd.DataFrame | None = None,
    output_units: str = "10^4 t",
    detail: bool = False,
) -> pd.Series | pd.DataFrame:
    """CO2 emissions from fossil-fuel consumption (IPCC 2006 reference method; seed 001 eq. 9).

    ``CO2 = sum_n E_n x NCV_n x CC_n x O_n x 44/12`` over the fuels given.

    Parameters
    ----------
    df
        DataFrame (or :class:`~climetrics.Panel`) with one consumption column per fuel.
    fuels
        Mapping ``fuel key -> column``; fuel keys are those of :func:`emission_factors`
        (``coal`` = raw coal, ``coke``, ``gasoline``, ``kerosene``, ``diesel``, ``fuel_oil``,
        ``natural_gas``, ``lpg``) or new keys defined in ``factors``. ``None`` uses the seven
        fuels of seed 001 with columns of the same names (all seven must exist).
    units
        Unit of the consumption columns: ``"kg"``, ``"t"``, ``"10^4 t"`` (yearbook default) for
        solid and liquid fuels, with gas in ``gas_units``; or a standard-coal-equivalent unit
        (``"kgce"``, ``"tce"``, ``"10^4 tce"``, 1 kgce = 29,307.6 kJ) for *all* columns, in which
        case the NCV is not used. A dict ``{fuel: unit}`` sets units fuel by fuel (fuels not in
        it take ``"10^4 t"`` / ``gas_units``).
    gas_units
        Unit of volume-based fuels (natural gas): ``"m3"``, ``"10^4 m3"``, ``"10^8 m3"``.
    factors
        Overrides, ``{fuel: {"ncv": ..., "carbon_content": ..., "oxidation": ...}}`` (NCV in
        kJ/kg or kJ/m3, carbon content in kg C/GJ); only the fields given change. A new fuel
        needs all three plus ``"basis": "mass" | "volume"``. A DataFrame shaped like
        :func:`emission_factors` is accepted too.
    output_units
        ``"kg"``, ``"t"``, ``"10^4 t"`` (default, as in CEADs / yearbooks) or ``"Mt"`` of CO2.
    detail
        Return a DataFrame with one ``co2_<fuel>`` column per fuel and the total ``co2``.

    Returns
    -------
    pandas.Series or pandas.DataFrame
        Total CO2 named ``co2`` (aligned to the rows of ``df``). A missing consumption value
        gives a missing total for that row (it is not treated as zero).

    Raises
    ------
    PanelError
        Unknown fuel, missing or non-numeric column, negative consumption, invalid unit or
        factor; the message names the culprit.
    """
    data = df.df if hasattr(df, "require") and hasattr(df, "unit") else df
    if not isinstance(data, pd.DataFrame):
        raise PanelError(f"fossil_co2 needs a DataFrame or Panel, got {type(df).__name__}")
    if output_units not in _OUT_UNITS:
        raise PanelError(f"output_units {show(output_units)} unknown; use one of {', '.join(_OUT_UNITS)}")
    if not isinstance(units, Mapping) and units not in (*_MASS_UNITS, *_TCE_UNITS):
        raise PanelError(
            f"units {show(units)} unknown; use one of {', '.join((*_MASS_UNITS, *_TCE_UNITS))} "
            "or a dict {fuel: unit}"
        )
    tab = _factor_table(factors)
    if fuels is None:
        fuels = {f: f for f in FUELS}
        missing = [f for f in FUELS if f not in data.columns]
        if missing:
            raise PanelError(
                f"fossil_co2: no column for fuel(s) {', '.join(missing)}; pass fuels={{fuel: column}} "
                f"for the seven fuels of seed 001 ({', '.join(FUELS)}) or a subset"
            )
    if not fuels:
        raise PanelError("fossil_co2: fuels is empty")
    out = {}
    for fuel, col in fuels.items():
        if fuel not in tab.index:
            raise PanelError(
                f"fossil_co2: unknown fuel '{fuel}'{did_you_mean(fuel, tab.index)}; known: "
                f"{', '.join(tab.index)} (define new fuels in factors=)"
            )
        if col not in data.columns:
            raise PanelError(f"fossil_co2: column '{col}' for fuel '{fuel}' not found{did_you_mean(col, data.columns)}")
        q = pd.to_numeric(data[col], errors="coerce")
        bad = q.isna() & data[col].notna()
        if bad.any():
            i = bad.idxmax()
            raise PanelError(f"fossil_co2: column '{col}' must be numeric; row {i} has {show(data.at[i, col])}")
        neg = q < 0
        if neg.any():
            i = neg.idxmax()
            raise PanelError(f"fossil_co2: negative consumption in column '{col}', row {i}: {show(q.at[i])}")
        row = tab.loc[fuel]
        unit = _unit_of(units, gas_units, fuel, row["basis"])
        gj = _to_gj(q.astype(float), unit, fuel, row["basis"], float(row["ncv"]))
        # GJ x kg C/GJ -> kg C; x O x 44/12 -> kg CO2; /1000 -> t
        t_co2 = gj * float(row["carbon_content"]) * float(row["oxidation"]) * CO2_PER_C / 1e3
        out[f"co2_{fuel}"] = t_co2 * _OUT_UNITS[output_units]
    return _total(pd.DataFrame(out, index=data.index), detail)


# ---------------------------------------------------------------------- city level
_ELEC_UNITS = {"kWh": 1e-3, "MWh": 1.0, "10^4 kWh": 10.0, "10^8 kWh": 1e5}  # -> MWh
_HEAT_UNITS = {"GJ": 1.0, "10^4 GJ": 1e4, "TJ": 1e3}  # -> GJ
_CITY_DEFAULT_UNITS = {"electricity": "10^4 kWh", "gas": "10^4 m3", "lpg": "t", "heat": "10^4 GJ"}


def _grid_factor_series(
    data: pd.DataFrame, grid_region: str, grid_factors: Any, year: str | None
) -> pd.Series:
    regions = data[grid_region]
    if isinstance(grid_factors, pd.DataFrame):
        need = {"region", "factor"} | ({"year"} if "year" in grid_factors.columns else set())
        miss = need - set(grid_factors.columns)
        if miss:
            raise PanelError(f"grid_factors table needs columns region, factor (and optionally year); missing {sorted(miss)}")
        if "year" in grid_factors.columns:
            if year is None:
                raise PanelError("grid_factors has a 'year' column; pass year=<time column of df>")
            key = pd.MultiIndex.from_arrays([regions, data[year]])
            look = grid_factors.set_index(["region", "year"])["factor"]
            fac = pd.Series(look.reindex(key).to_numpy(dtype=float), index=data.index)
            gap = fac.isna() & regions.notna()
            if gap.any():
                pairs = sorted({(str(r), int(t)) for r, t in zip(regions[gap], data.loc[gap, year], strict=True)})[:10]
                raise PanelError(f"city_co2: no grid emission factor for (region, year) {pairs}")
            return fac
        mapping = dict(zip(grid_factors["region"], grid_factors["factor"], strict=True))
    elif isinstance(grid_factors, Mapping):
        mapping = dict(grid_factors)
    else:
        raise PanelError(
            f"grid_factors must be a dict {{region: tCO2/MWh}} or a DataFrame, got {type(grid_factors).__name__}"
        )
    fac = regions.map(mapping).astype(float)
    gap = fac.isna() & regions.notna()
    if gap.any():
        raise PanelError(
            f"city_co2: no grid emission factor for region(s) {sorted(map(str, regions[gap].unique()))}; "
            f"grid_factors has {sorted(map(str, mapping))}"
        )
    return fac


def city_co2(
    df: Any,
    electricity: str | None = None,
    grid_region: str | None = None,
    gas: str | None = None,
    lpg: str | None = None,
    heat: str | None = None,
    *,
    grid_factors: Mapping[str, float] | pd.DataFrame | None = None,
    heat_factor: float | None = None,
    transport: Mapping[str, float] | None = None,
    year: str | None = None,
    units: Mapping[str, str] | None = None,
    factors: Mapping[str, Mapping[str, float]] | None = None,
    output_units: str = "10^4 t",
    detail: bool = False,
) -> pd.Series | pd.DataFrame:
    """City-level CO2 from electricity, natural gas, LPG, transport and heat (seed 002, after
    Wu & Guo 2016).

    ``CO2 = electricity x grid factor + gas x EF_gas + LPG x EF_lpg + heat x EF_heat
    + sum_f fuel_f x factor_f`` (the last sum is the transport term), each term included only
    when its column(s) are given.

    * Electricity: consumption (``units['electricity']``, default ``"10^4 kWh"`` as in the
      *China City Statistical Yearbook*) times the emission factor of the city's regional power
      grid in t CO2/MWh. **No grid factors are bundled** (they differ by publication and year and
      could not be sourced precisely): pass ``grid_factors`` as ``{region: factor}`` or a
      DataFrame with columns ``region``, ``factor`` and optionally ``year`` (then pass ``year=``).
    * Natural gas (default ``"10^4 m3"``) and LPG (default ``"t"``): the bundled NCV x carbon
      content x oxidation x 44/12 of :func:`emission_factors` (overridable with ``factors``).
    * Heat (default ``"10^4 GJ"``): ``heat_factor`` in t CO2/GJ, required when ``heat`` is given
      (it depends on the fuel mix of the heating plants; none is bundled).
    * Transport (seed 002 lists "transportation" among the sources but gives no formula): an
      optional ``sum_f fuel_f x factor_f`` over user columns, ``transport={column: factor}``
      with each factor in t CO2 per unit of its column (e.g. 10^4 t of diesel used by road
      transport times t CO2 per 10^4 t). Nothing is bundled or converted: the factors carry
      the units.

    Parameters
    ----------
    df
        DataFrame or Panel, one row per city (and year).
    electricity, grid_region, gas, lpg, heat
        Column names; ``grid_region`` holds each city's power-grid region.
    grid_factors, heat_factor, transport
        User-supplied factors, see above.
    year
        Time column, needed only for year-specific grid factors.
    units
        Overrides of the input units: ``electricity`` in kWh, MWh, 10^4 kWh, 10^8 kWh; ``gas`` in
        m3, 10^4 m3, 10^8 m3; ``lpg`` in kg, t, 10^4 t; ``heat`` in GJ, 10^4 GJ, TJ.
    output_units
        ``"kg"``, ``"t"``, ``"10^4 t"`` or ``"Mt"`` of CO2.
    detail
        Also return the per-source terms.

    Raises
    ------
    PanelError
        If a needed factor is not supplied (the message lists everything that is missing), a
        column is missing, or a region has no grid factor.
    """
    data = df.df if hasattr(df, "require") and hasattr(df, "unit") else df
    if not isinstance(data, pd.DataFrame):
        raise PanelError(f"city_co2 needs a DataFrame or Panel, got {type(df).__name__}")
    if output_units not in _OUT_UNITS:
        raise PanelError(f"output_units {show(output_units)} unknown; use one of {', '.join(_OUT_UNITS)}")
    u = dict(_CITY_DEFAULT_UNITS)
    u.update(units or {})
    if all(c is None for c in (electricity, gas, lpg, heat)) and not transport:
        raise PanelError(
            "city_co2: give at least one of electricity=, gas=, lpg=, heat= (column names) or "
            "transport={column: t CO2 per unit}"
        )
    needed = []
    if electricity is not None:
        if grid_region is None:
            needed.append("grid_region=<column with each city's power-grid region>")
        if grid_factors is None:
            needed.append(
                "grid_factors={region: t CO2/MWh} (or a DataFrame region, year, factor) -- regional "
                "grid emission factors are not bundled with climetrics; take them from the "
                "official publication for your study years and cite it"
            )
    if heat is not None and heat_factor is None:
        needed.append("heat_factor=<t CO2 per GJ of heat supplied> -- not bundled")
    if needed:
        raise PanelError("city_co2 needs:\n" + "\n".join(f"  - {n}" for n in needed))
    cols = [c for c in (electricity, grid_region, gas, lpg, heat, year) if c is not None]
    cols += list(transport or {})
    miss = [c for c in cols if c not in data.columns]
    if miss:
        raise PanelError(
            "city_co2: column(s) not found: " + "; ".join(f"'{c}'{did_you_mean(c, data.columns)}" for c in miss)
        )

    def num(col: str) -> pd.Series:
        q = pd.to_numeric(data[col], errors="coerce")
        bad = q.isna() & data[col].notna()
        if bad.any():
            i = bad.idxmax()
            raise PanelError(f"city_co2: column '{col}' must be numeric; row {i} has {show(data.at[i, col])}")
        if (q < 0).any():
            i = (q < 0).idxmax()
            raise PanelError(f"city_co2: negative value in column '{col}', row {i}: {show(q.at[i])}")
        return q.astype(float)

    terms: dict[str, pd.Series] = {}
    if electricity is not None:
        if u["electricity"] not in _ELEC_UNITS:
            raise PanelError(f"units['electricity'] {show(u['electricity'])} unknown; use {', '.join(_ELEC_UNITS)}")
        fac = _grid_factor_series(data, grid_region, grid_factors, year)
        terms["co2_electricity"] = num(electricity) * _ELEC_UNITS[u["electricity"]] * fac
    fuel_cols = {k: c for k, c in (("natural_gas", gas), ("lpg", lpg)) if c is not None}
    if fuel_cols:
        fu = {"natural_gas": u["gas"], "lpg": u["lpg"]}
        part = fossil_co2(
            data, fuel_cols, units={k: fu[k] for k in fuel_cols}, factors=factors, output_units="t", detail=True
        )
        if gas is not None:
            terms["co2_gas"] = part["co2_natural_gas"]
        if lpg is not None:
            terms["co2_lpg"] = part["co2_lpg"]
    if heat is not None:
        if u["heat"] not in _HEAT_UNITS:
            raise PanelError(f"units['heat'] {show(u['heat'])} unknown; use {', '.join(_HEAT_UNITS)}")
        hf = float(heat_factor)
        if not np.isfinite(hf) or hf < 0:
            raise PanelError(f"heat_factor must be a non-negative number, got {show(heat_factor)}")
        terms["co2_heat"] = num(heat) * _HEAT_UNITS[u["heat"]] * hf
    if transport:
        tr = pd.Series(0.0, index=data.index)
        for col, f in transport.items():
            if isinstance(f, bool) or not isinstance(f, int | float) or not (np.isfinite(f) and f >= 0):
                raise PanelError(
                    f"city_co2: transport factor of '{col}' must be a number >= 0 (t CO2 per unit "
                    f"of the column), got {show(f)}"
                )
            tr = tr + num(col) * float(f)
        terms["co2_transport"] = tr
    return _total(pd.DataFrame(terms, index=data.index) * _OUT_UNITS[output_units], detail)

"""`climetrics init data.csv`: write a commented study config for a user's panel.

The unit and time columns are detected (name hints, integer years, unique unit-year pairs);
so are likely treatment (0/1 staggered dummy), outcome (carbon-related, logged) and control
columns. Every guess is written with a comment saying it is a guess and what else was
considered, so the user confirms rather than discovers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import PanelError
from ..panel import _read_table

_UNIT_HINTS = ("adcode", "city", "province", "prov", "county", "firm", "stkcd", "code", "id", "unit", "region", "name")
_TIME_HINTS = ("year", "time", "period", "t", "yr")
_TREAT_HINTS = ("did", "treat", "post", "policy", "pilot", "bbc", "reform")
_OUTCOME_HINTS = ("co2", "carbon", "emission", "ci", "tfcep", "cei", "ce")


@dataclass
class Guess:
    """Detected roles of the columns, with the alternatives that were considered."""

    unit: str
    time: str
    unit_alternatives: list[str] = field(default_factory=list)
    time_alternatives: list[str] = field(default_factory=list)
    treatment: str | None = None
    outcome: str | None = None
    controls: list[str] = field(default_factory=list)


def _hint_rank(name: str, hints: tuple[str, ...]) -> int:
    low = name.lower()
    for i, h in enumerate(hints):
        if low == h or re.fullmatch(rf"{h}[_\s]?(id|code|name)?", low):
            return i
    for i, h in enumerate(hints):
        if h in low and len(h) > 2:
            return len(hints) + i
    return 10 * len(hints)


def _outcome_like(name: str) -> bool:
    """Carbon-outcome names: a hint after an optional ln/log prefix (lnco2, lnci, log_cei, tfcep)."""
    core = re.sub(r"^(ln|log)_?", "", name.lower())
    return any(core == h or core.startswith(h) or (len(h) > 2 and h in core) for h in _OUTCOME_HINTS)


def _is_year(s: pd.Series) -> bool:
    v = pd.to_numeric(s, errors="coerce")
    return bool(v.notna().all() and (v % 1 == 0).all() and v.between(1900, 2100).all() and v.nunique() > 1)


def _timing_like(df: pd.DataFrame, col: str, unit: str, time: str) -> bool:
    """Treatment-timing columns are no controls: adoption years / cohorts (every observed value
    an integer year, missing allowed for never-treated units) and event time (moves one for
    one with the time column within every unit, i.e. ``col - time`` is constant per unit)."""
    v = pd.to_numeric(df[col], errors="coerce")
    seen = v.dropna()
    if seen.empty or not (seen % 1 == 0).all():
        return False
    if seen.between(1900, 2100).all():
        return True
    offset = (v - df[time]).groupby(df[unit]).nunique(dropna=True)
    return bool((offset <= 1).all() and seen.nunique() > 1)


def _id_like(s: pd.Series) -> bool:
    """Identifiers are complete text or integer columns (a continuous variable is not an id)."""
    if s.isna().any():
        return False
    if pd.api.types.is_numeric_dtype(s):
        return bool((s % 1 == 0).all())
    return True


def detect_roles(df: pd.DataFrame) -> Guess:
    """Guess unit, time, treatment, outcome and controls. Raises if no unit-year key is found."""
    times = sorted((c for c in df.columns if _is_year(df[c])), key=lambda c: _hint_rank(str(c), _TIME_HINTS))
    if not times:
        raise PanelError("could not find a time column: no column holds integer years between 1900 and 2100")
    time = times[0]
    units = [c for c in df.columns if c != time and _id_like(df[c]) and not df.duplicated([c, time]).any()
             and 1 < df[c].nunique() < len(df)]
    if not units:
        raise PanelError(f"could not find a unit column: no column identifies rows uniquely together with '{time}'")
    units.sort(key=lambda c: _hint_rank(str(c), _UNIT_HINTS))
    unit = units[0]
    numeric = [c for c in df.columns if c not in (unit, time) and pd.api.types.is_numeric_dtype(df[c])]
    binary = [c for c in numeric if set(df[c].dropna().unique()) <= {0, 1} and df[c].nunique() == 2]
    treat = sorted(binary, key=lambda c: _hint_rank(str(c), _TREAT_HINTS))
    treatment = treat[0] if treat and _hint_rank(str(treat[0]), _TREAT_HINTS) < 2 * len(_TREAT_HINTS) else None
    cont = [c for c in numeric if c not in binary and c not in units]
    outcomes = sorted((c for c in cont if _outcome_like(str(c))),
                      key=lambda c: (_hint_rank(re.sub(r"^(ln|log)_?", "", str(c).lower()), _OUTCOME_HINTS),
                                     not str(c).lower().startswith("ln")))
    outcome = outcomes[0] if outcomes else None
    # other outcomes and the treatment's timing (adoption year, event time) are not controls
    controls = [c for c in cont if not _outcome_like(str(c)) and not _timing_like(df, c, unit, time)][:6]
    return Guess(unit=unit, time=time, unit_alternatives=units[1:4], time_alternatives=times[1:3],
                 treatment=treatment, outcome=outcome, controls=controls)


def _q(s: str) -> str:
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def scaffold(data_path: Path, *, config_dir: Path | None = None) -> str:
    """The text of a commented study config for ``data_path``."""
    df = _read_table(data_path, None)
    g = detect_roles(df)
    rel = data_path.resolve()
    if config_dir is not None:
        try:
            rel = data_path.resolve().relative_to(config_dir.resolve())
        except ValueError:
            rel = data_path.resolve()
    alt_u = f" (other candidates: {', '.join(map(str, g.unit_alternatives))})" if g.unit_alternatives else ""
    alt_t = f" (other candidates: {', '.join(map(str, g.time_alternatives))})" if g.time_alternatives else ""
    treat = _q(g.treatment) if g.treatment else '"did"  # TODO: no 0/1 treatment column found; create one in [prepare]'
    outcome = _q(g.outcome) if g.outcome else '"lnco2"  # TODO: set the outcome column'
    ctrl = ", ".join(_q(c) for c in g.controls)
    n_units, years = df[g.unit].nunique(), (int(df[g.time].min()), int(df[g.time].max()))
    return f"""# climetrics study generated by `climetrics init` from {data_path.name}
# ({len(df)} rows, {n_units} units, {years[0]}-{years[1]}). Every detected role below is a guess: check it,
# then run `climetrics check this.toml` and `climetrics run this.toml`.

[study]
title = {_q("Study of " + data_path.stem)}
output = "out/{data_path.stem}"
seed = 1

[data]
path = {_q(str(rel))}
unit = {_q(g.unit)}   # detected{alt_u}
time = {_q(g.time)}   # detected{alt_t}

[variables]
outcome = {outcome}
treatment = {treat}
controls = [{ctrl}]   # numeric columns found; keep the ones you want
# cluster = "{g.unit}"   # default: the unit column

# [variables.labels]      # display names in tables, e.g.
# {g.outcome or "lnco2"} = "ln CO2"

# [[prepare.policies]]    # build a DID dummy from a bundled calendar (or calendar = "my.csv")
# name = "broadband_china"
# column = "did"
# city = "city"           # firm-level units: the column naming each row's city

# Indicator steps (docs/measurement.md); each adds columns, run in this order:
# [[prepare.carbon]]      # CO2 from fuel use, IPCC factors (seed 001 eq. 9)
# column = "co2"
# fuels = {{coal = "coal", natural_gas = "gas"}}   # default: the seven fuels in same-named columns
# units = "10^4 t"        # or "t", "tce", ... ; gas_units = "10^8 m3"
# [[prepare.city_co2]]    # city CO2 from electricity, gas, LPG, heat (seed 002)
# column = "co2_city"
# electricity = "elec_use"
# grid_region = "grid"
# grid_factors = {{North = 0.9, East = 0.7}}   # t CO2/MWh from your cited source, or "factors.csv"
# gas = "gas_use"
# [[prepare.digital_economy]]   # province-year digital economy from IO tables (seed 001 eqs. 1-4)
# tables = "io/{{province}}_{{year}}.csv"
# core_sectors = ["Electronics", "ICT services"]
# annual = "annual.csv"       # province, year, gdp for the years between tables
# [[prepare.downscale]]   # provincial total -> cities in proportion to a proxy (seed 000)
# column = "cable"
# value = "prov_cable"    # the province's total, repeated on each city row
# proxy = "telecom_revenue"
# province = "province"
# [[prepare.fill_trailing]]   # forecast missing trailing years unit by unit (seed 003)
# columns = ["co2"]
# method = "linear_trend"     # or "ar1", "holt"
# last_observed = 2019
# [[prepare.agglomeration]]   # producer-service specialisation, overall and by tier (seed 002 eq. 6)
# tiers = {{high = ["emp_it", "emp_finance", "emp_research"], low_mid = ["emp_transport", "emp_trade"]}}
# total = "emp_total"
# [[prepare.entropy]]     # entropy-weight composite index (seeds 000, 002)
# column = "dei"
# positive = ["internet_users", "telecom_revenue"]
# negative = []
# weights = "pooled"      # or "per_year"
# [[prepare.nddf]]        # total-factor carbon performance by NDDF (seed 000 eq. 2)
# column = "tfcpi"
# inputs = ["capital", "labour", "energy"]
# good = ["gdp"]
# bad = ["co2"]

[baseline]
stepwise = true

[event_study]
window = [-5, 5]

[placebo]
kinds = ["space"]
n_draws = 500

[robustness]
shift_timing = [2]
trim_outcome = [0.05, 0.95]
winsorize_outcome = [0.01, 0.99]
"""

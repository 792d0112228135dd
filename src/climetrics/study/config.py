"""Study configuration (TOML): schema, defaults and validation.

Validation collects every problem before reporting, and each message names the key
(``variables.controls[2]``), what is wrong and how to fix it. Data-dependent checks (does the
column exist?) run in :func:`check_against_data` once the panel is loaded.

Example::

    [study]
    title = "Broadband China and carbon intensity"
    output = "out/bbc"

    [data]
    path = "cities.csv"
    unit = "city"
    time = "year"

    [variables]
    outcome = "lnci"
    treatment = "did"
    controls = ["lnpgdp", "gov", "str"]

    [baseline]
    stepwise = true

``[prepare]`` can also build indicators from raw columns, one array of tables per measure:
``[[prepare.carbon]]`` (CO2 from fuel use), ``[[prepare.city_co2]]`` (city CO2 from
electricity, gas, LPG and heat), ``[[prepare.digital_economy]]`` (provincial digital economy
from IO tables), ``[[prepare.downscale]]``,
``[[prepare.fill_trailing]]``, ``[[prepare.deflate]]`` (real values by a price index),
``[[prepare.capital_stock]]`` (perpetual inventory), ``[[prepare.agglomeration]]``,
``[[prepare.entropy]]`` and ``[[prepare.nddf]]`` (keys in the ``*_SCHEMA`` tables below; formulas, order of the steps and
examples in docs/measurement.md).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data import GROUPINGS
from ..errors import ConfigError, did_you_mean


@dataclass(frozen=True)
class Field:
    """One config key: accepted types, default, allowed values, whether required, and help."""

    types: tuple[type, ...]
    default: Any = None
    required: bool = False
    choices: tuple[Any, ...] | None = None
    item: type | None = None  # element type for lists / value type for dicts
    help: str = ""


def _f(types: type | tuple[type, ...], default: Any = None, **kw: Any) -> Field:
    return Field(types if isinstance(types, tuple) else (types,), default, **kw)


SIMULATE_SCHEMA: dict[str, Field] = {
    "policy": _f(str, "broadband_china", help="bundled policy calendar"),
    "years": _f(list, [2006, 2021], item=int, help="[first, last] year"),
    "effect": _f((int, float), -0.05, help="true total effect on lnci once fully on"),
    "lag": _f(int, 2, help="years after adoption before the effect appears"),
    "heterogeneity": _f((int, float), 0.8),
    "mediator_a": _f((int, float), 0.2),
    "mediator_b": _f((int, float), -0.1),
    "spillover": _f((int, float), 0.0),
    "noise": _f((int, float), 0.05),
    "missing_rate": _f((int, float), 0.0),
    "sample": _f(
        dict, None, item=list, help="keep cities with these attributes, e.g. {region = ['East']}"
    ),
    "synthetic_batches": _f(
        list, None, item=int, help="random synthetic calendar with these adoption years"
    ),
    "treated_share": _f((int, float), 0.5),
    "digital_index": _f(
        (int, float), None, help="seed 004 scenario: direct effect of the index 'dei'"
    ),
    "agglomeration_a": _f((int, float), 0.5),
    "agglomeration_b": _f((int, float), 0.012),
    "seed": _f(int, 0),
}

SIMULATE_PROVINCES_SCHEMA: dict[str, Field] = {
    "years": _f(list, [2012, 2017], item=int, help="[first, last] year"),
    "rho": _f((int, float), 0.3, help="spatial autoregressive coefficient of lnci"),
    "beta": _f((int, float), -0.25, help="own effect of lnde on lnci"),
    "theta": _f((int, float), 0.2, help="effect of neighbours' lnde (W*lnde) on lnci"),
    "noise": _f((int, float), 0.02),
    "seed": _f(int, 0),
}

SPATIAL_WEIGHTS = ("contiguity", "economic", "inverse_distance", "knn", "file")

POLICY_SCHEMA: dict[str, Field] = {
    "name": _f(
        str,
        required=True,
        help="bundled policy id, e.g. 'broadband_china', or any name with calendar=",
    ),
    "column": _f(str, None, help="name of the DID dummy to create (default: the policy name)"),
    "calendar": _f(str, None, help="csv with a unit column and 'adoption_year' for user policies"),
    "adoption": _f(
        str,
        None,
        help="column of the data holding each unit's first treated period (0/empty: never), "
        "e.g. 'first_treat'; instead of a calendar, for any units",
    ),
    "unit_key": _f(
        str,
        "auto",
        choices=("auto", "adcode", "name", "name_en", "exact"),
        help="how calendar units are matched; 'exact' compares the panel's own unit ids (states, "
        "counties, firms) as they are",
    ),
    "city": _f(
        str, None, help="column naming each row's city when units are firms (default: the unit)"
    ),
    "include_unverified": _f(bool, False),
    "expand_provinces": _f(
        bool, None, help="treat every city of a province-level pilot (low-carbon 2010/2012)"
    ),
}

NDDF_SCHEMA: dict[str, Field] = {
    "column": _f(str, "tfcpi", help="name of the carbon-performance column to create"),
    "inputs": _f(list, ["capital", "labour", "energy"], item=str),
    "good": _f(list, ["gdp"], item=str),
    "bad": _f(list, ["co2"], item=str),
    "frontier": _f(str, "global", choices=("contemporaneous", "sequential", "window", "global")),
    "rts": _f(str, "crs", choices=("crs", "vrs")),
    "index": _f(
        str,
        "cpi",
        choices=("cpi", "ecpi"),
        help="(1-b_C)/(1+b_Y), or its mean with the energy index",
    ),
    "energy": _f(str, None, help="the energy input (needed by index = 'ecpi')"),
}

CARBON_SCHEMA: dict[str, Field] = {
    "column": _f(str, "co2", help="name of the CO2 column to create"),
    "fuels": _f(
        dict,
        None,
        item=str,
        help="{fuel = 'column'}; default: seed 001's seven fuels in same-named columns",
    ),
    "units": _f(
        (str, dict),
        "10^4 t",
        help="unit of the fuel columns ('t', '10^4 t', 'tce', ...) or {fuel = 'unit'}",
    ),
    "gas_units": _f(str, "10^8 m3", choices=("m3", "10^4 m3", "10^8 m3")),
    "output_units": _f(str, "10^4 t", choices=("kg", "t", "10^4 t", "Mt")),
}

CITY_CO2_SCHEMA: dict[str, Field] = {
    "column": _f(str, required=True, help="name of the city CO2 column to create"),
    "electricity": _f(str, None, help="electricity consumption column"),
    "grid_region": _f(str, None, help="column with each city's power-grid region"),
    "gas": _f(str, None, help="natural gas consumption column"),
    "lpg": _f(str, None, help="LPG consumption column"),
    "heat": _f(str, None, help="heat supply column"),
    "grid_factors": _f(
        (str, dict),
        None,
        help="{region = t CO2/MWh} or a CSV (region, factor[, year]) relative to the config file",
    ),
    "heat_factor": _f((int, float), None, help="t CO2 per GJ of heat (needed with heat)"),
    "transport": _f(
        dict,
        None,
        item=(int, float),
        help="{fuel column = t CO2 per unit of the column}: transport term sum_f fuel_f x factor_f",
    ),
    "units": _f(
        dict, None, item=str, help="{electricity = 'kWh', gas = 'm3', lpg = 't', heat = 'GJ'}"
    ),
    "output_units": _f(str, "10^4 t", choices=("kg", "t", "10^4 t", "Mt")),
}

#: columns added without 'columns': measure -> suffix after '<prefix>_'
DIGITAL_DEFAULT = {"digital_share": "share", "digital_economy": "va"}

DIGITAL_ECONOMY_SCHEMA: dict[str, Field] = {
    "tables": _f(
        str,
        required=True,
        help="path pattern of the IO tables, e.g. 'io/{province}_{year}.csv' (relative to the "
        "config file)",
    ),
    "core_sectors": _f(list, required=True, item=str, help="digital core sectors of the tables"),
    "digital_products": _f(
        (list, dict), None, help="['products'] or {product = weight}; default: the core sectors"
    ),
    "annual": _f(str, None, help="CSV with province, year, gdp (and parent aggregates)"),
    "parent_sectors": _f(
        dict, None, item=list, help="{annual column = ['IO sectors']} parent of each core sector"
    ),
    "method": _f(str, "previous", choices=("previous", "linear")),
    "columns": _f(
        dict,
        None,
        item=str,
        help="{summary measure or core sector = 'new column'}; a core sector gives its value "
        "added (seed 001: digital manufacturing, digital services)",
    ),
    "prefix": _f(
        str, None, help="without 'columns': add <prefix>_share and <prefix>_va (default 'de')"
    ),
    "outside": _f(
        str,
        "error",
        choices=("error", "missing"),
        help="panel rows the tables do not cover: an error, or missing values",
    ),
}

ENTROPY_SCHEMA: dict[str, Field] = {
    "column": _f(str, required=True, help="name of the index column to create"),
    "positive": _f(list, [], item=str, help="indicators where more is better"),
    "negative": _f(list, [], item=str, help="indicators where more is worse"),
    "weights": _f(
        str, "pooled", choices=("pooled", "per_year"), help="one set of weights, or one per year"
    ),
    "shift": _f((int, float), 0.0001, help="added to standardised values before the proportions"),
}

AGGLOMERATION_SCHEMA: dict[str, Field] = {
    "prefix": _f(str, "spec", help="overall index column; one '<prefix>_<tier>' column per tier"),
    "tiers": _f(dict, None, required=True, item=list, help="{tier = ['employment columns']}"),
    "total": _f(str, required=True, help="column of total employment of the city"),
}

DOWNSCALE_SCHEMA: dict[str, Field] = {
    "column": _f(str, required=True, help="name of the city-level column to create"),
    "value": _f(
        str, required=True, help="provincial total, repeated on every city row of the province"
    ),
    "proxy": _f(str, required=True, help="city weight, e.g. telecom revenue"),
    "province": _f(str, "province", help="province column"),
}

FILL_SCHEMA: dict[str, Field] = {
    "columns": _f(list, required=True, item=str, help="columns whose trailing years to forecast"),
    "method": _f(str, "linear_trend", choices=("linear_trend", "ar1", "holt")),
    "last_observed": _f(int, None, help="last year of the source data (default: each unit's own)"),
    "fit_years": _f(int, None, help="fit on each unit's last fit_years observed years"),
    "until": _f(int, None, help="also add and fill rows up to this year"),
    "log": _f(bool, False, help="forecast ln(column) (keeps it positive)"),
    "on_short": _f(str, "raise", choices=("raise", "warn"), help="units with too short a history"),
}

CAPITAL_SCHEMA: dict[str, Field] = {
    "column": _f(str, required=True, help="name of the capital-stock column to create"),
    "investment": _f(str, required=True, help="gross fixed-capital formation column"),
    "delta": _f((int, float), required=True, help="depreciation rate, e.g. 0.096"),
    "deflator": _f(str, None, help="investment price index column (fixed base, not chained)"),
    "base_year": _f(int, None, help="year in whose prices the stock is (needed with deflator)"),
    "initial": _f(
        (str, int, float),
        None,
        help="first-year stock: a column or one value; default I_0 / (g + delta)",
    ),
    "growth_years": _f(int, 5, help="years over which g, the growth of investment, is averaged"),
}

DEFLATE_SCHEMA: dict[str, Field] = {
    "columns": _f(list, required=True, item=str, help="nominal columns to deflate"),
    "deflator": _f(str, required=True, help="price index column (fixed base, not chained)"),
    "base_year": _f(int, required=True, help="year whose prices the real values are in"),
    "suffix": _f(str, "_real", help="each real column is named <column><suffix>"),
}

SCHEMA: dict[str, Any] = {
    "study": {
        "title": _f(str, "climetrics study"),
        "output": _f(str, "out/study", help="output directory"),
        "seed": _f(int, 0, help="seed for every random step"),
        "figure_formats": _f(
            list, ["png"], item=str,
            help="files written for every figure under figures/: any of png, svg, pdf (the report "
            "embeds the png, which is always written)",
        ),
    },
    "data": {
        "path": _f(str, None, help="csv / xlsx / dta / parquet file (relative to the config file)"),
        "unit": _f(str, None, help="unit id column"),
        "time": _f(str, None, help="time (year) column"),
        "sheet": _f((str, int), None),
        "columns": _f(
            list, None, item=str, help="read only these columns (plus unit and time) from the file"
        ),
        "na_values": _f(
            list, [], item=str,
            help="text cells meaning 'missing' (e.g. ['n/a', '-']); empty cells always are",
        ),
        "simulate": SIMULATE_SCHEMA,
        "simulate_provinces": SIMULATE_PROVINCES_SCHEMA,
    },
    "variables": {
        "outcome": _f(str, required=True),
        "treatment": _f(str, required=True),
        "controls": _f(list, [], item=str),
        "cluster": _f(
            str, None, help="cluster column (default: the unit column); 'none' for robust SE"
        ),
        "labels": _f(dict, {}, item=str, help="display names, e.g. {lnci = 'ln carbon intensity'}"),
    },
    "prepare": {
        "policies": [POLICY_SCHEMA],
        "carbon": [CARBON_SCHEMA],
        "city_co2": [CITY_CO2_SCHEMA],
        "digital_economy": [DIGITAL_ECONOMY_SCHEMA],
        "downscale": [DOWNSCALE_SCHEMA],
        "fill_trailing": [FILL_SCHEMA],
        "agglomeration": [AGGLOMERATION_SCHEMA],
        "deflate": [DEFLATE_SCHEMA],
        "capital_stock": [CAPITAL_SCHEMA],
        "entropy": [ENTROPY_SCHEMA],
        "nddf": [NDDF_SCHEMA],
        "interpolate": _f(list, [], item=str, help="columns to fill linearly within unit"),
        "interpolate_by": _f(
            str, None, help="then fill remaining gaps with the group-year mean of this column"
        ),
        "winsorize": _f(list, [], item=str),
        "winsorize_limits": _f(list, [0.01, 0.99], item=(int, float)),
        "log": _f(list, [], item=str, help="columns to log (creates ln<column>)"),
        "drop_missing_years": _f(bool, False),
    },
    "descriptives": {
        "enabled": _f(bool, True),
        "columns": _f(list, None, item=str, help="default: outcome, treatment and controls"),
    },
    "correlation": {
        "enabled": _f(bool, True),
        "columns": _f(list, None, item=str),
    },
    "baseline": {
        "enabled": _f(bool, True),
        "stepwise": _f(bool, True),
        "pooled_first": _f(bool, False),
        "fixed_effects": _f(list, None, item=str, help="default: unit and time"),
        "stat": _f(str, "t", choices=("t", "se")),
        "ssc": _f(str, "nested", choices=("nested", "full")),
        "inference": _f(
            str, "auto", choices=("auto", "analytic", "wild"),
            help="p-values of the treatment here and in the event study: 'auto' uses the wild "
            "cluster bootstrap when there are fewer than 50 clusters or 10 treated clusters",
        ),
        "wild_draws": _f(int, 9999, help="draws of the wild cluster bootstrap (>= 99)"),
        "wild_weights": _f(
            str, "auto", choices=("auto", "rademacher", "webb"),
            help="'auto': Webb's six-point weights with at most 12 clusters, else Rademacher",
        ),
    },
    "model_selection": {
        "enabled": _f(bool, True),
        "robust_hausman": _f(
            bool, True,
            help="cluster-robust (regression-based) Hausman test: model_selection_tests(cluster=the study's "
            "cluster, default the unit); false: cluster=None, plm's classical contrast",
        ),
    },
    "gmm": {
        "enabled": _f(bool, False),
        "method": _f(str, "system", choices=("difference", "system")),
        "steps": _f(int, 2, choices=(1, 2)),
        "lags": _f(int, 1, help="lags of the outcome on the right-hand side (dynamic_gmm(lags=))"),
        "collapse": _f(
            bool, True, help="collapsed instruments (Roodman 2009) against instrument proliferation"
        ),
    },
    "event_study": {
        "enabled": _f(bool, True),
        "window": _f(list, [-5, 5], item=int, help="[lo, hi] event-time window, e.g. [-8, 6]"),
        "bin_endpoints": _f(bool, True),
        "ref": _f((int, list), -1, help="reference period(s)"),
        "control": _f(str, "all", choices=("all", "notyet")),
        "honest_did": _f(
            bool, False, help="Rambachan-Roth sensitivity of the average post-adoption effect to "
            "parallel-trends violations (relative magnitudes)"
        ),
    },
    "robust_did": {
        "enabled": _f(bool, True),
    },
    "robustness": {
        "enabled": _f(bool, True),
        "shift_timing": _f(
            list, [2], item=int, help="years to move adoption earlier, one column each"
        ),
        "shift_sample": _f(str, "pre", choices=("pre", "full")),
        "concurrent_policies": _f(list, [], item=str, help="bundled policy ids to control for"),
        "concurrent_calendars": _f(
            dict, {}, item=str, help="{name = 'calendar.csv'} user calendars"
        ),
        "expand_provinces": _f(
            bool, None, help="province-level pilots: treat all their cities (true) or none (false)"
        ),
        "trim_outcome": _f(list, [0.05, 0.95], item=(int, float), help="[] to skip"),
        "winsorize_outcome": _f(list, [0.01, 0.99], item=(int, float), help="[] to skip"),
        "replace_treatment": _f(
            list, [], item=str, help="continuous treatment columns, one column each"
        ),
        "alternative_outcomes": _f(
            list, [], item=str, help="other outcome columns, one column each"
        ),
    },
    "iv": {
        "enabled": _f(bool, True),
        "instruments": _f(list, [], item=str, help="instrument columns"),
        "distance_reference": _f(
            str, None, help="build ln(1 + km to this city) x trend (seed 000: '杭州市')"
        ),
    },
    "nonlinear": {
        "enabled": _f(bool, True),
        "x": _f(
            str,
            None,
            help="regressor with polynomial terms (seed 001: the digital-economy measure)",
        ),
        "degree": _f(int, 2, choices=(2, 3)),
    },
    "threshold": {
        "enabled": _f(bool, True),
        "threshold_var": _f(
            str, None, help="threshold variable q of Hansen's (1999) panel threshold model; unset skips the section"
        ),
        "treat": _f(str, None, help="regime-dependent regressor (default: the treatment variable)"),
        "n_thresholds": _f(int, 1, choices=(1, 2, 3)),
        "fe": _f(str, "unit", choices=("unit", "twoway")),
        "trim": _f((int, float), 0.01, help="smallest share of observations in a regime"),
        "grid": _f(int, None, help="candidate thresholds at evenly spaced ranks (default: every distinct value)"),
        "n_draws": _f(int, 300, help="bootstrap draws per F test of the number of thresholds"),
    },
    "psm": {
        "enabled": _f(bool, True),
        "covariates": _f(list, None, item=str, help="matching covariates (default: the controls)"),
        "method": _f(str, "kernel", choices=("kernel", "nearest", "radius")),
        "kernel": _f(str, "epan", choices=("epan", "normal")),
        "bandwidth": _f((int, float), 0.06, help="kernel bandwidth (seed 002 uses 0.2)"),
        "caliper": _f((int, float), None, help="nearest/radius caliper"),
        "model": _f(str, "probit", choices=("probit", "logit")),
        "period_by_period": _f(bool, False),
    },
    "mediation": {
        "enabled": _f(bool, True),
        "mediators": _f(
            list, [], item=str, help="candidate mechanism variables; [] skips the section"
        ),
        "n_boot": _f(int, 1000),
    },
    "heterogeneity": {
        "enabled": _f(bool, True),
        "by": [
            {
                "column": _f(
                    str, required=True,
                    help="grouping column, e.g. 'income' or 'region', or a bundled grouping the data "
                    "lacks: 'city_cluster', 'resource_based', 'sub_provincial', 'size_class', ...",
                ),
                "split": _f(
                    str, None, choices=("median", "mean", "quantile", "category", "threshold"),
                    help="default: 'category' for bundled groupings, 'median' otherwise",
                ),
                "q": _f(int, None, help="number of quantile groups with split = 'quantile'"),
                "threshold": _f((int, float), None, help="fixed cut with split = 'threshold'"),
                "population": _f(str, None, help="population column for column = 'size_class'"),
                "population_unit": _f(str, None, choices=("persons", "10k persons")),
            }
        ],
        "n_perm": _f(int, 999),
    },
    "placebo": {
        "enabled": _f(bool, True),
        "kinds": _f(list, ["space"], item=str, help="any of 'space', 'time', 'mixed'"),
        "n_draws": _f(int, 500),
        "time_sample": _f(
            str, "pre", choices=("pre", "full"),
            help="in-time draws on the pre-adoption sample (default) or on every year",
        ),
        "seed": _f(int, None, help="default: study.seed"),
    },
    "spatial": {
        "enabled": _f(bool, False),
        "level": _f(
            str,
            "province",
            choices=("province", "city"),
            help="bundled adjacency, coordinates and boundaries to match the units against",
        ),
        "weights": _f(
            list,
            ["contiguity"],
            item=str,
            help="one model per matrix, any of " + ", ".join(SPATIAL_WEIGHTS),
        ),
        "link_islands": _f(
            bool, True, help="link units without a land neighbour (Hainan) to the nearest"
        ),
        "weights_file": _f(
            str,
            None,
            help="CSV of neighbour pairs (unit, neighbor[, weight]) for weights = ['file'], "
            "relative to the config; any units, not only Chinese cities or provinces",
        ),
        "directed": _f(
            bool, False, help="weights_file rows link unit to neighbor only (default: both ways)"
        ),
        "gdp": _f(
            str, "gdp", help="GDP column for the economic-geographic nested matrix (its unit means)"
        ),
        "power": _f((int, float), 1, help="distance decay of inverse-distance and nested weights"),
        "cutoff_km": _f((int, float), None, help="inverse-distance cutoff"),
        "k": _f(int, 4, help="neighbours of the knn matrix"),
        "model": _f(str, "sdm", choices=("sdm", "sar", "sem")),
        "effects": _f(str, "twoway", choices=("unit", "time", "twoway")),
        "lee_yu": _f(bool, True, help="Lee & Yu (2010) bias correction"),
        "regressors": _f(list, [], item=str, help="default: the treatment and the controls"),
        "draws": _f(int, 1000, help="parameter draws for the effects' standard errors"),
        "permutations": _f(int, 999, help="Moran's I permutations"),
        "moran_variable": _f(str, None, help="default: the outcome"),
        "maps": _f(list, [], item=str, help="columns to map"),
        "map_years": _f(list, [], item=int, help="default: first and last year"),
    },
}


def _type_name(types: tuple[type, ...] | type) -> str:
    types = types if isinstance(types, tuple) else (types,)
    names = {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "true/false",
        list: "a list",
        dict: "a table",
    }
    return " or ".join(names.get(t, t.__name__) for t in types)


def _ok(value: Any, types: tuple[type, ...] | type) -> bool:
    types = types if isinstance(types, tuple) else (types,)
    if isinstance(value, bool) and bool not in types:
        return False
    return isinstance(value, types)


def _validate(
    raw: dict[str, Any], schema: dict[str, Any], prefix: str, problems: list[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in raw:
        if key not in schema:
            where = f"{prefix}{key}"
            problems.append(
                f"unknown key '{where}'{did_you_mean(key, schema)}; allowed here: {', '.join(schema)}"
            )
    for key, spec in schema.items():
        where = f"{prefix}{key}"
        present = key in raw
        value = raw.get(key)
        if isinstance(spec, dict):
            if not present:
                optional = prefix == "data." and key in ("simulate", "simulate_provinces")
                out[key] = None if optional else _validate({}, spec, where + ".", problems)
            elif not isinstance(value, dict):
                problems.append(
                    f"'{where}' must be a table ([{where}]), got {type(value).__name__}"
                )
            else:
                out[key] = _validate(value, spec, where + ".", problems)
            continue
        if isinstance(spec, list):  # array of tables
            items = value if present else []
            if not isinstance(items, list) or not all(isinstance(v, dict) for v in items):
                problems.append(f"'{where}' must be an array of tables ([[{where}]])")
                out[key] = []
            else:
                out[key] = [
                    _validate(v, spec[0], f"{where}[{i}].", problems) for i, v in enumerate(items)
                ]
            continue
        if not present:
            if spec.required:
                problems.append(
                    f"missing required key '{where}'" + (f" ({spec.help})" if spec.help else "")
                )
            out[key] = spec.default
            continue
        if not _ok(value, spec.types) and not (
            float in spec.types and isinstance(value, int) and not isinstance(value, bool)
        ):
            problems.append(f"'{where}' must be {_type_name(spec.types)}, got {value!r}")
            continue
        if spec.choices is not None and value not in spec.choices:
            problems.append(
                f"'{where}' = {value!r} is not allowed; use one of {list(spec.choices)}"
            )
            continue
        if spec.item is not None and isinstance(value, (list, dict)):
            vals = value.values() if isinstance(value, dict) else value
            bad = [v for v in vals if not _ok(v, spec.item)]
            if bad:
                problems.append(
                    f"every item of '{where}' must be {_type_name(spec.item)}, got {bad[0]!r}"
                )
                continue
        out[key] = value
    return out


@dataclass
class StudyConfig:
    """A validated configuration; ``base_dir`` resolves relative paths (the config's folder)."""

    values: dict[str, Any]
    base_dir: Path = field(default_factory=Path.cwd)
    source: str | None = None
    #: the TOML file the config was read from (None for a config built in Python)
    path: Path | None = None

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def data_path(self) -> Path | None:
        p = self.values["data"]["path"]
        return None if p is None else (self.base_dir / p).resolve()


def parse_config(
    raw: dict[str, Any], *, base_dir: Path | None = None, source: str | None = None
) -> StudyConfig:
    """Validate a config dict; raise :class:`ConfigError` listing every problem."""
    problems: list[str] = []
    values = _validate(raw, SCHEMA, "", problems)
    data = values.get("data") or {}
    if not problems:
        sources = [k for k in ("path", "simulate", "simulate_provinces") if data.get(k) is not None]
        if not sources:
            problems.append(
                "[data] needs either 'path' (a data file), a [data.simulate] or a "
                "[data.simulate_provinces] table"
            )
        elif len(sources) > 1:
            problems.append(f"[data] has {' and '.join(sources)}: give exactly one data source")
        if data.get("path") is not None and (data.get("unit") is None or data.get("time") is None):
            problems.append(
                "[data] with 'path' also needs 'unit' and 'time' (the id and year columns)"
            )
        if data.get("columns") is not None and data.get("path") is None:
            problems.append("'data.columns' selects columns of a data file; it needs 'data.path'")
        lim = values["prepare"]["winsorize_limits"]
        if len(lim) != 2 or not (0 <= lim[0] < lim[1] <= 1):
            problems.append(
                f"'prepare.winsorize_limits' must be [lower, upper] with 0 <= lower < upper <= 1, got {lim}"
            )
        win = values["event_study"]["window"]
        if len(win) != 2 or not win[0] < 0 <= win[1]:
            problems.append(f"'event_study.window' must be [lo, hi] with lo < 0 <= hi, got {win}")
        fmts = [f for f in values["study"]["figure_formats"] if f not in ("png", "svg", "pdf")]
        if fmts:
            problems.append(
                f"'study.figure_formats' has unknown format {fmts[0]!r}; use 'png', 'svg' or 'pdf'"
            )
        bad = [k for k in values["placebo"]["kinds"] if k not in ("space", "time", "mixed")]
        if bad:
            problems.append(
                f"'placebo.kinds' has unknown kind {bad[0]!r}; use 'space', 'time' or 'mixed'"
            )
        for key in ("trim_outcome", "winsorize_outcome"):
            q = values["robustness"][key]
            if q and (len(q) != 2 or not 0 <= q[0] < q[1] <= 1):
                problems.append(
                    f"'robustness.{key}' must be [] or [lower, upper] with 0 <= lower < upper <= 1, got {q}"
                )
        if values["robustness"]["concurrent_policies"]:
            from ..data import POLICY_DESCRIPTIONS

            for i, name in enumerate(values["robustness"]["concurrent_policies"]):
                if name not in POLICY_DESCRIPTIONS:
                    problems.append(
                        f"'robustness.concurrent_policies[{i}]': no bundled policy '{name}'"
                        f"{did_you_mean(name, POLICY_DESCRIPTIONS)}; bundled: {', '.join(POLICY_DESCRIPTIONS)}"
                        " (use robustness.concurrent_calendars for others)"
                    )
        if values["baseline"]["wild_draws"] < 99:
            problems.append("'baseline.wild_draws' must be at least 99")
        if values["baseline"]["inference"] == "wild" and values["variables"]["cluster"] == "none":
            problems.append(
                "'baseline.inference' = 'wild' needs clustered errors, but 'variables.cluster' is 'none'"
            )
        problems += _range_problems(values)
        for sim in ("simulate", "simulate_provinces"):
            yrs = (data.get(sim) or {}).get("years")
            if yrs is not None and (len(yrs) != 2 or yrs[0] >= yrs[1]):
                problems.append(
                    f"'data.{sim}.years' must be [first, last] with first < last, got {yrs}"
                )
        problems += _spatial_problems(values["spatial"])
        problems += _prepare_problems(values["prepare"])
    if problems:
        raise ConfigError(problems)
    return StudyConfig(values=values, base_dir=base_dir or Path.cwd(), source=source)


#: numeric options with a valid range: (section, key, test, what the value must be)
_RANGES: tuple[tuple[str, str, Callable[[Any], bool], str], ...] = (
    ("placebo", "n_draws", lambda v: v >= 1, "at least 1"),
    ("mediation", "n_boot", lambda v: v >= 0, ">= 0 (0 skips the bootstrap)"),
    ("heterogeneity", "n_perm", lambda v: v >= 0, ">= 0 (0 skips the permutation test)"),
    ("psm", "bandwidth", lambda v: v > 0, "> 0"),
    ("psm", "caliper", lambda v: v is None or v > 0, "> 0"),
    ("gmm", "lags", lambda v: v >= 1, "at least 1"),
    ("spatial", "k", lambda v: v >= 1, "at least 1"),
    ("spatial", "power", lambda v: v > 0, "> 0"),
    ("spatial", "cutoff_km", lambda v: v is None or v > 0, "> 0 (km)"),
)


def _range_problems(values: dict[str, Any]) -> list[str]:
    """Numeric options outside their range (e.g. a bandwidth of 0 or a negative count), and
    non-finite numbers (TOML allows ``inf`` and ``nan``)."""
    problems = []
    for section, key, ok, what in _RANGES:
        v = values[section][key]
        if v is not None and (not math.isfinite(v) or not ok(v)):
            problems.append(f"'{section}.{key}' must be {what}, got {v!r}")
    for i, h in enumerate(values["heterogeneity"]["by"]):
        if h["q"] is not None and h["q"] < 2:
            problems.append(f"'heterogeneity.by[{i}].q' must be at least 2 groups, got {h['q']}")
    return problems


def _spatial_problems(sp: dict[str, Any]) -> list[str]:
    problems = []
    for i, kind in enumerate(sp["weights"]):
        if kind not in SPATIAL_WEIGHTS:
            problems.append(
                f"'spatial.weights[{i}]': unknown matrix '{kind}'{did_you_mean(kind, SPATIAL_WEIGHTS)}; "
                f"use any of {', '.join(SPATIAL_WEIGHTS)}"
            )
    if sp["enabled"] and not sp["weights"]:
        problems.append("'spatial.weights' must name at least one matrix")
    if len(set(sp["weights"])) < len(sp["weights"]):
        problems.append("'spatial.weights' lists a matrix twice")
    for key, low in (("draws", 2), ("k", 1), ("permutations", 0)):
        if sp[key] < low:
            problems.append(f"'spatial.{key}' must be at least {low}, got {sp[key]}")
    if sp["power"] <= 0:
        problems.append(f"'spatial.power' must be positive, got {sp['power']}")
    if "file" in sp["weights"] and sp["weights_file"] is None:
        problems.append("'spatial.weights' lists 'file': give the pairs CSV as 'spatial.weights_file'")
    if sp["weights_file"] is not None and "file" not in sp["weights"]:
        problems.append("'spatial.weights_file' is given but 'spatial.weights' does not list 'file'")
    return problems


def created_columns(prepare: dict[str, Any]) -> list[tuple[str, str]]:
    """``(key, column)`` for every column the [prepare] steps create, in the order they run."""
    out = [
        (f"prepare.policies[{i}].column", p["column"] or p["name"])
        for i, p in enumerate(prepare["policies"])
    ]
    out += [(f"prepare.carbon[{i}].column", c["column"]) for i, c in enumerate(prepare["carbon"])]
    out += [
        (f"prepare.city_co2[{i}].column", c["column"]) for i, c in enumerate(prepare["city_co2"])
    ]
    for i, d in enumerate(prepare["digital_economy"]):
        out += [
            (f"prepare.digital_economy[{i}].{digital_column_key(d, m)}", col)
            for m, col in digital_columns(d).items()
        ]
    out += [
        (f"prepare.downscale[{i}].column", d["column"]) for i, d in enumerate(prepare["downscale"])
    ]
    for i, a in enumerate(prepare["agglomeration"]):
        out += [(f"prepare.agglomeration[{i}].prefix", a["prefix"])]
        out += [
            (f"prepare.agglomeration[{i}].tiers.{t}", f"{a['prefix']}_{t}")
            for t in a["tiers"] or {}
        ]
    for i, d in enumerate(prepare["deflate"]):
        out += [(f"prepare.deflate[{i}].suffix", f"{c}{d['suffix']}") for c in d["columns"]]
    out += [
        (f"prepare.capital_stock[{i}].column", c["column"])
        for i, c in enumerate(prepare["capital_stock"])
    ]
    out += [(f"prepare.entropy[{i}].column", e["column"]) for i, e in enumerate(prepare["entropy"])]
    out += [(f"prepare.nddf[{i}].column", n["column"]) for i, n in enumerate(prepare["nddf"])]
    return out + [(f"prepare.log[{i}]", f"ln{c}") for i, c in enumerate(prepare["log"])]


def digital_columns(spec: dict[str, Any]) -> dict[str, str]:
    """``{summary measure: new column}`` of a [[prepare.digital_economy]] step: its ``columns``,
    or ``<prefix>_share`` (digital_share) and ``<prefix>_va`` (digital_economy)."""
    if spec["columns"] is not None:
        return dict(spec["columns"])
    prefix = spec["prefix"] or "de"
    return {m: f"{prefix}_{suffix}" for m, suffix in DIGITAL_DEFAULT.items()}


def digital_column_key(spec: dict[str, Any], measure: str) -> str:
    """Config key that names the column of ``measure``: ``columns.<measure>`` or ``prefix``."""
    return f"columns.{measure}" if spec["columns"] is not None else "prefix"


def _prepare_problems(prepare: dict[str, Any]) -> list[str]:
    """Checks of the [prepare] measurement steps that the schema cannot express."""
    problems: list[str] = []
    for i, pol in enumerate(prepare["policies"]):
        key = f"prepare.policies[{i}]"
        if pol["adoption"] and pol["calendar"]:
            problems.append(f"'{key}' has both 'adoption' and 'calendar': give one treatment source")
        if pol["unit_key"] == "exact" and not pol["calendar"]:
            problems.append(
                f"'{key}.unit_key' = 'exact' matches the units of your own calendar; give 'calendar' "
                "(or 'adoption' for an adoption-year column of the data)"
            )
    for i, c in enumerate(prepare["carbon"]):
        if c["fuels"] == {}:
            problems.append(
                f"'prepare.carbon[{i}].fuels' is empty; give {{fuel = 'column'}} or leave it out"
            )
    for i, c in enumerate(prepare["city_co2"]):
        problems += _city_co2_problems(c, f"prepare.city_co2[{i}]")
    for i, d in enumerate(prepare["digital_economy"]):
        problems += _digital_problems(d, f"prepare.digital_economy[{i}]")
    for i, e in enumerate(prepare["entropy"]):
        cols = e["positive"] + e["negative"]
        if not cols:
            problems.append(
                f"'prepare.entropy[{i}]' needs at least one indicator in 'positive' or 'negative'"
            )
        dup = sorted({c for c in cols if cols.count(c) > 1})
        if dup:
            problems.append(f"'prepare.entropy[{i}]': indicator(s) listed more than once: {dup}")
        if not e["shift"] >= 0:
            problems.append(f"'prepare.entropy[{i}].shift' must be >= 0, got {e['shift']}")
    for i, a in enumerate(prepare["agglomeration"]):
        if a["tiers"] == {}:
            problems.append(
                f"'prepare.agglomeration[{i}].tiers' is empty; give {{tier = ['columns']}}"
            )
        for tier, cols in (a["tiers"] or {}).items():
            if not cols or not all(isinstance(c, str) for c in cols):
                problems.append(
                    f"'prepare.agglomeration[{i}].tiers.{tier}' must be a non-empty list of column names"
                )
    for i, n in enumerate(prepare["nddf"]):
        if n["index"] == "ecpi" and n["energy"] not in n["inputs"]:
            problems.append(
                f"'prepare.nddf[{i}].energy' must name one of the inputs {n['inputs']} "
                f"with index = 'ecpi', got {n['energy']!r}"
            )
        if n["index"] == "ecpi" and len(n["good"]) != 1:
            problems.append(f"'prepare.nddf[{i}].good' must be one output with index = 'ecpi'")
    for i, d in enumerate(prepare["deflate"]):
        if not d["columns"]:
            problems.append(f"'prepare.deflate[{i}].columns' must name at least one column")
        if not d["suffix"]:
            problems.append(f"'prepare.deflate[{i}].suffix' must not be empty")
    for i, c in enumerate(prepare["capital_stock"]):
        problems += _capital_problems(c, f"prepare.capital_stock[{i}]")
    for i, f in enumerate(prepare["fill_trailing"]):
        if not f["columns"]:
            problems.append(f"'prepare.fill_trailing[{i}].columns' must name at least one column")
        if f["fit_years"] is not None and f["fit_years"] < 2:
            problems.append(
                f"'prepare.fill_trailing[{i}].fit_years' must be at least 2, got {f['fit_years']}"
            )
    first: dict[str, str] = {}
    for key, col in created_columns(prepare):
        if col in first:
            problems.append(
                f"'{key}': column '{col}' is also created by '{first[col]}'; choose another name"
            )
        first.setdefault(col, key)
    return problems


def _nonneg(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


def _capital_problems(c: dict[str, Any], key: str) -> list[str]:
    """Checks of one [[prepare.capital_stock]] step: a rate in (0, 1), deflator with base year."""
    problems: list[str] = []
    d = c["delta"]
    if d is not None and not (_nonneg(d) and 0 < d < 1):
        problems.append(
            f"'{key}.delta' must be a depreciation rate in (0, 1) such as 0.096, got {d!r}"
        )
    if (c["deflator"] is None) != (c["base_year"] is None):
        problems.append(f"'{key}': 'deflator' and 'base_year' go together; give both or neither")
    if c["initial"] is None and c["growth_years"] < 1:
        problems.append(f"'{key}.growth_years' must be at least 1, got {c['growth_years']}")
    if isinstance(c["initial"], int | float) and not _nonneg(c["initial"]):
        problems.append(
            f"'{key}.initial' must be a column name or a number >= 0, got {c['initial']!r}"
        )
    return problems


def _city_co2_problems(c: dict[str, Any], key: str) -> list[str]:
    """Checks of one [[prepare.city_co2]] step: each source has its factors, factors are numbers."""
    from ..measure import carbon

    problems: list[str] = []
    sources = ("electricity", "gas", "lpg", "heat")
    if all(c[s] is None for s in sources) and not c["transport"]:
        problems.append(
            f"'{key}' needs at least one of 'electricity', 'gas', 'lpg', 'heat' (column names) "
            "or 'transport'"
        )
    if c["transport"] == {}:
        problems.append(f"'{key}.transport' is empty; give {{fuel column = t CO2 per unit}}")
    for col, v in (c["transport"] or {}).items():
        if not _nonneg(v):
            problems.append(f"'{key}.transport.{col}' must be a number >= 0, got {v!r}")
    if c["electricity"] is not None:
        if c["grid_factors"] is None:
            problems.append(
                f"'{key}.grid_factors' is required with 'electricity': give {{region = t CO2/MWh}} "
                "or a CSV file (region, factor[, year]); grid factors are not bundled, take them "
                "from the official publication for your study years and cite it"
            )
        if c["grid_region"] is None:
            problems.append(
                f"'{key}.grid_region' is required with 'electricity': the column with each "
                "city's power-grid region"
            )
    else:
        for k in ("grid_factors", "grid_region"):
            if c[k] is not None:
                problems.append(f"'{key}.{k}' is given but 'electricity' is not; remove one")
    if c["heat"] is not None and c["heat_factor"] is None:
        problems.append(
            f"'{key}.heat_factor' is required with 'heat': t CO2 per GJ of heat supplied "
            "(not bundled; it depends on the fuel mix of the heating plants)"
        )
    if c["heat"] is None and c["heat_factor"] is not None:
        problems.append(f"'{key}.heat_factor' is given but 'heat' is not; remove one")
    if c["heat_factor"] is not None and not _nonneg(c["heat_factor"]):
        problems.append(f"'{key}.heat_factor' must be a number >= 0, got {c['heat_factor']!r}")
    gf = c["grid_factors"]
    if isinstance(gf, dict):
        if not gf:
            problems.append(f"'{key}.grid_factors' is empty; give {{region = t CO2/MWh}}")
        for region, v in gf.items():
            if not _nonneg(v):
                problems.append(f"'{key}.grid_factors.{region}' must be a number >= 0, got {v!r}")
    allowed = {
        "electricity": tuple(carbon._ELEC_UNITS),
        "gas": (*carbon._VOLUME_UNITS, *carbon._TCE_UNITS),
        "lpg": (*carbon._MASS_UNITS, *carbon._TCE_UNITS),
        "heat": tuple(carbon._HEAT_UNITS),
    }
    for src, unit in (c["units"] or {}).items():
        if src not in allowed:
            problems.append(
                f"'{key}.units.{src}': unknown source{did_you_mean(src, allowed)}; "
                f"use {', '.join(allowed)}"
            )
        elif c[src] is None:
            problems.append(f"'{key}.units.{src}' is given but '{src}' is not; remove one")
        elif unit not in allowed[src]:
            problems.append(
                f"'{key}.units.{src}' = {unit!r} is not allowed; use one of {list(allowed[src])}"
            )
    return problems


def _digital_problems(d: dict[str, Any], key: str) -> list[str]:
    """Checks of one [[prepare.digital_economy]] step that the schema cannot express."""
    problems: list[str] = []
    pattern = d["tables"]
    if pattern is not None:
        rest = pattern.replace("{province}", "").replace("{year}", "")
        if (
            pattern.count("{province}") != 1
            or pattern.count("{year}") != 1
            or "{" in rest
            or "}" in rest
        ):
            problems.append(
                f"'{key}.tables' must be a path pattern with {{province}} and {{year}} once each "
                f"and no other braces, e.g. 'io/{{province}}_{{year}}.csv'; got {pattern!r}"
            )
    core = d["core_sectors"]
    if core is not None:
        if not core:
            problems.append(f"'{key}.core_sectors' must name at least one sector")
        dup = sorted({c for c in core if core.count(c) > 1})
        if dup:
            problems.append(f"'{key}.core_sectors' lists sector(s) more than once: {dup}")
    dp = d["digital_products"]
    if isinstance(dp, list):
        if not dp or not all(isinstance(x, str) for x in dp):
            problems.append(f"'{key}.digital_products' must be a non-empty list of sector names")
    elif isinstance(dp, dict):
        if not dp:
            problems.append(f"'{key}.digital_products' is empty; give {{product = weight}}")
        for prod, w in dp.items():
            if not (_nonneg(w) and w <= 1):
                problems.append(
                    f"'{key}.digital_products.{prod}' must be a weight in [0, 1], got {w!r}"
                )
    for group, members in (d["parent_sectors"] or {}).items():
        if not members or not all(isinstance(x, str) for x in members):
            problems.append(
                f"'{key}.parent_sectors.{group}' must be a non-empty list of IO sectors"
            )
    if d["parent_sectors"] is not None and d["annual"] is None:
        problems.append(
            f"'{key}.parent_sectors' needs 'annual' (the parent aggregates by province and year)"
        )
    cols = d["columns"]
    if cols is not None:
        if d["prefix"] is not None:
            problems.append(
                f"'{key}': give 'columns' or 'prefix', not both ('prefix' names the default "
                "columns)"
            )
        if not cols:
            problems.append(f"'{key}.columns' is empty; give {{summary measure = 'new column'}}")
        from ..measure.io_digital import SUMMARY_COLUMNS  # the measures a step can add

        known = [*SUMMARY_COLUMNS, *(str(c).strip() for c in core or [])]
        for m in cols:
            if m.strip() not in known:
                problems.append(
                    f"'{key}.columns.{m}': unknown measure{did_you_mean(m, known)}; use any of "
                    f"{', '.join(known)} (a core sector gives that sector's value added)"
                )
    return problems


def load_config(path: str | Path) -> StudyConfig:
    """Read and validate a TOML study file."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file not found: {path}")
    if not path.is_file():
        raise ConfigError(f"config path {path} is a folder, not a TOML file")
    try:
        # utf-8-sig: a byte-order mark written by some Windows editors is accepted and dropped
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{path.name} is not UTF-8 text (byte {err.start}); save the config as UTF-8"
        ) from err
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path.name} is not valid TOML: {err}") from err
    cfg = parse_config(raw, base_dir=path.resolve().parent, source=text)
    cfg.path = path.resolve()
    return cfg


def variable_columns(cfg: Any) -> Iterator[tuple[str, str]]:
    """``(config key, column)`` of every variable the estimators use as a number."""
    v = cfg["variables"]
    yield "variables.outcome", v["outcome"]
    yield "variables.treatment", v["treatment"]
    for i, c in enumerate(v["controls"]):
        yield f"variables.controls[{i}]", c
    for i, c in enumerate(cfg["mediation"]["mediators"]):
        yield f"mediation.mediators[{i}]", c
    for i, c in enumerate(cfg["iv"]["instruments"]):
        yield f"iv.instruments[{i}]", c
    if cfg["nonlinear"]["x"] is not None:
        yield "nonlinear.x", cfg["nonlinear"]["x"]
    for key in ("threshold_var", "treat"):
        if cfg["threshold"][key] is not None:
            yield f"threshold.{key}", cfg["threshold"][key]
    for i, c in enumerate(cfg["psm"]["covariates"] or []):
        yield f"psm.covariates[{i}]", c
    for key in ("replace_treatment", "alternative_outcomes"):
        for i, c in enumerate(cfg["robustness"][key]):
            yield f"robustness.{key}[{i}]", c
    if cfg["spatial"]["enabled"]:
        for i, c in enumerate(cfg["spatial"]["regressors"]):
            yield f"spatial.regressors[{i}]", c


def check_against_data(cfg: StudyConfig, columns: list[str]) -> list[str]:
    """Problems with column names in the config given the data's columns (empty if none)."""
    v = cfg["variables"]
    problems: list[str] = []
    # columns that [prepare] steps will create count as available
    created = {col for _, col in created_columns(cfg["prepare"])}
    available = list(columns) + sorted(created)

    def need(key: str, col: str | None) -> None:
        if col is not None and col not in available:
            problems.append(
                f"'{key}': column '{col}' is not in the data{did_you_mean(col, available)}"
            )

    for key, col in variable_columns(cfg):
        need(key, col)
    if v["cluster"] not in (None, "none"):
        need("variables.cluster", v["cluster"])
    for sec in ("descriptives", "correlation"):
        for i, c in enumerate(cfg[sec]["columns"] or []):
            need(f"{sec}.columns[{i}]", c)
    for key in ("interpolate", "winsorize", "log"):
        for i, c in enumerate(cfg["prepare"][key]):
            need(f"prepare.{key}[{i}]", c)
    need("prepare.interpolate_by", cfg["prepare"]["interpolate_by"])
    for i, pol in enumerate(cfg["prepare"]["policies"]):
        need(f"prepare.policies[{i}].city", pol["city"])
        need(f"prepare.policies[{i}].adoption", pol["adoption"])
    for i, n in enumerate(cfg["prepare"]["nddf"]):
        for key in ("inputs", "good", "bad"):
            for j, c in enumerate(n[key]):
                need(f"prepare.nddf[{i}].{key}[{j}]", c)
    _measure_columns(cfg["prepare"], need)
    for i, h in enumerate(cfg["heterogeneity"]["by"]):
        if h["column"] not in GROUPINGS:
            need(f"heterogeneity.by[{i}].column", h["column"])
        need(f"heterogeneity.by[{i}].population", h["population"])
        if (h["split"] == "threshold") != (h["threshold"] is not None):
            problems.append(f"'heterogeneity.by[{i}]': split = 'threshold' and threshold go together")
    for i, c in enumerate(cfg["baseline"]["fixed_effects"] or []):
        need(f"baseline.fixed_effects[{i}]", c)
    sp = cfg["spatial"]
    if sp["enabled"]:
        for i, c in enumerate(sp["maps"]):
            need(f"spatial.maps[{i}]", c)
        need("spatial.moran_variable", sp["moran_variable"])
        if "economic" in sp["weights"]:
            need("spatial.gdp", sp["gdp"])
    return problems


def _measure_columns(prepare: dict[str, Any], need: Callable[[str, str | None], None]) -> None:
    """Check the input columns of the [prepare] measurement steps with ``need(key, column)``."""
    for i, c in enumerate(prepare["carbon"]):
        if c["fuels"] is None:
            from ..measure.carbon import FUELS

            for fuel in FUELS:
                need(f"prepare.carbon[{i}].fuels (default '{fuel}')", fuel)
        else:
            for fuel, col in c["fuels"].items():
                need(f"prepare.carbon[{i}].fuels.{fuel}", col)
    for i, c in enumerate(prepare["city_co2"]):
        for key in ("electricity", "grid_region", "gas", "lpg", "heat"):
            need(f"prepare.city_co2[{i}].{key}", c[key])
        for col in c["transport"] or {}:
            need(f"prepare.city_co2[{i}].transport.{col}", col)
    for i, d in enumerate(prepare["downscale"]):
        for key in ("value", "proxy", "province"):
            need(f"prepare.downscale[{i}].{key}", d[key])
    for i, f in enumerate(prepare["fill_trailing"]):
        for j, c in enumerate(f["columns"]):
            need(f"prepare.fill_trailing[{i}].columns[{j}]", c)
    for i, a in enumerate(prepare["agglomeration"]):
        need(f"prepare.agglomeration[{i}].total", a["total"])
        for tier, cols in (a["tiers"] or {}).items():
            for j, c in enumerate(cols):
                need(f"prepare.agglomeration[{i}].tiers.{tier}[{j}]", c)
    for i, d in enumerate(prepare["deflate"]):
        need(f"prepare.deflate[{i}].deflator", d["deflator"])
        for j, c in enumerate(d["columns"]):
            need(f"prepare.deflate[{i}].columns[{j}]", c)
    for i, c in enumerate(prepare["capital_stock"]):
        for key in ("investment", "deflator"):
            need(f"prepare.capital_stock[{i}].{key}", c[key])
        if isinstance(c["initial"], str):
            need(f"prepare.capital_stock[{i}].initial", c["initial"])
    for i, e in enumerate(prepare["entropy"]):
        for key in ("positive", "negative"):
            for j, c in enumerate(e[key]):
                need(f"prepare.entropy[{i}].{key}[{j}]", c)

"""Study steps [[prepare.city_co2]] and [[prepare.digital_economy]].

Each step's column equals the direct call of its measure function on the same inputs (1e-12:
the same arithmetic routed through the config); city CO2 is also checked on two rows against a
hand calculation from the factors. The IO tables are synthetic: the bundled example table
(``io_example.csv``) with a balance-preserving shift of digital inputs and a scale per
province and year, written to ``tmp_path``.
"""

import re
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import climetrics.measure as cm
from climetrics.errors import ConfigError
from climetrics.measure.io_digital import EXAMPLE_IO_TABLE, read_io_table
from climetrics.study.config import (
    check_against_data,
    created_columns,
    load_config,
    parse_config,
)
from climetrics.study.runner import Study

TOL = {"rtol": 1e-12, "atol": 0}
GRID = {"North": 0.9, "East": 0.7}  # t CO2/MWh, made-up round numbers
HEAT_FACTOR = 0.11  # t CO2/GJ, made up


def _city_frame(seed: int = 4) -> pd.DataFrame:
    """8 cities in two grid regions, 2010-2013: electricity, gas, LPG, heat."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        [(f"c{i}", y) for i in range(8) for y in range(2010, 2014)], columns=["city", "year"]
    )
    n = len(df)
    df["grid"] = np.where(df["city"].str[1:].astype(int) < 4, "North", "East")
    df["elec"] = rng.uniform(50, 500, n)  # 10^4 kWh
    df["gas"] = rng.uniform(1, 80, n)  # 10^4 m3
    df["lpg"] = rng.uniform(10, 900, n)  # t
    df["heat_gj"] = rng.uniform(1, 30, n)  # 10^4 GJ
    df["did"] = (df["year"] >= 2012).astype(int)
    df["y"] = rng.normal(size=n)
    return df


CITY_STEPS = f"""
[[prepare.city_co2]]
column = "co2_city"
electricity = "elec"
grid_region = "grid"
gas = "gas"
lpg = "lpg"
heat = "heat_gj"
grid_factors = {{North = {GRID["North"]}, East = {GRID["East"]}}}
heat_factor = {HEAT_FACTOR}

[[prepare.city_co2]]
column = "co2_elec_t"
electricity = "elec"
grid_region = "grid"
grid_factors = "grid_factors.csv"
units = {{electricity = "10^4 kWh"}}
output_units = "t"
"""


def _grid_csv(tmp_path) -> pd.DataFrame:
    """Year-specific factors: North 0.9 falling by 0.01 a year, East 0.7 by 0.02."""
    rows = [
        (r, y, base - step * (y - 2010))
        for r, base, step in (("North", 0.9, 0.01), ("East", 0.7, 0.02))
        for y in range(2010, 2014)
    ]
    tab = pd.DataFrame(rows, columns=["region", "year", "factor"])
    tab.to_csv(tmp_path / "grid_factors.csv", index=False)
    return tab


def _city_config(tmp_path, steps: str = CITY_STEPS, df: pd.DataFrame | None = None):
    (df if df is not None else _city_frame()).to_csv(tmp_path / "cities.csv", index=False)
    _grid_csv(tmp_path)
    cfg = tmp_path / "study.toml"
    cfg.write_text(
        '[data]\npath = "cities.csv"\nunit = "city"\ntime = "year"\n\n'
        '[variables]\noutcome = "y"\ntreatment = "did"\n' + steps
    )
    return cfg


def test_city_co2_step_equals_the_direct_call(tmp_path):
    got = Study(load_config(_city_config(tmp_path))).load_panel().df
    raw = pd.read_csv(tmp_path / "cities.csv")
    direct = cm.city_co2(
        raw, "elec", "grid", "gas", "lpg", "heat_gj", grid_factors=GRID, heat_factor=HEAT_FACTOR
    )
    np.testing.assert_allclose(got["co2_city"], direct, **TOL)
    yearly = cm.city_co2(
        raw, "elec", "grid", grid_factors=_grid_csv(tmp_path), year="year", output_units="t"
    )
    np.testing.assert_allclose(got["co2_elec_t"], yearly, **TOL)
    assert got["co2_city"].notna().all() and got["co2_elec_t"].notna().all()


def test_city_co2_closed_form_on_two_rows(tmp_path):
    """Two rows by hand. Electricity in 10^4 kWh x 10 = MWh, x grid factor; gas in 10^4 m3 x 1e4
    x NCV 38,931 kJ/m3 / 1e6 = GJ, x 15.3 kg C/GJ x 1.0 x 44/12 / 1e3 = t; LPG in t x 1e3 x NCV
    50,179 kJ/kg / 1e6 x 17.2 x 44/12 / 1e3; heat in 10^4 GJ x 1e4 x 0.11; total x 1e-4 (10^4 t).
    NCV, carbon content and oxidation are the bundled factors (data/EMISSION_FACTORS.md)."""
    fac = cm.emission_factors()
    assert fac.loc["natural_gas", ["ncv", "carbon_content", "oxidation"]].tolist() == [
        38931.0,
        15.3,
        1.0,
    ]
    assert fac.loc["lpg", ["ncv", "carbon_content", "oxidation"]].tolist() == [50179.0, 17.2, 1.0]
    df = _city_frame()
    # row 0: c0 (North) 2010; row 31: c7 (East) 2013
    df.loc[0, ["elec", "gas", "lpg", "heat_gj"]] = [200.0, 30.0, 400.0, 5.0]
    df.loc[31, ["elec", "gas", "lpg", "heat_gj"]] = [120.0, 0.0, 50.0, 12.0]
    got = Study(load_config(_city_config(tmp_path, df=df))).load_panel().df
    gas_t = 30 * 1e4 * 38931 / 1e6 * 15.3 * 44 / 12 / 1e3  # 655.20873 t
    lpg_t = 400 * 1e3 * 50179 / 1e6 * 17.2 * 44 / 12 / 1e3  # 1265.8490... t
    row0 = (200 * 10 * 0.9 + gas_t + lpg_t + 5 * 1e4 * 0.11) * 1e-4
    lpg31 = 50 * 1e3 * 50179 / 1e6 * 17.2 * 44 / 12 / 1e3
    row31 = (120 * 10 * 0.7 + 0.0 + lpg31 + 12 * 1e4 * 0.11) * 1e-4
    np.testing.assert_allclose(got.loc[[0, 31], "co2_city"], [row0, row31], **TOL)
    # the year-specific file: North 2010 = 0.9, East 2013 = 0.7 - 3 x 0.02 = 0.64; output in t
    np.testing.assert_allclose(
        got.loc[[0, 31], "co2_elec_t"], [200 * 10 * 0.9, 120 * 10 * 0.64], **TOL
    )


# ---------------------------------------------------------------- digital economy
PROVINCES = ["Anhui", "Beijing", "Hebei"]
TABLE_YEARS = [2012, 2015, 2017]
CORE = ["Electronics", "ICT services"]


def _io_table(shift: float, scale: float) -> pd.DataFrame:
    """io_example.csv with ``shift`` more Electronics used by Manufacturing (value added of
    Manufacturing and final use of Electronics lower by the same amount, so both balances hold),
    then scaled by ``scale``."""
    t = read_io_table(EXAMPLE_IO_TABLE)
    t.loc["Electronics", "Manufacturing"] += shift
    t.loc["value_added", "Manufacturing"] -= shift
    t.loc["Electronics", "final_use"] -= shift
    return t * scale


def _write_io(tmp_path, provinces=PROVINCES, years=TABLE_YEARS) -> dict[str, dict[int, str]]:
    shutil.rmtree(tmp_path / "io", ignore_errors=True)
    (tmp_path / "io").mkdir()
    out: dict[str, dict[int, str]] = {}
    for i, p in enumerate(provinces):
        for j, y in enumerate(years):
            path = tmp_path / "io" / f"{p}_{y}.csv"
            _io_table(shift=2.0 + 3 * i + 4 * j, scale=1 + 0.3 * i + 0.1 * j).to_csv(
                path, index_label="sector"
            )
            out.setdefault(p, {})[y] = str(path)
    return out


def _annual(provinces=PROVINCES) -> pd.DataFrame:
    rows = [
        (p, y, 900 * (1 + 0.3 * i) * (1 + 0.05 * (y - 2012)))
        for i, p in enumerate(provinces)
        for y in (2013, 2014, 2016)
    ]
    return pd.DataFrame(rows, columns=["province", "year", "gdp"])


def _province_frame(years=range(2012, 2018)) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    df = pd.DataFrame([(p, y) for p in PROVINCES for y in years], columns=["province", "year"])
    df["did"] = (df["year"] >= 2015).astype(int)
    df["y"] = rng.normal(size=len(df))
    return df


DE_STEPS = """
[[prepare.digital_economy]]
tables = "io/{province}_{year}.csv"
core_sectors = ["Electronics", "ICT services"]
annual = "annual.csv"
method = "linear"
columns = {digital_share = "de_lin", digital_economy = "dva_lin", digital_industrialisation = "di", industrial_digitalisation = "id", gdp = "gdp_io", source = "de_source"}

[[prepare.digital_economy]]
tables = "io/{province}_{year}.csv"
core_sectors = ["Electronics", "ICT services"]
digital_products = {Electronics = 1.0, "ICT services" = 0.5}
outside = "missing"
"""


def _de_config(tmp_path, steps: str = DE_STEPS, df: pd.DataFrame | None = None, **io):
    tables = _write_io(tmp_path, **io)
    _annual().to_csv(tmp_path / "annual.csv", index=False)
    (df if df is not None else _province_frame()).to_csv(tmp_path / "prov.csv", index=False)
    cfg = tmp_path / "study.toml"
    cfg.write_text(
        '[data]\npath = "prov.csv"\nunit = "province"\ntime = "year"\n\n'
        '[variables]\noutcome = "y"\ntreatment = "did"\n' + steps
    )
    return cfg, tables


def test_digital_economy_step_equals_the_direct_call(tmp_path):
    cfg, tables = _de_config(tmp_path)
    got = Study(load_config(cfg)).load_panel().df
    key = pd.MultiIndex.from_frame(got[["province", "year"]])

    lin = cm.provincial_digital_economy(tables, CORE, annual=_annual(), method="linear").summary
    lin = lin.reindex(key)
    for measure, col in (
        ("digital_share", "de_lin"),
        ("digital_economy", "dva_lin"),
        ("digital_industrialisation", "di"),
        ("industrial_digitalisation", "id"),
        ("gdp", "gdp_io"),
    ):
        np.testing.assert_allclose(got[col], lin[measure], **TOL)
    assert list(got["de_source"]) == list(lin["source"])
    assert (got["de_source"] == "interpolated").sum() == 9  # 2013, 2014, 2016 x 3 provinces

    weights = {"Electronics": 1.0, "ICT services": 0.5}
    prev = cm.provincial_digital_economy(tables, CORE, digital_products=weights).summary
    table_rows = got["year"].isin(TABLE_YEARS).to_numpy()
    prev = prev.reindex(key)
    np.testing.assert_allclose(got["de_share"], prev["digital_share"], **TOL)
    np.testing.assert_allclose(got["de_va"], prev["digital_economy"], **TOL)
    # without annual only the table years have values; outside = "missing" leaves the rest NaN
    assert got.loc[table_rows, "de_share"].notna().all()
    assert got.loc[~table_rows, "de_share"].isna().all()
    # the shifts differ by province and year, so the measure varies (not a constant column)
    assert got.loc[table_rows, "de_share"].nunique() == 9
    assert not np.allclose(got.loc[table_rows, "de_share"], got.loc[table_rows, "de_lin"])


def test_prepared_panel_recomputed_when_an_input_file_changes(tmp_path):
    cfg, _ = _de_config(tmp_path)
    cache = tmp_path / "cache"
    first = Study(load_config(cfg)).load_panel(cache)
    again = Study(load_config(cfg))
    again.load_panel(cache)
    assert again.prepared_from_cache
    _io_table(shift=20.0, scale=1.0).to_csv(
        tmp_path / "io" / "Anhui_2012.csv", index_label="sector"
    )
    changed = Study(load_config(cfg))
    third = changed.load_panel(cache)
    assert not changed.prepared_from_cache
    assert third.df["de_lin"].iloc[0] > first.df["de_lin"].iloc[0]


# ---------------------------------------------------------------- malformed steps
def _base(**steps):
    return {
        "data": {"path": "x.csv", "unit": "city", "time": "year"},
        "variables": {"outcome": "y", "treatment": "did"},
        "prepare": steps,
    }


def _without(step: dict, key: str) -> dict:
    return {k: v for k, v in step.items() if k != key}


CITY = {"column": "co2c", "electricity": "elec", "grid_region": "grid", "grid_factors": GRID}
DE = {"tables": "io/{province}_{year}.csv", "core_sectors": ["Electronics"]}

CONFIG_CASES = [
    (
        "city no column",
        _without(CITY, "column"),
        r"missing required key 'prepare.city_co2\[0\].column'",
    ),
    (
        "city no source",
        {"column": "c"},
        r"'prepare.city_co2\[0\]' needs at least one of 'electricity', 'gas', 'lpg', 'heat'",
    ),
    (
        "electricity without grid factors",
        _without(CITY, "grid_factors"),
        r"'prepare.city_co2\[0\].grid_factors' is required with 'electricity'",
    ),
    (
        "electricity without grid region",
        _without(CITY, "grid_region"),
        r"'prepare.city_co2\[0\].grid_region' is required with 'electricity'",
    ),
    (
        "grid factors without electricity",
        {"column": "c", "gas": "gas", "grid_factors": GRID},
        r"'prepare.city_co2\[0\].grid_factors' is given but 'electricity' is not",
    ),
    (
        "heat without heat factor",
        {**CITY, "heat": "heat_gj"},
        r"'prepare.city_co2\[0\].heat_factor' is required with 'heat'",
    ),
    (
        "negative heat factor",
        {**CITY, "heat": "h", "heat_factor": -0.1},
        r"'prepare.city_co2\[0\].heat_factor' must be a number >= 0, got -0.1",
    ),
    (
        "grid factor not a number",
        {**CITY, "grid_factors": {"North": "0.9"}},
        r"'prepare.city_co2\[0\].grid_factors.North' must be a number >= 0, got '0.9'",
    ),
    (
        "grid factors a list",
        {**CITY, "grid_factors": [0.9]},
        r"'prepare.city_co2\[0\].grid_factors' must be a string or a table",
    ),
    (
        "unknown unit source",
        {**CITY, "units": {"electricty": "kWh"}},
        r"'prepare.city_co2\[0\].units.electricty': unknown source \(did you mean 'electricity'\?\)",
    ),
    (
        "bad electricity unit",
        {**CITY, "units": {"electricity": "GWh"}},
        r"'prepare.city_co2\[0\].units.electricity' = 'GWh' is not allowed",
    ),
    (
        "unit of an absent source",
        {**CITY, "units": {"gas": "m3"}},
        r"'prepare.city_co2\[0\].units.gas' is given but 'gas' is not",
    ),
    (
        "bad output unit",
        {**CITY, "output_units": "Gt"},
        r"'prepare.city_co2\[0\].output_units' = 'Gt' is not allowed",
    ),
]

DE_CASES = [
    (
        "no tables",
        {"core_sectors": ["E"]},
        r"missing required key 'prepare.digital_economy\[0\].tables'",
    ),
    (
        "pattern without year",
        {**DE, "tables": "io/{province}.csv"},
        r"'prepare.digital_economy\[0\].tables' must be a path pattern with \{province\} and \{year\}",
    ),
    (
        "pattern with another placeholder",
        {**DE, "tables": "io/{province}_{year}_{kind}.csv"},
        r"'prepare.digital_economy\[0\].tables' must be a path pattern",
    ),
    (
        "tables inline",
        {**DE, "tables": {"Anhui": {"2012": "a.csv"}}},
        r"'prepare.digital_economy\[0\].tables' must be a string",
    ),
    (
        "no core sectors",
        {**DE, "core_sectors": []},
        r"'prepare.digital_economy\[0\].core_sectors' must name at least one sector",
    ),
    (
        "digital product weight above one",
        {**DE, "digital_products": {"Electronics": 1.5}},
        r"'prepare.digital_economy\[0\].digital_products.Electronics' must be a weight in \[0, 1\]",
    ),
    (
        "bad method",
        {**DE, "method": "spline"},
        r"'prepare.digital_economy\[0\].method' = 'spline' is not allowed",
    ),
    (
        "unknown measure",
        {**DE, "columns": {"digital_shares": "s"}},
        r"'prepare.digital_economy\[0\].columns.digital_shares': unknown measure "
        r"\(did you mean 'digital_share'\?\)",
    ),
    (
        "columns and prefix",
        {**DE, "columns": {"digital_share": "s"}, "prefix": "x"},
        r"'prepare.digital_economy\[0\]': give 'columns' or 'prefix', not both",
    ),
    (
        "parent sectors without annual",
        {**DE, "parent_sectors": {"secondary": ["Electronics"]}},
        r"'prepare.digital_economy\[0\].parent_sectors' needs 'annual'",
    ),
    (
        "bad outside",
        {**DE, "outside": "nan"},
        r"'prepare.digital_economy\[0\].outside' = 'nan' is not allowed; use one of \['error', 'missing'\]",
    ),
]


@pytest.mark.parametrize(
    "name,step,pattern",
    [(n, {"city_co2": [s]}, p) for n, s, p in CONFIG_CASES]
    + [(n, {"digital_economy": [s]}, p) for n, s, p in DE_CASES]
    + [
        (
            "default column clash",
            {"digital_economy": [DE], "city_co2": [{**CITY, "column": "de_share"}]},
            r"'prepare.digital_economy\[0\].prefix': column 'de_share' is also created by "
            r"'prepare.city_co2\[0\].column'",
        )
    ],
    ids=[c[0] for c in CONFIG_CASES] + [c[0] for c in DE_CASES] + ["default column clash"],
)
def test_malformed_step_config_names_the_key(name, step, pattern):
    with pytest.raises(ConfigError, match=pattern):
        parse_config(_base(**step))


def test_city_co2_columns_checked_against_data():
    cfg = parse_config(_base(city_co2=[{**CITY, "lpg": "lpg_t"}]))
    assert check_against_data(cfg, ["city", "year", "y", "did", "elec", "lpg"]) == [
        "'prepare.city_co2[0].grid_region': column 'grid' is not in the data",
        "'prepare.city_co2[0].lpg': column 'lpg_t' is not in the data (did you mean 'lpg'?)",
    ]


def _replace(steps: str, old: str, new: str) -> str:
    assert old in steps
    return steps.replace(old, new)


def test_city_co2_data_errors_name_the_key_region_and_city(tmp_path):
    df = _city_frame()
    df.loc[df["city"] == "c6", "grid"] = "Northwest"
    with pytest.raises(
        ConfigError,
        match=r"'prepare.city_co2\[0\].grid_factors': no grid emission factor for region "
        r"'Northwest' \(did you mean 'North'\?\) \(first at city 'c6', year 2010; 4 row\(s\)",
    ):
        Study(load_config(_city_config(tmp_path, df=df))).load_panel()

    steps = _replace(CITY_STEPS, 'column = "co2_city"', 'column = "co2_city"\nyear_x = 1')
    with pytest.raises(ConfigError, match=r"unknown key 'prepare.city_co2\[0\].year_x'"):
        load_config(_city_config(tmp_path, steps=steps))

    cfg = _city_config(tmp_path)
    grid = _grid_csv(tmp_path)
    grid[grid["year"] != 2012].to_csv(tmp_path / "grid_factors.csv", index=False)
    with pytest.raises(
        ConfigError,
        match=r"'prepare.city_co2\[1\].grid_factors': no grid emission factor for "
        r"\(region, year\) \('North', 2012\) \(first at city 'c0', year 2012; 8 row\(s\) lack a factor, region\(s\) \['East', 'North'\]\)",
    ):
        Study(load_config(cfg)).load_panel()

    pd.concat([grid, grid.iloc[:1]]).to_csv(tmp_path / "grid_factors.csv", index=False)
    with pytest.raises(
        ConfigError,
        match=r"'prepare.city_co2\[1\].grid_factors': 'grid_factors.csv' has more than one "
        r"factor for region 'North', year 2010",
    ):
        Study(load_config(cfg)).load_panel()

    grid.rename(columns={"factor": "ef"}).to_csv(tmp_path / "grid_factors.csv", index=False)
    with pytest.raises(ConfigError, match=r"'grid_factors.csv' lacks column\(s\) factor"):
        Study(load_config(cfg)).load_panel()

    (tmp_path / "grid_factors.csv").unlink()
    with pytest.raises(
        ConfigError,
        match=r"'prepare.city_co2\[1\].grid_factors': file 'grid_factors.csv' not found",
    ):
        Study(load_config(cfg)).load_panel()

    df = _city_frame()
    df.loc[3, "heat_gj"] = -1.0
    with pytest.raises(
        ConfigError,
        match=r"'prepare.city_co2\[0\]': city_co2: negative value in column 'heat_gj', row 3",
    ):
        Study(load_config(_city_config(tmp_path, df=df))).load_panel()


def test_digital_economy_province_without_tables(tmp_path):
    cfg, _ = _de_config(tmp_path, provinces=["Anhui", "Beijing"])
    with pytest.raises(
        ConfigError,
        match=r"'prepare.digital_economy\[0\].tables': no IO table for province 'Hebei' "
        r"\(no file matches .*io/Hebei_\[0-9\]",
    ):
        Study(load_config(cfg)).load_panel()


def test_digital_economy_table_years_and_uncovered_rows(tmp_path):
    # tables 2007, 2015, 2017: 2007 is needed for 2012-2014 (between 2007 and 2015), so allowed
    cfg, tables = _de_config(tmp_path, years=[2007, 2015, 2017])
    steps = _replace(DE_STEPS, 'annual = "annual.csv"\n', "")
    cfg.write_text(cfg.read_text().replace(DE_STEPS, steps))
    with pytest.raises(
        ConfigError,
        match=r"'prepare.digital_economy\[0\]': no digital-economy value for province 'Anhui', "
        r"year 2012 \(and 11 other panel row\(s\)\): the IO tables of 'Anhui' are for 2007, "
        r"2015, 2017; .*Set outside = \"missing\"",
    ):
        Study(load_config(cfg)).load_panel()

    # a table that gives no panel year its value: 2002 lies before 2007, the panel starts 2012
    _io_table(1.0, 1.0).to_csv(tmp_path / "io" / "Beijing_2002.csv", index_label="sector")
    with pytest.raises(
        ConfigError,
        match=r"'prepare.digital_economy\[0\].tables': the IO table of province 'Beijing', year "
        r"2002 \(.*Beijing_2002.csv\) lies outside the panel's years of 'Beijing' \(2012-2017\)",
    ):
        Study(load_config(cfg)).load_panel()
    (tmp_path / "io" / "Beijing_2002.csv").unlink()

    # panel years after the last table: an error naming the first, or NaN with outside = missing
    cfg, _ = _de_config(tmp_path, df=_province_frame(range(2012, 2020)), years=TABLE_YEARS)
    with pytest.raises(
        ConfigError,
        match=r"no digital-economy value for province 'Anhui', year 2018 \(and 5 other",
    ):
        Study(load_config(cfg)).load_panel()

    # the data error of the measure function, under the key of the step
    bad = _replace(DE_STEPS, '["Electronics", "ICT services"]\nannual', '["Electronic"]\nannual')
    cfg.write_text(cfg.read_text().replace(DE_STEPS, bad))
    with pytest.raises(
        ConfigError,
        match=r"'prepare.digital_economy\[0\]': province 'Anhui': IO table of 2012: core sector "
        r"'Electronic' is not a sector of the IO table \(did you mean 'Electronics'\?\)",
    ):
        Study(load_config(cfg)).load_panel()

    (tmp_path / "annual.csv").write_text("prov,year,gdp\nAnhui,2013,1\n")
    cfg.write_text(cfg.read_text().replace(bad, DE_STEPS))
    with pytest.raises(
        ConfigError,
        match=r"'prepare.digital_economy\[0\].annual': 'annual.csv' needs columns province and "
        r"year \(missing province\)",
    ):
        Study(load_config(cfg)).load_panel()


def test_documented_examples_are_valid_config():
    """The [[prepare.city_co2]] and [[prepare.digital_economy]] examples of docs/measurement.md
    parse, and their columns are the documented ones."""
    doc = (Path(__file__).parents[1] / "docs" / "measurement.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", doc, flags=re.S)
    steps = [b for b in blocks if "prepare.city_co2" in b or "prepare.digital_economy" in b]
    assert len(steps) == 2
    raw = _base()
    for b in steps:
        for key, val in tomllib.loads(b)["prepare"].items():
            raw["prepare"][key] = val
    cfg = parse_config(raw)
    assert cfg["prepare"]["city_co2"][0]["grid_factors"] == {"North": 0.9, "East": 0.7}
    assert [c for _, c in created_columns(cfg["prepare"])] == ["co2_city", "de_share", "de_va"]

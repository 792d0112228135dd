"""Study config validation: every malformed config yields a message naming the key."""

import pytest

from climetrics.errors import ConfigError
from climetrics.study.config import check_against_data, load_config, parse_config

BASE = {
    "data": {"path": "x.csv", "unit": "city", "time": "year"},
    "variables": {"outcome": "y", "treatment": "did", "controls": ["a", "b"]},
}


def merged(**sections):
    out = {k: dict(v) for k, v in BASE.items()}
    for sec, vals in sections.items():
        if vals is None:
            out.pop(sec, None)
        else:
            out.setdefault(sec, {}).update(vals)
    return out


CASES = [
    (
        "unknown section",
        {**BASE, "baselin": {}},
        r"unknown key 'baselin' \(did you mean 'baseline'\?\)",
    ),
    (
        "unknown key",
        merged(baseline={"stepwis": True}),
        r"unknown key 'baseline.stepwis' \(did you mean 'stepwise'\?\)",
    ),
    (
        "wrong type",
        merged(baseline={"stepwise": "yes"}),
        r"'baseline.stepwise' must be true/false, got 'yes'",
    ),
    (
        "bad choice",
        merged(baseline={"stat": "z"}),
        r"'baseline.stat' = 'z' is not allowed; use one of \['t', 'se'\]",
    ),
    (
        "missing outcome",
        merged(variables={"outcome": None}) | {"variables": {"treatment": "did"}},
        r"missing required key 'variables.outcome'",
    ),
    (
        "list item type",
        merged(variables={"controls": ["a", 3]}),
        r"every item of 'variables.controls' must be a string, got 3",
    ),
    ("no data", merged(data=None), r"\[data\] needs either 'path'"),
    ("path without keys", {**BASE, "data": {"path": "x.csv"}}, r"also needs 'unit' and 'time'"),
    (
        "columns without a file",
        {**BASE, "data": {"simulate": {}, "columns": ["lnci"]}},
        r"'data.columns' selects columns of a data file; it needs 'data.path'",
    ),
    ("section not a table", {**BASE, "baseline": 3}, r"'baseline' must be a table"),
    (
        "winsor limits",
        merged(prepare={"winsorize_limits": [0.9, 0.1]}),
        r"'prepare.winsorize_limits' must be \[lower, upper\]",
    ),
    (
        "policies not array",
        merged(prepare={"policies": {"name": "x"}}),
        r"'prepare.policies' must be an array of tables",
    ),
    (
        "policy key",
        merged(prepare={"policies": [{"nam": "x"}]}),
        r"(?s)unknown key 'prepare.policies\[0\].nam'.*missing required key 'prepare.policies\[0\].name'",
    ),
    ("bad int", {**BASE, "study": {"seed": 1.5}}, r"'study.seed' must be an integer, got 1.5"),
    (
        "simulate years",
        {**BASE, "data": {"simulate": {"years": [2020, 2010]}}},
        r"'data.simulate.years' must be \[first, last\]",
    ),
]


@pytest.mark.parametrize("name,raw,pattern", CASES, ids=[c[0] for c in CASES])
def test_malformed_config_names_the_key(name, raw, pattern):
    with pytest.raises(ConfigError, match=pattern):
        parse_config(raw)


def test_all_problems_reported_at_once():
    raw = merged(baseline={"stepwis": True, "stat": "z"}, study={"seed": "x"})
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    assert len(err.value.problems) == 3 and str(err.value).startswith("3 problems")


def test_defaults_filled():
    cfg = parse_config(BASE)
    assert cfg["baseline"]["stepwise"] is True and cfg["baseline"]["ssc"] == "nested"
    assert cfg["variables"]["cluster"] is None and cfg["data"]["simulate"] is None


def test_columns_checked_against_data():
    cfg = parse_config(
        merged(
            variables={"controls": ["lnpgdpp"]},
            prepare={"log": ["gdp"]},
            descriptives={"columns": ["lngdp", "zz"]},
        )
    )
    problems = check_against_data(cfg, ["city", "year", "y", "did", "lnpgdp", "gdp"])
    assert problems == [
        "'variables.controls[0]': column 'lnpgdpp' is not in the data (did you mean 'lnpgdp'?)",
        "'descriptives.columns[1]': column 'zz' is not in the data",
    ]


def test_toml_syntax_error_and_missing_file(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text("[study\ntitle='x'")
    with pytest.raises(ConfigError, match="s.toml is not valid TOML"):
        load_config(p)
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "none.toml")


# ---------------------------------------------------------------- [prepare] measurement steps
def prep(**steps):
    return merged(prepare=steps)


PREPARE_CASES = [
    (
        "carbon fuels not a table",
        prep(carbon=[{"fuels": ["coal"]}]),
        r"'prepare.carbon\[0\].fuels' must be a table, got \['coal'\]",
    ),
    (
        "carbon unknown key",
        prep(carbon=[{"fuel": {"coal": "c"}}]),
        r"unknown key 'prepare.carbon\[0\].fuel' \(did you mean 'fuels'\?\)",
    ),
    (
        "carbon output unit",
        prep(carbon=[{"output_units": "Gt"}]),
        r"'prepare.carbon\[0\].output_units' = 'Gt' is not allowed",
    ),
    ("carbon empty fuels", prep(carbon=[{"fuels": {}}]), r"'prepare.carbon\[0\].fuels' is empty"),
    (
        "entropy without column",
        prep(entropy=[{"positive": ["a"]}]),
        r"missing required key 'prepare.entropy\[0\].column'",
    ),
    (
        "entropy without indicators",
        prep(entropy=[{"column": "idx"}]),
        r"'prepare.entropy\[0\]' needs at least one indicator in 'positive' or 'negative'",
    ),
    (
        "entropy weights",
        prep(entropy=[{"column": "idx", "positive": ["a"], "weights": "yearly"}]),
        r"'prepare.entropy\[0\].weights' = 'yearly' is not allowed; use one of \['pooled', 'per_year'\]",
    ),
    (
        "entropy indicator twice",
        prep(entropy=[{"column": "idx", "positive": ["a"], "negative": ["a"]}]),
        r"'prepare.entropy\[0\]': indicator\(s\) listed more than once: \['a'\]",
    ),
    (
        "entropy negative shift",
        prep(entropy=[{"column": "idx", "positive": ["a"], "shift": -1}]),
        r"'prepare.entropy\[0\].shift' must be >= 0",
    ),
    (
        "agglomeration tier not a list",
        prep(agglomeration=[{"tiers": {"high": "emp_it"}, "total": "emp"}]),
        r"every item of 'prepare.agglomeration\[0\].tiers' must be a list, got 'emp_it'",
    ),
    (
        "agglomeration empty tier",
        prep(agglomeration=[{"tiers": {"high": []}, "total": "emp"}]),
        r"'prepare.agglomeration\[0\].tiers.high' must be a non-empty list of column names",
    ),
    (
        "agglomeration without total",
        prep(agglomeration=[{"tiers": {"high": ["emp_it"]}}]),
        r"missing required key 'prepare.agglomeration\[0\].total'",
    ),
    (
        "downscale without proxy",
        prep(downscale=[{"column": "c", "value": "v"}]),
        r"missing required key 'prepare.downscale\[0\].proxy'",
    ),
    (
        "fill method",
        prep(fill_trailing=[{"columns": ["co2"], "method": "arima"}]),
        r"'prepare.fill_trailing\[0\].method' = 'arima' is not allowed",
    ),
    (
        "fill columns not a list",
        prep(fill_trailing=[{"columns": "co2"}]),
        r"'prepare.fill_trailing\[0\].columns' must be a list, got 'co2'",
    ),
    (
        "fill no columns",
        prep(fill_trailing=[{"columns": []}]),
        r"'prepare.fill_trailing\[0\].columns' must name at least one column",
    ),
    (
        "fill fit_years",
        prep(fill_trailing=[{"columns": ["co2"], "fit_years": 1}]),
        r"'prepare.fill_trailing\[0\].fit_years' must be at least 2",
    ),
    (
        "same new column twice",
        prep(carbon=[{"column": "idx"}], entropy=[{"column": "idx", "positive": ["a"]}]),
        r"'prepare.entropy\[0\].column': column 'idx' is also created by 'prepare.carbon\[0\].column'",
    ),
]


@pytest.mark.parametrize("name,raw,pattern", PREPARE_CASES, ids=[c[0] for c in PREPARE_CASES])
def test_malformed_measurement_step_names_the_key(name, raw, pattern):
    with pytest.raises(ConfigError, match=pattern):
        parse_config(raw)


def test_measurement_columns_checked_against_data():
    cfg = parse_config(
        prep(
            carbon=[{}],
            entropy=[{"column": "idx", "positive": ["a"], "negative": ["zz"]}],
            agglomeration=[{"tiers": {"high": ["emp_it", "emp_fin"]}, "total": "emp"}],
            downscale=[{"column": "cable", "value": "cable_prov", "proxy": "telecom"}],
            fill_trailing=[{"columns": ["co2", "co3"]}],
        )
    )
    cols = [
        "city",
        "year",
        "y",
        "did",
        "a",
        "b",
        "coal",
        "coke",
        "gasoline",
        "diesel",
        "fuel_oil",
        "natural_gas",
        "emp_it",
        "emp",
        "province",
        "cable_prov",
        "telecom",
    ]
    assert check_against_data(cfg, cols) == [
        "'prepare.carbon[0].fuels (default 'kerosene')': column 'kerosene' is not in the data",
        "'prepare.fill_trailing[0].columns[1]': column 'co3' is not in the data (did you mean 'co2'?)",
        "'prepare.agglomeration[0].tiers.high[1]': column 'emp_fin' is not in the data (did you mean 'emp_it'?)",
        "'prepare.entropy[0].negative[0]': column 'zz' is not in the data",
    ]


def test_scaffold_indicator_examples_are_valid_config(tmp_path):
    """The commented [prepare] indicator steps written by `climetrics init` parse once uncommented."""
    import re
    import tomllib

    import pandas as pd

    from climetrics.study.scaffold import scaffold

    data = tmp_path / "p.csv"
    pd.DataFrame(
        {
            "city": ["a", "a", "b", "b"],
            "year": [2010, 2011] * 2,
            "lnco2": [1.0, 2, 3, 4],
            "did": [0, 1, 0, 0],
        }
    ).to_csv(data, index=False)
    text = scaffold(data)
    block = text[text.index("# [[prepare.carbon]]") : text.index("[baseline]")]
    steps = "\n".join(re.sub(r"^# ?", "", line) for line in block.splitlines())
    cfg = parse_config(tomllib.loads(text + "\n" + steps))
    p = cfg["prepare"]
    assert [
        len(p[k])
        for k in ("carbon", "downscale", "fill_trailing", "agglomeration", "entropy", "nddf")
    ] == [1] * 6
    assert p["carbon"][0]["fuels"] == {"coal": "coal", "natural_gas": "gas"}
    assert p["entropy"][0]["weights"] == "pooled" and p["fill_trailing"][0]["last_observed"] == 2019


@pytest.mark.parametrize(
    "nddf,pattern",
    [
        (
            {"index": "tcpi"},
            r"'prepare.nddf\[0\].index' = 'tcpi' is not allowed; use one of \['cpi', 'ecpi'\]",
        ),
        ({"index": "ecpi"}, r"'prepare.nddf\[0\].energy' must name one of the inputs .* got None"),
        (
            {"index": "ecpi", "energy": "energy", "good": ["gdp", "va"]},
            r"'prepare.nddf\[0\].good' must be one output with index = 'ecpi'",
        ),
    ],
)
def test_nddf_index_choice_names_the_key(nddf, pattern):
    with pytest.raises(ConfigError, match=pattern):
        parse_config(prep(nddf=[nddf]))


SPATIAL_CASES = [
    (
        {"weights": ["contiguty"]},
        r"'spatial.weights\[0\]': unknown matrix 'contiguty' \(did you mean 'contiguity'\?\)",
    ),
    ({"enabled": True, "weights": []}, r"'spatial.weights' must name at least one matrix"),
    ({"weights": ["knn", "knn"]}, r"'spatial.weights' lists a matrix twice"),
    (
        {"model": "sac"},
        r"'spatial.model' = 'sac' is not allowed; use one of \['sdm', 'sar', 'sem'\]",
    ),
    ({"effects": "both"}, r"'spatial.effects' = 'both' is not allowed"),
    ({"draws": 1}, r"'spatial.draws' must be at least 2, got 1"),
    ({"power": 0}, r"'spatial.power' must be positive, got 0"),
    ({"mpas": ["y"]}, r"unknown key 'spatial.mpas' \(did you mean 'maps'\?\)"),
]


@pytest.mark.parametrize("spatial,pattern", SPATIAL_CASES, ids=[str(c[0]) for c in SPATIAL_CASES])
def test_spatial_config_errors_name_the_key(spatial, pattern):
    with pytest.raises(ConfigError, match=pattern):
        parse_config(merged(spatial=spatial))


def test_spatial_columns_checked_against_the_data():
    cfg = parse_config(
        merged(
            spatial={
                "enabled": True,
                "weights": ["contiguity", "economic"],
                "maps": ["yy"],
                "regressors": ["a", "c"],
            }
        )
    )
    problems = check_against_data(cfg, ["city", "year", "y", "did", "a", "b"])
    assert "'spatial.regressors[1]': column 'c' is not in the data" in problems[0]
    assert any(p.startswith("'spatial.maps[0]': column 'yy'") for p in problems)
    assert any(p.startswith("'spatial.gdp': column 'gdp'") for p in problems)


def test_one_data_source_only():
    raw = {**BASE, "data": {"path": "x.csv", "unit": "u", "time": "t", "simulate_provinces": {}}}
    with pytest.raises(
        ConfigError, match=r"\[data\] has path and simulate_provinces: give exactly one"
    ):
        parse_config(raw)
    cfg = parse_config({**BASE, "data": {"simulate_provinces": {"years": [2005, 2020]}}})
    assert cfg["data"]["simulate_provinces"]["rho"] == 0.3 and cfg["data"]["simulate"] is None


def _values_study(tmp_path, edit, extra: str = ""):
    """A 6-city x 4-year study whose data ``edit(df)`` spoils; returns the ConfigError text."""
    import pandas as pd

    from climetrics.study.runner import Study

    df = pd.DataFrame(
        [(c, y) for c in ["c1", "c2", "c3", "c4", "c5", "c6"] for y in range(2010, 2014)],
        columns=["city", "year"],
    )
    df["y"] = [0.1 * i + (i % 3) for i in range(len(df))]
    df["did"] = ((df["city"] <= "c3") & (df["year"] >= 2012)).astype(int)
    df["a"] = [float(i % 5) for i in range(len(df))]
    df = edit(df)
    df.to_csv(tmp_path / "d.csv", index=False)
    cfg = tmp_path / "s.toml"
    cfg.write_text(
        '[data]\npath = "d.csv"\nunit = "city"\ntime = "year"\n[variables]\noutcome = "y"\n'
        'treatment = "did"\ncontrols = ["a"]\n' + extra
    )
    try:
        Study.from_file(cfg).load_panel()
    except ConfigError as err:
        return str(err)
    return ""


def _text_cell(df, col, row, value):
    df[col] = df[col].astype(object)
    df.loc[row, col] = value
    return df


VALUE_CASES = [
    ("fine", lambda df: df, "", r"^$"),
    (
        "text in a control",
        lambda df: _text_cell(df, "a", 5, "3,2"),
        "",
        r"'variables.controls\[0\]': column 'a' must be numeric; city 'c2', year 2011 holds '3,2'",
    ),
    (
        "text in the outcome, twice",
        lambda df: _text_cell(_text_cell(df, "y", 0, "x"), "y", 7, "--"),
        "",
        r"'variables.outcome': column 'y' must be numeric; city 'c1', year 2010 holds 'x' \(2 such",
    ),
    (
        "no treated units",
        lambda df: df.assign(did=0),
        "",
        r"'variables.treatment': column 'did' is 0 in every observation -- no treated units",
    ),
    (
        "everyone treated",
        lambda df: df.assign(did=1),
        "",
        r"'variables.treatment': column 'did' is 1 in every observation",
    ),
    (
        "constant outcome",
        lambda df: df.assign(y=2.5),
        "",
        r"'variables.outcome': column 'y' takes the single value 2.5; it must vary",
    ),
    (
        "text mediator",
        lambda df: _text_cell(df.assign(m=1.0), "m", 3, "?"),
        '[mediation]\nmediators = ["m"]\n',
        r"'mediation.mediators\[0\]': column 'm' must be numeric; city 'c1', year 2013 holds '\?'",
    ),
]


@pytest.mark.parametrize("name,edit,extra,pattern", VALUE_CASES, ids=[c[0] for c in VALUE_CASES])
def test_variable_values_checked_before_any_section(tmp_path, name, edit, extra, pattern):
    """`climetrics check` (load_panel) names the key, the unit, the year and the bad value."""
    import re

    assert re.search(pattern, _values_study(tmp_path, edit, extra)), name


def test_policy_step_for_a_firm_panel(tmp_path):
    """[[prepare.policies]] city = '...' gives firms their city's policy (the direct call's
    column); a misspelt city column is named under its key."""
    import warnings

    import pandas as pd

    from climetrics import data
    from climetrics.panel import Panel
    from climetrics.study.runner import Study

    years = range(2012, 2018)
    df = pd.DataFrame(
        [(f, y, c) for f, c in [("a", "苏州市"), ("b", "昆明市"), ("c", "商丘市")] for y in years],
        columns=["firm", "year", "city"],
    )
    df["y"] = range(len(df))
    df.to_csv(tmp_path / "firms.csv", index=False)
    cfg = tmp_path / "s.toml"
    text = (
        '[data]\npath = "firms.csv"\nunit = "firm"\ntime = "year"\n'
        '[variables]\noutcome = "y"\ntreatment = "bbc"\n'
        '[[prepare.policies]]\nname = "broadband_china"\ncolumn = "bbc"\ncity = "{city}"\n'
    )
    cfg.write_text(text.format(city="city"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = Study.from_file(cfg).load_panel()
        direct = data.policy_dummies(
            Panel(df, "firm", "year"), "broadband_china", name="bbc", city="city"
        )
    assert got.df["bbc"].tolist() == direct.df["bbc"].tolist()
    assert got.df.groupby("firm")["bbc"].sum().to_dict() == {"a": 4, "b": 0, "c": 3}
    cfg.write_text(text.format(city="town"))
    with pytest.raises(ConfigError, match=r"'prepare.policies\[0\].city': column 'town'"):
        Study.from_file(cfg).load_panel()

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
    ("unknown section", {**BASE, "baselin": {}}, r"unknown key 'baselin' \(did you mean 'baseline'\?\)"),
    ("unknown key", merged(baseline={"stepwis": True}), r"unknown key 'baseline.stepwis' \(did you mean 'stepwise'\?\)"),
    ("wrong type", merged(baseline={"stepwise": "yes"}), r"'baseline.stepwise' must be true/false, got 'yes'"),
    ("bad choice", merged(baseline={"stat": "z"}), r"'baseline.stat' = 'z' is not allowed; use one of \['t', 'se'\]"),
    ("missing outcome", merged(variables={"outcome": None}) | {"variables": {"treatment": "did"}},
     r"missing required key 'variables.outcome'"),
    ("list item type", merged(variables={"controls": ["a", 3]}), r"every item of 'variables.controls' must be a string, got 3"),
    ("no data", merged(data=None), r"\[data\] needs either 'path'"),
    ("path without keys", {**BASE, "data": {"path": "x.csv"}}, r"also needs 'unit' and 'time'"),
    ("section not a table", {**BASE, "baseline": 3}, r"'baseline' must be a table"),
    ("winsor limits", merged(prepare={"winsorize_limits": [0.9, 0.1]}), r"'prepare.winsorize_limits' must be \[lower, upper\]"),
    ("policies not array", merged(prepare={"policies": {"name": "x"}}), r"'prepare.policies' must be an array of tables"),
    ("policy key", merged(prepare={"policies": [{"nam": "x"}]}),
     r"(?s)unknown key 'prepare.policies\[0\].nam'.*missing required key 'prepare.policies\[0\].name'"),
    ("bad int", {**BASE, "study": {"seed": 1.5}}, r"'study.seed' must be an integer, got 1.5"),
    ("simulate years", {**BASE, "data": {"simulate": {"years": [2020, 2010]}}}, r"'data.simulate.years' must be \[first, last\]"),
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
    cfg = parse_config(merged(variables={"controls": ["lnpgdpp"]}, prepare={"log": ["gdp"]},
                              descriptives={"columns": ["lngdp", "zz"]}))
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

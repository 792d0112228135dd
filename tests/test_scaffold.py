"""`climetrics init`: detected roles and a config that validates against the data."""

import pandas as pd
import pytest

import climetrics as cm
from climetrics.cli import main
from climetrics.errors import PanelError
from climetrics.study.scaffold import detect_roles


@pytest.fixture()
def data(tmp_path):
    df = cm.simulate(seed=2).panel.df[["name", "city", "year", "did", "lnco2", "lnci", "lnpgdp", "gov", "str"]]
    path = tmp_path / "cities.csv"
    df.to_csv(path, index=False)
    return path


def test_detects_roles(data):
    g = detect_roles(pd.read_csv(data))
    assert (g.unit, g.time, g.treatment, g.outcome) == ("city", "year", "did", "lnco2")
    assert g.unit_alternatives == ["name"] and g.controls == ["lnpgdp", "gov", "str"]


def test_timing_columns_are_not_proposed_as_controls():
    """The simulator's adoption_year (a year, missing for never-treated cities) and event_time
    (year - adoption year) describe the treatment; the scaffold skips them and proposes the
    first real covariates."""
    df = cm.simulate(seed=2).panel.df
    g = detect_roles(df)
    assert (g.unit, g.time, g.treatment) == ("city", "year", "did")
    assert "adoption_year" not in g.controls and "event_time" not in g.controls
    assert g.controls == ["gdp", "pop", "energy", "capital", "labour", "lnpgdp"]


def test_init_writes_a_config_that_checks(data, capsys):
    assert main(["init", str(data)]) == 0
    cfg = data.with_suffix(".toml")
    text = cfg.read_text()
    assert 'unit = "city"   # detected (other candidates: name)' in text
    assert main(["check", str(cfg)]) == 0
    assert "balanced" in capsys.readouterr().out
    assert main(["init", str(data)]) == 2  # never overwrites without --force
    assert "pass --force" in capsys.readouterr().err


def test_no_year_column_is_reported(tmp_path):
    with pytest.raises(PanelError, match="could not find a time column"):
        detect_roles(pd.DataFrame({"id": [1, 2], "v": [0.5, 0.7]}))
    with pytest.raises(PanelError, match="could not find a unit column"):
        detect_roles(pd.DataFrame({"year": [2000, 2000, 2001], "v": [0.5, 0.5, 0.7]}))


def test_commented_step_examples_are_valid_config(data):
    """Uncommenting every indicator-step example of the scaffold gives a config that passes the
    schema checks (the examples teach the keys, so a renamed key must fail here)."""
    import tomllib

    from climetrics.study.config import parse_config
    from climetrics.study.scaffold import scaffold

    text = scaffold(data)
    start, end = text.index("# Indicator steps"), text.index("[baseline]")
    lines = text[start:end].splitlines()[1:]
    steps = "\n".join(line[2:] if line.startswith("# ") else line for line in lines)
    raw = tomllib.loads(text[:start] + steps + "\n" + text[end:])
    assert len(raw["prepare"]) == 8
    parse_config(raw, base_dir=data.parent)

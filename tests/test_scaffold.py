"""`climetrics init`: detected roles and a config that validates against the data."""

from pathlib import Path

import pandas as pd
import pytest

import climetrics as cm
from climetrics.cli import main
from climetrics.errors import PanelError
from climetrics.study.scaffold import detect_roles, scaffold


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

    text = scaffold(data)
    start, end = text.index("# Indicator steps"), text.index("[baseline]")
    lines = text[start:end].splitlines()[1:]
    steps = "\n".join(line[2:] if line.startswith("# ") else line for line in lines)
    raw = tomllib.loads(text[:start] + steps + "\n" + text[end:])
    assert len(raw["prepare"]) == 8
    parse_config(raw, base_dir=data.parent)


# --- public panels from outside China (issue 14 item 7) -------------------------------------

DATA = Path(__file__).parent / "data"


def test_mpdta_roles_come_from_the_data():
    """mpdta: 'treat' is constant within counties (a group flag, collinear with county FE) and
    'first.treat' holds adoption years with 0 = never; lpop is time-invariant. The window is the
    event-time support: cohorts 2004/2006/2007 in 2003-2007 give 2003-2007 = -4 to 2007-2004 = 3."""
    g = detect_roles(pd.read_csv(DATA / "mpdta.csv"))
    assert (g.unit, g.time, g.outcome) == ("countyreal", "year", "lemp")
    assert (g.treatment, g.treatment_kind, g.adoption) == ("did", "adoption", "first.treat")
    assert g.group_flags == ["treat"] and g.unit_constant == ["lpop"]
    assert g.controls == [] and g.window == (-4, 3)
    with pytest.raises(PanelError, match="group flag"):
        detect_roles(pd.read_csv(DATA / "mpdta.csv"), treatment="treat")
    with pytest.raises(PanelError, match="did you mean 'lemp'"):
        detect_roles(pd.read_csv(DATA / "mpdta.csv"), outcome="lem")
    with pytest.raises(PanelError, match="--adoption first.treat"):
        detect_roles(pd.read_csv(DATA / "mpdta.csv"), treatment="first.treat")
    for role in ("treatment", "outcome"):
        with pytest.raises(PanelError, match=f"--{role} 'lpop' is constant within every countyreal"):
            detect_roles(pd.read_csv(DATA / "mpdta.csv"), **{role: "lpop"})


def test_castle_roles_and_window_from_event_time_support():
    """Castle-doctrine panel: 'post' switches on (never off) in 21 states; the region-year
    dummies, state trends and lead/lag dummies are no treatment and no controls. The window is
    checked against the event times computed here, capped at -8 with binned ends."""
    df = pd.read_csv(DATA / "castle.csv")
    g = detect_roles(df)
    assert (g.unit, g.time, g.outcome, g.treatment, g.treatment_kind) == ("sid", "year", "l_homicide", "post", "dummy")
    assert not any(c.startswith(("r200", "trend_", "lead", "lag")) or c == "homicide" for c in g.controls)
    first = df[df.post == 1].groupby("sid").year.min()
    e = df.year - df.sid.map(first)
    assert g.window == (max(int(e.min()), -8), min(int(e.max()), 8)) == (-8, 4)


def test_produc_has_no_treatment_until_one_is_given(tmp_path, capsys):
    """Produc has no policy column: init says so and the config does not pass `check` until a
    treatment is named. --treatment with a continuous column disables the DID-only sections;
    levels twin to a logged column (pcap beside lpcap) are not proposed as controls."""
    import tomllib

    data = tmp_path / "produc.csv"
    df = pd.read_csv(DATA / "produc_plm.csv")
    df.to_csv(data, index=False)
    assert main(["init", str(data)]) == 0
    assert "no treatment column found" in capsys.readouterr().err
    text = data.with_suffix(".toml").read_text()
    assert "NO TREATMENT FOUND" in text and 'outcome = "lgsp"' in text
    assert main(["check", str(data.with_suffix(".toml"))]) == 2
    assert "variables.treatment" in capsys.readouterr().err
    assert main(["init", str(data), "--force", "--treatment", "lpcap"]) == 0
    cfg = tomllib.loads(data.with_suffix(".toml").read_text())
    assert cfg["variables"]["controls"] == ["unemp", "lpc", "lemp"]
    assert all(not cfg[s]["enabled"] for s in ("event_study", "placebo", "robust_did", "psm"))
    with pytest.raises(SystemExit):  # argparse: --treatment and --adoption exclude each other
        main(["init", str(data), "--force", "--treatment", "lpcap", "--adoption", "x"])


def _synthetic_law(df: pd.DataFrame) -> pd.DataFrame:
    """A staggered law on Produc: states in thirds adopt in 1975, 1980 or never (0)."""
    states = sorted(df.state.unique())
    year = {s: (1975, 1980, 0)[i % 3] for i, s in enumerate(states)}
    return df.assign(law_year=df.state.map(year))


def test_adoption_column_is_detected_and_overridable():
    df = _synthetic_law(pd.read_csv(DATA / "produc_plm.csv"))
    g = detect_roles(df)
    assert (g.treatment, g.treatment_kind, g.adoption) == ("did", "adoption", "law_year")
    assert "law_year" not in g.controls and g.window == (-8, 8)  # support -10..11, ends binned
    assert detect_roles(df, adoption="law_year", outcome="lemp").outcome == "lemp"


def _edit(path: Path, old: str, new: str) -> int:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return 1


@pytest.mark.parametrize("name, args", [
    ("mpdta", []),
    ("castle", ["--outcome", "l_homicide", "--treatment", "post"]),
    ("produc_law", ["--adoption", "law_year"]),
])
def test_init_then_run_has_no_failed_section(tmp_path, name, args):
    """The issue's proof: three public panels from outside China go from `climetrics init` plus
    at most five edited lines (here one: fewer placebo draws to keep the test short) to a
    `climetrics run` whose every section is ok."""
    import json

    data = tmp_path / f"{name}.csv"
    if name == "produc_law":
        _synthetic_law(pd.read_csv(DATA / "produc_plm.csv")).to_csv(data, index=False)
    else:
        data.write_bytes((DATA / f"{name}.csv").read_bytes())
    assert main(["init", str(data), *args]) == 0
    cfg = data.with_suffix(".toml")
    edited = _edit(cfg, "n_draws = 500", "n_draws = 20")
    assert edited <= 5
    out = tmp_path / "out"
    assert main(["run", str(cfg), "--out", str(out)]) == 0
    m = json.loads((out / "manifest.json").read_text())
    assert {"baseline", "event_study", "placebo", "robust_did", "psm"} <= set(m["sections"])
    assert set(m["sections"].values()) == {"ok"}, m["sections"]


def test_group_flag_and_period_indicator_are_no_treatment(tmp_path):
    """A 2x2 layout (mpdta's group flag 'treat' and a period indicator 'post' = year >= 2005, no
    adoption column): each alone is collinear with a fixed effect, so none is proposed, the
    config says to add their product, and --treatment post is refused naming the year FE."""
    df = pd.read_csv(DATA / "mpdta.csv").drop(columns="first.treat")
    df["post"] = (df.year >= 2005).astype(int)
    g = detect_roles(df)
    assert g.treatment is None and g.group_flags == ["treat"] and g.time_flags == ["post"]
    path = tmp_path / "two.csv"
    df.to_csv(path, index=False)
    assert "Add their product (treat x post" in " ".join(scaffold(path).replace("\n# ", " ").split())
    with pytest.raises(PanelError, match="collinear with the year fixed effects"):
        detect_roles(df, treatment="post")
    df["did"] = df.treat * df.post
    g = detect_roles(df)
    assert (g.treatment, g.treatment_kind, g.window) == ("did", "dummy", (-2, 2))  # one cohort: 2005 in 2003-2007

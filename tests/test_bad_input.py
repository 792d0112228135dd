"""Bad-input battery (issue 12): every user mistake gives a named error, never a traceback or a
silently wrong result.

``CASES`` is one table of bad studies. Each case is run twice: through the Python API
(``Study.from_file(cfg).load_panel()`` for ``check`` cases, ``Study.run`` for ``run`` cases),
asserting the error class and that the message names the culprit; and through the command line
(``climetrics check`` / ``climetrics run``), asserting exit code 2, no traceback, and the same
culprit in the message. ``ESTIMATOR_CASES`` covers degenerate data handed to the estimators
(API), and the same through a study run for the two that a study can reach.
"""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import climetrics as cm
from climetrics.cli import main
from climetrics.errors import ConfigError, EstimationError, PanelError
from climetrics.study.runner import Study

CONFIG = """\
[study]
title = "battery"
output = "out"

[data]
path = "data.csv"
unit = "city"
time = "year"

[variables]
outcome = "y"
treatment = "did"
controls = ["x"]
cluster = "prov"

[descriptives]
enabled = false
[correlation]
enabled = false
[model_selection]
enabled = false
[event_study]
enabled = false
[robust_did]
enabled = false
[robustness]
enabled = false
[iv]
enabled = false
[nonlinear]
enabled = false
[psm]
enabled = false
[mediation]
enabled = false
[heterogeneity]
enabled = false
[placebo]
enabled = false
"""


def frame(n_units: int = 12, n_years: int = 8, seed: int = 0) -> pd.DataFrame:
    """A clean staggered panel: half the cities adopt (in 2013 or 2014), the rest never do."""
    rng = np.random.default_rng(seed)
    rows = [(f"c{i:02d}", 2010 + t) for i in range(n_units) for t in range(n_years)]
    df = pd.DataFrame(rows, columns=["city", "year"])
    unit = df["city"].str[1:].astype(int)
    adopt = np.where(unit < n_units // 2, 2013 + unit % 2, 0)
    df["g"] = adopt
    df["did"] = ((adopt > 0) & (df["year"] >= adopt)).astype(int)
    df["prov"] = "p" + (unit % 4).astype(str)
    df["x"] = rng.normal(size=len(df)).round(4)
    df["y"] = (1 + 0.5 * df["did"] + 0.3 * df["x"] + rng.normal(size=len(df))).round(4)
    return df


def csv_text(df: pd.DataFrame) -> str:
    return df.to_csv(index=False)


def with_cell(column: str, value: str, row: int = 5) -> Callable[[Path], None]:
    """Data edit: put the raw text ``value`` in ``column`` at ``row`` (city c00, year 2015)."""

    def edit(folder: Path) -> None:
        df = frame().astype({column: object})
        df.loc[row, column] = value
        (folder / "data.csv").write_text(csv_text(df))

    return edit


def write_bytes(name: str, data: bytes) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        (folder / name).write_bytes(data)

    return edit


def binary(kind: str, cut: float | None = None) -> bytes:
    """The clean panel as an xlsx/parquet/dta file, optionally truncated to a fraction."""
    buf = io.BytesIO()
    df = frame()
    if kind == "xlsx":
        df.to_excel(buf, index=False)
    elif kind == "parquet":
        df.to_parquet(buf, index=False)
    else:
        df.to_stata(buf, write_index=False)
    data = buf.getvalue()
    return data if cut is None else data[: int(len(data) * cut)]


def frame_edit(change: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        (folder / "data.csv").write_text(csv_text(change(frame())))

    return edit


def set_config(old: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)

    return edit


def add_config(extra: str) -> Callable[[str], str]:
    return lambda text: text + "\n" + extra + "\n"


def dup_row(df: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([df, df.iloc[[9]]], ignore_index=True)


def all_adopt_2013(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(did=(df["year"] >= 2013).astype(int))


@dataclass
class Case:
    id: str
    error: type[Exception]
    culprits: tuple[str, ...]  # every one must appear in the message
    data: Callable[[Path], None] | None = None  # writes the data file(s) into the sandbox
    config: Callable[[str], str] | None = None  # edits the config text
    command: str = "check"  # "run" cases exercise the output folder
    out: Callable[[Path], Path] | None = None  # prepares --out, returns it


def _file_out(tmp: Path) -> Path:
    (tmp / "report.txt").write_text("not a folder")
    return tmp / "report.txt"


def _foreign_out(tmp: Path) -> Path:
    (tmp / "mine").mkdir()
    (tmp / "mine" / "thesis.docx").write_text("my thesis")
    return tmp / "mine"


CASES = [
    # ---- the data file: unreadable, empty, wrong shape
    Case("empty-csv", PanelError, ("data.csv", "empty"), write_bytes("data.csv", b"")),
    Case("header-only-csv", PanelError, ("no rows",), write_bytes("data.csv", b"city,year,y,did,x,prov\n")),
    Case("ragged-csv", PanelError, ("data.csv", "cannot read"),
         write_bytes("data.csv", csv_text(frame()).encode() + b"c99,2010,1,0,0.5,p1,extra,more\n")),
    Case("not-utf8-csv", PanelError, ("data.csv", "cannot read"),
         write_bytes("data.csv", b"city,year,y,did,x,prov\n\xff\xfe\x00c,2010,1,0,1,p\n")),
    Case("corrupted-xlsx", PanelError, ("data.xlsx", "cannot read"), write_bytes("data.xlsx", b"PK\x03\x04garbage" * 20),
         set_config('path = "data.csv"', 'path = "data.xlsx"')),
    Case("truncated-xlsx", PanelError, ("data.xlsx", "cannot read"), write_bytes("data.xlsx", binary("xlsx", 0.5)),
         set_config('path = "data.csv"', 'path = "data.xlsx"')),
    Case("corrupted-parquet", PanelError, ("data.parquet", "cannot read"),
         write_bytes("data.parquet", b"PAR1 not really parquet"),
         set_config('path = "data.csv"', 'path = "data.parquet"')),
    Case("truncated-parquet", PanelError, ("data.parquet", "cannot read"),
         write_bytes("data.parquet", binary("parquet", 0.6)),
         set_config('path = "data.csv"', 'path = "data.parquet"')),
    Case("corrupted-dta", PanelError, ("data.dta", "cannot read"), write_bytes("data.dta", b"\x00\x01junk" * 50),
         set_config('path = "data.csv"', 'path = "data.dta"')),
    Case("truncated-dta", PanelError, ("data.dta", "cannot read"), write_bytes("data.dta", binary("dta", 0.5)),
         set_config('path = "data.csv"', 'path = "data.dta"')),
    Case("data-path-is-folder", PanelError, ("folder",), lambda d: (d / "panel.csv").mkdir(),
         set_config('path = "data.csv"', 'path = "panel.csv"')),
    Case("data-file-missing", PanelError, ("not found", "nothere.csv"), None,
         set_config('path = "data.csv"', 'path = "nothere.csv"')),
    Case("unknown-file-type", PanelError, ("data.json", ".json"), write_bytes("data.json", b"{}"),
         set_config('path = "data.csv"', 'path = "data.json"')),
    Case("missing-sheet", PanelError, ("data.xlsx", "Sheet9"), write_bytes("data.xlsx", binary("xlsx")),
         set_config('path = "data.csv"', 'path = "data.xlsx"\nsheet = "Sheet9"')),
    Case("column-not-in-file", PanelError, ("'xx'", "did you mean 'x'"), None,
         set_config('time = "year"', 'time = "year"\ncolumns = ["y", "did", "xx", "prov"]')),
    # ---- keys and periods
    Case("duplicate-unit-year", PanelError, ("'c01'", "2011", "appears 2 times"), frame_edit(dup_row)),
    Case("missing-unit", PanelError, ("no unit value", "'city'"), with_cell("city", "")),
    Case("fractional-year", PanelError, ("'year'", "2015.5"), with_cell("year", "2015.5")),
    Case("text-year", PanelError, ("'year'", "'20l5'"), with_cell("year", "20l5")),
    Case("unit-column-typo", PanelError, ("'cty'", "did you mean 'city'"), None,
         set_config('unit = "city"', 'unit = "cty"')),
    # ---- values: text tokens, infinities, no variation
    Case("n/a-token", ConfigError, ("'n/a'", "'c00'", "2015", "na_values"), with_cell("y", "n/a")),
    Case("dash-token", ConfigError, ("'-'", "'c00'", "'variables.controls[0]'"), with_cell("x", "-")),
    Case("NA-token", ConfigError, ("'NA'", "'c00'"), with_cell("y", "NA")),
    Case("inf-outcome", ConfigError, ("inf", "'c00'", "2015", "'variables.outcome'"), with_cell("y", "inf")),
    Case("minus-inf-control", ConfigError, ("-inf", "'c00'", "'variables.controls[0]'"), with_cell("x", "-inf")),
    Case("constant-outcome", ConfigError, ("'y'", "single value"), frame_edit(lambda d: d.assign(y=3.0))),
    Case("never-treated-only", ConfigError, ("'did'", "no treated"), frame_edit(lambda d: d.assign(did=0))),
    Case("outcome-typo", ConfigError, ("'yy'", "did you mean 'y'"), None, set_config('outcome = "y"', 'outcome = "yy"')),
    # ---- the config file
    Case("toml-syntax", ConfigError, ("study.toml", "not valid TOML"), None, add_config("[psm\nbandwidth = 1")),
    Case("config-not-utf8", ConfigError, ("study.toml", "UTF-8"), None, lambda t: t + '\n# caf\udce9\n'),
    Case("unknown-section", ConfigError, ("'variabels'", "did you mean 'variables'"), None, add_config("[variabels]")),
    Case("wrong-type", ConfigError, ("'study.seed'", "an integer"), None, set_config("[study]\n", '[study]\nseed = "x"\n')),
    Case("bandwidth-zero", ConfigError, ("'psm.bandwidth'", "> 0"), None, set_config("[psm]\n", "[psm]\nbandwidth = 0\n")),
    Case("bandwidth-nan", ConfigError, ("'psm.bandwidth'", "nan"), None, set_config("[psm]\n", "[psm]\nbandwidth = nan\n")),
    Case("negative-draws", ConfigError, ("'placebo.n_draws'", "-5"), None, set_config("[placebo]\n", "[placebo]\nn_draws = -5\n")),
    Case("negative-permutations", ConfigError, ("'heterogeneity.n_perm'", "-10"), None,
         set_config("[heterogeneity]\n", "[heterogeneity]\nn_perm = -10\n")),
    Case("negative-bootstrap", ConfigError, ("'mediation.n_boot'", "-1"), None,
         set_config("[mediation]\n", "[mediation]\nn_boot = -1\n")),
    Case("zero-neighbours", ConfigError, ("'spatial.k'",), None, add_config("[spatial]\nk = 0")),
    Case("infinite-cutoff", ConfigError, ("'spatial.cutoff_km'", "inf"), None, add_config("[spatial]\ncutoff_km = inf")),
    Case("one-quantile-group", ConfigError, ("'heterogeneity.by[0].q'",), None,
         add_config('[[heterogeneity.by]]\ncolumn = "x"\nsplit = "quantile"\nq = 1')),
    Case("two-data-sources", ConfigError, ("exactly one data source",), None,
         add_config("[data.simulate]\nseed = 1")),
    Case("na-values-wrong-type", ConfigError, ("'data.na_values'",), None,
         set_config('time = "year"', 'time = "year"\nna_values = "n/a"')),
    # ---- the output folder
    Case("out-is-a-file", ConfigError, ("report.txt", "is a file"), command="run", out=_file_out),
    Case("out-not-ours", ConfigError, ("not empty", "thesis.docx", "--force"), command="run", out=_foreign_out),
    Case("out-contains-data", ConfigError, ("contains the input file", "data.csv"), command="run",
         out=lambda tmp: tmp),
]


def _sandbox(tmp: Path, case: Case) -> Path:
    (tmp / "data.csv").write_text(csv_text(frame()))
    if case.data:
        case.data(tmp)
    text = CONFIG if case.config is None else case.config(CONFIG)
    cfg = tmp / "study.toml"
    cfg.write_bytes(text.encode("utf-8", "surrogateescape"))
    return cfg


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_api_names_the_culprit(case: Case, tmp_path: Path) -> None:
    cfg = _sandbox(tmp_path, case)
    with pytest.raises(case.error) as info:
        study = Study.from_file(cfg)
        if case.command == "check":
            study.load_panel()
        else:
            study.run(case.out(tmp_path), log=lambda *_: None)
    message = str(info.value)
    for culprit in case.culprits:
        assert culprit in message, f"{culprit!r} not in: {message}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_cli_exits_2_naming_the_culprit(case: Case, tmp_path: Path, capsys) -> None:
    cfg = _sandbox(tmp_path, case)
    args = [case.command, str(cfg)] + (["--out", str(case.out(tmp_path))] if case.out else [])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("climetrics: ")
    for culprit in case.culprits:
        assert culprit in err, f"{culprit!r} not in: {err}"


def test_battery_is_large_enough() -> None:
    assert len(CASES) >= 40 and len({c.id for c in CASES}) == len(CASES)


# ---------------------------------------------------------------------- accepted inputs
def test_config_with_utf8_bom_is_accepted(tmp_path: Path) -> None:
    cfg = _sandbox(tmp_path, Case("bom", Exception, ()))
    cfg.write_bytes(b"\xef\xbb\xbf" + cfg.read_bytes())
    assert Study.from_file(cfg).config["data"]["unit"] == "city"
    assert main(["check", str(cfg)]) == 0


def test_na_values_is_one_rule_for_api_and_cli(tmp_path: Path, capsys) -> None:
    """``n/a`` is text for both the API (a DataFrame) and the CLI (a csv) until it is listed in
    ``na_values``; then both read it as missing."""
    cfg = _sandbox(tmp_path, Case("na", Exception, (), with_cell("y", "n/a")))
    df = frame().astype({"y": object})
    df.loc[5, "y"] = "n/a"
    with pytest.raises(PanelError, match="'n/a'"):
        cm.Panel(df, "city", "year").require(["y"])
    with pytest.raises(PanelError, match="'n/a'"):
        cm.Panel.from_file(tmp_path / "data.csv", "city", "year").require(["y"])
    p = cm.Panel.from_file(tmp_path / "data.csv", "city", "year", na_values=["n/a"])
    assert p.df["y"].dtype == float and p.df["y"].isna().sum() == 1
    assert np.isnan(p.df.loc[(p.df.city == "c00") & (p.df.year == 2015), "y"]).all()
    cfg.write_text(cfg.read_text().replace('time = "year"', 'time = "year"\nna_values = ["n/a"]'))
    assert main(["check", str(cfg)]) == 0
    assert Study.from_file(cfg).load_panel().df["y"].isna().sum() == 1


def test_datetime_time_column_becomes_years_with_a_warning() -> None:
    df = frame().assign(year=lambda d: pd.to_datetime(d["year"].astype(str) + "-07-01"))
    with pytest.warns(UserWarning, match="holds dates; converted to calendar years"):
        p = cm.Panel(df, "city", "year")
    assert p.periods.tolist() == list(range(2010, 2018))
    monthly = pd.DataFrame({"city": ["a", "a"], "year": pd.to_datetime(["2010-01-01", "2010-06-01"]), "y": [1, 2]})
    with pytest.warns(UserWarning), pytest.raises(PanelError, match="'a' appears 2 times in year 2010"):
        cm.Panel(monthly, "city", "year")


# ---------------------------------------------------------------------- estimators
def _panel(change: Callable[[pd.DataFrame], pd.DataFrame] = lambda d: d) -> cm.Panel:
    return cm.Panel(change(frame()), "city", "year")


def _w_matrix():
    return np.eye(12)


ESTIMATOR_CASES = [
    ("collinear-treatment", EstimationError, ("'did'", "collinear"),
     lambda: cm.twfe(_panel(all_adopt_2013), "y", "did", cluster="unit")),
    ("inf-outcome", PanelError, ("infinite", "'y'", "'c00'", "2015"),
     lambda: cm.twfe(_panel(lambda d: d.assign(y=d["y"].where(d.index != 5, np.inf))), "y", "did")),
    ("constant-outcome", EstimationError, ("'y'", "single value"),
     lambda: cm.twfe(_panel(lambda d: d.assign(y=2.0)), "y", "did")),
    ("single-cluster", EstimationError, ("clusters=1",),
     lambda: cm.twfe(_panel(lambda d: d.assign(prov="p")), "y", "did", cluster="prov")),
    ("fractional-cohort", EstimationError, ("'g'", "2013.5", "'c00'"),
     lambda: cm.callaway_santanna(_panel(lambda d: d.assign(g=d["g"].where(d["g"] != 2013, 2013.5))),
                                  "y", adoption="g", n_draws=0)),
    ("negative-cohort", EstimationError, ("'g'", "-1"),
     lambda: cm.callaway_santanna(_panel(lambda d: d.assign(g=d["g"].replace(2014, -1))), "y", adoption="g", n_draws=0)),
    ("weights-as-array", EstimationError, ("SpatialWeights", "ndarray"),
     lambda: cm.moran(np.arange(12.0), _w_matrix())),
    ("weights-as-array-model", EstimationError, ("SpatialWeights", "ndarray"),
     lambda: cm.spatial_panel(_panel(), "y", ["x"], _w_matrix())),
    ("weights-cover-extra-units", EstimationError, ("absent from the panel", "'c99'"),
     lambda: cm.spatial_panel(_panel(), "y", ["x"], _ring(["c99"]))),
    ("regression-weights-as-array", PanelError, ("weights must name a column", "ndarray"),
     lambda: cm.twfe(_panel(), "y", "did", weights=np.ones(96))),
    ("text-token-in-api", PanelError, ("'n/a'", "'c00'", "na_values"),
     lambda: cm.twfe(cm.Panel(frame().astype({"x": object}).assign(
         x=lambda d: d["x"].where(d.index != 5, "n/a")), "city", "year"), "y", "did", "x")),
]


def _ring(extra: list[str]):
    """Row-standardised ring weights over the 12 panel cities plus ``extra`` units."""
    from climetrics.estimate.spatial.weights import SpatialWeights

    ids = [f"c{i:02d}" for i in range(12)] + extra
    n = len(ids)
    m = np.zeros((n, n))
    for i in range(n):
        m[i, (i + 1) % n] = m[(i + 1) % n, i] = 1
    return SpatialWeights.from_matrix(m, ids).standardized()


@pytest.mark.parametrize("case", ESTIMATOR_CASES, ids=[c[0] for c in ESTIMATOR_CASES])
def test_estimator_names_the_culprit(case) -> None:
    _, error, culprits, call = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(error) as info:
            call()
    for culprit in culprits:
        assert culprit in str(info.value), f"{culprit!r} not in: {info.value}"


@pytest.mark.parametrize(
    ("change", "culprits"),
    [(all_adopt_2013, ("EstimationError", "'did'", "collinear")),
     (lambda d: d.assign(prov="p"), ("EstimationError", "clusters=1"))],
    ids=["collinear-treatment", "single-cluster"],
)
def test_study_reports_degenerate_estimation_by_name(tmp_path: Path, capsys, change, culprits) -> None:
    cfg = _sandbox(tmp_path, Case("est", Exception, (), frame_edit(change)))
    assert main(["run", str(cfg)]) == 1
    failed = json.loads((tmp_path / "out" / "manifest.json").read_text())["sections"]["baseline"]
    assert failed.startswith("failed: ")
    for culprit in culprits:
        assert culprit in failed
    assert "baseline" in capsys.readouterr().err


def test_one_treated_unit_warns_and_cs_prints_no_zero_se() -> None:
    one = _panel(lambda d: d.assign(did=((d["city"] == "c00") & (d["year"] >= 2013)).astype(int),
                                    g=np.where(d["city"] == "c00", 2013, 0)))
    with pytest.warns(UserWarning, match="Only one cluster is treated"):
        res = cm.twfe(one, "y", "did")
    assert any("MacKinnon & Webb" in n for n in res.notes)
    # a cohort of a single unit has no valid standard error: CS drops it, so with one treated
    # unit nothing is left to estimate and the error names the unit
    with pytest.raises(EstimationError, match="Cohort 2013 has a single city \\('c00'\\)"):
        cm.callaway_santanna(one, "y", adoption="g", n_draws=0)
    # one cluster: every SE is missing, so no p-value and no star is printed
    with pytest.warns(UserWarning, match="one cluster of 'prov'"):
        cs1 = cm.callaway_santanna(_panel(lambda d: d.assign(prov="p")), "y", adoption="g", n_draws=0, cluster="prov")
    assert cs1.attgt["se"].isna().all()
    agg = cs1.aggregate("simple")
    assert np.isnan(agg.se)
    res = agg.to_result()
    assert res.tidy()["p_value"].isna().all()
    assert not any("*" in cell for row in res.table().rows for cell in row[1:])


def test_cohort_without_cells_is_named() -> None:
    """Cohort 2014's units all miss a period: the cohort gets no ATT(g,t) cell and a note says so."""
    df = frame()
    gap = (df["g"] == 2014) & (df["year"] == 2011)
    with pytest.warns(UserWarning, match="cohort\\(s\\) 2014 get no ATT\\(g,t\\) cell"):
        cs = cm.callaway_santanna(cm.Panel(df.loc[~gap], "city", "year"), "y", adoption="g", n_draws=0)
    assert set(cs.attgt["g"]) == {2013}
    assert any("2014 get no ATT(g,t) cell" in n for n in cs.notes)


def test_unwritable_out_is_exit_2_without_traceback(tmp_path: Path, capsys) -> None:
    import os

    if os.geteuid() == 0:  # root may write anywhere: simulate the refusal at the OS level
        locked = tmp_path / "locked"
        locked.write_text("a file where the folder's parent should be")
        out = locked / "out"
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        out = locked / "out"
    cfg = _sandbox(tmp_path, Case("perm", Exception, ()))
    assert main(["run", str(cfg), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "locked" in err

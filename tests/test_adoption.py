"""Treatment from an adoption-year column (issue 14 item 3): R did's mpdta ``first.treat``."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import climetrics as cm
from climetrics.cli import main

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def mpdta() -> cm.Panel:
    return cm.Panel(pd.read_csv(DATA / "mpdta.csv"), "countyreal", "year")


def test_columns_match_the_definition(mpdta):
    p = cm.adoption_dummies(mpdta, "first.treat", name="mw")
    df = p.df
    g = df["first.treat"].replace(0, np.nan)
    assert (df["mw"] == ((df["year"] >= g) & g.notna()).astype(float)).all()
    assert (df["mw_treat"] == g.notna().astype(float)).all()
    assert df["mw_year"].equals(g.astype(float))
    # mpdta's treatment column is the ever-treated flag
    assert (df["mw_treat"] == df["treat"]).all()


def test_twfe_on_derived_dummy_equals_pyfixest(mpdta):
    import pyfixest as pf

    p = cm.adoption_dummies(mpdta, "first.treat")
    res = cm.twfe(p, "lemp", "did")
    df = p.df
    ref = pf.feols("lemp ~ did | countyreal + year", data=df, vcov={"CRV1": "countyreal"})
    assert res.coef("did") == pytest.approx(ref.coef()["did"], rel=1e-10)
    assert res.se("did") == pytest.approx(ref.se()["did"], rel=1e-8)


@pytest.mark.parametrize(
    "values,match",
    [
        ({8001: 2006.5}, "whole periods .* countyreal 8001 has 2006.5"),
        ({8001: "soon"}, "must hold periods, but countyreal 8001 has 'soon'"),
    ],
)
def test_bad_cohorts_are_named(mpdta, values, match):
    df = mpdta.df.copy()
    df["first.treat"] = df["first.treat"].astype(object)
    for unit, v in values.items():
        df.loc[df["countyreal"] == unit, "first.treat"] = v
    with pytest.raises(cm.PanelError, match=match):
        cm.adoption_dummies(cm.Panel(df, "countyreal", "year"), "first.treat")


def test_cohort_varying_within_a_unit_is_named(mpdta):
    df = mpdta.df.copy()
    df.loc[(df["countyreal"] == 8001) & (df["year"] == 2003), "first.treat"] = 2005
    with pytest.raises(cm.PanelError, match="constant within each countyreal, but countyreal 8001"):
        cm.adoption_dummies(cm.Panel(df, "countyreal", "year"), "first.treat")


def test_late_and_early_cohorts_are_reported(mpdta):
    df = mpdta.df.copy()
    df.loc[df["countyreal"] == 8001, "first.treat"] = 2010
    df.loc[df["countyreal"] == 8019, "first.treat"] = 2003
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        p = cm.adoption_dummies(cm.Panel(df, "countyreal", "year"), "first.treat")
    text = " ".join(str(w.message) for w in caught)
    assert "adopt after the last period 2007" in text and "treated throughout" in text
    assert p.df.loc[p.df["countyreal"] == 8001, "did"].eq(0).all()


def test_missing_column_is_named(mpdta):
    with pytest.raises(cm.PanelError, match="'first_treat' not in the panel.*did you mean 'first.treat'"):
        cm.adoption_dummies(mpdta, "first_treat")


def test_study_takes_the_treatment_from_an_adoption_column(tmp_path):
    """A study on a US county panel: treatment from mpdta's first.treat via the config."""
    (tmp_path / "mpdta.csv").write_text((DATA / "mpdta.csv").read_text())
    cfg = tmp_path / "study.toml"
    cfg.write_text(
        '[study]\ntitle = "Minimum wage"\n\n[data]\npath = "mpdta.csv"\nunit = "countyreal"\n'
        'time = "year"\n\n[[prepare.policies]]\nname = "min_wage"\nadoption = "first.treat"\n\n'
        '[variables]\noutcome = "lemp"\ntreatment = "min_wage"\n'
    )
    assert main(["run", str(cfg), "--out", str(tmp_path / "out")]) in (0, 1)
    m = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert m["sections"]["baseline"] == "ok"
    coefs = {c["term"]: c for c in m["results"]["baseline"][-1]["coefs"]}
    p = cm.adoption_dummies(cm.Panel(pd.read_csv(DATA / "mpdta.csv"), "countyreal", "year"),
                            "first.treat", name="min_wage")
    assert coefs["min_wage"]["estimate"] == pytest.approx(cm.twfe(p, "lemp", "min_wage").coef("min_wage"), rel=1e-10)


def test_config_refuses_two_treatment_sources_and_exact_without_calendar(tmp_path):
    from climetrics.errors import ConfigError
    from climetrics.study.config import load_config

    cfg = tmp_path / "s.toml"
    cfg.write_text(
        '[data]\npath = "x.csv"\nunit = "u"\ntime = "t"\n[[prepare.policies]]\nname = "p"\n'
        'adoption = "g"\ncalendar = "c.csv"\n[[prepare.policies]]\nname = "q"\nunit_key = "exact"\n'
        '[variables]\noutcome = "y"\ntreatment = "p"\n'
    )
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    text = str(err.value)
    assert "'prepare.policies[0]' has both 'adoption' and 'calendar'" in text
    assert "'prepare.policies[1].unit_key' = 'exact'" in text

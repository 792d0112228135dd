"""Robustness helpers equal hand-built regressions; the table aligns the treatment row."""

import warnings

import numpy as np
import pytest

import climetrics as cm
from climetrics.errors import ConfigError, EstimationError
from climetrics.estimate.robustness import checks as rb
from climetrics.study.config import parse_config

C = ["lnpgdp", "gov"]


@pytest.fixture(scope="module")
def panel():
    p = cm.simulate(seed=6).panel
    return p.subset(p.df["city"].isin(sorted(p.df["city"].unique())[::2]).to_numpy())


def test_shift_timing_pre_sample_equals_hand_built(panel):
    res = rb.shift_timing(panel, "lnci", "did", C, years=2)
    df = panel.to_frame()
    g = df["adoption_year"]
    df["fake"] = (df["year"] >= g - 2).astype(float)
    keep = g.isna() | (df["year"] < g)
    ref = cm.twfe(cm.Panel(df[keep], "city", "year"), "lnci", "fake", C)
    assert res.coef("did") == pytest.approx(ref.coef("fake"), rel=1e-12)
    assert res.se("did") == pytest.approx(ref.se("fake"), rel=1e-12)
    assert res.n_obs == int(keep.sum()) and res.meta["original_term"] == "did_shift2"
    full = rb.shift_timing(panel, "lnci", "did", C, years=2, sample="full")
    assert full.n_obs == len(df)
    # the real effect starts two years after adoption, so the pre-sample placebo is null
    assert res.pvalue("did") > 0.05
    with pytest.raises(EstimationError, match="positive number"):
        rb.shift_timing(panel, "lnci", "did", C, years=0)


def test_concurrent_policy_dummies_match_calendar(panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = rb.control_concurrent_policies(panel, "lnci", "did", C, policies=["innovative_city_pilot"])
    cal = cm.data.policy_calendar("innovative_city_pilot").set_index("adcode")["adoption_year"]
    df = panel.to_frame()
    df["inn"] = (df["year"] >= df["city"].map(cal)).astype(float)
    ref = cm.twfe(cm.Panel(df, "city", "year"), "lnci", "did", [*C, "inn"])
    assert res.coef("did") == pytest.approx(ref.coef("did"), rel=1e-10)
    assert res.coef("Policy: innovative_city_pilot") == pytest.approx(ref.coef("inn"), rel=1e-10)
    user = cm.data.policy_calendar("innovative_city_pilot")[["adcode", "adoption_year"]].rename(columns={"adcode": "city"})
    with pytest.warns(UserWarning, match="units treated by 'inn' are not in the panel"):
        res2 = rb.control_concurrent_policies(panel, "lnci", "did", C, policies=[], calendars={"inn": user},
                                              unit_key="adcode")
    assert res2.coef("did") == pytest.approx(ref.coef("did"), rel=1e-10)


def test_trim_winsorize_and_index(panel):
    lo, hi = np.quantile(panel.df["lnci"], [0.05, 0.95])
    t = rb.trim_outcome(panel, "lnci", "did", C)
    assert t.n_obs == int(((panel.df["lnci"] >= lo) & (panel.df["lnci"] <= hi)).sum())
    w = rb.winsorize_outcome(panel, "lnci", "did", C, lower=0.1, upper=0.9)
    ref = cm.twfe(panel.winsorize("lnci", 0.1, 0.9), "lnci", "did", C)
    assert w.coef("did") == pytest.approx(ref.coef("did"), rel=1e-12)
    idx = rb.replace_treatment(panel, "lnci", "green_innov", C, show_as="did")
    assert idx.terms[0] == "did" and idx.meta["original_term"] == "green_innov"


def test_table_aligns_checks(panel):
    base = cm.twfe(panel, "lnci", "did", C)
    checks = [rb.shift_timing(panel, "lnci", "did", C), rb.trim_outcome(panel, "lnci", "did", C)]
    tab = rb.RobustnessChecks(base, checks, treat="did", controls=C).table()
    assert tab.header_rows[0] == ["Baseline", "Timing -2y", "Trimmed"]
    assert tab.rows[0][0] == "did" and all(cell for cell in tab.rows[0][1:])
    assert any(n.startswith("(2) Timing -2y: Timing placebo") and "'did_shift2'" in n for n in tab.notes)
    assert any(n.startswith("(3) Trimmed: Outcome trimmed outside its 0.05 and 0.95 quantiles") for n in tab.notes)


def test_config_rejects_unknown_concurrent_policy():
    raw = {"data": {"simulate": {}}, "variables": {"outcome": "y", "treatment": "d"},
           "robustness": {"concurrent_policies": ["low_carbon"], "trim_outcome": [0.9]}}
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    text = str(err.value)
    assert "'robustness.concurrent_policies[0]': no bundled policy 'low_carbon' (did you mean 'low_carbon_pilot'?)" in text
    assert "'robustness.trim_outcome' must be [] or [lower, upper]" in text


def test_expand_provinces_switch(panel):
    import warnings as w

    with w.catch_warnings(record=True) as caught:
        w.simplefilter("always")
        off = rb.control_concurrent_policies(panel, "lnci", "did", C, policies=["low_carbon_pilot"],
                                             expand_provinces=False)
        on = rb.control_concurrent_policies(panel, "lnci", "did", C, policies=["low_carbon_pilot"],
                                            expand_provinces=True)
    assert not any("province-level entries" in str(x.message) for x in caught)
    assert off.coef("Policy: low_carbon_pilot") != on.coef("Policy: low_carbon_pilot")

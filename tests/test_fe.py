"""TWFE against independent implementations on the Grunfeld panel (real public data).

References: statsmodels OLS with explicit firm and year dummies and its cluster-robust
sandwich (independent of pyfixest), and closed-form small-sample factors.
Tolerance: 1e-8 relative for coefficients and standard errors.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

import climetrics as cm
from climetrics.errors import EstimationError, PanelError

DATA = Path(__file__).parent / "data" / "grunfeld.csv"
TOL = 1e-8


@pytest.fixture(scope="module")
def grunfeld() -> pd.DataFrame:
    return pd.read_csv(DATA)


@pytest.fixture(scope="module")
def panel(grunfeld) -> cm.Panel:
    return cm.Panel(grunfeld, unit="firm", time="year")


def _dummies_fit(df, cov="cluster"):
    m = smf.ols("invest ~ value + capital + C(firm) + C(year)", df)
    if cov == "cluster":
        return m.fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(df["firm"])[0]})
    return m.fit(cov_type="HC1")


def test_full_ssc_equals_dummy_variable_ols_cluster(panel, grunfeld):
    res = cm.twfe(panel, "invest", "value", ["capital"], ssc="full")
    ref = _dummies_fit(grunfeld)
    for term in ("value", "capital"):
        np.testing.assert_allclose(res.coef(term), ref.params[term], rtol=TOL)
        np.testing.assert_allclose(res.se(term), ref.bse[term], rtol=TOL)
    assert res.n_obs == 220 and res.n_clusters == 11
    # p-values use t(G-1) as in Stata/fixest
    from scipy import stats

    t = ref.params["value"] / ref.bse["value"]
    np.testing.assert_allclose(res.pvalue("value"), 2 * stats.t.sf(abs(t), 10), rtol=1e-10)


def test_nested_ssc_is_closed_form_rescaling(panel, grunfeld):
    """fixest/reghdfe count the firm FE nested in the firm cluster as one parameter:
    K_nested = 2 slopes + 19 year dummies + 1 = 22 versus K_full = 2 + 10 + 19 + 1 = 32 (11 firms,
    20 years, constant)."""
    res = cm.twfe(panel, "invest", "value", ["capital"])
    ref = _dummies_fit(grunfeld)
    n = 220
    scale = np.sqrt((n - 32) / (n - 22))
    for term in ("value", "capital"):
        np.testing.assert_allclose(res.se(term), ref.bse[term] * scale, rtol=TOL)


def test_nested_ssc_matches_pyfixest_default(panel, grunfeld):
    import pyfixest as pf

    ref = pf.feols("invest ~ value + capital | firm + year", data=grunfeld, vcov={"CRV1": "firm"})
    res = cm.twfe(panel, "invest", "value", ["capital"])
    np.testing.assert_allclose(res.tidy()["std_error"].to_numpy(), ref.se().to_numpy(), rtol=TOL)


def test_hetero_matches_hc1_dummies(panel, grunfeld):
    res = cm.twfe(panel, "invest", "value", ["capital"], cluster=None, vcov="hetero")
    ref = _dummies_fit(grunfeld, cov="hc1")
    for term in ("value", "capital"):
        np.testing.assert_allclose(res.se(term), ref.bse[term], rtol=TOL)
    assert res.cluster is None and res.vcov == "hetero"


def test_pooled_ols_column_with_constant(panel, grunfeld):
    rs = cm.twfe_stepwise(panel, "invest", "value", ["capital"], one_at_a_time=False, pooled_first=True)
    pooled = rs[0]
    ref = smf.ols("invest ~ value", grunfeld).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(grunfeld["firm"])[0]})
    np.testing.assert_allclose(pooled.coef("value"), ref.params["value"], rtol=TOL)
    np.testing.assert_allclose(pooled.coef("_cons"), ref.params["Intercept"], rtol=TOL)
    np.testing.assert_allclose(pooled.se("value"), ref.bse["value"], rtol=TOL)
    assert pooled.fixed_effects == () and rs[1].fixed_effects == ("firm", "year")


def test_stepwise_adds_controls_one_at_a_time(grunfeld):
    df = grunfeld.assign(z=np.random.default_rng(1).normal(size=len(grunfeld)))
    rs = cm.twfe_stepwise(cm.Panel(df, "firm", "year"), "invest", "value", ["capital", "z"])
    assert [r.terms for r in rs] == [["value"], ["value", "capital"], ["value", "capital", "z"]]
    tab = rs.table()
    assert tab.columns == ["(1)", "(2)", "(3)"]
    text = tab.to_text()
    assert "firm FE" in text and "Within R²" in text


def test_collinear_control_is_dropped_and_reported(grunfeld):
    df = grunfeld.assign(cap2=2 * grunfeld["capital"], firm_const=pd.factorize(grunfeld["firm"])[0] * 1.0)
    res = cm.twfe(cm.Panel(df, "firm", "year"), "invest", "value", ["capital", "cap2", "firm_const"])
    assert res.terms == ["value", "capital"]
    assert any("cap2" in n and "firm_const" in n for n in res.notes)
    ref = cm.twfe(cm.Panel(grunfeld, "firm", "year"), "invest", "value", ["capital"])
    np.testing.assert_allclose(res.coef("value"), ref.coef("value"), rtol=TOL)


def test_missing_rows_dropped_and_counted(grunfeld):
    df = grunfeld.copy()
    df.loc[[0, 5, 9], "capital"] = np.nan
    res = cm.twfe(cm.Panel(df, "firm", "year"), "invest", "value", ["capital"])
    assert res.n_obs == 217
    assert any("3 observations with missing values dropped" in n and "capital: 3" in n for n in res.notes)


def _did_panel(treated_units, start=1945):
    rng = np.random.default_rng(0)
    rows = [(u, t) for u in range(8) for t in range(1940, 1950)]
    df = pd.DataFrame(rows, columns=["u", "t"])
    df["d"] = ((df["u"].isin(treated_units)) & (df["t"] >= start)).astype(int)
    df["y"] = rng.normal(size=len(df)) + 0.5 * df["d"]
    df["x"] = rng.normal(size=len(df))
    return cm.Panel(df, "u", "t")


def test_no_treated_units_is_an_error():
    with pytest.raises(EstimationError, match="single value 0"):
        cm.twfe(_did_panel([]), "y", "d", ["x"])


def test_everyone_treated_at_once_is_collinear_with_time_fe():
    with pytest.raises(EstimationError, match="collinear with the fixed effects"):
        cm.twfe(_did_panel(range(8)), "y", "d", ["x"])


def test_time_invariant_treatment_group_is_collinear_with_unit_fe():
    p = _did_panel([0, 1, 2])
    p = p.assign(group=p.df["u"].isin([0, 1, 2]).astype(float).to_numpy())
    with pytest.raises(EstimationError, match="'group' is collinear"):
        cm.twfe(p, "y", "group")


def test_treated_counts_in_meta():
    res = cm.twfe(_did_panel([0, 1, 2]), "y", "d", ["x"])
    assert res.meta["treated_units"] == 3 and res.meta["treated_obs"] == 15 and res.meta["units"] == 8


def test_singletons_are_dropped_and_reported():
    p = _did_panel([0, 1, 2])
    df = p.to_frame()
    df = pd.concat([df, pd.DataFrame({"u": [99], "t": [1941], "d": [0], "y": [1.0], "x": [0.1]})])
    res = cm.twfe(cm.Panel(df, "u", "t"), "y", "d", ["x"])
    assert res.n_obs == 80
    assert any("singleton" in n.lower() for n in res.notes)


def test_bad_arguments_name_the_culprit(panel):
    with pytest.raises(PanelError, match="'valu'.*did you mean 'value'"):
        cm.twfe(panel, "invest", "valu")
    with pytest.raises(PanelError, match="both as treatment and as control"):
        cm.twfe(panel, "invest", "value", ["value"])
    with pytest.raises(PanelError, match="outcome 'invest' also appears"):
        cm.twfe(panel, "invest", "value", ["invest"])

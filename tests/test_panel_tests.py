"""Panel model-selection tests against R plm on the Grunfeld data (plm's version, 10 firms).

Reference: ``tests/data/reference/panel_tests_grunfeld.json`` written by
``tools/reference/panel_tests_plm.R`` (plm 2.6-2) from ``plm::Grunfeld``
(``tests/data/grunfeld_plm.csv``), model ``inv ~ value + capital``, on the balanced panel and on
an unbalanced subset (rows ``dropped_rows`` removed).

Compared to 1e-8 relative: pFtest (individual, time, two-way effects), plmtest (Breusch-Pagan
and Honda; individual, time, two-way), Swamy-Arora random-effects coefficients, covariance and
variance components, phtest (contrast form) and the regression-based phtest, plain and with
``vcovHC`` (cluster-robust HC0).

One documented difference: on *unbalanced* panels plm's regression-based Hausman test uses a
plain constant where the quasi-demeaned regression has ``1 - theta_i``; ours uses
``1 - theta_i``. The public function is compared with plm on the balanced panel (where the two
coincide); on the unbalanced panel the plain-constant variant (a private switch) is compared
with plm, and the public statistic is checked to differ from it.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import climetrics as cm
from climetrics.core.results import EstimationResult
from climetrics.errors import EstimationError, PanelError
from climetrics.estimate.selection import panel_tests as pt

HERE = Path(__file__).parent
REF = json.loads((HERE / "data" / "reference" / "panel_tests_grunfeld.json").read_text())
TOL = 1e-8
X = ["value", "capital"]
CASES = ["balanced", "unbalanced"]


def _frame(case: str) -> pd.DataFrame:
    df = pd.read_csv(HERE / "data" / "grunfeld_plm.csv")
    if case == "unbalanced":
        df = df.drop(index=np.asarray(REF["dropped_rows"]) - 1).reset_index(drop=True)
    return df


@pytest.fixture(scope="module", params=CASES)
def case(request):
    df = _frame(request.param)
    return request.param, cm.Panel(df, unit="firm", time="year"), REF[request.param]


def _close(a, b, tol=TOL):
    np.testing.assert_allclose(a, b, rtol=tol, atol=0)


def test_fixture():
    assert REF["versions"]["plm"] == "2.6.2"
    assert REF["balanced"]["balanced"] and not REF["unbalanced"]["balanced"]
    assert len(pd.read_csv(HERE / "data" / "grunfeld_plm.csv")["firm"].unique()) == 10


@pytest.mark.parametrize("effect,key", [("individual", "pFtest"), ("time", "pFtest_time"),
                                        ("twoways", "pFtest_twoways")])
def test_f_test_matches_pFtest(case, effect, key):
    _, panel, ref = case
    t = pt.f_test_individual_effects(panel, "inv", X, effect=effect)
    _close(t.statistic, ref[key]["statistic"])
    _close(t.p_value, ref[key]["p_value"])
    assert [t.df, t.df_denom] == ref[key]["df"]
    assert t.distribution == "F"
    _close(t.details["ssr_within"] if effect == "individual" else t.details["ssr_pooled"],
           ref["within"]["ssr"] if effect == "individual" else ref["pooling"]["ssr"])


@pytest.mark.parametrize("effect,type_,key", [
    ("individual", "bp", "plmtest_bp"), ("individual", "honda", "plmtest_honda"),
    ("time", "bp", "plmtest_bp_time"), ("twoways", "bp", "plmtest_bp_twoways"),
    ("twoways", "honda", "plmtest_honda_twoways"),
])
def test_lm_test_matches_plmtest(case, effect, type_, key):
    _, panel, ref = case
    t = pt.breusch_pagan_lm(panel, "inv", X, effect=effect, type=type_)
    _close(t.statistic, ref[key]["statistic"])
    _close(t.p_value, ref[key]["p_value"])
    if type_ == "bp":
        assert [t.df] == np.atleast_1d(ref[key]["df"]).tolist()
    else:
        assert t.df is None and t.distribution == "normal"


def test_random_effects_match_plm(case):
    _, panel, ref = case
    re = pt.random_effects(panel, "inv", X)
    r = ref["random"]
    assert isinstance(re, EstimationResult)
    assert re.terms == ["_cons", *X]
    _close(re.coefs["estimate"], list(r["coefficients"].values()))
    _close(re.coefs["std_error"], r["se"])
    _close(re.cov, np.array(r["vcov"]))
    _close(re.stats["sigma2_idios"], r["sigma2_idios"])
    _close(re.stats["sigma2_id"], r["sigma2_id"])
    _close(re.stats["theta"], np.mean(r["theta"]))
    lo, hi = re.meta["theta_range"]
    _close([lo, hi], [np.min(r["theta"]), np.max(r["theta"])])
    assert re.meta["df_t"] == r["df_residual"]
    assert re.model == "RE" and "value" in re.table().to_text()


def test_within_matches_plm(case):
    _, panel, ref = case
    d = pt._prepare(panel, "inv", X, (), "test")
    wi = pt._within(d)
    _close(wi.beta, list(ref["within"]["coefficients"].values()))
    _close(wi.vcov, np.array(ref["within"]["vcov"]))
    assert wi.df_resid == ref["within"]["df_residual"]


def test_hausman_matches_phtest(case):
    _, panel, ref = case
    h = pt.hausman(panel, "inv", X)
    _close(h.statistic, ref["phtest"]["statistic"])
    _close(h.p_value, ref["phtest"]["p_value"])
    assert [h.df] == np.atleast_1d(ref["phtest"]["df"]).tolist()


def test_regression_based_hausman(case):
    name, panel, ref = case
    plain = pt.hausman(panel, "inv", X, method="regression")
    robust = pt.hausman(panel, "inv", X, cluster="unit")
    assert robust.df == plain.df == 2.0
    if name == "balanced":
        _close(plain.statistic, ref["phtest_aux"]["statistic"])
        _close(robust.statistic, ref["phtest_aux_vcovHC"]["statistic"])
        _close(robust.p_value, ref["phtest_aux_vcovHC"]["p_value"])
        return
    # unbalanced: plm's plain constant reproduces plm; our 1 - theta_i version differs
    d = pt._prepare(panel, "inv", X, (), "test")
    wi, re = pt._within(d), pt._swamy_arora(d)
    for rob, key, ours in ((False, "phtest_aux", plain), (True, "phtest_aux_vcovHC", robust)):
        stat, _ = pt._aux_wald(d, wi, re, robust=rob, plain_constant=True)
        _close(stat, ref[key]["statistic"])
        assert abs(ours.statistic / stat - 1) > 1e-3


def test_verdicts_and_table():
    panel = cm.Panel(_frame("balanced"), "firm", "year")
    tests = pt.model_selection_tests(panel, "inv", X, cluster=None)
    f, lm, h = tests
    assert f.reject and f.verdict == "Individual effects are significant: use fixed effects rather than pooled OLS."
    assert lm.reject and "use random effects rather than pooled OLS" in lm.verdict
    assert not h.reject and h.p_value > 0.05 and h.verdict.startswith("Hausman does not reject RE")
    strict = pt.hausman(panel, "inv", X, alpha=0.5)
    assert strict.reject and strict.verdict.startswith("Hausman rejects RE: use FE")
    t = tests.table()
    assert [r[0] for r in t.rows] == [f.name, lm.name, h.name]
    assert t.columns == ["Distribution", "Statistic", "p-value", "Conclusion"]
    assert t.rows[0][1] == "F(9, 188)" and t.rows[1][1] == "chi2(1)" and t.rows[2][1] == "chi2(2)"
    assert "***" in t.rows[0][2]
    for render in (t.to_text(), tests.to_markdown(), tests.to_html(), tests.to_latex()):
        assert "Hausman" in render
    assert "p =" in repr(h) and h.to_dict()["reject"] is False
    assert len(f.table().rows) == 1


def test_missing_values_dropped_with_note():
    df = _frame("balanced")
    df.loc[[3, 50], "value"] = np.nan
    panel = cm.Panel(df, "firm", "year")
    t = pt.f_test_individual_effects(panel, "inv", X)
    assert (t.df, t.df_denom) == (9.0, 186.0)
    assert any("2 observations" in n for n in t.notes)
    assert any("2 observations" in n for n in pt.model_selection_tests(panel, "inv", X).table().notes)


def test_degenerate_inputs():
    df = _frame("balanced")
    df["size"] = df["firm"].map(lambda f: float(f * f % 7))  # time-invariant
    df["mean_value"] = df.groupby("firm")["value"].transform("mean")
    panel = cm.Panel(df, "firm", "year")
    with pytest.raises(EstimationError, match="constant within"):
        pt.f_test_individual_effects(panel, "inv", ["size"])
    with pytest.raises(PanelError):
        pt.hausman(panel, "inv", ["inv", "value"])
    with pytest.raises(PanelError):
        pt.breusch_pagan_lm(panel, "inv", ["no_such"])
    with pytest.raises(ValueError, match="effect"):
        pt.f_test_individual_effects(panel, "inv", X, effect="unit")
    with pytest.raises(ValueError, match="cluster"):
        pt.hausman(panel, "inv", X, cluster="unit", method="contrast")
    few = cm.Panel(df[df["firm"] <= 3], "firm", "year")
    with pytest.raises(EstimationError, match="more units"):
        pt.random_effects(few, "inv", ["value", "capital", "size"])
    with pytest.raises(EstimationError, match="between"):
        pt.random_effects(panel, "inv", ["value", "mean_value"])
    # a time-invariant regressor is kept by RE and left out of the Hausman contrast
    h = pt.hausman(panel, "inv", ["value", "capital", "size"])
    assert h.df == 2.0

"""The result protocol (issue 13) for every public result of estimate/did, estimate/endogeneity
and estimate/selection: tidy() with the seven standard columns first, table() rendering to
markdown / html / latex (and so ``_repr_html_`` for Jupyter), summary() JSON-serialisable,
reading() a non-empty sentence, results a list of EstimationResult, plot() a Figure where the
result has one, hypothesis tests as TestResult. Readings are checked on data whose truth is
known (simulated designs, closed-form IV designs), and the study config's defaults are checked
against the functions' own."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import climetrics as cm
from climetrics.core.results import TIDY_COLUMNS, EstimationResult, Result, TestResult, TestSet
from climetrics.estimate.did.bacon import bacon_decomposition, twfe_weights
from climetrics.estimate.did.callaway_santanna import callaway_santanna
from climetrics.estimate.did.imputation import did_imputation
from climetrics.estimate.did.staggered import compare_estimators
from climetrics.estimate.did.sun_abraham import sun_abraham
from climetrics.estimate.endogeneity.gmm import dynamic_gmm
from climetrics.estimate.endogeneity.iv import iv_2sls
from climetrics.estimate.selection import panel_tests as pt
from climetrics.estimate.selection.nonlinear import polynomial_fe

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def mpdta() -> cm.Panel:
    df = pd.read_csv(DATA / "mpdta.csv")
    df["D"] = ((df["first.treat"] > 0) & (df["year"] >= df["first.treat"])).astype(float)
    return cm.Panel(df, "countyreal", "year")


@pytest.fixture(scope="module")
def sim():
    return cm.simulate(seed=1)


@pytest.fixture(scope="module")
def grunfeld() -> cm.Panel:
    return cm.Panel(pd.read_csv(DATA / "grunfeld_plm.csv"), "firm", "year")


@pytest.fixture(scope="module")
def empl() -> cm.Panel:
    df = pd.read_csv(DATA / "emplUK.csv")
    for c in ("emp", "wage", "capital"):
        df["l" + c] = np.log(df[c])
    return cm.Panel(df, "firm", "year")


def _iv_design(pi: float, n_units: int = 60, n_periods: int = 6, seed: int = 0) -> cm.Panel:
    """y = 0.5 x + unit + period + u, x = pi z + v + 0.8 u (x endogenous), z exogenous."""
    rng = np.random.default_rng(seed)
    n = n_units * n_periods
    unit, t = np.repeat(np.arange(n_units), n_periods), np.tile(np.arange(n_periods), n_units)
    z, u, v = rng.normal(size=n), rng.normal(size=n), rng.normal(size=n)
    x = pi * z + v + 0.8 * u
    y = 0.5 * x + 0.3 * unit / n_units + 0.1 * t + u
    return cm.Panel(pd.DataFrame({"id": unit, "t": t, "x": x, "z": z, "y": y, "w": rng.normal(size=n)}), "id", "t")


@pytest.fixture(scope="module")
def results(mpdta, sim, grunfeld, empl):
    """One instance of every public result of the three folders."""
    cs = callaway_santanna(mpdta, "lemp", adoption="first.treat", n_draws=99, seed=1)
    iv = iv_2sls(_iv_design(1.0), "y", "x", "z", "w")
    poly = polynomial_fe(sim.panel, "lnci", "lnpgdp", ["gov"])
    gmm = dynamic_gmm(empl, "lemp", {"lwage": [0, 1]}, {"lcapital": 0}, lags=1)
    ms = pt.model_selection_tests(grunfeld, "inv", "value", "capital")
    return {
        "CallawaySantAnna": cs,
        "CSAggregate(dynamic)": cs.aggregate("dynamic"),
        "CSAggregate(simple)": cs.aggregate("simple"),
        "SunAbraham": sun_abraham(mpdta, "lemp", adoption="first.treat"),
        "Imputation": did_imputation(mpdta, "lemp", adoption="first.treat"),
        "BaconDecomposition": bacon_decomposition(mpdta, "lemp", "D"),
        "TWFEWeights": twfe_weights(mpdta, "D"),
        "EstimatorComparison": compare_estimators(mpdta, "lemp", adoption="first.treat"),
        "IVResult": iv,
        "WeakIVDiagnostics": iv.diagnostics,
        "ARConfidenceSet": iv.ar_confidence_set(),
        "AndersonRubin": iv.anderson_rubin,
        "GMMResult": gmm,
        "GMM tests": gmm.tests,
        "PolynomialResult": poly,
        "TurningPoint": poly.turning_points[0] if poly.turning_points else
        polynomial_fe(sim.panel, "lnci", "gov").turning_points[0],
        "UTest": poly.utest,
        "FiellerInterval": poly.utest.fieller,
        "TestSet (model selection)": ms,
        "F test": ms[0],
        "Hausman": ms[2],
        "RandomEffects": pt.random_effects(grunfeld, "inv", "value", "capital"),
    }


FIGURES = {"CallawaySantAnna", "CSAggregate(dynamic)", "BaconDecomposition", "EstimatorComparison",
           "PolynomialResult"}
TESTS = {"AndersonRubin", "UTest", "F test", "Hausman"}


def test_every_result_follows_the_protocol(results):
    import matplotlib.figure

    for name, res in results.items():
        assert isinstance(res, Result), name
        tidy = res.tidy()
        assert isinstance(tidy, pd.DataFrame) and list(tidy.columns[:7]) == TIDY_COLUMNS, name
        assert len(tidy) >= 1, name
        md, html, tex = res.to_markdown(), res.to_html(), res.to_latex()
        assert md.strip() and "<table" in html and "\\begin{tabular" in tex, name
        assert res._repr_html_() == html, name
        if name != "BaconDecomposition":  # its repr names the decomposition, then the table by type
            assert not repr(res).startswith(type(res).__name__ + "("), name  # not the dataclass dump
        summary = res.summary()
        assert isinstance(summary, dict) and summary, name
        json.dumps(summary, allow_nan=False)
        text = res.reading()
        assert isinstance(text, str) and len(text) > 20 and "nan" not in text.lower().split(), name
        regs = res.results
        assert isinstance(regs, list) and all(isinstance(r, EstimationResult) for r in regs), name
        if name in FIGURES:
            assert isinstance(res.plot(), matplotlib.figure.Figure), name
        else:
            with pytest.raises(NotImplementedError):
                res.plot()
        if name in TESTS:
            assert isinstance(res, TestResult) and np.isfinite(res.statistic) and 0 <= res.p_value <= 1, name
    import matplotlib.pyplot as plt

    plt.close("all")


def test_estimates_carry_their_regressions(results):
    """`results` is what the section stores: the regressions behind each result."""
    assert [r.model for r in results["IVResult"].results] == ["2SLS first stage", "2SLS"]
    assert results["PolynomialResult"].results[0].terms[:2] == ["lnpgdp", "lnpgdp^2"]
    assert [r.model for r in results["EstimatorComparison"].results] == [
        "TWFE", "Callaway-Sant'Anna", "Sun-Abraham", "Imputation (BJS)"]
    assert results["CallawaySantAnna"].results[0].terms[0] == "ATT(2004,2004)"


def test_tests_are_test_results(results):
    gmm_tests = results["GMM tests"]
    assert isinstance(gmm_tests, TestSet) and [t.name for t in gmm_tests] == [
        "Arellano-Bond AR(1)", "Arellano-Bond AR(2)", "Sargan", "Hansen"]
    st = results["GMMResult"].stats
    assert gmm_tests[1].statistic == st["ar2"] and gmm_tests[1].p_value == st["ar2_p"]
    assert gmm_tests[3].statistic == st["hansen"] and gmm_tests[3].df == st["hansen_df"]
    assert all(t.alpha == 0.1 for t in gmm_tests)  # read at 10%, as the reading says
    assert gmm_tests[1].reject == (st["ar2_p"] < 0.1)
    assert all(isinstance(t, TestResult) for t in results["WeakIVDiagnostics"].tests)
    assert all(isinstance(t, TestResult) for t in results["TestSet (model selection)"])
    ar = results["IVResult"].ar_test(0.5)
    assert isinstance(ar, TestResult) and ar.distribution == "F" and ar.details["beta0"] == 0.5


# ------------------------------------------------------------------ readings on known truths
def test_iv_reading_says_weak_or_strong_by_design():
    """Known first stages: pi = 1 (F in the hundreds) reads as not weak; pi = 0.02 (population
    F about 1) reads as weak and sends the reader to the Anderson-Rubin test."""
    strong = iv_2sls(_iv_design(1.0), "y", "x", "z")
    weak = iv_2sls(_iv_design(0.02, seed=3), "y", "x", "z")
    assert strong.diagnostics.first_stage_F["x"] > 100 and weak.diagnostics.first_stage_F["x"] < 10
    assert "not weak" in strong.reading() and "rely on it" not in strong.reading()
    assert "is weak" in weak.reading() and "rely on it rather than the 2SLS t-test" in weak.reading()
    assert abs(strong.coef("x") - 0.5) < 3 * strong.se("x")  # truth 0.5


def test_comparison_advises_robust_estimates_only_when_they_differ():
    """Homogeneous, immediate effects (heterogeneity 0, lag 0): TWFE is unbiased and the
    reading must not advise against it. The biased staggered design of test_staggered is
    flagged there (test_compare_estimators_flags_twfe)."""
    sim = cm.simulate(seed=2, heterogeneity=0.0, lag=0)
    cmp = compare_estimators(sim.panel, "lnci", treat="did")
    assert cmp.differs == [] and "prefer" not in cmp.reading()
    assert "within their sampling uncertainty" in cmp.reading()


def test_cs_reading_on_simulated_truth(sim):
    """Simulated effect (truth ATT -0.040, lagged 2 years): CS finds a significant negative
    average and no significant pre-treatment estimates at 5% beyond chance."""
    cs = callaway_santanna(sim.panel, "lnci", treat="did", n_draws=0)
    simple = cs.aggregate("simple")
    assert abs(simple.att - sim.truth["att"]) < 3 * simple.se
    text = cs.reading()
    assert "significant at the 1% level" in text and f"{simple.att:.4f}" in text
    assert "By event time" in text and "pre-treatment estimate" in text


def test_gmm_and_model_selection_readings(results):
    """emplUK: Arellano & Bond's model passes AR(2) (p about 0.6); grunfeld: the F test prefers
    fixed effects, Hausman (cluster-robust) does not reject RE at 5%."""
    gmm = results["GMMResult"]
    assert gmm.stats["ar2_p"] > 0.1 and "no second-order serial correlation" in gmm.reading()
    assert gmm.reading().startswith(f"With the lagged outcome on the right-hand side, lwage is {gmm.coef('lwage'):.4f}")
    ms = results["TestSet (model selection)"]
    assert ms[0].reading().startswith("Individual effects are significant")
    assert ms.reading().count(".") >= 3


# ------------------------------------------------------------------ defaults live in the function
def _default(func, name):
    return inspect.signature(func).parameters[name].default


def test_study_config_defaults_equal_function_defaults():
    """[gmm] and [model_selection] only override the functions: their defaults are the same."""
    from climetrics.study.config import SCHEMA

    g = SCHEMA["gmm"]
    for key in ("method", "steps", "lags", "collapse"):
        assert g[key].default == _default(dynamic_gmm, key), key
    robust = SCHEMA["model_selection"]["robust_hausman"].default
    assert ("unit" if robust else None) == _default(pt.model_selection_tests, "cluster")
    assert SCHEMA["nonlinear"]["degree"].default == _default(polynomial_fe, "degree")


def test_vocabulary():
    """The shared argument names (issue 13) on every public estimator of the three folders."""
    for func in (callaway_santanna, sun_abraham, did_imputation, compare_estimators):
        params = inspect.signature(func).parameters
        assert {"adoption", "treat", "controls", "cluster", "alpha"} <= set(params), func.__name__
        assert "group" not in params and "covariates" not in params and "n_boot" not in params
    assert "n_draws" in inspect.signature(callaway_santanna).parameters
    for func in (iv_2sls, polynomial_fe, dynamic_gmm, pt.hausman, pt.model_selection_tests,
                 pt.f_test_individual_effects, pt.breusch_pagan_lm, pt.random_effects):
        params = list(inspect.signature(func).parameters)
        assert params[:3] == ["panel", "y", "treat"] and "alpha" in params, func.__name__
        assert not {"x", "endog", "robust", "time_effects", "robust_hausman"} & set(params), func.__name__

"""The result protocol (issue 13) for baseline, robustness and mechanism results, and the
readings of issue 15 on simulated scenarios whose truth is known.

Every public result class of estimate/baseline, estimate/robustness and estimate/mechanisms:
``tidy()`` starts with the seven tidy columns, ``table()`` renders to markdown / html / latex,
``summary()`` survives ``json.dumps``, ``reading()`` is a non-empty sentence, ``results`` is a
list of EstimationResult, ``plot()`` returns a matplotlib Figure where a figure exists; test-like
outputs are TestResult / TestSet.
"""

import json

import numpy as np
import pandas as pd
import pytest

import climetrics as cm
from climetrics.core.results import (
    TIDY_COLUMNS,
    EstimationResult,
    Result,
    ResultSet,
    TestResult,
    TestSet,
)
from climetrics.estimate.baseline.event_study import event_study
from climetrics.estimate.mechanisms.heterogeneity import heterogeneity
from climetrics.estimate.mechanisms.mediation import mediation
from climetrics.estimate.robustness import checks as rb
from climetrics.estimate.robustness.placebo import placebo_test
from climetrics.estimate.robustness.psm import Balance, psm_did

X = ["lnpgdp", "gov", "str", "lnpden"]


@pytest.fixture(scope="module")
def sim():
    return cm.simulate(seed=1)


@pytest.fixture(scope="module")
def small(sim):
    """Every third city: fast, still staggered."""
    df = sim.panel.df
    keep = df["city"].isin(sorted(df["city"].unique())[::3])
    return sim.panel.subset(keep.to_numpy())


def _results(small):
    base = cm.twfe(small, "lnci", "did", X)
    checks = [rb.shift_timing(small, "lnci", "did", X), rb.trim_outcome(small, "lnci", "did", X)]
    med = mediation(small, "lnci", "did", "green_innov", X, n_draws=20, seed=1)
    psm = psm_did(small, "lnci", "did", X, bandwidth=0.2, weighted=True)
    return {
        "twfe": (base, False),
        "twfe_stepwise": (cm.twfe_stepwise(small, "lnci", "did", X), False),
        "event_study": (event_study(small, "lnci", treat="did", controls=X, window=(-3, 3)), True),
        "placebo": (placebo_test(small, "lnci", "did", X, n_draws=30, seed=1), True),
        "placebo_time": (placebo_test(small, "lnci", "did", X, kind="time", n_draws=30, seed=1), True),
        "robustness": (rb.RobustnessChecks(base, checks, treat="did", controls=X), False),
        "psm_did": (psm, True),
        "balance": (psm.balance, False),
        "mediation": (med, False),
        "mediation_path": (med["green_innov"], False),
        "heterogeneity": (heterogeneity(small, "lnci", "did", X, by="income", n_draws=19), True),
    }


@pytest.fixture(scope="module")
def results(small):
    return _results(small)


CASES = ["twfe", "twfe_stepwise", "event_study", "placebo", "placebo_time", "robustness", "psm_did", "balance",
         "mediation", "mediation_path", "heterogeneity"]


@pytest.mark.parametrize("name", CASES)
def test_protocol(results, name):
    import matplotlib.figure

    res, has_plot = results[name]
    assert isinstance(res, Result)
    tidy = res.tidy()
    assert isinstance(tidy, pd.DataFrame) and len(tidy) > 0
    assert list(tidy.columns[:7]) == TIDY_COLUMNS
    assert np.isfinite(tidy["estimate"].to_numpy(float)).any()
    tab = res.table()
    for text in (tab.to_markdown(), tab.to_html(), tab.to_latex(), res.to_markdown(), res._repr_html_()):
        assert isinstance(text, str) and len(text) > 50
    s = res.summary()
    assert isinstance(s, dict) and s
    json.dumps(s)
    assert isinstance(res.reading(), str) and len(res.reading()) > 20
    out = res.results
    assert isinstance(out, list) and all(isinstance(r, EstimationResult) for r in out)
    assert name == "balance" or len(out) >= 1
    if has_plot:
        assert isinstance(res.plot(), matplotlib.figure.Figure)
    else:
        with pytest.raises(NotImplementedError):
            res.plot()


def test_one_return_type(results):
    assert type(results["twfe"][0]) is EstimationResult
    rs = results["twfe_stepwise"][0]
    assert isinstance(rs, ResultSet) and [r.terms[:1] for r in rs] == [["did"]] * 5
    assert rs.last.coef("did") == results["twfe"][0].coef("did")


def test_tests_are_test_results(results):
    het = results["heterogeneity"][0]
    assert isinstance(het.wald, TestResult) and het.wald.distribution == "F"
    assert isinstance(het.permutation, TestResult) and het.permutation.distribution == "randomization"
    assert isinstance(het.tests, TestSet) and len(het.tests) == 2
    path = results["mediation_path"][0]
    assert isinstance(path.tests, TestSet) and [t.name for t in path.tests] == ["Sobel", "Aroian", "Goodman"]
    assert path.test("sobel").distribution == "normal"
    pl = results["placebo"][0]
    assert pl.test.distribution == "randomization" and pl.test.p_value == pl.p_two_sided
    bal = results["balance"][0].tests
    assert isinstance(bal, TestSet) and all(t.distribution in ("t", "chi2") for t in bal)
    t_matched = next(t for t in bal if t.name == "lnpgdp (Matched): equal means")
    row = results["balance"][0].frame.set_index(["variable", "sample"]).loc[("lnpgdp", "Matched")]
    assert t_matched.statistic == row["t"] and t_matched.p_value == row["p_value"]


def test_cluster_none_means_no_clustering(small):
    """cluster=None gives heteroskedasticity-robust SEs everywhere (no cluster count)."""
    fits = [
        cm.twfe(small, "lnci", "did", X, cluster=None),
        event_study(small, "lnci", treat="did", controls=X, window=(-3, 3), cluster=None).fit,
        placebo_test(small, "lnci", "did", X, n_draws=5, cluster=None).actual,
        psm_did(small, "lnci", "did", X, bandwidth=0.2, cluster=None).did,
        *mediation(small, "lnci", "did", "green_innov", X, n_draws=0, cluster=None).results,
        *heterogeneity(small, "lnci", "did", X, by="income", n_draws=0, cluster=None).results,
    ]
    for r in fits:
        assert r.cluster is None and r.n_clusters is None and r.vcov == "hetero"


# ------------------------------------------------------------------ readings (issue 15)
def test_event_study_reading_does_not_date_an_onset(sim):
    """Truth: no effect at k = 0, 1 (effects start two years after adoption). Whatever is
    significant, the reading lists event times and never infers a "lagged onset"."""
    es = event_study(sim.panel, "lnci", treat="did", controls=X, window=(-4, 4))
    assert sim.truth["effect_by_event_time"][1] == 0
    text = es.reading()
    assert "onset" not in text and "lagged" not in text
    post = es.coefs[(es.coefs["k"] >= 0) & (es.coefs["p_value"] < 0.05)]
    assert f"{len(post)} of 5 post-adoption coefficients" in text
    assert "(event times " + ", ".join(post["label"]) + ")" in text
    # one significant coefficient among several is flagged as possibly chance
    one = event_study(sim.panel, "lnci", treat="did", controls=X, window=(-4, 4))
    post_rows = one.coefs["k"] >= 0
    one.coefs.loc[post_rows, "p_value"] = 0.5
    one.coefs.loc[one.coefs["k"] == 1, "p_value"] = 0.01
    text = one.reading()
    assert "1 of 5 post-adoption coefficients is significant at 5% (event time 1)" in text
    assert "does not date when an effect starts" in text


def test_in_time_placebo_full_sample_does_not_support_when_draws_are_significant(small):
    """Real treated units with random dates on the full sample: the draws inherit the real
    effect and are mostly significant; the reading must not call the effect tied to the dates."""
    res = placebo_test(small, "lnci", "did", X, kind="time", sample="full", n_draws=60, seed=2)
    assert res.share_significant > 0.5
    text = res.reading()
    assert "does NOT support" in text and "tied to the real adoption dates" not in text
    assert "pre-adoption sample" in text


def test_in_time_placebo_pre_sample_supports_a_real_effect(small):
    res = placebo_test(small, "lnci", "did", X, kind="time", n_draws=99, seed=2)
    assert res.sample == "pre" and res.share_significant <= 0.10
    assert res.p_two_sided == pytest.approx(1 / 100)
    assert "tied to the real adoption dates" in res.reading()


def test_placebo_without_effect_does_not_support():
    s = cm.simulate(seed=8, effect=0.0, mediator_a=0.0)
    res = placebo_test(s.panel, "lnci", "did", X, n_draws=99, seed=3)
    assert res.p_two_sided > 0.05
    assert "does NOT support" in res.reading()


def test_balance_reading_names_worst_covariate():
    frame = pd.DataFrame({"variable": ["a", "a", "b", "b"], "sample": ["Unmatched", "Matched"] * 2,
                          "bias": [40.0, -3.0, 50.0, 12.5], "p_value": [0.0, 0.6, 0.0, 0.04]})
    text = Balance(frame, pd.DataFrame()).reading()
    assert "largest standardized bias is 12.5% (b)" in text and "1 of 2 covariates still differ at 10%" in text
    assert "balance is imperfect" in text
    frame.loc[3, "bias"] = 4.0
    assert "balance is acceptable" in Balance(frame, pd.DataFrame()).reading()


def test_heterogeneity_reading_follows_the_wald_test(sim):
    """Truth: the effect differs by income (seed design); the Wald test rejects and the reading
    names the stronger group; with a random grouping it does not."""
    res = heterogeneity(sim.panel, "lnci", "did", X, by="income", split="mean", n_draws=0)
    t = sim.truth
    stronger = "high" if abs(t["att_high_income"]) > abs(t["att_low_income"]) else "low"
    assert res.wald.p_value < 0.05
    assert f"strongest in the {stronger} group" in res.reading()
    rng = np.random.default_rng(0)
    units = sim.panel.df["city"].unique()
    coin = pd.Series(rng.integers(0, 2, len(units)), index=units)
    p = sim.panel.assign(coin=sim.panel.df["city"].map(coin).to_numpy())
    res = heterogeneity(p, "lnci", "did", X, by="coin", split="category", n_draws=0)
    assert res.wald.p_value > 0.5  # 0.666 with this seed: a coin flip has no true difference
    assert "do not show a reliable difference" in res.reading() and "strongest" not in res.reading()

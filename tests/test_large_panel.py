"""The large-panel path of twfe / event_study (engine="within") against the pyfixest path.

The within path demeans once with climetrics' own FixedEffects and computes OLS and the CRV1
sandwich itself; pyfixest (independent code, validated against statsmodels dummy regressions in
test_fe.py) is the reference. Tolerance: 1e-8 relative for coefficients, standard errors and R²;
counts equal. Timing and memory on 1,000,000 rows are measured in bench/bench_large_panel.py.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import climetrics as cm

TOL = 1e-8
X = ["lnpgdp", "gov", "str"]


def _same(a, b):
    assert a.terms == b.terms
    np.testing.assert_allclose(a.coefs["estimate"], b.coefs["estimate"], rtol=TOL)
    np.testing.assert_allclose(a.coefs["std_error"], b.coefs["std_error"], rtol=TOL)
    np.testing.assert_allclose(a.coefs["p_value"], b.coefs["p_value"], rtol=1e-6, atol=1e-14)
    assert a.n_obs == b.n_obs and a.n_clusters == b.n_clusters
    assert a.stats["r2"] == pytest.approx(b.stats["r2"], rel=TOL)
    assert a.stats["r2_within"] == pytest.approx(b.stats["r2_within"], rel=TOL)


@pytest.fixture(scope="module")
def grunfeld():
    df = pd.read_csv(Path(__file__).parent / "data" / "grunfeld.csv")
    return cm.Panel(df, unit="firm", time="year")


@pytest.fixture(scope="module")
def sim():
    """Unbalanced simulated city panel: 1% missing values, 40 city-years removed at random."""
    p = cm.simulate(seed=6, missing_rate=0.01).panel
    drop = np.random.default_rng(1).choice(len(p.df), 40, replace=False)
    keep = np.ones(len(p.df), bool)
    keep[drop] = False
    p = p.subset(keep)
    return p.assign(prov_year=p.df["province"].astype(str) + "-" + p.df["year"].astype(str))


@pytest.mark.parametrize("ssc", ["nested", "full"])
def test_grunfeld_within_equals_pyfixest(grunfeld, ssc):
    kw = dict(ssc=ssc)
    a = cm.twfe(grunfeld, "invest", "value", ["capital"], engine="within", **kw)
    b = cm.twfe(grunfeld, "invest", "value", ["capital"], engine="pyfixest", **kw)
    assert a.meta["engine"] == "within" and b.meta["engine"] == "pyfixest"
    _same(a, b)


def test_three_fixed_effects_unbalanced_with_missing_values(sim):
    """Unit + year + province-year FE (alternating projections), clustered by city."""
    kw = dict(fe=["city", "year", "prov_year"])
    a = cm.twfe(sim, "lnci", "did", X, engine="within", **kw)
    b = cm.twfe(sim, "lnci", "did", X, engine="pyfixest", **kw)
    _same(a, b)
    assert any("missing values dropped" in n for n in a.notes)


def test_collinear_control_and_singletons_handled_alike(sim):
    """A control constant within cities is dropped with the same note; a city observed once is
    a singleton dropped by both paths."""
    first = sim.df.groupby("city").cumcount() == 0
    lone = sim.df["city"] == sim.df["city"].iloc[0]
    p = sim.subset((~lone | first).to_numpy())
    p = p.assign(coastal_f=p.df["coastal"].astype(float))
    a = cm.twfe(p, "lnci", "did", [*X, "coastal_f"], engine="within")
    b = cm.twfe(p, "lnci", "did", [*X, "coastal_f"], engine="pyfixest")
    _same(a, b)
    assert "coastal_f" not in a.terms
    assert any("coastal_f" in n for n in a.notes)
    assert any("1 singleton" in n for n in a.notes)


def test_event_study_within_equals_pyfixest(sim):
    a = cm.event_study(sim, "lnci", treat="did", controls=X, window=(-4, 4), engine="within")
    b = cm.event_study(sim, "lnci", treat="did", controls=X, window=(-4, 4), engine="pyfixest")
    np.testing.assert_allclose(a.coefs["estimate"], b.coefs["estimate"], rtol=TOL, atol=1e-14)
    np.testing.assert_allclose(a.coefs["std_error"], b.coefs["std_error"], rtol=TOL, atol=1e-14)
    assert a.pretrend.statistic == pytest.approx(b.pretrend.statistic, rel=1e-8)


def test_auto_engine_is_climetrics_own_fit(sim):
    assert cm.twfe(sim, "lnci", "did", X).meta["engine"] == "within"
    assert cm.twfe(sim, "lnci", "did", X, engine="pyfixest").meta["engine"] == "pyfixest"
    with pytest.raises(ValueError, match="engine must be one of"):
        cm.twfe(sim, "lnci", "did", X, engine="dask")


@pytest.mark.parametrize("fe", [None, [], ["city"]])
@pytest.mark.parametrize("cluster,vcov", [("unit", "hetero"), (None, "hetero"), (None, "iid")])
def test_own_fit_equals_pyfixest_for_every_vcov(fe, cluster, vcov):
    """Estimates, SEs, t-statistics and degrees of freedom of climetrics' fit equal pyfixest's
    ``feols`` (demeaning tolerance 1e-14) with and without fixed effects and clustering."""
    import warnings

    import pyfixest as pf

    p = cm.simulate(seed=1, missing_rate=0.05).panel
    a = cm.twfe(p, "lnci", "did", X, fe=fe, cluster=cluster, vcov=vcov)
    df = p.df.dropna(subset=["lnci", "did", *X])
    fes = ["city", "year"] if fe is None else fe
    fml = "lnci ~ did + " + " + ".join(X) + (f" | {' + '.join(fes)}" if fes else "")
    vc = {"CRV1": "city"} if cluster else vcov
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ssc = pf.ssc(k_fixef="nonnested") if cluster else pf.ssc(k_fixef="full")
        ref = pf.feols(fml, data=df, vcov=vc, ssc=ssc, fixef_tol=1e-14)
    names = ["Intercept" if t == "_cons" else t for t in a.terms]
    for col, got in (("estimate", ref.coef()), ("std_error", ref.se()), ("statistic", ref.tstat())):
        np.testing.assert_allclose(a.coefs[col].to_numpy(), got[names].to_numpy(), rtol=1e-8)
    assert a.meta["df_t"] == pytest.approx(float(np.atleast_1d(ref._df_t)[0]))


@pytest.mark.parametrize("fe", [None, ["city"], []])
@pytest.mark.parametrize("cluster,vcov", [("unit", "hetero"), (None, "hetero"), (None, "iid")])
def test_weighted_fit_equals_pyfixest(fe, cluster, vcov):
    """Regression weights (issue 14): estimates, SEs and t equal pyfixest ``feols(weights=)``
    with population-like weights, for every vcov, to 1e-8; the event study passes them on."""
    import warnings

    import pyfixest as pf

    sim = cm.simulate(seed=2)
    rng = np.random.default_rng(0)
    pop = rng.uniform(0.5, 5.0, sim.panel.df["city"].nunique())
    p = sim.panel.assign(pop=pop[pd.factorize(sim.panel.df["city"])[0]])
    a = cm.twfe(p, "lnci", "did", X, fe=fe, cluster=cluster, vcov=vcov, weights="pop")
    fes = ["city", "year"] if fe is None else fe
    fml = "lnci ~ did + " + " + ".join(X) + (f" | {' + '.join(fes)}" if fes else "")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ssc = pf.ssc(k_fixef="nonnested") if cluster else pf.ssc(k_fixef="full")
        ref = pf.feols(fml, data=p.df, vcov={"CRV1": "city"} if cluster else vcov, ssc=ssc,
                       weights="pop", fixef_tol=1e-14)
    names = ["Intercept" if t == "_cons" else t for t in a.terms]
    for col, got in (("estimate", ref.coef()), ("std_error", ref.se()), ("statistic", ref.tstat())):
        np.testing.assert_allclose(a.coefs[col].to_numpy(), got[names].to_numpy(), rtol=1e-8)
    unweighted = cm.twfe(p, "lnci", "did", X, fe=fe, cluster=cluster, vcov=vcov)
    assert abs(unweighted.coef("did") - a.coef("did")) > 1e-6  # the weights matter here
    if fe is None and cluster:
        es = cm.event_study(p, "lnci", treat="did", controls=X, window=(-3, 3), weights="pop")
        plain = cm.event_study(p, "lnci", treat="did", controls=X, window=(-3, 3))
        assert not np.allclose(es.coefs["estimate"], plain.coefs["estimate"])


def test_weights_must_be_positive():
    p = cm.simulate(seed=2).panel
    w = np.ones(len(p.df))
    w[5] = 0.0
    with pytest.raises(cm.PanelError, match="weights 'w' must be positive.*has 0.0"):
        cm.twfe(p.assign(w=w), "lnci", "did", X, weights="w")

"""Wild cluster bootstrap (climetrics.core.wild_bootstrap) against independent references.

* Monte Carlo: pyfixest's ``Feols.wildboottest`` (the ``wildboottest`` package, FE as explicit
  dummy columns) on the Munnell (1990) US-states panel (plm::Produc, 48 state clusters) with the
  same weights type; two independent Monte Carlo estimates with B draws each differ by at most
  ``4 * sqrt(2 p (1 - p) / B)`` (four standard deviations of the difference).
* Exact: full enumeration of the 2^11 Rademacher sign vectors on Grunfeld's investment panel
  (11 firm clusters) against a brute-force loop of 2,048 dummy-variable regressions and against
  wildboottest's own enumeration (bootstrap t's equal to 1e-8 relative, p-values identical).
* Test inversion: the interval endpoints are where the bootstrap p-value crosses alpha.
* Closed forms: WCR draws v = +-1 reproduce +-t; the WCU symmetric interval is
  ``beta +- s_(m) se`` with ``s_(m)`` the ``m = ceil(alpha B)``-th largest ``|t*|``.
"""

from __future__ import annotations

import itertools
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import climetrics as cm
from climetrics.core.replicate import Backend
from climetrics.core.wild_bootstrap import (
    WildOptions,
    _p_value,
    few_clusters_notes,
    needs_wild,
    wild_bootstrap_test,
)
from climetrics.errors import ConfigError, EstimationError

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def produc() -> pd.DataFrame:
    df = pd.read_csv(DATA / "produc_plm.csv")
    df["sid"] = pd.factorize(df["state"])[0]  # wildboottest's numba kernel needs numeric ids
    return df


@pytest.fixture(scope="module")
def grunfeld() -> pd.DataFrame:
    df = pd.read_csv(DATA / "grunfeld.csv")
    df["fid"] = pd.factorize(df["firm"], sort=True)[0]
    return df


def _codes(s: pd.Series) -> np.ndarray:
    return pd.factorize(s, sort=True)[0]


def _produc_test(df, term, **opts):
    regs = ["lpcap", "lpc", "lemp", "unemp"]
    (res,) = wild_bootstrap_test(
        df["lgsp"].to_numpy(float), df[regs].to_numpy(float), regs,
        [_codes(df["state"]), _codes(df["year"])], _codes(df["state"]), terms=[term],
        options=WildOptions(**opts),
    )
    return res


# ------------------------------------------------------------------ Monte Carlo reference
@pytest.mark.slow
@pytest.mark.parametrize(
    ("term", "weights_type", "impose_null"),
    [("unemp", "rademacher", True), ("unemp", "webb", True), ("lpc", "rademacher", False),
     ("lpcap", "webb", False)],
)
def test_matches_wildboottest_to_monte_carlo_tolerance(produc, term, weights_type, impose_null):
    pf = pytest.importorskip("pyfixest")
    pytest.importorskip("wildboottest")
    B = 9999
    fit = pf.feols("lgsp ~ lpcap + lpc + lemp + unemp | state + year", data=produc,
                   vcov={"CRV1": "sid"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = fit.wildboottest(reps=B, param=term, weights_type=weights_type,
                               impose_null=impose_null, seed=20241208)
    p_ref = float(np.asarray(ref["Pr(>|t|)"]))
    ours = _produc_test(produc, term, n_draws=B, weights_type=weights_type,
                        impose_null=impose_null, seed=7)
    assert ours.n_clusters == 48 and not ours.enumerated and ours.n_draws == B
    tol = 4 * math.sqrt(2 * p_ref * (1 - p_ref) / B)
    assert abs(ours.p_value - p_ref) <= tol, (ours.p_value, p_ref, tol)
    # the t statistic is the fitted CRV1 one (pyfixest's nested small-sample correction)
    assert ours.statistic == pytest.approx(float(fit.tidy().loc[term, "t value"]), rel=1e-8)


# -------------------------------------------------------------- exact: full enumeration
def _brute_force_t(df: pd.DataFrame, term: str, impose_null: bool, fe: bool = True
                   ) -> tuple[float, np.ndarray]:
    """t and the 2^G bootstrap t's from explicit dummy-variable regressions (firm and year
    dummies, or a constant), one per sign vector (itertools order), with CRV1 variances (no
    small-sample factor: it cancels)."""
    regs = ["value", "capital"]
    j = regs.index(term)
    firm, year = df["fid"].to_numpy(), _codes(df["year"])
    G = firm.max() + 1
    dummies = ([np.eye(G)[firm], np.eye(year.max() + 1)[year][:, 1:]] if fe
               else [np.ones((len(df), 1))])
    W = np.column_stack([df[regs].to_numpy(float), *dummies])
    y = df["invest"].to_numpy(float)
    members = [firm == g for g in range(G)]

    def t_of(yy, centre):
        b = np.linalg.lstsq(W, yy, rcond=None)[0]
        e = yy - W @ b
        inv = np.linalg.pinv(W.T @ W)
        s = np.array([W[m].T @ e[m] for m in members])
        return (b[j] - centre) / math.sqrt((inv @ s.T @ s @ inv)[j, j])

    beta = np.linalg.lstsq(W, y, rcond=None)[0]
    if impose_null:
        Wr = np.delete(W, j, axis=1)
        base = Wr @ np.linalg.lstsq(Wr, y, rcond=None)[0]
        centre = 0.0
    else:
        base, centre = W @ beta, beta[j]
    u = y - base
    t_boot = np.array([t_of(base + u * np.array(v)[firm], centre)
                       for v in itertools.product([1.0, -1.0], repeat=G)])
    return t_of(y, 0.0), t_boot


@pytest.mark.parametrize("impose_null", [True, False])
def test_full_enumeration_equals_brute_force(grunfeld, impose_null):
    term = "capital"
    t_ref, tb_ref = _brute_force_t(grunfeld, term, impose_null)
    (ours,) = wild_bootstrap_test(
        grunfeld["invest"].to_numpy(float), grunfeld[["value", "capital"]].to_numpy(float),
        ["value", "capital"], [grunfeld["fid"].to_numpy(), _codes(grunfeld["year"])],
        grunfeld["fid"].to_numpy(), terms=[term],
        options=WildOptions(n_draws=9999, impose_null=impose_null),
    )
    assert ours.enumerated and ours.n_draws == 2**11 == tb_ref.size
    # t's differ only by the small-sample factor, common to t and every t*
    scale = ours.statistic / t_ref
    np.testing.assert_allclose(np.sort(ours.t_boot / scale), np.sort(tb_ref), rtol=1e-8, atol=1e-10)
    assert ours.p_value == _p_value(tb_ref, t_ref, "symmetric")
    assert ours.p_value == pytest.approx({True: 0.017578125, False: 0.0}[impose_null], abs=0)


@pytest.mark.parametrize("fe", [True, False])
def test_full_enumeration_unbalanced_and_pooled(grunfeld, fe):
    """Unbalanced panel (alternating projections) and a model with only a constant."""
    df = grunfeld.drop(index=np.random.default_rng(4).choice(len(grunfeld), 25, replace=False))
    df = df.reset_index(drop=True)
    t_ref, tb_ref = _brute_force_t(df, "value", True, fe=fe)
    fes = [df["fid"].to_numpy(), _codes(df["year"])] if fe else []
    (ours,) = wild_bootstrap_test(
        df["invest"].to_numpy(float), df[["value", "capital"]].to_numpy(float),
        ["value", "capital"], fes, df["fid"].to_numpy(), terms=["value"],
        options=WildOptions(n_draws=4096, p_type="equal-tailed"),
    )
    scale = ours.statistic / t_ref
    np.testing.assert_allclose(np.sort(ours.t_boot / scale), np.sort(tb_ref), rtol=1e-7, atol=1e-9)
    assert ours.p_value == _p_value(tb_ref, t_ref, "equal-tailed")


@pytest.mark.slow
def test_full_enumeration_equals_wildboottest(grunfeld):
    pf = pytest.importorskip("pyfixest")
    pytest.importorskip("wildboottest")
    fit = pf.feols("invest ~ value + capital | fid + year", data=grunfeld, vcov={"CRV1": "fid"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref, tb_ref = fit.wildboottest(reps=9999, param="value", seed=1,
                                       return_bootstrapped_t_stats=True)
    t_ref = float(np.asarray(ref["t value"]))
    ours = wild_bootstrap_test(
        grunfeld["invest"].to_numpy(float), grunfeld[["value", "capital"]].to_numpy(float),
        ["value", "capital"], [grunfeld["fid"].to_numpy(), _codes(grunfeld["year"])],
        grunfeld["fid"].to_numpy(), terms=["value"], options=WildOptions(n_draws=9999),
    )[0]
    tb_ref = np.asarray(tb_ref, dtype=float).ravel()
    scale = ours.statistic / t_ref
    np.testing.assert_allclose(np.sort(ours.t_boot / scale), np.sort(tb_ref), rtol=1e-8)
    assert ours.p_value == _p_value(tb_ref, t_ref, "symmetric")


def test_enumeration_draws_plus_minus_one_reproduce_t(grunfeld):
    """WCR: v = 1 gives y* = y (t* = t) and v = -1 flips the sign; WCU: v = 1 gives t* = 0."""
    args = (grunfeld["invest"].to_numpy(float), grunfeld[["value", "capital"]].to_numpy(float),
            ["value", "capital"], [grunfeld["fid"].to_numpy(), _codes(grunfeld["year"])],
            grunfeld["fid"].to_numpy())
    wcr = wild_bootstrap_test(*args, options=WildOptions(n_draws=9999))
    for t in wcr:
        assert t.t_boot[0] == pytest.approx(t.statistic, rel=1e-10)
        assert t.t_boot[-1] == pytest.approx(-t.statistic, rel=1e-10)
    wcu = wild_bootstrap_test(*args, options=WildOptions(n_draws=9999, impose_null=False))
    assert all(abs(t.t_boot[0]) < 1e-8 for t in wcu)


# ---------------------------------------------------------------------- test inversion
@pytest.mark.parametrize("p_type", ["symmetric", "equal-tailed"])
def test_interval_endpoints_are_where_p_crosses_alpha(produc, p_type):
    opts = dict(n_draws=999, weights_type="webb", seed=3, p_type=p_type)
    base = _produc_test(produc, "unemp", **opts)
    assert base.ci_low < base.estimate < base.ci_high
    delta = 1e-6 * base.std_error
    for end in (base.ci_low, base.ci_high):
        inside = end + delta if end == base.ci_low else end - delta
        outside = end - delta if end == base.ci_low else end + delta
        p_in = _produc_test(produc, "unemp", null=inside, **opts).p_value
        p_out = _produc_test(produc, "unemp", null=outside, **opts).p_value
        assert p_in >= 0.05 > p_out
        assert abs(p_in - 0.05) <= 2 / 999 + 1e-12


def test_wcu_interval_closed_form(produc):
    """WCU t*'s do not depend on h0: the symmetric interval is beta +- s_(m) se."""
    B = 999
    res = _produc_test(produc, "lpc", n_draws=B, impose_null=False, seed=11)
    s = np.sort(np.abs(res.t_boot))[::-1]
    half = s[math.ceil(0.05 * B) - 1] * res.std_error
    tol = 1e-8 * res.std_error  # bisection and the 1e-9 tie tolerance on t
    assert res.ci_low == pytest.approx(res.estimate - half, abs=tol)
    assert res.ci_high == pytest.approx(res.estimate + half, abs=tol)


def test_draws_do_not_depend_on_chunking(produc):
    a = _produc_test(produc, "unemp", n_draws=1500, weights_type="webb", seed=5)
    b = _produc_test(produc, "unemp", n_draws=1500, weights_type="webb", seed=5,
                     backend=Backend("serial", chunk_size=1))
    np.testing.assert_array_equal(a.t_boot, b.t_boot)
    c = _produc_test(produc, "unemp", n_draws=1500, weights_type="webb", seed=6)
    assert not np.array_equal(a.t_boot, c.t_boot)


# ------------------------------------------------------------------ public API and hooks
def test_public_function_twfe_hook_and_result_protocol(grunfeld):
    panel = cm.Panel(grunfeld, unit="firm", time="year")
    with pytest.warns(UserWarning, match="Only 11 clusters"):
        res = cm.wild_cluster_bootstrap(panel, "invest", "value", ["capital"], seed=2)
    analytic = cm.twfe(panel, "invest", "value", ["capital"])
    tidy = res.tidy()
    assert list(tidy.columns[:7]) == ["term", "estimate", "std_error", "statistic", "p_value",
                                      "ci_low", "ci_high"]
    row = tidy.iloc[0]
    assert row["estimate"] == pytest.approx(analytic.coef("value"), rel=1e-10)
    assert row["statistic"] == pytest.approx(analytic.tstat("value"), rel=1e-8)
    assert row["p_value_analytic"] == pytest.approx(analytic.pvalue("value"), rel=1e-8)
    assert row["enumerated"] and row["n_draws"] == 2048 and row["n_clusters"] == 11
    assert res.summary()["method"] == "WCR" and res.results[0].vcov == "WCR"
    assert "WCR wild cluster bootstrap" in res.reading() and "11 clusters" in res.reading()
    assert "Bootstrap p" in res.table().to_text()
    with pytest.warns(UserWarning):
        hooked = cm.twfe(panel, "invest", "value", ["capital"], inference="wild")
    assert hooked.vcov == "WCR" and hooked.pvalue("value") == row["p_value"]
    assert hooked.confint("value") == (row["ci_low"], row["ci_high"])
    assert any("wild cluster bootstrap" in n for n in hooked.notes)
    assert hooked.pvalue("capital") == analytic.pvalue("capital")  # controls keep analytic p


def _one_treated_panel(n_units=12, n_years=10, treated_units=(0,)) -> cm.Panel:
    rng = np.random.default_rng(0)
    unit = np.repeat(np.arange(n_units), n_years)
    year = np.tile(np.arange(2000, 2000 + n_years), n_units)
    d = (np.isin(unit, treated_units) & (year >= 2005)).astype(float)
    y = 0.3 * d + rng.normal(size=unit.size) + 0.1 * unit
    return cm.Panel(pd.DataFrame({"u": unit, "t": year, "y": y, "d": d}), unit="u", time="t")


def test_one_treated_cluster_warns_in_both_modes():
    panel = _one_treated_panel()
    with pytest.warns(UserWarning, match="Only one cluster is treated"):
        res = cm.twfe(panel, "y", "d")
    assert any("MacKinnon & Webb 2017" in n for n in res.notes)
    with pytest.warns(UserWarning, match="Only one cluster is treated"):
        wild = cm.wild_cluster_bootstrap(panel, "y", "d", n_draws=999)
    assert wild.test().n_treated_clusters == 1
    assert any("neither the cluster-robust nor the wild bootstrap" in n for n in wild.notes)


def test_event_study_wild_uses_one_set_of_draws():
    panel = _one_treated_panel(n_units=20, treated_units=tuple(range(8)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        es = cm.event_study(panel, "y", treat="d", window=(-3, 3), inference="wild", n_draws=999)
    said = [str(w.message) for w in caught]
    assert any("Only 8 treated clusters" in m for m in said)
    assert any("Only 20 clusters (fewer than 50)" in m for m in said)
    tests = es.fit.meta["wild"]
    assert es.fit.vcov == "WCR" and len(tests) == 6
    for i, t in enumerate(tests):  # the dummies come first in the fit, in event-time order
        row = es.fit.coefs.iloc[i]
        assert row["statistic"] == pytest.approx(t.statistic, rel=1e-8)
        assert row["p_value"] == t.p_value == _p_value(t.t_boot, t.statistic, "symmetric")
        assert row["ci_low"] == t.ci_low < t.estimate < t.ci_high == row["ci_high"]
    est = es.coefs.set_index("k")
    by_term = {t.term: t for t in tests}
    assert est.loc[0, "p_value"] == by_term["_ev_p0"].p_value
    assert est.loc[-3, "ci_high"] == by_term["_ev_m3"].ci_high


def test_few_cluster_rules_and_errors(grunfeld):
    assert needs_wild(30, None) and needs_wild(100, 9) and not needs_wild(50, 10)
    assert few_clusters_notes(200, 40, wild=False) == []
    assert "inference='wild'" in few_clusters_notes(30, 15, wild=False)[0]
    assert "Only 5 treated clusters" in few_clusters_notes(100, 5, wild=True)[0]
    panel = cm.Panel(grunfeld, unit="firm", time="year")
    with pytest.raises(EstimationError, match="needs a cluster variable"):
        cm.wild_cluster_bootstrap(panel, "invest", "value", cluster=None)
    with pytest.raises(ConfigError, match="weights_type"):
        WildOptions(weights_type="mammen")
    with pytest.raises(ConfigError, match="n_draws"):
        WildOptions(n_draws=10)
    with pytest.raises(ValueError, match="inference"):
        cm.twfe(panel, "invest", "value", inference="bootstrap")


# ------------------------------------------------------------------------------ study
@pytest.fixture(scope="module")
def city_sim():
    return cm.simulate(seed=0)  # 297 cities in 31 provinces, staggered broadband pilots


def _sections(sim, **baseline):
    from climetrics.study.config import parse_config
    from climetrics.study.sections import Context, baseline_section, event_study_section

    cluster = baseline.pop("cluster", None)
    raw = {"data": {"simulate": {}},
           "variables": {"outcome": "lnci", "treatment": "did", "controls": ["lnpgdp", "gov"],
                         **({"cluster": cluster} if cluster else {})},
           "baseline": {"stepwise": False, "wild_draws": 999, **baseline}}
    ctx = Context(panel=sim.panel, config=parse_config(raw).values, truth=sim.truth)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return baseline_section(ctx), event_study_section(ctx)


def test_study_auto_uses_wild_bootstrap_with_few_clusters_and_says_so(city_sim):
    base, event = _sections(city_sim, cluster="province")
    fit = base.results[-1]
    test = fit.meta["wild"][0]
    assert fit.vcov == "WCR" and base.summary["inference"] == "WCR" and test.n_clusters == 31
    reading = base.section.reading
    assert "Because there are only 31 clusters (fewer than 50), p-values and confidence intervals " \
           "come from the wild cluster bootstrap." in reading
    assert "WCR wild cluster bootstrap (Rademacher weights, 999 draws" in reading
    assert f"[{test.ci_low:.4g}, {test.ci_high:.4g}]" in reading
    assert test.ci_low < fit.coef("did") < test.ci_high and fit.pvalue("did") == test.p_value
    assert event.results[0].vcov == "WCR"
    assert "the joint test of the leads stays the analytic Wald test" in event.section.reading


def test_study_auto_stays_analytic_with_many_clusters(city_sim):
    base, event = _sections(city_sim)  # 297 city clusters, many treated
    assert base.results[-1].vcov == "CRV1" and "wild" not in base.section.reading
    assert event.results[0].vcov == "CRV1"
    forced, _ = _sections(city_sim, inference="wild")
    assert forced.results[-1].vcov == "WCR"
    assert forced.section.reading.count("As configured, p-values and confidence intervals") == 1
    off, _ = _sections(city_sim, cluster="province", inference="analytic")
    assert off.results[-1].vcov == "CRV1"


def test_study_prefers_webb_weights_with_at_most_12_clusters(city_sim):
    n_regions = city_sim.panel.df["region"].nunique()
    assert n_regions <= 12
    base, _ = _sections(city_sim, cluster="region")
    test = base.results[-1].meta["wild"][0]
    assert test.options.weights_type == "webb" and not test.enumerated and test.n_draws == 999
    assert f"Because there are only {n_regions} clusters" in base.section.reading
    assert "Webb weights" in base.section.reading
    ours, _ = _sections(city_sim, cluster="region", wild_weights="rademacher")
    assert ours.results[-1].meta["wild"][0].enumerated == (2**n_regions <= 999)


def test_weight_draws_and_degenerate_draws():
    from climetrics.core.wild_bootstrap import WEIGHTS, _Shared, _t_boot, _weights

    G = 40
    shared = _Shared(n_clusters=G, n_draws=600, values=WEIGHTS["webb"], enumerate=False, seed=1,
                     a=np.zeros((2, 1, G)), K=np.zeros((2, 1, G, G)))
    V = np.concatenate([_weights(b, shared) for b in range(3)], axis=1)[:, :600]
    values, counts = np.unique(V, return_counts=True)
    np.testing.assert_allclose(values, [-math.sqrt(1.5), -1, -math.sqrt(0.5), math.sqrt(0.5), 1,
                                        math.sqrt(1.5)])
    assert counts.min() > 0.9 * V.size / 6 and counts.max() < 1.1 * V.size / 6  # 4000 per value
    assert abs(V.mean()) < 0.02 and abs((V**2).mean() - 1) < 0.02
    assert np.all(_weights(2, shared)[:, 600 - 512:] == 0)  # past the last draw
    enum = _Shared(n_clusters=3, n_draws=8, values=WEIGHTS["rademacher"], enumerate=True, seed=0,
                   a=np.zeros((2, 1, 3)), K=np.zeros((2, 1, 3, 3)))
    signs = _weights(0, enum)[:, :8].T
    assert {tuple(v) for v in signs} == set(itertools.product([-1.0, 1.0], repeat=3))
    # zero bootstrap variance: t* = +-inf if the numerator is not zero, else 0
    moments = np.array([[1.0, 0, 0, 0, 0], [-2.0, 0, 0, 0, 0], [0.0, 0, 0, 0, 0], [3.0, 0, 4, 0, 0]])
    np.testing.assert_array_equal(_t_boot(moments, 0.0, 1.0), [np.inf, -np.inf, 0.0, 1.5])


def test_plot_shows_the_bootstrap_distribution(grunfeld):
    import matplotlib.figure

    panel = cm.Panel(grunfeld, unit="firm", time="year")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = cm.wild_cluster_bootstrap(panel, "invest", "capital", ["value"], n_draws=999,
                                        weights_type="webb")
    fig = res.plot()
    assert isinstance(fig, matplotlib.figure.Figure)
    assert len(fig.axes[0].patches) == 60 and len(fig.axes[0].lines) == 2
    import matplotlib.pyplot as plt

    plt.close(fig)

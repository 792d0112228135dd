"""Placebo tests: batched draws equal single fits; draws keep the design; RI p-values."""

import numpy as np
import pytest

import climetrics as cm
from climetrics.errors import EstimationError
from climetrics.estimate.baseline.event_study import adoption_year
from climetrics.estimate.robustness.placebo import draw_adoption_years, placebo_test

CONTROLS = ["lnpgdp", "gov", "str"]


@pytest.fixture(scope="module")
def sim():
    s = cm.simulate(seed=4, missing_rate=0.01)
    keep = s.panel.df["city"].isin(sorted(s.panel.df["city"].unique())[::3])
    return s.panel.subset(keep.to_numpy())


@pytest.mark.parametrize(("kind", "sample", "cluster"), [
    ("space", "full", "unit"), ("time", "full", "unit"), ("mixed", "full", "unit"), ("time", "pre", "unit"),
    ("space", "full", None), ("time", "pre", None),
])
def test_batched_draws_equal_loop_of_single_fits(sim, kind, sample, cluster):
    """Same estimates, SEs and p-values as separate TWFE fits, to 1e-8 (missing controls included),
    clustered or (cluster=None) heteroskedasticity-robust; in-time draws on the pre-adoption sample
    equal fits on that sample."""
    res = placebo_test(sim, "lnci", "did", CONTROLS, kind=kind, sample=sample, n_draws=6, seed=9,
                       cluster=cluster)
    assert res.sample == sample and res.actual.cluster == (None if cluster is None else "city")
    units = sim.df["city"].to_numpy()
    codes = {u: i for i, u in enumerate(sorted(set(units)))}
    real = adoption_year(sim, "did").groupby(sim.df["city"]).first().reindex(sorted(codes)).to_numpy(float)
    pseudo = draw_adoption_years(real, np.sort(sim.df["year"].unique()), kind, 6, 9, sample)
    rows = np.ones(len(units), bool)
    if sample == "pre":
        g_real = adoption_year(sim, "did").to_numpy(float)
        rows = ~(np.isfinite(g_real) & (sim.df["year"].to_numpy() >= g_real))
    for r in range(6):
        g = pseudo[[codes[u] for u in units], r]
        p = sim.assign(pd_=(sim.df["year"].to_numpy() >= g).astype(float)).subset(rows)
        one = cm.twfe(p, "lnci", "pd_", CONTROLS, cluster=cluster)
        np.testing.assert_allclose(res.draws.loc[r, "coef"], one.coef("pd_"), rtol=1e-8)
        # the pre-adoption sample is unbalanced: demeaning converges iteratively (to 1e-7 here)
        np.testing.assert_allclose(res.draws.loc[r, "se"], one.se("pd_"), rtol=1e-8 if sample == "full" else 1e-7)
        np.testing.assert_allclose(res.draws.loc[r, "pvalue"], one.pvalue("pd_"), rtol=1e-6, atol=1e-14)


def test_draws_keep_the_design():
    real = np.array([2014, np.nan, 2015, np.nan, 2016, np.nan, np.nan, 2014])
    years = np.arange(2010, 2020)
    space = draw_adoption_years(real, years, "space", 50, 1)
    assert (np.isfinite(space).sum(axis=0) == 4).all()
    for r in range(50):
        assert sorted(space[np.isfinite(space[:, r]), r]) == [2014, 2014, 2015, 2016]
    time = draw_adoption_years(real, years, "time", 50, 1)
    assert (np.isfinite(time) == np.isfinite(real)[:, None]).all()
    assert time[np.isfinite(time)].min() >= 2011 and time[np.isfinite(time)].max() <= 2019
    pre = draw_adoption_years(real, years, "time", 200, 1, "pre")
    assert (np.isfinite(pre) == np.isfinite(real)[:, None]).all()
    assert (pre < real[:, None])[np.isfinite(real)].all() and pre[np.isfinite(pre)].min() >= 2011
    assert set(pre[0]) == set(range(2011, 2014))  # every year before 2014 is drawn
    mixed = draw_adoption_years(real, years, "mixed", 200, 1)
    assert (np.isfinite(mixed).sum(axis=0) == 4).all()
    assert not (np.isfinite(mixed) == np.isfinite(real)[:, None]).all()  # units change
    np.testing.assert_array_equal(draw_adoption_years(real, years, "mixed", 200, 1), mixed)
    # per-draw streams: the first 20 draws do not depend on how many are drawn
    np.testing.assert_array_equal(draw_adoption_years(real, years, "space", 20, 1), space[:, :20])


def test_ri_p_values_and_chunk_invariance(sim):
    a = placebo_test(sim, "lnci", "did", CONTROLS, n_draws=120, seed=2)
    b = placebo_test(sim, "lnci", "did", CONTROLS, n_draws=120, seed=2, chunk_size=7)
    np.testing.assert_allclose(a.draws["coef"], b.draws["coef"], rtol=1e-12)
    c, est = a.draws["coef"].to_numpy(), a.estimate
    assert a.p_two_sided == pytest.approx((1 + np.sum(np.abs(c) >= abs(est))) / 121)
    assert a.p_left == pytest.approx((1 + np.sum(c <= est)) / 121)
    assert a.p_right == pytest.approx((1 + np.sum(c >= est)) / 121)
    # the simulated effect is strong: no in-space draw is as extreme
    assert a.p_two_sided == pytest.approx(1 / 121) and a.p_right == 1.0
    s = a.summary()
    assert abs(s["placebo_mean"]) < 3 * s["placebo_sd"] / np.sqrt(120) + 1e-3
    assert "RI p-value, two-sided" in a.table().to_text()


def test_no_effect_gives_unremarkable_ri_p_value():
    s = cm.simulate(seed=8, effect=0.0, mediator_a=0.0)
    res = placebo_test(s.panel, "lnci", "did", CONTROLS, n_draws=200, seed=3)
    assert res.p_two_sided > 0.05


def test_errors(sim):
    with pytest.raises(EstimationError, match="sample='pre'"):
        placebo_test(sim, "lnci", "did", kind="space", sample="pre", n_draws=3)
    with pytest.raises(EstimationError, match="n_draws"):
        placebo_test(sim, "lnci", "did", n_draws=0)
    with pytest.raises(EstimationError, match="kind must be one of"):
        placebo_test(sim, "lnci", "did", kind="spatial", n_draws=3)

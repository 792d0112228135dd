"""Mediation: Baron-Kenny steps, Sobel/Aroian/Goodman tests and the batched cluster bootstrap.

References are separate ``cm.twfe`` fits, closed-form formulas, and explicit refits on
resampled data (units duplicated and relabelled) for the bootstrap draws. Coverage of the true
indirect effect is checked on simulated panels with a known mediator path
(``a = 0.2``, ``b = -0.1``, lag 0, no effect heterogeneity, so ``a b = -0.02`` exactly).
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import climetrics as cm
from climetrics.errors import EstimationError
from climetrics.estimate.mechanisms.mediation import (
    bias_corrected_ci,
    bootstrap_gram,
    indirect_effect_tests,
    mediation,
)

X = ["lnpgdp", "gov", "str", "lnpden"]


@pytest.fixture(scope="module")
def sim():
    return cm.simulate(lag=0, heterogeneity=0, seed=1)


@pytest.fixture(scope="module")
def res(sim):
    return mediation(sim.panel, "lnci", "did", ["green_innov", "urban"], X, n_draws=300, seed=4)


def _resampled(panel: cm.Panel, weights: np.ndarray, clusters: np.ndarray, b: int) -> cm.Panel:
    """The b-th bootstrap sample: every drawn unit copied m times under new unit labels."""
    df = panel.df
    parts, k = [], 0
    for g, m in zip(clusters, weights[:, b], strict=True):
        for _ in range(int(m)):
            part = df[df[panel.unit] == g].copy()
            part[panel.unit] = k
            parts.append(part)
            k += 1
    return cm.Panel(pd.concat(parts, ignore_index=True), panel.unit, panel.time)


def test_baron_kenny_steps_equal_separate_twfe_fits(sim, res):
    p = sim.panel
    total = cm.twfe(p, "lnci", "did", X)
    first = cm.twfe(p, "green_innov", "did", X)
    second = cm.twfe(p, "lnci", "did", ["green_innov", *X])
    path = res["green_innov"]
    pairs = [
        (path.c, total.coef("did")),
        (path.se_c, total.se("did")),
        (path.a, first.coef("did")),
        (path.se_a, first.se("did")),
        (path.b, second.coef("green_innov")),
        (path.se_b, second.se("green_innov")),
        (path.c_prime, second.coef("did")),
        (path.se_c_prime, second.se("did")),
    ]
    diffs = [abs(x - y) for x, y in pairs]
    assert max(diffs) < 1e-10
    # OLS identity on a common sample: c = c' + ab, so both proportions agree
    assert abs(path.c - (path.c_prime + path.indirect)) < 1e-10
    assert abs(path.share_total - path.share_sum) < 1e-10


def test_sobel_aroian_goodman_closed_form(res):
    p = res["green_innov"]
    a, sa, b, sb = p.a, p.se_a, p.b, p.se_b
    sobel = a * b / np.sqrt(b**2 * sa**2 + a**2 * sb**2)
    aroian = a * b / np.sqrt(b**2 * sa**2 + a**2 * sb**2 + sa**2 * sb**2)
    goodman = a * b / np.sqrt(b**2 * sa**2 + a**2 * sb**2 - sa**2 * sb**2)
    for name, z in (("sobel", sobel), ("aroian", aroian), ("goodman", goodman)):
        assert abs(p.test(name).statistic - z) < 1e-12
        assert abs(p.test(name).p_value - 2 * stats.norm.sf(abs(z))) < 1e-12
        assert p.test(name).distribution == "normal"
    assert abs(res.by_mediator().set_index("mediator").loc["green_innov", "sobel_z"] - sobel) < 1e-12


def test_goodman_undefined_when_its_variance_is_negative():
    # t_a = t_b = 0.5: t_a^2 + t_b^2 = 0.5 < 1, so b²sa² + a²sb² - sa²sb² < 0
    t = indirect_effect_tests(0.5, 1.0, 0.5, 1.0)
    sobel, aroian, goodman = t
    assert np.isnan(goodman.statistic) and np.isnan(goodman.p_value)
    assert abs(sobel.statistic - 0.25 / np.sqrt(0.5)) < 1e-12
    assert abs(aroian.statistic - 0.25 / np.sqrt(1.5)) < 1e-12


def test_batched_bootstrap_draws_equal_explicit_refits(sim, res):
    p = res["green_innov"]
    worst = 0.0
    for b in range(3):
        rs = _resampled(sim.panel, p.boot_weights, p.boot_clusters, b)
        fa = cm.twfe(rs, "green_innov", "did", X)
        fb = cm.twfe(rs, "lnci", "did", ["green_innov", *X])
        fc = cm.twfe(rs, "lnci", "did", X)
        row = p.boot.iloc[b]
        worst = max(
            worst,
            abs(fa.coef("did") - row["a"]),
            abs(fb.coef("green_innov") - row["b"]),
            abs(fb.coef("did") - row["c_prime"]),
            abs(fc.coef("did") - row["c"]),
        )
    assert worst < 1e-8


def test_batched_bootstrap_unbalanced_panel_equals_refits(sim):
    """Unbalanced panel: the weighted alternating projections still give the refit exactly."""
    df = sim.panel.df
    cities = df["city"].unique()[:60]
    df = df[df["city"].isin(cities)]
    rng = np.random.default_rng(0)
    df = df[rng.random(len(df)) > 0.15]
    panel = cm.Panel(df, "city", "year")
    r = mediation(panel, "lnci", "did", "green_innov", X, n_draws=4, seed=2)
    p = r["green_innov"]
    worst = 0.0
    for b in range(2):
        rs = _resampled(panel, p.boot_weights, p.boot_clusters, b)
        fa = cm.twfe(rs, "green_innov", "did", X)
        fb = cm.twfe(rs, "lnci", "did", ["green_innov", *X])
        worst = max(worst, abs(fa.coef("did") - p.boot["a"].iloc[b]),
                    abs(fb.coef("green_innov") - p.boot["b"].iloc[b]))
    assert worst < 1e-8


def test_unit_weights_reproduce_the_fit(sim, res):
    df = sim.panel.df
    V = df[["lnci", "green_innov", "did", *X]].to_numpy(float)
    fe = [pd.factorize(df["city"])[0], pd.factorize(df["year"])[0]]
    cl = pd.factorize(df["city"])[0]
    gram = bootstrap_gram(V, fe, cl, np.ones((cl.max() + 1, 1)))[0]
    a = np.linalg.solve(gram[np.ix_([2, 3, 4, 5, 6], [2, 3, 4, 5, 6])], gram[[2, 3, 4, 5, 6], 1])[0]
    idx = [2, 1, 3, 4, 5, 6]
    b = np.linalg.solve(gram[np.ix_(idx, idx)], gram[idx, 0])[1]
    assert abs(a - res["green_innov"].a) < 1e-10
    assert abs(b - res["green_innov"].b) < 1e-10


def test_bias_corrected_interval_by_hand():
    draws = np.arange(1.0, 201.0)  # 200 draws
    est = 80.5  # 80 draws below -> z0 = Phi^-1(0.4)
    z0 = stats.norm.ppf(0.4)
    q = stats.norm.cdf([2 * z0 - 1.959963984540054, 2 * z0 + 1.959963984540054])
    lo, hi = bias_corrected_ci(draws, est, 0.05)
    np.testing.assert_allclose([lo, hi], np.quantile(draws, q), rtol=1e-12)
    # estimate at the median: BC reduces to the percentile interval
    lo2, hi2 = bias_corrected_ci(draws, 100.5, 0.05)
    np.testing.assert_allclose([lo2, hi2], np.quantile(draws, [0.025, 0.975]), rtol=1e-12)


def test_bootstrap_covers_true_indirect_effect_across_seeds():
    covered, shares = 0, []
    for s in range(10):
        sim = cm.simulate(lag=0, heterogeneity=0, seed=100 + s)
        r = mediation(sim.panel, "lnci", "did", "green_innov", X, n_draws=199, seed=s)
        p = r["green_innov"]
        lo, hi = p.ci_percentile
        covered += lo <= sim.truth["indirect"] <= hi
        shares.append(p.share_total)
        assert not p.suppression
    assert covered >= 8
    assert abs(np.mean(shares) - sim.truth["mediated_share"]) < 0.05  # truth 0.4


def test_suppression_detected_and_worded():
    # b > 0 with a > 0: ab = +0.02 opposes the direct effect theta = -0.07
    sim = cm.simulate(lag=0, heterogeneity=0, mediator_b=0.1, seed=5)
    r = mediation(sim.panel, "lnci", "did", "green_innov", X, n_draws=99)
    p = r["green_innov"]
    assert p.indirect > 0 > p.c_prime
    assert p.suppression
    assert abs(p.suppression_ratio - abs(p.indirect / p.c_prime)) < 1e-15
    assert abs(p.suppression_ratio - 0.02 / 0.07) < 0.1
    text = p.suppression_text()
    assert f"suppresses {100 * p.suppression_ratio:.1f}% of the effect" in text
    assert p.kind == "competitive (suppression)"
    assert "suppresses" in r.reading()
    assert "suppr." in r.table().to_text()


def test_no_suppression_wording_when_signs_agree(res):
    p = res["green_innov"]
    assert not p.suppression and np.isnan(p.suppression_ratio) and p.suppression_text() == ""


def test_table_reading_and_results(res):
    tab = res.table()
    assert len(tab.columns) == 6
    sobel = next(r for r in tab.rows if r[0] == "Sobel-Z")
    assert sobel[1] == sobel[2] == "" and sobel[3].startswith(f"{res['green_innov'].test('sobel').statistic:.3f}")
    assert tab.header_rows[0][0] == "green_innov" and tab.header_rows[0][3] == "urban"
    out = res.results
    assert len(out) == 6 and all(isinstance(r, cm.EstimationResult) for r in out)
    assert out[1].depvar == "green_innov" and out[4].depvar == "urban"
    text = res.reading()
    p = res["green_innov"]
    assert f"a = {p.a:.4g}" in text and "not randomised" in text and "Jiang Ting 2022" in text


def test_degenerate_mediators_raise(sim):
    p = sim.panel
    with pytest.raises(EstimationError, match="outcome"):
        mediation(p, "lnci", "did", "lnci", X, n_draws=0)
    copy = p.assign(lnci_copy=p.df["lnci"])
    with pytest.raises(EstimationError, match="identical to the outcome"):
        mediation(copy, "lnci", "did", "lnci_copy", X, n_draws=0)
    const = p.assign(flat=1.0)
    with pytest.raises(EstimationError, match="no variation: it equals 1"):
        mediation(const, "lnci", "did", "flat", X, n_draws=0)
    fixed = p.assign(area=p.df["city"].astype(float) % 7)
    with pytest.raises(EstimationError, match="after the fixed effects"):
        mediation(fixed, "lnci", "did", "area", X, n_draws=0)

"""Inference of the panel spatial models: robust / clustered covariance, splm's conventions,
the slopes-only Hausman test, effects from stationary draws, and the ``cm.spatial`` namespace.

References
----------
* ``tests/data/reference/spatial_splm.json`` (``tools/reference/spatial_splm.R``, splm 1.6-x on
  plm::Produc with the queen contiguity of the 48 states): ``spml(model = "within")`` with
  individual, time and two-way effects, lag and error, and ``sphtest`` (lag and error). Our
  ``demeaning="elhorst"`` reproduces splm's estimates and sigma² to 1e-6 relative (observed
  <= 1.1e-7) and its standard errors to 1e-6 (observed <= 2.4e-8).
* Cluster-robust and heteroskedasticity-robust standard errors are checked against the truth
  by Monte Carlo (errors heteroskedastic across units and AR(1) within units): the clustered
  standard error must be within 15% of the Monte-Carlo SD of the estimates (observed: beta
  0.183 vs 0.189, rho 0.0715 vs 0.0708 over 150 replications), the i.i.d. one is too small.
"""

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import climetrics as cm
from climetrics.core.results import EstimationResult, TestResult
from climetrics.errors import EstimationError
from climetrics.estimate.spatial.effects import impacts
from climetrics.estimate.spatial.lm_tests import spatial_hausman
from climetrics.estimate.spatial.models import spatial_panel
from climetrics.estimate.spatial.weights import SpatialWeights

HERE = Path(__file__).parent
SPLM = json.loads((HERE / "data" / "reference" / "spatial_splm.json").read_text())
X = ["lpcap", "lpc", "lemp", "unemp"]
FE = {"individual": "unit", "time": "time", "twoways": "twoway"}


@pytest.fixture(scope="module")
def produc():
    df = pd.read_csv(HERE / "data" / "produc_plm.csv")
    nb = pd.read_csv(HERE / "data" / "us_states_contiguity.csv")
    states = sorted(df["state"].unique())
    pos = {s: i for i, s in enumerate(states)}
    m = np.zeros((48, 48))
    m[nb["state"].map(pos), nb["neighbor"].map(pos)] = 1.0
    w = SpatialWeights.from_matrix(m, states, kind="queen contiguity").standardized()
    return cm.Panel(df, unit="state", time="year"), w


def _torus(n1, n2):
    idx = np.arange(n1 * n2).reshape(n1, n2)
    m = np.zeros((idx.size, idx.size))
    for a in (0, 1):
        for s in (1, -1):
            m[idx.ravel(), np.roll(idx, s, axis=a).ravel()] = 1.0
    return SpatialWeights.from_matrix(m, np.arange(idx.size)).standardized()


def _panel(y, x, n, t):
    return cm.Panel(
        pd.DataFrame({"id": np.repeat(np.arange(n), t), "year": np.tile(np.arange(t), n),
                      "x": x.ravel(), "y": y.ravel()}),
        unit="id", time="year",
    )


# ------------------------------------------------------------------ splm / Elhorst convention
@pytest.mark.parametrize("fe", list(FE))
@pytest.mark.parametrize("kind,model", [("lag", "sar"), ("error", "sem")])
def test_elhorst_demeaning_reproduces_splm(produc, fe, kind, model):
    panel, w = produc
    ref = SPLM["spml"][fe][kind]
    res = spatial_panel(panel, "lgsp", X, w, model=model, effects=FE[fe], lee_yu=False,
                        demeaning="elhorst")
    est = res.coefs["estimate"].to_numpy()
    np.testing.assert_allclose(np.r_[est[-1], est[:-1]], ref["estimate"], rtol=1e-6)
    assert res.stats["sigma2"] == pytest.approx(ref["sigma2"], rel=1e-6)
    se = res.coefs["std_error"].to_numpy()
    np.testing.assert_allclose(np.r_[se[-1], se[:-1]], np.sqrt(np.diag(ref["vcov"])), rtol=1e-6)
    exact = spatial_panel(panel, "lgsp", X, w, model=model, effects=FE[fe], lee_yu=False)
    gap = abs(exact.coef(res.terms[-1]) - res.coef(res.terms[-1]))
    if fe == "individual":  # unit demeaning commutes with I_T (x) W: the conventions coincide
        assert gap < 1e-7
    else:  # time effects: W(I - J)y differs from (I - J)Wy (W is not doubly stochastic)
        assert 1e-6 < gap < 0.01
        assert "Elhorst / splm convention" in res.notes[0]


def test_elhorst_needs_the_direct_approach_with_time_effects(produc):
    panel, w = produc
    with pytest.raises(EstimationError, match="pass lee_yu=False"):
        spatial_panel(panel, "lgsp", X, w, model="sar", effects="twoway", demeaning="elhorst")
    with pytest.raises(EstimationError, match="demeaning must be"):
        spatial_panel(panel, "lgsp", X, w, demeaning="splm")


# ------------------------------------------------------------------ Hausman
@pytest.mark.parametrize("kind,model", [("lag", "sar"), ("error", "sem")])
def test_hausman_matches_splm_sphtest(produc, kind, model):
    """The slopes-only contrast reproduces sphtest (which prints |H|); on Produc V_RE - V_FE is
    not positive definite, so no statistic is reported and the flag is set."""
    panel, w = produc
    ref = SPLM["sphtest"][kind]
    h = spatial_hausman(panel, "lgsp", X, w, model=model)
    assert isinstance(h, TestResult) and h.df == ref["df"] == 4
    assert abs(h.details["quadratic_form"]) == pytest.approx(np.ravel(ref["statistic"])[0], rel=1e-5)
    np.testing.assert_allclose(h.details["re_coef"][:5], ref["re"]["estimate"], rtol=1e-6, atol=1e-7)
    fe = h.details["fe_result"].coefs["estimate"].to_numpy()
    np.testing.assert_allclose(np.r_[fe[-1], fe[:-1]], ref["fe"]["estimate"], rtol=1e-6)
    assert not h.details["positive_definite"] and h.details["min_eigenvalue"] < 0
    assert np.isnan(h.statistic) and np.isnan(h.p_value) and not h.reject
    assert "not informative" in h.reading() and "not positive definite" in h.notes[0]
    assert h.summary()["statistic"] is None


def _re_panel(correlated: bool, seed: int):
    """SAR with unit effects (N = 100 torus units, T = 6), x with a unit component: ``mu``
    independent of x (random
    effects consistent) or ``mu = 2 xbar_i + noise`` (only fixed effects consistent)."""
    w = _torus(10, 10)
    n, t = w.n, 6
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 1)) + rng.normal(size=(n, t))  # a persistent unit component
    mu = rng.normal(size=(n, 1)) + (2 * x.mean(axis=1, keepdims=True) if correlated else 0)
    a = np.eye(n) - 0.3 * w.dense()
    y = np.linalg.solve(a, 1 + x + mu + rng.normal(size=(n, t)))
    return _panel(y, x, n, t), w


@pytest.mark.parametrize("correlated", [False, True])
def test_hausman_reading_on_known_truth(correlated):
    """Six simulated panels each. Correlated effects: always informative and rejected
    (H about 19-29 on chi²(1)). Uncorrelated: no rejection at 5% among the informative
    draws; a draw whose V_RE - V_FE is indefinite (it happens under the null too) reports no
    statistic and says the test is not informative."""
    tests = []
    for seed in range(6):
        panel, w = _re_panel(correlated, seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tests.append(spatial_hausman(panel, "y", ["x"], w, model="sar"))
    for h in tests:
        assert h.df == 1
        if h.details["positive_definite"]:
            assert h.statistic == pytest.approx(h.details["quadratic_form"])
        else:
            assert np.isnan(h.statistic) and "not informative" in h.reading()
    if correlated:
        assert all(h.details["positive_definite"] and h.p_value < 0.001 for h in tests)
        assert all("rejects the null" in h.reading() for h in tests)
    else:
        informative = [h for h in tests if h.details["positive_definite"]]
        assert len(informative) >= 4 and not any(h.reject for h in informative)
        assert all("does not reject" in h.reading() for h in informative)


# ------------------------------------------------------------------ robust covariance
def _mc_panel(rng, w, t=8, rho=0.4):
    """SAR with two-way effects; errors heteroskedastic across units and AR(1) (0.7) within."""
    n = w.n
    x = rng.normal(size=(n, t))
    u = rng.normal(size=(n, t))
    ar = np.empty((n, t))
    ar[:, 0] = u[:, 0]
    for s in range(1, t):
        ar[:, s] = 0.7 * ar[:, s - 1] + u[:, s]
    e = ar * np.exp(0.6 * rng.normal(size=(n, 1))) * (1 + np.abs(x))
    y = np.linalg.solve(np.eye(n) - rho * w.dense(), x + rng.normal(size=(n, 1)) + rng.normal(size=(1, t)) + e)
    return _panel(y, x, n, t)


@pytest.mark.slow
def test_clustered_se_matches_monte_carlo_sd():
    w = _torus(8, 8)
    rng = np.random.default_rng(0)
    est, se_iid, se_cl = [], [], []
    for _ in range(150):
        p = _mc_panel(rng, w)
        a = spatial_panel(p, "y", ["x"], w, model="sar", effects="twoway")
        b = spatial_panel(p, "y", ["x"], w, model="sar", effects="twoway", cluster="unit")
        np.testing.assert_array_equal(a.coefs["estimate"], b.coefs["estimate"])
        est.append(a.coefs["estimate"].to_numpy())
        se_iid.append(a.coefs["std_error"].to_numpy())
        se_cl.append(b.coefs["std_error"].to_numpy())
    sd = np.std(est, axis=0, ddof=1)
    np.testing.assert_allclose(np.mean(se_cl, axis=0), sd, rtol=0.15)
    assert np.mean(se_iid, axis=0)[0] < 0.8 * sd[0]  # the i.i.d. SE of beta is too small


def test_scores_sum_to_the_gradient_and_homoskedastic_se_agree(produc):
    """At the estimates the robust SEs of a well-specified fit stay near the i.i.d. ones (same
    order), the result records the covariance and its wording, and the table note says so."""
    panel, w = produc
    iid = spatial_panel(panel, "lgsp", X, w, model="sdm", effects="twoway")
    cl = spatial_panel(panel, "lgsp", X, w, model="sdm", effects="twoway", cluster="unit")
    het = spatial_panel(panel, "lgsp", X, w, model="sdm", effects="twoway", vcov="hetero")
    assert (iid.vcov, cl.vcov, het.vcov) == ("iid", "cluster", "hetero")
    assert cl.cluster == "state" and cl.n_clusters == 48 and iid.cluster is None
    np.testing.assert_array_equal(iid.coefs["estimate"], cl.coefs["estimate"])
    assert "clustered by state" in cl.notes[0] and "inverse information" in iid.notes[0]
    assert "clustered by state" in cl.reading("lpc")
    ratio = cl.coefs["std_error"] / iid.coefs["std_error"]
    assert (ratio > 0.5).all() and (ratio < 5).all()
    with pytest.raises(EstimationError, match="cluster by unit only"):
        spatial_panel(panel, "lgsp", X, w, cluster="year")
    with pytest.raises(EstimationError, match="vcov must be"):
        spatial_panel(panel, "lgsp", X, w, vcov="asymptotic")


def test_robust_scores_are_centred_at_the_estimates():
    """The unit scores of beta and sigma² sum to zero at the ML estimates (normal equations and
    the sigma² first-order condition), and the rho score splits into a linear part, a centred
    diagonal part and the off-diagonal part whose total makes the sum zero."""
    from climetrics.estimate.spatial import models as sm

    panel = _mc_panel(np.random.default_rng(1), _torus(6, 7))
    w = _torus(6, 7)
    res = spatial_panel(panel, "y", ["x"], w, model="sar", effects="unit", lee_yu=False)
    arr = sm.panel_arrays(panel, "y", ["x"], w, False)
    n, t = arr.y.shape
    rho, b, s2 = res.coef("rho"), res.coef("x"), res.stats["sigma2"]
    yd, xd = sm.demean(arr.y, "unit"), sm.demean(arr.x, "unit")[:, :, 0]
    wy = sm.demean(sm._lag(arr.w, arr.y), "unit")
    e = yd - rho * wy - b * xd
    assert np.sum(xd * e) == pytest.approx(0, abs=1e-8)
    assert np.sum(e**2) / (n * t) == pytest.approx(s2, rel=1e-12)
    tr = sm._traces(arr.w, rho, False)
    assert np.sum(wy * e) / s2 == pytest.approx(t * tr.tr1, rel=1e-6)  # d loglik / d rho = 0


# ------------------------------------------------------------------ effects
def _inflated(res: EstimationResult, rho_sd: float) -> EstimationResult:
    cov = np.array(res.cov, copy=True)
    cov[-1, :] = cov[:, -1] = 0.0
    cov[-1, -1] = rho_sd**2
    return EstimationResult(res.coefs, res.depvar, res.model, res.n_obs, res.fixed_effects,
                            res.vcov, res.cluster, res.n_clusters, res.stats, res.notes,
                            res.meta, cov=cov)


def test_effects_discard_non_stationary_draws(produc):
    """With rho's SD inflated so that a known share of its normal draws exceeds the bound 1,
    the discarded share equals that probability (within Monte-Carlo error) and every kept draw
    is stationary, so the total effect's SE stays finite (large: draws reach rho near 1)."""
    from scipy import stats

    panel, w = produc
    res = spatial_panel(panel, "lgsp", X, w, model="sar", effects="twoway")
    rho = res.coef("rho")
    lo, hi = res.meta["bounds"]
    sd = (hi - rho) / 1.5  # P(draw >= hi) = P(Z >= 1.5) = 6.7%
    eff = impacts(_inflated(res, sd), n_draws=20_000, seed=4)
    want = stats.norm.sf(1.5) + stats.norm.cdf((lo - rho) / sd)
    assert eff.discarded_share == pytest.approx(want, abs=4 * np.sqrt(want * (1 - want) / 20_000))
    assert eff.n_draws == 20_000
    tot = eff.tidy().query("effect == 'total'")
    assert np.isfinite(tot["std_error"]).all()
    assert any("non-stationary rho" in n for n in eff.notes())
    assert "were discarded" in eff.reading("lpc")
    assert eff.summary()["discarded_share"] == eff.discarded_share
    assert impacts(res, n_draws=500, seed=1).discarded_share == 0.0


def test_effects_result_protocol(produc):
    panel, w = produc
    res = spatial_panel(panel, "lgsp", X, w, model="sdm", effects="unit", cluster="unit")
    eff = impacts(res, n_draws=300, seed=2, alpha=0.1)
    tidy = eff.tidy()
    assert list(tidy.columns[:7]) == ["term", "estimate", "std_error", "statistic", "p_value",
                                      "ci_low", "ci_high"]
    assert eff.results == [res]
    sims_ci = tidy.query("term == 'lpc' and effect == 'direct'").iloc[0]
    assert sims_ci["ci_low"] < sims_ci["estimate"] < sims_ci["ci_high"]
    assert "Direct: lpc" in eff.to_markdown() and "clustered by state" in eff.to_markdown()
    with pytest.raises(EstimationError, match="n_draws must be"):
        impacts(res, n_draws=1)


# ------------------------------------------------------------------ namespace
def test_spatial_namespace_in_a_fresh_interpreter():
    code = (
        "import climetrics as cm\n"
        "assert callable(cm.spatial.contiguity) and callable(cm.spatial.spatial_panel)\n"
        "assert callable(cm.spatial.moran) and callable(cm.spatial.impacts)\n"
        "assert cm.spatial.weights.__name__ == 'climetrics.estimate.spatial.weights'\n"
        "import climetrics.estimate.spatial.moran\n"
        "assert callable(cm.spatial.moran) and cm.spatial.moran.__name__ == 'moran'\n"
        "assert cm.spatial.SpatialWeights is cm.spatial.weights.SpatialWeights\n"
        "assert 'spatial_hausman' in dir(cm.spatial)\n"
        "missing = [n for n in cm.spatial.__all__ if not hasattr(cm.spatial, n)]\n"
        "assert not missing, missing\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**__import__("os").environ, "PYTHONPATH": str(HERE.parent / "src")})
    assert out.returncode == 0, out.stderr

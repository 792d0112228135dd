"""HonestDiD sensitivity analysis (Rambachan & Roth 2023): climetrics.honest_did.

References
----------
* ``tests/data/reference/honest_did.json`` -- moderndid 0.2.0's port of R HonestDiD on two public
  panels (the Medicaid-expansion example of HonestDiD's README, ``tests/data/ehec.csv``, and
  Callaway-Sant'Anna on ``mpdta``) and on a made-up single post-period case (no nuisance
  parameter), written by ``tools/reference/honest_did_moderndid.py``.
  The reference inverts the tests on a grid of 1,000 points and reports the outermost accepted
  grid points; climetrics bisects to 1e-4 standard errors. Tolerances:

  - ``"Conditional"`` (deterministic): one grid step of the reference plus 1e-4 SE;
  - ``"C-LF"``: the least-favourable critical value is simulated (1,000 draws, different random
    streams here and in the reference), so the ends may differ by a few grid steps: 3 steps;
  - ``"FLCI"``: the reference minimises the half-length over a grid of 100 standard deviations
    (h); climetrics refines the best grid point, so its interval can only be shorter. Its ends
    must agree within 0.5% of the reference half-length and never be longer than it by more
    than 1e-6 relative.
* closed forms: ``M = 0`` smoothness is the GLS extrapolation of a linear pre-trend; ``Mbar = 0``
  relative magnitudes with the conditional test is the usual interval; with (almost) no sampling
  noise the intervals shrink to the identified sets of RR sec. 2.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import climetrics as cm
from climetrics.errors import EstimationError
from climetrics.estimate.did.honest_did import EventEstimates, HonestDiDResult, honest_did
from climetrics.panel import Panel

DATA = Path(__file__).parent / "data"
REF = json.loads((DATA / "reference" / "honest_did.json").read_text())
Z = 1.959963984540054


def _estimates(name: str) -> EventEstimates:
    inp = REF["inputs"][name]
    e = np.asarray(inp["event_times"])
    return EventEstimates(np.asarray(inp["beta"]), np.asarray(inp["sigma"]), e, -1, name)


# ----------------------------------------------------------------------------- inputs
def test_event_study_reproduces_reference_inputs():
    """The ehec event study of climetrics gives pyfixest's coefficients and clustered covariance."""
    d = pd.read_csv(DATA / "ehec.csv")
    d = d[(d["year"] < 2016) & (d["yexp2"].isna() | (d["yexp2"] != 2015))].copy()
    d["adopt"] = np.where(d["yexp2"] == 2014, 2014.0, np.nan)
    es = cm.event_study(Panel(d, unit="stfips", time="year"), "dins", adoption="adopt",
                        window=(-6, 1), bin_endpoints=False)
    from climetrics.estimate.did.honest_did import event_estimates

    got = event_estimates(es)
    ref = _estimates("ehec")
    assert list(got.event_times) == list(ref.event_times)
    np.testing.assert_allclose(got.beta, ref.beta, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(got.sigma, ref.sigma, rtol=1e-6, atol=1e-14)
    assert (got.n_pre, got.n_post) == (5, 2)
    assert honest_did(got, restriction="smoothness", m=[0.0]).results == [es.fit]


def test_callaway_santanna_dynamic_reproduces_reference_inputs():
    """CS with a universal base period: event-time ATTs and their influence-function covariance."""
    df = pd.read_csv(DATA / "mpdta.csv")
    cs = cm.callaway_santanna(Panel(df, unit="countyreal", time="year"), "lemp", adoption="first.treat",
                              base_period="universal", n_draws=0)
    from climetrics.estimate.did.honest_did import event_estimates

    got = event_estimates(cs)
    ref = _estimates("mpdta")
    assert list(got.event_times) == list(ref.event_times)
    np.testing.assert_allclose(got.beta, ref.beta, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(got.sigma, ref.sigma, rtol=1e-6, atol=1e-14)


def test_varying_base_period_is_refused():
    df = pd.read_csv(DATA / "mpdta.csv")
    cs = cm.callaway_santanna(Panel(df, unit="countyreal", time="year"), "lemp", adoption="first.treat", n_draws=0)
    with pytest.raises(EstimationError, match="base_period='universal'"):
        honest_did(cs)


# ----------------------------------------------------------------------------- reference
_CASES = [(name, i) for name in ("ehec", "mpdta") for i in range(len(REF["cases"][name]))]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "i"), _CASES)
def test_matches_reference_implementation(name, i):
    case = REF["cases"][name][i]
    est = _estimates(name)
    ms = [r["m"] for r in case["rows"]]
    res = honest_did(est, restriction=case["restriction"], method=case["method"], m=ms,
                     target=case["target"])
    n_pre = est.n_pre
    l_vec = res.l_vec
    sd = math.sqrt(l_vec @ est.sigma[n_pre:, n_pre:] @ l_vec)
    for row, got in zip(case["rows"], res.grid.itertuples(), strict=True):
        assert got.m == pytest.approx(row["m"])
        if case["method"] == "FLCI":
            half = (row["ci_high"] - row["ci_low"]) / 2
            assert got.ci_low == pytest.approx(row["ci_low"], abs=5e-3 * half)
            assert got.ci_high == pytest.approx(row["ci_high"], abs=5e-3 * half)
            assert got.ci_high - got.ci_low <= (row["ci_high"] - row["ci_low"]) * (1 + 1e-6)
            continue
        tol = (1 if case["method"] == "Conditional" else 3) * row["grid_step"] + 1e-4 * sd
        assert got.ci_low == pytest.approx(row["ci_low"], abs=tol), (row, got)
        assert got.ci_high == pytest.approx(row["ci_high"], abs=tol), (row, got)


# ----------------------------------------------------------------------------- closed forms
def _gls_extrapolation(est: EventEstimates, l_vec: np.ndarray) -> tuple[float, float]:
    """min v' Sigma v s.t. v_post = l and v'(pre times, post times) = 0, via its KKT system."""
    n_pre, n = est.n_pre, len(est.beta)
    t = np.r_[np.arange(-n_pre, 0), np.arange(1, est.n_post + 1)].astype(float)
    # unknowns: w (n_pre), multiplier for the trend constraint
    s = est.sigma
    kkt = np.zeros((n_pre + 1, n_pre + 1))
    kkt[:n_pre, :n_pre] = 2 * s[:n_pre, :n_pre]
    kkt[:n_pre, n_pre] = t[:n_pre]
    kkt[n_pre, :n_pre] = t[:n_pre]
    rhs = np.r_[-2 * s[:n_pre, n_pre:] @ l_vec, -t[n_pre:] @ l_vec]
    w = np.linalg.solve(kkt, rhs)[:n_pre]
    v = np.r_[w, l_vec]
    assert n == len(v)
    return float(v @ est.beta), math.sqrt(v @ s @ v)


@pytest.mark.parametrize("target", ["first", "average"])
def test_smoothness_m0_is_linear_trend_extrapolation(target):
    est = _estimates("ehec")
    res = honest_did(est, restriction="smoothness", m=[0.0], target=target)
    center, sd = _gls_extrapolation(est, res.l_vec)
    assert res.grid["ci_low"].iloc[0] == pytest.approx(center - Z * sd, abs=1e-9)
    assert res.grid["ci_high"].iloc[0] == pytest.approx(center + Z * sd, abs=1e-9)


@pytest.mark.parametrize("name", ["ehec", "mpdta"])
def test_relative_magnitudes_mbar0_conditional_is_the_usual_interval(name):
    est = _estimates(name)
    res = honest_did(est, restriction="relative_magnitudes", method="Conditional", m=[0.0])
    lo, hi = res.original
    assert res.grid["ci_low"].iloc[0] == pytest.approx(lo, abs=2e-4 * res.se)
    assert res.grid["ci_high"].iloc[0] == pytest.approx(hi, abs=2e-4 * res.se)
    assert res.estimate == pytest.approx(est.beta[est.n_pre])
    assert res.se == pytest.approx(math.sqrt(est.sigma[est.n_pre, est.n_pre]))


def _noiseless(beta_pre, beta_post) -> EventEstimates:
    beta = np.r_[beta_pre, beta_post]
    k = np.r_[np.arange(-len(beta_pre) - 1, -1), np.arange(len(beta_post))]
    return EventEstimates(beta, 1e-12 * np.eye(len(beta)), k, -1, "y")


@pytest.mark.parametrize("method", ["Conditional", "C-LF"])
def test_relative_magnitudes_shrinks_to_identified_set(method):
    """With no sampling noise the interval is the identified set: the first post-period trend
    change is at most Mbar times the largest pre-period change, so theta lies in
    beta_1 +- Mbar * max|diff(beta_pre, 0)| (RR sec. 2.4.2)."""
    pre = np.array([0.3, 0.1, -0.1])  # differences to the reference (0): 0.2, 0.2, 0.1 -> max 0.2
    est = _noiseless(pre, [1.0, 1.4])
    res = honest_did(est, restriction="relative_magnitudes", method=method, m=[0.0, 1.0, 2.0])
    for mbar, lo, hi in res.grid[["m", "ci_low", "ci_high"]].itertuples(index=False):
        assert lo == pytest.approx(1.0 - 0.2 * mbar, abs=1e-4)
        assert hi == pytest.approx(1.0 + 0.2 * mbar, abs=1e-4)


@pytest.mark.parametrize("method", ["FLCI", "Conditional", "C-LF"])
def test_smoothness_shrinks_to_identified_set(method):
    """Linear pre-trend of slope -0.1 towards the reference: extrapolated bias at t = 1 is
    +0.1, and a trend whose slope may change by M per period adds +-M (RR sec. 2.4.1)."""
    pre = np.array([0.3, 0.2, 0.1])
    est = _noiseless(pre, [1.0, 1.4])
    res = honest_did(est, restriction="smoothness", method=method, m=[0.0, 0.05, 0.2])
    for m, lo, hi in res.grid[["m", "ci_low", "ci_high"]].itertuples(index=False):
        assert lo == pytest.approx(1.1 - m, abs=1e-4)
        assert hi == pytest.approx(1.1 + m, abs=1e-4)


@pytest.mark.slow
def test_lp_path_equals_vertex_path(monkeypatch):
    """Without the dual-vertex list (too many bases) every step runs on LPs (HiGHS primal for
    eta, Newton steps on the dual for the truncation bounds); the intervals are the same."""
    import climetrics.estimate.did.honest_did as hd

    est = _estimates("ehec")
    kw = dict(restriction="relative_magnitudes", m=[1.0], target="average")
    fast = hd.honest_did(est, method="C-LF", **kw).grid
    monkeypatch.setattr(hd, "_dual_vertices", lambda w, max_bases=0: None)
    slow = hd.honest_did(est, method="C-LF", **kw).grid
    np.testing.assert_allclose(slow[["ci_low", "ci_high"]], fast[["ci_low", "ci_high"]], atol=2e-4 * 0.01)


def test_intervals_widen_with_m():
    est = _estimates("mpdta")
    res = honest_did(est, restriction="relative_magnitudes", method="Conditional")
    lo, hi = res.grid["ci_low"].to_numpy(), res.grid["ci_high"].to_numpy()
    assert np.all(np.diff(lo) <= 1e-8) and np.all(np.diff(hi) >= -1e-8)
    assert res.grid["m"].tolist() == pytest.approx(list(np.linspace(0, 2, 10)))


# ----------------------------------------------------------------------------- readings
def _scenario(effect: float, pre_slope: float, se: float) -> EventEstimates:
    """Event study whose truth is known: effect ``effect`` in every post period, a differential
    trend ``pre_slope`` per period before adoption, coefficients with standard error ``se``."""
    pre = -pre_slope * np.arange(4, 0, -1)  # k = -5..-2 relative to the reference k = -1
    post = np.full(3, effect)
    beta = np.r_[pre, post]
    rho = 0.3
    n = len(beta)
    sigma = se**2 * (rho + (1 - rho) * np.eye(n))
    return EventEstimates(beta, sigma, np.r_[np.arange(-5, -1), np.arange(3)], -1, "lnco2")


def test_reading_robust_effect():
    res = honest_did(_scenario(-0.5, 0.0, 0.02), m=[0.0, 1.0, 2.0])
    assert res.breakdown is None
    text = res.reading()
    assert "stays significant for every value tried" in text
    assert "even if post-adoption violations of parallel trends are as large as 2 times the largest" in text


def test_reading_no_effect():
    res = honest_did(_scenario(0.0, 0.0, 0.05), m=[0.0, 1.0])
    assert res.breakdown == 0.0
    assert "already contains zero" in res.reading()


def test_reading_breakdown_value():
    """A modest effect (0.1, SE 0.02) after a noticeable pre-trend (0.03 per period): the largest
    pre-period change is about 0.03, so the effect survives post-adoption violations up to
    roughly (0.1 - 1.96 * 0.02-ish) / 0.03 ~ 2 times it and breaks down before Mbar = 4."""
    res = honest_did(_scenario(0.1, 0.03, 0.01), restriction="relative_magnitudes",
                     method="Conditional", m=np.linspace(0, 4, 9))
    assert 1.0 < res.breakdown < 4.0
    lo_before = res.grid.loc[res.grid["m"] < res.breakdown, "ci_low"]
    assert (lo_before > 0).all()
    text = res.reading()
    assert f"unless post-adoption violations of parallel trends exceed {res.breakdown:.3g} times" in text
    assert res.summary()["breakdown"] == pytest.approx(res.breakdown)


# ----------------------------------------------------------------------------- protocol
def test_result_protocol_and_plot():
    res = honest_did(_scenario(0.1, 0.03, 0.01), restriction="smoothness", m=[0.0, 0.01, 0.02])
    assert isinstance(res, HonestDiDResult)
    tidy = res.tidy()
    assert list(tidy.columns[:7]) == ["term", "estimate", "std_error", "statistic", "p_value", "ci_low", "ci_high"]
    assert tidy["term"].tolist() == ["M=0", "M=0.01", "M=0.02"]
    assert tidy["ci_low"].notna().all() and tidy["ci_high"].notna().all()
    s = res.summary()
    assert s["restriction"] == "smoothness" and s["method"] == "FLCI" and s["n_pre"] == 4
    json.dumps(s)
    md = res.to_markdown()
    assert "Parallel trends" in md and "Breakdown value" in md
    assert "even if the slope of the differential trend changes by up to 0.02 (in units of lnco2)" in res.reading()
    fig = res.plot()
    ax = fig.axes[0]
    assert ax.get_xlabel() == "$M$"
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_bad_options_are_reported():
    est = _scenario(0.1, 0.0, 0.01)
    with pytest.raises(EstimationError, match="restriction must be one of"):
        honest_did(est, restriction="bounds")
    with pytest.raises(EstimationError, match="not available for restriction 'relative_magnitudes'"):
        honest_did(est, method="FLCI")
    with pytest.raises(EstimationError, match="target must be"):
        honest_did(est, target="last")
    with pytest.raises(EstimationError, match="non-negative"):
        honest_did(est, m=[-1.0])
    with pytest.raises(EstimationError, match="event_study result"):
        honest_did(pd.DataFrame())
    with pytest.raises(EstimationError, match="no coefficient at \\[-3\\]"):
        EventEstimates(np.zeros(3), np.eye(3), [-4, -2, 0], -1)
    with pytest.raises(EstimationError, match="exclude the reference period -1"):
        EventEstimates(np.zeros(3), np.eye(3), [-2, -1, 0], -1)
    with pytest.raises(EstimationError, match="3x3 covariance"):
        EventEstimates(np.zeros(3), np.eye(2), [-3, -2, 0], -1)
    with pytest.raises(EstimationError, match="at least one pre-period"):
        honest_did(EventEstimates(np.zeros(2), np.eye(2), [0, 1], -1))


def test_lazy_export():
    assert cm.honest_did is honest_did


# ----------------------------------------------------------------------------- study
def test_study_event_study_section_adds_sensitivity(tmp_path):
    """``[event_study] honest_did = true`` adds the sensitivity table, figure and reading."""
    from climetrics.study.config import load_config
    from climetrics.study.runner import Study

    off = "".join(f"[{s}]\nenabled = false\n" for s in (
        "descriptives", "correlation", "baseline", "model_selection", "placebo", "robust_did",
        "robustness", "psm", "mediation", "heterogeneity", "gmm", "spatial", "nonlinear", "iv"))
    cfg = tmp_path / "s.toml"
    cfg.write_text('[data.simulate]\nyears = [2008, 2019]\nseed = 3\n'
                   '[variables]\noutcome = "lnci"\ntreatment = "did"\ncontrols = ["lnpgdp"]\n'
                   '[event_study]\nwindow = [-4, 3]\nhonest_did = true\n' + off)
    out = tmp_path / "out"
    Study(load_config(cfg)).run(out, log=lambda *_: None)
    manifest = json.loads((out / "manifest.json").read_text())
    hd = manifest["summaries"]["event_study"]["honest_did"]
    assert hd["restriction"] == "relative_magnitudes" and hd["method"] == "C-LF"
    assert hd["target"] == "average"
    assert hd["n_pre"] == 3 and hd["n_post"] == 4
    html = (out / "report.html").read_text()
    assert "Sensitivity to parallel-trends violations" in html
    assert "Rambachan &amp; Roth 2023 sensitivity analysis" in html
    assert any(p.name.startswith("honest_did") for p in (out / "figures").iterdir())

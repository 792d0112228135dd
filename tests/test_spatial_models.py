"""Panel SAR / SDM / SEM with fixed effects, effects and specification tests, against references.

Data: ``plm::Produc`` (48 US states x 1970-1986, Munnell 1990; ``tests/data/produc_plm.csv``),
queen contiguity of the 48 contiguous states from ``spData::us_states``
(``tests/data/us_states_contiguity.csv``), row-standardised; model
``log(gsp) ~ log(pcap) + log(pc) + log(emp) + unemp``.

References (``tests/data/reference/spatial_produc.json``, written by
``tools/reference/spatial_panel.R`` with spatialreg 1.2-6 / spdep 1.2-7):

* direct approach: ``lagsarlm`` / ``errorsarlm`` with unit and/or year dummies and a
  block-diagonal listw ``I_T (x) W`` (the exact ML of the FE model). Tolerances: coefficients,
  rho and sigma² 1e-6 relative, log-likelihood 1e-9 relative, standard errors 1e-5 relative.
  Exception, the SEM: ``errorsarlm`` with 48-64 dummies stops up to 6e-5 (relative, on the small
  ``unemp`` coefficient) from the optimum; there the test asserts 1e-4 and that our lambda
  attains a concentrated likelihood at least as high as R's lambda (so the gap is R's).
* Lee & Yu (2010) transformation approach: the model on ``F_T'``/``F_N'``-transformed data,
  estimated by spatialreg (unit effects) or by a separate R likelihood with numeric
  eigenvalues of ``W* = F_N' W F_N`` (time effects). Same tolerances. With unit effects only
  also the closed form: beta and rho equal to the direct ones, sigma² times T/(T-1).
* ``spatialreg::impacts``: effects at the estimates (exact) to 1e-6 relative; simulated
  standard errors to 5%: R used 5,000 draws (sampling error of an SD about 1 / sqrt(2 R) =
  1.0%), we use 50,000 (0.3%), so 5% is about 5 standard deviations of the difference.
* ``spdep::lm.LMtests`` on the within-transformed data: 1e-9 relative.
* PySAL ``spreg.Panel_FE_Lag`` / ``Panel_FE_Error`` (unit FE): estimates, sigma² and standard
  errors to 1e-6 relative (spreg's rho tolerance is 1e-7; its panel ``logll`` uses another
  convention and is not compared).
* Random-effects lag model and spatial Hausman test: PySAL ``spreg.Panel_RE_Lag`` and
  ``spreg.diagnostics_panel.panel_Hausman`` (SAR, and SDM as the lag model on ``[X, WX]``):
  estimates, phi, sigma² and the statistic to 1e-5 relative (1e-6 absolute on coefficients;
  spreg alternates phi and rho searches until phi moves less than 1e-7, ours maximises the
  profile likelihood jointly, and the test checks ours reaches the higher likelihood).
  spreg's RE ``logll`` omits ``N/2 log phi²``; ours = spreg's + N log phi (checked).
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import climetrics as cm
from climetrics.errors import EstimationError, PanelError
from climetrics.estimate.spatial import models as sm
from climetrics.estimate.spatial.effects import impacts
from climetrics.estimate.spatial.lm_tests import lm_tests, lr_test, sdm_wald, spatial_hausman
from climetrics.estimate.spatial.models import spatial_panel
from climetrics.estimate.spatial.weights import SpatialWeights

HERE = Path(__file__).parent
REF = json.loads((HERE / "data" / "reference" / "spatial_produc.json").read_text())
X = ["lpcap", "lpc", "lemp", "unemp"]
FE = {"individual": "unit", "time": "time", "twoways": "twoway"}
TOL = 1e-6
CASES = [(fe, m) for fe in FE for m in ("sar", "sdm", "sem")]


def _frame() -> pd.DataFrame:
    return pd.read_csv(HERE / "data" / "produc_plm.csv")


def _weights(states) -> SpatialWeights:
    nb = pd.read_csv(HERE / "data" / "us_states_contiguity.csv")
    pos = {s: i for i, s in enumerate(states)}
    m = np.zeros((len(states), len(states)))
    m[nb["state"].map(pos), nb["neighbor"].map(pos)] = 1.0
    return SpatialWeights.from_matrix(m, states, kind="queen contiguity (US states)").standardized()


@pytest.fixture(scope="module")
def data():
    df = _frame()
    states = sorted(df["state"].unique())
    return cm.Panel(df, unit="state", time="year"), _weights(states)


def _fit(data, fe, model, lee_yu):
    panel, w = data
    return spatial_panel(panel, "lgsp", X, w, model=model, effects=FE[fe], lee_yu=lee_yu)


def _r_order(res):
    """Our (x, W*x, rho) order -> R's (rho, x, lag.x)."""
    k = len(res.terms)
    return [k - 1, *range(k - 1)]


def test_fixture_and_weights(data):
    panel, w = data
    assert REF["versions"]["spatialreg"] == "1.2.6" and REF["N"] == 48 and REF["T"] == 17
    assert list(w.ids) == REF["states"] and not w.islands
    b = (w.dense() > 0).astype(int)
    assert (b == b.T).all() and b.sum() == 214  # 107 shared borders among the 48 states
    assert len(panel) == 816


@pytest.mark.parametrize("fe,model", CASES)
def test_direct_ml_matches_spatialreg(data, fe, model):
    res = _fit(data, fe, model, lee_yu=False)
    ref = REF["direct"][fe][model]
    order = _r_order(res)
    est = res.coefs["estimate"].to_numpy()[order]
    tol = 1e-4 if model == "sem" else TOL
    np.testing.assert_allclose(est, ref["estimate"], rtol=tol)
    np.testing.assert_allclose(res.stats["sigma2"], ref["sigma2"], rtol=tol)
    np.testing.assert_allclose(res.stats["loglik"], ref["loglik"], rtol=1e-9)
    se = np.sqrt(np.diag(res.cov))[order]
    np.testing.assert_allclose(se, np.sqrt(np.diag(ref["vcov"])), rtol=10 * tol)
    assert res.terms[-1] == ("lambda" if model == "sem" else "rho")
    if model == "sdm":
        assert res.terms[4:8] == [f"W*{x}" for x in X]


@pytest.mark.parametrize("fe", list(FE))
def test_sem_optimum_at_least_as_good_as_spatialreg(data, fe, monkeypatch):
    """The SEM gap to errorsarlm is R's: our lambda has the higher concentrated likelihood."""
    seen = {}
    original = sm._optimise

    def spy(objective, bounds):
        seen["f"] = objective
        return original(objective, bounds)

    monkeypatch.setattr(sm, "_optimise", spy)
    res = _fit(data, fe, "sem", lee_yu=False)
    lam_r = REF["direct"][fe]["sem"]["estimate"][0]
    assert seen["f"](res.coef("lambda")) <= seen["f"](lam_r)
    assert abs(res.coef("lambda") - lam_r) < 1e-4


@pytest.mark.parametrize("fe,model", CASES)
def test_lee_yu_matches_transformed_model(data, fe, model):
    res = _fit(data, fe, model, lee_yu=True)
    ref = REF["leeyu"][fe][model]
    order = _r_order(res)
    np.testing.assert_allclose(res.coefs["estimate"].to_numpy()[order], ref["estimate"], rtol=TOL)
    np.testing.assert_allclose(res.stats["sigma2"], ref["sigma2"], rtol=TOL)
    np.testing.assert_allclose(res.stats["loglik"], ref["loglik"], rtol=1e-9)
    if "vcov" in ref:  # unit effects: spatialreg's variance of the transformed model
        se = np.sqrt(np.diag(res.cov))[order]
        np.testing.assert_allclose(se, np.sqrt(np.diag(ref["vcov"])), rtol=1e-5)


@pytest.mark.parametrize("model", ["sar", "sdm", "sem"])
def test_lee_yu_unit_effects_closed_form(data, model):
    """Unit FE only: same beta and rho as the direct approach, sigma² scaled by T/(T-1)."""
    direct, ly = _fit(data, "individual", model, False), _fit(data, "individual", model, True)
    t = 17
    np.testing.assert_allclose(ly.coefs["estimate"], direct.coefs["estimate"], rtol=1e-7)
    np.testing.assert_allclose(ly.stats["sigma2"], direct.stats["sigma2"] * t / (t - 1), rtol=1e-7)
    rho = ly.coefs["estimate"].iloc[-1]
    ld = ly.meta["spatial"].logdet(rho)
    closed = -48 * (t - 1) / 2 * (np.log(2 * np.pi * ly.stats["sigma2"]) + 1) + (t - 1) * ld
    assert ly.stats["loglik"] == pytest.approx(closed, rel=1e-12)
    assert ly.meta["lee_yu"] and not direct.meta["lee_yu"]


@pytest.mark.parametrize("fe", list(FE))
@pytest.mark.parametrize("model", ["sar", "sdm"])
def test_impacts_match_spatialreg(data, fe, model):
    res = _fit(data, fe, model, lee_yu=False)
    ref = REF["impacts"][fe][model]
    tab = impacts(res, draws=50_000, seed=7)
    for effect in ("direct", "indirect", "total"):
        part = tab[tab["effect"] == effect].set_index("term").loc[ref["terms"]]
        np.testing.assert_allclose(part["estimate"], ref[effect], rtol=TOL)
        np.testing.assert_allclose(part["std_error"], ref[f"se_{effect}"], rtol=0.05)
        np.testing.assert_allclose(part["statistic"], part["estimate"] / part["std_error"])
    assert list(tab.columns[:3]) == ["term", "effect", "estimate"] and len(tab) == 12


def test_impacts_reproducible_and_sar_total(data):
    res = _fit(data, "twoways", "sar", lee_yu=True)
    a, b = impacts(res, draws=200, seed=3), impacts(res, draws=200, seed=3)
    pd.testing.assert_frame_equal(a, b)
    tot = a[a["effect"] == "total"].set_index("term")["estimate"]
    rho = res.coef("rho")
    np.testing.assert_allclose(tot[X], [res.coef(x) / (1 - rho) for x in X], rtol=1e-12)


def test_impacts_refuses_sem(data):
    with pytest.raises(EstimationError, match="SEM has no spatial multiplier"):
        impacts(_fit(data, "individual", "sem", lee_yu=True))


@pytest.mark.parametrize("fe", list(FE))
def test_lm_tests_match_spdep(data, fe):
    panel, w = data
    tab = lm_tests(panel, "lgsp", X, w, effects=FE[fe]).set_index("test")
    ref = REF["lm"][fe]
    names = {
        "LM lag": "LMlag",
        "LM error": "LMerr",
        "robust LM lag": "RLMlag",
        "robust LM error": "RLMerr",
    }
    for ours, theirs in names.items():
        assert tab.at[ours, "statistic"] == pytest.approx(ref[theirs]["statistic"], rel=1e-9)
        assert tab.at[ours, "p_value"] == pytest.approx(ref[theirs]["p_value"], rel=1e-6, abs=1e-14)


@pytest.mark.parametrize("fe", list(FE))
def test_lr_and_wald_sdm(data, fe):
    sdm, sar, sem = (_fit(data, fe, m, lee_yu=False) for m in ("sdm", "sar", "sem"))
    ref = REF["direct"][fe]
    lr = lr_test(sar, sdm)
    assert lr["df"] == 4
    assert lr["statistic"] == pytest.approx(
        2 * (ref["sdm"]["loglik"] - ref["sar"]["loglik"]), rel=1e-6
    )
    lr_sem = lr_test(sem, sdm)
    assert lr_sem["statistic"] == pytest.approx(
        2 * (ref["sdm"]["loglik"] - ref["sem"]["loglik"]), rel=1e-6
    )
    # Wald statistics recomputed from spatialreg's SDM estimates and covariance
    b = np.asarray(ref["sdm"]["estimate"])
    v = np.asarray(ref["sdm"]["vcov"])
    rho, beta, theta = b[0], b[1:5], b[5:9]
    w_sar = theta @ np.linalg.solve(v[5:9, 5:9], theta)
    assert sdm_wald(sdm, "sar")["statistic"] == pytest.approx(w_sar, rel=1e-5)
    g = np.zeros((4, 9))
    g[:, 0], g[:, 1:5], g[:, 5:9] = beta, rho * np.eye(4), np.eye(4)
    c = theta + rho * beta
    w_sem = c @ np.linalg.solve(g @ v @ g.T, c)
    assert sdm_wald(sdm, "sem")["statistic"] == pytest.approx(w_sem, rel=1e-5)


@pytest.mark.parametrize("model", ["sar", "sem"])
def test_matches_spreg_panel_fe(data, model):
    spreg = pytest.importorskip("spreg")
    libpysal = pytest.importorskip("libpysal")
    panel, w = data
    nb = pd.read_csv(HERE / "data" / "us_states_contiguity.csv")
    states = list(w.ids)
    wl = libpysal.weights.W(
        {s: list(nb.loc[nb["state"] == s, "neighbor"]) for s in states}, id_order=states
    )
    wl.transform = "r"
    d = _frame().sort_values(["year", "state"])  # spreg's long format: period-major
    cls = spreg.Panel_FE_Lag if model == "sar" else spreg.Panel_FE_Error
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # spreg's notes on the data layout
        o = cls(d[["lgsp"]].to_numpy(), d[X].to_numpy(), wl)
    res = _fit(data, "individual", model, lee_yu=False)
    np.testing.assert_allclose(res.coefs["estimate"], o.betas.ravel(), rtol=TOL)
    np.testing.assert_allclose(res.coefs["std_error"], np.sqrt(np.diag(o.vm)), rtol=TOL)
    assert res.stats["sigma2"] == pytest.approx(float(np.ravel(o.sig2)[0]), rel=TOL)


def _spreg_weights(w):
    libpysal = pytest.importorskip("libpysal")
    nb = pd.read_csv(HERE / "data" / "us_states_contiguity.csv")
    states = list(w.ids)
    wl = libpysal.weights.W(
        {s: list(nb.loc[nb["state"] == s, "neighbor"]) for s in states}, id_order=states
    )
    wl.transform = "r"
    return wl


@pytest.mark.parametrize("model", ["sar", "sdm"])
def test_hausman_and_random_effects_match_spreg(data, model):
    spreg = pytest.importorskip("spreg")
    from spreg.diagnostics_panel import panel_Hausman

    panel, w = data
    wl = _spreg_weights(w)
    d = _frame().sort_values(["year", "state"])
    xs = d[X].to_numpy()
    if model == "sdm":
        wd = w.dense()
        xs = np.hstack([xs, np.vstack([wd @ xs[t * 48 : (t + 1) * 48] for t in range(17)])])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fe = spreg.Panel_FE_Lag(d[["lgsp"]].to_numpy(), xs, wl)
        re = spreg.Panel_RE_Lag(d[["lgsp"]].to_numpy(), xs, wl)
        h_ref = panel_Hausman(fe, re)
    h = spatial_hausman(panel, "lgsp", X, w, model=model)
    b = re.betas.ravel()
    np.testing.assert_allclose(h["re_coef"], b[:-1], rtol=1e-5, atol=1e-6)
    assert h["re_phi"] == pytest.approx(b[-1], rel=1e-5)
    # where the two differ, ours has the higher likelihood (profile over beta and sigma²)
    zc = np.concatenate([np.ones((816, 1)), xs], axis=1).reshape(17, 48, -1)
    yv = d["lgsp"].to_numpy().reshape(17, 48)
    wd = w.dense()

    def loglik(phi, rho):
        def q(a):
            return (a - (1 - phi) * a.mean(axis=0, keepdims=True)).reshape(816, -1)

        ys, wys, zs = q(yv), q(yv @ wd.T), q(zc)
        e = ys - rho * wys
        e = e - zs @ np.linalg.lstsq(zs, e, rcond=None)[0]
        ld = np.linalg.slogdet(np.eye(48) - rho * wd)[1]
        return -408 * np.log(np.sum(e**2) / 816) + 48 * np.log(phi) + 17 * ld

    assert loglik(h["re_phi"], h["re_coef"][-1]) >= loglik(b[-1], b[-2])
    assert h["re_sigma2"] == pytest.approx(float(np.ravel(re.sig2)[0]), rel=1e-5)
    assert h["re_loglik"] == pytest.approx(re.logll + 48 * np.log(h["re_phi"]), rel=1e-6)
    assert h["statistic"] == pytest.approx(float(h_ref[0]), rel=1e-5)
    assert h["df"] == xs.shape[1] + 1
    if h["statistic"] < 0:  # Produc: V_RE - V_FE is indefinite; the result says so
        assert "not positive definite" in h["note"]


# ------------------------------------------------------------------ input checks
def test_user_data_untouched(data):
    df = _frame()
    before = df.copy()
    panel = cm.Panel(df, unit="state", time="year")
    spatial_panel(panel, "lgsp", X, data[1], model="sar", effects="twoway")
    pd.testing.assert_frame_equal(df, before)


def test_unbalanced_panel_names_unit_and_year(data):
    df = _frame()
    df = df[~((df["state"] == "OHIO") & (df["year"] == 1975))]
    with pytest.raises(PanelError, match=r"state 'OHIO' has no row for year 1975"):
        spatial_panel(cm.Panel(df, unit="state", time="year"), "lgsp", X, data[1])


def test_missing_value_names_cell(data):
    df = _frame()
    df.loc[(df["state"] == "IOWA") & (df["year"] == 1980), "lpc"] = np.nan
    with pytest.raises(PanelError, match=r"'lpc' is missing for state 'IOWA' in year 1980"):
        spatial_panel(cm.Panel(df, unit="state", time="year"), "lgsp", X, data[1])


def test_weights_checks(data):
    panel, w = data
    raw = SpatialWeights.from_matrix(w.dense() > 0, w.ids)
    with pytest.raises(EstimationError, match="not row-standardised"):
        spatial_panel(panel, "lgsp", X, raw)
    m = w.dense()
    i = list(w.ids).index("MAINE")
    m[i, :] = 0
    m[:, i] = 0
    island = SpatialWeights.from_matrix(m, w.ids).standardized()
    with pytest.raises(EstimationError, match="'MAINE'"):
        spatial_panel(panel, "lgsp", X, island)
    res = spatial_panel(panel, "lgsp", X, island, model="sar", allow_islands=True)
    assert np.isfinite(res.coef("rho"))
    fewer = SpatialWeights.from_matrix(w.dense()[1:, 1:], w.ids[1:]).standardized()
    with pytest.raises(EstimationError, match="ALABAMA"):
        spatial_panel(panel, "lgsp", X, fewer)


def test_argument_checks(data):
    panel, w = data
    with pytest.raises(EstimationError, match="model must be one of"):
        spatial_panel(panel, "lgsp", X, w, model="sac")
    with pytest.raises(EstimationError, match="effects must be"):
        spatial_panel(panel, "lgsp", X, w, effects="region")
    with pytest.raises(EstimationError, match="durbin term 'lgsp'"):
        spatial_panel(panel, "lgsp", X, w, durbin=["lgsp"])
    with pytest.raises(EstimationError, match="only apply to the SDM"):
        spatial_panel(panel, "lgsp", X, w, model="sar", durbin=["lpc"])
    const = panel.assign(region_size=np.repeat(np.arange(48.0), 17))
    with pytest.raises(EstimationError, match="'region_size' does not vary once the state"):
        spatial_panel(const, "lgsp", [*X, "region_size"], w, effects="unit")


def test_partial_durbin_and_table(data):
    panel, w = data
    res = spatial_panel(panel, "lgsp", X, w, model="sdm", durbin=["lpcap"], effects="twoway")
    assert res.terms == [*X, "W*lpcap", "rho"]
    tab = impacts(res, draws=100, seed=1)
    d = tab[tab["effect"] == "direct"].set_index("term")["estimate"]
    assert d["lpc"] != res.coef("lpc")  # feedback through rho
    assert "rho" in res.to_markdown()


# ------------------------------------------------------------------ large-N code paths
def _torus_weights(n1: int, n2: int) -> SpatialWeights:
    idx = np.arange(n1 * n2).reshape(n1, n2)
    m = np.zeros((idx.size, idx.size))
    for a in (0, 1):
        for s in (1, -1):
            m[idx.ravel(), np.roll(idx, s, axis=a).ravel()] = 1.0
    return SpatialWeights.from_matrix(m, np.arange(idx.size)).standardized()


def _sar_panel(w: SpatialWeights, t: int = 4, rho: float = 0.5, seed: int = 5) -> cm.Panel:
    rng = np.random.default_rng(seed)
    n = w.n
    x = rng.normal(size=(n, t))
    a = np.eye(n) - rho * w.dense()
    y = np.linalg.solve(a, 2 * x + rng.normal(size=(n, 1)) + rng.normal(size=(n, t)))
    return cm.Panel(
        pd.DataFrame(
            {
                "id": np.repeat(np.arange(n), t),
                "year": np.tile(np.arange(t), n),
                "x": x.ravel(),
                "y": y.ravel(),
            }
        ),
        unit="id",
        time="year",
    )


def test_blocked_lu_traces_equal_dense():
    """The variance's traces (LU, blocks of 512 columns) against a dense inverse, N = 600."""
    w = _torus_weights(25, 24)
    rho = 0.6
    wt = np.linalg.solve(np.eye(w.n) - rho * w.dense(), w.dense())
    apply, tr1, tr2, frob = sm._traces(w, rho, time_fe_ly=False)
    assert tr1 == pytest.approx(np.trace(wt), rel=1e-10)
    assert tr2 == pytest.approx(np.trace(wt @ wt), rel=1e-10)
    assert frob == pytest.approx(np.sum(wt**2), rel=1e-10)
    v = np.random.default_rng(0).normal(size=(w.n, 3))
    np.testing.assert_allclose(apply(v), wt @ v, rtol=1e-10, atol=1e-12)
    _, t1, t2, f2 = sm._traces(w, rho, time_fe_ly=True)
    j = np.eye(w.n) - 1 / w.n
    assert t1 == pytest.approx(np.trace(j @ wt), rel=1e-10)
    assert t2 == pytest.approx(np.trace(j @ wt @ j @ wt), rel=1e-10)
    assert f2 == pytest.approx(np.sum((j @ wt @ j) ** 2), rel=1e-10)


def test_lu_fit_and_trace_effects_match_eigen():
    """N = 1,020 (> EIGEN_MAX_N): LU fit equals the eigenvalue fit; Hutchinson-trace effects
    within 2e-3 of the exact ones (Monte-Carlo error of 50 probes)."""
    w = _torus_weights(34, 30)
    panel = _sar_panel(w)
    lu = spatial_panel(panel, "y", ["x"], w, model="sar", effects="twoway")
    eig = spatial_panel(panel, "y", ["x"], w, model="sar", effects="twoway", logdet="eigen")
    assert lu.meta["logdet"] == "lu" and eig.meta["logdet"] == "eigen"
    # both exact; the gap is the optimiser's x tolerance acting on rounding-level differences
    np.testing.assert_allclose(lu.coefs["estimate"], eig.coefs["estimate"], rtol=1e-7)
    np.testing.assert_allclose(lu.coefs["std_error"], eig.coefs["std_error"], rtol=1e-7)
    a, b = impacts(lu, draws=50, seed=1), impacts(eig, draws=50, seed=1)
    np.testing.assert_allclose(a["estimate"], b["estimate"], rtol=2e-3)
    assert abs(lu.coef("rho") - 0.5) < 0.05


def test_boundary_solution_is_reported():
    with pytest.warns(UserWarning, match="boundary"):
        rho, notes = sm._optimise(lambda r: -r, (-1.0, 1.0))
    assert rho > 0.999 and "boundary" in notes[0]

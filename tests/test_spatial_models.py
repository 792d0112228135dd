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
* Random-effects error model (Baltagi, Song & Koh 2003; Elhorst 2003) and the SEM Hausman test:
  (a) its likelihood is the Gaussian density with the model's covariance built in full
  (``_re_sem_loglik_dense``): log-likelihood at our estimates to 1e-10 relative, its numerical
  gradient at them zero (``|dL / d log p| < 1e-3`` for every parameter; a lambda off by 1e-5
  gives about 5e-3), the information matrix equal to ``1/2 tr(O^-1 O_a O^-1 O_b)`` and
  ``X' O^-1 X`` (1e-6 / 1e-9 relative). (b) PySAL ``spreg.Panel_RE_Error`` builds its GLS
  transform from eigenvectors of (symmetrised) W, which is the model's likelihood only for a
  symmetric W; so the comparison uses a symmetric, row-standardised W (a 4-regular circulant
  over the states). spreg's L-BFGS-B stops short (ours has the higher likelihood); evaluated at
  our (lambda, theta) spreg's own code gives our coefficients (1e-9), sigma², sigma²_mu and
  log-likelihood (1e-10; ours = spreg's ``logll`` + NT/2 log NT, spreg's concentrated
  likelihood uses log e'e for log(e'e / NT)) and ``panel_Hausman`` our statistic (1e-8);
  spreg's own objective maximised by Nelder-Mead lands within 1e-4 (relative) of our lambda
  and theta (its objective rounds at about 1e-10 relative, normal equations through an
  inverse, so its optimum is fixed no closer). ``panel_Hausman`` uses the slopes (not lambda)
  for the SEM, as we do; its p-value counts the constant as a degree of freedom, ours not.
  (c) With no unit heterogeneity theta is 0 and the fit equals the pooled SEM, ``spreg.ML_Error``
  on ``I_T (x) W`` (sparse LU, x tolerance 1e-12): coefficients 1e-7, log-likelihood 1e-11.
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import climetrics as cm
from climetrics.core.results import TIDY_COLUMNS
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
    eff = impacts(res, n_draws=50_000, seed=7)
    assert eff.discarded_share == 0.0  # rho far inside its interval: no draw is discarded
    tab = eff.tidy()
    for effect in ("direct", "indirect", "total"):
        part = tab[tab["effect"] == effect].set_index("term").loc[ref["terms"]]
        np.testing.assert_allclose(part["estimate"], ref[effect], rtol=TOL)
        np.testing.assert_allclose(part["std_error"], ref[f"se_{effect}"], rtol=0.05)
        np.testing.assert_allclose(part["statistic"], part["estimate"] / part["std_error"])
    assert list(tab.columns[:7]) == TIDY_COLUMNS and len(tab) == 12
    assert set(tab["effect"]) == {"direct", "indirect", "total"}


def test_impacts_reproducible_and_sar_total(data):
    res = _fit(data, "twoways", "sar", lee_yu=True)
    a, b = impacts(res, n_draws=200, seed=3).tidy(), impacts(res, n_draws=200, seed=3).tidy()
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
    tests = lm_tests(panel, "lgsp", X, w, effects=FE[fe])
    tab = tests.tidy().set_index("term")
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
        assert tab.at[ours, "df"] == 1 and tab.at[ours, "distribution"] == "chi2"


@pytest.mark.parametrize("fe", list(FE))
def test_lr_and_wald_sdm(data, fe):
    sdm, sar, sem = (_fit(data, fe, m, lee_yu=False) for m in ("sdm", "sar", "sem"))
    ref = REF["direct"][fe]
    lr = lr_test(sar, sdm)
    assert lr.df == 4
    assert lr.statistic == pytest.approx(
        2 * (ref["sdm"]["loglik"] - ref["sar"]["loglik"]), rel=1e-6
    )
    lr_sem = lr_test(sem, sdm)
    assert lr_sem.statistic == pytest.approx(
        2 * (ref["sdm"]["loglik"] - ref["sem"]["loglik"]), rel=1e-6
    )
    # Wald statistics recomputed from spatialreg's SDM estimates and covariance
    b = np.asarray(ref["sdm"]["estimate"])
    v = np.asarray(ref["sdm"]["vcov"])
    rho, beta, theta = b[0], b[1:5], b[5:9]
    w_sar = theta @ np.linalg.solve(v[5:9, 5:9], theta)
    assert sdm_wald(sdm, "sar").statistic == pytest.approx(w_sar, rel=1e-5)
    g = np.zeros((4, 9))
    g[:, 0], g[:, 1:5], g[:, 5:9] = beta, rho * np.eye(4), np.eye(4)
    c = theta + rho * beta
    w_sem = c @ np.linalg.solve(g @ v @ g.T, c)
    assert sdm_wald(sdm, "sem").statistic == pytest.approx(w_sem, rel=1e-5)


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
    ht = spatial_hausman(panel, "lgsp", X, w, model=model)
    h = ht.details
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
    # spreg's panel_Hausman contrasts (beta, rho); ours the slopes only (splm's sphtest, tested
    # against splm in test_hausman_matches_splm_sphtest), so its statistic is not compared
    assert np.isfinite(float(h_ref[0])) and ht.df == xs.shape[1]


def _re_sem_loglik_dense(y, x, wd, beta, lam, theta, s2):
    """Log-density of the RE-SEM from its covariance, built in full (units major, as ours):
    ``Var(u) = s² [theta I_N (x) ii' + (B'B)^-1 (x) I_T]``."""
    n, t = y.shape
    om = _re_sem_cov(wd, t, lam, theta, s2)
    u = y.ravel() - np.concatenate([np.ones((n, t, 1)), x], axis=2).reshape(n * t, -1) @ beta
    return -0.5 * (
        n * t * np.log(2 * np.pi) + np.linalg.slogdet(om)[1] + u @ np.linalg.solve(om, u)
    )


def _re_sem_cov(wd, t, lam, theta, s2):
    n = wd.shape[0]
    b = np.eye(n) - lam * wd
    return s2 * (
        theta * np.kron(np.eye(n), np.ones((t, t))) + np.kron(np.linalg.inv(b.T @ b), np.eye(t))
    )


def _circulant(states):
    """Each state linked to the two before and the two after it (alphabetical, wrapping round):
    4 neighbours each, so the row-standardised W = C / 4 is symmetric."""
    libpysal = pytest.importorskip("libpysal")
    n = len(states)
    m = np.zeros((n, n))
    for i in range(n):
        for j in (1, 2):
            m[i, (i + j) % n] = m[i, (i - j) % n] = 1.0
    ours = SpatialWeights.from_matrix(m, states, kind="circulant").standardized()
    nbrs = {s: [states[j] for j in np.flatnonzero(m[i])] for i, s in enumerate(states)}
    wl = libpysal.weights.W(nbrs, id_order=list(states))
    wl.transform = "r"
    return ours, wl


def test_random_effects_sem_and_hausman_match_spreg(data, monkeypatch):
    spreg = pytest.importorskip("spreg")
    import spreg.panel_re as panel_re
    from scipy.optimize import OptimizeResult
    from spreg.diagnostics_panel import panel_Hausman

    panel, _ = data
    w, wl = _circulant(list(data[1].ids))
    assert np.allclose(w.dense(), w.dense().T)
    d = _frame().sort_values(["year", "state"])
    yy, xx = d[["lgsp"]].to_numpy(), d[X].to_numpy()
    ht = spatial_hausman(panel, "lgsp", X, w, model="sem")
    h = ht.details
    b, theta, s2 = h["re_coef"], h["re_theta"], h["re_sigma2"]
    minimize = panel_re.minimize

    def spreg_re(optimiser):
        monkeypatch.setattr(panel_re, "minimize", optimiser)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return spreg.Panel_RE_Error(yy, xx, wl)

    def at_ours(fun, x0, args, **kw):  # spreg's phi is sqrt(theta)
        x = np.array([b[-1], np.sqrt(theta)])
        return OptimizeResult(x=x, fun=fun(x, *args))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fe = spreg.Panel_FE_Error(yy, xx, wl)
    default, mine = spreg_re(minimize), spreg_re(at_ours)

    def nelder_mead(fun, x0, args, **kw):  # polishes spreg's own optimum
        opts = {"xatol": 1e-8, "fatol": 1e-7, "maxiter": 20_000, "maxfev": 20_000}
        start = (default.lam, default.phi)
        return minimize(fun, start, args=args, method="Nelder-Mead", options=opts)

    tight = spreg_re(nelder_mead)
    # (1) at our (lambda, theta), spreg's code gives our estimates, likelihood and statistic
    np.testing.assert_allclose(b[:-1], mine.betas.ravel()[:-2], rtol=1e-9)
    assert s2 == pytest.approx(float(np.ravel(mine.sig2)[0]), rel=1e-10)
    assert theta * s2 == pytest.approx(float(mine.betas[-1, 0]), rel=1e-9)
    assert h["re_loglik"] == pytest.approx(mine.logll + 408 * np.log(816), rel=1e-10)
    # 1e-5: spreg's FE lambda has x tolerance 1e-7, and the contrast d is a small difference
    assert h["quadratic_form"] == pytest.approx(float(panel_Hausman(fe, mine)[0]), rel=1e-5)
    assert ht.df == len(X)  # slopes only, as panel_Hausman's contrast for the SEM
    if h["positive_definite"]:
        assert ht.statistic == h["quadratic_form"]
    # (2) spreg's optimisers: its default stops short; Nelder-Mead on its objective agrees
    yv = d["lgsp"].to_numpy().reshape(17, 48).T
    xv = d[X].to_numpy().reshape(17, 48, -1).transpose(1, 0, 2)

    def exact(o):
        s2o = float(np.ravel(o.sig2)[0])
        th = float(o.betas[-1, 0]) / s2o
        return _re_sem_loglik_dense(yv, xv, w.dense(), o.betas.ravel()[:-2], o.lam, th, s2o)

    assert exact(mine) == pytest.approx(h["re_loglik"], rel=1e-10)
    assert exact(default) < h["re_loglik"]
    assert tight.lam == pytest.approx(b[-1], rel=1e-4)
    assert tight.phi**2 == pytest.approx(theta, rel=1e-4)
    np.testing.assert_allclose(tight.betas.ravel()[:-2], b[:-1], rtol=1e-4, atol=1e-6)
    assert exact(tight) <= h["re_loglik"] + 1e-9


def test_random_effects_sem_is_the_ml_of_its_likelihood(data):
    """Contiguity W (not symmetric once row-standardised): checks against the full density."""
    from climetrics.estimate.spatial._random_effects import fit_re_error

    spreg = pytest.importorskip("spreg")
    panel, w = data
    arr = sm.panel_arrays(panel, "lgsp", X, w, False)
    wd = arr.w.dense()
    re = fit_re_error(arr.y, arr.x, arr.w, sm.LogDet(arr.w.matrix))
    p0 = np.r_[re["coef"], re["theta"], re["sigma2"]]
    assert re["sigma2_mu"] == pytest.approx(re["theta"] * re["sigma2"], rel=1e-12)
    assert re["phi"] == pytest.approx((1 + 17 * re["theta"]) ** -0.5, rel=1e-12)

    def f(p):
        return _re_sem_loglik_dense(arr.y, arr.x, wd, p[:5], p[5], p[6], p[7])

    assert f(p0) == pytest.approx(re["loglik"], rel=1e-10)
    for i in range(p0.size):  # dL / d log p by central differences
        e = np.zeros(p0.size)
        e[i] = 1e-4
        assert abs(f(p0 * (1 + e)) - f(p0 * (1 - e))) / 2e-4 < 1e-3
    # information matrix of (beta, lambda, sigma²) given theta, against the dense formula
    lam, th, s2 = p0[5:]
    om = _re_sem_cov(wd, 17, lam, th, s2)
    oi = np.linalg.inv(om)
    a = oi @ (_re_sem_cov(wd, 17, lam + 1e-6, th, s2) - _re_sem_cov(wd, 17, lam - 1e-6, th, s2))
    a /= 2e-6
    c = oi @ om / s2
    dense = 0.5 * np.array([[np.trace(a @ a), np.trace(a @ c)], [np.trace(a @ c), np.trace(c @ c)]])
    np.testing.assert_allclose(re["information"][5:, 5:], dense, rtol=1e-6)
    xz = np.concatenate([np.ones((48, 17, 1)), arr.x], axis=2).reshape(816, -1)
    np.testing.assert_allclose(re["information"][:5, :5], xz.T @ oi @ xz, rtol=1e-9)
    assert not re["information"][:5, 5:].any()
    # spreg's Panel_RE_Error, which is not this likelihood for an asymmetric W, is below it
    d = _frame().sort_values(["year", "state"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        o = spreg.Panel_RE_Error(d[["lgsp"]].to_numpy(), d[X].to_numpy(), _spreg_weights(w))
    s2o = float(np.ravel(o.sig2)[0])
    assert f(np.r_[o.betas.ravel()[:-1], o.betas[-1, 0] / s2o, s2o]) < re["loglik"]
    # the test's own RE fit: the same optimum (the profile in theta is flat: ~1e-7 relative)
    ht = spatial_hausman(panel, "lgsp", X, w, model="sem")
    h = ht.details
    np.testing.assert_allclose(h["re_coef"], re["coef"], rtol=1e-6)
    assert h["re_theta"] == pytest.approx(re["theta"], rel=1e-5)
    assert h["re_loglik"] == pytest.approx(re["loglik"], rel=1e-12)
    oi = np.linalg.inv(_re_sem_cov(wd, 17, h["re_coef"][-1], h["re_theta"], h["re_sigma2"]))
    # the Hausman statistic from the FE fit and the dense variance of the RE slopes
    fe = h["fe_result"]
    dd = fe.coefs["estimate"].to_numpy()[:4] - h["re_coef"][1:5]
    v = np.linalg.inv(xz.T @ oi @ xz)[1:, 1:] - fe.cov[:4, :4]
    assert h["quadratic_form"] == pytest.approx(dd @ np.linalg.solve(v, dd), rel=1e-8)
    assert ht.df == 4
    # Produc: V_RE - V_FE is indefinite (the quadratic form is negative): flagged, no statistic
    assert h["quadratic_form"] < 0 and not h["positive_definite"]
    assert np.isnan(ht.statistic) and np.isnan(ht.p_value) and not ht.reject
    assert "not positive definite" in ht.notes[0] and "not informative" in ht.verdict


def test_random_effects_sem_without_unit_heterogeneity_is_pooled_sem(data):
    """Errors with zero unit means: theta is estimated at 0 (with a warning) and the fit is the
    pooled SEM, which spreg.ML_Error estimates on the stacked data with I_T (x) W."""
    spreg = pytest.importorskip("spreg")
    libpysal = pytest.importorskip("libpysal")
    panel, w = data
    wd, states = w.dense(), list(w.ids)
    rng = np.random.default_rng(1)
    e = rng.normal(0, 0.05, (48, 17))
    e -= e.mean(axis=1, keepdims=True)
    xv = _frame()[X].to_numpy().reshape(48, 17, 4)
    y = 1 + xv @ np.array([0.1, 0.3, 0.6, -0.01]) + np.linalg.solve(np.eye(48) - 0.4 * wd, e)
    df = _frame().assign(ysim=y.ravel())
    with pytest.warns(UserWarning, match="estimated at zero"):
        h = spatial_hausman(cm.Panel(df, unit="state", time="year"), "ysim", X, w, model="sem").details
    assert h["re_theta"] == 0.0 and h["re_phi"] == 1.0
    nb = {
        (s, t): [(states[j], t) for j in np.flatnonzero(wd[i])]
        for i, s in enumerate(states)
        for t in range(17)
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 17 disconnected blocks, by design
        wb = libpysal.weights.W(nb, id_order=list(nb))
        wb.transform = "r"
        o = spreg.ML_Error(y.reshape(-1, 1), xv.reshape(-1, 4), wb, method="LU", epsilon=1e-12)
    np.testing.assert_allclose(h["re_coef"], o.betas.ravel(), rtol=1e-7)
    assert h["re_loglik"] == pytest.approx(o.logll, rel=1e-11)
    assert h["re_sigma2"] == pytest.approx(float(np.ravel(o.sig2)[0]), rel=1e-7)


def test_random_effects_sem_traces_blocked_equal_dense():
    """The RE-SEM traces (LU, blocks of 512 columns) against dense inverses; N = 600 and W
    row-standardised from a graph with unequal degrees (not symmetric)."""
    from scipy.sparse.linalg import splu

    from climetrics.estimate.spatial._random_effects import _re_error_traces

    base = _torus_weights(25, 24).dense() > 0
    idx = np.arange(600).reshape(25, 24)
    extra = np.zeros_like(base)
    extra[idx[::3].ravel(), np.roll(idx, (1, 1), axis=(0, 1))[::3].ravel()] = True
    w = SpatialWeights.from_matrix((base | extra | extra.T).astype(float), np.arange(600))
    w = w.standardized()
    wd, lam, tth = w.dense(), 0.6, 3.0
    assert not np.allclose(wd, wd.T)
    b = np.eye(600) - lam * wd
    s = np.eye(600) + tth * b.T @ b
    g = (wd.T @ b + b.T @ wd) @ np.linalg.inv(b.T @ b)
    sg = np.linalg.solve(s, g)
    from scipy import sparse

    got = _re_error_traces(w, lam, splu(sparse.csc_array(s)))
    want = (np.trace(g), np.trace(g @ g), np.trace(sg), np.trace(sg @ sg))
    np.testing.assert_allclose(got, want, rtol=1e-10)


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
    tab = impacts(res, n_draws=100, seed=1).tidy()
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
    tr = sm._traces(w, rho, time_fe_ly=False)
    assert tr.tr1 == pytest.approx(np.trace(wt), rel=1e-10)
    assert tr.tr2 == pytest.approx(np.trace(wt @ wt), rel=1e-10)
    assert tr.frob == pytest.approx(np.sum(wt**2), rel=1e-10)
    np.testing.assert_allclose(tr.diag, np.diag(wt), rtol=1e-10)
    v = np.random.default_rng(0).normal(size=(w.n, 3))
    np.testing.assert_allclose(tr.apply(v), wt @ v, rtol=1e-10, atol=1e-12)
    ly = sm._traces(w, rho, time_fe_ly=True)
    t1, t2, f2 = ly.tr1, ly.tr2, ly.frob
    assert ly.diag.sum() == pytest.approx(t1, rel=1e-10)
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
    a, b = impacts(lu, n_draws=50, seed=1).tidy(), impacts(eig, n_draws=50, seed=1).tidy()
    np.testing.assert_allclose(a["estimate"], b["estimate"], rtol=2e-3)
    assert abs(lu.coef("rho") - 0.5) < 0.05


def test_boundary_solution_is_reported():
    with pytest.warns(UserWarning, match="boundary"):
        rho, notes = sm._optimise(lambda r: -r, (-1.0, 1.0))
    assert rho > 0.999 and "boundary" in notes[0]

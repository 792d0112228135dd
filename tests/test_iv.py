"""IV-2SLS against R and closed forms on real public panels.

References (fixtures made by tools/reference/iv_reference.R; versions recorded in the JSON):

* ``AER::ivreg`` with the fixed effects as factor dummies and ``sandwich::vcovCL(type="HC1")``
  clustered by unit. vcovCL's HC1 factor is ``G/(G-1) * (N-1)/(N-K)`` with K = *every*
  coefficient of the dummy-variable model, which is climetrics' ``ssc="full"``; the default
  ``ssc="nested"`` (fixest/reghdfe) differs only in K and is checked as a closed-form rescaling.
  ``cluster=None`` is HC1, ``N/(N-K)``, checked against vcovCL with one cluster per observation.
* First stages and reduced forms: ``lm`` with dummies + vcovCL; the homoskedastic first-stage F
  from ``anova``; Cragg-Donald computed in R from lm residuals.

Data: AER::CigarettesSW (48 states x 1985/1995; price instrumented by the sales tax and the
cigarette-specific tax) and plm::Crime (90 NC counties x 1981-87; arrest probability and police
per capita instrumented by tax revenue per capita and the offence mix).
Tolerances: coefficients 1e-8, standard errors and test statistics 1e-6 (relative).
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import climetrics as cm
from climetrics.core.results import TestResult
from climetrics.data.geography import EARTH_RADIUS_KM, haversine_km
from climetrics.errors import EstimationError, PanelError
from climetrics.estimate.endogeneity.iv import (
    _kp_rk,
    distance_trend_instrument,
    iv_2sls,
)

DATA = Path(__file__).parent / "data"
REF = DATA / "reference"
COEF_TOL, SE_TOL = 1e-8, 1e-6


def _l(v):
    return [v] if isinstance(v, str) else list(v)


def _load(name):
    with open(REF / f"iv_{name}.json", encoding="utf-8") as fh:
        return json.load(fh)


@pytest.fixture(scope="module")
def cig_ref():
    return _load("cigarettes")


@pytest.fixture(scope="module")
def crime_ref():
    return _load("crime")


@pytest.fixture(scope="module")
def cig():
    return cm.Panel(pd.read_csv(DATA / "cigarettes_sw.csv"), unit="state", time="year")


@pytest.fixture(scope="module")
def crime():
    return cm.Panel(pd.read_csv(DATA / "crime_plm.csv"), unit="county", time="year")


CASES = [("cig", "just"), ("cig", "over"), ("cig", "pooled"), ("crime", "two_endog"), ("crime", "one_endog")]


def _case(request, data, spec):
    ref = request.getfixturevalue(f"{data}_ref")["specs"][spec]
    panel = request.getfixturevalue(data)
    return panel, ref


def _fit(panel, ref, **kw):
    kw.setdefault("fe", None if ref["fe"] else [])
    return iv_2sls(panel, ref["y"], _l(ref["endog"]), _l(ref["instruments"]), _l(ref["controls"]), **kw)


def _block(res, terms):
    idx = [res.terms.index(t) for t in terms]
    return np.asarray(res.cov)[np.ix_(idx, idx)]


@pytest.fixture(scope="module")
def fits(request):
    """Every case fitted once with ssc='full' (the convention of vcovCL HC1)."""
    out = {}
    for data, spec in CASES:
        panel, ref = _case(request, data, spec)
        out[(data, spec)] = _fit(panel, ref, ssc="full")
    return out


@pytest.mark.parametrize("case", CASES, ids=["-".join(c) for c in CASES])
def test_second_stage_matches_r_ivreg_vcovcl(case, request, fits):
    panel, ref = _case(request, *case)
    res = fits[case]
    terms = _l(ref["terms"])
    np.testing.assert_allclose([res.coef(t) for t in terms], ref["coef"], rtol=COEF_TOL, atol=0)
    v = _block(res.second, terms)
    np.testing.assert_allclose(v, np.array(ref["vcov_cl"]), rtol=SE_TOL)
    np.testing.assert_allclose([res.se(t) for t in terms], np.sqrt(np.diag(ref["vcov_cl"])), rtol=SE_TOL)
    assert res.n_obs == ref["n"] and res.second.n_clusters == ref["n_clusters"]
    # p-values from t(G-1), as twfe
    t = res.coef(terms[0]) / res.se(terms[0])
    assert res.pvalue(terms[0]) == pytest.approx(2 * stats.t.sf(abs(t), ref["n_clusters"] - 1), rel=1e-12)


def test_pooled_constant_matches_r(cig, cig_ref, fits):
    ref = cig_ref["specs"]["pooled"]
    res = fits[("cig", "pooled")]
    terms = ref["terms_with_const"]
    np.testing.assert_allclose([res.coef(t) for t in terms], ref["coef_with_const"], rtol=COEF_TOL)
    np.testing.assert_allclose(_block(res.second, terms), np.array(ref["vcov_cl_with_const"]), rtol=SE_TOL)


@pytest.mark.parametrize("case", [("cig", "over"), ("crime", "two_endog")], ids=["cig", "crime"])
def test_nested_ssc_is_closed_form_rescaling(case, request, fits):
    """Unit FE nested in the unit clusters count as one parameter: K_nested = slopes + T
    (T time dummies incl. the constant) versus K_full = every dummy-model coefficient."""
    panel, ref = _case(request, *case)
    nested = _fit(panel, ref)  # default ssc="nested"
    full = fits[case]
    n, k_full = ref["n"], ref["k_dummy_model"]
    n_t = len(panel.periods)
    k_nested = len(_l(ref["terms"])) + n_t
    ratio = (n - k_full) / (n - k_nested)
    terms = _l(ref["terms"])
    np.testing.assert_allclose(_block(nested.second, terms), _block(full.second, terms) * ratio, rtol=1e-10)
    for e in _l(ref["endog"]):
        k1 = len(_l(ref["first_stage"][e]["terms"]))
        r1 = (n - ref["first_stage"][e]["k_dummy_model"]) / (n - (k1 + n_t))
        f_nested = nested.diagnostics.first_stage_F[e]
        assert f_nested == pytest.approx(full.diagnostics.first_stage_F[e] / r1, rel=1e-10)


@pytest.mark.parametrize("case", [("cig", "over"), ("crime", "two_endog")], ids=["cig", "crime"])
def test_hetero_hc1_matches_r(case, request):
    panel, ref = _case(request, *case)
    res = _fit(panel, ref, cluster=None)
    terms = _l(ref["terms"])
    np.testing.assert_allclose(_block(res.second, terms), np.array(ref["vcov_hc1"]), rtol=SE_TOL)
    assert res.second.vcov == "hetero" and res.second.cluster is None


@pytest.mark.parametrize("case", CASES, ids=["-".join(c) for c in CASES])
def test_first_stages_and_weak_iv_statistics_match_r(case, request, fits):
    panel, ref = _case(request, *case)
    res = fits[case]
    d = res.diagnostics
    for e, fs in ref["first_stage"].items():
        first = res.first_stages[e]
        terms = _l(fs["terms"])
        np.testing.assert_allclose([first.coef(t) for t in terms], fs["coef"], rtol=COEF_TOL)
        np.testing.assert_allclose(_block(first, terms), np.array(fs["vcov_cl"]), rtol=SE_TOL)
        assert d.first_stage_F[e] == pytest.approx(fs["F_cluster"], rel=SE_TOL)
    assert d.cragg_donald_F == pytest.approx(ref["cragg_donald_F"], rel=SE_TOL)
    if len(_l(ref["endog"])) == 1:
        (fs,) = ref["first_stage"].values()
        # Cragg-Donald = classical homoskedastic first-stage F with one endogenous regressor
        assert d.cragg_donald_F == pytest.approx(fs["F_iid"], rel=SE_TOL)
        # Kleibergen-Paap rk Wald F = cluster-robust first-stage F with one endogenous regressor
        assert d.kp_rk_wald_F == pytest.approx(fs["F_cluster"], rel=SE_TOL)


def test_kp_equals_first_stage_wald_closed_form(fits):
    """One endogenous variable: rk = pi' V_pi^-1 pi, computed here from the first-stage result."""
    res = fits[("cig", "over")]
    first = res.first_stages["lrprice"]
    inst = res.instruments
    pi = np.array([first.coef(z) for z in inst])
    v = _block(first, inst)
    wald = float(pi @ np.linalg.solve(v, pi))
    assert res.diagnostics.kp_rk_wald == pytest.approx(wald, rel=1e-10)
    assert res.diagnostics.kp_rk_wald_F == pytest.approx(wald / len(inst), rel=1e-10)
    assert res.diagnostics.kp_rk_p == pytest.approx(stats.chi2.sf(wald, len(inst)), rel=1e-8)


def test_kp_rk_with_iid_covariance_is_cragg_donald(fits, crime):
    """Two endogenous variables: with the homoskedastic covariance of vec(Pi),
    Sigma_VV (x) (Z'Z)^-1, the Kleibergen-Paap rk statistic reduces to L times the
    Cragg-Donald minimum eigenvalue (both minimise the same generalized Rayleigh quotient)."""
    res = fits[("crime", "two_endog")]
    st = res._state
    X, Z = st.X, st.Z
    n, L = X.shape[0], Z.shape[1]
    pi = np.linalg.solve(Z.T @ Z, Z.T @ X)
    resid = X - Z @ pi
    n_fe = 90 + 7 - 1
    p = len(res.second.meta["controls"])
    sigma = resid.T @ resid / (n - n_fe - p - L)
    v_iid = np.kron(sigma, np.linalg.inv(Z.T @ Z))
    assert _kp_rk(X, Z, pi, v_iid) / L == pytest.approx(res.diagnostics.cragg_donald_F, rel=1e-9)
    # and the robust rk differs (clustered errors), while staying a proper statistic
    assert res.diagnostics.kp_rk_wald > 0
    assert res.diagnostics.stock_yogo_10pct_size is None  # not tabulated for K = 2


@pytest.mark.parametrize("case", CASES, ids=["-".join(c) for c in CASES])
def test_anderson_rubin_matches_r_reduced_form(case, request, fits):
    panel, ref = _case(request, *case)
    res = fits[case]
    for rf in ref["reduced_form"].values():
        ar = res.ar_test(rf["beta0"])
        assert isinstance(ar, TestResult) and ar.distribution == "F"
        assert ar.statistic == pytest.approx(rf["F_cluster"], rel=SE_TOL)
        assert ar.df == len(_l(ref["instruments"])) and ar.df_denom == ref["n_clusters"] - 1
        assert ar.p_value == pytest.approx(stats.f.sf(ar.statistic, ar.df, ref["n_clusters"] - 1), rel=1e-12)
    assert res.anderson_rubin.statistic == pytest.approx(ref["reduced_form"]["zero"]["F_cluster"], rel=SE_TOL)


def test_anderson_rubin_at_zero_is_twfe_reduced_form_wald(crime, fits):
    """AR(beta = 0) = Wald test of the instruments in the reduced form y ~ Z + W | FE, here
    fitted independently with twfe (pyfixest engine) and its wald_test."""
    res = fits[("crime", "one_endog")]
    rf = cm.twfe(crime, "lcrmrte", ["ltaxpc", "lmix"], ["lprbconv", "lprbpris", "lavgsen", "ldensity"], ssc="full")
    w = rf.wald_test(["ltaxpc", "lmix"])
    assert res.anderson_rubin.statistic == pytest.approx(w.statistic, rel=1e-8)
    assert res.anderson_rubin.p_value == pytest.approx(w.p_value, rel=1e-6)


def test_ar_confidence_set_by_inversion(fits):
    res = fits[("cig", "just")]
    cs = res.ar_confidence_set(0.05)
    assert cs.bounded and len(cs.intervals) == 1
    lo, hi = cs.intervals[0]
    b = res.coef("lrprice")
    assert lo < b < hi
    # just identified: the AR statistic is exactly zero at the 2SLS estimate
    assert res.ar_test(b).statistic == pytest.approx(0.0, abs=1e-12)
    # the ends are where the AR test has p = 0.05; inside accepted, outside rejected
    for end in (lo, hi):
        assert res.ar_test(end).p_value == pytest.approx(0.05, abs=1e-9)
    assert res.ar_test(lo + 0.01).p_value > 0.05 and res.ar_test(lo - 0.01).p_value < 0.05
    assert res.ar_test(hi - 0.01).p_value > 0.05 and res.ar_test(hi + 0.01).p_value < 0.05
    # a narrow grid inside the set: the set runs off both ends
    open_cs = res.ar_confidence_set(0.05, grid=(lo + 0.1, hi - 0.1, 50))
    assert open_cs.intervals == [(-np.inf, np.inf)] and not open_cs.bounded


def test_stock_yogo_values_only_where_tabulated(fits):
    assert fits[("cig", "just")].diagnostics.stock_yogo_10pct_size == 16.38
    assert fits[("cig", "over")].diagnostics.stock_yogo_10pct_size == 19.93
    assert fits[("crime", "two_endog")].diagnostics.stock_yogo_10pct_size is None


def test_table_has_first_and_second_stage_and_diagnostics(fits):
    res = fits[("cig", "over")]
    tab = res.table()
    text = tab.to_text()
    assert tab.columns == ["First stage (lrprice)", "Second stage (2SLS)"]
    for row in ("Kleibergen-Paap rk Wald F", "Cragg-Donald Wald F", "Anderson-Rubin p-value", "Stock-Yogo"):
        assert row in text
    assert f"{res.diagnostics.kp_rk_wald_F:.2f}" in text
    assert "lrprice" in text and "tdiff" in text and "rtax" in text
    assert "Anderson-Rubin" in res.reading() and res.summary()["ar_p_value"] == res.anderson_rubin.p_value
    tests = res.diagnostics.tests
    assert [t.name for t in tests][-2:] == ["Kleibergen-Paap rk Wald (underidentification)", "Cragg-Donald Wald F"]
    assert tests[0].statistic == res.diagnostics.first_stage_F["lrprice"]
    assert tests[-1].statistic == res.diagnostics.cragg_donald_F


def test_missing_rows_and_singletons_are_dropped_with_notes(cig):
    """A missing value in one state-year of a two-year panel leaves that state a singleton:
    both rows go, and the fit equals the fit on the panel without that state."""
    df = cig.to_frame()
    df.loc[(df["state"] == "CA") & (df["year"] == 1995), "lpacks"] = np.nan
    res = iv_2sls(cm.Panel(df, "state", "year"), "lpacks", "lrprice", "tdiff", "lrincome")
    ref = iv_2sls(cm.Panel(df[df["state"] != "CA"], "state", "year"), "lpacks", "lrprice", "tdiff", "lrincome")
    assert res.n_obs == 94 and res.second.n_clusters == 47
    assert any("missing" in n for n in res.second.notes) and any("singleton" in n for n in res.second.notes)
    for t in ("lrprice", "lrincome"):
        assert res.coef(t) == pytest.approx(ref.coef(t), rel=1e-10)
        assert res.se(t) == pytest.approx(ref.se(t), rel=1e-10)


def test_control_absorbed_by_fixed_effects_is_dropped_with_note(cig):
    p = cig.assign(c_state=cig.df.groupby("state")["lrincome"].transform("mean"))
    res = iv_2sls(p, "lpacks", "lrprice", "tdiff", ["lrincome", "c_state"])
    base = iv_2sls(cig, "lpacks", "lrprice", "tdiff", "lrincome")
    assert "c_state" not in res.second.terms
    assert any("c_state" in n for n in res.second.notes)
    assert res.coef("lrprice") == pytest.approx(base.coef("lrprice"), rel=1e-10)


# ------------------------------------------------------------------------------------ errors
def test_fewer_instruments_than_endogenous_raises(crime):
    with pytest.raises(EstimationError, match="underidentified"):
        iv_2sls(crime, "lcrmrte", ["lprbarr", "lpolpc"], "ltaxpc")


def test_instrument_collinear_with_fixed_effects_raises(cig):
    # a state-level constant is absorbed by the state fixed effects
    first = cig.df.groupby("state")["tdiff"].transform("first")
    p = cig.assign(z_const=first)
    with pytest.raises(EstimationError, match="instrument 'z_const' is collinear with the fixed effects"):
        iv_2sls(p, "lpacks", "lrprice", "z_const", "lrincome")


def test_instrument_collinear_with_controls_raises(cig):
    p = cig.assign(z_dup=2.0 * cig.df["lrincome"] + 1.0)
    with pytest.raises(EstimationError, match="instrument 'z_dup' is collinear"):
        iv_2sls(p, "lpacks", "lrprice", ["tdiff", "z_dup"], "lrincome")


def test_no_first_stage_variation_raises(cig):
    """An instrument constructed orthogonal (net of FE and controls) to the endogenous variable."""
    from climetrics.core.demean import demean
    from climetrics.estimate.baseline.twfe import _codes

    df = cig.df
    fe = _codes(df, ["state", "year"])
    m = demean(df[["lrprice", "lrincome", "tdiff"]].to_numpy(), fe)
    x, w, r = m[:, 0], m[:, 1], m[:, 2]
    basis = np.column_stack([x, w])
    z = r - basis @ np.linalg.lstsq(basis, r, rcond=None)[0]
    with pytest.raises(EstimationError, match="no first-stage variation"):
        iv_2sls(cig.assign(z_orth=z), "lpacks", "lrprice", "z_orth", "lrincome")


def test_endogenous_without_variation_raises(cig):
    p = cig.assign(x_state=cig.df.groupby("state")["lrprice"].transform("mean"))
    with pytest.raises(EstimationError, match="no variation left"):
        iv_2sls(p, "lpacks", "x_state", "tdiff")


def test_variable_in_two_roles_raises(cig):
    with pytest.raises(PanelError, match="both as endogenous and as instrument"):
        iv_2sls(cig, "lpacks", "lrprice", ["tdiff", "lrprice"])


# ------------------------------------------------------------------------------------ distance IV
def _chord_distance_km(lon1, lat1, lon2, lat2, r=6371.0088):
    """Independent great-circle distance: 3-D unit vectors, chord length c, d = 2 R asin(c/2)."""
    def vec(lon, lat):
        lo, la = np.radians(lon), np.radians(lat)
        return np.array([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])

    c = np.linalg.norm(vec(lon1, lat1) - vec(lon2, lat2))
    return 2 * r * np.arcsin(c / 2)


def test_haversine_beijing_shanghai_by_hand():
    tab = cm.data.cities().set_index("adcode")
    bj, sh = tab.loc[110100], tab.loc[310100]
    expected = _chord_distance_km(bj.lon, bj.lat, sh.lon, sh.lat)
    got = float(haversine_km(bj.lon, bj.lat, sh.lon, sh.lat))
    assert got == pytest.approx(expected, abs=1e-6)
    assert 1060 < got < 1075  # the familiar ~1,067 km
    assert EARTH_RADIUS_KM == 6371.0088


def _city_panel(adcodes, years=range(2010, 2016)):
    rows = [{"adcode": a, "year": y} for a in adcodes for y in years]
    return cm.Panel(pd.DataFrame(rows), unit="adcode", time="year")


def test_distance_trend_instrument_values():
    tab = cm.data.cities().set_index("adcode")
    codes = [110100, 310100, 440100]  # Beijing, Shanghai, Guangzhou
    p = distance_trend_instrument(_city_panel(codes))
    hz = tab.loc[330100]
    for row in p.df.itertuples():
        c = tab.loc[int(row.adcode)]
        d = _chord_distance_km(c.lon, c.lat, hz.lon, hz.lat)
        assert row.iv_distance_trend == pytest.approx(np.log(d) * (row.year - 2009), rel=1e-10)
    # the reference can be given by adcode or pinyin name; units by Chinese name
    same = distance_trend_instrument(_city_panel(codes), reference=330100)
    np.testing.assert_array_equal(same.df["iv_distance_trend"], p.df["iv_distance_trend"])
    by_name = cm.Panel(p.df.assign(city=p.df["adcode"].map(tab["name"])).drop(columns="adcode"), "city", "year")
    named = distance_trend_instrument(by_name, reference="Hangzhou", unit_key="name", name="z")
    got = named.df.set_index(["city", "year"])["z"]
    want = p.df.assign(city=p.df["adcode"].map(tab["name"])).set_index(["city", "year"])["iv_distance_trend"]
    np.testing.assert_allclose(got.sort_index().to_numpy(), want.sort_index().to_numpy(), rtol=1e-12)


def test_distance_instrument_errors():
    with pytest.raises(PanelError, match="999999"):
        distance_trend_instrument(_city_panel([110100, 999999]))
    with pytest.raises(PanelError, match="shift=1"):
        distance_trend_instrument(_city_panel([110100, 330100]))
    ok = distance_trend_instrument(_city_panel([110100, 330100]), shift=1.0)
    assert (ok.df.loc[ok.df["adcode"] == 330100, "iv_distance_trend"] == 0).all()
    with pytest.raises(PanelError, match="not found"):
        distance_trend_instrument(_city_panel([110100]), reference="Atlantis")


def test_distance_instrument_in_2sls_equals_just_identified_closed_form():
    """Synthetic city panel: with one instrument and no controls, 2SLS on FE-demeaned data is
    z'y / z'x (within-transformed), whatever the clustering."""
    from climetrics.core.demean import demean
    from climetrics.estimate.baseline.twfe import _codes

    codes = [a for a in cm.data.cities()["adcode"].to_numpy()[::8] if a != 330100][:40]
    p = distance_trend_instrument(_city_panel(codes, range(2008, 2018)))
    rng = np.random.default_rng(7)
    n = len(p)
    z = p.df["iv_distance_trend"].to_numpy()
    u = rng.normal(size=n)
    x = -0.05 * z + rng.normal(size=n) + 0.5 * u
    y = 0.8 * x + u + rng.normal(size=p.df["adcode"].nunique()).repeat(10)
    p = p.assign(x=x, y=y)
    res = iv_2sls(p, "y", "x", "iv_distance_trend")
    m = demean(np.column_stack([y, x, z]), _codes(p.df, ["adcode", "year"]))
    assert res.coef("x") == pytest.approx(m[:, 2] @ m[:, 0] / (m[:, 2] @ m[:, 1]), rel=1e-10)

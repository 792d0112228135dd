"""Heterogeneity-robust staggered DID estimators.

References (real public data): ``tests/data/mpdta.csv`` (county teen employment, R ``did``'s
mpdta; see tests/data/SOURCES.md) with fixtures in ``tests/data/reference/`` produced by
independent implementations (scripts in ``tools/reference/staggered/``, versions recorded in each JSON):

* Callaway-Sant'Anna: ``csdid`` 0.4.3 (Python port of R ``did``), analytic SEs;
* Sun-Abraham: statsmodels OLS with explicit cohort x relative-period, county and year dummies
  (cluster-robust), and pyfixest's saturated event study for the cell estimates;
* Borusyak-Jaravel-Spiess: ``did-imputation`` 0.1.0 (Python port of Stata ``did_imputation``).

Simulated panels (``cm.simulate``) with known effects show TWFE's bias and the robust
estimators' recovery; constructed noise-free panels check the Bacon and dCDH identities.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import climetrics as cm
from climetrics.errors import EstimationError
from climetrics.estimate.did import callaway_santanna as cs
from climetrics.estimate.did.bacon import bacon_decomposition, twfe_weights
from climetrics.estimate.did.callaway_santanna import callaway_santanna
from climetrics.estimate.did.imputation import did_imputation
from climetrics.estimate.did.staggered import compare_estimators
from climetrics.estimate.did.sun_abraham import sun_abraham

DATA = Path(__file__).parent / "data"
REF = DATA / "reference"


def _ref(name: str) -> dict:
    return json.loads((REF / name).read_text())


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    df = pd.read_csv(DATA / "mpdta.csv")
    df["state"] = df["countyreal"] // 1000
    df["lpop_trend"] = df["lpop"] * (df["year"] - 2003) / 10
    df["D"] = ((df["year"] >= df["first.treat"]) & (df["first.treat"] > 0)).astype(int)
    return df


@pytest.fixture(scope="module")
def panel(mpdta) -> cm.Panel:
    return cm.Panel(mpdta, "countyreal", "year")


def test_mpdta_is_the_did_package_panel(mpdta):
    """500 counties x 2003-2007; cohorts 2004/2006/2007 with 20/40/131 counties, 309 never."""
    assert mpdta.shape[0] == 2500 and mpdta["countyreal"].nunique() == 500
    sizes = mpdta.groupby("first.treat")["countyreal"].nunique().to_dict()
    assert sizes == {0: 309, 2004: 20, 2006: 40, 2007: 131}


# ---------------------------------------------------------------------- Callaway-Sant'Anna
CS_REF = _ref("cs_mpdta.json")["results"]
CONTROL = {"nevertreated": "never", "notyettreated": "notyet"}
AGGS = {"simple": ("simple", {}), "dynamic": ("dynamic", {}),
        "dynamic_window": ("dynamic", {"min_e": -2, "max_e": 2}),
        "dynamic_balance1": ("dynamic", {"balance_e": 1}), "group": ("group", {}),
        "calendar": ("calendar", {})}


def _cs_fit(panel, spec):
    p = panel
    if spec["anticipation"]:  # R did drops the cohort with no pre-period (2004); we require it
        p = p.subset(p.df["first.treat"].to_numpy() != 2004)
    if spec["treated_only"]:
        p = p.subset(p.df["first.treat"].to_numpy() > 0)
    return callaway_santanna(
        p, "lemp", adoption="first.treat", control=CONTROL[spec["control"]], method=spec["method"],
        controls=[spec["covariates"]] if spec["covariates"] else (), base_period=spec["base_period"],
        anticipation=spec["anticipation"], cluster=spec["cluster"], n_draws=0,
    )


@pytest.fixture(scope="module")
def cs_fits(panel):
    return {name: _cs_fit(panel, r["spec"]) for name, r in CS_REF.items()}


@pytest.mark.parametrize("name", list(CS_REF))
def test_cs_attgt_matches_csdid(cs_fits, name):
    """ATT(g,t) and analytic SEs equal csdid's: estimates to 1e-9 absolute, SEs to 1e-8
    relative (observed differences ~1e-12). csdid reports the universal-base cell itself
    (ATT = 0, SE undefined); we omit it, so it is dropped from the comparison."""
    ref = pd.DataFrame(CS_REF[name]["attgt"])
    ref = ref[~((ref["att"] == 0) & ref["se"].isna())]
    got = cs_fits[name].attgt
    assert list(zip(got["g"], got["t"], strict=True)) == list(zip(ref["g"], ref["t"], strict=True))
    np.testing.assert_allclose(got["att"], ref["att"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(got["se"], ref["se"], rtol=1e-8)


@pytest.mark.parametrize("agg", list(AGGS))
@pytest.mark.parametrize("name", list(CS_REF))
def test_cs_aggregations_match_csdid(cs_fits, name, agg):
    """Overall and by-level aggregations (with the influence of the estimated cohort weights)
    equal csdid's ``aggte``: estimates to 1e-9 absolute, analytic SEs to 1e-8 relative."""
    kind, kw = AGGS[agg]
    ref = CS_REF[name][agg]
    got = cs_fits[name].aggregate(kind, **kw)
    np.testing.assert_allclose(got.att, ref["att"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(got.se, ref["se"], rtol=1e-8)
    if "level" in ref:
        lv = pd.DataFrame({"level": ref["level"], "att": ref["level_att"], "se": ref["level_se"]})
        lv = lv[lv["se"].notna()]  # the universal base period's zero cell
        by = got.by
        assert list(by.iloc[:, 0]) == [int(v) for v in lv["level"]]
        np.testing.assert_allclose(by["att"], lv["att"], rtol=0, atol=1e-9)
        np.testing.assert_allclose(by["se"], lv["se"], rtol=1e-8)


def test_cs_mpdta_headline_numbers(cs_fits):
    """The published mpdta results of R did (never-treated, no covariates): simple ATT -0.0400,
    dynamic (e >= 0) -0.0772, group -0.0310; checked against the csdid fixture to 4 decimals."""
    fit = cs_fits["never_dr"]
    assert round(fit.aggregate("simple").att, 4) == -0.0400
    assert round(fit.aggregate("dynamic").att, 4) == -0.0772
    assert round(fit.aggregate("group").att, 4) == -0.0310


def test_cs_methods_coincide_without_covariates(panel):
    """Without covariates reg, ipw and dr are the same unconditional DID (to 1e-12)."""
    fits = [callaway_santanna(panel, "lemp", adoption="first.treat", method=m, n_draws=0).attgt for m in ("dr", "ipw", "reg")]
    for f in fits[1:]:
        np.testing.assert_allclose(f["att"], fits[0]["att"], atol=1e-12)
        np.testing.assert_allclose(f["se"], fits[0]["se"], rtol=1e-10)


def _one_cell(mpdta):
    """The 2x2 of cohort 2004 vs never-treated counties, 2003 -> 2007, with lpop and lpop^2."""
    wide = mpdta.pivot(index="countyreal", columns="year", values="lemp")
    first = mpdta.groupby("countyreal")[["first.treat", "lpop"]].first()
    s = first["first.treat"].isin([0, 2004]).to_numpy()
    lpop = first["lpop"].to_numpy()[s]
    dy = (wide[2007] - wide[2003]).to_numpy()[s]
    d = (first["first.treat"].to_numpy()[s] == 2004).astype(float)
    return dy, d, np.column_stack([np.ones(s.sum()), lpop, lpop**2])


@pytest.mark.parametrize("kernel", [cs.did_dr_imp, cs.did_dr, cs.did_ipw, cs.did_reg])
def test_cs_influence_functions_match_jackknife(mpdta, kernel):
    """Each 2x2 kernel's influence function agrees with the leave-one-out jackknife
    pseudo-values (n-1)(theta - theta_-i) on a real cell (329 counties, 20 treated):
    correlation > 0.999, SEs within 6% (the jackknife inflates by about n1/(n1-1) = 1.05 for
    the 20 treated units). A missing nuisance-estimation term would break this."""
    dy, d, x = _one_cell(mpdta)
    att, inf = kernel(dy, d, x)
    n = len(d)
    loo = np.array([kernel(np.delete(dy, i), np.delete(d, i), np.delete(x, i, 0))[0] for i in range(n)])
    jack = (n - 1) * (att - loo)
    assert np.corrcoef(inf, jack)[0, 1] > 0.999
    np.testing.assert_allclose(np.sqrt(np.mean(jack**2)) / np.sqrt(np.mean(inf**2)), 1.03, atol=0.03)
    assert abs(inf.mean()) < 1e-10


def test_cs_improved_dr_balances_covariates(mpdta, panel):
    """dr_imp: tilting weights balance the covariates of the controls exactly (1e-10); the ATT
    is then the IPT-weighted DID of means; without covariates it is the plain DID (1e-12) and
    with lpop it is within 0.01 SE of R did's dr on every cell."""
    dy, d, x = _one_cell(mpdta)
    _, w_c = cs._control_weights(cs._tilting(x, d), d)
    np.testing.assert_allclose(w_c @ x / w_c.sum(), d @ x / d.sum(), atol=1e-10)
    att, _ = cs.did_dr_imp(dy, d, x)
    np.testing.assert_allclose(att, d @ dy / d.sum() - w_c @ dy / w_c.sum(), atol=1e-12)
    plain = [callaway_santanna(panel, "lemp", adoption="first.treat", method=m, n_draws=0).attgt for m in ("dr", "dr_imp")]
    np.testing.assert_allclose(plain[1]["att"], plain[0]["att"], atol=1e-12)
    imp = callaway_santanna(panel, "lemp", adoption="first.treat", method="dr_imp", controls="lpop", n_draws=0).attgt
    dr = np.array(CS_REF["never_dr_lpop"]["attgt"]["att"])
    assert (np.abs(imp["att"] - dr) < 0.01 * imp["se"]).all()


def test_cs_not_yet_without_never_treated_notes_truncation(cs_fits):
    fit = cs_fits["notyet_dr_treated_only"]
    assert set(fit.attgt["g"]) == {2004, 2006} and fit.attgt["t"].max() == 2006
    assert any("cohort 2007 serves only as a control" in n for n in fit.notes)


def test_cs_bootstrap_bands(panel):
    """Multiplier bootstrap (999 draws): bootstrap SEs within 15% of the analytic ones; the
    uniform critical value lies above the pointwise 1.96 and below 4, so bands contain the
    pointwise intervals; the same seed gives the same draws, Mammen weights work, and
    clustering by state (fewer, larger clusters) changes the SEs."""
    fit = callaway_santanna(panel, "lemp", adoption="first.treat", n_draws=999, seed=1)
    tab = fit.attgt
    np.testing.assert_allclose(tab["se_boot"] / tab["se"], 1, atol=0.15)
    assert 1.96 < fit.crit_val < 4
    assert (tab["band_low"] <= tab["ci_low"]).all() and (tab["band_high"] >= tab["ci_high"]).all()
    again = callaway_santanna(panel, "lemp", adoption="first.treat", n_draws=999, seed=1)
    np.testing.assert_array_equal(again.attgt["se_boot"], tab["se_boot"])
    dyn = fit.aggregate("dynamic")
    np.testing.assert_allclose(dyn.by["se_boot"] / dyn.by["se"], 1, atol=0.15)
    assert 1.96 < dyn.crit_val < 4
    mammen = callaway_santanna(panel, "lemp", adoption="first.treat", n_draws=999, bootstrap_weights="mammen")
    np.testing.assert_allclose(mammen.attgt["se_boot"] / tab["se"], 1, atol=0.15)
    state = callaway_santanna(panel, "lemp", adoption="first.treat", n_draws=499, cluster="state")
    assert state.n_clusters == panel.df["state"].nunique() < 500
    assert not np.allclose(state.attgt["se"], tab["se"], rtol=0.01)


def test_cs_results_render(cs_fits):
    fit = cs_fits["never_dr"]
    res = fit.to_result()
    assert res.terms[0] == "ATT(2004,2004)" and len(res.terms) == 12
    agg = fit.aggregate("event", min_e=0, max_e=2).to_result()
    assert agg.terms == ["ATT", "e=0", "e=1", "e=2"]
    np.testing.assert_allclose(agg.coef("e=2"), fit.attgt.query("g == 2004 and t == 2006")["att"].item())
    text = fit.aggregate("calendar").table().to_text()
    assert "t=2007" in text and "ATT" in text


# ---------------------------------------------------------------------- Sun-Abraham
SA_REF = _ref("sunab_mpdta.json")
SA_CASES = {"never": {}, "never_lpop_trend": {"controls": ["lpop_trend"]},
            "lastcohort": {"control": "lastcohort"}}


@pytest.mark.parametrize("name", list(SA_CASES))
def test_sun_abraham_matches_dummy_regression(panel, name):
    """Cohort x relative-period effects, IW aggregates and the ATT equal the statsmodels
    explicit-dummy regression: estimates to 1e-9 absolute. Standard errors: statsmodels counts
    every county dummy in K of ``(N-1)/(N-K)``, we count the county effects nested in the
    county clusters once (fixest/reghdfe); after that closed-form rescaling,
    ``sqrt((N - K_nested) / (N - K_full))`` with K_nested = K_full - G + 1, SEs agree to 1e-8."""
    ref = SA_REF["results"][name]
    res = sun_abraham(panel, "lemp", adoption="first.treat", **SA_CASES[name])
    n, k_full, g = ref["n_obs"], ref["n_params"], ref["n_clusters"]
    scale = np.sqrt((n - (k_full - g + 1)) / (n - k_full))
    cells = res.meta["cohort_effects"]
    assert res.n_obs == n
    assert list(cells["g"]) == ref["cells"]["g"] and list(cells["e"]) == ref["cells"]["e"]
    np.testing.assert_allclose(cells["n_obs"], ref["cells"]["n_obs"])
    np.testing.assert_allclose(cells["estimate"], ref["cells"]["estimate"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(cells["std_error"] * scale, ref["cells"]["std_error"], rtol=1e-8)
    for term, r in ref["aggregates"].items():
        np.testing.assert_allclose(res.coef(term), r["estimate"], rtol=0, atol=1e-9)
        np.testing.assert_allclose(res.se(term) * scale, r["std_error"], rtol=1e-8)
    for cov, r in ref["covariates"].items():
        np.testing.assert_allclose(res.coef(cov), r["estimate"], rtol=0, atol=1e-9)
        np.testing.assert_allclose(res.se(cov) * scale, r["std_error"], rtol=1e-8)


def test_sun_abraham_cells_match_pyfixest_saturated(panel):
    """Second, independent code path: pyfixest's SaturatedEventStudy cell estimates (1e-9)."""
    ref = pd.DataFrame(SA_REF["pyfixest_never"])
    cells = sun_abraham(panel, "lemp", adoption="first.treat").meta["cohort_effects"]
    m = cells.merge(ref, on=["g", "e"], suffixes=("", "_pf"))
    assert len(m) == len(cells) == len(ref)
    np.testing.assert_allclose(m["estimate"], m["estimate_pf"], rtol=0, atol=1e-9)


# ---------------------------------------------------------------------- imputation (BJS)
BJS_REF = _ref("bjs_mpdta.json")["results"]
BJS_CASES = {
    "att": {"horizons": []},
    "horizons": {"horizons": [0, 1, 2, 3]},
    "horizons_pretrends": {"horizons": [0, 1, 2, 3], "pretrends": 3},
    "att_lpop_trend": {"horizons": [], "controls": ["lpop_trend"]},
    "horizons_lpop_trend": {"horizons": [0, 1, 2, 3], "controls": ["lpop_trend"]},
}


def _bjs_term(key: str) -> str:
    return "ATT" if key == "tau_ate" else f"e={key[3:]}"


@pytest.mark.parametrize("name", list(BJS_CASES))
def test_imputation_matches_did_imputation(panel, name):
    """Estimates to 1e-6 absolute (the reference recovers fixed effects iteratively with
    tolerance 1e-6; observed gaps ~3e-8) and BJS conservative SEs to 1e-5 relative (observed
    ~2e-7)."""
    ref = BJS_REF[name]
    res = did_imputation(panel, "lemp", adoption="first.treat", **BJS_CASES[name])
    for key, est in ref["estimates"].items():
        np.testing.assert_allclose(res.coef(_bjs_term(key)), est, rtol=0, atol=1e-6)
        np.testing.assert_allclose(res.se(_bjs_term(key)), ref["std_errors"][key], rtol=1e-5)


def test_imputation_pretrend_test_matches(panel):
    """Pre-trend leads (BJS Test 1) equal the reference to 1e-9. SEs differ only in the
    small-sample factor: the reference (reghdfe convention) drops the 20 counties of the 2004
    cohort, singletons with one untreated year, from N and G and counts K = 7; we keep them
    (N = 2209, G = 500, K = 3 leads + 5 periods = 8). After rescaling by
    sqrt(f_ref / f_ours), f = (N-1)/(N-K) * G/(G-1), SEs agree to 1e-8."""
    ref = BJS_REF["horizons_pretrends"]
    res = did_imputation(panel, "lemp", adoption="first.treat", horizons=[0, 1, 2, 3], pretrends=3)
    ours = (2208 / 2201) * (500 / 499)
    theirs = (2188 / 2182) * (480 / 479)
    for h in (1, 2, 3):
        np.testing.assert_allclose(res.coef(f"e=-{h}"), ref["pretrends"][f"pre{h}"], rtol=0, atol=1e-9)
        np.testing.assert_allclose(res.se(f"e=-{h}") * np.sqrt(theirs / ours), ref["pretrends_se"][f"pre{h}"], rtol=1e-8)


def _small_staggered(seed: int = 3) -> pd.DataFrame:
    """12 units x 6 periods, cohorts 3/4/5 (3 units each) and 3 never treated, noisy effects."""
    rng = np.random.default_rng(seed)
    g = np.repeat([3, 4, 5, 0], 3)
    rows = [(i, t, g[i]) for i in range(12) for t in range(1, 7)]
    df = pd.DataFrame(rows, columns=["id", "t", "g"])
    treated = (df["g"] > 0) & (df["t"] >= df["g"])
    df["x"] = rng.normal(size=len(df))
    df["y"] = (rng.normal(size=12)[df["id"]] + 0.1 * df["t"] + 0.5 * df["x"]
               + treated * (1 + 0.3 * (df["t"] - df["g"])) + rng.normal(0, 0.3, len(df)))
    return df


@pytest.mark.parametrize("leave_out", [False, True])
def test_imputation_equals_dense_formula(leave_out):
    """BJS by brute force on a small panel (explicit dummy matrix, pseudo-inverse): imputation
    weights ``v = -Z0 (Z0'Z0)^+ Z1' w``, variance ``sum_i (sum_t v e~)^2`` with cohort x period
    means weighted by v^2 (leave-one-unit-out when ``leave_out``). Agreement to 1e-10."""
    df = _small_staggered()
    res = did_imputation(cm.Panel(df, "id", "t"), "y", adoption="g", controls="x", horizons=[0, 1], leave_out=leave_out)
    z = np.column_stack([pd.get_dummies(df["id"], dtype=float), pd.get_dummies(df["t"], dtype=float), df["x"]])
    tr = ((df["g"] > 0) & (df["t"] >= df["g"])).to_numpy()
    y = df["y"].to_numpy()
    coef = np.linalg.pinv(z[~tr]) @ y[~tr]
    tau = y[tr] - z[tr] @ coef
    rel = (df["t"] - df["g"]).to_numpy()[tr]
    for term, w in (("ATT", np.full(tr.sum(), 1 / tr.sum())), ("e=1", (rel == 1) / (rel == 1).sum())):
        v0 = -z[~tr] @ np.linalg.pinv(z[~tr].T @ z[~tr]) @ z[tr].T @ w
        np.testing.assert_allclose(res.coef(term), w @ tau, atol=1e-10)
        np.testing.assert_allclose(res.coef(term), w @ y[tr] + v0 @ y[~tr], atol=1e-10)
        cell = df.loc[tr, ["g", "t"]].astype(str).agg("-".join, axis=1).to_numpy()
        ids = df["id"].to_numpy()[tr]
        e1 = np.empty(tr.sum())
        for j in range(tr.sum()):
            same = (cell == cell[j]) & ((ids != ids[j]) if leave_out else True)
            e1[j] = tau[j] - (w[same] ** 2 @ tau[same]) / (w[same] ** 2).sum() if (w[same] ** 2).sum() else tau[j]
        e0 = y[~tr] - z[~tr] @ coef
        score = pd.Series(np.r_[w * e1, v0 * e0]).groupby(np.r_[ids, df["id"].to_numpy()[~tr]]).sum()
        np.testing.assert_allclose(res.se(term), np.sqrt((score**2).sum()), rtol=1e-10)


# ---------------------------------------------------------------------- simulated panels
@pytest.fixture(scope="module")
def biased_design():
    """cm.simulate(effect=-0.2, lag=2, seed=1) on a calendar where cities adopt in 2009-2019
    (uniform, seed 7) and about 1/6 never adopt. With many cohorts, few never-treated units
    and an effect that switches on two years after adoption, TWFE leans on comparisons with
    already-treated cities whose outcomes are still falling, and is badly attenuated."""
    from climetrics import data as cmdata

    cities = cmdata.cities(include_county_level=True)
    cities = cities[cities["unit_type"].isin(("prefecture_city", "municipality"))].sort_values("adcode")
    rng = np.random.default_rng(7)
    years = rng.choice(np.r_[np.arange(2009, 2020), [0, 0]], size=len(cities))
    cal = pd.DataFrame({"adcode": cities["adcode"].to_numpy(), "adoption_year": years})
    return cm.simulate(calendar=cal[cal["adoption_year"] > 0], effect=-0.2, lag=2, seed=1)


def test_twfe_biased_robust_estimators_recover_truth(biased_design):
    """Truth: ATT over treated city-years -0.155. TWFE gives about -0.095, more than 5 of its
    SEs away (and its Bacon decomposition puts weight on forbidden comparisons); CS, SA and BJS
    are each within 2 SEs of the truth and closer than TWFE. The CS event study recovers the
    true effect at every event time (pre-periods: 0) within 3 SEs."""
    sim = biased_design
    p, truth = sim.panel, sim.truth
    tw = cm.twfe(p, "lnci", "did")
    assert abs(tw.coef("did") - truth["att"]) > 5 * tw.se("did")
    fit = callaway_santanna(p, "lnci", adoption="adoption_year", n_draws=0)
    simple = fit.aggregate("simple")
    sa = sun_abraham(p, "lnci", adoption="adoption_year")
    bjs = did_imputation(p, "lnci", adoption="adoption_year")
    for est, se in ((simple.att, simple.se), (sa.coef("ATT"), sa.se("ATT")), (bjs.coef("ATT"), bjs.se("ATT"))):
        assert abs(est - truth["att"]) < 2 * se
        assert abs(est - truth["att"]) < abs(tw.coef("did") - truth["att"]) / 3
    dyn = fit.aggregate("dynamic").by.set_index("e")
    true_e = pd.Series(truth["effect_by_event_time"]).reindex(dyn.index).fillna(0.0)
    assert (np.abs(dyn["att"] - true_e) < 3 * dyn["se"]).all()
    assert (true_e[dyn.index >= 2] < -0.1).all()  # the design has sizeable dynamic effects
    bacon = bacon_decomposition(p, "lnci", "did")
    forbidden = bacon.by_type().set_index("type").loc["Later vs Earlier Treated"]
    assert forbidden["weight"] > 0.1 and forbidden["estimate"] > tw.coef("did")


def test_default_simulation_event_studies_recover_truth():
    """Default Broadband China design (lag=2, heterogeneity=0.8, effect -0.2): SA and BJS
    event-time estimates within 3 SEs of the true path at every horizon."""
    sim = cm.simulate(effect=-0.2, lag=2, seed=2)
    true_e = pd.Series(sim.truth["effect_by_event_time"])
    true_e = true_e[true_e.index >= 0]  # the truth also lists the (zero) pre-adoption effects
    for res in (sun_abraham(sim.panel, "lnci", adoption="adoption_year"), did_imputation(sim.panel, "lnci", adoption="adoption_year")):
        post = [t for t in res.terms if t.startswith("e=") and int(t[2:]) >= 0]
        assert len(post) == len(true_e)
        for t in post:
            assert abs(res.coef(t) - true_e[int(t[2:])]) < 3 * res.se(t)


def test_compare_estimators_flags_twfe(biased_design, panel):
    """On the biased design the note names the gap and advises the robust estimates; on mpdta
    the four overall effects (TWFE -0.0365, CS -0.0400, SA -0.0400, BJS -0.0477) differ by
    less than their uncertainty: no advice."""
    cmp = compare_estimators(biased_design.panel, "lnci", adoption="adoption_year", treat="did")
    assert "standard errors of the difference" in cmp.note and "prefer the robust estimates" in cmp.note
    assert set(cmp.differs) == {"Callaway-Sant'Anna", "Sun-Abraham", "Imputation (BJS)"}
    frame = cmp.frame().set_index("estimator")
    np.testing.assert_allclose(frame.loc["TWFE", "estimate"], cm.twfe(biased_design.panel, "lnci", "did").coef("did"))
    assert "TWFE" in cmp.table().to_text() and cmp.note in cmp.table().notes
    quiet = compare_estimators(panel, "lemp", adoption="first.treat")
    est = quiet.frame()["estimate"].to_numpy()
    np.testing.assert_allclose(est, [-0.0365, -0.0400, -0.0400, -0.0477], atol=5e-5)
    assert "within their sampling uncertainty" in quiet.note and "prefer" not in quiet.note
    assert quiet.differs == []
    np.testing.assert_allclose(est[1], CS_REF["never_dr"]["simple"]["att"], atol=1e-12)


# ---------------------------------------------------------------------- Bacon, dCDH
def test_bacon_reproduces_twfe(panel, biased_design):
    """Weights sum to 1 and the weighted 2x2 estimates reproduce cm.twfe's coefficient to 1e-10
    (Goodman-Bacon 2021, Theorem 1), on mpdta (3 timing groups + never treated: 9 comparisons)
    and on the simulated panel."""
    for p, y, d in ((panel, "lemp", "D"), (biased_design.panel, "lnci", "did")):
        b = bacon_decomposition(p, y, d)
        assert abs(b.comparisons["weight"].sum() - 1) < 1e-12
        assert abs(b.weighted_sum - cm.twfe(p, y, d).coef(d)) < 1e-10
    b = bacon_decomposition(panel, "lemp", "D")
    assert len(b.comparisons) == 9
    assert set(b.comparisons["type"]) == {"Treated vs Never Treated", "Earlier vs Later Treated", "Later vs Earlier Treated"}


def test_bacon_pools_always_treated_with_never_treated(mpdta):
    """Always-treated units have the same demeaned treatment as never-treated ones; pooled in
    the untreated group, the identity still holds to 1e-10."""
    df = mpdta.copy()
    df.loc[df["countyreal"] < 1100, "D"] = 1
    p = cm.Panel(df, "countyreal", "year")
    b = bacon_decomposition(p, "lemp", "D")
    assert abs(b.weighted_sum - cm.twfe(p, "lemp", "D").coef("D")) < 1e-10


def test_bacon_plot_returns_figure(panel):
    fig = bacon_decomposition(panel, "lemp", "D").plot()
    ax = fig.axes[0]
    assert len(ax.collections) == 3 and ax.get_xlabel() == "Weight"


def _noise_free(delta: dict[tuple[int, int], float], cohorts: dict[int, int], periods=range(1, 9)) -> pd.DataFrame:
    """Y = unit effect + period effect + Delta_{g,t} D: cohort g (0 = never) has cohorts[g] units."""
    rng = np.random.default_rng(0)
    rows, unit = [], 0
    for g, n in cohorts.items():
        for _ in range(n):
            a = rng.normal()
            for t in periods:
                d = int(g > 0 and t >= g)
                rows.append((unit, t, g, d, a + 0.3 * t + (delta[(g, t)] if d else 0.0)))
            unit += 1
    return pd.DataFrame(rows, columns=["id", "t", "g", "D", "y"])


def test_dcdh_weights_reproduce_twfe_from_cell_effects():
    """Noise-free panel with known cell effects Delta_{g,t} (growing with exposure): TWFE equals
    sum_{g,t} w_gt Delta_gt to 1e-10, weights sum to 1. With no never-treated units and an early
    cohort treated long before the late one, the early cohort's last periods get negative
    weights (dCDH 2020): checked against the closed form w_it = e_it / sum_{D=1} e_it,
    e_it = D_it - Dbar_i - Dbar_t + Dbar, on the balanced panel."""
    cohorts = {2: 4, 7: 6}
    delta = {(g, t): 1.0 + 0.5 * (t - g) + 0.1 * g for g in cohorts for t in range(1, 9)}
    df = _noise_free(delta, cohorts)
    p = cm.Panel(df, "id", "t")
    w = twfe_weights(p, "D")
    assert abs(w.cells["weight"].sum() - 1) < 1e-12
    beta = cm.twfe(p, "y", "D").coef("D")
    cell_delta = np.array([delta[(g, t)] for g, t in zip(w.cells["g"], w.cells["t"], strict=True)])
    assert abs(w.cells["weight"] @ cell_delta - beta) < 1e-10
    d = df.pivot(index="id", columns="t", values="D").to_numpy(float)
    e = d - d.mean(1, keepdims=True) - d.mean(0, keepdims=True) + d.mean()
    closed = (e / e[d == 1].sum())
    expect = {(g, t): closed[df.query("t == @t").set_index("id")["g"].to_numpy() == g, t - 1].sum()
              for g, t in zip(w.cells["g"], w.cells["t"], strict=True)}
    np.testing.assert_allclose(w.cells["weight"], list(expect.values()), atol=1e-12)
    assert w.n_negative > 0 and w.sum_negative < 0
    neg = w.cells[w.cells["weight"] < 0]
    assert set(neg["g"]) == {2} and neg["t"].min() >= 7
    assert w.n_negative / w.n_cells == w.share_negative
    assert "negative" in w.reading() and w.summary()["n_negative"] == w.n_negative


def test_dcdh_weights_with_never_treated_and_unbalanced_panel():
    """With never-treated units and a dropped observation, the identity still holds (1e-10)."""
    cohorts = {3: 3, 5: 4, 0: 5}
    delta = {(g, t): 2.0 - 0.2 * (t - g) for g in cohorts for t in range(1, 9)}
    df = _noise_free(delta, cohorts).drop(index=[5, 40]).reset_index(drop=True)
    p = cm.Panel(df, "id", "t")
    w = twfe_weights(p, "D")
    cell_delta = np.array([delta[(g, t)] for g, t in zip(w.cells["g"], w.cells["t"], strict=True)])
    assert abs(w.cells["weight"] @ cell_delta - cm.twfe(p, "y", "D").coef("D")) < 1e-9
    assert abs(w.cells["weight"].sum() - 1) < 1e-12


# ---------------------------------------------------------------------- degenerate inputs
def test_no_never_treated_is_an_error(panel):
    treated = panel.subset(panel.df["first.treat"].to_numpy() > 0)
    for call in (lambda: callaway_santanna(treated, "lemp", adoption="first.treat", n_draws=0),
                 lambda: sun_abraham(treated, "lemp", adoption="first.treat")):
        with pytest.raises(EstimationError, match="control='never' needs never-treated units"):
            call()


def test_cohort_treated_in_first_period_is_an_error(mpdta):
    df = mpdta.copy()
    df.loc[df["countyreal"] == 8001, "first.treat"] = 2003
    p = cm.Panel(df, "countyreal", "year")
    for call in (lambda: callaway_santanna(p, "lemp", adoption="first.treat", n_draws=0),
                 lambda: sun_abraham(p, "lemp", adoption="first.treat"),
                 lambda: did_imputation(p, "lemp", adoption="first.treat")):
        with pytest.raises(EstimationError, match=r"cohort 2003 \(1 units, e.g. countyreal 8001\).*no pre-treatment period"):
            call()


def test_group_varying_within_unit_is_an_error(mpdta):
    df = mpdta.copy()
    df.loc[(df["countyreal"] == 8019) & (df["year"] == 2005), "first.treat"] = 2006
    p = cm.Panel(df, "countyreal", "year")
    for call in (lambda: callaway_santanna(p, "lemp", adoption="first.treat", n_draws=0),
                 lambda: sun_abraham(p, "lemp", adoption="first.treat"),
                 lambda: did_imputation(p, "lemp", adoption="first.treat")):
        with pytest.raises(EstimationError, match="constant within each unit.*countyreal 8019 has values"):
            call()


def test_bacon_rejects_reversals_and_gaps(mpdta):
    df = mpdta.copy()
    df.loc[(df["countyreal"] == 8001) & (df["year"] == 2007), "D"] = 0
    df.loc[(df["countyreal"] == 8001) & (df["year"] == 2006), "D"] = 1
    with pytest.raises(EstimationError, match="switches off for countyreal 8001 in 2007"):
        bacon_decomposition(cm.Panel(df, "countyreal", "year"), "lemp", "D")
    gap = cm.Panel(mpdta.drop(index=[3]), "countyreal", "year")
    with pytest.raises(EstimationError, match="balanced panel"):
        bacon_decomposition(gap, "lemp", "D")


def test_compare_estimators_reports_an_estimator_that_cannot_be_computed():
    """Every city treated (no never-treated units): CS and SA (never-treated controls) cannot be
    computed; TWFE and BJS are still shown and the table says why the others are missing."""
    from climetrics.estimate.did.staggered import compare_estimators

    p = cm.simulate(seed=11).panel
    g = np.where(p.df["city"].to_numpy() // 100 % 2 == 0, 2012, 2015)
    p = p.assign(g=g)
    cmp = compare_estimators(p, "lnci", adoption="g")
    assert cmp.labels == ["TWFE", "Imputation (BJS)"]
    assert cmp.skipped[0].startswith("Callaway-Sant'Anna could not be estimated on these data:")
    assert "never-treated" in cmp.skipped[0] and cmp.skipped[0] in cmp.table().notes


def test_single_unit_cohort_is_dropped_with_a_note():
    """Issue 15: a cohort of one unit (330100, 2013) has no valid standard error (the treated
    part of its influence function is zero) and no propensity score: CS drops it as a treated
    group with a note naming it, instead of an SE near 0 with stars or a failed section. With
    four covariates and the two-unit cohort 2012, CS is estimated; the ATT equals the one
    computed without the single-unit cohort's unit treated as a cohort (here: as a control)."""
    from climetrics.estimate.did.staggered import compare_estimators

    p = cm.simulate(seed=11).panel
    g = p.df["city"].map({320500: 2012, 330100: 2013, 110100: 2012}).fillna(0).to_numpy()
    p = p.assign(g=g, d=(p.df["year"].to_numpy() >= np.where(g > 0, g, np.inf)).astype(float))
    fit = callaway_santanna(p, "lnci", adoption="g", n_draws=0)
    assert set(fit.attgt["g"]) == {2012}
    assert any("Cohort 2013 has a single city (330100)" in n for n in fit.notes)
    assert (fit.attgt["se"] > 1e-6).all()
    solo = callaway_santanna(p.subset(p.df["city"].to_numpy() != 330100), "lnci", adoption="g", n_draws=0)
    np.testing.assert_allclose(fit.attgt.query("t < 2013")["att"], solo.attgt.query("t < 2013")["att"], atol=1e-12)
    cmp = compare_estimators(p, "lnci", adoption="g", treat="d", controls=["lnpgdp", "gov", "str", "lnpden"])
    assert "Callaway-Sant'Anna" in cmp.labels
    assert any("single city" in n for n in cmp.table().notes)
    with pytest.raises(EstimationError, match="single city"):
        callaway_santanna(p.assign(g=np.where(p.df["city"].to_numpy() == 330100, 2013, 0)), "lnci", adoption="g")


def test_time_invariant_control_is_dropped_by_sa_and_bjs_and_the_comparison(panel):
    """Issue 15: mpdta's lpop is constant within counties. Unit effects absorb it, so the
    imputation step-1 normal matrix is singular up to rounding (issue 15 saw a BJS ATT of 18.9
    in the comparison; SA refused to run). SA and
    BJS now drop it with a note and equal their no-control fits (1e-9); the comparison leaves it
    out of every column, CS included (whose own fit with lpop matches R did, see
    test_cs_attgt_matches_csdid), and says so."""
    for est in (sun_abraham, did_imputation):
        with_lpop = est(panel, "lemp", adoption="first.treat", controls="lpop")
        plain = est(panel, "lemp", adoption="first.treat")
        assert any("lpop" in n and "dropped" in n for n in with_lpop.notes)
        assert with_lpop.meta["controls"] == []
        np.testing.assert_allclose(with_lpop.coef("ATT"), plain.coef("ATT"), atol=1e-9)
        np.testing.assert_allclose(with_lpop.se("ATT"), plain.se("ATT"), rtol=1e-9)
    cmp = compare_estimators(panel, "lemp", adoption="first.treat", controls="lpop")
    np.testing.assert_allclose(cmp.frame()["estimate"], [-0.0365, -0.0400, -0.0400, -0.0477], atol=5e-5)
    assert any("lpop are constant within units" in n for n in cmp.table().notes)

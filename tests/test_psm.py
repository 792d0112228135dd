"""Propensity-score matching and PSM-DID (climetrics.estimate.robustness.psm).

References:
* R MatchIt 4.5.1 on the Lalonde data (fixtures in tests/data/reference/psm_lalonde_*.json,
  produced by tools/reference/psm_matchit.R; the tests do not need R). The nearest-neighbour
  fixtures use MatchIt's distance-matrix code path because its vector path, as built on
  Linux/GCC, truncates score differences to integers (see the script).
* Hand computations of kernel / radius weights, psmatch2's ATT standard error and pstest's
  balance statistics on tiny data.
* The simulator's known effect for PSM-DID.
"""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

import climetrics as cm
from climetrics.errors import EstimationError
from climetrics.estimate.robustness import psm

DATA = Path(__file__).parent / "data"
REF = DATA / "reference"
COVS = ["age", "educ", "hispan", "white", "married", "nodegree", "re74", "re75"]
BALANCE_COVS = ["age", "educ", "black", "hispan", "white", "married", "nodegree", "re74", "re75"]
MATCHIT_NAMES = {"black": "raceblack", "hispan": "racehispan", "white": "racewhite"}
SIM_COVS = ["lnpgdp", "gov", "str", "lnpden"]


@pytest.fixture(scope="module")
def lalonde() -> pd.DataFrame:
    df = pd.read_csv(DATA / "lalonde.csv")
    for race in ("black", "hispan", "white"):
        df[race] = (df["race"] == race).astype(int)
    return df


@pytest.fixture(scope="module")
def ps(lalonde) -> psm.PropensityScore:
    return psm.propensity_score(lalonde, "treat", COVS)


@pytest.fixture(scope="module")
def matchit() -> dict:
    return json.loads((REF / "psm_lalonde_match.json").read_text())


def _sets(m: psm.Matching, ids: np.ndarray) -> dict[str, list[str]]:
    return {ids[i]: sorted(ids[j] for j in js) for i, js in m.match_sets().items()}


def _matchit_sets(design: dict) -> dict[str, list[str]]:
    return {k: sorted([v] if isinstance(v, str) else v) for k, v in design["match_sets"].items() if v}


def _matchit_weights(m: psm.Matching) -> np.ndarray:
    """psmatch2 weights rescaled as MatchIt does: control weights sum to the matched controls."""
    w = m.weights.copy()
    c = ~m.treat
    w[c] *= (w[c] > 0).sum() / w[c].sum()
    return w


def _score(ps: psm.PropensityScore, matchit: dict, design: dict, source: str) -> np.ndarray:
    linear = design["options"].get("score") == "linear"
    if source == "R":
        return np.array(matchit["score_linear" if linear else "score_ps"])
    return ps.index if linear else ps.score


def _run(ps, matchit, design, source, lalonde) -> psm.Matching:
    o = design["options"]
    return psm.nearest_neighbor_match(
        _score(ps, matchit, design, source), lalonde["treat"], k=o["k"], replace=o["replace"],
        order=o["order"], caliper=o["caliper_sd"],
    )


# ---------------------------------------------------------------------- propensity score
def test_propensity_score_equals_r_glm(lalonde, ps):
    ref = json.loads((REF / "psm_lalonde_ps.json").read_text())
    assert ref["id"] == list(lalonde["id"])
    np.testing.assert_allclose(ps.score, ref["ps"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(ps.index, ref["linear"], rtol=0, atol=1e-8)
    assert ps.pseudo_r2 == pytest.approx(ref["mcfadden_r2"], abs=1e-8)
    coef = dict(zip(["(Intercept)", "age", "educ", "racehispan", "racewhite", "married", "nodegree",
                     "re74", "re75"], ps.fit.params, strict=True))
    for name, value in ref["coefficients"].items():
        assert coef[name] == pytest.approx(value, rel=1e-8, abs=1e-12)
    assert 0 < ps.lr_pvalue < 1e-10 and ps.lr_chi2 > 0


def test_probit_propensity_score_is_the_probit_mle(lalonde):
    p = psm.propensity_score(lalonde, "treat", COVS, model="probit")
    direct = sm.Probit(lalonde["treat"], sm.add_constant(lalonde[COVS].astype(float))).fit(disp=0)
    np.testing.assert_allclose(p.score, direct.predict(), atol=1e-8)
    assert p.pseudo_r2 == pytest.approx(direct.prsquared, abs=1e-10)


def test_propensity_score_accepts_a_panel():
    sim = cm.simulate(seed=0)
    p = psm.propensity_score(sim.panel, "treat", SIM_COVS)
    assert p.score.shape == (len(sim.panel),) and np.all((p.score > 0) & (p.score < 1))


# ---------------------------------------------------------------------- nearest neighbour vs MatchIt
EXACT_DESIGNS = ["nn1", "nn1_replace", "nn1_caliper", "nn1_smallest", "nn2", "nn1_logit_caliper"]


@pytest.mark.parametrize("source", ["R", "python"])
@pytest.mark.parametrize("name", EXACT_DESIGNS)
def test_nearest_neighbour_equals_matchit(lalonde, ps, matchit, name, source):
    design = matchit["designs"][name]
    m = _run(ps, matchit, design, source, lalonde)
    ids = lalonde["id"].to_numpy()
    assert _sets(m, ids) == _matchit_sets(design)  # the same units matched to the same units
    ref_w = np.array([design["weights"][i] for i in ids])
    np.testing.assert_allclose(_matchit_weights(m), ref_w, rtol=0, atol=1e-12)
    assert int((m.weights[m.treat] > 0).sum()) == design["n_matched_treated"]
    assert int((m.weights[~m.treat] > 0).sum()) == design["n_matched_control"]
    if design["options"]["caliper_score_units"] is not None:
        assert m.options["caliper"] == pytest.approx(design["options"]["caliper_score_units"], rel=1e-12)
    bal = m.balance(lalonde, BALANCE_COVS).frame.query("sample == 'Matched'").set_index("variable")
    for v in BALANCE_COVS:
        key = MATCHIT_NAMES.get(v, v)
        assert bal.loc[v, "mean_treated"] == pytest.approx(design["means_treated"][key], rel=1e-10, abs=1e-8)
        assert bal.loc[v, "mean_control"] == pytest.approx(design["means_control"][key], rel=1e-10, abs=1e-8)


def test_three_nearest_with_replacement_equals_matchit_up_to_exact_ties(lalonde, matchit):
    """With k=3 and replacement MatchIt breaks exact ties at the third place with
    std::partial_sort (unspecified order); climetrics takes the first in data order. The
    distances of the chosen controls and the matched means must agree."""
    design = matchit["designs"]["nn3_replace"]
    s = np.array(matchit["score_ps"])
    m = psm.nearest_neighbor_match(s, lalonde["treat"], k=3, replace=True)
    pos = {u: i for i, u in enumerate(lalonde["id"])}
    ids = lalonde["id"].to_numpy()
    for i, js in m.match_sets().items():
        ours = sorted(abs(s[j] - s[i]) for j in js)
        theirs = sorted(abs(s[pos[c]] - s[i]) for c in design["match_sets"][ids[i]])
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-15)
    bal = m.balance(lalonde, BALANCE_COVS).frame.query("sample == 'Matched'").set_index("variable")
    for v in BALANCE_COVS:
        key = MATCHIT_NAMES.get(v, v)
        assert bal.loc[v, "mean_control"] == pytest.approx(design["means_control"][key], rel=1e-10, abs=1e-8)


def test_nearest_ties_go_to_the_first_control_in_data_order():
    score = [0.5, 0.4, 0.6, 0.4]  # treated at 0.5; controls at distance 0.1 on both sides
    m = psm.nearest_neighbor_match(score, [1, 0, 0, 0])
    assert m.match_sets() == {0: [1]}
    m2 = psm.nearest_neighbor_match(score, [1, 0, 0, 0], k=2)
    assert m2.match_sets() == {0: [1, 2]}
    np.testing.assert_array_equal(m2.weights, [1, 0.5, 0.5, 0])


def test_nearest_largest_first_without_replacement_and_common_support():
    # 0.95 chooses first and takes 0.85; then 0.9 takes 0.7 and 0.8 is left with 0.1
    score = np.array([0.8, 0.9, 0.85, 0.7, 0.1, 0.95])
    treat = np.array([1, 1, 0, 0, 0, 1])
    m = psm.nearest_neighbor_match(score, treat)
    assert m.match_sets() == {0: [4], 1: [3], 5: [2]}
    assert psm.nearest_neighbor_match(score, treat, order="smallest").match_sets() == {0: [2], 1: [3], 5: [4]}
    trimmed = psm.nearest_neighbor_match(score, treat, trim=True)  # 0.9, 0.95 above max control
    assert trimmed.n_off_support == 2 and trimmed.match_sets() == {0: [2]}
    cal = psm.nearest_neighbor_match(score, treat, caliper=0.06, caliper_scale="score")
    assert cal.match_sets() == {1: [2]} and cal.n_unmatched == 2


# ---------------------------------------------------------------------- kernel and radius matching
T_SCORES = [0.30, 0.50, 0.90]
C_SCORES = [0.25, 0.35, 0.45, 0.60, 0.20]
SCORE = np.array(T_SCORES + C_SCORES)
TREAT = np.array([1, 1, 1, 0, 0, 0, 0, 0])
Y = np.array([3.0, 5.0, 9.0, 2.0, 2.5, 4.0, 6.5, 1.0])


def test_epanechnikov_kernel_weights_by_hand():
    m = psm.kernel_match(SCORE, TREAT, kernel="epan", bandwidth=0.2)
    # u = (p_j - p_i)/0.2; K = 1 - u^2 on |u| <= 1
    row1 = np.array([1 - 0.25**2, 1 - 0.25**2, 1 - 0.75**2, 0.0, 1 - 0.5**2])  # p_i = 0.30
    row2 = np.array([0.0, 1 - 0.75**2, 1 - 0.25**2, 1 - 0.5**2, 0.0])  # p_i = 0.50
    expected = np.vstack([row1 / row1.sum(), row2 / row2.sum(), np.zeros(5)])  # 0.90: none in window
    np.testing.assert_allclose(m.pairs, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(m.weights, np.r_[1, 1, 0, expected.sum(axis=0)], rtol=0, atol=1e-12)
    assert m.n_unmatched == 1 and m.n_off_support == 0
    trimmed = psm.kernel_match(SCORE, TREAT, kernel="epan", bandwidth=0.2, trim=True)
    assert trimmed.n_off_support == 1 and trimmed.n_unmatched == 0  # 0.90 > max control 0.60
    np.testing.assert_allclose(trimmed.pairs, expected, rtol=0, atol=1e-12)


def test_gaussian_kernel_weights_by_hand():
    m = psm.kernel_match(SCORE, TREAT, kernel="normal", bandwidth=0.2)
    for i, p in enumerate(T_SCORES):
        k = np.array([math.exp(-(((c - p) / 0.2) ** 2) / 2) for c in C_SCORES])
        np.testing.assert_allclose(m.pairs[i], k / k.sum(), rtol=0, atol=1e-12)
    assert m.n_unmatched == 0


def test_radius_weights_by_hand():
    m = psm.radius_match(SCORE, TREAT, caliper=0.12)
    expected = np.array([[1 / 3, 1 / 3, 0, 0, 1 / 3], [0, 0, 1 / 2, 1 / 2, 0], [0, 0, 0, 0, 0]])
    np.testing.assert_allclose(m.pairs, expected, rtol=0, atol=1e-12)


def test_att_and_psmatch2_standard_error_by_hand():
    m = psm.kernel_match(SCORE, TREAT, kernel="epan", bandwidth=0.2)
    w = m.pairs[:2]
    yc = Y[3:]
    effects = Y[:2] - w @ yc
    wc = w.sum(axis=0)
    used = wc > 0
    var1 = ((Y[:2] - Y[:2].mean()) ** 2).sum() / 1
    var0 = ((yc[used] - yc[used].mean()) ** 2).sum() / (used.sum() - 1)
    att, se = m.att(Y)
    assert att == pytest.approx(effects.mean(), abs=1e-12)
    assert se == pytest.approx(math.sqrt(var1 / 2 + var0 * (wc**2).sum() / 4), abs=1e-12)


# ---------------------------------------------------------------------- balance (pstest)
@pytest.fixture(scope="module")
def small():
    df = pd.DataFrame({
        "t": [1, 1, 1, 1, 0, 0, 0, 0, 0],
        "x": [5.0, 7.0, 6.0, 12.0, 4.0, 6.5, 3.0, 5.5, 2.0],
        "z": [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0],
    })
    w = np.array([1, 1, 1, 0, 0.5, 1.5, 0, 1, 1])  # 4th treated off support, 3rd control unused
    return df, w


def _wls_t(x, t, w):
    """t statistic and df of the treatment coefficient: WLS, s² = e'We / (sum w - 2)."""
    X = np.column_stack([np.ones(len(x)), t])
    xtwx = X.T @ (w[:, None] * X)
    beta = np.linalg.solve(xtwx, X.T @ (w * x))
    e = x - X @ beta
    df = w.sum() - 2
    v = (e @ (w * e)) / df * np.linalg.inv(xtwx)
    return beta[1] / math.sqrt(v[1, 1]), df


def test_balance_statistics_by_hand(small):
    df, w = small
    b = psm.balance(df, "t", ["x", "z"], w).frame.set_index(["variable", "sample"])
    x, t = df["x"].to_numpy(), df["t"].to_numpy().astype(bool)
    xt, xc = [5.0, 7.0, 6.0, 12.0], [4.0, 6.5, 3.0, 5.5, 2.0]
    m1u, m0u = sum(xt) / 4, sum(xc) / 5
    v1u = sum((v - m1u) ** 2 for v in xt) / 3
    v0u = sum((v - m0u) ** 2 for v in xc) / 4
    m1m = (5 + 7 + 6) / 3
    m0m = (0.5 * 4 + 1.5 * 6.5 + 5.5 + 2) / 4
    bias_u = 100 * (m1u - m0u) / math.sqrt((v1u + v0u) / 2)
    bias_m = 100 * (m1m - m0m) / math.sqrt((v1u + v0u) / 2)
    u, m = b.loc[("x", "Unmatched")], b.loc[("x", "Matched")]
    assert (u["mean_treated"], u["mean_control"]) == pytest.approx((m1u, m0u), abs=1e-12)
    assert (m["mean_treated"], m["mean_control"]) == pytest.approx((m1m, m0m), abs=1e-12)
    assert u["bias"] == pytest.approx(bias_u, abs=1e-10)
    assert m["bias"] == pytest.approx(bias_m, abs=1e-10)
    assert m["reduction"] == pytest.approx(100 * (1 - abs(bias_m) / abs(bias_u)), abs=1e-10)
    tu, dfu = _wls_t(x, t.astype(float), np.ones(9))
    assert dfu == 7
    assert u["t"] == pytest.approx(tu, abs=1e-10)
    assert u["p_value"] == pytest.approx(2 * stats.t.sf(abs(tu), 7), abs=1e-10)
    keep = w > 0
    tm, dfm = _wls_t(x[keep], t[keep].astype(float), w[keep])
    assert dfm == 5  # sum of weights (3 + 4) minus 2, as Stata regress with iweights
    assert m["t"] == pytest.approx(tm, abs=1e-10)
    assert m["p_value"] == pytest.approx(2 * stats.t.sf(abs(tm), dfm), abs=1e-10)


def test_balance_summary_pseudo_r2_and_bias_summary(small):
    df, _ = small
    w = np.array([1, 1, 1, 0, 1, 2, 0, 1, 0])  # integer weights: replicate rows to check
    bal = psm.balance(df, "t", ["x", "z"], w)
    un = sm.Probit(df["t"], sm.add_constant(df[["x", "z"]])).fit(disp=0)
    rep = df.loc[np.repeat(np.arange(len(df)), w.astype(int))]
    mt = sm.Probit(rep["t"], sm.add_constant(rep[["x", "z"]])).fit(disp=0)
    s = bal.samples
    assert s.loc["Unmatched", "pseudo_r2"] == pytest.approx(un.prsquared, abs=1e-10)
    assert s.loc["Unmatched", "lr_chi2"] == pytest.approx(un.llr, abs=1e-8)
    assert s.loc["Unmatched", "lr_pvalue"] == pytest.approx(un.llr_pvalue, abs=1e-10)
    assert s.loc["Matched", "pseudo_r2"] == pytest.approx(mt.prsquared, abs=1e-8)
    assert s.loc["Matched", "lr_pvalue"] == pytest.approx(mt.llr_pvalue, abs=1e-8)
    f = bal.frame
    for sample in ("Unmatched", "Matched"):
        b = f.loc[f["sample"] == sample, "bias"].abs()
        assert s.loc[sample, "mean_bias"] == pytest.approx(b.mean(), abs=1e-12)
        assert s.loc[sample, "median_bias"] == pytest.approx(b.median(), abs=1e-12)


def test_balance_table_layout(small):
    df, w = small
    tab = psm.balance(df, "t", ["x", "z"], w).table(labels={"x": "GDP"})
    assert tab.columns == ["Sample", "Treated", "Control", "t-test (p-value)", "%bias", "%reduct |bias|"]
    assert [r[:2] for r in tab.rows[:4]] == [["GDP", "Unmatched"], ["", "Matched"], ["z", "Unmatched"], ["", "Matched"]]
    assert tab.rows[0][2] == "7.5000" and tab.rows[4][0] == "Pseudo R²"
    md = tab.to_markdown()
    assert "| GDP | Unmatched | 7.5000 | 4.2000 |" in md
    assert "Median \\|bias\\|" in md and tab.to_latex().startswith("\\begin{table}")


# ---------------------------------------------------------------------- PSM-DID on simulated data
@pytest.fixture(scope="module")
def sim():
    return cm.simulate(seed=0)


@pytest.fixture(scope="module")
def cross(sim):
    return psm.psm_did(sim.panel, "lnci", "did", SIM_COVS, bandwidth=0.2, weighted=True, n_draws=30)


def _bias_shrinks(bal: psm.Balance) -> None:
    b = bal.frame.pivot(index="variable", columns="sample", values="bias").abs()
    assert (b["Matched"] < b["Unmatched"]).all()
    s = bal.samples
    assert s.loc["Matched", "mean_bias"] < s.loc["Unmatched", "mean_bias"]
    assert s.loc["Matched", "pseudo_r2"] < s.loc["Unmatched", "pseudo_r2"]


def test_cross_section_psm_did_recovers_the_truth(sim, cross):
    truth = sim.truth["att"]
    lo, hi = cross.did.confint("did")
    assert lo <= truth <= hi
    lo_w, hi_w = cross.did_weighted.confint("did")
    assert lo_w <= truth <= hi_w
    _bias_shrinks(cross.balance)
    c = cross.counts
    assert c["treated"] == sim.truth["n_treated"] and c["control"] == sim.truth["n_control"]
    assert c["matched_treated"] == c["treated"] - c["off_support"] - c["unmatched"]
    n_units = c["matched_treated"] + c["matched_control"]
    assert cross.did.n_obs == n_units * len(sim.panel.periods)
    assert cross.att < 0 and abs(cross.att_t) > 3
    assert 0 < cross.att_se_boot < 3 * cross.att_se


def test_cross_section_att_equals_psmatch2_on_changes_for_one_cohort(sim):
    df = sim.panel.df
    keep = df["adoption_year"].isna() | (df["adoption_year"] == 2014)
    panel = sim.panel.subset(keep.to_numpy())
    res = psm.psm_did(panel, "lnci", "did", SIM_COVS, bandwidth=0.2)
    d = panel.df
    change = d[d["year"] >= 2014].groupby("city")["lnci"].mean() - d[d["year"] < 2014].groupby("city")["lnci"].mean()
    pre = d[d["year"] < 2014].groupby("city")[SIM_COVS].mean()
    m = res.matching
    att, se = m.att(change.reindex(res.scores["city"]).to_numpy())
    assert (res.att, res.att_se) == pytest.approx((att, se), abs=1e-12)
    ps = psm.propensity_score(pre.assign(g=d.groupby("city")["treat"].max()), "g", SIM_COVS, model="probit")
    np.testing.assert_allclose(res.scores["score"], ps.score, atol=1e-12)


def test_weighted_did_with_unit_weights_equals_twfe(sim):
    ones = np.ones(len(sim.panel))
    w = psm.model._weighted_twfe(sim.panel, "lnci", "did", SIM_COVS, ones, ["city", "year"], "city")
    r = cm.twfe(sim.panel, "lnci", "did", SIM_COVS)
    assert w.coef("did") == pytest.approx(r.coef("did"), rel=1e-8)
    assert w.se("did") == pytest.approx(r.se("did"), rel=1e-8)


def test_period_by_period_psm_did(sim):
    res = psm.psm_did(sim.panel, "lnci", "did", SIM_COVS, period_by_period=True, bandwidth=0.2)
    lo, hi = res.did.confint("did")
    assert lo <= sim.truth["att"] <= hi
    _bias_shrinks(res.balance)
    assert set(res.matching) == set(sim.panel.periods.tolist())
    assert res.counts["treated"] + res.counts["control"] == len(sim.panel)
    assert res.did.n_obs == res.counts["matched_treated"] + res.counts["matched_control"]


def test_support_figure_and_att_table(cross):
    fig = cross.plot()
    assert len(fig.axes) == 2 and fig.axes[1].get_title() == "After matching"
    tab = cross.att_table()
    assert tab.rows[0][0] == "ATT" and tab.rows[-1][1] == f"{cross.counts['matched_treated'] + cross.counts['matched_control']:,}"


def test_nearest_psm_did_uses_matched_units_only(sim):
    res = psm.psm_did(sim.panel, "lnci", "did", SIM_COVS, method="nearest", model="logit", on="index",
                      caliper=0.2)
    assert res.counts["matched_treated"] == res.counts["matched_control"]  # 1:1 without replacement
    assert res.did.n_obs == 2 * res.counts["matched_treated"] * len(sim.panel.periods)


# ---------------------------------------------------------------------- degenerate cases
def test_no_treated_units(lalonde, sim):
    with pytest.raises(EstimationError, match="no treated units"):
        psm.propensity_score(lalonde.assign(treat=0), "treat", COVS)
    with pytest.raises(EstimationError, match="no treated units"):
        psm.psm_did(sim.panel.assign(did=0), "lnci", "did", SIM_COVS)


def test_no_control_units_on_common_support():
    with pytest.raises(EstimationError, match="no control units on common support"):
        psm.kernel_match([0.8, 0.9, 0.1, 0.2], [1, 1, 0, 0], trim=True)
    with pytest.raises(EstimationError, match="no control units"):
        psm.nearest_neighbor_match([0.8, 0.9], [1, 1])


def test_perfect_separation_names_the_covariate(lalonde):
    df = lalonde.assign(score_hint=lalonde["treat"] * 10 + lalonde["age"] / 100)
    with pytest.raises(EstimationError, match="perfect separation.*'score_hint'"):
        psm.propensity_score(df, "treat", ["age", "score_hint"])
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=200), rng.normal(size=200)
    two = pd.DataFrame({"a": a, "b": b, "t": (a + b > 0).astype(int)})  # neither alone separates
    with pytest.raises(EstimationError, match="perfect separation.*combination"):
        psm.propensity_score(two, "t", ["a", "b"])


def test_collinear_covariate(lalonde):
    with pytest.raises(EstimationError, match="'re74_copy' is constant or collinear"):
        psm.propensity_score(lalonde.assign(re74_copy=lalonde["re74"] * 2), "treat", ["re74", "re74_copy"])


def test_caliper_or_bandwidth_too_tight():
    with pytest.raises(EstimationError, match="within the caliper"):
        psm.nearest_neighbor_match(SCORE, TREAT, caliper=1e-6, caliper_scale="score")
    with pytest.raises(EstimationError, match="within the caliper"):
        psm.nearest_neighbor_match(SCORE, TREAT, caliper=1e-6)  # in SDs of the score
    with pytest.raises(EstimationError, match="within the caliper"):
        psm.radius_match(SCORE, TREAT, caliper=1e-6)
    with pytest.raises(EstimationError, match="within the kernel bandwidth"):
        psm.kernel_match(SCORE, TREAT, bandwidth=1e-6)


def test_no_pre_treatment_period(sim):
    df = sim.panel.df
    panel = sim.panel.assign(did=((df["treat"] == 1) & (df["year"] >= 2006)).astype(int))
    with pytest.raises(EstimationError, match="no pre-treatment period"):
        psm.psm_did(panel, "lnci", "did", SIM_COVS)

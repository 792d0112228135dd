"""Dynamic panel GMM against R plm::pgmm on the Arellano-Bond (1991) UK employment panel.

Reference: ``tests/data/reference/gmm_emplUK.json`` written by ``tools/reference/gmm_plm.R``
(plm 2.6-2) from ``plm::EmplUK`` (``tests/data/emplUK.csv``: 140 firms, 1976-1984, unbalanced).

Compared with plm, for every specification: all coefficients (time dummies included) to 1e-6
relative, robust standard errors and the whole robust covariance (one-step sandwich, two-step
Windmeijer) to 1e-4, Hansen's J (plm's ``sargan()``), the Arellano-Bond AR(1)/AR(2) statistics
and the Wald tests to 1e-4, instrument and observation counts exactly.

Not comparable with plm, and why:

* plm's non-robust one-step covariance ``vcov(pgmm)`` is ``(X'Z A1 Z'X)^-1`` with
  ``A1 = N (sum Z'HZ)^-1``: it lacks the error variance (it is scaled by 1/N instead). Ours is
  ``s2 (X'Z (sum Z'HZ)^-1 Z'X)^-1``. Only the non-robust *two-step* covariance is compared.
* plm has no scaled Sargan statistic: ``sargan(weights = "onestep")`` is ``N g'(sum Z'HZ)^-1 g``.
  For one-step models we compare the common part, ``N`` times our unscaled quadratic form
  (``meta["sargan_quadratic_form"]``), with it; the statistic itself divides by ``s2``.
* AR tests after two-step estimation: plm (like us) uses the two-step residuals throughout; DPD
  and xtabond2 use a different variance and report other values for the same model, so those
  published numbers are not compared. One-step robust m-statistics do reproduce the published
  DPD / Stata values (see ``test_published_one_step_m_statistics``).
"""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import climetrics as cm
from climetrics.errors import EstimationError, PanelError
from climetrics.estimate.endogeneity.gmm import GMMResult, dynamic_gmm, gmm_table

HERE = Path(__file__).parent
REF = json.loads((HERE / "data" / "reference" / "gmm_emplUK.json").read_text())
SPECS = REF["specs"]
COEF_RTOL = 1e-6
SE_RTOL = 1e-4
STAT_RTOL = 1e-4

DIFF = {"method": "difference", "collapse": False}  # plm's defaults (ours: system, collapsed)
AB = {"treat": {"lwage": [0, 1], "lcapital": 0, "loutput": [0, 1]}, "lags": 2, **DIFF}
A1 = {"treat": {"lwage": [0, 1], "lcapital": [0, 1, 2], "loutput": [0, 1, 2]}, "lags": 2, **DIFF}
BB = {
    "treat": {"lwage": [0, 1], "lcapital": [0, 1]},
    "lags": 1,
    **DIFF,
    "gmm_lags": {"lemp": (2, None), "lwage": (2, None), "lcapital": (2, None)},
}
KWARGS = {
    "a1_d_onestep": dict(A1, steps=1),
    "ab_d_onestep": dict(AB, steps=1),
    "ab_d_twosteps": dict(AB, steps=2),
    "ab_d_twosteps_collapse": dict(AB, steps=2, collapse=True),
    "ab_d_twosteps_individual": dict(AB, steps=2, fe="unit"),
    "ab_d_onestep_lags24": dict(AB, steps=1, gmm_lags=(2, 4)),
    "ab_ld_twosteps": dict(AB, steps=2, method="system"),
    "bb_ld_onestep": dict(BB, steps=1, method="system"),
    "bb_ld_twosteps": dict(BB, steps=2, method="system"),
    "bb_ld_twosteps_collapse": dict(BB, steps=2, method="system", collapse=True),
    "bb_d_twosteps": dict(BB, steps=2),
    "gaps_ld_twosteps": dict(AB, steps=2, method="system"),
}


def _frame(dropped_rows=()) -> pd.DataFrame:
    df = pd.read_csv(HERE / "data" / "emplUK.csv")
    if len(dropped_rows):
        df = df.drop(index=np.asarray(dropped_rows) - 1).reset_index(drop=True)
    for c in ("emp", "wage", "capital", "output"):
        df["l" + c] = np.log(df[c])
    return df


@pytest.fixture(scope="module")
def panel() -> cm.Panel:
    return cm.Panel(_frame(), unit="firm", time="year")


def _plm_name(name: str) -> str:
    """plm's coefficient name -> ours (``lag(log(emp), 1:2)2`` -> ``L2.lemp``, ``1980`` -> ``year_1980``)."""
    if name == "(Intercept)":
        return "_cons"
    if re.fullmatch(r"\d{4}", name):
        return f"year_{name}"
    m = re.fullmatch(r"lag\(log\((\w+)\), ([\d:]+)\)(\d*)", name)
    if m:
        var, spec, suffix = m.groups()
        k = int(suffix) if suffix else int(spec)
        return "l" + var if k == 0 else (f"L.l{var}" if k == 1 else f"L{k}.l{var}")
    m = re.fullmatch(r"log\((\w+)\)", name)
    assert m, name
    return "l" + m.group(1)


_CACHE: dict[str, GMMResult] = {}


def _fit(name: str, panel: cm.Panel) -> GMMResult:
    if name not in _CACHE:
        spec = SPECS[name]
        p = panel if not spec["dropped_rows"] else cm.Panel(_frame(spec["dropped_rows"]), "firm", "year")
        _CACHE[name] = dynamic_gmm(p, "lemp", **KWARGS[name])
    return _CACHE[name]


def test_fixture_covers_every_spec():
    assert set(KWARGS) == set(SPECS)
    assert REF["versions"]["plm"] == "2.6.2"
    assert all(not s["warnings"] for s in SPECS.values())


@pytest.mark.parametrize("name", sorted(KWARGS))
def test_estimates_and_robust_covariance_match_plm(name, panel):
    ref, res = SPECS[name], _fit(name, panel)
    assert res.terms == [_plm_name(n) for n in ref["names"]]
    np.testing.assert_allclose(res.coefs["estimate"], ref["coefficients"], rtol=COEF_RTOL, atol=0)
    np.testing.assert_allclose(res.coefs["std_error"], ref["se_robust"], rtol=SE_RTOL, atol=0)
    np.testing.assert_allclose(res.cov, np.array(ref["vcov_robust"]), rtol=SE_RTOL, atol=1e-12)
    assert res.vcov == ("Windmeijer" if KWARGS[name]["steps"] == 2 else "robust")
    onestep = np.array(list(res.meta["coef_onestep"].values()))
    np.testing.assert_allclose(onestep, ref["coefficients_onestep"], rtol=COEF_RTOL, atol=0)


@pytest.mark.parametrize("name", sorted(KWARGS))
def test_specification_tests_match_plm(name, panel):
    ref, res = SPECS[name], _fit(name, panel)
    st = res.stats
    assert st["n_instruments"] == ref["n_instruments"]
    assert st["n_obs_diff"] + st.get("n_obs_level", 0) == ref["n_obs_used"]
    assert st["hansen_df"] == ref["hansen"]["df"] == st["sargan_df"]
    np.testing.assert_allclose(st["hansen"], ref["hansen"]["statistic"], rtol=STAT_RTOL)
    np.testing.assert_allclose(st["hansen_p"], ref["hansen"]["p_value"], rtol=STAT_RTOL)
    for k in ("ar1", "ar2"):
        np.testing.assert_allclose(st[k], ref[k]["statistic"], rtol=STAT_RTOL)
        np.testing.assert_allclose(st[k + "_p"], ref[k]["p_value"], rtol=STAT_RTOL)
    np.testing.assert_allclose(st["wald"], ref["wald_coef"]["statistic"], rtol=STAT_RTOL)
    assert st["wald_df"] == ref["wald_coef"]["df"]
    if ref["wald_time"] is not None:
        np.testing.assert_allclose(st["wald_time"], ref["wald_time"]["statistic"], rtol=STAT_RTOL)
        assert st["wald_time_df"] == ref["wald_time"]["df"]


@pytest.mark.parametrize("name", [n for n in sorted(KWARGS) if KWARGS[n]["steps"] == 1])
def test_sargan_quadratic_form_matches_plm_onestep_weights(name, panel):
    """plm's sargan(weights="onestep") = N g'(sum Z'HZ)^-1 g; ours divides g'(...)g by s2."""
    ref, res = SPECS[name], _fit(name, panel)
    n_firms = 140
    np.testing.assert_allclose(
        n_firms * res.meta["sargan_quadratic_form"], ref["sargan_onestep_weights"]["statistic"], rtol=STAT_RTOL
    )
    np.testing.assert_allclose(res.stats["sargan"], res.meta["sargan_quadratic_form"] / res.meta["sigma2"])
    assert 0 < res.stats["sargan_p"] < 1


@pytest.mark.parametrize("name", [n for n in sorted(KWARGS) if KWARGS[n]["steps"] == 2])
def test_nonrobust_two_step_covariance_matches_plm(name, panel):
    p = panel
    spec = SPECS[name]
    if spec["dropped_rows"]:
        p = cm.Panel(_frame(spec["dropped_rows"]), "firm", "year")
    res = dynamic_gmm(p, "lemp", cluster=None, **KWARGS[name])
    np.testing.assert_allclose(res.cov, np.array(spec["vcov"]), rtol=SE_RTOL, atol=1e-12)
    assert res.vcov == "iid" and res.cluster is None


def test_published_one_step_m_statistics(panel):
    """One-step robust m1/m2 as published (3 decimals): Arellano & Bond (1991) Table 4 col. (a1)
    -3.600 / -0.516 (DPD output; Stata xtabond manual example 2: -3.5996 / -0.51603), and the
    col. (b) specification one-step, Windmeijer (2005) Table 2: -2.493 / -0.359."""
    a1 = _fit("a1_d_onestep", panel).stats
    assert a1["ar1"] == pytest.approx(-3.5996, abs=5e-5)
    assert a1["ar2"] == pytest.approx(-0.51603, abs=5e-6)
    b = _fit("ab_d_onestep", panel).stats
    assert b["ar1"] == pytest.approx(-2.493, abs=5e-4)
    assert b["ar2"] == pytest.approx(-0.359, abs=5e-4)


def test_row_order_and_extra_columns_do_not_matter(panel):
    df = _frame().sample(frac=1.0, random_state=3)
    df["noise"] = np.arange(len(df))
    res = dynamic_gmm(cm.Panel(df, "firm", "year"), "lemp", **KWARGS["ab_d_twosteps"])
    np.testing.assert_allclose(res.coefs["estimate"], _fit("ab_d_twosteps", panel).coefs["estimate"], rtol=1e-10)


def test_table_hides_time_dummies_and_reports_diagnostics(panel):
    res = _fit("bb_ld_twosteps", panel)
    t = res.table()
    labels = [r[0] for r in t.rows]
    assert "L.lemp" in labels and "_cons" in labels
    assert not any(lab.startswith("year_") for lab in labels)
    for row in ("Instruments", "Groups", "AR(1) p", "AR(2) p", "Hansen p", "Sargan p", "Time effects"):
        assert row in labels
    inst = t.rows[labels.index("Instruments")]
    assert inst[1] == "113"
    assert "Hansen" in t.to_text()
    both = gmm_table([_fit("ab_d_twosteps", panel), res], show_time_effects=True)
    assert any(r[0] == "year_1984" for r in both.rows)
    assert res.to_dict()["stats"]["n_groups"] == 140


def test_collapse_instrument_count(panel):
    """Collapsed: one column per lag (T - 2 = 7 for y) + 6 time dummies + 5 exogenous."""
    res = _fit("ab_d_twosteps_collapse", panel)
    assert res.stats["n_instruments"] == 7 + 6 + 5
    assert len(res.meta["instruments"]) == res.stats["n_instruments"]


# ------------------------------------------------------------------ degenerate cases
def test_too_few_periods_raises(panel):
    df = _frame()
    short = df[df["year"] <= 1978]
    with pytest.raises(EstimationError, match="too few periods"):
        dynamic_gmm(cm.Panel(short, "firm", "year"), "lemp", lags=2)


def test_instrument_proliferation_is_noted(panel):
    df = _frame()
    few = df[df["firm"] <= 40]
    res = dynamic_gmm(cm.Panel(few, "firm", "year"), "lemp", **KWARGS["bb_ld_twosteps"])
    assert res.stats["n_instruments"] > res.stats["n_groups"] == 40
    assert any("proliferation" in n for n in res.notes)
    collapsed = dynamic_gmm(cm.Panel(few, "firm", "year"), "lemp", **KWARGS["bb_ld_twosteps_collapse"])
    assert not any("proliferation" in n for n in collapsed.notes)


def test_singular_weight_matrix_raises():
    df = _frame()
    df["lwage_copy"] = df["lwage"]
    with pytest.raises(EstimationError, match="singular"):
        dynamic_gmm(cm.Panel(df, "firm", "year"), "lemp", iv="lwage_copy", **KWARGS["ab_d_onestep"])


def test_underidentified_raises(panel):
    with pytest.raises(EstimationError, match="under-identified"):
        dynamic_gmm(
            panel, "lemp", treat={"lwage": [0, 1, 2]}, lags=1, fe="unit", method="difference",
            gmm_lags={"lemp": (2, 2), "lwage": (2, 2)},
        )


def test_bad_arguments(panel):
    with pytest.raises(ValueError, match="method"):
        dynamic_gmm(panel, "lemp", method="levels")
    with pytest.raises(ValueError, match="steps"):
        dynamic_gmm(panel, "lemp", steps=3)
    with pytest.raises(ValueError, match="lag 2"):
        dynamic_gmm(panel, "lemp", gmm_lags=(1, None))
    with pytest.raises(PanelError, match="not regressors"):
        dynamic_gmm(panel, "lemp", gmm_lags={"lwage": (2, None)})
    with pytest.raises(PanelError):
        dynamic_gmm(panel, "lemp", treat="no_such_column")
    with pytest.raises(EstimationError, match="time-invariant"):
        dynamic_gmm(panel.assign(const=1.0), "lemp", treat="const", **DIFF)


def test_lags_are_calendar_based(panel):
    """Biennial data lag by one step of two years; unevenly spaced periods are not bridged."""
    df = _frame()
    df["year"] = 1976 + 2 * (df["year"] - 1976)
    res = dynamic_gmm(cm.Panel(df, "firm", "year"), "lemp", **KWARGS["ab_d_twosteps"])
    np.testing.assert_allclose(res.coefs["estimate"], _fit("ab_d_twosteps", panel).coefs["estimate"], rtol=1e-10)
    assert "year_1982" in res.terms and any("2 time units" in n for n in res.notes)
    gap = _frame()
    gap = gap[gap["year"] != 1980]
    res = dynamic_gmm(cm.Panel(gap, "firm", "year"), "lemp", **KWARGS["ab_d_twosteps"])
    assert any("absent from the whole panel: 1980" in n for n in res.notes)
    seed_like = _frame()
    seed_like = seed_like[seed_like["year"].isin([1977, 1980, 1982, 1983])]
    with pytest.raises(EstimationError, match="renumber"):
        dynamic_gmm(cm.Panel(seed_like, "firm", "year"), "lemp", **DIFF)

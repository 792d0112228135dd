"""Panel threshold regression (Hansen 1999): published estimate, brute-force OLS, bootstrap,
readings on simulated panels with and without a threshold."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from climetrics.core.results import TIDY_COLUMNS
from climetrics.errors import ConfigError, PanelError
from climetrics.estimate.selection.threshold import lr_critical_value, threshold_regression
from climetrics.panel import Panel

DATA = Path(__file__).parent / "data"
HANSEN_CONTROLS = ["q1", "q2", "q3", "d1", "qd1"]


@pytest.fixture(scope="module")
def hansen() -> Panel:
    """Hansen's (1999) investment panel: 565 US firms, 1974-1987 (lags of 1973-1986)."""
    d = pd.read_csv(DATA / "hansen1999.csv")
    d["q2"], d["q3"], d["qd1"] = d.q1**2, d.q1**3, d.q1 * d.d1
    return Panel(d, "id", "year")


def _simulated(beta_low: float, beta_high: float, *, n_units: int = 80, n_t: int = 8, gamma: float = 0.4,
               seed: int = 7, twoway: bool = False) -> Panel:
    """y = mu_i [+ lambda_t] + beta_low x 1(q <= gamma) + beta_high x 1(q > gamma) + 0.5 w + e."""
    rng = np.random.default_rng(seed)
    n = n_units * n_t
    unit, year = np.repeat(np.arange(n_units), n_t), np.tile(np.arange(2000, 2000 + n_t), n_units)
    mu = rng.normal(size=n_units)[unit]
    x, w, q = rng.normal(size=n) + 0.3 * mu, rng.normal(size=n), rng.uniform(size=n)
    y = mu + np.where(q <= gamma, beta_low, beta_high) * x + 0.5 * w + rng.normal(scale=0.5, size=n)
    if twoway:
        y = y + 0.3 * (year - 2000)
    return Panel(pd.DataFrame({"unit": unit, "year": year, "y": y, "x": x, "w": w, "q": q}), "unit", "year")


def _dummy_ols_ssr(df: pd.DataFrame, y: str, regressors: np.ndarray, fe: list[str]) -> float:
    """SSR of OLS with explicit fixed-effect dummies (statsmodels), the independent reference."""
    import statsmodels.api as sm

    dummies = [pd.get_dummies(df[f], prefix=f, drop_first=i > 0, dtype=float) for i, f in enumerate(fe)]
    design = np.column_stack([regressors, *[d.to_numpy() for d in dummies]])
    return float(sm.OLS(df[y].to_numpy(float), design).fit().ssr)


def _split(x: np.ndarray, q: np.ndarray, gammas) -> np.ndarray:
    """One column ``x 1(regime)`` per regime of the sorted ``gammas`` (``x`` one-dimensional)."""
    edges = [-np.inf, *sorted(gammas), np.inf]
    return np.column_stack([x * ((q > lo) & (q <= hi)) for lo, hi in zip(edges[:-1], edges[1:], strict=True)])


# ----------------------------------------------------------------------- Hansen's application
def test_hansen_single_threshold_matches_published_estimate(hansen):
    """Hansen (1999, sec. 5): debt-ratio threshold of the cash-flow slope, gamma_hat = 0.0157,
    searching every distinct value of d_{t-1} (1% trimming). Exact: the grid holds 0.0157."""
    r = threshold_regression(hansen, "i", "c1", HANSEN_CONTROLS, threshold_var="d1", n_draws=0)
    assert r.gamma == [pytest.approx(0.0157, abs=1e-12)]
    lo, hi = r.thresholds.loc[0, ["ci_low", "ci_high"]]
    assert lo <= 0.0157 <= hi
    assert r.result.n_obs == 7910 and r.result.n_clusters == 565


@pytest.mark.slow
def test_hansen_ssr_equals_dummy_variable_ols(hansen):
    """S(gamma) of the grid search equals the SSR of OLS with 565 firm dummies (statsmodels), for
    the linear model, the single-threshold estimate, the double-threshold fit and another point
    of the refined LR curve; to 1e-9 relative."""
    df = hansen.df
    W = df[HANSEN_CONTROLS].to_numpy(float)
    x, q = df["c1"].to_numpy(float), df["d1"].to_numpy(float)
    r = threshold_regression(hansen, "i", "c1", HANSEN_CONTROLS, threshold_var="d1", n_thresholds=2, n_draws=0)
    assert r.ssr["0"] == pytest.approx(_dummy_ols_ssr(df, "i", np.column_stack([W, x]), ["id"]), rel=1e-9)
    assert r.ssr["1"] == pytest.approx(_dummy_ols_ssr(df, "i", np.column_stack([W, _split(x, q, [0.0157])]), ["id"]),
                                       rel=1e-9)
    g1, g2 = r.gamma
    ref2 = _dummy_ols_ssr(df, "i", np.column_stack([W, _split(x, q, [g1, g2])]), ["id"])
    curve = r.lr[r.lr["threshold"] == "gamma1"].set_index("gamma")["ssr"]
    assert curve.loc[g1] == pytest.approx(ref2, rel=1e-9)  # LR_1^r curve at its minimum
    for other in (0.3,):
        g = curve.index[np.argmin(np.abs(curve.index - other))]
        assert curve.loc[g] == pytest.approx(
            _dummy_ols_ssr(df, "i", np.column_stack([W, _split(x, q, [g, g2])]), ["id"]), rel=1e-9)
    # the tests' F statistics are Hansen's (S_{j-1} - S_j) / (S_j / (n (T - 1)))
    assert r.tests[0].statistic == pytest.approx((r.ssr["0"] - r.ssr["1"]) / (r.ssr["1"] / (565 * 13)), rel=1e-12)


# ----------------------------------------------------------------------- brute force, simulated
@pytest.mark.parametrize("fe", ["unit", "twoway"])
def test_sequential_search_matches_brute_force_ols(fe):
    """Stage 1, stage 2, the refinement and stage 3 against explicit dummy-variable OLS at every
    candidate (statsmodels), on a simulated panel with a 20-point grid; SSRs to 1e-9."""
    p = _simulated(1.0, 2.0, n_units=30, n_t=6, twoway=fe == "twoway")
    df = p.df
    x, q, W = df["x"].to_numpy(), df["q"].to_numpy(), df[["w"]].to_numpy()
    grid = np.sort(q)[np.linspace(10, len(q) - 10, 20).astype(int)]  # 20 observed values
    trim = 0.05
    r = threshold_regression(p, "y", "x", "w", threshold_var="q", n_thresholds=3, fe=fe, trim=trim, grid=grid,
                             n_draws=0)
    fes = ["unit"] + (["year"] if fe == "twoway" else [])
    need = math.ceil(trim * len(df))

    def ssr(gs):
        return _dummy_ols_ssr(df, "y", np.column_stack([W, _split(x, q, gs)]), fes)

    def admissible(gs):
        sizes = np.diff([0, *[(q <= g).sum() for g in sorted(gs)], len(q)])
        return len(set(gs)) == len(gs) and (sizes >= need).all()

    def best(fixed):
        cands = {g: ssr([*fixed, g]) for g in grid if admissible([*fixed, g])}
        g = min(cands, key=cands.get)
        return g, cands[g]

    g1, s1 = best([])
    g2, s2 = best([g1])
    g1r, s2r = best([g2])
    g3, s3 = best([g1r, g2])
    assert r.sequential[1] == [g1]
    assert r.ssr["1"] == pytest.approx(s1, rel=1e-9)
    assert r.ssr["2"] == pytest.approx(s2, rel=1e-9)
    assert r.ssr["3"] == pytest.approx(s3, rel=1e-9)
    assert r.gamma == sorted([g1r, g2, g3])
    df_resid = len(df) - 30 - (5 if fe == "twoway" else 0)  # n (T - 1) [- (T - 1)]
    assert r.tests[1].statistic == pytest.approx((s1 - s2) / (s2 / df_resid), rel=1e-9)
    assert r.tests[2].statistic == pytest.approx((s2r - s3) / (s3 / df_resid), rel=1e-9)


def test_two_regime_dependent_regressors_match_brute_force():
    """k = 2 regime-dependent regressors: stage 1 and stage 2 against dummy-variable OLS."""
    p = _simulated(1.0, 2.0, n_units=25, n_t=6, seed=3)
    rng = np.random.default_rng(0)
    p = p.assign(x2=rng.normal(size=len(p)))
    df = p.df
    q, W = df["q"].to_numpy(), df[["w"]].to_numpy()
    grid = np.sort(q)[np.linspace(10, len(q) - 10, 15).astype(int)]
    r = threshold_regression(p, "y", ["x", "x2"], "w", threshold_var="q", n_thresholds=2, trim=0.05, grid=grid,
                             n_draws=0)

    def ssr(gs):
        split = [_split(df[c].to_numpy(), q, gs) for c in ("x", "x2")]
        return _dummy_ols_ssr(df, "y", np.column_stack([W, *split]), ["unit"])

    need = math.ceil(0.05 * len(df))

    def admissible(gs):
        sizes = np.diff([0, *[(q <= g).sum() for g in sorted(gs)], len(q)])
        return len(set(gs)) == len(gs) and (sizes >= need).all()

    s1 = {g: ssr([g]) for g in grid if admissible([g])}
    g1 = min(s1, key=s1.get)
    s2 = {g: ssr([g1, g]) for g in grid if admissible([g1, g])}
    g2 = min(s2, key=s2.get)
    assert r.sequential[1] == [g1] and r.ssr["1"] == pytest.approx(s1[g1], rel=1e-9)
    assert g2 in r.gamma and r.ssr["2"] == pytest.approx(s2[g2], rel=1e-9)
    assert len(r.result.meta["treat"]) == 6  # 2 regressors x 3 regimes


def test_known_threshold_is_found_and_read():
    """Simulated slope 1 below q = 0.4 and 2 above: the estimate is near 0.4, inside its LR set,
    the bootstrap rejects linearity, and the reading says a threshold is found."""
    p = _simulated(1.0, 2.0)
    r = threshold_regression(p, "y", "x", "w", threshold_var="q", n_draws=199, seed=3)
    (g,) = r.gamma
    assert abs(g - 0.4) < 0.02
    lo, hi = r.thresholds.loc[0, ["ci_low", "ci_high"]]
    # the LR set is a set of observed q values: it covers 0.4 up to the spacing of the grid
    # (640 uniform draws: about 0.002 apart)
    assert lo - 0.005 <= 0.4 <= hi + 0.005 and hi - lo < 0.1
    assert r.tests[0].p_value < 0.01 and r.n_significant == 1
    b = r.result.tidy().set_index("term")["estimate"]
    assert b.iloc[0] == pytest.approx(1.0, abs=0.15) and b.iloc[1] == pytest.approx(2.0, abs=0.15)
    text = r.reading()
    assert "support 1 threshold in q" in text and "No evidence" not in text
    assert f"q = {g:.4g}" in text


def test_no_threshold_reads_as_no_evidence():
    """Same slope in both regimes: the bootstrap does not reject and the reading says so."""
    p = _simulated(1.5, 1.5)
    r = threshold_regression(p, "y", "x", "w", threshold_var="q", n_thresholds=2, n_draws=199, seed=3)
    assert r.tests[0].p_value > 0.1
    assert r.n_significant == 0
    assert r.reading().startswith("No evidence of a threshold effect")


# ----------------------------------------------------------------------- bootstrap mechanics
def test_bootstrap_draw_is_the_statistic_of_its_resampled_panel():
    """Draw j of F_1* equals F_1 recomputed on the panel rebuilt from replicate_rng(seed, j):
    linear-model fitted values plus the residual vectors of the drawn units."""
    from climetrics.core.demean import demean
    from climetrics.core.replicate import replicate_rng

    p = _simulated(1.0, 1.0, n_units=25, n_t=5)
    r = threshold_regression(p, "y", "x", "w", threshold_var="q", n_draws=6, seed=11)
    df = p.df
    codes = [df["unit"].to_numpy()]
    yw = demean(df["y"].to_numpy(float), codes)
    Xw = demean(df[["w", "x"]].to_numpy(float), codes)
    beta = np.linalg.lstsq(Xw, yw, rcond=None)[0]
    fit, res = Xw @ beta, (yw - Xw @ beta).reshape(25, 5)
    for j in (0, 5):
        units = replicate_rng(11, j).integers(0, 25, size=(3, 25))[0]
        star = p.assign(y=fit + res[units].ravel())
        again = threshold_regression(star, "y", "x", "w", threshold_var="q", n_draws=0)
        assert r.draws[j, 0] == pytest.approx(again.tests[0].statistic, rel=1e-9)


def test_bootstrap_does_not_depend_on_chunking():
    p = _simulated(1.0, 1.3, n_units=30, n_t=5)
    kw = dict(threshold_var="q", n_thresholds=2, n_draws=20, seed=5)
    a = threshold_regression(p, "y", "x", "w", **kw)
    from climetrics.core.replicate import Backend

    b = threshold_regression(p, "y", "x", "w", backend=Backend("serial", chunk_size=3), **kw)
    np.testing.assert_allclose(a.draws, b.draws, rtol=1e-10)  # batch products round differently
    assert [t.p_value for t in a.tests] == [t.p_value for t in b.tests]


# ----------------------------------------------------------------------- protocol and errors
def test_result_protocol_and_lr_critical_value():
    assert lr_critical_value(0.05) == pytest.approx(-2 * math.log(1 - math.sqrt(0.95)))
    assert lr_critical_value(0.05) == pytest.approx(7.352, abs=1e-3)  # Hansen (1999), p. 353
    r = threshold_regression(_simulated(1.0, 2.0, n_units=30, n_t=5), "y", "x", "w", threshold_var="q", n_draws=19)
    tidy = r.tidy()
    assert list(tidy.columns[:7]) == TIDY_COLUMNS
    assert (tidy["kind"] == "threshold").sum() == 1
    json.dumps(r.summary())
    md = r.to_markdown()
    assert "95% LR set (gamma1)" in md and "clustered by unit" in md
    assert "Crit. 5%" in r.test_table().to_markdown()
    fig = r.plot()
    assert len(fig.axes) == 1
    assert r.tests[0].distribution == "bootstrap"
    untested = threshold_regression(_simulated(1.0, 2.0, n_units=30, n_t=5), "y", "x", "w", threshold_var="q",
                                    n_draws=0)
    assert "was not tested" in untested.reading() and math.isnan(untested.tests[0].p_value)


def test_bad_input_is_reported():
    p = _simulated(1.0, 2.0, n_units=10, n_t=4)
    with pytest.raises(ConfigError, match="n_thresholds"):
        threshold_regression(p, "y", "x", threshold_var="q", n_thresholds=4, n_draws=0)
    with pytest.raises(ConfigError, match="trim"):
        threshold_regression(p, "y", "x", threshold_var="q", trim=[0.1], n_thresholds=2, n_draws=0)
    gap = Panel(p.df.drop(index=3), "unit", "year")
    with pytest.raises(PanelError, match=r"unit 0 has no row for year 2003"):
        threshold_regression(gap, "y", "x", threshold_var="q", n_draws=0)
    holes = p.df.copy()
    holes.loc[5, "q"] = np.nan
    with pytest.raises(PanelError, match=r"'q' is missing for unit 1 in 2001"):
        threshold_regression(Panel(holes, "unit", "year"), "y", "x", threshold_var="q", n_draws=0)
    with pytest.raises(PanelError, match="outcome 'y'"):
        threshold_regression(p, "y", "x", threshold_var="y", n_draws=0)


# ----------------------------------------------------------------------- study section
def _section(panel: Panel, threshold: dict) -> object:
    from climetrics.study.config import parse_config
    from climetrics.study.sections import SECTIONS, Context, threshold_section

    raw = {"data": {"path": "panel.csv", "unit": "unit", "time": "year"},
           "variables": {"outcome": "y", "treatment": "x", "controls": ["w"]}, "threshold": threshold}
    cfg = parse_config(raw).values
    spec = next(s for s in SECTIONS if s.key == "threshold")
    return spec.enabled(cfg), threshold_section(Context(panel=panel, config=cfg))


def test_study_section_reads_a_known_threshold():
    """[threshold] with threshold_var: thresholds table, test table, LR figure, reading."""
    enabled, out = _section(_simulated(1.0, 2.0), {"threshold_var": "q", "n_draws": 99})
    assert enabled
    assert set(out.tables) == {"threshold", "threshold_tests"} and set(out.figures) == {"threshold_lr"}
    assert "support 1 threshold in q" in out.section.reading
    assert abs(out.summary["gamma1"] - 0.4) < 0.02 and out.summary["F1_p"] < 0.05
    assert "x [q <= " in out.tables["threshold"].to_markdown()
    assert out.results[0].cluster == "unit"


def test_study_section_reads_no_threshold_and_is_off_without_variable():
    enabled, out = _section(_simulated(1.5, 1.5), {"threshold_var": "q", "n_draws": 99, "n_thresholds": 2})
    assert out.section.reading.startswith("No evidence of a threshold effect")
    from climetrics.study.config import parse_config
    from climetrics.study.sections import SECTIONS

    data = {"path": "panel.csv", "unit": "unit", "time": "year"}
    cfg = parse_config({"data": data, "variables": {"outcome": "y", "treatment": "x"}}).values
    assert not next(s for s in SECTIONS if s.key == "threshold").enabled(cfg)
    with pytest.raises(ConfigError, match="threshold.n_thresholds"):
        parse_config({"data": data, "variables": {"outcome": "y", "treatment": "x"}, "threshold": {"n_thresholds": 4}})

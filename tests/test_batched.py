"""Batched placebo TWFE kernel: agreement with one pyfixest fit per draw, and edge cases."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

from climetrics.core.batched import batched_twfe, batched_twfe_full
from climetrics.core.covariance import SmallSampleCorrection
from climetrics.core.demean import FixedEffects, demean, find_singletons
from climetrics.errors import EstimationError

RTOL = 1e-8
# pyfixest's default MAP tolerance (1e-6) limits its own accuracy on unbalanced panels, so the
# reference fits demean to near machine precision.
REFERENCE_DEMEANER = pf.MapDemeaner(fixef_tol=1e-13)


def make_panel(
    n_units: int = 120,
    n_years: int = 12,
    k: int = 3,
    n_draws: int = 25,
    drop_share: float = 0.0,
    seed: int = 0,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Simulated panel and ``n_draws`` staggered pseudo-treatment columns."""
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units), n_years)
    year = np.tile(np.arange(2005, 2005 + n_years), n_units)
    X = rng.normal(size=(unit.size, k))
    y = (
        X @ rng.normal(size=k)
        + rng.normal(size=n_units)[unit]
        + rng.normal(size=n_years)[year - 2005]
        + rng.normal(size=unit.size) * (1 + 0.5 * (unit % 3))
    )
    start = rng.integers(2008, 2005 + n_years + 3, size=(n_units, n_draws))
    D = (year[:, None] >= start[unit]).astype(float)
    df = pd.DataFrame(X, columns=[f"x{j + 1}" for j in range(k)])
    df["y"], df["unit"], df["year"] = y, unit, year
    df["province"] = unit // 8
    df["group"] = rng.integers(0, 30, size=unit.size)
    if drop_share:
        keep = rng.random(unit.size) >= drop_share
        df, D = df[keep].reset_index(drop=True), D[keep]
    return df, D


def controls(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c.startswith("x")]


def pyfixest_loop(df, D, cluster="unit", columns=("coef",), **kwargs) -> dict[str, np.ndarray]:
    """Reference: one pyfixest fit per draw; returns arrays of coefficient, SE and p-value."""
    rhs = " + ".join(["d", *controls(df)])
    out = {"coef": [], "se": [], "pvalue": []}
    data = df.copy()
    for r in range(D.shape[1]):
        data["d"] = D[:, r]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = pf.feols(
                f"y ~ {rhs} | unit + year",
                data=data,
                vcov={"CRV1": cluster},
                demeaner=REFERENCE_DEMEANER,
                **kwargs,
            )
        out["coef"].append(fit.coef().to_numpy())
        out["se"].append(fit.se().to_numpy())
        out["pvalue"].append(fit.pvalue().to_numpy())
    return {key: np.array(val) for key, val in out.items()}


def run_batched(df, D, cluster="unit", full=False, **kwargs):
    fn = batched_twfe_full if full else batched_twfe
    X = df[controls(df)].to_numpy()
    fe = [pd.factorize(df["unit"])[0], pd.factorize(df["year"])[0]]
    return fn(df["y"].to_numpy(), D, X, fe, pd.factorize(df[cluster])[0], **kwargs)


def assert_matches(fit, ref, full=False):
    for key in ("coef", "se", "pvalue"):
        expected = ref[key] if full else ref[key][:, 0]
        # pyfixest computes p = 2 * (1 - cdf(|t|)), exact only to ~1e-16 in absolute terms
        atol = 1e-15 if key == "pvalue" else 0.0
        np.testing.assert_allclose(getattr(fit, key), expected, rtol=RTOL, atol=atol, err_msg=key)


def test_balanced_matches_pyfixest():
    df, D = make_panel()
    fit = run_batched(df, D)
    assert_matches(fit, pyfixest_loop(df, D))
    assert fit.n_obs == len(df) and fit.n_clusters == 120 and fit.df_t == 119
    assert fit.df_k == 1 + 3 + 12  # d, 3 controls, time FE; unit FE nested in the cluster


def test_unbalanced_matches_pyfixest():
    df, D = make_panel(drop_share=0.1, seed=1)
    assert not FixedEffects([df["unit"].to_numpy(), df["year"].to_numpy()]).balanced
    assert_matches(run_batched(df, D), pyfixest_loop(df, D))


@pytest.mark.parametrize("as_empty_matrix", [False, True])
def test_no_controls(as_empty_matrix):
    df, D = make_panel(k=0, drop_share=0.1, seed=2)
    X = np.empty((len(df), 0)) if as_empty_matrix else None
    fe = [df["unit"].to_numpy(), df["year"].to_numpy()]
    fit = batched_twfe(df["y"].to_numpy(), D, X, fe, df["unit"].to_numpy())
    assert_matches(fit, pyfixest_loop(df, D))


@pytest.mark.parametrize("cluster", ["province", "year", "group"])
@pytest.mark.parametrize("drop_share", [0.0, 0.1])
def test_other_cluster_variables(cluster, drop_share):
    # province nests the unit FE, year nests the year FE, group (random) nests neither
    df, D = make_panel(n_draws=10, drop_share=drop_share, seed=3)
    assert_matches(run_batched(df, D, cluster=cluster), pyfixest_loop(df, D, cluster=cluster))


def test_full_coefficients_match_pyfixest_and_fwl():
    df, D = make_panel(n_draws=10, drop_share=0.1, seed=4)
    full = run_batched(df, D, full=True, chunk_size=3)
    assert_matches(full, pyfixest_loop(df, D), full=True)
    # FWL: the single-coefficient sandwich equals the (d, d) element of the full sandwich
    short = run_batched(df, D)
    np.testing.assert_allclose(full.coef[:, 0], short.coef, rtol=1e-12)
    np.testing.assert_allclose(full.se[:, 0], short.se, rtol=1e-10)


def test_chunking_does_not_change_results():
    df, D = make_panel(n_draws=7, drop_share=0.1, seed=5)
    whole, pieces = run_batched(df, D), run_batched(df, D, chunk_size=2)
    np.testing.assert_allclose(pieces.se, whole.se, rtol=1e-12)
    np.testing.assert_allclose(pieces.coef, whole.coef, rtol=1e-12)


def test_balanced_within_equals_closed_form():
    df, D = make_panel(n_draws=4)
    M = np.column_stack([df[["y", *controls(df)]].to_numpy(), D])
    fes = FixedEffects([df["unit"].to_numpy(), df["year"].to_numpy()])
    assert fes.balanced
    frame = pd.DataFrame(M)
    closed = (
        M
        - frame.groupby(df["unit"]).transform("mean").to_numpy()
        - frame.groupby(df["year"]).transform("mean").to_numpy()
        + M.mean(axis=0)
    )
    np.testing.assert_allclose(fes.demean(M), closed, rtol=0, atol=1e-12)
    # a constant third FE adds nothing but forces the alternating projections
    constant = np.zeros(len(df), dtype=int)
    by_projection = demean(M, [df["unit"].to_numpy(), df["year"].to_numpy(), constant])
    np.testing.assert_allclose(by_projection, closed, rtol=0, atol=1e-10)


def test_alternating_projections_equal_dummy_regression():
    df, D = make_panel(n_units=40, n_years=8, n_draws=3, drop_share=0.2, seed=11)
    unit, year = df["unit"].to_numpy(), df["year"].to_numpy()
    fes = FixedEffects([unit, year])
    assert not fes.balanced
    M = np.column_stack([df["y"].to_numpy(), D])
    dummies = pd.get_dummies(pd.DataFrame({"u": unit, "t": year}).astype(str), dtype=float)
    exact = M - dummies.to_numpy() @ np.linalg.lstsq(dummies.to_numpy(), M, rcond=None)[0]
    np.testing.assert_allclose(fes.demean(M), exact, rtol=0, atol=1e-10)


def test_find_singletons_iterates():
    # a chain that unravels once its end is dropped, plus a 2 x 2 block that survives
    unit = np.array([0, 1, 1, 2, 2, 5, 5, 6, 6])
    year = np.array([0, 0, 1, 1, 2, 5, 6, 5, 6])
    assert find_singletons([unit, year]).tolist() == [True] * 5 + [False] * 4
    assert find_singletons([unit]).tolist() == [True] + [False] * 8


def test_draw_without_within_variation_is_nan_and_reported():
    df, D = make_panel(n_draws=5, drop_share=0.1, seed=6)
    D[:, 1] = (df["unit"].to_numpy() % 2).astype(float)  # time-invariant: absorbed by unit FE
    D[:, 3] = 1.0
    with pytest.warns(UserWarning, match="2 of 5 treatment draws"):
        fit = run_batched(df, D)
    assert fit.n_degenerate == 2
    assert fit.degenerate.tolist() == [False, True, False, True, False]
    assert np.isnan(fit.coef[[1, 3]]).all() and np.isnan(fit.se[[1, 3]]).all()
    ok = [0, 2, 4]
    valid = dataclasses.replace(fit, coef=fit.coef[ok], se=fit.se[ok], pvalue=fit.pvalue[ok])
    assert_matches(valid, pyfixest_loop(df, D[:, ok]))


def test_non_convergence_raises(monkeypatch):
    """The alternating projections (used when the FE other than the largest have many levels)
    report non-convergence; the limit is lowered so this small panel takes that path."""
    import climetrics.core.demean as dm

    monkeypatch.setattr(dm, "CONCENTRATED_MAX_LEVELS", 0)
    df, D = make_panel(n_draws=2, drop_share=0.1, seed=7)
    fe = [df["unit"].to_numpy(), df["year"].to_numpy()]
    with pytest.raises(EstimationError, match="did not converge in 1 iterations"):
        demean(df["y"].to_numpy(), fe, maxiter=1)
    with pytest.raises(EstimationError, match="did not converge"):
        run_batched(df, D, maxiter=1)


def test_singletons_detected_and_handled_like_pyfixest():
    df, D = make_panel(n_draws=5, drop_share=0.1, seed=8)
    lonely = df.groupby("unit").head(1).index[:3]  # three units observed only once
    df = df[~df["unit"].isin(df.loc[lonely, "unit"]) | df.index.isin(lonely)]
    D = D[df.index]
    df = df.reset_index(drop=True)
    flags = find_singletons([df["unit"].to_numpy(), df["year"].to_numpy()])
    assert flags.sum() == 3
    with pytest.warns(UserWarning, match="3 singleton observations dropped"):
        dropped = run_batched(df, D)
    assert dropped.n_singletons == 3 and dropped.n_obs == len(df) - 3
    assert_matches(dropped, pyfixest_loop(df, D))
    with pytest.warns(UserWarning, match="3 singleton observations kept"):
        kept = run_batched(df, D, drop_singletons=False)
    assert_matches(kept, pyfixest_loop(df, D, fixef_rm="none"))


def test_missing_rows_dropped_for_all_draws():
    df, D = make_panel(n_draws=5, drop_share=0.1, seed=9)
    df.loc[[3, 50, 400], "y"] = np.nan
    df.loc[[7, 90], "x2"] = np.nan
    D[[11, 12], :] = np.nan
    fit = run_batched(df, D)
    assert fit.n_missing == 7 and fit.n_obs == len(df) - 7
    assert_matches(fit, pyfixest_loop(df, D))


def test_draw_specific_missing_rows_rejected():
    df, D = make_panel(n_draws=3)
    D[5, 1] = np.nan
    with pytest.raises(EstimationError, match="missing in some treatment draws"):
        run_batched(df, D)


def test_small_sample_correction_variants():
    df, D = make_panel(n_draws=4, drop_share=0.1, seed=10)
    for k_fixef in ("none", "full"):
        ssc = SmallSampleCorrection(k_fixef=k_fixef)
        fit = run_batched(df, D, cluster="province", ssc=ssc)
        assert_matches(fit, pyfixest_loop(df, D, cluster="province", ssc=pf.ssc(k_fixef=k_fixef)))


def test_collinear_control_rejected():
    df, D = make_panel(n_draws=2)
    df["x3"] = df["unit"] * 0.5  # absorbed by the unit FE
    with pytest.raises(EstimationError, match=r"control column\(s\) \[2\]"):
        run_batched(df, D)


def _dummy_projection(X, fe, w=None):
    """Reference: residuals of a (weighted) least-squares fit on explicit FE dummies."""
    n = X.shape[0]
    w = np.ones(n) if w is None else w
    D = np.hstack([pd.get_dummies(pd.Series(f)).to_numpy(float) for f in fe])
    sw = np.sqrt(w)[:, None]
    coef = np.linalg.lstsq(D * sw, X * sw, rcond=None)[0]
    return X - D @ coef


@pytest.mark.parametrize("n_fe", [2, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_concentrated_and_sweeps_equal_dummy_regression(monkeypatch, n_fe, weighted):
    """The exact concentrated projection, the alternating projections and a dummy-variable
    (weighted) least-squares fit give the same residuals to 1e-10 on an unbalanced panel."""
    import climetrics.core.demean as dm

    rng = np.random.default_rng(11)
    n = 600
    fe = [rng.integers(0, 60, n), rng.integers(0, 8, n), rng.integers(0, 5, n)][:n_fe]
    X = rng.normal(size=(n, 3))
    w = rng.uniform(0.2, 3.0, n) if weighted else None
    ref = _dummy_projection(X, fe, w)
    exact = dm.FixedEffects(fe, w)
    assert np.abs(exact.demean(X) - ref).max() < 1e-10
    assert exact._concentrated is not None
    monkeypatch.setattr(dm, "CONCENTRATED_MAX_LEVELS", 0)
    assert np.abs(dm.FixedEffects(fe, w).demean(X) - ref).max() < 1e-10


def test_weighted_balanced_panel_skips_the_unweighted_closed_form():
    rng = np.random.default_rng(3)
    unit, year = np.repeat(np.arange(20), 6), np.tile(np.arange(6), 20)
    X, w = rng.normal(size=(120, 2)), rng.uniform(0.5, 2, 120)
    fx = FixedEffects([unit, year], w)
    assert not fx.balanced
    assert np.abs(fx.demean(X) - _dummy_projection(X, [unit, year], w)).max() < 1e-10


def test_nested_fixed_effects_are_solved_exactly_in_one_pass(monkeypatch):
    """Year nested in industry-year makes the concentrated system rank deficient beyond one
    level per FE; the pivoted Cholesky solve still gives the projection, which then passes the
    convergence check in a single sweep."""
    import climetrics.core.demean as dm

    rng = np.random.default_rng(5)
    n = 800
    unit, year, ind = rng.integers(0, 90, n), rng.integers(0, 6, n), rng.integers(0, 4, n)
    fe = [unit, year, ind * 10 + year]
    X = rng.normal(size=(n, 2))
    ref = _dummy_projection(X, fe)
    sweeps = []
    real = dm._alternating_projections

    def counting(M, factors, **kw):
        out = real(M, factors, **kw, maxiter=1)  # raises unless one sweep converges
        sweeps.append(1)
        return out

    monkeypatch.setattr(dm, "_alternating_projections", lambda M, f, *, tol, maxiter, start=None: counting(M, f, tol=tol, start=start))
    assert np.abs(dm.FixedEffects(fe).demean(X) - ref).max() < 1e-10
    assert sweeps == [1]

"""Event study against an independent dummy-variable regression, pre-trend Wald test, errors."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

import climetrics as cm
from climetrics.errors import EstimationError, PanelError
from climetrics.estimate.baseline.event_study import adoption_year, event_study

TOL = 1e-8


@pytest.fixture(scope="module")
def sim():
    s = cm.simulate(seed=3)
    df = s.panel.df
    keep = df["city"].isin(sorted(df["city"].unique())[::4])  # 75 cities: fast, still staggered
    return s.panel.subset(keep.to_numpy())


def _statsmodels_event(df, lo, hi, ref):
    d = df.copy()
    k = (d["year"] - d["adoption_year"]).clip(lo, hi)
    names = []
    for p in range(lo, hi + 1):
        if p == ref:
            continue
        n = f"e{p - lo}"
        d[n] = ((k == p) & d["adoption_year"].notna()).astype(float)
        names.append(n)
    fml = "lnci ~ " + " + ".join(names) + " + lnpgdp + gov + C(city) + C(year)"
    fit = smf.ols(fml, d).fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(d["city"])[0]})
    return fit, names


def test_matches_dummy_variable_ols(sim):
    lo, hi = -5, 4
    es = event_study(sim, "lnci", treat="did", controls=["lnpgdp", "gov"], window=(lo, hi), ssc="full")
    ref, names = _statsmodels_event(sim.df, lo, hi, -1)
    got = es.coefs[es.coefs["k"] != -1]
    np.testing.assert_allclose(got["estimate"], ref.params[names], rtol=TOL)
    np.testing.assert_allclose(got["std_error"], ref.bse[names], rtol=TOL)
    # joint pre-trend test: same F from the same clustered covariance
    leads = [n for n, p in zip(names, [p for p in range(lo, hi + 1) if p != -1], strict=True) if p < 0]
    b = ref.params[leads].to_numpy()
    v = ref.cov_params().loc[leads, leads].to_numpy()
    f = b @ np.linalg.solve(v, b) / len(leads)
    assert es.pretrend.statistic == pytest.approx(f, rel=1e-8)
    assert es.pretrend.df == 4 and es.pretrend.df_denom == sim.df["city"].nunique() - 1


def test_binned_counts_and_reference_row(sim):
    es = event_study(sim, "lnci", treat="did", window=(-3, 2))
    df = sim.df
    k = df["year"] - df["adoption_year"]
    counts = es.coefs.set_index("k")["n_treated_obs"]
    assert counts[-3] == int((k <= -3).sum()) and counts[2] == int((k >= 2).sum())
    row = es.coefs.set_index("k").loc[-1]
    assert row["estimate"] == 0.0 and row["label"] == "-1"
    assert list(es.coefs["label"])[:1] == ["≤ -3"] and list(es.coefs["label"])[-1] == "≥ 2"
    text = es.table().to_text()
    assert "0 (reference)" in text and "Joint test that all leads are zero" in text


def test_recovers_lagged_onset(sim):
    """The simulator's effect starts two years after adoption: k=0,1 near zero, k>=2 near truth."""
    full = cm.simulate(seed=3)
    es = event_study(full.panel, "lnci", treat="did", controls=["lnpgdp", "gov", "str", "lnpden"], window=(-4, 4))
    c = es.coefs.set_index("k")
    truth = full.truth["effect_by_event_time"]
    for k in (0, 1):
        assert c.loc[k, "ci_low"] <= 0 <= c.loc[k, "ci_high"]
    for k in (2, 3):
        assert abs(c.loc[k, "estimate"] - truth[k]) < 3 * c.loc[k, "std_error"]
    assert es.pretrend.p_value > 0.01


def test_adoption_column_equals_treat_column(sim):
    a = event_study(sim, "lnci", treat="did", window=(-3, 3))
    b = event_study(sim, "lnci", adoption="adoption_year", window=(-3, 3))
    np.testing.assert_allclose(a.coefs["estimate"], b.coefs["estimate"], rtol=1e-12)


def test_notyet_and_two_references(sim):
    es = event_study(sim, "lnci", treat="did", window=(-5, 3), ref=(-1, -5), control="notyet")
    assert es.fit.meta["units"] == sim.df.loc[sim.df["treat"] == 1, "city"].nunique()
    assert set(es.ref) == {-1, -5}


def test_errors_name_the_problem(sim):
    treated_only = sim.subset((sim.df["treat"] == 1).to_numpy())
    with pytest.raises(EstimationError, match="no never-treated units"):
        event_study(treated_only, "lnci", treat="did")
    with pytest.raises(EstimationError, match="omit two periods"):
        event_study(sim, "lnci", treat="did", control="notyet")
    df = sim.to_frame()
    i = df.index[(df["treat"] == 1) & (df["year"] == 2019)][0]
    df.loc[i, "did"] = 0
    with pytest.raises(PanelError, match=r"switches off again: city \d+ is treated from \d+ but has did = 0 in 2019"):
        adoption_year(cm.Panel(df, "city", "year"), "did")
    with pytest.raises(EstimationError, match="no treated observation at event time"):
        event_study(sim, "lnci", treat="did", window=(-20, 3), bin_endpoints=False)
    with pytest.raises(EstimationError, match="exactly one of"):
        event_study(sim, "lnci")

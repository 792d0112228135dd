"""The seed 001 provincial scenario: its spatial Durbin structure and the truth it reports."""

import numpy as np
import pytest

from climetrics.simulation.provinces import province_contiguity, sdm_effects, simulate_provinces


def test_thirty_provinces_without_tibet_and_hainan_linked_to_guangdong():
    prov, w = province_contiguity()
    assert len(prov) == 30 and 540000 not in set(prov["province_adcode"])
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)
    pos = {c: i for i, c in enumerate(prov["province_adcode"])}
    hainan = w[pos[460000]]
    assert hainan[pos[440000]] == 1.0 and np.count_nonzero(hainan) == 1


def test_effects_closed_forms():
    _, w = province_contiguity()
    # rho = 0: direct = beta, indirect = theta (row sums of a row-standardised W are one)
    e0 = sdm_effects(w, 0.0, -0.25, 0.2)
    assert e0["direct"] == pytest.approx(-0.25, abs=1e-12)
    assert e0["indirect"] == pytest.approx(0.2, abs=1e-12)
    # any rho: total = (beta + theta) / (1 - rho) for a row-standardised W (LeSage & Pace 2009, 2.7)
    e = sdm_effects(w, 0.3, -0.25, 0.2)
    assert e["total"] == pytest.approx(-0.05 / 0.7, abs=1e-12)
    assert e["direct"] + e["indirect"] == pytest.approx(e["total"], abs=1e-15)


def test_outcome_follows_the_spatial_durbin_equation():
    sim = simulate_provinces(seed=3, noise=0.02)
    df = sim.panel.df.sort_values(["province", "year"])
    _, w = province_contiguity()
    t = sim.truth
    shape = (30, -1)
    y, de = df["lnci"].to_numpy().reshape(shape), df["lnde"].to_numpy().reshape(shape)
    u = y - t["rho"] * (w @ y) - t["beta"] * de - t["theta"] * (w @ de)
    for name, g in t["control_coefficients"].items():
        u -= g * df[name].to_numpy().reshape(shape)
    # what is left is province + year effects + N(0, noise^2): two-way demeaning leaves the noise
    e = u - u.mean(axis=1, keepdims=True) - u.mean(axis=0, keepdims=True) + u.mean()
    dof = (30 - 1) * (u.shape[1] - 1)
    assert np.sqrt((e**2).sum() / dof) == pytest.approx(0.02, rel=0.2)


def test_same_seed_same_data_and_bad_rho_rejected():
    a, b = simulate_provinces(seed=1), simulate_provinces(seed=1)
    assert a.panel.df.equals(b.panel.df)
    assert "true rho = 0.300" in repr(a)
    with pytest.raises(ValueError, match="rho"):
        simulate_provinces(rho=1.2)

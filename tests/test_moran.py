"""Global and local Moran's I against R spdep on Anselin's Columbus data and a closed form.

Fixture: tests/data/reference/spatial_moran.json from tools/reference/spatial_moran.R (spdep
1.2.7). Deterministic quantities must agree to 1e-10 (absolute); permutation p-values are checked
for reproducibility, independence of block layout and Monte Carlo agreement, not R's RNG.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from climetrics import Panel
from climetrics.errors import EstimationError, PanelError
from climetrics.estimate.spatial.moran import (
    local_moran,
    moran,
    moran_by_year,
    moran_scatter,
    moran_table,
)
from climetrics.estimate.spatial.weights import SpatialWeights, from_pairs

# the module itself (the package attribute ``moran`` is the function)
moran_mod = importlib.import_module("climetrics.estimate.spatial.moran")

TOL = 1e-10
REF = json.loads((Path(__file__).parent / "data/reference/spatial_moran.json").read_text())
COL = REF["columbus"]
IDS = pd.Index(COL["id"])
QUAD = {"High-High": "HH", "Low-Low": "LL", "High-Low": "HL", "Low-High": "LH"}


def _w(name: str, symmetric: bool) -> SpatialWeights:
    edges = pd.DataFrame({"a": IDS[COL[name]["a"]], "b": IDS[COL[name]["b"]]})
    return from_pairs(edges, "a", "b", ids=IDS, symmetric=symmetric)


WEIGHTS = {
    "contiguity_W": _w("contiguity", True).standardized(),
    "contiguity_B": _w("contiguity", True),
    "knn4_W": _w("knn4", False).standardized(),
}
CASES = [(v, k) for v in ("CRIME", "HOVAL", "INC") for k in WEIGHTS]


@pytest.mark.parametrize(("var", "key"), CASES)
def test_global_moran_matches_spdep(var, key):
    ref = COL["results"][f"{var}|{key}"]
    r = moran(COL[var], WEIGHTS[key], n_draws=0)
    assert r.I == pytest.approx(ref["I"], abs=TOL)
    assert r.expected == pytest.approx(ref["EI"], abs=TOL)
    assert r.var_rand == pytest.approx(ref["VI_randomisation"], abs=TOL)
    assert r.var_norm == pytest.approx(ref["VI_normality"], abs=TOL)
    assert r.z_rand == pytest.approx(ref["z_randomisation"], abs=TOL)
    assert r.z_norm == pytest.approx(ref["z_normality"], abs=TOL)
    assert r.p_rand == pytest.approx(ref["p_randomisation"], abs=TOL)
    assert r.p_norm == pytest.approx(ref["p_normality"], abs=TOL)
    assert np.isnan(r.p_perm)


@pytest.mark.parametrize(("var", "key"), CASES)
@pytest.mark.parametrize("conditional", [True, False])
def test_local_moran_matches_spdep(var, key, conditional):
    ref = COL["results"][f"{var}|{key}"]["local_conditional" if conditional else "local_total"]
    out = local_moran(COL[var], WEIGHTS[key], n_draws=0, conditional=conditional)
    for col in ("Ii", "E", "Var", "z", "p"):
        np.testing.assert_allclose(out[col].to_numpy(), ref[col], rtol=0, atol=TOL)
    quad = [QUAD[q] for q in COL["results"][f"{var}|{key}"]["quadrant"]]
    assert out["quadrant"].tolist() == quad


def test_global_permutation_p_agrees_with_moran_mc_in_distribution():
    """9,999 permutations: CRIME/INC never reach the observed I (p = 1e-4, as spdep); HOVAL's
    pseudo p lies within 4 Monte Carlo standard errors of moran.mc's."""
    for var, key in CASES:
        ref = COL["results"][f"{var}|{key}"]["mc_p_greater"]
        p = moran(COL[var], WEIGHTS[key], n_draws=9999, seed=7).p_perm
        se = np.sqrt(2 * ref * (1 - ref) / 9999)
        assert abs(p - ref) <= 4 * se + 1e-12, (var, key, p, ref)


def test_permutations_reproducible_and_free_of_chunking_and_backend(monkeypatch):
    w, x = WEIGHTS["contiguity_W"], COL["HOVAL"]
    a = moran(x, w, n_draws=2550, seed=3).p_perm
    assert moran(x, w, n_draws=2550, seed=3, chunk_size=7).p_perm == a
    assert moran(x, w, n_draws=2550, seed=4).p_perm != a
    # the batched product counts exactly what a plain loop over the same permutations counts
    idx = moran_mod._draws(np.arange(26), 3, 2550, 49)  # 25 blocks of 100 and one of 50
    z = np.asarray(x) - np.mean(x)
    m = w.matrix
    obs = moran(x, w, n_draws=0).I
    ip = np.array([49 / m.sum() * (z[p] @ (m @ z[p])) / (z @ z) for p in idx])
    expect = (1 + min((ip >= obs).sum(), (ip <= obs).sum())) / 2551
    assert len(idx) == 2550
    assert a == pytest.approx(expect, abs=1e-15)
    lp = local_moran(x, w, n_draws=650, seed=5)["p_perm"]
    pd.testing.assert_series_equal(
        local_moran(x, w, n_draws=650, seed=5, chunk_size=4)["p_perm"], lp
    )
    monkeypatch.setattr(moran_mod, "_CHUNK_ELEMENTS", 1)  # one unit per step instead of all
    pd.testing.assert_series_equal(local_moran(x, w, n_draws=650, seed=5)["p_perm"], lp)


@pytest.mark.slow
def test_local_permutations_same_on_process_backend():
    w, x = WEIGHTS["contiguity_W"], COL["HOVAL"]
    serial = local_moran(x, w, n_draws=650, seed=5)["p_perm"]
    par = local_moran(x, w, n_draws=650, seed=5, backend="processes", chunk_size=2)
    pd.testing.assert_series_equal(par["p_perm"], serial)


def test_global_permutation_p_uniform_under_null():
    """Independent normal data: pseudo p-values (one-sided folded, so ~U(0, 0.5]) are uniform."""
    rng = np.random.default_rng(11)
    w = WEIGHTS["contiguity_W"]
    ps = np.array(
        [moran(rng.normal(size=49), w, n_draws=99, seed=i).p_perm for i in range(200)]
    )
    assert stats.kstest(2 * ps, "uniform").pvalue > 0.001


def test_local_conditional_permutation_matches_naive_loop():
    """Pseudo p of each unit within 4 Monte Carlo s.e. of a plain loop drawing its neighbours'
    values from the other n - 1 units with an unrelated generator."""
    w, x = WEIGHTS["contiguity_W"], np.asarray(COL["CRIME"])
    r = 4000
    ours = local_moran(x, w, n_draws=r, seed=2)
    z = x - x.mean()
    m2 = z @ z / 49
    rng = np.random.default_rng(99)
    for i in range(0, 49, 6):
        row = w.matrix[[i]]
        others = np.delete(np.arange(49), i)
        draws = np.array([rng.choice(others, row.nnz, replace=False) for _ in range(r)])
        ip = z[i] / m2 * (z[draws] @ row.data)
        obs = ours["Ii"].iloc[i]
        ref = (1 + min((ip >= obs).sum(), (ip <= obs).sum())) / (r + 1)
        se = np.sqrt(2 * ref * (1 - ref) / r)
        assert abs(ours["p_perm"].iloc[i] - ref) <= 4 * se + 2 / r, (i, ours["p_perm"].iloc[i], ref)


def test_cluster_labels_use_alpha():
    out = local_moran(COL["CRIME"], WEIGHTS["contiguity_W"], n_draws=999, seed=1, alpha=0.05)
    sig = out["p_perm"] < 0.05
    assert (out.loc[sig, "cluster"] == out.loc[sig, "quadrant"]).all()
    assert (out.loc[~sig, "cluster"] == "not significant").all()
    assert sig.sum() > 5  # Columbus crime is strongly clustered
    analytic = local_moran(COL["CRIME"], WEIGHTS["contiguity_W"], n_draws=0, alpha=0.01)
    assert ((analytic["p"] < 0.01) == (analytic["cluster"] != "not significant")).all()


def test_closed_form_four_units_on_a_line():
    """Path a-b-c-d, binary W, x = (1, 2, 3, 4): z = (-1.5, -.5, .5, 1.5), z'z = 5,
    z'Wz = 2(.75 - .25 + .75) = 2.5, S0 = 6, so I = 4/6 * 2.5/5 = 1/3; S1 = 12, S2 = 40,
    Var_N = (16*12 - 4*40 + 108)/(15*36) - 1/9 = 140/540 - 60/540 = 4/27."""
    w = from_pairs(pd.DataFrame({"a": list("abc"), "b": list("bcd")}), "a", "b")
    r = moran(pd.Series([4.0, 1.0, 2.0, 3.0], index=list("dabc")), w, n_draws=0)
    assert r.I == pytest.approx(1 / 3, abs=1e-14)
    assert r.expected == pytest.approx(-1 / 3, abs=1e-14)
    assert r.var_norm == pytest.approx(4 / 27, abs=1e-14)


def _two_years() -> pd.DataFrame:
    """Columbus CRIME as year 2010 and HOVAL as year 2011, long format."""
    y = np.concatenate([COL["CRIME"], COL["HOVAL"]])
    return pd.DataFrame({"id": np.tile(IDS, 2), "year": np.repeat([2010, 2011], 49), "y": y})


def test_moran_by_year_panel_and_errors():
    w = WEIGHTS["contiguity_W"]
    df = _two_years()
    orig = df.copy()
    out = moran_by_year(Panel(df, "id", "year"), "y", w, n_draws=99, seed=1)
    pd.testing.assert_frame_equal(df, orig)
    assert out["year"].tolist() == [2010, 2011]
    assert out["I"].tolist() == pytest.approx(
        [COL["results"]["CRIME|contiguity_W"]["I"], COL["results"]["HOVAL|contiguity_W"]["I"]],
        abs=TOL,
    )
    assert out["p_rand"].iloc[1] == pytest.approx(
        COL["results"]["HOVAL|contiguity_W"]["p_randomisation"], abs=TOL
    )
    again = moran_by_year(df, "y", w, unit="id", time="year", n_draws=99, seed=1)
    pd.testing.assert_frame_equal(out, again)
    with pytest.raises(PanelError, match=r"year 2011: no row for unit\(s\) 5"):
        moran_by_year(df.drop(index=49 + 4), "y", w, unit="id", time="year")
    with pytest.raises(PanelError, match="id 3 has no value of 'y' in year 2010"):
        moran_by_year(df.assign(y=df["y"].where(df.index != 2)), "y", w, unit="id", time="year")


def test_bad_input_is_reported():
    w = WEIGHTS["contiguity_W"]
    with pytest.raises(EstimationError, match="constant"):
        moran(np.ones(49), w)
    with pytest.raises(EstimationError, match="no value for unit"):
        moran(pd.Series(COL["CRIME"][:48], index=IDS[:48]), w)
    island = from_pairs(pd.DataFrame({"a": [1, 2], "b": [2, 3]}), "a", "b", ids=[1, 2, 3, 4, 5])
    with pytest.raises(
        EstimationError, match=r"leave 2 unit\(s\) without one: 4, 5.*attach_islands"
    ):
        moran(np.arange(5.0), island)


def test_moran_scatter_slope_is_moran_i():
    fig = moran_scatter(COL["CRIME"], WEIGHTS["contiguity_W"], labels=True)
    ax = fig.axes[0]
    xs, ys = ax.lines[0].get_data()
    assert (ys[1] - ys[0]) / (xs[1] - xs[0]) == pytest.approx(
        COL["results"]["CRIME|contiguity_W"]["I"], abs=1e-12
    )
    assert len(ax.collections[0].get_offsets()) == 49
    assert len(ax.texts) == 49


def test_moran_table_lays_out_table_6():
    w = WEIGHTS["contiguity_W"]
    df = _two_years()
    a = moran_by_year(df, "y", w, unit="id", time="year", n_draws=0)
    b = moran_by_year(
        df[df["year"] == 2011], "y", WEIGHTS["knn4_W"], unit="id", time="year", n_draws=0
    )
    t = moran_table({"W contiguity": a, "W knn": b})
    assert t.header_rows == [["W contiguity", "", "", "W knn", "", ""]]
    crime = COL["results"]["CRIME|contiguity_W"]
    assert t.rows[0][:4] == [
        "2010",
        f"{crime['I']:.3f}***",
        f"{crime['z_randomisation']:.3f}",
        "0.000",
    ]
    assert t.rows[0][4:] == ["", "", ""]  # no 2010 under the knn weights
    hoval = COL["results"]["HOVAL|knn4_W"]
    assert hoval["p_randomisation"] < 0.01  # 0.0068
    assert t.rows[1][4] == f"{hoval['I']:.3f}***"
    with pytest.raises(EstimationError, match="inference must be"):
        moran_table({"W": a}, inference="exact")

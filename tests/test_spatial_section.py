"""The study's spatial section reports the numbers of the spatial functions it calls."""

import pytest

import climetrics as cm
from climetrics.estimate.spatial.effects import impacts
from climetrics.estimate.spatial.models import spatial_panel
from climetrics.estimate.spatial.moran import moran
from climetrics.estimate.spatial.weights import contiguity
from climetrics.study.config import parse_config
from climetrics.study.sections import Context
from climetrics.study.spatial_section import spatial_section

CONTROLS = ["lnpgdp", "lnpop"]


@pytest.fixture(scope="module")
def built():
    sim = cm.simulate_provinces(years=(2008, 2017), seed=2)
    raw = {"data": {"simulate_provinces": {}},
           "variables": {"outcome": "lnci", "treatment": "lnde", "controls": CONTROLS},
           "spatial": {"enabled": True, "weights": ["contiguity", "knn"], "k": 4, "draws": 200,
                       "permutations": 99, "maps": ["lnci"], "map_years": [2017]}}
    cfg = parse_config(raw).values
    return sim, spatial_section(Context(panel=sim.panel, config=cfg, truth=sim.truth))


def test_moran_row_equals_direct_call(built):
    sim, out = built
    p = sim.panel
    w = contiguity("province", p.units, attach_islands="nearest").standardized()
    y2012 = p.df[p.df["year"] == 2012].set_index("province")["lnci"]
    direct = moran(y2012, w, permutations=0)
    row = next(r for r in out.summary["moran"]["W1 0-1 contiguity"] if r["year"] == 2012)
    assert row["I"] == pytest.approx(direct.I, abs=1e-12)
    assert row["z_rand"] == pytest.approx(direct.z_rand, abs=1e-12)


def test_model_and_effects_equal_direct_calls(built):
    sim, out = built
    w = contiguity("province", sim.panel.units, attach_islands="nearest").standardized()
    fit = spatial_panel(sim.panel, "lnci", ["lnde", *CONTROLS], w, model="sdm", effects="twoway")
    got = out.results[0].coefs.set_index("term")["estimate"]
    assert got.to_dict() == pytest.approx(fit.coefs.set_index("term")["estimate"].to_dict(), abs=1e-12)
    eff = impacts(fit, draws=200, seed=0)
    mine = out.summary["effects"]["W1 0-1 contiguity"]
    pick = lambda rows, k: next(r["estimate"] for r in rows if r["term"] == "lnde" and r["effect"] == k)  # noqa: E731
    for kind in ("direct", "indirect", "total"):  # point effects are exact (no simulation)
        assert pick(mine, kind) == pytest.approx(pick(eff.to_dict("records"), kind), abs=1e-12)


def test_section_layout(built):
    _, out = built
    assert list(out.tables) == ["moran", "spatial_tests", "spatial_models", "spatial_effects"]
    assert list(out.figures) == ["moran_scatter", "map_lnci"]
    assert [r["test"] for r in out.summary["tests"]][:2] == ["LM lag", "LM error"]
    assert "Truth (simulated data" in " ".join(out.section.paragraphs)
    assert "Under W2 k-nearest neighbours" in out.section.reading


def test_hausman_row_for_the_sem():
    """With [spatial] model = "sem" the selection table has the FE vs RE Hausman row of the SEM
    (slopes only, df = number of regressors), equal to a direct spatial_hausman call."""
    from climetrics.estimate.spatial.lm_tests import spatial_hausman

    sim = cm.simulate_provinces(years=(2008, 2017), seed=2)
    raw = {"data": {"simulate_provinces": {}},
           "variables": {"outcome": "lnci", "treatment": "lnde", "controls": CONTROLS},
           "spatial": {"enabled": True, "weights": ["contiguity"], "model": "sem", "effects": "unit",
                       "permutations": 0}}
    out = spatial_section(Context(panel=sim.panel, config=parse_config(raw).values, truth=sim.truth))
    row = next(r for r in out.summary["tests"] if r["test"].startswith("Hausman"))
    w = contiguity("province", sim.panel.units, attach_islands="nearest").standardized()
    h = spatial_hausman(sim.panel, "lnci", ["lnde", *CONTROLS], w, model="sem")
    assert row["test"] == "Hausman FE vs RE (SEM)" and row["df"] == 3
    assert row["statistic"] == pytest.approx(h["statistic"], rel=1e-12)
    assert row["p_value"] == pytest.approx(h["p_value"], rel=1e-12)
    assert (f"Hausman test: {h['note']}" in out.section.paragraphs) == bool(h["note"])
    assert "spatial_effects" not in out.tables

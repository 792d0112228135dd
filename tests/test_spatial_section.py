"""The study's spatial section reports the numbers of the spatial functions it calls."""

import pandas as pd
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
    direct = moran(y2012, w, n_draws=0)
    row = next(r for r in out.summary["moran"]["W1 0-1 contiguity"] if r["year"] == 2012)
    assert row["I"] == pytest.approx(direct.I, abs=1e-12)
    assert row["z_rand"] == pytest.approx(direct.z_rand, abs=1e-12)


def test_model_and_effects_equal_direct_calls(built):
    sim, out = built
    w = contiguity("province", sim.panel.units, attach_islands="nearest").standardized()
    fit = spatial_panel(sim.panel, "lnci", ["lnde", *CONTROLS], w, model="sdm", effects="twoway",
                        cluster="unit")
    got = out.results[0].coefs.set_index("term")
    assert got["estimate"].to_dict() == pytest.approx(fit.coefs.set_index("term")["estimate"].to_dict(), abs=1e-12)
    # the study clusters by unit (its default), so the spatial standard errors are clustered too
    assert out.results[0].vcov == "cluster" and out.summary["vcov"] == "cluster"
    assert got["std_error"].to_dict() == pytest.approx(fit.coefs.set_index("term")["std_error"].to_dict(), rel=1e-10)
    eff = impacts(fit, n_draws=200, seed=0)
    mine = out.summary["effects"]["W1 0-1 contiguity"]
    pick = lambda rows, k, c="estimate": next(r[c] for r in rows if r["term"] == "lnde" and r["effect"] == k)  # noqa: E731
    for kind in ("direct", "indirect", "total"):  # same draws, same covariance: same SEs
        assert pick(mine, kind) == pytest.approx(pick(eff.tidy().to_dict("records"), kind), abs=1e-12)
        assert pick(mine, kind, "std_error") == pytest.approx(pick(eff.tidy().to_dict("records"), kind, "std_error"))
    assert out.summary["discarded_draws"]["W1 0-1 contiguity"] == eff.discarded_share
    # the notes and the reading say which covariance the effects' standard errors rest on
    assert "clustered by province" in " ".join(out.tables["spatial_effects"].notes)
    assert "clustered by province" in out.section.reading


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
    row = next(r for r in out.summary["tests"] if "Hausman" in r["test"])
    w = contiguity("province", sim.panel.units, attach_islands="nearest").standardized()
    h = spatial_hausman(sim.panel, "lnci", ["lnde", *CONTROLS], w, model="sem")
    assert row["test"] == "Spatial Hausman FE vs RE (SEM)" and row["df"] == 3
    assert row["positive_definite"] == h.details["positive_definite"]
    assert row["statistic"] == pytest.approx(h.statistic, rel=1e-12, nan_ok=True)
    assert row["p_value"] == pytest.approx(h.p_value, rel=1e-12, nan_ok=True)
    assert (h.verdict in out.section.paragraphs) == (not h.details["positive_definite"])
    assert "spatial_effects" not in out.tables


def _pairs_of(w) -> pd.DataFrame:
    """Each linked pair once (i < j) of a symmetric binary matrix, as unit / neighbor rows."""
    m = w.matrix.tocoo()
    keep = m.row < m.col
    return pd.DataFrame({"unit": w.ids[m.row[keep]], "neighbor": w.ids[m.col[keep]]})


SPATIAL_FILE = {"enabled": True, "weights": ["file"], "weights_file": "w.csv", "draws": 200,
                "permutations": 99}


def test_weights_file_gives_the_bundled_contiguity_results(built, tmp_path):
    """Province contiguity written as a pairs CSV (Hainan linked to Guangdong, as the bundled
    matrix does) reproduces the bundled-contiguity model to 1e-12: any data with its own
    neighbour list gets the same section."""
    sim, first = built
    w = contiguity("province", sim.panel.units, attach_islands="nearest")
    _pairs_of(w).to_csv(tmp_path / "w.csv", index=False)
    raw = {"data": {"simulate_provinces": {}},
           "variables": {"outcome": "lnci", "treatment": "lnde", "controls": CONTROLS},
           "spatial": SPATIAL_FILE}
    out = spatial_section(Context(panel=sim.panel, config=parse_config(raw).values,
                                  truth=sim.truth, config_dir=tmp_path))
    got = out.results[0].coefs.set_index("term")["estimate"]
    ref = first.results[0].coefs.set_index("term")["estimate"]
    assert got.to_dict() == pytest.approx(ref.to_dict(), abs=1e-12)
    assert "W1 user-supplied" in out.tables["spatial_models"].columns
    assert "pairs from w.csv" in out.section.paragraphs[0]


def _file_problems(tmp_path, rows: str, spatial: dict | None = None) -> str:
    from climetrics.errors import ConfigError
    from climetrics.study.runner import Study

    if rows is not None:
        (tmp_path / "w.csv").write_text(rows)
    raw = {"data": {"simulate_provinces": {"years": [2010, 2012]}},
           "variables": {"outcome": "lnci", "treatment": "lnde", "controls": CONTROLS},
           "spatial": {**SPATIAL_FILE, **(spatial or {})}}
    if raw["spatial"]["weights_file"] == "drop":
        del raw["spatial"]["weights_file"]
    try:
        Study(parse_config(raw, base_dir=tmp_path)).load_panel()
    except ConfigError as err:
        return str(err)
    return ""


@pytest.mark.parametrize(
    "rows,spatial,pattern",
    [
        (None, {"weights_file": "nothere.csv"}, r"'spatial.weights_file' \(nothere.csv\): file not found"),
        ("a,b\n北京市,天津市\n", None, r"needs columns unit, neighbor .*missing \['unit', 'neighbor'\]"),
        ("unit,neighbor\n110000,Atlantis\n", None, r"not among ids: 'Atlantis'"),
        ("unit,neighbor\n110000,120000\n", None, r"28 panel unit\(s\) have no neighbour: 130000, 140000"),
        ("unit,neighbor,weight\n北京市,天津市,x\n", None, r"'weight' of the pairs has a missing or non-numeric"),
        ("unit,neighbor\n", {"weights": ["contiguity"]}, r"'spatial.weights_file' is given but 'spatial.weights' does not"),
        (None, {"weights_file": "drop"}, r"'spatial.weights' lists 'file': give the pairs CSV"),
    ],
)
def test_weights_file_problems_name_the_key(tmp_path, rows, spatial, pattern):
    import re

    assert re.search(pattern, _file_problems(tmp_path, rows, spatial))


def test_editing_the_weights_file_reruns_the_spatial_section(tmp_path):
    """The section cache keys on the weights file's bytes: an edited neighbour list is never
    answered from the cache."""
    import json

    from climetrics.study.config import load_config
    from climetrics.study.runner import Study

    sim = cm.simulate_provinces(years=(2010, 2014), seed=1)
    w = contiguity("province", sim.panel.units, attach_islands="nearest")
    pairs = _pairs_of(w)
    pairs.to_csv(tmp_path / "w.csv", index=False)
    off = "".join(f"[{s}]\nenabled = false\n" for s in (
        "descriptives", "correlation", "baseline", "model_selection", "event_study", "placebo",
        "robust_did", "robustness", "psm"))
    cfg = tmp_path / "s.toml"
    cfg.write_text(
        '[data.simulate_provinces]\nyears = [2010, 2014]\nseed = 1\n'
        '[variables]\noutcome = "lnci"\ntreatment = "lnde"\ncontrols = ["lnpgdp"]\n' + off
        + '[spatial]\nenabled = true\nweights = ["file"]\nweights_file = "w.csv"\n'
        'permutations = 0\ndraws = 50\n'
    )
    out = tmp_path / "out"

    def run():
        Study(load_config(cfg)).run(out, log=lambda *_: None)
        return json.loads((out / "manifest.json").read_text())

    first = run()
    assert "spatial" in first["results"] and "spatial" not in first["reused_from_cache"]
    assert "spatial" in run()["reused_from_cache"]
    pairs.iloc[1:].to_csv(tmp_path / "w.csv", index=False)  # drop one link
    third = run()
    assert "spatial" not in third["reused_from_cache"]
    assert third["results"]["spatial"] != first["results"]["spatial"]


def test_bundled_weights_and_maps_need_chinese_units(tmp_path):
    """Non-Chinese units with the bundled contiguity or maps: `climetrics check` says so and
    points to weights_file (the Produc panel of US states)."""
    import re
    from pathlib import Path

    from climetrics.errors import ConfigError
    from climetrics.study.runner import Study

    data = Path(__file__).parent / "data"
    produc = (data / "produc_plm.csv").resolve()
    raw = {"data": {"path": str(produc), "unit": "state", "time": "year"},
           "variables": {"outcome": "lgsp", "treatment": "lpcap", "controls": ["lpc"]},
           "spatial": {"enabled": True, "weights": ["contiguity"], "maps": ["lgsp"]}}
    with pytest.raises(ConfigError) as err:
        Study(parse_config(raw, base_dir=tmp_path)).load_panel()
    assert re.search(r"'spatial.level' = 'province': the weights \['contiguity'\] and maps need "
                     r"Chinese province units: 48 unit\(s\) match no bundled province", str(err.value))
    nb = pd.read_csv(data / "us_states_contiguity.csv")
    nb.rename(columns={"state": "unit"}).to_csv(tmp_path / "w.csv", index=False)
    raw["spatial"] = {"enabled": True, "weights": ["file"], "weights_file": "w.csv"}
    panel = Study(parse_config(raw, base_dir=tmp_path)).load_panel()
    assert len(panel.units) == 48

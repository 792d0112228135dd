"""Every example study runs end to end and its key numbers recover the simulator's truth."""

import json
from pathlib import Path

import pytest

from climetrics.cli import main

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("seed*.toml"))


@pytest.mark.slow
@pytest.mark.parametrize("config", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_recovers_truth(config, tmp_path):
    assert main(["run", str(config), "--out", str(tmp_path), "--no-cache"]) == 0
    m = json.loads((tmp_path / "manifest.json").read_text())
    assert set(m["sections"].values()) == {"ok"}
    if config.stem == "seed002_cbec_zones":  # the excluded unverified 2022 rows are stated in the report
        assert "Warning: 43 unverified rows of &#x27;cbec_pilot_zone&#x27;" in (tmp_path / "report.html").read_text()
    if m["truth"].get("model") == "SDM":  # seed 001: spatial Durbin truth; W1 is the true contiguity matrix
        truth = m["truth"]
        sp = m["summaries"]["spatial"]
        w1 = next(iter(sp["effects"]))
        assert w1.startswith("W1 0-1 contiguity")
        eff = {r["effect"]: r for r in sp["effects"][w1] if r["term"] == "lnde"}
        for kind in ("direct", "indirect", "total"):  # within 3 simulated standard errors
            assert abs(eff[kind]["estimate"] - truth["effects"][kind]) < 3 * eff[kind]["std_error"], kind
        rho = next(r for r in m["results"]["spatial"][0]["coefs"] if r["term"] == "rho")
        assert rho["ci_low"] <= truth["rho"] <= rho["ci_high"]
        moran = sp["moran"][w1]
        assert all(r["I"] > 0 and r["p_rand"] < 0.01 for r in moran)  # "west high, east low" clusters
        return
    if m["truth"]["digital_index"] is not None:  # seed 004: continuous index, IV and suppression
        dig = m["truth"]["digital_index"]
        iv = next(r for r in m["results"]["iv"] if r["model"] == "2SLS")["coefs"][0]
        assert iv["term"] == "dei" and iv["ci_low"] <= dig["total"] <= iv["ci_high"]
        path = m["summaries"]["mediation"]["paths"][0]
        assert path["suppression"] and path["ci_low_percentile"] > 0  # ab > 0 while c' < 0
        assert abs(path["suppression_ratio"] - dig["suppressed_share"]) < 0.05
        assert "Treatment &#x27;Digital economy index&#x27; is continuous" in (tmp_path / "report.html").read_text()
        return
    truth = m["truth"]["att"]
    base = m["results"]["baseline"][-1]["coefs"][0]
    assert base["ci_low"] <= truth <= base["ci_high"]
    for est in m["summaries"]["robust_did"]["estimates"]:
        assert abs(est["estimate"] - truth) < 3 * est["std_error"], est["estimator"]
    assert m["summaries"]["placebo"]["space"]["ri_p_two_sided"] < 0.05
    pt = m["summaries"]["event_study"]["pretrend"]["p_value"]
    assert pt > 0.01  # no spurious pre-trend in data generated with parallel trends


def test_examples_listed():
    assert [p.stem for p in EXAMPLES] == ["seed001_provincial_spatial", "seed002_cbec_zones", "seed003_smart_city",
                                          "seed004_digital_agglomeration"]

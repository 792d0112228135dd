"""Study [prepare] measurement steps and the cache of the prepared panel.

Every step must give exactly the column of the direct call of its measure function on the same
data (tolerance 1e-12: the same arithmetic, only routed through the config); the downscaled
column is also checked against the closed form ``total x proxy / sum(proxy)``.
"""

import json

import numpy as np
import pandas as pd
import pytest

import climetrics.measure as cm
from climetrics import simulate
from climetrics.errors import ConfigError, PanelError
from climetrics.panel import Panel
from climetrics.study.config import load_config
from climetrics.study.runner import Study

FUELS = ["coal", "coke", "gasoline", "kerosene", "diesel", "fuel_oil", "natural_gas"]
TIERS = {"high": ["emp_it", "emp_fin"], "low": ["emp_trade"]}

STEPS = """
[[prepare.carbon]]
column = "co2_fuel"

[[prepare.downscale]]
column = "cable"
value = "prov_cable"
proxy = "telecom"

[[prepare.fill_trailing]]
columns = ["emis"]
method = "holt"
last_observed = 2015

[[prepare.agglomeration]]
prefix = "spec"
tiers = {high = ["emp_it", "emp_fin"], low = ["emp_trade"]}
total = "emp_total"

[[prepare.entropy]]
column = "idx_pooled"
positive = ["a", "b"]
negative = ["c"]

[[prepare.entropy]]
column = "idx_year"
positive = ["a", "b"]
negative = ["c"]
weights = "per_year"
"""


def _panel_frame(seed: int = 3) -> pd.DataFrame:
    """12 cities in 3 provinces, 2010-2017: fuel use, a provincial total, employment, indicators."""
    rng = np.random.default_rng(seed)
    cities = [f"c{i:02d}" for i in range(12)]
    years = list(range(2010, 2018))
    df = pd.DataFrame([(c, y) for c in cities for y in years], columns=["city", "year"])
    n = len(df)
    df["province"] = df["city"].map({c: f"p{i // 4}" for i, c in enumerate(cities)})
    for f in FUELS:
        df[f] = rng.uniform(1, 50, n)
    prov_total = {(p, y): rng.uniform(100, 200) for p in df["province"].unique() for y in years}
    df["prov_cable"] = [prov_total[(p, y)] for p, y in zip(df["province"], df["year"], strict=True)]
    df["telecom"] = rng.uniform(1, 10, n)
    trend = df["year"] - 2010
    df["emis"] = 100 + 3 * trend + rng.normal(0, 1, n) + df["city"].str[1:].astype(int)
    df.loc[df["year"] > 2015, "emis"] = np.nan
    for c in ["emp_it", "emp_fin", "emp_trade"]:
        df[c] = rng.uniform(1, 20, n)
    df["emp_total"] = df[["emp_it", "emp_fin", "emp_trade"]].sum(axis=1) + rng.uniform(50, 100, n)
    for c in "abc":
        df[c] = rng.uniform(0, 1, n)
    df["did"] = (df["year"] >= 2014).astype(int) * (df["province"] == "p0")
    df["y"] = rng.normal(size=n)
    return df


def _write(tmp_path, steps: str = STEPS, df: pd.DataFrame | None = None, extra: str = ""):
    (df if df is not None else _panel_frame()).to_csv(tmp_path / "panel.csv", index=False)
    cfg = tmp_path / "study.toml"
    cfg.write_text(
        '[data]\npath = "panel.csv"\nunit = "city"\ntime = "year"\n\n'
        '[variables]\noutcome = "y"\ntreatment = "did"\n' + steps + extra
    )
    return cfg


def test_each_step_equals_the_direct_call(tmp_path):
    study = Study(load_config(_write(tmp_path)))
    got = study.load_panel().df
    base = Panel.from_file(tmp_path / "panel.csv", "city", "year")
    raw = base.df
    assert list(got["city"]) == list(raw["city"]) and list(got["year"]) == list(raw["year"])
    tol = {"rtol": 1e-12, "atol": 0}

    np.testing.assert_allclose(got["co2_fuel"], cm.fossil_co2(raw), **tol)

    totals = raw[["province", "year", "prov_cable"]].drop_duplicates()
    direct = cm.downscale(totals, raw, "telecom", value="prov_cable")
    np.testing.assert_allclose(got["cable"], direct["prov_cable"], **tol)
    share = raw["telecom"] / raw.groupby(["province", "year"])["telecom"].transform("sum")
    np.testing.assert_allclose(got["cable"], raw["prov_cable"] * share, **tol)  # closed form

    filled = cm.fill_trailing(base, "emis", method="holt", last_observed=2015)
    np.testing.assert_allclose(got["emis"], filled.df["emis"], **tol)
    assert got["emis"].notna().all() and raw["emis"].isna().sum() == 24

    spec = cm.producer_service_agglomeration(raw, TIERS, "emp_total", time="year")
    for c in ("spec", "spec_high", "spec_low"):
        np.testing.assert_allclose(got[c], spec[c], **tol)

    pooled, _ = cm.entropy_index(raw, ["a", "b"], ["c"])
    yearly, w = cm.entropy_index(raw, ["a", "b"], ["c"], by="year")
    np.testing.assert_allclose(got["idx_pooled"], pooled, **tol)
    np.testing.assert_allclose(got["idx_year"], yearly, **tol)
    pd.testing.assert_frame_equal(study.entropy_weights["idx_year"], w)
    assert not np.allclose(got["idx_pooled"], got["idx_year"])  # the two weightings differ


def test_step_data_errors_name_the_config_key(tmp_path):
    df = _panel_frame()
    df.loc[df.index[1], "prov_cable"] += 1.0  # no longer one total per province-year
    study = Study(load_config(_write(tmp_path, df=df)))
    with pytest.raises(
        ConfigError,
        match=r"'prepare.downscale\[0\].value': 'prov_cable' should be the provincial "
        r"total.*differs within province 'p0', year 2011",
    ):
        study.load_panel()

    df = _panel_frame()
    df["c"] = 0.5  # constant indicator
    with pytest.raises(
        ConfigError, match=r"'prepare.entropy\[0\]': entropy_index: indicator\(s\) 'c' are constant"
    ):
        Study(load_config(_write(tmp_path, df=df))).load_panel()

    df = _panel_frame().assign(spec=1.0)
    with pytest.raises(
        ConfigError, match=r"'prepare.agglomeration\[0\].prefix': column 'spec' already exists"
    ):
        Study(load_config(_write(tmp_path, df=df))).load_panel()


# ---------------------------------------------------------------- cache of the prepared panel
@pytest.fixture
def count_prepare(monkeypatch):
    calls = []
    original = Study.prepare

    def counted(self, panel):
        calls.append(1)
        return original(self, panel)

    monkeypatch.setattr(Study, "prepare", counted)
    return calls


def test_prepared_panel_is_reused_until_data_or_prepare_change(tmp_path, count_prepare):
    cfg = _write(tmp_path)
    cache = tmp_path / "cache"
    computed = Study(load_config(cfg))
    first = computed.load_panel(cache)
    assert len(count_prepare) == 1 and len(list(cache.glob("prepared-*.pkl"))) == 1

    again = Study(load_config(cfg))
    second = again.load_panel(cache)
    assert len(count_prepare) == 1 and again.prepared_from_cache
    pd.testing.assert_frame_equal(second.df, first.df)
    pd.testing.assert_frame_equal(
        again.entropy_weights["idx_year"], computed.entropy_weights["idx_year"]
    )

    df = _panel_frame()
    df.loc[0, "coal"] += 1.0  # the data file changes -> recomputed
    df.to_csv(tmp_path / "panel.csv", index=False)
    changed = Study(load_config(cfg))
    third = changed.load_panel(cache)
    assert len(count_prepare) == 2 and not changed.prepared_from_cache
    assert third.df["co2_fuel"].iloc[0] > first.df["co2_fuel"].iloc[0]
    assert len(list(cache.glob("prepared-*.pkl"))) == 1  # the stale entry is removed

    cfg.write_text(
        cfg.read_text().replace('method = "holt"', 'method = "ar1"')
    )  # [prepare] changes
    Study(load_config(cfg)).load_panel(cache)
    assert len(count_prepare) == 3


def test_cached_panel_still_checks_the_other_sections_columns(tmp_path, count_prepare):
    cfg = _write(tmp_path)
    Study(load_config(cfg)).load_panel(tmp_path / "cache")
    cfg.write_text(cfg.read_text().replace('outcome = "y"', 'outcome = "yy"'))
    with pytest.raises(ConfigError, match=r"'variables.outcome': column 'yy' is not in the data"):
        Study(load_config(cfg)).load_panel(tmp_path / "cache")
    assert len(count_prepare) == 1


ONLY_DATA = "".join(
    f"\n[{s}]\nenabled = false\n"
    for s in (
        "correlation",
        "baseline",
        "model_selection",
        "event_study",
        "placebo",
        "robust_did",
        "robustness",
        "psm",
        "iv",
        "mediation",
        "heterogeneity",
        "nonlinear",
    )
)


def test_second_run_reuses_the_prepared_panel(tmp_path, count_prepare):
    cfg = _write(tmp_path, extra=ONLY_DATA)
    out = tmp_path / "out"
    for _ in range(2):
        Study(load_config(cfg)).run(out, log=lambda *_: None)
    m = json.loads((out / "manifest.json").read_text())
    assert len(count_prepare) == 1
    assert m["data"]["prepared_from_cache"] is True and "descriptives" in m["reused_from_cache"]
    assert "co2_fuel" in m["data"]["columns"]
    Study(load_config(cfg)).run(out, log=lambda *_: None, cache=False)
    assert len(count_prepare) == 2


def test_nddf_step_index_choice(tmp_path):
    """[[prepare.nddf]] with index = "ecpi" gives the ``ecpi`` of nddf_performance (1e-12)."""
    cfg = tmp_path / "study.toml"
    cfg.write_text(
        "[data.simulate]\nyears = [2008, 2016]\nseed = 5\n\n"
        '[variables]\noutcome = "lnci"\ntreatment = "did"\n\n'
        '[[prepare.nddf]]\ncolumn = "ecpi_g"\nindex = "ecpi"\nenergy = "energy"\nfrontier = "global"\n\n'
        '[[prepare.nddf]]\ncolumn = "cpi_g"\nfrontier = "global"\n'
    )
    got = Study(load_config(cfg)).load_panel().df
    sim = cm.nddf_performance(
        simulate(years=(2008, 2016), seed=5).panel,
        ["capital", "labour", "energy"],
        "gdp",
        "co2",
        frontier="global",
        energy="energy",
    )
    np.testing.assert_allclose(got["ecpi_g"], sim["ecpi"], rtol=1e-12, atol=0)
    np.testing.assert_allclose(got["cpi_g"], sim["tfcpi"], rtol=1e-12, atol=0)
    assert (got["ecpi_g"] != got["cpi_g"]).any()


def test_missing_data_file_still_reported_clearly_with_the_cache(tmp_path):
    cfg = _write(tmp_path)
    (tmp_path / "panel.csv").unlink()
    with pytest.raises(PanelError, match=r"data file not found: .*panel.csv"):
        Study(load_config(cfg)).load_panel(tmp_path / "cache")


def test_report_shows_the_entropy_weights(tmp_path):
    """The data section carries one weights table per entropy index: entropy, divergence and
    weight of each indicator when pooled, the weight of every year when per year -- the numbers
    of the direct entropy_index call."""
    run = Study(load_config(_write(tmp_path, extra=ONLY_DATA))).run(
        tmp_path / "out", log=lambda *_: None, cache=False
    )
    data = next(sec for sec in run.sections if sec.key == "data")
    pooled, yearly = data.tables
    raw = pd.read_csv(tmp_path / "panel.csv")
    _, w = cm.entropy_index(raw, ["a", "b"], ["c"])
    assert pooled.title.endswith("Entropy weights of idx_pooled")
    assert [r[0] for r in pooled.rows] == ["a", "b", "c"]
    assert [r[1] for r in pooled.rows] == ["positive", "positive", "negative"]
    np.testing.assert_allclose([float(r[4]) for r in pooled.rows], w["weight"], atol=5e-4)
    np.testing.assert_allclose([float(r[2]) for r in pooled.rows], w["entropy"], atol=5e-5)
    _, wy = cm.entropy_index(raw, ["a", "b"], ["c"], by="year")
    assert yearly.columns == ["Direction", *map(str, range(2010, 2018))]
    by_year = wy.pivot(index="indicator", columns="year", values="weight")
    got = np.array([[float(v) for v in r[2:]] for r in yearly.rows])
    np.testing.assert_allclose(got, by_year.loc[["a", "b", "c"]].to_numpy(), atol=5e-4)
    np.testing.assert_allclose(got.sum(axis=0), 1.0, atol=2e-3)
    assert "Entropy weights of idx_year, by year" in run.report_path.read_text()

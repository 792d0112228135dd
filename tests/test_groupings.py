"""Bundled city groupings, city-size classes, and heterogeneity by a bundled grouping.

The lists are checked on their counts (15 sub-provincial cities; 13 / 26 / 9 cluster members;
126 prefecture-level resource-based cities split 20 / 66 / 24 / 16 by stage, as the plan's
annex counts them) and on known members; the size classes at every boundary of the 2014
State Council notice (lower bounds inclusive). Heterogeneity by a bundled grouping is checked
against the same analysis on a column built by hand, and against separate ``cm.twfe`` fits.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

import climetrics as cm
from climetrics import data
from climetrics.errors import PanelError
from climetrics.estimate.mechanisms.heterogeneity import define_groups, heterogeneity


def _members(name: str) -> pd.DataFrame:
    return data.grouping_members(name)


# ---------------------------------------------------------------------------- member lists
def test_sub_provincial_cities():
    m = _members("sub_provincial")
    assert len(m) == 15 and m["verified"].all() and m["adcode"].notna().all()
    expected = {210100, 210200, 220100, 230100, 320100, 330100, 330200, 350200, 370100, 370200,
                420100, 440100, 440300, 510100, 610100}
    assert set(m["adcode"]) == expected
    g = data.grouping("sub_provincial")
    assert g[330200] == "sub_provincial"  # 宁波
    assert g[350100] == "other"  # 福州: a capital, not sub-provincial
    assert (g == "sub_provincial").sum() == 15


def test_city_clusters():
    m = _members("city_cluster")
    assert m.groupby("group").size().to_dict() == {"BTH": 13, "PRD": 9, "YRD": 26}
    assert m["verified"].all() and not m["adcode"].duplicated().any()
    prov = m["adcode"] // 10000 * 10000
    assert set(prov[m["group"] == "BTH"]) == {110000, 120000, 130000}
    assert set(prov[m["group"] == "PRD"]) == {440000}
    assert set(prov[m["group"] == "YRD"]) == {310000, 320000, 330000, 340000}
    hebei = data.cities().query("province_adcode == 130000")["adcode"]
    assert len(hebei) == 11 and set(hebei) <= set(m.loc[m["group"] == "BTH", "adcode"])
    g = data.grouping("city_cluster")
    assert g[320500] == "YRD"  # 苏州
    assert g[441900] == "PRD"  # 东莞
    assert g[110100] == "BTH" and g[130600] == "BTH"  # 北京, 保定
    assert g[330300] == "other"  # 温州: in the 2019 outline's 27, not in the 2016 plan's 26
    assert g[410500] == "other"  # 安阳 (Henan)
    assert g.value_counts().to_dict() == {"other": 319, "YRD": 26, "BTH": 13, "PRD": 9}


def test_resource_based_cities():
    m = _members("resource_based")
    assert len(m) == 126 and (m["group"] == "resource_based").all()
    assert m["adcode"].notna().sum() == 125
    laiwu = m[m["adcode"].isna()]
    assert laiwu["listed_name"].tolist() == ["莱芜市"] and "济南" in laiwu["note"].iloc[0]
    types = _members("resource_type")
    assert types.groupby("group").size().to_dict() == {"declining": 24, "growing": 20, "mature": 66, "regenerating": 16}
    assert set(types["listed_name"]) == set(m["listed_name"])
    # verified: Henan (7), Yunnan (7) and Gansu (4) news reports, the three northeastern provinces (21)
    assert m["verified"].sum() == 39 and types["verified"].sum() == 22
    ok = m[m["verified"]].set_index("listed_name")
    assert {"三门峡市", "南阳市", "丽江市", "楚雄彝族自治州", "大庆市", "伊春市", "松原市", "金昌市"} <= set(ok.index)
    assert "UNVERIFIED" not in "".join(ok["verification"])
    assert (m.loc[~m["verified"], "verification"] == "UNVERIFIED").all()
    t = types.set_index("listed_name")
    assert t.loc["丽江市", ["group", "verified"]].tolist() == ["regenerating", True]
    assert t.loc["松原市", "verified"] == False and "conflicting" in t.loc["松原市", "note"]  # noqa: E712


def test_resource_grouping_and_unverified_entries():
    with pytest.warns(UserWarning, match=r"86 units listed in 'resource_based' are not verified"):
        g = data.grouping("resource_based")
    assert g.value_counts(dropna=False).to_dict() == {"non_resource": 242, np.nan: 86, "resource_based": 39}
    assert g[411200] == "resource_based"  # 三门峡, verified
    assert np.isnan(g[150600])  # 鄂尔多斯, typed from recollection: no group by default
    assert g[370100] == "non_resource"  # 济南 (莱芜 merged into it is not carried over)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        full = data.grouping("resource_based", include_unverified=True)
        stage = data.grouping("resource_type", include_unverified=True)
    assert full[150600] == "resource_based" and stage[150600] == "growing"  # 鄂尔多斯
    assert stage[440200] == "declining" and stage[130200] == "regenerating"  # 韶关, 唐山
    assert (full == "resource_based").sum() == 125
    assert stage.value_counts().to_dict() == {
        "non_resource": 242, "mature": 65, "declining": 24, "growing": 20, "regenerating": 16,
    }


def test_coastal_and_region_groupings_follow_cities():
    c = data.cities(include_county_level=True).set_index("adcode")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        coastal, region = data.grouping("coastal"), data.grouping("region")
    assert (coastal == c["coastal"].map({1: "coastal", 0: "inland"})).all()
    assert (region == c["region"]).all() and len(region) == 367
    assert coastal[data.cities()["adcode"]].eq("coastal").sum() == 55


def test_groupings_table_and_errors():
    t = data.groupings().set_index("name")
    assert list(t.index) == list(data.GROUPINGS)
    assert t.loc["city_cluster", ["groups", "n_listed", "n_unverified"]].tolist() == ["BTH, PRD, YRD, other", 48, 0]
    assert t.loc["resource_based", ["n_listed", "n_unverified"]].tolist() == [126, 87]
    assert t.loc["resource_type", ["n_listed", "n_unverified"]].tolist() == [126, 104]
    with pytest.raises(ValueError, match="did you mean 'city_cluster'"):
        data.grouping("city_clusters")
    with pytest.raises(ValueError, match="city_size_class"):
        data.grouping("size_class")
    with pytest.raises(ValueError, match="not a listed grouping"):
        data.grouping_members("coastal")


def test_city_groups_match_names_and_codes():
    out = data.city_groups(pd.Series(["苏州", "东莞市", "宁波", "北京市", "昆明"]), "city_cluster")
    assert out.tolist() == ["YRD", "PRD", "YRD", "BTH", "other"]
    pinyin = data.city_groups(pd.Series(["Ningbo", "Beijing", "Kunming"]), "sub_provincial")
    assert pinyin.tolist() == ["sub_provincial", "other", "other"]
    assert data.city_groups(pd.Series([320500, "441900000000"]), "city_cluster").tolist() == ["YRD", "PRD"]
    with pytest.raises(PanelError, match="'苏洲'.*build the group column yourself"):
        data.city_groups(pd.Series(["苏洲", "东莞"]), "city_cluster", column="city")
    with pytest.warns(UserWarning, match="1 of the 2 units of 'city' are listed in 'resource_based' only by unverified"):
        rb = data.city_groups(pd.Series(["鄂尔多斯", "三门峡"]), "resource_based", column="city")
    assert rb.isna().tolist() == [True, False]


# ---------------------------------------------------------------------------- size classes
def test_size_class_boundaries():
    x = [19.99, 20, 49.99, 50, 99.99, 100, 299.99, 300, 499.99, 500, 999.99, 1000, 2500]
    expected = ["small_II", "small_I", "small_I", "medium", "medium", "large_II", "large_II",
                "large_I", "large_I", "mega", "mega", "super_large", "super_large"]
    out = data.city_size_class(x, unit="10k persons")
    assert out.astype(str).tolist() == expected
    assert out.cat.ordered and list(out.cat.categories) == list(data.SIZE_CLASSES)
    persons = data.city_size_class(np.asarray(x) * 1e4, unit="persons")
    assert persons.astype(str).tolist() == expected
    broad = data.city_size_class(x, unit="10k persons", detailed=False)
    assert broad.astype(str).tolist()[:6] == ["small", "small", "small", "medium", "medium", "large"]
    assert list(broad.cat.categories) == ["small", "medium", "large", "mega", "super_large"]
    assert data.city_size_class(5_000_000, unit="persons") == "mega"
    s = pd.Series([80.0, np.nan], index=["a", "b"])
    got = data.city_size_class(s, unit="10k persons")
    assert list(got.index) == ["a", "b"] and got["a"] == "medium" and pd.isna(got["b"])


def test_size_class_unit_errors():
    with pytest.raises(ValueError, match="unit must be one of"):
        data.city_size_class([100], unit="thousands")
    with pytest.raises(TypeError):
        data.city_size_class([100])  # the unit is required
    with pytest.raises(ValueError, match="look like 10k persons"):
        data.city_size_class([120.0, 850.0], unit="persons")
    with pytest.raises(ValueError, match="look like persons"):
        data.city_size_class([1_200_000.0, 8_500_000.0], unit="10k persons")
    with pytest.raises(ValueError, match="non-negative"):
        data.city_size_class([100.0, -1.0], unit="10k persons")


# ---------------------------------------------------------------------------- heterogeneity
@pytest.fixture(scope="module")
def panel():
    return cm.simulate(seed=1).panel


def test_heterogeneity_by_city_cluster(panel):
    res = heterogeneity(panel, "lnci", "did", ["lnpgdp"], by="city_cluster", n_perm=0)
    assert res.groups.labels == ["BTH", "PRD", "YRD", "other"]
    counts = res.groups.units["group"].value_counts().to_dict()
    in_panel = data.grouping("city_cluster")[panel.df["city"].unique()].value_counts().to_dict()
    assert counts == in_panel == {"other": 249, "YRD": 26, "BTH": 13, "PRD": 9}
    assert any("bundled grouping 'city_cluster'" in n for n in res.notes)
    # the same analysis on a column built by hand
    hand = panel.assign(cluster=data.city_groups(panel.df["city"], "city_cluster").to_numpy())
    ref = heterogeneity(hand, "lnci", "did", ["lnpgdp"], by="cluster", split="category", n_perm=0)
    for g in res.groups.labels:
        assert res.estimate(g) == pytest.approx(ref.estimate(g), rel=1e-12)
        assert res.estimate(g, source="interacted") == pytest.approx(ref.estimate(g, source="interacted"), rel=1e-12)
    # and the subsample estimate is a separate twfe fit on the PRD cities
    prd = hand.subset((hand.df["cluster"] == "PRD").to_numpy())
    assert res.estimate("PRD") == pytest.approx(cm.twfe(prd, "lnci", "did", ["lnpgdp"]).coef("did"), rel=1e-10)


def test_heterogeneity_panel_column_wins_and_unverified_units_left_out(panel):
    res = heterogeneity(panel, "lnci", "did", by="coastal", split="category", n_perm=0, interaction=False)
    assert res.groups.labels == ["0", "1"]  # the panel's own coastal column (0/1), not the bundled labels
    with pytest.warns(UserWarning, match="only by unverified entries"):
        rb = heterogeneity(panel, "lnci", "did", by="resource_based", n_perm=0, interaction=False)
    units = rb.groups.units
    assert units["group"].isna().sum() == data.grouping("resource_based", include_unverified=True)[
        panel.df["city"].unique()].eq("resource_based").sum() - (units["group"] == "resource_based").sum()
    assert any("have no value of 'resource_based'" in n for n in rb.groups.notes)


def test_heterogeneity_by_size_class(panel):
    res = heterogeneity(panel, "lnci", "did", by="size_class", population="pop",
                        population_unit="10k persons", n_perm=0, interaction=False)
    pre = panel.df[panel.df["year"] < 2014].groupby("city")["pop"].mean()  # first adoption 2014
    expected = data.city_size_class(pre, unit="10k persons", detailed=False).astype(str)
    got = res.groups.units.set_index("city")["group"]
    assert (got[expected.index] == expected).all()
    assert set(res.groups.labels) == {"small", "medium", "large", "mega", "super_large"}
    with pytest.raises(ValueError, match="population_unit="):
        heterogeneity(panel, "lnci", "did", by="size_class", population="pop", n_perm=0)
    with pytest.raises(ValueError, match="only used with"):
        heterogeneity(panel, "lnci", "did", by="income", population="pop", n_perm=0)


def test_threshold_split(panel):
    mean = define_groups(panel, "income", split="mean", treat="did")
    fixed = define_groups(panel, "income", split=("threshold", mean.cutpoints[0]), treat="did")
    pd.testing.assert_frame_equal(mean.units, fixed.units)
    assert fixed.split == "threshold" and "fixed threshold" in fixed.describe()
    three = define_groups(panel, "pop", split=("threshold", [500, 100]), treat="did")
    assert three.labels == ["<= 100", "(100, 500]", "> 500"] and three.cutpoints == [100.0, 500.0]
    v = three.units.set_index("city")
    exact = v[v["value"] == v["value"].iloc[0]]  # a value exactly at a threshold goes low
    at = define_groups(panel, "pop", split=("threshold", float(exact["value"].iloc[0])), treat="did")
    assert at.units.set_index("city").loc[exact.index[0], "group"] == "low"
    res = heterogeneity(panel, "lnci", "did", by="pop", split=("threshold", 500), n_perm=0, interaction=False)
    assert res.groups.units["group"].value_counts().to_dict() == (v["value"] > 500).map({True: "high", False: "low"}).value_counts().to_dict()
    for bad in (("threshold",), ("cut", 1.0), ("threshold", [1.0, 1.0]), ("threshold", np.nan)):
        with pytest.raises(ValueError, match="threshold"):
            define_groups(panel, "pop", split=bad, treat="did")
    with pytest.raises(ValueError, match=r"split='threshold' needs its value"):
        define_groups(panel, "pop", split="threshold", treat="did")


# ---------------------------------------------------------------------------- study config
def test_study_config_accepts_bundled_groupings():
    from climetrics.study.config import check_against_data, parse_config

    base = {
        "data": {"path": "x.csv", "unit": "city", "time": "year"},
        "variables": {"outcome": "y", "treatment": "did"},
    }
    by = [
        {"column": "city_cluster"},
        {"column": "size_class", "population": "popp", "population_unit": "10k persons"},
        {"column": "pop", "split": "threshold", "threshold": 500},
        {"column": "pop", "split": "threshold"},
        {"column": "cluster_x"},
    ]
    cfg = parse_config({**base, "heterogeneity": {"by": by}})
    assert cfg["heterogeneity"]["by"][0]["split"] is None
    problems = check_against_data(cfg, ["city", "year", "y", "did", "pop"])
    assert problems == [
        "'heterogeneity.by[1].population': column 'popp' is not in the data (did you mean 'pop'?)",
        "'heterogeneity.by[3]': split = 'threshold' and threshold go together",
        "'heterogeneity.by[4].column': column 'cluster_x' is not in the data",
    ]


def test_study_heterogeneity_by_bundled_grouping(tmp_path):
    """A study whose data has no cluster column runs the heterogeneity section by city_cluster
    and by a fixed population threshold (other sections switched off)."""
    from climetrics.cli import main

    cm.simulate(seed=11).panel.df.drop(columns=["did"]).to_csv(tmp_path / "cities.csv", index=False)
    off = "\n".join(f"[{s}]\nenabled = false" for s in (
        "descriptives", "correlation", "baseline", "model_selection", "event_study", "robust_did",
        "robustness", "psm", "placebo", "mediation"))
    (tmp_path / "study.toml").write_text(f"""
[study]
output = "results"
[data]
path = "cities.csv"
unit = "city"
time = "year"
[variables]
outcome = "lnci"
treatment = "bbc"
controls = ["lnpgdp"]
[[prepare.policies]]
name = "broadband_china"
column = "bbc"
{off}
[heterogeneity]
n_perm = 0
[[heterogeneity.by]]
column = "city_cluster"
[[heterogeneity.by]]
column = "pop"
split = "threshold"
threshold = 500
""")
    assert main(["run", str(tmp_path / "study.toml")]) == 0
    table = pd.read_csv(tmp_path / "results" / "tables" / "heterogeneity_city_cluster.csv")
    assert [c for c in table.columns if "city_cluster:" in c] == [
        "city_cluster: BTH", "city_cluster: PRD", "city_cluster: YRD", "city_cluster: other"]
    pop = pd.read_csv(tmp_path / "results" / "tables" / "heterogeneity_pop.csv")
    assert {"pop: low", "pop: high"} <= set(pop.columns)

"""Tests of climetrics.data: bundled tables, policy calendars and treatment dummies."""

from __future__ import annotations

import importlib.util
import os
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from climetrics import data
from climetrics.errors import PanelError
from climetrics.panel import Panel

YEARS = [2013, 2014, 2015, 2016, 2017]


def _raw_calendar() -> pd.DataFrame:
    """The bundled policy_calendar.csv as shipped (one row per entry and mapped unit)."""
    with resources.files("climetrics.data").joinpath("policy_calendar.csv").open(encoding="utf-8") as fh:
        return pd.read_csv(fh, dtype={"adcode": "Int64"})


def _panel(units: list, column: str = "city") -> Panel:
    df = pd.DataFrame([(u, y) for u in units for y in YEARS], columns=[column, "year"])
    df["y"] = np.arange(len(df), dtype=float)
    return Panel(df, unit=column, time="year")


# ---------------------------------------------------------------------------- cities, provinces
def test_city_counts_by_region_and_type():
    pref, full = data.cities(), data.cities(include_county_level=True)
    assert len(pref) == 337 and len(full) == 367
    assert pref.groupby("region").size().to_dict() == {"Central": 82, "East": 88, "Northeast": 36, "West": 131}
    assert full.groupby("region").size().to_dict() == {"Central": 87, "East": 103, "Northeast": 36, "West": 141}
    assert (full["unit_type"] == "county_level_direct").sum() == 30
    assert "county_level_direct" not in set(pref["unit_type"])
    assert sorted(pref.loc[pref["unit_type"] == "municipality", "name"]) == ["上海市", "北京市", "天津市", "重庆市"]


def test_city_columns():
    c = data.cities(include_county_level=True).set_index("adcode")
    assert c.loc[320500, ["name", "name_en", "province", "province_en"]].tolist() == ["苏州市", "Suzhou", "江苏省", "Jiangsu"]
    assert c.loc[110100, "name_en"] == "Beijing"
    assert c.loc[222400, "name_en"] == "Yanbian"
    assert c.loc[150100, "province_en"] == "Inner Mongolia"
    assert c.loc[610100, ["name_en", "province_en"]].tolist() == ["Xi'an", "Shaanxi"]
    assert c.loc[140400, "province_en"] == "Shanxi"
    assert c.loc[540100, "province_en"] == "Tibet"
    assert c.loc[320500, "province_adcode"] == 320000
    assert (c.index // 10000 * 10000 == c["province_adcode"]).all()
    assert c[["lon", "lat", "area_km2"]].notna().all().all()
    assert set(c.loc[c["coord_source"] == "centroid", "name"]) == {"那曲市", "北屯市", "双河市", "可克达拉市", "昆玉市", "胡杨河市"}
    assert c.loc[110100, "coord_source"] == "seat" and c.loc[110100, "lon"] == pytest.approx(116.407394)
    assert data.cities()["coastal"].sum() == 55
    assert c.loc[330100, "coastal"] == 1 and c.loc[320500, "coastal"] == 0


def test_provinces():
    p = data.provinces().set_index("province_adcode")
    assert len(p) == 31
    assert p.loc[150000, ["name", "name_en", "short_name"]].tolist() == ["内蒙古自治区", "Inner Mongolia", "内蒙古"]
    assert p.loc[610000, "name_en"] == "Shaanxi" and p.loc[140000, "name_en"] == "Shanxi"
    assert p.groupby("region").size().to_dict() == {"Central": 6, "East": 10, "Northeast": 3, "West": 12}


def test_loaders_return_copies():
    c = data.cities()
    c.loc[0, "name"] = "changed"
    c.drop(columns="lon", inplace=True)
    again = data.cities()
    assert again.loc[0, "name"] == "北京市" and "lon" in again.columns
    cal = data.policy_calendar("broadband_china")
    cal["adoption_year"] = 0
    assert data.policy_calendar("broadband_china")["adoption_year"].min() == 2014


# ---------------------------------------------------------------------------- adjacency
def test_province_adjacency():
    once, sym = data.province_adjacency(symmetric=False), data.province_adjacency()
    assert len(once) == 68 and (once["adcode_a"] < once["adcode_b"]).all()
    pairs = set(zip(sym["adcode_a"], sym["adcode_b"], strict=True))
    assert len(sym) == 136 and all((b, a) in pairs for a, b in pairs)
    degree = sym.groupby("adcode_a").size()
    assert 460000 not in degree.index
    assert degree[150000] == 8 and degree[610000] == 8 and degree[510000] == 7
    assert (320000, 410000) not in pairs
    assert (320000, 370000) in pairs


def test_city_adjacency():
    sym = data.city_adjacency()
    pairs = set(zip(sym["adcode_a"], sym["adcode_b"], strict=True))
    assert all((b, a) in pairs for a, b in pairs)
    assert (sym["adcode_a"] != sym["adcode_b"]).all()
    assert (110100, 130600) in pairs and (130600, 110100) in pairs  # Beijing-Baoding
    assert (320500, 310100) in pairs  # Suzhou-Shanghai
    assert (310100, 330900) in pairs  # Shanghai-Zhoushan across the sea, 3.3 km
    km = sym.set_index(["adcode_a", "adcode_b"])["shared_border_km"]
    assert km[(110100, 130600)] == pytest.approx(219.1)
    full = data.city_adjacency(symmetric=False, include_county_level=True)
    assert len(full) == 967 and (full["adcode_a"] < full["adcode_b"]).all()
    assert 419001 in set(full["adcode_a"]) | set(full["adcode_b"])  # 济源市
    assert 419001 not in set(sym["adcode_a"])
    assert len(sym) == 2 * len(data.city_adjacency(symmetric=False))


# ---------------------------------------------------------------------------- policy calendars
def test_policies_table():
    p = data.policies().set_index("policy")
    assert set(p.index) == set(_raw_calendar()["policy"]) == set(data.POLICY_DESCRIPTIONS)
    assert p.loc["broadband_china", "batch_years"] == "2014, 2015, 2016"
    assert p.loc["broadband_china", ["n_entries", "n_units", "n_unverified"]].tolist() == [117, 114, 0]
    assert p.loc["cbec_pilot_zone", ["n_entries", "n_units", "n_unverified"]].tolist() == [165, 163, 43]
    assert p.loc["low_carbon_pilot", "n_province_level"] == 6


def test_raw_calendar_mapping():
    raw = _raw_calendar()
    bb = raw[raw["policy"] == "broadband_china"]
    entries = bb.drop_duplicates(["batch_year", "listed_name"])
    assert entries.groupby("batch_year").size().to_dict() == {2014: 39, 2015: 39, 2016: 39}
    cluster = bb[bb["listed_name"] == "长株潭城市群"]
    assert sorted(cluster["name"]) == ["株洲市", "湘潭市", "长沙市"]
    assert set(cluster["mapping"]) == {"cluster_member"} and set(cluster["batch_year"]) == {2014}
    ks = bb[bb["listed_name"] == "昆山市"].iloc[0]
    assert (ks["adcode"], ks["mapping"]) == (320500, "county_level_to_parent")
    assert "昆山市 is a county-level city of 苏州市" in ks["mapping_note"]
    assert not (raw["verified"] & (raw["mapping"] == "unmatched")).any()
    assert (raw["mapping"] != "unmatched").all()
    assert (raw["verified"] == ~raw["verification"].str.contains("UNVERIFIED")).all()
    by_name = raw.drop_duplicates("listed_name").set_index("listed_name")
    expected = {
        "永城市": 411400, "义乌市": 330700, "珲春市": 222400, "延吉市": 222400, "绥芬河市": 231000,
        "满洲里市": 150700, "同江市": 230800, "逊克县": 231100, "共青城市": 360400,
        "长阳土家族自治县": 420500, "敦煌市": 620900, "伊宁市": 654000, "和田市": 653200,
        "昌吉市": 652300, "阿拉山口市": 652700, "重庆市江津区": 500000, "北京市海淀区": 110100,
        "福州市（含平潭）": 350100, "雄安新区": 130600, "普洱市思茅区": 530800,
        "阿拉尔市": 659002, "第一师阿拉尔市": 659002,
    }
    assert {k: by_name.loc[k, "adcode"] for k in expected} == expected
    assert by_name.loc["重庆市荣昌区", "mapping"] == "district_to_municipality"
    assert by_name.loc["阿拉尔市", "mapping"] == "direct"
    prov = raw[raw["mapping"] == "province_level"]
    assert sorted(prov["listed_name"]) == sorted(["广东省", "辽宁省", "湖北省", "陕西省", "云南省", "海南省"])
    assert prov["adcode"].isna().all() and set(prov["province_adcode"]) == {440000, 210000, 420000, 610000, 530000, 460000}


def test_broadband_calendar():
    cal = data.policy_calendar("broadband_china").set_index("adcode")
    # 2014: 39 entries, the cluster adds 2 cities, 昆山 repeats 苏州, 阿拉尔 is county-level -> 39
    # 2015: 39 entries, two Chongqing districts make one unit -> 38
    # 2016: 39 entries, two more Chongqing districts (already 2015), 商丘 (via 永城 2015) -> 36
    assert len(cal) == 113
    assert cal["adoption_year"].value_counts().to_dict() == {2014: 39, 2015: 38, 2016: 36}
    assert cal.loc[[430100, 430200, 430300], "adoption_year"].tolist() == [2014] * 3
    assert cal.loc[320500, "listed_names"] == "苏州市;昆山市"
    assert cal.loc[320500, "mapping"] == "direct;county_level_to_parent"
    assert cal.loc[411400, ["adoption_year", "batch_years", "listed_names"]].tolist() == [2015, "2015;2016", "永城市;商丘市"]
    assert cal.loc[500000, ["adoption_year", "mapping"]].tolist() == [2015, "district_to_municipality"]
    assert "荣昌县" in cal.loc[500000, "notes"]
    assert 530100 not in cal.index and 659002 not in cal.index
    full = data.policy_calendar("broadband_china", level="all")
    assert len(full) == 114 and 659002 in set(full["adcode"])
    assert list(full.columns) == [
        "adcode", "name", "name_en", "province", "adoption_year", "batch_years",
        "listed_names", "mapping", "notes", "verified",
    ]


def test_other_policy_counts():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(data.policy_calendar("innovative_city_pilot")) == 77  # 61 - 石河子 + 17
        assert len(data.policy_calendar("low_carbon_pilot", expand_provinces=False)) == 78  # 8 + 27 + 43
        # 78 prefecture units in the six provinces, 14 of them also listed as cities
        assert len(data.policy_calendar("low_carbon_pilot", expand_provinces=True)) == 142
        assert len(data.policy_calendar("cbec_pilot_zone", include_unverified=True)) == 163


def test_cbec_unverified_rows():
    with pytest.warns(UserWarning, match=r"43 unverified rows .*include_unverified=True"):
        cal = data.policy_calendar("cbec_pilot_zone")
    assert len(cal) == 121 and cal["adoption_year"].max() == 2022 and cal["verified"].all()
    assert 321000 not in set(cal["adcode"])  # 扬州, only in the unverified 2022-01 list
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        full = data.policy_calendar("cbec_pilot_zone", include_unverified=True).set_index("adcode")
    assert full.loc[321000, ["adoption_year", "verified"]].tolist() == [2022, False]
    assert "recollection" in full.loc[321000, "notes"]
    assert full.loc[330700, ["adoption_year", "listed_names"]].tolist() == [2018, "义乌市;金华市"]


def test_low_carbon_province_pilots():
    with pytest.warns(UserWarning, match="province-level entries"):
        cal = data.policy_calendar("low_carbon_pilot").set_index("adcode")
    assert cal.loc[440100, "adoption_year"] == 2012  # 广州 as a city
    exp = data.policy_calendar("low_carbon_pilot", expand_provinces=True).set_index("adcode")
    assert exp.loc[440100, ["adoption_year", "mapping"]].tolist() == [2010, "province_level"]
    assert exp.loc[440300, "adoption_year"] == 2010  # 深圳, listed and in 广东省
    assert exp.loc[460200, "adoption_year"] == 2012  # 三亚 via 海南省, listed itself in 2017
    assert exp.loc[210100, "adoption_year"] == 2010
    assert 469030 not in exp.index  # 琼中 is county-level
    assert 469030 in set(data.policy_calendar("low_carbon_pilot", expand_provinces=False, level="all")["adcode"])


def test_innovative_calendar_years():
    """MOST's first batch of 2010 (20 cities and districts, gov.cn 2010-01-11) dates its members;
    the other members of the 2016 cumulative list keep 2016 as an upper bound."""
    cal = data.policy_calendar("innovative_city_pilot").set_index("adcode")
    assert cal["adoption_year"].value_counts().to_dict() == {2016: 40, 2010: 20, 2018: 17}
    # 北京 via 海淀区, 天津 via 滨海新区, 上海 via 杨浦区, 重庆 via 沙坪坝区, 唐山, 兰州
    assert cal.loc[[110100, 120100, 310100, 500000, 130200, 620100], "adoption_year"].tolist() == [2010] * 6
    assert cal.loc[110100, "batch_years"] == "2010;2016"
    assert "upper bound" not in cal.loc[110100, "notes"]
    assert cal.loc[130100, "adoption_year"] == 2016 and "upper bound" in cal.loc[130100, "notes"]  # 石家庄
    assert cal.loc[440300, "adoption_year"] == 2016  # 深圳: its 2008 NDRC designation is not sourced
    assert "upper bound" not in cal.loc[220200, "notes"]  # 吉林市, 2018
    raw = _raw_calendar()
    batch = raw[(raw["policy"] == "innovative_city_pilot") & (raw["batch_year"] == 2010)]
    assert batch["listed_name"].nunique() == 20 and batch["verified"].all()
    assert set(batch["adcode"]) <= set(raw.loc[(raw["policy"] == "innovative_city_pilot") & (raw["batch_year"] == 2016), "adcode"])


def test_smart_city_is_not_bundled():
    with pytest.raises(ValueError, match=r"smart_city.*建办科〔2013〕22号.*not bundled.*calendar="):
        data.policy_calendar("smart_city")
    with pytest.raises(ValueError, match="not bundled"):
        data.policy_dummies(_panel([320500]), "smart_city")


def test_policy_calendar_errors():
    with pytest.raises(ValueError, match="did you mean 'broadband_china'"):
        data.policy_calendar("broadband")
    with pytest.raises(ValueError, match="level"):
        data.policy_calendar("broadband_china", level="county")


def test_unmatched_rows_are_reported(monkeypatch):
    real = data._read

    def fake(fname):
        df = real(fname)
        if fname != "policy_calendar.csv":
            return df
        extra = df.iloc[[0]].assign(listed_name="某某市", adcode=pd.NA, mapping="unmatched")
        return pd.concat([df, extra], ignore_index=True)

    monkeypatch.setattr(data, "_read", fake)
    with pytest.warns(UserWarning, match="某某市"):
        assert len(data.policy_calendar("broadband_china")) == 113


# ---------------------------------------------------------------------------- policy_dummies
EXPECTED = {  # broadband_china dummy by year 2013-2017
    320500: [0, 1, 1, 1, 1],  # 苏州 2014
    411400: [0, 0, 1, 1, 1],  # 商丘 2015 via 永城
    500000: [0, 0, 1, 1, 1],  # 重庆 2015 via districts
    530100: [0, 0, 0, 0, 0],  # 昆明 never
}


def _broadband(panel: Panel, **kw) -> Panel:
    with pytest.warns(UserWarning, match="not in the panel"):
        return data.policy_dummies(panel, "broadband_china", **kw)


@pytest.mark.parametrize(
    ("units", "codes"),
    [
        ([320500, 411400, 500000, 530100], [320500, 411400, 500000, 530100]),
        (["320500000000", "411400000000", "500000000000", "530100000000"], [320500, 411400, 500000, 530100]),
        (["苏州市", "商丘", "重庆", "昆明市"], [320500, 411400, 500000, 530100]),
        (["shangqiu", "CHONGQING", "Kunming"], [411400, 500000, 530100]),
    ],
)
def test_policy_dummies_values(units, codes):
    panel = _panel(units)
    before = panel.to_frame()
    out = _broadband(panel)
    pd.testing.assert_frame_equal(panel.df, before)
    assert "broadband_china" not in panel.columns
    assert out.df["y"].tolist() == panel.df["y"].tolist()
    for unit, code in zip(units, codes, strict=True):
        rows = out.df[out.df["city"] == unit].sort_values("year")
        expected = EXPECTED[code]
        assert rows["broadband_china"].tolist() == expected, unit
        assert (rows["broadband_china_treat"] == int(any(expected))).all()
        first = YEARS[expected.index(1)] if any(expected) else np.nan
        np.testing.assert_array_equal(rows["broadband_china_year"], [first] * len(YEARS))


def test_policy_dummies_ambiguous_english_name():
    with pytest.raises(PanelError, match=r"'Suzhou' could be 苏州市 \(320500, Jiangsu\) or 宿州市 \(341300, Anhui\)"):
        data.policy_dummies(_panel(["Suzhou", "Kunming"]), "broadband_china")
    with pytest.raises(PanelError, match="'Taizhou' could be"):
        data.policy_dummies(_panel(["Taizhou"]), "broadband_china", unit_key="name_en")


def test_policy_dummies_name_and_keys():
    panel = _panel([320500, 530100])
    out = _broadband(panel, name="bb", unit_key="adcode")
    assert {"bb", "bb_treat", "bb_year"} <= set(out.columns)
    assert out.df.loc[out.df["city"] == 320500, "bb"].tolist() == EXPECTED[320500]
    with pytest.raises(PanelError, match="already has column"):
        data.policy_dummies(out, "broadband_china", name="bb")
    with pytest.raises(PanelError, match="unit_key"):
        data.policy_dummies(panel, "broadband_china", unit_key="code")
    with pytest.raises(PanelError, match="needs your own calendar"):
        data.policy_dummies(panel, "broadband_china", unit_key="exact")
    with pytest.raises(ValueError, match="did you mean 'cbec_pilot_zone'"):
        data.policy_dummies(panel, "cbec_pilot")


def test_policy_dummies_bad_units():
    with pytest.raises(PanelError, match="'苏洲市' \\(did you mean '苏州市'\\?\\)"):
        data.policy_dummies(_panel(["苏洲市", "昆明"]), "broadband_china")
    with pytest.raises(PanelError, match="'Kunmin' \\(did you mean 'Kunming'\\?\\)"):
        data.policy_dummies(_panel(["Kunmin", "Hefei"]), "broadband_china")
    with pytest.raises(PanelError, match="371200"):  # 莱芜, merged into 济南 in 2019
        data.policy_dummies(_panel([371200, 370100]), "broadband_china")
    with pytest.raises(PanelError, match="'苏州', '苏州市' of 'city' all refer to 苏州市 \\(320500\\)"):
        data.policy_dummies(_panel(["苏州", "苏州市"]), "broadband_china")


def test_policy_dummies_county_level_units_in_panel():
    out = _broadband(_panel([659002, 530100]))  # 阿拉尔 (2014) is kept when the panel has it
    assert out.df.loc[out.df["city"] == 659002, "broadband_china"].tolist() == [0, 1, 1, 1, 1]


def test_policy_dummies_user_calendar():
    panel = _panel(["苏州", "商丘", "昆明"])
    smart = pd.DataFrame({"city": ["苏州市", "苏州", "昆明市", "宿州市"], "year": [2015, 2013, 2016, 2014]})
    with pytest.warns(UserWarning, match=r"1 units treated by 'smart_city' are not in the panel: 宿州市 \(341300\)"):
        out = data.policy_dummies(panel, "smart_city", calendar=smart)
    df = out.df.set_index(["city", "year"])
    assert df.xs("苏州")["smart_city"].tolist() == [1, 1, 1, 1, 1]  # earliest year 2013
    assert df.xs("昆明")["smart_city"].tolist() == [0, 0, 0, 1, 1]
    assert df.xs("商丘")["smart_city"].tolist() == [0] * 5
    assert df.xs("商丘")["smart_city_year"].isna().all() and (df.xs("商丘")["smart_city_treat"] == 0).all()
    assert df.xs("昆明")["smart_city_year"].iloc[0] == 2016
    renamed = smart.rename(columns={"year": "adoption_year"})
    with pytest.warns(UserWarning, match="not in the panel"):
        again = data.policy_dummies(panel, "smart_city", calendar=renamed, name="sc")
    assert again.df["sc"].tolist() == out.df["smart_city"].tolist()
    with pytest.raises(PanelError, match="'city'.*'adoption_year' \\(or 'year'\\)"):
        data.policy_dummies(panel, "smart_city", calendar=smart.rename(columns={"city": "unit"}))
    with pytest.raises(PanelError, match="integer years"):
        data.policy_dummies(panel, "smart_city", calendar=smart.assign(year="2015a"))
    with pytest.raises(PanelError, match="calendar values"):
        data.policy_dummies(panel, "smart_city", calendar=smart.assign(city=["海淀区", "苏州", "昆明", "宿州"]))


def test_policy_dummies_exact_calendar_for_any_units():
    panel = _panel(["广东省", "浙江省"], column="province")
    cal = pd.DataFrame({"province": ["广东省"], "adoption_year": [2015]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = data.policy_dummies(panel, "some_policy", unit_key="exact", calendar=cal)
    assert out.df.groupby("province")["some_policy"].sum().to_dict() == {"广东省": 3, "浙江省": 0}
    with pytest.raises(PanelError, match="unit_key='exact'"):
        data.policy_dummies(panel, "some_policy", calendar=cal)


def test_policy_dummies_for_firms_by_their_city():
    """Firm-year panel (seed 000's listed firms): each row takes its city's adoption year;
    firm f3 moves from Kunming (never treated) to Suzhou (2014) in 2016 and is treated from
    then on. The city column is named in errors."""
    rows = []
    for y in YEARS:
        rows += [("f1", y, "苏州市"), ("f2", y, "商丘市"), ("f3", y, "昆明市" if y < 2016 else "苏州市")]
    panel = Panel(pd.DataFrame(rows, columns=["firm", "year", "city"]), unit="firm", time="year")
    out = _broadband(panel, city="city")
    got = out.df.pivot(index="year", columns="firm", values="broadband_china")
    assert got["f1"].tolist() == EXPECTED[320500]
    assert got["f2"].tolist() == EXPECTED[411400]
    assert got["f3"].tolist() == [0, 0, 0, 1, 1]
    assert out.df.loc[out.df["firm"] == "f3", "broadband_china_year"].tolist()[-1] == 2014
    with pytest.raises(PanelError, match=r"city column 'cty' not in the panel \(did you mean 'city'\?\)"):
        data.policy_dummies(panel, "broadband_china", city="cty")
    gap = panel.to_frame()
    gap.loc[4, "city"] = None
    with pytest.raises(PanelError, match=r"'city' is missing for firm 'f1', year 2017 \(1 rows\)"):
        data.policy_dummies(Panel(gap, "firm", "year"), "broadband_china", city="city")
    cal = pd.DataFrame({"city": ["昆明市"], "adoption_year": [2014]})
    own = data.policy_dummies(panel, "own", city="city", calendar=cal)
    assert own.df.pivot(index="year", columns="firm", values="own")["f3"].tolist() == [0, 1, 1, 0, 0]


def test_bundled_files_match_a_fresh_build(tmp_path):
    """The committed CSVs are what tools/build_data.py writes (needs pypinyin and the raw data).

    CI has ../shared beside the clone and installs the test extras, so there a missing input
    is a failure, not a skip."""
    repo = Path(__file__).resolve().parents[1]
    raw = repo.parent / "shared" / "data" / "raw"
    if os.environ.get("CI"):
        import pypinyin  # noqa: F401 - the test extras install it

        assert raw.is_dir(), f"raw data not found at {raw}"
    pytest.importorskip("pypinyin")
    if not raw.is_dir():
        pytest.skip(f"raw data not found at {raw}")
    spec = importlib.util.spec_from_file_location("build_data", repo / "tools" / "build_data.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    assert build.main([str(raw), "--out", str(tmp_path)]) == 0
    bundled = resources.files("climetrics.data")
    for fname in sorted(p.name for p in tmp_path.glob("*.csv")):
        assert (tmp_path / fname).read_bytes() == bundled.joinpath(fname).read_bytes(), fname
    assert len(list(tmp_path.glob("*.csv"))) == 6

"""Build the CSV files bundled in ``climetrics.data`` from the raw sources.

Run by developers, not at install time; the generated CSVs are committed::

    python tools/build_data.py [RAW_DIR]

``RAW_DIR`` defaults to ``../shared/data/raw`` relative to the repository root and must hold
the files described in its ``SOURCES.md``. Lists compiled in this repository are read from
``tools/facts/``: ``policy_pilot_lists_extra.csv`` (more policy batches, same columns as the
shared ``policy_pilot_lists_compiled.csv``) and ``city_groupings_compiled.csv`` (named city
groupings: sub-provincial cities, city clusters, resource-based cities and their types). English names are romanised with ``pypinyin``,
which is needed for this build only (``pip install pypinyin``), never at run time.

The script prints every policy-list entry it cannot map to a city-level unit and exits with
status 1 if a verified entry is among them.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pypinyin import Style, lazy_pinyin

REPO = Path(__file__).resolve().parents[1]
DEFAULT_RAW = REPO.parent / "shared" / "data" / "raw"
OUT_DIR = REPO / "src" / "climetrics" / "data"
FACTS_DIR = REPO / "tools" / "facts"

# Conventional English names; pinyin cannot tell Shanxi from Shaanxi.
PROVINCE_EN = {
    110000: "Beijing", 120000: "Tianjin", 130000: "Hebei", 140000: "Shanxi",
    150000: "Inner Mongolia", 210000: "Liaoning", 220000: "Jilin", 230000: "Heilongjiang",
    310000: "Shanghai", 320000: "Jiangsu", 330000: "Zhejiang", 340000: "Anhui",
    350000: "Fujian", 360000: "Jiangxi", 370000: "Shandong", 410000: "Henan",
    420000: "Hubei", 430000: "Hunan", 440000: "Guangdong", 450000: "Guangxi",
    460000: "Hainan", 500000: "Chongqing", 510000: "Sichuan", 520000: "Guizhou",
    530000: "Yunnan", 540000: "Tibet", 610000: "Shaanxi", 620000: "Gansu",
    630000: "Qinghai", 640000: "Ningxia", 650000: "Xinjiang",
}

# Administrative suffixes and ethnic designations removed to get a unit's short name,
# e.g. 延边朝鲜族自治州 -> 延边, 大兴安岭地区 -> 大兴安岭, 苏州市 -> 苏州.
SUFFIXES = ("自治州", "自治县", "地区", "林区", "盟", "市", "县")
ETHNIC = (
    "朝鲜族", "土家族", "苗族", "黎族", "藏族", "羌族", "彝族", "布依族", "侗族", "哈尼族",
    "壮族", "傣族", "白族", "景颇族", "傈僳族", "回族", "蒙古族", "蒙古", "柯尔克孜", "哈萨克",
)

# Readings that pypinyin gets wrong for these place names (keyed by short name).
PINYIN_FIXES = {
    "长治": "Changzhi", "朝阳": "Chaoyang", "漯河": "Luohe", "锡林郭勒": "Xilinguole",
    "昌都": "Changdu", "克孜勒苏": "Kezilesu", "阿勒泰": "Aletai",
}

# Policy-list entries that name a group of cities rather than one unit.
CLUSTERS = {"长株潭城市群": ("长沙市", "株洲市", "湘潭市")}
# Entries without an adcode of their own: (unit mapped to, explanation).
NEW_AREAS = {
    "雄安新区": (
        "保定市",
        "雄安新区 is a state-level new area formed from 雄县, 容城县 and 安新县 of 保定市; "
        "mapped to 保定市",
    ),
}
# Historical remarks added to the mapping note of particular entries.
EXTRA_NOTES = {"重庆市荣昌区": "荣昌 was still 荣昌县 when designated (a district since 2015)"}

CAVEATS = {
    ("innovative_city_pilot", 2016): (
        "batch_year 2016 is the year MOST published the cumulative list of 61 pilots; the "
        "actual approval years (2008-2013) are not sourced except for MOST's first batch of "
        "2010, so for this unit 2016 is an upper bound"
    ),
    ("low_carbon_pilot", 2010): "decision date and document number recalled, not sourced",
    ("low_carbon_pilot", 2012): "decision date and document number recalled, not sourced",
}
UNVERIFIED_CAVEAT = "name typed from recollection, not checked against the official document"

COUNTY_KIND = {"市": "county-level city", "区": "district", "县": "county", "旗": "banner"}


def short_name(name: str) -> str:
    """Strip the administrative suffix and ethnic designations: 延边朝鲜族自治州 -> 延边."""
    for suffix in SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            name = name[: -len(suffix)]
            break
    stripped = True
    while stripped:
        stripped = False
        for eth in ETHNIC:
            if name.endswith(eth) and len(name) > len(eth) + 1:
                name, stripped = name[: -len(eth)], True
    return name


def to_pinyin(name: str) -> str:
    """Title-case pinyin with the apostrophe before a/o/e syllables: 西安 -> Xi'an."""
    if name in PINYIN_FIXES:
        return PINYIN_FIXES[name]
    syllables = lazy_pinyin(name, style=Style.NORMAL, errors="exception", v_to_u=True)
    out = syllables[0]
    for syl in syllables[1:]:
        out += ("'" if syl[0] in "aoe" else "") + syl
    return out.capitalize()


def build_cities(raw: pd.DataFrame) -> pd.DataFrame:
    """The 367 city-level units with English names, seat coordinates and region."""
    df = raw.copy()
    df["province_adcode"] = df["adcode"] // 10000 * 10000
    unknown = set(df["province_adcode"]) - set(PROVINCE_EN)
    if unknown:
        raise SystemExit(f"no English name for province adcodes {sorted(unknown)}")
    df["short_name"] = df["name"].map(short_name)
    stale = set(PINYIN_FIXES) - set(df["short_name"])
    if stale:
        raise SystemExit(f"PINYIN_FIXES names no city: {sorted(stale)}")
    df["name_en"] = df["short_name"].map(to_pinyin)
    df["province_en"] = df["province_adcode"].map(PROVINCE_EN)
    has_seat = df["seat_lon"].notna() & df["seat_lat"].notna()
    df["lon"] = df["seat_lon"].where(has_seat, df["centroid_lon"])
    df["lat"] = df["seat_lat"].where(has_seat, df["centroid_lat"])
    df["coord_source"] = has_seat.map({True: "seat", False: "centroid"})
    df = df.rename(columns={"region4": "region"})
    cols = [
        "adcode", "name", "short_name", "name_en", "province", "province_en", "province_adcode",
        "unit_type", "region", "coastal", "lon", "lat", "coord_source", "area_km2",
    ]
    df = df[cols].sort_values("adcode").reset_index(drop=True)
    for col in ("name", "short_name"):
        dup = df[col][df[col].duplicated()]
        if not dup.empty:
            raise SystemExit(f"duplicated {col} among city units: {list(dup)}")
    return df


def build_provinces(cities: pd.DataFrame, raw: pd.DataFrame) -> pd.DataFrame:
    """The 31 mainland provinces with English and short names and region."""
    short = raw.assign(province_adcode=raw["adcode"] // 10000 * 10000)
    short = short.groupby("province_adcode")["province_short"].first()
    prov = (
        cities.groupby("province_adcode")
        .agg(name=("province", "first"), name_en=("province_en", "first"), region=("region", "first"))
        .reset_index()
    )
    prov.insert(3, "short_name", prov["province_adcode"].map(short))
    return prov


def build_adjacency(raw: pd.DataFrame, extra: list[str]) -> pd.DataFrame:
    """Pairs stored once with adcode_a < adcode_b, sorted."""
    raw = raw.rename(columns={"province_a": "name_a", "province_b": "name_b"})
    keep = raw["adcode_a"] < raw["adcode_b"]
    out = pd.DataFrame({
        "adcode_a": raw["adcode_a"].where(keep, raw["adcode_b"]),
        "name_a": raw["name_a"].where(keep, raw["name_b"]),
        "adcode_b": raw["adcode_b"].where(keep, raw["adcode_a"]),
        "name_b": raw["name_b"].where(keep, raw["name_a"]),
        **{col: raw[col] for col in extra},
    }).drop_duplicates(["adcode_a", "adcode_b"])
    if (out["adcode_a"] == out["adcode_b"]).any():
        raise SystemExit("adjacency contains self-pairs")
    return out.sort_values(["adcode_a", "adcode_b"]).reset_index(drop=True)


@dataclass
class Gazetteer:
    """Lookups used to map listed names to city-level units."""

    cities: pd.DataFrame
    county: pd.DataFrame  # cpca county-level units: code6, name

    @classmethod
    def from_raw(cls, cities: pd.DataFrame, cpca: pd.DataFrame) -> Gazetteer:
        """Keep the county-level rows (XXYYZZ000000 with ZZ != 00) of the cpca table."""
        code = cpca["adcode"].astype(str)
        is_county = code.str[6:].eq("000000") & ~code.str[4:6].eq("00") & cpca["name"].ne("市辖区")
        county = pd.DataFrame({"code6": code[is_county].str[:6].astype(int), "name": cpca["name"][is_county]})
        return cls(cities.set_index("name", drop=False), county.reset_index(drop=True))

    def unit(self, name: str) -> pd.Series:
        """The city row named ``name``."""
        return self.cities.loc[name]

    def parent_of(self, code6: int) -> pd.Series | None:
        """The city-level unit containing county-level unit ``code6`` (None if not bundled)."""
        prov = code6 // 10000 * 10000
        munis = self.cities[(self.cities["province_adcode"] == prov) & (self.cities["unit_type"] == "municipality")]
        if not munis.empty:
            return munis.iloc[0]
        hit = self.cities[self.cities["adcode"] == code6 // 100 * 100]
        return None if hit.empty else hit.iloc[0]


def _row(unit: pd.Series, mapping: str, note: str) -> dict:
    """A calendar row for city ``unit``."""
    return {
        "adcode": int(unit["adcode"]),
        "province_adcode": int(unit["province_adcode"]),
        "name": unit["name"],
        "mapping": mapping,
        "mapping_note": note,
    }


def _county_note(county: str, parent: pd.Series) -> tuple[str, str]:
    """(mapping, note) for a county-level unit mapped to its parent."""
    if parent["unit_type"] == "municipality":
        return (
            "district_to_municipality",
            f"{county} is a district of the municipality {parent['name']}; mapped to the whole municipality",
        )
    kind = COUNTY_KIND.get(county[-1], "county-level unit")
    return "county_level_to_parent", f"{county} is a {kind} of {parent['name']}; mapped to its parent prefecture"


def _clean(listed: str) -> tuple[str, list[str]]:
    """Remove annotations (full-width brackets) and XPCC division prefixes; return remarks."""
    notes = []
    m = re.fullmatch(r"(.+?)[（(](.+)[）)]", listed)
    if m:
        listed = m.group(1)
        notes.append(f"listed as '{m.group(0)}'; the annotation '{m.group(2)}' is dropped")
    m = re.fullmatch(r"(第[一二三四五六七八九十]+师)(.+)", listed)
    if m:
        listed = m.group(2)
        notes.append(f"listed with its XPCC division {m.group(1)}")
    return listed, notes


def _resolve_county(name: str, gaz: Gazetteer, within: pd.Series | None = None) -> list[dict]:
    """Map a county-level name to its parent unit via the cpca adcode (XXYYZZ -> XXYY00)."""
    codes = gaz.county.loc[gaz.county["name"] == name, "code6"]
    parents = {code: gaz.parent_of(code) for code in codes}
    parents = {
        c: p for c, p in parents.items()
        if p is not None and (within is None or p["adcode"] == within["adcode"])
    }
    if len(parents) != 1:
        return []
    (code, parent), = parents.items()
    mapping, note = _county_note(name, parent)
    return [_row(parent, mapping, f"{note} (county adcode {code})")]


def map_entry(listed: str, gaz: Gazetteer, provinces: pd.DataFrame) -> list[dict]:
    """Map one listed name to city-level units; an empty list means unmatched."""
    name, notes = _clean(listed)
    rows: list[dict] = []
    if name in CLUSTERS:
        members = CLUSTERS[name]
        note = f"{name} is a city cluster of {', '.join(members)}; each member city is treated"
        rows = [_row(gaz.unit(m), "cluster_member", note) for m in members]
    elif name in NEW_AREAS:
        target, note = NEW_AREAS[name]
        rows = [_row(gaz.unit(target), "county_level_to_parent", note)]
    elif name in gaz.cities.index:
        unit = gaz.unit(name)
        note = ""
        if unit["unit_type"] == "county_level_direct":
            note = (
                f"{name} is a county-level unit administered directly by {unit['province']}, "
                "not a prefecture; level='prefecture' drops it"
            )
        rows = [_row(unit, "direct", note)]
    elif name in set(provinces["name"]):
        prov = provinces[provinces["name"] == name].iloc[0]
        rows = [{
            "adcode": pd.NA, "province_adcode": int(prov["province_adcode"]), "name": name,
            "mapping": "province_level",
            "mapping_note": f"{name} is designated as a whole province; expand_provinces=True treats all its cities",
        }]
    else:
        rows = _resolve_composite(name, gaz) or _resolve_county(name, gaz)
    extra = notes + ([EXTRA_NOTES[listed]] if listed in EXTRA_NOTES else [])
    for row in rows:
        row["mapping_note"] = "; ".join([n for n in [row["mapping_note"], *extra] if n])
    return rows


def _resolve_composite(name: str, gaz: Gazetteer) -> list[dict]:
    """Names such as 重庆市江津区 or 普洱市思茅区: a city name followed by one of its counties."""
    for city in gaz.cities.index:
        if name.startswith(city) and len(name) > len(city):
            return _resolve_county(name[len(city):], gaz, within=gaz.unit(city))
    return []


def build_policy_calendar(raw: pd.DataFrame, gaz: Gazetteer, provinces: pd.DataFrame) -> pd.DataFrame:
    """One row per (policy, listed entry, mapped unit); unmatched entries keep one row."""
    out = []
    for rec in raw.to_dict("records"):
        units = map_entry(rec["listed_name"], gaz, provinces) or [{
            "adcode": pd.NA, "province_adcode": pd.NA, "name": pd.NA, "mapping": "unmatched",
            "mapping_note": "no city, province or uniquely named county-level unit has this name",
        }]
        verified = "UNVERIFIED" not in str(rec["verification"])
        caveats = [CAVEATS.get((rec["policy"], rec["batch_year"]), "")]
        caveats.append("" if verified else UNVERIFIED_CAVEAT)
        for unit in units:
            out.append({
                **{k: rec[k] for k in ("policy", "batch_year", "decision_date", "document", "listed_name")},
                **unit,
                "caveat": "; ".join(c for c in caveats if c),
                "verification": rec["verification"],
                "verified": verified,
                "source": rec["source"],
            })
    df = pd.DataFrame(out)
    for col in ("adcode", "province_adcode"):
        df[col] = df[col].astype("Int64")
    return df


def build_groupings(raw: pd.DataFrame, gaz: Gazetteer) -> pd.DataFrame:
    """One row per (grouping, listed city), with the unit's adcode; names must match exactly.

    An entry naming no bundled unit (莱芜市, merged into 济南市 in 2019) keeps an empty adcode
    and must carry a note saying why; any other unknown name stops the build.
    """
    bad = raw[~raw["listed_name"].isin(gaz.cities.index) & raw["note"].isna()]
    if not bad.empty:
        raise SystemExit(f"grouping entries naming no city unit: {sorted(set(bad['listed_name']))}")
    dup = raw[raw.duplicated(["grouping", "listed_name"])]
    if not dup.empty:
        raise SystemExit(f"duplicated grouping entries: {dup[['grouping', 'listed_name']].values.tolist()}")
    adcode = raw["listed_name"].map(gaz.cities["adcode"]).astype("Int64")
    out = raw.assign(adcode=adcode)
    cols = ["grouping", "group", "listed_name", "adcode", "verified", "verification", "source", "note"]
    return out[cols].sort_values(["grouping", "group", "adcode", "listed_name"]).reset_index(drop=True)


def report(calendar: pd.DataFrame, cities: pd.DataFrame) -> int:
    """Print a summary and every unmatched entry; return the exit status."""
    print("mapping per policy:")
    print(calendar.groupby(["policy", "mapping"]).size().to_string())
    pref = set(cities.loc[cities["unit_type"] != "county_level_direct", "adcode"])
    ok = calendar[calendar["verified"] & calendar["adcode"].notna()]
    print("distinct verified prefecture-level units per policy:")
    print(ok[ok["adcode"].isin(pref)].groupby("policy")["adcode"].nunique().to_string())
    unmatched = calendar[calendar["mapping"] == "unmatched"]
    for rec in unmatched.itertuples():
        print(f"UNMATCHED {rec.policy} {rec.batch_year} {rec.listed_name} (verified={rec.verified})")
    print(f"{len(unmatched)} unmatched entries")
    return 1 if unmatched["verified"].any() else 0


def main(argv: list[str] | None = None) -> int:
    """Read the raw directory, write the bundled CSVs, print the mapping report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", nargs="?", type=Path, default=DEFAULT_RAW, help="raw data directory")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output directory")
    args = parser.parse_args(argv)
    raw_units = pd.read_csv(args.raw / "china_city_units_cnmaps.csv")
    cities = build_cities(raw_units)
    provinces = build_provinces(cities, raw_units)
    prov_adj = build_adjacency(pd.read_csv(args.raw / "china_province_adjacency.csv"), [])
    city_adj = build_adjacency(
        pd.read_csv(args.raw / "china_city_unit_adjacency_cnmaps.csv"), ["shared_border_km"]
    )
    for adj, known in ((prov_adj, provinces["province_adcode"]), (city_adj, cities["adcode"])):
        stray = (set(adj["adcode_a"]) | set(adj["adcode_b"])) - set(known)
        if stray:
            raise SystemExit(f"adjacency refers to unknown adcodes {sorted(stray)}")
    cpca = pd.read_csv(args.raw / "cpca_adcodes.csv", dtype={"adcode": str})
    gaz = Gazetteer.from_raw(cities, cpca)
    lists = pd.concat(
        [pd.read_csv(args.raw / "policy_pilot_lists_compiled.csv"),
         pd.read_csv(FACTS_DIR / "policy_pilot_lists_extra.csv")],
        ignore_index=True,
    )
    calendar = build_policy_calendar(lists, gaz, provinces)
    groupings = build_groupings(pd.read_csv(FACTS_DIR / "city_groupings_compiled.csv"), gaz)
    args.out.mkdir(parents=True, exist_ok=True)
    outputs = {
        "cities.csv": cities, "provinces.csv": provinces, "province_adjacency.csv": prov_adj,
        "city_adjacency.csv": city_adj, "policy_calendar.csv": calendar,
        "city_groupings.csv": groupings,
    }
    for fname, df in outputs.items():
        df.to_csv(args.out / fname, index=False, encoding="utf-8", lineterminator="\n")
        print(f"wrote {fname}: {len(df)} rows")
    return report(calendar, cities)


if __name__ == "__main__":
    sys.exit(main())

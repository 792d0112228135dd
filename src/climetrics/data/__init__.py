"""Bundled public facts about Chinese cities and provinces, and policy pilot calendars.

Tables (provenance and licences in ``SOURCES.md`` next to this file):

- :func:`cities` -- the 367 mainland city-level units (337 without the county-level units that
  provinces administer directly), with adcode, Chinese and pinyin names, province, region,
  coastal flag, seat coordinates and area.
- :func:`provinces` -- the 31 mainland provinces.
- :func:`province_adjacency`, :func:`city_adjacency` -- pairs of units sharing a land border.
- :func:`policies`, :func:`policy_calendar` -- pilot lists mapped to city adcodes, with the
  earliest batch year in which each unit is covered.
- :func:`policy_dummies` -- add staggered-DID treatment columns to a :class:`~climetrics.Panel`.
- :func:`adoption_dummies` -- the same columns from an adoption-year column (any units).
- :func:`groupings`, :func:`grouping`, :func:`city_groups`, :func:`grouping_members` -- named
  groupings of cities (coastal, region, city clusters, sub-provincial, resource-based) for
  heterogeneity analysis; :func:`city_size_class` -- the 2014 city-size classes.

Every function returns a fresh copy, so changing a result never changes later results.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Hashable
from functools import lru_cache
from importlib import resources

import pandas as pd

from ..errors import PanelError, did_you_mean
from ..panel import Panel
from .adoption import adoption_dummies

__all__ = [
    "GROUPINGS",
    "POLICY_DESCRIPTIONS",
    "SIZE_CLASSES",
    "cities",
    "city_groups",
    "city_size_class",
    "grouping",
    "grouping_members",
    "groupings",
    "city_adjacency",
    "policies",
    "policy_calendar",
    "adoption_dummies",
    "policy_dummies",
    "province_adjacency",
    "provinces",
]

POLICY_DESCRIPTIONS = {
    "broadband_china": "'Broadband China' demonstration cities (MIIT/NDRC), batches 2014-2016",
    "cbec_pilot_zone": "Cross-border e-commerce comprehensive pilot zones (State Council), batches 2015-2022",
    "innovative_city_pilot": (
        "Innovative city pilots (MOST/NDRC): MOST's first batch of 2010, the cumulative list "
        "published in 2016 (for its other members the approval years 2008-2013 are not "
        "sourced, so 2016 is an upper bound) and the 2018 additions"
    ),
    "low_carbon_pilot": "Low-carbon province and city pilots (NDRC), batches 2010, 2012 and 2017",
}

# Policies whose lists are known to exist but are not bundled, with the reason.
NOT_BUNDLED = {
    "smart_city": (
        "the MOHURD national smart-city pilot lists (2012 batch of 90 units published 2013-01-29, "
        "2013 batch of 103 units 建办科〔2013〕22号, 2014 batch of 84 + 13 units published "
        "2015-04-07; mostly districts, counties and towns) are not bundled because no public copy "
        "of the member lists could be verified"
    ),
}

_DTYPES = {
    "policy_calendar.csv": {"adcode": "Int64", "province_adcode": "Int64", "verified": "bool"},
    "city_groupings.csv": {"adcode": "Int64", "verified": "bool"},
}
_LEVELS = ("prefecture", "all")
_UNIT_KEYS = ("auto", "adcode", "name", "name_en", "exact")
_COUNTY = "county_level_direct"
_CJK = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-zÜü' \-’]+")


# ---------------------------------------------------------------------------- bundled tables
@lru_cache(maxsize=8)
def _read(fname: str) -> pd.DataFrame:
    """Read a bundled CSV once; callers must copy before handing it out."""
    with resources.files(__name__).joinpath(fname).open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, dtype=_DTYPES.get(fname))


def cities(include_county_level: bool = False) -> pd.DataFrame:
    """Mainland city-level units, one row per unit, sorted by adcode.

    Columns: adcode, name, short_name, name_en, province, province_en, province_adcode,
    unit_type, region (East/Central/West/Northeast), coastal (0/1), lon, lat, coord_source
    ('seat' or 'centroid'), area_km2.

    By default the 30 county-level units administered directly by a province (unit_type
    ``county_level_direct``, e.g. 济源市, 仙桃市, 石河子市) are dropped, leaving the 337
    prefecture-level units; ``include_county_level=True`` returns all 367.
    """
    df = _read("cities.csv")
    if not include_county_level:
        df = df[df["unit_type"] != _COUNTY]
    return df.reset_index(drop=True).copy()


def provinces() -> pd.DataFrame:
    """The 31 mainland provinces: province_adcode, name, name_en, short_name, region."""
    return _read("provinces.csv").copy()


def _pairs(fname: str, symmetric: bool) -> pd.DataFrame:
    """Adjacency pairs stored once (adcode_a < adcode_b), optionally in both directions."""
    df = _read(fname)
    if symmetric:
        swap = {"adcode_a": "adcode_b", "name_a": "name_b", "adcode_b": "adcode_a", "name_b": "name_a"}
        df = pd.concat([df, df.rename(columns=swap)[df.columns]], ignore_index=True)
        df = df.sort_values(["adcode_a", "adcode_b"])
    return df.reset_index(drop=True).copy()


def province_adjacency(symmetric: bool = True) -> pd.DataFrame:
    """Pairs of provinces sharing a land border (68 pairs; Hainan has none).

    Columns: adcode_a, name_a, adcode_b, name_b. With ``symmetric`` every pair appears in
    both directions (136 rows), so ``df[df.adcode_a == x]`` lists all neighbours of ``x``.
    """
    return _pairs("province_adjacency.csv", symmetric)


def city_adjacency(symmetric: bool = True, *, include_county_level: bool = False) -> pd.DataFrame:
    """Pairs of city-level units sharing a border, with shared_border_km.

    Pairs involving a county-level unit administered by its province are dropped unless
    ``include_county_level`` (matching :func:`cities`). A few short sea-island contacts are
    included (e.g. 上海-舟山, 3.3 km); filter on shared_border_km to drop them.
    """
    df = _pairs("city_adjacency.csv", symmetric)
    keep = set(cities(include_county_level)["adcode"])
    df = df[df["adcode_a"].isin(keep) & df["adcode_b"].isin(keep)]
    return df.reset_index(drop=True)


# ---------------------------------------------------------------------------- policies
def _policy_rows(policy: str) -> pd.DataFrame:
    """Rows of the bundled calendar for ``policy``; ValueError naming the choices if unknown."""
    df = _read("policy_calendar.csv")
    if policy in NOT_BUNDLED:
        raise ValueError(
            f"'{policy}': {NOT_BUNDLED[policy]}. Pass your own calendar to "
            "policy_dummies(calendar=...) (a unit column and adoption_year)"
        )
    if policy not in POLICY_DESCRIPTIONS:
        raise ValueError(
            f"unknown policy '{policy}'{did_you_mean(policy, POLICY_DESCRIPTIONS)}; bundled "
            f"policies: {', '.join(POLICY_DESCRIPTIONS)}. For another policy pass your own "
            "calendar to policy_dummies(calendar=...)"
        )
    return df[df["policy"] == policy].copy()


def policies() -> pd.DataFrame:
    """One row per bundled policy.

    Columns: policy, description, batch_years (e.g. '2014, 2015, 2016'), n_entries (names in
    the official lists), n_units (distinct city-level units the entries map to, any level,
    verified or not), n_province_level (entries naming a whole province) and n_unverified
    (entries typed from recollection, excluded by default).
    """
    out = []
    for policy, description in POLICY_DESCRIPTIONS.items():
        rows = _policy_rows(policy)
        entries = rows.drop_duplicates(["batch_year", "document", "listed_name"])
        out.append({
            "policy": policy,
            "description": description,
            "batch_years": ", ".join(str(y) for y in sorted(rows["batch_year"].unique())),
            "n_entries": len(entries),
            "n_units": rows["adcode"].nunique(),
            "n_province_level": int((entries["mapping"] == "province_level").sum()),
            "n_unverified": int((~entries["verified"]).sum()),
        })
    return pd.DataFrame(out)


def _drop_unverified(rows: pd.DataFrame, policy: str, stacklevel: int) -> pd.DataFrame:
    """Drop rows typed from recollection, warning how many and how to keep them."""
    bad = rows[~rows["verified"]]
    if not bad.empty:
        batches = ", ".join(sorted(bad["document"].unique()))
        warnings.warn(
            f"{len(bad)} unverified rows of '{policy}' ({batches}) were excluded; pass "
            "include_unverified=True to include them",
            UserWarning,
            stacklevel=stacklevel + 1,
        )
    return rows[rows["verified"]]


def _with_provinces(rows: pd.DataFrame, policy: str, expand: bool | None, stacklevel: int) -> pd.DataFrame:
    """Expand province-level entries to every city of the province, or drop them."""
    prov = rows[rows["mapping"] == "province_level"]
    rows = rows[rows["mapping"] != "province_level"]
    if prov.empty:
        return rows
    if not expand:
        if expand is None:
            warnings.warn(
                f"{len(prov)} province-level entries of '{policy}' "
                f"({', '.join(prov['listed_name'])}) are not expanded to their cities; pass "
                "expand_provinces=True to treat every city of those provinces, or False to "
                "silence this warning",
                UserWarning,
                stacklevel=stacklevel + 1,
            )
        return rows
    units = cities(include_county_level=True)[["adcode", "province_adcode"]]
    expanded = prov.drop(columns=["adcode"]).merge(units, on="province_adcode")
    return pd.concat([rows, expanded[rows.columns]], ignore_index=True)


def _drop_unmatched(rows: pd.DataFrame, policy: str, stacklevel: int) -> pd.DataFrame:
    """Drop entries the build could not map to a unit, warning which."""
    bad = rows[rows["adcode"].isna()]
    if not bad.empty:
        warnings.warn(
            f"{len(bad)} entries of '{policy}' could not be mapped to a city and are left out: "
            f"{', '.join(bad['listed_name'])}",
            UserWarning,
            stacklevel=stacklevel + 1,
        )
    return rows[rows["adcode"].notna()]


def _join(values: pd.Series, sep: str = ";") -> str:
    """Unique non-empty values in order of appearance, joined."""
    return sep.join(dict.fromkeys(str(v) for v in values if pd.notna(v) and str(v)))


def _summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per adcode; the earliest batch sets adoption_year, mapping, notes, verified."""
    rows = rows.sort_values("batch_year", kind="stable")
    first = rows[rows["batch_year"] == rows.groupby("adcode")["batch_year"].transform("min")]
    notes = pd.concat([
        first[["adcode", "mapping_note"]].set_axis(["adcode", "text"], axis=1),
        first[["adcode", "caveat"]].set_axis(["adcode", "text"], axis=1),
    ])
    every, earliest = rows.groupby("adcode"), first.groupby("adcode")
    out = pd.DataFrame({
        "adoption_year": earliest["batch_year"].min(),
        "batch_years": every["batch_year"].agg(_join),
        "listed_names": every["listed_name"].agg(_join),
        "mapping": earliest["mapping"].agg(_join),
        "notes": notes.groupby("adcode")["text"].agg(lambda t: _join(t, "; ")),
        "verified": earliest["verified"].any(),
    })
    return out.rename_axis("adcode").reset_index()


def _calendar(
    policy: str,
    include_unverified: bool,
    expand_provinces: bool | None,
    level: str,
    stacklevel: int,
) -> pd.DataFrame:
    """Implementation of :func:`policy_calendar`; ``stacklevel`` points warnings at the user."""
    if level not in _LEVELS:
        raise ValueError(f"level must be one of {_LEVELS}, got {level!r}")
    rows = _policy_rows(policy)
    if not include_unverified:
        rows = _drop_unverified(rows, policy, stacklevel + 1)
    rows = _with_provinces(rows, policy, expand_provinces, stacklevel + 1)
    rows = _drop_unmatched(rows, policy, stacklevel + 1)
    units = cities(include_county_level=level == "all")
    rows = rows[rows["adcode"].isin(units["adcode"])]
    summary = _summarise(rows.astype({"adcode": "int64"}))
    out = units[["adcode", "name", "name_en", "province"]].merge(summary, on="adcode")
    return out.sort_values(["adoption_year", "adcode"]).reset_index(drop=True)


def policy_calendar(
    policy: str,
    *,
    include_unverified: bool = False,
    expand_provinces: bool | None = None,
    level: str = "prefecture",
) -> pd.DataFrame:
    """Adoption calendar of a bundled policy: one row per covered unit.

    Columns: adcode, name, name_en, province, adoption_year (the earliest batch covering the
    unit, e.g. 2014 for a city covered via a cluster in 2014 and directly in 2016),
    batch_years and listed_names (all batches and list entries mapping to the unit),
    mapping and notes (how the earliest entries were mapped, with caveats), verified.

    Parameters
    ----------
    policy
        A bundled policy id, see :func:`policies`. Unknown ids raise ValueError.
    include_unverified
        Keep entries typed from recollection (cbec_pilot_zone 2022). When they are excluded
        a warning says how many.
    expand_provinces
        Whole-province pilots (low_carbon_pilot 2010 provinces, 海南省 2012) have no single
        city: ``True`` treats every city of the province, ``False`` leaves them out; the
        default ``None`` leaves them out with a warning.
    level
        ``'prefecture'`` drops the county-level units administered by a province (e.g.
        阿拉尔市); ``'all'`` keeps them.
    """
    return _calendar(policy, include_unverified, expand_provinces, level, stacklevel=2)


# ---------------------------------------------------------------------------- unit matching
def _norm_en(value: str) -> str:
    """Case-, space- and apostrophe-insensitive key for pinyin names (ü written as v)."""
    return re.sub(r"['’\s\-]", "", str(value)).lower().replace("ü", "v")


def _first(values: list, k: int = 5) -> str:
    """The first ``k`` values, comma-separated, with a count of the rest."""
    more = f" and {len(values) - k} more" if len(values) > k else ""
    return ", ".join(map(str, values[:k])) + more


def _adcode_of(value: Hashable) -> int | None:
    """6-digit adcode of an int / float / string value holding a 6- or 12-digit adcode."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if not text.isdigit() or len(text) not in (6, 12):
        return None
    if len(text) == 12 and text[6:] != "000000":
        return None
    return int(text[:6])


def _detect_key(values: pd.Series, column: str) -> str:
    """Guess whether ``values`` hold adcodes, Chinese names or pinyin names."""
    sample = values.dropna().unique()
    if all(_adcode_of(v) is not None for v in sample):
        return "adcode"
    texts = [str(v) for v in sample]
    if any(_CJK.search(t) for t in texts):
        return "name"
    if all(_LATIN.fullmatch(t) for t in texts):
        return "name_en"
    odd = next(t for t in texts if not _LATIN.fullmatch(t))
    raise PanelError(
        f"cannot tell how column '{column}' identifies cities (e.g. {odd!r}); pass "
        "unit_key='adcode', 'name', 'name_en', or 'exact' to match values as they are"
    )


def _match_adcode(values: list, known: pd.DataFrame) -> tuple[dict, list[str]]:
    """Match 6- or 12-digit adcodes; return {value: adcode} and the unknown values."""
    codes = {v: _adcode_of(v) for v in values}
    ok = set(known["adcode"])
    bad = [repr(v) for v, c in codes.items() if c not in ok]
    return {v: c for v, c in codes.items() if c in ok}, bad


def _match_name(values: list, known: pd.DataFrame) -> tuple[dict, list[str]]:
    """Match Chinese names, full (苏州市) or short (苏州); return matches and unknown values."""
    lookup: dict[str, int] = {}
    for col in ("name", "short_name"):
        lookup.update(zip(known[col], known["adcode"], strict=True))
    names = list(lookup)
    found, bad = {}, []
    for v in values:
        key = str(v).strip()
        if key in lookup:
            found[v] = lookup[key]
        else:
            bad.append(f"{v!r}{did_you_mean(key, names)}")
    return found, bad


def _match_name_en(values: list, known: pd.DataFrame, column: str) -> tuple[dict, list[str]]:
    """Match pinyin names; raise for names shared by several cities (Suzhou, Taizhou, ...)."""
    groups = known.groupby(known["name_en"].map(_norm_en))
    lookup = {key: grp for key, grp in groups}
    found, bad, ambiguous = {}, [], []
    for v in values:
        grp = lookup.get(_norm_en(v))
        if grp is None:
            bad.append(f"{v!r}{did_you_mean(v, known['name_en'])}")
        elif len(grp) > 1:
            opts = " or ".join(f"{r.name} ({r.adcode}, {r.province_en})" for r in grp.itertuples())
            ambiguous.append(f"{v!r} could be {opts}")
        else:
            found[v] = int(grp["adcode"].iloc[0])
    if ambiguous:
        raise PanelError(
            f"ambiguous English names in column '{column}': " + "; ".join(ambiguous)
            + ". Identify these units by adcode (unit_key='adcode') or Chinese name instead"
        )
    return found, bad


def _matcher(
    key: str, column: str, hint: str = "or pass your own calendar= with unit_key='exact'"
) -> Callable[[pd.Series, str], pd.Series]:
    """A function mapping unit values to adcodes (or to themselves for key='exact');
    ``hint`` ends the error message for unknown values."""
    if key not in _UNIT_KEYS:
        raise PanelError(f"unit_key must be one of {_UNIT_KEYS}, got {key!r}{did_you_mean(key, _UNIT_KEYS)}")

    def match(values: pd.Series, where: str) -> pd.Series:
        uniq = list(values.unique())
        if key == "exact":
            return pd.Series(uniq, index=uniq)
        k = _detect_key(values, column) if key == "auto" else key
        known = cities(include_county_level=True)
        if k == "adcode":
            found, bad = _match_adcode(uniq, known)
        elif k == "name":
            found, bad = _match_name(uniq, known)
        else:
            found, bad = _match_name_en(uniq, known, column)
        if bad:
            raise PanelError(
                f"{len(bad)} {where} values of '{column}' are not bundled city-level units "
                f"(matched by {k}): {_first(bad)}. Recode them (see climetrics.data.cities()) {hint}"
            )
        return pd.Series(found)

    return match


# ---------------------------------------------------------------------------- treatment dummies
def _user_years(calendar: pd.DataFrame, column: str, match: Callable) -> pd.Series:
    """Earliest adoption year per unit of a user calendar, indexed by matched unit."""
    if not isinstance(calendar, pd.DataFrame):
        raise PanelError(f"calendar must be a DataFrame, got {type(calendar).__name__}")
    year_col = next((c for c in ("adoption_year", "year") if c in calendar.columns), None)
    if column not in calendar.columns or year_col is None:
        raise PanelError(
            f"calendar needs the panel's unit column '{column}' and a year column "
            f"'adoption_year' (or 'year'); it has: {', '.join(map(str, calendar.columns))}"
        )
    cal = calendar[[column, year_col]].dropna(subset=[year_col])
    if cal[column].isna().any():
        raise PanelError(f"calendar has {int(cal[column].isna().sum())} rows without a '{column}' value")
    years = pd.to_numeric(cal[year_col], errors="coerce")
    bad = years.isna() | (years % 1 != 0)
    if bad.any():
        raise PanelError(f"calendar column '{year_col}' must hold integer years; found {cal[year_col][bad].iloc[0]!r}")
    codes = cal[column].map(match(cal[column], "calendar"))
    return years.groupby(codes.to_numpy()).min()


def _bundled_years(policy: str, codes: pd.Series, include_unverified: bool, expand: bool | None) -> pd.Series:
    """Adoption year per adcode of a bundled policy; county-level units only if the panel has any."""
    units = cities(include_county_level=True).set_index("adcode")["unit_type"]
    level = "all" if (codes.map(units) == _COUNTY).any() else "prefecture"
    cal = _calendar(policy, include_unverified, expand, level, stacklevel=3)
    return cal.set_index("adcode")["adoption_year"]


def _check_one_to_one(codes: pd.Series, column: str) -> None:
    """Raise if two panel units (e.g. '苏州' and '苏州市') are the same city."""
    dup = codes[codes.duplicated(keep=False)]
    if not dup.empty:
        same = dup[dup == dup.iloc[0]]
        raise PanelError(
            f"values {_first([repr(v) for v in same.index])} of '{column}' all refer to "
            f"{_labels(pd.Index([same.iloc[0]]))[0]}; use one identifier per city "
            f"({dup.nunique()} cities affected)"
        )


def _labels(units: pd.Index) -> list[str]:
    """'name (adcode)' for bundled adcodes, the value itself otherwise."""
    names = cities(include_county_level=True).set_index("adcode")["name"]
    return [f"{names[u]} ({u})" if u in names.index else str(u) for u in units]


def policy_dummies(
    panel: Panel,
    policy: str,
    *,
    unit_key: str = "auto",
    name: str | None = None,
    include_unverified: bool = False,
    expand_provinces: bool | None = None,
    calendar: pd.DataFrame | None = None,
    city: str | None = None,
) -> Panel:
    """Return a new Panel with staggered-DID treatment columns for ``policy``.

    Adds ``{name}_treat`` (1 if the unit is ever treated), ``{name}_year`` (adoption year,
    NaN if never treated) and ``{name}`` (1 from the adoption year on). ``name`` defaults to
    ``policy``. The input panel is not modified.

    Parameters
    ----------
    panel
        A :class:`~climetrics.Panel` whose unit column identifies cities, or any panel (e.g.
        listed firms by year, seed 000's firm-level mechanism sample) with a ``city`` column.
    policy
        A bundled policy id (see :func:`policies`), or any label when ``calendar`` is given.
    unit_key
        How panel units are matched: ``'adcode'`` (6- or 12-digit, int or string),
        ``'name'`` (Chinese, with or without 市), ``'name_en'`` (pinyin, case-insensitive;
        ambiguous names such as 'Suzhou' raise), ``'exact'`` (values compared as they are;
        only with ``calendar``) or ``'auto'`` (detected from the values).
    include_unverified, expand_provinces
        Passed to :func:`policy_calendar` for bundled policies.
    calendar
        Your own calendar for any policy: a DataFrame with the panel's unit column and
        ``adoption_year`` (or ``year``); a unit listed in several years adopts in the first.
        With ``city`` the calendar's city column has that name instead.
    city
        Column naming each row's city when the panel's units are not cities (firms, plants):
        every row takes the adoption year of its city, so a firm is treated from the year its
        city adopts (and a firm that moves follows its city of each year). Default: the unit
        column.

    Calendar units that are not in the panel are reported with a warning.
    """
    if not isinstance(panel, Panel):
        raise PanelError(f"policy_dummies needs a climetrics Panel, got {type(panel).__name__}")
    name = name or policy
    new_cols = [f"{name}_treat", f"{name}_year", name]
    clash = [c for c in new_cols if c in panel.columns]
    if clash:
        raise PanelError(f"the panel already has column(s) {clash}; pass name= to choose other names")
    where = panel.unit if city is None else city
    if where not in panel.columns:
        raise PanelError(
            f"city column '{where}' not in the panel{did_you_mean(where, panel.columns)}"
        )
    rows = panel.df[where]
    if rows.isna().any():
        i = rows.isna().to_numpy().nonzero()[0][0]
        raise PanelError(
            f"'{where}' is missing for {panel.unit} {panel.df[panel.unit].iloc[i]!r}, "
            f"{panel.time} {panel.df[panel.time].iloc[i]} ({int(rows.isna().sum())} rows): "
            "every row needs its city"
        )
    match = _matcher(unit_key, where)
    codes = match(rows, "panel")
    _check_one_to_one(codes, where)
    if calendar is not None:
        years = _user_years(calendar, where, match)
    elif unit_key == "exact":
        raise PanelError("unit_key='exact' matches units as they are and needs your own calendar=")
    else:
        years = _bundled_years(policy, codes, include_unverified, expand_provinces)
    absent = years.index.difference(pd.Index(codes.to_numpy()))
    if len(absent):
        warnings.warn(
            f"{len(absent)} units treated by '{policy}' are not in the panel: "
            f"{_first(_labels(absent), 10)}",
            UserWarning,
            stacklevel=2,
        )
    year = rows.map(codes).map(years).astype(float)
    treated = (panel.df[panel.time] >= year).astype(int)
    return panel.assign(**{new_cols[0]: year.notna().astype(int), new_cols[1]: year, new_cols[2]: treated})


from .groupings import (  # noqa: E402 - groupings uses the loaders above
    GROUPINGS,
    SIZE_CLASSES,
    city_groups,
    city_size_class,
    grouping,
    grouping_members,
    groupings,
)

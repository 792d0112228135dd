"""Shared geography of the bundled Chinese units: matching user unit ids to adcodes, great-circle
distances and finding a city in the bundled city table.

:func:`match_units` maps the ids a user's panel carries (adcodes, Chinese full or short names,
pinyin names) to the bundled adcodes; :func:`bundled_units` lists the bundled provinces or
cities with the coordinates of their government seats. Spatial weights
(:mod:`climetrics.estimate.spatial.weights`) and maps (:mod:`climetrics.report.maps`) both
match units here, so the report layer needs nothing from the estimators. :func:`haversine_km`
and :func:`find_city` serve the distance instrument
(:func:`climetrics.estimate.endogeneity.iv.distance_trend_instrument`) and the simulated city
panels (:mod:`climetrics.simulation.cities`).
"""

from __future__ import annotations

import re
from collections.abc import Hashable

import numpy as np
import pandas as pd

from ..errors import EstimationError, PanelError, did_you_mean

__all__ = ["EARTH_RADIUS_KM", "bundled_units", "find_city", "haversine_km", "match_units"]

_LEVELS = ("province", "city")


def bundled_units(level: str, include_county_level: bool = False) -> pd.DataFrame:
    """Bundled units of ``level`` with columns adcode, name, short_name, name_en, lon, lat.

    Provinces take the coordinates of their capital's government seat: the capital is the city
    whose adcode is the province's plus 100 (石家庄 130100 for 河北 130000, ...), or the
    municipality itself (北京, 天津, 上海, 重庆), which holds for all 31 mainland provinces.
    """
    from .. import data

    if level not in _LEVELS:
        raise EstimationError(f"level must be 'province' or 'city', got {level!r}")
    cities = data.cities(include_county_level=True)
    if level == "city":
        keep = cities if include_county_level else data.cities()
        return keep[["adcode", "name", "short_name", "name_en", "lon", "lat"]]
    prov = data.provinces().rename(columns={"province_adcode": "adcode"})
    seats = cities.set_index("adcode")[["lon", "lat"]]
    capital = prov["adcode"].where(prov["adcode"].isin(seats.index), prov["adcode"] + 100)
    return prov.assign(
        lon=seats["lon"].reindex(capital).to_numpy(), lat=seats["lat"].reindex(capital).to_numpy()
    )[["adcode", "name", "short_name", "name_en", "lon", "lat"]]


def _norm(value: Hashable) -> str:
    """Matching key: adcodes as 6-digit text, names without case, spaces or apostrophes."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if text.isdigit() and len(text) == 12 and text.endswith("000000"):
        text = text[:6]
    return re.sub(r"['’\s\-]", "", text).lower().replace("ü", "v")


def match_units(ids, level: str = "province", *, include_county_level: bool = False) -> pd.Series:
    """Map unit ids (adcode, Chinese full or short name, or English name) to bundled adcodes.

    Returns a Series indexed by ``ids`` (in their order) holding adcodes. Raises
    :class:`EstimationError` naming ids that match no bundled unit, names shared by several
    units (the English names Suzhou, Taizhou, ...), and two ids that are the same unit.
    """
    units = bundled_units(level, include_county_level)
    lookup: dict[str, set[int]] = {}
    for col in ("adcode", "name", "short_name", "name_en"):
        for key, code in zip(units[col].map(_norm), units["adcode"], strict=True):
            lookup.setdefault(key, set()).add(int(code))
    ids = pd.Index(ids)
    found, unknown, ambiguous = [], [], []
    for v in ids:
        codes = lookup.get(_norm(v), set())
        if len(codes) > 1:
            ambiguous.append(f"{v!r} ({', '.join(map(str, sorted(codes)))})")
        elif not codes:
            unknown.append(repr(v))
        found.append(next(iter(codes)) if len(codes) == 1 else None)
    if unknown or ambiguous:
        parts = []
        if unknown:
            parts.append(
                f"{len(unknown)} unit(s) match no bundled {level}: {', '.join(unknown[:5])}"
            )
        if ambiguous:
            parts.append(f"ambiguous names, use adcodes: {', '.join(ambiguous[:5])}")
        raise EstimationError(
            "; ".join(parts) + f". Ids may be adcodes, Chinese names or English names (see "
            f"climetrics.data.{'provinces' if level == 'province' else 'cities'}())."
        )
    out = pd.Series(found, index=ids, dtype="int64")
    dup = out[out.duplicated(keep=False)]
    if len(dup):
        same = dup[dup == dup.iloc[0]].index
        raise EstimationError(
            f"ids {', '.join(map(repr, same))} all refer to the same {level} ({dup.iloc[0]})."
        )
    return out


#: Mean Earth radius (IUGG arithmetic mean radius R1 of the WGS-84 ellipsoid), km.
EARTH_RADIUS_KM = 6371.0088


def haversine_km(lon1, lat1, lon2, lat2, *, radius: float = EARTH_RADIUS_KM) -> np.ndarray:
    """Great-circle distance in km between points given in decimal degrees (haversine formula).

    ``d = 2 R asin(sqrt(sin²(dphi/2) + cos(phi1) cos(phi2) sin²(dlambda/2)))`` on a sphere of
    radius ``R`` (default 6371.0088 km, the IUGG mean Earth radius). Broadcasts like numpy.
    """
    lam1, phi1, lam2, phi2 = (np.radians(np.asarray(v, dtype=float)) for v in (lon1, lat1, lon2, lat2))
    h = np.sin((phi2 - phi1) / 2) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin((lam2 - lam1) / 2) ** 2
    return 2 * radius * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def find_city(cities: pd.DataFrame, ref: str | int) -> pd.Series:
    """The row of ``cities`` (the bundled city table) for ``ref``: an adcode (int or digit
    string), a Chinese full or short name (``"杭州市"``, ``"杭州"``) or a pinyin name
    (``"Hangzhou"``, case-insensitive). Raises :class:`PanelError` with close matches."""
    if isinstance(ref, (int, np.integer)) or (isinstance(ref, str) and ref.isdigit()):
        m = cities["adcode"] == int(ref)
    else:
        m = (cities["name"] == ref) | (cities["short_name"] == ref)
        m |= cities["name_en"].str.lower() == str(ref).lower()
    if not m.any():
        choices = list(cities["name"]) + list(cities["name_en"])
        raise PanelError(
            f"reference city {ref!r} not found in the bundled city table{did_you_mean(str(ref), choices)}"
        )
    return cities.loc[m].iloc[0]

"""Shared geography: great-circle distances and finding a city in the bundled city table.

Used by the distance instrument (:func:`climetrics.estimate.endogeneity.iv.distance_trend_instrument`)
and the simulated city panels (:mod:`climetrics.simulation.cities`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import PanelError, did_you_mean

__all__ = ["EARTH_RADIUS_KM", "find_city", "haversine_km"]

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

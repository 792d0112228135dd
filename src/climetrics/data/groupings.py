"""Named groupings of Chinese cities for heterogeneity analysis, and city-size classes.

Groupings (provenance and verification status of every list in ``SOURCES.md``):

- ``coastal`` -- ``coastal`` / ``inland``, from the ``coastal`` flag of :func:`~climetrics.data.cities`.
- ``region`` -- the four NBS regions ``East``, ``Central``, ``West``, ``Northeast``.
- ``city_cluster`` -- ``BTH`` (Beijing, Tianjin and the 11 prefecture cities of Hebei), ``YRD``
  (the 26 cities of the 2016 Yangtze River Delta city-cluster plan), ``PRD`` (the 9 Pearl River
  Delta cities of Guangdong), ``other``.
- ``sub_provincial`` -- the 15 sub-provincial cities (``sub_provincial``) and ``other``.
- ``resource_based`` -- ``resource_based`` / ``non_resource``: the 126 prefecture-level
  resource-based cities of the State Council plan 国发〔2013〕45号.
- ``resource_type`` -- their development stage in that plan: ``growing``, ``mature``,
  ``declining``, ``regenerating``, and ``non_resource``.
- ``size_class`` -- not a list but a rule: :func:`city_size_class` applied to a population
  column (State Council 国发〔2014〕51号).

Entries of a list that could not be checked against a public source are flagged
``verified = False`` in the bundled table; by default such units get no group (NaN, so a
heterogeneity analysis leaves them out) and a warning says how many.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable

import numpy as np
import pandas as pd

from ..errors import did_you_mean
from . import _matcher, _read, cities

__all__ = ["GROUPINGS", "SIZE_CLASSES", "city_groups", "city_size_class", "grouping", "grouping_members", "groupings"]

GROUPINGS = {
    "coastal": "Coastal cities (boundary on the sea, 55 prefecture-level units) vs inland",
    "region": "The four NBS regions: East, Central, West, Northeast",
    "city_cluster": (
        "Three big city clusters: BTH (Beijing, Tianjin + 11 Hebei prefectures), YRD (26 cities "
        "of the 2016 Yangtze River Delta plan), PRD (9 Pearl River Delta cities); other"
    ),
    "sub_provincial": "The 15 sub-provincial cities vs other",
    "resource_based": "Prefecture-level resource-based cities of 国发〔2013〕45号 (126 listed) vs non_resource",
    "resource_type": "Stage of a resource-based city in 国发〔2013〕45号: growing, mature, declining, regenerating; non_resource",
    "size_class": "City-size class of 国发〔2014〕51号 from a population column you provide (see city_size_class)",
}
# Label of the units a listed grouping does not name.
_OTHER = {
    "city_cluster": "other", "sub_provincial": "other",
    "resource_based": "non_resource", "resource_type": "non_resource",
}

# 国发〔2014〕51号: classes by urban-area resident population, lower bounds inclusive
# ("以上包括本数，以下不包括本数"), in 10,000 persons.
_EDGES = (20.0, 50.0, 100.0, 300.0, 500.0, 1000.0)
SIZE_CLASSES = ("small_II", "small_I", "medium", "large_II", "large_I", "mega", "super_large")
_BROAD = {"small_II": "small", "small_I": "small", "large_II": "large", "large_I": "large"}
_UNITS = {"persons": 1e-4, "10k persons": 1.0, "万人": 1.0}


def grouping_members(name: str | None = None) -> pd.DataFrame:
    """The bundled member lists, one row per (grouping, listed city).

    Columns: grouping, group, listed_name, adcode (empty for 莱芜市, merged into 济南市 in 2019),
    verified, verification, source, note. ``name`` selects one listed grouping
    (``city_cluster``, ``sub_provincial``, ``resource_based``, ``resource_type``).
    """
    df = _read("city_groupings.csv")
    if name is not None:
        if name not in _OTHER:
            raise ValueError(
                f"'{name}' is not a listed grouping{did_you_mean(name, _OTHER)}; listed: {', '.join(_OTHER)}"
            )
        df = df[df["grouping"] == name]
    return df.reset_index(drop=True).copy()


def groupings() -> pd.DataFrame:
    """One row per named grouping: name, description, groups, n_listed, n_unverified.

    ``n_listed`` counts the entries of a listed grouping and ``n_unverified`` those not checked
    against a public source (0 for the groupings derived from :func:`cities`).
    """
    members = grouping_members()
    rows = []
    for name, description in GROUPINGS.items():
        part = members[members["grouping"] == name]
        if name in _OTHER:
            labels = [*sorted(part["group"].unique()), _OTHER[name]]
        elif name == "coastal":
            labels = ["coastal", "inland"]
        elif name == "region":
            labels = ["Central", "East", "Northeast", "West"]
        else:
            labels = list(SIZE_CLASSES)
        rows.append({
            "name": name, "description": description, "groups": ", ".join(labels),
            "n_listed": len(part), "n_unverified": int((~part["verified"]).sum()),
        })
    return pd.DataFrame(rows)


def grouping(name: str, *, include_unverified: bool = False) -> pd.Series:
    """Group label of every bundled city-level unit (all 367), indexed by adcode.

    ``name`` is one of :data:`GROUPINGS` except ``size_class`` (which needs your population
    data: :func:`city_size_class`). Units named only by unverified entries get NaN unless
    ``include_unverified`` (a warning says how many).
    """
    if name == "size_class":
        raise ValueError("size_class is computed from your population data: use city_size_class(population, unit=...)")
    if name not in GROUPINGS:
        raise ValueError(
            f"unknown grouping '{name}'{did_you_mean(name, GROUPINGS)}; bundled: {', '.join(GROUPINGS)}"
        )
    units = cities(include_county_level=True).set_index("adcode")
    if name == "coastal":
        out = units["coastal"].map({1: "coastal", 0: "inland"})
    elif name == "region":
        out = units["region"].copy()
    else:
        rows = grouping_members(name).dropna(subset=["adcode"]).astype({"adcode": "int64"})
        out = pd.Series(_OTHER[name], index=units.index, dtype=object)
        out[rows["adcode"].to_numpy()] = rows["group"].to_numpy()
        unverified = rows.loc[~rows["verified"], "adcode"]
        if len(unverified) and not include_unverified:
            out[unverified.to_numpy()] = np.nan
            warnings.warn(
                f"{len(unverified)} units listed in '{name}' are not verified against a public "
                f"source (e.g. {', '.join(units.loc[unverified.iloc[:3], 'name'])}) and get no group; "
                "pass include_unverified=True to use them (see climetrics.data.grouping_members)",
                UserWarning,
                stacklevel=2,
            )
    return out.rename(name).rename_axis("adcode")


def city_groups(
    values: pd.Series,
    name: str,
    *,
    unit_key: str = "auto",
    include_unverified: bool = False,
    column: Hashable = "unit",
) -> pd.Series:
    """Group label of each element of ``values`` (adcodes or city names), aligned to it.

    ``values`` are matched to the bundled units as :func:`~climetrics.data.policy_dummies` does
    (``unit_key``: ``'auto'``, ``'adcode'``, ``'name'``, ``'name_en'``); ``column`` names them in
    errors. Unknown values raise :class:`~climetrics.errors.PanelError`.
    """
    hint = "or build the group column yourself (see climetrics.data.grouping)"
    codes = _matcher(unit_key, str(column), hint)(values, "panel")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        labels = grouping(name, include_unverified=include_unverified)
    out = values.map(codes).map(labels).rename(name)
    if caught and out.isna().any():
        n = values[out.isna()].nunique()
        warnings.warn(
            f"{n} of the {values.nunique()} units of '{column}' are listed in '{name}' only by "
            "unverified entries and get no group; pass include_unverified=True to use them",
            UserWarning,
            stacklevel=2,
        )
    return out


def city_size_class(population, *, unit: str, detailed: bool = True):
    """City-size class of the State Council notice 国发〔2014〕51号.

    Classes by **urban-area resident population** (城区常住人口), lower bounds inclusive:
    ``super_large`` >= 10 million; ``mega`` 5-10 million; ``large_I`` 3-5 million; ``large_II``
    1-3 million; ``medium`` 0.5-1 million; ``small_I`` 0.2-0.5 million; ``small_II`` < 0.2
    million. With ``detailed=False`` the two large and the two small classes are merged
    (``large``, ``small``: five classes).

    Parameters
    ----------
    population
        A number, array or Series. Missing values give missing classes.
    unit
        ``'persons'`` or ``'10k persons'`` (万人, the unit of Chinese yearbooks); required, because
        a wrong unit shifts every class.
    detailed
        Seven classes (default) or five.

    Returns
    -------
    str for a scalar, otherwise a Series of ordered categories (smallest first), keeping the
    index of a Series input.

    Raises
    ------
    ValueError
        For an unknown unit, negative values, or values that cannot be city populations in the
        stated unit (all below 1,000 persons, or above 500 million).

    Notes
    -----
    Panels often carry registered or total population of the whole prefecture rather than the
    urban-area resident population the notice refers to; the classes then describe that
    column, not the official class of the city.
    """
    if unit not in _UNITS:
        raise ValueError(f"unit must be one of {tuple(_UNITS)}, got {unit!r}{did_you_mean(str(unit), _UNITS)}")
    scalar = np.ndim(population) == 0
    series = population if isinstance(population, pd.Series) else pd.Series(np.atleast_1d(population))
    x = pd.to_numeric(series, errors="coerce").astype(float) * _UNITS[unit]
    ok = x.notna()
    if (x[ok] < 0).any():
        raise ValueError(f"population must be non-negative; found {series[ok][x[ok] < 0].iloc[0]!r}")
    if ok.any() and x[ok].max() < 0.1:
        raise ValueError(
            f"all populations are below 1,000 persons with unit={unit!r} (largest "
            f"{series[ok].max()!r}); the values look like 10k persons: pass unit='10k persons'"
        )
    if ok.any() and x[ok].min() > 50_000:
        raise ValueError(
            f"all populations exceed 500 million with unit={unit!r} (smallest {series[ok].min()!r}); "
            "the values look like persons: pass unit='persons'"
        )
    idx = np.searchsorted(np.asarray(_EDGES), x.fillna(0).to_numpy(), side="right")
    labels = np.asarray(SIZE_CLASSES, dtype=object)[idx]
    order = list(SIZE_CLASSES)
    if not detailed:
        labels = np.asarray([_BROAD.get(lab, lab) for lab in labels], dtype=object)
        order = list(dict.fromkeys(_BROAD.get(c, c) for c in SIZE_CLASSES))
    out = pd.Series(pd.Categorical(labels, categories=order, ordered=True), index=series.index, name="size_class")
    out[~ok.to_numpy()] = np.nan
    return out.iloc[0] if scalar else out

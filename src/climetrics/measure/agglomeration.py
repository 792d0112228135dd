"""Industrial agglomeration: location quotients and producer-service specialisation.

* :func:`location_quotient` -- ``LQ_ij = (S_ij / S_i) / (S_j / S)`` from long-format
  employment (region x industry (x year)).
* :func:`producer_service_agglomeration` -- seed 002's specialisation agglomeration index
  (eq. 6, after Han & Yang) for all producer services and their high-end and low/mid-end tiers,
  from wide-format city data (one employment column per industry plus total employment)::

      Spec_it = (sum_{j in J} S_ijt / sum_{i=1}^{N} sum_{j in J} S_ijt) / (S_it / sum_{i=1}^{N} S_it)

  i.e. the city's share of the producer-service employment of the N sample cities divided by its
  share of their total employment -- equivalently ``(sum_j S_ijt / S_it) / (sum_i sum_j S_ijt /
  sum_i S_it)``, a location quotient of the service group. The reference economy is the set of
  N cities in the data for the same year, not the national total.

Producer-service tiers of seed 002 (NBS 2019 producer-service classification; industry sections
of GB/T 4754-2017 as used by the *China City Statistical Yearbook* employment tables):

* low/mid-end: G transport, storage and post; F wholesale and retail trade; L leasing and
  business services;
* high-end: I information transmission, software and information technology services;
  J finance; M scientific research and technical services.

References
----------
Seed 002, sec. 3.5.2, eq. 6 (which follows Han and Yang's specialisation agglomeration index).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..errors import PanelError, did_you_mean, show

__all__ = ["PRODUCER_SERVICE_TIERS", "location_quotient", "producer_service_agglomeration"]

#: seed 002's tiers: GB/T 4754-2017 section letter -> industry (documentation; pass your own
#: column names to :func:`producer_service_agglomeration`)
PRODUCER_SERVICE_TIERS = {
    "low_mid": {
        "G": "transport, storage and post",
        "F": "wholesale and retail trade",
        "L": "leasing and business services",
    },
    "high": {
        "I": "information transmission, software and IT services",
        "J": "finance",
        "M": "scientific research and technical services",
    },
}


def _frame(df: Any, fn: str) -> tuple[pd.DataFrame, str | None]:
    if hasattr(df, "require") and hasattr(df, "unit"):
        return df.df, df.time
    if not isinstance(df, pd.DataFrame):
        raise PanelError(f"{fn} needs a DataFrame or Panel, got {type(df).__name__}")
    return df, None


def _numeric(data: pd.DataFrame, col: str, fn: str) -> pd.Series:
    if col not in data.columns:
        raise PanelError(f"{fn}: column '{col}' not found{did_you_mean(col, data.columns)}")
    v = pd.to_numeric(data[col], errors="coerce")
    bad = v.isna() & data[col].notna()
    if bad.any():
        i = bad.idxmax()
        raise PanelError(f"{fn}: column '{col}' must be numeric; row {i} has {show(data.at[i, col])}")
    if (v < 0).any():
        i = (v < 0).idxmax()
        raise PanelError(f"{fn}: negative employment in column '{col}', row {i}: {show(v.at[i])}")
    return v.astype(float)


def location_quotient(
    df: Any,
    region: str,
    industry: str,
    employment: str,
    *,
    time: str | None = None,
    industries: Iterable[Any] | None = None,
) -> pd.DataFrame:
    """Location quotient of every region x industry (x period).

    ``LQ_ij = (S_ij / S_i) / (S_j / S)``: ``S_ij`` employment of industry ``j`` in region ``i``,
    ``S_i`` total employment of region ``i`` (sum over *all* industries in the data), ``S_j``
    employment of industry ``j`` over all regions in the data and ``S`` the grand total -- all
    within the same period when ``time`` is given. The data must therefore list every industry
    (or include an "other" row) for ``S_i`` to be total employment.

    Parameters
    ----------
    df
        Long-format DataFrame or Panel: one row per region, industry (and period).
    region, industry, employment
        Column names.
    time
        Period column; totals are formed period by period. Defaults to the Panel's time column.
    industries
        Report only these industries (totals still use all rows).

    Returns
    -------
    pandas.DataFrame
        Columns ``region``, (``time``), ``industry`` and ``lq``. A region-industry pair with zero
        employment in the whole reference economy gets NaN.

    Raises
    ------
    PanelError
        Missing column, negative or missing employment, a duplicated region-industry(-period)
        row, a region with zero total employment, or an unknown industry in ``industries``.
    """
    data, ptime = _frame(df, "location_quotient")
    time = time if time is not None else ptime
    keys = [region, industry] + ([time] if time else [])
    for c in keys:
        if c not in data.columns:
            raise PanelError(f"location_quotient: column '{c}' not found{did_you_mean(c, data.columns)}")
    s = _numeric(data, employment, "location_quotient")
    if s.isna().any():
        i = s.isna().idxmax()
        raise PanelError(
            f"location_quotient: missing employment for {region} {show(data.at[i, region])}, "
            f"{industry} {show(data.at[i, industry])}" + (f", {time} {show(data.at[i, time])}" if time else "")
        )
    d = data[keys].copy()
    d["_s"] = s
    dup = d.duplicated(keys, keep=False)
    if dup.any():
        r = d.loc[dup].iloc[0]
        hint = "" if time else "; pass time= if the data hold several periods"
        raise PanelError(
            f"location_quotient: {region} {show(r[region])}, {industry} {show(r[industry])} occurs "
            f"more than once{hint}"
        )
    tk = [time] if time else []
    s_i = d.groupby([region] + tk)["_s"].transform("sum")
    s_j = d.groupby([industry] + tk)["_s"].transform("sum")
    s_all = d.groupby(tk)["_s"].transform("sum") if tk else pd.Series(d["_s"].sum(), index=d.index)
    zero = s_i == 0
    if zero.any():
        r = d.loc[zero].iloc[0]
        raise PanelError(
            f"location_quotient: {region} {show(r[region])}" + (f" in {time} {show(r[time])}" if time else "")
            + " has zero total employment"
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        lq = (d["_s"] / s_i) / (s_j / s_all)
    lq = lq.where(s_j > 0)
    out = d[[region] + tk + [industry]].copy()
    out["lq"] = lq.to_numpy()
    if industries is not None:
        want = list(industries)
        have = set(d[industry])
        unknown = [x for x in want if x not in have]
        if unknown:
            raise PanelError(f"location_quotient: industries not in the data: {unknown}")
        out = out[out[industry].isin(want)]
    return out.sort_values([region] + tk + [industry]).reset_index(drop=True)


def producer_service_agglomeration(
    df: Any,
    tiers: Mapping[str, Iterable[str]],
    total: str,
    *,
    time: str | None = None,
    prefix: str = "spec",
) -> pd.DataFrame:
    """Seed 002's specialisation agglomeration index of producer services, overall and by tier.

    For each tier ``J`` (and for the union of all tiers, the overall index)::

        Spec_it = (sum_{j in J} S_ijt / S_it) / (sum_i sum_{j in J} S_ijt / sum_i S_it)

    with sums over the N cities (rows) of the same period ``t``.

    Parameters
    ----------
    df
        Wide-format DataFrame or Panel: one row per city (and year), one employment column per
        industry.
    tiers
        Tier name -> employment columns, e.g. seed 002's ``{"high": ["emp_info", "emp_finance",
        "emp_research"], "low_mid": ["emp_transport", "emp_trade", "emp_leasing"]}``: high-end =
        information transmission/software/IT (I), finance (J), scientific research and technical
        services (M); low/mid-end = transport/storage/post (G), wholesale and retail (F),
        leasing and business services (L) -- see :data:`PRODUCER_SERVICE_TIERS`.
    total
        Column of total employment of the city (all industries), ``S_it``.
    time
        Period column (defaults to the Panel's time column); without it all rows form one
        cross-section.
    prefix
        Output names: ``prefix`` for the overall index and ``prefix_<tier>`` for each tier.

    Returns
    -------
    pandas.DataFrame
        Aligned to the rows of ``df``: the overall index and one column per tier.

    Raises
    ------
    PanelError
        Missing/negative employment, a column in two tiers, a tier larger than total employment,
        or zero total employment in a city.
    """
    data, ptime = _frame(df, "producer_service_agglomeration")
    time = time if time is not None else ptime
    if not tiers:
        raise PanelError("producer_service_agglomeration: tiers is empty; pass {tier: [columns]}")
    tiers = {k: [v] if isinstance(v, str) else list(v) for k, v in tiers.items()}
    seen: dict[str, str] = {}
    for k, cs in tiers.items():
        if not cs:
            raise PanelError(f"producer_service_agglomeration: tier '{k}' has no columns")
        for c in cs:
            if c in seen:
                raise PanelError(f"producer_service_agglomeration: column '{c}' is in tiers '{seen[c]}' and '{k}'")
            seen[c] = k
    if time is not None and time not in data.columns:
        raise PanelError(f"producer_service_agglomeration: column '{time}' not found{did_you_mean(time, data.columns)}")
    tot = _numeric(data, total, "producer_service_agglomeration")
    emp = {c: _numeric(data, c, "producer_service_agglomeration") for c in seen}
    if (tot == 0).any():
        i = (tot == 0).idxmax()
        raise PanelError(f"producer_service_agglomeration: zero total employment ('{total}') in row {i}")
    groups = {"": list(seen), **{f"_{k}": cs for k, cs in tiers.items()}}
    out = pd.DataFrame(index=data.index)
    key = data[time] if time is not None else pd.Series(0, index=data.index)
    for suffix, cs in groups.items():
        s = sum(emp[c] for c in cs)
        over = s > tot + 1e-9 * tot.abs()
        if over.any():
            i = over.idxmax()
            raise PanelError(
                f"producer_service_agglomeration: employment in {cs} exceeds total '{total}' in row {i}"
            )
        ok = s.notna() & tot.notna()
        share_ref = s.where(ok).groupby(key).transform("sum") / tot.where(ok).groupby(key).transform("sum")
        with np.errstate(divide="ignore", invalid="ignore"):
            out[prefix + suffix] = ((s / tot) / share_ref).where(ok & (share_ref > 0))
    return out

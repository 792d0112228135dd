"""Distribute provincial totals to cities in proportion to a proxy.

Seed 000 (sec. 5.4.5) converts provincial optical-cable length and broadband accesses to the
city level by each city's share of its province's telecommunications revenue::

    x_ct = X_pt x proxy_ct / sum_{c' in p} proxy_c't

The city values of a province-year sum back to the provincial total (checked to 1e-12
relative). The proxy must cover *all* cities of the province: with a subset, the whole
provincial total is spread over that subset.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from ..errors import PanelError, did_you_mean, show

__all__ = ["downscale"]


def _as_list(cols: str | Iterable[str]) -> list[str]:
    return [cols] if isinstance(cols, str) else list(cols)


def downscale(
    province_totals: pd.DataFrame,
    cities: Any,
    proxy: str,
    *,
    province: str = "province",
    time: str | None = "year",
    value: str | Iterable[str],
    suffix: str = "",
) -> pd.DataFrame:
    """Split provincial totals among cities proportionally to ``proxy``.

    Parameters
    ----------
    province_totals
        One row per province (and period) with the ``value`` column(s).
    cities
        DataFrame or Panel with one row per city (and period), holding the ``province`` and
        ``time`` keys and the ``proxy`` column (e.g. telecom revenue, night-time light).
    proxy
        Column of ``cities``: non-negative weights.
    province, time
        Key columns, present in both tables. ``time=None`` for a single cross-section.
    value
        Column(s) of ``province_totals`` to distribute.
    suffix
        Appended to the value names in the output (the result columns are ``value + suffix``).

    Returns
    -------
    pandas.DataFrame
        A copy of ``cities`` (rows in their original order) with the downscaled column(s) and
        ``<proxy>_share``, the city's share of its province-period proxy total.

    Raises
    ------
    PanelError
        A city whose province-period has no (or a missing) total; a province-period with a
        missing, negative or all-zero proxy (the message names the province and period); a
        duplicated province-period in ``province_totals``.
    """
    cdf = cities.df if hasattr(cities, "require") and hasattr(cities, "unit") else cities
    if not isinstance(cdf, pd.DataFrame) or not isinstance(province_totals, pd.DataFrame):
        raise PanelError("downscale needs DataFrames for province_totals and cities")
    vals = _as_list(value)
    if not vals:
        raise PanelError("downscale: value= names no column")
    keys = [province] + ([time] if time is not None else [])
    for tab, nm, cols in (
        (province_totals, "province_totals", keys + vals),
        (cdf, "cities", keys + [proxy]),
    ):
        for c in cols:
            if c not in tab.columns:
                raise PanelError(f"downscale: column '{c}' not found in {nm}{did_you_mean(c, tab.columns)}")

    def where(k: tuple) -> str:
        return f"{province} {show(k[0])}" + (f", {time} {show(k[1])}" if time is not None else "")

    tot = province_totals[keys + vals].copy()
    dup = tot.duplicated(keys, keep=False)
    if dup.any():
        k = tuple(tot.loc[dup, keys].iloc[0])
        raise PanelError(f"downscale: province_totals has more than one row for {where(k)}")
    for v in vals:
        tot[v] = pd.to_numeric(tot[v], errors="coerce").astype(float)
    px = pd.to_numeric(cdf[proxy], errors="coerce").astype(float)
    badtxt = px.isna() & cdf[proxy].notna()
    if badtxt.any():
        i = badtxt.idxmax()
        raise PanelError(f"downscale: proxy '{proxy}' must be numeric; row {i} has {show(cdf.at[i, proxy])}")

    left = cdf[keys].copy()
    left["_px"] = px.to_numpy()
    left["_row"] = np.arange(len(cdf))
    merged = left.merge(tot, on=keys, how="left", indicator=True)
    nomatch = merged["_merge"] == "left_only"
    if nomatch.any():
        ks = sorted({tuple(r) for r in merged.loc[nomatch, keys].itertuples(index=False)}, key=str)
        raise PanelError(
            f"downscale: no provincial total for {len(ks)} province-period(s) of the cities: "
            + "; ".join(where(k) for k in ks[:10])
        )
    for v in vals:
        miss = merged[v].isna()
        if miss.any():
            k = tuple(merged.loc[miss, keys].iloc[0])
            raise PanelError(f"downscale: the provincial total '{v}' is missing for {where(k)}")

    grp = merged.groupby(keys, sort=True)
    for k, idx in grp.groups.items():
        k = k if isinstance(k, tuple) else (k,)
        p = merged.loc[idx, "_px"]
        if p.isna().any():
            i = p.isna().idxmax()
            raise PanelError(
                f"downscale: proxy '{proxy}' is missing for {where(k)} (cities row {merged.at[i, '_row']}); "
                "the share of every city of the province cannot be computed"
            )
        if (p < 0).any():
            raise PanelError(f"downscale: negative proxy '{proxy}' in {where(k)}")
        if not p.sum() > 0:
            raise PanelError(f"downscale: proxy '{proxy}' sums to zero in {where(k)}; cannot split the total")

    share = merged["_px"] / grp["_px"].transform("sum")
    out = cdf.copy()
    order = merged["_row"].to_numpy()
    out[f"{proxy}_share"] = pd.Series(share.to_numpy(), index=order).sort_index().to_numpy()
    for v in vals:
        x = merged[v] * share
        back = x.groupby([merged[c] for c in keys]).sum()
        want = merged.groupby(keys)[v].first()
        err = (back - want).abs() / np.maximum(1.0, want.abs())
        if not (err <= 1e-12).all():  # cannot happen with finite data; guards against silent loss
            raise PanelError(f"downscale: city values of '{v}' do not sum to the provincial total")
        out[v + suffix] = pd.Series(x.to_numpy(), index=order).sort_index().to_numpy()
    return out

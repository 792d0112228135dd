"""Composite indices by the entropy weight method (Shannon entropy weighting).

Used by seed 000 (sec. 5.4.5) to build a digital-infrastructure evaluation index from six
indicators. For ``n`` observations ``i`` and ``m`` indicators ``j``:

1. min-max standardisation, positive indicators ``z_ij = (x_ij - min_j) / (max_j - min_j)``,
   negative (cost) indicators ``z_ij = (max_j - x_ij) / (max_j - min_j)``;
2. shift ``z'_ij = z_ij + shift`` (default 0.0001) so that no proportion is zero and ``ln p``
   is defined;
3. proportions ``p_ij = z'_ij / sum_i z'_ij``;
4. entropy ``e_j = -k sum_i p_ij ln p_ij`` with ``k = 1 / ln n`` (so ``0 <= e_j <= 1``);
5. divergence ``d_j = 1 - e_j`` and weights ``w_j = d_j / sum_j d_j``;
6. index ``S_i = sum_j w_j z_ij`` -- the *unshifted* standardised values by default, so the
   index lies in [0, 1] and is 0 for an observation at the worst value of every indicator
   (``score="shifted"`` uses ``z'`` instead, as some papers do).

References
----------
Shannon, C. E. (1948). A mathematical theory of communication. Bell System Technical Journal
27, 379-423.
Zeleny, M. (1982). Multiple Criteria Decision Making. McGraw-Hill (entropy weights).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

import numpy as np
import pandas as pd

from ..errors import PanelError, did_you_mean, show

__all__ = ["entropy_index"]


def _as_list(cols: str | Iterable[str] | None) -> list[str]:
    if cols is None:
        return []
    if isinstance(cols, str):
        return [cols]
    return list(cols)


def _weights(z: np.ndarray, shift: float) -> tuple[np.ndarray, np.ndarray]:
    """Entropy and weight of each column of the standardised matrix ``z`` (n x m)."""
    n = z.shape[0]
    zs = z + shift
    p = zs / zs.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    e = -plogp.sum(axis=0) / np.log(n)
    d = 1.0 - e
    return e, d


def entropy_index(
    df: Any,
    positive: str | Iterable[str],
    negative: str | Iterable[str] = (),
    *,
    by: str | None = None,
    shift: float = 0.0001,
    score: str = "standardised",
    name: str = "entropy_index",
) -> tuple[pd.Series, pd.DataFrame]:
    """Entropy-weighted composite index of several indicators.

    Parameters
    ----------
    df
        DataFrame or :class:`~climetrics.Panel`.
    positive, negative
        Indicator columns where larger is better (positive) or worse (negative / cost).
    by
        Column defining groups standardised and weighted separately, e.g. ``"year"`` for
        year-by-year weights (min, max and weights computed within each year). ``None`` pools
        all rows: one min, max and weight per indicator over the whole sample, so the index is
        comparable across years.
    shift
        Constant added to every standardised value before the proportions are formed, so that
        ``ln p`` is defined for the worst observation (``z = 0``). Must be >= 0; with 0, zero
        proportions contribute ``0 ln 0 = 0``.
    score
        ``"standardised"`` (default): index = sum_j w_j z_ij with the unshifted z in [0, 1];
        ``"shifted"``: uses z_ij + shift.
    name
        Name of the returned index Series.

    Returns
    -------
    index : pandas.Series
        The composite index, aligned to the rows of ``df``.
    weights : pandas.DataFrame
        One row per indicator (and ``by`` group): ``indicator``, ``direction``, ``min``,
        ``max``, ``entropy``, ``divergence``, ``weight``.

    Raises
    ------
    PanelError
        Missing, non-numeric or missing-valued indicator, an indicator listed twice, a group
        with fewer than two rows, or a constant indicator (the message names the column and,
        with ``by``, the group).
    """
    data = df.df if hasattr(df, "require") and hasattr(df, "unit") else df
    if not isinstance(data, pd.DataFrame):
        raise PanelError(f"entropy_index needs a DataFrame or Panel, got {type(df).__name__}")
    pos, neg = _as_list(positive), _as_list(negative)
    cols = pos + neg
    if not cols:
        raise PanelError("entropy_index: give at least one indicator in positive= or negative=")
    dup = sorted({c for c in cols if cols.count(c) > 1})
    if dup:
        raise PanelError(f"entropy_index: indicator(s) listed more than once: {dup}")
    if score not in ("standardised", "shifted"):
        raise PanelError(f"entropy_index: score must be 'standardised' or 'shifted', got {show(score)}")
    if not (np.isfinite(shift) and shift >= 0):
        raise PanelError(f"entropy_index: shift must be a non-negative number, got {show(shift)}")
    for c in cols + ([by] if by is not None else []):
        if c not in data.columns:
            raise PanelError(f"entropy_index: column '{c}' not found{did_you_mean(c, data.columns)}")
    x = pd.DataFrame(index=data.index)
    for c in cols:
        v = pd.to_numeric(data[c], errors="coerce")
        bad = v.isna() & data[c].notna()
        if bad.any():
            i = bad.idxmax()
            raise PanelError(f"entropy_index: column '{c}' must be numeric; row {i} has {show(data.at[i, c])}")
        if v.isna().any():
            rows = list(v.index[v.isna()][:5])
            raise PanelError(
                f"entropy_index: column '{c}' has {int(v.isna().sum())} missing values (rows {rows}); "
                "fill them first (e.g. Panel.interpolate) or drop the rows"
            )
        if not np.isfinite(v.to_numpy(dtype=float)).all():
            raise PanelError(f"entropy_index: column '{c}' has infinite values")
        x[c] = v.astype(float)

    # positional row numbers, so that a duplicated index label cannot mix groups
    groups: list[tuple[Hashable, np.ndarray]]
    if by is None:
        groups = [(None, np.arange(len(data)))]
    else:
        if data[by].isna().any():
            raise PanelError(f"entropy_index: the by column '{by}' has missing values")
        groups = list(data.groupby(by, sort=True).indices.items())

    xm = x[cols].to_numpy()
    result = np.full(len(data), np.nan)
    rows = []
    for g, idx in groups:
        where = "" if by is None else f" in {by} {show(g)}"
        sub = xm[idx]
        n = sub.shape[0]
        if n < 2:
            raise PanelError(f"entropy_index: need at least 2 observations{where}, got {n}")
        lo, hi = sub.min(axis=0), sub.max(axis=0)
        const = [c for c, a, b in zip(cols, lo, hi, strict=True) if not b > a]
        if const:
            raise PanelError(
                f"entropy_index: indicator(s) {', '.join(repr(c) for c in const)} are constant{where}; "
                "a constant indicator carries no information -- drop it"
            )
        z = (sub - lo) / (hi - lo)
        k = len(pos)
        z[:, k:] = 1.0 - z[:, k:]  # negative: (max - x) / (max - min)
        e, d = _weights(z, shift)
        if not d.sum() > 0:
            raise PanelError(f"entropy_index: all indicators have entropy 1{where}; weights undefined")
        w = d / d.sum()
        zz = z + shift if score == "shifted" else z
        result[idx] = zz @ w
        for j, c in enumerate(cols):
            row = {
                "indicator": c,
                "direction": "positive" if j < k else "negative",
                "min": lo[j],
                "max": hi[j],
                "entropy": e[j],
                "divergence": d[j],
                "weight": w[j],
            }
            if by is not None:
                row = {by: g, **row}
            rows.append(row)
    return pd.Series(result, index=data.index, name=name), pd.DataFrame(rows)

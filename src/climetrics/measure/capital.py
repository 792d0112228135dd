"""Capital stock by the perpetual inventory method, and real values by a price deflator.

Seed 000's DEA inputs include each region's capital stock, which statistical yearbooks do not
publish: it is built from fixed-asset investment by the perpetual inventory method (PIM)

    K_t = K_{t-1} (1 - delta) + I_t / P_t ,

with ``delta`` the depreciation rate and ``P_t`` the investment price index rebased so that
``P = 1`` in the base year (so ``K`` is in base-year prices). The stock of each unit's first
year ``t0`` is either given (a value, or a column read at ``t0``) or set by the steady-state
convention of Hall & Jones (1999, sec. II and footnote on the capital stock data)

    K_{t0} = (I_{t0} / P_{t0}) / (g + delta),

where ``g`` is the average geometric growth rate of real investment over the unit's first
``n`` years, ``g = (I_{t0+n} / I_{t0}) ** (1/n) - 1`` in real terms. (It is the
balanced-growth stock for the timing ``K_{t+1} = K_t (1 - delta) + I_t``; with the timing above
a series growing at exactly ``g`` gives ``K_t = I_{t0} ((1+g)^(t-t0+1) - g (1-delta)^(t-t0)) /
(g + delta)``.) Young (2003) starts China's capital series with the same kind of
steady-state ratio of investment to growth plus depreciation. Zhang, Wu & Zhang (2004) estimate Chinese provincial
stocks with ``delta = 9.6%``; the rate is an input here, never a default.

Unrolled, ``K_t = (1 - delta)^(t - t0) K_{t0} + sum_{s=t0+1}^{t} (1 - delta)^(t - s) I_s / P_s``
(computed as a first-order linear recursion filter per unit).

References
----------
Hall, R. E. & Jones, C. I. (1999). Why do some countries produce so much more output per worker
than others? Quarterly Journal of Economics 114(1), 83-116.
Young, A. (2003). Gold into base metals: productivity growth in the People's Republic of China
during the reform period. Journal of Political Economy 111(6), 1220-1261.
Zhang Jun, Wu Guiying & Zhang Jipeng (2004). The estimation of China's provincial capital
stock: 1952-2000. Economic Research Journal (Jingji Yanjiu) 2004(10), 35-44.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from ..errors import PanelError, did_you_mean, show
from ..panel import Panel

__all__ = ["capital_stock", "deflate", "rebased_deflator"]


def _need(panel: Panel, col: str, what: str) -> None:
    if col not in panel:
        raise PanelError(
            f"{what} column '{col}' not found{did_you_mean(col, panel.columns)}"
        )


def _where(panel: Panel, i: int) -> str:
    df = panel.df
    return (
        f"{panel.unit} {show(df[panel.unit].iloc[i])}, {panel.time} {show(df[panel.time].iloc[i])}"
    )


def rebased_deflator(panel: Panel, deflator: str, base_year: int) -> np.ndarray:
    """The price index ``deflator`` of each unit divided by its own value in ``base_year``
    (so the rebased index is 1 in the base year), aligned with ``panel.df``'s rows.

    A unit without a ``base_year`` row, or with a missing or non-positive index in that year,
    is an error naming the unit; rows with a missing or non-positive index stay NaN here and
    are reported by the caller where a value needs them.
    """
    _need(panel, deflator, "deflator")
    df = panel.df
    p = pd.to_numeric(df[deflator], errors="coerce").to_numpy(dtype=float)
    at_base = df[panel.time].to_numpy() == base_year
    base = pd.Series(np.where(at_base, p, np.nan), index=df.index).groupby(
        df[panel.unit].to_numpy(), sort=False
    ).transform("max")
    missing = base.isna().to_numpy()
    if missing.any():
        u = df[panel.unit].iloc[int(missing.argmax())]
        has_row = bool((at_base & (df[panel.unit] == u).to_numpy()).any())
        why = "is missing in that year" if has_row else "has no row for that year"
        raise PanelError(
            f"deflator '{deflator}': {panel.unit} {show(u)} {why}, so its index cannot be "
            f"rebased to base year {base_year}"
        )
    if (base <= 0).any():
        u = df[panel.unit].iloc[int((base <= 0).to_numpy().argmax())]
        raise PanelError(
            f"deflator '{deflator}' of {panel.unit} {show(u)} is <= 0 in base year {base_year}"
        )
    out = p / base.to_numpy()
    out[~(out > 0)] = np.nan
    return out


def deflate(
    panel: Panel,
    columns: str | Iterable[str],
    deflator: str,
    base_year: int,
    *,
    suffix: str = "_real",
) -> Panel:
    """Real values ``x / P`` in base-year prices, one new column ``<column><suffix>`` each.

    ``P`` is the price index ``deflator`` rebased unit by unit so that ``P = 1`` in
    ``base_year`` (:func:`rebased_deflator`); the index must be a fixed-base series (e.g.
    1978 = 100), not a chain index (previous year = 100). Missing values of a column stay
    missing; a value whose row lacks a positive index is an error naming the unit and year.
    """
    cols = [columns] if isinstance(columns, str) else list(columns)
    p = rebased_deflator(panel, deflator, base_year)
    new = {}
    for c in cols:
        _need(panel, c, "value")
        x = pd.to_numeric(panel.df[c], errors="coerce").to_numpy(dtype=float)
        gap = ~np.isnan(x) & np.isnan(p)
        if gap.any():
            raise PanelError(
                f"deflator '{deflator}' is missing or <= 0 at {_where(panel, int(gap.argmax()))}, "
                f"where '{c}' has a value to deflate"
            )
        name = f"{c}{suffix}"
        if name in panel or name in new:
            raise PanelError(f"deflate: column '{name}' already exists; choose another suffix")
        new[name] = x / p
    return panel.assign(**new)


def capital_stock(
    panel: Panel,
    investment: str,
    delta: float,
    *,
    deflator: str | None = None,
    base_year: int | None = None,
    initial: str | float | None = None,
    growth_years: int = 5,
    name: str = "capital",
) -> pd.Series:
    """Perpetual-inventory capital stock ``K_t = K_{t-1}(1 - delta) + I_t / P_t`` of each unit.

    Parameters
    ----------
    panel : Panel
        Yearly panel; each unit's years must be consecutive from its first year.
    investment : str
        Column of (nominal, if ``deflator`` is given) gross fixed-capital formation ``I_t``.
    delta : float
        Depreciation rate in (0, 1), e.g. 0.096 (Zhang, Wu & Zhang 2004).
    deflator, base_year : str, int, optional
        Investment price index column, rebased per unit to 1 in ``base_year``; without it the
        investment is taken as already real.
    initial : str or float, optional
        The stock of each unit's first year (in base-year prices): a column (read at that
        year) or one value for every unit. Default: Hall & Jones (1999),
        ``K_{t0} = I_{t0} / (g + delta)`` with ``g`` the geometric average growth rate of real
        investment over the first ``growth_years`` years of the unit.
    growth_years : int
        ``n`` in ``g = (I_{t0+n} / I_{t0}) ** (1/n) - 1`` (default 5).

    Returns
    -------
    pandas.Series
        ``K_t`` aligned with ``panel.df`` (same index), named ``name``.

    Raises
    ------
    PanelError
        Naming the unit and year of a missing investment (a missing value, or a year absent
        from the unit's series), a missing initial stock, a negative stock, or the unit whose
        growth rate cannot be computed (series shorter than ``growth_years + 1`` years,
        non-positive investment at its ends, or ``g + delta <= 0``).
    """
    if not (isinstance(delta, int | float) and 0 < delta < 1):
        raise PanelError(f"capital_stock: delta must be a rate in (0, 1), got {delta!r}")
    if (deflator is None) != (base_year is None):
        raise PanelError("capital_stock: give deflator and base_year together")
    if initial is None and not (isinstance(growth_years, int) and growth_years >= 1):
        raise PanelError(f"capital_stock: growth_years must be >= 1, got {growth_years!r}")
    _need(panel, investment, "investment")
    df = panel.df
    inv = pd.to_numeric(df[investment], errors="coerce").to_numpy(dtype=float)
    if deflator is not None:
        p = rebased_deflator(panel, deflator, int(base_year))  # type: ignore[arg-type]
        bad = ~np.isnan(inv) & np.isnan(p)
        if bad.any():
            raise PanelError(
                f"deflator '{deflator}' is missing or <= 0 at {_where(panel, int(bad.argmax()))}"
            )
        inv = inv / p
    miss = np.isnan(inv)
    if miss.any():
        raise PanelError(
            f"investment '{investment}' is missing at {_where(panel, int(miss.argmax()))}; the "
            "perpetual inventory needs every year of each unit's series (interpolate it first)"
        )
    if isinstance(initial, str):
        _need(panel, initial, "initial capital stock")
        k0_col = pd.to_numeric(df[initial], errors="coerce").to_numpy(dtype=float)
    from scipy.signal import lfilter

    units = df[panel.unit].to_numpy()
    years = df[panel.time].to_numpy()
    out = np.empty(len(df))
    for rows in pd.Series(np.arange(len(df))).groupby(units, sort=False).indices.values():
        u, t = units[rows[0]], years[rows]
        step = np.diff(t)
        if (step != 1).any():
            j = int((step != 1).argmax())
            raise PanelError(
                f"investment '{investment}' is missing for {panel.unit} {show(u)}, "
                f"{panel.time} {show(t[j] + 1)} (the year is absent between {show(t[j])} and "
                f"{show(t[j + 1])}); the perpetual inventory needs consecutive years"
            )
        i_real = inv[rows]
        if initial is None:
            k0 = _hall_jones_start(i_real, delta, growth_years, f"{panel.unit} {show(u)}")
        elif isinstance(initial, str):
            k0 = k0_col[rows[0]]
            if math.isnan(k0):
                raise PanelError(
                    f"initial capital stock '{initial}' is missing at {_where(panel, rows[0])} "
                    "(the unit's first year)"
                )
        else:
            k0 = float(initial)
        x = i_real.copy()
        x[0] = k0
        out[rows] = lfilter([1.0], [1.0, -(1.0 - delta)], x)
    neg = out < 0
    if neg.any():
        raise PanelError(
            f"capital stock is negative ({out[neg.argmax()]:.6g}) at "
            f"{_where(panel, int(neg.argmax()))}: check '{investment}' and the initial stock"
        )
    return pd.Series(out, index=df.index, name=name)


def _hall_jones_start(i_real: np.ndarray, delta: float, n: int, who: str) -> float:
    """``I_{t0} / (g + delta)`` with ``g = (I_{t0+n} / I_{t0}) ** (1/n) - 1``."""
    if len(i_real) < n + 1:
        raise PanelError(
            f"{who} has {len(i_real)} year(s), too few for the growth rate of investment over "
            f"its first {n} years (growth_years); give the initial stock or lower growth_years"
        )
    first, last = i_real[0], i_real[n]
    if not (first > 0 and last > 0):
        raise PanelError(
            f"{who}: real investment must be > 0 in its first year and {n} years later to "
            f"compute its growth rate (got {first:.6g} and {last:.6g}); give the initial stock"
        )
    g = (last / first) ** (1.0 / n) - 1.0
    if g + delta <= 0:
        raise PanelError(
            f"{who}: investment growth g = {g:.4g} over its first {n} years makes g + delta <= 0, "
            "so I_0 / (g + delta) is not a stock; give the initial stock"
        )
    return float(first / (g + delta))

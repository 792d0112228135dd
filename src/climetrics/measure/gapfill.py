"""Complete missing trailing years of a series by a unit-by-unit time-series forecast.

Seed 003 (sec. 4.2.1) extends city CO2 from the China carbon accounting database, which ends
in 2019, by time-series forecasting. :func:`fill_trailing` does this for every unit with a model
fitted on that unit's own history:

* ``"linear_trend"`` -- OLS line ``y = a + b t`` (``numpy.polyfit`` degree 1), extrapolated;
* ``"ar1"`` -- ``y_t = c + phi y_{t-1} + e_t`` by OLS on consecutive observed years, iterated
  forward (``y_{T+h} = c + phi y_{T+h-1}``);
* ``"holt"`` -- Holt's linear exponential smoothing (level ``l``, trend ``b``;
  ``l_t = alpha y_t + (1-alpha)(l_{t-1}+b_{t-1})``, ``b_t = beta (l_t-l_{t-1}) + (1-beta) b_{t-1}``,
  initialised at ``l_0 = y_0``, ``b_0 = y_1 - y_0``), ``alpha, beta`` in [0, 1] chosen by
  minimising the one-step-ahead squared errors; forecast ``l_T + h b_T``.

Only missing cells after the unit's last observed year are filled; observed values and interior
gaps are never changed (use :meth:`Panel.interpolate` for interior gaps). Each filled cell is
recorded in :attr:`Panel.imputed` with the method name.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..errors import PanelError, show
from ..panel import Panel

__all__ = ["METHODS", "fill_trailing"]

#: method -> minimum number of observed years needed to fit it
METHODS = {"linear_trend": 3, "ar1": 4, "holt": 4}


def _linear(t: np.ndarray, y: np.ndarray, t_new: np.ndarray) -> np.ndarray:
    b, a = np.polyfit(t, y, 1)
    return a + b * t_new


def _ar1(t: np.ndarray, y: np.ndarray, t_new: np.ndarray, unit: object) -> np.ndarray:
    pos = {int(tt): v for tt, v in zip(t, y, strict=True)}
    pairs = [(pos[k - 1], pos[k]) for k in pos if k - 1 in pos]
    if len(pairs) < 3:
        raise PanelError(
            f"fill_trailing(ar1): unit {show(unit)} has {len(pairs)} pairs of consecutive observed "
            "years; at least 3 are needed"
        )
    x0 = np.array([p[0] for p in pairs])
    x1 = np.array([p[1] for p in pairs])
    X = np.column_stack([np.ones_like(x0), x0])
    (c, phi), *_ = np.linalg.lstsq(X, x1, rcond=None)
    last_t, last_y = int(t[-1]), float(y[-1])
    out, cur, cur_t = [], last_y, last_t
    for tn in t_new:
        while cur_t < tn:
            cur = c + phi * cur
            cur_t += 1
        out.append(cur)
    return np.array(out)


def _holt_path(y: np.ndarray, alpha: float, beta: float) -> tuple[float, float, float]:
    level, trend = y[0], y[1] - y[0]
    sse = 0.0
    for v in y[1:]:
        f = level + trend
        sse += (v - f) ** 2
        new_level = alpha * v + (1 - alpha) * f
        trend = beta * (new_level - level) + (1 - beta) * trend
        level = new_level
    return sse, level, trend


def _holt(t: np.ndarray, y: np.ndarray, t_new: np.ndarray, unit: object) -> np.ndarray:
    if np.any(np.diff(t) != 1):
        raise PanelError(
            f"fill_trailing(holt): unit {show(unit)} has gaps in its fitting years {t.astype(int).tolist()}; "
            "Holt smoothing needs consecutive years -- interpolate interior gaps first or use fit_years"
        )
    from scipy.optimize import minimize

    best = None
    for a0 in (0.2, 0.5, 0.8):
        for b0 in (0.1, 0.3):
            r = minimize(
                lambda p: _holt_path(y, p[0], p[1])[0],
                x0=[a0, b0],
                method="L-BFGS-B",
                bounds=[(0.0, 1.0), (0.0, 1.0)],
            )
            if best is None or r.fun < best.fun:
                best = r
    _, level, trend = _holt_path(y, *best.x)
    return level + (t_new - t[-1]) * trend


def fill_trailing(
    panel: Panel,
    column: str,
    *,
    method: str = "linear_trend",
    last_observed: int | None = None,
    fit_years: int | None = None,
    until: int | None = None,
    log: bool = False,
    min_obs: int | None = None,
    on_short: str = "raise",
) -> Panel:
    """Forecast the missing trailing years of ``column`` unit by unit.

    Parameters
    ----------
    panel
        The panel; it is not modified.
    column
        Numeric column to complete (e.g. CO2).
    method
        ``"linear_trend"``, ``"ar1"`` or ``"holt"`` (see the module docstring).
    last_observed
        Last year of the source data (e.g. 2019). Only years up to it are used for fitting and
        only missing cells after it are filled. ``None``: each unit's own last observed year.
    fit_years
        Fit on the last ``fit_years`` observed years of each unit only (``None``: all).
    until
        Also add rows for years after a unit's last row up to ``until`` (other columns missing)
        and fill them. ``None``: fill only rows that exist in the panel.
    log
        Fit and forecast ``ln(column)`` and return ``exp`` of the forecast (keeps it positive;
        needs positive history).
    min_obs
        Fewest observed fitting years a unit needs; default 3 (linear_trend), 4 (ar1, holt).
    on_short
        What to do with units whose history is too short: ``"raise"`` (default) a
        :class:`~climetrics.errors.PanelError` naming them; ``"warn"`` leave their trailing cells
        missing and issue a ``UserWarning`` naming them.

    Returns
    -------
    Panel
        A new Panel with the filled cells and their method recorded in :attr:`Panel.imputed`
        (existing records are kept).

    Raises
    ------
    PanelError
        Unknown method or option, non-numeric column, units with too short a history
        (``on_short="raise"``), non-positive history with ``log=True``.
    """
    if method not in METHODS:
        raise PanelError(f"fill_trailing: unknown method {show(method)}; use one of {', '.join(METHODS)}")
    if on_short not in ("raise", "warn"):
        raise PanelError(f"fill_trailing: on_short must be 'raise' or 'warn', got {show(on_short)}")
    if fit_years is not None and fit_years < 2:
        raise PanelError(f"fill_trailing: fit_years must be at least 2, got {fit_years}")
    panel.require([column], context="fill_trailing")
    need = METHODS[method] if min_obs is None else int(min_obs)
    if fit_years is not None and fit_years < need:
        raise PanelError(f"fill_trailing({method}): fit_years={fit_years} is below the minimum of {need} observations")
    u, tcol = panel.unit, panel.time
    df = panel.to_frame()
    imputed = panel.imputed
    if until is not None:
        last = df.groupby(u, sort=False)[tcol].max()
        add = [{u: unit, tcol: yr} for unit, lt in last.items() for yr in range(int(lt) + 1, int(until) + 1)]
        if add:
            extra = pd.DataFrame(add)
            df = pd.concat([df, extra], ignore_index=True)
            imputed = pd.concat(
                [imputed, pd.DataFrame(None, index=range(len(extra)), columns=imputed.columns, dtype=object)],
                ignore_index=True,
            )
    v = df[column].astype(float)
    t_all = df[tcol].to_numpy()
    new = v.copy()
    filled = pd.Series(False, index=df.index)
    short: list[str] = []
    for unit, idx in df.groupby(u, sort=True).groups.items():
        idx = np.asarray(idx)
        t = t_all[idx]
        y = v.to_numpy()[idx]
        obs = ~np.isnan(y)
        if last_observed is not None:
            fit_mask = obs & (t <= last_observed)
            cutoff = last_observed
        else:
            fit_mask = obs
            cutoff = t[obs].max() if obs.any() else None
        if cutoff is None:
            short.append(f"{unit!s} (no observed value)")
            continue
        target = np.isnan(y) & (t > cutoff)
        if not target.any():
            continue
        tf, yf = t[fit_mask].astype(float), y[fit_mask]
        order = np.argsort(tf)
        tf, yf = tf[order], yf[order]
        if fit_years is not None:
            tf, yf = tf[-fit_years:], yf[-fit_years:]
        if len(tf) < need:
            short.append(f"{unit!s} ({len(tf)} observed years)")
            continue
        if log:
            if np.any(yf <= 0):
                raise PanelError(f"fill_trailing(log=True): unit {show(unit)} has non-positive '{column}' values")
            yf = np.log(yf)
        t_new = t[target].astype(float)
        if method == "linear_trend":
            pred = _linear(tf, yf, t_new)
        elif method == "ar1":
            pred = _ar1(tf, yf, t_new, unit)
        else:
            pred = _holt(tf, yf, t_new, unit)
        if log:
            pred = np.exp(pred)
        rows = idx[target]
        new.loc[rows] = pred
        filled.loc[rows] = True
    if short:
        msg = (
            f"fill_trailing({method}): {len(short)} unit(s) have too short a history for '{column}' "
            f"(need {need} observed years): {', '.join(short[:20])}" + (" ..." if len(short) > 20 else "")
        )
        if on_short == "raise":
            raise PanelError(msg + "; pass on_short='warn' to leave them missing")
        warnings.warn(msg + "; their trailing cells stay missing", UserWarning, stacklevel=2)
    assert not (filled & v.notna()).any()  # observed values are never overwritten
    df[column] = new
    if filled.any():
        if column not in imputed.columns:
            imputed[column] = pd.Series([None] * len(df), index=df.index, dtype=object)
        imputed.loc[filled.to_numpy(), column] = method
    step = f"fill_trailing({column}, {method}" + (f", last_observed={last_observed}" if last_observed else "") + ")"
    return Panel(df, u, tcol, imputed=imputed, history=(*panel.history, step))

"""Design of dynamic panel GMM (:func:`climetrics.estimate.endogeneity.gmm.dynamic_gmm`):
stacked per-unit blocks of the differenced (and level) equations, their regressors and the
GMM-style and standard instruments, following the conventions of R ``plm::pgmm`` described in
the docstring of :mod:`climetrics.estimate.endogeneity.gmm`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ...errors import EstimationError, PanelError
from ...panel import Panel
from ..baseline.twfe import collinear_columns

LagLimits = tuple[int, int | None]


def _term_name(var: str, k: int) -> str:
    if k == 0:
        return var
    return f"L.{var}" if k == 1 else f"L{k}.{var}"


# ---------------------------------------------------------------------------- design
@dataclass
class _Design:
    """Stacked per-unit blocks: every unit has the same ``R`` equation rows (zeros if unused)."""

    y: np.ndarray  # (N, R)
    X: np.ndarray  # (N, R, K)
    Z: np.ndarray  # (N, R, L)
    H: np.ndarray  # (R, R)
    n_diff: int  # the first n_diff rows are differenced equations, the rest levels
    valid: np.ndarray  # (N, R) bool
    names: list[str]
    time_terms: list[str]
    inst_names: list[str]
    dropped_instruments: int
    dropped_terms: list[str]


def _grid(panel: Panel, cols: Sequence[str]) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    df = panel.df
    ucodes, units = pd.factorize(df[panel.unit], sort=True)
    observed = np.sort(df[panel.time].unique())
    step = int(np.gcd.reduce(np.diff(observed))) if observed.size > 1 else 1
    periods = np.arange(observed[0], observed[-1] + 1, step)
    tpos = (df[panel.time].to_numpy() - observed[0]) // step
    n, t = len(units), len(periods)
    out = {}
    for c in cols:
        a = np.full((n, t), np.nan)
        a[ucodes, tpos] = pd.to_numeric(df[c]).to_numpy(dtype=float)
        out[c] = a
    return out, np.asarray(units), periods


def _lag(a: np.ndarray, k: int) -> np.ndarray:
    if k == 0:
        return a
    out = np.full_like(a, np.nan)
    if k < a.shape[1]:
        out[:, k:] = a[:, :-k]
    return out


def _diff(a: np.ndarray) -> np.ndarray:
    out = np.full_like(a, np.nan)
    out[:, 1:] = a[:, 1:] - a[:, :-1]
    return out


def _gmm_diff_block(v: np.ndarray, rows: np.ndarray, a: int, b: int | None, collapse: bool, name: str,
                    periods: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """GMM-style instruments (levels dated t-b..t-a) for the differenced equations at ``rows``."""
    n, t = v.shape
    if collapse:
        n_cols = t - a if b is None else min(t - a, b - a + 1)
        j = np.arange(n_cols)
        src = rows[:, None] - a - j[None, :]
        ok = src >= 0
        block = v[:, np.clip(src, 0, None)]
        block[:, ~ok] = np.nan
        return block, [f"{name} L{a + k}" for k in j]
    r_idx, s_idx = [], []
    for r, tt in enumerate(rows):
        lo = 0 if b is None else max(0, tt - b)
        s = np.arange(lo, tt - a + 1)
        r_idx.append(np.full(s.size, r))
        s_idx.append(s)
    r_all, s_all = np.concatenate(r_idx), np.concatenate(s_idx)
    block = np.zeros((n, rows.size, r_all.size))
    block[:, r_all, np.arange(r_all.size)] = v[:, s_all]
    names = [f"{name} L{rows[r] - s} ({periods[rows[r]]})" for r, s in zip(r_all, s_all, strict=True)]
    return block, names


def _gmm_level_block(dv: np.ndarray, rows: np.ndarray, a: int, collapse: bool, name: str,
                     periods: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """GMM-style instruments of the level equations: the difference dated t-a+1 (one column
    per level period where that difference exists, or a single column with ``collapse``)."""
    n = dv.shape[0]
    src = rows - a + 1
    ok = src >= 1  # the first period has no difference
    vals = np.full((n, rows.size), np.nan)
    vals[:, ok] = dv[:, src[ok]]
    if collapse:
        return vals[:, :, None], [f"D.{name} L{a - 1}"]
    idx = np.flatnonzero(ok)
    block = np.zeros((n, rows.size, idx.size))
    block[:, idx, np.arange(idx.size)] = vals[:, idx]
    return block, [f"D.{name} L{a - 1} ({periods[rows[r]]})" for r in idx]


def _one_step_h(n_diff: int, n_level: int) -> np.ndarray:
    g = 2 * np.eye(n_diff) - np.eye(n_diff, k=1) - np.eye(n_diff, k=-1)
    if n_level == 0:
        return g
    d = np.zeros((n_diff, n_level))
    i = np.arange(n_diff)
    d[i, i] = -1.0
    d[i, i + 1] = 1.0
    return np.block([[g, d], [d.T, np.eye(n_level)]])


def _build(
    panel: Panel,
    y: str,
    y_lags: list[int],
    x: dict[str, list[int]],
    gmm: dict[str, LagLimits],
    iv: dict[str, list[int]],
    system: bool,
    collapse: bool,
    time_effects: bool,
) -> tuple[_Design, dict[str, Any]]:
    cols = list(dict.fromkeys([y, *x, *gmm, *iv]))
    panel.require(cols, context="dynamic_gmm")
    data, units, periods = _grid(panel, cols)
    n, t = data[y].shape
    main_max = max([*y_lags, *(k for ks in x.values() for k in ks)])
    a_min = min(a for a, _ in gmm.values())
    tl1 = max(main_max + 1, a_min)
    tl2 = tl1 - 1
    r1 = t - tl1
    if r1 < 1:
        raise EstimationError(
            f"too few periods for the lags: the panel has {t} periods ({periods[0]}-{periods[-1]}), "
            f"but the model loses the first {tl1} to lags and differencing (largest lag {main_max}, "
            f"smallest GMM instrument lag {a_min}); at least {tl1 + 1} periods are needed"
        )
    diff_rows = np.arange(tl1, t)
    level_rows = np.arange(tl2, t) if system else np.arange(0)
    r2 = level_rows.size

    # regressors in levels, (N, T) each
    reg: list[tuple[str, np.ndarray]] = [(_term_name(y, k), _lag(data[y], k)) for k in y_lags]
    reg += [(_term_name(v, k), _lag(data[v], k)) for v, ks in x.items() for k in ks]
    names = [nm for nm, _ in reg]
    dup = {nm for nm in names if names.count(nm) > 1}
    if dup:
        raise PanelError(f"regressor(s) {sorted(dup)} appear twice; y lags and x lags must be distinct")
    yl = data[y]

    def rows_of(a2: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return a2[:, rows]

    y_d = rows_of(_diff(yl), diff_rows)
    x_d = np.stack([rows_of(_diff(a2), diff_rows) for _, a2 in reg], axis=2)
    y_l = rows_of(yl, level_rows)
    x_l = np.stack([rows_of(a2, level_rows) for _, a2 in reg], axis=2)

    # time effects: regressor blocks (diff rows, level rows) and their instrument block
    time_terms: list[str] = []
    t_d = np.zeros((n, r1, 0))
    t_l = np.zeros((n, r2, 0))
    t_inst_level = system  # system: level dummies instrument the level equation
    if time_effects and system:
        # constant + dummies of level periods after the first, in levels
        v2 = np.zeros((r2, r2))
        v2[:, 0] = 1.0
        v2[np.arange(1, r2), np.arange(1, r2)] = 1.0
        time_terms = ["_cons"] + [f"{panel.time}_{periods[p]}" for p in level_rows[1:]]
        t_d = np.broadcast_to(v2[1:] - v2[:-1], (n, r1, r2))
        t_l = np.broadcast_to(v2, (n, r2, r2))
    elif time_effects:
        time_terms = [f"{panel.time}_{periods[p]}" for p in diff_rows]
        t_d = np.broadcast_to(np.eye(r1) - np.eye(r1, k=-1), (n, r1, r1))
    elif system:
        time_terms = ["_cons"]
        t_d = np.zeros((n, r1, 1))
        t_l = np.ones((n, r2, 1))

    # validity of equation rows: outcome and every regressor observed
    ok_d = np.isfinite(y_d) & np.isfinite(x_d).all(axis=2)
    ok_l = np.isfinite(y_l) & np.isfinite(x_l).all(axis=2) if system else np.zeros((n, 0), bool)
    valid = np.concatenate([ok_d, ok_l], axis=1)
    if not valid.any():
        absent = np.setdiff1d(periods, panel.df[panel.time].unique())
        hint = (
            f"; periods {', '.join(map(str, absent))} are absent from the whole panel and lags are "
            "taken by calendar period (renumber the time column to treat consecutive observed "
            "periods as one step apart)" if absent.size else ""
        )
        raise EstimationError(
            f"no observations left for the dynamic model of '{y}': every unit lacks the "
            f"consecutive periods needed for the lags and differences{hint}"
        )
    yv = np.concatenate([y_d, y_l], axis=1) if system else y_d
    X = np.concatenate([x_d, x_l], axis=1) if system else x_d
    T_ = np.concatenate([t_d, t_l], axis=1) if system else np.asarray(t_d)
    X = np.concatenate([X, T_], axis=2)
    yv = np.where(valid, yv, 0.0)
    X = np.where(valid[:, :, None], X, 0.0)
    names = names + time_terms

    # regressors collinear in the rows used: an error for the model's variables; time effects
    # without observations or made redundant by absent periods are dropped
    coll = collinear_columns(X.reshape(-1, X.shape[2]), names, tol=1e-5)
    bad_main = [nm for nm in coll if nm not in time_terms]
    if bad_main:
        raise EstimationError(
            f"regressor(s) {bad_main} are zero or collinear with other regressors in every "
            "equation used (e.g. a time-invariant variable, which differencing removes); drop "
            "them from the model"
        )
    keep_t = np.array([nm not in coll for nm in time_terms], dtype=bool)
    keep = np.r_[np.ones(len(names) - len(time_terms), bool), keep_t]
    X = X[:, :, keep]
    names = [nm for nm, k in zip(names, keep, strict=True) if k]
    dropped_terms = [nm for nm in time_terms if nm in coll]
    time_terms = [nm for nm in time_terms if nm not in coll]

    # instruments: time effects, GMM-style, standard
    z_d: list[np.ndarray] = []
    z_l: list[np.ndarray] = []
    zn_d: list[str] = []
    zn_l: list[str] = []
    if time_terms:
        if t_inst_level:
            z_l.append(np.asarray(t_l)[:, :, keep_t])
            zn_l += time_terms
        else:
            z_d.append(np.asarray(t_d)[:, :, keep_t])
            zn_d += [f"D.{nm}" for nm in time_terms]
    for v, (a, b) in gmm.items():
        blk, nm = _gmm_diff_block(data[v], diff_rows, a, b, collapse, v, periods)
        z_d.append(blk)
        zn_d += nm
        if system:
            blk, nm = _gmm_level_block(_diff(data[v]), level_rows, a, collapse, v, periods)
            z_l.append(blk)
            zn_l += nm
    std = [(_term_name(v, k), _lag(data[v], k)) for v, ks in iv.items() for k in ks]
    if std:
        z_d.append(np.stack([rows_of(_diff(a2), diff_rows) for _, a2 in std], axis=2))
        zn_d += [f"D.{nm}" for nm, _ in std]
        if system:
            z_l.append(np.stack([rows_of(a2, level_rows) for _, a2 in std], axis=2))
            zn_l += [nm for nm, _ in std]
    zd = np.concatenate(z_d, axis=2)
    if system:
        zl = np.concatenate(z_l, axis=2)
        Z = np.zeros((n, r1 + r2, zd.shape[2] + zl.shape[2]))
        Z[:, :r1, : zd.shape[2]] = zd
        Z[:, r1:, zd.shape[2]:] = zl
    else:
        Z = zd
    inst_names = zn_d + zn_l
    Z = np.where(valid[:, :, None] & np.isfinite(Z), Z, 0.0)
    # drop instruments never observed in a used equation
    nz = np.abs(Z).reshape(-1, Z.shape[2]).max(axis=0) > 0
    dropped_inst = int((~nz).sum())
    Z = Z[:, :, nz]
    inst_names = [nm for nm, k in zip(inst_names, nz, strict=True) if k]

    design = _Design(
        y=yv, X=X, Z=Z, H=_one_step_h(r1, r2), n_diff=r1, valid=valid, names=names,
        time_terms=time_terms, inst_names=inst_names, dropped_instruments=dropped_inst,
        dropped_terms=dropped_terms,
    )
    info = {
        "units": units,
        "periods": periods,
        "first_diff_period": periods[tl1],
        "lost_periods": tl1,
        "absent_periods": np.setdiff1d(periods, panel.df[panel.time].unique()),
        "step": int(periods[1] - periods[0]) if periods.size > 1 else 1,
    }
    return design, info



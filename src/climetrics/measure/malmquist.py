"""Malmquist-Luenberger productivity indices on the directional distance function with
undesirable outputs: the adjacent-period ML index of Chung, Fare & Grosskopf (1997) and the
global ML index of Oh (2010), each with its efficiency-change / technical-change decomposition.

Notation: ``D^s(t)`` is the radial DDF (:class:`~climetrics.measure.nddf.DDFModel`) of a
unit's period-``t`` observation against the period-``s`` technology, ``D^G`` against the global
technology (all periods).

Chung et al. (1997), eq. (12)-(14)::

    ML_t^{t+1} = sqrt{ [1 + D^t(t)] / [1 + D^t(t+1)] * [1 + D^{t+1}(t)] / [1 + D^{t+1}(t+1)] }
    EC         = [1 + D^t(t)] / [1 + D^{t+1}(t+1)]
    TC         = sqrt{ [1 + D^{t+1}(t)] / [1 + D^t(t)] * [1 + D^{t+1}(t+1)] / [1 + D^t(t+1)] }
    ML         = EC * TC

Oh (2010), eq. (8)-(10)::

    GML = [1 + D^G(t)] / [1 + D^G(t+1)],   EC = [1 + D^t(t)] / [1 + D^{t+1}(t+1)],
    BPC = {[1 + D^G(t)] / [1 + D^t(t)]} / {[1 + D^G(t+1)] / [1 + D^{t+1}(t+1)]},   GML = EC * BPC.

Values above 1 mean productivity growth (efficiency gain, technical progress). The
mixed-period distances ``D^t(t+1)`` and ``D^{t+1}(t)`` can be infeasible (the observation
cannot be projected onto the other period's technology under weak disposability); such
unit-periods get ``status == "infeasible: D^t(t+1)"`` (etc.) and NaN indices, and are named in a
warning. The global index never has this problem (Oh 2010).

References
----------
Chung, Y. H., Fare, R. & Grosskopf, S. (1997). Productivity and undesirable outputs: a
directional distance function approach. Journal of Environmental Management 51, 229-240.
Oh, D. (2010). A global Malmquist-Luenberger productivity index. Journal of Productivity
Analysis 34, 183-197.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import EstimationError
from .dea import (
    DEAData,
    DEADataWarning,
    _listing,
    as_list,
    check_options,
    evaluate_groups,
    frontier_groups,
    prepare,
    reference_set,
    run_groups,
)
from .nddf import DDFModel


def _setup(
    data, inputs, good, bad, rts, frontier, window, direction, period, unit, on_invalid, context
):
    check_options(rts, frontier, window)
    if direction not in ("output", "full"):
        raise ValueError(f"direction must be 'output' or 'full', got {direction!r}")
    xs, ys, bs = as_list(inputs), as_list(good), as_list(bad)
    if not xs or not ys or not bs:
        raise ValueError(f"{context} needs at least one input, one good and one bad output")
    d = prepare(
        data, xs + ys + bs, unit=unit, period=period, on_invalid=on_invalid, context=context
    )
    if d.period is None:
        raise EstimationError(f"{context} needs a period column (pass period= or a Panel)")
    if len(d.periods) < 2:
        raise EstimationError(f"{context} needs at least two periods, the data have one")
    return d, DDFModel(len(xs), len(ys), len(bs), rts == "vrs", direction == "full")


def _pairs(d: DEAData) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (i0, i1) of the same unit observed in adjacent periods p_t and p_{t+1}."""
    u = pd.factorize(d.keys.iloc[:, 0])[0]
    order = np.lexsort((d.pcode, u))
    same = (u[order][1:] == u[order][:-1]) & (d.pcode[order][1:] == d.pcode[order][:-1] + 1)
    return order[:-1][same], order[1:][same]


def _frame(
    d: DEAData, i0: np.ndarray, i1: np.ndarray, cols: dict[str, np.ndarray], status
) -> pd.DataFrame:
    res = pd.DataFrame(
        {
            d.unit: d.keys.iloc[i1, 0].to_numpy(),
            f"{d.period}_base": d.keys[d.period].to_numpy()[i0],
            d.period: d.keys[d.period].to_numpy()[i1],
        }
    )
    for k, v in cols.items():
        res[k] = v
    res["status"] = status
    return res


def _ratio_status(
    d: DEAData, i0, i1, named: dict[str, tuple[np.ndarray, np.ndarray]]
) -> np.ndarray:
    """Status per pair: invalid data first, then the first distance that is not optimal."""
    status = np.array(["optimal"] * len(i0), dtype=object)
    bad = ~(d.valid[i0] & d.valid[i1])
    status[bad] = "invalid_data"
    for name, (val, st) in named.items():
        for p in np.flatnonzero((status == "optimal") & (st != "optimal")):
            status[p] = f"{st[p]}: {name}"
        for p in np.flatnonzero((status == "optimal") & ~(1.0 + val > 0)):
            status[p] = f"1 + {name} <= 0"
    return status


def _warn(d: DEAData, i1: np.ndarray, status: np.ndarray, context: str) -> None:
    bad = [
        f"{d.labels[i1[p]]} ({status[p]})"
        for p in np.flatnonzero((status != "optimal") & (status != "invalid_data"))
    ]
    if bad:
        warnings.warn(
            f"{context}: no index for {len(bad)} unit-period pair(s): {_listing(bad)}",
            DEADataWarning,
            stacklevel=3,
        )


def malmquist_luenberger(
    data: Any,
    inputs: str | Sequence[str],
    good: str | Sequence[str],
    bad: str | Sequence[str],
    *,
    rts: str = "crs",
    direction: str = "output",
    frontier: str = "contemporaneous",
    period: str | None = None,
    window: int = 3,
    unit: str | None = None,
    on_invalid: str = "warn",
    backend: Any = None,
    scheduler: Any = None,
) -> pd.DataFrame:
    """Adjacent-period Malmquist-Luenberger index (Chung, Fare & Grosskopf 1997).

    Parameters
    ----------
    data, inputs, good, bad
        :class:`~climetrics.Panel` or DataFrame and column names (see
        :func:`climetrics.measure.ddf_efficiency`).
    rts, direction
        Returns to scale and DDF direction (``"output"``: ``g = (0, y, -b)`` as in Chung et
        al. 1997; ``"full"``: ``g = (-x, y, -b)``).
    frontier
        Technology of period ``t``: ``"contemporaneous"`` (Chung et al. 1997), ``"sequential"``
        or ``"window"`` (see :mod:`climetrics.measure.dea`); for a global technology use
        :func:`global_malmquist_luenberger`.
    period, unit, window, on_invalid, backend, scheduler
        As in :func:`climetrics.measure.nddf_performance`; a period column is required.

    Returns
    -------
    DataFrame
        One row per unit and pair of adjacent periods (``<period>_base`` = t, ``<period>`` =
        t+1): ``d_t_t`` = D^t(t), ``d_t_t1`` = D^t(t+1), ``d_t1_t`` = D^{t+1}(t), ``d_t1_t1`` =
        D^{t+1}(t+1), ``ml``, ``ec``, ``tc`` and ``status``.
    """
    if frontier == "global":
        raise ValueError(
            "with a global frontier technical change is 1 by construction; "
            "use global_malmquist_luenberger (Oh 2010)"
        )
    d, model = _setup(
        data,
        inputs,
        good,
        bad,
        rts,
        frontier,
        window,
        direction,
        period,
        unit,
        on_invalid,
        "Malmquist-Luenberger",
    )
    i0, i1 = _pairs(d)
    n = len(d.Z)
    own = np.full(n, np.nan)
    own_st = np.array(["invalid_data"] * n, dtype=object)
    fwd = np.full(len(i0), np.nan)  # D^t(t+1)
    fwd_st = np.array(["invalid_data"] * len(i0), dtype=object)
    bwd = np.full(len(i0), np.nan)  # D^{t+1}(t)
    bwd_st = fwd_st.copy()
    ok = d.valid[i0] & d.valid[i1]
    groups, parts = [], []
    for t in range(len(d.periods)):
        rows_own = np.flatnonzero((d.pcode == t) & d.valid)
        pf = np.flatnonzero(ok & (d.pcode[i0] == t))  # pairs (t, t+1): evaluate t+1 on T^t
        pb = np.flatnonzero(ok & (d.pcode[i1] == t))  # pairs (t-1, t): evaluate t-1 on T^t
        evl = np.r_[rows_own, i1[pf], i0[pb]].astype(np.int64)
        if evl.size:
            groups.append((reference_set(d, t, frontier, window), evl))
            parts.append((rows_own, pf, pb))
    solved = evaluate_groups(model, d.Z, groups, backend=backend, scheduler=scheduler)
    for (rows_own, pf, pb), (vals, st) in zip(parts, solved, strict=True):
        a, b = len(rows_own), len(rows_own) + len(pf)
        own[rows_own], own_st[rows_own] = vals[:a, 0], st[:a]
        fwd[pf], fwd_st[pf] = vals[a:b, 0], st[a:b]
        bwd[pb], bwd_st[pb] = vals[b:, 0], st[b:]
    a, b, c, e = own[i0], fwd, bwd, own[i1]
    status = _ratio_status(
        d,
        i0,
        i1,
        {
            "D^t(t)": (a, own_st[i0]),
            "D^t(t+1)": (b, fwd_st),
            "D^{t+1}(t)": (c, bwd_st),
            "D^{t+1}(t+1)": (e, own_st[i1]),
        },
    )
    good_ = status == "optimal"
    with np.errstate(invalid="ignore", divide="ignore"):
        ml = np.sqrt((1 + a) / (1 + b) * (1 + c) / (1 + e))
        ec = (1 + a) / (1 + e)
        tc = np.sqrt((1 + c) / (1 + a) * (1 + e) / (1 + b))
    for v in (ml, ec, tc):
        v[~good_] = np.nan
    _warn(d, i1, status, "Malmquist-Luenberger")
    cols = {"d_t_t": a, "d_t_t1": b, "d_t1_t": c, "d_t1_t1": e, "ml": ml, "ec": ec, "tc": tc}
    return _frame(d, i0, i1, cols, status)


def global_malmquist_luenberger(
    data: Any,
    inputs: str | Sequence[str],
    good: str | Sequence[str],
    bad: str | Sequence[str],
    *,
    rts: str = "crs",
    direction: str = "output",
    period: str | None = None,
    unit: str | None = None,
    on_invalid: str = "warn",
    backend: Any = None,
    scheduler: Any = None,
) -> pd.DataFrame:
    """Global Malmquist-Luenberger index (Oh 2010) with EC x BPC decomposition.

    Parameters are those of :func:`malmquist_luenberger` (the frontiers are fixed: global for
    ``D^G`` and contemporaneous for ``D^t``).

    Returns
    -------
    DataFrame
        One row per unit and adjacent-period pair: ``d_g_t`` = D^G(t), ``d_g_t1`` = D^G(t+1),
        ``d_t_t`` = D^t(t), ``d_t1_t1`` = D^{t+1}(t+1), ``gml``, ``ec``, ``bpc`` (best-practice
        gap change, the technical-change component) and ``status``.
    """
    d, model = _setup(
        data,
        inputs,
        good,
        bad,
        rts,
        "contemporaneous",
        1,
        direction,
        period,
        unit,
        on_invalid,
        "global Malmquist-Luenberger",
    )
    i0, i1 = _pairs(d)
    where = {"backend": backend, "scheduler": scheduler}
    dg, sg = run_groups(model, d, frontier_groups(d, "global", 1), **where)
    dc, sc = run_groups(model, d, frontier_groups(d, "contemporaneous", 1), **where)
    a, b, c, e = dg[i0, 0], dg[i1, 0], dc[i0, 0], dc[i1, 0]
    status = _ratio_status(
        d,
        i0,
        i1,
        {
            "D^G(t)": (a, sg[i0]),
            "D^G(t+1)": (b, sg[i1]),
            "D^t(t)": (c, sc[i0]),
            "D^{t+1}(t+1)": (e, sc[i1]),
        },
    )
    good_ = status == "optimal"
    with np.errstate(invalid="ignore", divide="ignore"):
        gml = (1 + a) / (1 + b)
        ec = (1 + c) / (1 + e)
        bpc = ((1 + a) / (1 + c)) / ((1 + b) / (1 + e))
    for v in (gml, ec, bpc):
        v[~good_] = np.nan
    _warn(d, i1, status, "global Malmquist-Luenberger")
    cols = {"d_g_t": a, "d_g_t1": b, "d_t_t": c, "d_t1_t1": e, "gml": gml, "ec": ec, "bpc": bpc}
    return _frame(d, i0, i1, cols, status)


__all__ = ["global_malmquist_luenberger", "malmquist_luenberger"]

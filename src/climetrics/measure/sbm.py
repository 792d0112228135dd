"""Slacks-based measures: SBM (Tone 2001), SBM with undesirable outputs (Tone 2004; Cooper,
Seiford & Tone 2007, sec. 13.6) and super-efficiency SBM (Tone 2002).

SBM with undesirable outputs, non-oriented (Tone 2001, model (4); Tone 2004)::

    rho* = min  [1 - (1/m) sum_i s-_i / x_io] / [1 + 1/(s1 + s2) (sum_r sg_r / yg_ro + sum_k sb_k / yb_ko)]
           s.t. x_o = X'lam + s-,  yg_o = Yg'lam - sg,  yb_o = Yb'lam + sb,  lam, s >= 0 (, e'lam = 1).

Linearised by the Charnes-Cooper transformation (Tone 2001, model (10)) with ``t > 0``,
``Lam = t lam``, ``S = t s``::

    min  t - (1/m) sum_i S-_i / x_io
    s.t. t + 1/(s1+s2) (sum_r Sg_r / yg_ro + sum_k Sb_k / yb_ko) = 1
         X'Lam + S- - t x_o = 0,  Yg'Lam - Sg - t yg_o = 0,  Yb'Lam + Sb - t yb_o = 0  (, e'Lam = t).

Super-efficiency SBM (Tone 2002, models (6)-(11)) for an SBM-efficient DMU ``o``, in slack form
(``x_bar = x_o + s-``, ``yg_bar = yg_o - sg``, ``yb_bar = yb_o + sb``), against the other DMUs::

    delta* = min  [1 + (1/m) sum_i s-_i / x_io] / [1 - 1/(s1+s2) (sum_r sg_r / yg_ro + sum_k sb_k / yb_ko)]
             s.t. X'lam - s- <= x_o,  Yg'lam + sg >= yg_o,  Yb'lam - sb <= yb_o,  lam_o = 0,
                  lam, s >= 0 (, e'lam = 1),

linearised the same way. Tone's constraint ``yg_bar >= 0`` is implied at the optimum (lowering
``yg_bar`` only raises ``delta``) and is not imposed.

Orientation is handled by fixing slacks at zero: ``"input"`` fixes the output slacks (the
denominator is 1), ``"output"`` fixes the input slacks (the numerator is 1, so the score is
``1 / (1 + ...)`` for SBM and ``1 / (1 - ...)`` for super-SBM, Tone 2001 sec. 4; Tone 2002
sec. 4). The input-oriented super-SBM under VRS is infeasible for a DMU with the largest value
of some output (no convex combination of the others produces that much); such DMUs are
reported by name (``status == "super_infeasible"``), never silently dropped.

In every linearised LP the constraint matrix of the lambda columns is the same for all DMUs of
a frontier; per DMU the objective coefficients of ``S-``, the normalisation-row coefficients of
``Sg, Sb`` and the ``t`` column (the DMU's data) are changed, and for super-efficiency the
DMU's own lambda is fixed at 0.

References
----------
Tone, K. (2001). A slacks-based measure of efficiency in data envelopment analysis. European
Journal of Operational Research 130, 498-509.
Tone, K. (2002). A slacks-based measure of super-efficiency in data envelopment analysis.
European Journal of Operational Research 143, 32-41.
Tone, K. (2004). Dealing with undesirable outputs in DEA: a slacks-based measure (SBM)
approach. Presentation at NAPW III, Toronto (GRIPS Research Report I-2003-0005).
Cooper, W. W., Seiford, L. M. & Tone, K. (2007). Data Envelopment Analysis, 2nd ed., ch. 4
and 13. Springer.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .dea import (
    INF,
    DEADataWarning,
    FrontierLP,
    Model,
    _listing,
    as_list,
    check_options,
    data_rows,
    evaluate_groups,
    frontier_groups,
    prepare,
    result_frame,
    run_groups,
    warn_unsolved,
)

ORIENTATIONS = ("non", "input", "output")


class SBMModel(Model):
    """Charnes-Cooper linearised SBM (``super_=False``) or super-SBM (``super_=True``) LP.

    Columns: ``t``, ``S-`` (m), ``Sg`` (s), ``Sb`` (k), then lambda. Rows: the normalisation
    row, one row per input / good / bad output, and the VRS row ``e'Lam - t = 0``.
    """

    def __init__(self, m: int, s: int, k: int, vrs: bool, orientation: str, super_: bool) -> None:
        self.m, self.s, self.k, self.vrs, self.super_ = m, s, k, int(vrs), super_
        self.orientation = orientation
        self.p = m + s + k
        self.lam0 = 1 + self.p
        self._data_rows = np.arange(1, 1 + self.p, dtype=np.int32)
        self._sx = np.arange(1, 1 + m, dtype=np.int32)  # S- columns
        self._sy = np.arange(1 + m, 1 + self.p, dtype=np.int32)  # Sg, Sb columns

    def fixed(self):
        m, s, k, p = self.m, self.s, self.k, self.p
        nr = 1 + p + self.vrs
        M = np.zeros((nr, 1 + p))
        M[0, 0] = 1.0
        M[1 : 1 + p, 0] = -1.0  # t column: -z_o, set per DMU
        if self.vrs:
            M[-1, 0] = -1.0
        sgn = np.r_[np.ones(m), -np.ones(s), np.ones(k)]  # slack signs in the SBM rows
        if self.super_:
            sgn = -sgn
        M[1 + np.arange(p), 1 + np.arange(p)] = sgn
        M[0, 1 + m : 1 + p] = -1.0 if self.super_ else 1.0  # normalisation row, set per DMU
        cost = np.r_[1.0, np.zeros(p)]
        col_hi = np.full(1 + p, INF)
        if self.orientation == "input":
            col_hi[1 + m :] = 0.0
        elif self.orientation == "output":
            col_hi[1 : 1 + m] = 0.0
        if self.super_:
            # X'Lam - S- - t x <= 0,  Yg'Lam + Sg - t yg >= 0,  Yb'Lam - Sb - t yb <= 0
            lo = np.r_[1.0, np.full(m, -INF), np.zeros(s), np.full(k, -INF), np.zeros(self.vrs)]
            hi = np.r_[1.0, np.zeros(m), np.full(s, INF), np.zeros(k), np.zeros(self.vrs)]
        else:
            lo = np.r_[1.0, np.zeros(p + self.vrs)]
            hi = lo.copy()
        return M, cost, np.zeros(1 + p), col_hi, lo, hi

    def lam_rows(self, Zr: np.ndarray) -> np.ndarray:
        return data_rows(Zr, top=1, convex=bool(self.vrs))

    def load(self, lp: FrontierLP, z: np.ndarray) -> None:
        m, p = self.m, self.p
        lp.set_coeffs(self._data_rows, 0, -z)
        sign = -1.0 if self.super_ else 1.0
        if self.orientation != "output":
            lp.set_costs(self._sx, -sign / (m * z[:m]))
        if self.orientation != "input":
            lp.set_row_coeffs(0, self._sy, sign / ((p - m) * z[m:]))


def sbm_efficiency(
    data: Any,
    inputs: str | Sequence[str],
    outputs: str | Sequence[str],
    bad: str | Sequence[str] | None = None,
    *,
    rts: str = "crs",
    orientation: str = "non",
    super_efficiency: bool = False,
    frontier: str = "contemporaneous",
    period: str | None = None,
    window: int = 3,
    unit: str | None = None,
    on_invalid: str = "warn",
    tol: float = 1e-6,
    backend: Any = None,
    scheduler: Any = None,
) -> pd.DataFrame:
    """SBM efficiency (Tone 2001), with undesirable outputs (Tone 2004) and super-efficiency
    (Tone 2002) for the efficient DMUs.

    Parameters
    ----------
    data
        :class:`~climetrics.Panel` or DataFrame, one row per DMU.
    inputs, outputs, bad
        Column names of inputs, desirable outputs and (optional) undesirable outputs.
    rts
        ``"crs"`` or ``"vrs"``.
    orientation
        ``"non"`` (non-oriented, default), ``"input"`` or ``"output"``.
    super_efficiency
        Also solve the super-SBM of Tone (2002) for the DMUs with ``sbm >= 1 - tol``; their
        ``score`` becomes ``super_sbm >= 1`` (efficient DMUs ranked, others keep ``sbm < 1``).
    frontier, period, window, unit, on_invalid, backend, scheduler
        As in :func:`climetrics.measure.nddf_performance`.
    tol
        Tolerance of the efficiency test ``sbm >= 1 - tol``.

    Returns
    -------
    DataFrame
        Keys, ``sbm`` (rho* in (0, 1]), with ``super_efficiency`` also ``super_sbm`` (delta*,
        NaN for inefficient DMUs), ``score`` and ``status`` (``"optimal"``, ``"invalid_data"``,
        ``"super_infeasible"`` ...). DMUs that cannot be scored are named in one warning.
    """
    check_options(rts, frontier, window)
    if orientation not in ORIENTATIONS:
        raise ValueError(f"orientation must be one of {ORIENTATIONS}, got {orientation!r}")
    xs, ys, bs = as_list(inputs), as_list(outputs), as_list(bad)
    if not xs or not ys:
        raise ValueError("sbm_efficiency needs at least one input and one output")
    d = prepare(data, xs + ys + bs, unit=unit, period=period, on_invalid=on_invalid, context="SBM")
    m, s, k, vrs = len(xs), len(ys), len(bs), rts == "vrs"
    groups = frontier_groups(d, frontier, window)
    where = {"backend": backend, "scheduler": scheduler}
    rho, status = run_groups(SBMModel(m, s, k, vrs, orientation, False), d, groups, **where)
    warn_unsolved(d, status, "SBM")
    cols = {"sbm": rho[:, 0]}
    if super_efficiency:
        delta = np.full(len(d.Z), np.nan)
        sup = SBMModel(m, s, k, vrs, orientation, True)
        failed = []
        efficient = [
            (ref, evl[(rho[evl, 0] >= 1.0 - tol) & (status[evl] == "optimal")])
            for ref, evl in groups
        ]
        efficient = [(ref, eff) for ref, eff in efficient if eff.size]
        solved = evaluate_groups(sup, d.Z, efficient, exclude_self=True, **where)
        for (_, eff), (vals, st) in zip(efficient, solved, strict=True):
            delta[eff] = vals[:, 0]
            for o, sto in zip(eff, st, strict=True):
                if sto != "optimal":
                    status[o] = "super_infeasible" if "infeasible" in sto else f"super_{sto}"
                    failed.append(f"{d.labels[o]} ({sto})")
        if failed:
            warnings.warn(
                f"super-SBM: no super-efficiency score for {len(failed)} efficient DMU(s) "
                f"(LP not optimal; typical for oriented VRS models): {_listing(failed)}",
                DEADataWarning,
                stacklevel=2,
            )
        cols["super_sbm"] = delta
        score = rho[:, 0].copy()
        eff_all = ~np.isnan(delta)
        score[eff_all] = delta[eff_all]
        score[status == "super_infeasible"] = np.nan
        cols["score"] = score
    else:
        cols["score"] = rho[:, 0]
    return result_frame(d, cols, status)


__all__ = ["ORIENTATIONS", "SBMModel", "sbm_efficiency"]

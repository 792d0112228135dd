"""Shared DEA machinery (data, frontiers, one reusable HiGHS model per frontier) and radial
CCR / BCC efficiency.

Every model of :mod:`climetrics.measure` is a linear programme whose constraint matrix has one
column per *reference* DMU (the intensity variables lambda) and a few model columns. For all
DMUs evaluated against the same frontier that matrix is the same, so one HiGHS model is built
per frontier and only the DMU-specific parts -- right-hand sides, objective coefficients and,
where the evaluated DMU's data multiply a model variable, one column -- are changed between
solves; HiGHS restarts from the previous optimal basis (:class:`FrontierLP`). Large frontiers
are solved by column generation over the lambda columns, which keeps only the DMUs that span
the frontier in the HiGHS model and gives the same optimal values (:class:`FrontierSolver`).

Frontiers (technology sets) for a panel with sorted periods ``p_1 < ... < p_T``; a DMU observed
in ``p_t`` is evaluated against the observations of

* ``"contemporaneous"``: period ``p_t`` only (Charnes, Cooper & Rhodes 1978 per period);
* ``"sequential"``: periods ``p_1 .. p_t`` (Tulkens & Vanden Eeckaut 1995; Oh & Heshmati 2010);
* ``"window"``: periods ``p_{t-w+1} .. p_t`` (positions in the sorted list of periods, so for
  consecutive years the years ``t-w+1 .. t``);
* ``"global"``: all periods (Pastor & Lovell 2005).

Data problems never crash a run: observations with a missing, infinite, zero or negative value
in a model column are reported by unit and period (``status == "invalid_data"`` and one
:class:`DEADataWarning` listing them) and left out of every reference set; LPs that are
infeasible or unbounded are reported the same way.

References
----------
Charnes, A., Cooper, W. W. & Rhodes, E. (1978). Measuring the efficiency of decision making
units. European Journal of Operational Research 2, 429-444.
Banker, R. D., Charnes, A. & Cooper, W. W. (1984). Some models for estimating technical and
scale inefficiencies in data envelopment analysis. Management Science 30, 1078-1092.
Cooper, W. W., Seiford, L. M. & Tone, K. (2007). Data Envelopment Analysis, 2nd ed. Springer.
"""

from __future__ import annotations

import ctypes
import os
import sys
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import EstimationError, PanelError, did_you_mean, show
from ..panel import Panel

FRONTIERS = ("contemporaneous", "sequential", "window", "global")
RTS = ("crs", "vrs")
INF = float("inf")
_MAX_LISTED = 12


class DEADataWarning(UserWarning):
    """Some DMUs could not be scored (bad data, infeasible or unbounded LP); they are named."""


# --------------------------------------------------------------------------- data
@dataclass
class DEAData:
    """Validated model data: keys, one value matrix, validity and period positions."""

    keys: pd.DataFrame  # unit (and period) columns, in the caller's row order
    labels: list[str]  # "unit 'A', period 2010" for messages
    Z: np.ndarray  # (n, p) values of the model columns
    valid: np.ndarray  # (n,) bool: every model value finite and > 0
    problems: list[str]  # message per invalid row ("" when valid)
    pcode: np.ndarray  # (n,) position of the row's period in `periods` (0 without period)
    periods: np.ndarray  # sorted unique periods (one dummy period without a period column)
    unit: str
    period: str | None

    def invalid_report(self) -> str:
        bad = [f"{self.labels[i]} ({self.problems[i]})" for i in np.flatnonzero(~self.valid)]
        return _listing(bad)


def _listing(items: list[str]) -> str:
    head = "; ".join(items[:_MAX_LISTED])
    more = f"; and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else ""
    return head + more


def as_list(cols: str | Iterable[str] | None) -> list[str]:
    if cols is None:
        return []
    if isinstance(cols, str):
        return [cols]
    return list(cols)


def prepare(
    data: Any,
    columns: Sequence[str],
    *,
    unit: str | None,
    period: str | None,
    on_invalid: str = "warn",
    context: str = "DEA",
) -> DEAData:
    """Extract and check the model columns of ``data`` (a :class:`Panel` or a DataFrame).

    With a Panel, ``unit`` and ``period`` default to its unit and time columns. With a
    DataFrame, ``unit=None`` names DMUs by the index and ``period=None`` means one cross-section.
    """
    if on_invalid not in ("warn", "raise"):
        raise ValueError(f"on_invalid must be 'warn' or 'raise', got {on_invalid!r}")
    if isinstance(data, Panel):
        df = data.df
        unit = data.unit if unit is None else unit
        period = data.time if period is None else period
    elif isinstance(data, pd.DataFrame):
        df = data
    elif hasattr(data, "to_pandas"):
        df = data.to_pandas()
    else:
        raise PanelError(f"{context} needs a Panel or a DataFrame, got {type(data).__name__}")
    if len(df) == 0:
        raise PanelError(f"{context}: the data have no rows")
    cols = list(columns)
    need = cols + [c for c in (unit, period) if c is not None]
    missing = [c for c in need if c not in df.columns]
    if missing:
        hints = "; ".join(f"'{c}'{did_you_mean(c, df.columns)}" for c in missing)
        raise PanelError(f"column not found (needed by {context}): {hints}")
    dup = [c for c in set(cols) if cols.count(c) > 1]
    if dup:
        raise PanelError(f"{context}: column(s) {sorted(dup)} used in more than one role")
    if unit is None:
        unit_name = df.index.name or "dmu"
        keys = pd.DataFrame({unit_name: df.index.to_numpy()})
    else:
        unit_name = unit
        keys = pd.DataFrame({unit: df[unit].to_numpy()})
    if period is not None:
        keys[period] = df[period].to_numpy()
        if keys[period].isna().any():
            i = int(np.flatnonzero(keys[period].isna().to_numpy())[0])
            raise PanelError(f"{context}: period column '{period}' is missing in row {i}")
    dupkeys = keys.duplicated(keep=False)
    if dupkeys.any():
        i = int(np.flatnonzero(dupkeys.to_numpy())[0])
        what = ", ".join(f"{c} {show(keys.iat[i, j])}" for j, c in enumerate(keys.columns))
        count = int((keys == keys.iloc[i]).all(axis=1).sum())
        hint = "" if period is not None else " (pass period= for a panel)"
        raise PanelError(f"{context}: {what} occurs {count} times; each DMU must occur once{hint}")
    Z = np.empty((len(df), len(cols)))
    for j, c in enumerate(cols):
        s = df[c]
        if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
            num = pd.to_numeric(s, errors="coerce")
            if (num.isna() & s.notna()).any():
                raise PanelError(f"{context}: column '{c}' must be numeric")
            s = num
        Z[:, j] = s.to_numpy(dtype=float, na_value=np.nan)
    if period is None:
        labels = [f"{unit_name} {show(u)}" for u in keys.iloc[:, 0]]
        pcode = np.zeros(len(df), dtype=np.int64)
        periods = np.array([0])
    else:
        labels = [
            f"{unit_name} {show(u)} in {period} {show(t)}"
            for u, t in zip(keys.iloc[:, 0], keys[period], strict=True)
        ]
        periods, pcode = np.unique(keys[period].to_numpy(), return_inverse=True)
    ok = np.isfinite(Z) & (Z > 0)
    valid = ok.all(axis=1)
    problems = [""] * len(df)
    for i in np.flatnonzero(~valid):
        problems[i] = ", ".join(f"{cols[j]}={_num(Z[i, j])}" for j in np.flatnonzero(~ok[i]))
    d = DEAData(
        keys, labels, Z, valid, problems, pcode.astype(np.int64), periods, unit_name, period
    )
    if not valid.all():
        msg = (
            f"{context}: {int((~valid).sum())} DMU(s) have missing, zero or negative data and are "
            f"not scored nor used in any frontier: {d.invalid_report()}"
        )
        if on_invalid == "raise":
            raise EstimationError(msg)
        warnings.warn(msg, DEADataWarning, stacklevel=3)
    if not valid.any():
        raise EstimationError(f"{context}: no DMU has valid (finite, positive) data")
    return d


def _num(v: float) -> str:
    return "missing" if np.isnan(v) else repr(float(v))


def reference_set(d: DEAData, t: int, frontier: str, window: int) -> np.ndarray:
    """Row indices of the valid observations spanning the frontier of period position ``t``."""
    if frontier == "contemporaneous":
        m = d.pcode == t
    elif frontier == "sequential":
        m = d.pcode <= t
    elif frontier == "window":
        m = (d.pcode <= t) & (d.pcode > t - window)
    else:
        m = np.ones(len(d.pcode), dtype=bool)
    return np.flatnonzero(m & d.valid)


def check_options(rts: str, frontier: str, window: int) -> None:
    if rts not in RTS:
        raise ValueError(f"rts must be one of {RTS}, got {rts!r}")
    if frontier not in FRONTIERS:
        raise ValueError(f"frontier must be one of {FRONTIERS}, got {frontier!r}")
    if frontier == "window" and (not isinstance(window, int | np.integer) or window < 1):
        raise ValueError(f"window must be a positive integer, got {window!r}")


def frontier_groups(d: DEAData, frontier: str, window: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(reference rows, evaluated rows) per frontier: one group per period, or one for 'global'."""
    if frontier == "global":
        ref = np.flatnonzero(d.valid)
        return [(ref, ref)]
    out = []
    for t in range(len(d.periods)):
        evl = np.flatnonzero((d.pcode == t) & d.valid)
        if evl.size:
            out.append((reference_set(d, t, frontier, window), evl))
    return out


# --------------------------------------------------------------------------- the LP
_STATUS = {
    "Optimal": "optimal",
    "Infeasible": "infeasible",
    "Unbounded": "unbounded",
    "Primal infeasible or unbounded": "infeasible_or_unbounded",
}

#: Reference sets with at least this many DMUs are solved by column generation (below).
COLGEN_MIN_COLUMNS = 150
#: A lambda column enters the restricted LP when its reduced cost is below ``-PRICE_TOL``.
PRICE_TOL = 1e-10


def _highspy():
    try:
        import highspy
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "climetrics.measure needs the HiGHS Python interface: pip install highspy"
        ) from e
    return highspy


_BANNER_SHOWN = False


def _new_highs(hs):
    """A silent ``highspy.Highs`` instance.

    highspy (1.16) prints its version banner from C++ to file descriptor 1 when the first
    instance of a process is constructed, before any option can be set (HiGHS issues #1932,
    #2749), which would interleave with a user's own output or a CLI's progress display. The
    first construction therefore runs with descriptor 1 pointed at the null device, C stdio
    flushed before it is restored; later instances print nothing and are built directly."""
    global _BANNER_SHOWN
    if _BANNER_SHOWN:
        return hs.Highs()
    _BANNER_SHOWN = True
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            try:
                return hs.Highs()
            finally:
                try:
                    ctypes.CDLL(None).fflush(None)
                except (OSError, AttributeError, TypeError):  # no C runtime handle (Windows)
                    pass
    finally:
        os.dup2(saved, 1)
        os.close(saved)


class FrontierLP:
    """One HiGHS model, modified in place between solves.

    ``minimize cost' v  s.t.  row_lo <= A v <= row_hi,  col_lo <= v <= col_hi``. Only costs, row
    bounds, column bounds and single coefficients change between solves (:meth:`set_costs`,
    :meth:`set_rows`, :meth:`set_cols`, :meth:`set_coeffs`, :meth:`set_row_coeffs`) and columns
    can be appended (:meth:`add_cols`); HiGHS keeps the previous optimal basis and re-optimises
    from it (simplex hot start, presolve off).
    """

    def __init__(self, A: np.ndarray | sp.spmatrix, cost, col_lo, col_hi, row_lo, row_hi) -> None:
        hs = _highspy()
        A = sp.csc_matrix(A)
        A.eliminate_zeros()
        A.sort_indices()
        lp = hs.HighsLp()
        lp.num_col_, lp.num_row_ = A.shape[1], A.shape[0]
        lp.col_cost_ = np.asarray(cost, float)
        lp.col_lower_ = np.asarray(col_lo, float)
        lp.col_upper_ = np.asarray(col_hi, float)
        lp.row_lower_ = np.asarray(row_lo, float)
        lp.row_upper_ = np.asarray(row_hi, float)
        lp.a_matrix_.format_ = hs.MatrixFormat.kColwise
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = A.shape[1], A.shape[0]
        lp.a_matrix_.start_ = A.indptr.astype(np.int32)
        lp.a_matrix_.index_ = A.indices.astype(np.int32)
        lp.a_matrix_.value_ = A.data.astype(float)
        h = _new_highs(hs)
        h.setOptionValue("output_flag", False)
        h.setOptionValue("presolve", "off")
        h.setOptionValue("solver", "simplex")
        h.setOptionValue("simplex_strategy", 1)  # dual simplex
        h.passModel(lp)
        self.h = h
        self.n_row = A.shape[0]

    def set_costs(self, idx: np.ndarray, vals) -> None:
        self.h.changeColsCost(len(idx), idx, np.asarray(vals, float))

    def set_rows(self, idx: np.ndarray, lo, hi) -> None:
        self.h.changeRowsBounds(len(idx), idx, np.asarray(lo, float), np.asarray(hi, float))

    def set_cols(self, idx: np.ndarray, lo, hi) -> None:
        self.h.changeColsBounds(
            len(idx), np.asarray(idx, np.int32), np.asarray(lo, float), np.asarray(hi, float)
        )

    def set_coeffs(self, rows: Iterable[int], col: int, vals: Iterable[float]) -> None:
        for r, v in zip(rows, vals, strict=True):
            self.h.changeCoeff(int(r), int(col), float(v))

    def set_row_coeffs(self, row: int, cols: Iterable[int], vals: Iterable[float]) -> None:
        for c, v in zip(cols, vals, strict=True):
            self.h.changeCoeff(int(row), int(c), float(v))

    def add_cols(self, block: np.ndarray) -> None:
        """Append columns with cost 0 and bounds [0, inf) (lambda columns)."""
        B = sp.csc_matrix(block)
        B.eliminate_zeros()
        k = B.shape[1]
        self.h.addCols(
            k,
            np.zeros(k),
            np.zeros(k),
            np.full(k, INF),
            B.nnz,
            B.indptr[:-1].astype(np.int32),
            B.indices.astype(np.int32),
            B.data.astype(float),
        )

    def solve(self, n_values: int = 0) -> tuple[str, float, np.ndarray | None]:
        """Solve; return (status, objective, the first ``n_values`` column values)."""
        h = self.h
        h.run()
        name = h.modelStatusToString(h.getModelStatus())
        status = _STATUS.get(name, name.lower())
        if status != "optimal":
            return status, np.nan, None
        obj = h.getInfo().objective_function_value
        vals = np.asarray(h.getSolution().col_value[:n_values]) if n_values else None
        return status, obj, vals

    def row_duals(self) -> np.ndarray:
        return np.asarray(self.h.getSolution().row_dual)


class Model:
    """A DEA model: the LP for a reference set plus the per-DMU updates.

    The LP columns are ``lam0`` model columns followed by one intensity column (lambda, cost 0,
    bounds [0, inf)) per reference DMU. Subclasses define :meth:`fixed` (the model columns and
    the row bounds), :meth:`lam_rows` (the lambda block), :meth:`load` (the DMU-specific parts)
    and :meth:`read` (outputs from the objective and the first ``n_values`` column values).
    """

    n_out = 1
    n_values = 0
    lam0 = 0

    def fixed(
        self,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(model-column block (n_rows, lam0), cost, col_lo, col_hi, row_lo, row_hi)."""
        raise NotImplementedError  # pragma: no cover

    def lam_rows(self, Zr: np.ndarray) -> np.ndarray:
        """The (n_rows, n_ref) lambda block for reference data ``Zr``."""
        raise NotImplementedError  # pragma: no cover

    def load(self, lp: FrontierLP, z: np.ndarray) -> None:
        raise NotImplementedError  # pragma: no cover

    def read(self, obj: float, vals: np.ndarray | None, z: np.ndarray) -> np.ndarray:
        return np.array([obj])


def data_rows(Zr: np.ndarray, *, top: int = 0, convex: bool = False) -> np.ndarray:
    """Lambda block: ``top`` zero rows, one row per data column (``Zr.T``), then a row of ones
    (the VRS convexity row) when ``convex``."""
    n = Zr.shape[0]
    return np.vstack([np.zeros((top, n)), Zr.T, np.ones((int(convex), n))])


class FrontierSolver:
    """Solves a :class:`Model` for many DMUs against one reference set.

    Small reference sets (fewer than :data:`COLGEN_MIN_COLUMNS` DMUs) use one HiGHS model with
    every lambda column. Larger ones use column generation (Dantzig-Wolfe pricing; e.g. Chvatal
    1983, ch. 13): the HiGHS model holds the model columns, a *self* column carrying the
    evaluated DMU's own data (its lambda when it belongs to the reference set, so the restricted
    LP is feasible; fixed at 0 otherwise) and the lambda columns met so far. After each solve the
    reduced costs ``-L' y`` of all other lambda columns are computed from the row duals ``y`` in
    one matrix product; the most negative ones are appended and the LP is re-solved until none
    is negative, when the restricted optimum is optimal for the full LP (same optimal value).
    A restricted LP that is infeasible is re-solved on a full model (built once, on demand), so
    infeasibility is always decided on the full reference set. Columns stay in the model, so
    after a few DMUs it holds the frontier DMUs and most solves need one pricing step.
    """

    def __init__(self, model: Model, Zr: np.ndarray) -> None:
        self.model = model
        self.L = model.lam_rows(Zr)
        self.n = self.L.shape[1]
        self.colgen = self.n >= COLGEN_MIN_COLUMNS
        self._full: FrontierLP | None = None
        self._lam0 = model.lam0
        if self.colgen:
            self.col_of = np.full(self.n, -1, dtype=np.int64)
            self._self_col = model.lam0  # the self column, then the active lambda columns
            self._self_rows = np.flatnonzero(np.ptp(self.L, axis=1) > 0).astype(np.int32)
            self.n_active = 0
            self.lp = self._make(np.empty(0, dtype=np.int64), self_col=True)
            self._batch = max(10, 2 * self.L.shape[0])
        else:
            self.col_of = model.lam0 + np.arange(self.n)
            self.lp = self._make(np.arange(self.n))

    def _make(self, cols: np.ndarray, self_col: bool = False) -> FrontierLP:
        M, cost, lo, hi, rlo, rhi = self.model.fixed()
        blocks = [M]
        if self_col:
            blocks.append(self.L[:, :1])  # placeholder: coefficients of the evaluated DMU
        blocks.append(self.L[:, cols])
        k = len(cols) + int(self_col)
        return FrontierLP(
            np.hstack(blocks),
            np.r_[cost, np.zeros(k)],
            np.r_[lo, np.zeros(k)],
            np.r_[hi, np.full(k, INF)],
            rlo,
            rhi,
        )

    def _add(self, cols: np.ndarray) -> None:
        self.lp.add_cols(self.L[:, cols])
        self.col_of[cols] = self._lam0 + 1 + self.n_active + np.arange(len(cols))
        self.n_active += len(cols)

    def _solve(self, lp: FrontierLP) -> tuple[str, float, np.ndarray | None]:
        st, obj, vals = lp.solve(self.model.n_values)
        if st not in _STATUS.values():  # e.g. "unknown" after a hot start: retry from scratch
            lp.h.clearSolver()
            st, obj, vals = lp.solve(self.model.n_values)
        return st, obj, vals

    def _solve_full(
        self, z: np.ndarray, exclude: int | None
    ) -> tuple[str, float, np.ndarray | None]:
        if self._full is None:
            self._full = self._make(np.arange(self.n))
        self.model.load(self._full, z)
        return self._solve_excluding(self._full, exclude)

    def _solve_excluding(
        self, lp: FrontierLP, exclude: int | None
    ) -> tuple[str, float, np.ndarray | None]:
        """Solve ``lp`` with the lambda of reference position ``exclude`` (if any) fixed at 0,
        restoring its bounds afterwards (super-efficiency leaves the DMU itself out)."""
        col = [self._lam0 + exclude] if exclude is not None else []
        if col:
            lp.set_cols(col, [0.0], [0.0])
        try:
            return self._solve(lp)
        finally:
            if col:
                lp.set_cols(col, [0.0], [INF])

    def solve(self, z: np.ndarray, own: int | None = None, exclude: int | None = None):
        """Solve for a DMU with data ``z``. ``own``: its position in the reference set (None if
        it is not in it); ``exclude``: a position whose lambda is fixed at 0 (super-efficiency)."""
        model, lp = self.model, self.lp
        model.load(lp, z)
        if not self.colgen:
            return self._solve_excluding(lp, exclude)
        use_self = own is not None and own != exclude
        zc = model.lam_rows(z[None, :])[:, 0]
        lp.set_coeffs(self._self_rows, self._self_col, zc[self._self_rows])
        lp.set_cols([self._self_col], [0.0], [INF if use_self else 0.0])
        skip = [j for j in (own, exclude) if j is not None]
        ex_col = int(self.col_of[exclude]) if exclude is not None else -1
        if ex_col >= 0:
            lp.set_cols([ex_col], [0.0], [0.0])
        try:
            while True:
                st, obj, vals = self._solve(lp)
                if st != "optimal":
                    break
                d = -(lp.row_duals() @ self.L)  # reduced costs of all lambda columns (cost 0)
                d[self.col_of >= 0] = INF
                d[skip] = INF
                viol = np.flatnonzero(d < -PRICE_TOL)
                if viol.size == 0:
                    break
                if viol.size > self._batch:
                    viol = viol[np.argpartition(d[viol], self._batch)[: self._batch]]
                self._add(viol)
        finally:
            if ex_col >= 0:
                lp.set_cols([ex_col], [0.0], [INF])
        if st in ("infeasible", "infeasible_or_unbounded"):
            st, obj, vals = self._solve_full(z, exclude)
        return st, obj, vals


def evaluate(
    model: Model, Z: np.ndarray, ref: np.ndarray, evl: np.ndarray, *, exclude_self: bool = False
) -> tuple[np.ndarray, list[str]]:
    """Solve ``model`` for every row of ``Z[evl]`` against the frontier spanned by ``Z[ref]``.

    One :class:`FrontierSolver` is built for ``ref``; ``exclude_self`` fixes the evaluated DMU's
    own lambda at 0 when it belongs to ``ref`` (super-efficiency). Returns (len(evl), n_out)
    values (NaN where the LP is not optimal) and the status of each solve.
    """
    out = np.full((len(evl), model.n_out), np.nan)
    if len(ref) == 0:
        return out, ["empty_frontier"] * len(evl)
    status = ["optimal"] * len(evl)
    solver = FrontierSolver(model, Z[ref])
    pos = dict(zip(ref.tolist(), range(len(ref)), strict=True))
    for i, o in enumerate(evl.tolist()):
        j = pos.get(o)
        st, obj, vals = solver.solve(Z[o], own=j, exclude=j if exclude_self else None)
        status[i] = st
        if st == "optimal":
            out[i] = model.read(obj, vals, Z[o])
    return out, status


#: DMUs evaluated by one :class:`FrontierSolver`: the replicate of the DEA kernel. Fixed, so
#: the solves (and their floating-point results) do not depend on the backend or chunking.
DMU_BLOCK = 512


@dataclass(frozen=True)
class FrontierJob:
    """Shared data of :func:`frontier_kernel`: the model, all DMU data and the solve blocks
    (reference rows, evaluated rows), at most :data:`DMU_BLOCK` evaluated rows each."""

    model: Model
    Z: np.ndarray
    blocks: list[tuple[np.ndarray, np.ndarray]]
    exclude_self: bool


def frontier_kernel(indices: np.ndarray, job: FrontierJob) -> tuple[np.ndarray, np.ndarray]:
    """Replicate kernel: values and statuses of the blocks ``indices``, rows concatenated."""
    vals, status = [], []
    for i in indices:
        ref, evl = job.blocks[i]
        v, st = evaluate(job.model, job.Z, ref, evl, exclude_self=job.exclude_self)
        vals.append(v)
        status.append(np.array(st, dtype=object))
    return np.concatenate(vals), np.concatenate(status)


def evaluate_groups(
    model: Model,
    Z: np.ndarray,
    groups: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    exclude_self: bool = False,
    backend: Any = None,
    scheduler: Any = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`evaluate` for every (reference rows, evaluated rows) group, through the replicate
    engine (:func:`climetrics.core.replicate.map_replicates`; ``backend``/``scheduler`` as there).
    Returns (values, statuses) per group, in the order of ``groups``."""
    from ..core.replicate import map_replicates

    blocks = [
        (ref, evl[start : start + DMU_BLOCK])
        for ref, evl in groups
        for start in range(0, len(evl), DMU_BLOCK)
    ]
    if not blocks:
        return [(np.empty((0, model.n_out)), np.empty(0, dtype=object)) for _ in groups]
    job = FrontierJob(model, Z, blocks, exclude_self)
    vals, status = map_replicates(
        frontier_kernel,
        len(blocks),
        job,
        backend=backend,
        scheduler=scheduler,
        default_chunk=1,
        label="DEA blocks of DMUs",
    )
    out, start = [], 0
    for _, evl in groups:
        stop = start + len(evl)
        out.append((vals[start:stop], status[start:stop]))
        start = stop
    return out


def run_groups(
    model: Model,
    d: DEAData,
    groups: list[tuple[np.ndarray, np.ndarray]],
    *,
    exclude_self: bool = False,
    backend: Any = None,
    scheduler: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Evaluate every group; return (n, n_out) values and (n,) statuses for all rows of ``d``."""
    n = len(d.Z)
    out = np.full((n, model.n_out), np.nan)
    status = np.array(["invalid_data"] * n, dtype=object)
    solved = evaluate_groups(
        model, d.Z, groups, exclude_self=exclude_self, backend=backend, scheduler=scheduler
    )
    for (_, evl), (vals, st) in zip(groups, solved, strict=True):
        out[evl] = vals
        status[evl] = st
    return out, status


def result_frame(d: DEAData, columns: dict[str, np.ndarray], status: np.ndarray) -> pd.DataFrame:
    """Keys + result columns + status, in the caller's row order."""
    res = d.keys.copy()
    for name, v in columns.items():
        res[name] = v
    res["status"] = status
    return res


def warn_unsolved(d: DEAData, status: np.ndarray, context: str) -> None:
    """One warning naming the DMUs whose LP was not solved to optimality (data problems aside)."""
    bad = [i for i in range(len(status)) if status[i] not in ("optimal", "invalid_data")]
    if bad:
        items = [f"{d.labels[i]} ({status[i]})" for i in bad]
        warnings.warn(
            f"{context}: {len(bad)} LP(s) not solved to optimality: {_listing(items)}",
            DEADataWarning,
            stacklevel=3,
        )


# --------------------------------------------------------------------------- radial CCR/BCC
class _Radial(Model):
    """Envelopment form of CCR (CRS) / BCC (VRS) (Cooper, Seiford & Tone 2007, (3.6)/(4.2)).

    Input orientation: ``min theta  s.t.  X lam <= theta x_o,  Y lam >= y_o  (, e'lam = 1)``.
    Output orientation: ``max eta  s.t.  X lam <= x_o,  Y lam >= eta y_o  (, e'lam = 1)``.
    Column 0 is theta (eta); its coefficients are the evaluated DMU's data (updated per DMU),
    as are the right-hand sides of the output (input) rows.
    """

    lam0 = 1

    def __init__(self, m: int, s: int, vrs: bool, orientation: str) -> None:
        self.m, self.s, self.vrs, self.input = m, s, int(vrs), orientation == "input"
        self.n_out = 1 if self.input else 2
        self._rows_x = np.arange(m, dtype=np.int32)
        self._rows_y = np.arange(m, m + s, dtype=np.int32)

    def fixed(self):
        m, s = self.m, self.s
        nr = m + s + self.vrs
        first = np.zeros((nr, 1))  # placeholders, set per DMU
        if self.input:
            first[:m] = -1.0
        else:
            first[m : m + s] = -1.0
        row_lo = np.r_[np.full(m, -INF), np.zeros(s), np.ones(self.vrs)]
        row_hi = np.r_[np.zeros(m), np.full(s, INF), np.ones(self.vrs)]
        return (
            first,
            np.array([1.0 if self.input else -1.0]),
            np.array([-INF]),
            np.array([INF]),
            row_lo,
            row_hi,
        )

    def lam_rows(self, Zr):
        return data_rows(Zr, convex=bool(self.vrs))

    def load(self, lp: FrontierLP, z: np.ndarray) -> None:
        m, s = self.m, self.s
        x, y = z[:m], z[m : m + s]
        if self.input:
            lp.set_coeffs(self._rows_x, 0, -x)
            lp.set_rows(self._rows_y, y, np.full(s, INF))
        else:
            lp.set_coeffs(self._rows_y, 0, -y)
            lp.set_rows(self._rows_x, np.full(m, -INF), x)

    def read(self, obj: float, vals, z) -> np.ndarray:
        if self.input:
            return np.array([obj])
        eta = -obj
        return np.array([1.0 / eta, eta])


def radial_efficiency(
    data: Any,
    inputs: str | Sequence[str],
    outputs: str | Sequence[str],
    *,
    rts: str = "crs",
    orientation: str = "input",
    frontier: str = "contemporaneous",
    period: str | None = None,
    window: int = 3,
    unit: str | None = None,
    on_invalid: str = "warn",
    backend: Any = None,
    scheduler: Any = None,
) -> pd.DataFrame:
    """Radial DEA efficiency: CCR (``rts="crs"``, Charnes, Cooper & Rhodes 1978) or BCC
    (``rts="vrs"``, Banker, Charnes & Cooper 1984), envelopment form.

    Parameters
    ----------
    data
        :class:`~climetrics.Panel` or DataFrame, one row per DMU (unit-period).
    inputs, outputs
        Column names.
    rts
        ``"crs"`` or ``"vrs"`` (adds ``sum(lambda) = 1``).
    orientation
        ``"input"``: ``theta* = min theta`` s.t. ``X lam <= theta x_o, Y lam >= y_o``
        (Cooper, Seiford & Tone 2007, model (3.6) / (4.2)). ``"output"``: ``eta* = max eta``
        s.t. ``X lam <= x_o, Y lam >= eta y_o``; the score is ``1 / eta*`` (column ``eta`` too).
    frontier, period, window, unit
        Reference technology (see the module docstring); ``period`` and ``unit`` default to the
        Panel's time and unit columns.
    on_invalid
        ``"warn"`` (default): DMUs with missing / non-positive data get ``status ==
        "invalid_data"`` and one warning names them; ``"raise"``: raise :class:`EstimationError`.
    backend, scheduler
        Where the LPs run (:mod:`climetrics.core.replicate`): ``"serial"`` (default),
        ``"processes"``, ``"dask"`` (``scheduler="tcp://host:port"``) or a ``Backend``; the
        scores are identical on every backend.

    Returns
    -------
    DataFrame
        Keys, ``theta`` (efficiency score in (0, 1]; only the radial part -- slacks are not
        reported), ``eta`` for the output orientation, and ``status``.
    """
    check_options(rts, frontier, window)
    if orientation not in ("input", "output"):
        raise ValueError(f"orientation must be 'input' or 'output', got {orientation!r}")
    xs, ys = as_list(inputs), as_list(outputs)
    if not xs or not ys:
        raise ValueError("radial_efficiency needs at least one input and one output")
    d = prepare(
        data, xs + ys, unit=unit, period=period, on_invalid=on_invalid, context="radial DEA"
    )
    model = _Radial(len(xs), len(ys), rts == "vrs", orientation)
    out, status = run_groups(
        model, d, frontier_groups(d, frontier, window), backend=backend, scheduler=scheduler
    )
    warn_unsolved(d, status, "radial DEA")
    cols = {"theta": out[:, 0]}
    if orientation == "output":
        cols["eta"] = out[:, 1]
    return result_frame(d, cols, status)


def ccr(data: Any, inputs, outputs, **kw: Any) -> pd.DataFrame:
    """CCR efficiency: :func:`radial_efficiency` with ``rts="crs"``."""
    return radial_efficiency(data, inputs, outputs, rts="crs", **kw)


def bcc(data: Any, inputs, outputs, **kw: Any) -> pd.DataFrame:
    """BCC efficiency: :func:`radial_efficiency` with ``rts="vrs"``."""
    return radial_efficiency(data, inputs, outputs, rts="vrs", **kw)


__all__ = [
    "FRONTIERS",
    "DEADataWarning",
    "DEAData",
    "FrontierLP",
    "FrontierJob",
    "FrontierSolver",
    "Model",
    "bcc",
    "ccr",
    "evaluate_groups",
    "frontier_kernel",
    "radial_efficiency",
]

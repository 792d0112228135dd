"""Directional distance functions with undesirable outputs: the non-radial DDF of Zhou, Ang &
Wang (2012) with the total-factor carbon emission performance index, and the radial DDF of
Chung, Fare & Grosskopf (1997) used by the Malmquist-Luenberger indices.

Technology (Fare, Grosskopf, Lovell & Pasurka 1989; ZAW 2012 eq. 1): inputs ``x`` and good
outputs ``y`` are freely disposable, bad outputs ``b`` are weakly disposable and null-joint with
``y`` -- in the DEA technology the bad-output constraints hold with equality::

    T = {(x, y, b) : X'lam <= x,  Y'lam >= y,  B'lam = b,  lam >= 0 (, e'lam = 1 under VRS)}

Non-radial DDF (ZAW 2012, eq. 5-6), direction ``g = (-x_o, y_o, -b_o)``::

    D(x_o, y_o, b_o; g) = max  w_x'beta_x + w_y'beta_y + w_b'beta_b
        s.t.  X'lam <= (1 - beta_x) * x_o,  Y'lam >= (1 + beta_y) * y_o,
              B'lam  = (1 - beta_b) * b_o,  lam >= 0,  beta >= 0.

Each variable has its own inefficiency ``beta`` (the "collection of individual inefficiency
factors" of seed 000, sec. 4.2.1). Implementation: with ``theta = beta * |data|`` (absolute
slack) every constraint becomes ``X'lam + theta_x <= x_o``, ``Y'lam - theta_y >= y_o``,
``B'lam + theta_b = b_o``, so the constraint matrix is the same for all DMUs of a frontier and
only the right-hand side and the objective weights ``w / data`` change between DMUs.

Performance indices (ZAW 2012, sec. 3; Zhang & Choi 2013): the ratio of the target to the
actual carbon (energy) intensity, computed from the optimal betas::

    CPI  = [(1 - beta_C) C / ((1 + beta_Y) Y)] / (C / Y) = (1 - beta_C) / (1 + beta_Y)
    EPI  = (1 - beta_E) / (1 + beta_Y)
    ECPI = (EPI + CPI) / 2 = [(1 - beta_E) + (1 - beta_C)] / 2 / (1 + beta_Y)

``tfcpi`` -- seed 000's total-factor carbon emission performance (eq. 2, larger = better, in
(0, 1], 1 on the frontier) -- is the CPI, with the total-factor weights
``w = (1/9, 1/9, 1/9, 1/3, 1/3)`` for (K, L, E, Y, C). Eq. 2 is an image in our copy of seed
000; its text says only that the index is built from the individual inefficiencies of each
input and output and that larger is better, which CPI and ECPI both satisfy. ECPI, the form
that also credits energy savings, is returned as ``ecpi`` when ``energy`` is named, and a study
selects it with ``index = "ecpi"`` in ``[[prepare.nddf]]`` (docs/measurement.md). With several
good or bad outputs, ``beta_Y`` and ``beta_C`` are their means.

References
----------
Zhou, P., Ang, B. W. & Wang, H. (2012). Energy and CO2 emission performance in electricity
generation: a non-radial directional distance function approach. European Journal of
Operational Research 221, 625-635.
Zhang, N. & Choi, Y. (2013). Total-factor carbon emission performance of fossil fuel power
plants in China: a metafrontier non-radial Malmquist index analysis. Energy Economics 40,
549-559.
Chung, Y. H., Fare, R. & Grosskopf, S. (1997). Productivity and undesirable outputs: a
directional distance function approach. Journal of Environmental Management 51, 229-240.
Fare, R., Grosskopf, S., Lovell, C. A. K. & Pasurka, C. (1989). Multilateral productivity
comparisons when some outputs are undesirable. Review of Economics and Statistics 71, 90-98.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .dea import (
    INF,
    FrontierLP,
    Model,
    as_list,
    check_options,
    data_rows,
    frontier_groups,
    prepare,
    result_frame,
    run_groups,
    warn_unsolved,
)


def default_weights(m: int, s: int, k: int) -> np.ndarray:
    """ZAW (2012) / Zhang & Choi (2013) weights: 1/3 for inputs, good and bad outputs each,
    split equally within a group -- (1/9, 1/9, 1/9, 1/3, 1/3) for (K, L, E, Y, C)."""
    return np.r_[np.full(m, 1 / (3 * m)), np.full(s, 1 / (3 * s)), np.full(k, 1 / (3 * k))]


class _DirectionalModel(Model):
    """Shared rows of the directional distance models with weakly disposable bad outputs:
    ``X'lam (+ ...) <= x_o``, ``Y'lam (- ...) >= y_o``, ``B'lam (+ ...) = b_o`` (, ``e'lam = 1``).
    Subclasses add their model columns and the per-DMU objective or coefficients."""

    def __init__(self, m: int, s: int, k: int, vrs: bool) -> None:
        self.m, self.s, self.k, self.vrs = m, s, k, int(vrs)
        self.p = m + s + k
        self._rows = np.arange(self.p, dtype=np.int32)
        self._lo = np.full(self.p, -INF)  # row-bound buffers; the data parts are set per DMU
        self._hi = np.full(self.p, INF)

    def _row_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        m, s, k = self.m, self.s, self.k
        row_lo = np.r_[np.full(m, -INF), np.zeros(s + k), np.ones(self.vrs)]
        row_hi = np.r_[np.zeros(m), np.full(s, INF), np.zeros(k), np.ones(self.vrs)]
        return row_lo, row_hi

    def lam_rows(self, Zr: np.ndarray) -> np.ndarray:
        return data_rows(Zr, convex=bool(self.vrs))

    def _load_rows(self, lp: FrontierLP, z: np.ndarray) -> None:
        """Right-hand sides of the evaluated DMU: <= x_o, >= y_o, = b_o."""
        m, s = self.m, self.s
        self._lo[m:] = z[m:]
        self._hi[:m] = z[:m]
        self._hi[m + s :] = z[m + s :]
        lp.set_rows(self._rows, self._lo, self._hi)


class NDDFModel(_DirectionalModel):
    """LP of the non-radial DDF: columns ``theta`` (m + s + k absolute slacks), then lambda.

    Rows: ``X'lam + theta_x <= x_o``, ``Y'lam - theta_y >= y_o``, ``B'lam + theta_b = b_o``
    (, ``e'lam = 1``). Per DMU only the row bounds and the costs ``-w / z_o`` change.
    """

    def __init__(self, m: int, s: int, k: int, w: np.ndarray, vrs: bool) -> None:
        super().__init__(m, s, k, vrs)
        self.w = np.asarray(w, float)
        self.lam0 = self.p
        self.n_values = self.p
        self.n_out = self.p + 1

    def fixed(self):
        m, s, k, p = self.m, self.s, self.k, self.p
        T = np.zeros((p + self.vrs, p))
        T[np.arange(p), np.arange(p)] = np.r_[np.ones(m), -np.ones(s), np.ones(k)]
        row_lo, row_hi = self._row_bounds()
        col_hi = np.where(self.w > 0, INF, 0.0)  # w = 0: that component of g is 0
        return T, np.zeros(p), np.zeros(p), col_hi, row_lo, row_hi

    def load(self, lp: FrontierLP, z: np.ndarray) -> None:
        self._load_rows(lp, z)
        lp.set_costs(self._rows, -self.w / z)

    def read(self, obj: float, vals: np.ndarray | None, z: np.ndarray) -> np.ndarray:
        beta = np.maximum(vals, 0.0) / z
        return np.r_[beta, 0.0 - obj]


def _resolve_weights(weights: Any, names: list[str], m: int, s: int, k: int) -> np.ndarray:
    if weights is None:
        return default_weights(m, s, k)
    if isinstance(weights, Mapping):
        unknown = [c for c in weights if c not in names]
        if unknown:
            raise ValueError(
                f"weights given for unknown column(s) {unknown}; model columns are {names}"
            )
        w = np.array([float(weights.get(c, 0.0)) for c in names])
    else:
        w = np.asarray(weights, float).ravel()
        if w.size != len(names):
            raise ValueError(
                f"weights need {len(names)} values (one per column of {names}), got {w.size}"
            )
    if not np.all(np.isfinite(w)) or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"weights must be finite, non-negative and not all zero, got {w.tolist()}")
    return w


def nddf_performance(
    data: Any,
    inputs: str | Sequence[str],
    good: str | Sequence[str],
    bad: str | Sequence[str],
    *,
    weights: Sequence[float] | Mapping[str, float] | None = None,
    rts: str = "crs",
    frontier: str = "contemporaneous",
    period: str | None = None,
    window: int = 3,
    unit: str | None = None,
    energy: str | None = None,
    on_invalid: str = "warn",
    backend: Any = None,
    scheduler: Any = None,
) -> pd.DataFrame:
    """Non-radial DDF inefficiencies and total-factor carbon emission performance (seed 000).

    Solves ZAW (2012) model (6) for every DMU (see the module docstring) and derives the
    performance indices from the optimal betas.

    Parameters
    ----------
    data
        :class:`~climetrics.Panel` or DataFrame, one row per DMU (e.g. city-year).
    inputs, good, bad
        Column names of the inputs (e.g. capital, labour, energy), desirable outputs (GDP) and
        undesirable outputs (CO2).
    weights
        Weights of ``beta`` in the objective, in the order ``inputs + good + bad`` or as a
        ``{column: weight}`` mapping (missing columns get 0). A zero weight sets that
        component of the direction to 0 (ZAW 2012: e.g. ``w = (0, 0, 1/3, 1/3, 1/3)`` keeps
        capital and labour fixed); its beta is then 0.
        Default: :func:`default_weights`, i.e. ``(1/9, 1/9, 1/9, 1/3, 1/3)`` for (K, L, E, Y, C)
        as in ZAW (2012) and Zhang & Choi (2013).
    rts
        ``"crs"`` (ZAW 2012) or ``"vrs"`` (adds ``sum(lambda) = 1``).
    frontier
        ``"contemporaneous"``, ``"sequential"``, ``"window"`` (``window`` periods) or
        ``"global"``; see :mod:`climetrics.measure.dea`.
    period, unit
        Column names; default to the Panel's time and unit columns. Without ``period`` the data
        are one cross-section.
    energy
        Name of the energy input; adds ``epi`` and ``ecpi`` (needs one good output).
    on_invalid
        ``"warn"`` or ``"raise"`` for DMUs with missing, zero or negative data.
    backend, scheduler
        Where the LPs run (:mod:`climetrics.core.replicate`; as in
        :func:`climetrics.measure.dea.radial_efficiency`); scores are identical on every backend.

    Returns
    -------
    DataFrame
        Keys; ``beta_<column>`` for every input and output; ``nddf`` (the optimal objective
        ``w'beta``); ``cpi = (1 - mean beta_bad) / (1 + mean beta_good)``; ``tfcpi`` (= ``cpi``,
        seed 000's dependent variable); ``epi``, ``ecpi`` if ``energy`` is given; ``status``
        (``"optimal"`` or ``"invalid_data"``; invalid DMUs are also named in a warning).

    Notes
    -----
    The optimal value ``nddf`` is unique; the individual betas need not be when the LP has
    several optimal solutions, in which case HiGHS's vertex solution is reported.
    """
    check_options(rts, frontier, window)
    xs, ys, bs = as_list(inputs), as_list(good), as_list(bad)
    if not xs or not ys or not bs:
        raise ValueError("nddf_performance needs at least one input, one good and one bad output")
    if energy is not None and energy not in xs:
        raise ValueError(f"energy={energy!r} must be one of the inputs {xs}")
    names = xs + ys + bs
    w = _resolve_weights(weights, names, len(xs), len(ys), len(bs))
    d = prepare(data, names, unit=unit, period=period, on_invalid=on_invalid, context="NDDF")
    model = NDDFModel(len(xs), len(ys), len(bs), w, rts == "vrs")
    out, status = run_groups(
        model, d, frontier_groups(d, frontier, window), backend=backend, scheduler=scheduler
    )
    warn_unsolved(d, status, "NDDF")
    beta = out[:, : model.p]
    cols = {f"beta_{c}": beta[:, j] for j, c in enumerate(names)}
    cols["nddf"] = out[:, model.p]
    by = beta[:, len(xs) : len(xs) + len(ys)].mean(axis=1)
    bb = beta[:, len(xs) + len(ys) :].mean(axis=1)
    cols["cpi"] = (1.0 - bb) / (1.0 + by)
    cols["tfcpi"] = cols["cpi"]
    if energy is not None:
        if len(ys) != 1:
            raise ValueError("epi/ecpi need exactly one good output")
        cols["epi"] = (1.0 - beta[:, xs.index(energy)]) / (1.0 + by)
        cols["ecpi"] = (cols["epi"] + cols["cpi"]) / 2.0
    return result_frame(d, cols, status)


class DDFModel(_DirectionalModel):
    """Radial DDF (Chung, Fare & Grosskopf 1997), direction ``g = (-gx * x_o, y_o, -b_o)``::

        max beta  s.t.  X'lam + beta * gx * x_o <= x_o,  Y'lam - beta * y_o >= y_o,
                        B'lam + beta * b_o = b_o,  lam >= 0 (, e'lam = 1).

    ``beta`` is free: a DMU outside the reference technology (a mixed-period evaluation in the
    Malmquist-Luenberger index) has a negative distance. Column 0 is beta; its coefficients
    and the right-hand sides are the evaluated DMU's data.
    """

    lam0 = 1

    def __init__(self, m: int, s: int, k: int, vrs: bool, full: bool) -> None:
        super().__init__(m, s, k, vrs)
        self.full = full
        self._brows = np.arange(0 if full else m, self.p, dtype=np.int32)
        self._sign = np.r_[np.ones(m), -np.ones(s), np.ones(k)][self._brows]

    def fixed(self):
        p = self.p
        first = np.zeros((p + self.vrs, 1))
        first[self._brows, 0] = self._sign  # placeholders, set per DMU
        row_lo, row_hi = self._row_bounds()
        return first, np.array([-1.0]), np.array([-INF]), np.array([INF]), row_lo, row_hi

    def load(self, lp: FrontierLP, z: np.ndarray) -> None:
        self._load_rows(lp, z)
        lp.set_coeffs(self._brows, 0, self._sign * z[self._brows])

    def read(self, obj: float, vals, z) -> np.ndarray:
        return np.array([0.0 - obj])


def ddf_efficiency(
    data: Any,
    inputs: str | Sequence[str],
    good: str | Sequence[str],
    bad: str | Sequence[str],
    *,
    direction: str = "output",
    rts: str = "crs",
    frontier: str = "contemporaneous",
    period: str | None = None,
    window: int = 3,
    unit: str | None = None,
    on_invalid: str = "warn",
    backend: Any = None,
    scheduler: Any = None,
) -> pd.DataFrame:
    """Radial directional distance function with undesirable outputs (Chung et al. 1997).

    Parameters
    ----------
    direction
        ``"output"``: ``g = (0, y_o, -b_o)`` (Chung et al. 1997, eq. 8); ``"full"``:
        ``g = (-x_o, y_o, -b_o)``.
    rts, frontier, period, window, unit, on_invalid, backend, scheduler
        As in :func:`nddf_performance`.

    Returns
    -------
    DataFrame
        Keys, ``ddf`` (the distance ``beta*`` >= 0; 0 on the frontier) and ``status``.
    """
    check_options(rts, frontier, window)
    if direction not in ("output", "full"):
        raise ValueError(f"direction must be 'output' or 'full', got {direction!r}")
    xs, ys, bs = as_list(inputs), as_list(good), as_list(bad)
    if not xs or not ys or not bs:
        raise ValueError("ddf_efficiency needs at least one input, one good and one bad output")
    d = prepare(data, xs + ys + bs, unit=unit, period=period, on_invalid=on_invalid, context="DDF")
    model = DDFModel(len(xs), len(ys), len(bs), rts == "vrs", direction == "full")
    out, status = run_groups(
        model, d, frontier_groups(d, frontier, window), backend=backend, scheduler=scheduler
    )
    warn_unsolved(d, status, "DDF")
    return result_frame(d, {"ddf": out[:, 0]}, status)


__all__ = ["DDFModel", "NDDFModel", "ddf_efficiency", "default_weights", "nddf_performance"]

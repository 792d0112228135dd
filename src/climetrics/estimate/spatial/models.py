"""Panel SAR, SEM and SDM with unit, time or two-way fixed effects, by maximum likelihood.

Models (Elhorst 2014, *Spatial Econometrics: From Cross-Sectional Data to Spatial Panels*, ch. 3),
for unit ``i``, period ``t`` and ``W`` row-standardised:

* SAR: ``y_t = rho W y_t + X_t beta + mu + alpha_t + e_t``
* SDM: ``y_t = rho W y_t + X_t beta + W X_t theta + mu + alpha_t + e_t``
* SEM: ``y_t = X_t beta + mu + alpha_t + u_t``, ``u_t = lambda W u_t + e_t``

**Direct approach** (``lee_yu=False``). The fixed effects are concentrated out, which for the lag
models means demeaning ``y``, ``X``, ``Wy`` and ``WX`` (the lag of the raw data, then demeaned:
with time effects ``W (y - ybar_t)`` is not the time-demeaned ``W y``); for the SEM the filtered
residual ``(I - lambda W) u`` is demeaned again. The concentrated log-likelihood
``-NT/2 log(e'e / NT) + T log|I - rho W|`` is maximised over rho on the admissible interval
(:class:`~.logdet.LogDet`) with :func:`scipy.optimize.minimize_scalar` (bounded Brent, x tolerance
1e-12); beta and sigma² follow in closed form. This is identical to ML with unit / time dummies
(checked against ``spatialreg::lagsarlm`` / ``errorsarlm`` with dummies in the tests).

**Lee & Yu (2010) bias correction** (``lee_yu=True``, the default). Lee, L.-F. & Yu, J. (2010),
"Estimation of spatial autoregressive panel data models with fixed effects", *J. Econometrics*
154, 165-185: the unit effects are removed with the orthonormal transformation
``F_{T,T-1}`` (T - 1 periods left) and the time effects with ``F_{N,N-1}`` (N - 1 units left, which
needs a row-standardised W: ``W* = F' W F`` has the eigenvalues of W except 1). The
transformed model is estimated by ML; its likelihood is

``-N* T*/2 log(2 pi sigma²) + T* (log|I - rho W| - [time effects] log(1 - rho)) - e'e / (2 sigma²)``

with ``N* = N - 1`` if there are time effects (else N), ``T* = T - 1`` if there are unit effects
(else T), and ``e`` the demeaned residuals of the direct approach. With unit effects only this
leaves beta and rho unchanged and scales sigma² by ``T / (T - 1)`` (Lee & Yu
2010; Elhorst 2014, ch. 3); with time effects rho, beta and sigma² all change (the correction of order 1/N).
This is what xsmle's ``type(..., leeyu)`` reports.

**Demeaning convention** (``demeaning=``). ``"exact"`` is the above: the ML of the model with
dummies, the lag taken of the raw data and then demeaned. ``"elhorst"`` demeans first and lags
the demeaned data, ``W (I - J) y``, as Elhorst's MATLAB routines and R ``splm::spml`` do; the
two differ only with time effects (rho moves in the third decimal on Produc) and the second
reproduces ``spml`` to 1e-7 (``tests/test_spatial_inference.py``).

**Variance** (``vcov=`` / ``cluster=``). By default the inverse of the information matrix
(Elhorst 2014, ch. 3; Lee & Yu 2010 for the transformed model), with ``W~ = W (I - rho W)^-1``:
``[Z'Z/s², Z'(W~Z g)/s², 0; ., T* tr(W~W~ + W~'W~) + |W~Z g|²/s², T* tr W~/s²; ., ., N*T*/(2 s⁴)]``
for the lag models (``W~Zg`` demeaned) and the block-diagonal analogue for the SEM. The traces
come from sparse LU solves (no dense inverse; see :func:`_traces`), or above
:data:`.logdet.EXACT_TRACE_MAX_N` units from :func:`.logdet.trace_estimates`.
``vcov="hetero"`` and ``cluster="unit"`` give the sandwich of the ML scores
(:func:`_robust_cov`), robust to heteroskedasticity and, clustered, to any correlation of a
unit's errors over time; the table note and ``result.vcov`` say which was used.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from ...core.results import EstimationResult
from ...errors import EstimationError, PanelError, show
from .logdet import LogDet
from .weights import SpatialWeights, require_weights

MODELS = ("sar", "sdm", "sem")
EFFECTS = {
    "unit": "unit",
    "individual": "unit",
    "time": "time",
    "twoway": "twoway",
    "twoways": "twoway",
    "both": "twoway",
}
_BLOCK = 512
_ROW_SUM_TOL = 1e-8


@dataclass(frozen=True)
class SpatialFit:
    """What :func:`~.effects.impacts` and the tests need from a fit (``result.meta["spatial"]``)."""

    model: str
    w: SpatialWeights
    logdet: LogDet
    x: tuple[str, ...]
    durbin: tuple[str, ...]
    param: str


@dataclass(frozen=True)
class _Data:
    """Balanced panel arranged as ``N x T`` arrays (units sorted as in the panel)."""

    y: np.ndarray  # (N, T)
    x: np.ndarray  # (N, T, k)
    units: pd.Index
    w: SpatialWeights


def demean(a: np.ndarray, effects: str) -> np.ndarray:
    """Remove unit (axis 0) and/or time (axis 1) means of an ``N x T (x k)`` array."""
    out = a
    if effects in ("unit", "twoway"):
        out = out - out.mean(axis=1, keepdims=True)
    if effects in ("time", "twoway"):
        out = out - out.mean(axis=0, keepdims=True)
    return out


def _lag(w: SpatialWeights, a: np.ndarray) -> np.ndarray:
    """``W`` applied to every period (and column) of an ``N x T (x k)`` array."""
    return (w.matrix @ a.reshape(a.shape[0], -1)).reshape(a.shape)


def panel_arrays(panel, y: str, x: Sequence[str], w: SpatialWeights, allow_islands: bool) -> _Data:
    """Check the panel (balanced, complete) and W (covers the units, row-standardised)."""
    require_weights(w, "spatial_panel")
    panel.require([y, *x], context="the spatial panel model")
    bal = panel.balance()
    if not bal.balanced:
        u, t = bal.missing.iloc[0]
        raise PanelError(
            f"spatial panel models need a balanced panel, but {panel.unit} {show(u)} has no row for "
            f"{panel.time} {t} ({len(bal.missing)} unit-period pairs missing); "
            "fill or drop units first"
        )
    df = panel.df
    for col in (y, *x):
        miss = df[col].isna()
        if miss.any():
            i = miss.idxmax()
            raise PanelError(
                f"column '{col}' is missing for {panel.unit} {show(df.at[i, panel.unit])} in "
                f"{panel.time} {df.at[i, panel.time]} ({int(miss.sum())} missing cells); "
                "spatial panel models need complete data"
            )
    units = pd.Index(df[panel.unit].unique())
    n, t = len(units), bal.n_periods
    wa = w.aligned(units)
    if wa.islands and not allow_islands:
        raise EstimationError(
            f"Spatial weights leave {len(wa.islands)} unit(s) without neighbours, e.g. "
            f"{wa.islands[0]!r}; pass allow_islands=True to keep them knowingly."
        )
    sums = np.asarray(wa.matrix.sum(axis=1)).ravel()
    off = np.flatnonzero((np.abs(sums - 1) > _ROW_SUM_TOL) & (sums > 0))
    if off.size:
        raise EstimationError(
            f"Spatial weights are not row-standardised (row of {units[off[0]]!r} sums to "
            f"{sums[off[0]]:.4g}); pass w.standardized()."
        )
    yv = df[y].to_numpy(float).reshape(n, t)
    xv = df[list(x)].to_numpy(float).reshape(n, t, len(x))
    return _Data(yv, xv, units, wa)


def _check_rank(z: np.ndarray, names: list[str], effects: str, unit: str, time: str) -> None:
    scale = np.sqrt((z**2).sum(axis=0))
    zero = np.flatnonzero(scale < 1e-10 * max(1.0, np.abs(z).max()))
    if zero.size:
        by = {"unit": unit, "time": time, "twoway": f"{unit} and {time}"}[effects]
        raise EstimationError(
            f"'{names[zero[0]]}' does not vary once the {by} fixed effects are removed; drop it."
        )
    if np.linalg.matrix_rank(z / scale) < z.shape[1]:
        raise EstimationError(f"the regressors {names} are collinear after removing fixed effects.")


def _optimise(
    objective, bounds: tuple[float, float], what: str = "the spatial parameter"
) -> tuple[float, list[str]]:
    """Minimise on the open interval; report non-convergence and boundary solutions."""
    from scipy.optimize import minimize_scalar

    lo, hi = bounds
    eps = 1e-9 * (hi - lo)
    res = minimize_scalar(
        objective,
        bounds=(lo + eps, hi - eps),
        method="bounded",
        options={"xatol": 1e-12, "maxiter": 1000},
    )
    notes = []
    if not res.success:
        raise EstimationError(
            f"the likelihood maximisation over {what} did not converge: {res.message}"
        )
    if min(res.x - lo, hi - res.x) < 1e-6 * (hi - lo):
        msg = (
            f"{what} is at the boundary of its interval ({lo:.4f}, {hi:.4f}); "
            "the model is probably misspecified"
        )
        warnings.warn(msg, stacklevel=3)
        notes.append(msg)
    return float(res.x), notes


@dataclass(frozen=True)
class Traces:
    """The traces of ``W~ = W (I - rho W)^-1`` the information matrix and the scores need.

    ``tr1 = tr W~``, ``tr2 = tr W~W~``, ``frob = tr W~'W~``, ``diag`` the diagonal of W~ (its
    per-unit share of ``tr1``), ``apply(v) = W~ v``; with time effects under Lee & Yu they are
    those of ``F' W~ F`` (``diag`` shifted evenly so that it still sums to ``tr1``).
    ``method`` is ``"exact"`` or ``"estimated"`` (see :mod:`.logdet`).
    """

    apply: Callable[[np.ndarray], np.ndarray]
    tr1: float
    tr2: float
    frob: float
    diag: np.ndarray
    method: str


def _traces(w: SpatialWeights, rho: float, time_fe_ly: bool, method: str = "exact") -> Traces:
    """The :class:`Traces` at ``rho``, exactly or by the estimators of :mod:`.logdet`.

    Exact: ``W~`` is formed a block of columns at a time from sparse LU solves (``2 N`` solves
    in all, memory ``N x`` :data:`_BLOCK`), without a dense inverse. Estimated:
    :func:`.logdet.trace_estimates` (exact low-order terms of the power series of W~ plus
    Hutchinson probes of the remainder; ``O(N)`` per probe). With time effects under Lee & Yu
    the eigenvalue ``1 / (1 - rho)`` of the constant vector is removed and
    ``|J W~ J|² = |W~|² - c'c / N`` with ``c`` the column sums of ``W~``.
    """
    from scipy.sparse.linalg import splu

    from .logdet import trace_estimates

    n, m = w.n, w.matrix
    lu = splu(sparse.csc_array(sparse.eye_array(n) - rho * m))
    if method == "exact":
        tr2 = frob = 0.0
        diag, colsum = np.empty(n), np.empty(n)
        for start in range(0, n, _BLOCK):
            cols = np.arange(start, min(n, start + _BLOCK))
            b = lu.solve(m[:, cols].toarray())  # W~[:, cols]
            b2 = lu.solve(m @ b)  # W~ W~[:, cols]
            diag[cols] = b[cols, np.arange(cols.size)]
            tr2 += b2[cols, np.arange(cols.size)].sum()
            frob += float(np.sum(b * b))
            colsum[cols] = b.sum(axis=0)
        cc = float(colsum @ colsum)
    else:
        est = trace_estimates(m, rho, lu)
        diag, tr2, frob, cc = est.diag, est.tr2, est.frob, est.colsum_sq
    tr1 = float(diag.sum())
    if time_fe_ly:
        tr1 -= 1 / (1 - rho)
        tr2 -= 1 / (1 - rho) ** 2
        frob -= cc / n
        diag = diag - 1 / (n * (1 - rho))

    def apply(v: np.ndarray) -> np.ndarray:
        return lu.solve(np.asarray(m @ v))

    return Traces(apply, tr1, float(tr2), float(frob), diag, method)


def _robust_cov(bread, e, zs, wv, g, s2, tr: Traces, w, rho, outer, nt, t_eff, clustered):
    """Sandwich ``I^-1 M I^-1`` of the ML scores, heteroskedasticity- or cluster-robust by unit.

    The score of rho (lambda) is linear-quadratic in the errors (Lee 2004; Kelejian & Prucha
    2010). Splitting ``wv'e = (wv - W~e)'e + sum_i W~_ii e_i'e_i + sum_{i != j} W~_ij e_i'e_j``
    (``e_i`` unit i's residuals over time):

    * the linear part, the diagonal part (centred: ``W~_ii (e_i'e_i / s² - T*)``) and the
      scores of the coefficients (``z_it e_it / s²``) and of sigma²
      (``(e_it² - s² N*T*/(NT)) / (2 s⁴)``) are summed by unit (kept by observation for
      ``"hetero"``) and enter ``M`` as ``sum_i s_i s_i'``;
    * the off-diagonal part pairs different units. With ``S = (W~ + W~')/2`` it is
      ``2 sum_{i<j} S_ij e_i'e_j``, whose terms are uncorrelated with one another and with the
      unit scores when units are independent, so its variance
      ``2 sum_{i != j} S_ij² E[(e_i'e_j)²]`` is added to the rho entry of ``M`` with the
      residuals plugged in: ``(e_i'e_j)²`` when clustered by unit (any correlation within a
      unit over time) and ``sum_t e_it² e_jt²`` for ``"hetero"``.

    ``S`` is exact up to :data:`.logdet.EXACT_TRACE_MAX_N` units and otherwise the head
    ``W + rho W² + rho² W³`` of the power series of W~ (the pairs left out are at least four
    steps apart, with weights of order rho³). Clustered by unit: times ``N / (N - 1)``.
    """
    from .logdet import EXACT_TRACE_MAX_N

    n, t = e.shape
    ev = e.ravel()
    d = np.repeat(tr.diag, t)
    linear = (wv - demean(tr.apply(e), outer).ravel()) * ev / s2
    s_r = linear + d * (ev**2 / s2 - t_eff / t)
    s_g = zs * (ev / s2)[:, None]
    s_s = (ev**2 - s2 * nt / (n * t)) / (2 * s2**2)
    sc = np.column_stack([s_g, s_r, s_s])
    if clustered:
        sc = sc.reshape(n, t, -1).sum(axis=1)
    meat = sc.T @ sc
    m = w.matrix
    if n <= EXACT_TRACE_MAX_N:
        gm = tr.apply(np.eye(n))
        smat = sparse.coo_array((gm + gm.T) / 2)
    else:
        m2 = m @ m
        smat = sparse.coo_array(m + rho * m2 + rho**2 * (m2 @ m))
        smat = sparse.coo_array((smat + smat.T) / 2)
    off = smat.row != smat.col
    rows, cols, vals = smat.row[off], smat.col[off], smat.data[off]
    var_off = 0.0
    step = max(1, 4_000_000 // t)
    for lo in range(0, rows.size, step):
        r, c = rows[lo : lo + step], cols[lo : lo + step]
        if clustered:
            pair = np.einsum("kt,kt->k", e[r], e[c]) ** 2
        else:
            pair = np.einsum("kt,kt->k", e[r] ** 2, e[c] ** 2)
        var_off += 2 * float(vals[lo : lo + step] ** 2 @ pair)
    p = g.size
    meat[p, p] += var_off / s2**2
    v = bread @ meat @ bread
    if clustered:
        v *= n / (n - 1)
    return (v + v.T) / 2


def spatial_panel(
    panel,
    y: str,
    x: Sequence[str] | str,
    w: SpatialWeights,
    *,
    model: str = "sdm",
    effects: str = "unit",
    lee_yu: bool = True,
    demeaning: str = "exact",
    durbin: Sequence[str] | None = None,
    vcov: str | None = "iid",
    cluster: str | None = None,
    alpha: float = 0.05,
    logdet: str = "auto",
    traces: str = "auto",
    allow_islands: bool = False,
) -> EstimationResult:
    """Panel SAR / SDM / SEM with fixed effects by (bias-corrected) maximum likelihood.

    Parameters
    ----------
    panel
        A balanced :class:`~climetrics.panel.Panel` without missing values in ``y`` and ``x``.
    y, x
        Dependent variable and regressors (no constant: it is absorbed by the fixed effects).
    w
        Row-standardised :class:`SpatialWeights`; aligned to the panel's units by id.
    model
        ``"sar"`` (spatial lag), ``"sdm"`` (spatial Durbin) or ``"sem"`` (spatial error).
    effects
        ``"unit"``, ``"time"`` or ``"twoway"`` fixed effects.
    lee_yu
        Lee & Yu (2010) bias correction (transformation approach); ``False`` gives the direct
        approach (see the module docstring).
    demeaning
        ``"exact"`` (default): the ML of the model with unit / time dummies, so with time effects
        the spatial lag is taken of the raw data and then demeaned, ``(I - J) W y``.
        ``"elhorst"``: the convention of Elhorst's MATLAB routines and R ``splm::spml``: y and x
        are demeaned first and W is applied to the demeaned data, ``W (I - J) y`` (for the SEM
        the filtered residual is not demeaned again). The two differ only with time effects and
        a W that is not doubly stochastic (on Produc rho moves in the third decimal); use
        ``"elhorst"`` to replicate a Stata / MATLAB / splm paper. Needs ``lee_yu=False`` when
        there are time effects (the Lee & Yu transformation is the exact route).
    durbin
        Regressors whose spatial lag ``W*x`` enters the SDM (default: all of ``x``).
    vcov
        ``"iid"`` (default): inverse of the information matrix (the classical ML variance,
        homoskedastic independent errors); ``"hetero"``: sandwich ``I^-1 (sum s s') I^-1`` of
        the ML scores by observation (:func:`_robust_cov`); ``None``: no standard errors.
    cluster
        ``None`` (default) or ``"unit"`` (or the panel's unit column): the sandwich with the
        scores summed by unit, times ``N / (N - 1)`` -- robust to heteroskedasticity and to
        any correlation of a unit's errors over time, the analogue of the TWFE clustered by
        unit (overrides ``vcov="iid"``; see :func:`_robust_cov`).
    alpha
        Confidence level of the intervals (0.05: 95%); statistics are z (normal).
    logdet
        ``"auto"``, ``"eigen"`` or ``"lu"`` (see :mod:`.logdet`).
    traces
        ``"exact"`` (sparse LU solves, ``2 N`` of them), ``"estimated"`` (power series plus
        Hutchinson probes, see :func:`.logdet.trace_estimates`) or ``"auto"``: exact up to
        :data:`.logdet.EXACT_TRACE_MAX_N` units.
    allow_islands
        Keep units without neighbours (their spatial lag is zero).

    Returns
    -------
    EstimationResult
        Terms ``x``, ``W*x`` (SDM) and ``rho`` (SAR/SDM) or ``lambda`` (SEM); ``stats`` holds
        ``loglik`` and ``sigma2``; ``vcov`` is ``"iid"``, ``"hetero"`` or ``"cluster"``;
        ``meta["spatial"]`` a :class:`SpatialFit` for :func:`~.effects.impacts`.
    """
    from ...core.covariance import coef_table
    from .logdet import EXACT_TRACE_MAX_N, blas_limited

    model = model.lower()
    if model not in MODELS:
        raise EstimationError(f"model must be one of {MODELS}, not {model!r}")
    if effects not in EFFECTS:
        raise EstimationError(f"effects must be 'unit', 'time' or 'twoway', not {effects!r}")
    fe = EFFECTS[effects]
    if vcov not in ("iid", "hetero", None):
        raise EstimationError(f"vcov must be 'iid', 'hetero' or None, not {vcov!r}")
    if cluster is not None and vcov is None:
        raise EstimationError("cluster= needs standard errors; do not combine it with vcov=None")
    if demeaning not in ("exact", "elhorst"):
        raise EstimationError(f"demeaning must be 'exact' or 'elhorst', not {demeaning!r}")
    time_fe = fe in ("time", "twoway")
    if demeaning == "elhorst" and lee_yu and time_fe:
        raise EstimationError(
            "demeaning='elhorst' with time effects is the uncorrected estimator of Elhorst / "
            "splm; pass lee_yu=False (the Lee & Yu correction uses the exact demeaning)"
        )
    if traces not in ("auto", "exact", "estimated"):
        raise EstimationError(f"traces must be 'auto', 'exact' or 'estimated', not {traces!r}")
    if not 0 < alpha < 1:
        raise EstimationError(f"alpha must be between 0 and 1, not {alpha}")
    xs = [x] if isinstance(x, str) else list(x)
    if model == "sdm":
        durbin = xs if durbin is None else list(durbin)
        bad = [d for d in durbin if d not in xs]
        if bad:
            raise EstimationError(f"durbin term {bad[0]!r} is not among the regressors {xs}")
    elif durbin:
        raise EstimationError(f"durbin terms only apply to the SDM, not the {model.upper()}")
    else:
        durbin = []

    data = panel_arrays(panel, y, xs, w, allow_islands)
    n, t = data.y.shape
    if cluster not in (None, "unit", panel.unit):
        raise EstimationError(
            f"spatial models cluster by unit only (cluster='unit' or '{panel.unit}'), not "
            f"{cluster!r}: the spatial scores pair units, so coarser clusters are not supported"
        )
    trace_method = (
        ("exact" if n <= EXACT_TRACE_MAX_N else "estimated") if traces == "auto" else traces
    )
    with blas_limited():
        ld = LogDet(data.w.matrix, logdet)
        unit_fe = fe in ("unit", "twoway")
        n_eff = n - 1 if (lee_yu and time_fe) else n
        t_eff = t - 1 if (lee_yu and unit_fe) else t
        nt = n_eff * t_eff

        def ld_eff(r: float) -> float:
            return ld(r) - (np.log1p(-r) if (lee_yu and time_fe) else 0.0)

        didx = [xs.index(d) for d in durbin]
        z3 = np.concatenate([data.x, _lag(data.w, data.x[:, :, didx])], axis=2)
        names = xs + [f"W*{d}" for d in durbin]
        z = demean(z3, fe).reshape(n * t, -1)
        _check_rank(z, names, fe, panel.unit, panel.time)
        yd = demean(data.y, fe)
        outer = "none" if demeaning == "elhorst" else fe  # demeaning after the lag
        if model == "sem":
            wz = demean(_lag(data.w, demean(z3, fe)), outer).reshape(n * t, -1)
            wy = demean(_lag(data.w, yd), outer).ravel()
        else:
            lagged = _lag(data.w, yd if demeaning == "elhorst" else data.y)
            wy = demean(lagged, outer).ravel()
        yv = yd.ravel()

        def fit_at(r: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            """Coefficients, residuals and the regressors at rho / lambda = r."""
            if model == "sem":
                zs, ys = z - r * wz, yv - r * wy
            else:
                zs, ys = z, yv - r * wy
            g = np.linalg.lstsq(zs, ys, rcond=None)[0]
            return g, ys - zs @ g, zs

        if model == "sem":

            def sse(r: float) -> float:
                e = fit_at(r)[1]
                return float(e @ e)
        else:
            e0 = yv - z @ np.linalg.lstsq(z, yv, rcond=None)[0]
            el = wy - z @ np.linalg.lstsq(z, wy, rcond=None)[0]
            q = (e0 @ e0, e0 @ el, el @ el)

            def sse(r: float) -> float:
                return q[0] - 2 * r * q[1] + r * r * q[2]

        def negll(r: float) -> float:
            return nt / 2 * np.log(sse(r) / nt) - t_eff * ld_eff(r)

        rho, notes = _optimise(negll, ld.bounds)
        g, e, zs = fit_at(rho)
        s2 = float(e @ e) / nt
        loglik = -nt / 2 * (np.log(2 * np.pi * s2) + 1) + t_eff * ld_eff(rho)
        param = "lambda" if model == "sem" else "rho"
        est = np.append(g, rho)
        info = cov = None
        kind = "none"
        if vcov is not None:
            tr = _traces(data.w, rho, lee_yu and time_fe, trace_method)
            info = information(model, tr, outer, g, zs, s2, n_eff, t_eff)
            bread = np.linalg.inv(info)
            if cluster is None and vcov == "iid":
                full, kind = bread, "iid"
            else:
                wv = wy - wz @ g if model == "sem" else wy
                kind = "hetero" if cluster is None else "cluster"
                full = _robust_cov(
                    bread, e.reshape(n, t), zs, wv, g, s2, tr, data.w, rho, outer, nt, t_eff,
                    clustered=cluster is not None,
                )
            cov = full[: est.size, : est.size]
    se = np.sqrt(np.diag(cov)) if cov is not None else np.full(est.size, np.nan)
    coefs = coef_table(names + [param], est, se, alpha=alpha)
    fe_cols = {"unit": (panel.unit,), "time": (panel.time,), "twoway": (panel.unit, panel.time)}[fe]
    fe_text = {"unit": panel.unit, "time": panel.time, "twoway": f"{panel.unit} and {panel.time}"}[
        fe
    ]
    corr = "Lee & Yu (2010) bias-corrected" if lee_yu else "direct (uncorrected)"
    if demeaning == "elhorst" and time_fe:
        corr += ", W applied to the demeaned data (Elhorst / splm convention)"
    notes = [
        f"{model.upper()} with {fe_text} fixed effects, {corr} ML; W: {data.w.kind}, "
        f"row-standardised; {VCOV_NOTES[kind].format(cluster=panel.unit)}"
        + (
            " Traces of W(I - rho W)^-1 estimated (power series and Hutchinson probes)."
            if kind != "none" and trace_method == "estimated"
            else ""
        )
    ] + notes
    return EstimationResult(
        coefs=coefs,
        depvar=y,
        model=model.upper(),
        n_obs=n * t,
        fixed_effects=fe_cols,
        vcov=kind,
        cluster=panel.unit if kind == "cluster" else None,
        n_clusters=n if kind == "cluster" else None,
        stats={"loglik": float(loglik), "sigma2": s2},
        notes=notes,
        meta={
            "log_likelihood": float(loglik),
            "sigma2": s2,
            "N": n,
            "T": t,
            "effects": fe,
            "lee_yu": lee_yu,
            "demeaning": demeaning,
            "w_kind": data.w.kind,
            "logdet": ld.method,
            "traces": trace_method,
            "bounds": ld.bounds,
            "n_params": est.size + 1,
            "information": info,
            "cov_full": full if vcov is not None else None,
            "alpha": alpha,
            "spatial": SpatialFit(model, data.w, ld, tuple(xs), tuple(durbin), param),
        },
        cov=cov,
    )


VCOV_NOTES = {
    "iid": "z-statistics from the inverse information matrix (i.i.d. errors).",
    "hetero": "z-statistics from the heteroskedasticity-robust sandwich of the ML scores.",
    "cluster": "z-statistics from the sandwich of the ML scores clustered by {cluster}.",
    "none": "no standard errors computed.",
}


def information(model, tr: Traces, fe, g, zs, s2, n_eff, t_eff) -> np.ndarray:
    """Information matrix of (coefficients, rho|lambda, sigma²); see the module docstring.

    ``zs`` are the (demeaned, for the SEM filtered) regressors stacked unit-major, ``g`` their
    coefficients, ``tr`` the :class:`Traces` at the estimate; ``fe`` the demeaning applied to
    ``W~ Z g`` (``"none"`` for none).
    """
    p = g.size
    info = np.zeros((p + 2, p + 2))
    info[:p, :p] = zs.T @ zs / s2
    info[p, p] = t_eff * (tr.tr2 + tr.frob)
    info[p, p + 1] = info[p + 1, p] = t_eff * tr.tr1 / s2
    info[p + 1, p + 1] = n_eff * t_eff / (2 * s2**2)
    if model != "sem":
        n = tr.diag.size
        wzg = demean(tr.apply((zs @ g).reshape(n, -1)), fe).ravel()
        info[:p, p] = info[p, :p] = zs.T @ wzg / s2
        info[p, p] += wzg @ wzg / s2
    return info

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

**Variance.** The inverse of the information matrix (Elhorst 2014, ch. 3; Lee & Yu
2010 for the transformed model), with ``W~ = W (I - rho W)^-1``:
``[Z'Z/s², Z'(W~Z g)/s², 0; ., T* tr(W~W~ + W~'W~) + |W~Z g|²/s², T* tr W~/s²; ., ., N*T*/(2 s⁴)]``
for the lag models (``W~Zg`` demeaned) and the block-diagonal analogue for the SEM. The traces
come from sparse LU solves (no dense inverse; see :func:`_traces`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
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


def _traces(w: SpatialWeights, rho: float, time_fe_ly: bool):
    """``tr W~``, ``tr W~W~``, ``tr W~'W~`` for ``W~ = (I - rho W)^-1 W`` and a function applying W~.

    Exact, without a dense inverse: ``W~`` is formed a block of columns at a time from sparse
    LU solves (``2 N`` solves in all, memory ``N x`` :data:`_BLOCK`), so the variance scales like
    the log-determinant. With time effects under Lee & Yu the traces are those of
    ``F' W~ F``: the eigenvalue ``1 / (1 - rho)`` of the constant vector is removed and
    ``|J W~ J|² = |W~|² - c'c / N`` with ``c`` the column sums of ``W~``.
    """
    from scipy.sparse.linalg import splu

    n, m = w.n, w.matrix
    lu = splu(sparse.csc_array(sparse.eye_array(n) - rho * m))
    tr1 = tr2 = frob = 0.0
    colsum = np.empty(n)
    for start in range(0, n, _BLOCK):
        cols = np.arange(start, min(n, start + _BLOCK))
        b = lu.solve(m[:, cols].toarray())  # W~[:, cols]
        b2 = lu.solve(m @ b)  # W~ W~[:, cols]
        tr1 += b[cols, np.arange(cols.size)].sum()
        tr2 += b2[cols, np.arange(cols.size)].sum()
        frob += float(np.sum(b * b))
        colsum[cols] = b.sum(axis=0)
    if time_fe_ly:
        tr1 -= 1 / (1 - rho)
        tr2 -= 1 / (1 - rho) ** 2
        frob -= float(colsum @ colsum) / n

    def apply(v: np.ndarray) -> np.ndarray:
        return lu.solve(np.asarray(m @ v))

    return apply, float(tr1), float(tr2), frob


def spatial_panel(
    panel,
    y: str,
    x: Sequence[str] | str,
    w: SpatialWeights,
    *,
    model: str = "sdm",
    effects: str = "unit",
    lee_yu: bool = True,
    durbin: Sequence[str] | None = None,
    vcov: str | None = "asymptotic",
    logdet: str = "auto",
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
    durbin
        Regressors whose spatial lag ``W*x`` enters the SDM (default: all of ``x``).
    vcov
        ``"asymptotic"`` (inverse information matrix) or ``None`` (no standard errors, faster
        for very large N).
    logdet
        ``"auto"``, ``"eigen"`` or ``"lu"`` (see :mod:`.logdet`).
    allow_islands
        Keep units without neighbours (their spatial lag is zero).

    Returns
    -------
    EstimationResult
        Terms ``x``, ``W*x`` (SDM) and ``rho`` (SAR/SDM) or ``lambda`` (SEM); ``stats`` holds
        ``loglik`` and ``sigma2``; ``meta["spatial"]`` a :class:`SpatialFit` for
        :func:`~.effects.impacts`.
    """
    from scipy import stats

    model = model.lower()
    if model not in MODELS:
        raise EstimationError(f"model must be one of {MODELS}, not {model!r}")
    if effects not in EFFECTS:
        raise EstimationError(f"effects must be 'unit', 'time' or 'twoway', not {effects!r}")
    fe = EFFECTS[effects]
    if vcov not in ("asymptotic", None):
        raise EstimationError(f"vcov must be 'asymptotic' or None, not {vcov!r}")
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
    ld = LogDet(data.w.matrix, logdet)
    unit_fe, time_fe = fe in ("unit", "twoway"), fe in ("time", "twoway")
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
    if model == "sem":
        wz = demean(_lag(data.w, demean(z3, fe)), fe).reshape(n * t, -1)
        wy = demean(_lag(data.w, yd), fe).ravel()
    else:
        wy = demean(_lag(data.w, data.y), fe).ravel()
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
    info = (
        information(model, data.w, fe, rho, g, zs, s2, n_eff, t_eff, lee_yu and time_fe)
        if vcov
        else None
    )
    cov = np.linalg.inv(info)[: est.size, : est.size] if vcov else None
    se = np.sqrt(np.diag(cov)) if cov is not None else np.full(est.size, np.nan)
    zstat = est / se
    crit = stats.norm.ppf(0.975)
    coefs = pd.DataFrame(
        {
            "term": names + [param],
            "estimate": est,
            "std_error": se,
            "statistic": zstat,
            "p_value": 2 * stats.norm.sf(np.abs(zstat)),
            "ci_low": est - crit * se,
            "ci_high": est + crit * se,
        }
    )
    fe_cols = {"unit": (panel.unit,), "time": (panel.time,), "twoway": (panel.unit, panel.time)}[fe]
    fe_text = {"unit": panel.unit, "time": panel.time, "twoway": f"{panel.unit} and {panel.time}"}[
        fe
    ]
    corr = "Lee & Yu (2010) bias-corrected" if lee_yu else "direct (uncorrected)"
    notes = [
        f"{model.upper()} with {fe_text} fixed effects, {corr} ML; W: {data.w.kind}, "
        f"row-standardised; z-statistics from the asymptotic variance."
    ] + notes
    return EstimationResult(
        coefs=coefs,
        depvar=y,
        model=model.upper(),
        n_obs=n * t,
        fixed_effects=fe_cols,
        vcov="asymptotic" if vcov else "none",
        stats={"loglik": float(loglik), "sigma2": s2},
        notes=notes,
        meta={
            "log_likelihood": float(loglik),
            "sigma2": s2,
            "N": n,
            "T": t,
            "effects": fe,
            "lee_yu": lee_yu,
            "w_kind": data.w.kind,
            "logdet": ld.method,
            "bounds": ld.bounds,
            "n_params": est.size + 1,
            "information": info,
            "spatial": SpatialFit(model, data.w, ld, tuple(xs), tuple(durbin), param),
        },
        cov=cov,
    )


def information(model, w, fe, rho, g, zs, s2, n_eff, t_eff, time_ly) -> np.ndarray:
    """Information matrix of (coefficients, rho|lambda, sigma²); see the module docstring.

    ``zs`` are the (demeaned, for the SEM filtered) regressors stacked unit-major, ``g`` their
    coefficients; ``fe`` the demeaning applied to ``W~ Z g`` (``"none"`` for none).
    """
    apply_wt, tr1, tr2, trww = _traces(w, rho, time_ly)
    p = g.size
    info = np.zeros((p + 2, p + 2))
    info[:p, :p] = zs.T @ zs / s2
    info[p, p] = t_eff * (tr2 + trww)
    info[p, p + 1] = info[p + 1, p] = t_eff * tr1 / s2
    info[p + 1, p + 1] = n_eff * t_eff / (2 * s2**2)
    if model != "sem":
        wzg = demean(apply_wt((zs @ g).reshape(w.n, -1)), fe).ravel()
        info[:p, p] = info[p, :p] = zs.T @ wzg / s2
        info[p, p] += wzg @ wzg / s2
    return info

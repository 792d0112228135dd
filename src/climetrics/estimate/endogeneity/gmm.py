"""Dynamic panel GMM: Arellano–Bond difference GMM and Blundell–Bond system GMM.

The model is a dynamic panel regression with unit effects ``eta_i`` (and time effects)::

    y_it = a_1 y_i,t-1 + ... + a_p y_i,t-p + x_it' b + lambda_t + eta_i + u_it

OLS and the within estimator are inconsistent here for short panels (Nickell bias). First
differencing removes ``eta_i``; lagged levels of ``y`` dated ``t-2`` and earlier are then valid
instruments for the differenced equation (Arellano & Bond 1991). System GMM adds the equations
in levels, instrumented by lagged differences (Blundell & Bond 1998).

Conventions follow R ``plm::pgmm`` (Croissant & Millo), so that the estimates can be checked
against it to machine precision:

* Lags are by calendar period, as plm's ``lag`` and :meth:`Panel.lag`: a unit absent in a
  period has missing values there (the step is the greatest common divisor of the gaps between
  observed periods, e.g. two years for biennial data). With ``p`` the largest lag in the equation and
  ``a`` the smallest GMM lag, the first ``TL1 = max(p + 1, a)`` periods are lost to the
  differenced equation and ``TL1 - 1`` to the level equation.
* GMM-style instruments of a variable with lag limits ``(a, b)``: for the differenced equation
  of period ``t`` the levels dated ``t-b .. t-a``, one column per period and lag (or one per lag
  with ``collapse``, Roodman 2009); for the level equation of period ``t`` the difference dated
  ``t-a+1`` (for ``a = 2`` the usual ``Δy_{t-1}``), one column per period (one in all with
  ``collapse``). Missing instrument values are set to zero.
* Exogenous regressors and extra ``iv`` variables are standard instruments: differenced in the
  differenced equation and in levels in the level equation.
* Time effects (``fe=("unit", "time")``, the default): difference GMM includes the differenced dummies of the
  periods of the differenced equation, as regressors and as instruments; system GMM includes a
  constant and dummies of all level periods but the first, in levels, instrumenting the level
  equation (their differences enter the differenced equation as regressors).
* One-step weight ``(sum_i Z_i' H Z_i)^-1`` with ``H`` the covariance of the differenced errors
  under i.i.d. errors (``2`` on the diagonal, ``-1`` next to it) and, for system GMM, the
  matrix of plm's ``fsm = "full"``: ``[[H, D], [D', I]]`` with ``D`` the covariance between
  differenced and level errors. Two-step weight ``(sum_i Z_i' u_i u_i' Z_i)^-1`` from the
  one-step residuals (not centred).
* Robust standard errors: the one-step sandwich (clustered by unit) and, for two-step, the
  Windmeijer (2005) finite-sample correction.
* Hansen's J (plm calls it the "Sargan test") is ``g' W2 g`` with ``g = sum_i Z_i' u_i`` from
  the estimator's own residuals and ``W2`` the two-step weight matrix; after one-step
  estimation it is evaluated at the one-step estimates, as plm does.
* Sargan's statistic (not robust to heteroskedasticity, not weakened by many instruments) is
  the one-step criterion ``g1' (sum Z'HZ)^-1 g1 / s2`` with ``s2 = sum(Δû²) / (2 (n_d - K))``
  from the one-step residuals of the ``n_d`` differenced equations. plm has no such scaled
  statistic (its ``sargan(weights = "onestep")`` is ``N g' (sum Z'HZ)^-1 g``).
* Arellano–Bond tests AR(1), AR(2) of the differenced residuals, with the variance of
  Arellano & Bond (1991, eq. 8) using the reported (robust) covariance matrix. After one-step
  estimation these reproduce the published DPD / Stata values; after two-step estimation
  they use the two-step residuals throughout, as plm does, and may differ from two-step
  m-statistics published from DPD or xtabond2 (implementations differ in the variance).

Departures from plm, none of which affects the EmplUK reference models: all-zero instrument
columns (instruments never observed in an equation used) and time dummies without
observations or made collinear by periods absent from the whole panel are dropped (plm keeps
them and falls back to a generalised inverse); for predetermined regressors (``a = 1``) the
level-equation instrument is the current difference (plm always uses ``t-1``); the
non-robust one-step covariance includes the error variance ``s2``.

References
----------
Arellano, M. and Bond, S. (1991). Some tests of specification for panel data: Monte Carlo
evidence and an application to employment equations. *Review of Economic Studies* 58(2),
277–297.

Blundell, R. and Bond, S. (1998). Initial conditions and moment restrictions in dynamic panel
data models. *Journal of Econometrics* 87(1), 115–143.

Windmeijer, F. (2005). A finite sample correction for the variance of linear efficient
two-step GMM estimators. *Journal of Econometrics* 126(1), 25–51.

Roodman, D. (2009). A note on the theme of too many instruments. *Oxford Bulletin of Economics
and Statistics* 71(1), 135–158; and How to do xtabond2: an introduction to difference and
system GMM in Stata. *Stata Journal* 9(1), 86–136.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from ...core.covariance import coef_table
from ...errors import EstimationError, PanelError
from ...panel import Panel
from .gmm_design import LagLimits, _build, _Design, _term_name
from .gmm_results import GMMResult, gmm_table

__all__ = ["GMMResult", "dynamic_gmm", "gmm_table"]

_METHODS = ("difference", "system")
LagSpec = int | Sequence[int]


# ---------------------------------------------------------------------------- helpers
def _lag_list(spec: Any, what: str) -> list[int]:
    if isinstance(spec, (int, np.integer)):
        out = [int(spec)]
    else:
        out = [int(k) for k in spec]
    if not out or any(k < 0 for k in out):
        raise ValueError(f"{what}: lags must be non-negative integers, got {spec!r}")
    return sorted(set(out))


def _var_lags(spec: Any, what: str) -> dict[str, list[int]]:
    """Normalise ``"x"``, ``["x", "z"]`` or ``{"x": [0, 1]}`` to ``{name: [lags]}``."""
    if spec is None:
        return {}
    if isinstance(spec, str):
        return {spec: [0]}
    if isinstance(spec, Mapping):
        return {str(k): _lag_list(v, f"{what}['{k}']") for k, v in spec.items()}
    out: dict[str, list[int]] = {}
    for v in spec:
        if not isinstance(v, str):
            raise ValueError(f"{what}: expected column names, got {v!r}")
        out[v] = [0]
    return out


def _limits(v: Any, name: str) -> LagLimits:
    try:
        a, b = v
    except (TypeError, ValueError):
        raise ValueError(f"gmm_lags for '{name}' must be a pair (min_lag, max_lag or None), got {v!r}") from None
    a = int(a)
    b = None if b is None else int(b)
    if a < 1:
        raise ValueError(f"gmm_lags for '{name}': the smallest lag must be at least 1, got {a}")
    if b is not None and b < a:
        raise ValueError(f"gmm_lags for '{name}': max lag {b} is smaller than min lag {a}")
    return a, b


def _scaled_eigen_ratio(m: np.ndarray) -> float:
    """Smallest over largest eigenvalue of ``m`` after scaling it to unit diagonal, so that the
    singularity check does not depend on the units of the variables."""
    dg = np.sqrt(np.clip(np.diag(m), 0, None))
    dg = np.where(dg > 0, dg, 1.0)
    ev = np.linalg.eigvalsh(m / np.outer(dg, dg))
    return float(ev[0] / ev[-1]) if ev[-1] > 0 else 0.0


def _safe_inv(m: np.ndarray) -> tuple[np.ndarray, bool]:
    """Inverse of a symmetric positive semi-definite matrix; Moore–Penrose inverse if singular."""
    sym = (m + m.T) / 2
    if _scaled_eigen_ratio(sym) <= 1e-13:
        return np.linalg.pinv(sym, rcond=1e-12, hermitian=True), True
    return np.linalg.inv(m), False


# ---------------------------------------------------------------------------- estimation
@dataclass
class _Fit:
    beta: np.ndarray
    resid: np.ndarray  # (N, R)
    bread: np.ndarray  # (X'Z W Z'X)^-1
    weight: np.ndarray  # W


def _gmm_fit(XZ: np.ndarray, Zy: np.ndarray, W: np.ndarray, d: _Design) -> _Fit:
    m = XZ @ W @ XZ.T
    bread = None
    if _scaled_eigen_ratio((m + m.T) / 2) > 1e-14:
        bread = np.linalg.inv(m)
    if bread is None or not np.all(np.isfinite(bread)):
        raise EstimationError(
            "the GMM normal equations are singular: the regressors are collinear, or the "
            f"instruments ({XZ.shape[1]}) do not identify the {XZ.shape[0]} coefficients"
        )
    beta = bread @ (XZ @ W @ Zy)
    resid = d.y - np.einsum("nrk,k->nr", d.X, beta)
    return _Fit(beta, resid, bread, W)


def _ar_test(d: _Design, fit: _Fit, V: np.ndarray, XZ: np.ndarray, order: int) -> tuple[float, float]:
    """Arellano & Bond (1991) m-statistic of order ``order`` on the differenced residuals."""
    r1 = d.n_diff
    if order >= r1:
        return float("nan"), float("nan")
    e = fit.resid[:, :r1]
    el = np.zeros_like(e)
    el[:, order:] = e[:, :-order]
    Xd = d.X[:, :r1, :]
    Zd = d.Z[:, :r1, :]
    s = np.einsum("nr,nr->n", e, el)  # e_i' e_{l,i}
    num = s.sum()
    eve = np.sum(s**2)
    ex = np.einsum("nr,nrk->k", el, Xd)
    zve = np.einsum("nrl,nr,n->l", Zd, e, s)
    denom = eve - 2 * ex @ fit.bread @ XZ @ fit.weight @ zve + ex @ V @ ex
    if not denom > 0:
        return float("nan"), float("nan")
    z = float(num / np.sqrt(denom))
    return z, float(2 * stats.norm.sf(abs(z)))


def _chi2_sf(stat: float, df: int) -> float:
    return float(stats.chi2.sf(stat, df)) if df > 0 and np.isfinite(stat) else float("nan")


def _wald(beta: np.ndarray, V: np.ndarray, idx: Sequence[int]) -> tuple[float, int, float]:
    if not idx:
        return float("nan"), 0, float("nan")
    b = beta[list(idx)]
    v = V[np.ix_(idx, idx)]
    w = float(b @ np.linalg.solve(v, b))
    return w, len(idx), float(stats.chi2.sf(w, len(idx)))


def dynamic_gmm(
    panel: Panel,
    y: str,
    treat: str | Sequence[str] | Mapping[str, LagSpec] | None = None,
    controls: str | Sequence[str] | Mapping[str, LagSpec] = (),
    *,
    fe: str | Sequence[str] = ("unit", "time"),
    cluster: str | None = "unit",
    alpha: float = 0.05,
    lags: LagSpec = 1,
    method: str = "system",
    steps: int = 2,
    gmm_lags: LagLimits | Mapping[str, LagLimits] = (2, None),
    iv: str | Sequence[str] | Mapping[str, LagSpec] = (),
    collapse: bool = True,
) -> GMMResult:
    """Arellano–Bond difference GMM or Blundell–Bond system GMM for a dynamic panel model.

    Parameters
    ----------
    panel
        The data. Lags are by calendar period (a period absent for a unit gives missing
        values), in steps of the greatest common divisor of the gaps between observed periods
        (so biennial data lag by two years).
    y
        Outcome; its lags are the dynamic regressors ``L.y``, ``L2.y``, ...
    treat, controls
        The regressor(s) of interest and further regressors: column names (entering at lag 0)
        or a mapping ``{name: lags}``, e.g. ``{"w": [0, 1], "k": 0}`` for ``w``, ``L.w`` and
        ``k``; ``treat`` comes first in the table and is what :meth:`GMMResult.reading` reads.
        Regressors not listed in ``gmm_lags`` are strictly exogenous and serve as their own
        standard instruments.
    fe
        ``("unit", "time")`` (default): unit effects (removed by differencing) and time dummies
        (two-way model); ``"unit"``: unit effects only. Unit effects are always removed.
    cluster
        ``"unit"`` (default): cluster-robust standard errors by unit (one-step) or Windmeijer
        (2005) corrected (two-step). ``None``: no clustering, the conventional ones (one-step:
        ``s2 (X'Z W Z'X)^-1`` with ``s2`` as in the Sargan statistic; two-step:
        ``(X'Z W2 Z'X)^-1``).
    alpha
        Level of the confidence intervals (the specification tests are read at 10%, see
        :attr:`GMMResult.tests`).
    lags
        Lags of ``y`` on the right-hand side: ``p`` for lags ``1..p`` or an explicit list.
    method
        ``"system"`` (Blundell & Bond 1998; default) or ``"difference"`` (Arellano & Bond 1991).
    steps
        ``1`` (one-step) or ``2`` (two-step efficient GMM).
    gmm_lags
        Lag limits ``(a, b)`` of the GMM-style instruments of ``y`` (``b=None``: all available
        lags; default ``(2, None)``). A mapping ``{name: (a, b)}`` sets limits per variable;
        regressors named in it are treated as endogenous (``a=2``) or predetermined (``a=1``)
        and instrumented GMM-style instead of by themselves. ``y`` defaults to ``(2, None)``.
    iv
        Additional standard instruments (names or ``{name: lags}``), differenced in the
        differenced equation and in levels in the level equation.
    collapse
        Collapse the GMM-style instruments to one column per lag (Roodman 2009; default), which
        keeps the instrument count linear rather than quadratic in the number of periods.
        System GMM always has a constant.

    Returns
    -------
    GMMResult
        Coefficients with z-statistics (time dummies included; ``.table()`` hides them) and
        ``tests`` (:class:`~climetrics.core.results.TestSet`: AR(1), AR(2), Sargan, Hansen) and
        ``stats``: ``hansen``, ``hansen_df``, ``hansen_p``, ``sargan``, ``sargan_df``,
        ``sargan_p``, ``ar1``, ``ar1_p``, ``ar2``, ``ar2_p``, ``wald``, ``wald_df``, ``wald_p``
        (regressors other than time effects), ``n_instruments``, ``n_groups``, ``n_obs_diff``
        and, for system GMM, ``n_obs_level``. ``n_obs`` counts the differenced equations
        (difference GMM) or the level equations (system GMM), as xtabond2 reports.

    Raises
    ------
    EstimationError
        Too few periods for the lags, no usable observations, an under-identified model, or a
        singular one-step weight matrix (linearly dependent instruments) while instruments do
        not outnumber groups. When they do (instrument proliferation), generalised inverses
        are used as in plm and xtabond2, and a note warns.

    Notes
    -----
    The implementation follows R ``plm::pgmm`` (see the module docstring for its conventions);
    when instruments outnumber groups a note warns of instrument proliferation (Roodman 2009),
    and a singular two-step weight matrix is replaced by its generalised inverse. Hansen and
    Sargan degrees of freedom are instruments minus coefficients, as in plm, even when a
    generalised inverse was needed.

    References
    ----------
    Arellano & Bond (1991); Blundell & Bond (1998); Windmeijer (2005); Roodman (2009).
    """
    if method not in _METHODS:
        raise ValueError(f"method must be 'difference' or 'system', got {method!r}")
    if steps not in (1, 2):
        raise ValueError(f"steps must be 1 or 2, got {steps!r}")
    y_lags = _lag_list(range(1, int(lags) + 1) if isinstance(lags, (int, np.integer)) else lags, "lags")
    if not y_lags or min(y_lags) < 1:
        raise ValueError(f"lags of '{y}' must be at least 1 for a dynamic model, got {lags!r}")
    treat_l = _var_lags(treat, "treat")
    ctrl_l = _var_lags(controls, "controls")
    both = sorted(set(treat_l) & set(ctrl_l))
    if both:
        raise PanelError(f"variable(s) {both} appear both in treat and in controls")
    x_l = {**treat_l, **ctrl_l}
    iv_l = _var_lags(iv, "iv")
    if y in x_l:
        raise PanelError(f"outcome '{y}' also appears among the regressors; its lags are set with lags=")
    fe_l = [panel.unit if f == "unit" else panel.time if f == "time" else f
            for f in ([fe] if isinstance(fe, str) else list(fe))]
    if panel.unit not in fe_l or not set(fe_l) <= {panel.unit, panel.time}:
        raise ValueError(f"fe must be 'unit' or ('unit', 'time'): dynamic GMM always removes the unit "
                         f"effects by differencing and can add time dummies; got {fe!r}")
    time_effects = panel.time in fe_l
    if cluster not in (None, "unit", panel.unit):
        raise ValueError(f"cluster must be 'unit' (robust, by {panel.unit}) or None (conventional "
                         f"standard errors); dynamic GMM does not cluster on '{cluster}'")
    robust = cluster is not None
    if isinstance(gmm_lags, Mapping):
        gmm = {str(k): _limits(v, str(k)) for k, v in gmm_lags.items()}
        gmm = {y: gmm.pop(y, (2, None)), **gmm}
    else:
        gmm = {y: _limits(gmm_lags, y)}
    unknown = [v for v in gmm if v != y and v not in x_l]
    if unknown:
        raise PanelError(f"gmm_lags names {unknown}, which are not regressors (treat or controls); "
                         "GMM-style instruments are for y and endogenous or predetermined regressors")
    if gmm[y][0] < 2:
        raise ValueError(
            f"GMM instruments of '{y}' must start at lag 2 or later: y_(t-1) is correlated with "
            f"the differenced error, got gmm_lags {gmm[y]}"
        )
    exog = {v: ks for v, ks in x_l.items() if v not in gmm}
    std = dict(exog)
    for v, ks in iv_l.items():
        std[v] = sorted(set(std.get(v, [])) | set(ks))

    system = method == "system"
    d, info = _build(panel, y, y_lags, x_l, gmm, std, system, collapse, time_effects)
    n_units, _, L = d.Z.shape
    K = d.X.shape[2]
    notes: list[str] = []
    groups = d.valid.any(axis=1)
    n_groups = int(groups.sum())
    n_diff = int(d.valid[:, : d.n_diff].sum())
    n_level = int(d.valid[:, d.n_diff:].sum())
    if L < K:
        raise EstimationError(
            f"under-identified: {L} instruments for {K} coefficients; widen gmm_lags or add iv"
        )

    # cross-products, summed over units
    Zf = d.Z.reshape(-1, L)
    XZ = d.X.reshape(-1, K).T @ Zf  # (K, L)
    Zy = Zf.T @ d.y.reshape(-1)
    HZ = np.einsum("rs,nsl->nrl", d.H, d.Z).reshape(-1, L)
    ZHZ = Zf.T @ HZ
    W1, singular = _safe_inv(ZHZ)
    if singular and L <= n_groups:
        raise EstimationError(
            f"the one-step weight matrix (sum of Z'HZ over units, {L} instruments) is singular: "
            "some instruments are linear combinations of others in the sample (e.g. an iv variable "
            "duplicating a regressor, or lags observed for very few units); remove the redundant "
            "instruments, shorten gmm_lags or use collapse=True"
        )
    if singular:
        notes.append(
            "The one-step weight matrix is singular (more instruments than the data can "
            "separate); a generalised inverse was used, as plm and xtabond2 do."
        )
    one = _gmm_fit(XZ, Zy, W1, d)
    g1 = np.einsum("nrl,nr->nl", d.Z, one.resid)  # per-unit moments at the one-step estimate
    S = g1.T @ g1
    W2, s_singular = _safe_inv(S)
    if L > n_groups:
        notes.insert(0,
            f"Instrument proliferation: {L} instruments for {n_groups} groups; the two-step "
            "weight matrix is singular and the Hansen test is weak (Roodman 2009). Consider "
            "collapse=True or shorter gmm_lags."
        )
    elif s_singular:
        notes.append("The two-step weight matrix is singular; a generalised inverse was used.")
    V1r = one.bread @ (XZ @ W1 @ S @ W1 @ XZ.T) @ one.bread
    ed = one.resid[:, : d.n_diff]
    sigma2 = float(np.sum(ed**2) / (2 * max(n_diff - K, 1)))
    if steps == 1:
        fit = one
        V = V1r if robust else sigma2 * one.bread
        vcov_name = "robust" if robust else "iid"
    else:
        fit = _gmm_fit(XZ, Zy, W2, d)
        if robust:
            g2 = np.einsum("nrl,nr->nl", d.Z, fit.resid).sum(axis=0)
            ZX_i = np.einsum("nrl,nrk->nlk", d.Z, d.X)
            P = fit.bread @ XZ @ W2  # (K, L)
            q = W2 @ g2
            Pa = np.einsum("jl,nlk->njk", P, ZX_i)
            D = np.einsum("njk,n->jk", Pa, g1 @ q) + (g1 @ P.T).T @ np.einsum("nlk,l->nk", ZX_i, q)
            B2 = fit.bread
            V = B2 + D @ B2 + (D @ B2).T + D @ V1r @ D.T
            vcov_name = "Windmeijer"
        else:
            V = fit.bread
            vcov_name = "iid"
    V = (V + V.T) / 2
    se = np.sqrt(np.clip(np.diag(V), 0, None))

    g = np.einsum("nrl,nr->l", d.Z, fit.resid)
    hansen = float(g @ W2 @ g)
    df_over = L - K
    sargan_q = float(g1.sum(axis=0) @ W1 @ g1.sum(axis=0))
    sargan = sargan_q / sigma2 if sigma2 > 0 else float("nan")
    ar1, ar1_p = _ar_test(d, fit, V, XZ, 1)
    ar2, ar2_p = _ar_test(d, fit, V, XZ, 2)
    if d.n_diff <= 2:
        notes.append(f"AR(2) test not available: only {d.n_diff} differenced periods.")
    main_idx = [i for i, nm in enumerate(d.names) if nm not in d.time_terms]
    time_idx = [i for i, nm in enumerate(d.names) if nm in d.time_terms and nm != "_cons"]
    wald, wald_df, wald_p = _wald(fit.beta, V, main_idx)
    wald_t, wald_t_df, wald_t_p = _wald(fit.beta, V, time_idx)
    st: dict[str, float] = {
        "hansen": hansen, "hansen_df": df_over, "hansen_p": _chi2_sf(hansen, df_over),
        "sargan": sargan, "sargan_df": df_over, "sargan_p": _chi2_sf(sargan, df_over),
        "ar1": ar1, "ar1_p": ar1_p, "ar2": ar2, "ar2_p": ar2_p,
        "wald": wald, "wald_df": wald_df, "wald_p": wald_p,
        "n_instruments": L, "n_groups": n_groups, "n_obs_diff": n_diff,
    }
    if time_idx:
        st.update({"wald_time": wald_t, "wald_time_df": wald_t_df, "wald_time_p": wald_t_p})
    if system:
        st["n_obs_level"] = n_level
    if d.dropped_instruments:
        notes.append(f"{d.dropped_instruments} instrument columns without observations dropped.")
    if d.dropped_terms:
        notes.append(
            f"Time effects without observations or collinear in the sample dropped: {', '.join(d.dropped_terms)}."
        )
    if info["absent_periods"].size:
        notes.append(
            f"Periods absent from the whole panel: {', '.join(map(str, info['absent_periods']))}; "
            "lags are by calendar period, so lags across them are missing."
        )
    if info["step"] > 1:
        notes.append(f"Periods are {info['step']} time units apart; one lag is one such step.")
    kind = "Difference" if not system else "System"
    meta = {
        "method": method,
        "steps": steps,
        "collapse": collapse,
        "time_effects": time_effects,
        "lags": y_lags,
        "treat": [_term_name(v, k) for v, ks in treat_l.items() for k in ks],
        "controls": list(ctrl_l),
        "x": x_l,
        "gmm_lags": gmm,
        "iv": std,
        "instruments": d.inst_names,
        "time_terms": d.time_terms,
        "first_diff_period": info["first_diff_period"],
        "sigma2": sigma2,
        "sargan_quadratic_form": sargan_q,
        "coef_onestep": dict(zip(d.names, one.beta, strict=True)),
        "df_t": None,
    }
    return GMMResult(
        coefs=coef_table(d.names, fit.beta, se, alpha=alpha),
        depvar=y,
        model=f"{kind} GMM ({'one' if steps == 1 else 'two'}-step)",
        n_obs=n_level if system else n_diff,
        fixed_effects=(),
        vcov=vcov_name,
        cluster=panel.unit if robust else None,
        n_clusters=n_groups if robust else None,
        stats=st,
        notes=notes,
        meta=meta,
        cov=V,
    )

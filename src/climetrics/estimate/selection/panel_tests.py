"""Panel model selection: pooled OLS, fixed effects or random effects?

The three classic tests that precede a baseline panel regression (seed 001, Table 3 area):

* :func:`f_test_individual_effects` — F test of pooled OLS against fixed effects (are the unit
  intercepts jointly zero?), as ``plm::pFtest``.
* :func:`breusch_pagan_lm` — Breusch & Pagan (1980) Lagrange multiplier test of pooled OLS
  against random effects (is the variance of the unit effect zero?), with Honda's (1985)
  one-sided version, as ``plm::plmtest``.
* :func:`hausman` — Hausman (1978) test of random against fixed effects (are the unit effects
  uncorrelated with the regressors?), as ``plm::phtest``; ``robust=True`` gives the
  regression-based version with a cluster-robust Wald test (Wooldridge 2010, sec. 10.7.3).

:func:`random_effects` is the Swamy & Arora (1972) feasible GLS estimator that the Hausman test
needs (plm's default random-effects model; Baltagi & Chang 1994 for unbalanced panels), and
:func:`model_selection_tests` runs all three tests and renders them as one table.

Each test returns a :class:`climetrics.core.results.TestResult` (statistic, degrees of freedom,
p-value and a plain-language verdict), :func:`model_selection_tests` a
:class:`~climetrics.core.results.TestSet`; rows with a missing outcome or regressor are dropped
first. The regressors are ``treat`` (the variable of interest) followed by ``controls``; the
tests treat them alike.

References
----------
Breusch, T. S. and Pagan, A. R. (1980). The Lagrange multiplier test and its applications to
model specification in econometrics. *Review of Economic Studies* 47(1), 239–253.

Hausman, J. A. (1978). Specification tests in econometrics. *Econometrica* 46(6), 1251–1271.

Swamy, P. A. V. B. and Arora, S. S. (1972). The exact finite sample properties of the
estimators of coefficients in the error components regression models. *Econometrica* 40(2),
261–275.

Baltagi, B. H. and Chang, Y.-J. (1994). Incomplete panels: a comparative study of alternative
estimators for the unbalanced one-way error component regression model. *Journal of
Econometrics* 62(2), 67–89.

Honda, Y. (1985). Testing the error components model with non-normal disturbances. *Review of
Economic Studies* 52(4), 681–690.

Wooldridge, J. M. (2010). *Econometric Analysis of Cross Section and Panel Data*, 2nd ed.
MIT Press.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ...core.covariance import coef_table
from ...core.demean import FixedEffects
from ...core.results import EstimationResult, TestResult, TestSet
from ...errors import EstimationError, PanelError
from ...panel import Panel
from ..baseline.twfe import _as_list

__all__ = [
    "breusch_pagan_lm",
    "f_test_individual_effects",
    "hausman",
    "model_selection_tests",
    "random_effects",
]

_EFFECTS = ("individual", "time", "twoways")


# ---------------------------------------------------------------------------- data
@dataclass
class _Data:
    y: np.ndarray
    X: np.ndarray  # regressors without constant
    names: list[str]
    unit: np.ndarray  # compact codes
    time: np.ndarray
    n_units: int
    n_periods: int
    notes: list[str]
    cluster: np.ndarray | None = None  # compact cluster codes (None: no clustering)


def _prepare(panel: Panel, y: str, treat: str | Sequence[str], controls: str | Sequence[str],
             context: str, cluster: str | None = None) -> _Data:
    xs = list(dict.fromkeys([*_as_list(treat), *_as_list(controls)]))
    if not xs:
        raise EstimationError(f"{context} needs at least one regressor")
    if y in xs:
        raise PanelError(f"outcome '{y}' also appears among the regressors")
    panel.require([y, *xs], context=context)
    clus_col = panel.unit if cluster == "unit" else cluster
    if clus_col is not None:
        panel.require([clus_col], numeric=False, context=context)
    df = panel.df
    data = df[[y, *xs]].apply(pd.to_numeric).astype(float)
    ok = data.notna().all(axis=1).to_numpy().copy()
    if clus_col is not None:
        ok &= df[clus_col].notna().to_numpy()
    notes = []
    if not ok.all():
        notes.append(f"{int((~ok).sum())} observations with missing values dropped.")
    if ok.sum() == 0:
        raise EstimationError(f"{context}: no complete observations")
    unit = pd.factorize(df.loc[ok, panel.unit], sort=True)[0]
    time = pd.factorize(df.loc[ok, panel.time], sort=True)[0]
    clus = None if clus_col is None else pd.factorize(df.loc[ok, clus_col], sort=True)[0]
    return _Data(
        y=data.loc[ok, y].to_numpy(), X=data.loc[ok, xs].to_numpy(), names=xs, unit=unit, time=time,
        n_units=int(unit.max()) + 1, n_periods=int(time.max()) + 1, notes=notes, cluster=clus,
    )


def _ols(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    return beta, y - X @ beta


def _group_mean(v: np.ndarray, codes: np.ndarray, n: int) -> np.ndarray:
    """Group means of every column, repeated on each row."""
    v2 = v.reshape(len(codes), -1)
    cnt = np.bincount(codes, minlength=n).astype(float)
    sums = np.zeros((n, v2.shape[1]))
    np.add.at(sums, codes, v2)
    return (sums / cnt[:, None])[codes].reshape(v.shape)


@dataclass
class _Within:
    beta: np.ndarray
    vcov: np.ndarray
    ssr: float
    df_resid: int
    names: list[str]
    Xw: np.ndarray  # demeaned regressors that were kept


def _within(d: _Data, effect: str = "individual") -> _Within:
    codes = {"individual": [d.unit], "time": [d.time], "twoways": [d.unit, d.time]}[effect]
    fx = FixedEffects(codes)
    Xw = fx.demean(d.X)
    yw = fx.demean(d.y)
    scale = np.maximum(np.abs(d.X).max(axis=0), 1e-300)
    keep = np.abs(Xw).max(axis=0) > 1e-10 * scale
    if not keep.any():
        raise EstimationError(
            f"every regressor is constant within {'units' if effect != 'time' else 'periods'}; "
            "the fixed-effects model has no slope to estimate"
        )
    Xw = Xw[:, keep]
    beta, e = _ols(Xw, yw)
    n_fe = {"individual": d.n_units, "time": d.n_periods, "twoways": d.n_units + d.n_periods - 1}[effect]
    df_resid = len(d.y) - n_fe - Xw.shape[1]
    if df_resid <= 0:
        raise EstimationError(f"no residual degrees of freedom for the fixed-effects model (N={len(d.y)})")
    ssr = float(e @ e)
    vcov = ssr / df_resid * np.linalg.inv(Xw.T @ Xw)
    names = [nm for nm, k in zip(d.names, keep, strict=True) if k]
    return _Within(beta, vcov, ssr, df_resid, names, Xw)


# ---------------------------------------------------------------------------- random effects
@dataclass
class _RE:
    beta: np.ndarray  # constant first
    vcov: np.ndarray
    theta: np.ndarray  # per observation
    sigma2_idios: float
    sigma2_id: float
    ssr: float
    df_resid: int
    Xs: np.ndarray  # quasi-demeaned design (constant column first)
    ys: np.ndarray


def _swamy_arora(d: _Data) -> _RE:
    n, k = d.X.shape
    N = d.n_units
    if N <= k + 1:
        raise EstimationError(
            f"random effects (Swamy-Arora) needs more units than regressors + 1: {N} units, {k} regressors"
        )
    wi = _within(d)
    Z = np.column_stack([np.ones(n), d.X])
    Zb = _group_mean(Z, d.unit, N)  # unit means repeated on each row
    yb = _group_mean(d.y, d.unit, N)
    _, eb = _ols(Zb, yb)
    quad_id = float(eb @ eb)  # sum_i T_i * (between residual_i)^2
    t_i = np.bincount(d.unit, minlength=N).astype(float)
    Zs = Zb * t_i[d.unit][:, None]  # unit sums repeated
    m_w_nu = n - N - wi.Xw.shape[1]
    m_id_nu = N - k - 1
    zbz = Zb.T @ Zb
    if np.linalg.matrix_rank(zbz) < zbz.shape[0]:
        raise EstimationError(
            "the regressors are collinear in the between (unit-means) regression, so the "
            "random-effects variance components cannot be estimated"
        )
    m_id_eta = n - np.trace(np.linalg.solve(zbz, Zs.T @ Z))
    s2_nu = wi.ssr / m_w_nu
    s2_eta = max((quad_id - m_id_nu * s2_nu) / m_id_eta, 0.0)
    theta = 1 - np.sqrt(s2_nu / (t_i * s2_eta + s2_nu))
    th = theta[d.unit]
    Xs = Z - th[:, None] * Zb
    ys = d.y - th * yb
    beta, e = _ols(Xs, ys)
    ssr = float(e @ e)
    df_resid = n - k - 1
    vcov = ssr / df_resid * np.linalg.inv(Xs.T @ Xs)
    return _RE(beta, vcov, th, float(s2_nu), float(s2_eta), ssr, df_resid, Xs, ys)


def random_effects(panel: Panel, y: str, treat: str | Sequence[str],
                   controls: str | Sequence[str] = (), *, alpha: float = 0.05) -> EstimationResult:
    """Random-effects (Swamy & Arora 1972) feasible GLS estimator.

    The variance components come from the within regression (idiosyncratic variance,
    ``SSR_within / (n - N - K)``) and the between regression on unit means weighted by the
    number of periods of each unit (Baltagi & Chang 1994 degrees-of-freedom corrections for
    unbalanced panels); a negative unit variance is set to zero. The model is then OLS on the
    quasi-demeaned data ``y_it - theta_i * ybar_i`` with
    ``theta_i = 1 - sqrt(s2_nu / (T_i s2_eta + s2_nu))``. This equals ``plm(model = "random")``.

    Parameters
    ----------
    panel
        The data.
    y, treat, controls
        Outcome and regressors (a constant is added).
    alpha
        Level of the confidence intervals.

    Returns
    -------
    EstimationResult
        Terms ``_cons`` and ``x``; conventional standard errors ``s² (X*'X*)^-1`` with
        ``s² = SSR* / (n - K - 1)`` and t(n - K - 1) inference. ``stats``: ``sigma2_idios``,
        ``sigma2_id``, ``theta`` (its mean when the panel is unbalanced), ``rho`` (share of
        the unit effect in the error variance).

    References
    ----------
    Swamy & Arora (1972); Baltagi & Chang (1994).
    """
    d = _prepare(panel, y, treat, controls, "random_effects")
    re = _swamy_arora(d)
    names = ["_cons", *d.names]
    se = np.sqrt(np.diag(re.vcov))
    total = re.sigma2_id + re.sigma2_idios
    return EstimationResult(
        coefs=coef_table(names, re.beta, se, df=re.df_resid, alpha=alpha),
        depvar=y,
        model="RE",
        n_obs=len(d.y),
        vcov="iid",
        stats={
            "sigma2_idios": re.sigma2_idios,
            "sigma2_id": re.sigma2_id,
            "theta": float(np.mean(re.theta)),
            "rho": re.sigma2_id / total if total > 0 else float("nan"),
        },
        notes=list(d.notes),
        meta={"df_t": re.df_resid, "method": "Swamy-Arora", "n_units": d.n_units,
              "theta_range": (float(re.theta.min()), float(re.theta.max()))},
        cov=re.vcov,
    )


# ---------------------------------------------------------------------------- tests
def f_test_individual_effects(
    panel: Panel,
    y: str,
    treat: str | Sequence[str],
    controls: str | Sequence[str] = (),
    *,
    effect: str = "individual",
    alpha: float = 0.05,
) -> TestResult:
    """F test of pooled OLS against fixed effects (``plm::pFtest``).

    ``F = ((SSR_pooled - SSR_FE) / df1) / (SSR_FE / df2)`` with ``df1`` the difference of the
    residual degrees of freedom (``N - 1`` for unit effects) and ``df2`` those of the
    fixed-effects model. ``effect`` selects unit (``"individual"``), period (``"time"``) or
    both (``"twoways"``) fixed effects; pooled OLS has a constant only.

    Returns
    -------
    TestResult
        F(df1, df2); ``reject`` means the fixed effects are jointly significant: use fixed
        effects rather than pooled OLS.
    """
    if effect not in _EFFECTS:
        raise ValueError(f"effect must be one of {_EFFECTS}, got {effect!r}")
    d = _prepare(panel, y, treat, controls, "f_test_individual_effects")
    n, k = d.X.shape
    _, ep = _ols(np.column_stack([np.ones(n), d.X]), d.y)
    ssr_p = float(ep @ ep)
    df_p = n - k - 1
    wi = _within(d, effect)
    df1 = df_p - wi.df_resid
    df2 = wi.df_resid
    if df1 <= 0:
        raise EstimationError("the F test needs at least two units (periods) to compare")
    f = (ssr_p - wi.ssr) / wi.ssr * df2 / df1
    p = float(stats.f.sf(f, df1, df2))
    what = {"individual": "individual", "time": "time", "twoways": "individual and time"}[effect]
    if p < alpha:
        model = "two-way fixed effects" if effect == "twoways" else "fixed effects"
        verdict = f"{what.capitalize()} effects are significant: use {model} rather than pooled OLS."
    else:
        verdict = f"No significant {what} effects: pooled OLS is adequate."
    return TestResult(
        name=f"F test for {what} effects", statistic=float(f), p_value=p, df=float(df1),
        df_denom=float(df2), distribution="F", null=f"all {what} effects are zero (pooled OLS)",
        alpha=alpha, verdict=verdict,
        details={"ssr_pooled": ssr_p, "ssr_within": wi.ssr, "df_pooled": df_p, "df_within": wi.df_resid},
        notes=list(d.notes),
    )


def breusch_pagan_lm(
    panel: Panel,
    y: str,
    treat: str | Sequence[str],
    controls: str | Sequence[str] = (),
    *,
    effect: str = "individual",
    type: str = "bp",  # noqa: A002 - plm's argument name
    alpha: float = 0.05,
) -> TestResult:
    """Lagrange multiplier test for random effects (``plm::plmtest``).

    With ``e`` the pooled OLS residuals, ``A = sum_i (sum_t e_it)^2 / e'e - 1`` and
    ``LM1 = n A / sqrt(2 (sum_i T_i^2 - n))`` (Breusch & Pagan 1980; unbalanced form as plm);
    ``type="bp"`` reports ``LM1²`` ~ chi²(1) and ``type="honda"`` the one-sided ``LM1`` ~ N(0, 1)
    (Honda 1985). ``effect="time"`` uses period sums, ``"twoways"`` combines both
    (``LM1² + LM2²`` ~ chi²(2), or ``(LM1 + LM2) / sqrt 2``).

    Returns
    -------
    TestResult
        ``reject`` means the effect variance is positive: random effects are preferred to
        pooled OLS.
    """
    if effect not in _EFFECTS:
        raise ValueError(f"effect must be one of {_EFFECTS}, got {effect!r}")
    if type not in ("bp", "honda"):
        raise ValueError(f"type must be 'bp' or 'honda', got {type!r}")
    d = _prepare(panel, y, treat, controls, "breusch_pagan_lm")
    n = len(d.y)
    _, e = _ols(np.column_stack([np.ones(n), d.X]), d.y)
    ee = float(e @ e)

    def lm(codes: np.ndarray, m: int) -> float:
        sums = np.bincount(codes, weights=e, minlength=m)
        cnt = np.bincount(codes, minlength=m).astype(float)
        denom = 2 * (np.sum(cnt**2) - n)
        if denom <= 0:
            raise EstimationError("the LM test needs groups with at least two observations")
        return n / np.sqrt(denom) * (float(sums @ sums) / ee - 1)

    lm1 = lm(d.unit, d.n_units) if effect != "time" else 0.0
    lm2 = lm(d.time, d.n_periods) if effect != "individual" else 0.0
    if type == "bp":
        stat = lm1**2 + lm2**2
        df: float | None = 2.0 if effect == "twoways" else 1.0
        p = float(stats.chi2.sf(stat, df))
        dist = "chi2"
    else:
        stat = (lm1 + lm2) / np.sqrt(2) if effect == "twoways" else lm1 + lm2
        df = None
        p = float(stats.norm.sf(stat))
        dist = "normal"
    what = {"individual": "individual", "time": "time", "twoways": "individual and time"}[effect]
    verdict = (
        f"Random {what} effects are significant: use random effects rather than pooled OLS."
        if p < alpha else f"No significant random {what} effects: pooled OLS is adequate."
    )
    label = "Breusch-Pagan" if type == "bp" else "Honda"
    return TestResult(
        name=f"LM test for random {what} effects ({label})", statistic=float(stat), p_value=p, df=df,
        distribution=dist, null=f"the variance of the {what} effects is zero (pooled OLS)",
        alpha=alpha, verdict=verdict, details={"lm_individual": lm1, "lm_time": lm2},
        notes=list(d.notes),
    )


def hausman(
    panel: Panel,
    y: str,
    treat: str | Sequence[str],
    controls: str | Sequence[str] = (),
    *,
    cluster: str | None = None,
    method: str | None = None,
    alpha: float = 0.05,
) -> TestResult:
    """Hausman (1978) test of random effects against fixed effects (``plm::phtest``).

    ``method="contrast"`` (default without ``cluster``): ``H = d' (V_FE - V_RE)^-1 d`` with
    ``d`` the difference of the within and Swamy–Arora random-effects slopes and their
    conventional covariance matrices; chi²(K). Valid only under the RE assumptions
    (homoskedastic, serially uncorrelated errors); the absolute value is reported as plm does
    when the variance difference is not positive definite (noted).

    ``method="regression"`` (default with ``cluster``): the auxiliary (Mundlak-type)
    regression of the quasi-demeaned outcome on the quasi-demeaned regressors (with the
    quasi-demeaned constant ``1 - theta_i``) and the within-demeaned regressors, testing the
    latter's coefficients jointly zero (Wooldridge 2010, sec. 10.7.3). With ``cluster="unit"``
    (or another column containing whole units) the Wald test uses a cluster-robust covariance
    (HC0, no small-sample factor, as ``plm::phtest(method = "aux", vcov = vcovHC)``), valid
    under heteroskedasticity and serial correlation; ``cluster=None`` uses the conventional
    covariance. On unbalanced panels plm uses a plain constant instead of ``1 - theta_i``, so
    results differ slightly there.

    Returns
    -------
    TestResult
        chi²(K); ``reject`` means random effects are inconsistent: use fixed effects.
    """
    robust = cluster is not None
    method = method or ("regression" if robust else "contrast")
    if method not in ("contrast", "regression"):
        raise ValueError(f"method must be 'contrast' or 'regression', got {method!r}")
    if robust and method == "contrast":
        raise ValueError("the contrast form of the Hausman test is not cluster-robust; use "
                         "method='regression' or cluster=None")
    d = _prepare(panel, y, treat, controls, "hausman", cluster=cluster)
    wi = _within(d)
    re = _swamy_arora(d)
    notes = list(d.notes)
    idx = [d.names.index(nm) + 1 for nm in wi.names]  # positions in the RE coefficients
    if method == "contrast":
        diff = wi.beta - re.beta[idx]
        dv = wi.vcov - re.vcov[np.ix_(idx, idx)]
        stat = float(abs(diff @ np.linalg.solve(dv, diff)))
        if np.min(np.linalg.eigvalsh((dv + dv.T) / 2)) <= 0:
            notes.append(
                "Hausman: V_FE - V_RE is not positive definite; the statistic is |d' (V_FE - V_RE)^-1 d|. "
                "Consider the cluster-robust regression-based test (cluster='unit')."
            )
        details: dict[str, Any] = {"difference": dict(zip(wi.names, diff, strict=True))}
        name = "Hausman test (FE vs RE)"
    else:
        stat, g = _aux_wald(d, wi, re, robust=robust)
        details = {"gamma": dict(zip(wi.names, g, strict=True))}
        name = "Hausman test (FE vs RE, regression-based" + (", cluster-robust)" if robust else ")")
    df = len(wi.names)
    p = float(stats.chi2.sf(stat, df))
    verdict = (
        "Hausman rejects RE: use FE (the unit effects are correlated with the regressors)."
        if p < alpha else "Hausman does not reject RE: RE is consistent and more efficient than FE."
    )
    return TestResult(
        name=name, statistic=stat, p_value=p, df=float(df), distribution="chi2",
        null="the unit effects are uncorrelated with the regressors (RE consistent)",
        alpha=alpha, verdict=verdict, details=details, notes=notes,
    )


def _aux_wald(d: _Data, wi: _Within, re: _RE, *, robust: bool, plain_constant: bool = False
              ) -> tuple[float, np.ndarray]:
    """Wald statistic of the within-demeaned regressors in the auxiliary Hausman regression.

    ``robust``: covariance clustered by ``d.cluster`` (by unit when it is None), HC0.
    ``plain_constant=True`` replaces the quasi-demeaned constant ``1 - theta_i`` by a column of
    ones, as plm does (identical on balanced panels, where theta is constant).
    """
    from ...core.covariance import cluster_sums

    xs = re.Xs.copy()
    if plain_constant:
        xs[:, 0] = 1.0
    A = np.column_stack([xs, wi.Xw])
    coef, e = _ols(A, re.ys)
    bread = np.linalg.inv(A.T @ A)
    if robust:
        scores = cluster_sums(A * e[:, None], d.unit if d.cluster is None else d.cluster)
        V = bread @ (scores.T @ scores) @ bread
    else:
        V = float(e @ e) / (len(e) - A.shape[1]) * bread
    j = np.arange(xs.shape[1], A.shape[1])
    g = coef[j]
    return float(g @ np.linalg.solve(V[np.ix_(j, j)], g)), g


def model_selection_tests(
    panel: Panel,
    y: str,
    treat: str | Sequence[str],
    controls: str | Sequence[str] = (),
    *,
    cluster: str | None = "unit",
    alpha: float = 0.05,
    title: str | None = None,
) -> TestSet:
    """F test (pooled vs FE), Breusch–Pagan LM test (pooled vs RE) and Hausman test (RE vs FE).

    The sequence of seed 001: the F test rejects pooled OLS in favour of fixed effects, the LM
    test rejects pooled OLS in favour of random effects, and the Hausman test chooses between
    them. ``cluster`` applies to the Hausman test: by default the cluster-robust
    regression-based version (``cluster="unit"``); ``cluster=None`` gives plm's classical
    contrast. ``.table()`` renders the three as one table, ``.reading()`` their verdicts.
    """
    return TestSet(
        [
            f_test_individual_effects(panel, y, treat, controls, alpha=alpha),
            breusch_pagan_lm(panel, y, treat, controls, alpha=alpha),
            hausman(panel, y, treat, controls, cluster=cluster, alpha=alpha),
        ],
        title=title or "Model selection tests",
    )

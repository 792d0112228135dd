"""Specification tests for panel spatial models: LM (robust) lag / error, LR and Wald SDM tests.

**LM tests** (Anselin 1988; robust forms Anselin, Bera, Florax & Yoon 1996), in the panel
version of Elhorst (2010, "Applied spatial econometrics: raising the bar", *Spatial Economic
Analysis* 5, 9-28; 2014, ch. 3): OLS of the within-transformed ``y`` on the within-transformed
``X`` (no constant), residuals ``e``, ``s² = e'e / NT``, and with ``W_NT = I_T (x) W`` applied to
the transformed data,

* ``LM lag   = (e' W y / s²)² / J``,  ``J = (W X b)' M (W X b) / s² + T tr(W'W + WW)``
* ``LM error = (e' W e / s²)² / (T tr(W'W + WW))``
* ``robust LM lag   = (e'Wy/s² - e'We/s²)² / (J - T tr(W'W + WW))``
* ``robust LM error = (e'We/s² - T tr(W'W + WW) / J · e'Wy/s²)² / (T tr(W'W + WW) (1 - T tr(W'W + WW) / J))``

each chi²(1) under the null. (``M`` is the residual maker of the transformed X.) These equal
``spdep::lm.LMtests`` on the transformed data with a block-diagonal listw (tested).

**SDM tests** (Elhorst 2010, 2014; LeSage & Pace 2009): the SDM
``y = rho W y + X beta + W X theta`` nests the SAR (``theta = 0``) and the SEM (common-factor
restriction ``theta = -rho beta``). :func:`lr_test` compares log-likelihoods of two fits;
:func:`sdm_wald` computes the Wald statistic from the SDM alone (delta method for the
non-linear restriction, gradient ``[rho I, I, beta]`` with respect to ``(beta, theta, rho)``).

**Spatial Hausman test** (Millo & Piras 2012, splm's ``sphtest``; Mutl & Pfaffermayr 2011): the
SAR, SDM or SEM with unit fixed effects (direct approach) against the random-effects model of the
same kind (:mod:`._random_effects`), over the slopes only (df = number of slopes); see
:func:`spatial_hausman`. A non-positive-definite ``V_RE - V_FE`` is flagged and gives no
statistic, never a negative chi² with p = 1.

Every test returns a :class:`~climetrics.core.results.TestResult` (several: a
:class:`~climetrics.core.results.TestSet`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...core.results import EstimationResult, TestResult, TestSet
from ...errors import EstimationError
from .models import EFFECTS, _lag, demean, panel_arrays, spatial_panel
from .weights import SpatialWeights


def _chi2_test(name: str, stat: float, df: int, null: str, alpha: float = 0.05) -> TestResult:
    from scipy import stats

    return TestResult(
        name, float(stat), float(stats.chi2.sf(stat, df)), df=df, distribution="chi2",
        null=null, alpha=alpha,
    )


def lm_tests(
    panel,
    y: str,
    x: Sequence[str] | str,
    w: SpatialWeights,
    *,
    effects: str = "unit",
    alpha: float = 0.05,
    allow_islands: bool = False,
) -> TestSet:
    """LM lag, LM error and their robust versions on the fixed-effects (within) model.

    Returns a :class:`~climetrics.core.results.TestSet` of four chi²(1) tests named
    ``"LM lag"``, ``"LM error"``, ``"robust LM lag"`` and ``"robust LM error"``.
    """
    if effects not in EFFECTS:
        raise EstimationError(f"effects must be 'unit', 'time' or 'twoway', not {effects!r}")
    fe = EFFECTS[effects]
    xs = [x] if isinstance(x, str) else list(x)
    data = panel_arrays(panel, y, xs, w, allow_islands)
    n, t = data.y.shape
    yd = demean(data.y, fe)
    xd = demean(data.x, fe).reshape(n * t, -1)
    b = np.linalg.lstsq(xd, yd.ravel(), rcond=None)[0]
    e = yd.ravel() - xd @ b
    s2 = e @ e / (n * t)
    lag = data.w.matrix

    def wl(v: np.ndarray) -> np.ndarray:  # I_T (x) W on unit-major (N, T) data
        return (lag @ v.reshape(n, t)).ravel()

    wxb = wl(xd @ b)
    mwxb = wxb - xd @ np.linalg.lstsq(xd, wxb, rcond=None)[0]
    trw = t * (float(lag.multiply(lag).sum()) + float(lag.multiply(lag.T).sum()))
    d_lag = e @ wl(yd.ravel()) / s2
    d_err = e @ wl(e) / s2
    j = wxb @ mwxb / s2 + trw
    lag0, err0 = "no spatial lag of y (rho = 0)", "no spatial error correlation (lambda = 0)"
    return TestSet(
        [
            _chi2_test("LM lag", d_lag**2 / j, 1, lag0, alpha),
            _chi2_test("LM error", d_err**2 / trw, 1, err0, alpha),
            _chi2_test("robust LM lag", (d_lag - d_err) ** 2 / (j - trw), 1, lag0, alpha),
            _chi2_test(
                "robust LM error",
                (d_err - trw / j * d_lag) ** 2 / (trw * (1 - trw / j)),
                1,
                err0,
                alpha,
            ),
        ],
        title="LM tests of spatial dependence",
    )


def lr_test(
    restricted: EstimationResult, unrestricted: EstimationResult, *, alpha: float = 0.05
) -> TestResult:
    """Likelihood-ratio test ``2 (LL_u - LL_r)``, chi² with the difference in parameters as df."""
    for r in (restricted, unrestricted):
        if "log_likelihood" not in r.meta:
            raise EstimationError("lr_test() needs two spatial_panel() results")
    keys = ("N", "T", "effects", "lee_yu")
    if any(restricted.meta[k] != unrestricted.meta[k] for k in keys) or (
        restricted.depvar != unrestricted.depvar
    ):
        raise EstimationError("lr_test() compares fits of the same data, effects and correction")
    df = unrestricted.meta["n_params"] - restricted.meta["n_params"]
    if df <= 0:
        raise EstimationError(
            "the unrestricted model must have more parameters than the restricted"
        )
    stat = 2 * (unrestricted.meta["log_likelihood"] - restricted.meta["log_likelihood"])
    return _chi2_test(
        f"LR {restricted.model} vs {unrestricted.model}",
        stat,
        df,
        f"the {restricted.model} restriction of the {unrestricted.model} holds",
        alpha,
    )


def sdm_wald(result: EstimationResult, against: str = "sar", *, alpha: float = 0.05) -> TestResult:
    """Wald test of an SDM against the SAR (``theta = 0``) or the SEM (``theta + rho beta = 0``)."""
    fit = result.meta.get("spatial")
    if fit is None or fit.model != "sdm" or result.cov is None:
        raise EstimationError(
            "sdm_wald() needs an SDM result of spatial_panel() with standard errors"
        )
    if against not in ("sar", "sem"):
        raise EstimationError(f"against must be 'sar' or 'sem', not {against!r}")
    est, cov = result.coefs["estimate"].to_numpy(), np.asarray(result.cov)
    k, m = len(fit.x), len(fit.durbin)
    didx = [fit.x.index(d) for d in fit.durbin]
    theta, rho = est[k : k + m], est[-1]
    grad = np.zeros((m, est.size))
    grad[:, k : k + m] = np.eye(m)
    if against == "sar":
        g = theta
    else:
        g = theta + rho * est[didx]
        grad[np.arange(m), didx] = rho
        grad[:, -1] = est[didx]
    stat = float(g @ np.linalg.solve(grad @ cov @ grad.T, g))
    null = "theta = 0" if against == "sar" else "theta + rho beta = 0 (common factor)"
    return _chi2_test(f"Wald SDM vs {against.upper()}", stat, m, null, alpha)


def spatial_hausman(
    panel,
    y: str,
    x: Sequence[str] | str,
    w: SpatialWeights,
    *,
    model: str = "sar",
    durbin: Sequence[str] | None = None,
    alpha: float = 0.05,
    allow_islands: bool = False,
) -> TestResult:
    """Hausman test of unit fixed against random effects for the SAR, SDM or SEM.

    The slopes-only form of splm's ``sphtest`` (Millo & Piras 2012, after Mutl & Pfaffermayr
    2011): ``H = d' (V_RE - V_FE)^-1 d ~ chi²(k)`` with ``d`` the difference of the k slopes
    (x and, for the SDM, W*x; not rho / lambda, not the RE constant). ``V_FE`` is the slopes'
    block of the inverse information of the FE fit; ``V_RE`` the GLS variance of the RE slopes
    given the estimated rho / lambda and phi (the inverse of the slopes' block of the RE
    information), as splm computes them. For the SEM beta is information-orthogonal to lambda
    and the two readings of "variance" coincide. When ``V_RE - V_FE`` is not positive definite
    the quadratic form has no chi² distribution (it can even be negative): the statistic and
    p-value are then NaN, ``details["positive_definite"]`` is False and the verdict says the
    test is not informative (splm prints the absolute value instead;
    ``details["quadratic_form"]`` keeps the raw value).

    Returns a :class:`~climetrics.core.results.TestResult`; ``details`` also hold the
    random-effects estimates (``re_coef``: constant, x, W*x, rho or lambda; ``re_loglik``;
    ``re_sigma2``; ``re_phi``, for the lag models ``phi² = s² / (T s_mu² + s²)`` and for the
    SEM ``(1 + T theta)^-1/2``; for the SEM ``re_theta = s_mu² / s²``) and the fixed-effects
    fit (``fe_result``).
    """
    from scipy import stats

    if model not in ("sar", "sdm", "sem"):
        raise EstimationError(
            f"the spatial Hausman test covers the SAR, SDM and SEM, not {model!r}"
        )
    xs = [x] if isinstance(x, str) else list(x)
    fe = spatial_panel(
        panel,
        y,
        xs,
        w,
        model=model,
        effects="unit",
        lee_yu=False,
        durbin=durbin,
        allow_islands=allow_islands,
    )
    fit = fe.meta["spatial"]
    data = panel_arrays(panel, y, xs, w, allow_islands)
    didx = [xs.index(d) for d in fit.durbin]
    z = np.concatenate([data.x, _lag(data.w, data.x[:, :, didx])], axis=2)
    from ._random_effects import fit_re_error, fit_re_lag

    re = (fit_re_error if model == "sem" else fit_re_lag)(data.y, z, data.w, fit.logdet)
    k = z.shape[2]
    v_fe = np.asarray(fe.cov)[:k, :k]
    v_re = np.linalg.inv(re["information"][: k + 1, : k + 1])[1:, 1:]
    d = fe.coefs["estimate"].to_numpy()[:k] - re["coef"][1 : k + 1]
    diff = (v_re - v_fe + (v_re - v_fe).T) / 2
    min_eig = float(np.linalg.eigvalsh(diff).min())
    quad = float(d @ np.linalg.lstsq(diff, d, rcond=None)[0])
    pd_ok = bool(min_eig > 0)
    name = f"Spatial Hausman FE vs RE ({model.upper()})"
    null = "the unit effects are uncorrelated with the regressors (random effects consistent)"
    notes, verdict = [], ""
    if not pd_ok:
        notes.append(
            f"{name}: V_RE - V_FE is not positive definite (smallest eigenvalue {min_eig:.3g}); "
            "no statistic is reported (the quadratic form would be "
            f"{quad:.4g}), so the test cannot choose between fixed and random effects here."
        )
        verdict = (
            f"{name}: not informative, V_RE - V_FE is not positive definite, so no statistic "
            "is reported; keep the fixed-effects model, which is consistent either way."
        )
    details = {
        "quadratic_form": quad,
        "positive_definite": pd_ok,
        "min_eigenvalue": min_eig,
        "slopes": list(fe.terms[:k]),
        "re_coef": re["coef"],
        "re_phi": re["phi"],
        "re_sigma2": re["sigma2"],
        "re_loglik": re["loglik"],
        "fe_result": fe,
    }
    if model == "sem":
        details["re_theta"] = re["theta"]
    return TestResult(
        name,
        quad if pd_ok else np.nan,
        float(stats.chi2.sf(quad, k)) if pd_ok else np.nan,
        df=k,
        distribution="chi2",
        null=null,
        alpha=alpha,
        verdict=verdict,
        details=details,
        notes=notes,
    )

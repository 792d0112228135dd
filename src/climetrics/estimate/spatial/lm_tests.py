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

**Spatial Hausman test** (Elhorst 2014; the definition of PySAL's
``spreg.panel_Hausman``): the SAR, SDM or SEM with unit fixed effects (direct approach) against
the random-effects model of the same kind (:mod:`._random_effects`),
``H = d' [V_RE - V_FE]^-1 d ~ chi²(dim d)``. For the lag models ``d = (beta, rho)_FE -
(beta, rho)_RE`` and each ``V`` is the inverse of the (beta, rho) block of the information
matrix (the variance given sigma² and phi). For the SEM ``d = beta_FE - beta_RE`` (lambda left
out) and ``V = s² (X*'X*)^-1`` of the slopes, as ``panel_Hausman`` does for
``Panel_FE_Error`` / ``Panel_RE_Error`` (so the two can be compared): the information matrix of
the error model is block-diagonal between beta and (lambda, s², theta), so the variance of each
beta estimate needs nothing from lambda, and the question the test asks (are the unit effects
correlated with X?) is about beta. The degrees of freedom are ``dim d`` (the number of slopes);
``panel_Hausman`` counts the constant too for the SEM, so its p-value differs from ours while
the statistic is the same.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ...core.results import EstimationResult
from ...errors import EstimationError
from .models import EFFECTS, _lag, demean, panel_arrays, spatial_panel
from .weights import SpatialWeights


def _chi2_row(name: str, stat: float, df: int) -> dict:
    from scipy import stats

    return {
        "test": name,
        "statistic": float(stat),
        "df": df,
        "p_value": float(stats.chi2.sf(stat, df)),
    }


def lm_tests(
    panel,
    y: str,
    x: Sequence[str] | str,
    w: SpatialWeights,
    *,
    effects: str = "unit",
    allow_islands: bool = False,
) -> pd.DataFrame:
    """LM lag, LM error and their robust versions on the fixed-effects (within) model.

    Returns a table with columns ``test`` (``"LM lag"``, ``"LM error"``, ``"robust LM lag"``,
    ``"robust LM error"``), ``statistic``, ``df`` and ``p_value`` (chi²(1)).
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
    return pd.DataFrame(
        [
            _chi2_row("LM lag", d_lag**2 / j, 1),
            _chi2_row("LM error", d_err**2 / trw, 1),
            _chi2_row("robust LM lag", (d_lag - d_err) ** 2 / (j - trw), 1),
            _chi2_row("robust LM error", (d_err - trw / j * d_lag) ** 2 / (trw * (1 - trw / j)), 1),
        ]
    )


def lr_test(restricted: EstimationResult, unrestricted: EstimationResult) -> dict:
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
    return _chi2_row(f"LR {restricted.model} vs {unrestricted.model}", stat, df)


def sdm_wald(result: EstimationResult, against: str = "sar") -> dict:
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
    return _chi2_row(f"Wald SDM vs {against.upper()}", stat, m)


def spatial_hausman(
    panel,
    y: str,
    x: Sequence[str] | str,
    w: SpatialWeights,
    *,
    model: str = "sar",
    durbin: Sequence[str] | None = None,
    allow_islands: bool = False,
) -> dict:
    """Hausman test of unit fixed against random effects for the SAR, SDM or SEM.

    Returns ``test``, ``statistic``, ``df``, ``p_value``, ``note`` (set when ``V_RE - V_FE`` is
    not positive definite) plus the random-effects estimates (``re_coef``: constant, x, W*x,
    rho or lambda; ``re_loglik``, the full log-likelihood; ``re_sigma2``; ``re_phi``, for the lag
    models ``phi² = s² / (T s_mu² + s²)`` and for the SEM ``(1 + T theta)^-1/2``; for the SEM
    also ``re_theta = s_mu² / s²``) and the fixed-effects fit (``fe_result``). For the SEM the
    statistic covers the slopes only (see the module docstring).
    """
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

    if model == "sem":
        re = fit_re_error(data.y, z, data.w, fit.logdet)
        p = z.shape[2]  # slopes only: beta is information-orthogonal to lambda
    else:
        re = fit_re_lag(data.y, z, data.w, fit.logdet)
        p = z.shape[2] + 1  # coefficients and rho
    v_fe = np.linalg.inv(fe.meta["information"][:p, :p])
    v_re = np.linalg.inv(re["information"][: p + 1, : p + 1])[1:, 1:]
    d = fe.coefs["estimate"].to_numpy()[:p] - re["coef"][1 : p + 1]
    diff = v_re - v_fe
    stat = float(d @ np.linalg.solve(diff, d))
    out = _chi2_row(f"Hausman FE vs RE ({model.upper()})", stat, p)
    out["note"] = ""
    if np.linalg.eigvalsh((diff + diff.T) / 2).min() <= 0:
        out["note"] = (
            "V_RE - V_FE is not positive definite (statistic may be negative); the test is "
            "not informative here, which can happen in finite samples"
        )
    out.update(
        re_coef=re["coef"],
        re_phi=re["phi"],
        re_sigma2=re["sigma2"],
        re_loglik=re["loglik"],
        fe_result=fe,
    )
    if model == "sem":
        out["re_theta"] = re["theta"]
    return out

"""Direct, indirect and total effects of a spatial lag / Durbin model (LeSage & Pace 2009, ch. 2.7).

For regressor ``k`` the N x N matrix of partial derivatives ``dy / dx_k'`` is

``S_k(W) = (I - rho W)^-1 (beta_k I + theta_k W)``

(``theta_k = 0`` for the SAR and for regressors without a spatial lag). The *average direct*
effect is ``tr(S_k) / N``, the *average total* effect ``1' S_k 1 / N``, and the *indirect*
(spillover) effect their difference. For a row-standardised W the total effect is
``(beta_k + theta_k) / (1 - rho)``, and with the eigenvalues ``lambda_i`` of W

``tr(S_k) / N = beta_k mean(1 / (1 - rho lambda_i)) + theta_k mean(lambda_i / (1 - rho lambda_i))``.

For large N (when the fit used the sparse LU log-determinant) the two means come from the
power series ``sum_j rho^j tr(W^j) / N`` with traces estimated by Hutchinson's estimator
(LeSage & Pace 2009; spatialreg's ``trW(type = "MC")``): exact for j <= 2, 50
Rademacher probes above; the truncation error of the series is below 1e-10.

Inference follows LeSage & Pace (2009) and xsmle: parameters are drawn from their
asymptotic normal distribution ``N(theta_hat, V)``, the effects are computed for every draw
(vectorised over draws), and the standard deviation of the draws is the standard error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...core.results import EstimationResult
from ...errors import EstimationError

EFFECT_COLUMNS = [
    "term",
    "effect",
    "estimate",
    "sim_mean",
    "std_error",
    "statistic",
    "p_value",
    "ci_low",
    "ci_high",
]
_CHUNK = 2_000_000  # draws x eigenvalues per block


def trace_powers(w, q: int, probes: int = 50, seed: int | None = 0) -> np.ndarray:
    """``tr(W^j) / N`` for ``j = 0..q``: exact for ``j <= 2``, Hutchinson estimates above."""
    from scipy import sparse

    w = sparse.csr_array(w)
    n = w.shape[0]
    rng = np.random.default_rng(seed)
    z = rng.choice([-1.0, 1.0], size=(n, probes))
    out = np.empty(q + 1)
    v = z
    for j in range(1, q + 1):
        v = w @ v
        out[j] = np.mean(np.sum(z * v, axis=0)) / n
    out[0], out[1] = 1.0, w.diagonal().sum() / n
    if q >= 2:
        out[2] = (w.multiply(w.T)).sum() / n
    return out


def _direct_means(fit, rho: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``mean(1/(1 - rho lambda))`` and ``mean(lambda/(1 - rho lambda))`` for each rho."""
    ev = fit.logdet.eigenvalues
    if ev is not None:
        m1, m2 = np.empty(rho.size), np.empty(rho.size)
        step = max(1, _CHUNK // ev.size)
        for s in range(0, rho.size, step):
            inv = 1.0 / (1.0 - rho[s : s + step, None] * ev[None, :])
            m1[s : s + step] = np.mean(inv, axis=1).real
            m2[s : s + step] = np.mean(ev * inv, axis=1).real
        return m1, m2
    r_max = float(np.max(np.abs(rho)))
    q = int(np.clip(np.ceil(np.log(1e-10 * (1 - r_max)) / np.log(max(r_max, 1e-3))), 3, 400))
    tr = trace_powers(fit.w.matrix, q + 1)
    powers = rho[:, None] ** np.arange(q + 1)[None, :]
    return powers @ tr[: q + 1], powers @ tr[1 : q + 2]


def _effects(fit, beta: np.ndarray, theta: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """Direct, indirect, total effects: array (3, draws, k)."""
    m1, m2 = _direct_means(fit, rho)
    direct = beta * m1[:, None] + theta * m2[:, None]
    total = (beta + theta) / (1.0 - rho[:, None])
    return np.stack([direct, total - direct, total])


def impacts(result: EstimationResult, draws: int = 1000, seed: int | None = None) -> pd.DataFrame:
    """LeSage & Pace average direct / indirect / total effects with simulated standard errors.

    Parameters
    ----------
    result
        A SAR or SDM fit of :func:`~.models.spatial_panel`.
    draws
        Parameter draws from the asymptotic normal distribution of the estimates.
    seed
        Seed of the draws (same seed, same standard errors).

    Returns
    -------
    pandas.DataFrame
        One row per regressor and effect (``direct``, ``indirect``, ``total``): ``estimate``
        (at the point estimates, exact), ``sim_mean`` (mean over draws), ``std_error``
        (standard deviation over draws), ``statistic`` = estimate / std_error, two-sided normal
        ``p_value`` and the 2.5 / 97.5 percentiles of the draws (``ci_low``, ``ci_high``).
    """
    fit = result.meta.get("spatial")
    if fit is None:
        raise EstimationError("impacts() needs a result of spatial_panel()")
    if fit.model == "sem":
        raise EstimationError(
            "the SEM has no spatial multiplier on x: its direct effects are the coefficients and "
            "its indirect effects zero; impacts() applies to the SAR and the SDM"
        )
    if result.cov is None:
        raise EstimationError("impacts() needs standard errors; fit with vcov='asymptotic'")
    if draws < 2:
        raise EstimationError(f"draws must be at least 2, not {draws}")
    k = len(fit.x)
    didx = [fit.x.index(d) for d in fit.durbin]

    def split(par: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        beta = par[:, :k]
        theta = np.zeros_like(beta)
        theta[:, didx] = par[:, k : k + len(didx)]
        return beta, theta, par[:, -1]

    est = result.coefs["estimate"].to_numpy()
    point = _effects(fit, *split(est[None, :]))[:, 0, :]
    rng = np.random.default_rng(seed)
    sims = _effects(fit, *split(rng.multivariate_normal(est, result.cov, size=draws)))
    from scipy import stats

    se = sims.std(axis=1, ddof=1)
    lo, hi = np.percentile(sims, [2.5, 97.5], axis=1)
    names = ["direct", "indirect", "total"]
    rows = [
        {
            "term": fit.x[j],
            "effect": names[e],
            "estimate": point[e, j],
            "sim_mean": sims[e, :, j].mean(),
            "std_error": se[e, j],
            "statistic": point[e, j] / se[e, j],
            "p_value": 2 * stats.norm.sf(abs(point[e, j] / se[e, j])),
            "ci_low": lo[e, j],
            "ci_high": hi[e, j],
        }
        for j in range(k)
        for e in range(3)
    ]
    return pd.DataFrame(rows, columns=EFFECT_COLUMNS)

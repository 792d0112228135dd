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
asymptotic normal distribution ``N(theta_hat, V)`` -- ``V`` the covariance of the fit, so
cluster-robust when the model was clustered -- the effects are computed for every draw
(vectorised over draws), and the standard deviation of the draws is the standard error.
Draws of rho outside the stationary interval ``(1 / lambda_min, 1 / lambda_max)`` (where
``(I - rho W)^-1`` has no convergent series and the total effect ``1 / (1 - rho)`` changes
sign) are discarded and replaced by new ones, i.e. the draws come from the normal truncated to
that interval (the truncation LeSage & Pace's MCMC prior imposes); the share discarded is
reported (``discarded_share``) and noted under the table when positive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ...core.results import EstimationResult, Result, jsonable, tidy_frame
from ...errors import EstimationError

if TYPE_CHECKING:
    from ...report.tables import Table

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


@dataclass(eq=False)
class SpatialEffects(Result):
    """Average direct, indirect and total effects of a SAR / SDM (LeSage & Pace 2009).

    ``frame`` has one row per regressor and effect (columns :data:`EFFECT_COLUMNS`);
    ``fit`` is the model; ``n_draws`` the kept parameter draws and ``discarded_share`` the
    share of draws with a non-stationary rho that were discarded.
    """

    frame: pd.DataFrame
    fit: EstimationResult
    n_draws: int
    discarded_share: float
    alpha: float = 0.05

    def tidy(self) -> pd.DataFrame:
        return tidy_frame(self.frame)

    @property
    def results(self) -> list[EstimationResult]:
        return [self.fit]

    def effect(self, term: str, kind: str = "direct") -> pd.Series:
        """The row of ``term``'s ``kind`` effect (``direct``, ``indirect`` or ``total``)."""
        hit = self.frame[(self.frame["term"] == term) & (self.frame["effect"] == kind)]
        if hit.empty:
            raise KeyError(f"no {kind} effect of {term!r}; terms are {list(dict.fromkeys(self.frame['term']))}")
        return hit.iloc[0]

    def notes(self) -> list[str]:
        """Table notes: what the standard errors rest on and the discarded draws."""
        from ...core.results import _vcov_phrase

        kind = _vcov_phrase(self.fit).lstrip("; ")
        out = [
            f"LeSage & Pace (2009) average effects at the estimates; standard errors from "
            f"{self.n_draws:,} parameter draws from the estimates' asymptotic normal "
            f"distribution with the model's covariance ({kind}); {100 * (1 - self.alpha):g}% "
            "intervals are percentiles of the draws. * p<0.1, ** p<0.05, *** p<0.01."
        ]
        if self.discarded_share > 0:
            out.append(
                f"{100 * self.discarded_share:.1f}% of the draws had a non-stationary rho "
                "(outside its admissible interval) and were discarded."
            )
        return out

    def table(self, *, digits: int = 4, title: str | None = None, labels=None) -> Table:
        """Rows: each regressor's direct, indirect and total effect with its t-value."""
        from ...report.tables import Table, fmt, stars

        labels = labels or {}
        rows = []
        for kind in ("direct", "indirect", "total"):
            for term in dict.fromkeys(self.frame["term"]):
                r = self.effect(term, kind)
                rows.append([
                    f"{kind.capitalize()}: {labels.get(term, term)}",
                    fmt(r["estimate"], digits) + stars(r["p_value"]),
                    fmt(r["std_error"], digits),
                    fmt(r["statistic"], 2),
                ])
        return Table(["Estimate", "Std. error", "z"], rows, stub="Effect",
                     title=title or "Direct, indirect (spillover) and total effects",
                     notes=self.notes())

    def summary(self) -> dict:
        """Each effect of the first regressor, plus the draws kept and discarded."""
        term = self.frame["term"].iloc[0]
        out = {"term": term, "n_draws": self.n_draws, "discarded_share": self.discarded_share,
               "vcov": self.fit.vcov}
        for kind in ("direct", "indirect", "total"):
            r = self.effect(term, kind)
            out.update({f"{kind}_{k}": jsonable(r[k]) for k in ("estimate", "std_error", "p_value")})
        return out

    def reading(self, term: str | None = None, *, label: str | None = None,
                outcome_label: str | None = None) -> str:
        """The direct and indirect effect of ``term`` (default: the first regressor) in words;
        the significance wording follows the covariance the model was fitted with."""
        from ...core.results import _vcov_phrase
        from ...core.wording import p_phrase, significance_phrase

        term = term or self.frame["term"].iloc[0]
        label, outcome = label or term, outcome_label or self.fit.depvar
        d, i, t = (self.effect(term, k) for k in ("direct", "indirect", "total"))
        kind = _vcov_phrase(self.fit).lstrip("; ")
        text = (
            f"The direct effect of {label} on {outcome} is {d['estimate']:.4f} "
            f"({p_phrase(d['p_value'])}, {significance_phrase(d['p_value'])}); the indirect "
            f"(spillover) effect on neighbouring units is {i['estimate']:.4f} "
            f"({p_phrase(i['p_value'])}, {significance_phrase(i['p_value'])}); the total effect "
            f"is {t['estimate']:.4f} ({p_phrase(t['p_value'])}). Standard errors come from "
            f"parameter draws using the model's covariance ({kind})"
        )
        if self.discarded_share > 0:
            text += (
                f"; {100 * self.discarded_share:.1f}% of the draws had a non-stationary rho and "
                "were discarded"
            )
        return text + "."


def impacts(
    result: EstimationResult,
    n_draws: int = 1000,
    seed: int | None = None,
    *,
    alpha: float = 0.05,
) -> SpatialEffects:
    """LeSage & Pace average direct / indirect / total effects with simulated standard errors.

    Parameters
    ----------
    result
        A SAR or SDM fit of :func:`~.models.spatial_panel` with standard errors.
    n_draws
        Parameter draws (with a stationary rho) from the asymptotic normal distribution of the
        estimates, with the fit's covariance (i.i.d., robust or clustered).
    seed
        Seed of the draws (same seed, same standard errors).
    alpha
        Interval level: the ``alpha / 2`` and ``1 - alpha / 2`` percentiles of the draws.

    Returns
    -------
    SpatialEffects
        ``.tidy()`` has one row per regressor (``term``) and ``effect`` (``direct``,
        ``indirect``, ``total``): ``estimate`` (at the point estimates, exact), ``std_error``
        (standard deviation over draws), ``statistic`` = estimate / std_error, two-sided
        normal ``p_value``, percentile interval ``ci_low`` / ``ci_high`` and ``sim_mean``
        (mean over draws); ``.discarded_share`` the share of non-stationary draws discarded.
    """
    from scipy import stats

    fit = result.meta.get("spatial")
    if fit is None:
        raise EstimationError("impacts() needs a result of spatial_panel()")
    if fit.model == "sem":
        raise EstimationError(
            "the SEM has no spatial multiplier on x: its direct effects are the coefficients and "
            "its indirect effects zero; impacts() applies to the SAR and the SDM"
        )
    if result.cov is None:
        raise EstimationError("impacts() needs standard errors; fit with vcov='iid' or 'hetero'")
    if n_draws < 2:
        raise EstimationError(f"n_draws must be at least 2, not {n_draws}")
    if not 0 < alpha < 1:
        raise EstimationError(f"alpha must be between 0 and 1, not {alpha}")
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
    lo_b, hi_b = fit.logdet.bounds
    kept, drawn = [], 0
    while sum(len(b) for b in kept) < n_draws:
        if drawn > 100 * n_draws:
            raise EstimationError(
                "fewer than 1% of the parameter draws have a stationary rho: the estimate of rho "
                f"({est[-1]:.4f}) lies at the edge of its interval ({lo_b:.4f}, {hi_b:.4f}), so "
                "its effects cannot be simulated"
            )
        batch = rng.multivariate_normal(est, result.cov, size=n_draws)
        drawn += n_draws
        kept.append(batch[(batch[:, -1] > lo_b) & (batch[:, -1] < hi_b)])
    draws = np.concatenate(kept)[:n_draws]
    discarded = 1 - sum(len(b) for b in kept) / drawn  # share of all draws made
    sims = _effects(fit, *split(draws))
    se = sims.std(axis=1, ddof=1)
    lo, hi = np.percentile(sims, [100 * alpha / 2, 100 * (1 - alpha / 2)], axis=1)
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
    return SpatialEffects(pd.DataFrame(rows, columns=EFFECT_COLUMNS), result, n_draws,
                          float(discarded), alpha)

"""Mechanism (mediation) analysis: Baron–Kenny steps, Sobel–Goodman tests, cluster bootstrap.

The stepwise mechanism test of the seeds (seed 002, eqs. 4–5 and Tables 9–11; seed 000
sec. 6.1) estimates, with the fixed effects and clustered standard errors of the baseline::

    (1) y_it = c  * D_it + X_it' g1 + FE + e1        total effect c
    (2) M_it = a  * D_it + X_it' g2 + FE + e2        policy -> mediator a
    (3) y_it = c' * D_it + b * M_it + X_it' g3 + FE + e3

and calls ``a * b`` the indirect (mediated) effect and ``c'`` the direct effect (Baron &
Kenny 1986). On a common sample, OLS gives the identity ``c = c' + a b`` exactly
(MacKinnon, Warsi & Dwyer 1995), also with absorbed fixed effects (Frisch–Waugh–Lovell).

Tests of ``a b`` (first-order delta method, normal reference distribution):

* Sobel (1982):    ``z = ab / sqrt(b² s_a² + a² s_b²)``
* Aroian (1947):   ``z = ab / sqrt(b² s_a² + a² s_b² + s_a² s_b²)``
* Goodman (1960):  ``z = ab / sqrt(b² s_a² + a² s_b² - s_a² s_b²)``; this "unbiased" variance
  is not positive when ``s_a² s_b² >= b² s_a² + a² s_b²``; dividing by ``s_a² s_b²``, exactly
  when ``t_a² + t_b² <= 1`` with ``t_a = a/s_a`` and ``t_b = b/s_b`` (both paths far from
  significant). The Goodman z is then undefined (NaN) and a note says so.

``s_a`` and ``s_b`` are the clustered (CRV1) standard errors of the two regressions. Stata's
``sgmediation`` reports the same three statistics with conventional standard errors.

Because ``a b`` is a product, its sampling distribution is skewed and the normal-theory tests
are conservative (MacKinnon, Lockwood, Hoffman, West & Sheets 2002). The recommended interval
is a bootstrap: here a **cluster bootstrap** that resamples whole clusters (units by default),
keeping each unit's time series intact, with percentile and bias-corrected (BC, Efron 1987;
Efron & Tibshirani 1993, ch. 14) confidence intervals.

Batched bootstrap
-----------------
Drawing clusters with replacement is the same as giving cluster ``g`` the frequency weight
``m_g`` (the number of times it is drawn; ``m ~ Multinomial(G, 1/G)``). A unit drawn twice
enters a resampled data set as two relabelled copies with identical data; each copy gets its
own unit fixed effect, whose fitted value is the same for both, so the least-squares problem is
the weighted one with weight ``m`` on that unit's rows and a single unit effect. Hence every
bootstrap fit is a frequency-weighted FE regression on the original rows, and:

1. The variables ``[y, M, D, X]`` of every draw are within-transformed with that draw's
   weights by weighted alternating projections, for a whole chunk of draws at once (an
   ``(n, draws, variables)`` array; one sparse group-sum product per fixed effect and sweep).
   For a balanced unit x time panel the weights are constant within units, so the weighted
   two-way projection is exact after one sweep (the closed form
   ``x - x̄_i - x̄_t^w + x̄^w`` with weighted period means).
2. One weighted cross-product matrix ``Σ_i m_i v~_i v~_i'`` per draw holds everything the three
   regressions need: ``a``, ``b``, ``c'`` and ``c`` of every draw come from small batched
   linear solves of its blocks. No regression is re-run through pyfixest.

The equality of these draws with explicit fits on resampled data (duplicated, relabelled
units) is checked in ``tests/test_mediation.py``.

References
----------
Baron, R. M. and Kenny, D. A. (1986). The moderator–mediator variable distinction in social
psychological research. *Journal of Personality and Social Psychology* 51(6), 1173–1182.

Sobel, M. E. (1982). Asymptotic confidence intervals for indirect effects in structural
equation models. *Sociological Methodology* 13, 290–312.

MacKinnon, D. P., Krull, J. L. and Lockwood, C. M. (2000). Equivalence of the mediation,
confounding and suppression effect. *Prevention Science* 1(4), 173–181.

MacKinnon, D. P., Lockwood, C. M., Hoffman, J. M., West, S. G. and Sheets, V. (2002). A
comparison of methods to test mediation and other intervening variable effects.
*Psychological Methods* 7(1), 83–104.

MacKinnon, D. P., Lockwood, C. M. and Williams, J. (2004). Confidence limits for the
indirect effect: distribution of the product and resampling methods. *Multivariate Behavioral
Research* 39(1), 99–128.

Efron, B. (1987). Better bootstrap confidence intervals. *JASA* 82(397), 171–185.

Zhao, X., Lynch, J. G. and Chen, Q. (2010). Reconsidering Baron and Kenny: myths and truths
about mediation analysis. *Journal of Consumer Research* 37(2), 197–206.

Jiang, T. (2022). Mediating effects and moderating effects in causal inference. *China
Industrial Economics* 2022(5), 100–120 (in Chinese).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ...core.demean import FixedEffects, _Factor, find_singletons
from ...core.results import EstimationResult, Result, TestResult, TestSet, jsonable, tidy_frame
from ...errors import EstimationError, PanelError
from ...panel import Panel
from ...report.tables import Table, fmt, regression_table, stars
from ..baseline.twfe import _as_list, twfe

__all__ = [
    "MediationPath",
    "MediationResult",
    "bias_corrected_ci",
    "bootstrap_gram",
    "cluster_bootstrap_weights",
    "indirect_effect_tests",
    "mediation",
]

#: Size of one ``(n, draws, variables)`` float block of the batched bootstrap (2 MiB measured
#: twice as fast as 32 MiB in bench/bench_bootstrap.py: blocks stay in cache).
_CHUNK_BYTES = 2 * 2**20


# ---------------------------------------------------------------------- closed-form tests
def indirect_effect_tests(
    a: float, se_a: float, b: float, se_b: float, *, alpha: float = 0.05
) -> TestSet:
    """Sobel, Aroian and Goodman tests of the indirect effect ``a b``.

    Parameters
    ----------
    a, se_a
        Effect of the treatment on the mediator and its standard error.
    b, se_b
        Effect of the mediator on the outcome (given the treatment) and its standard error.

    alpha
        Level at which each test decides.

    Returns
    -------
    TestSet
        Tests named ``"Sobel"``, ``"Aroian"``, ``"Goodman"`` (in that order): ``statistic`` is
        z, ``p_value`` two-sided normal, ``details["se"]`` the standard error of ``a b``.
        Goodman's values are NaN when its variance ``b² s_a² + a² s_b² - s_a² s_b²`` is not
        positive.

    References
    ----------
    Sobel (1982); Aroian (1947); Goodman (1960); MacKinnon et al. (2002).
    """
    ab = a * b
    base = b * b * se_a * se_a + a * a * se_b * se_b
    cross = se_a * se_a * se_b * se_b
    out = []
    for name, var in (("Sobel", base), ("Aroian", base + cross), ("Goodman", base - cross)):
        se = z = p = float("nan")
        if np.isfinite(var) and var > 0:
            se = float(np.sqrt(var))
            z = ab / se
            p = float(2 * stats.norm.sf(abs(z)))
        out.append(TestResult(name, z, p, distribution="normal", null="the indirect effect ab is zero",
                              alpha=alpha, details={"se": se}))
    return TestSet(out, title="Tests of the indirect effect")


def _test(tests: TestSet, name: str) -> TestResult:
    """The test called ``name`` (case-insensitive: ``"sobel"``, ``"aroian"``, ``"goodman"``)."""
    for t in tests:
        if t.name.lower() == name.lower():
            return t
    raise KeyError(f"no test '{name}'; tests are {[t.name for t in tests]}")


def percentile_ci(draws: np.ndarray, alpha: float = 0.05) -> tuple[float, float]:
    """Percentile bootstrap interval: the ``alpha/2`` and ``1 - alpha/2`` quantiles."""
    d = np.asarray(draws, dtype=float)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.quantile(d, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def bias_corrected_ci(draws: np.ndarray, estimate: float, alpha: float = 0.05) -> tuple[float, float]:
    """Bias-corrected (BC) percentile interval (Efron 1987; Efron & Tibshirani 1993, §14.3).

    ``z0 = Φ⁻¹(share of draws below the estimate)`` (ties count one half); the interval is the
    pair of draw quantiles at ``Φ(2 z0 ± z_{1-alpha/2})``. The share is clipped to
    ``[1/(2B), 1 - 1/(2B)]`` so that ``z0`` stays finite. No acceleration constant (that would
    be BCa), as in the mediation literature (MacKinnon et al. 2004).
    """
    d = np.asarray(draws, dtype=float)
    d = d[np.isfinite(d)]
    if d.size == 0 or not np.isfinite(estimate):
        return float("nan"), float("nan")
    n = d.size
    share = (np.sum(d < estimate) + 0.5 * np.sum(d == estimate)) / n
    share = min(max(share, 0.5 / n), 1 - 0.5 / n)
    z0 = stats.norm.ppf(share)
    zc = stats.norm.ppf(1 - alpha / 2)
    qs = stats.norm.cdf([2 * z0 - zc, 2 * z0 + zc])
    lo, hi = np.quantile(d, qs)
    return float(lo), float(hi)


# ---------------------------------------------------------------------- batched bootstrap
def _weighted_demean(
    X3: np.ndarray, w: np.ndarray, factors: list[_Factor], tol: float, maxiter: int
) -> np.ndarray:
    """Weighted within transformation of ``X3`` (n, c, p), one weight column per draw (n, c).

    Weighted alternating projections (Gauss–Seidel sweeps over the fixed effects): subtract
    the weighted mean of each FE level, draw by draw, until every weighted level mean is at most
    ``tol`` times the column's largest absolute value. A draw stops sweeping as soon as it has
    converged, so its result does not depend on the other draws of the chunk (the replicate
    engine may chunk draws in any way). Levels with zero total weight (units not drawn) are left
    untouched; their rows carry zero weight anyway. Modifies ``X3`` in place.
    """
    n, c, p = X3.shape
    inv = []
    for f in factors:
        s = np.asarray(f.summer @ w)
        inv.append(np.divide(1.0, s, out=np.zeros_like(s), where=s > 0))
    scale = np.abs(X3).max(axis=0)
    active = np.arange(c)
    work = X3
    for _ in range(maxiter):
        largest = np.zeros((active.size, p))
        for f, iv in zip(factors, inv, strict=True):
            sums = np.asarray(f.summer @ (work * w[:, :, None]).reshape(n, active.size * p))
            means = sums.reshape(-1, active.size, p) * iv[:, :, None]
            work -= means[f.codes]
            np.maximum(largest, np.abs(means).max(axis=0), out=largest)
        done = np.all(largest <= tol * scale, axis=1)
        if done.any() and work is not X3:
            X3[:, active[done]] = work[:, done]
        if done.all():
            return X3
        if done.any():  # continue with the draws still moving only
            keep = ~done
            active, work, w, scale = active[keep], work[:, keep], w[:, keep], scale[keep]
            inv = [iv[:, keep] for iv in inv]
    raise EstimationError(
        f"weighted fixed-effect demeaning in the bootstrap did not converge in {maxiter} sweeps"
    )


def bootstrap_gram(
    V: np.ndarray,
    fe: Sequence[np.ndarray],
    cluster: np.ndarray,
    weights: np.ndarray,
    *,
    chunk_size: int | None = None,
    tol: float = 1e-13,
    maxiter: int = 10_000,
) -> np.ndarray:
    """Weighted within cross-product matrices of ``V`` for many cluster-bootstrap draws.

    Parameters
    ----------
    V : ndarray, shape (n, p)
        Variables of the regressions (outcome, mediator, treatment, controls), rows already
        restricted to the estimation sample.
    fe : sequence of integer code arrays, each (n,)
        Fixed effects; an empty sequence means a constant only (pooled OLS).
    cluster : ndarray of int, shape (n,)
        Cluster code ``0..G-1`` of every row (the resampling unit).
    weights : ndarray, shape (G, B)
        How many times each cluster is drawn in each bootstrap sample.

    Returns
    -------
    ndarray, shape (B, p, p)
        ``Σ_i m_ib v~_ib v~_ib'`` with ``v~_ib`` the row of ``V`` net of the fixed effects under
        the weights ``m_ib = weights[cluster_i, b]``. Any least-squares coefficient of one
        column of ``V`` on others (with the fixed effects) follows from blocks of it. Each
        draw's matrix is computed independently of the others (same result in any chunking).
    """
    V = np.asarray(V, dtype=float)
    n, p = V.shape
    weights = np.asarray(weights, dtype=float)
    fe = list(fe) if len(fe) else [np.zeros(n, dtype=np.intp)]
    factors = [_Factor.from_codes(f) for f in fe]
    n_draws = weights.shape[1]
    size = chunk_size or _default_chunk(n, p)
    out = np.empty((n_draws, p, p))
    for start in range(0, n_draws, size):
        cols = slice(start, min(start + size, n_draws))
        w = weights[cluster, cols]  # (n, c)
        X3 = np.repeat(V[:, None, :], w.shape[1], axis=1)
        _weighted_demean(X3, w, factors, tol, maxiter)
        for j in range(w.shape[1]):  # contiguous per-draw products: chunking-independent
            v = np.ascontiguousarray(X3[:, j, :])
            out[start + j] = (v * w[:, j : j + 1]).T @ v
    return out


def _default_chunk(n: int, p: int) -> int:
    """Draws per block of the batched bootstrap (one ``(n, draws, p)`` block of _CHUNK_BYTES)."""
    return max(1, _CHUNK_BYTES // (8 * n * p))


def cluster_bootstrap_weights(n_clusters: int, seed: int, draws: np.ndarray) -> np.ndarray:
    """``(G, len(draws))`` cluster frequencies ``m ~ Multinomial(G, 1/G)`` of bootstrap
    ``draws``, each from its own stream (:func:`climetrics.core.replicate.replicate_rng`)."""
    from ...core.replicate import replicate_rng

    p = np.full(n_clusters, 1.0 / n_clusters)
    out = np.empty((n_clusters, len(draws)), dtype=np.int64)
    for j, b in enumerate(draws):
        out[:, j] = replicate_rng(seed, b).multinomial(n_clusters, p)
    return out


@dataclass(frozen=True)
class MediationBootstrapJob:
    """Shared data of :func:`mediation_bootstrap_kernel`: the sample's variables, FE and
    cluster codes, and the column positions of the three Baron–Kenny regressions."""

    V: np.ndarray
    fe: list[np.ndarray]
    cluster: np.ndarray
    n_clusters: int
    seed: int
    y: int
    m: int
    treat: int
    ctrl_a: list[int]
    ctrl_b: list[int]
    ctrl_c: list[int]


def mediation_bootstrap_kernel(draws: np.ndarray, job: MediationBootstrapJob) -> np.ndarray:
    """Replicate kernel: ``(len(draws), 5)`` array of ``a, b, c', c`` and a void flag (draws in
    which the treatment has no variation left, e.g. no treated unit drawn)."""
    weights = cluster_bootstrap_weights(job.n_clusters, job.seed, draws)
    gram = bootstrap_gram(job.V, job.fe, job.cluster, weights)
    it = job.treat
    coef_a = _solve_blocks(gram, job.m, [it, *job.ctrl_a])
    coef_b = _solve_blocks(gram, job.y, [it, job.m, *job.ctrl_b])
    coef_c = _solve_blocks(gram, job.y, [it, *job.ctrl_c])
    t = job.V[:, it]
    w = weights[job.cluster]
    wsum = w.sum(axis=0)
    tss = (w * t[:, None] ** 2).sum(axis=0) - (w * t[:, None]).sum(axis=0) ** 2 / wsum
    void = gram[:, it, it] <= 1e-9 * np.maximum(tss, np.finfo(float).tiny)
    return np.column_stack([coef_a[:, 0], coef_b[:, 1], coef_b[:, 0], coef_c[:, 0], void])


def _solve_blocks(gram: np.ndarray, lhs: int, rhs: Sequence[int]) -> np.ndarray:
    """Coefficients of column ``lhs`` on columns ``rhs`` for every draw (NaN if singular)."""
    rhs = list(rhs)
    A = gram[:, rhs][:, :, rhs]
    c = gram[:, rhs, lhs]
    try:
        return np.linalg.solve(A, c[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:
        out = np.full(c.shape, np.nan)
        for i in range(A.shape[0]):
            try:
                out[i] = np.linalg.solve(A[i], c[i])
            except np.linalg.LinAlgError:
                pass
        return out


# ---------------------------------------------------------------------- results
@dataclass(eq=False, repr=False)
class MediationPath(Result):
    """The three Baron–Kenny regressions and the tests of one mediator.

    Attributes
    ----------
    mediator
        Mediator column.
    total, first, second
        :class:`EstimationResult` of ``y ~ D`` (total effect c), ``M ~ D`` (a) and
        ``y ~ D + M`` (direct effect c' and b), all with the same controls, fixed effects,
        clustering and sample.
    a, se_a, b, se_b, c, se_c, c_prime, se_c_prime
        Path coefficients and their clustered standard errors.
    tests
        Sobel / Aroian / Goodman tests (:class:`TestSet`, see :func:`indirect_effect_tests`);
        one of them by name: :meth:`test`.
    boot
        DataFrame of bootstrap draws: columns ``a``, ``b``, ``c_prime``, ``c``, ``ab``.
    boot_weights, boot_clusters
        ``(G, B)`` draw counts of each cluster and the cluster labels (rows of the weights).
    ci_percentile, ci_bc
        Bootstrap intervals of ``a b`` at level ``1 - alpha``.
    seed
        Seed of the bootstrap draws.
    """

    mediator: str
    treat: str
    y: str
    total: EstimationResult
    first: EstimationResult
    second: EstimationResult
    tests: TestSet
    alpha: float
    boot: pd.DataFrame
    boot_weights: np.ndarray = field(repr=False)
    boot_clusters: np.ndarray = field(repr=False)
    ci_percentile: tuple[float, float] = (float("nan"), float("nan"))
    ci_bc: tuple[float, float] = (float("nan"), float("nan"))
    notes: list[str] = field(default_factory=list)
    seed: int = 0

    def test(self, name: str) -> TestResult:
        """The ``"sobel"``, ``"aroian"`` or ``"goodman"`` test of ``a b``."""
        return _test(self.tests, name)

    # -------------------------------------------------------------- path coefficients
    @property
    def a(self) -> float:
        return self.first.coef(self.treat)

    @property
    def se_a(self) -> float:
        return self.first.se(self.treat)

    @property
    def b(self) -> float:
        return self.second.coef(self.mediator)

    @property
    def se_b(self) -> float:
        return self.second.se(self.mediator)

    @property
    def c(self) -> float:
        return self.total.coef(self.treat)

    @property
    def se_c(self) -> float:
        return self.total.se(self.treat)

    @property
    def c_prime(self) -> float:
        return self.second.coef(self.treat)

    @property
    def se_c_prime(self) -> float:
        return self.second.se(self.treat)

    @property
    def indirect(self) -> float:
        """``a * b``."""
        return self.a * self.b

    @property
    def boot_se(self) -> float:
        """Standard deviation of the bootstrap draws of ``a b``."""
        d = self.boot["ab"].to_numpy()
        d = d[np.isfinite(d)]
        return float(d.std(ddof=1)) if d.size > 1 else float("nan")

    # -------------------------------------------------------------- ratios
    @property
    def share_total(self) -> float:
        """Proportion mediated ``a b / c`` (total effect from regression (1))."""
        return self.indirect / self.c if self.c != 0 else float("nan")

    @property
    def share_sum(self) -> float:
        """Proportion mediated ``a b / (a b + c')``; equals :attr:`share_total` on a common
        sample because ``c = c' + a b`` exactly in OLS."""
        den = self.indirect + self.c_prime
        return self.indirect / den if den != 0 else float("nan")

    @property
    def suppression(self) -> bool:
        """True for inconsistent mediation: ``a b`` and ``c'`` have opposite signs
        (MacKinnon, Krull & Lockwood 2000)."""
        return bool(self.indirect * self.c_prime < 0)

    @property
    def suppression_ratio(self) -> float:
        """``|a b / c'|``: the share of the direct effect that an opposite-signed indirect path
        cancels (reported as "the mediator suppresses X% of the effect").

        Under inconsistent mediation ``a b / c`` is not a proportion: it is negative or above
        one and explodes as ``c = c' + a b`` approaches zero. MacKinnon, Krull & Lockwood (2000)
        suggest the ratio of the indirect to the direct effect instead; its magnitude reads
        directly as the fraction of the direct effect offset by the mediator path, since
        ``|c| = |c'| (1 - |a b / c'|)`` when the two have opposite signs and ``|ab| < |c'|``.
        NaN when there is no suppression.
        """
        if not self.suppression:
            return float("nan")
        return abs(self.indirect / self.c_prime)

    def _indirect_significant(self) -> bool:
        lo, hi = self.ci_percentile
        if np.isfinite(lo) and np.isfinite(hi):
            return bool(lo > 0 or hi < 0)
        return bool(self.test("sobel").p_value < self.alpha)

    @property
    def kind(self) -> str:
        """Zhao, Lynch & Chen (2010) typology, with ``a b`` judged by the percentile bootstrap
        interval and ``c'`` by its clustered p-value at level ``alpha``."""
        ind = self._indirect_significant()
        direct = self.second.pvalue(self.treat) < self.alpha
        if ind and direct:
            return (
                "competitive (suppression)"
                if self.suppression
                else "complementary (partial mediation)"
            )
        if ind:
            return "indirect-only (full mediation)"
        if direct:
            return "direct-only (no mediation)"
        return "no effect"

    def suppression_text(self) -> str:
        """Plain-language suppression statement, or an empty string without suppression."""
        if not self.suppression:
            return ""
        pct = 100 * self.suppression_ratio
        return (
            f"{self.mediator} suppresses {pct:.1f}% of the effect: the indirect path a·b = "
            f"{self.indirect:.4g} has the opposite sign of the direct effect c' = {self.c_prime:.4g}, "
            f"so it offsets |ab/c'| = {pct:.1f}% of the direct effect and the total effect "
            f"c = c' + ab = {self.c:.4g} is smaller in magnitude than c' (inconsistent mediation, "
            "MacKinnon, Krull & Lockwood 2000)."
        )

    @property
    def results(self) -> list[EstimationResult]:
        """(1) y on the treatment, (2) the mediator on the treatment, (3) y on both."""
        return [self.total, self.first, self.second]

    def tidy(self) -> pd.DataFrame:
        """The paths ``c``, ``a``, ``b``, ``c_prime`` (from their regressions) and ``ab`` (Sobel SE,
        z and p; percentile bootstrap interval), with columns ``mediator`` and ``path``."""
        rows = []
        for path, res, term in (("c", self.total, self.treat), ("a", self.first, self.treat),
                                ("b", self.second, self.mediator), ("c_prime", self.second, self.treat)):
            r = res.tidy()
            rows.append(r[r["term"] == term].assign(term=f"{self.mediator}: {path}", mediator=self.mediator,
                                                    path=path))
        sobel = self.test("sobel")
        lo, hi = self.ci_percentile
        rows.append(pd.DataFrame([{
            "term": f"{self.mediator}: ab", "estimate": self.indirect, "std_error": sobel.details["se"],
            "statistic": sobel.statistic, "p_value": sobel.p_value, "ci_low": lo, "ci_high": hi,
            "mediator": self.mediator, "path": "ab",
        }]))
        return tidy_frame(pd.concat(rows, ignore_index=True))

    def _alone(self) -> MediationResult:
        """This mediator as a one-mediator :class:`MediationResult` (for its table and reading)."""
        controls = [c for c in self.second.meta.get("controls", []) if c != self.mediator]
        return MediationResult(y=self.y, treat=self.treat, controls=controls, paths={self.mediator: self},
                               n_draws=len(self.boot), seed=self.seed, alpha=self.alpha)

    def table(self, **kwargs: Any) -> Table:
        """The three-column block of :meth:`MediationResult.table` for this mediator."""
        return self._alone().table(**kwargs)

    def reading(self) -> str:
        return self._alone().reading()

    def summary(self) -> dict[str, Any]:
        """Paths, tests, bootstrap intervals and proportions (JSON-friendly)."""
        return {k: jsonable(v) for k, v in self._numbers().items()}

    def _numbers(self) -> dict[str, Any]:
        t = {k: self.test(k) for k in ("sobel", "aroian", "goodman")}
        return {
            "mediator": self.mediator,
            "c": self.c,
            "se_c": self.se_c,
            "a": self.a,
            "se_a": self.se_a,
            "b": self.b,
            "se_b": self.se_b,
            "c_prime": self.c_prime,
            "se_c_prime": self.se_c_prime,
            "ab": self.indirect,
            "sobel_z": t["sobel"].statistic,
            "sobel_p": t["sobel"].p_value,
            "aroian_z": t["aroian"].statistic,
            "aroian_p": t["aroian"].p_value,
            "goodman_z": t["goodman"].statistic,
            "goodman_p": t["goodman"].p_value,
            "boot_se": self.boot_se,
            "ci_low_percentile": self.ci_percentile[0],
            "ci_high_percentile": self.ci_percentile[1],
            "ci_low_bc": self.ci_bc[0],
            "ci_high_bc": self.ci_bc[1],
            "share_total": self.share_total,
            "share_sum": self.share_sum,
            "suppression": self.suppression,
            "suppression_ratio": self.suppression_ratio,
            "kind": self.kind,
            "n_obs": self.total.n_obs,
        }


@dataclass(eq=False)
class MediationResult(Result):
    """Mediation analysis of one treatment on one outcome through one or more mediators."""

    y: str
    treat: str
    controls: list[str]
    paths: dict[str, MediationPath]
    n_draws: int
    seed: int
    alpha: float
    notes: list[str] = field(default_factory=list)

    def __getitem__(self, mediator: str) -> MediationPath:
        if mediator not in self.paths:
            raise KeyError(f"no mediator '{mediator}'; mediators are {list(self.paths)}")
        return self.paths[mediator]

    @property
    def mediators(self) -> list[str]:
        return list(self.paths)

    def by_mediator(self) -> pd.DataFrame:
        """One row per mediator: paths, tests, bootstrap intervals, proportions."""
        return pd.DataFrame([p._numbers() for p in self.paths.values()])

    def summary(self) -> dict[str, Any]:
        """Outcome, treatment, bootstrap settings and one record per mediator (:meth:`by_mediator`)."""
        return {
            "y": self.y, "treat": self.treat, "n_draws": self.n_draws, "seed": self.seed,
            "alpha": self.alpha,
            "paths": [p.summary() for p in self.paths.values()],
        }

    def tidy(self) -> pd.DataFrame:
        """Per mediator the paths ``c``, ``a``, ``b``, ``c_prime`` (from their regressions) and
        ``ab`` (Sobel SE, z and p; percentile bootstrap interval), with columns ``mediator`` and
        ``path``."""
        return pd.concat([p.tidy() for p in self.paths.values()], ignore_index=True)

    @property
    def results(self) -> list[EstimationResult]:
        """The regressions in table order: for each mediator (1) y, (2) M, (3) y with M."""
        return [r for p in self.paths.values() for r in p.results]

    def table(
        self,
        *,
        labels: dict[str, str] | None = None,
        keep: Sequence[str] | None = None,
        digits: int = 4,
        stat: str = "t",
        title: str | None = None,
    ) -> Table:
        """Seed-002-style mechanism table: three columns per mediator ((1) y, (2) M,
        (3) y with M) with rows for the treatment and mediators, then Sobel / Aroian /
        Goodman z (in the third column of each block), the bootstrap interval of ``a b`` and
        the proportion mediated."""
        labels = dict(labels or {})
        results = self.results
        keep = list(keep) if keep is not None else [self.treat, *self.mediators]
        blank3 = ["", ""]
        rows: dict[str, list[str]] = {"Controls": ["Yes" if self.controls else "No"] * len(results)}
        sobel, aroian, goodman, boot, share = [], [], [], [], []
        pct = f"{round(100 * (1 - self.alpha))}%"
        for p in self.paths.values():
            zc = lambda k, p=p: (  # noqa: E731
                fmt(p.test(k).statistic, 3) + stars(p.test(k).p_value)
                if np.isfinite(p.test(k).statistic) else "n/a"
            )
            sobel += [*blank3, zc("sobel")]
            aroian += [*blank3, zc("aroian")]
            goodman += [*blank3, zc("goodman")]
            lo, hi = p.ci_percentile
            boot += [*blank3, f"[{fmt(lo, digits)}, {fmt(hi, digits)}]"]
            if p.suppression:
                share += [*blank3, f"suppr. {fmt(100 * p.suppression_ratio, 1)}%"]
            else:
                share += [*blank3, f"{fmt(100 * p.share_total, 1)}%"]
        rows["Sobel-Z"] = sobel
        rows["Aroian-Z"] = aroian
        rows["Goodman-Z"] = goodman
        rows[f"Bootstrap {pct} CI of ab"] = boot
        rows["Proportion mediated (ab/c)"] = share
        notes = [
            f"Columns per mediator: (1) {self.y} on {self.treat}; (2) mediator on {self.treat}; "
            f"(3) {self.y} on {self.treat} and the mediator. Sobel/Aroian/Goodman z use the "
            "clustered SEs of a and b (normal p-values). Bootstrap: percentile interval from "
            f"{self.n_draws} cluster-bootstrap draws (seed {self.seed}). Under suppression (ab and "
            "c' of opposite signs) the last row shows |ab/c'|, the share of the direct effect "
            "offset by the mediator path.",
            *self.notes,
        ]
        for p in self.paths.values():
            notes += [n for n in p.notes if n not in notes]
        tab = regression_table(
            results,
            keep=keep,
            labels=labels,
            stat=stat,
            digits=digits,
            title=title
            or f"Mechanism analysis: mediation of the effect of {self.treat} on {self.y}",
            extra_rows=rows,
            notes=notes,
        )
        head = []
        for m in self.mediators:
            head += [labels.get(m, m), "", ""]
        tab.header_rows.insert(0, head)
        return tab

    def reading(self) -> str:
        """Plain-language reading of the results: what the stepwise test shows, with the
        numbers, and what it does not identify."""
        pct = f"{round(100 * (1 - self.alpha))}%"
        parts = []
        for p in self.paths.values():
            sobel = p.test("sobel")
            lo, hi = p.ci_percentile
            blo, bhi = p.ci_bc
            s = (
                f"Mediator {p.mediator} (N = {p.total.n_obs}). "
                f"Step 1: {self.treat} changes {self.y} by c = {p.c:.4g} (clustered SE {p.se_c:.3g}, "
                f"p = {p.total.pvalue(self.treat):.3g}). "
                f"Step 2: {self.treat} changes {p.mediator} by a = {p.a:.4g} (SE {p.se_a:.3g}, "
                f"p = {p.first.pvalue(self.treat):.3g}). "
                f"Step 3: holding {p.mediator} fixed, b = {p.b:.4g} (SE {p.se_b:.3g}) and the direct "
                f"effect is c' = {p.c_prime:.4g} (SE {p.se_c_prime:.3g}). "
                f"Indirect effect ab = {p.indirect:.4g}: Sobel z = {sobel.statistic:.3f} "
                f"(p = {sobel.p_value:.3g}); cluster-bootstrap {pct} interval "
                f"[{lo:.4g}, {hi:.4g}] (percentile), [{blo:.4g}, {bhi:.4g}] (bias-corrected). "
            )
            if p.suppression:
                s += p.suppression_text() + " "
            else:
                s += f"Proportion mediated ab/c = {100 * p.share_total:.1f}%. "
            s += f"Pattern: {p.kind}."
            parts.append(s)
        parts.append(
            "What this identifies. Under the design's identifying assumption (parallel trends, "
            f"no anticipation) the regressions of {self.y} and of each mediator on {self.treat} "
            "estimate causal effects of the policy: c on the outcome and a on the mediator. "
            "What it does not. The mediator is not randomised, so b - the association of the "
            "mediator with the outcome holding the policy fixed - is not causally identified: any "
            "unobserved factor (including other channels of the same policy) that moves both the "
            "mediator and the outcome biases b, and with it ab, c' and the proportion mediated. "
            "The stepwise (Baron-Kenny) test and the Sobel test are widely criticised on these "
            "grounds (Jiang Ting 2022, China Industrial Economics; Imai, Keele & Tingley 2010; "
            "Bullock, Green & Ha 2010). Recommended reading: take the policy -> mediator effect a "
            "on its own as the mechanism evidence, argue the mediator -> outcome link from theory "
            "and prior causal evidence, and treat ab and the proportion mediated as descriptive "
            "decompositions. Prefer the bootstrap interval of ab to the normal-theory z tests, "
            "which ignore the skewness of a product of estimates (MacKinnon et al. 2002, 2004)."
        )
        return "\n\n".join(parts)

    def __repr__(self) -> str:
        return self.table().to_text()


# ---------------------------------------------------------------------- estimation
def _resolve(panel: Panel, fe, cluster) -> tuple[list[str], str | None]:
    fe_l = [panel.unit, panel.time] if fe is None else _as_list(fe)
    fe_l = [panel.unit if f == "unit" else panel.time if f == "time" else f for f in fe_l]
    clus = panel.unit if cluster == "unit" else cluster
    return fe_l, clus


def _check_mediator(
    df: pd.DataFrame, y: str, treat: str, m: str, fe_codes: list[np.ndarray], unit: str
) -> None:
    """Degenerate mediators: the outcome itself, constant, or absorbed by the fixed effects."""
    v = df[m].to_numpy(float)
    if np.array_equal(v, df[y].to_numpy(float)):
        raise EstimationError(
            f"mediator '{m}' is identical to the outcome '{y}' (same value in every row used); "
            "a variable cannot mediate its own effect"
        )
    if np.array_equal(v, df[treat].to_numpy(float)):
        raise EstimationError(f"mediator '{m}' is identical to the treatment '{treat}'")
    if np.nanmax(v) == np.nanmin(v):
        raise EstimationError(
            f"mediator '{m}' has no variation: it equals {v[0]:g} in every row used"
        )
    if fe_codes:
        r = FixedEffects(fe_codes).demean(v)
        if np.linalg.norm(r) <= 1e-9 * np.linalg.norm(v - v.mean()):
            raise EstimationError(
                f"mediator '{m}' has no variation left after the fixed effects (e.g. it is "
                f"constant within each {unit}); its effect is absorbed and b cannot be estimated"
            )


def mediation(
    panel: Panel,
    y: str,
    treat: str,
    mediators: str | Sequence[str],
    controls: str | Sequence[str] = (),
    *,
    fe: str | Sequence[str] | None = None,
    cluster: str | None = "unit",
    n_draws: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    backend: Any = None,
    scheduler: str | None = None,
    n_workers: int | None = None,
    chunk_size: int | None = None,
) -> MediationResult:
    """Baron–Kenny mediation analysis with Sobel–Goodman tests and a cluster bootstrap.

    For each mediator ``M`` three TWFE regressions are fitted with :func:`~climetrics.twfe`
    on the rows where ``y``, ``treat``, ``M`` and the controls are all observed (so that
    ``c = c' + a b`` holds exactly): ``y ~ treat`` (c), ``M ~ treat`` (a) and
    ``y ~ treat + M`` (c', b), each with ``controls``, fixed effects ``fe`` and standard errors
    clustered by ``cluster``.

    Parameters
    ----------
    panel
        The data.
    y, treat
        Outcome and treatment (e.g. the DID dummy).
    mediators
        One or several mediator columns; each is analysed separately (one column block each
        in :meth:`MediationResult.table`).
    controls
        Control variables, used in all three regressions.
    fe, cluster
        As in :func:`~climetrics.twfe` (default unit and time FE, clustered by unit;
        ``cluster=None``: heteroskedasticity-robust standard errors). The bootstrap resamples
        the clusters (units when ``cluster`` is None, so each unit's time series stays intact).
    n_draws
        Number of cluster-bootstrap draws of ``a b`` (0 to skip the bootstrap).
    seed
        Seed of the bootstrap draws (the same seed gives the same draws for every mediator
        that uses the same sample).
    alpha
        The bootstrap intervals have level ``1 - alpha``; ``alpha`` is also the level of the
        Sobel / Aroian / Goodman decisions and of the judgements in :attr:`MediationPath.kind`.
    backend, scheduler, n_workers, chunk_size
        Where the bootstrap draws run (:mod:`climetrics.core.replicate`): ``"serial"`` (default),
        ``"processes"`` or ``"dask"`` (``scheduler="tcp://host:port"``), ``chunk_size`` draws
        per task. Every draw has its own random stream, so the draws are the same on every
        backend.

    Returns
    -------
    MediationResult

    Raises
    ------
    EstimationError
        If a mediator is the outcome, the treatment, has no variation or is absorbed by the
        fixed effects, or is collinear with the treatment.

    References
    ----------
    Baron & Kenny (1986); Sobel (1982); MacKinnon, Krull & Lockwood (2000); MacKinnon et al.
    (2002); Efron (1987). See the module docstring.
    """
    meds = _as_list(mediators)
    ctrl = _as_list(controls)
    if not meds:
        raise EstimationError("mediation needs at least one mediator")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    if n_draws < 0:
        raise ValueError(f"n_draws must be >= 0, got {n_draws}")
    for m in meds:
        if m == y:
            raise EstimationError(
                f"mediator '{m}' is the outcome itself; a variable cannot mediate its own effect"
            )
        if m == treat:
            raise EstimationError(f"mediator '{m}' is the treatment itself")
        if m in ctrl:
            raise PanelError(f"mediator '{m}' also appears among the controls")
    if len(set(meds)) != len(meds):
        raise PanelError(f"mediators are listed twice: {meds}")
    fe_l, clus = _resolve(panel, fe, cluster)
    panel.require([y, treat, *meds, *ctrl], context="mediation")
    panel.require(
        list(dict.fromkeys(fe_l + ([clus] if clus else []))), numeric=False, context="mediation"
    )

    paths: dict[str, MediationPath] = {}
    notes: list[str] = []
    n_used = {}
    for m in meds:
        where = {
            "backend": backend,
            "scheduler": scheduler,
            "n_workers": n_workers,
            "chunk_size": chunk_size,
        }
        paths[m] = _one_mediator(panel, y, treat, m, ctrl, fe_l, clus, n_draws, seed, alpha, where)
        n_used[m] = paths[m].total.n_obs
    if len(set(n_used.values())) > 1:
        notes.append(
            "Samples differ across mediators (rows with a missing mediator are dropped for that "
            "mediator only): " + ", ".join(f"{k}: N={v}" for k, v in n_used.items()) + "."
        )
    return MediationResult(
        y=y, treat=treat, controls=ctrl, paths=paths, n_draws=n_draws, seed=seed, alpha=alpha, notes=notes
    )


def _one_mediator(
    panel: Panel,
    y: str,
    treat: str,
    m: str,
    ctrl: list[str],
    fe_l: list[str],
    clus: str | None,
    n_draws: int,
    seed: int,
    alpha: float,
    where: dict[str, Any],
) -> MediationPath:
    df = panel.df
    cols = list(dict.fromkeys([y, treat, m, *ctrl, *fe_l, *([clus] if clus else [])]))
    complete = df[cols].notna().all(axis=1).to_numpy()
    notes: list[str] = []
    sub = panel
    if not complete.all():
        notes.append(f"{int((~complete).sum())} rows with missing values dropped for mediator {m}.")
        sub = panel.subset(complete, note=f"mediation sample ({m})")
    sdf = sub.df
    fe_codes = [pd.factorize(sdf[f], sort=True)[0] for f in fe_l]
    keep = ~find_singletons(fe_codes) if fe_codes else np.ones(len(sdf), bool)
    if not keep.all():
        sub = sub.subset(keep, note="drop singletons")
        sdf = sub.df
        fe_codes = [pd.factorize(sdf[f], sort=True)[0] for f in fe_l]
    _check_mediator(sdf, y, treat, m, fe_codes, panel.unit)

    kw = dict(fe=fe_l, cluster=clus)
    total = twfe(sub, y, treat, ctrl, **kw)
    first = twfe(sub, m, treat, ctrl, **kw)
    second = twfe(sub, y, treat, [m, *ctrl], **kw)
    if m not in second.terms:
        raise EstimationError(
            f"mediator '{m}' is collinear with the treatment '{treat}' and the fixed effects; "
            "b and the direct effect cannot be separated"
        )
    for r, lab in ((total, f"{y} (total)"), (first, m), (second, f"{y} (with {m})")):
        r.label = lab
    if not (total.n_obs == first.n_obs == second.n_obs == len(sdf)):
        raise EstimationError(  # pragma: no cover - defensive
            f"the three mediation regressions for '{m}' used different samples "
            f"({total.n_obs}, {first.n_obs}, {second.n_obs} rows)"
        )
    tests = indirect_effect_tests(first.coef(treat), first.se(treat), second.coef(m), second.se(m),
                                  alpha=alpha)
    if not np.isfinite(_test(tests, "goodman").statistic):
        notes.append(
            f"Goodman test undefined for {m}: its variance b²s_a² + a²s_b² - s_a²s_b² is not "
            "positive (both a and b are estimated very imprecisely)."
        )

    # ------------------------------------------------------------ cluster bootstrap
    boot_key = clus or panel.unit
    clusters, ccodes = np.unique(sdf[boot_key].to_numpy(), return_inverse=True)
    g = clusters.size
    weights = cluster_bootstrap_weights(g, seed, np.arange(n_draws))
    boot = pd.DataFrame(columns=["a", "b", "c_prime", "c", "ab"], dtype=float)
    ci_p = ci_bc = (float("nan"), float("nan"))
    if n_draws:
        from ...core.replicate import map_replicates

        ctrl_a = list(first.meta["controls"])
        ctrl_b = [c for c in second.meta["controls"] if c != m]
        ctrl_c = list(total.meta["controls"])
        names = list(dict.fromkeys([y, m, treat, *ctrl_a, *ctrl_b, *ctrl_c]))
        pos = {c: i for i, c in enumerate(names)}
        V = sdf[names].to_numpy(float)
        job = MediationBootstrapJob(
            V,
            fe_codes,
            ccodes.ravel(),
            g,
            seed,
            pos[y],
            pos[m],
            pos[treat],
            [pos[c] for c in ctrl_a],
            [pos[c] for c in ctrl_b],
            [pos[c] for c in ctrl_c],
        )
        out = map_replicates(
            mediation_bootstrap_kernel,
            n_draws,
            job,
            default_chunk=_default_chunk(*V.shape),
            label="mediation bootstrap draws",
            **where,
        )
        void = out[:, 4] > 0
        boot = pd.DataFrame(out[:, :4], columns=["a", "b", "c_prime", "c"])
        boot.loc[void, :] = np.nan
        boot["ab"] = boot["a"] * boot["b"]
        n_void = int(boot["ab"].isna().sum())
        if n_void:
            notes.append(
                f"{n_void} of {n_draws} bootstrap draws for {m} were degenerate (no treatment "
                "variation or singular design) and are excluded from the intervals."
            )
        ab_hat = first.coef(treat) * second.coef(m)
        ci_p = percentile_ci(boot["ab"].to_numpy(), alpha)
        ci_bc = bias_corrected_ci(boot["ab"].to_numpy(), ab_hat, alpha)
    return MediationPath(
        mediator=m,
        treat=treat,
        y=y,
        total=total,
        first=first,
        second=second,
        tests=tests,
        alpha=alpha,
        boot=boot,
        boot_weights=weights,
        boot_clusters=clusters,
        ci_percentile=ci_p,
        ci_bc=ci_bc,
        notes=notes,
        seed=seed,
    )

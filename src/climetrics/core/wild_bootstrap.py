"""Wild cluster bootstrap (WCR / WCU) for coefficients of fixed-effects regressions.

With few clusters, or few treated clusters, cluster-robust (CRV1) t-tests over-reject
(Cameron, Gelbach & Miller 2008; MacKinnon & Webb 2017). The wild cluster bootstrap compares the
observed t-statistic of ``H0: beta_d = h0`` in

    y = d beta_d + X gamma + F alpha + u          (F: fixed-effect dummies)

with the t-statistics of bootstrap samples ``y*_b = W b~ + (u~ o v_b)``, where ``W = [d, X, F]``,
``b~`` and ``u~`` are the restricted (``beta_d = h0``; WCR) or unrestricted (WCU) estimates and
residuals, and every observation of cluster ``g`` is multiplied by the same weight ``v_bg``
(Rademacher ``+-1``, or Webb's six points ``+-sqrt(1/2), +-1, +-sqrt(3/2)``; Webb 2023).

Fast formulation (MacKinnon, Nielsen & Webb 2023, "fast and reliable"; Roodman et al. 2019).
Let ``d* = M_[X,F] d`` (FWL), ``S = d*'d*`` and ``u~`` the bootstrap residuals. Then

    beta*_b - b~_d  = sum_h v_bh a_h / S,            a_h = sum_{i in h} d*_i u~_i,
    se*_b^2         = c * sum_g (sum_h K_gh v_bh)^2 / S^2,
    K_gh            = sum_{i in g} d*_i [M_W (u~ 1_h)]_i,

because the bootstrap residuals are ``M_W (u~ o v_b) = sum_h v_bh M_W (u~ 1_h)``. ``K`` is a
``(G, G)`` matrix computed once from one within transformation of the ``(n, G)`` matrix with
columns ``d* 1_g`` (``K_gh = sum_{i in h} [M_W (d* 1_g)]_i u~_i``, ``M_W`` symmetric); the fixed
effects are absorbed by :class:`climetrics.core.demean.FixedEffects`, and the result equals the
bootstrap with explicit dummy columns. All draws then cost ``O(G^2 B)``: ``t*_b = a'v_b /
sqrt(c ||K v_b||^2)``, computed for a block of draws as matrix products with the ``(G, block)``
weight matrix on the replicate engine (:func:`climetrics.core.replicate.map_replicates`; the
draws ``256 r .. 256 r + 255`` take their weights from the stream ``replicate_rng(seed, r)``, so
they do not depend on the backend or its chunking).

The restricted residuals are linear in the null value, ``u~(h0) = M_[X,F] y - h0 d*``, so
``a(h0)`` and ``K(h0)`` are linear in ``h0`` and each draw keeps five numbers (``a_y'v, a_d'v``
and the three inner products of ``K_y v`` and ``K_d v``); the bootstrap p-value at any ``h0``
then costs ``O(B)``, and the confidence interval is found by test inversion: bisection on
``p(h0) = alpha`` on each side of the estimate (MacKinnon 2015; Roodman et al. 2019, sec. 3.5),
with the same draws for every ``h0``.

With Rademacher weights and ``2^G <= n_draws`` every sign vector is used once (full enumeration,
``B = 2^G``), so the p-value is exact and needs no seed.

p-values: symmetric ``p = #{|t*_b| > |t|} / B`` or equal-tailed
``p = 2 min(#{t*_b > t}, #{t*_b < t}) / B`` (MacKinnon 2015); a draw whose ``|t*_b|`` equals
``|t|`` up to a relative ``1e-9`` counts as not exceeding it (this makes full enumeration, whose
draws ``v = +-1`` reproduce ``t`` exactly under WCR, independent of rounding).

References
----------
Cameron, A. C., Gelbach, J. B. and Miller, D. L. (2008). Bootstrap-based improvements for
inference with clustered errors. *Review of Economics and Statistics* 90(3), 414-427.

MacKinnon, J. G. (2015). Wild cluster bootstrap confidence intervals. *L'Actualite economique*
91(1-2), 11-33.

MacKinnon, J. G. and Webb, M. D. (2017). Wild bootstrap inference for wildly different cluster
sizes. *Journal of Applied Econometrics* 32(2), 233-254.

MacKinnon, J. G., Nielsen, M. O. and Webb, M. D. (2023). Fast and reliable jackknife and
bootstrap methods for cluster-robust inference. *Journal of Applied Econometrics* 38(5), 671-694.

Roodman, D., MacKinnon, J. G., Nielsen, M. O. and Webb, M. D. (2019). Fast and wild: bootstrap
inference in Stata using boottest. *Stata Journal* 19(1), 4-60.

Webb, M. D. (2023). Reworking wild bootstrap-based inference for clustered errors. *Canadian
Journal of Economics* 56(3), 839-858.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import ConfigError, EstimationError
from .covariance import SmallSampleCorrection
from .demean import FixedEffects, find_singletons
from .replicate import map_replicates, replicate_rng
from .results import EstimationResult, Result, jsonable, tidy_frame

if TYPE_CHECKING:
    from ..report.tables import Table

__all__ = [
    "FEW_CLUSTERS",
    "FEW_TREATED_CLUSTERS",
    "WEBB_CLUSTERS",
    "WildBootstrapResult",
    "WildOptions",
    "WildTest",
    "apply_wild",
    "few_clusters_notes",
    "needs_wild",
    "treated_clusters",
    "wild_bootstrap_test",
    "wild_reading",
]

#: Below this many clusters analytic CRV1 inference is unreliable (Cameron, Gelbach & Miller
#: 2008; Cameron & Miller 2015, sec. VI): ``inference="auto"`` switches to the bootstrap.
FEW_CLUSTERS = 50
#: Below this many treated clusters CRV1 t-tests over-reject badly (MacKinnon & Webb 2017).
FEW_TREATED_CLUSTERS = 10
#: Up to this many clusters the study prefers Webb's six-point weights: Rademacher weights give
#: only ``2^G`` distinct draws and hence coarse p-values (Webb 2023; Roodman et al. 2019).
WEBB_CLUSTERS = 12

WEIGHTS = {
    "rademacher": np.array([-1.0, 1.0]),
    "webb": np.array([-math.sqrt(1.5), -1.0, -math.sqrt(0.5), math.sqrt(0.5), 1.0, math.sqrt(1.5)]),
}
P_TYPES = ("symmetric", "equal-tailed")
#: Relative tolerance under which ``|t*_b|`` and ``|t|`` count as tied (not exceeding).
_TIE = 1e-9
#: Bytes of one ``(n, block)`` float block when forming ``K`` (bounds memory for large G).
_BLOCK_BYTES = 32 * 2**20


@dataclass(frozen=True)
class WildOptions:
    """Settings of the wild cluster bootstrap.

    Attributes
    ----------
    n_draws
        Bootstrap draws ``B`` (9,999 by default, so that ``alpha (B + 1)`` is an integer at the
        usual levels; MacKinnon 2015). Rademacher weights with ``2^G <= n_draws`` enumerate all
        ``2^G`` sign vectors instead.
    weights_type
        ``"rademacher"`` or ``"webb"`` (six points; better with fewer than about 12 clusters,
        where Rademacher weights allow only ``2^G`` distinct draws; Webb 2023).
    impose_null
        True: WCR (restricted residuals, the recommended variant); False: WCU.
    p_type
        ``"symmetric"`` or ``"equal-tailed"``.
    seed, alpha, null
        Seed of the draws, level of the test-inverted interval, null value ``h0`` of the test.
    backend
        Replicate backend (see :func:`climetrics.core.replicate.resolve_backend`).
    """

    n_draws: int = 9999
    weights_type: str = "rademacher"
    impose_null: bool = True
    p_type: str = "symmetric"
    seed: int = 0
    alpha: float = 0.05
    null: float = 0.0
    backend: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.n_draws, int | np.integer) or self.n_draws < 99:
            raise ConfigError(f"n_draws of the wild bootstrap must be an integer >= 99, got {self.n_draws!r}")
        if self.weights_type not in WEIGHTS:
            raise ConfigError(f"weights_type must be one of {tuple(WEIGHTS)}, got {self.weights_type!r}")
        if self.p_type not in P_TYPES:
            raise ConfigError(f"p_type must be one of {P_TYPES}, got {self.p_type!r}")
        if not 0 < self.alpha < 1:
            raise ConfigError(f"alpha must lie in (0, 1), got {self.alpha!r}")

    @property
    def method(self) -> str:
        """``"WCR"`` (null imposed) or ``"WCU"``."""
        return "WCR" if self.impose_null else "WCU"


@dataclass(frozen=True)
class WildTest:
    """Wild cluster bootstrap test and test-inverted interval of one coefficient.

    ``std_error`` and ``statistic`` are the analytic CRV1 ones (the bootstrap replaces the
    reference distribution of ``statistic``, not the statistic); ``p_value``, ``ci_low`` and
    ``ci_high`` come from the bootstrap; ``p_value_analytic`` is the t(G - 1) p-value of
    ``statistic``. ``t_boot`` holds the bootstrap t-statistics at ``null``.
    """

    term: str
    estimate: float
    std_error: float
    statistic: float
    p_value: float
    ci_low: float
    ci_high: float
    n_draws: int
    enumerated: bool
    n_clusters: int
    n_treated_clusters: int | None
    options: WildOptions
    p_value_analytic: float
    t_boot: np.ndarray = field(repr=False)

    @property
    def method(self) -> str:
        return self.options.method

    def describe(self) -> str:
        """``'WCR wild cluster bootstrap, Rademacher weights, all 512 sign vectors'`` etc."""
        draws = (
            f"all {self.n_draws:,} sign vectors enumerated" if self.enumerated
            else f"{self.n_draws:,} draws"
        )
        return (f"{self.method} wild cluster bootstrap ({self.options.weights_type.capitalize()} "
                f"weights, {draws}, {self.options.p_type} p-value)")


# ----------------------------------------------------------------------------- engine
@dataclass(frozen=True)
class _TermDesign:
    """What the draws of one coefficient need (see the module docstring)."""

    term: str
    beta: float
    se: float
    c: float  # CRV1 small-sample factor
    a_y: np.ndarray  # (G,)
    a_d: np.ndarray  # (G,)
    K_y: np.ndarray  # (G, G)
    K_d: np.ndarray  # (G, G)


#: Draws per random stream: replicate ``r`` of the engine is the block of draws
#: ``r * _STREAM_BLOCK ..`` whose weights come from the stream ``replicate_rng(seed, r)``. A fixed
#: block (not the backend's chunk) keeps the draws independent of the backend and chunking while
#: paying for one stream per 256 draws instead of one per draw.
_STREAM_BLOCK = 256


@dataclass(frozen=True)
class _Shared:
    """Data of the draw kernel (picklable, sent to each worker once)."""

    n_clusters: int
    n_draws: int
    values: np.ndarray  # support of the weights
    enumerate: bool
    seed: int
    a: np.ndarray  # (2, T, G): a_y, a_d
    K: np.ndarray  # (2, T, G, G): K_y, K_d


def _weights(block: int, shared: _Shared) -> np.ndarray:
    """``(G, _STREAM_BLOCK)`` weights of the draws of one block (columns past the last draw
    are zero and discarded by the caller).

    Full enumeration: draw ``b`` has ``v_g = 1 - 2 * bit_g(b)`` (draw 0 is all ones). Otherwise
    every weight is drawn uniformly from the support, column by column, from the block's stream.
    """
    G = shared.n_clusters
    draws = np.arange(block * _STREAM_BLOCK, (block + 1) * _STREAM_BLOCK)
    if shared.enumerate:
        bits = (draws[None, :] >> np.arange(G)[:, None]) & 1
        V = 1.0 - 2.0 * bits
    else:
        k = shared.values.size
        u = replicate_rng(shared.seed, block).random((_STREAM_BLOCK, G)).T
        V = shared.values[np.minimum((u * k).astype(np.intp), k - 1)]
    V[:, draws >= shared.n_draws] = 0.0
    return V


def _draw_kernel(indices: np.ndarray, shared: _Shared) -> np.ndarray:
    """Per block, draw and term: ``a_y'v, a_d'v, |K_y v|^2, (K_y v)'(K_d v), |K_d v|^2``
    -> (blocks, _STREAM_BLOCK, T, 5)."""
    return np.stack([_block_moments(_weights(int(b), shared), shared) for b in indices])


def _block_moments(V: np.ndarray, shared: _Shared) -> np.ndarray:
    """The five moments of every draw (column of ``V``) and term: (c, T, 5). The products with
    ``V`` are BLAS matrix products (``K`` is ``(2, T, G, G)``, ``a`` is ``(2, T, G)``)."""
    num = np.moveaxis(shared.a @ V, (0, 1, 2), (2, 1, 0))  # (c, T, 2)
    KV = shared.K @ V  # (2, T, G, c)
    quad = np.stack([
        np.einsum("tgc,tgc->ct", KV[0], KV[0]),
        np.einsum("tgc,tgc->ct", KV[0], KV[1]),
        np.einsum("tgc,tgc->ct", KV[1], KV[1]),
    ], axis=-1)
    return np.concatenate([num, quad], axis=-1)


def _t_boot(moments: np.ndarray, m: float, c: float) -> np.ndarray:
    """Bootstrap t-statistics from the per-draw moments ``(B, 5)`` with residuals at ``m``.

    A draw with zero bootstrap variance has ``t* = +-inf`` (it exceeds any observed t) or, when
    its numerator is zero too, ``t* = 0``."""
    ny, nd, qyy, qyd, qdd = moments.T
    den2 = np.maximum(c * (qyy - 2 * m * qyd + m * m * qdd), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (ny - m * nd) / np.sqrt(den2)
    return np.where(np.isnan(t), 0.0, t)  # 0/0 (no deviation, no variance) is no evidence


def _p_value(t_boot: np.ndarray, t: float, p_type: str) -> float:
    """Bootstrap p-value of the observed ``t`` (ties to ``_TIE`` count as not exceeding)."""
    B = t_boot.size
    if p_type == "symmetric":
        return float(np.sum(np.abs(t_boot) > abs(t) * (1 + _TIE) + _TIE) / B)
    above = np.sum(t_boot > t + _TIE * max(abs(t), 1.0))
    below = np.sum(t_boot < t - _TIE * max(abs(t), 1.0))
    return float(min(1.0, 2 * min(above, below) / B))


def _block_size(n: int) -> int:
    return max(1, _BLOCK_BYTES // (8 * max(n, 1)))


def _k_matrices(
    d_star: np.ndarray, y_dd: np.ndarray, fes: FixedEffects, q_full: np.ndarray,
    cluster: np.ndarray, summer: sp.csr_matrix, G: int, tol: float, maxiter: int,
) -> tuple[np.ndarray, np.ndarray]:
    """``K_y`` and ``K_d``: ``K_u[g, h] = sum_{i in h} [M_W (d* 1_g)]_i u_i`` for ``u = y_dd, d*``.

    ``M_W = M_{Z~} M_F`` with ``Z~`` the demeaned regressors (orthonormal basis ``q_full``).
    Computed for blocks of clusters ``g`` to bound memory at about ``_BLOCK_BYTES``.
    """
    n = d_star.size
    K_y = np.empty((G, G))
    K_d = np.empty((G, G))
    size = _block_size(n)
    rows = np.arange(n)
    for start in range(0, G, size):
        gs = np.arange(start, min(start + size, G))
        D = np.zeros((n, gs.size))
        inblock = (cluster >= start) & (cluster < start + gs.size)
        D[rows[inblock], cluster[inblock] - start] = d_star[inblock]
        MD = fes.demean(D, tol=tol, maxiter=maxiter)
        MD -= q_full @ (q_full.T @ MD)
        K_y[gs] = np.asarray(summer @ (MD * y_dd[:, None])).T
        K_d[gs] = np.asarray(summer @ (MD * d_star[:, None])).T
    return K_y, K_d


def _invert(p_of, est: float, se: float, alpha: float, crit: float) -> tuple[float, float]:
    """Endpoints where ``p(h0)`` crosses ``alpha`` on each side of ``est`` (bisection on the
    step function ``p``: the endpoint separates a ``h0`` with ``p >= alpha`` from one with
    ``p < alpha`` to a relative ``1e-10``). An endpoint with ``p >= alpha`` however far out is
    infinite (possible with very few treated clusters)."""
    if not (math.isfinite(se) and se > 0):
        return math.nan, math.nan
    ends = []
    for side in (-1.0, 1.0):
        inside, step = est, se * max(crit, 1.0)
        outside = est + side * step
        for _ in range(60):
            if p_of(outside) < alpha:
                break
            inside, step = outside, step * 2
            outside = est + side * step
        else:
            ends.append(side * math.inf)
            continue
        for _ in range(200):
            if abs(outside - inside) <= 1e-10 * max(se, abs(est)):
                break
            mid = 0.5 * (inside + outside)
            if p_of(mid) >= alpha:
                inside = mid
            else:
                outside = mid
        ends.append(0.5 * (inside + outside))
    return ends[0], ends[1]


def wild_bootstrap_test(
    y: np.ndarray,
    X: np.ndarray,
    names: Sequence[str],
    fe: Sequence[np.ndarray],
    cluster: np.ndarray,
    *,
    terms: Sequence[str] | None = None,
    options: WildOptions | None = None,
    ssc: SmallSampleCorrection | None = None,
    treated: dict[str, int | None] | None = None,
    drop_singletons: bool = True,
    tol: float = 1e-12,
    maxiter: int = 10_000,
) -> list[WildTest]:
    """Wild cluster bootstrap tests of ``H0: beta_term = null`` in ``y ~ X | fe``, one per term.

    Parameters
    ----------
    y, X
        Outcome ``(n,)`` and regressors ``(n, p)`` (complete rows; no constant: a model without
        fixed effects gets an intercept).
    names
        Names of the columns of ``X``.
    fe
        Fixed-effect code arrays (possibly empty).
    cluster
        Cluster codes ``(n,)`` (any integers).
    terms
        Columns to test (default: all), each with the same bootstrap draws.
    options
        :class:`WildOptions`.
    ssc
        CRV1 small-sample rule of the reported t-statistic (p-values do not depend on it).
    treated
        Number of treated clusters per term, carried into the result.
    drop_singletons
        Drop observations alone in a fixed-effect level (as pyfixest and fixest do).

    Returns
    -------
    list of WildTest

    Raises
    ------
    EstimationError
        Fewer than two clusters, or a term with no variation left after the fixed effects
        and the other regressors.
    """
    opts = options or WildOptions()
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float).reshape(y.size, -1)
    names = list(names)
    terms = list(names if terms is None else terms)
    unknown = [t for t in terms if t not in names]
    if unknown:
        raise EstimationError(f"term(s) {unknown} are not regressors of the model ({names})")
    cluster = np.unique(np.asarray(cluster), return_inverse=True)[1].ravel()
    fe = [np.asarray(f) for f in fe]
    if fe and drop_singletons:
        keep = ~find_singletons(fe)
        y, X, cluster, fe = y[keep], X[keep], cluster[keep], [f[keep] for f in fe]
        cluster = np.unique(cluster, return_inverse=True)[1].ravel()
    n, G = y.size, int(cluster.max()) + 1 if y.size else 0
    if G < 2:
        raise EstimationError(f"the wild cluster bootstrap needs at least two clusters, got {G}")
    fes = FixedEffects(fe if fe else [np.zeros(n, dtype=np.intp)])
    Z = fes.demean(X, tol=tol, maxiter=maxiter)
    yt = fes.demean(y, tol=tol, maxiter=maxiter)
    q_full = np.linalg.qr(Z)[0]
    rule = ssc or SmallSampleCorrection()
    df_k = rule.df_k(X.shape[1], fes.n_levels, fes.nested_in(cluster))
    c = rule.factor(n, df_k, G)
    summer = sp.csr_matrix((np.ones(n), (cluster, np.arange(n))), shape=(G, n))
    designs = []
    for term in terms:
        j = names.index(term)
        others = np.delete(Z, j, axis=1)
        q = np.linalg.qr(others)[0] if others.shape[1] else np.zeros((n, 0))
        d_star = Z[:, j] - q @ (q.T @ Z[:, j])
        y_dd = yt - q @ (q.T @ yt)
        S = float(d_star @ d_star)
        if S <= 1e-9 * float(np.sum((X[:, j] - X[:, j].mean()) ** 2)) or S == 0:
            raise EstimationError(
                f"'{term}' has no variation left after the fixed effects and the other regressors"
            )
        a_d = np.bincount(cluster, weights=d_star * d_star, minlength=G)
        a_y = np.bincount(cluster, weights=d_star * y_dd, minlength=G)
        beta = float(a_y.sum() / S)
        scores = a_y - beta * a_d  # cluster sums of d* u^
        se = math.sqrt(c * float(scores @ scores)) / S
        K_y, K_d = _k_matrices(d_star, y_dd, fes, q_full, cluster, summer, G, tol, maxiter)
        designs.append(_TermDesign(term, beta, se, c, a_y, a_d, K_y, K_d))
    enumerate_all = opts.weights_type == "rademacher" and G < 63 and 2**G <= opts.n_draws
    B = 2**G if enumerate_all else int(opts.n_draws)
    shared = _Shared(
        n_clusters=G, n_draws=B, values=WEIGHTS[opts.weights_type], enumerate=enumerate_all, seed=int(opts.seed),
        a=np.stack([np.stack([d.a_y for d in designs]), np.stack([d.a_d for d in designs])]),
        K=np.stack([np.stack([d.K_y for d in designs]), np.stack([d.K_d for d in designs])]),
    )
    n_blocks = -(-B // _STREAM_BLOCK)
    moments = map_replicates(_draw_kernel, n_blocks, shared, backend=opts.backend,
                             default_chunk=4, label="wild bootstrap draw blocks")
    moments = moments.reshape(n_blocks * _STREAM_BLOCK, len(designs), 5)[:B]
    from scipy import stats

    crit = float(stats.t(G - 1).ppf(1 - opts.alpha / 2))
    out = []
    for i, d in enumerate(designs):
        mom = moments[:, i, :]
        t_of = lambda h0, d=d: (d.beta - h0) / d.se  # noqa: E731 - observed t at h0
        if opts.impose_null:
            def p_of(h0, mom=mom, d=d, t_of=t_of):
                return _p_value(_t_boot(mom, h0, d.c), t_of(h0), opts.p_type)
            t_null = _t_boot(mom, opts.null, d.c)
        else:
            t_fixed = _t_boot(mom, d.beta, d.c)

            def p_of(h0, t_fixed=t_fixed, t_of=t_of):
                return _p_value(t_fixed, t_of(h0), opts.p_type)
            t_null = t_fixed
        low, high = _invert(p_of, d.beta, d.se, opts.alpha, crit)
        out.append(WildTest(
            term=d.term, estimate=d.beta, std_error=d.se, statistic=t_of(opts.null),
            p_value=p_of(opts.null), ci_low=low, ci_high=high, n_draws=B,
            enumerated=enumerate_all, n_clusters=G,
            n_treated_clusters=(treated or {}).get(d.term), options=opts,
            p_value_analytic=float(2 * stats.t(G - 1).sf(abs(t_of(opts.null)))), t_boot=t_null,
        ))
    return out


# ------------------------------------------------------------------ few-cluster rules
def treated_clusters(treat: np.ndarray, cluster: np.ndarray) -> int | None:
    """Clusters with at least one treated observation, for a 0/1 treatment (else None)."""
    v = np.asarray(treat, dtype=float)
    if not set(np.unique(v[np.isfinite(v)])) <= {0.0, 1.0}:
        return None
    return int(pd.Series(np.asarray(cluster)[v == 1]).nunique())


def needs_wild(n_clusters: int, n_treated: int | None) -> bool:
    """The ``inference="auto"`` rule: fewer than :data:`FEW_CLUSTERS` clusters or fewer than
    :data:`FEW_TREATED_CLUSTERS` treated clusters."""
    return n_clusters < FEW_CLUSTERS or (n_treated is not None and n_treated < FEW_TREATED_CLUSTERS)


def few_clusters_notes(n_clusters: int, n_treated: int | None, *, wild: bool) -> list[str]:
    """Caveats for few clusters or few treated clusters (empty when there is nothing to say).

    ``wild``: whether the p-values already come from the wild cluster bootstrap.
    """
    from .wording import count

    if n_treated == 1:
        return [
            "Only one cluster is treated: neither the cluster-robust nor the wild bootstrap "
            "p-value is reliable (the t-test over-rejects badly, the WCR bootstrap can hardly "
            "reject; MacKinnon & Webb 2017); read the randomization-inference (placebo) test instead."
        ]
    notes = []
    if n_treated is not None and n_treated < FEW_TREATED_CLUSTERS:
        notes.append(
            f"Only {count(n_treated, 'treated cluster')}: cluster-robust t-tests over-reject, and "
            "even wild bootstrap p-values can be unreliable (WCR tends to under-reject, WCU to "
            "over-reject; MacKinnon & Webb 2017)."
        )
    if n_clusters < FEW_CLUSTERS:
        notes.append(
            f"Only {count(n_clusters, 'cluster')} (fewer than {FEW_CLUSTERS}): analytic "
            "cluster-robust p-values over-reject (Cameron, Gelbach & Miller 2008)"
            + ("; p-values and intervals come from the wild cluster bootstrap." if wild
               else "; use the wild cluster bootstrap (inference='wild').")
        )
    return notes


def _warn(notes: list[str]) -> None:
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=4)


# ------------------------------------------------------------ estimation-result hook
def apply_wild(
    res: EstimationResult,
    df: pd.DataFrame,
    y: str,
    terms: Sequence[str],
    controls: Sequence[str],
    fe: Sequence[str],
    cluster: str | None,
    options: WildOptions,
    *,
    ssc: SmallSampleCorrection | None = None,
) -> EstimationResult:
    """Replace the p-values and intervals of ``terms`` in a fitted result with wild cluster
    bootstrap ones (the estimate, CRV1 SE and t stay), set ``vcov`` to ``"WCR"``/``"WCU"`` and
    say so in the notes; few-cluster caveats go to the notes and to a Python warning.

    ``df`` holds the complete rows the fit used (singletons are dropped here as in the fit).
    The tests are stored in ``res.meta["wild"]``.
    """
    if not cluster:
        raise EstimationError("the wild cluster bootstrap needs a cluster variable (cluster=None given)")
    treated = {t: treated_clusters(df[t].to_numpy(), df[cluster].to_numpy()) for t in terms}
    regs = [*terms, *[c for c in controls if c not in terms]]
    tests = wild_bootstrap_test(
        df[y].to_numpy(float), df[regs].to_numpy(float), regs,
        [pd.factorize(df[f], sort=True)[0] for f in fe], pd.factorize(df[cluster], sort=True)[0],
        terms=terms, options=options, ssc=ssc, treated=treated,
    )
    coefs = res.coefs.copy()
    for t in tests:
        row = coefs["term"] == t.term
        analytic = float(coefs.loc[row, "statistic"].iloc[0])
        if not math.isclose(analytic, t.statistic, rel_tol=1e-6, abs_tol=1e-9):
            raise EstimationError(
                f"internal check failed: bootstrap t of '{t.term}' ({t.statistic:.8g}) differs "
                f"from the fitted t ({analytic:.8g})"
            )
        coefs.loc[row, ["p_value", "ci_low", "ci_high"]] = [t.p_value, t.ci_low, t.ci_high]
    first = tests[0]
    shown = ", ".join(t.term for t in tests[:3]) + (", ..." if len(tests) > 3 else "")
    note = (f"p-values and {1 - options.alpha:.0%} confidence intervals (test inversion) of {shown}: "
            f"{first.describe()} with {first.n_clusters} clusters (Cameron, Gelbach & Miller 2008); "
            "standard errors and t are the analytic CRV1 ones.")
    treated_min = min((v for v in treated.values() if v is not None), default=None)
    caveats = few_clusters_notes(first.n_clusters, treated_min, wild=True)
    _warn(caveats)
    return replace(res, coefs=coefs, vcov=options.method, notes=[*res.notes, note, *caveats],
                   meta={**res.meta, "wild": tests})


# -------------------------------------------------------------------------- result
class WildBootstrapResult(Result):
    """Wild cluster bootstrap tests of one or more coefficients of a fitted regression.

    ``tests`` holds one :class:`WildTest` per coefficient; ``fit`` the regression (its key
    rows already carry the bootstrap p-values and intervals).
    """

    def __init__(self, tests: Sequence[WildTest], fit: EstimationResult):
        if not tests:
            raise ValueError("a WildBootstrapResult needs at least one test")
        self.tests = list(tests)
        self.fit = fit

    @property
    def results(self) -> list[EstimationResult]:
        return [self.fit]

    @property
    def notes(self) -> list[str]:
        return list(self.fit.notes)

    def test(self, term: str | None = None) -> WildTest:
        """The test of ``term`` (default: the first)."""
        if term is None:
            return self.tests[0]
        for t in self.tests:
            if t.term == term:
                return t
        raise KeyError(f"no wild bootstrap test of '{term}'; tested: {[t.term for t in self.tests]}")

    def tidy(self) -> pd.DataFrame:
        rows = pd.DataFrame([{
            "term": t.term, "estimate": t.estimate, "std_error": t.std_error,
            "statistic": t.statistic, "p_value": t.p_value, "ci_low": t.ci_low, "ci_high": t.ci_high,
            "p_value_analytic": t.p_value_analytic,
            "method": t.method, "weights_type": t.options.weights_type, "p_type": t.options.p_type,
            "n_draws": t.n_draws, "enumerated": t.enumerated, "n_clusters": t.n_clusters,
            "n_treated_clusters": t.n_treated_clusters, "null": t.options.null,
        } for t in self.tests])
        return tidy_frame(rows)

    def summary(self) -> dict[str, Any]:
        t = self.tests[0]
        return {
            "term": t.term, **{k: jsonable(getattr(t, k)) for k in
                               ("estimate", "std_error", "statistic", "p_value", "ci_low", "ci_high")},
            "p_value_analytic": jsonable(t.p_value_analytic),
            "method": t.method, "weights_type": t.options.weights_type, "n_draws": t.n_draws,
            "enumerated": t.enumerated, "n_clusters": t.n_clusters,
            "n_treated_clusters": t.n_treated_clusters, "null": t.options.null,
            "alpha": t.options.alpha,
        }

    def reading(self) -> str:
        return " ".join(wild_reading(t) for t in self.tests)

    def plot(self, term: str | None = None, *, bins: int = 60):
        """Histogram of the bootstrap t-statistics at the null with the observed ``+-t``."""
        from ..report.figures import _pyplot

        t = self.test(term)
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(6.4, 3.6))
        finite = t.t_boot[np.isfinite(t.t_boot)]
        ax.hist(finite, bins=bins, color="#9db4d3", edgecolor="white")
        for x in (t.statistic, -t.statistic) if t.options.p_type == "symmetric" else (t.statistic,):
            ax.axvline(x, color="#b22222", lw=1.2, ls="--" if x != t.statistic else "-")
        ax.set_xlabel(f"Bootstrap t of {t.term} under H0: {t.term} = {t.options.null:g}")
        ax.set_ylabel("Draws")
        ax.set_title(f"{t.method}, {t.n_clusters} clusters: p = {t.p_value:.3f}", fontsize=10)
        ax.spines[["top", "right"]].set_visible(False)
        return fig

    def table(self, *, digits: int = 4, title: str | None = None) -> Table:
        from ..report.tables import Table, fmt, stars

        level = f"{1 - self.tests[0].options.alpha:.0%}"
        rows = [[t.term, fmt(t.estimate, digits) + stars(t.p_value), fmt(t.statistic, 2),
                 fmt(t.p_value, 4), f"[{fmt(t.ci_low, digits)}, {fmt(t.ci_high, digits)}]",
                 fmt(t.p_value_analytic, 4)] for t in self.tests]
        return Table(columns=["Estimate", "t (CRV1)", "Bootstrap p", f"{level} CI (inverted)", "Analytic p"],
                     rows=rows, title=title or f"Wild cluster bootstrap: {self.fit.depvar}",
                     notes=list(self.fit.notes), stub="Term")


def wild_reading(t: WildTest) -> str:
    """One test in words: the bootstrap p-value and interval, and the analytic p it replaces."""
    from .wording import p_phrase, significance_phrase

    level = f"{1 - t.options.alpha:.0%}"
    text = (f"With {t.n_clusters} clusters, the {t.describe()} gives {p_phrase(t.p_value)} for "
            f"{t.term} = {t.options.null:g} ({significance_phrase(t.p_value)}) and a {level} "
            f"confidence interval of [{t.ci_low:.4g}, {t.ci_high:.4g}] by test inversion")
    if math.isfinite(t.p_value_analytic):
        text += f" (the analytic cluster-robust t-test gives {p_phrase(t.p_value_analytic)})"
    return text + "."

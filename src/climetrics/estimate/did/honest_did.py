"""Sensitivity of event-study conclusions to violations of parallel trends (HonestDiD).

Rambachan & Roth (2023, "A More Credible Approach to Parallel Trends", REStud) write the
event-study coefficients as ``beta = tau + delta``: ``tau`` the dynamic effects (zero before
adoption) and ``delta`` the difference in trends that parallel trends sets to zero. Instead of
assuming ``delta_post = 0`` they let ``delta`` lie in a set ``Delta`` disciplined by the
pre-period coefficients (``delta_pre = beta_pre`` is identified) and report confidence sets for
``theta = l' tau_post`` that are valid uniformly over ``Delta``:

* smoothness, ``Delta^SD(M)``: every second difference of the trend is at most ``M`` in
  absolute value, ``|(delta_{t+1} - delta_t) - (delta_t - delta_{t-1})| <= M`` (RR eq. 2.6);
  ``M = 0`` allows exactly linear differential trends, extrapolated from the pre-periods;
* relative magnitudes, ``Delta^RM(Mbar)``: every post-adoption first difference is at most
  ``Mbar`` times the largest pre-adoption one,
  ``|delta_{t+1} - delta_t| <= Mbar * max_{s<0} |delta_{s+1} - delta_s|`` for ``t >= 0``
  (RR eq. 2.5); ``Mbar = 0`` is exact parallel trends after adoption.

Periods are numbered as in RR: the reference period (event time -1 of the event study) is
``t = 0`` with ``delta_0 = 0``, pre-periods ``t = -T_pre..-1``, post-periods ``t = 1..T_post``.

Confidence sets
---------------
``"FLCI"`` (``Delta^SD`` only): the optimal fixed-length interval of Armstrong & Kolesár (2018,
2020) over affine estimators ``v' beta_hat`` with ``v_post = l`` (RR sec. 4.1). Its worst-case
bias over ``Delta^SD(M)`` is ``M ||mu||_1`` with ``mu`` the unique solution of
``(S E)' mu = v`` (``S E`` the second-difference map of the pre/post coefficients with
``delta_0 = 0``; finite only if ``v`` is orthogonal to linear trends); the half-length is
``h * cv_alpha(bias / h)``, ``cv_alpha(b)`` the ``1 - alpha`` quantile of ``|N(b, 1)|``,
minimised over the standard deviation ``h`` of the estimator.

``"Conditional"`` and ``"C-LF"``: the moment-inequality test of Andrews, Roth & Pakes (2023,
"Inference for Linear Conditional Moment Inequalities", REStud) inverted over ``theta``. For a
polyhedron ``Delta = {A delta <= d}`` and a hypothesised ``theta``, ``Y = A beta_hat - d`` must
satisfy ``E[Y - a theta - X xi] <= 0`` for some nuisance ``xi`` (the other post-period effects);
the statistic ``eta = min_{xi} max_j (Y - a theta - X xi)_j / sigma_j`` is a linear program, and
conditional on its optimal vertex it is a truncated normal (ARP sec. 3). ``"C-LF"`` is the
hybrid with a least-favourable first stage of size ``kappa = alpha / 10`` (ARP sec. 3.3). As in
the R package HonestDiD, only the moments involving post-period coefficients enter the test,
and ``Delta^RM`` is the union over the location ``s`` and sign of the largest pre-period
difference of polyhedra (RR footnote 9): a ``theta`` is in the set if any of them accepts it.
The accepted set of each polyhedron is taken to be an interval; its ends are found by bisection
to a precision of 1e-4 standard errors of ``l' beta_hat_post``.

The breakdown value is the smallest ``M`` (or ``Mbar``) at which the robust interval contains 0
(RR sec. 6): the grid is scanned and the crossing refined by bisection.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from ...core.results import EstimationResult, Result, jsonable, tidy_frame
from ...errors import EstimationError

if TYPE_CHECKING:
    from ...report.tables import Table

RESTRICTIONS = {"relative_magnitudes": "Delta^RM", "smoothness": "Delta^SD"}
_METHODS = {
    "smoothness": ("FLCI", "Conditional", "C-LF"),
    "relative_magnitudes": ("C-LF", "Conditional"),
}


# ----------------------------------------------------------------------------- restrictions
def _zero_insert(n_pre: int, n_post: int) -> np.ndarray:
    """``(n+1) x n`` map from (delta_pre, delta_post) to the full path with ``delta_0 = 0``."""
    return np.insert(np.eye(n_pre + n_post), n_pre, 0.0, axis=0)


def _differences(n_pre: int, n_post: int, order: int) -> np.ndarray:
    """First (``order=1``) or second differences of the full path, as a map from the ``n``
    coefficients (``delta_0 = 0`` inserted)."""
    full = np.diff(np.eye(n_pre + n_post + 1), n=order, axis=0)
    return full @ _zero_insert(n_pre, n_post)


def sd_polyhedron(n_pre: int, n_post: int, m: float) -> tuple[np.ndarray, np.ndarray]:
    """``Delta^SD(M) = {delta : -M <= D2 delta <= M}`` as ``A delta <= d``."""
    d2 = _differences(n_pre, n_post, 2)
    return np.vstack([d2, -d2]), np.full(2 * d2.shape[0], float(m))


def rm_polyhedra(n_pre: int, n_post: int, mbar: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """``Delta^RM(Mbar)`` as the union over (location ``s`` of the largest pre-period first
    difference, its sign) of ``{delta : |D1_t delta| <= c_t * sign * D1_s delta}`` with
    ``c_t = 1`` for pre-period differences and ``Mbar`` for post-period ones (RR footnote 9)."""
    d1 = _differences(n_pre, n_post, 1)  # rows: differences ending at t = -T_pre+1 .. T_post
    scale = np.r_[np.ones(n_pre), np.full(n_post, float(mbar))][:, None]
    out = []
    for s in range(n_pre):
        for sign in (1.0, -1.0):
            bound = scale * (sign * d1[s])[None, :]
            a = np.vstack([d1 - bound, -d1 - bound])
            a = a[np.abs(a).sum(1) > 1e-10]
            out.append((a, np.zeros(a.shape[0])))
    return out


# ----------------------------------------------------------------------------- ARP test
def _truncnorm_quantile(p: float, lo: float, hi: float) -> float:
    """``p`` quantile of N(0, 1) truncated to ``[lo, hi]``: ``Phi^-1(Phi(lo) + p (Phi(hi) -
    Phi(lo)))``, written with upper-tail probabilities when ``lo > 0`` to keep precision."""
    from scipy.special import ndtr, ndtri

    if not lo < hi:
        return lo
    if lo > 0:
        s_lo, s_hi = ndtr(-lo), ndtr(-hi)
        return float(-ndtri(s_lo - p * (s_lo - s_hi))) if s_lo > 0 else lo
    f_lo, f_hi = ndtr(lo), ndtr(hi)
    return float(ndtri(f_lo + p * (f_hi - f_lo)))


def _dual_vertices(w: np.ndarray, max_bases: int = 20000) -> np.ndarray | None:
    """Vertices of ``{lambda >= 0, W' lambda = e1}`` (rows of the result), enumerated over the
    bases of ``k + 1`` rows of ``W``; None when there are more than ``max_bases`` bases. Then
    ``eta(y) = max_lambda lambda' y`` for any ``y`` is one matrix product (LP duality)."""
    from itertools import combinations
    from math import comb

    m, k1 = w.shape
    if comb(m, k1) > max_bases:
        return None
    bases = np.array(list(combinations(range(m), k1)))
    wb = w[bases]  # (n_bases, k1, k1)
    ok = np.abs(np.linalg.det(wb)) > 1e-10
    bases, wb = bases[ok], wb[ok]
    e1 = np.zeros(k1)
    e1[0] = 1.0
    lam_b = np.linalg.solve(np.transpose(wb, (0, 2, 1)), np.broadcast_to(e1, (len(wb), k1))[..., None])[..., 0]
    feasible = np.all(lam_b >= -1e-10, axis=1)
    out = np.zeros((int(feasible.sum()), m))
    np.put_along_axis(out, bases[feasible], np.clip(lam_b[feasible], 0.0, None), axis=1)
    return out


def _sqrt_psd(s: np.ndarray) -> np.ndarray:
    """A factor ``L`` with ``L L' = s`` for a positive semi-definite ``s`` (eigen-decomposition,
    so singular covariances -- e.g. moments that are exact negatives -- are fine)."""
    w, u = np.linalg.eigh((s + s.T) / 2)
    return u * np.sqrt(np.clip(w, 0.0, None))


class _LP:
    """A small HiGHS model re-solved with changed row bounds or costs (simplex hot start)."""

    def __init__(self, a: np.ndarray, cost, col_lo, col_hi, row_lo, row_hi) -> None:
        from ...measure.dea import FrontierLP

        self.lp = FrontierLP(a, cost, col_lo, col_hi, row_lo, row_hi)
        self.rows = np.arange(a.shape[0], dtype=np.int32)
        self.cols = np.arange(a.shape[1], dtype=np.int32)

    def solve_rows(self, lo: np.ndarray, hi: np.ndarray, n: int):
        self.lp.set_rows(self.rows, lo, hi)
        return self.lp.solve(n)

    def solve_costs(self, cost: np.ndarray, n: int):
        self.lp.set_costs(self.cols, cost)
        return self.lp.solve(n)


class ArpTest:
    """The ARP conditional (or LF-hybrid) test of ``H0: theta`` for one polyhedron
    ``{A delta <= d}`` and ``theta = l' tau_post`` (ARP 2023 sec. 3; RR 2023 sec. 3.2)."""

    def __init__(self, a: np.ndarray, d: np.ndarray, beta: np.ndarray, sigma: np.ndarray,
                 l_vec: np.ndarray, n_pre: int, *, alpha: float, hybrid: bool,
                 n_draws: int, seed: int, post_moments_only: bool = True) -> None:
        n_post = len(l_vec)
        if post_moments_only and n_post > 1:
            rows = np.abs(a[:, n_pre:]).sum(1) > 0
            a, d = a[rows], d[rows]
        # theta and nuisance xi: tau_post = Gamma^{-1} (theta, xi), Gamma = [l'; unit rows]
        gamma = np.zeros((n_post, n_post))
        gamma[0] = l_vec
        keep = [i for i in range(n_post) if i != int(np.argmax(np.abs(l_vec)))]
        for r, i in enumerate(keep, start=1):
            gamma[r, i] = 1.0
        agi = a[:, n_pre:] @ np.linalg.inv(gamma)
        self.a_theta = agi[:, 0]
        self.x = agi[:, 1:]
        self.y0 = a @ beta - d
        self.sigma_y = a @ sigma @ a.T
        self.sd = np.sqrt(np.clip(np.diag(self.sigma_y), 0.0, None))
        if np.any(self.sd <= 0):
            keep_rows = self.sd > 0
            # moments with zero variance are deterministic; they are kept out of the test
            self.a_theta, self.x, self.y0 = self.a_theta[keep_rows], self.x[keep_rows], self.y0[keep_rows]
            self.sigma_y = self.sigma_y[np.ix_(keep_rows, keep_rows)]
            self.sd = self.sd[keep_rows]
        self.alpha, self.hybrid = alpha, hybrid
        self.kappa = alpha / 10 if hybrid else 0.0
        self.k = self.x.shape[1]
        m = len(self.sd)
        self.w = np.column_stack([self.sd, self.x])
        # the dual vertices make every step closed-form; LPs only when there are too many
        self.vertices = _dual_vertices(self.w) if self.k else np.diag(1.0 / self.sd)
        self._primal = self._dual = None
        if self.vertices is None:
            inf = np.full(m, np.inf)
            self._primal = _LP(self.w, np.r_[1.0, np.zeros(self.k)], np.full(self.k + 1, -np.inf),
                               np.full(self.k + 1, np.inf), -inf, inf)
        self.lf_cv = self._least_favourable_cv(n_draws, seed) if hybrid else np.inf

    # ------------------------------------------------------------------ pieces
    def _eta(self, y: np.ndarray) -> tuple[float, np.ndarray | None]:
        """``eta = min_{xi} max_j (y - X xi)_j / sd_j`` and an optimal dual vertex ``gamma``
        (``gamma >= 0``, ``gamma' sd = 1``, ``gamma' X = 0``; by LP duality
        ``eta = max_gamma gamma' y``); ``(-inf, None)`` if the program is unbounded."""
        if self.vertices is not None:
            if not len(self.vertices):
                return -np.inf, None
            vals = self.vertices @ y
            j = int(np.argmax(vals))
            return float(vals[j]), self.vertices[j]
        status, obj, _ = self._primal.solve_rows(y, np.full(len(y), np.inf), 0)
        if status != "optimal":
            return -np.inf, None
        lam = np.abs(self._primal.lp.row_duals())
        return float(obj), lam / float(lam @ self.sd)

    def _least_favourable_cv(self, n_draws: int, seed: int) -> float:
        """``1 - kappa`` quantile of ``eta`` when the moments are mean-zero normal (ARP sec. 3.3)."""
        rng = np.random.default_rng(seed)
        draws = rng.standard_normal((n_draws, len(self.sd))) @ _sqrt_psd(self.sigma_y).T
        if self.vertices is not None:
            etas = np.max(draws @ self.vertices.T, axis=1) if len(self.vertices) else np.full(n_draws, -np.inf)
        else:
            etas = np.array([self._eta(xi)[0] for xi in draws])
        return float(np.quantile(etas, 1 - self.kappa))

    def _dual_value(self, c_vec: np.ndarray) -> tuple[float, np.ndarray]:
        """``max lambda' c_vec`` over ``{lambda >= 0, W' lambda = e1}`` and its argmax."""
        m = len(self.sd)
        if self._dual is None:
            e1 = np.r_[1.0, np.zeros(self.k)]
            self._dual = _LP(self.w.T, np.zeros(m), np.zeros(m), np.full(m, np.inf), e1, e1)
        status, obj, lam = self._dual.solve_costs(-c_vec, m)
        if status != "optimal":
            raise EstimationError(f"HonestDiD: the ARP dual program could not be solved ({status})")
        return -obj, lam

    def _support(self, y: np.ndarray, eta: float, gam: np.ndarray, var: float) -> tuple[float, float]:
        """Truncation bounds ``[v_lo, v_up]`` of ``gamma' Y`` given the part of ``Y`` independent
        of it, ``s = Y - b gamma'Y`` with ``b = Sigma gamma / gamma' Sigma gamma`` (ARP sec. 3):
        the values ``c`` at which ``gamma`` stays optimal, i.e. ``max_lambda lambda'(s + b c) = c``
        over the dual vertices ``lambda``. Each vertex with ``lambda'b < 1`` gives
        ``c >= lambda's / (1 - lambda'b)`` and each with ``lambda'b > 1`` an upper bound. Without
        the vertex list the same ends are found by Newton steps on this convex piecewise-linear
        function, one dual LP per step."""
        b = self.sigma_y @ gam / var
        s = y - b * float(gam @ y)
        if self.vertices is not None:
            vs, vb = self.vertices @ s, self.vertices @ b
            low, high = vb < 1 - 1e-10, vb > 1 + 1e-10
            with np.errstate(divide="ignore"):
                vlo = np.max(vs[low] / (1 - vb[low]), initial=-np.inf)
                vup = np.min(vs[high] / (1 - vb[high]), initial=np.inf)
            return float(vlo), float(vup)
        tol = 1e-8 * max(1.0, abs(eta))
        scale = max(100.0, abs(eta) + 20.0 * math.sqrt(var))
        ends = []
        for start in (eta + scale, eta - scale):
            c = start
            for _ in range(100):
                val, lam = self._dual_value(s + b * c)
                if abs(val - c) <= tol:
                    break
                slope = float(lam @ b)
                if abs(1.0 - slope) < 1e-12:
                    break
                c = float(lam @ s) / (1.0 - slope)
            else:  # pragma: no cover - Newton on a piecewise-linear function ends in finitely many steps
                raise EstimationError("HonestDiD: the truncation bounds did not converge")
            ends.append(c if abs(c - start) > tol else (np.inf if start > eta else -np.inf))
        return ends[1], ends[0]

    # ------------------------------------------------------------------ the test
    def accepts(self, theta: float) -> bool:
        """Whether ``theta`` is not rejected at level ``alpha``: reject when ``eta`` exceeds the
        least-favourable critical value (hybrid first stage) or when ``eta / sd`` exceeds the
        ``1 - size`` quantile of N(0,1) truncated to the support given the conditioning event
        (``size = (alpha - kappa) / (1 - kappa)``; ARP sec. 3.2-3.3)."""
        y = self.y0 - self.a_theta * theta
        eta, gam = self._eta(y)
        if gam is None:
            return True
        if eta > self.lf_cv:  # first stage of the hybrid
            return False
        var = float(gam @ self.sigma_y @ gam)
        if var <= np.finfo(float).eps:
            return not eta > 0
        vlo, vup = self._support(y, eta, gam, var)
        sd_b = math.sqrt(var)
        zlo, zup = vlo / sd_b, min(vup, self.lf_cv) / sd_b
        t = eta / sd_b
        if not zlo <= t <= zup:
            return True
        size = (self.alpha - self.kappa) / (1 - self.kappa)
        return not t > max(0.0, _truncnorm_quantile(1 - size, zlo, zup))

    def seed_theta(self, lo: float, hi: float, n: int = 401) -> float | None:
        """The ``theta`` in ``[lo, hi]`` (on a grid of ``n`` points) with the smallest ``eta``:
        the value most compatible with the restriction, where the search for accepted values
        starts. ``eta(theta) = max_gamma gamma'(y0 - a theta)`` over the dual vertices."""
        grid = np.linspace(lo, hi, n)
        if self.vertices is not None:
            if not len(self.vertices):
                return None
            etas = np.max((self.vertices @ self.y0)[:, None]
                          - np.outer(self.vertices @ self.a_theta, grid), axis=0)
        else:
            etas = np.array([self._eta(self.y0 - self.a_theta * t)[0] for t in grid[::10]])
            grid = grid[::10]
        return float(grid[int(np.argmin(etas))])


def _accepted_interval(test: ArpTest, lo: float, hi: float, tol: float,
                       n_scan: int = 100) -> tuple[float, float] | None:
    """Ends of the accepted set of ``test`` within ``[lo, hi]``; None if no point is accepted.

    Usually the value with the smallest statistic is accepted and the accepted set is an
    interval around it, whose ends are found by bisection. If that value is rejected (the
    pre-period coefficients are hard to reconcile with the restriction and the accepted set can
    be scattered), ``n_scan`` grid points are tested and the hull of the accepted ones is
    refined by bisection, as HonestDiD reports the hull of its accepted grid points."""

    def edge(inside: float, outside: float) -> float:
        if test.accepts(outside):
            return outside
        while abs(outside - inside) > tol:
            mid = (inside + outside) / 2
            inside, outside = (mid, outside) if test.accepts(mid) else (inside, mid)
        return inside

    seed = test.seed_theta(lo, hi)
    if seed is not None and test.accepts(seed):
        return edge(seed, lo), edge(seed, hi)
    grid = np.linspace(lo, hi, n_scan)
    ok = np.flatnonzero([test.accepts(t) for t in grid])
    if not len(ok):
        return None
    first, last = ok[0], ok[-1]
    return (edge(grid[first], grid[first - 1]) if first > 0 else lo,
            edge(grid[last], grid[last + 1]) if last < n_scan - 1 else hi)


# ----------------------------------------------------------------------------- FLCI
def folded_normal_quantile(p: float, b: float) -> float:
    """``cv`` with ``P(|N(b, 1)| <= cv) = p``."""
    from scipy.optimize import brentq

    b = abs(b)
    if b == 0:
        return float(stats.norm.ppf((1 + p) / 2))
    f = lambda c: stats.norm.cdf(c - b) - stats.norm.cdf(-c - b) - p  # noqa: E731
    return float(brentq(f, b, b + 10.0, xtol=1e-12))


@dataclass
class _FlciProblem:
    """Affine estimators ``v' beta_hat`` with ``v = (w, l)`` unbiased for linear trends."""

    sigma: np.ndarray
    l_vec: np.ndarray
    n_pre: int

    def __post_init__(self) -> None:
        n_pre, n_post = self.n_pre, len(self.l_vec)
        t = np.r_[np.arange(-n_pre, 0), np.arange(1, n_post + 1)].astype(float)
        self.t_pre, self.trend = t[:n_pre], float(t[n_pre:] @ self.l_vec)
        # mu(v) solves (D2)' mu = v; D2' has full column rank, so mu = pinv(D2') v
        d2 = _differences(n_pre, n_post, 2)
        self.p = np.linalg.pinv(d2.T)
        self.p_pre, self.q = self.p[:, :n_pre], self.p[:, n_pre:] @ self.l_vec
        # w = w0 + N z satisfies w' t_pre = -l' t_post for every z
        self.w0 = -self.trend * self.t_pre / float(self.t_pre @ self.t_pre)
        self.null = np.linalg.svd(self.t_pre[None, :])[2][1:].T if n_pre > 1 else np.zeros((1, 0))

    def v(self, z: np.ndarray) -> np.ndarray:
        return np.r_[self.w0 + self.null @ z, self.l_vec]

    def sd(self, z: np.ndarray) -> float:
        v = self.v(z)
        return math.sqrt(max(float(v @ self.sigma @ v), 0.0))

    def bias(self, z: np.ndarray) -> float:
        """Worst-case bias over ``Delta^SD(1)``: ``||mu(v)||_1``."""
        return float(np.abs(self.p_pre @ (self.w0 + self.null @ z) + self.q).sum())

    def min_variance(self) -> np.ndarray:
        """GLS extrapolation of a linear trend: the unbiased estimator at ``M = 0``."""
        k = self.null.shape[1]
        if not k:
            return np.zeros(0)
        s_pp, s_pq = self.sigma[: self.n_pre, : self.n_pre], self.sigma[: self.n_pre, self.n_pre:]
        h = self.null.T @ s_pp @ self.null
        g = self.null.T @ (s_pp @ self.w0 + s_pq @ self.l_vec)
        return -np.linalg.solve(h, g)

    def min_bias(self) -> np.ndarray:
        """All pre-period weight on ``t = -1``: extrapolation from the last pre-period (the
        estimator with the smallest worst-case bias, as in HonestDiD)."""
        w = np.zeros(self.n_pre)
        w[-1] = self.trend
        return np.linalg.lstsq(self.null, w - self.w0, rcond=None)[0] if self.null.shape[1] else np.zeros(0)

    def least_bias_given_sd(self, h: float, start: np.ndarray) -> np.ndarray:
        """``argmin ||mu(v)||_1`` subject to ``sd(v) <= h`` (a convex program; SLSQP on
        ``min sum(u)`` with ``-u <= mu <= u``)."""
        from scipy.optimize import minimize

        k = self.null.shape[1]
        if not k:
            return start
        a, c = self.p_pre @ self.null, self.p_pre @ self.w0 + self.q
        scale = h * h
        x0 = np.r_[start, np.abs(a @ start + c) + 1e-9]
        cons = [
            {"type": "ineq", "fun": lambda x: x[k:] - (a @ x[:k] + c),
             "jac": lambda x: np.hstack([-a, np.eye(len(c))])},
            {"type": "ineq", "fun": lambda x: x[k:] + (a @ x[:k] + c),
             "jac": lambda x: np.hstack([a, np.eye(len(c))])},
            {"type": "ineq", "fun": lambda x: (scale - self.sd(x[:k]) ** 2) / scale},
        ]
        res = minimize(lambda x: x[k:].sum(), x0, jac=lambda x: np.r_[np.zeros(k), np.ones(len(c))],
                       constraints=cons, method="SLSQP", options={"ftol": 1e-12, "maxiter": 500})
        z = res.x[:k]
        return z if self.sd(z) <= h * (1 + 1e-6) else start


def flci(beta: np.ndarray, sigma: np.ndarray, n_pre: int, l_vec: np.ndarray, m: float,
         alpha: float) -> tuple[float, float, np.ndarray]:
    """Optimal fixed-length CI for ``l' tau_post`` under ``Delta^SD(M)`` (RR sec. 4.1):
    ``v' beta_hat +- h cv_alpha(M bias(h) / h)`` minimised over ``h`` between the
    minimum-variance and the minimum-bias estimator. Returns (low, high, v)."""
    from scipy.optimize import minimize_scalar

    prob = _FlciProblem(sigma, l_vec, n_pre)
    z_var, z_bias = prob.min_variance(), prob.min_bias()
    h_lo, h_hi = prob.sd(z_var), prob.sd(z_bias)
    cache: dict[float, tuple[float, np.ndarray]] = {}

    def half(h: float) -> float:
        z = prob.least_bias_given_sd(h, z_var)
        cache[h] = (h * folded_normal_quantile(1 - alpha, m * prob.bias(z) / h), z)
        return cache[h][0]

    if m == 0 or h_hi <= h_lo * (1 + 1e-9):
        best = z_var if m == 0 else z_bias
        chi = prob.sd(best) * folded_normal_quantile(1 - alpha, m * prob.bias(best) / prob.sd(best))
    else:
        grid = np.linspace(h_lo, h_hi, 12)
        vals = [half(h) for h in grid]
        i = int(np.argmin(vals))
        a, b = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
        minimize_scalar(half, bounds=(a, b), method="bounded", options={"xatol": 1e-6 * h_hi})
        chi, best = min(cache.values(), key=lambda hz: hz[0])  # best h evaluated (grid or refined)
    v = prob.v(best)
    center = float(v @ beta)
    return center - chi, center + chi, v


# ----------------------------------------------------------------------------- inputs
@dataclass
class EventEstimates:
    """Event-study coefficients in RR's layout: ``beta = (beta_pre, beta_post)`` ordered by
    event time without the reference period, and their covariance."""

    beta: np.ndarray
    sigma: np.ndarray
    event_times: np.ndarray
    ref: int
    outcome: str = "y"
    source: str = "event study"
    notes: list[str] = field(default_factory=list)
    results: list[EstimationResult] = field(default_factory=list)  # the fit the numbers come from

    def __post_init__(self) -> None:
        self.beta = np.asarray(self.beta, float).ravel()
        self.sigma = np.atleast_2d(np.asarray(self.sigma, float))
        self.event_times = np.asarray(self.event_times).astype(int).ravel()
        n = len(self.beta)
        if self.sigma.shape != (n, n) or len(self.event_times) != n:
            raise EstimationError(
                f"HonestDiD: {n} coefficients need {n} event times and a {n}x{n} covariance, got "
                f"{len(self.event_times)} and {self.sigma.shape[0]}x{self.sigma.shape[1]}"
            )
        if np.any(np.diff(self.event_times) <= 0) or self.ref in self.event_times:
            raise EstimationError(
                "HonestDiD: event times must be increasing and exclude the reference period "
                f"{self.ref}, got {list(self.event_times)}"
            )
        if not np.all(np.isfinite(self.beta)) or not np.all(np.isfinite(self.sigma)):
            raise EstimationError("HonestDiD: the coefficients or their covariance contain NaN or inf")
        _require_consecutive(self.event_times, self.ref, "event study")

    @property
    def n_pre(self) -> int:
        return int((self.event_times < self.ref).sum())

    @property
    def n_post(self) -> int:
        return int((self.event_times > self.ref).sum())


def _require_consecutive(e: np.ndarray, ref: int, what: str) -> None:
    """Event times ``e`` plus the reference must be consecutive (the restrictions are on
    differences between adjacent periods)."""
    missing = sorted(set(range(min(e.min(), ref), max(e.max(), ref) + 1)) - set(e) - {ref})
    if missing:
        raise EstimationError(
            f"HonestDiD needs consecutive event times; the {what} has no coefficient at {missing}"
        )


def event_estimates(result: Any) -> EventEstimates:
    """Coefficients and covariance of an event study (:func:`climetrics.event_study`) or of the
    Callaway-Sant'Anna dynamic aggregation (a ``CallawaySantAnna`` fit or its
    ``aggregate("dynamic")``), reference period excluded."""
    from ...core.covariance import cluster_codes, cluster_sums
    from ...estimate.baseline.event_study import EventStudyResult
    from .callaway_santanna import CallawaySantAnna, CSAggregate

    if isinstance(result, EventEstimates):
        return result
    if isinstance(result, EventStudyResult):
        refs = tuple(result.ref)
        ref = max(r for r in refs if r < 0) if any(r < 0 for r in refs) else None
        if ref is None:
            raise EstimationError("HonestDiD needs a pre-adoption reference period (e.g. ref=-1)")
        c = result.coefs[~result.coefs["k"].isin(refs)].sort_values("k")
        k = c["k"].to_numpy(int)
        terms = [f"k={lab}" for lab in c["label"]]
        idx = [result.fit.terms.index(t) for t in terms]
        if result.fit.cov is None:
            raise EstimationError("the event study carries no covariance matrix")
        sigma = np.asarray(result.fit.cov)[np.ix_(idx, idx)]
        beta = c["estimate"].to_numpy(float)
        notes = []
        binned = [lab for lab in c["label"] if str(lab).startswith(("≤", "≥"))]
        if binned:
            notes.append(
                f"The binned endpoints ({', '.join(binned)}) pool several periods; the restrictions "
                "treat them as single periods."
            )
        return EventEstimates(beta, sigma, k, ref, result.outcome, "event study", notes, [result.fit])
    if isinstance(result, CallawaySantAnna):
        result = result.aggregate("dynamic")
    if isinstance(result, CSAggregate):
        if result.kind != "dynamic":
            raise EstimationError(
                f"HonestDiD needs the dynamic (event-time) aggregation, got the {result.kind!r} one"
            )
        e = result.by["e"].to_numpy(int)
        gaps = sorted(set(range(e.min(), 0)) - set(e))
        if len(gaps) != 1:
            raise EstimationError(
                "HonestDiD needs Callaway-Sant'Anna estimates relative to one reference period: fit "
                "callaway_santanna(..., base_period='universal'); with the default 'varying' base the "
                "pre-period estimates are period-to-period changes, not deviations from a common base"
            )
        ref = gaps[0]
        s = cluster_sums(result.psi_by, cluster_codes(result.parent.inference.cluster)[0])
        sigma = s.T @ s / result.psi_by.shape[0] ** 2
        notes = []
        anticip = (e > ref) & (e < 0)
        if anticip.any():
            notes.append(
                f"Event times {', '.join(map(str, e[anticip]))} lie between the reference period and "
                "adoption (anticipation) and are treated as post-periods."
            )
        return EventEstimates(result.by["att"].to_numpy(float), sigma, e, ref, result.parent.y,
                              "Callaway-Sant'Anna dynamic aggregation", notes, [result.to_result()])
    raise EstimationError(
        "honest_did needs an event_study result or a Callaway-Sant'Anna fit / dynamic aggregation, "
        f"got {type(result).__name__}"
    )


# ----------------------------------------------------------------------------- result
@dataclass(eq=False)
class HonestDiDResult(Result):
    """Robust confidence intervals for ``theta = l' tau_post`` over a grid of ``M`` / ``Mbar``.

    ``grid`` holds one row per value (``m``, ``ci_low``, ``ci_high``); ``estimate``, ``se`` and
    ``original`` are the point estimate, its standard error and the usual interval under exact
    parallel trends; ``breakdown`` is the smallest ``M`` at which the robust interval contains 0
    (None if it never does on the grid; 0 if the original interval already does).
    """

    restriction: str
    method: str
    alpha: float
    target: str
    l_vec: np.ndarray
    grid: pd.DataFrame
    estimate: float
    se: float
    original: tuple[float, float]
    breakdown: float | None
    data: EventEstimates = field(repr=False)
    notes: list[str] = field(default_factory=list)

    @property
    def results(self) -> list[EstimationResult]:
        """The event-study regression (or CS aggregation) the coefficients come from."""
        return list(self.data.results)

    @property
    def parameter(self) -> str:
        return "Mbar" if self.restriction == "relative_magnitudes" else "M"

    @property
    def target_label(self) -> str:
        post = self.data.event_times[self.data.event_times > self.data.ref]
        if self.target == "first":
            return f"the effect at event time {post[0]}"
        return f"the average effect over event times {post[0]} to {post[-1]}"

    def tidy(self) -> pd.DataFrame:
        g = self.grid
        return tidy_frame(pd.DataFrame({
            "term": [f"{self.parameter}={m:g}" for m in g["m"]],
            "estimate": self.estimate,
            "ci_low": g["ci_low"].to_numpy(),
            "ci_high": g["ci_high"].to_numpy(),
            "m": g["m"].to_numpy(),
            "restriction": self.restriction,
            "method": self.method,
        }))

    def summary(self) -> dict[str, Any]:
        return {
            "restriction": self.restriction, "method": self.method, "alpha": self.alpha,
            "target": self.target, "estimate": jsonable(self.estimate), "std_error": jsonable(self.se),
            "ci_low": jsonable(self.original[0]), "ci_high": jsonable(self.original[1]),
            "breakdown": jsonable(self.breakdown), "parameter": self.parameter,
            "m_max": jsonable(float(self.grid["m"].max())), "n_pre": self.data.n_pre,
            "n_post": self.data.n_post, "source": self.data.source,
        }

    def _excludes_zero(self, lo: float, hi: float) -> bool:
        return not (lo <= 0 <= hi) and math.isfinite(lo) and math.isfinite(hi)

    def reading(self) -> str:
        from ...core.wording import count

        level = f"{100 * (1 - self.alpha):g}%"
        o_lo, o_hi = self.original
        name = self.target_label
        head = (f"Under exact parallel trends {name} on {self.data.outcome} is {self.estimate:.4g} "
                f"({level} CI [{o_lo:.4g}, {o_hi:.4g}]). ")
        if self.restriction == "relative_magnitudes":
            subject = "post-adoption violations of parallel trends"
            unless, even = "exceed {x} times", "are as large as {x} times"
            rest = " the largest pre-adoption violation"
        else:
            subject = "the slope of the differential trend"
            unless, even = "changes by more than {x}", "changes by up to {x}"
            rest = f" (in units of {self.data.outcome}) from one period to the next"
        method = {"FLCI": "fixed-length", "C-LF": "conditional least-favourable hybrid",
                  "Conditional": "conditional"}[self.method]
        tail = (f" (Rambachan & Roth 2023 sensitivity analysis, {method} {level} intervals, "
                f"{count(len(self.grid), 'value')} of {self.parameter}).")
        if not self._excludes_zero(o_lo, o_hi):
            return head + ("Its interval already contains zero under parallel trends, so there is no "
                           "significance to break down" + tail)
        if self.breakdown is None:
            top = float(self.grid["m"].max())
            return head + (f"It stays significant for every value tried: even if {subject} "
                           + even.format(x=f"{top:g}") + rest + ", the robust interval excludes zero" + tail)
        return head + (f"The effect stays significant unless {subject} "
                       + unless.format(x=f"{self.breakdown:.3g}") + rest
                       + "; that breakdown value is where the robust interval first contains zero" + tail)

    def table(self, *, digits: int = 4, title: str | None = None) -> Table:
        from ...report.tables import Table, fmt

        rows = [["Parallel trends", fmt(self.original[0], digits), fmt(self.original[1], digits),
                 "yes" if self._excludes_zero(*self.original) else "no"]]
        for r in self.grid.itertuples():
            rows.append([f"{self.parameter} = {r.m:.3g}", fmt(r.ci_low, digits), fmt(r.ci_high, digits),
                         "yes" if self._excludes_zero(r.ci_low, r.ci_high) else "no"])
        bd = "never within the grid" if self.breakdown is None else f"{self.breakdown:.3g}"
        notes = [
            f"Robust {100 * (1 - self.alpha):g}% confidence intervals for {self.target_label} under "
            f"{RESTRICTIONS[self.restriction]}({self.parameter}) (Rambachan & Roth 2023), method {self.method}. "
            f"Breakdown value: {bd}.",
            *self.data.notes, *self.notes,
        ]
        return Table(columns=["Lower", "Upper", "Excludes 0"], rows=rows,
                     title=title or f"Sensitivity to parallel-trends violations: {self.data.outcome}",
                     notes=notes, stub=self.parameter)

    def plot(self, *, ylabel: str | None = None, title: str | None = None):
        """Robust intervals against ``M`` / ``Mbar``, the parallel-trends interval on the left."""
        from ...report.figures import _pyplot

        plt = _pyplot()
        g = self.grid
        fig, ax = plt.subplots(figsize=(6.4, 3.6))
        m = g["m"].to_numpy(float)
        step = (m.max() - m.min()) / max(len(m) - 1, 1) if len(m) > 1 else 1.0
        x0 = m.min() - 1.5 * step
        ax.errorbar([x0], [self.estimate], yerr=[[self.estimate - self.original[0]],
                    [self.original[1] - self.estimate]], fmt="o", color="#7a7a7a", capsize=3,
                    label="Parallel trends")
        mid = (g["ci_low"] + g["ci_high"]).to_numpy(float) / 2
        ax.errorbar(m, mid, yerr=[mid - g["ci_low"].to_numpy(float), g["ci_high"].to_numpy(float) - mid],
                    fmt="none", color="#1f4e8c", capsize=3, label=f"Robust ({self.method})")
        ax.axhline(0, color="black", lw=0.8)
        if self.breakdown is not None:
            ax.axvline(self.breakdown, color="#b03a2e", lw=0.8, ls="--", label="Breakdown value")
        sym = r"$\bar{M}$" if self.parameter == "Mbar" else r"$M$"
        ax.set_xlabel(sym)
        ax.set_ylabel(ylabel or f"Effect on {self.data.outcome}")
        if title:
            ax.set_title(title)
        ax.legend(frameon=False, fontsize=8)
        ax.spines[["top", "right"]].set_visible(False)
        return fig


# ----------------------------------------------------------------------------- driver
def _default_grid(data: EventEstimates, restriction: str, alpha: float) -> np.ndarray:
    """RM: 0 to 2 (HonestDiD's default). SD: 0 to the largest pre-period second difference
    plus its one-sided ``1 - alpha`` margin (with one pre-period: its standard error)."""
    if restriction == "relative_magnitudes":
        return np.linspace(0.0, 2.0, 10)
    n_pre = data.n_pre
    if n_pre < 2:
        top = math.sqrt(data.sigma[0, 0])
    else:
        d2 = np.diff(np.eye(n_pre + 1), n=2, axis=0)[:, :n_pre]  # second differences ending at 0
        diffs = d2 @ data.beta[:n_pre]
        sds = np.sqrt(np.diag(d2 @ data.sigma[:n_pre, :n_pre] @ d2.T))
        top = float(np.max(np.abs(diffs) + stats.norm.ppf(1 - alpha) * sds))
    return np.linspace(0.0, top, 10)


class _Sensitivity:
    """The robust interval at one ``M`` for fixed data, target, restriction and method."""

    def __init__(self, data: EventEstimates, l_vec: np.ndarray, restriction: str, method: str,
                 alpha: float, n_draws: int, seed: int) -> None:
        self.data, self.l_vec, self.restriction, self.method = data, l_vec, restriction, method
        self.alpha, self.n_draws, self.seed = alpha, n_draws, seed
        n_pre = data.n_pre
        self.sd_theta = math.sqrt(float(l_vec @ data.sigma[n_pre:, n_pre:] @ l_vec))
        self.theta_hat = float(l_vec @ data.beta[n_pre:])

    def polyhedra(self, m: float):
        n_pre, n_post = self.data.n_pre, self.data.n_post
        if self.restriction == "smoothness":
            return [sd_polyhedron(n_pre, n_post, m)]
        return rm_polyhedra(n_pre, n_post, m)

    def bracket(self, m: float, widen: float = 1.0) -> tuple[float, float]:
        """Search range: the identified set at the estimates widened by ``20 * widen`` standard
        errors. Relative magnitudes: ``theta_hat +- Mbar * max|diff(beta_pre, 0)| * sum_t t|l_t|``;
        smoothness: the linear extrapolation from ``beta_-1`` +- ``M * sum_t |l_t| t(t+1)/2``."""
        n_pre, n_post = self.data.n_pre, self.data.n_post
        t = np.arange(1, n_post + 1)
        pre = self.data.beta[:n_pre]
        if self.restriction == "relative_magnitudes":
            center = self.theta_hat
            half = m * float(np.max(np.abs(np.diff(np.r_[pre, 0.0])))) * float(t @ np.abs(self.l_vec))
        else:
            center = self.theta_hat + pre[-1] * float(t @ self.l_vec)
            half = m * float(np.abs(self.l_vec) @ (t * (t + 1) / 2))
        half += 20 * widen * self.sd_theta
        return center - half, center + half

    def interval(self, m: float) -> tuple[float, float]:
        data = self.data
        if self.method == "FLCI":
            lo, hi, _ = flci(data.beta, data.sigma, data.n_pre, self.l_vec, m, self.alpha)
            return lo, hi
        tol = 1e-4 * self.sd_theta
        tests = [ArpTest(a, d, data.beta, data.sigma, self.l_vec, data.n_pre, alpha=self.alpha,
                         hybrid=self.method == "C-LF", n_draws=self.n_draws, seed=self.seed)
                 for a, d in self.polyhedra(m)]
        for widen in (1.0, 4.0, 16.0):  # widen the range while the interval reaches its end
            lo_b, hi_b = self.bracket(m, widen)
            ends = [iv for iv in (_accepted_interval(t, lo_b, hi_b, tol) for t in tests) if iv is not None]
            if not ends:
                return np.nan, np.nan
            lo, hi = min(e[0] for e in ends), max(e[1] for e in ends)
            if lo > lo_b and hi < hi_b:
                break
        return lo, hi


def _covers_zero(iv: tuple[float, float]) -> bool:
    lo, hi = iv
    return not (math.isfinite(lo) and math.isfinite(hi)) or lo <= 0 <= hi


def honest_did(
    result: Any,
    *,
    restriction: str = "relative_magnitudes",
    m: float | Sequence[float] | None = None,
    alpha: float = 0.05,
    target: str = "first",
    method: str | None = None,
    n_draws: int = 1000,
    seed: int = 0,
    breakdown_tol: float | None = None,
) -> HonestDiDResult:
    """Rambachan & Roth (2023) sensitivity analysis of an event study to parallel-trends violations.

    Parameters
    ----------
    result
        An :func:`climetrics.event_study` result (reference period -1), a
        :func:`climetrics.callaway_santanna` fit with ``base_period="universal"`` (its dynamic
        aggregation is used) or that aggregation itself, or :class:`EventEstimates`.
    restriction
        ``"relative_magnitudes"`` (``Delta^RM(Mbar)``, default) or ``"smoothness"``
        (``Delta^SD(M)``); see the module docstring.
    m
        Values of ``Mbar`` / ``M`` (default: ``Mbar`` 0..2 in 10 steps; ``M`` 0 to the largest
        pre-period second difference plus its one-sided margin, in 10 steps).
    alpha
        1 - coverage of the intervals.
    target
        ``"first"``: the effect in the first post-adoption period; ``"average"``: the average
        over all post-adoption periods.
    method
        ``"FLCI"`` (smoothness default), ``"C-LF"`` (relative-magnitudes default) or
        ``"Conditional"``.
    n_draws, seed
        Simulation draws and seed of the least-favourable critical value (``"C-LF"``).
    breakdown_tol
        Precision of the breakdown value (default: 1/50 of the grid step).

    Returns
    -------
    HonestDiDResult
    """
    if restriction not in RESTRICTIONS:
        raise EstimationError(f"restriction must be one of {sorted(RESTRICTIONS)}, got {restriction!r}")
    method = method or _METHODS[restriction][0]
    if method not in _METHODS[restriction]:
        raise EstimationError(
            f"method {method!r} is not available for restriction {restriction!r}; choose one of "
            f"{list(_METHODS[restriction])}"
        )
    if not 0 < alpha < 0.5:
        raise EstimationError(f"alpha must lie in (0, 0.5), got {alpha}")
    data = event_estimates(result)
    n_pre, n_post = data.n_pre, data.n_post
    if n_pre < 1 or n_post < 1:
        raise EstimationError(
            f"HonestDiD needs at least one pre-period and one post-period coefficient besides the "
            f"reference period; got {n_pre} pre and {n_post} post"
        )
    if target == "first":
        l_vec = np.eye(n_post)[0]
    elif target == "average":
        l_vec = np.full(n_post, 1.0 / n_post)
    else:
        raise EstimationError(f"target must be 'first' or 'average', got {target!r}")
    grid = _default_grid(data, restriction, alpha) if m is None else np.atleast_1d(np.asarray(m, float))
    if grid.size == 0 or np.any(grid < 0) or not np.all(np.isfinite(grid)):
        raise EstimationError(f"m must be non-negative finite values, got {list(grid)}")
    grid = np.unique(grid)
    sens = _Sensitivity(data, l_vec, restriction, method, alpha, n_draws, seed)
    ivs = [sens.interval(float(x)) for x in grid]
    z = stats.norm.ppf(1 - alpha / 2)
    original = (sens.theta_hat - z * sens.sd_theta, sens.theta_hat + z * sens.sd_theta)
    notes = []
    if any(not (math.isfinite(a) and math.isfinite(b)) for a, b in ivs):
        notes.append("At some values no parameter value is accepted (empty interval, shown as NaN): "
                     "the pre-period coefficients are inconsistent with the restriction at that level.")
    breakdown: float | None
    if _covers_zero(original):
        breakdown = 0.0
    else:
        cover = [_covers_zero(iv) for iv in ivs]
        if not any(cover):
            breakdown = None
        else:
            j = cover.index(True)
            if j == 0:
                breakdown = float(grid[0])
            else:
                lo_m, hi_m = float(grid[j - 1]), float(grid[j])
                tol = breakdown_tol or (hi_m - lo_m) / 50
                while hi_m - lo_m > tol:
                    mid = (lo_m + hi_m) / 2
                    lo_m, hi_m = (lo_m, mid) if _covers_zero(sens.interval(mid)) else (mid, hi_m)
                breakdown = hi_m
    frame = pd.DataFrame({"m": grid, "ci_low": [a for a, _ in ivs], "ci_high": [b for _, b in ivs]})
    return HonestDiDResult(restriction, method, alpha, target, l_vec, frame, sens.theta_hat,
                           sens.sd_theta, original, breakdown, data, notes)

"""Fixed-effects panel threshold regression (Hansen 1999; Stata ``xthreg``, Wang 2015).

The model with ``m`` thresholds ``gamma_1 < ... < gamma_m`` of the threshold variable ``q`` is::

    y_it = mu_i + W_it' theta + beta_1' x_it 1(q_it <= gamma_1)
                              + beta_2' x_it 1(gamma_1 < q_it <= gamma_2) + ...
                              + beta_{m+1}' x_it 1(q_it > gamma_m) + e_it,

with ``x`` the regime-dependent regressors (``treat``; xthreg's ``rx()``) and ``W`` the controls
(regime-independent). The fixed effects are removed by the within transformation (unit means,
or unit and year means). For given thresholds the model is linear, so the thresholds minimise
the concentrated sum of squared residuals ``S(gamma)`` over a grid of candidate values of ``q``.

Computation. The regressors ``[x, x 1(q <= gamma_1), ..., x 1(q <= gamma_m)]`` span the same
space as the regime-split ones, so by Frisch-Waugh-Lovell ``S`` is the SSR ``e0'e0`` of the
linear model (``y`` on ``W`` and ``x``) minus the part explained by the partialled-out
low-regime regressors ``z_g = M0 D [x 1(q <= grid_g)]``. With ``r_g = z_g' e0`` and the Gram
blocks ``C_gh = z_g' z_h``, for a set ``F`` of thresholds already fixed,
``S(F + g) = S(F) - u_g' K_g^{-1} u_g`` with ``u_g = r_g - C_gF C_FF^{-1} r_F`` and
``K_g = C_gg - C_gF C_FF^{-1} C_Fg``. On data sorted by ``q``, ``r_g``, ``C_gg`` and a column
``C_ga`` are prefix sums (see :class:`_Search`), so one pass over *every* distinct value of
``q`` costs ``O(n k^2)``; a bootstrap sample only changes ``e0``, so the ``r`` of a whole batch
of samples is one cumulative sum.

Estimation is sequential (Hansen 1999, sec. 3.2; Bai 1997): ``gamma_1`` minimises ``S_1``; given
it, ``gamma_2`` minimises ``S_2^r(gamma_2) = S(gamma_1, gamma_2)``; the refinement re-estimates
``gamma_1`` given ``gamma_2``; a third threshold is searched given the refined pair. Each
candidate must leave every regime at least ``trim`` of the observations (xthreg's rule).

Tests of the number of thresholds (Hansen 1999, sec. 3.3): ``F_1 = (S_0 - S_1) / sigma_1^2`` for
0 against 1 threshold, ``F_2 = (S_1(gamma_1) - S_2^r(gamma_2)) / sigma_2^2`` for 1 against 2,
``F_3`` likewise, with ``sigma_j^2 = S_j / (n (T - 1))``. Under the null the threshold is not
identified, so p-values come from Hansen's fixed-regressor bootstrap: the residuals of the
null model are grouped by unit, ``n`` units' residual vectors are drawn with replacement, and
the outcome is rebuilt as the null model's fitted values plus the drawn residuals; the whole
sequential search is repeated on every bootstrap sample.

Confidence sets of a threshold invert the likelihood-ratio statistic
``LR(gamma) = (S(gamma) - S(gamma_hat)) / sigma^2`` (Hansen 1999, Theorem 2 and eq. 17): the
set of grid values with ``LR(gamma) <= c(alpha) = -2 ln(1 - sqrt(1 - alpha))`` (7.35 at 95%);
the refined thresholds use ``LR_2^r`` and ``LR_1^r`` of sec. 3.2.

The slope estimates at the estimated thresholds come from the fixed-effects regression of
:func:`climetrics.estimate.baseline.twfe.twfe` on the regime-split regressors, with standard
errors clustered by unit by default (xthreg reports ``xtreg, fe`` standard errors).

References
----------
Hansen, B. E. (1999). Threshold effects in non-dynamic panels: estimation, testing, and
inference. *Journal of Econometrics* 93(2), 345-368.

Bai, J. (1997). Estimating multiple breaks one at a time. *Econometric Theory* 13(3), 315-352.

Wang, Q. (2015). Fixed-effect panel threshold model using Stata. *Stata Journal* 15(1), 121-134.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...core.results import EstimationResult, Result, TestResult, TestSet, jsonable, tidy_frame
from ...errors import ConfigError, EstimationError, PanelError, show
from ...panel import Panel

__all__ = ["ThresholdResult", "lr_critical_value", "threshold_regression"]

#: Most thresholds the sequential procedure estimates (as xthreg).
MAX_THRESHOLDS = 3
_ORDINAL = {1: "Single", 2: "Double", 3: "Triple"}


def lr_critical_value(alpha: float) -> float:
    """Asymptotic critical value of the threshold LR statistic, ``-2 ln(1 - sqrt(1 - alpha))``
    (Hansen 1999, eq. 17; 7.35 for alpha = 0.05)."""
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha must lie strictly between 0 and 1, got {alpha}")
    return float(-2.0 * math.log(1.0 - math.sqrt(1.0 - alpha)))


# ------------------------------------------------------------------------------- the search
@dataclass
class _Search:
    """Everything the grid search needs that does not change across bootstrap samples.

    Observations are visited in increasing order of ``q`` (``order``); ``cut[g]`` is the number
    with ``q <= grid_g``, so every grid quantity is a prefix sum over that order:
    ``r_g = v_g' e0 = sum_{j <= cut_g} x_j e0_j`` for the low-regime regressor
    ``v_g = x 1(q <= grid_g)`` (``e0`` is already orthogonal to the fixed effects and the base
    regressors), and the Gram blocks ``C_gh = v_g' D M0 D v_h = v_g' D v_h - (B' v_g)' (B' v_h)``
    with ``D`` the within transformation and ``B`` an orthonormal basis of the within-transformed
    base regressors ``[W, x]``. ``C_gg`` comes from running sums within each fixed-effect level
    (``v' D v = v'v - sum_u s_u s_u' / T_u [- sum_t s_t s_t' / N_t + s s' / n]`` on a balanced
    panel); a column ``C_ga`` from one within transformation of ``v_a``.
    """

    x_sorted: np.ndarray  # (n, k): x in q order
    order: np.ndarray
    cut: np.ndarray  # (G,)
    diag: np.ndarray  # (G, k, k)
    Bv: np.ndarray  # (G, p, k): B' v_g
    basis: np.ndarray
    demean: Any
    X: np.ndarray
    n_obs: int
    min_count: list[int]
    df_resid: float
    _cols: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def n_grid(self) -> int:
        return self.cut.size

    def prefix(self, terms: np.ndarray) -> np.ndarray:
        """Prefix sums of ``terms`` (rows in q order) at every grid cut: ``(G, ...)``."""
        return _prefix(terms, self.cut)

    def cross(self, e: np.ndarray) -> np.ndarray:
        """``r_g = v_g' e`` for every grid value: ``(G, k)`` for ``e`` of shape ``(n,)``, else
        ``(G, k, B)`` for ``(n, B)``."""
        es = e[self.order]
        if es.ndim == 1:
            return self.prefix(self.x_sorted * es[:, None])
        return self.prefix(self.x_sorted[:, :, None] * es[:, None, :])

    def column(self, a: int) -> np.ndarray:
        """``C_ga`` for every grid value g, shape ``(G, k, k)`` (cached)."""
        col = self._cols.get(a)
        if col is None:
            va = np.zeros_like(self.X)
            va[self.order[: self.cut[a]]] = self.X[self.order[: self.cut[a]]]
            dva = self.demean(va)[self.order]
            col = self.prefix(self.x_sorted[:, :, None] * dva[:, None, :])
            col = col - np.einsum("gpk,pl->gkl", self.Bv, self.Bv[a])
            self._cols[a] = col
        return col

    def annihilate(self, v: np.ndarray) -> np.ndarray:
        """``M0 v`` for the columns of ``v`` (already within-transformed)."""
        return v - self.basis @ (self.basis.T @ v)

    def valid(self, fixed: Sequence[int], stage: int) -> np.ndarray:
        """Grid values that, added to ``fixed``, leave every regime ``min_count`` observations."""
        cuts = np.sort(self.cut[list(fixed)]) if fixed else np.empty(0, dtype=self.cut.dtype)
        edges = np.concatenate([[0], cuts, [self.n_obs]])
        need = self.min_count[stage]
        pos = np.searchsorted(cuts, self.cut, side="left")
        ok = (self.cut - edges[pos] >= need) & (edges[pos + 1] - self.cut >= need)
        if fixed:
            ok &= ~np.isin(self.cut, cuts)
        return ok

    def path(self, r: np.ndarray, s0: float, fixed: Sequence[int], stage: int) -> np.ndarray:
        """``S(fixed + g)`` for every grid value g (``inf`` where g is not allowed).

        ``r`` is ``(G, k)``: ``r_g = v_g' e0`` of one sample; ``s0 = e0' e0``.
        """
        k = r.shape[1]
        if fixed:
            CgF = np.concatenate([self.column(a) for a in fixed], axis=2)  # (G, k, m k)
            A = np.concatenate([CgF[a] for a in fixed], axis=0)  # (m k, m k)
            rF = np.concatenate([r[a] for a in fixed])
            Ainv_rF = np.linalg.solve(A, rF)
            s_fixed = s0 - rF @ Ainv_rF
            Ainv_CFg = np.linalg.solve(A, np.transpose(CgF, (2, 1, 0)).reshape(A.shape[0], -1))
            Ainv_CFg = Ainv_CFg.reshape(A.shape[0], k, -1).transpose(2, 0, 1)  # (G, m k, k)
            K = self.diag - np.einsum("gim,gmj->gij", CgF, Ainv_CFg)
            u = r - CgF @ Ainv_rF
        else:
            s_fixed, K, u = s0, self.diag, r
        ok = self.valid(fixed, stage)
        scale = np.einsum("gii->g", self.diag) / k
        ok &= np.linalg.det(K) > (1e-10 * np.maximum(scale, 1e-300)) ** k
        out = np.full(self.n_grid, np.inf)
        if ok.any():
            sol = np.linalg.solve(K[ok], u[ok][..., None])[..., 0]
            out[ok] = s_fixed - np.einsum("gk,gk->g", u[ok], sol)
        return out


def _prefix(terms: np.ndarray, cut: np.ndarray) -> np.ndarray:
    """``sum_{j < cut_g} terms_j`` for every cut (rows of ``terms`` in q order)."""
    c = np.cumsum(terms, axis=0)
    return np.concatenate([np.zeros((1, *terms.shape[1:])), c])[cut]


@dataclass
class _Steps:
    """The sequential estimates of one sample: grid indices, SSRs and F statistics."""

    index: dict[str, int] = field(default_factory=dict)
    ssr: dict[str, float] = field(default_factory=dict)
    paths: dict[str, np.ndarray] = field(default_factory=dict)
    F: list[float] = field(default_factory=list)


def _sequential(search: _Search, r: np.ndarray, s0: float, m: int, *, keep_paths: bool) -> _Steps:
    """Hansen's sequential estimation of ``m`` thresholds and the ``m`` F statistics.

    Stage 1: ``gamma_1``; stage 2: ``gamma_2`` given ``gamma_1``, then the refinement
    ``gamma_1^r`` given ``gamma_2``; stage 3: ``gamma_3`` given the refined pair.
    """
    out = _Steps()
    df = search.df_resid

    def minimise(fixed: list[int], stage: int, name: str) -> tuple[int, float]:
        p = search.path(r, s0, fixed, stage)
        if not np.isfinite(p).any():
            raise EstimationError(
                f"no admissible value for the {name} threshold: every candidate leaves a regime "
                "with fewer observations than the trimming share (lower trim or use fewer thresholds)"
            )
        i = int(np.argmin(p))
        if keep_paths:
            out.paths[name] = p
        out.index[name] = i
        out.ssr[name] = float(p[i])
        return i, float(p[i])

    a, s1 = minimise([], 0, "1")
    out.F.append((s0 - s1) / (s1 / df))
    if m >= 2:
        b, s2 = minimise([a], 1, "2")
        out.F.append((s1 - s2) / (s2 / df))
        a_r, s2r = minimise([b], 1, "1r")
        if m >= 3:
            _, s3 = minimise(sorted([a_r, b]), 2, "3")
            out.F.append((s2r - s3) / (s3 / df))
    return out


# ------------------------------------------------------------------------------- bootstrap
def _bootstrap_kernel(indices: np.ndarray, shared: dict[str, Any]) -> np.ndarray:
    """F statistics of bootstrap samples ``indices``: column h is ``F_{h+1}`` computed on a
    sample drawn under the null of ``h`` thresholds (Hansen's fixed-regressor bootstrap with
    residuals resampled by unit). Replicate j draws row h of a ``(3, n_units)`` array of unit
    indices from its own stream, so ``F_1*`` does not depend on how many thresholds are fitted."""
    from ...core.replicate import replicate_rng

    search: _Search = shared["search"]
    m = shared["m"]
    n_units, n_t = shared["shape"]
    demean = shared["demean"]
    out = np.full((len(indices), m), np.nan)
    for h in range(m):
        fitted, resid = shared["fitted"][h], shared["resid"][h].reshape(n_units, n_t)
        draws = np.stack([
            replicate_rng(shared["seed"], int(j)).integers(0, n_units, size=(MAX_THRESHOLDS, n_units))[h]
            for j in indices
        ])
        E = resid[draws].reshape(len(indices), -1).T  # (n, B): unit-major like the data
        Y = demean(fitted[:, None] + E)
        E0 = search.annihilate(Y)
        R = search.cross(E0)  # (G, k, B)
        S0 = np.einsum("nb,nb->b", E0, E0)
        for b in range(len(indices)):
            out[b, h] = _sequential(search, R[:, :, b], float(S0[b]), h + 1, keep_paths=False).F[h]
    return out


# ------------------------------------------------------------------------------- result
@dataclass(eq=False)
class ThresholdResult(Result):
    """A fitted panel threshold model.

    Attributes
    ----------
    result
        Fixed-effects regression at the estimated thresholds (:class:`EstimationResult`;
        regime terms named ``"x [q <= g1]"``, ``"x [g1 < q <= g2]"``, ``"x [q > g2]"``).
    treat, threshold_var, depvar
        Regime-dependent regressor(s), threshold variable and outcome.
    thresholds
        ``DataFrame`` with one row per threshold: ``name`` (``"gamma1"``...), ``estimate``,
        ``ci_low``, ``ci_high`` (LR-inversion set at ``1 - alpha``), ``ssr``.
    tests
        :class:`TestSet` of the bootstrap F tests (0 vs 1, 1 vs 2, 2 vs 3 thresholds).
    lr
        ``DataFrame`` of the LR curves: ``threshold`` (which estimate), ``gamma``, ``lr`` and
        ``ssr``, the SSR with that threshold at ``gamma`` (the others at their estimates).
    ssr
        Sum of squared residuals of the models with 0, 1, ... thresholds (keys ``"0"``...).
    crit_values
        Bootstrap critical values (10%, 5%, 1%) of each F test.
    sequential
        Thresholds of the sequentially estimated model with 1, 2, ... thresholds.
    draws
        Bootstrap F statistics, ``(n_draws, n_thresholds)``; column j is ``F_{j+1}*``.
    """

    result: EstimationResult
    treat: list[str]
    threshold_var: str
    depvar: str
    thresholds: pd.DataFrame
    tests: TestSet
    lr: pd.DataFrame
    ssr: dict[str, float]
    n_thresholds: int
    alpha: float
    n_draws: int
    trim: list[float]
    n_grid: int
    crit_values: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    sequential: dict[int, list[float]] = field(default_factory=dict)
    draws: np.ndarray = field(repr=False, default_factory=lambda: np.empty((0, 0)))

    @property
    def results(self) -> list[EstimationResult]:
        return [self.result]

    @property
    def gamma(self) -> list[float]:
        """The estimated thresholds, increasing."""
        return sorted(self.thresholds["estimate"].tolist())

    @property
    def lr_critical(self) -> float:
        return lr_critical_value(self.alpha)

    @property
    def n_significant(self) -> int:
        """Number of thresholds supported by the sequential tests: the F tests are read in
        order and the count stops at the first that does not reject at ``alpha``."""
        n = 0
        for t in self.tests:
            if not t.reject:
                break
            n += 1
        return n

    def tidy(self) -> pd.DataFrame:
        """Slope rows of the regression, then one row per threshold (``term`` ``gamma1``...,
        with its LR confidence set in ``ci_low``/``ci_high``)."""
        slopes = self.result.tidy()
        slopes["kind"] = "slope"
        th = self.thresholds.rename(columns={"name": "term"})[["term", "estimate", "ci_low", "ci_high"]].copy()
        th["kind"] = "threshold"
        return tidy_frame(pd.concat([slopes, th], ignore_index=True))

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "depvar": self.depvar, "threshold_var": self.threshold_var, "treat": list(self.treat),
            "n_thresholds": self.n_thresholds, "n_significant": self.n_significant,
            "n_obs": int(self.result.n_obs), "n_draws": self.n_draws, "alpha": self.alpha,
            "lr_critical": self.lr_critical,
        }
        for row in self.thresholds.itertuples():
            out[row.name] = jsonable(row.estimate)
            out[f"{row.name}_ci"] = [jsonable(row.ci_low), jsonable(row.ci_high)]
        for t, label in zip(self.tests, ("F1", "F2", "F3"), strict=False):
            out[label] = jsonable(t.statistic)
            out[f"{label}_p"] = jsonable(t.p_value)
        return out

    # ------------------------------------------------------------------ words
    def reading(self) -> str:
        """The number of thresholds the bootstrap tests support, where they lie and how the
        slope of the regime-dependent regressor changes across regimes."""
        from ...core.wording import count, p_phrase

        x = ", ".join(self.treat)
        q = self.threshold_var
        first = self.tests[0]
        pct = f"{100 * (1 - self.alpha):g}%"
        if self.n_draws == 0:
            where = "; ".join(
                f"{q} = {r.estimate:.4g} ({pct} LR confidence set [{r.ci_low:.4g}, {r.ci_high:.4g}])"
                for r in self.thresholds.itertuples()
            )
            return (f"Estimated threshold{'s' if len(self.thresholds) > 1 else ''}: {where}. Whether a threshold "
                    "exists at all was not tested (n_draws=0: no bootstrap), so these estimates are not evidence "
                    f"of a threshold effect of {x}.")
        if not first.reject:
            return (
                f"No evidence of a threshold effect: the bootstrap F test of a linear model against a "
                f"single threshold in {q} gives F = {first.statistic:.2f} ({p_phrase(first.p_value)}, "
                f"{self.n_draws:,} bootstrap draws), so the effect of {x} on {self.depvar} does not "
                f"change significantly with {q} at the {self.alpha:g} level; read the linear "
                "fixed-effects estimate instead."
            )
        k = self.n_significant
        tested = self.n_thresholds
        head = (
            f"The bootstrap tests support {count(k, 'threshold')} in {q} ("
            + "; ".join(f"F{j + 1} = {t.statistic:.2f}, {p_phrase(t.p_value)}" for j, t in enumerate(self.tests))
            + f"; {self.n_draws:,} draws)"
            + (", as many as were tested, so more may exist." if k == tested else ".")
        )
        # describe the model with the supported number of thresholds when it was estimated
        if k == tested:
            where = "; ".join(
                f"{q} = {r.estimate:.4g} ({pct} LR confidence set [{r.ci_low:.4g}, {r.ci_high:.4g}])"
                for r in self.thresholds.itertuples()
            )
        else:
            where = ", ".join(f"{q} = {v:.4g}" for v in sorted(self.sequential[k]))
        text = head + f" Estimated threshold{'s' if k > 1 else ''}: {where}."
        if k == tested:
            text += " " + self._slope_sentence()
        else:
            text += (f" The {_ORDINAL[tested].lower()}-threshold fit in the table goes beyond what the "
                     f"tests support; re-estimate with n_thresholds={k} for its slopes.")
        return text

    def _slope_sentence(self) -> str:
        from ...core.wording import significance_phrase

        parts = []
        for t in self.result.meta["treat"]:
            parts.append(f"{self.result.coef(t):.4f} when {t.split('[', 1)[1].rstrip(']')} "
                         f"({significance_phrase(self.result.pvalue(t))})")
        x = ", ".join(self.treat)
        return (f"The slope of {x} is " + ", ".join(parts)
                + f"; standard errors {'clustered by ' + self.result.cluster if self.result.cluster else self.result.vcov}.")

    # ------------------------------------------------------------------ rendering
    def table(self, *, digits: int = 4, title: str | None = None, labels: dict[str, str] | None = None):
        """The regression at the estimated thresholds with rows for each threshold, its LR
        confidence set and the bootstrap F tests."""
        from ...report.tables import fmt, stars

        pct = f"{100 * (1 - self.alpha):g}%"
        rows: dict[str, list[str]] = {}
        for r in self.thresholds.itertuples():
            rows[f"Threshold {r.name}"] = [fmt(r.estimate, digits)]
            rows[f"  {pct} LR set ({r.name})"] = [f"[{fmt(r.ci_low, digits)}, {fmt(r.ci_high, digits)}]"]
        for j, t in enumerate(self.tests, 1):
            rows[f"F{j} ({j - 1} vs {j})"] = [f"{t.statistic:.2f}{stars(t.p_value)}"]
            rows[f"  bootstrap p (F{j})"] = [fmt(t.p_value, 3)]
        notes = [
            f"Threshold variable: {self.threshold_var}; regime-dependent regressor: {', '.join(self.treat)}. "
            f"Thresholds by least squares over {self.n_grid} candidate values (trim {', '.join(f'{t:g}' for t in self.trim)}), "
            "estimated sequentially with refinement (Hansen 1999).",
            f"{pct} confidence sets invert the LR statistic at c = {self.lr_critical:.2f}. "
            f"F tests: Hansen's fixed-regressor bootstrap ({self.n_draws:,} draws, residuals resampled by "
            f"{self.result.cluster or 'unit'}).",
        ]
        return self.result.table(extra_rows=rows, notes=notes, title=title or "Panel threshold regression",
                                 digits=digits, labels=labels)

    def test_table(self, **kwargs: Any):
        """The bootstrap F tests with their 10/5/1% bootstrap critical values."""
        from ...report.tables import Table, fmt, stars

        rows = []
        for j, t in enumerate(self.tests, 1):
            c = self.crit_values.iloc[j - 1]
            rows.append([f"{_ORDINAL[j]} ({j - 1} vs {j})", fmt(self.ssr[str(j)], 4), f"{t.statistic:.2f}{stars(t.p_value)}",
                         fmt(t.p_value, 3), fmt(c["crit10"], 2), fmt(c["crit5"], 2), fmt(c["crit1"], 2)])
        return Table(columns=["RSS", "F", "p-value", "Crit. 10%", "Crit. 5%", "Crit. 1%"], rows=rows,
                     title=kwargs.get("title", "Tests of the number of thresholds"), stub="Model",
                     notes=[f"Bootstrap p-values and critical values from {self.n_draws:,} draws of Hansen's "
                            "(1999) fixed-regressor bootstrap. RSS of the model with that many thresholds."])

    def plot(self, ax=None):
        """LR statistic against the candidate threshold, one panel per estimate, with the
        critical value ``c(alpha)`` dashed: the confidence set is where the curve is below it."""
        from ...report.figures import _pyplot

        plt = _pyplot()
        names = list(dict.fromkeys(self.lr["threshold"]))
        if ax is None:
            fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.4), squeeze=False)
            axes = axes[0]
        else:
            axes = [ax] * len(names)
            fig = ax.figure
        c = self.lr_critical
        for a, name in zip(axes, names, strict=True):
            d = self.lr[self.lr["threshold"] == name]
            a.plot(d["gamma"], d["lr"], lw=1.2, color="#1f4e79")
            a.axhline(c, ls="--", color="#b03a2e", lw=1)
            est = float(self.thresholds.set_index("name").loc[name, "estimate"])
            a.axvline(est, ls=":", color="grey", lw=1)
            a.set_xlabel(f"{self.threshold_var} (threshold {name})")
            a.set_ylabel("LR statistic")
            a.set_ylim(0, max(3 * c, float(np.nanmin([d["lr"].max(), 10 * c]))))
        fig.tight_layout()
        return fig


# ------------------------------------------------------------------------------- estimator
def _grid_values(q: np.ndarray, trim: float, grid: int | Sequence[float] | None) -> np.ndarray:
    """Candidate thresholds: explicit values; or the distinct values of ``q`` between its
    ``trim`` and ``1 - trim`` order statistics -- all of them (``grid=None``, Hansen's search)
    or ``grid`` of them at evenly spaced ranks (xthreg's ``grid()``)."""
    if grid is not None and not isinstance(grid, (int, np.integer)):
        values = np.unique(np.asarray(grid, dtype=float))
        if values.size == 0:
            raise ConfigError("grid is empty: give candidate threshold values or a number of grid points")
        return values
    qs = np.sort(q)
    n = qs.size
    lo, hi = int(math.ceil(trim * n)), int(math.floor((1 - trim) * n)) - 1
    if hi < lo:
        raise EstimationError(f"trim {trim} leaves no candidate thresholds among {n} observations")
    if grid is None:
        return np.unique(qs[lo : hi + 1])
    if grid < 2:
        raise ConfigError(f"grid must be at least 2 points, got {grid}")
    return np.unique(qs[np.round(np.linspace(lo, hi, int(grid))).astype(int)])


def _build_search(X: np.ndarray, q: np.ndarray, gvals: np.ndarray, basis: np.ndarray, fes: Any,
                  fe_codes: list[np.ndarray], trims: list[float], df_resid: float) -> _Search:
    """Prefix-sum form of the grid search (see :class:`_Search`) on a balanced panel."""
    n, k = X.shape
    order = np.argsort(q, kind="stable")
    cut = np.searchsorted(q[order], gvals, side="right")
    xs = X[order]
    outer = xs[:, :, None] * xs[:, None, :]
    terms = outer.copy()
    # v' D v: subtract sum_f sum_level s s' / size (one-way, or two-way balanced + grand mean)
    for codes in fe_codes:
        c = codes[order]
        sizes = np.bincount(c).astype(float)
        running = pd.DataFrame(xs).groupby(c).cumsum().to_numpy() - xs  # level sums before j
        inc = (xs[:, :, None] * running[:, None, :] + running[:, :, None] * xs[:, None, :] + outer)
        terms -= inc / sizes[c][:, None, None]
    if len(fe_codes) == 2:
        before = np.cumsum(xs, axis=0) - xs
        terms += (xs[:, :, None] * before[:, None, :] + before[:, :, None] * xs[:, None, :] + outer) / n
    Bv = _prefix(basis[order][:, :, None] * xs[:, None, :], cut)  # (G, p, k)
    return _Search(
        x_sorted=xs, order=order, cut=cut, diag=_prefix(terms, cut) - np.einsum("gpk,gpl->gkl", Bv, Bv),
        Bv=Bv, basis=basis, demean=fes.demean, X=X, n_obs=n,
        min_count=[max(1, int(math.ceil(t * n))) for t in trims], df_resid=df_resid,
    )


def _regime_columns(x: np.ndarray, q: np.ndarray, gammas: Sequence[float]) -> np.ndarray:
    """``x`` split by the regimes of sorted ``gammas`` -> ``(n, k (m + 1))``, regime-major."""
    edges = [-np.inf, *sorted(gammas), np.inf]
    blocks = [x * ((q > lo) & (q <= hi))[:, None] for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    return np.concatenate(blocks, axis=1)


def _regime_labels(x: str, q: str, gammas: Sequence[float]) -> list[str]:
    g = [f"{v:.4g}" for v in sorted(gammas)]
    if not g:
        return [x]
    labels = [f"{x} [{q} <= {g[0]}]"]
    labels += [f"{x} [{lo} < {q} <= {hi}]" for lo, hi in zip(g[:-1], g[1:], strict=True)]
    labels.append(f"{x} [{q} > {g[-1]}]")
    return labels


def threshold_regression(
    panel: Panel,
    y: str,
    treat: str | Sequence[str],
    controls: str | Sequence[str] = (),
    *,
    threshold_var: str,
    n_thresholds: int = 1,
    fe: str = "unit",
    trim: float | Sequence[float] = 0.01,
    grid: int | Sequence[float] | None = None,
    n_draws: int = 300,
    seed: int = 0,
    cluster: str | None = "unit",
    alpha: float = 0.05,
    backend: Any = None,
) -> ThresholdResult:
    """Hansen's (1999) fixed-effects panel threshold regression with bootstrap tests.

    Parameters
    ----------
    panel, y
        Balanced panel and outcome.
    treat
        Regime-dependent regressor(s) ``x`` (xthreg's ``rx()``): their slopes differ by regime.
    controls
        Regime-independent regressors ``W``.
    threshold_var
        Threshold variable ``q`` (xthreg's ``qx()``); it may also be in ``treat`` or ``controls``.
    n_thresholds
        Thresholds to estimate, 1 to 3; the F tests run from 0 vs 1 up to ``n - 1`` vs ``n``.
    fe
        ``"unit"`` (Hansen; xthreg) or ``"twoway"`` (unit and year effects).
    trim
        Smallest share of observations in a regime, one value for all thresholds or one per
        threshold (xthreg ``trim()``, default 0.01).
    grid
        Candidate thresholds: None (every distinct value of ``q`` inside the trimmed range, as
        Hansen 1999), an integer number of values at evenly spaced ranks (xthreg ``grid()``),
        or explicit values.
    n_draws, seed
        Bootstrap samples per F test and the seed of their streams (``replicate_rng``).
        ``n_draws=0`` skips the bootstrap (p-values missing).
    cluster
        Clustering of the slope standard errors (``"unit"`` default; None: robust).
    alpha
        Level of the LR confidence sets (``1 - alpha``) and of the test decisions.
    backend
        Replicate backend for the bootstrap (see :mod:`climetrics.core.replicate`).

    Returns
    -------
    ThresholdResult

    Raises
    ------
    PanelError
        Unbalanced panel or missing values (naming the unit and year).
    ConfigError, EstimationError
        Invalid options; no admissible threshold.
    """
    from ...core.demean import FixedEffects
    from ...core.replicate import map_replicates
    from ..baseline.twfe import _as_list, twfe

    treat_l, ctrl_l = _as_list(treat), _as_list(controls)
    if not treat_l:
        raise ConfigError("threshold_regression needs at least one regime-dependent regressor (treat)")
    if not isinstance(n_thresholds, (int, np.integer)) or not 1 <= n_thresholds <= MAX_THRESHOLDS:
        raise ConfigError(f"n_thresholds must be 1, 2 or 3, got {n_thresholds!r}")
    trims = [float(trim)] * n_thresholds if np.isscalar(trim) else [float(t) for t in trim]
    if len(trims) != n_thresholds:
        raise ConfigError(f"trim has {len(trims)} values but n_thresholds is {n_thresholds}")
    if any(not 0 <= t < 0.5 for t in trims):
        raise ConfigError(f"trim values must lie in [0, 0.5), got {trims}")
    if fe not in ("unit", "twoway"):
        raise ConfigError(f"fe must be 'unit' or 'twoway', got {fe!r}")
    if n_draws < 0:
        raise ConfigError(f"n_draws must be >= 0, got {n_draws}")
    lr_critical_value(alpha)
    overlap = set(treat_l) & set(ctrl_l)
    if overlap:
        raise PanelError(f"variable(s) {sorted(overlap)} appear both as treat and as control")
    if y in treat_l + ctrl_l + [threshold_var]:
        raise PanelError(f"outcome '{y}' also appears on the right-hand side or as the threshold variable")

    cols = list(dict.fromkeys([y, *treat_l, *ctrl_l, threshold_var]))
    panel.require(cols, context="threshold_regression")
    df = panel.df
    missing = df[cols].isna()
    if missing.any().any():
        i = int(np.flatnonzero(missing.any(axis=1).to_numpy())[0])
        col = missing.columns[missing.iloc[i].to_numpy()][0]
        raise PanelError(
            f"threshold_regression needs a balanced panel without gaps, but '{col}' is missing for "
            f"{panel.unit} {show(df.at[i, panel.unit])} in {df.at[i, panel.time]} "
            f"({int(missing.any(axis=1).sum())} incomplete rows); drop or fill them first"
        )
    report = panel.balance()
    if not report.balanced:
        u, t = report.missing.iloc[0]
        raise PanelError(
            f"threshold_regression needs a balanced panel (Hansen 1999): {panel.unit} {show(u)} has no row "
            f"for {panel.time} {t} ({len(report.missing)} unit-period pairs absent)"
        )
    n_units, n_t = report.n_units, report.n_periods
    if n_t < 2:
        raise PanelError("threshold_regression needs at least two periods per unit")

    Y = df[y].to_numpy(float)
    X = df[treat_l].to_numpy(float)
    W = df[ctrl_l].to_numpy(float) if ctrl_l else np.empty((len(df), 0))
    q = df[threshold_var].to_numpy(float)
    n, k = X.shape
    unit_codes = pd.factorize(df[panel.unit], sort=True)[0]
    fe_codes = [unit_codes] + ([pd.factorize(df[panel.time], sort=True)[0]] if fe == "twoway" else [])
    fes = FixedEffects(fe_codes)
    absorbed = n_units + (n_t - 1 if fe == "twoway" else 0)
    df_resid = float(n - absorbed)

    base = fes.demean(np.column_stack([W, X]))
    basis, rdiag = np.linalg.qr(base)
    scale = np.abs(rdiag).max() if rdiag.size else 1.0
    keep = np.abs(np.diag(rdiag)) > 1e-9 * scale
    if not keep[W.shape[1]:].all():
        raise EstimationError(
            f"regime-dependent regressor(s) {treat_l} are collinear with the fixed effects or the controls"
        )
    basis = basis[:, keep]
    y_w = fes.demean(Y)

    gvals = _grid_values(q, min(trims), grid)
    search = _build_search(X, q, gvals, basis, fes, fe_codes, trims, df_resid)
    e0 = search.annihilate(y_w)
    r = search.cross(e0)
    s0 = float(e0 @ e0)
    G = gvals.size
    steps = _sequential(search, r, s0, n_thresholds, keep_paths=True)

    # thresholds, LR curves and confidence sets: LR_1 uses sigma_1^2; the refined pair of the
    # double model LR_1^r and LR_2^r use sigma_2^2; the third threshold sigma_3^2 (Hansen sec. 3.2)
    c_alpha = lr_critical_value(alpha)
    final = {1: ["1"], 2: ["1r", "2"], 3: ["1r", "2", "3"]}[n_thresholds]
    sigma_key = {"1": "1", "1r": "2", "2": "2", "3": "3"}
    found = []
    for key in final:
        lr = (steps.paths[key] - steps.ssr[key]) / (steps.ssr[sigma_key[key]] / df_resid)
        ok = np.isfinite(lr)
        inside = gvals[ok & (lr <= c_alpha)]
        found.append((float(gvals[steps.index[key]]), float(inside.min()), float(inside.max()),
                      steps.ssr[key], gvals[ok], lr[ok], steps.paths[key][ok]))
    found.sort(key=lambda f: f[0])
    names = [f"gamma{j + 1}" for j in range(len(found))]
    thresholds = pd.DataFrame({"name": names, "estimate": [f[0] for f in found], "ci_low": [f[1] for f in found],
                               "ci_high": [f[2] for f in found], "ssr": [f[3] for f in found]})
    lr_frame = pd.concat([pd.DataFrame({"threshold": nm, "gamma": f[4], "lr": f[5], "ssr": f[6]})
                          for nm, f in zip(names, found, strict=True)], ignore_index=True)

    # the sequential models for k < m thresholds (reading, bootstrap null models)
    seq_sets = {1: [steps.index["1"]]}
    if n_thresholds >= 2:
        seq_sets[2] = sorted([steps.index["1r"], steps.index["2"]])
    if n_thresholds >= 3:
        seq_sets[3] = sorted([steps.index["1r"], steps.index["2"], steps.index["3"]])

    def within_fit(idx: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Within fitted values and residuals of the model with thresholds ``gvals[idx]``."""
        regs = fes.demean(np.column_stack([W, _regime_columns(X, q, [gvals[i] for i in idx])])) if idx else base
        beta, *_ = np.linalg.lstsq(regs, y_w, rcond=None)
        fit = regs @ beta
        return fit, y_w - fit

    # bootstrap F tests
    tests, crit = [], []
    Fstar = np.empty((0, n_thresholds))
    if n_draws > 0:
        nulls = [within_fit([])] + [within_fit(seq_sets[h]) for h in range(1, n_thresholds)]
        shared = {
            "search": search, "m": n_thresholds, "shape": (n_units, n_t), "seed": int(seed),
            "fitted": [f for f, _ in nulls], "resid": [e for _, e in nulls], "demean": fes.demean,
        }
        Fstar = map_replicates(_bootstrap_kernel, int(n_draws), shared, backend=backend,
                               default_chunk=max(1, min(256, int(4e6 // max(n * k, 1)))),
                               label="threshold bootstrap draws")
    for j in range(n_thresholds):
        F = steps.F[j]
        null = "no threshold (linear model)" if j == 0 else f"{('one', 'two')[j - 1]} threshold{'s' if j > 1 else ''}"
        if n_draws > 0:
            fs = Fstar[:, j]
            p = float(np.mean(fs >= F))
            c10, c5, c1 = (float(np.quantile(fs, v)) for v in (0.9, 0.95, 0.99))
        else:
            p, c10, c5, c1 = math.nan, math.nan, math.nan, math.nan
        crit.append({"crit10": c10, "crit5": c5, "crit1": c1})
        tests.append(TestResult(
            f"{_ORDINAL[j + 1]} threshold ({j} vs {j + 1})", F, p, distribution="bootstrap", null=null,
            alpha=alpha, details={"ssr": steps.ssr[str(j + 1)], "crit10": c10, "crit5": c5, "crit1": c1,
                                  "n_draws": int(n_draws)},
        ))
    ssr_by_model = {"0": s0, "1": steps.ssr["1"]}
    if n_thresholds >= 2:
        ssr_by_model["2"] = steps.ssr["2"]
    if n_thresholds >= 3:
        ssr_by_model["3"] = steps.ssr["3"]

    # slopes at the estimated thresholds
    gam = thresholds["estimate"].tolist()
    reg_df = df[[panel.unit, panel.time, y, *ctrl_l]].copy()
    reg_names: list[str] = []
    labels: dict[str, str] = {}
    for j, x in enumerate(treat_l):
        cols_x = _regime_columns(X[:, [j]], q, gam)
        for r_i, lab in enumerate(_regime_labels(x, threshold_var, gam)):
            name = f"_thr_{j}_{r_i}"
            reg_df[name] = cols_x[:, r_i]
            reg_names.append(name)
            labels[name] = lab
    reg_panel = Panel(reg_df, panel.unit, panel.time)
    res = twfe(reg_panel, y, reg_names, ctrl_l, fe=["unit"] if fe == "unit" else None, cluster=cluster)
    res.coefs["term"] = res.coefs["term"].map(lambda t: labels.get(t, t))
    res.meta["treat"] = [labels[n_] for n_ in reg_names]
    res.model = "Panel threshold (FE)"

    return ThresholdResult(
        result=res, treat=treat_l, threshold_var=threshold_var, depvar=y, thresholds=thresholds,
        tests=TestSet(tests, title="Tests of the number of thresholds"), lr=lr_frame, ssr=ssr_by_model,
        n_thresholds=int(n_thresholds), alpha=alpha, n_draws=int(n_draws), trim=trims, n_grid=G,
        crit_values=pd.DataFrame(crit),
        sequential={kk: [float(gvals[i]) for i in idx] for kk, idx in seq_sets.items()}, draws=Fstar,
    )

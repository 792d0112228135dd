"""Results of :func:`climetrics.estimate.endogeneity.iv.iv_2sls`: the 2SLS fit, its
weak-instrument diagnostics and the Anderson-Rubin test and confidence set.

Formulas and references are in the docstring of :mod:`climetrics.estimate.endogeneity.iv`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from ...core.covariance import cluster_sums
from ...core.results import EstimationResult, Result, TestResult, TestSet, jsonable, tidy_frame
from ...errors import EstimationError

__all__ = ["ARConfidenceSet", "IVResult", "WeakIVDiagnostics"]


@dataclass(frozen=True, eq=False, repr=False)
class WeakIVDiagnostics(Result):
    """Instrument-strength statistics of a 2SLS fit.

    Attributes
    ----------
    first_stage_F, first_stage_p
        Per endogenous variable: robust Wald F of the excluded instruments in its first stage
        and its p-value from F(L, df).
    kp_rk_wald, kp_rk_p
        Kleibergen-Paap rk Wald statistic for H0: rank(Pi) = K-1 (underidentification) and its
        asymptotic chi²(L-K+1) p-value.
    kp_rk_wald_F
        ``kp_rk_wald / L``, the Kleibergen-Paap rk Wald F used as the robust weak-instrument
        statistic.
    cragg_donald_F, cragg_donald_df
        Cragg-Donald Wald F (iid errors) and its residual degrees of freedom ``N - K1 - L``.
    stock_yogo_10pct_size
        Stock-Yogo critical value for 10% maximal 2SLS size, or None when not tabulated here
        (more than one endogenous regressor or more than three instruments).
    n_endog, n_instruments
        K and L.
    df
        Denominator degrees of freedom of the F p-values (G-1 with clusters).
    """

    first_stage_F: dict[str, float]
    first_stage_p: dict[str, float]
    kp_rk_wald: float
    kp_rk_p: float
    kp_rk_wald_F: float
    cragg_donald_F: float
    stock_yogo_10pct_size: float | None
    n_endog: int
    n_instruments: int
    df: float
    cragg_donald_df: float = np.nan

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @property
    def tests(self) -> TestSet:
        """First-stage F per endogenous variable (F(L, df)), Kleibergen-Paap rk Wald
        underidentification test (chi²(L-K+1)) and Cragg-Donald Wald F (F(L, N-K1-L) under iid
        errors; with one endogenous regressor the classical first-stage F)."""
        L, K = self.n_instruments, self.n_endog
        out = [
            TestResult(f"First-stage F ({e})", self.first_stage_F[e], self.first_stage_p[e], df=float(L),
                       df_denom=self.df, distribution="F",
                       null=f"the excluded instruments do not move {e}",
                       verdict=self._strength(f"First-stage F of {e}", self.first_stage_F[e]))
            for e in self.first_stage_F
        ]
        out.append(TestResult(
            "Kleibergen-Paap rk Wald (underidentification)", self.kp_rk_wald, self.kp_rk_p,
            df=float(L - K + 1), distribution="chi2", null="the model is underidentified (rank(Pi) = K-1)",
        ))
        cd_p = (float(stats.f.sf(self.cragg_donald_F, L, self.cragg_donald_df))
                if K == 1 and np.isfinite(self.cragg_donald_df) else np.nan)
        out.append(TestResult(
            "Cragg-Donald Wald F", self.cragg_donald_F, cd_p, df=float(L),
            df_denom=float(self.cragg_donald_df), distribution="F",
            null="the instruments are irrelevant (iid errors)",
            verdict=self._strength("Cragg-Donald F", self.cragg_donald_F),
            notes=[] if K == 1 else ["Cragg-Donald p-value only defined for one endogenous regressor."],
        ))
        return TestSet(out, title="Weak-instrument diagnostics")

    def _strength(self, what: str, f: float) -> str:
        """Compare an F with the Stock-Yogo critical value where tabulated, else with 10."""
        if self.stock_yogo_10pct_size is not None:
            cv, ref = self.stock_yogo_10pct_size, "the Stock-Yogo 10% maximal-size critical value"
        else:
            cv, ref = 10.0, "the rule-of-thumb 10"
        return f"{what} = {f:.2f} is {'above' if f > cv else 'below'} {ref} ({cv:.2f}): " + (
            "the instruments are not weak by this yardstick." if f > cv else "the instruments are weak.")

    def tidy(self) -> pd.DataFrame:
        return self.tests.tidy()

    def table(self, **kwargs: Any):
        return self.tests.table(**kwargs)

    def summary(self) -> dict[str, Any]:
        return {k: ({kk: jsonable(vv) for kk, vv in v.items()} if isinstance(v, dict) else jsonable(v))
                for k, v in self.to_dict().items()}

    def reading(self) -> str:
        return self._strength("The Kleibergen-Paap rk Wald F", self.kp_rk_wald_F)


@dataclass(frozen=True, eq=False, repr=False)
class ARConfidenceSet(Result):
    """Anderson-Rubin ``1 - alpha`` confidence set for one endogenous coefficient, by test
    inversion.

    ``intervals`` lists the accepted intervals in increasing order; an end equal to -inf/inf
    means the set reaches the edge of the grid there and is taken to continue (AR sets can be
    unbounded when instruments are weak). Interior ends are located to machine precision by
    root-finding between grid points.
    """

    alpha: float
    intervals: list[tuple[float, float]]
    grid: tuple[float, float, int]
    term: str = "beta"

    @property
    def bounded(self) -> bool:
        return all(np.isfinite(lo) and np.isfinite(hi) for lo, hi in self.intervals)

    @property
    def empty(self) -> bool:
        return not self.intervals

    def __str__(self) -> str:
        if self.empty:
            return f"empty (no value on the grid is accepted at {1 - self.alpha:.0%})"

        def f(v: float) -> str:
            return "-inf" if v == -np.inf else "inf" if v == np.inf else f"{v:.4g}"

        return " U ".join(f"[{f(lo)}, {f(hi)}]" for lo, hi in self.intervals)

    def tidy(self) -> pd.DataFrame:
        """One row per accepted interval (``ci_low``, ``ci_high``)."""
        rows = pd.DataFrame({"term": [self.term] * len(self.intervals),
                             "ci_low": [lo for lo, _ in self.intervals],
                             "ci_high": [hi for _, hi in self.intervals]})
        return tidy_frame(rows)

    def table(self, **kwargs: Any):
        from ...report.tables import Table

        return Table(columns=["Anderson-Rubin set"], rows=[[self.term, str(self)]],
                     title=kwargs.get("title") or f"Anderson-Rubin {1 - self.alpha:.0%} confidence set",
                     notes=[f"Grid [{self.grid[0]:.4g}, {self.grid[1]:.4g}] with {self.grid[2]} points."], stub="")

    def summary(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "bounded": self.bounded, "empty": self.empty,
                "intervals": [[jsonable(lo), jsonable(hi)] for lo, hi in self.intervals]}

    def reading(self) -> str:
        level = f"{1 - self.alpha:.0%}"
        if self.empty:
            return f"The Anderson-Rubin {level} confidence set is empty on the grid: the model is rejected at every value."
        text = f"The weak-instrument-robust Anderson-Rubin {level} confidence set of {self.term} is {self}"
        return text + ("." if self.bounded else "; it is unbounded, a sign of weak instruments.")


@dataclass
class _IVState:
    """Partialled arrays kept for Anderson-Rubin tests at any beta0."""

    y: np.ndarray  # (n,) outcome net of FE and controls
    X: np.ndarray  # (n, K) endogenous net of FE and controls
    Z: np.ndarray  # (n, L) instruments net of FE and controls
    clus: np.ndarray | None
    n_clusters: int
    factor_rf: float  # small-sample factor of a regression on [Z, W]
    df: float


def _ar_stats(st: _IVState, beta0: np.ndarray) -> np.ndarray:
    """AR Wald F at each row of ``beta0`` (m, K): ``d' V^-1 d / L`` with d the coefficients of
    the instruments in the regression of ``y - X beta0`` (all net of FE and controls)."""
    ztz_inv = np.linalg.inv(st.Z.T @ st.Z)
    proj = ztz_inv @ st.Z.T  # (L, n)
    Y = np.column_stack([st.y, st.X])  # (n, 1+K)
    coefs = proj @ Y  # (L, 1+K)
    resid = Y - st.Z @ coefs
    L, K1 = st.Z.shape[1], Y.shape[1]
    # cluster sums of the scores z_i r_ik of every column k, then their cross-products
    # M[k, j] = sum_g s_gk s_gj' (L x L); the meat at beta0 is sum_kj w_k w_j M[k, j]
    scores = (st.Z[:, :, None] * resid[:, None, :]).reshape(len(st.y), L * K1)
    s = cluster_sums(scores, st.clus, st.n_clusters).reshape(-1, L, K1)
    cross = np.einsum("gak,gbj->kjab", s, s)
    w = np.column_stack([np.ones(beta0.shape[0]), -beta0])  # (m, 1+K): y - X b0
    d = np.einsum("lk,mk->ml", coefs, w)  # (m, L)
    meat = np.einsum("mk,mj,kjab->mab", w, w, cross)
    v = st.factor_rf * np.einsum("al,mlj,bj->mab", ztz_inv, meat, ztz_inv)
    sol = np.linalg.solve(v, d[:, :, None])[:, :, 0]
    return np.einsum("ml,ml->m", d, sol) / L


@dataclass(eq=False)
class IVResult(Result):
    """A 2SLS fit: second stage, first stage(s) and weak-instrument diagnostics.

    Attributes
    ----------
    second
        Second-stage estimates (endogenous regressors, then controls).
    first_stages
        First-stage regression of each endogenous variable on the excluded instruments and
        controls (same fixed effects and clustering).
    diagnostics
        :class:`WeakIVDiagnostics`.
    anderson_rubin
        Anderson-Rubin test of beta = 0 (:class:`~climetrics.core.results.TestResult`,
        F(L, df); ``details["beta0"]``).
    """

    second: EstimationResult
    first_stages: dict[str, EstimationResult]
    diagnostics: WeakIVDiagnostics
    anderson_rubin: TestResult | None = None
    label: str | None = None
    _state: _IVState | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ delegation
    @property
    def treat(self) -> list[str]:
        """The endogenous regressor(s)."""
        return list(self.first_stages)

    @property
    def instruments(self) -> list[str]:
        return list(self.second.meta["instruments"])

    @property
    def results(self) -> list[EstimationResult]:
        """First stage(s), then the second stage."""
        return [*self.first_stages.values(), self.second]

    def coef(self, term: str) -> float:
        return self.second.coef(term)

    def se(self, term: str) -> float:
        return self.second.se(term)

    def pvalue(self, term: str) -> float:
        return self.second.pvalue(term)

    def confint(self, term: str) -> tuple[float, float]:
        return self.second.confint(term)

    @property
    def n_obs(self) -> int:
        return self.second.n_obs

    def tidy(self) -> pd.DataFrame:
        """Second-stage coefficients (the first stages are in :attr:`results`)."""
        return self.second.tidy()

    # ------------------------------------------------------------------ Anderson-Rubin
    def ar_test(self, beta0: float | Sequence[float] = 0.0, *, alpha: float = 0.05) -> TestResult:
        """Anderson & Rubin (1949) test of H0: beta = beta0 (all endogenous coefficients).

        Regresses ``y - X beta0`` on the instruments (net of fixed effects and controls) and
        returns the robust Wald F of the instrument coefficients with F(L, df) p-value (df =
        G-1 with clusters). Valid however weak the instruments are.
        """
        st = self._require_state()
        b0 = np.atleast_1d(np.asarray(beta0, dtype=float))
        if b0.shape != (st.X.shape[1],):
            raise ValueError(
                f"beta0 needs {st.X.shape[1]} value(s), one per endogenous variable {self.treat}"
            )
        f = float(_ar_stats(st, b0[None, :])[0])
        L = st.Z.shape[1]
        value = b0.tolist() if b0.size > 1 else float(b0[0])
        return TestResult(
            "Anderson-Rubin", f, float(stats.f.sf(f, L, st.df)), df=float(L), df_denom=float(st.df),
            distribution="F", null=f"the coefficient of {', '.join(self.treat)} is {value}", alpha=alpha,
            details={"beta0": value},
        )

    def ar_confidence_set(
        self,
        alpha: float = 0.05,
        *,
        grid: Sequence[float] | tuple[float, float, int] | None = None,
    ) -> ARConfidenceSet:
        """Anderson-Rubin ``1 - alpha`` confidence set for the (single) endogenous coefficient.

        The set of beta0 whose AR test does not reject at ``alpha``. It is found on a grid
        (default: the 2SLS estimate +/- 20 standard errors, 2001 points, or ``(low, high, n)``,
        or explicit values) and its ends are refined by root-finding between grid points.
        """
        st = self._require_state()
        if st.X.shape[1] != 1:
            raise EstimationError("the AR confidence set is implemented for one endogenous regressor")
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {alpha}")
        if grid is None:
            b, s = self.coef(self.treat[0]), self.se(self.treat[0])
            pts = np.linspace(b - 20 * s, b + 20 * s, 2001)
        elif isinstance(grid, tuple) and len(grid) == 3 and isinstance(grid[2], (int, np.integer)):
            pts = np.linspace(float(grid[0]), float(grid[1]), int(grid[2]))
        else:
            pts = np.sort(np.asarray(grid, dtype=float))
        if pts.size < 2:
            raise ValueError("the AR grid needs at least two points")
        L = st.Z.shape[1]
        crit = float(stats.f.ppf(1 - alpha, L, st.df))
        fvals = _ar_stats(st, pts[:, None])
        acc = fvals <= crit

        def g(b: float) -> float:
            return float(_ar_stats(st, np.array([[b]]))[0]) - crit

        intervals: list[tuple[float, float]] = []
        i = 0
        while i < pts.size:
            if not acc[i]:
                i += 1
                continue
            j = i
            while j + 1 < pts.size and acc[j + 1]:
                j += 1
            lo = -np.inf if i == 0 else optimize.brentq(g, pts[i - 1], pts[i], xtol=1e-14)
            hi = np.inf if j == pts.size - 1 else optimize.brentq(g, pts[j], pts[j + 1], xtol=1e-14)
            intervals.append((float(lo), float(hi)))
            i = j + 1
        return ARConfidenceSet(alpha=alpha, intervals=intervals,
                               grid=(float(pts[0]), float(pts[-1]), int(pts.size)), term=self.treat[0])

    def _require_state(self) -> _IVState:
        if self._state is None:
            raise EstimationError("this IVResult carries no data for Anderson-Rubin tests")
        return self._state

    # ------------------------------------------------------------------ rendering
    def table(self, **kwargs: Any):
        """First stage column(s) and the second stage side by side (seed 000 Table 6).

        Rows below the coefficients: first-stage F (per first stage), Kleibergen-Paap rk Wald F,
        Cragg-Donald Wald F, Stock-Yogo 10% critical value (when tabulated) and the
        Anderson-Rubin p-value of beta = 0. Keyword arguments go to
        :func:`climetrics.report.tables.regression_table`.
        """
        from ...report.tables import fmt, regression_table

        d = self.diagnostics
        k = len(self.first_stages)
        blank = [""] * k
        rows: dict[str, list[str]] = {
            "First-stage F (excluded instruments)": [fmt(d.first_stage_F[e], 2) for e in self.treat] + [""],
            "Kleibergen-Paap rk Wald F": [*blank, fmt(d.kp_rk_wald_F, 2)],
            "Cragg-Donald Wald F": [*blank, fmt(d.cragg_donald_F, 2)],
        }
        if d.stock_yogo_10pct_size is not None:
            rows["Stock-Yogo 10% max. size c.v."] = [*blank, fmt(d.stock_yogo_10pct_size, 2)]
        if self.anderson_rubin is not None:
            rows["Anderson-Rubin p-value (beta = 0)"] = [*blank, fmt(self.anderson_rubin.p_value, 3)]
        rows.update(kwargs.pop("extra_rows", None) or {})
        kwargs.setdefault(
            "column_labels",
            [f"First stage ({e})" for e in self.treat] + ["Second stage (2SLS)"],
        )
        exog = [t for t in self.second.terms if t not in self.treat]
        kwargs.setdefault("keep", [*self.treat, *self.instruments, *exog])
        kwargs.setdefault("title", self.label)
        notes = list(kwargs.pop("notes", None) or [])
        notes.append(
            f"Instruments: {', '.join(self.instruments)}. First-stage and KP F are robust Wald F "
            "statistics; Cragg-Donald F assumes iid errors; Stock-Yogo critical values are for iid "
            "errors (Stock & Yogo 2005)."
        )
        return regression_table(self.results, extra_rows=rows, notes=notes, **kwargs)

    def summary(self) -> dict[str, Any]:
        """Headline numbers: the (first) endogenous coefficient, instrument strength, AR p."""
        t = self.treat[0]
        out = self.second.summary() | {"term": t}
        r = self.second._row(t)
        out.update({k: jsonable(r[k]) for k in ("estimate", "std_error", "statistic", "p_value", "ci_low", "ci_high")})
        out.update(first_stage_F=jsonable(self.diagnostics.first_stage_F[t]),
                   kp_rk_wald_F=jsonable(self.diagnostics.kp_rk_wald_F),
                   cragg_donald_F=jsonable(self.diagnostics.cragg_donald_F),
                   ar_p_value=jsonable(self.anderson_rubin.p_value) if self.anderson_rubin else None)
        return out

    def reading(self, term: str | None = None, *, label: str | None = None) -> str:
        """Instrument strength first, then the 2SLS estimate and the weak-IV-robust AR test:
        with a first-stage F below 10 the reading says to rely on the AR test."""
        from ...core.wording import p_phrase, significance_phrase

        term = term or self.treat[0]
        d = self.diagnostics
        f = d.first_stage_F[term]
        weak = f < 10
        parts = [f"The first-stage F on the excluded instruments is {f:.2f} (Kleibergen-Paap rk Wald F "
                 f"{d.kp_rk_wald_F:.2f}): " + ("the instrument is weak (below the rule-of-thumb 10), so 2SLS "
                                               "is biased toward OLS and its t-test is unreliable." if weak else
                                               "the instrument is not weak by the rule-of-thumb F > 10.")]
        b, p = self.coef(term), self.pvalue(term)
        text = (f"2SLS gives {b:.4f} for {label or term} ({p_phrase(p)}, {significance_phrase(p)}).")
        if self.anderson_rubin is not None:
            text += (" The Anderson-Rubin test, valid however weak the instrument, gives "
                     f"{p_phrase(self.anderson_rubin.p_value)} for a zero effect"
                     + (": rely on it rather than the 2SLS t-test." if weak else "."))
        parts.append(text)
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"<IV-2SLS result: {self.second.depvar}, N={self.n_obs}>\n{self.table().to_text()}"

"""Polynomial (quadratic / cubic) fixed-effects regressions, turning points and the U-test.

The model is the TWFE regression of seed 001 (sec. on the nonlinear relationship, Table 5)::

    y_it = b1 x_it + b2 x_it^2 [+ b3 x_it^3] + W_it' gamma + mu_i + lambda_t + e_it

estimated with :func:`climetrics.estimate.baseline.twfe.twfe` (clustered standard errors with the fixest
small-sample factor). What the seed calls the "extreme value point" is a root of the slope

    f'(x) = b1 + 2 b2 x [+ 3 b3 x^2] = 0,

i.e. ``x* = -b1 / (2 b2)`` for the quadratic and the real roots of ``3 b3 x^2 + 2 b2 x + b1``
for the cubic. Each turning point gets a delta-method standard error from the clustered
covariance of (b1, b2[, b3]): by the implicit function theorem
``dx*/db_j = -j x*^(j-1) / f''(x*)``, which for the quadratic is ``(-1/(2 b2), b1/(2 b2^2))``.
Its 95% interval uses the same t(df) quantile as the coefficient table.

A significant squared term does not establish an inverted U (Lind & Mehlum 2010): the
turning point must lie inside the data, and the slope must be significantly positive at the
lower end of the range and significantly negative at the upper end (for a U, the reverse).
Their test statistic for H0 "monotone or U-shaped" against H1 "inverted U" on [xL, xH] is

    t = min( s(xL) / se(s(xL)),  -s(xH) / se(s(xH)) ),   s(x) = b1 + 2 b2 x,

with ``se(s(x))^2 = V11 + 4 x V12 + 4 x^2 V22``; the p-value is ``P(T > t)`` for T ~ t(df)
(df = G-1 with clustered errors), which is the likelihood-ratio test of their paper and the
"overall test" of Stata's ``utest``. The Fieller (1954) interval of the extreme point, which
Lind & Mehlum recommend over the delta method, is the set of x at which the slope is not
significantly different from zero: ``{x : s(x)^2 <= c^2 se(s(x))^2}``, c the two-sided t(df)
quantile; it is bounded only when b2 itself is significant at that level.

References
----------
Lind, J. T. and Mehlum, H. (2010). With or without U? The appropriate test for a U-shaped
relationship. *Oxford Bulletin of Economics and Statistics* 72(1), 109-118.

Fieller, E. C. (1954). Some problems in interval estimation. *Journal of the Royal Statistical
Society B* 16(2), 175-185.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ...core.results import EstimationResult, Result
from ...errors import EstimationError, PanelError
from ...panel import Panel
from ..baseline.twfe import _as_list, _codes, twfe

__all__ = [
    "FiellerInterval",
    "PolynomialResult",
    "TurningPoint",
    "UTest",
    "polynomial_fe",
    "turning_points",
    "u_test",
]


def _ordinal(p: float) -> str:
    """``43`` -> ``"43rd"``."""
    n = int(round(p))
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


# ------------------------------------------------------------------------------------ results
@dataclass(frozen=True)
class TurningPoint:
    """A root of the fitted slope: where the fitted curve turns.

    Attributes
    ----------
    x, se, ci_low, ci_high
        Location, delta-method standard error and confidence interval.
    kind
        ``"maximum"`` (curve turns from rising to falling) or ``"minimum"``.
    inside
        Whether ``x`` lies within the observed range [x_min, x_max] of the regressor.
    percentile
        Share (in %) of observations with x at or below the turning point.
    """

    x: float
    se: float
    ci_low: float
    ci_high: float
    kind: str
    inside: bool
    percentile: float


@dataclass(frozen=True)
class FiellerInterval:
    """Fieller confidence set of the extreme point of a quadratic.

    ``kind`` is ``"bounded"`` ([low, high]), ``"two rays"`` ((-inf, low] U [high, inf)) or
    ``"whole line"`` (low = -inf, high = inf).
    """

    kind: str
    low: float
    high: float
    level: float

    def __str__(self) -> str:
        if self.kind == "bounded":
            return f"[{self.low:.4g}, {self.high:.4g}]"
        if self.kind == "two rays":
            return f"(-inf, {self.low:.4g}] U [{self.high:.4g}, inf)"
        return "(-inf, inf)"


@dataclass(frozen=True)
class UTest:
    """Lind & Mehlum (2010) test of an inverted U (or U) on [x_low, x_high].

    Attributes
    ----------
    shape
        Alternative tested: ``"inverted U"`` (b2 < 0) or ``"U"`` (b2 > 0).
    x_low, x_high
        Interval ends (by default the observed minimum and maximum).
    slope_low, slope_high, t_low, t_high
        Fitted slopes at the ends and their t-statistics.
    statistic, p_value, df
        ``min`` of the two one-sided t-statistics, its p-value ``P(T > t)``, T ~ t(df).
    fieller
        Fieller interval of the extreme point (:class:`FiellerInterval`).
    """

    shape: str
    x_low: float
    x_high: float
    slope_low: float
    slope_high: float
    t_low: float
    t_high: float
    statistic: float
    p_value: float
    df: float
    fieller: FiellerInterval


@dataclass(eq=False)
class PolynomialResult(Result):
    """A polynomial FE regression with its turning points and (quadratic) U-test.

    Attributes
    ----------
    result
        The underlying :class:`EstimationResult` (terms ``x``, ``x^2`` [, ``x^3``], controls).
    x, degree, terms
        Regressor, polynomial degree and the names of its power terms.
    x_min, x_max
        Observed range of x in the estimation sample.
    turning_points
        Real roots of the fitted slope, in increasing order (may be empty).
    utest
        :class:`UTest` for degree 2, else None.
    """

    result: EstimationResult
    x: str
    degree: int
    terms: list[str]
    x_min: float
    x_max: float
    turning_points: list[TurningPoint]
    utest: UTest | None
    x_values: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))

    # ------------------------------------------------------------------ accessors
    @property
    def coefficients(self) -> np.ndarray:
        """(b1, ..., b_degree)."""
        return np.array([self.result.coef(t) for t in self.terms])

    @property
    def cov(self) -> np.ndarray:
        """Covariance of (b1, ..., b_degree)."""
        idx = [self.result.terms.index(t) for t in self.terms]
        return np.asarray(self.result.cov)[np.ix_(idx, idx)]

    def coef(self, term: str) -> float:
        return self.result.coef(term)

    def se(self, term: str) -> float:
        return self.result.se(term)

    def slope(self, x: float | np.ndarray) -> np.ndarray:
        """Fitted marginal effect dy/dx at ``x``."""
        b = self.coefficients
        x = np.asarray(x, dtype=float)
        return sum((j + 1) * b[j] * x**j for j in range(self.degree))

    # ------------------------------------------------------------------ verdict
    def verdict(self) -> str:
        """Plain-language reading of the shape, turning point(s) and U-test."""
        b = self.coefficients
        rng = f"[{self.x_min:.4g}, {self.x_max:.4g}]"
        p2 = self.result.pvalue(self.terms[1])
        if self.degree == 2 and not self.turning_points:
            return f"The squared term of {self.x} is exactly zero: no curvature, no turning point."
        if self.degree == 2:
            shape = "inverted U" if b[1] < 0 else "U"
            tp = self.turning_points[0]
            ut = self.utest
            assert ut is not None
            where = (
                f"inside the observed range {rng}, at the {_ordinal(tp.percentile)} percentile"
                if tp.inside
                else f"{'above' if tp.x > self.x_max else 'below'} the observed range {rng}"
            )
            head = (
                f"{shape} with turning point at {self.x} = {tp.x:.4g} ({where}) — "
                f"U-test p = {ut.p_value:.3g}."
            )
            if tp.inside and ut.p_value < 0.05:
                tail = (
                    f"The slope is significantly {'positive' if b[1] < 0 else 'negative'} at the low end "
                    f"and significantly {'negative' if b[1] < 0 else 'positive'} at the high end of the "
                    f"data: evidence for a{'n inverted' if b[1] < 0 else ''} U-shape (Lind & Mehlum 2010)."
                )
            elif tp.inside:
                tail = (
                    "The turning point lies in the data, but the slopes at the ends of the range are "
                    "not both significant with opposite signs, so the U-test does not confirm the "
                    f"{shape} at 5%."
                )
            else:
                direction = "increasing" if float(self.slope((self.x_min + self.x_max) / 2)) > 0 else "decreasing"
                tail = (
                    f"Within the data the fitted relationship is monotonically {direction} "
                    f"({'concave' if b[1] < 0 else 'convex'}); the squared term "
                    f"(p = {p2:.3g}) alone does not establish a{'n inverted' if b[1] < 0 else ''} U."
                )
            return head + " " + tail
        # cubic
        if not self.turning_points:
            direction = "increasing" if b[2] > 0 else "decreasing"
            return (
                f"Cubic in {self.x} without real turning points: the fitted curve is monotonically "
                f"{direction} everywhere."
            )
        pieces = []
        for tp in self.turning_points:
            where = (
                f"inside the range, at the {_ordinal(tp.percentile)} percentile"
                if tp.inside
                else f"outside the observed range {rng}"
            )
            pieces.append(f"{tp.kind} at {self.x} = {tp.x:.4g} (SE {tp.se:.3g}; {where})")
        n_in = sum(tp.inside for tp in self.turning_points)
        pattern = (
            "rising, falling, then rising again" if b[2] > 0 else "falling, rising, then falling again"
        )
        if n_in == 2:
            tail = f"Both lie in the data: the fitted curve is {pattern} over the observed range."
        elif n_in == 1:
            tail = "Only one lies in the data, so over the observed range the curve turns once."
        else:
            tail = "Neither lies in the data: over the observed range the fitted curve is monotone."
        return f"Cubic in {self.x}: turning points " + "; ".join(pieces) + ". " + tail

    # ------------------------------------------------------------------ rendering
    def table(self, **kwargs: Any):
        """One-column regression table with rows for turning point(s), range and U-test."""
        from ...report.tables import fmt

        rows: dict[str, list[str]] = {}
        for i, tp in enumerate(self.turning_points, 1):
            lab = "Turning point" if len(self.turning_points) == 1 else f"Turning point {i}"
            rows[lab] = [f"{fmt(tp.x, 3)} ({fmt(tp.se, 3)})"]
        rows[f"Range of {self.x}"] = [f"[{fmt(self.x_min, 3)}, {fmt(self.x_max, 3)}]"]
        if self.utest is not None:
            rows["U-test p-value"] = [fmt(self.utest.p_value, 3)]
        rows.update(kwargs.pop("extra_rows", None) or {})
        return self.result.table(extra_rows=rows, **kwargs)

    def plot(self, ax=None, *, level: float = 0.95, n_points: int = 200, reference: str | float = "mean"):
        """Fitted curve with a pointwise confidence band over the observed range of x.

        The fixed effects make the level of the curve unidentified, so the curve is drawn
        relative to its value at ``reference`` (``"mean"`` of x, ``"min"``, or a number):
        ``g(x) = sum_j b_j (x^j - r^j)``, with delta-method band ``+/- c sqrt(a' V a)``,
        ``a_j = x^j - r^j``. Turning points inside the range are marked. Returns the Figure
        (like every figure method of climetrics); pass ``ax`` to draw into an existing one.
        """
        from ...report.figures import _pyplot

        plt = _pyplot()
        if ax is None:
            _, ax = plt.subplots(figsize=(6.4, 3.8))
        xs = np.linspace(self.x_min, self.x_max, n_points)
        if reference == "mean":
            r = float(np.mean(self.x_values)) if self.x_values.size else (self.x_min + self.x_max) / 2
        elif reference == "min":
            r = self.x_min
        else:
            r = float(reference)
        powers = np.arange(1, self.degree + 1)
        a = xs[:, None] ** powers - r**powers
        fit = a @ self.coefficients
        se = np.sqrt(np.einsum("ij,jk,ik->i", a, self.cov, a))
        c = stats.t.ppf(0.5 + level / 2, self.result.meta.get("df_t") or np.inf)
        ax.fill_between(xs, fit - c * se, fit + c * se, color="#1f4e8c", alpha=0.2, lw=0,
                        label=f"{level:.0%} CI")
        ax.plot(xs, fit, color="#1f4e8c", lw=1.6, label="Fitted")
        for tp in self.turning_points:
            if tp.inside:
                ax.axvline(tp.x, color="grey", ls="--", lw=0.9)
        if self.x_values.size:
            lo, hi = ax.get_ylim()
            ax.plot(self.x_values, np.full(self.x_values.size, lo), "|", color="black",
                    alpha=0.3, ms=6)
            ax.set_ylim(lo, hi)
        ax.axhline(0, color="grey", lw=0.6)
        ax.set_xlabel(self.x)
        ax.set_ylabel(f"{self.result.depvar} (relative to {self.x} = {r:.3g})")
        ax.legend(frameon=False)
        ax.spines[["top", "right"]].set_visible(False)
        return ax.figure

    def __repr__(self) -> str:
        return f"<Polynomial FE result: {self.result.depvar} on {self.x} (degree {self.degree})>\n{self.verdict()}"


# ------------------------------------------------------------------------------------ maths
def turning_points(b: np.ndarray, cov: np.ndarray) -> list[tuple[float, float, float]]:
    """Real roots of the slope of ``sum_j b_j x^j`` with delta-method SEs.

    Parameters
    ----------
    b
        Coefficients (b1, ..., b_d) of x, x^2, ..., x^d (d = 2 or 3).
    cov
        Their covariance matrix.

    Returns
    -------
    list of (x*, se, f''(x*))
        In increasing order of x*; the second derivative's sign tells maximum (< 0) from
        minimum (> 0).
    """
    b = np.asarray(b, dtype=float)
    d = b.size
    deriv = [(j + 1) * b[j] for j in range(d)]  # coefficients of x^0 .. x^(d-1)
    roots = np.roots(deriv[::-1]) if np.any(np.asarray(deriv[1:]) != 0) else np.array([])
    out = []
    for root in np.sort_complex(roots):
        if abs(root.imag) > 1e-12 * max(1.0, abs(root.real)):
            continue
        x = float(root.real)
        f2 = sum(j * (j + 1) * b[j] * x ** (j - 1) for j in range(1, d))
        grad = -np.array([(j + 1) * x**j for j in range(d)]) / f2
        se = float(np.sqrt(grad @ cov @ grad))
        out.append((x, se, f2))
    return out


def u_test(
    b1: float, b2: float, cov: np.ndarray, x_low: float, x_high: float, df: float, *, level: float = 0.95
) -> UTest:
    """Lind & Mehlum (2010) U-test for the quadratic ``b1 x + b2 x^2`` on [x_low, x_high].

    ``cov`` is the 2 x 2 covariance of (b1, b2); ``df`` the t degrees of freedom (``inf`` for
    the normal). See the module docstring for the formulas.
    """
    v11, v12, v22 = float(cov[0, 0]), float(cov[0, 1]), float(cov[1, 1])

    def slope_t(x: float) -> tuple[float, float]:
        s = b1 + 2 * b2 * x
        return s, s / np.sqrt(v11 + 4 * x * v12 + 4 * x * x * v22)

    s_lo, t_lo = slope_t(x_low)
    s_hi, t_hi = slope_t(x_high)
    shape = "inverted U" if b2 < 0 else "U"
    stat = min(t_lo, -t_hi) if b2 < 0 else min(-t_lo, t_hi)
    p = float(stats.t.sf(stat, df))
    c = float(stats.t.ppf(0.5 + level / 2, df))
    # Fieller: (b1 + 2 b2 x)^2 <= c^2 (v11 + 4 x v12 + 4 x^2 v22)  <=>  A x^2 + B x + C <= 0
    A = 4 * (b2 * b2 - c * c * v22)
    B = 4 * (b1 * b2 - c * c * v12)
    C = b1 * b1 - c * c * v11
    disc = B * B - 4 * A * C
    if disc < 0:
        fieller = FiellerInterval("whole line", -np.inf, np.inf, level)
    else:
        r1, r2 = sorted(((-B - np.sqrt(disc)) / (2 * A), (-B + np.sqrt(disc)) / (2 * A))) if A != 0 else (np.nan, np.nan)
        fieller = FiellerInterval("bounded" if A > 0 else "two rays", float(r1), float(r2), level)
    return UTest(
        shape=shape,
        x_low=float(x_low),
        x_high=float(x_high),
        slope_low=float(s_lo),
        slope_high=float(s_hi),
        t_low=float(t_lo),
        t_high=float(t_hi),
        statistic=float(stat),
        p_value=p,
        df=float(df),
        fieller=fieller,
    )


# ------------------------------------------------------------------------------------ estimator
def polynomial_fe(
    panel: Panel,
    y: str,
    x: str,
    controls: str | Sequence[str] = (),
    *,
    degree: int = 2,
    fe: str | Sequence[str] | None = None,
    cluster: str | None = "unit",
    interval: tuple[float, float] | None = None,
    ssc: str = "nested",
    title: str | None = None,
) -> PolynomialResult:
    """Quadratic or cubic fixed-effects regression with turning points and the U-test.

    Parameters
    ----------
    panel
        The data.
    y, x
        Outcome and the regressor entering as a polynomial.
    controls
        Further controls (linear).
    degree
        2 (quadratic: one extreme point, Lind-Mehlum U-test) or 3 (cubic: up to two turning
        points).
    fe, cluster, ssc
        As in :func:`climetrics.estimate.baseline.twfe.twfe` (default unit + time FE, clustered by unit;
        ``cluster=None`` gives heteroskedasticity-robust errors).
    interval
        Interval of the U-test; default the observed range of x in the estimation sample.
    title
        Label of the result.

    Returns
    -------
    PolynomialResult
        With :meth:`~PolynomialResult.verdict`, :meth:`~PolynomialResult.table` and
        :meth:`~PolynomialResult.plot`.

    Notes
    -----
    Turning points, delta-method SEs and the U-test follow Lind & Mehlum (2010); see the module
    docstring.
    """
    if degree not in (2, 3):
        raise ValueError(f"degree must be 2 or 3, got {degree!r}")
    ctrl = _as_list(controls)
    if x in ctrl or x == y:
        raise PanelError(f"'{x}' cannot be both the polynomial regressor and the outcome or a control")
    panel.require([y, x, *ctrl], context="polynomial_fe")
    terms = [x] + [f"{x}^{k}" for k in range(2, degree + 1)]
    xv = pd.to_numeric(panel.df[x]).astype(float).to_numpy()
    p2 = panel.assign(**{t: xv ** (k + 1) for k, t in enumerate(terms) if k > 0})
    try:
        res = twfe(p2, y, terms, ctrl, fe=fe, cluster=cluster, ssc=ssc)
    except EstimationError as err:
        raise EstimationError(
            f"cannot fit a degree-{degree} polynomial in '{x}': {err}. Does '{x}' take enough "
            "distinct values (at least degree + 1) after the fixed effects?"
        ) from err
    assert isinstance(res, EstimationResult)
    res.label = title
    # estimation sample: complete rows, minus singletons when fixed effects are absorbed
    fe_l = [panel.unit, panel.time] if fe is None else _as_list(fe)
    fe_l = [panel.unit if f == "unit" else panel.time if f == "time" else f for f in fe_l]
    clus = panel.unit if cluster == "unit" else cluster
    cols = list(dict.fromkeys([y, x, *ctrl, *fe_l, *([clus] if clus else [])]))
    d = panel.df[cols]
    keep = d.notna().all(axis=1).to_numpy()
    sample = d.loc[keep].reset_index(drop=True)
    if fe_l:
        from ...core.demean import find_singletons

        single = find_singletons(_codes(sample, fe_l))
        sample = sample.loc[~single]
    xs = sample[x].to_numpy(dtype=float)
    if xs.size != res.n_obs:  # pragma: no cover - only if the engine drops rows differently
        res.notes.append(f"Range of {x} computed on {xs.size} complete rows (N = {res.n_obs}).")
    x_min, x_max = float(xs.min()), float(xs.max())
    b = np.array([res.coef(t) for t in terms])
    idx = [res.terms.index(t) for t in terms]
    cov = np.asarray(res.cov)[np.ix_(idx, idx)]
    df_t = float(res.meta.get("df_t") or np.inf)
    crit = float(stats.t.ppf(0.975, df_t))
    tps = []
    for xstar, se, f2 in turning_points(b, cov):
        tps.append(
            TurningPoint(
                x=xstar,
                se=se,
                ci_low=xstar - crit * se,
                ci_high=xstar + crit * se,
                kind="maximum" if f2 < 0 else "minimum",
                inside=bool(x_min <= xstar <= x_max),
                percentile=float(100.0 * np.mean(xs <= xstar)),
            )
        )
    ut = None
    if degree == 2:
        lo, hi = interval if interval is not None else (x_min, x_max)
        if not lo < hi:
            raise ValueError(f"the U-test interval must have low < high, got ({lo}, {hi})")
        ut = u_test(b[0], b[1], cov, lo, hi, df_t)
    return PolynomialResult(
        result=res,
        x=x,
        degree=degree,
        terms=terms,
        x_min=x_min,
        x_max=x_max,
        turning_points=tps,
        utest=ut,
        x_values=xs,
    )

"""Results of :func:`climetrics.estimate.selection.nonlinear.polynomial_fe`: the turning points,
the Fieller set of the extreme point, the Lind & Mehlum (2010) U-test and the polynomial fit.

The formulas are in the docstring of :mod:`climetrics.estimate.selection.nonlinear`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ...core.results import EstimationResult, Result, TestResult, jsonable, tidy_frame

__all__ = ["FiellerInterval", "PolynomialResult", "TurningPoint", "UTest"]


def _ordinal(p: float) -> str:
    """``43`` -> ``"43rd"``."""
    n = int(round(p))
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _one_row_table(tidy: pd.DataFrame, title: str, notes: list[str] | None = None):
    """A small table of tidy rows: estimate, SE, confidence interval."""
    from ...report.tables import Table, fmt

    rows = [[str(r.term), fmt(r.estimate, 4), fmt(r.std_error, 4), f"[{fmt(r.ci_low, 4)}, {fmt(r.ci_high, 4)}]"]
            for r in tidy.itertuples()]
    return Table(columns=["Estimate", "Std. error", "Interval"], rows=rows, title=title,
                 notes=list(notes or []), stub="")


# ------------------------------------------------------------------------------------ results
@dataclass(frozen=True, eq=False, repr=False)
class TurningPoint(Result):
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

    def tidy(self) -> pd.DataFrame:
        return tidy_frame(pd.DataFrame({
            "term": [f"turning point ({self.kind})"], "estimate": [self.x], "std_error": [self.se],
            "statistic": [self.x / self.se if self.se > 0 else np.nan],
            "ci_low": [self.ci_low], "ci_high": [self.ci_high],
            "inside": [self.inside], "percentile": [self.percentile],
        }))

    def table(self, **kwargs: Any):
        return _one_row_table(self.tidy(), kwargs.get("title") or "Turning point")

    def summary(self) -> dict[str, Any]:
        return {k: jsonable(getattr(self, k)) for k in ("x", "se", "ci_low", "ci_high", "kind", "inside", "percentile")}

    def reading(self) -> str:
        where = (f"inside the observed range, at the {_ordinal(self.percentile)} percentile" if self.inside
                 else "outside the observed range")
        return (f"The fitted curve has a {self.kind} at {self.x:.4g} (SE {self.se:.3g}, CI "
                f"[{self.ci_low:.4g}, {self.ci_high:.4g}]), {where}.")


@dataclass(frozen=True, eq=False, repr=False)
class FiellerInterval(Result):
    """Fieller confidence set of the extreme point of a quadratic.

    ``kind`` is ``"bounded"`` ([low, high]), ``"two rays"`` ((-inf, low] U [high, inf)) or
    ``"whole line"`` (low = -inf, high = inf); ``alpha``: 1 - confidence level.
    """

    kind: str
    low: float
    high: float
    alpha: float

    def __str__(self) -> str:
        if self.kind == "bounded":
            return f"[{self.low:.4g}, {self.high:.4g}]"
        if self.kind == "two rays":
            return f"(-inf, {self.low:.4g}] U [{self.high:.4g}, inf)"
        return "(-inf, inf)"

    def tidy(self) -> pd.DataFrame:
        """One row; ``ci_low``/``ci_high`` are the ends (for two rays: the inner ends)."""
        return tidy_frame(pd.DataFrame({"term": ["extreme point (Fieller)"], "ci_low": [self.low],
                                        "ci_high": [self.high], "kind": [self.kind]}))

    def table(self, **kwargs: Any):
        from ...report.tables import Table

        return Table(columns=["Set"], rows=[["Extreme point", str(self)]],
                     title=kwargs.get("title") or f"Fieller {1 - self.alpha:.0%} confidence set", stub="")

    def summary(self) -> dict[str, Any]:
        return {"kind": self.kind, "low": jsonable(self.low), "high": jsonable(self.high), "alpha": self.alpha}

    def reading(self) -> str:
        level = f"{1 - self.alpha:.0%}"
        if self.kind == "bounded":
            return f"The Fieller {level} confidence set of the extreme point is {self}."
        return (f"The Fieller {level} confidence set of the extreme point is unbounded ({self}): the "
                "squared term is not precise enough to locate the turning point.")


@dataclass(eq=False, repr=False)
class UTest(TestResult):
    """Lind & Mehlum (2010) test of an inverted U (or U) on [x_low, x_high], a
    :class:`~climetrics.core.results.TestResult` (``statistic``, ``p_value``, ``df``) with:

    Attributes
    ----------
    shape
        Alternative tested: ``"inverted U"`` (b2 < 0) or ``"U"`` (b2 > 0).
    x_low, x_high
        Interval ends (by default the observed minimum and maximum).
    slope_low, slope_high, t_low, t_high
        Fitted slopes at the ends and their t-statistics.
    fieller
        Fieller interval of the extreme point (:class:`FiellerInterval`).
    """

    shape: str = ""
    x_low: float = np.nan
    x_high: float = np.nan
    slope_low: float = np.nan
    slope_high: float = np.nan
    t_low: float = np.nan
    t_high: float = np.nan
    fieller: FiellerInterval | None = None


@dataclass(eq=False)
class PolynomialResult(Result):
    """A polynomial FE regression with its turning points and (quadratic) U-test.

    Attributes
    ----------
    result
        The underlying :class:`EstimationResult` (terms ``treat``, ``treat^2`` [, ``treat^3``],
        controls).
    treat, degree, terms
        Regressor, polynomial degree and the names of its power terms.
    x_min, x_max
        Observed range of the regressor in the estimation sample.
    turning_points
        Real roots of the fitted slope, in increasing order (may be empty).
    utest
        :class:`UTest` for degree 2, else None.
    """

    result: EstimationResult
    treat: str
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

    @property
    def results(self) -> list[EstimationResult]:
        return [self.result]

    def coef(self, term: str) -> float:
        return self.result.coef(term)

    def se(self, term: str) -> float:
        return self.result.se(term)

    def slope(self, x: float | np.ndarray) -> np.ndarray:
        """Fitted marginal effect dy/dx at ``x``."""
        b = self.coefficients
        x = np.asarray(x, dtype=float)
        return sum((j + 1) * b[j] * x**j for j in range(self.degree))

    def tidy(self) -> pd.DataFrame:
        """The polynomial terms, then one row per turning point (``term`` = ``turning point``)."""
        coefs = self.result.tidy()
        tps = [tp.tidy() for tp in self.turning_points]
        return tidy_frame(pd.concat([coefs[coefs["term"].isin(self.terms)], *tps], ignore_index=True))

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"treat": self.treat, "degree": self.degree,
                               "x_min": self.x_min, "x_max": self.x_max,
                               **{t: jsonable(self.coef(t)) for t in self.terms},
                               "turning_points": [tp.summary() for tp in self.turning_points]}
        if self.utest is not None:
            out.update(u_test_statistic=jsonable(self.utest.statistic), u_test_p=jsonable(self.utest.p_value),
                       fieller=self.utest.fieller.summary() if self.utest.fieller else None)
        return out

    # ------------------------------------------------------------------ reading
    def reading(self) -> str:
        """Plain-language reading of the shape, turning point(s) and U-test."""
        from ...core.wording import p_phrase

        b = self.coefficients
        rng = f"[{self.x_min:.4g}, {self.x_max:.4g}]"
        p2 = self.result.pvalue(self.terms[1])
        if self.degree == 2 and not self.turning_points:
            return f"The squared term of {self.treat} is exactly zero: no curvature, no turning point."
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
                f"{shape[0].upper() + shape[1:]} with turning point at {self.treat} = {tp.x:.4g} ({where}) — "
                f"U-test {p_phrase(ut.p_value)}."
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
                    f"({p_phrase(p2)}) alone does not establish a{'n inverted' if b[1] < 0 else ''} U."
                )
            return head + " " + tail
        # cubic
        if not self.turning_points:
            direction = "increasing" if b[2] > 0 else "decreasing"
            return (
                f"Cubic in {self.treat} without real turning points: the fitted curve is monotonically "
                f"{direction} everywhere."
            )
        pieces = []
        for tp in self.turning_points:
            where = (
                f"inside the range, at the {_ordinal(tp.percentile)} percentile"
                if tp.inside
                else f"outside the observed range {rng}"
            )
            pieces.append(f"{tp.kind} at {self.treat} = {tp.x:.4g} (SE {tp.se:.3g}; {where})")
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
        return f"Cubic in {self.treat}: turning points " + "; ".join(pieces) + ". " + tail

    # ------------------------------------------------------------------ rendering
    def table(self, **kwargs: Any):
        """One-column regression table with rows for turning point(s), range and U-test."""
        from ...report.tables import fmt

        rows: dict[str, list[str]] = {}
        for i, tp in enumerate(self.turning_points, 1):
            lab = "Turning point" if len(self.turning_points) == 1 else f"Turning point {i}"
            rows[lab] = [f"{fmt(tp.x, 3)} ({fmt(tp.se, 3)})"]
        rows[f"Range of {self.treat}"] = [f"[{fmt(self.x_min, 3)}, {fmt(self.x_max, 3)}]"]
        if self.utest is not None:
            rows["U-test p-value"] = [fmt(self.utest.p_value, 3)]
        rows.update(kwargs.pop("extra_rows", None) or {})
        return self.result.table(extra_rows=rows, **kwargs)

    def plot(self, ax=None, *, alpha: float = 0.05, n_points: int = 200, reference: str | float = "mean"):
        """Fitted curve with a pointwise ``1 - alpha`` confidence band over the observed range.

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
        c = stats.t.ppf(1 - alpha / 2, self.result.meta.get("df_t") or np.inf)
        ax.fill_between(xs, fit - c * se, fit + c * se, color="#1f4e8c", alpha=0.2, lw=0,
                        label=f"{1 - alpha:.0%} CI")
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
        ax.set_xlabel(self.treat)
        ax.set_ylabel(f"{self.result.depvar} (relative to {self.treat} = {r:.3g})")
        ax.legend(frameon=False)
        ax.spines[["top", "right"]].set_visible(False)
        return ax.figure

    def __repr__(self) -> str:
        return (f"<Polynomial FE result: {self.result.depvar} on {self.treat} (degree {self.degree})>\n"
                f"{self.reading()}")

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

import numpy as np
import pandas as pd
from scipy import stats

from ...core.results import EstimationResult
from ...core.wording import p_phrase, with_article
from ...errors import EstimationError, PanelError
from ...panel import Panel
from ..baseline.twfe import _as_list, _codes, twfe
from .nonlinear_results import FiellerInterval, PolynomialResult, TurningPoint, UTest

__all__ = [
    "FiellerInterval",
    "PolynomialResult",
    "TurningPoint",
    "UTest",
    "polynomial_fe",
    "turning_points",
    "u_test",
]


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
    b1: float, b2: float, cov: np.ndarray, x_low: float, x_high: float, df: float, *, alpha: float = 0.05
) -> UTest:
    """Lind & Mehlum (2010) U-test for the quadratic ``b1 x + b2 x^2`` on [x_low, x_high].

    ``cov`` is the 2 x 2 covariance of (b1, b2); ``df`` the t degrees of freedom (``inf`` for
    the normal); ``alpha`` the level of the test and of the ``1 - alpha`` Fieller set. See the
    module docstring for the formulas.
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
    c = float(stats.t.ppf(1 - alpha / 2, df))
    # Fieller: (b1 + 2 b2 x)^2 <= c^2 (v11 + 4 x v12 + 4 x^2 v22)  <=>  A x^2 + B x + C <= 0
    A = 4 * (b2 * b2 - c * c * v22)
    B = 4 * (b1 * b2 - c * c * v12)
    C = b1 * b1 - c * c * v11
    disc = B * B - 4 * A * C
    if disc < 0:
        fieller = FiellerInterval("whole line", -np.inf, np.inf, alpha)
    else:
        r1, r2 = sorted(((-B - np.sqrt(disc)) / (2 * A), (-B + np.sqrt(disc)) / (2 * A))) if A != 0 else (np.nan, np.nan)
        fieller = FiellerInterval("bounded" if A > 0 else "two rays", float(r1), float(r2), alpha)
    null = "monotone or U-shaped" if shape == "inverted U" else "monotone or inverted-U-shaped"
    if p < alpha:
        verdict = (f"The Lind-Mehlum test rejects a monotone relation in favour of {with_article(shape)} "
                   f"on [{x_low:.4g}, {x_high:.4g}] ({p_phrase(p)}).")
    else:
        verdict = (f"The Lind-Mehlum test does not confirm {with_article(shape)} on [{x_low:.4g}, "
                   f"{x_high:.4g}] ({p_phrase(p)}): the slopes at the ends are not both significant "
                   "with opposite signs.")
    return UTest(
        name=f"Lind-Mehlum U-test ({shape})",
        statistic=float(stat),
        p_value=p,
        df=float(df) if np.isfinite(df) else None,
        distribution="t" if np.isfinite(df) else "normal",
        null=null,
        alpha=alpha,
        verdict=verdict,
        shape=shape,
        x_low=float(x_low),
        x_high=float(x_high),
        slope_low=float(s_lo),
        slope_high=float(s_hi),
        t_low=float(t_lo),
        t_high=float(t_hi),
        fieller=fieller,
    )


# ------------------------------------------------------------------------------------ estimator
def polynomial_fe(
    panel: Panel,
    y: str,
    treat: str,
    controls: str | Sequence[str] = (),
    *,
    fe: str | Sequence[str] | None = None,
    cluster: str | None = "unit",
    alpha: float = 0.05,
    degree: int = 2,
    interval: tuple[float, float] | None = None,
    ssc: str = "nested",
    title: str | None = None,
) -> PolynomialResult:
    """Quadratic or cubic fixed-effects regression with turning points and the U-test.

    Parameters
    ----------
    panel
        The data.
    y, treat
        Outcome and the regressor entering as a polynomial.
    controls
        Further controls (linear).
    alpha
        Level of the turning-point intervals, the U-test and the Fieller set (default 0.05).
    degree
        2 (quadratic: one extreme point, Lind-Mehlum U-test) or 3 (cubic: up to two turning
        points).
    fe, cluster, ssc
        As in :func:`climetrics.estimate.baseline.twfe.twfe` (default unit + time FE, clustered by unit;
        ``cluster=None`` means no clustering: heteroskedasticity-robust errors).
    interval
        Interval of the U-test; default the observed range of x in the estimation sample.
    title
        Label of the result.

    Returns
    -------
    PolynomialResult
        With :meth:`~PolynomialResult.reading`, :meth:`~PolynomialResult.table` and
        :meth:`~PolynomialResult.plot`.

    Notes
    -----
    Turning points, delta-method SEs and the U-test follow Lind & Mehlum (2010); see the module
    docstring.
    """
    if degree not in (2, 3):
        raise ValueError(f"degree must be 2 or 3, got {degree!r}")
    x = treat
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
    crit = float(stats.t.ppf(1 - alpha / 2, df_t))
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
        ut = u_test(b[0], b[1], cov, lo, hi, df_t, alpha=alpha)
    return PolynomialResult(
        result=res,
        treat=x,
        degree=degree,
        terms=terms,
        x_min=x_min,
        x_max=x_max,
        turning_points=tps,
        utest=ut,
        x_values=xs,
    )

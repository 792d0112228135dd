"""Polynomial FE regressions: turning points, delta-method SEs, Lind-Mehlum U-test, Fieller set.

Every number is checked against a hand computation from the fitted coefficients and their
clustered covariance (closed forms, 1e-10), on constructed panels with a known shape.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import climetrics as cm
from climetrics.errors import EstimationError
from climetrics.estimate.selection.nonlinear import polynomial_fe, turning_points, u_test

TOL = 1e-10


def _panel(shape: str, seed: int = 0, units: int = 40, years: int = 8) -> cm.Panel:
    rng = np.random.default_rng(seed)
    u = np.repeat(np.arange(units), years)
    t = np.tile(np.arange(2010, 2010 + years), units)
    x = rng.uniform(0, 10, u.size)
    f = {
        "inverted_u": 2.0 * x - 0.2 * x**2,  # peak at x = 5, inside [0, 10]
        "outside": 2.0 * x - 0.05 * x**2,  # peak at x = 20, beyond the data
        "cubic": 0.05 * (x - 2) * (x - 5) * (x - 8),  # turning points near 3.3 and 6.7
    }[shape]
    y = f + rng.normal(0, 0.5, u.size) + 0.05 * u + 0.1 * (t - 2010)
    df = pd.DataFrame({"u": u, "t": t, "x": x, "y": y, "c": rng.normal(size=u.size)})
    return cm.Panel(df, "u", "t")


@pytest.fixture(scope="module")
def quad():
    return polynomial_fe(_panel("inverted_u"), "y", "x", ["c"])


def test_coefficients_are_twfe_on_the_powers(quad):
    p = _panel("inverted_u")
    ref = cm.twfe(p.assign(x2=p.df["x"] ** 2), "y", ["x", "x2"], ["c"])
    np.testing.assert_allclose(quad.coefficients, [ref.coef("x"), ref.coef("x2")], rtol=1e-12)
    np.testing.assert_allclose(quad.cov, np.asarray(ref.cov)[:2, :2], rtol=1e-12)


def test_quadratic_turning_point_and_delta_se_by_hand(quad):
    b1, b2 = quad.coefficients
    v = quad.cov
    xstar = -b1 / (2 * b2)
    g = np.array([-1 / (2 * b2), b1 / (2 * b2**2)])
    se = np.sqrt(g @ v @ g)
    (tp,) = quad.turning_points
    assert tp.x == pytest.approx(xstar, rel=TOL)
    assert tp.se == pytest.approx(se, rel=TOL)
    crit = stats.t.ppf(0.975, quad.result.n_clusters - 1)
    assert tp.ci_low == pytest.approx(xstar - crit * se, rel=TOL)
    assert tp.ci_high == pytest.approx(xstar + crit * se, rel=TOL)
    assert tp.kind == "maximum" and tp.inside
    assert 4.5 < tp.x < 5.5  # the true peak is 5
    assert tp.percentile == pytest.approx(100 * np.mean(quad.x_values <= xstar))
    assert quad.x_min == quad.x_values.min() and quad.x_max == quad.x_values.max()


def test_u_test_is_lind_mehlum_formula_by_hand(quad):
    b1, b2 = quad.coefficients
    v = quad.cov
    xl, xh = quad.x_min, quad.x_max

    def t_slope(x):
        return (b1 + 2 * b2 * x) / np.sqrt(v[0, 0] + 4 * x * v[0, 1] + 4 * x**2 * v[1, 1])

    tl, th = t_slope(xl), t_slope(xh)
    stat = min(tl, -th)
    df = quad.result.n_clusters - 1
    ut = quad.utest
    assert ut.shape == "inverted U"
    assert ut.t_low == pytest.approx(tl, rel=TOL) and ut.t_high == pytest.approx(th, rel=TOL)
    assert ut.slope_low == pytest.approx(b1 + 2 * b2 * xl, rel=TOL)
    assert ut.statistic == pytest.approx(stat, rel=TOL)
    assert ut.p_value == pytest.approx(stats.t.sf(stat, df), rel=TOL)
    assert ut.df == df and ut.p_value < 1e-6
    verdict = quad.reading()
    assert verdict.startswith("Inverted U with turning point at x = ")
    assert "inside the observed range" in verdict and "percentile" in verdict and "U-test p < 0.001" in verdict


def test_fieller_interval_is_where_the_slope_is_insignificant(quad):
    b1, b2 = quad.coefficients
    v = quad.cov
    fi = quad.utest.fieller
    crit = stats.t.ppf(0.975, quad.result.n_clusters - 1)

    def t_slope(x):
        return (b1 + 2 * b2 * x) / np.sqrt(v[0, 0] + 4 * x * v[0, 1] + 4 * x**2 * v[1, 1])

    assert fi.kind == "bounded"
    assert abs(t_slope(fi.low)) == pytest.approx(crit, rel=1e-9)
    assert abs(t_slope(fi.high)) == pytest.approx(crit, rel=1e-9)
    assert fi.low < quad.turning_points[0].x < fi.high
    assert abs(t_slope((fi.low + fi.high) / 2)) < crit
    assert abs(t_slope(fi.low - 0.01)) > crit and abs(t_slope(fi.high + 0.01)) > crit


def test_u_test_on_a_u_shape_and_unbounded_fieller():
    # U-shape: b2 > 0; statistic min(-t_low, t_high)
    v = np.array([[0.04, -0.003], [-0.003, 0.0004]])
    ut = u_test(-2.0, 0.2, v, 0.0, 10.0, np.inf)
    tl = -2.0 / np.sqrt(0.04)
    th = (-2.0 + 4.0) / np.sqrt(0.04 + 40 * -0.003 + 400 * 0.0004)
    assert ut.shape == "U"
    assert ut.statistic == pytest.approx(min(-tl, th), rel=TOL)
    assert ut.p_value == pytest.approx(stats.norm.sf(min(-tl, th)), rel=TOL)
    # insignificant b2: the Fieller set is unbounded
    weak = u_test(1.0, -0.01, np.array([[0.01, 0.0], [0.0, 0.01]]), 0.0, 10.0, 30)
    assert weak.fieller.kind in ("two rays", "whole line")


def test_turning_point_outside_range_says_so():
    res = polynomial_fe(_panel("outside"), "y", "x")
    (tp,) = res.turning_points
    assert tp.x > res.x_max and not tp.inside
    assert tp.percentile == 100.0
    v = res.reading()
    assert "above the observed range" in v and "monotonically increasing" in v
    assert res.utest.p_value > 0.5  # slope at x_max is still positive: trivial non-rejection
    assert "Turning point" in res.table().to_text()


def test_cubic_roots_equal_numpy_roots_and_delta_se():
    res = polynomial_fe(_panel("cubic"), "y", "x", degree=3)
    b1, b2, b3 = res.coefficients
    want = np.sort(np.roots([3 * b3, 2 * b2, b1]).real)
    got = np.array([tp.x for tp in res.turning_points])
    np.testing.assert_allclose(got, want, rtol=TOL)
    assert [tp.kind for tp in res.turning_points] == ["maximum", "minimum"]  # b3 > 0
    assert all(tp.inside for tp in res.turning_points)
    # delta method against a numerical gradient of the root with respect to (b1, b2, b3)
    cov = res.cov
    for k, tp in enumerate(res.turning_points):
        def root(b, k=k):
            return np.sort(np.roots([3 * b[2], 2 * b[1], b[0]]).real)[k]

        b = res.coefficients
        h = 1e-6
        grad = np.array([(root(b + h * e) - root(b - h * e)) / (2 * h) for e in np.eye(3)])
        assert tp.se == pytest.approx(np.sqrt(grad @ cov @ grad), rel=1e-6)
    assert res.utest is None
    assert "rising, falling, then rising again" in res.reading()


def test_turning_points_helper_closed_form():
    b = np.array([3.0, -0.5])
    cov = np.array([[0.09, -0.01], [-0.01, 0.004]])
    ((x, se, f2),) = turning_points(b, cov)
    assert x == pytest.approx(3.0, rel=TOL) and f2 == pytest.approx(-1.0)
    g = np.array([-1 / (2 * -0.5), 3.0 / (2 * 0.25)])
    assert se == pytest.approx(np.sqrt(g @ cov @ g), rel=TOL)
    # cubic without real turning points
    assert turning_points(np.array([1.0, 0.0, 1.0]), np.eye(3)) == []


def test_plot_draws_curve_and_band(quad):
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    ax = quad.plot().axes[0]
    assert len(ax.collections) >= 1  # CI band
    xs, ys = ax.lines[0].get_data()
    assert xs[0] == pytest.approx(quad.x_min) and xs[-1] == pytest.approx(quad.x_max)
    b1, b2 = quad.coefficients
    r = quad.x_values.mean()
    np.testing.assert_allclose(ys, b1 * (xs - r) + b2 * (xs**2 - r**2), rtol=1e-10, atol=1e-12)
    plt.close(ax.figure)


def test_degenerate_inputs():
    p = _panel("inverted_u")
    with pytest.raises(ValueError, match="degree"):
        polynomial_fe(p, "y", "x", degree=4)
    binary = p.assign(xb=(p.df["x"] > 5).astype(float))
    with pytest.raises(EstimationError, match="polynomial"):
        polynomial_fe(binary, "y", "xb")

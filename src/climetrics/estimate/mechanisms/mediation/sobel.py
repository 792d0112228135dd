"""Closed-form tests of the indirect effect ``a b``: Sobel (1982), Aroian (1947), Goodman (1960)."""

from __future__ import annotations

import numpy as np
from scipy import stats

from ....core.results import TestResult, TestSet


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


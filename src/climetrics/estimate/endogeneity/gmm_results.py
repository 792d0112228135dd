"""Results of dynamic panel GMM (:func:`climetrics.estimate.endogeneity.gmm.dynamic_gmm`): the
result class with its specification tests and the GMM regression table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...core.results import EstimationResult, TestResult, TestSet

__all__ = ["SPEC_TEST_LEVEL", "GMMResult", "gmm_table"]

#: Level at which the AR(2), Sargan and Hansen tests are read (and AR(1) is expected to reject).
SPEC_TEST_LEVEL = 0.1


@dataclass(eq=False, repr=False)
class GMMResult(EstimationResult):
    """An :class:`EstimationResult` of :func:`~climetrics.estimate.endogeneity.gmm.dynamic_gmm`
    with a GMM-style table, its specification tests as :class:`TestResult` objects and a
    reading that puts the estimate next to the tests that decide whether to trust it."""

    @property
    def tests(self) -> TestSet:
        """Arellano-Bond AR(1) and AR(2) (N(0,1)), Sargan and Hansen (chi², instruments minus
        coefficients); the numbers are those of :attr:`stats`. Decisions at the 10% level
        (:data:`SPEC_TEST_LEVEL`): a specification test that guards the validity of the
        instruments is read cautiously, as applied dynamic-panel work does."""
        st = self.stats
        alpha = SPEC_TEST_LEVEL
        ar = [
            TestResult(f"Arellano-Bond AR({k})", st[f"ar{k}"], st[f"ar{k}_p"], distribution="normal", alpha=alpha,
                       null=f"no order-{k} serial correlation in the differenced residuals",
                       verdict=_ar_verdict(k, st[f"ar{k}_p"]))
            for k in (1, 2)
        ]
        over = [
            TestResult(name, st[key], st[f"{key}_p"], df=float(st[f"{key}_df"]), distribution="chi2", alpha=alpha,
                       null="the over-identifying restrictions are valid",
                       verdict=_overid_verdict(name, st[f"{key}_p"], int(st["n_instruments"])))
            for name, key in (("Sargan", "sargan"), ("Hansen", "hansen"))
        ]
        return TestSet([*ar, *over], title="Dynamic panel GMM specification tests")

    def reading(self, term: str | None = None, *, label: str | None = None,
                outcome_label: str | None = None) -> str:
        """The coefficient of ``term`` (default the first ``treat``), then what AR(2) and
        Hansen say about the validity of the instruments."""
        from ...core.wording import p_phrase

        term = term or self.key_term
        st = self.stats
        head = (f"With the lagged outcome on the right-hand side, {label or term} is {self.coef(term):.4f} "
                f"({p_phrase(self.pvalue(term))}).")
        return " ".join([head, _ar_verdict(2, st["ar2_p"]),
                         _overid_verdict("Hansen", st["hansen_p"], int(st["n_instruments"]))])

    def table(self, **kwargs: Any):
        """One-column table: coefficients (time dummies hidden), then instrument count, groups,
        AR(1)/AR(2) and Hansen/Sargan p-values (see :func:`gmm_table`)."""
        return gmm_table([self], **kwargs)


def gmm_table(results: Sequence[EstimationResult], *, show_time_effects: bool = False, **kwargs: Any):
    """Regression table for GMM results (may be mixed with other results, e.g. FE columns).

    Adds rows "Time effects", "Instruments", "Groups", "AR(1) p", "AR(2) p", "Hansen p" and
    "Sargan p" (blank for non-GMM columns), as dynamic-panel robustness tables report them.
    Keyword arguments go to :func:`climetrics.report.tables.regression_table`.
    """
    from ...report.tables import fmt, regression_table

    results = list(results)
    if "keep" not in kwargs and not show_time_effects:
        keep: list[str] = []
        for r in results:
            hidden = set(r.meta.get("time_terms", ())) - {"_cons"}
            keep += [t for t in r.terms if t not in keep and t not in hidden]
        kwargs["keep"] = keep

    def row(key: str, digits: int = 3, integer: bool = False) -> list[str]:
        out = []
        for r in results:
            v = r.stats.get(key)
            if v is None or (isinstance(v, float) and not np.isfinite(v)):
                out.append("")
            else:
                out.append(fmt(int(v)) if integer else fmt(float(v), digits))
        return out

    is_gmm = [isinstance(r, GMMResult) or "n_instruments" in r.stats for r in results]
    extra = dict(kwargs.pop("extra_rows", None) or {})
    extra["Time effects"] = [
        ("Yes" if r.meta.get("time_effects") else "No") if g else "" for r, g in zip(results, is_gmm, strict=True)
    ]
    extra["Instruments"] = row("n_instruments", integer=True)
    extra["Groups"] = row("n_groups", integer=True)
    extra["AR(1) p"] = row("ar1_p")
    extra["AR(2) p"] = row("ar2_p")
    extra["Hansen p"] = row("hansen_p")
    extra["Sargan p"] = row("sargan_p")
    kwargs.setdefault("stat", "se")
    notes = list(kwargs.pop("notes", None) or [])
    if any(is_gmm):
        notes.append(
            "GMM: AR(1)/AR(2) are Arellano-Bond tests of the differenced residuals; Hansen and "
            "Sargan test the over-identifying restrictions (p-values shown)."
        )
    return regression_table(results, extra_rows=extra, notes=notes, **kwargs)


def _ar_verdict(order: int, p: float) -> str:
    from ...core.wording import p_phrase

    if not np.isfinite(p):
        return f"The AR({order}) test is not available (too few differenced periods)."
    if order == 1:
        return (f"AR(1) test {p_phrase(p)}: " + ("first-order correlation of the differenced residuals, "
                "as expected when the errors in levels are not serially correlated." if p < SPEC_TEST_LEVEL else
                "no first-order correlation of the differenced residuals, which is unusual and worth a look."))
    return (f"AR(2) test {p_phrase(p)}: " + ("no second-order serial correlation, so lagged levels are "
            "valid instruments." if p >= SPEC_TEST_LEVEL else "second-order serial correlation, so the lag-2 "
            "instruments are invalid; use deeper lags."))


def _overid_verdict(name: str, p: float, n_instruments: int) -> str:
    from ...core.wording import p_phrase

    if not np.isfinite(p):
        return f"The {name} test is not available (the model is exactly identified)."
    return (f"{name} test {p_phrase(p)} with {n_instruments} instruments: "
            + ("the over-identifying restrictions are not rejected." if p >= SPEC_TEST_LEVEL else
               "the over-identifying restrictions are rejected, so the GMM estimate is not reliable."))

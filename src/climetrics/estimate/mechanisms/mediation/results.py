"""Mediation results: one :class:`MediationPath` per mediator, gathered in a :class:`MediationResult`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ....core.results import EstimationResult, Result, TestResult, TestSet, jsonable, tidy_frame
from ....report.tables import Table, fmt, regression_table, stars
from .sobel import _test


@dataclass(eq=False, repr=False)
class MediationPath(Result):
    """The three Baron–Kenny regressions and the tests of one mediator.

    Attributes
    ----------
    mediator
        Mediator column.
    total, first, second
        :class:`EstimationResult` of ``y ~ D`` (total effect c), ``M ~ D`` (a) and
        ``y ~ D + M`` (direct effect c' and b), all with the same controls, fixed effects,
        clustering and sample.
    a, se_a, b, se_b, c, se_c, c_prime, se_c_prime
        Path coefficients and their clustered standard errors.
    tests
        Sobel / Aroian / Goodman tests (:class:`TestSet`, see :func:`indirect_effect_tests`);
        one of them by name: :meth:`test`.
    boot
        DataFrame of bootstrap draws: columns ``a``, ``b``, ``c_prime``, ``c``, ``ab``.
    boot_weights, boot_clusters
        ``(G, B)`` draw counts of each cluster and the cluster labels (rows of the weights).
    ci_percentile, ci_bc
        Bootstrap intervals of ``a b`` at level ``1 - alpha``.
    seed
        Seed of the bootstrap draws.
    """

    mediator: str
    treat: str
    y: str
    total: EstimationResult
    first: EstimationResult
    second: EstimationResult
    tests: TestSet
    alpha: float
    boot: pd.DataFrame
    boot_weights: np.ndarray = field(repr=False)
    boot_clusters: np.ndarray = field(repr=False)
    ci_percentile: tuple[float, float] = (float("nan"), float("nan"))
    ci_bc: tuple[float, float] = (float("nan"), float("nan"))
    notes: list[str] = field(default_factory=list)
    seed: int = 0

    def test(self, name: str) -> TestResult:
        """The ``"sobel"``, ``"aroian"`` or ``"goodman"`` test of ``a b``."""
        return _test(self.tests, name)

    # -------------------------------------------------------------- path coefficients
    @property
    def a(self) -> float:
        return self.first.coef(self.treat)

    @property
    def se_a(self) -> float:
        return self.first.se(self.treat)

    @property
    def b(self) -> float:
        return self.second.coef(self.mediator)

    @property
    def se_b(self) -> float:
        return self.second.se(self.mediator)

    @property
    def c(self) -> float:
        return self.total.coef(self.treat)

    @property
    def se_c(self) -> float:
        return self.total.se(self.treat)

    @property
    def c_prime(self) -> float:
        return self.second.coef(self.treat)

    @property
    def se_c_prime(self) -> float:
        return self.second.se(self.treat)

    @property
    def indirect(self) -> float:
        """``a * b``."""
        return self.a * self.b

    @property
    def boot_se(self) -> float:
        """Standard deviation of the bootstrap draws of ``a b``."""
        d = self.boot["ab"].to_numpy()
        d = d[np.isfinite(d)]
        return float(d.std(ddof=1)) if d.size > 1 else float("nan")

    # -------------------------------------------------------------- ratios
    @property
    def share_total(self) -> float:
        """Proportion mediated ``a b / c`` (total effect from regression (1))."""
        return self.indirect / self.c if self.c != 0 else float("nan")

    @property
    def share_sum(self) -> float:
        """Proportion mediated ``a b / (a b + c')``; equals :attr:`share_total` on a common
        sample because ``c = c' + a b`` exactly in OLS."""
        den = self.indirect + self.c_prime
        return self.indirect / den if den != 0 else float("nan")

    @property
    def suppression(self) -> bool:
        """True for inconsistent mediation: ``a b`` and ``c'`` have opposite signs
        (MacKinnon, Krull & Lockwood 2000)."""
        return bool(self.indirect * self.c_prime < 0)

    @property
    def suppression_ratio(self) -> float:
        """``|a b / c'|``: the share of the direct effect that an opposite-signed indirect path
        cancels (reported as "the mediator suppresses X% of the effect").

        Under inconsistent mediation ``a b / c`` is not a proportion: it is negative or above
        one and explodes as ``c = c' + a b`` approaches zero. MacKinnon, Krull & Lockwood (2000)
        suggest the ratio of the indirect to the direct effect instead; its magnitude reads
        directly as the fraction of the direct effect offset by the mediator path, since
        ``|c| = |c'| (1 - |a b / c'|)`` when the two have opposite signs and ``|ab| < |c'|``.
        NaN when there is no suppression.
        """
        if not self.suppression:
            return float("nan")
        return abs(self.indirect / self.c_prime)

    def _indirect_significant(self) -> bool:
        lo, hi = self.ci_percentile
        if np.isfinite(lo) and np.isfinite(hi):
            return bool(lo > 0 or hi < 0)
        return bool(self.test("sobel").p_value < self.alpha)

    @property
    def kind(self) -> str:
        """Zhao, Lynch & Chen (2010) typology, with ``a b`` judged by the percentile bootstrap
        interval and ``c'`` by its clustered p-value at level ``alpha``."""
        ind = self._indirect_significant()
        direct = self.second.pvalue(self.treat) < self.alpha
        if ind and direct:
            return (
                "competitive (suppression)"
                if self.suppression
                else "complementary (partial mediation)"
            )
        if ind:
            return "indirect-only (full mediation)"
        if direct:
            return "direct-only (no mediation)"
        return "no effect"

    def suppression_text(self) -> str:
        """Plain-language suppression statement, or an empty string without suppression."""
        if not self.suppression:
            return ""
        pct = 100 * self.suppression_ratio
        return (
            f"{self.mediator} suppresses {pct:.1f}% of the effect: the indirect path a·b = "
            f"{self.indirect:.4g} has the opposite sign of the direct effect c' = {self.c_prime:.4g}, "
            f"so it offsets |ab/c'| = {pct:.1f}% of the direct effect and the total effect "
            f"c = c' + ab = {self.c:.4g} is smaller in magnitude than c' (inconsistent mediation, "
            "MacKinnon, Krull & Lockwood 2000)."
        )

    @property
    def results(self) -> list[EstimationResult]:
        """(1) y on the treatment, (2) the mediator on the treatment, (3) y on both."""
        return [self.total, self.first, self.second]

    def tidy(self) -> pd.DataFrame:
        """The paths ``c``, ``a``, ``b``, ``c_prime`` (from their regressions) and ``ab`` (Sobel SE,
        z and p; percentile bootstrap interval), with columns ``mediator`` and ``path``."""
        rows = []
        for path, res, term in (("c", self.total, self.treat), ("a", self.first, self.treat),
                                ("b", self.second, self.mediator), ("c_prime", self.second, self.treat)):
            r = res.tidy()
            rows.append(r[r["term"] == term].assign(term=f"{self.mediator}: {path}", mediator=self.mediator,
                                                    path=path))
        sobel = self.test("sobel")
        lo, hi = self.ci_percentile
        rows.append(pd.DataFrame([{
            "term": f"{self.mediator}: ab", "estimate": self.indirect, "std_error": sobel.details["se"],
            "statistic": sobel.statistic, "p_value": sobel.p_value, "ci_low": lo, "ci_high": hi,
            "mediator": self.mediator, "path": "ab",
        }]))
        return tidy_frame(pd.concat(rows, ignore_index=True))

    def _alone(self) -> MediationResult:
        """This mediator as a one-mediator :class:`MediationResult` (for its table and reading)."""
        controls = [c for c in self.second.meta.get("controls", []) if c != self.mediator]
        return MediationResult(y=self.y, treat=self.treat, controls=controls, paths={self.mediator: self},
                               n_draws=len(self.boot), seed=self.seed, alpha=self.alpha)

    def table(self, **kwargs: Any) -> Table:
        """The three-column block of :meth:`MediationResult.table` for this mediator."""
        return self._alone().table(**kwargs)

    def reading(self) -> str:
        return self._alone().reading()

    def summary(self) -> dict[str, Any]:
        """Paths, tests, bootstrap intervals and proportions (JSON-friendly)."""
        return {k: jsonable(v) for k, v in self._numbers().items()}

    def _numbers(self) -> dict[str, Any]:
        t = {k: self.test(k) for k in ("sobel", "aroian", "goodman")}
        return {
            "mediator": self.mediator,
            "c": self.c,
            "se_c": self.se_c,
            "a": self.a,
            "se_a": self.se_a,
            "b": self.b,
            "se_b": self.se_b,
            "c_prime": self.c_prime,
            "se_c_prime": self.se_c_prime,
            "ab": self.indirect,
            "sobel_z": t["sobel"].statistic,
            "sobel_p": t["sobel"].p_value,
            "aroian_z": t["aroian"].statistic,
            "aroian_p": t["aroian"].p_value,
            "goodman_z": t["goodman"].statistic,
            "goodman_p": t["goodman"].p_value,
            "boot_se": self.boot_se,
            "ci_low_percentile": self.ci_percentile[0],
            "ci_high_percentile": self.ci_percentile[1],
            "ci_low_bc": self.ci_bc[0],
            "ci_high_bc": self.ci_bc[1],
            "share_total": self.share_total,
            "share_sum": self.share_sum,
            "suppression": self.suppression,
            "suppression_ratio": self.suppression_ratio,
            "kind": self.kind,
            "n_obs": self.total.n_obs,
        }


@dataclass(eq=False)
class MediationResult(Result):
    """Mediation analysis of one treatment on one outcome through one or more mediators."""

    y: str
    treat: str
    controls: list[str]
    paths: dict[str, MediationPath]
    n_draws: int
    seed: int
    alpha: float
    notes: list[str] = field(default_factory=list)

    def __getitem__(self, mediator: str) -> MediationPath:
        if mediator not in self.paths:
            raise KeyError(f"no mediator '{mediator}'; mediators are {list(self.paths)}")
        return self.paths[mediator]

    @property
    def mediators(self) -> list[str]:
        return list(self.paths)

    def by_mediator(self) -> pd.DataFrame:
        """One row per mediator: paths, tests, bootstrap intervals, proportions."""
        return pd.DataFrame([p._numbers() for p in self.paths.values()])

    def summary(self) -> dict[str, Any]:
        """Outcome, treatment, bootstrap settings and one record per mediator (:meth:`by_mediator`)."""
        return {
            "y": self.y, "treat": self.treat, "n_draws": self.n_draws, "seed": self.seed,
            "alpha": self.alpha,
            "paths": [p.summary() for p in self.paths.values()],
        }

    def tidy(self) -> pd.DataFrame:
        """Per mediator the paths ``c``, ``a``, ``b``, ``c_prime`` (from their regressions) and
        ``ab`` (Sobel SE, z and p; percentile bootstrap interval), with columns ``mediator`` and
        ``path``."""
        return pd.concat([p.tidy() for p in self.paths.values()], ignore_index=True)

    @property
    def results(self) -> list[EstimationResult]:
        """The regressions in table order: for each mediator (1) y, (2) M, (3) y with M."""
        return [r for p in self.paths.values() for r in p.results]

    def table(
        self,
        *,
        labels: dict[str, str] | None = None,
        keep: Sequence[str] | None = None,
        digits: int = 4,
        stat: str = "t",
        title: str | None = None,
    ) -> Table:
        """Seed-002-style mechanism table: three columns per mediator ((1) y, (2) M,
        (3) y with M) with rows for the treatment and mediators, then Sobel / Aroian /
        Goodman z (in the third column of each block), the bootstrap interval of ``a b`` and
        the proportion mediated."""
        labels = dict(labels or {})
        results = self.results
        keep = list(keep) if keep is not None else [self.treat, *self.mediators]
        blank3 = ["", ""]
        rows: dict[str, list[str]] = {"Controls": ["Yes" if self.controls else "No"] * len(results)}
        sobel, aroian, goodman, boot, share = [], [], [], [], []
        pct = f"{round(100 * (1 - self.alpha))}%"
        for p in self.paths.values():
            zc = lambda k, p=p: (  # noqa: E731
                fmt(p.test(k).statistic, 3) + stars(p.test(k).p_value)
                if np.isfinite(p.test(k).statistic) else "n/a"
            )
            sobel += [*blank3, zc("sobel")]
            aroian += [*blank3, zc("aroian")]
            goodman += [*blank3, zc("goodman")]
            lo, hi = p.ci_percentile
            boot += [*blank3, f"[{fmt(lo, digits)}, {fmt(hi, digits)}]"]
            if p.suppression:
                share += [*blank3, f"suppr. {fmt(100 * p.suppression_ratio, 1)}%"]
            else:
                share += [*blank3, f"{fmt(100 * p.share_total, 1)}%"]
        rows["Sobel-Z"] = sobel
        rows["Aroian-Z"] = aroian
        rows["Goodman-Z"] = goodman
        rows[f"Bootstrap {pct} CI of ab"] = boot
        rows["Proportion mediated (ab/c)"] = share
        notes = [
            f"Columns per mediator: (1) {self.y} on {self.treat}; (2) mediator on {self.treat}; "
            f"(3) {self.y} on {self.treat} and the mediator. Sobel/Aroian/Goodman z use the "
            "clustered SEs of a and b (normal p-values). Bootstrap: percentile interval from "
            f"{self.n_draws} cluster-bootstrap draws (seed {self.seed}). Under suppression (ab and "
            "c' of opposite signs) the last row shows |ab/c'|, the share of the direct effect "
            "offset by the mediator path.",
            *self.notes,
        ]
        for p in self.paths.values():
            notes += [n for n in p.notes if n not in notes]
        tab = regression_table(
            results,
            keep=keep,
            labels=labels,
            stat=stat,
            digits=digits,
            title=title
            or f"Mechanism analysis: mediation of the effect of {self.treat} on {self.y}",
            extra_rows=rows,
            notes=notes,
        )
        head = []
        for m in self.mediators:
            head += [labels.get(m, m), "", ""]
        tab.header_rows.insert(0, head)
        return tab

    def reading(self) -> str:
        """Plain-language reading of the results: what the stepwise test shows, with the
        numbers, and what it does not identify."""
        pct = f"{round(100 * (1 - self.alpha))}%"
        parts = []
        for p in self.paths.values():
            sobel = p.test("sobel")
            lo, hi = p.ci_percentile
            blo, bhi = p.ci_bc
            s = (
                f"Mediator {p.mediator} (N = {p.total.n_obs}). "
                f"Step 1: {self.treat} changes {self.y} by c = {p.c:.4g} (clustered SE {p.se_c:.3g}, "
                f"p = {p.total.pvalue(self.treat):.3g}). "
                f"Step 2: {self.treat} changes {p.mediator} by a = {p.a:.4g} (SE {p.se_a:.3g}, "
                f"p = {p.first.pvalue(self.treat):.3g}). "
                f"Step 3: holding {p.mediator} fixed, b = {p.b:.4g} (SE {p.se_b:.3g}) and the direct "
                f"effect is c' = {p.c_prime:.4g} (SE {p.se_c_prime:.3g}). "
                f"Indirect effect ab = {p.indirect:.4g}: Sobel z = {sobel.statistic:.3f} "
                f"(p = {sobel.p_value:.3g}); cluster-bootstrap {pct} interval "
                f"[{lo:.4g}, {hi:.4g}] (percentile), [{blo:.4g}, {bhi:.4g}] (bias-corrected). "
            )
            if p.suppression:
                s += p.suppression_text() + " "
            else:
                s += f"Proportion mediated ab/c = {100 * p.share_total:.1f}%. "
            s += f"Pattern: {p.kind}."
            parts.append(s)
        parts.append(
            "What this identifies. Under the design's identifying assumption (parallel trends, "
            f"no anticipation) the regressions of {self.y} and of each mediator on {self.treat} "
            "estimate causal effects of the policy: c on the outcome and a on the mediator. "
            "What it does not. The mediator is not randomised, so b - the association of the "
            "mediator with the outcome holding the policy fixed - is not causally identified: any "
            "unobserved factor (including other channels of the same policy) that moves both the "
            "mediator and the outcome biases b, and with it ab, c' and the proportion mediated. "
            "The stepwise (Baron-Kenny) test and the Sobel test are widely criticised on these "
            "grounds (Jiang Ting 2022, China Industrial Economics; Imai, Keele & Tingley 2010; "
            "Bullock, Green & Ha 2010). Recommended reading: take the policy -> mediator effect a "
            "on its own as the mechanism evidence, argue the mediator -> outcome link from theory "
            "and prior causal evidence, and treat ab and the proportion mediated as descriptive "
            "decompositions. Prefer the bootstrap interval of ab to the normal-theory z tests, "
            "which ignore the skewness of a product of estimates (MacKinnon et al. 2002, 2004)."
        )
        return "\n\n".join(parts)

    def __repr__(self) -> str:
        return self.table().to_text()



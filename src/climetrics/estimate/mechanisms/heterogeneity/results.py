"""The heterogeneity result: group-wise fits, the interacted model and the tests of equal effects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ....core.results import (
    EstimationResult,
    Result,
    TestResult,
    TestSet,
    jsonable,
    tidy_frame,
)
from ....core.wording import p_phrase
from ....report.tables import Table, fmt, regression_table
from .groups import GroupDefinition


@dataclass(eq=False)
class HeterogeneityResult(Result):
    """Group-wise effects, the interacted model and the tests of equal effects.

    Attributes
    ----------
    groups
        The :class:`GroupDefinition`.
    subsamples
        One :class:`EstimationResult` per group (empty if not requested).
    interacted
        Pooled model with one treatment coefficient per group (terms ``"<treat> x <group>"``).
    interaction
        The same model as seed 000 writes it: ``treat`` plus ``treat x <group>`` for every
        non-reference group (the difference to the reference group).
    wald
        Wald test of equal treatment effects across groups (:class:`TestResult`, F(q-1, G-1)).
    permutation
        Permutation test (:class:`TestResult`, ``distribution="randomization"``): the observed
        Wald F as ``statistic``, its permutation ``p_value``; ``details`` holds ``n_draws``,
        ``n_valid``, ``seed`` and, for two groups, ``diff`` and ``p_value_diff``; draws in
        :attr:`perm_draws`.
    perm_draws
        DataFrame with the Wald F and difference coefficient(s) of every permutation.
    perm_assignments
        ``(units, n_perm)`` group of every unit in every permutation (rows in the order of
        ``perm_units``; values index :attr:`labels`).
    """

    y: str
    treat: str
    controls: list[str]
    groups: GroupDefinition
    subsamples: dict[str, EstimationResult]
    interacted: EstimationResult | None
    interaction: EstimationResult | None
    wald: TestResult | None
    permutation: TestResult | None
    perm_draws: pd.DataFrame | None
    group_terms: dict[str, str]
    diff_terms: dict[str, str]
    notes: list[str] = field(default_factory=list)
    perm_assignments: np.ndarray | None = field(default=None, repr=False)
    perm_units: np.ndarray | None = field(default=None, repr=False)

    @property
    def labels(self) -> list[str]:
        return list(self.groups.labels)

    def estimate(self, group: str, *, source: str = "subsample") -> float:
        """Treatment effect in ``group`` from the subsample fit or the interacted model."""
        if source == "subsample":
            return self.subsamples[group].coef(self.treat)
        if self.interacted is None:
            raise ValueError("the interacted model was not fitted (interaction=False)")
        return self.interacted.coef(self.group_terms[group])

    @property
    def results(self) -> list[EstimationResult]:
        """Subsample fits in group order, then the interacted and the seed-000 interaction model."""
        out = [self.subsamples[g] for g in self.labels if g in self.subsamples]
        return out + [r for r in (self.interacted, self.interaction) if r is not None]

    @property
    def tests(self) -> TestSet | None:
        """The Wald and permutation tests of equal effects (None without the interacted model)."""
        tests = [t for t in (self.wald, self.permutation) if t is not None]
        return TestSet(tests, title=f"Equal effects across {self.groups.by} groups") if tests else None

    def tidy(self) -> pd.DataFrame:
        """The treatment effect of every group: subsample fits (``source="subsample"``) and the
        interacted model (``source="interacted"``); term ``"<by>: <group>"``, column ``group``."""
        frames = []
        for source in ("subsample", "interacted"):
            for g in self.labels:
                if source == "subsample" and g in self.subsamples:
                    r, term = self.subsamples[g], self.treat
                elif source == "interacted" and self.interacted is not None:
                    r, term = self.interacted, self.group_terms[g]
                else:
                    continue
                row = r.tidy()
                row = row[row["term"] == term].assign(term=f"{self.groups.by}: {g}", group=g, source=source,
                                                      n_obs=r.n_obs)
                frames.append(row)
        return tidy_frame(pd.concat(frames, ignore_index=True))

    def summary(self) -> dict[str, Any]:
        """Grouping, the per-group estimates (:meth:`by_group` records) and the tests."""
        return {
            "by": self.groups.by,
            "split": self.groups.split,
            "groups": [{k: jsonable(v) for k, v in row.items()} for row in self.by_group().to_dict("records")],
            "wald": self.wald.summary() if self.wald is not None else None,
            "permutation": self.permutation.summary() if self.permutation is not None else None,
        }

    def reading(self, by_label: str | None = None) -> str:
        """Which group responds more, and whether the difference is statistically meaningful."""
        s = self.by_group()
        s = s.dropna(subset=["estimate"]) if "estimate" in s else s.iloc[0:0]
        parts = [f"By {by_label or self.groups.by}: " + "; ".join(
            f"{r.group} {r.estimate:.4f} (SE {r.std_error:.4f}{', significant at 5%' if r.p_value < 0.05 else ''})"
            for r in s.itertuples()) + "."]
        if self.wald is not None:
            w = self.wald.p_value
            perm = (f", permutation {p_phrase(self.permutation.p_value)}"
                    if self.permutation is not None else "")
            parts.append(f"Equality across groups: Wald {p_phrase(w)}{perm}. ")
            if w < 0.05 and len(s):
                strongest = s.loc[s["estimate"].abs().idxmax(), "group"]
                parts[-1] += f"The effect is strongest in the {strongest} group."
            else:
                parts[-1] += ("The data do not show a reliable difference between groups; group-specific "
                              "estimates should not be read as different effects.")
        return " ".join(parts)

    def by_group(self) -> pd.DataFrame:
        """One row per group: units, treated units, N and both sets of estimates."""
        rows = []
        u = self.groups.units
        for g in self.labels:
            row: dict[str, object] = {
                "group": g,
                "units": int((u["group"] == g).sum()),
            }
            if g in self.subsamples:
                r = self.subsamples[g]
                row.update(
                    treated_units=r.meta.get("treated_units"),
                    n_obs=r.n_obs,
                    estimate=r.coef(self.treat),
                    std_error=r.se(self.treat),
                    p_value=r.pvalue(self.treat),
                    ci_low=r.confint(self.treat)[0],
                    ci_high=r.confint(self.treat)[1],
                )
            if self.interacted is not None:
                t = self.group_terms[g]
                row.update(
                    interacted=self.interacted.coef(t),
                    interacted_se=self.interacted.se(t),
                )
            rows.append(row)
        return pd.DataFrame(rows)

    def table(
        self,
        *,
        labels: dict[str, str] | None = None,
        digits: int = 4,
        stat: str = "t",
        title: str | None = None,
    ) -> Table:
        """Columns: one subsample regression per group, then the seed-000 interaction model;
        rows for the treatment and the ``treat x group`` terms, then the tests."""
        labels = dict(labels or {})
        results = [self.subsamples[g] for g in self.labels if g in self.subsamples]
        cols = [f"{self.groups.by}: {g}" for g in self.labels if g in self.subsamples]
        if self.interaction is not None:
            results.append(self.interaction)
            cols.append("Interaction")
        keep = [self.treat, *self.diff_terms.values()]
        n = len(results)
        extra: dict[str, list[str]] = {"Controls": ["Yes" if self.controls else "No"] * n}
        u = self.groups.units
        extra["Units"] = [
            fmt(int((u["group"] == g).sum())) for g in self.labels if g in self.subsamples
        ] + ([fmt(int(u["group"].notna().sum()))] if self.interaction is not None else [])
        if self.wald is not None:
            w = self.wald
            extra["Equal effects: Wald F (p)"] = [""] * (n - 1) + [
                f"{fmt(w.statistic, 3)} ({fmt(w.p_value, 3)})"
            ]
        if self.permutation is not None:
            p = self.permutation
            extra["Permutation p"] = [""] * (n - 1) + [
                f"{fmt(p.p_value, 3)} ({p.details['n_valid']} draws)"
            ]
        notes = [self.groups.describe()]
        if self.interaction is not None:
            ref = self.labels[0]
            notes.append(
                f"Interaction column: {self.treat} plus {self.treat} x group for each group other "
                f"than '{ref}', with common fixed effects; the {self.treat} x group coefficient is "
                f"the difference from the '{ref}' group."
            )
        notes += self.groups.notes + self.notes
        return regression_table(
            results,
            keep=keep,
            labels=labels,
            stat=stat,
            digits=digits,
            title=title or f"Heterogeneity of the effect of {self.treat} on {self.y} by {self.groups.by}",
            column_labels=cols,
            extra_rows=extra,
            notes=notes,
        )

    def plot(self, *, ax=None, title: str | None = None, alpha: float = 0.05):
        """Forest plot: group estimates with ``1 - alpha`` confidence intervals (subsample fits,
        and the interacted model as hollow markers). Returns the matplotlib figure."""
        from ....report.figures import _pyplot

        plt = _pyplot()
        if ax is None:
            fig, ax = plt.subplots(figsize=(6.0, 0.6 * len(self.labels) + 1.6))
        else:
            fig = ax.figure
        ypos = np.arange(len(self.labels))[::-1].astype(float)
        sources = []
        if self.subsamples:
            sources.append(("subsample", 0.12, "o", "full"))
        if self.interacted is not None:
            sources.append(("interacted", -0.12, "s", "none"))
        for name, off, marker, fill in sources:
            est, lo, hi = [], [], []
            for g in self.labels:
                if name == "subsample":
                    r, term = self.subsamples[g], self.treat
                else:
                    r, term = self.interacted, self.group_terms[g]
                b, s = r.coef(term), r.se(term)
                crit = stats.t.ppf(1 - alpha / 2, r.meta.get("df_t") or np.inf)
                est.append(b)
                lo.append(b - crit * s)
                hi.append(b + crit * s)
            est_a = np.asarray(est)
            err = np.vstack([est_a - np.asarray(lo), np.asarray(hi) - est_a])
            shift = off if len(sources) > 1 else 0.0
            ax.errorbar(est_a, ypos + shift, xerr=err, fmt=marker, fillstyle=fill, capsize=3,
                        color="C0" if name == "subsample" else "C1",
                        label="Subsample regressions" if name == "subsample" else "Interacted model")
        ax.axvline(0, color="black", lw=0.6)
        ax.set_yticks(ypos, [f"{self.groups.by}: {g}" for g in self.labels])
        ax.set_xlabel(f"Effect of {self.treat} on {self.y} ({round(100 * (1 - alpha))}% CI)")
        sub = ""
        if self.wald is not None:
            sub = f" (equal effects: Wald p = {self.wald.p_value:.3g})"
        ax.set_title(title or f"Heterogeneity by {self.groups.by}{sub}")
        ax.legend(frameon=False, fontsize="small")
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        return fig

    def __repr__(self) -> str:
        return self.table().to_text()



"""The PSM-DID result: matched-sample DID regressions, the matched ATT, balance and support."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ....core.covariance import coef_table
from ....core.results import (
    EstimationResult,
    Result,
    ResultSet,
    jsonable,
    tidy_frame,
)
from ....core.wording import p_phrase, significance_phrase
from ....report.tables import Table, fmt, stars
from .balance import Balance
from .matching import Matching


@dataclass(eq=False, repr=False)
class PSMDiD(Result):
    """Result of :func:`psm_did`.

    Attributes
    ----------
    design
        ``"cross-section"`` (units matched on pre-period covariate means) or
        ``"period-by-period"`` (observations matched within each year).
    did
        TWFE DID re-estimated on the matched sample (units, or observations, with positive weight).
    did_weighted
        The same regression weighted by the matching weights (when requested).
    balance
        :class:`Balance` of the matching covariates.
    att, att_se
        Matched comparison of outcomes and psmatch2's analytic standard error. Cross-section:
        ATT of the post-minus-pre change of the outcome (difference-in-differences matching,
        Heckman, Ichimura & Todd 1997). Period-by-period: ATT on the outcome level over treated
        observations with the treatment switched on.
    att_se_boot
        Bootstrap standard error (cross-section design, when ``n_draws > 0``).
    scores
        Per matched entity (unit, or unit-year): ``treated``, ``score``, ``weight``, ``support``.
    counts
        ``treated``, ``control``, ``off_support`` (trimmed by common support), ``unmatched``
        (no control within the caliper / kernel window), ``matched_treated``, ``matched_control``.
    matching
        The :class:`Matching` (cross-section) or a dict year -> :class:`Matching`.
    notes
        Plain-language notes (dropped units, skipped years, ...).
    """

    design: str
    did: EstimationResult
    balance: Balance
    att: float
    att_se: float
    scores: pd.DataFrame
    counts: dict[str, int]
    matching: Matching | dict[int, Matching]
    did_weighted: EstimationResult | None = None
    att_se_boot: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def att_t(self) -> float:
        """t statistic of the ATT with the analytic standard error."""
        return self.att / self.att_se

    @property
    def treat(self) -> str:
        return self.did.key_term

    @property
    def results(self) -> list[EstimationResult]:
        """The DID on the matched sample, then (if estimated) the matching-weighted DID."""
        return [self.did, *([self.did_weighted] if self.did_weighted is not None else [])]

    @property
    def _att_outcome(self) -> str:
        return "outcome change" if self.design == "cross-section" else "outcome level"

    def tidy(self) -> pd.DataFrame:
        """The treatment coefficient of each DID regression (``estimator`` = its label), then the
        matched ATT with psmatch2's analytic SE and normal p-value / 95% CI."""
        rows = []
        for r in self.results:
            t = r.tidy()
            rows.append(t[t["term"] == self.treat].assign(estimator=r.label or r.model))
        att = coef_table(["ATT"], np.array([self.att]), np.array([self.att_se]))
        rows.append(att.assign(estimator=f"Matched {self._att_outcome} (psmatch2)"))
        return tidy_frame(pd.concat(rows, ignore_index=True))

    def summary(self) -> dict[str, Any]:
        return {
            "design": self.design,
            "estimate": self.did.coef(self.treat), "se": self.did.se(self.treat), "p": self.did.pvalue(self.treat),
            "att": jsonable(self.att), "att_se": jsonable(self.att_se),
            "att_se_boot": jsonable(self.att_se_boot) if self.att_se_boot is not None else None,
            "counts": dict(self.counts), "balance": self.balance.summary(),
        }

    def reading(self) -> str:
        """The matched-sample DID, the matched ATT and the covariate balance after matching."""
        b, p = self.did.coef(self.treat), self.did.pvalue(self.treat)
        return (f"On the matched sample the DID estimate is {b:.4f} ({p_phrase(p)}, {significance_phrase(p)}); "
                f"the matched ATT of the {self._att_outcome} is {self.att:.4f} (SE {self.att_se:.4f}). "
                + self.balance.reading())

    def table(self, *, labels: dict[str, str] | None = None, keep: Sequence[str] | None = None,
              title: str | None = "PSM-DID estimates", **kwargs: Any) -> Table:
        """The DID regressions side by side (matched sample, matching weights)."""
        keep = list(keep) if keep is not None else [self.treat, *self.did.meta.get("controls", [])]
        return ResultSet(self.results).table(labels=labels, keep=keep, title=title,
                                             column_labels=[r.label or r.model for r in self.results], **kwargs)

    def att_table(self, *, digits: int = 4, title: str | None = "Average treatment effect on the treated") -> Table:
        """Seed 002 Table 4 layout: ATT with stars and t statistic, group sizes."""
        p = 2 * stats.norm.sf(abs(self.att_t))
        rows = [["ATT", fmt(self.att, digits) + stars(p)], ["", f"({fmt(self.att_t, 2)})"]]
        if self.att_se_boot is not None:
            rows.append(["Bootstrap SE", fmt(self.att_se_boot, digits)])
        c = self.counts
        rows += [["Treated", fmt(c["matched_treated"])], ["Control", fmt(c["matched_control"])],
                 ["Total", fmt(c["matched_treated"] + c["matched_control"])]]
        return Table(columns=["Estimate"], rows=rows, title=title, rules=[2],
                     notes=["t statistic in parentheses (analytic psmatch2 standard error, ignoring "
                            "estimation of the propensity score). * p<0.1, ** p<0.05, *** p<0.01."])

    def plot(self, *, bins: int = 30):
        """Histogram densities of the score for treated and controls before matching (all units)
        and after matching (matched units, controls weighted by their matching weights).

        Returns the matplotlib figure (matplotlib is imported on first use).
        """
        from ....report.figures import _pyplot

        plt = _pyplot()
        sc = self.scores
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharex=True, sharey=True)
        edges = np.linspace(sc["score"].min(), sc["score"].max(), bins + 1)
        after = sc["weight"] > 0
        for ax, title, part, w in ((axes[0], "Before matching", sc, None),
                                   (axes[1], "After matching", sc[after], sc.loc[after, "weight"])):
            for flag, label, style in ((1, "Treated", "-"), (0, "Control", "--")):
                g = part["treated"] == flag
                ax.hist(part.loc[g, "score"], bins=edges, density=True, histtype="step", ls=style,
                        weights=None if w is None else w[g], label=label)
            ax.set_title(title)
            ax.set_xlabel("Propensity score")
            ax.spines[["top", "right"]].set_visible(False)
        axes[0].set_ylabel("Density")
        axes[0].legend(frameon=False)
        return fig


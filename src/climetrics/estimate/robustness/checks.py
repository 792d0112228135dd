"""Robustness checks of the baseline DID, each one call returning one table column.

* :func:`shift_timing` -- adoption moved ``years`` earlier (seed 000 sec. 5.4.2). By default on
  the pre-adoption sample only (treated units' real post-adoption years dropped), so that a
  real effect cannot leak into the fake one and the coefficient should be near zero under no
  anticipation; ``sample="full"`` keeps every year as in seed 000.
* :func:`control_concurrent_policies` -- add other pilot policies' DID dummies (bundled or
  user calendars) as controls (seeds 000, 002, 003).
* :func:`trim_outcome`, :func:`winsorize_outcome` -- outliers of the outcome (seed 000 sec. 5.4.4).
* :func:`replace_outcome` -- another measure of the outcome (seed 000 uses NDDF performance).
* :func:`replace_treatment` -- a continuous treatment (e.g. an entropy-weight digital
  infrastructure index, seed 000 sec. 5.4.5) instead of the dummy.

:class:`RobustnessChecks` holds the baseline and the checks; its table puts them side by side,
with the treatment coefficient on one row whatever the variable is called in each check, and its
reading says whether the coefficient survives them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ...core.results import EstimationResult, Result, jsonable, tidy_frame
from ...core.wording import count, p_phrase, significance_phrase
from ...errors import EstimationError
from ...panel import Panel
from ...report.tables import Table, regression_table
from ..baseline.event_study import adoption_year
from ..baseline.twfe import _as_list, twfe


def _label(res: EstimationResult, label: str, note: str) -> EstimationResult:
    """Name the check (column header) and say what it does (table note)."""
    res.label = label
    res.meta["check_note"] = note
    return res


def _rename_term(res: EstimationResult, old: str, new: str) -> EstimationResult:
    """Show the check's treatment coefficient on the baseline treatment's row."""
    res.meta["original_term"] = old
    res.coefs["term"] = res.coefs["term"].replace({old: new})
    return res


def shift_timing(
    panel: Panel, y: str, treat: str, controls: str | Sequence[str] = (), *, years: int = 2,
    sample: str = "pre", **kw
) -> EstimationResult:
    """TWFE with every adoption moved ``years`` earlier (a timing placebo)."""
    if years < 1:
        raise EstimationError("shift_timing: years must be a positive number of years to move adoption earlier")
    if sample not in ("pre", "full"):
        raise EstimationError(f"shift_timing: sample must be 'pre' or 'full', got {sample!r}")
    g = adoption_year(panel, treat)
    t = panel.df[panel.time]
    fake = (t >= g - years).astype(float).to_numpy()
    name = f"{treat}_shift{years}"
    p = panel.assign(**{name: fake})
    if sample == "pre":
        p = p.subset((g.isna() | (t < g)).to_numpy(), note="shift_timing: real post-adoption years dropped")
    res = twfe(p, y, name, controls, **kw)
    note = (f"Timing placebo: adoption moved {years} years earlier"
            + ("; treated units' real post-adoption years dropped." if sample == "pre" else "."))
    return _label(_rename_term(res, name, treat), f"Timing -{years}y", note)


def control_concurrent_policies(
    panel: Panel, y: str, treat: str, controls: str | Sequence[str] = (), *,
    policies: Sequence[str] = ("low_carbon_pilot", "innovative_city_pilot"),
    calendars: dict[str, pd.DataFrame] | None = None, unit_key: str = "auto",
    expand_provinces: bool | None = None, **kw
) -> EstimationResult:
    """TWFE adding other policies' staggered DID dummies as controls.

    ``policies`` are bundled calendar ids; ``calendars`` maps further policy names to user
    calendars (a unit column and ``adoption_year``), e.g. smart-city pilots. ``expand_provinces``
    decides whether province-level pilots treat all their cities (see
    :func:`climetrics.data.policy_calendar`; ``None`` warns that they were left out).
    """
    from ... import data as cmdata

    p = panel
    added = []
    todo = [(name, None) for name in policies] + list((calendars or {}).items())
    if not todo:
        raise EstimationError("control_concurrent_policies: give at least one policy or calendar")
    for name, cal in todo:
        col = f"_pol_{name}"
        p = cmdata.policy_dummies(p, name, name=col, calendar=cal, unit_key=unit_key,
                                  **({} if cal is not None else {"expand_provinces": expand_provinces}))
        if p.df[col].nunique() < 2:
            raise EstimationError(f"concurrent policy '{name}' does not vary in this panel; drop it from the list")
        added.append(col)
    res = twfe(p, y, treat, [*_as_list(controls), *added], **kw)
    res.coefs["term"] = res.coefs["term"].str.replace("^_pol_", "Policy: ", regex=True)
    return _label(res, "Other policies", "Controls for concurrent policies: " + ", ".join(n for n, _ in todo) + ".")


def trim_outcome(panel: Panel, y: str, treat: str, controls: str | Sequence[str] = (), *,
                 lower: float = 0.05, upper: float = 0.95, **kw) -> EstimationResult:
    """TWFE after dropping observations with the outcome outside its [lower, upper] quantiles."""
    res = twfe(panel.trim(y, lower, upper), y, treat, controls, **kw)
    return _label(res, "Trimmed", f"Outcome trimmed outside its {lower:g} and {upper:g} quantiles.")


def winsorize_outcome(panel: Panel, y: str, treat: str, controls: str | Sequence[str] = (), *,
                      lower: float = 0.01, upper: float = 0.99, **kw) -> EstimationResult:
    """TWFE after winsorizing the outcome at its [lower, upper] quantiles."""
    res = twfe(panel.winsorize(y, lower, upper), y, treat, controls, **kw)
    return _label(res, "Winsorized",
                  f"Outcome winsorized at its {lower:g} and {upper:g} quantiles.")


def replace_outcome(panel: Panel, outcome: str, treat: str, controls: str | Sequence[str] = (),
                    **kw) -> EstimationResult:
    """TWFE with another measure of the outcome (e.g. NDDF carbon performance instead of carbon
    intensity); compare sign and significance, not size, and mind the direction of the measure."""
    res = twfe(panel, outcome, treat, controls, **kw)
    return _label(res, f"Outcome: {outcome}", f"Outcome replaced by '{outcome}'.")


def replace_treatment(panel: Panel, y: str, index: str, controls: str | Sequence[str] = (), *,
                      show_as: str | None = None, **kw) -> EstimationResult:
    """TWFE with a continuous treatment ``index`` instead of the DID dummy."""
    res = twfe(panel, y, index, controls, **kw)
    if show_as:
        _rename_term(res, index, show_as)
    return _label(res, "Index", f"Treatment replaced by the continuous variable '{index}'.")


@dataclass(eq=False, repr=False)
class RobustnessChecks(Result):
    """The baseline regression and its robustness checks, one table column each.

    Attributes
    ----------
    baseline
        The baseline TWFE fit.
    checks
        One :class:`EstimationResult` per check (from the functions of this module; each
        carries its label and ``meta["check_note"]``).
    treat, controls
        The treatment row shown for every column (renamed in checks that replace the treatment)
        and the controls kept in the table.
    """

    baseline: EstimationResult
    checks: list[EstimationResult]
    treat: str
    controls: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.baseline.label = self.baseline.label or "Baseline"
        self.checks = list(self.checks)
        self.controls = list(self.controls)

    @property
    def results(self) -> list[EstimationResult]:
        return [self.baseline, *self.checks]

    def tidy(self) -> pd.DataFrame:
        """The treatment coefficient of every column, with ``check`` (the column label),
        ``depvar`` and ``n_obs``."""
        rows = []
        for r in self.results:
            t = r.tidy()
            rows.append(t[t["term"] == self.treat].assign(check=r.label, depvar=r.depvar, n_obs=r.n_obs))
        return tidy_frame(pd.concat(rows, ignore_index=True))

    def summary(self) -> dict[str, Any]:
        """Baseline estimate and, per check, its estimate, SE and p-value."""
        return {
            "baseline": self.baseline.coef(self.treat),
            "checks": {str(r.label): {"estimate": jsonable(r.coef(self.treat)), "se": jsonable(r.se(self.treat)),
                                      "p": jsonable(r.pvalue(self.treat))} for r in self.checks},
        }

    def reading(self) -> str:
        """Does the treatment coefficient survive the checks? Timing placebos are read
        separately: there a coefficient near zero is the expected, reassuring outcome."""
        treat = self.treat
        b = self.baseline.coef(treat)
        timing = [r for r in self.checks if str(r.label).startswith("Timing")]
        outcomes = [r for r in self.checks if str(r.label).startswith("Outcome:")]
        others = [r for r in self.checks if r not in timing and r not in outcomes]
        parts = []
        if others:
            same = sum(math.copysign(1, r.coef(treat)) == math.copysign(1, b) for r in others)
            sig = sum(r.pvalue(treat) < 0.05 for r in others)
            ests = [r.coef(treat) for r in others]
            rescaled = any("original_term" in r.meta for r in others)
            parts.append(f"Across {count(len(others), 'alternative specification')} the treatment coefficient keeps "
                         f"the baseline sign in {same} and is significant at 5% in {sig} (estimates from "
                         f"{min(ests):.4f} to {max(ests):.4f}; baseline {b:.4f})."
                         + (" Columns that replace the treatment measure it on another scale, so compare their "
                            "sign and significance rather than their size." if rescaled else ""))
        for r in outcomes:
            p = r.pvalue(treat)
            parts.append(f"With {r.depvar} as the outcome the coefficient is {r.coef(treat):.4f} ({p_phrase(p)}, "
                         f"{significance_phrase(p)}); check that its sign matches the direction of that measure "
                         "(e.g. higher carbon performance is an improvement, higher intensity is not).")
        for r in timing:
            p = r.pvalue(treat)
            parts.append(f"The timing placebo ({r.label}) gives {r.coef(treat):.4f} ({p_phrase(p)}): "
                         + ("as expected, no effect before the real adoption." if p >= 0.1 else
                            "an 'effect' before the real adoption, which points to anticipation or pre-existing "
                            "trends."))
        return " ".join(parts) if parts else "No robustness check was configured."

    def table(self, *, labels: dict[str, str] | None = None, stat: str = "t",
              title: str | None = "Robustness checks") -> Table:
        """Baseline and checks side by side; the header row names each check."""
        results = self.results
        keep = [self.treat, *self.controls]
        for r in self.checks:
            keep += [t for t in r.terms if t.startswith("Policy: ") and t not in keep]
        tab = regression_table(results, keep=keep, labels=labels, stat=stat, title=title)
        tab.header_rows.insert(0, [r.label or "" for r in results])
        column_notes = []
        for i, r in enumerate(self.checks):
            note = r.meta.get("check_note", "")
            if "original_term" in r.meta:
                note += f" The treatment row shows the coefficient on '{r.meta['original_term']}'."
            column_notes.append(f"({i + 2}) {r.label}: {note}")
        tab.notes[1:1] = column_notes
        return tab

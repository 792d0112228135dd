"""Plain-language readings generated from the numbers (sign, size, significance, stability)."""

from __future__ import annotations

import math
from typing import Any

from ..core.results import EstimationResult, ResultSet


def significance_phrase(p: float) -> str:
    """'significant at the 1% level', ..., or 'not statistically significant at the 10% level'."""
    for level in (0.01, 0.05, 0.1):
        if p < level:
            return f"significant at the {int(level * 100)}% level"
    return "not statistically significant at the 10% level"


def p_phrase(p: float) -> str:
    """'p < 0.001' or 'p = 0.023'."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def is_log_name(name: str) -> bool:
    """Outcomes named ln*/log* are read as logs (the reading says so explicitly)."""
    n = name.lower()
    return n.startswith("ln") or n.startswith("log")


def effect_size_phrase(b: float, outcome: str, label: str) -> str:
    """Translate a coefficient into words; for a log outcome, 100*(exp(b)-1) percent."""
    if is_log_name(outcome):
        pct = 100 * (math.exp(b) - 1)
        direction = "lower" if pct < 0 else "higher"
        return (f"Because {label} is in logs (its name starts with '{outcome[:2]}'), this corresponds to a "
                f"{abs(pct):.1f}% {direction} {label.removeprefix('ln ').removeprefix('log ')} after adoption")
    direction = "decrease" if b < 0 else "increase"
    return f"This is a {direction} of {abs(b):.4g} units of {label} after adoption"


def baseline_reading(rs: ResultSet, treat: str, outcome: str, labels: dict[str, str]) -> str:
    """One paragraph reading the baseline table."""
    last = rs.last
    b, t, p = last.coef(treat), last.tstat(treat), last.pvalue(treat)
    lab_t, lab_y = labels.get(treat, treat), labels.get(outcome, outcome)
    k = len(rs)
    parts = [
        f"In the fullest specification (column ({k})), the coefficient on {lab_t} is {b:.4f} "
        f"(t = {t:.2f}, {p_phrase(p)}), {significance_phrase(p)}.",
        effect_size_phrase(b, outcome, lab_y) + ", relative to what the control units' path implies.",
    ]
    if k > 1:
        ests = [r.coef(treat) for r in rs if treat in r.terms]
        same_sign = all(math.copysign(1, e) == math.copysign(1, b) for e in ests)
        sig = sum(r.pvalue(treat) < 0.1 for r in rs if treat in r.terms)
        parts.append(
            f"Across the {k} columns the estimate ranges from {min(ests):.4f} to {max(ests):.4f}; "
            + ("its sign never changes" if same_sign else "its sign changes across columns")
            + f", and it is significant at 10% in {sig} of {len(ests)}."
        )
    parts.append(
        "This is a causal effect only if treated and control units would have followed parallel trends "
        "without the policy, adoption was not anticipated, and effects do not vary across adoption cohorts "
        "in ways that bias two-way fixed effects; the event-study and robustness sections test these."
    )
    return " ".join(parts)


def truth_paragraph(res: EstimationResult, treat: str, truth: dict[str, Any]) -> str:
    """State the simulator's true effect next to the estimate (demo and tests only)."""
    lo, hi = res.confint(treat)
    if truth.get("model") == "SDM":  # seed 001 scenario: the truth is spatial
        e = truth["effects"]
        return (f"Check against the truth (simulated data): the outcome follows a spatial Durbin model (rho = "
                f"{truth['rho']}), so a non-spatial coefficient ({res.coef(treat):.4f}, 95% CI [{lo:.4f}, {hi:.4f}]) "
                f"mixes the true direct effect {e['direct']:.4f} with part of the spillover {e['indirect']:.4f}; "
                "the spatial section estimates both.")
    att = truth["att"]
    covered = lo <= att <= hi
    return (
        f"Check against the truth (simulated data): the true average effect on the treated after adoption "
        f"is {att:.4f} (effects start {truth['lag']} years after adoption, so the average mixes zero and full "
        f"effects). The estimate {res.coef(treat):.4f} has 95% CI [{lo:.4f}, {hi:.4f}], which "
        + ("covers" if covered else "does NOT cover")
        + " the truth."
    )


def iv_reading(res: Any, treat: str) -> str:
    """Instrument strength first, then the 2SLS estimate and the weak-IV-robust AR test."""
    d = res.diagnostics
    f = d.first_stage_F[treat]
    weak = f < 10
    parts = [f"The first-stage F on the excluded instruments is {f:.2f} (Kleibergen-Paap rk Wald F "
             f"{d.kp_rk_wald_F:.2f}): " + ("the instrument is weak (below the rule-of-thumb 10), so 2SLS is biased "
                                           "toward OLS and its t-test is unreliable." if weak else
                                           "the instrument is not weak by the rule-of-thumb F > 10.")]
    b, p = res.coef(treat), res.pvalue(treat)
    parts.append(f"2SLS gives {b:.4f} ({p_phrase(p)}). The Anderson-Rubin test, valid however weak the instrument, "
                 f"gives p = {res.anderson_rubin['p_value']:.3f} for a zero effect"
                 + (": rely on it rather than the 2SLS t-test." if weak else "."))
    return " ".join(parts)


def _signed(b: float, p: float, what: str) -> str:
    """'lowers <what> (-0.2400; p = 0.003, significant at the 1% level)'."""
    return f"{'lowers' if b < 0 else 'raises'} {what} ({b:.4f}; {p_phrase(p)}, {significance_phrase(p)})"


def spatial_reading(moran: dict[str, Any], tests: list[dict[str, Any]], effects: dict[str, Any], treat: str,
                    treat_label: str, outcome_label: str) -> str:
    """Spatial section: clustering of the outcome, which model the tests favour, home and spillover effects."""
    parts = []
    for lab, df in moran.items():
        pos = int(((df["I"] > 0) & (df["p_rand"] < 0.05)).sum())
        parts.append(f"Under {lab}, Moran's I of {outcome_label} is positive and significant at 5% in {pos} of "
                     f"{len(df)} years (I between {df['I'].min():.3f} and {df['I'].max():.3f})"
                     + (", so the outcome clusters in space." if pos > len(df) / 2 else "."))
    by = {r["test"]: r for r in tests}
    rejects = [k for k in ("LR SAR vs SDM", "LR SEM vs SDM", "Wald SDM vs SAR", "Wald SDM vs SEM")
               if k in by and by[k]["p_value"] < 0.05]
    if rejects:
        parts.append(f"The SDM is preferred where its restrictions are rejected at 5% ({', '.join(rejects)}).")
    else:
        parts.append("No LR or Wald test rejects the SAR or SEM restriction of the SDM at 5%; a simpler model "
                     "may suffice.")
    for lab, df in effects.items():
        d = df[df["term"] == treat].set_index("effect")
        if d.empty:
            continue
        dr, ind = d.loc["direct"], d.loc["indirect"]
        parts.append(f"Under {lab}, a higher {treat_label} "
                     f"{_signed(dr['estimate'], dr['p_value'], outcome_label + ' in the same unit')} (direct effect) "
                     f"and {_signed(ind['estimate'], ind['p_value'], 'it in neighbouring units')} (indirect, "
                     "spillover effect); "
                     f"the total effect is {d.loc['total', 'estimate']:.4f} ({p_phrase(d.loc['total', 'p_value'])}).")
    return " ".join(parts)

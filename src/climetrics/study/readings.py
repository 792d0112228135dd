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


def event_study_reading(es: Any) -> str:
    """Pre-trends (individual and joint) and the timing of post-adoption effects."""
    c = es.coefs[~es.coefs["k"].isin(es.ref)]
    pre, post = c[c["k"] < 0], c[c["k"] >= 0]
    parts = []
    if len(pre):
        n_sig = int((pre["p_value"] < 0.05).sum())
        pt = es.pretrend
        verdict = ("no evidence against parallel pre-trends" if pt.p_value >= 0.1
                   else "evidence of diverging pre-trends, which undermines the DID design")
        parts.append(
            f"{n_sig} of {len(pre)} lead coefficients are significant at 5%; the joint test that all leads are zero "
            f"gives F = {pt.statistic:.2f} ({p_phrase(pt.p_value)}): {verdict}. A pre-trend test can fail to "
            "detect violations that are small or that only start at adoption (Roth 2022)."
        )
    sig = post[post["p_value"] < 0.05]
    if len(sig):
        first = int(sig["k"].min())
        parts.append(
            f"After adoption the effect becomes significant at 5% from event time {first} "
            + ("(no delay)." if first == 0 else f"({first} year{'s' if first > 1 else ''} after adoption, a lagged onset).")
            + f" Post-adoption estimates range from {post['estimate'].min():.4f} to {post['estimate'].max():.4f}."
        )
    else:
        parts.append("No post-adoption coefficient is significant at 5%.")
    return " ".join(parts)


def placebo_reading(res: Any) -> str:
    """Where the actual estimate falls in the placebo distribution."""
    s = res.summary()
    what = {"space": "random pseudo-treated units", "time": "random adoption years",
            "mixed": "random units and years"}[res.kind]
    extreme = s["ri_p_two_sided"] < 0.05
    if res.kind == "time":
        verdict = ("so the effect is tied to the real adoption dates rather than to the treated units alone"
                   if extreme else "so the real adoption dates do not stand out from random ones")
    else:
        verdict = ("so the baseline effect is unlikely to be an artefact of chance assignment"
                   if extreme else "so chance assignment could produce an estimate this large")
    c = res.draws["coef"].dropna().to_numpy()
    share = 100 * float((abs(c) >= abs(s["actual"])).mean())
    return (f"With {what}, the {s['draws']} placebo estimates have mean {s['placebo_mean']:.4f} and SD "
            f"{s['placebo_sd']:.4f}; {100 * s['share_p_below_0.05']:.1f}% of them are significant at 5%. "
            f"{share:.1f}% of the draws are at least as large in absolute value as the actual estimate "
            f"{s['actual']:.4f} (randomization-inference p = {s['ri_p_two_sided']:.3f}), {verdict}.")


def robustness_reading(base: EstimationResult, checks: list[EstimationResult], treat: str) -> str:
    """Does the treatment coefficient survive the checks? Timing placebos are read separately:
    there a coefficient near zero is the expected, reassuring outcome."""
    b = base.coef(treat)
    timing = [r for r in checks if str(r.label).startswith("Timing")]
    outcomes = [r for r in checks if str(r.label).startswith("Outcome:")]
    others = [r for r in checks if r not in timing and r not in outcomes]
    parts = []
    if others:
        same = sum(math.copysign(1, r.coef(treat)) == math.copysign(1, b) for r in others)
        sig = sum(r.pvalue(treat) < 0.05 for r in others)
        ests = [r.coef(treat) for r in others]
        parts.append(f"Across {len(others)} alternative specifications the treatment coefficient keeps the baseline "
                     f"sign in {same} and is significant at 5% in {sig} (estimates from {min(ests):.4f} to "
                     f"{max(ests):.4f}; baseline {b:.4f})."
                     + (" Columns that replace the treatment measure it on another scale, so compare their sign "
                        "and significance rather than their size." if any("original_term" in r.meta and
                                                                          not str(r.label).startswith("Timing")
                                                                          for r in others) else ""))
    for r in outcomes:
        p = r.pvalue(treat)
        parts.append(f"With {r.depvar} as the outcome the coefficient is {r.coef(treat):.4f} ({p_phrase(p)}, "
                     f"{significance_phrase(p)}); check that its sign matches the direction of that measure "
                     "(e.g. higher carbon performance is an improvement, higher intensity is not).")
    for r in timing:
        p = r.pvalue(treat)
        parts.append(f"The timing placebo ({r.label}) gives {r.coef(treat):.4f} ({p_phrase(p)}): "
                     + ("as expected, no effect before the real adoption." if p >= 0.1 else
                        "an 'effect' before the real adoption, which points to anticipation or pre-existing trends."))
    return " ".join(parts) if parts else "No robustness check was configured."


def heterogeneity_reading(res: Any, by_label: str) -> str:
    """Which group responds more, and whether the difference is statistically meaningful."""
    s = res.summary().dropna(subset=["estimate"])
    parts = [f"By {by_label}: " + "; ".join(
        f"{r.group} {r.estimate:.4f} (SE {r.std_error:.4f}{', significant at 5%' if r.p_value < 0.05 else ''})"
        for r in s.itertuples()) + "."]
    if res.wald is not None:
        w = res.wald["p_value"]
        perm = f", permutation p = {res.permutation['p_value']:.3f}" if res.permutation is not None else ""
        strongest = s.loc[s["estimate"].abs().idxmax(), "group"]
        parts.append(
            f"Equality across groups: Wald {p_phrase(w)}{perm}. "
            + (f"The effect is strongest in the {strongest} group." if w < 0.05 else
               "The data do not show a reliable difference between groups; group-specific estimates should "
               "not be read as different effects."))
    return " ".join(parts)


def balance_phrase(bal: Any) -> str:
    """Covariate balance after matching, from a pstest-style :class:`Balance`."""
    f = bal.frame
    after = f[f["sample"].str.lower().str.startswith("matched")] if "sample" in f else None
    if after is None or after.empty:
        return ""
    worst = after.loc[after["bias"].abs().idxmax()]
    n_sig = int((after["p_value"] < 0.1).sum())
    return (f"After matching the largest standardized bias is {worst['bias']:.1f}% ({worst['variable']}) and "
            f"{n_sig} of {len(after)} covariates still differ at 10%"
            + ("; balance is acceptable (|bias| < 10% is the usual rule of thumb)." if abs(worst["bias"]) < 10
               else "; balance is imperfect, so read the matched estimates with care."))


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

"""Plain-language readings generated from the numbers (sign, size, significance, stability)."""

from __future__ import annotations

from typing import Any

from ..core.results import EstimationResult
from ..core.wording import p_phrase, significance_phrase


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

"""Words for numbers: the phrases every ``reading()`` builds its sentences from.

One place decides how a p-value, a significance level, an effect size, a count or an article is
written, so that every reading in the report speaks the same way and grammar slips ("a
increase", "1 units") cannot reappear in one estimator while fixed in another.
"""

from __future__ import annotations

import math

#: Significance levels read by :func:`significance_phrase` (the table stars use the same).
LEVELS = (0.01, 0.05, 0.1)

#: Prefixes that mark a log outcome: ``lnco2``, ``log_gdp``, ``l_emissions``, ``lco2`` is *not*
#: one (too many level variables start with a lone ``l``).
LOG_PREFIXES = ("ln", "log", "l_")


def p_phrase(p: float) -> str:
    """``'p < 0.001'`` or ``'p = 0.023'`` (``'p not available'`` for NaN)."""
    if p is None or not math.isfinite(p):
        return "p not available"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def significance_phrase(p: float) -> str:
    """``'significant at the 1% level'`` ... or ``'not statistically significant at the 10% level'``."""
    if p is None or not math.isfinite(p):
        return "of unknown significance (no p-value)"
    for level in LEVELS:
        if p < level:
            return f"significant at the {int(level * 100)}% level"
    return "not statistically significant at the 10% level"


def is_significant(p: float, alpha: float = 0.05) -> bool:
    """``p < alpha`` with NaN read as not significant."""
    return p is not None and math.isfinite(p) and p < alpha


def article(word: str) -> str:
    """``'a'`` or ``'an'`` for the word or number that follows, by how it is spoken:
    ``an increase``, ``a unit``, ``an 8.2%``, ``an 11% fall``, ``a 1.5% rise``."""
    w = word.strip().lower()
    if w[:1].isdigit():
        whole = w.split(".")[0].replace(",", "").rstrip("%")
        eleven = len(whole) % 3 == 2 and whole.startswith(("11", "18"))
        return "an" if w[0] == "8" or eleven else "a"
    vowel = w[:1] in tuple("aeio") or w.startswith(("un", "up", "us", "ut")) and not w.startswith(
        ("uni", "usu", "use", "uti")
    )
    return "an" if vowel else "a"


def with_article(word: str) -> str:
    """``'an increase'``, ``'a decrease'``."""
    return f"{article(word)} {word}"


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``'1 unit'``, ``'2 units'``, ``'0 cohorts'`` (``plural`` for irregular nouns)."""
    n = int(n)
    return f"{n:,} {noun if n == 1 else (plural or noun + 's')}"


def is_log_name(name: str) -> bool:
    """True for outcome names that mark logs: ``ln*``, ``log*``, ``l_*`` (case-insensitive)."""
    return name.lower().startswith(LOG_PREFIXES)


def strip_log_prefix(name: str) -> str:
    """``'lnco2'`` -> ``'co2'``, ``'l_emissions'`` -> ``'emissions'``; other names unchanged."""
    low = name.lower()
    for prefix in sorted(LOG_PREFIXES, key=len, reverse=True):
        if low.startswith(prefix):
            rest = name[len(prefix):].lstrip("_ ")
            return rest or name
    return name


def effect_size_phrase(b: float, outcome: str, label: str | None = None) -> str:
    """A coefficient in words: for a log outcome ``100 * (exp(b) - 1)`` percent, else units.

    ``label`` is the outcome's display name (default: the column name).
    """
    label = label or outcome
    if is_log_name(outcome):
        pct = 100 * (math.exp(b) - 1)
        direction = "lower" if pct < 0 else "higher"
        spelled = label == outcome or label.lower().startswith(("ln ", "log ", "l_"))
        level = strip_log_prefix(label) if spelled else label
        return (
            f"Because {outcome} is in logs, this corresponds to {with_article(f'{abs(pct):.1f}%')} "
            f"{direction} {level} after adoption"
        )
    direction = "decrease" if b < 0 else "increase"
    size = abs(b)
    unit = "unit" if size == 1 else "units"
    return f"This is {with_article(direction)} of {size:.4g} {unit} of {label} after adoption"


def share_phrase(part: float, whole: float, *, min_whole: float = 0.0) -> str | None:
    """``'38.2%'`` of ``whole`` taken by ``part``, or None where the share is meaningless
    (``|whole| <= min_whole`` or either number missing: a near-zero total makes any share
    explode, e.g. 2345%)."""
    if not (math.isfinite(part) and math.isfinite(whole)) or abs(whole) <= min_whole:
        return None
    return f"{100 * part / whole:.1f}%"

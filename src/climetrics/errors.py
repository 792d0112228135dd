"""Exceptions raised by climetrics.

Every error names the unit, year, column or config key at fault so that a user can fix the
input without reading a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ClimetricsError(Exception):
    """Base class of all climetrics errors."""


class PanelError(ClimetricsError, ValueError):
    """The panel data are malformed (missing keys, duplicates, non-numeric columns, ...)."""


class EstimationError(ClimetricsError, RuntimeError):
    """A model cannot be estimated on the data given (no treated units, collinearity, ...)."""


class ConfigError(ClimetricsError, ValueError):
    """A study configuration is invalid. ``problems`` lists every problem found."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        n = len(self.problems)
        head = "1 problem" if n == 1 else f"{n} problems"
        super().__init__(f"{head} in the study configuration:\n" + "\n".join(f"  - {p}" for p in self.problems))


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def show(value: object) -> str:
    """repr() of a data value for messages, with numpy scalars shown as plain Python values."""
    item = getattr(value, "item", None)
    return repr(item() if callable(item) else value)

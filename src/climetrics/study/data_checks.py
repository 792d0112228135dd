"""Checks of the prepared data's values against the study config, run before any section.

:func:`~climetrics.study.config.check_against_data` makes sure every configured column exists;
this module checks what those columns hold, so that ``climetrics check`` catches what would
otherwise fail inside every section: a text cell in a numeric variable (named by unit, period
and value), an outcome or treatment without variation, a binary treatment with no treated
(or no untreated) observations, and a ``[spatial] weights_file`` that does not fit the panel.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import show
from ..panel import Panel, non_numeric_cells
from .config import variable_columns


def _not_numeric(panel: Panel, key: str, col: str) -> str | None:
    """A text cell (or an infinite number) in a numeric variable, named by unit and period."""
    s = panel.df[col]
    bad = non_numeric_cells(s)
    hint = "; if that text means 'missing', list it in [data] na_values"
    if not bad.any() and pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        bad = pd.Series(np.isinf(s.to_numpy(dtype=float, na_value=np.nan)), index=s.index)
        hint = "; replace it by a number or leave the cell empty"
    if not bad.any():
        return None
    i = bad.to_numpy().nonzero()[0][0]
    row = panel.df.iloc[i]
    return (
        f"'{key}': column '{col}' must be numeric; {panel.unit} {show(row[panel.unit])}, "
        f"{panel.time} {row[panel.time]} holds {show(row[col])}"
        + (f" ({int(bad.sum())} such cells)" if bad.sum() > 1 else "")
        + hint
    )


def _variation(panel: Panel, key: str, col: str, *, treatment: bool) -> str | None:
    s = pd.to_numeric(panel.df[col], errors="coerce").dropna()
    if s.empty:
        return f"'{key}': column '{col}' has no non-missing value"
    values = set(s.unique())
    if treatment and values <= {0, 1}:
        if values == {0}:
            return (
                f"'{key}': column '{col}' is 0 in every observation -- no treated units, so no "
                "treatment effect can be estimated (check the policy calendar or the column)"
            )
        if values == {1}:
            return (
                f"'{key}': column '{col}' is 1 in every observation -- no untreated comparison "
                "observations"
            )
        return None
    if len(values) == 1:
        return f"'{key}': column '{col}' takes the single value {show(s.iloc[0])}; it must vary"
    return None


def _spatial_unit_problems(cfg: Any, panel: Panel) -> list[str]:
    """The bundled matrices and maps need Chinese provinces or cities as units; a weights file
    must fit the panel's units."""
    from ..data.geography import match_units
    from ..errors import ConfigError, EstimationError
    from .spatial_section import weights_from_file

    sp, problems = cfg["spatial"], []
    bundled = [k for k in sp["weights"] if k != "file"]
    if bundled or sp["maps"]:
        try:
            match_units(panel.units, sp["level"])
        except EstimationError as err:
            uses = [f"weights {bundled}"] * bool(bundled) + ["maps"] * bool(sp["maps"])
            problems.append(
                f"'spatial.level' = {sp['level']!r}: the {' and '.join(uses)} need Chinese "
                f"{sp['level']} units: {err} For other units give weights = ['file'] with a "
                "'weights_file' and no maps"
            )
    if "file" in sp["weights"]:
        try:
            weights_from_file(sp, cfg.base_dir, panel.units)
        except ConfigError as err:
            problems += err.problems
    return problems


def check_variable_values(cfg: Any, panel: Panel) -> list[str]:
    """Problems with the values of the configured variables in the prepared ``panel``."""
    problems: list[str] = []
    numeric_ok: set[str] = set()
    for key, col in variable_columns(cfg):
        if col not in panel:
            continue  # absent columns are reported by check_against_data
        problem = _not_numeric(panel, key, col)
        if problem:
            problems.append(problem)
        else:
            numeric_ok.add(col)
    if cfg["spatial"]["enabled"]:
        problems += _spatial_unit_problems(cfg, panel)
    v = cfg["variables"]
    for key, col, treatment in (
        ("variables.outcome", v["outcome"], False),
        ("variables.treatment", v["treatment"], True),
    ):
        if col in numeric_ok:
            problem = _variation(panel, key, col, treatment=treatment)
            if problem:
                problems.append(problem)
    return problems

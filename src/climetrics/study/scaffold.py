"""`climetrics init data.csv`: write a commented study config for a user's panel.

The roles of the columns are read from the data, not only from their names:

* unit and time: integer years between 1900 and 2100 and a column that identifies rows
  uniquely with them (name hints break ties);
* treatment: a 0/1 column that switches on within units and never back (a staggered DID
  dummy); else a column holding each unit's first treated year (0 or empty: never treated),
  used through ``[[prepare.policies]] adoption =``. A 0/1 column constant within every unit is
  a group flag, collinear with the unit fixed effects, so it is reported, never proposed;
* outcome: a numeric column varying within units (carbon names first, then logged columns);
* controls: numeric columns varying within units other than the outcome (and its logged or
  level twin), the treatment and its timing columns, and unit-specific columns (dummies or
  trends that are zero for most units, which the fixed effects or the user's design absorb);
* the event-study window: the event times (year minus adoption year) that treated units are
  observed at, so every period of the window has treated observations.

Every guess is written with a comment saying what it is and what else was considered, so the
user confirms rather than discovers. ``outcome``, ``treatment`` and ``adoption`` overrides
replace the guesses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import PanelError, did_you_mean
from ..panel import _read_table

_UNIT_HINTS = ("adcode", "city", "province", "prov", "county", "firm", "stkcd", "code", "id", "unit", "region", "name",
               "state", "sid", "countyreal", "country")
_TIME_HINTS = ("year", "time", "period", "t", "yr")
_TREAT_HINTS = ("did", "treat", "post", "policy", "pilot", "bbc", "reform", "law", "cdl")
_ADOPTION_HINTS = ("first_treat", "first.treat", "adoption_year", "adopt", "gvar", "effyear", "cohort",
                   "treat_year", "first")
_OUTCOME_HINTS = ("co2", "carbon", "emission", "ci", "tfcep", "cei", "ce")
_LOG_PREFIX = r"^(ln|log|l)_?"
#: event-study windows wider than this are binned at the ends (bin_endpoints)
_MAX_LEAD_LAG = 8
_MAX_CONTROLS = 6


@dataclass
class Guess:
    """Detected roles of the columns, with the alternatives that were considered.

    ``treatment_kind`` is ``"dummy"`` (a 0/1 DID dummy in the data), ``"adoption"`` (the
    dummy is built from the adoption-year column ``adoption``), ``"continuous"`` (a
    non-binary regressor: DID-only sections are disabled) or ``None`` (nothing found).
    ``window`` is the event-study window the data support (None: no pre-period)."""

    unit: str
    time: str
    unit_alternatives: list[str] = field(default_factory=list)
    time_alternatives: list[str] = field(default_factory=list)
    treatment: str | None = None
    treatment_kind: str | None = None
    adoption: str | None = None
    outcome: str | None = None
    outcome_alternatives: list[str] = field(default_factory=list)
    controls: list[str] = field(default_factory=list)
    more_controls: list[str] = field(default_factory=list)
    unit_constant: list[str] = field(default_factory=list)
    group_flags: list[str] = field(default_factory=list)
    time_flags: list[str] = field(default_factory=list)
    window: tuple[int, int] | None = None
    notes: list[str] = field(default_factory=list)


def _hint_rank(name: str, hints: tuple[str, ...]) -> int:
    low = name.lower()
    for i, h in enumerate(hints):
        if low == h or re.fullmatch(rf"{re.escape(h)}[_\s]?(id|code|name)?", low):
            return i
    for i, h in enumerate(hints):
        if h in low and len(h) > 2:
            return len(hints) + i
    return 10 * len(hints)


def _outcome_like(name: str) -> bool:
    """Carbon-outcome names: a hint after an optional ln/log prefix (lnco2, lnci, log_cei, tfcep)."""
    core = re.sub(r"^(ln|log)_?", "", name.lower())
    return any(core == h or core.startswith(h) or (len(h) > 2 and h in core) for h in _OUTCOME_HINTS)


def _core(name: str, columns: set[str]) -> str:
    """The name without a log prefix: ``ln``/``log`` (``lnco2``, ``log_gdp``), ``l_``
    (``l_homicide``) or a bare ``l`` when the rest names another column (``lgsp`` beside ``gsp``)."""
    low = name.lower()
    m = re.match(r"^(ln_?|log_?|l_)(.+)$", low)
    if m:
        return m.group(2)
    if low.startswith("l") and low[1:] in columns:
        return low[1:]
    return low


def _is_year(s: pd.Series) -> bool:
    v = pd.to_numeric(s, errors="coerce")
    return bool(v.notna().all() and (v % 1 == 0).all() and v.between(1900, 2100).all() and v.nunique() > 1)


def _timing_like(df: pd.DataFrame, col: str, unit: str, time: str) -> bool:
    """Treatment-timing columns are no controls: adoption years / cohorts (every observed value
    an integer year, 0 or missing allowed for never-treated units) and event time (moves one for
    one with the time column within every unit, i.e. ``col - time`` is constant per unit)."""
    v = pd.to_numeric(df[col], errors="coerce")
    seen = v.dropna()
    if seen.empty or not (seen % 1 == 0).all():
        return False
    years = seen[seen != 0]
    if len(years) and years.between(1900, 2100).all():
        return True
    offset = (v - df[time]).groupby(df[unit]).nunique(dropna=True)
    return bool((offset <= 1).all() and seen.nunique() > 1)


def _adoption_like(df: pd.DataFrame, col: str, unit: str, time: str) -> bool:
    """Each unit's first treated year: whole years (0 or empty for never treated), constant
    within every unit, at least one of them inside the panel's years after the first."""
    v = pd.to_numeric(df[col], errors="coerce")
    if df[col].notna().sum() != v.notna().sum():
        return False
    years = v[(v != 0) & v.notna()]
    if years.empty or not ((years % 1 == 0).all() and years.between(1900, 2100).all()):
        return False
    t = df[time]
    if not (v.groupby(df[unit]).nunique(dropna=False) <= 1).all():
        return False
    return bool(((years > t.min()) & (years <= t.max())).any())


def _id_like(s: pd.Series) -> bool:
    """Identifiers are complete text or integer columns (a continuous variable is not an id)."""
    if s.isna().any():
        return False
    if pd.api.types.is_numeric_dtype(s):
        return bool((s % 1 == 0).all())
    return True


def _row_number(s: pd.Series) -> bool:
    """A row counter (R's ``rownames``): integers counting up by one from the first row."""
    if not pd.api.types.is_integer_dtype(s):
        return False
    v = s.to_numpy()
    return bool((v == v[0] + np.arange(len(v))).all())


def _varies_within(df: pd.DataFrame, col: str, by: str) -> bool:
    return bool((df.groupby(by)[col].nunique(dropna=True) > 1).any())


def _unit_specific(df: pd.DataFrame, col: str, unit: str) -> bool:
    """Zero or missing throughout for most units: a unit-specific dummy or trend."""
    nonzero = (df[col].fillna(0) != 0).groupby(df[unit]).any()
    return bool(nonzero.mean() < 0.5)


def _switches_on(df: pd.DataFrame, col: str, unit: str, time: str) -> bool:
    """A 0/1 column that turns on within some unit and never back off (a staggered DID dummy)."""
    d = df.sort_values([unit, time])
    step = d.groupby(unit)[col].diff().dropna()
    return bool((step >= 0).all() and (step > 0).any())


def _chinese_units(s: pd.Series) -> bool:
    """Units that the bundled Chinese data can match: Chinese names or six-digit adcodes."""
    if pd.api.types.is_numeric_dtype(s):
        return bool(s.between(110000, 829999).all())
    return bool(s.astype(str).str.contains(r"[\u4e00-\u9fff]").any())


def _event_window(df: pd.DataFrame, d: pd.Series, unit: str, time: str) -> tuple[int, int] | None:
    """The widest window [lo, hi] (capped at +-8, ends binned) whose every event time
    ``time - adoption`` is observed for some treated unit; None without a pre-period besides
    the reference -1. Adoption = each unit's first period with ``d == 1``."""
    on = df.loc[d.to_numpy() == 1]
    first = on.groupby(unit)[time].min()
    treated = df[df[unit].isin(first.index)]
    seen = set((treated[time] - treated[unit].map(first)).astype(int))
    if -2 not in seen or -1 not in seen:
        return None
    lo = -2
    while lo - 1 in seen and lo > -_MAX_LEAD_LAG:
        lo -= 1
    hi = 0
    while hi + 1 in seen and hi < _MAX_LEAD_LAG:
        hi += 1
    return lo, hi


def _column(df: pd.DataFrame, name: str, role: str) -> str:
    if name not in df.columns:
        raise PanelError(f"--{role} '{name}' is not a column of the data{did_you_mean(name, map(str, df.columns))}")
    if not pd.api.types.is_numeric_dtype(df[name]):
        raise PanelError(f"--{role} '{name}' must be a numeric column, got {df[name].dtype} values")
    return name


def _dummy_name(columns: set[str]) -> str:
    """Name of the DID dummy built from an adoption column, clear of the data's columns."""
    for name in ("did", "treated", "did_adoption"):
        if not {name, f"{name}_treat", f"{name}_year"} & columns:
            return name
    raise PanelError("the data already use the names did, treated and did_adoption; rename one")


def detect_roles(df: pd.DataFrame, *, outcome: str | None = None, treatment: str | None = None,
                 adoption: str | None = None) -> Guess:
    """Guess the role of each column (module docstring); ``outcome``, ``treatment`` and
    ``adoption`` (an adoption-year column) replace the guesses. Raises :class:`PanelError` if
    no unit-year key is found, an override names no usable column, or no outcome exists."""
    if treatment is not None and adoption is not None:
        raise PanelError("give either a treatment column or an adoption-year column, not both")
    times = sorted((c for c in df.columns if _is_year(df[c])), key=lambda c: _hint_rank(str(c), _TIME_HINTS))
    if not times:
        raise PanelError("could not find a time column: no column holds integer years between 1900 and 2100")
    time = times[0]
    units = [c for c in df.columns if c != time and _id_like(df[c]) and not df.duplicated([c, time]).any()
             and 1 < df[c].nunique() < len(df)]
    if not units:
        raise PanelError(f"could not find a unit column: no column identifies rows uniquely together with '{time}'")
    units.sort(key=lambda c: _hint_rank(str(c), _UNIT_HINTS))
    unit = units[0]
    g = Guess(unit=unit, time=time, unit_alternatives=units[1:4], time_alternatives=times[1:3])
    names = {str(c).lower() for c in df.columns}
    numeric = [c for c in df.columns if c not in (unit, time) and pd.api.types.is_numeric_dtype(df[c])
               and not _row_number(df[c])]
    binary = [c for c in numeric if set(df[c].dropna().unique()) <= {0, 1} and df[c].nunique() == 2]
    g.group_flags = [c for c in binary if not _varies_within(df, c, unit)]
    g.time_flags = [c for c in binary if not _varies_within(df, c, time) and c not in g.group_flags]
    switching = sorted((c for c in binary if c not in g.time_flags and _switches_on(df, c, unit, time)),
                       key=lambda c: _hint_rank(str(c), _TREAT_HINTS))
    timing = [c for c in numeric if c not in binary and _timing_like(df, c, unit, time)]
    adoptions = sorted((c for c in timing if _adoption_like(df, c, unit, time)),
                       key=lambda c: _hint_rank(str(c), _ADOPTION_HINTS))
    # event time moving with the calendar stays in `cont` as a last-resort outcome, never a control
    cont = [c for c in numeric if c not in binary and c not in units and c not in adoptions
            and df[c].nunique() > 1]
    g.unit_constant = [c for c in cont if c not in timing and not _varies_within(df, c, unit)]
    cont = [c for c in cont if _varies_within(df, c, unit) and not _unit_specific(df, c, unit)]

    # treatment
    d: pd.Series | None = None
    if adoption is not None or (treatment is None and not switching and adoptions):
        g.adoption = _column(df, adoption, "adoption") if adoption is not None else adoptions[0]
        g.treatment, g.treatment_kind = _dummy_name(names), "adoption"
        d = _adoption_dummy(df, g)
        if adoption is None:
            g.notes.append(f"'{g.adoption}' holds each {unit}'s first treated {time} (0/empty: never), "
                           f"so the DID dummy '{g.treatment}' is built from it")
    elif treatment is not None:
        _column(df, treatment, "treatment")
        g.treatment = treatment
        if treatment in g.group_flags:
            raise PanelError(
                f"--treatment '{treatment}' is constant within every {unit} (a group flag): it is collinear "
                f"with the {unit} fixed effects. Give a 0/1 column that switches on at adoption, or "
                f"--adoption with each {unit}'s first treated {time}")
        if treatment in g.time_flags:
            raise PanelError(
                f"--treatment '{treatment}' is the same for every {unit} in each {time} (a period indicator): "
                f"it is collinear with the {time} fixed effects. The DID dummy is 1 for treated units ({unit}) in "
                "treated periods only" + (f", e.g. {g.group_flags[0]} x {treatment} as a column of the data"
                                          if g.group_flags else ""))
        if treatment in timing:
            raise PanelError(f"--treatment '{treatment}' holds years or event times, not a treatment intensity; "
                             f"give it as --adoption {treatment} (each {unit}'s first treated {time}, 0 = never)")
        if treatment in g.unit_constant:
            raise PanelError(f"--treatment '{treatment}' is constant within every {unit}: it is collinear with "
                             f"the {unit} fixed effects")
        if treatment in binary:
            g.treatment_kind = "dummy"
            d = df[treatment]
            if treatment not in switching:
                g.notes.append(f"'{treatment}' switches off again in some units ({unit}): the event study and the "
                               "robust DID estimators date adoption at its first switch on")
        else:
            g.treatment_kind = "continuous"
    elif switching:
        g.treatment, g.treatment_kind = switching[0], "dummy"
        hinted = [c for c in switching if _hint_rank(str(c), _TREAT_HINTS) < 2 * len(_TREAT_HINTS)]
        d = df[g.treatment]
        g.notes.append(f"'{g.treatment}' is 0/1 and switches on within units ({unit}), never back: a staggered "
                       "DID dummy" + (f" (other candidates: {', '.join(map(str, hinted[1:4]))})"
                                      if len(hinted) > 1 else ""))
    if g.treatment_kind in ("dummy", "continuous") and adoptions:
        g.notes.append(f"'{adoptions[0]}' looks like an adoption-year column: `climetrics init --adoption "
                       f"{adoptions[0]}` builds the treatment from it instead")
    if g.treatment is not None and g.group_flags:
        g.notes.append(f"not the treatment: {', '.join(map(str, g.group_flags))} (0/1 but constant within every "
                       f"{unit}: a group flag, collinear with the {unit} fixed effects)")
    if d is not None:
        g.window = _event_window(df, d, unit, time)

    # outcome
    if outcome is not None:
        g.outcome = _column(df, outcome, "outcome")
        if outcome in (g.treatment, g.adoption):
            raise PanelError(f"--outcome '{outcome}' is also the treatment; choose another column")
        if not _varies_within(df, outcome, unit):
            raise PanelError(f"--outcome '{outcome}' is constant within every {unit}: the {unit} fixed effects "
                             "absorb it, so no effect on it can be estimated")
    else:
        ranked = sorted((c for c in cont if c != g.treatment), key=lambda c: (
            c in timing, not _outcome_like(str(c)), _core(str(c), names) == str(c).lower(),
            _hint_rank(re.sub(r"^(ln|log)_?", "", str(c).lower()), _OUTCOME_HINTS),
            not str(c).lower().startswith("ln")))
        if not ranked:
            raise PanelError(f"no numeric column varies within units ({unit}), so no outcome can be proposed; "
                             "pass --outcome COLUMN")
        g.outcome, g.outcome_alternatives = ranked[0], ranked[1:4]

    # controls: the outcome's family (other carbon outcomes, its level or log twin) and the
    # treatment's twin are no controls; of a level and its log only the log is kept
    roles = {_core(str(c), names) for c in (g.outcome, g.treatment) if c is not None}
    pool = [c for c in cont if c not in (g.outcome, g.treatment, *timing) and _core(str(c), names) not in roles
            and not (_outcome_like(str(g.outcome)) and _outcome_like(str(c)))]
    logged = {_core(str(c), names) for c in pool if _core(str(c), names) != str(c).lower()}
    pool = [c for c in pool if str(c).lower() not in logged]
    g.controls, g.more_controls = pool[:_MAX_CONTROLS], pool[_MAX_CONTROLS:]
    return g


def _adoption_dummy(df: pd.DataFrame, g: Guess) -> pd.Series:
    """The DID dummy that ``[[prepare.policies]] adoption =`` will build, aligned with ``df``;
    the warnings of :func:`climetrics.data.adoption_dummies` (cohorts outside the panel) become notes."""
    import warnings

    from ..data.adoption import adoption_dummies
    from ..panel import Panel

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        built = adoption_dummies(Panel(df.assign(_row=np.arange(len(df))), g.unit, g.time), str(g.adoption),
                                 name=g.treatment).df
    g.notes += [str(w.message) for w in caught]
    return pd.Series(built[g.treatment].to_numpy(), index=built["_row"].to_numpy()).sort_index()


def _q(s: str) -> str:
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _names(cols: list[str]) -> str:
    return ", ".join(map(str, cols))


def _comment(text: str, width: int = 96) -> str:
    """``text`` as ``# `` comment lines."""
    import textwrap

    return "\n".join("# " + line for line in textwrap.wrap(text, width))


def _disabled(reason: str) -> str:
    return f"enabled = false   # {reason}"


def scaffold(data_path: Path, *, config_dir: Path | None = None, config_name: str | None = None,
             outcome: str | None = None, treatment: str | None = None, adoption: str | None = None) -> str:
    """The text of a commented study config for ``data_path`` (roles: :func:`detect_roles`);
    ``config_name`` is the file it will be written to (default: the data's name with .toml)."""
    config_name = config_name or data_path.with_suffix(".toml").name
    df = _read_table(data_path, None)
    g = detect_roles(df, outcome=outcome, treatment=treatment, adoption=adoption)
    rel = data_path.resolve()
    if config_dir is not None:
        try:
            rel = data_path.resolve().relative_to(config_dir.resolve())
        except ValueError:
            rel = data_path.resolve()
    alt_u = f" (other candidates: {_names(g.unit_alternatives)})" if g.unit_alternatives else ""
    alt_t = f" (other candidates: {_names(g.time_alternatives)})" if g.time_alternatives else ""
    n_units, years = df[g.unit].nunique(), (int(df[g.time].min()), int(df[g.time].max()))
    how = {None: "guessed", "dummy": "0/1 DID dummy", "adoption": f"built from '{g.adoption}' in [[prepare.policies]]",
           "continuous": "continuous regressor"}[g.treatment_kind]
    if outcome is not None:
        out_line = f"outcome = {_q(g.outcome)}   # given with --outcome"
    else:
        alt = f"; other candidates: {_names(g.outcome_alternatives)}" if g.outcome_alternatives else ""
        out_line = f"outcome = {_q(g.outcome)}   # guessed: numeric and varies within units{alt}"
    if g.treatment is None:
        flags = ""
        if g.group_flags:
            flags += (f" {_names(g.group_flags)} is 0/1 and constant within every {g.unit}: a group flag, "
                      f"collinear with the {g.unit} fixed effects, so no treatment.")
        if g.time_flags:
            flags += (f" {_names(g.time_flags)} is 0/1 and the same for every {g.unit} in each {g.time}: a "
                      f"period indicator, collinear with the {g.time} fixed effects.")
        if g.group_flags and g.time_flags:
            flags += (f" Add their product ({g.group_flags[0]} x {g.time_flags[0]}: 1 for treated units "
                      "after adoption) to the data as the DID dummy.")
        treat_lines = _comment(
            "NO TREATMENT FOUND: no 0/1 column switches on within units and no column holds adoption "
            f"years.{flags} Rerun `climetrics init {data_path.name} --force --treatment COLUMN` (a 0/1 DID "
            "dummy, or a continuous regressor) or `--adoption COLUMN` (each unit's first treated year, "
            "0 = never), or set `treatment = \"COLUMN\"` here.") + "\n# treatment = \"COLUMN\""
    else:
        src = "given with --treatment" if treatment is not None else (
            "given with --adoption" if adoption is not None else "guessed")
        treat_lines = f"treatment = {_q(g.treatment)}   # {src}: {how}"
    excluded = [c for c in (g.outcome, g.treatment, g.adoption) if c]
    ctrl = ", ".join(_q(c) for c in g.controls)
    ctrl_note = ("numeric, varying within units; never the outcome, treatment or adoption timing"
                 + (f"; also candidates: {_names(g.more_controls[:8])}" if g.more_controls else ""))
    notes = "\n".join(_comment(n) for n in g.notes)
    if g.treatment_kind == "adoption":
        policies = (f"[[prepare.policies]]   # the DID dummy '{g.treatment}' (1 from the adoption year on), "
                    f"'{g.treatment}_treat' (ever treated) and '{g.treatment}_year'\n"
                    f"name = {_q(g.treatment)}\nadoption = {_q(g.adoption)}   # each {g.unit}'s first treated "
                    f"{g.time}; 0 or empty: never treated\n\n")
    else:
        policies = POLICY_EXAMPLE
    did = g.treatment_kind in ("dummy", "adoption")
    why_not_did = ("the treatment is continuous: event study, placebo, robust DID and PSM need a 0/1 "
                   "adoption dummy" if g.treatment_kind == "continuous" else
                   "no treatment yet: rerun init with --treatment or --adoption")
    if not did:
        es = _disabled(why_not_did)
    elif g.window is None:
        es = _disabled("treated units are never observed two or more periods before adoption, "
                       "so no pre-trend can be tested")
    else:
        es = (f"window = [{g.window[0]}, {g.window[1]}]   # event times observed for treated units in "
              f"the data; the ends also collect event times beyond them (bin_endpoints)")
    placebo = 'kinds = ["space"]\nn_draws = 500' if did else _disabled(why_not_did)
    robust_did = "enabled = true" if did else _disabled(why_not_did)
    if not did:
        psm = _disabled(why_not_did)
    elif g.controls:
        psm = "# covariates = []   # default: the controls"
    elif g.unit_constant:
        psm = (f"covariates = [{', '.join(_q(c) for c in g.unit_constant[:_MAX_CONTROLS])}]   # no time-varying "
               f"controls: match on {g.unit} characteristics that do not change")
    else:
        psm = _disabled("no covariates to model the propensity score with: add controls")
    shift = "[2]" if did else "[]   # moving adoption earlier needs a DID dummy"
    if _chinese_units(df[g.unit]):
        spatial = SPATIAL_CHINA
    else:
        spatial = _comment(
            f"Spatial models, maps and the bundled concurrent policies need Chinese cities or provinces; "
            f"these units ({g.unit}) are not matched by them. For a spatial model give your own neighbour pairs:") + \
            "\n# [spatial]\n# enabled = true\n# weights = [\"file\"]\n# weights_file = \"neighbours.csv\"   " \
            "# columns unit, neighbor[, weight]\n"
    return (f"""# climetrics study generated by `climetrics init` from {data_path.name}
# ({len(df)} rows, {n_units} units '{g.unit}', {years[0]}-{years[1]}). Every role below is a guess from the data:
# check it, then
#   climetrics check {config_name}   # validates every key and column, shows the panel's balance
#   climetrics run {config_name}     # estimates every enabled section and writes the report
# Override a guess with `climetrics init {data_path.name} --force --outcome Y --treatment D`
# (or `--adoption FIRST_TREATED_YEAR_COLUMN`).
"""
            + (notes + "\n" if notes else "") + f"""
[study]
title = {_q("Study of " + data_path.stem)}
output = "out/{data_path.stem}"
seed = 1

[data]
path = {_q(str(rel))}
unit = {_q(g.unit)}   # detected{alt_u}
time = {_q(g.time)}   # detected{alt_t}

[variables]
{out_line}
{treat_lines}
controls = [{ctrl}]   # {ctrl_note}
# cluster = "{g.unit}"   # default: the unit column
# not controls: {_names(excluded)} (roles above)"""
            + (f"; {_names(g.unit_constant)} (constant within units: absorbed by the fixed effects)"
               if g.unit_constant else "") + "\n\n"
            + LABELS.format(outcome=g.outcome) + policies + STEPS + f"""
[baseline]
stepwise = true

[event_study]
{es}

[placebo]
{placebo}

[robust_did]
{robust_did}

[psm]
{psm}

[robustness]
shift_timing = {shift}
trim_outcome = [0.05, 0.95]
winsorize_outcome = [0.01, 0.99]

""" + spatial)


LABELS = """\
# [variables.labels]      # display names in tables, e.g.
# {outcome} = "label"

"""
POLICY_EXAMPLE = """\
# [[prepare.policies]]    # build a DID dummy from a bundled calendar (or calendar = "my.csv")
# name = "broadband_china"
# column = "did"
# city = "city"           # firm-level units: the column naming each row's city

"""
STEPS = """\
# Indicator steps (docs/measurement.md); each adds columns, run in this order:
# [[prepare.carbon]]      # CO2 from fuel use, IPCC factors (seed 001 eq. 9)
# column = "co2"
# fuels = {coal = "coal", natural_gas = "gas"}   # default: the seven fuels in same-named columns
# units = "10^4 t"        # or "t", "tce", ... ; gas_units = "10^8 m3"
# [[prepare.city_co2]]    # city CO2 from electricity, gas, LPG, heat (seed 002)
# column = "co2_city"
# electricity = "elec_use"
# grid_region = "grid"
# grid_factors = {North = 0.9, East = 0.7}   # t CO2/MWh from your cited source, or "factors.csv"
# gas = "gas_use"
# [[prepare.digital_economy]]   # province-year digital economy from IO tables (seed 001 eqs. 1-4)
# tables = "io/{province}_{year}.csv"
# core_sectors = ["Electronics", "ICT services"]
# annual = "annual.csv"       # province, year, gdp for the years between tables
# [[prepare.downscale]]   # provincial total -> cities in proportion to a proxy (seed 000)
# column = "cable"
# value = "prov_cable"    # the province's total, repeated on each city row
# proxy = "telecom_revenue"
# province = "province"
# [[prepare.fill_trailing]]   # forecast missing trailing years unit by unit (seed 003)
# columns = ["co2"]
# method = "linear_trend"     # or "ar1", "holt"
# last_observed = 2019
# [[prepare.agglomeration]]   # producer-service specialisation, overall and by tier (seed 002 eq. 6)
# tiers = {high = ["emp_it", "emp_finance", "emp_research"], low_mid = ["emp_transport", "emp_trade"]}
# total = "emp_total"
# [[prepare.entropy]]     # entropy-weight composite index (seeds 000, 002)
# column = "dei"
# positive = ["internet_users", "telecom_revenue"]
# negative = []
# weights = "pooled"      # or "per_year"
# [[prepare.nddf]]        # total-factor carbon performance by NDDF (seed 000 eq. 2)
# column = "tfcpi"
# inputs = ["capital", "labour", "energy"]
# good = ["gdp"]
# bad = ["co2"]

"""
SPATIAL_CHINA = """\
# [spatial]   # spatial Durbin model with bundled province/city weights (docs)
# enabled = true
# level = "province"
# weights = ["contiguity"]
"""

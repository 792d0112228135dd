"""Digital-economy value added from input-output (IO) tables, following the BEA method.

Implements the measurement step of seed 001 (section 3.1.2): the value added of the digital
economy of a region is split into

* **digital industrialisation** -- the value added of the digital *core* sectors of the IO
  table (in China's 42-sector tables: "communication equipment, computers and other electronic
  devices" and "information transmission, software and information technology services"),
  counted in full;
* **industrial digitalisation** -- the part of every other sector's value added that is
  attributed to the digital economy through a *digital economy adjustment coefficient*.

Following the digital economy satellite account of the U.S. Bureau of Economic Analysis
(Barefoot et al. 2018; BEA 2019), which seed 001 adopts, the digital share of a sector is
measured through its use of digital products as intermediate inputs.

Equations of seed 001 (images in our copy; reconstructed from the text)
-------------------------------------------------------------------------
For sector ``j`` with total output ``X_j``, value added ``VA_j``, digital-economy output
``DX_j`` and digital-economy value added ``DVA_j``:

* eq. 1 (adjustment coefficient): ``alpha_j = DVA_j / VA_j``;
* eq. 2 (value-added rate): ``r_j = VA_j / X_j``;
* eq. 3 (BEA assumption: the digital part of a sector has the sector's intermediate-consumption
  to output ratio, hence its value-added rate): ``DVA_j = DX_j * r_j``;
* eq. 4 (from 2 and 3): ``alpha_j = DVA_j / VA_j = DX_j * r_j / (X_j * r_j) = DX_j / X_j``.

The text leaves ``DX_j`` implicit; we identify the digital intermediate consumption of sector
``j`` with its use of digital products, ``D_j = sum_i w_i z_ij`` (``z_ij`` = product ``i``
used by sector ``j``; ``w_i = 1`` for the digital products, by default the core sectors'
products, 0 otherwise). By the BEA assumption of eq. 3 the digital part has the sector's
ratio of intermediate inputs ``M_j = sum_i z_ij`` to output, ``D_j / DX_j = M_j / X_j``, so

    alpha_j = DX_j / X_j = D_j / M_j        (share of digital products in intermediate inputs)
    DVA_j   = alpha_j * VA_j = DX_j * r_j,  DX_j = alpha_j * X_j.

Core sectors have ``alpha_k = 1``. With ``C`` the core sectors:

    DI  = sum_{k in C} VA_k                 (digital industrialisation)
    ID  = sum_{j not in C} alpha_j VA_j     (industrial digitalisation)
    DE  = DI + ID,   share = DE / GDP,   GDP = sum_j VA_j.

A non-core sector without intermediate inputs (``M_j = 0``) gets ``alpha_j = 0``; a sector
with zero total output (absent from a provincial table) gets ``r_j = NaN`` and no digital
value added.

Years between IO tables (seed 001, last paragraph of 3.1.2)
-----------------------------------------------------------
IO tables exist for a few years only (China: 2012, 2017, ...; extension tables 2015, 2020).
Seed 001 fills the years in between under two constant-structure assumptions, applied to
annual aggregates the user supplies (``annual``: one row per year, a ``gdp`` column and one
column per parent aggregate):

* digital industrialisation: the "industrial structure coefficient" of each core sector ``k``
  -- its share of the value added of its parent aggregate ``P(k)`` (seed 001: Sector 1 lies in
  manufacturing / the secondary industry, Sector 2 in the tertiary industry) -- is constant:
  ``s_k(T) = VA_k(T) / sum_{j in P(k)} VA_j(T)`` from the table of year ``T`` and
  ``DI_k(t) = s_k(t) * A_{P(k)}(t)`` with ``A`` the annual aggregate. Without
  ``parent_sectors`` the parent of every core sector is the whole economy (column ``gdp``);
* industrial digitalisation: its ratio to total value added is constant:
  ``theta(T) = ID(T) / GDP(T)`` and ``ID(t) = theta(t) * gdp(t)``.

For a year ``t`` strictly between table years ``T0 < t < T1`` the coefficient ``c(t)``
(``c`` = each ``s_k`` and ``theta``) is

* ``method="previous"`` (default, the seed's "unchanged over a relatively short period"):
  ``c(t) = c(T0)`` -- the structure of the latest earlier table is held;
* ``method="linear"``: ``c(t) = c(T0) + (t - T0) / (T1 - T0) * (c(T1) - c(T0))``.

Then ``DE(t) = sum_k DI_k(t) + ID(t)`` and ``share(t) = DE(t) / gdp(t)``. Table years always
report the table's own figures (``source == "table"``, GDP = the table's total value added),
so if the yearbook GDP differs from the table's, table-year and interpolated-year levels come
from different sources. Years outside the span of the tables are not extrapolated.

References
----------
Barefoot, K., Curtis, D., Jolliff, W., Nicholson, J. R. & Omohundro, R. (2018). Defining and
measuring the digital economy. BEA Working Paper, U.S. Bureau of Economic Analysis.
BEA (2019). Measuring the digital economy: an update incorporating data from the 2018
comprehensive update of the industry economic accounts.
Seed 001: digital economy structure and carbon intensity of Chinese provinces, section 3.1.2,
equations 1-4 (``/work/shared/seeds/001_64779a9b5da68ed2.txt``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import PanelError, did_you_mean, show

#: Bundled synthetic 5-sector example (2 digital core sectors) table in the documented layout (see docs/io_tables.md).
EXAMPLE_IO_TABLE = Path(__file__).with_name("io_example.csv")

VALUE_ADDED = "value_added"
TOTAL_INPUT = "total_input"
TOTAL_OUTPUT = "total_output"
FINAL_USE = "final_use"
_ROWS = (VALUE_ADDED, TOTAL_INPUT)
_COLS = (FINAL_USE, TOTAL_OUTPUT)
METHODS = ("previous", "linear")

SUMMARY_COLUMNS = [
    "gdp",
    "digital_industrialisation",
    "industrial_digitalisation",
    "digital_economy",
    "digital_share",
    "source",
]


# --------------------------------------------------------------------------- reading
def _clean(label: Any) -> str:
    return str(label).strip()


def _raw_frame(path_or_df: Any) -> pd.DataFrame:
    """The table as strings/values with row labels as index, duplicate labels preserved."""
    if isinstance(path_or_df, pd.DataFrame):
        df = path_or_df.copy()
        if "sector" in [_clean(c) for c in df.columns]:
            df.columns = [_clean(c) for c in df.columns]
            df = df.set_index("sector")
        df.index = [_clean(i) for i in df.index]
        df.columns = [_clean(c) for c in df.columns]
        return df
    if isinstance(path_or_df, str | os.PathLike):
        path = Path(path_or_df)
        if not path.is_file():
            raise PanelError(f"IO table file {str(path)!r} does not exist")
        raw = pd.read_csv(
            path, header=None, comment="#", dtype=str, skipinitialspace=True, keep_default_na=False
        )
        if raw.shape[0] < 2 or raw.shape[1] < 2:
            raise PanelError(f"IO table {str(path)!r} has no data rows or columns")
        header = [_clean(c) for c in raw.iloc[0, 1:]]
        body = raw.iloc[1:]
        df = pd.DataFrame(body.iloc[:, 1:].to_numpy(), columns=header)
        df.index = [_clean(i) for i in body.iloc[:, 0]]
        return df
    raise PanelError(
        f"an IO table must be a CSV path or a pandas DataFrame, not {type(path_or_df).__name__}"
    )


def _number(value: Any, row: str, col: str) -> float:
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return math.nan
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise PanelError(
            f"IO table cell (row {row!r}, column {col!r}) is not a number: {show(value)}"
        ) from None
    if math.isinf(out):
        raise PanelError(f"IO table cell (row {row!r}, column {col!r}) is infinite")
    return out


def _duplicates(labels: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    dup: list[str] = []
    for lab in labels:
        if lab in seen and lab not in dup:
            dup.append(lab)
        seen.add(lab)
    return dup


def read_io_table(path_or_df: Any, *, tol: float = 1e-6) -> pd.DataFrame:
    """Read and validate one input-output table in the documented layout.

    Layout (``docs/io_tables.md``): one row and one column per sector, with the same names;
    cell (row ``i``, column ``j``) is the use of product ``i`` as intermediate input by sector
    ``j``. Extra row ``value_added`` (required) and ``total_input`` (optional); extra column
    ``total_output`` (required) and ``final_use`` (optional, net final use incl. exports minus
    imports). In a CSV the first column holds the row labels (header ``sector``) and lines
    starting with ``#`` are comments. Cells of the extra rows in the extra columns may be empty.

    Parameters
    ----------
    path_or_df : str, os.PathLike or pandas.DataFrame
        CSV file, or a DataFrame indexed by row label (or with a ``sector`` column).
    tol : float, default 1e-6
        Relative tolerance of the balance checks: ``|lhs - X_j| <= tol * max(1, |X_j|)``.

    Returns
    -------
    pandas.DataFrame
        Float table with rows ``sectors + ["value_added"] (+ ["total_input"])`` and columns
        ``sectors (+ ["final_use"]) + ["total_output"]``, the sector columns in row order;
        cells of the extra rows in the extra columns are NaN.

    Raises
    ------
    PanelError
        Naming the sector, row or column at fault: duplicate sector names, a sector with a row
        but no column (non-square intermediate block) or vice versa, missing ``value_added`` /
        ``total_output``, non-numeric, missing or negative cells, and column balance
        (intermediate inputs + value added = total output = total input) or row balance
        (intermediate use + final use = total output) violated beyond ``tol``.

    Notes
    -----
    Seed 001 computes value-added rates (its eq. 2) and digital adjustment coefficients from
    the provincial IO tables (including extension tables); the BEA satellite account
    (Barefoot et al. 2018) uses the supply-use tables in the same way.
    """
    df = _raw_frame(path_or_df)
    rows, cols = list(df.index), list(df.columns)
    for kind, labels in (("row", rows), ("column", cols)):
        dup = _duplicates(labels)
        if dup:
            raise PanelError(
                f"IO table has duplicate {kind} label(s): "
                + ", ".join(repr(d) for d in dup)
                + "; sector names must be unique"
            )
    if VALUE_ADDED not in rows:
        raise PanelError(f"IO table has no {VALUE_ADDED!r} row{did_you_mean(VALUE_ADDED, rows)}")
    if TOTAL_OUTPUT not in cols:
        raise PanelError(
            f"IO table has no {TOTAL_OUTPUT!r} column{did_you_mean(TOTAL_OUTPUT, cols)}"
        )
    sectors = [r for r in rows if r not in _ROWS]
    col_sectors = [c for c in cols if c not in _COLS]
    if not sectors:
        raise PanelError("IO table has no sector rows")
    missing_col = [s for s in sectors if s not in col_sectors]
    if missing_col:
        s = missing_col[0]
        raise PanelError(
            f"IO table is not square: sector {s!r} has a row but no column"
            f"{did_you_mean(s, [c for c in col_sectors if c not in sectors])}"
        )
    missing_row = [c for c in col_sectors if c not in sectors]
    if missing_row:
        c = missing_row[0]
        raise PanelError(
            f"IO table is not square: column {c!r} is not a sector row, {VALUE_ADDED!r}, "
            f"{TOTAL_INPUT!r}, {FINAL_USE!r} or {TOTAL_OUTPUT!r}"
            f"{did_you_mean(c, [r for r in sectors if r not in col_sectors] + list(_COLS))}"
        )
    out_rows = sectors + [r for r in _ROWS if r in rows]
    out_cols = sectors + [c for c in _COLS if c in cols]
    vals = np.full((len(out_rows), len(out_cols)), np.nan)
    for a, r in enumerate(out_rows):
        for b, c in enumerate(out_cols):
            if r in _ROWS and c in _COLS:
                continue
            v = _number(df.at[r, c], r, c)
            if math.isnan(v):
                raise PanelError(f"IO table cell (row {r!r}, column {c!r}) is missing")
            vals[a, b] = v
    table = pd.DataFrame(vals, index=out_rows, columns=out_cols)

    n = len(sectors)
    Z = table.iloc[:n, :n].to_numpy()
    x = table[TOTAL_OUTPUT].iloc[:n].to_numpy()
    va = table.loc[VALUE_ADDED].iloc[:n].to_numpy()
    neg = np.argwhere(Z < 0)
    if len(neg):
        i, j = neg[0]
        raise PanelError(
            f"IO table cell (row {sectors[i]!r}, column {sectors[j]!r}) is negative "
            f"({show(Z[i, j])}); intermediate use must be >= 0"
        )
    for j, s in enumerate(sectors):
        if x[j] < 0:
            raise PanelError(f"sector {s!r} has negative {TOTAL_OUTPUT} ({show(x[j])})")

    def close(a: float, b: float) -> bool:
        return abs(a - b) <= tol * max(1.0, abs(b))

    m = Z.sum(axis=0)
    for j, s in enumerate(sectors):
        if not close(m[j] + va[j], x[j]):
            raise PanelError(
                f"column balance fails for sector {s!r}: intermediate inputs {m[j]:.6g} + "
                f"{VALUE_ADDED} {va[j]:.6g} = {m[j] + va[j]:.6g} but {TOTAL_OUTPUT} is {x[j]:.6g}"
            )
    if TOTAL_INPUT in table.index:
        ti = table.loc[TOTAL_INPUT].iloc[:n].to_numpy()
        for j, s in enumerate(sectors):
            if not close(ti[j], x[j]):
                raise PanelError(
                    f"sector {s!r}: {TOTAL_INPUT} {ti[j]:.6g} differs from its "
                    f"{TOTAL_OUTPUT} {x[j]:.6g}"
                )
    if FINAL_USE in table.columns:
        f = table[FINAL_USE].iloc[:n].to_numpy()
        u = Z.sum(axis=1)
        for i, s in enumerate(sectors):
            if not close(u[i] + f[i], x[i]):
                raise PanelError(
                    f"row balance fails for sector {s!r}: intermediate use {u[i]:.6g} + "
                    f"{FINAL_USE} {f[i]:.6g} = {u[i] + f[i]:.6g} but {TOTAL_OUTPUT} is {x[i]:.6g}"
                )
    return table


def io_sectors(table: pd.DataFrame) -> list[str]:
    """Sector names of a table returned by :func:`read_io_table`, in order."""
    return [r for r in table.index if r not in _ROWS]


# --------------------------------------------------------------------------- one table
def _weights(digital_products: Any, core: list[str], sectors: list[str]) -> np.ndarray:
    if digital_products is None:
        spec: dict[str, float] = {k: 1.0 for k in core}
    elif isinstance(digital_products, Mapping):
        spec = {_clean(k): float(v) for k, v in digital_products.items()}
    elif isinstance(digital_products, str):
        spec = {_clean(digital_products): 1.0}
    else:
        spec = {_clean(k): 1.0 for k in digital_products}
    w = np.zeros(len(sectors))
    for name, weight in spec.items():
        if name not in sectors:
            raise PanelError(
                f"digital product {name!r} is not a sector of the IO table"
                f"{did_you_mean(name, sectors)}"
            )
        if not (0.0 <= weight <= 1.0):
            raise PanelError(
                f"digital product {name!r} has weight {show(weight)}; weights must lie in [0, 1]"
            )
        w[sectors.index(name)] = weight
    return w


def sector_measures(
    table: Any, core_sectors: Sequence[str], *, digital_products: Any = None
) -> pd.DataFrame:
    """Per-sector BEA measures of one IO table (seed 001, eqs. 1-4).

    Parameters
    ----------
    table : str, os.PathLike or pandas.DataFrame
        An IO table (validated with :func:`read_io_table`).
    core_sectors : sequence of str
        The digital core sectors (digital industrialisation), counted in full.
    digital_products : sequence of str or mapping str -> float, optional
        Products (rows) whose intermediate use is digital; a mapping gives each product a
        weight ``w_i`` in [0, 1] (the digital share of that product). Default: the core
        sectors' products with weight 1.

    Returns
    -------
    pandas.DataFrame
        Indexed by sector, columns ``total_output`` (``X_j``), ``value_added`` (``VA_j``),
        ``va_rate`` (``r_j = VA_j / X_j``, eq. 2), ``intermediate_inputs`` (``M_j``),
        ``digital_inputs`` (``D_j = sum_i w_i z_ij``), ``digital_input_share`` (``D_j / M_j``),
        ``core`` (bool), ``adjustment_coef`` (``alpha_j``: 1 for core sectors, else
        ``D_j / M_j``, eq. 4; 0 if ``M_j = 0``), ``digital_output`` (``DX_j = alpha_j X_j``)
        and ``digital_value_added`` (``DVA_j = alpha_j VA_j = DX_j r_j``, eqs. 1 and 3).
    """
    t = read_io_table(table)
    sectors = io_sectors(t)
    core = _core_list(core_sectors, sectors)
    w = _weights(digital_products, core, sectors)
    n = len(sectors)
    Z = t.iloc[:n, :n].to_numpy()
    x = t[TOTAL_OUTPUT].iloc[:n].to_numpy()
    va = t.loc[VALUE_ADDED].iloc[:n].to_numpy()
    m = Z.sum(axis=0)
    d = w @ Z
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(x > 0, va / np.where(x > 0, x, 1.0), np.nan)
        share = np.where(m > 0, d / np.where(m > 0, m, 1.0), np.nan)
    is_core = np.array([s in core for s in sectors])
    alpha = np.where(is_core, 1.0, np.where(m > 0, share, 0.0))
    out = pd.DataFrame(
        {
            "total_output": x,
            "value_added": va,
            "va_rate": rate,
            "intermediate_inputs": m,
            "digital_inputs": d,
            "digital_input_share": share,
            "core": is_core,
            "adjustment_coef": alpha,
            "digital_output": alpha * x,
            "digital_value_added": alpha * va,
        },
        index=pd.Index(sectors, name="sector"),
    )
    return out


def _core_list(core_sectors: Sequence[str], sectors: list[str]) -> list[str]:
    core = (
        [_clean(core_sectors)]
        if isinstance(core_sectors, str)
        else [_clean(c) for c in core_sectors]
    )
    if not core:
        raise PanelError("core_sectors is empty; name the digital core sector(s) of the IO table")
    for c in core:
        if c not in sectors:
            raise PanelError(
                f"core sector {c!r} is not a sector of the IO table{did_you_mean(c, sectors)}"
            )
    return core


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class DigitalEconomyResult:
    """Digital-economy value added by year (seed 001; BEA method of Barefoot et al. 2018).

    Attributes
    ----------
    summary : pandas.DataFrame
        One row per year (index ``year``; ``(province, year)`` for the provincial version):
        ``gdp``, ``digital_industrialisation`` (DI), ``industrial_digitalisation`` (ID),
        ``digital_economy`` (DE = DI + ID), ``digital_share`` (DE / gdp) and ``source``
        (``"table"`` or ``"interpolated"``).
    core : pandas.DataFrame
        Value added of each core sector by year (columns = core sectors; sums to DI), e.g. the
        seed's Sector 1 (digital manufacturing) and Sector 2 (digital services).
    coefficients : pandas.DataFrame
        Constant-structure coefficients by year: ``s:<core sector>`` (share of the core sector
        in its parent aggregate, see ``parents``) and ``theta`` (ID / GDP). Interpolated rows
        hold the coefficients that were applied.
    sectors : pandas.DataFrame
        :func:`sector_measures` of every table, index ``(year, sector)`` (or
        ``(province, year, sector)``).
    parents : dict
        Core sector -> annual column used as its parent aggregate (``"gdp"`` by default).
    method : str
        Interpolation method (``"previous"`` or ``"linear"``).
    """

    summary: pd.DataFrame
    core: pd.DataFrame
    coefficients: pd.DataFrame
    sectors: pd.DataFrame
    parents: dict[str, str]
    method: str


def _annual_frame(annual: Any) -> pd.DataFrame:
    if not isinstance(annual, pd.DataFrame):
        raise PanelError(f"annual must be a pandas DataFrame, not {type(annual).__name__}")
    a = annual.copy()
    a.columns = [_clean(c) for c in a.columns]
    if "year" in a.columns:
        a = a.set_index("year")
    try:
        a.index = [int(y) for y in a.index]
    except (TypeError, ValueError):
        raise PanelError(
            "annual must be indexed by integer year (or have a 'year' column)"
        ) from None
    dup = _duplicates([str(y) for y in a.index])
    if dup:
        raise PanelError("annual has duplicate year(s): " + ", ".join(dup))
    return a


def _annual_value(a: pd.DataFrame, year: int, col: str) -> float:
    if col not in a.columns:
        raise PanelError(
            f"annual has no column {col!r} (needed for interpolated years)"
            f"{did_you_mean(col, list(a.columns))}"
        )
    if year not in a.index:
        raise PanelError(f"annual has no row for year {year} (column {col!r} is needed)")
    v = pd.to_numeric(pd.Series([a.at[year, col]]), errors="coerce").iloc[0]
    if not np.isfinite(v):
        raise PanelError(
            f"annual value of column {col!r} in year {year} is missing or not a number"
        )
    return float(v)


def _parents(
    parent_sectors: Mapping[str, Sequence[str]] | None, core: list[str]
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Core sector -> parent column, and parent column -> its IO sectors (None = all)."""
    if parent_sectors is None:
        return {k: "gdp" for k in core}, {}
    groups = {
        _clean(g): ([_clean(s)] if isinstance(s, str) else [_clean(x) for x in s])
        for g, s in parent_sectors.items()
    }
    parents: dict[str, str] = {}
    for k in core:
        hits = [g for g, members in groups.items() if k in members]
        if len(hits) != 1:
            what = "no" if not hits else f"{len(hits)} ({', '.join(map(repr, hits))})"
            raise PanelError(
                f"core sector {k!r} belongs to {what} parent aggregate(s) of parent_sectors; "
                "it must belong to exactly one"
            )
        parents[k] = hits[0]
    return parents, groups


def digital_economy_value_added(
    tables: Mapping[int, Any],
    core_sectors: Sequence[str],
    *,
    digital_products: Any = None,
    years: Sequence[int] | None = None,
    annual: pd.DataFrame | None = None,
    parent_sectors: Mapping[str, Sequence[str]] | None = None,
    method: str = "previous",
    tol: float = 1e-6,
) -> DigitalEconomyResult:
    """Digital industrialisation, industrial digitalisation and digital-economy value added.

    Seed 001 (section 3.1.2, eqs. 1-4) applied to each IO table, with the years between tables
    filled under the seed's constant-structure assumptions (module docstring, "Years between IO
    tables"). BEA method: Barefoot et al. (2018).

    Parameters
    ----------
    tables : mapping int -> IO table
        Year -> table (CSV path or DataFrame in the layout of :func:`read_io_table`).
    core_sectors : sequence of str
        Digital core sectors (seed 001: communication equipment, computers and other electronic
        devices; information transmission, software and IT services).
    digital_products : sequence of str or mapping str -> float, optional
        Digital products used as intermediate inputs (see :func:`sector_measures`); default the
        core sectors' products.
    years : sequence of int, optional
        Years to report. Default: the table years plus every year of ``annual`` strictly
        between the first and the last table year. A non-table year requires ``annual``.
    annual : pandas.DataFrame, optional
        Annual aggregates, indexed by year (or a ``year`` column): ``gdp`` and, with
        ``parent_sectors``, one column per parent aggregate.
    parent_sectors : mapping str -> sequence of str, optional
        Parent aggregate (an ``annual`` column, e.g. ``"secondary"``) -> the IO sectors it
        consists of; each core sector must lie in exactly one. Default: parent = whole
        economy (``gdp``).
    method : {"previous", "linear"}
        Coefficients of a year between tables: those of the latest earlier table, or linear
        interpolation between the two surrounding tables.
    tol : float
        Balance tolerance of :func:`read_io_table`.

    Returns
    -------
    DigitalEconomyResult

    Raises
    ------
    PanelError
        Malformed tables (prefixed with the year), unknown core sectors / products, missing
        annual data for an interpolated year, or a requested year outside the tables' span.
    """
    if method not in METHODS:
        raise PanelError(
            f"method must be one of {METHODS}, not {method!r}{did_you_mean(method, METHODS)}"
        )
    if not tables:
        raise PanelError("tables is empty; give at least one IO table (year -> table)")
    tyears = sorted(int(y) for y in tables)
    core_in = (
        [_clean(core_sectors)]
        if isinstance(core_sectors, str)
        else [_clean(c) for c in core_sectors]
    )
    parents, groups = _parents(parent_sectors, core_in)

    sec_frames: dict[int, pd.DataFrame] = {}
    summary: dict[int, dict[str, Any]] = {}
    core_va: dict[int, dict[str, float]] = {}
    coefs: dict[int, dict[str, float]] = {}
    by_year = {int(y): t for y, t in tables.items()}
    for y in tyears:
        try:
            t = read_io_table(by_year[y], tol=tol)
            sm = sector_measures(t, core_in, digital_products=digital_products)
            sectors = list(sm.index)
            for g, members in groups.items():
                for s in members:
                    if s not in sectors:
                        raise PanelError(
                            f"parent_sectors[{g!r}] names {s!r}, not a sector of the IO table"
                            f"{did_you_mean(s, sectors)}"
                        )
        except PanelError as e:
            raise PanelError(f"IO table of {y}: {e}") from e
        va = sm["value_added"]
        gdp = float(va.sum())
        di = float(va[sm["core"]].sum())
        idg = float(sm.loc[~sm["core"], "digital_value_added"].sum())
        summary[y] = {
            "gdp": gdp,
            "digital_industrialisation": di,
            "industrial_digitalisation": idg,
            "digital_economy": di + idg,
            "digital_share": (di + idg) / gdp if gdp else math.nan,
            "source": "table",
        }
        core_va[y] = {k: float(va[k]) for k in core_in}
        c: dict[str, float] = {}
        for k in core_in:
            g = parents[k]
            pva = gdp if g not in groups else float(va[groups[g]].sum())
            if pva == 0:
                raise PanelError(
                    f"IO table of {y}: parent aggregate {g!r} of {k!r} has zero value added"
                )
            c[f"s:{k}"] = float(va[k]) / pva
        c["theta"] = idg / gdp if gdp else math.nan
        coefs[y] = c
        sec_frames[y] = sm

    a = _annual_frame(annual) if annual is not None else None
    if years is None:
        wanted = set(tyears)
        if a is not None:
            wanted |= {y for y in a.index if tyears[0] < y < tyears[-1]}
    else:
        wanted = {int(y) for y in years}
    for y in sorted(wanted):
        if y in summary:
            continue
        if not tyears[0] < y < tyears[-1]:
            raise PanelError(
                f"year {y} lies outside the IO tables' years {tyears[0]}-{tyears[-1]}; "
                "only years between tables are interpolated"
            )
        if a is None:
            raise PanelError(
                f"year {y} has no IO table; pass `annual` aggregates to interpolate it"
            )
        t0 = max(t for t in tyears if t < y)
        t1 = min(t for t in tyears if t > y)
        lam = 0.0 if method == "previous" else (y - t0) / (t1 - t0)
        c = {key: coefs[t0][key] + lam * (coefs[t1][key] - coefs[t0][key]) for key in coefs[t0]}
        gdp = _annual_value(a, y, "gdp")
        cv = {k: c[f"s:{k}"] * _annual_value(a, y, parents[k]) for k in core_in}
        di = float(sum(cv.values()))
        idg = c["theta"] * gdp
        summary[y] = {
            "gdp": gdp,
            "digital_industrialisation": di,
            "industrial_digitalisation": idg,
            "digital_economy": di + idg,
            "digital_share": (di + idg) / gdp if gdp else math.nan,
            "source": "interpolated",
        }
        core_va[y] = cv
        coefs[y] = c

    keep = sorted(wanted)
    idx = pd.Index(keep, name="year")
    summ = pd.DataFrame([summary[y] for y in keep], index=idx)[SUMMARY_COLUMNS]
    core_df = pd.DataFrame([core_va[y] for y in keep], index=idx)[core_in]
    coef_df = pd.DataFrame([coefs[y] for y in keep], index=idx)
    sec = pd.concat(sec_frames, names=["year", "sector"])
    return DigitalEconomyResult(summ, core_df, coef_df, sec, dict(parents), method)


def provincial_digital_economy(
    tables: Mapping[str, Mapping[int, Any]],
    core_sectors: Sequence[str],
    *,
    digital_products: Any = None,
    years: Sequence[int] | None = None,
    annual: Mapping[str, pd.DataFrame] | pd.DataFrame | None = None,
    parent_sectors: Mapping[str, Sequence[str]] | None = None,
    method: str = "previous",
    tol: float = 1e-6,
) -> DigitalEconomyResult:
    """:func:`digital_economy_value_added` for several provinces (seed 001: 30 provinces).

    Parameters
    ----------
    tables : mapping str -> (mapping int -> IO table)
        Province -> year -> table. Provinces may have different table years.
    annual : mapping str -> DataFrame, or one DataFrame with ``province`` and ``year`` columns
        Annual aggregates per province (see :func:`digital_economy_value_added`).
    core_sectors, digital_products, years, parent_sectors, method, tol
        As in :func:`digital_economy_value_added`, applied to every province.

    Returns
    -------
    DigitalEconomyResult
        ``summary``, ``core`` and ``coefficients`` indexed by ``(province, year)``,
        ``sectors`` by ``(province, year, sector)`` -- a provincial panel of digital
        industrialisation, industrial digitalisation and the digital-economy share.

    Raises
    ------
    PanelError
        As :func:`digital_economy_value_added`, messages prefixed with the province.
    """
    if not tables:
        raise PanelError("tables is empty; give province -> year -> IO table")
    if isinstance(annual, pd.DataFrame):
        cols = [_clean(c) for c in annual.columns]
        if "province" not in cols:
            raise PanelError(
                "annual DataFrame needs a 'province' column (or pass a dict province -> DataFrame)"
            )
        frame = annual.copy()
        frame.columns = cols
        annual_by = {
            str(p): g.drop(columns="province") for p, g in frame.groupby("province", sort=False)
        }
    else:
        annual_by = {str(p): v for p, v in (annual or {}).items()}
    results: dict[str, DigitalEconomyResult] = {}
    for prov, ptables in tables.items():
        p = str(prov)
        try:
            results[p] = digital_economy_value_added(
                ptables,
                core_sectors,
                digital_products=digital_products,
                years=years,
                annual=annual_by.get(p) if annual is not None else None,
                parent_sectors=parent_sectors,
                method=method,
                tol=tol,
            )
        except PanelError as e:
            hint = ""
            if annual is not None and p not in annual_by:
                hint = f" (annual has no data for province {p!r}{did_you_mean(p, annual_by)})"
            raise PanelError(f"province {p!r}: {e}{hint}") from e

    def stack(attr: str, names: list[str]) -> pd.DataFrame:
        return pd.concat({p: getattr(r, attr) for p, r in results.items()}, names=names)

    first = next(iter(results.values()))
    return DigitalEconomyResult(
        summary=stack("summary", ["province", "year"]),
        core=stack("core", ["province", "year"]),
        coefficients=stack("coefficients", ["province", "year"]),
        sectors=stack("sectors", ["province", "year", "sector"]),
        parents=first.parents,
        method=method,
    )


__all__ = [
    "EXAMPLE_IO_TABLE",
    "METHODS",
    "DigitalEconomyResult",
    "digital_economy_value_added",
    "io_sectors",
    "provincial_digital_economy",
    "read_io_table",
    "sector_measures",
]

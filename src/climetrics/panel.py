"""Panel: one validated unit x time data container.

A :class:`Panel` wraps a pandas DataFrame with a unit column (city, province, firm) and an
integer time column (year). It is validated on construction and never modified in place:
every transformation returns a new Panel, so the user's data and files are never touched.
Imputed cells are tracked cell by cell (``Panel.imputed``) with the method that produced them.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import PanelError, did_you_mean, show

_READERS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".xlsx": "excel",
    ".xls": "excel",
    ".dta": "stata",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def _as_list(cols: str | Iterable[str] | None) -> list[str]:
    if cols is None:
        return []
    if isinstance(cols, str):
        return [cols]
    return list(cols)


def _read_table(
    path: Path,
    sheet: str | int | None,
    columns: list[str] | None = None,
    na_values: Sequence[str] = (),
) -> pd.DataFrame:
    """Read one table (the missing-value rule of :meth:`Panel.from_file` applied); a file that
    cannot be parsed (empty, truncated, corrupted, not the format its suffix says) raises
    PanelError naming it."""
    kind = _READERS.get(path.suffix.lower())
    if kind is None:
        raise PanelError(
            f"cannot read '{path.name}': unknown file type '{path.suffix}'. "
            f"Supported: {', '.join(sorted(_READERS))}"
        )
    if not path.exists():
        raise PanelError(f"data file not found: {path}")
    if not path.is_file():
        raise PanelError(f"data path {path} is a folder, not a {path.suffix} file")
    if path.stat().st_size == 0:
        raise PanelError(f"data file {path.name} is empty (0 bytes)")
    try:
        df = _parse(path, kind, sheet, columns)
    except PanelError:
        raise
    except Exception as err:  # any reader failure on the user's file becomes a named error
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise PanelError(
            f"cannot read {path.name} as a {kind} file ({type(err).__name__}: {first}); "
            "is it complete and saved in that format?"
        ) from err
    return _apply_na_values(df, na_values)


def _apply_na_values(df: pd.DataFrame, na_values: Sequence[str]) -> pd.DataFrame:
    """Turn text cells equal to one of ``na_values`` (after trimming spaces) into missing values
    and convert a text column that then holds only numbers to numbers."""
    tokens = {str(t).strip() for t in na_values}
    if not tokens:
        return df
    for c in df.columns:
        s = df[c]
        if s.dtype != object and not pd.api.types.is_string_dtype(s):
            continue
        hit = s.map(lambda v: isinstance(v, str) and v.strip() in tokens)
        if hit.any():
            s = s.mask(hit)
            num = pd.to_numeric(s, errors="coerce")
            df[c] = num if not (num.isna() & s.notna()).any() else s
    return df


def _parse(path: Path, kind: str, sheet: str | int | None, columns: list[str] | None) -> pd.DataFrame:
    """Read one table; with ``columns`` only those are read (parquet and Stata skip the other
    columns on disk, csv/xlsx skip them while parsing), so a wide file costs what its used
    columns cost. A requested column absent from the file is an error naming it. In csv files
    only empty cells are missing (``keep_default_na=False``): tokens such as ``n/a`` or ``NA``
    stay text unless listed in ``na_values``, the same rule as for a DataFrame."""
    if kind in ("parquet", "stata"):  # their readers select columns by name from the header
        if columns is not None:
            _require_present(path, columns, _header(path, kind))
        if kind == "stata":
            return pd.read_stata(path, convert_categoricals=False, columns=columns)
        return pd.read_parquet(path, columns=columns)
    # csv / tsv / excel: one parse keeping only the wanted columns; the header is read
    # separately only to name the alternatives when a requested column is absent
    def read(usecols: Any = None, nrows: int | None = None) -> pd.DataFrame:
        if kind == "excel":
            sheet_name = 0 if sheet is None else sheet
            return pd.read_excel(path, sheet_name=sheet_name, usecols=usecols, nrows=nrows)
        return pd.read_csv(path, sep="\t" if kind == "tsv" else ",", usecols=usecols, nrows=nrows,
                           keep_default_na=False, na_values=[""], encoding_errors="strict")

    df = read(None if columns is None else set(columns).__contains__)
    if columns is not None and not set(columns) <= set(df.columns):
        _require_present(path, columns, list(read(nrows=0).columns))
    return df


def _header(path: Path, kind: str) -> list[str]:
    """Column names of a parquet or Stata file, from its schema / header only."""
    if kind == "parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    with pd.read_stata(path, iterator=True) as reader:
        return list(reader.variable_labels())


def _require_present(path: Path, columns: list[str], present: list[str]) -> None:
    missing = [c for c in columns if c not in present]
    if missing:
        hints = "; ".join(f"'{c}'{did_you_mean(c, present)}" for c in missing)
        raise PanelError(f"column(s) not in {path.name}: {hints}")


def non_numeric_cells(s: pd.Series) -> pd.Series:
    """Mask of the cells holding a value that is not a number (missing values are fine)."""
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        return pd.Series(False, index=s.index)
    return pd.to_numeric(s, errors="coerce").isna() & s.notna()


def _coerce_time(s: pd.Series, time: str) -> pd.Series:
    """Return the time column as int64, or raise naming the first offending value.

    A column of dates (datetime64) is converted to calendar years with a warning: the
    estimators work with integer periods, and epoch nanoseconds would be meaningless years."""
    if pd.api.types.is_datetime64_any_dtype(s):
        warnings.warn(
            f"time column '{time}' holds dates; converted to calendar years "
            f"({s.min():%Y-%m-%d} -> {s.min().year}). Aggregate sub-annual data to years first",
            UserWarning,
            stacklevel=4,
        )
        return s.dt.year.astype("int64")
    if pd.api.types.is_integer_dtype(s):
        return s.astype("int64")
    flags = s.map(lambda v: isinstance(v, (bool, np.bool_))) if s.dtype == object else None
    if pd.api.types.is_bool_dtype(s) or (flags is not None and flags.any()):
        where = "" if flags is None or not flags.any() else f" (row {flags.idxmax()})"
        raise PanelError(
            f"time column '{time}' holds true/false{where}; it must hold integer periods such as years"
        )
    num = pd.to_numeric(s, errors="coerce")
    bad = num.isna() & s.notna()
    if bad.any():
        i = bad.idxmax()
        raise PanelError(
            f"time column '{time}' must hold integer periods (e.g. 2015); "
            f"row {i} has {show(s.loc[i])}"
        )
    frac = ((num % 1) != 0) | (num.abs() >= 2**53)
    if frac.any():
        i = frac.idxmax()
        raise PanelError(
            f"time column '{time}' must hold integer periods (e.g. 2015); row {i} has {show(s.loc[i])}"
        )
    return num.astype("int64")


def _check_unit_keys(s: pd.Series, unit: str) -> None:
    """Unit ids must be names or codes (hashable scalars, not containers or bytes), and not a
    mix of text and numbers: ``'110000'`` and ``110000`` would silently be two units."""
    if s.dtype != object or pd.api.types.infer_dtype(s, skipna=True) in (
        "string", "integer", "floating", "mixed-integer-float", "boolean"
    ):
        return
    odd = s.map(lambda v: not isinstance(v, (str, int, float, np.integer, np.floating, bool)))
    if odd.any():
        i = odd.idxmax()
        raise PanelError(
            f"unit column '{unit}' must hold names or codes; row {i} has a "
            f"{type(s.loc[i]).__name__} ({show(s.loc[i])[:60]})"
        )
    is_text = s.map(lambda v: isinstance(v, str))
    if is_text.any() and (~is_text & s.notna()).any():
        i, j = is_text.idxmax(), (~is_text & s.notna()).idxmax()
        raise PanelError(
            f"unit column '{unit}' mixes text and numbers (row {i}: {show(s.loc[i])}, row {j}: "
            f"{show(s.loc[j])}), which would count '1' and 1 as different units; convert it to "
            f"one type, e.g. df['{unit}'].astype(str)"
        )


@dataclass(frozen=True)
class BalanceReport:
    """Shape of a panel: is every unit observed in every period?"""

    n_units: int
    n_periods: int
    n_obs: int
    first_period: int
    last_period: int
    missing: pd.DataFrame  # columns: unit, time (unit-period pairs absent from the panel)
    unit_counts: pd.Series = field(repr=False)

    @property
    def balanced(self) -> bool:
        return self.missing.empty

    def summary(self) -> str:
        head = (
            f"{self.n_units} units x {self.n_periods} periods ({self.first_period}-{self.last_period}), "
            f"{self.n_obs} observations: "
        )
        if self.balanced:
            return head + "balanced."
        gappy = self.unit_counts[self.unit_counts < self.n_periods]
        eg = ", ".join(f"{u!s} ({c})" for u, c in gappy.head(5).items())
        return (
            head
            + f"unbalanced, {len(self.missing)} unit-period pairs absent; "
            + f"{len(gappy)} units observed in fewer than {self.n_periods} periods, e.g. {eg}."
        )


class Panel:
    """A validated unit x time panel.

    Parameters
    ----------
    data
        A pandas DataFrame (or anything with a ``to_pandas()`` method, e.g. a polars frame).
    unit, time
        Column names of the unit identifier and the integer time period.
    imputed
        Internal: per-cell record of imputation methods (same index as ``data``).

    Raises
    ------
    PanelError
        If a key column is missing, keys are missing, time is not integer, a (unit, time)
        pair occurs twice, or the panel is empty. The message names the culprit.
    """

    def __init__(
        self,
        data: Any,
        unit: str,
        time: str,
        *,
        imputed: pd.DataFrame | None = None,
        history: Sequence[str] = (),
    ) -> None:
        if hasattr(data, "to_pandas") and not isinstance(data, pd.DataFrame):
            data = data.to_pandas()
        if not isinstance(data, pd.DataFrame):
            raise PanelError(f"a Panel needs a DataFrame, got {type(data).__name__}")
        for role, col in (("unit", unit), ("time", time)):
            if col not in data.columns:
                raise PanelError(
                    f"{role} column '{col}' not found{did_you_mean(col, data.columns)}; "
                    f"columns are: {', '.join(map(str, data.columns))}"
                )
        if unit == time:
            raise PanelError(f"unit and time must be different columns, both are '{unit}'")
        twice = data.columns[data.columns.duplicated()]
        if len(twice):
            raise PanelError(f"column {show(twice[0])} appears more than once in the data; "
                             "column names must be unique")
        if len(data) == 0:
            raise PanelError("the panel is empty: the data have no rows")
        df = data.copy()
        for role, col in (("unit", unit), ("time", time)):
            miss = df[col].isna()
            if miss.any():
                rows = list(df.index[miss][:5])
                raise PanelError(
                    f"{int(miss.sum())} rows have no {role} value in column '{col}' (rows {rows}); "
                    "drop or fill them before building the panel"
                )
        df[time] = _coerce_time(df[time], time)
        _check_unit_keys(df[unit], unit)
        dup = df.duplicated([unit, time], keep=False)
        if dup.any():
            d = df.loc[dup, [unit, time]]
            u, t = d.iloc[0]
            n = int(((d[unit] == u) & (d[time] == t)).sum())
            n_pairs = len(d.drop_duplicates())
            more = f"; {n_pairs - 1} more duplicated pairs" if n_pairs > 1 else ""
            raise PanelError(
                f"{unit} {show(u)} appears {n} times in {time} {t} (rows {list(d.index[(d[unit] == u) & (d[time] == t)])}){more}. "
                "Each unit-period pair must occur once"
            )
        order = np.lexsort((df[time].to_numpy(), pd.factorize(df[unit], sort=True)[0]))
        df = df.iloc[order].reset_index(drop=True)
        self._df = df
        self.unit = unit
        self.time = time
        if imputed is None:
            imputed = pd.DataFrame(index=df.index)
        else:
            imputed = imputed.iloc[order].reset_index(drop=True) if len(imputed) == len(df) else imputed
        self._imputed = imputed
        self.history: tuple[str, ...] = tuple(history)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_frame(cls, data: Any, unit: str, time: str) -> Panel:
        """Build a Panel from a pandas (or polars) DataFrame. The frame is copied."""
        return cls(data, unit, time)

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        unit: str,
        time: str,
        *,
        sheet: str | int | None = None,
        columns: Iterable[str] | None = None,
        na_values: Iterable[str] = (),
    ) -> Panel:
        """Read csv / tsv / xlsx / dta / parquet and validate. The file is only read.

        ``columns`` restricts the read to those columns (``unit`` and ``time`` are always
        included): for a wide parquet file of millions of firm-years only the needed column
        chunks are loaded.

        Missing values (one rule for files and DataFrames): an empty cell is missing; a text
        token such as ``n/a``, ``NA`` or ``-`` is missing only when listed in ``na_values``
        (e.g. ``na_values=["n/a", "-"]``; in a study config ``[data] na_values``). Otherwise it
        stays text, and a numeric use of its column raises PanelError naming the cell."""
        wanted = None
        if columns is not None:
            wanted = list(dict.fromkeys([unit, time, *_as_list(columns)]))
        if isinstance(na_values, str):
            na_values = [na_values]
        return cls(_read_table(Path(path), sheet, wanted, list(na_values)), unit, time)

    def _new(self, df: pd.DataFrame, imputed: pd.DataFrame | None = None, step: str | None = None) -> Panel:
        hist = self.history + ((step,) if step else ())
        return Panel(df, self.unit, self.time, imputed=self._imputed if imputed is None else imputed, history=hist)

    # ------------------------------------------------------------------ access
    @property
    def df(self) -> pd.DataFrame:
        """The data (sorted by unit, time). Treat as read-only; use :meth:`to_frame` for a copy."""
        return self._df

    def to_frame(self) -> pd.DataFrame:
        return self._df.copy()

    @property
    def imputed(self) -> pd.DataFrame:
        """Per-cell imputation record: one column per imputed variable, the method name where a
        cell was imputed and ``None`` elsewhere."""
        return self._imputed.copy()

    def imputed_cells(self) -> pd.DataFrame:
        """Long table (unit, time, column, method) of every imputed cell."""
        rows = []
        for col in self._imputed.columns:
            m = self._imputed[col].notna()
            if m.any():
                part = self._df.loc[m, [self.unit, self.time]].copy()
                part["column"] = col
                part["method"] = self._imputed.loc[m, col].to_numpy()
                rows.append(part)
        if not rows:
            return pd.DataFrame(columns=[self.unit, self.time, "column", "method"])
        return pd.concat(rows, ignore_index=True)

    @property
    def columns(self) -> list[str]:
        return list(self._df.columns)

    @property
    def units(self) -> np.ndarray:
        return self._df[self.unit].unique()

    @property
    def periods(self) -> np.ndarray:
        return np.sort(self._df[self.time].unique())

    def __len__(self) -> int:
        return len(self._df)

    def __contains__(self, col: object) -> bool:
        return col in self._df.columns

    def __getitem__(self, col: str) -> pd.Series:
        self.require([col], numeric=False)
        return self._df[col]

    def __repr__(self) -> str:
        return (
            f"Panel({len(self.units)} {self.unit} x {len(self.periods)} {self.time}, "
            f"{len(self)} rows, {len(self.columns)} columns)"
        )

    # ------------------------------------------------------------------ validation
    def require(self, columns: Iterable[str], *, numeric: bool = True, context: str = "") -> None:
        """Check that ``columns`` exist (and are numeric); raise naming each culprit.

        A numeric column may hold missing values; a column holding text that is not a number
        is rejected with the first offending unit, period and value.
        """
        where = f" (needed by {context})" if context else ""
        cols = _as_list(columns)
        missing = [c for c in cols if c not in self._df.columns]
        if missing:
            hints = "; ".join(f"'{c}'{did_you_mean(c, self._df.columns)}" for c in missing)
            raise PanelError(f"column not found in the panel{where}: {hints}")
        if not numeric:
            return
        for c in cols:
            s = self._df[c]
            if pd.api.types.is_bool_dtype(s):
                continue
            if pd.api.types.is_complex_dtype(s):
                raise PanelError(f"column '{c}' holds complex numbers{where}; it must be real")
            if pd.api.types.is_numeric_dtype(s):
                inf = np.isinf(s.to_numpy(dtype=float, na_value=np.nan))
                if inf.any():
                    i = int(np.argmax(inf))
                    raise PanelError(
                        f"column '{c}' holds an infinite value{where}: {self.unit} "
                        f"{show(self._df.at[i, self.unit])} in {self._df.at[i, self.time]} has "
                        f"{show(s.iat[i])} ({int(inf.sum())} such cells); replace it by a number or "
                        "a missing value (a log of 0 or a division by 0 upstream?)"
                    )
                continue
            bad = non_numeric_cells(s)
            if bad.any():
                i = bad.idxmax()
                raise PanelError(
                    f"column '{c}' must be numeric{where}, but {self.unit} {show(self._df.at[i, self.unit])} "
                    f"in {self._df.at[i, self.time]} has {show(s.at[i])} ({int(bad.sum())} such cells); "
                    "if that text means 'missing', list it in na_values (Panel.from_file(..., "
                    "na_values=[...]) or [data] na_values in a study config)"
                )
            raise PanelError(
                f"column '{c}' is stored as text{where}; convert it to numbers first "
                f"(e.g. Panel.assign({c}=pd.to_numeric(...)))"
            )

    def balance(self) -> BalanceReport:
        """Report whether every unit is observed in every period, and which pairs are absent."""
        units = np.sort(self.units)
        periods = self.periods
        full = pd.MultiIndex.from_product([units, periods], names=[self.unit, self.time])
        have = pd.MultiIndex.from_frame(self._df[[self.unit, self.time]])
        missing = full.difference(have).to_frame(index=False)
        counts = self._df.groupby(self.unit, sort=True).size()
        return BalanceReport(
            n_units=len(units),
            n_periods=len(periods),
            n_obs=len(self),
            first_period=int(periods[0]),
            last_period=int(periods[-1]),
            missing=missing,
            unit_counts=counts,
        )

    # ------------------------------------------------------------------ transformations
    def assign(self, **columns: Any) -> Panel:
        """Return a new Panel with columns added or replaced (values aligned on row order)."""
        for name in columns:
            if name in (self.unit, self.time):
                raise PanelError(f"cannot overwrite the key column '{name}'")
        df = self._df.copy()
        for name, values in columns.items():
            if isinstance(values, pd.Series):
                values = values.to_numpy() if len(values) == len(df) else values
            df[name] = values
        return self._new(df, step=f"assign({', '.join(columns)})")

    def subset(self, mask: Any, *, note: str = "subset") -> Panel:
        """Rows where ``mask`` (boolean array/Series aligned to :attr:`df`) is true."""
        m = np.asarray(mask, dtype=bool)
        if m.shape != (len(self),):
            raise PanelError(f"subset mask has length {m.shape[0]}, the panel has {len(self)} rows")
        if not m.any():
            raise PanelError(f"{note}: no rows left")
        return self._new(
            self._df.loc[m].reset_index(drop=True),
            imputed=self._imputed.loc[m].reset_index(drop=True),
            step=note,
        )

    def log(self, columns: str | Iterable[str], *, prefix: str = "ln", shift: float = 0.0) -> Panel:
        """Add ``prefix + column = log(column + shift)``. Non-positive values raise, naming the cell."""
        cols = _as_list(columns)
        self.require(cols, context="log")
        df = self._df.copy()
        for c in cols:
            v = df[c].astype(float) + shift
            bad = v <= 0
            if bad.any():
                i = bad.idxmax()
                raise PanelError(
                    f"cannot take the log of column '{c}': {self.unit} {show(df.at[i, self.unit])} in "
                    f"{df.at[i, self.time]} has {show(df.at[i, c])} ({int(bad.sum())} non-positive cells); "
                    "pass shift= to add a constant first"
                )
            df[prefix + c] = np.log(v)
        return self._new(df, step=f"log({', '.join(cols)}, shift={shift})")

    def _shifted(self, column: str, k: int) -> pd.Series:
        """Value of ``column`` at time t-k for the same unit (NaN where that period is absent)."""
        self.require([column], context="lag/lead")
        key = self._df[[self.unit, self.time]].copy()
        src = self._df[[self.unit, self.time, column]].copy()
        src[self.time] = src[self.time] + k
        merged = key.merge(src, on=[self.unit, self.time], how="left")
        return merged[column]

    def lag(self, column: str, k: int = 1, *, name: str | None = None) -> Panel:
        """Add the k-period lag of ``column`` (by calendar period, so gaps give NaN, not a wrong row)."""
        name = name or (f"L{k}_{column}" if k != 1 else f"L_{column}")
        return self._new(self._df.assign(**{name: self._shifted(column, k).to_numpy()}), step=f"lag({column}, {k})")

    def lead(self, column: str, k: int = 1, *, name: str | None = None) -> Panel:
        """Add the k-period lead of ``column``."""
        name = name or (f"F{k}_{column}" if k != 1 else f"F_{column}")
        return self._new(self._df.assign(**{name: self._shifted(column, -k).to_numpy()}), step=f"lead({column}, {k})")

    def winsorize(
        self,
        columns: str | Iterable[str],
        lower: float = 0.01,
        upper: float = 0.99,
        *,
        by_time: bool = False,
        suffix: str = "",
    ) -> Panel:
        """Clip values below the ``lower`` and above the ``upper`` quantile (Stata ``winsor2``).

        With ``by_time`` quantiles are computed period by period. ``suffix`` writes the result
        to a new column ``column + suffix`` instead of replacing it.
        """
        _check_quantiles(lower, upper)
        cols = _as_list(columns)
        self.require(cols, context="winsorize")
        df = self._df.copy()
        for c in cols:
            v = df[c].astype(float)
            if by_time:
                g = v.groupby(df[self.time])
                lo, hi = g.transform(lambda s: s.quantile(lower)), g.transform(lambda s: s.quantile(upper))
            else:
                lo, hi = v.quantile(lower), v.quantile(upper)
            df[c + suffix] = v.clip(lo, hi)
        return self._new(df, step=f"winsorize({', '.join(cols)}, {lower}, {upper})")

    def trim(self, column: str, lower: float = 0.05, upper: float = 0.95, *, by_time: bool = False) -> Panel:
        """Drop observations whose ``column`` lies below the ``lower`` or above the ``upper``
        quantile (Stata ``winsor2, trim``); seed 000's 5% trimming is ``trim(y, 0.05, 0.95)``.
        Missing values are kept."""
        _check_quantiles(lower, upper)
        self.require([column], context="trim")
        v = self._df[column].astype(float)
        if by_time:
            g = v.groupby(self._df[self.time])
            lo, hi = g.transform(lambda s: s.quantile(lower)), g.transform(lambda s: s.quantile(upper))
        else:
            lo, hi = v.quantile(lower), v.quantile(upper)
        keep = v.isna() | ((v >= lo) & (v <= hi))
        return self.subset(keep.to_numpy(), note=f"trim({column}, {lower}, {upper})")

    def interpolate(
        self,
        columns: str | Iterable[str],
        *,
        method: str = "linear",
        by: str | None = None,
        extrapolate: bool = False,
    ) -> Panel:
        """Fill missing cells and flag each filled cell in :attr:`imputed`.

        ``method="linear"``: linear in time within each unit between observed values (interior
        gaps only unless ``extrapolate``, which then carries the nearest value flat).
        ``method="group_mean"``: the mean of the other units of the same ``by`` group (e.g.
        province) in the same period, as in seed 003. Cells that stay missing remain NaN.
        """
        cols = _as_list(columns)
        self.require(cols, context="interpolate")
        if method not in ("linear", "group_mean"):
            raise PanelError(f"interpolate: unknown method '{method}'; use 'linear' or 'group_mean'")
        if method == "group_mean":
            if by is None:
                raise PanelError("interpolate(method='group_mean') needs by=<group column>, e.g. by='province'")
            self.require([by], numeric=False, context="interpolate")
        df = self._df.copy()
        imputed = self._imputed.copy()
        for c in cols:
            v = df[c].astype(float)
            if method == "linear":
                new = _interpolate_linear(v, df[self.time].astype(float), df[self.unit], extrapolate)
                tag = "linear" if not extrapolate else "linear+flat"
            else:
                grp = [df[by], df[self.time]]
                s = v.groupby(grp).transform("sum")
                n = v.notna().groupby(grp).transform("sum")
                # mean of the *other* units: the cell itself is missing, so sum/n already excludes it
                new = v.fillna(s / n.replace(0, np.nan))
                tag = f"group_mean({by})"
            filled = v.isna() & new.notna()
            if filled.any():
                if c not in imputed.columns:
                    imputed[c] = pd.Series([None] * len(df), index=df.index, dtype=object)
                imputed.loc[filled, c] = tag
            df[c] = new
        return self._new(df, imputed=imputed, step=f"interpolate({', '.join(cols)}, {method})")

    # ------------------------------------------------------------------ summaries
    def describe(self, columns: Iterable[str] | None = None, *, labels: dict[str, str] | None = None):
        """Descriptive statistics (N, mean, SD, min, max) like seed 003 Table 1."""
        from .report.tables import describe_table

        cols = _as_list(columns) or [c for c in self.columns if c not in (self.unit, self.time)
                                      and pd.api.types.is_numeric_dtype(self._df[c])]
        self.require(cols, context="describe")
        return describe_table(self._df, cols, labels=labels)

    def correlate(self, columns: Iterable[str], *, labels: dict[str, str] | None = None):
        """Pairwise Pearson correlations with significance stars like seed 003 Table 2."""
        from .report.tables import correlation_table

        cols = _as_list(columns)
        self.require(cols, context="correlate")
        return correlation_table(self._df, cols, labels=labels)


def _interpolate_linear(v: pd.Series, t: pd.Series, unit: pd.Series, extrapolate: bool) -> pd.Series:
    """Linear interpolation in time within each unit, vectorised: each missing cell takes the
    line between the unit's previous and next observed (time, value) points; with
    ``extrapolate`` leading/trailing gaps take the nearest observed value."""
    obs_t = t.where(v.notna())
    g_v, g_t = v.groupby(unit), obs_t.groupby(unit)
    prev_v, prev_t = g_v.ffill(), g_t.ffill()
    next_v, next_t = g_v.bfill(), g_t.bfill()
    span = (next_t - prev_t).replace(0, np.nan)
    inner = prev_v + (next_v - prev_v) * (t - prev_t) / span
    out = v.fillna(inner)
    if extrapolate:
        out = out.fillna(prev_v).fillna(next_v)
    return out


def _check_quantiles(lower: float, upper: float) -> None:
    if not (0 <= lower < upper <= 1):
        raise PanelError(f"quantiles must satisfy 0 <= lower < upper <= 1, got lower={lower}, upper={upper}")

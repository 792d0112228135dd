"""Property-based tests (issue 12): for any input, a named climetrics error or a valid result,
never an unexpected exception.

* ``Panel`` construction from random frames: keys of mixed types, missing keys, duplicates,
  gaps, fractional / huge / boolean / date / text periods, infinite and text values.
* ``Panel.from_file`` on random csv text.
* Study configs: random TOML documents built from the schema (right and wrong types, unknown
  keys, out-of-range numbers) and random edits of a valid document.
"""

from __future__ import annotations

import json
import math
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import climetrics as cm
from climetrics.errors import ClimetricsError, ConfigError, PanelError
from climetrics.study.config import SCHEMA, Field, StudyConfig, check_against_data, load_config

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
unit_values = st.one_of(text, st.integers(-5, 5), st.floats(allow_nan=True), st.none(), st.booleans(),
                        st.binary(max_size=2), st.lists(st.integers(), max_size=1), st.dates())
time_values = st.one_of(
    st.integers(1990, 1995),
    st.integers(-(2**62), 2**62),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([2000.0, 2001.5, "2002", "20O3", "", None, True]),
)
cell_values = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10, 10), text, st.none())


@st.composite
def frames(draw) -> pd.DataFrame:
    n = draw(st.integers(0, 25))
    kind = draw(st.sampled_from(["clean", "mixed", "dates"]))
    if kind == "clean":  # a panel with gaps and maybe duplicates: most draws are valid
        units = draw(st.lists(st.sampled_from(["a", "b", "c", "北京"]), min_size=n, max_size=n))
        times = draw(st.lists(st.integers(2000, 2004), min_size=n, max_size=n))
    elif kind == "dates":
        units = draw(st.lists(st.sampled_from([1, 2, 3]), min_size=n, max_size=n))
        times = list(pd.to_datetime(draw(st.lists(st.dates(), min_size=n, max_size=n))))
    else:
        units = draw(st.lists(unit_values, min_size=n, max_size=n))
        times = draw(st.lists(time_values, min_size=n, max_size=n))
    values = draw(st.lists(cell_values, min_size=n, max_size=n))
    numeric = draw(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=n, max_size=n))
    df = pd.DataFrame({"unit": units, "time": times, "v": values, "w": numeric})
    if draw(st.booleans()) and kind == "mixed":  # odd column labels, possibly repeated
        df.columns = ["unit", "time", draw(st.sampled_from(["v", "unit", 0])), "w"]
    return df


def _check_panel(p: cm.Panel, n_rows: int) -> None:
    df = p.df
    assert len(df) == n_rows
    assert df["time"].dtype == np.int64
    assert not df.duplicated(["unit", "time"]).any()
    assert df.index.equals(pd.RangeIndex(n_rows))
    b = p.balance()
    assert b.n_obs == n_rows and b.n_units * b.n_periods >= n_rows
    for col in [c for c in ("v", "w") if c in df.columns]:
        try:
            p.require([col])
        except PanelError as err:
            assert f"'{col}'" in str(err)
        else:
            x = pd.to_numeric(df[col]).to_numpy(dtype=float)
            assert not np.isinf(x).any()  # require() never passes an infinite value


@SETTINGS
@given(frames())
def test_panel_is_a_named_error_or_valid(df: pd.DataFrame) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the date -> year note
        try:
            p = cm.Panel(df, "unit", "time")
        except PanelError as err:
            assert str(err)
            return
    _check_panel(p, len(df))


@SETTINGS
@given(st.text(st.characters(exclude_categories=("Cs",)), max_size=200), st.booleans())
def test_csv_file_is_a_named_error_or_valid(body: str, header: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.csv"
        path.write_text(("unit,time,v,w\n" if header else "") + body, encoding="utf-8")
        try:
            p = cm.Panel.from_file(path, "unit", "time", na_values=["n/a"])
        except PanelError as err:
            assert str(err)
            return
        _check_panel(p, len(p))


# ---------------------------------------------------------------------- configs
def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v) if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def _toml(doc: dict[str, Any], prefix: str = "") -> str:
    """A minimal TOML writer: scalars first, then sub-tables and arrays of tables."""
    lines = [f"{json.dumps(k, ensure_ascii=False)} = {_toml_value(v)}" for k, v in doc.items()
             if not isinstance(v, dict) and not (isinstance(v, list) and v and all(isinstance(x, dict) for x in v))]
    for k, v in doc.items():
        name = f"{prefix}{json.dumps(k, ensure_ascii=False)}"
        if isinstance(v, dict):
            lines += [f"[{name}]", _toml(v, name + ".")]
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            for item in v:
                lines += [f"[[{name}]]", _toml(item, name + ".")]
    return "\n".join(lines)


scalars = st.one_of(st.booleans(), st.integers(-3, 3), st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from(["", "y", "did", "city", "year", "../x", "n/a", "province", "median"]), text)
any_value = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=2),
                         max_leaves=5)


def _value_for(field: Field) -> st.SearchStrategy:
    """Mostly values of the right type (often the allowed choices), sometimes anything."""
    good: list[st.SearchStrategy] = []
    if field.choices:
        good.append(st.sampled_from(list(field.choices)))
    for t in field.types:
        if t is bool:
            good.append(st.booleans())
        elif t is int:
            good.append(st.integers(-2, 2000))
        elif t is float:
            good.append(st.floats(-2, 2, allow_nan=False))
        elif t is str:
            good.append(st.sampled_from(["y", "did", "x", "data.csv", "city", "year"]) | text)
        elif t is list:
            item = {int: st.integers(-8, 2020), str: text, (int, float): st.floats(0, 1)}.get(field.item, scalars)
            good.append(st.lists(item, max_size=3))
        elif t is dict:
            good.append(st.dictionaries(text, text, max_size=2))
    return st.one_of(*good) if good and not isinstance(good, str) else any_value


@st.composite
def schema_docs(draw, schema: dict[str, Any] = SCHEMA, depth: int = 0) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    keys = draw(st.lists(st.sampled_from(sorted(schema)), max_size=6 if depth == 0 else 4, unique=True))
    for key in keys:
        spec = schema[key]
        if isinstance(spec, dict):
            doc[key] = draw(schema_docs(spec, depth + 1)) if depth < 2 else {}
        elif isinstance(spec, list):
            doc[key] = draw(st.lists(schema_docs(spec[0], depth + 1), max_size=2))
        else:
            doc[key] = draw(st.one_of(_value_for(spec), _value_for(spec), any_value))
    if draw(st.booleans()):
        doc[draw(text.filter(lambda s: s not in schema))] = draw(any_value)
    return doc


@st.composite
def configs(draw) -> dict[str, Any]:
    doc = draw(schema_docs())
    if draw(st.booleans()):  # usually keep the required keys, so that deeper checks run
        doc.setdefault("variables", {}).update({"outcome": "y", "treatment": "did"})
        doc.setdefault("data", {}).update({"path": "data.csv", "unit": "city", "time": "year"})
    return doc


def _load(text_: str | bytes) -> StudyConfig | None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "study.toml"
        if isinstance(text_, bytes):
            path.write_bytes(text_)
        else:
            path.write_text(text_, encoding="utf-8")
        try:
            cfg = load_config(path)
        except ConfigError as err:
            assert err.problems and all(isinstance(p, str) and p for p in err.problems)
            return None
    assert isinstance(cfg, StudyConfig)
    problems = check_against_data(cfg, ["city", "year", "y", "did", "x"])
    assert all(isinstance(p, str) for p in problems)
    return cfg


@SETTINGS
@given(configs())
def test_random_config_is_a_named_error_or_valid(doc: dict[str, Any]) -> None:
    cfg = _load(_toml(doc))
    if cfg is not None:
        assert cfg["variables"]["outcome"] and cfg["placebo"]["n_draws"] >= 1
        assert cfg["psm"]["bandwidth"] > 0


VALID = """[study]
title = "t"
[data]
path = "data.csv"
unit = "city"
time = "year"
na_values = ["n/a"]
[variables]
outcome = "y"
treatment = "did"
controls = ["x"]
[psm]
bandwidth = 0.1
"""


@SETTINGS
@given(st.integers(0, len(VALID)), st.integers(0, 8), st.binary(max_size=6), st.booleans())
def test_edited_config_text_is_a_named_error_or_valid(at: int, cut: int, insert: bytes, bom: bool) -> None:
    raw = VALID.encode()
    raw = raw[:at] + insert + raw[at + cut:]
    try:
        _load((b"\xef\xbb\xbf" if bom else b"") + raw)
    except ClimetricsError as err:  # pragma: no cover - _load already narrows to ConfigError
        raise AssertionError(f"unexpected {type(err).__name__}") from err

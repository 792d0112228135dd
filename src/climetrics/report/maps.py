"""Choropleth maps of Chinese provinces or cities (seed 001, Figs. 3-5), drawn with matplotlib.

Boundaries come from the simplified files bundled in ``climetrics.data``
(``boundaries_province.json``, ``boundaries_city.json``; provenance in ``data/SOURCES.md``,
built by ``tools/build_boundaries.py``): adcode -> rings of ``[lon, lat]``, exterior rings
counter-clockwise and holes clockwise, so one compound path per unit keeps holes open. Maps are
drawn in plain longitude/latitude with the aspect of latitude 35°N; they are for showing data,
not a surveying reference (small islands are left out).
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from ..errors import PanelError
from .figures import _pyplot

SCHEMES = ("quantiles", "equal_interval")
LEVELS = ("province", "city")
MISSING_COLOR = "#d9d9d9"


@lru_cache(maxsize=2)
def _boundaries(level: str) -> dict[int, list]:
    text = (
        resources.files("climetrics.data").joinpath(f"boundaries_{level}.json").read_text("utf-8")
    )
    return {int(k): v for k, v in json.loads(text).items()}


def boundaries(level: str = "province") -> dict[int, list]:
    """Bundled simplified boundaries: ``{adcode: [ring, ...]}`` with rings of [lon, lat] pairs.

    Provinces include 台湾, 香港 and 澳门 (710000, 810000, 820000), drawn grey unless data are
    given for them; cities are the 367 units of ``climetrics.data.cities(True)``.
    """
    if level not in LEVELS:
        raise PanelError(f"level must be 'province' or 'city', got {level!r}")
    return {k: [list(map(list, r)) for r in v] for k, v in _boundaries(level).items()}


def class_breaks(values, scheme: str | list = "quantiles", k: int = 5) -> np.ndarray:
    """Class edges (k + 1 increasing numbers from min to max) for the finite ``values``.

    ``quantiles``: the 0, 1/k, ..., 1 quantiles (numpy's linear rule), repeated edges merged;
    ``equal_interval``: k equal steps from min to max; a list gives the edges directly.
    A value ``v`` falls in class ``i`` when ``edges[i] <= v < edges[i + 1]`` (the last class
    includes its upper edge); see :func:`classify`.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        raise PanelError("the variable has no finite value to map.")
    if not isinstance(scheme, str):
        edges = np.asarray(scheme, dtype=float)
        if edges.size < 2 or np.any(np.diff(edges) <= 0):
            raise PanelError("class edges must be at least two strictly increasing numbers.")
        return edges
    if scheme not in SCHEMES:
        raise PanelError(f"scheme must be one of {SCHEMES} or a list of edges, got {scheme!r}")
    if k < 1:
        raise PanelError(f"k must be at least 1, got {k}")
    if scheme == "quantiles":
        return np.unique(np.quantile(v, np.linspace(0, 1, k + 1)))
    return np.linspace(v.min(), v.max(), k + 1)


def classify(values, edges: np.ndarray) -> np.ndarray:
    """Class index (0-based) of each value for ``edges``; -1 for missing or out-of-range values."""
    v = np.asarray(values, dtype=float)
    cls = np.searchsorted(edges[1:-1], v, side="right")
    out = (~np.isfinite(v)) | (v < edges[0]) | (v > edges[-1])
    return np.where(out, -1, cls)


def _unit_codes(units: pd.Series, level: str) -> pd.Series:
    """Adcode of each distinct unit value; provinces also accept 台湾 / 香港 / 澳门 adcodes."""
    from ..data.geography import match_units

    uniq = pd.Index(units.dropna().unique())
    extra = [
        u for u in uniq if level == "province" and str(u).strip() in {"710000", "810000", "820000"}
    ]
    codes = match_units(uniq.difference(extra), level, include_county_level=True)
    return pd.concat(
        [codes, pd.Series([int(str(u).strip()) for u in extra], index=extra, dtype="int64")]
    )


def _path(rings: list):
    from matplotlib.path import Path

    verts, codes = [], []
    for ring in rings:
        verts += ring + [ring[0]]
        codes += [Path.MOVETO] + [Path.LINETO] * (len(ring) - 1) + [Path.CLOSEPOLY]
    return Path(np.asarray(verts, dtype=float), codes)


def choropleth(
    data,
    variable: str,
    *,
    level: str = "province",
    unit: str | None = None,
    time: str | None = None,
    years=None,
    scheme: str | list = "quantiles",
    k: int = 5,
    cmap: str = "YlOrRd",
    ncols: int | None = None,
    fmt: str = "{:.2f}",
    title: str | None = None,
    missing_label: str = "No data",
):
    """Choropleth of ``variable`` by province or city, one panel per year.

    Parameters
    ----------
    data
        A :class:`~climetrics.Panel` or DataFrame; ``unit`` holds adcodes, Chinese or English
        names (matched as in :func:`climetrics.data.geography.match_units`), ``time``
        the period (omit it for a cross-section).
    years
        Periods to draw (default: all). Classes are computed once over the drawn years, so
        colours compare across panels.
    scheme, k
        ``"quantiles"`` or ``"equal_interval"`` with ``k`` classes, or a list of class edges
        (see :func:`class_breaks`).
    cmap
        A matplotlib colormap name, resampled to the number of classes.

    Units without a value in a year are drawn grey and hatched and listed in the legend as
    ``missing_label``. Each unit's patch has gid ``"<year>-<adcode>"`` (``"<adcode>"`` without
    ``time``), which also names it in SVG output. Returns the matplotlib Figure; save it with
    :func:`climetrics.report.figures.save` (png, svg).
    """
    from ..panel import Panel

    if level not in LEVELS:
        raise PanelError(f"level must be 'province' or 'city', got {level!r}")
    shapes = _boundaries(level)
    if isinstance(data, Panel):
        unit, time, df = unit or data.unit, time or data.time, data.df
    else:
        df = data
    for col in (unit, variable) + ((time,) if time is not None else ()):
        if col is None or col not in df.columns:
            raise PanelError(f"choropleth needs column {col!r}; the data have {list(df.columns)}.")
    df = df[[unit, variable] + ([time] if time is not None else [])].copy()
    codes = _unit_codes(df[unit], level)
    no_shape = codes[~codes.isin(list(shapes))]
    if len(no_shape):
        raise PanelError(
            f"no {level} boundary for unit(s) {', '.join(map(repr, no_shape.index[:5]))}."
        )
    df["_code"] = df[unit].map(codes)
    df["_value"] = pd.to_numeric(df[variable], errors="coerce")
    periods = (
        [None] if time is None else list(np.sort(df[time].unique()) if years is None else years)
    )
    absent = [p for p in periods if p is not None and not (df[time] == p).any()]
    if absent:
        raise PanelError(f"no rows for {time} {', '.join(map(str, absent))} in the data.")
    if time is not None:
        df = df[df[time].isin(periods)]
    dup = df.duplicated(["_code"] + ([time] if time is not None else []), keep=False)
    if dup.any():
        row = df[dup].iloc[0]
        when = f" in {time} {row[time]}" if time is not None else ""
        raise PanelError(
            f"{unit} {row[unit]!r} appears more than once{when}; one value per unit is mapped."
        )
    edges = class_breaks(df["_value"], scheme, k)
    plt = _pyplot()
    colors = plt.get_cmap(cmap).resampled(len(edges) - 1)(np.arange(len(edges) - 1))
    ncols = ncols or min(len(periods), 3)
    nrows = -(-len(periods) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.6 * nrows + 0.6), squeeze=False)
    any_missing = False
    for ax, period in zip(axes.ravel(), periods, strict=False):
        part = df if period is None else df[df[time] == period]
        values = part.set_index("_code")["_value"]
        any_missing |= _draw(
            ax, shapes, values, edges, colors, "" if period is None else f"{period}-"
        )
        if period is not None:
            ax.set_title(str(period))
    for ax in axes.ravel()[len(periods) :]:
        ax.set_visible(False)
    from matplotlib.patches import Patch

    handles = [
        Patch(facecolor=c, edgecolor="grey", lw=0.3, label=f"{fmt.format(a)} – {fmt.format(b)}")
        for c, a, b in zip(colors, edges[:-1], edges[1:], strict=True)
    ]
    if any_missing:
        handles.append(
            Patch(
                facecolor=MISSING_COLOR, edgecolor="grey", hatch="////", lw=0.3, label=missing_label
            )
        )
    fig.legend(
        handles=handles,
        loc="lower center",
        ncol=min(len(handles), 3 * ncols),
        frameon=False,
        title=variable,
        fontsize=8,
        title_fontsize=8,
    )
    if title:
        fig.suptitle(title)
    fig.subplots_adjust(bottom=0.12 if nrows == 1 else 0.08, wspace=0.02, hspace=0.12)
    return fig


def _draw(ax, shapes: dict, values: pd.Series, edges, colors, prefix: str) -> bool:
    """Draw every bundled unit on ``ax``; return whether some unit had no value."""
    from matplotlib.patches import PathPatch

    classes = pd.Series(classify(values.to_numpy(), edges), index=values.index)
    missing = False
    for code, rings in shapes.items():
        cls = int(classes.get(code, -1))
        if cls < 0:
            missing = True
            patch = PathPatch(
                _path(rings), facecolor=MISSING_COLOR, edgecolor="grey", lw=0.2, hatch="////"
            )
        else:
            patch = PathPatch(_path(rings), facecolor=colors[cls], edgecolor="white", lw=0.2)
        patch.set_gid(f"{prefix}{code}")
        ax.add_artist(patch)  # limits are fixed below: add_patch's per-patch limit update is slow
    ax.set_xlim(73, 136)
    ax.set_ylim(16, 54)
    ax.set_aspect(1 / np.cos(np.radians(35)))
    ax.set_axis_off()
    return missing

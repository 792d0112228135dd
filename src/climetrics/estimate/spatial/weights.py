"""Spatial weights matrices aligned to panel units.

A :class:`SpatialWeights` holds an ``n x n`` sparse matrix ``W`` (zero diagonal, non-negative)
and the unit ids that label its rows and columns. Models align it to a panel's units by id, never by
position, so a W built in another order or with extra units is reordered or subset explicitly.

Constructors: :func:`contiguity` (bundled province / city adjacency), :func:`from_pairs` (a user
edge list), :func:`inverse_distance` and :func:`knn` (great-circle distance between points, e.g.
:func:`coordinates` of capitals or city seats), :func:`economic_nested` (distance weights scaled
by relative GDP), :func:`from_geometry` (contiguity of user polygons by shared vertices, no
geometry library needed), :func:`link_islands`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from ...data.geography import bundled_units, match_units
from ...errors import EstimationError

EARTH_RADIUS_KM = 6371.0088  # IUGG mean Earth radius


@dataclass(frozen=True, eq=False)
class SpatialWeights:
    """A spatial weights matrix labelled by unit ids.

    Attributes
    ----------
    ids
        Unit ids in row/column order (unique).
    matrix
        ``n x n`` CSR matrix, non-negative, zero diagonal.
    kind
        Human-readable description, e.g. ``"contiguity (province)"``; shown in table notes.
    row_standardized
        Whether every non-island row sums to one.
    """

    ids: pd.Index
    matrix: sparse.csr_array
    kind: str = "user"
    row_standardized: bool = False

    def __post_init__(self) -> None:
        ids = pd.Index(self.ids)
        object.__setattr__(self, "ids", ids)
        m = sparse.csr_array(self.matrix, dtype=float)
        m.eliminate_zeros()
        object.__setattr__(self, "matrix", m)
        if m.shape != (len(ids), len(ids)):
            raise EstimationError(
                f"Spatial weights are {m.shape[0]}x{m.shape[1]} but {len(ids)} unit ids were given."
            )
        dup = ids[ids.duplicated()].unique()
        if len(dup):
            raise EstimationError(f"Spatial weights list unit {dup[0]!r} more than once.")
        if not np.all(np.isfinite(m.data)) or (m.data < 0).any():
            bad = int(np.flatnonzero(~np.isfinite(m.data) | (m.data < 0))[0])
            row = int(np.searchsorted(m.indptr, bad, side="right") - 1)
            raise EstimationError(
                f"Spatial weights row for unit {ids[row]!r} has a negative or missing weight."
            )
        diag = m.diagonal()
        if (diag != 0).any():
            unit = ids[int(np.flatnonzero(diag)[0])]
            raise EstimationError(
                f"Spatial weights give unit {unit!r} a non-zero weight on itself."
            )

    @classmethod
    def from_matrix(cls, matrix, ids, kind: str = "user") -> SpatialWeights:
        """Wrap a dense or sparse matrix whose rows/columns follow ``ids``."""
        return cls(
            pd.Index(ids),
            sparse.csr_array(
                np.asarray(matrix, dtype=float) if not sparse.issparse(matrix) else matrix
            ),
            kind,
        )

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def islands(self) -> list:
        """Units with no neighbours (all-zero rows)."""
        return list(self.ids[np.diff(self.matrix.indptr) == 0])

    def standardized(self) -> SpatialWeights:
        """Row-standardised copy: each row divided by its sum (islands keep a zero row)."""
        sums = np.asarray(self.matrix.sum(axis=1)).ravel()
        scale = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
        m = sparse.csr_array(sparse.diags_array(scale) @ self.matrix)
        return SpatialWeights(self.ids, m, self.kind, row_standardized=True)

    def aligned(self, ids, *, drop_extra: bool = False) -> SpatialWeights:
        """Reorder to ``ids``; error naming units the weights do not cover.

        Units of the weights absent from ``ids`` (e.g. a province missing from the panel) are an
        error naming them, because dropping them changes the neighbour structure of the units
        kept; with ``drop_extra=True`` they are dropped knowingly: their links go, and a
        row-standardised matrix is re-standardised so rows still sum to one over the units kept.
        """
        ids = pd.Index(ids)
        missing = ids.difference(self.ids)
        if len(missing):
            shown = ", ".join(map(repr, list(missing[:5])))
            raise EstimationError(
                f"Spatial weights have no row for {len(missing)} panel unit(s): {shown}. "
                "Build W for the same units (ids must match the panel's unit column)."
            )
        extra = self.ids.difference(ids)
        if len(extra) and not drop_extra:
            shown = ", ".join(map(repr, list(extra[:5])))
            raise EstimationError(
                f"Spatial weights list {len(extra)} unit(s) absent from the panel: {shown}. "
                "Dropping them would change their neighbours' weights; build W for the panel's "
                "units, or pass w.aligned(panel.units, drop_extra=True) to drop them knowingly."
            )
        if ids.equals(self.ids):
            return self
        pos = self.ids.get_indexer(ids)
        m = sparse.csr_array(self.matrix[pos][:, pos])
        out = SpatialWeights(ids, m, self.kind)
        return out.standardized() if self.row_standardized else out

    def dense(self) -> np.ndarray:
        return self.matrix.toarray()

    def lag(self, values: np.ndarray) -> np.ndarray:
        """Spatial lag ``W @ values`` (values stacked by unit in ``ids`` order; 1-D or 2-D)."""
        return self.matrix @ np.asarray(values, dtype=float)

    def require_no_islands(self, what: str) -> None:
        """Raise a clear error if some units have no neighbour; ``what`` names the computation."""
        if self.islands:
            shown = ", ".join(map(repr, self.islands[:5]))
            raise EstimationError(
                f"{what} needs every unit to have a neighbour, but the spatial weights "
                f"({self.kind}) leave {len(self.islands)} unit(s) without one: {shown}. Link "
                "them with contiguity(..., attach_islands='nearest') or "
                "link_islands(w, great_circle_km(coords)), or drop them from the data."
            )


def coordinates(
    level: str = "province", ids=None, *, include_county_level: bool = False
) -> pd.DataFrame:
    """Bundled point coordinates (id, lon, lat) for :func:`inverse_distance` and :func:`knn`.

    Cities use their government seat (``climetrics.data.cities()``, lon/lat); provinces use the
    seat of their capital city (see :func:`~climetrics.data.geography.bundled_units`). ``ids`` (adcodes or names, as in a panel's
    unit column) label the rows; by default all bundled units, labelled by adcode.
    """
    units = bundled_units(level, include_county_level).set_index("adcode")
    if ids is None:
        return units.reset_index()[["adcode", "lon", "lat"]].rename(columns={"adcode": "id"})
    codes = match_units(ids, level, include_county_level=include_county_level)
    return pd.DataFrame(
        {
            "id": codes.index,
            "lon": units["lon"].reindex(codes).to_numpy(),
            "lat": units["lat"].reindex(codes).to_numpy(),
        }
    )


def require_weights(w: object, where: str) -> None:
    """Raise EstimationError unless ``w`` is a :class:`SpatialWeights` (a bare matrix has no
    unit ids, so its rows could not be matched to the panel's units)."""
    if not isinstance(w, SpatialWeights):
        raise EstimationError(
            f"{where} needs spatial weights as a SpatialWeights (ids + matrix), got "
            f"{type(w).__name__}; wrap a matrix with SpatialWeights.from_matrix(matrix, ids)"
        )


# ---------------------------------------------------------------------------- constructors
def from_pairs(
    df: pd.DataFrame,
    a: str,
    b: str,
    weight: str | None = None,
    ids=None,
    *,
    symmetric: bool = True,
    kind: str = "user pairs",
) -> SpatialWeights:
    """Weights from an edge list: one row per pair of neighbours ``(df[a], df[b])``.

    ``weight`` names a column of weights (default 1). With ``symmetric`` each pair also links
    ``b`` to ``a`` (pairs may then be listed once or in both directions, with equal weights).
    ``ids`` fixes the units and their order (default: the sorted units met in the pairs); a pair
    naming a unit outside ``ids``, a repeated pair, or a unit paired with itself is an error.
    """
    for col in [a, b] + ([weight] if weight else []):
        if col not in df.columns:
            raise EstimationError(f"the pairs have no column {col!r}; columns: {list(df.columns)}")
    src, dst = df[a].to_numpy(), df[b].to_numpy()
    w = (
        np.ones(len(df))
        if weight is None
        else pd.to_numeric(df[weight], errors="coerce").to_numpy()
    )
    if np.isnan(w).any():
        raise EstimationError(
            f"column {weight!r} of the pairs has a missing or non-numeric weight."
        )
    ids = (
        pd.Index(pd.unique(np.concatenate([src, dst]))).sort_values()
        if ids is None
        else pd.Index(ids)
    )
    ia, ib = ids.get_indexer(src), ids.get_indexer(dst)
    outside = pd.unique(np.concatenate([src[ia < 0], dst[ib < 0]]))
    if len(outside):
        raise EstimationError(
            f"{len(outside)} unit(s) in the pairs are not among ids: "
            f"{', '.join(map(repr, outside[:5]))}."
        )
    self_pair = ia == ib
    if self_pair.any():
        raise EstimationError(f"unit {src[self_pair][0]!r} is paired with itself.")
    if symmetric:
        ia, ib, w = np.concatenate([ia, ib]), np.concatenate([ib, ia]), np.concatenate([w, w])
    edges = pd.DataFrame({"i": ia, "j": ib, "w": w})
    if not symmetric and edges.duplicated(["i", "j"]).any():
        i, j = edges.loc[edges.duplicated(["i", "j"]), ["i", "j"]].iloc[0]
        raise EstimationError(f"the pairs list ({ids[i]!r}, {ids[j]!r}) more than once.")
    edges = edges.drop_duplicates()
    clash = edges.duplicated(["i", "j"])
    if clash.any():
        i, j = edges.loc[clash, ["i", "j"]].iloc[0]
        raise EstimationError(
            f"the pairs give ({ids[i]!r}, {ids[j]!r}) two different weights; with "
            "symmetric=True both directions must carry the same weight."
        )
    m = sparse.csr_array((edges["w"].to_numpy(), (edges["i"], edges["j"])), shape=(len(ids),) * 2)
    return SpatialWeights(ids, m, kind)


def contiguity(
    level: str = "province",
    ids=None,
    *,
    attach_islands: str | None = None,
    include_county_level: bool = False,
) -> SpatialWeights:
    """Binary rook contiguity (shared land border) from the bundled adjacency tables.

    ``ids`` are the panel's units (adcodes, Chinese or English names; see :func:`match_units`)
    and label the result, so it aligns with the panel by id; by default all bundled units,
    labelled by adcode. Hainan has no land neighbour among the provinces (三沙 none among the
    cities): such units are reported in ``.islands``. ``attach_islands='nearest'`` links each
    island to its nearest unit (see :func:`_nearest_gap_km`), as studies usually link Hainan to
    Guangdong.
    """
    from ... import data

    if attach_islands not in (None, "nearest"):
        raise EstimationError(f"attach_islands must be None or 'nearest', got {attach_islands!r}")
    if ids is None:
        ids = bundled_units(level, include_county_level)["adcode"]
    codes = match_units(ids, level, include_county_level=include_county_level)
    pairs = (
        data.province_adjacency(symmetric=False)
        if level == "province"
        else data.city_adjacency(symmetric=False, include_county_level=True)
    )
    label = pd.Series(codes.index, index=codes.to_numpy())
    pairs = pairs[pairs["adcode_a"].isin(label.index) & pairs["adcode_b"].isin(label.index)]
    edges = pd.DataFrame(
        {"a": label[pairs["adcode_a"]].to_numpy(), "b": label[pairs["adcode_b"]].to_numpy()}
    )
    w = from_pairs(edges, "a", "b", ids=codes.index, kind=f"contiguity ({level})")
    if attach_islands and w.islands:
        w = link_islands(w, _nearest_gap_km(level, codes))
    return w


def _coords(coords: pd.DataFrame, id: str, lon: str, lat: str) -> tuple[pd.Index, np.ndarray]:
    """Unit ids and an (n, 2) array of lon/lat in radians; errors name the unit at fault."""
    missing = [c for c in (id, lon, lat) if c not in coords.columns]
    if missing:
        raise EstimationError(
            f"coordinates need columns {missing}; they have {list(coords.columns)}"
        )
    ids = pd.Index(coords[id])
    xy = coords[[lon, lat]].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(xy).any(axis=1) | (np.abs(xy[:, 1]) > 90) | (np.abs(xy[:, 0]) > 360)
    if bad.any():
        raise EstimationError(
            f"unit {ids[int(np.flatnonzero(bad)[0])]!r} has missing or invalid lon/lat."
        )
    return ids, np.radians(xy)


def great_circle_km(
    coords: pd.DataFrame, *, id: str = "id", lon: str = "lon", lat: str = "lat"
) -> pd.DataFrame:
    """Haversine distances (km, sphere of radius 6,371.0088 km) between all pairs of units.

    ``d = 2 R asin(sqrt(sin²(Δφ/2) + cos φ1 cos φ2 sin²(Δλ/2)))``. Returns an ``n x n``
    DataFrame labelled by the ids.
    """
    ids, rad = _coords(coords, id, lon, lat)
    return pd.DataFrame(_haversine(rad), index=ids, columns=ids)


def _haversine(rad: np.ndarray) -> np.ndarray:
    lam, phi = rad[:, 0], rad[:, 1]
    h = (
        np.sin((phi[:, None] - phi[None, :]) / 2) ** 2
        + np.cos(phi[:, None])
        * np.cos(phi[None, :])
        * np.sin((lam[:, None] - lam[None, :]) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def _distances(coords, id, lon, lat) -> tuple[pd.Index, np.ndarray]:
    ids, rad = _coords(coords, id, lon, lat)
    if ids.has_duplicates:
        raise EstimationError(f"coordinates list unit {ids[ids.duplicated()][0]!r} more than once.")
    d = _haversine(rad)
    np.fill_diagonal(d, np.inf)
    same = np.argwhere(d == 0)
    if len(same):
        i, j = same[0]
        raise EstimationError(f"units {ids[i]!r} and {ids[j]!r} have the same coordinates.")
    return ids, d


def inverse_distance(
    coords: pd.DataFrame,
    cutoff_km: float | None = None,
    power: float = 1,
    *,
    id: str = "id",
    lon: str = "lon",
    lat: str = "lat",
) -> SpatialWeights:
    """Inverse-distance weights ``w_ij = d_ij^(-power)`` for ``d_ij <= cutoff_km`` (else 0).

    ``d_ij`` is the great-circle (haversine) distance in km between the points in ``coords``
    (columns ``id``, ``lon``, ``lat`` in degrees; :func:`coordinates` gives the bundled
    capitals / seats). Not row-standardised: call ``.standardized()``.
    """
    if power <= 0:
        raise EstimationError(f"power must be positive, got {power}")
    ids, d = _distances(coords, id, lon, lat)
    w = d ** -float(power)
    if cutoff_km is not None:
        w[d > cutoff_km] = 0.0
    note = f"inverse distance^{power:g}" + (f", cutoff {cutoff_km:g} km" if cutoff_km else "")
    return SpatialWeights(ids, sparse.csr_array(w), note)


def knn(
    coords: pd.DataFrame, k: int, *, id: str = "id", lon: str = "lon", lat: str = "lat"
) -> SpatialWeights:
    """Binary k-nearest-neighbour weights by great-circle distance (not symmetric in general).

    Ties at the k-th distance are broken by the order of ``coords``.
    """
    ids, d = _distances(coords, id, lon, lat)
    if not 0 < k < len(ids):
        raise EstimationError(f"k must be between 1 and {len(ids) - 1} (units - 1), got {k}")
    nearest = np.argsort(d, axis=1, kind="stable")[:, :k]
    rows = np.repeat(np.arange(len(ids)), k)
    m = sparse.csr_array((np.ones(rows.size), (rows, nearest.ravel())), shape=d.shape)
    return SpatialWeights(ids, m, f"{k}-nearest neighbours")


def link_islands(w: SpatialWeights, distances: pd.DataFrame) -> SpatialWeights:
    """Link each island of ``w`` to its nearest unit (both directions, weight 1).

    ``distances`` is an ``n x n`` table labelled by unit ids covering ``w`` (e.g.
    :func:`great_circle_km` of the units' coordinates). Row standardisation is redone if ``w``
    was standardised; ``kind`` records every link made.
    """
    if not w.islands:
        return w
    missing = w.ids.difference(distances.index).union(w.ids.difference(distances.columns))
    if len(missing):
        raise EstimationError(
            f"distances have no entry for unit(s) {', '.join(map(repr, missing[:5]))}."
        )
    d = distances.reindex(index=w.ids, columns=w.ids).to_numpy(dtype=float, copy=True)
    np.fill_diagonal(d, np.inf)
    m = w.matrix.tolil()
    links = []
    for unit in w.islands:
        i = w.ids.get_loc(unit)
        j = int(np.nanargmin(d[i]))
        m[i, j] = m[j, i] = 1.0
        links.append(f"{unit}-{w.ids[j]}")
    out = SpatialWeights(
        w.ids, sparse.csr_array(m), f"{w.kind}; islands linked to nearest unit ({', '.join(links)})"
    )
    return out.standardized() if w.row_standardized else out


def _nearest_gap_km(level: str, codes: pd.Series) -> pd.DataFrame:
    """Distances used to link islands, labelled by the ids of ``codes``.

    Cities: great-circle distance between seats. Provinces: the smallest distance between a city
    seat of one province and a city seat of the other, so Hainan's nearest province is
    Guangdong (海口-湛江, about 140 km) rather than Guangxi, whose capital is nearer to Haikou.
    """
    from ... import data

    if level == "city":
        return great_circle_km(coordinates("city", codes.index, include_county_level=True))
    seats = data.cities(include_county_level=True)
    d = pd.DataFrame(
        _haversine(np.radians(seats[["lon", "lat"]].to_numpy())),
        index=seats["province_adcode"],
        columns=seats["province_adcode"],
    )
    gap = d.groupby(level=0).min().T.groupby(level=0).min()
    gap = gap.reindex(index=codes.to_numpy(), columns=codes.to_numpy())
    gap.index = gap.columns = codes.index
    return gap


def economic_nested(distance_w: SpatialWeights, gdp: pd.Series) -> SpatialWeights:
    """Economic-geographic nested weights ``W2 = W0 · diag(Ybar_1/Ybar, ..., Ybar_n/Ybar)``.

    ``W0`` is an inverse-distance matrix (``distance_w``, e.g. ``inverse_distance(coordinates())``
    between provincial capitals, not yet standardised); ``gdp`` holds each unit's mean GDP over
    the sample years, indexed by the ids of ``distance_w``; ``Ybar`` is the mean of ``gdp``.
    Neighbour ``j`` thus weighs more the richer it is relative to the average. This is the form
    used in the Chinese regional literature since Lin, Long and Wu (2005, *China Economic
    Quarterly* 4(S1)) and in seed 001 (eq. 10); row-standardise the result with
    ``.standardized()``.
    """
    gdp = pd.Series(gdp)
    missing = distance_w.ids.difference(gdp.index)
    if len(missing):
        raise EstimationError(f"gdp has no value for unit(s) {', '.join(map(repr, missing[:5]))}.")
    y = pd.to_numeric(gdp.reindex(distance_w.ids), errors="coerce").to_numpy(dtype=float)
    bad = ~(y > 0)
    if bad.any():
        raise EstimationError(
            f"gdp of unit {distance_w.ids[int(np.flatnonzero(bad)[0])]!r} "
            "must be a positive number."
        )
    m = sparse.csr_array(distance_w.matrix @ sparse.diags_array(y / y.mean()))
    return SpatialWeights(distance_w.ids, m, f"economic-geographic nested ({distance_w.kind})")


def _geojson_rings(collection: dict, id_field: str) -> dict:
    """``{id: rings}`` from a GeoJSON FeatureCollection of Polygon / MultiPolygon features."""
    out = {}
    for k, feat in enumerate(collection.get("features", [])):
        props = feat.get("properties") or {}
        if id_field not in props:
            raise EstimationError(f"GeoJSON feature {k} has no property {id_field!r}.")
        geom = feat.get("geometry") or {}
        polys = {"Polygon": [geom.get("coordinates")], "MultiPolygon": geom.get("coordinates")}.get(
            geom.get("type")
        )
        if polys is None:
            raise EstimationError(
                f"GeoJSON feature {props[id_field]!r} is a {geom.get('type')!r}, not a polygon."
            )
        out.setdefault(props[id_field], []).extend(r for poly in polys for r in poly)
    return out


def from_geometry(
    shapes, rule: str = "queen", *, digits: int | None = None, id_field: str = "id"
) -> SpatialWeights:
    """Binary contiguity of user polygons: units sharing boundary points are neighbours.

    ``shapes`` is ``{id: [ring, ...]}`` with rings of ``(x, y)`` points (the layout of
    :func:`climetrics.report.maps.boundaries`) or a GeoJSON FeatureCollection whose features
    carry the unit id in ``properties[id_field]``. ``rule="queen"``: at least one shared point;
    ``"rook"``: at least two distinct shared points (R spdep ``poly2nb`` with ``queen=TRUE`` /
    ``FALSE``). Points are compared exactly, or after rounding to ``digits`` decimals when the
    polygons do not share identical vertices (rounding can split two points that straddle a
    rounding boundary; spdep snaps within a distance instead). Units whose rings have no point in
    common with another unit are islands.
    """
    if rule not in ("queen", "rook"):
        raise EstimationError(f"rule must be 'queen' or 'rook', got {rule!r}")
    if isinstance(shapes, dict) and shapes.get("type") == "FeatureCollection":
        shapes = _geojson_rings(shapes, id_field)
    ids = pd.Index(list(shapes))
    parts = []
    for i, rings in enumerate(shapes.values()):
        pts = [np.asarray(r, dtype=float).reshape(-1, 2) for r in rings]
        if not pts or not sum(len(p) for p in pts):
            raise EstimationError(f"unit {ids[i]!r} has no boundary points.")
        parts.append(np.column_stack([np.full(sum(len(p) for p in pts), i), np.vstack(pts)]))
    pts = pd.DataFrame(np.vstack(parts), columns=["unit", "x", "y"])
    if digits is not None:
        pts[["x", "y"]] = pts[["x", "y"]].round(digits)
    pts = pts.drop_duplicates()
    pairs = pts.merge(pts, on=["x", "y"])
    pairs = pairs[pairs["unit_x"] < pairs["unit_y"]]
    shared = pairs.groupby(["unit_x", "unit_y"]).size()
    shared = shared[shared >= (1 if rule == "queen" else 2)].index.to_frame(index=False)
    edges = pd.DataFrame(
        {"a": ids[shared["unit_x"].astype(int)], "b": ids[shared["unit_y"].astype(int)]}
    )
    return from_pairs(edges, "a", "b", ids=ids, kind=f"{rule} contiguity (polygons)")

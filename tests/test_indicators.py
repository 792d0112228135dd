"""Indicator construction: fossil CO2, entropy index, location quotients, downscaling, gap filling."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from climetrics.errors import PanelError
from climetrics.measure.agglomeration import location_quotient, producer_service_agglomeration
from climetrics.measure.carbon import city_co2, emission_factors, fossil_co2
from climetrics.measure.downscale import downscale
from climetrics.measure.entropy import entropy_index
from climetrics.measure.gapfill import fill_trailing
from climetrics.panel import Panel

# ---------------------------------------------------------------------------------- carbon
# hand-typed factors (NCV kJ/kg or kJ/m3, carbon content kg C/GJ, oxidation)
HAND = {
    "coal": (20908, 25.8, 1.0),
    "coke": (28435, 29.2, 1.0),
    "gasoline": (43070, 18.9, 1.0),
    "kerosene": (43070, 19.6, 1.0),
    "diesel": (42652, 20.2, 1.0),
    "fuel_oil": (41816, 21.1, 1.0),
    "natural_gas": (38931, 15.3, 1.0),
}
CONS = {"coal": 1000.0, "coke": 200.0, "gasoline": 50.0, "kerosene": 10.0, "diesel": 80.0,
        "fuel_oil": 30.0, "natural_gas": 12.5}  # 10^4 t, gas 10^8 m3


def _hand_co2_10kt(cons: dict[str, float]) -> float:
    """Independent evaluation of seed 001 eq. 9 in 10^4 t CO2."""
    total = 0.0
    for fuel, q in cons.items():
        ncv, cc, ox = HAND[fuel]
        qty = q * (1e8 if fuel == "natural_gas" else 1e7)  # m3 or kg
        gj = qty * ncv / 1e6
        kg_co2 = gj * cc * ox * 44 / 12
        total += kg_co2 / 1e3 / 1e4
    return total


def test_bundled_factors_match_sources():
    f = emission_factors()
    for fuel, (ncv, cc, ox) in HAND.items():
        assert f.loc[fuel, "ncv"] == ncv
        assert f.loc[fuel, "carbon_content"] == cc
        assert f.loc[fuel, "oxidation"] == ox
        assert f.loc[fuel, "ncv_source"] == "CESY"
        assert f.loc[fuel, "carbon_content_source"].startswith("IPCC2006")


def test_fossil_co2_hand_example():
    df = pd.DataFrame([CONS])
    got = fossil_co2(df)
    assert got.name == "co2"
    want = _hand_co2_10kt(CONS)
    assert math.isclose(got.iloc[0], want, rel_tol=1e-12)
    # coal alone, worked out fully: 1000 x 10^4 t x 20908 kJ/kg = 2.0908e8 GJ; x 25.8 kg C/GJ
    # x 44/12 = 1.977899e10 kg CO2 = 1977.8968 x 10^4 t
    coal = fossil_co2(df, {"coal": "coal"}).iloc[0]
    assert abs(coal - 1000 * 1e7 * 20908 / 1e6 * 25.8 * 44 / 12 / 1e7) < 1e-9
    det = fossil_co2(df, detail=True)
    assert abs(det.drop(columns="co2").sum(axis=1).iloc[0] - want) < 1e-9


def test_fossil_co2_units_consistent():
    df = pd.DataFrame([CONS])
    base = fossil_co2(df).iloc[0]
    tonnes = pd.DataFrame([{k: (v * 1e4 if k != "natural_gas" else v * 1e4) for k, v in CONS.items()}])
    # solids/liquids in t, gas in 10^4 m3 (10^8 m3 x 1e4), output in t
    in_t = fossil_co2(tonnes, units="t", gas_units="10^4 m3", output_units="t").iloc[0]
    assert math.isclose(in_t, base * 1e4, rel_tol=1e-12)
    # per-fuel unit dict
    mixed = df.assign(coal=df["coal"] * 1e4)
    assert math.isclose(fossil_co2(mixed, units={"coal": "t"}).iloc[0], base, rel_tol=1e-12)
    # standard coal equivalent: energy = tce x 29307.6 kJ/kg
    tce = pd.DataFrame({"coal": [1.0]})
    got = fossil_co2(tce, {"coal": "coal"}, units="tce", output_units="t").iloc[0]
    assert math.isclose(got, 1e3 * 29307.6 / 1e6 * 25.8 * 44 / 12 / 1e3, rel_tol=1e-12)


def test_fossil_co2_override_changes_only_that_fuel():
    df = pd.DataFrame([CONS])
    a = fossil_co2(df, detail=True)
    b = fossil_co2(df, detail=True, factors={"coal": {"carbon_content": 26.37, "oxidation": 0.94}})
    assert math.isclose(b["co2_coal"].iloc[0], a["co2_coal"].iloc[0] * 26.37 * 0.94 / 25.8, rel_tol=1e-12)
    others = [c for c in a.columns if c not in ("co2_coal", "co2")]
    pd.testing.assert_frame_equal(a[others], b[others])
    assert emission_factors().loc["coal", "carbon_content"] == 25.8  # bundled table untouched
    # a new fuel needs every factor
    with pytest.raises(PanelError, match="basis"):
        fossil_co2(df.assign(x=1.0), {"x": "x"}, factors={"x": {"ncv": 1.0}})
    new = fossil_co2(df.assign(x=2.0), {"x": "x"}, units="t", output_units="t",
                     factors={"x": {"ncv": 1e4, "carbon_content": 20, "oxidation": 1, "basis": "mass"}})
    assert math.isclose(new.iloc[0], 2e3 * 1e4 / 1e6 * 20 * 44 / 12 / 1e3, rel_tol=1e-12)


def test_fossil_co2_errors():
    df = pd.DataFrame([CONS]).drop(columns="coke")
    with pytest.raises(PanelError, match="coke"):
        fossil_co2(df)
    with pytest.raises(PanelError, match="unknown fuel 'cole'"):
        fossil_co2(df, {"cole": "coal"})
    with pytest.raises(PanelError, match="negative"):
        fossil_co2(pd.DataFrame({"coal": [-1.0]}), {"coal": "coal"})
    with pytest.raises(PanelError, match="not a mass unit"):
        fossil_co2(pd.DataFrame({"coal": [1.0]}), {"coal": "coal"}, units={"coal": "m3"})
    nan = fossil_co2(pd.DataFrame({"coal": [1.0, np.nan]}), {"coal": "coal"})
    assert np.isnan(nan.iloc[1]) and nan.iloc[0] > 0


def test_city_co2():
    df = pd.DataFrame({"elec": [100.0, 50.0], "grid": ["North", "East"], "gas": [10.0, 0.0],
                       "lpg": [500.0, 100.0], "heat": [2.0, 0.0]})
    with pytest.raises(PanelError, match="grid_factors") as e:
        city_co2(df, electricity="elec", grid_region="grid", heat="heat")
    assert "heat_factor" in str(e.value)
    with pytest.raises(PanelError, match="East"):
        city_co2(df, electricity="elec", grid_region="grid", grid_factors={"North": 0.9})
    got = city_co2(df, electricity="elec", grid_region="grid", gas="gas", lpg="lpg", heat="heat",
                   grid_factors={"North": 0.9, "East": 0.7}, heat_factor=0.11, output_units="t")
    gas_t = 10 * 1e4 * 38931 / 1e6 * 15.3 * 44 / 12 / 1e3
    lpg_t = 500 * 1e3 * 50179 / 1e6 * 17.2 * 44 / 12 / 1e3
    want0 = 100 * 10 * 0.9 + gas_t + lpg_t + 2 * 1e4 * 0.11
    assert math.isclose(got.iloc[0], want0, rel_tol=1e-12)
    yearly = pd.DataFrame({"region": ["North", "East"], "year": [2015, 2015], "factor": [0.9, 0.7]})
    got2 = city_co2(df.assign(year=2015), electricity="elec", grid_region="grid",
                    grid_factors=yearly, year="year", output_units="t")
    assert np.allclose(got2.to_numpy(), [900.0, 350.0], rtol=1e-12)


def test_city_co2_transport_term_closed_form():
    """Transport term of seed 002's city CO2: sum_f fuel_f x factor_f, added to the other
    sources (closed form, 1e-12); a missing fuel value makes the total missing, not zero."""
    df = pd.DataFrame({"elec": [100.0, 50.0], "grid": ["North", "East"], "diesel": [3.0, 0.5],
                       "petrol": [2.0, np.nan]})
    tr = {"diesel": 3.096, "petrol": 2.925}  # t CO2 per unit of each column (made up)
    got = city_co2(df, electricity="elec", grid_region="grid", grid_factors={"North": 0.9,
                   "East": 0.7}, transport=tr, output_units="t", detail=True)
    want = 100 * 10 * 0.9 + 3 * 3.096 + 2 * 2.925
    assert math.isclose(got["co2"].iloc[0], want, rel_tol=1e-12)
    assert math.isclose(got["co2_transport"].iloc[0], 3 * 3.096 + 2 * 2.925, rel_tol=1e-12)
    assert np.isnan(got["co2"].iloc[1]) and got["co2_electricity"].iloc[1] == 350.0
    only = city_co2(df.iloc[:1], transport={"diesel": 3.096}, output_units="10^4 t")
    assert math.isclose(only.iloc[0], 3 * 3.096 / 1e4, rel_tol=1e-12)
    with pytest.raises(PanelError, match=r"transport factor of 'diesel' must be a number >= 0"):
        city_co2(df, transport={"diesel": -1.0})
    with pytest.raises(PanelError, match=r"column\(s\) not found: 'desel' \(did you mean 'diesel'"):
        city_co2(df, transport={"desel": 1.0})


# ---------------------------------------------------------------------------------- entropy
X = pd.DataFrame({"a": [1.0, 2.0, 4.0, 8.0], "b": [3.0, 1.0, 2.0, 2.0], "c": [10.0, 30.0, 20.0, 40.0]})


def _hand_entropy(x: np.ndarray, negative: set[int], shift: float):
    n, m = x.shape
    z = np.empty_like(x)
    for j in range(m):
        lo, hi = x[:, j].min(), x[:, j].max()
        for i in range(n):
            z[i, j] = (hi - x[i, j]) / (hi - lo) if j in negative else (x[i, j] - lo) / (hi - lo)
    d = []
    for j in range(m):
        col = [z[i, j] + shift for i in range(n)]
        s = sum(col)
        e = -sum((v / s) * math.log(v / s) for v in col) / math.log(n)
        d.append(1 - e)
    w = [dj / sum(d) for dj in d]
    idx = [sum(w[j] * z[i, j] for j in range(m)) for i in range(n)]
    return np.array(w), np.array(idx)


def test_entropy_hand_4x3():
    idx, w = entropy_index(X, ["a", "b", "c"])
    hw, hidx = _hand_entropy(X.to_numpy(), set(), 0.0001)
    assert np.allclose(w["weight"].to_numpy(), hw, rtol=0, atol=1e-12)
    assert np.allclose(idx.to_numpy(), hidx, rtol=0, atol=1e-12)
    assert abs(w["weight"].sum() - 1) < 1e-12
    # shifted scoring adds exactly `shift` (weights sum to 1)
    idx_s, _ = entropy_index(X, ["a", "b", "c"], score="shifted")
    assert np.allclose(idx_s.to_numpy(), hidx + 0.0001, rtol=0, atol=1e-12)


def test_entropy_negative_direction():
    idx, w = entropy_index(X, ["a", "c"], negative=["b"])
    hw, hidx = _hand_entropy(X[["a", "c", "b"]].to_numpy(), {2}, 0.0001)
    assert np.allclose(w["weight"].to_numpy(), hw, atol=1e-12)
    assert np.allclose(idx.to_numpy(), hidx, atol=1e-12)
    assert list(w["direction"]) == ["positive", "positive", "negative"]
    # a single negative indicator ranks in reverse order of its values
    one, _ = entropy_index(X, [], negative=["a"])
    assert np.allclose(one.to_numpy(), [1.0, 6 / 7, 4 / 7, 0.0], rtol=0, atol=1e-15)


def test_entropy_by_year_differs_from_pooled():
    y1 = X.assign(year=2010)
    y2 = X.assign(year=2011, a=[5.0, 5.5, 6.0, 30.0], b=[1.0, 9.0, 2.0, 2.5])
    both = pd.concat([y1, y2], ignore_index=True)
    idx_by, w_by = entropy_index(both, ["a", "b", "c"], by="year")
    idx_pool, w_pool = entropy_index(both, ["a", "b", "c"])
    w10 = w_by.loc[w_by["year"] == 2010, "weight"].to_numpy()
    w11 = w_by.loc[w_by["year"] == 2011, "weight"].to_numpy()
    hw10, hidx10 = _hand_entropy(y1[["a", "b", "c"]].to_numpy(), set(), 0.0001)
    hw11, _ = _hand_entropy(y2[["a", "b", "c"]].to_numpy(), set(), 0.0001)
    assert np.allclose(w10, hw10, atol=1e-12) and np.allclose(w11, hw11, atol=1e-12)
    assert not np.allclose(w10, w11, atol=1e-3)
    assert not np.allclose(w_pool["weight"].to_numpy(), w10, atol=1e-3)
    assert np.allclose(idx_by.iloc[:4].to_numpy(), hidx10, atol=1e-12)
    assert not np.allclose(idx_by.to_numpy(), idx_pool.to_numpy(), atol=1e-3)


def test_entropy_errors():
    with pytest.raises(PanelError, match="'b'.*constant.*year 2011"):
        entropy_index(pd.concat([X.assign(year=2010), X.assign(year=2011, b=1.0)]), ["a", "b"], by="year")
    with pytest.raises(PanelError, match="'c'.*constant"):
        entropy_index(X.assign(c=5.0), ["a", "c"])
    with pytest.raises(PanelError, match="missing"):
        entropy_index(X.assign(a=[1.0, np.nan, 2.0, 3.0]), ["a", "b"])


# ---------------------------------------------------------------------------------- LQ
def test_location_quotient_hand():
    emp = {("A", "m"): 30.0, ("A", "s"): 70.0, ("B", "m"): 50.0, ("B", "s"): 50.0,
           ("C", "m"): 10.0, ("C", "s"): 190.0}
    df = pd.DataFrame([{"city": r, "ind": j, "emp": v} for (r, j), v in emp.items()])
    lq = location_quotient(df, "city", "ind", "emp")
    total = sum(emp.values())
    for (r, j), v in emp.items():
        s_i = sum(val for (rr, _), val in emp.items() if rr == r)
        s_j = sum(val for (_, jj), val in emp.items() if jj == j)
        want = (v / s_i) / (s_j / total)
        got = lq.loc[(lq["city"] == r) & (lq["ind"] == j), "lq"].item()
        assert abs(got - want) < 1e-12
    # per period: a second year with different shares is referenced to its own totals
    df2 = pd.concat([df.assign(year=2010), df.assign(year=2011, emp=df["emp"] * [1, 1, 1, 1, 4, 1])])
    lq2 = location_quotient(df2, "city", "ind", "emp", time="year", industries=["m"])
    assert set(lq2["ind"]) == {"m"}
    a10 = lq2.loc[(lq2.city == "A") & (lq2.year == 2010), "lq"].item()
    assert abs(a10 - lq.loc[(lq.city == "A") & (lq.ind == "m"), "lq"].item()) < 1e-12
    a11 = lq2.loc[(lq2.city == "A") & (lq2.year == 2011), "lq"].item()
    assert abs(a11 - (30 / 100) / (120 / 430)) < 1e-12  # C's m employment x4 in 2011
    with pytest.raises(PanelError, match="more than once"):
        location_quotient(df2, "city", "ind", "emp")


def test_producer_service_tiers():
    df = pd.DataFrame({
        "city": ["A", "B", "C"], "year": 2015,
        "info": [10.0, 2.0, 1.0], "fin": [5.0, 3.0, 1.0], "trans": [4.0, 6.0, 2.0],
        "trade": [6.0, 9.0, 3.0], "total": [100.0, 120.0, 80.0],
    })
    tiers = {"high": ["info", "fin"], "low_mid": ["trans", "trade"]}
    out = producer_service_agglomeration(df, tiers, "total", time="year")
    tot = df["total"].sum()
    for k, cols in (("spec_high", tiers["high"]), ("spec_low_mid", tiers["low_mid"]),
                    ("spec", tiers["high"] + tiers["low_mid"])):
        s = df[cols].sum(axis=1)
        # seed 002 eq. 6: (city share of the N cities' service employment) / (share of total)
        want = (s / s.sum()) / (df["total"] / tot)
        assert np.allclose(out[k].to_numpy(), want.to_numpy(), rtol=0, atol=1e-12)
    # equals the LQ of the aggregated high-end group
    long = pd.DataFrame({"city": df.city.repeat(2).to_numpy(), "ind": ["high", "rest"] * 3})
    hi = df[["info", "fin"]].sum(axis=1).to_numpy()
    long["emp"] = np.column_stack([hi, df["total"].to_numpy() - hi]).ravel()
    lq = location_quotient(long, "city", "ind", "emp", industries=["high"])
    assert np.allclose(lq["lq"].to_numpy(), out["spec_high"].to_numpy(), atol=1e-12)
    with pytest.raises(PanelError, match="'info' is in tiers"):
        producer_service_agglomeration(df, {"high": ["info"], "low_mid": ["info"]}, "total")


# ---------------------------------------------------------------------------------- downscale
def _prov_city():
    prov = pd.DataFrame({"province": ["P", "P", "Q"], "year": [2015, 2016, 2015],
                         "cable": [100.0, 0.1 + 0.2, 7.0], "bb": [10.0, 20.0, 30.0]})
    cities = pd.DataFrame({"city": ["p1", "p2", "p3", "p1", "p2", "p3", "q1", "q2"],
                           "province": ["P"] * 6 + ["Q"] * 2,
                           "year": [2015] * 3 + [2016] * 3 + [2015] * 2,
                           "rev": [1.0, 3.0, 6.0, 1 / 3, 1 / 7, 1 / 11, 2.0, 0.0]})
    return prov, cities


def test_downscale_sums_and_proportional():
    prov, cities = _prov_city()
    out = downscale(prov, cities, "rev", value=["cable", "bb"])
    assert list(out["city"]) == list(cities["city"])
    sums = out.groupby(["province", "year"])[["cable", "bb"]].sum()
    want = prov.set_index(["province", "year"])[["cable", "bb"]]
    assert np.allclose(sums.to_numpy(), want.loc[sums.index].to_numpy(), rtol=1e-12, atol=0)
    assert np.allclose(out["cable"].iloc[:3].to_numpy(), [10.0, 30.0, 60.0], rtol=1e-12)
    r = out.iloc[3:6]
    assert np.allclose((r["cable"] / r["rev"]).to_numpy(), (r["cable"] / r["rev"]).iloc[0], rtol=1e-12)
    assert out["cable"].iloc[7] == 0.0 and out["cable"].iloc[6] == 7.0
    assert np.allclose(out.groupby(["province", "year"])["rev_share"].sum().to_numpy(), 1.0, atol=1e-12)


def test_downscale_errors_name_province_year():
    prov, cities = _prov_city()
    bad = cities.copy()
    bad.loc[bad.province == "Q", "rev"] = 0.0
    with pytest.raises(PanelError, match="zero in province 'Q', year 2015"):
        downscale(prov, bad, "rev", value="cable")
    bad.loc[0, "rev"] = np.nan
    with pytest.raises(PanelError, match="missing for province 'P', year 2015"):
        downscale(prov, bad, "rev", value="cable")
    extra = pd.concat([cities, pd.DataFrame({"city": ["r1"], "province": ["R"], "year": [2016], "rev": [1.0]})])
    with pytest.raises(PanelError, match="no provincial total.*province 'R', year 2016"):
        downscale(prov, extra, "rev", value="cable")


# ---------------------------------------------------------------------------------- gapfill
def _co2_panel():
    years = list(range(2010, 2023))
    rng = np.random.default_rng(3)
    rows = []
    for unit, (a, b) in {"A": (100.0, 2.0), "B": (50.0, -1.0)}.items():
        for t in years:
            y = a + b * (t - 2010) + rng.normal(0, 0.5)
            rows.append({"city": unit, "year": t, "co2": y if t <= 2019 else np.nan, "gdp": float(t)})
    df = pd.DataFrame(rows)
    df.loc[(df.city == "B") & (df.year == 2022), "co2"] = 42.0  # an observed value after 2019
    return Panel(df, "city", "year").interpolate("gdp")


def test_fill_trailing_linear_matches_polyfit():
    p = _co2_panel()
    out = fill_trailing(p, "co2", method="linear_trend", last_observed=2019)
    for unit in ("A", "B"):
        d = p.df[p.df.city == unit]
        h = d[d.year <= 2019]
        coef = np.polyfit(h.year.to_numpy(float), h.co2.to_numpy(), 1)
        got = out.df[out.df.city == unit].set_index("year")["co2"]
        for t in (2020, 2021):
            assert abs(got[t] - np.polyval(coef, t)) < 1e-10
    # existing values never changed, including B's 2022
    old = p.df["co2"]
    keep = old.notna()
    assert (out.df.loc[keep, "co2"] == old[keep]).all()
    assert out.df.set_index(["city", "year"]).loc[("B", 2022), "co2"] == 42.0
    cells = out.imputed_cells()
    cells = cells[cells.column == "co2"]
    assert sorted(zip(cells.city, cells.year, strict=True)) == [("A", 2020), ("A", 2021), ("A", 2022),
                                                                   ("B", 2020), ("B", 2021)]
    assert set(cells.method) == {"linear_trend"}
    assert not out.df["co2"].isna().any()
    # the panel passed in is untouched
    assert p.df["co2"].isna().sum() == 5 and "co2" not in p.imputed.columns


def test_fill_trailing_fit_years_until_and_other_methods():
    p = _co2_panel()
    out = fill_trailing(p, "co2", last_observed=2019, fit_years=4, until=2024)
    a = out.df[out.df.city == "A"].set_index("year")["co2"]
    h = p.df[(p.df.city == "A") & p.df.year.between(2016, 2019)]
    coef = np.polyfit(h.year.to_numpy(float), h.co2.to_numpy(), 1)
    assert abs(a[2024] - np.polyval(coef, 2024)) < 1e-10
    assert len(out) == len(p) + 4
    assert out.imputed_cells().query("column == 'co2'").shape[0] == 9
    # earlier imputations (gdp interpolation record) are kept alongside
    ar = fill_trailing(p, "co2", method="ar1", last_observed=2019)
    h = p.df[(p.df.city == "A") & (p.df.year <= 2019)]["co2"].to_numpy()
    X = np.column_stack([np.ones(len(h) - 1), h[:-1]])
    c, phi = np.linalg.lstsq(X, h[1:], rcond=None)[0]
    f1 = c + phi * h[-1]
    assert abs(ar.df.set_index(["city", "year"]).loc[("A", 2021), "co2"] - (c + phi * f1)) < 1e-10
    assert set(ar.imputed_cells().query("column == 'co2'").method) == {"ar1"}
    ho = fill_trailing(p, "co2", method="holt", last_observed=2019)
    v = ho.df.set_index(["city", "year"]).loc[("A", 2020), "co2"]
    assert 110 < v < 130  # trend of about +2 a year from ~118 in 2019


def test_fill_trailing_short_history():
    df = pd.DataFrame({"city": ["A"] * 5 + ["S"] * 5, "year": list(range(2017, 2022)) * 2,
                       "co2": [1.0, 2.0, 3.0, np.nan, np.nan, 5.0, np.nan, np.nan, np.nan, np.nan]})
    p = Panel(df, "city", "year")
    with pytest.raises(PanelError, match="'?S'? \\(1 observed"):
        fill_trailing(p, "co2")
    with pytest.warns(UserWarning, match="S \\(1 observed"):
        out = fill_trailing(p, "co2", on_short="warn")
    s = out.df[out.df.city == "S"]["co2"]
    assert s.isna().sum() == 4
    assert np.allclose(out.df[out.df.city == "A"]["co2"].to_numpy(), [1, 2, 3, 4, 5], atol=1e-12)
    with pytest.raises(PanelError, match="unknown method"):
        fill_trailing(p, "co2", method="arima")


# ------------------------------------------------------------- digital economy by core sector
def test_digital_economy_step_exports_core_sector_value_added(tmp_path):
    """``columns`` of [[prepare.digital_economy]] exports each core sector's value added (seed
    001's digital manufacturing = Electronics, digital services = ICT services) next to
    industrial digitalisation. Closed forms on the bundled example table (value added
    Electronics 25, ICT services 30, all sectors 497) scaled by ``s`` per province and year:
    table years give ``25 s`` and ``30 s``; a year between tables (method "previous", parent =
    gdp) gives ``VA_k / 497 x gdp(t)``. Tolerance 1e-12 relative."""
    from climetrics.measure.io_digital import EXAMPLE_IO_TABLE, read_io_table
    from climetrics.study.config import load_config
    from climetrics.study.runner import Study

    base = read_io_table(EXAMPLE_IO_TABLE)
    (tmp_path / "io").mkdir()
    scale = {("A", 2012): 1.0, ("A", 2017): 1.5, ("B", 2012): 2.0, ("B", 2017): 2.5}
    for (p, y), s in scale.items():
        (base * s).to_csv(tmp_path / "io" / f"{p}_{y}.csv", index_label="sector")
    gdp14 = {"A": 600.0, "B": 1100.0}
    pd.DataFrame(
        [("A", 2014, gdp14["A"]), ("B", 2014, gdp14["B"])], columns=["province", "year", "gdp"]
    ).to_csv(tmp_path / "annual.csv", index=False)
    rows = [(p, y) for p in "AB" for y in (2012, 2014, 2017)]
    df = pd.DataFrame(rows, columns=["province", "year"])
    df = df.assign(did=[0, 0, 1, 0, 0, 0], y=[1.0, 2.0, 0.5, 3.0, 1.5, 2.5])
    df.to_csv(tmp_path / "prov.csv", index=False)
    (tmp_path / "study.toml").write_text(
        '[data]\npath = "prov.csv"\nunit = "province"\ntime = "year"\n\n'
        '[variables]\noutcome = "y"\ntreatment = "did"\n\n'
        "[[prepare.digital_economy]]\n"
        'tables = "io/{province}_{year}.csv"\ncore_sectors = ["Electronics", "ICT services"]\n'
        'annual = "annual.csv"\n'
        'columns = {Electronics = "dig_manuf", "ICT services" = "dig_serv", '
        'industrial_digitalisation = "ind_dig", digital_industrialisation = "di"}\n'
    )
    got = Study(load_config(tmp_path / "study.toml")).load_panel().df.set_index(
        ["province", "year"]
    )
    for (p, y), s in scale.items():
        assert got.at[(p, y), "dig_manuf"] == pytest.approx(25 * s, rel=1e-12)
        assert got.at[(p, y), "dig_serv"] == pytest.approx(30 * s, rel=1e-12)
    for p, g in gdp14.items():
        assert got.at[(p, 2014), "dig_manuf"] == pytest.approx(25 / 497 * g, rel=1e-12)
        assert got.at[(p, 2014), "dig_serv"] == pytest.approx(30 / 497 * g, rel=1e-12)
    np.testing.assert_allclose(got["dig_manuf"] + got["dig_serv"], got["di"], rtol=1e-12)
    assert (got["ind_dig"] > 0).all()


def test_digital_economy_columns_unknown_sector_is_named():
    from climetrics.errors import ConfigError
    from climetrics.study.config import parse_config

    cfg = {
        "data": {"simulate": {}},
        "variables": {"outcome": "y", "treatment": "did"},
        "prepare": {
            "digital_economy": [
                {
                    "tables": "io/{province}_{year}.csv",
                    "core_sectors": ["Electronics", "ICT services"],
                    "columns": {"Electronic": "dm"},
                }
            ]
        },
    }
    with pytest.raises(
        ConfigError,
        match=r"'prepare.digital_economy\[0\].columns.Electronic': unknown measure \(did you "
        r"mean 'Electronics'\?\).*a core sector gives that sector's value added",
    ):
        parse_config(cfg)


def test_city_co2_step_with_transport_term(tmp_path):
    """[[prepare.city_co2]] with ``transport`` equals the direct call and the closed form
    gas-free sum ``elec x 10 x grid + sum_f fuel_f x factor_f`` (t CO2, 1e-12); config checks
    name the key."""
    from climetrics.errors import ConfigError
    from climetrics.study.config import load_config
    from climetrics.study.runner import Study

    rng = np.random.default_rng(2)
    rows = [(f"c{i}", y) for i in range(4) for y in (2010, 2011, 2012)]
    df = pd.DataFrame(rows, columns=["city", "year"])
    df["grid"] = np.where(df["city"] < "c2", "North", "East")
    for c in ("elec", "diesel", "petrol"):
        df[c] = rng.uniform(1, 10, len(df))
    df["did"] = (df["city"] == "c0") & (df["year"] == 2012)
    df["y"] = rng.normal(size=len(df))
    df.to_csv(tmp_path / "c.csv", index=False)
    head = ('[data]\npath = "c.csv"\nunit = "city"\ntime = "year"\n\n'
            '[variables]\noutcome = "y"\ntreatment = "did"\n\n[[prepare.city_co2]]\n')
    step = ('column = "co2"\nelectricity = "elec"\ngrid_region = "grid"\n'
            'grid_factors = {North = 0.9, East = 0.7}\noutput_units = "t"\n'
            'transport = {diesel = 3.1, petrol = 2.9}\n')
    (tmp_path / "s.toml").write_text(head + step)
    got = Study(load_config(tmp_path / "s.toml")).load_panel().df
    grid = got["grid"].map({"North": 0.9, "East": 0.7})
    want = got["elec"] * 10 * grid + got["diesel"] * 3.1 + got["petrol"] * 2.9
    np.testing.assert_allclose(got["co2"], want, rtol=1e-12)
    direct = city_co2(got, "elec", "grid", grid_factors={"North": 0.9, "East": 0.7},
                      transport={"diesel": 3.1, "petrol": 2.9}, output_units="t")
    np.testing.assert_allclose(got["co2"], direct, rtol=1e-12)

    (tmp_path / "s.toml").write_text(head + step.replace("petrol = 2.9", "petrol = -2.9"))
    with pytest.raises(ConfigError, match=r"'prepare.city_co2\[0\].transport.petrol' must be a "
                       r"number >= 0, got -2.9"):
        load_config(tmp_path / "s.toml")
    (tmp_path / "s.toml").write_text(head + step.replace("petrol = 2.9", "petroll = 2.9"))
    with pytest.raises(ConfigError, match=r"'prepare.city_co2\[0\].transport.petroll': column "
                       r"'petroll' is not in the data"):
        Study(load_config(tmp_path / "s.toml")).load_panel()

"""Panel: validation messages name the culprit; utilities equal hand computation."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import climetrics as cm
from climetrics.errors import PanelError


def small() -> pd.DataFrame:
    return pd.DataFrame({
        "city": ["A", "A", "A", "A", "B", "B", "B", "B", "C", "C", "C", "C"],
        "year": [2010, 2011, 2012, 2013] * 3,
        "prov": ["P"] * 8 + ["Q"] * 4,
        "y": [1.0, 2.0, 3.0, 4.0, 2.0, np.nan, 6.0, 8.0, 5.0, 5.5, 6.0, 6.5],
        "x": [1.0, np.nan, np.nan, 4.0, 10.0, 11.0, 12.0, np.nan, 3.0, 3.0, 3.0, 3.0],
    })


# ---------------------------------------------------------------- validation
def test_duplicate_pair_names_unit_and_year():
    df = small()
    df.loc[5, "year"] = 2010
    with pytest.raises(PanelError, match=r"city 'B' appears 2 times in year 2010 \(rows \[4, 5\]\)"):
        cm.Panel(df, "city", "year")


def test_missing_unit_or_time_keys():
    df = small()
    df.loc[3, "city"] = None
    with pytest.raises(PanelError, match=r"1 rows have no unit value in column 'city' \(rows \[3\]\)"):
        cm.Panel(df, "city", "year")
    df = small()
    df["year"] = df["year"].astype(float)
    df.loc[7, "year"] = np.nan
    with pytest.raises(PanelError, match=r"no time value in column 'year' \(rows \[7\]\)"):
        cm.Panel(df, "city", "year")


@pytest.mark.parametrize("bad", [2010.5, "twenty"])
def test_non_integer_time(bad):
    df = small().astype({"year": object})
    df.loc[2, "year"] = bad
    with pytest.raises(PanelError, match=f"time column 'year' must hold integer periods.*row 2 has {bad!r}"):
        cm.Panel(df, "city", "year")


def test_time_as_whole_floats_or_digit_strings_is_accepted():
    df = small()
    df["year"] = df["year"].astype(str)
    p = cm.Panel(df, "city", "year")
    assert p.df["year"].dtype == np.int64 and list(p.periods) == [2010, 2011, 2012, 2013]


def test_missing_key_column_suggests_name():
    with pytest.raises(PanelError, match=r"unit column 'cty' not found \(did you mean 'city'\?\)"):
        cm.Panel(small(), "cty", "year")


def test_empty_panel():
    with pytest.raises(PanelError, match="empty"):
        cm.Panel(small().iloc[:0], "city", "year")


def test_non_numeric_analysis_column_names_cell():
    df = small().astype({"x": object})
    df.loc[6, "x"] = "n/a"
    p = cm.Panel(df, "city", "year")
    with pytest.raises(PanelError, match=r"column 'x' must be numeric \(needed by twfe\), but city 'B' in 2012 has 'n/a'"):
        p.require(["x"], context="twfe")
    with pytest.raises(PanelError, match=r"'yy'.*did you mean 'y'"):
        p.require(["yy"])


def test_input_frame_is_not_modified():
    df = small()
    before = df.copy()
    p = cm.Panel(df, "city", "year").interpolate("y").winsorize("x", 0.1, 0.9).log("y")
    pd.testing.assert_frame_equal(df, before)
    assert "lny" in p.columns and "lny" not in df.columns


# ---------------------------------------------------------------- loaders
@pytest.mark.parametrize("ext", ["csv", "xlsx", "dta", "parquet"])
def test_from_file_round_trip(tmp_path, ext):
    df = small().drop(columns="prov")
    path = tmp_path / f"panel.{ext}"
    {"csv": lambda: df.to_csv(path, index=False), "xlsx": lambda: df.to_excel(path, index=False),
     "dta": lambda: df.to_stata(path, write_index=False), "parquet": lambda: df.to_parquet(path)}[ext]()
    p = cm.Panel.from_file(path, unit="city", time="year")
    assert len(p) == 12
    np.testing.assert_allclose(p.df["y"].to_numpy(), df["y"].to_numpy())


@pytest.mark.parametrize("ext", ["csv", "xlsx", "dta", "parquet"])
def test_from_file_reads_only_requested_columns(tmp_path, ext):
    """``columns`` prunes the read (unit and time always kept, order as given, duplicates
    dropped); an absent column is named with a suggestion."""
    df = small().drop(columns="prov")
    path = tmp_path / f"panel.{ext}"
    {"csv": lambda: df.to_csv(path, index=False), "xlsx": lambda: df.to_excel(path, index=False),
     "dta": lambda: df.to_stata(path, write_index=False), "parquet": lambda: df.to_parquet(path)}[ext]()
    p = cm.Panel.from_file(path, unit="city", time="year", columns=["y", "city"])
    assert sorted(p.columns) == ["city", "y", "year"]
    np.testing.assert_allclose(p.df["y"].to_numpy(), df["y"].to_numpy())
    with pytest.raises(PanelError, match=r"column\(s\) not in panel.*'yy' \(did you mean 'y'\?\)"):
        cm.Panel.from_file(path, unit="city", time="year", columns=["yy"])


def test_parquet_column_selection_skips_other_columns_on_disk(tmp_path):
    """A wide parquet file: only the requested column chunks are decoded, so the frame holds
    just those columns and memory follows the selection, not the file width."""
    n = 20_000
    rng = np.random.default_rng(0)
    wide = pd.DataFrame({"firm": np.repeat(np.arange(n // 10), 10), "year": np.tile(np.arange(2000, 2010), n // 10)})
    for j in range(40):
        wide[f"v{j}"] = rng.normal(size=n)
    wide.to_parquet(tmp_path / "wide.parquet")
    p = cm.Panel.from_file(tmp_path / "wide.parquet", "firm", "year", columns=["v3", "v7"])
    assert p.columns == ["firm", "year", "v3", "v7"]
    np.testing.assert_array_equal(
        p.df.sort_values(["firm", "year"])["v7"].to_numpy(),
        wide.sort_values(["firm", "year"])["v7"].to_numpy(),
    )
    assert p.df.memory_usage(deep=True).sum() < wide.memory_usage(deep=True).sum() / 8


def test_from_file_unknown_type_and_missing(tmp_path):
    with pytest.raises(PanelError, match="unknown file type '.json'"):
        cm.Panel.from_file(tmp_path / "a.json", "city", "year")
    with pytest.raises(PanelError, match="not found"):
        cm.Panel.from_file(tmp_path / "a.csv", "city", "year")


def test_from_polars_like_object():
    class FakePolars:
        def to_pandas(self):
            return small()

    assert len(cm.Panel.from_frame(FakePolars(), "city", "year")) == 12


# ---------------------------------------------------------------- utilities
def test_balance_report():
    df = small().drop(index=[6, 7])
    b = cm.Panel(df, "city", "year").balance()
    assert not b.balanced and b.n_units == 3 and b.n_periods == 4 and b.n_obs == 10
    assert sorted(map(tuple, b.missing.to_numpy().tolist())) == [("B", 2012), ("B", 2013)]
    assert "2 unit-period pairs absent" in b.summary() and "B (2)" in b.summary()
    assert cm.Panel(small(), "city", "year").balance().balanced


def test_linear_interpolation_within_unit_is_flagged():
    p = cm.Panel(small(), "city", "year").interpolate(["x", "y"])
    x = p.df.set_index(["city", "year"])["x"]
    assert x[("A", 2011)] == pytest.approx(2.0) and x[("A", 2012)] == pytest.approx(3.0)
    assert np.isnan(x[("B", 2013)])  # trailing gap: no extrapolation by default
    assert p.df.set_index(["city", "year"]).loc[("B", 2011), "y"] == pytest.approx(4.0)
    cells = p.imputed_cells()
    assert sorted(map(tuple, cells[["city", "year", "column"]].to_numpy().tolist())) == [
        ("A", 2011, "x"), ("A", 2012, "x"), ("B", 2011, "y")]
    assert set(cells["method"]) == {"linear"}
    q = cm.Panel(small(), "city", "year").interpolate("x", extrapolate=True)
    assert q.df.set_index(["city", "year"]).loc[("B", 2013), "x"] == pytest.approx(12.0)


def test_group_year_mean_interpolation():
    p = cm.Panel(small(), "city", "year").interpolate("x", method="group_mean", by="prov")
    x = p.df.set_index(["city", "year"])["x"]
    # A 2011 is missing: other province-P unit in 2011 is B with 11.0
    assert x[("A", 2011)] == pytest.approx(11.0)
    # B 2013 missing: A has 4.0 in 2013
    assert x[("B", 2013)] == pytest.approx(4.0)
    assert set(p.imputed_cells()["method"]) == {"group_mean(prov)"}
    with pytest.raises(PanelError, match="needs by="):
        cm.Panel(small(), "city", "year").interpolate("x", method="group_mean")


def test_winsorize_and_trim_match_quantiles():
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"u": np.repeat(np.arange(50), 4), "t": np.tile(np.arange(4), 50), "v": rng.normal(size=200)})
    p = cm.Panel(df, "u", "t")
    lo, hi = np.quantile(df["v"], [0.05, 0.95])
    w = p.winsorize("v", 0.05, 0.95).df["v"]
    np.testing.assert_allclose(w.min(), lo) and np.testing.assert_allclose(w.max(), hi)
    tr = p.trim("v", 0.05, 0.95)
    assert len(tr) == int(((df["v"] >= lo) & (df["v"] <= hi)).sum()) == 180
    assert "trim(v, 0.05, 0.95)" in tr.history
    with pytest.raises(PanelError, match="0 <= lower < upper <= 1"):
        p.winsorize("v", 0.9, 0.1)


def test_log_rejects_non_positive_with_cell():
    df = small()
    df.loc[9, "y"] = 0.0
    with pytest.raises(PanelError, match=r"city 'C' in 2011 has 0.0"):
        cm.Panel(df, "city", "year").log("y")
    p = cm.Panel(df, "city", "year").log("y", shift=1.0)
    assert p.df["lny"].iloc[9] == pytest.approx(0.0)


def test_lag_and_lead_respect_calendar_gaps():
    df = small().drop(index=[5])  # B has no 2011
    p = cm.Panel(df, "city", "year").lag("y").lead("y", 2)
    b = p.df[p.df["city"] == "B"].set_index("year")
    assert np.isnan(b.loc[2012, "L_y"])  # previous *year* absent, not previous row
    assert b.loc[2013, "L_y"] == 6.0 and b.loc[2010, "F2_y"] == 6.0


def test_describe_equals_numpy():
    t = cm.Panel(small(), "city", "year").describe(["y", "x"])
    y = small()["y"].dropna()
    row = t.rows[0]
    assert row[:2] == ["y", "11"]
    assert float(row[2]) == pytest.approx(y.mean(), abs=5e-4)
    assert float(row[3]) == pytest.approx(y.std(ddof=1), abs=5e-4)
    assert [float(row[4]), float(row[5])] == [y.min(), y.max()]


def test_correlate_matches_scipy_with_stars():
    rng = np.random.default_rng(0)
    n = 60
    a = rng.normal(size=n)
    df = pd.DataFrame({"u": np.arange(n), "t": 2000, "a": a, "b": a + rng.normal(size=n), "c": rng.normal(size=n)})
    t = cm.Panel(df, "u", "t").correlate(["a", "b", "c"])
    r, p = stats.pearsonr(df["a"], df["b"])
    assert t.rows[1][1] == f"{r:.3f}" + "*" * sum(p < lv for lv in (0.1, 0.05, 0.01))
    assert t.rows[0][2] == "" and t.rows[1][2] == "1"
    from climetrics.report.tables import correlation_matrix

    _, pm = correlation_matrix(df, ["a", "c"])
    assert pm.iloc[0, 1] == pytest.approx(stats.pearsonr(df["a"], df["c"])[1], rel=1e-10)


def test_linear_interpolation_equals_numpy_interp_per_unit():
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"u": np.repeat(np.arange(40), 12), "t": np.tile(np.arange(2000, 2012), 40)})
    df = df.sample(frac=0.9, random_state=1)  # unbalanced: gaps in time too
    df["v"] = rng.normal(size=len(df))
    df.loc[rng.random(len(df)) < 0.3, "v"] = np.nan
    got = cm.Panel(df, "u", "t").interpolate("v").df
    for u, g in got.groupby("u"):
        src = df[df["u"] == u].sort_values("t")
        ok = src["v"].notna().to_numpy()
        if ok.sum() < 2:
            continue
        x, xo, yo = src["t"].to_numpy(float), src["t"].to_numpy(float)[ok], src["v"].to_numpy()[ok]
        inside = (x >= xo.min()) & (x <= xo.max())
        np.testing.assert_allclose(g["v"].to_numpy()[inside], np.interp(x[inside], xo, yo), rtol=1e-12)
        assert np.isnan(g["v"].to_numpy()[~inside & ~ok]).all()

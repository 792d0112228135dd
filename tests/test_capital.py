"""Perpetual-inventory capital stock and deflation (climetrics.measure.capital).

References: closed forms computed by hand in each test, and a plain Python loop of the
recursion K_t = K_{t-1}(1 - delta) + I_t / P_t written independently of the filter the module
uses. Tolerance 1e-12 relative (same arithmetic up to summation order).
"""

import numpy as np
import pandas as pd
import pytest

from climetrics.errors import PanelError
from climetrics.measure import capital_stock, deflate
from climetrics.panel import Panel

TOL = {"rtol": 1e-12, "atol": 0}


def _panel(inv, years=None, **cols):
    """One unit 'a' with the given investment series (years 2000, 2001, ... by default)."""
    years = list(range(2000, 2000 + len(inv))) if years is None else years
    return Panel(pd.DataFrame({"u": "a", "t": years, "inv": inv, **cols}), "u", "t")


def test_given_initial_stock_closed_form():
    # K0 = 40, I = 10 every year, delta = 0.1: K_t = 40 * 0.9^t + 10 * (1 - 0.9^t) / 0.1
    p = _panel([0.0] + [10.0] * 6)
    k = capital_stock(p, "inv", 0.1, initial=40.0)
    t = np.arange(7)
    np.testing.assert_allclose(k, 40 * 0.9**t + 100 * (1 - 0.9**t), **TOL)
    assert k.iloc[0] == 40.0 and k.name == "capital"
    # the stock of the first year replaces its investment: I_0 does not enter
    assert capital_stock(_panel([55.0] + [10.0] * 6), "inv", 0.1, initial=40.0).equals(k)


def test_hall_jones_start_closed_form():
    # real investment I_t = I_0 b^t growing at exactly g = 8% a year, a = 1 - delta:
    # K_0 = I_0 / (g + delta) and K_t = a^t K_0 + sum_{s=1..t} a^(t-s) I_0 b^s
    #                                  = I_0 (b^(t+1) - g a^t) / (g + delta)
    g, d = 0.08, 0.096
    t = np.arange(10)
    inv = 50 * (1 + g) ** t
    k = capital_stock(_panel(inv), "inv", d, growth_years=5)
    np.testing.assert_allclose(k, 50 * ((1 + g) ** (t + 1) - g * (1 - d) ** t) / (g + d), **TOL)
    assert k.iloc[0] == pytest.approx(50 / 0.176, rel=1e-12)


def test_hall_jones_growth_uses_the_first_n_years_only():
    inv = np.array([10.0, 11.0, 14.0, 12.0, 100.0, 3.0])
    g = (12.0 / 10.0) ** (1 / 3) - 1
    k = capital_stock(_panel(inv), "inv", 0.05, growth_years=3)
    assert k.iloc[0] == pytest.approx(10.0 / (g + 0.05), rel=1e-12)


def _brute_force(df, delta, base_year, initial):
    out = {}
    for u, g in df.groupby("u", sort=False):
        p_base = g.loc[g["t"] == base_year, "p"].iloc[0]
        k = None
        for i, row in g.iterrows():
            real = row["inv"] / (row["p"] / p_base)
            k = initial[u] if k is None else k * (1 - delta) + real
            out[i] = k
    return pd.Series(out).sort_index()


def test_deflated_panel_matches_a_brute_force_loop():
    rng = np.random.default_rng(7)
    rows = [(u, t) for u in ["x", "y", "z"] for t in range(1995, 2011)]
    df = pd.DataFrame(rows, columns=["u", "t"])
    df["inv"] = rng.uniform(5, 50, len(df))
    df["p"] = 100 * np.exp(np.cumsum(rng.uniform(0, 0.06, len(df))))
    df["k0"] = df["u"].map({"x": 300.0, "y": 80.0, "z": 1000.0})
    panel = Panel(df, "u", "t")
    k = capital_stock(panel, "inv", 0.096, deflator="p", base_year=2000, initial="k0")
    ref = _brute_force(panel.df, 0.096, 2000, {"x": 300.0, "y": 80.0, "z": 1000.0})
    np.testing.assert_allclose(k.to_numpy(), ref.to_numpy(), **TOL)


def test_deflate_rebases_each_unit_to_its_base_year():
    df = pd.DataFrame(
        {
            "u": ["a"] * 3 + ["b"] * 3,
            "t": [2000, 2001, 2002] * 2,
            "gdp": [100.0, 120.0, np.nan, 50.0, 60.0, 80.0],
            "p": [100.0, 110.0, 121.0, 200.0, 250.0, 400.0],
        }
    )
    out = deflate(Panel(df, "u", "t"), ["gdp"], "p", 2001).df
    # a: P / 110; b: P / 250
    expect = [100 / (100 / 110), 120.0, np.nan, 50 / (200 / 250), 60.0, 80 / (400 / 250)]
    np.testing.assert_allclose(out["gdp_real"], expect, **TOL)
    assert out["gdp"].equals(df["gdp"])  # the nominal column is kept


def test_missing_investment_is_named():
    with pytest.raises(PanelError, match=r"'inv' is missing at u 'a', t 2002"):
        capital_stock(_panel([1.0, 2.0, np.nan, 4.0]), "inv", 0.1, initial=5.0)
    with pytest.raises(
        PanelError, match=r"'inv' is missing for u 'a', t 2002 \(the year is absent between 2001"
    ):
        capital_stock(_panel([1.0, 2.0, 4.0], years=[2000, 2001, 2003]), "inv", 0.1, initial=5.0)


def test_negative_stock_is_named():
    with pytest.raises(PanelError, match=r"capital stock is negative .* at u 'a', t 2001"):
        capital_stock(_panel([0.0, -20.0, 5.0]), "inv", 0.1, initial=10.0)


def test_degenerate_growth_and_inputs_are_errors():
    with pytest.raises(PanelError, match=r"u 'a' has 3 year\(s\), too few .* first 5 years"):
        capital_stock(_panel([1.0, 2.0, 3.0]), "inv", 0.1)
    with pytest.raises(PanelError, match=r"g \+ delta <= 0"):
        capital_stock(_panel([10.0, 5.0, 2.0, 1.0]), "inv", 0.1, growth_years=3)
    with pytest.raises(PanelError, match=r"> 0 in its first year"):
        capital_stock(_panel([0.0, 5.0, 2.0, 1.0]), "inv", 0.1, growth_years=3)
    with pytest.raises(PanelError, match=r"delta must be a rate in \(0, 1\), got 9.6"):
        capital_stock(_panel([1.0, 2.0]), "inv", 9.6, initial=1.0)
    with pytest.raises(PanelError, match=r"initial capital stock 'k0' is missing at u 'a', t 2000"):
        capital_stock(_panel([1.0, 2.0], k0=[np.nan, 3.0]), "inv", 0.1, initial="k0")
    with pytest.raises(PanelError, match=r"deflator 'p': u 'a' has no row for that year"):
        deflate(_panel([1.0, 2.0], p=[1.0, 1.1]), "inv", "p", 1990)
    with pytest.raises(PanelError, match=r"deflator 'p' is missing or <= 0 at u 'a', t 2001"):
        deflate(_panel([1.0, 2.0], p=[1.0, -1.0]), "inv", "p", 2000)


STUDY_STEPS = """
[[prepare.nddf]]
column = "tfcpi"
inputs = ["kstock", "labour", "energy"]
good = ["gdp_real"]
bad = ["co2"]

[[prepare.capital_stock]]
column = "kstock"
investment = "inv"
delta = 0.096
deflator = "p_inv"
base_year = 2005

[[prepare.capital_stock]]
column = "kstock_given"
investment = "inv"
delta = 0.1
initial = "k0"

[[prepare.deflate]]
columns = ["gdp"]
deflator = "cpi"
base_year = 2005
"""


def _study_frame():
    rng = np.random.default_rng(11)
    rows = [(f"c{i}", t) for i in range(6) for t in range(2003, 2013)]
    df = pd.DataFrame(rows, columns=["city", "year"])
    n = len(df)
    df["inv"] = 20 * np.exp(0.1 * (df["year"] - 2003)) * rng.uniform(0.8, 1.2, n)
    df["p_inv"] = 100 * 1.03 ** (df["year"] - 2003) * rng.uniform(0.98, 1.02, n)
    df["cpi"] = 100 * 1.02 ** (df["year"] - 2003) * rng.uniform(0.98, 1.02, n)
    df["k0"] = rng.uniform(50, 150, n)
    for c in ("labour", "energy", "gdp", "co2"):
        df[c] = rng.uniform(10, 100, n)
    df["did"] = (df["year"] >= 2008) & (df["city"] < "c3")
    df["y"] = rng.normal(size=n)
    return df


def _study(tmp_path, steps=STUDY_STEPS, df=None):
    from climetrics.study.config import load_config
    from climetrics.study.runner import Study

    (df if df is not None else _study_frame()).to_csv(tmp_path / "panel.csv", index=False)
    cfg = tmp_path / "study.toml"
    cfg.write_text(
        '[data]\npath = "panel.csv"\nunit = "city"\ntime = "year"\n\n'
        '[variables]\noutcome = "y"\ntreatment = "did"\n' + steps
    )
    return Study(load_config(cfg))


def test_study_steps_equal_the_direct_calls_and_feed_nddf(tmp_path):
    """[[prepare.deflate]] and [[prepare.capital_stock]] run before [[prepare.nddf]] (whatever
    their order in the file) and give the direct calls' columns to 1e-12."""
    import climetrics.measure as cm

    got = _study(tmp_path).load_panel().df
    base = Panel.from_file(tmp_path / "panel.csv", "city", "year")
    k = capital_stock(base, "inv", 0.096, deflator="p_inv", base_year=2005)
    np.testing.assert_allclose(got["kstock"], k, **TOL)
    kg = capital_stock(base, "inv", 0.1, initial="k0")
    np.testing.assert_allclose(got["kstock_given"], kg, **TOL)
    real = deflate(base, "gdp", "cpi", 2005).df["gdp_real"]
    np.testing.assert_allclose(got["gdp_real"], real, **TOL)
    direct = base.assign(kstock=k.to_numpy(), gdp_real=real.to_numpy())
    cpi = cm.nddf_performance(
        direct, ["kstock", "labour", "energy"], "gdp_real", "co2", frontier="global"
    )
    cpi = got[["city", "year"]].merge(cpi, on=["city", "year"], how="left")["tfcpi"]
    np.testing.assert_allclose(got["tfcpi"], cpi, **TOL)


@pytest.mark.parametrize(
    ("step", "pattern"),
    [
        (
            '[[prepare.capital_stock]]\ncolumn = "k"\ninvestment = "inv"\ndelta = 9.6\n',
            r"'prepare.capital_stock\[0\].delta' must be a depreciation rate in \(0, 1\)",
        ),
        (
            '[[prepare.capital_stock]]\ncolumn = "k"\ninvestment = "inv"\ndelta = 0.1\n'
            'deflator = "p_inv"\n',
            r"'prepare.capital_stock\[0\]': 'deflator' and 'base_year' go together",
        ),
        (
            '[[prepare.capital_stock]]\ncolumn = "k"\ninvestment = "inv"\n',
            r"prepare.capital_stock\[0\].delta",
        ),
        (
            '[[prepare.deflate]]\ncolumns = []\ndeflator = "cpi"\nbase_year = 2005\n',
            r"'prepare.deflate\[0\].columns' must name at least one column",
        ),
        (
            '[[prepare.deflate]]\ncolumns = ["gdp"]\ndeflator = "cpi"\nbase_year = 2005\n'
            '[[prepare.capital_stock]]\ncolumn = "gdp_real"\ninvestment = "inv"\ndelta = 0.1\n',
            r"'prepare.capital_stock\[0\].column': column 'gdp_real' is also created by "
            r"'prepare.deflate\[0\].suffix'",
        ),
    ],
)
def test_step_config_errors_name_the_key(tmp_path, step, pattern):
    from climetrics.errors import ConfigError

    with pytest.raises(ConfigError, match=pattern):
        _study(tmp_path, step)


def test_step_data_errors_name_the_key_unit_and_year(tmp_path):
    from climetrics.errors import ConfigError

    df = _study_frame()
    df.loc[(df["city"] == "c2") & (df["year"] == 2007), "inv"] = np.nan
    with pytest.raises(
        ConfigError,
        match=r"'prepare.capital_stock\[0\]': investment 'inv' is missing at city 'c2', year 2007",
    ):
        _study(tmp_path, STUDY_STEPS, df).load_panel()
    with pytest.raises(
        ConfigError, match=r"'prepare.deflate\[0\].columns\[0\]': column 'gdpp' is not in the data"
    ):
        _study(
            tmp_path, '[[prepare.deflate]]\ncolumns = ["gdpp"]\ndeflator = "cpi"\nbase_year = 2005\n'
        ).load_panel()

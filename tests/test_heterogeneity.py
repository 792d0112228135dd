"""Heterogeneity: group definitions, subsample fits, interacted model, Wald and permutation tests.

References are separate ``cm.twfe`` fits on the subsets and on explicitly permuted data, the
closed-form Wald statistic, hand-computed groups on a tiny panel, and the simulated truth
(``heterogeneity=0.8``: cities with baseline income above the mean have a larger effect).
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import climetrics as cm
from climetrics.errors import EstimationError
from climetrics.estimate.mechanisms.heterogeneity import define_groups, heterogeneity

X = ["lnpgdp", "gov", "str", "lnpden"]


@pytest.fixture(scope="module")
def sim():
    return cm.simulate(lag=0, heterogeneity=0.8, seed=3)


@pytest.fixture(scope="module")
def res(sim):
    return heterogeneity(sim.panel, "lnci", "did", X, by="income", split="mean", n_draws=199, seed=1)


def test_subsamples_equal_separate_twfe_fits(sim, res):
    p = sim.panel
    grp = res.groups.group_of(p.df["city"]).to_numpy()
    worst = 0.0
    for g in ("low", "high"):
        ref = cm.twfe(p.subset(grp == g), "lnci", "did", X)
        r = res.subsamples[g]
        worst = max(worst, np.max(np.abs(r.coefs["estimate"] - ref.coefs["estimate"])),
                    np.max(np.abs(r.coefs["std_error"] - ref.coefs["std_error"])))
    assert worst < 1e-10


def test_wald_statistic_closed_form(res):
    m = res.interacted
    terms = [res.group_terms[g] for g in res.labels]
    idx = [m.terms.index(t) for t in terms]
    b = m.coefs["estimate"].to_numpy()[idx]
    V = m.cov[np.ix_(idx, idx)]
    d = b[1] - b[0]
    F = d**2 / (V[0, 0] + V[1, 1] - 2 * V[0, 1])
    assert abs(res.wald.statistic - F) < 1e-10 * F
    assert abs(res.wald.p_value - stats.f.sf(F, 1, m.n_clusters - 1)) < 1e-12
    # the seed-000 parametrisation is the same model: its difference term is b_high - b_low
    inter = res.interaction
    term = res.diff_terms["high"]
    assert abs(inter.coef(term) - d) < 1e-10
    assert abs(inter.tstat(term) ** 2 - F) < 1e-8 * F
    assert abs(inter.coef("did") - b[0]) < 1e-10


def test_batched_permutation_kernel_equals_twfe(sim, res):
    """The observed statistic from the batched kernel, and one permuted draw, equal twfe fits."""
    perm = res.permutation
    assert abs(perm.statistic - res.wald.statistic) < 1e-8 * res.wald.statistic
    assert abs(perm.details["diff"] - res.interaction.coef(res.diff_terms["high"])) < 1e-10
    p = sim.panel
    units = pd.Series(np.arange(len(res.perm_units)), index=res.perm_units)
    worst = 0.0
    for r in range(2):
        g = res.perm_assignments[units[p.df["city"]].to_numpy(), r]
        aug = p.assign(dh=p.df["did"].to_numpy() * (g == 1))
        fit = cm.twfe(aug, "lnci", ["did", "dh"], X)
        row = res.perm_draws.iloc[r]
        worst = max(worst, abs(fit.coef("dh") - row[res.diff_terms["high"]]),
                    abs(fit.tstat("dh") ** 2 - row["F"]) / row["F"])
    assert worst < 1e-8


def test_permutation_p_value_formula(res):
    perm = res.permutation
    F = res.perm_draws["F"].to_numpy()
    assert perm.details["n_valid"] == perm.details["n_draws"] == 199 == F.size
    assert perm.p_value == (1 + np.sum(F >= perm.statistic * (1 - 1e-12))) / (1 + 199)
    d = res.perm_draws[res.diff_terms["high"]].abs().to_numpy()
    assert perm.details["p_value_diff"] == (1 + np.sum(d >= abs(perm.details["diff"]) * (1 - 1e-12))) / 200
    # permutations keep the group sizes
    sizes = np.bincount(res.perm_assignments[:, 0], minlength=2)
    assert list(sizes) == [int((res.groups.units["group"] == g).sum()) for g in res.labels]


def test_high_income_effect_is_larger_and_close_to_truth(sim, res):
    hi, lo = res.estimate("high"), res.estimate("low")
    assert hi < lo < 0
    assert abs(hi - sim.truth["att_high_income"]) < 0.01
    assert abs(lo - sim.truth["att_low_income"]) < 0.01
    # groups by pre-treatment mean income reproduce the simulation's split (income0 > mean)
    assert res.groups.basis.startswith("mean over the common pre-treatment periods 2006-2013")
    first = sim.panel.df.query("year == 2006").set_index("city")["income"]
    expect = np.where(first > first.mean(), "high", "low")
    assert (res.groups.units.set_index("city").loc[first.index, "group"].to_numpy() == expect).all()
    assert res.wald.p_value < 0.01 and res.permutation.p_value == 1 / 200


@pytest.fixture()
def tiny():
    units = ["a", "b", "c", "d", "e", "f"]
    base = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0, "e": 5.0, "f": 10.0}
    region = {"a": "N", "b": "S", "c": "N", "d": "W", "e": "S", "f": "N"}
    first_treated = {"a": 2, "b": None, "c": 3, "d": None, "e": 2, "f": 3}
    rows = []
    for u in units:
        for t in (1, 2, 3):
            g = first_treated[u]
            rows.append({
                "id": u, "t": t, "x": base[u], "region": region[u],
                "z": base[u] * t,  # time-varying: pre-treatment window is t = 1 only
                "d": int(g is not None and t >= g),
            })
    return cm.Panel(pd.DataFrame(rows), "id", "t")


def _groups(gd):
    return gd.units.set_index("id")["group"].to_dict()


def test_group_definitions_by_hand(tiny):
    mean = define_groups(tiny, "x", split="mean")  # mean 25/6 = 4.17
    assert mean.cutpoints == [pytest.approx(25 / 6)]
    assert _groups(mean) == dict(a="low", b="low", c="low", d="low", e="high", f="high")
    med = define_groups(tiny, "x", split="median")  # median 3.5
    assert med.cutpoints == [3.5]
    assert _groups(med) == dict(a="low", b="low", c="low", d="high", e="high", f="high")
    qu = define_groups(tiny, "x", split="quantile", q=3)  # cuts 2.667, 4.333 (linear)
    np.testing.assert_allclose(qu.cutpoints, [8 / 3, 13 / 3])
    assert _groups(qu) == dict(a="Q1", b="Q1", c="Q2", d="Q2", e="Q3", f="Q3")
    cat = define_groups(tiny, "region", split="category")
    assert cat.labels == ["N", "S", "W"]
    assert _groups(cat) == dict(a="N", b="S", c="N", d="W", e="S", f="N")
    # time-varying: mean over the common pre-treatment window (period 1): z = base
    tv = define_groups(tiny, "z", split="mean", treat="d")
    assert tv.units.set_index("id")["value"].to_dict() == {u: v for u, v in zip("abcdef", [1, 2, 3, 4, 5, 10], strict=True)}
    assert _groups(tv) == _groups(mean)
    bp = define_groups(tiny, "z", split="median", baseline_period=3)  # z = 3 * base
    assert bp.cutpoints == [10.5] and _groups(bp) == _groups(med)


def test_group_definition_errors(tiny):
    with pytest.raises(EstimationError, match="empty"):
        define_groups(tiny.assign(k=1.0), "k", split="quantile", q=2)
    with pytest.raises(cm.PanelError, match="baseline_period"):
        define_groups(tiny.assign(r2=np.where(tiny.df["t"] == 1, "A", "B")), "r2", split="category")


def test_group_without_treated_units_raises(sim):
    with pytest.raises(EstimationError, match="group '0' of 'treat' has no treated units"):
        heterogeneity(sim.panel, "lnci", "did", X, by="treat", split="category", n_draws=0)


def test_degenerate_permutations_are_discarded(sim):
    """A group of five units with one treated: some permutations leave it untreated."""
    df = sim.panel.df
    rare = set(df.loc[df["treat"] == 1, "city"].unique()[:1]) | set(
        df.loc[df["treat"] == 0, "city"].unique()[:4])
    p = sim.panel.assign(kind=np.where(df["city"].isin(rare), "rare", "common"))
    r = heterogeneity(p, "lnci", "did", ["lnpgdp"], by="kind", split="category", n_draws=99,
                      subsamples=False)
    perm = r.permutation
    F = r.perm_draws["F"].to_numpy()
    valid = np.isfinite(F)
    assert 0 < perm.details["n_valid"] == valid.sum() < 99
    assert perm.p_value == (1 + np.sum(F[valid] >= perm.statistic * (1 - 1e-12))) / (1 + valid.sum())
    assert any("permutations left a group without treatment" in n for n in r.notes)
    assert abs(perm.statistic - r.wald.statistic) < 1e-8 * r.wald.statistic


def test_category_split_interacted_controls(sim):
    """With controls x group interactions, the batched permutation kernel still equals twfe."""
    r = heterogeneity(sim.panel, "lnci", "did", ["lnpgdp", "gov"], by="coastal", split="category",
                      interact_controls=True, n_draws=49, subsamples=False)
    assert r.labels == ["0", "1"]
    assert "gov x 1" in r.interaction.terms
    assert abs(r.permutation.statistic - r.wald.statistic) < 1e-8 * r.wald.statistic
    assert r.subsamples == {}
    assert r.table().columns == ["Interaction"]


def test_table_and_forest_plot(res):
    tab = res.table()
    assert tab.columns == ["income: low", "income: high", "Interaction"]
    assert any(row[0] == "did x high" for row in tab.rows)
    wald = next(row for row in tab.rows if row[0].startswith("Equal effects"))
    assert wald[3].startswith(f"{res.wald.statistic:.3f}")
    fig = res.plot()
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["income: low", "income: high"]
    import matplotlib.pyplot as plt

    plt.close(fig)

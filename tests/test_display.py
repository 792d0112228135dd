"""Results display as their tables in Jupyter (``_repr_html_``) and export to Markdown / LaTeX.

Each display must carry the result's own numbers: the check reads a number off the result
object and looks for its formatted value in the HTML."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import climetrics as cm
from climetrics.estimate.spatial.moran import moran
from climetrics.estimate.spatial.weights import from_pairs
from climetrics.report.tables import fmt

CONTROLS = ["lnpgdp", "gov"]


@pytest.fixture(scope="module")
def panel():
    p = cm.simulate(seed=6).panel
    return p.subset(p.df["city"].isin(sorted(p.df["city"].unique())[::2]).to_numpy())


def _shows(result, number: str, caption: str) -> None:
    html = result._repr_html_()
    assert html.startswith('<table class="cm-table">') and f"<caption>{caption}" in html
    assert number in html, number
    assert number in result.to_markdown() and number in result.to_latex()


def test_placebo_event_mediation_heterogeneity_display(panel):
    pl = cm.placebo_test(panel, "lnci", "did", CONTROLS, n_draws=50, seed=1)
    _shows(pl, fmt(pl.estimate, 4), "Placebo test")
    ev = cm.event_study(panel, "lnci", treat="did", controls=CONTROLS, window=(-3, 3))
    _shows(ev, fmt(float(ev.coefs["estimate"].iloc[-1]), 4), "Event study: lnci")
    me = cm.mediation(panel, "lnci", "did", ["green_innov"], CONTROLS, n_draws=50, seed=1)
    _shows(me, fmt(me["green_innov"].a, 4), "")
    he = cm.heterogeneity(panel, "lnci", "did", CONTROLS, by="income", n_draws=50)
    _shows(he, fmt(float(he.by_group()["estimate"].iloc[0]), 4), "")


def test_moran_display_has_both_assumptions():
    ids = list("ABCDE")
    edges = pd.DataFrame({"a": ["A", "B", "C", "D"], "b": ["B", "C", "D", "E"]})
    w = from_pairs(edges, "a", "b", ids=ids).standardized()
    r = moran(np.array([1.0, 2.0, 3.0, 5.0, 8.0]), w, n_draws=99, seed=3)
    html = r._repr_html_()
    for value in (fmt(r.I, 4), fmt(r.z_norm, 3), fmt(r.z_rand, 3), fmt(r.p_perm, 4)):
        assert value in html
    assert "Normality" in html and "Randomisation" in html and "n = 5." in html

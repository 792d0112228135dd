"""Table rendering: stars, parentheses, escaping in every format."""

import numpy as np
import pandas as pd
import pytest

from climetrics.core.results import EstimationResult, ResultSet
from climetrics.report.tables import Table, latex_escape, regression_table, stars


@pytest.mark.parametrize("p,expected", [(0.2, ""), (0.1, ""), (0.0999, "*"), (0.05, "*"), (0.049, "**"),
                                        (0.01, "**"), (0.0099, "***"), (float("nan"), "")])
def test_star_thresholds(p, expected):
    assert stars(p) == expected


def _res(b, se, p, label="y", fe=("city", "year"), cluster="city", notes=()):
    coefs = pd.DataFrame({"term": ["did", "x"], "estimate": [b, 0.5], "std_error": [se, 0.1],
                          "statistic": [b / se, 5.0], "p_value": [p, 1e-6],
                          "ci_low": [b - 2 * se, 0.3], "ci_high": [b + 2 * se, 0.7]})
    return EstimationResult(coefs=coefs, depvar=label, model="TWFE", n_obs=1850, fixed_effects=fe,
                            vcov="CRV1", cluster=cluster, n_clusters=185, stats={"r2": 0.91, "r2_within": 0.12},
                            notes=list(notes))


def test_regression_table_cells_t_and_se():
    r1, r2 = _res(0.0228, 0.0070, 0.002), _res(0.0150, 0.0100, 0.14, notes=["3 rows dropped."])
    t = regression_table([r1, r2], labels={"did": "DID", "city": "City"})
    assert t.rows[0] == ["DID", "0.0228***", "0.0150"]
    assert t.rows[1] == ["", f"({0.0228 / 0.0070:.2f})", "(1.50)"]
    assert ["City FE", "Yes", "Yes"] in t.rows and ["N", "1,850", "1,850"] in t.rows
    assert ["Cluster", "City", "City"] in t.rows
    assert t.notes[0].startswith("t-statistics in parentheses, based on standard errors clustered by City.")
    assert regression_table([r1], stat="se").notes[0].startswith("Standard errors clustered by city in parentheses.")
    assert "3 rows dropped." in t.notes
    t_se = regression_table([r1], stat="se")
    assert t_se.rows[1] == ["", "(0.0070)"]
    with pytest.raises(ValueError):
        regression_table([r1], stat="z")


def test_html_escapes_user_strings():
    r = _res(0.1, 0.01, 0.001, label="<script>alert(1)</script>")
    html = ResultSet([r], title="A & B").to_html(labels={"did": "<b>DID</b>"})
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "&lt;b&gt;DID&lt;/b&gt;" in html and "A &amp; B" in html


def test_latex_escaping_and_star_superscripts():
    assert latex_escape("ln_co2 & 50%") == r"ln\_co2 \& 50\%"
    assert latex_escape("0.0228***") == "0.0228$^{***}$"
    tex = ResultSet([_res(0.0228, 0.007, 0.002, label="ln_co2")]).to_latex()
    assert r"\begin{tabular}{lc}" in tex and r"ln\_co2" in tex and "0.0228$^{***}$" in tex
    assert tex.count(r"\midrule") == 2 and r"\bottomrule" in tex


def test_markdown_shape():
    md = ResultSet([_res(0.1, 0.01, 0.001), _res(0.2, 0.1, 0.2)]).to_markdown()
    lines = [ln for ln in md.splitlines() if ln.startswith("|")]
    assert lines[1] == "|:---|---:|---:|"
    assert all(ln.count("|") == 4 for ln in lines)


def test_table_text_alignment_and_frame():
    t = Table(columns=["a", "bb"], rows=[["r1", "1", "22"], ["r2", "333", "4"]], title="T")
    txt = t.to_text().splitlines()
    assert txt[0] == "T" and len({len(ln) for ln in txt[1:-1]}) == 1
    assert t.to_frame().shape == (2, 3)


def test_result_accessors_and_dict():
    r = _res(0.1, 0.02, 0.001)
    assert r.coef("did") == 0.1 and r.se("did") == 0.02
    assert r.confint("did") == pytest.approx((0.06, 0.14))
    with pytest.raises(KeyError, match="terms are"):
        r.coef("nope")
    d = r.to_dict()
    assert d["n_obs"] == 1850 and d["coefs"][0]["term"] == "did"
    assert isinstance(d["coefs"][0]["estimate"], float) and np.isfinite(d["stats"]["r2"])


def test_xlsx_and_docx_exports_hold_every_cell(tmp_path):
    from docx import Document
    from openpyxl import load_workbook

    tab = ResultSet([_res(0.0228, 0.007, 0.002), _res(0.015, 0.01, 0.14)], title="Baseline").table(
        labels={"did": "DID"})
    tab.to_xlsx(tmp_path / "t.xlsx")
    ws = load_workbook(tmp_path / "t.xlsx").active
    values = [[c.value or "" for c in row] for row in ws.iter_rows()]
    assert values[0][0] == "Baseline" and values[1][1:] == ["(1)", "(2)"]
    assert ["DID", "0.0228***", "0.0150"] in values and values[-1][0] == tab.notes[-1]
    tab.to_docx(tmp_path / "t.docx")
    doc = Document(tmp_path / "t.docx")
    cells = [[c.text for c in r.cells] for r in doc.tables[0].rows]
    assert cells[0] == ["", "(1)", "(2)"] and ["DID", "0.0228***", "0.0150"] in cells
    assert doc.paragraphs[0].text == "Baseline" and doc.paragraphs[-1].text == tab.notes[-1]

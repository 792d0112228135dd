"""Plain-language readings state the numbers they are generated from."""

import math

import pandas as pd

from climetrics.core.results import EstimationResult, ResultSet
from climetrics.study import readings


def _res(b, p, t=3.0):
    coefs = pd.DataFrame({"term": ["did"], "estimate": [b], "std_error": [abs(b / t)], "statistic": [t],
                          "p_value": [p], "ci_low": [b - 0.01], "ci_high": [b + 0.01]})
    return EstimationResult(coefs=coefs, depvar="lnci", model="TWFE", n_obs=100)


def test_significance_and_p_phrases():
    assert readings.significance_phrase(0.004) == "significant at the 1% level"
    assert readings.significance_phrase(0.03) == "significant at the 5% level"
    assert readings.significance_phrase(0.07) == "significant at the 10% level"
    assert readings.significance_phrase(0.2).startswith("not statistically significant")
    assert readings.p_phrase(0.0004) == "p < 0.001" and readings.p_phrase(0.0234) == "p = 0.023"


def test_log_outcome_percent_effect():
    text = readings.effect_size_phrase(-0.0391, "lnci", "ln carbon intensity")
    assert f"{100 * (1 - math.exp(-0.0391)):.1f}% lower carbon intensity" in text
    assert "increase of 0.5 units of GDP" in readings.effect_size_phrase(0.5, "gdp", "GDP")


def test_baseline_reading_reports_range_and_sign_stability():
    rs = ResultSet([_res(-0.03, 0.2, t=-1.2), _res(-0.05, 0.0004, t=-4.0)])
    text = readings.baseline_reading(rs, "did", "lnci", {})
    assert "column (2)" in text and "-0.0500" in text and "p < 0.001" in text
    assert "ranges from -0.0500 to -0.0300; its sign never changes, and it is significant at 10% in 1 of 2" in text
    flip = readings.baseline_reading(ResultSet([_res(0.01, 0.5), _res(-0.05, 0.001)]), "did", "lnci", {})
    assert "its sign changes across columns" in flip


def test_truth_paragraph_says_whether_ci_covers():
    r = _res(-0.04, 0.001)  # CI [-0.05, -0.03]
    assert "which covers the truth" in readings.truth_paragraph(r, "did", {"att": -0.045, "lag": 2})
    assert "does NOT cover" in readings.truth_paragraph(r, "did", {"att": -0.02, "lag": 2})

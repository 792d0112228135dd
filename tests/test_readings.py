"""Plain-language readings state the numbers they are generated from."""

import math

import pandas as pd

from climetrics.core import wording
from climetrics.core.results import EstimationResult, ResultSet
from climetrics.study import readings


def _res(b, p, t=3.0):
    coefs = pd.DataFrame({"term": ["did"], "estimate": [b], "std_error": [abs(b / t)], "statistic": [t],
                          "p_value": [p], "ci_low": [b - 0.01], "ci_high": [b + 0.01]})
    return EstimationResult(coefs=coefs, depvar="lnci", model="TWFE", n_obs=100)


def test_significance_and_p_phrases():
    assert wording.significance_phrase(0.004) == "significant at the 1% level"
    assert wording.significance_phrase(0.03) == "significant at the 5% level"
    assert wording.significance_phrase(0.07) == "significant at the 10% level"
    assert wording.significance_phrase(0.2).startswith("not statistically significant")
    assert wording.p_phrase(0.0004) == "p < 0.001" and wording.p_phrase(0.0234) == "p = 0.023"


def test_log_outcome_percent_effect():
    text = wording.effect_size_phrase(-0.0391, "lnci", "ln carbon intensity")
    assert f"{100 * (1 - math.exp(-0.0391)):.1f}% lower carbon intensity" in text
    assert "an increase of 0.5 units of GDP" in wording.effect_size_phrase(0.5, "gdp", "GDP")


def test_grammar_and_log_prefixes():
    """Issue 15: 'a increase' and '1 units' cannot be written; l_-prefixed outcomes are logs."""
    assert wording.effect_size_phrase(1.0, "gdp", "GDP").startswith("This is an increase of 1 unit of GDP")
    assert wording.effect_size_phrase(-0.2, "gdp", "GDP").startswith("This is a decrease of")
    assert "% lower" in wording.effect_size_phrase(-0.05, "l_co2")
    assert wording.is_log_name("l_co2") and wording.is_log_name("lnco2") and not wording.is_log_name("lco2")
    assert wording.with_article("8.2%") == "an 8.2%" and wording.with_article("11% fall") == "an 11% fall"
    assert wording.count(1, "unit") == "1 unit" and wording.count(2, "city", "cities") == "2 cities"


def test_share_is_withheld_when_the_total_is_near_zero():
    """Issue 15: a suppression share of 2345% must not be printed for a near-zero total."""
    assert wording.share_phrase(0.02, 0.05) == "40.0%"
    assert wording.share_phrase(0.02, 1e-6, min_whole=1e-3) is None


def test_baseline_reading_reports_range_and_sign_stability():
    rs = ResultSet([_res(-0.03, 0.2, t=-1.2), _res(-0.05, 0.0004, t=-4.0)])
    text = rs.reading("did")
    assert "column (2)" in text and "-0.0500" in text and "p < 0.001" in text
    assert "ranges from -0.0500 to -0.0300; its sign never changes, and it is significant at 10% in 1 of 2" in text
    flip = ResultSet([_res(0.01, 0.5), _res(-0.05, 0.001)]).reading("did")
    assert "its sign changes across columns" in flip


def test_truth_paragraph_says_whether_ci_covers():
    r = _res(-0.04, 0.001)  # CI [-0.05, -0.03]
    assert "which covers the truth" in readings.truth_paragraph(r, "did", {"att": -0.045, "lag": 2})
    assert "does NOT cover" in readings.truth_paragraph(r, "did", {"att": -0.02, "lag": 2})

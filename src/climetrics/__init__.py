"""climetrics: did this digital policy cut carbon emissions?

Policy-evaluation econometrics for city-year and province-year panels: indicators, two-way
fixed effects and DID, robustness, mechanisms, spatial models and paper-ready reports.

Heavy modules are imported lazily so that ``import climetrics`` and the CLI start quickly.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import ClimetricsError, ConfigError, EstimationError, PanelError

__version__ = "0.1.0"

# public name -> (module, attribute); resolved on first access
_LAZY = {
    "Panel": ("climetrics.panel", "Panel"),
    "BalanceReport": ("climetrics.panel", "BalanceReport"),
    "twfe": ("climetrics.estimate.baseline.twfe", "twfe"),
    "twfe_stepwise": ("climetrics.estimate.baseline.twfe", "twfe_stepwise"),
    "event_study": ("climetrics.estimate.baseline.event_study", "event_study"),
    "wild_cluster_bootstrap": ("climetrics.estimate.baseline.wild", "wild_cluster_bootstrap"),
    "placebo_test": ("climetrics.estimate.robustness.placebo", "placebo_test"),
    "callaway_santanna": ("climetrics.estimate.did.callaway_santanna", "callaway_santanna"),
    "sun_abraham": ("climetrics.estimate.did.sun_abraham", "sun_abraham"),
    "did_imputation": ("climetrics.estimate.did.imputation", "did_imputation"),
    "bacon_decomposition": ("climetrics.estimate.did.bacon", "bacon_decomposition"),
    "twfe_weights": ("climetrics.estimate.did.bacon", "twfe_weights"),
    "compare_estimators": ("climetrics.estimate.did.staggered", "compare_estimators"),
    "honest_did": ("climetrics.estimate.did.honest_did", "honest_did"),
    "robustness": ("climetrics.estimate.robustness.checks", None),
    "psm_did": ("climetrics.estimate.robustness.psm", "psm_did"),
    "mediation": ("climetrics.estimate.mechanisms.mediation", "mediation"),
    "heterogeneity": ("climetrics.estimate.mechanisms.heterogeneity", "heterogeneity"),
    "iv_2sls": ("climetrics.estimate.endogeneity.iv", "iv_2sls"),
    "distance_trend_instrument": ("climetrics.estimate.endogeneity.iv", "distance_trend_instrument"),
    "polynomial_fe": ("climetrics.estimate.selection.nonlinear", "polynomial_fe"),
    "threshold_regression": ("climetrics.estimate.selection.threshold", "threshold_regression"),
    "dynamic_gmm": ("climetrics.estimate.endogeneity.gmm", "dynamic_gmm"),
    "model_selection_tests": ("climetrics.estimate.selection.panel_tests", "model_selection_tests"),
    "hausman": ("climetrics.estimate.selection.panel_tests", "hausman"),
    "random_effects": ("climetrics.estimate.selection.panel_tests", "random_effects"),
    "spatial": ("climetrics.estimate.spatial", None),
    "spatial_panel": ("climetrics.estimate.spatial.models", "spatial_panel"),
    "spatial_effects": ("climetrics.estimate.spatial.effects", "impacts"),
    "moran": ("climetrics.estimate.spatial.moran", "moran"),
    "moran_by_year": ("climetrics.estimate.spatial.moran", "moran_by_year"),
    "local_moran": ("climetrics.estimate.spatial.moran", "local_moran"),
    "contiguity": ("climetrics.estimate.spatial.weights", "contiguity"),
    "choropleth": ("climetrics.report.maps", "choropleth"),
    "EstimationResult": ("climetrics.core.results", "EstimationResult"),
    "ResultSet": ("climetrics.core.results", "ResultSet"),
    "simulate": ("climetrics.simulation.cities", "simulate"),
    "simulate_provinces": ("climetrics.simulation.provinces", "simulate_provinces"),
    "data": ("climetrics.data", None),
    "adoption_dummies": ("climetrics.data.adoption", "adoption_dummies"),
    "policy_dummies": ("climetrics.data", "policy_dummies"),
    "measure": ("climetrics.measure", None),
    "nddf_performance": ("climetrics.measure", "nddf_performance"),
    "sbm_efficiency": ("climetrics.measure", "sbm_efficiency"),
    "malmquist_luenberger": ("climetrics.measure", "malmquist_luenberger"),
    "Table": ("climetrics.report.tables", "Table"),
    "regression_table": ("climetrics.report.tables", "regression_table"),
    "Study": ("climetrics.study.runner", "Study"),
    # the result protocol and shared numerics
    "Result": ("climetrics.core.results", "Result"),
    "TestResult": ("climetrics.core.results", "TestResult"),
    "TestSet": ("climetrics.core.results", "TestSet"),
    "wald_test": ("climetrics.core.results", "wald_test"),
    "demean": ("climetrics.core.demean", "demean"),
    # robustness checks, one column each
    "shift_timing": ("climetrics.estimate.robustness.checks", "shift_timing"),
    "control_concurrent_policies": ("climetrics.estimate.robustness.checks", "control_concurrent_policies"),
    "trim_outcome": ("climetrics.estimate.robustness.checks", "trim_outcome"),
    "winsorize_outcome": ("climetrics.estimate.robustness.checks", "winsorize_outcome"),
    "replace_outcome": ("climetrics.estimate.robustness.checks", "replace_outcome"),
    "replace_treatment": ("climetrics.estimate.robustness.checks", "replace_treatment"),
    "RobustnessChecks": ("climetrics.estimate.robustness.checks", "RobustnessChecks"),
    "define_groups": ("climetrics.estimate.mechanisms.heterogeneity", "define_groups"),
    "u_test": ("climetrics.estimate.selection.nonlinear", "u_test"),
    "f_test_individual_effects": ("climetrics.estimate.selection.panel_tests", "f_test_individual_effects"),
    "breusch_pagan_lm": ("climetrics.estimate.selection.panel_tests", "breusch_pagan_lm"),
    # indicators
    "entropy_index": ("climetrics.measure.entropy", "entropy_index"),
    "capital_stock": ("climetrics.measure.capital", "capital_stock"),
    "deflate": ("climetrics.measure.capital", "deflate"),
    "city_co2": ("climetrics.measure.carbon", "city_co2"),
    "fossil_co2": ("climetrics.measure.carbon", "fossil_co2"),
    "location_quotient": ("climetrics.measure.agglomeration", "location_quotient"),
    "downscale": ("climetrics.measure.downscale", "downscale"),
    "fill_trailing": ("climetrics.measure.gapfill", "fill_trailing"),
    "provincial_digital_economy": ("climetrics.measure.io_digital", "provincial_digital_economy"),
    "city_light_sums": ("climetrics.measure.nightlight", "city_light_sums"),
}

__all__ = [
    "ClimetricsError",
    "ConfigError",
    "EstimationError",
    "PanelError",
    "__version__",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        mod, attr = _LAZY[name]
        m = importlib.import_module(mod)
        value = m if attr is None else getattr(m, attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'climetrics' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(__all__)

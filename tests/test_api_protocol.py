"""The one vocabulary and the one result protocol across the whole public API (issue 13).

Introspects every public callable reachable as ``cm.<name>`` and ``cm.spatial.<name>`` and every
result class of the package; the per-folder tests (test_protocol_a/b) build the results on data.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import climetrics as cm
from climetrics.core.results import Result, TestResult

#: argument names of the old dialects, each replaced by one word of the vocabulary
FORBIDDEN = {
    "n_boot": "n_draws", "n_perm": "n_draws", "permutations": "n_draws", "draws": "n_draws",
    "ci": "alpha", "level": "alpha", "endog": "treat", "x": "treat", "time_effects": "fe",
    "robust": "cluster", "robust_hausman": "cluster", "group": "adoption",
}
#: documented exceptions (docs/api.md): psm_did's `group` is the PSM matching group (e.g. year);
#: the spatial models and their tests take `x`, the list of all regressors, with no
#: distinguished treatment (as spreg and splm do) -- the LeSage-Pace effects are per regressor
ALLOWED = {("psm_did", "group")} | {
    (f, "x") for f in ("spatial_panel", "spatial.spatial_panel", "spatial.lm_tests",
                       "spatial.spatial_hausman")
}


def _public_functions():
    names = [n for n in cm.__all__ if n not in ("data", "measure", "spatial", "robustness")]
    out = {n: getattr(cm, n) for n in names}
    out.update({f"spatial.{n}": getattr(cm.spatial, n) for n in cm.spatial.__all__})
    return {k: v for k, v in out.items() if inspect.isfunction(v)}


FUNCTIONS = _public_functions()


def test_the_public_api_is_complete():
    """Every estimator and test of the workflow is one attribute away."""
    for name in ("twfe", "twfe_stepwise", "event_study", "placebo_test", "callaway_santanna",
                 "sun_abraham", "did_imputation", "honest_did", "wild_cluster_bootstrap",
                 "psm_did", "mediation", "heterogeneity", "iv_2sls", "dynamic_gmm", "polynomial_fe",
                 "threshold_regression", "model_selection_tests", "adoption_dummies", "wald_test",
                 "nddf_performance", "entropy_index"):
        assert callable(getattr(cm, name)), name
    for name in ("contiguity", "moran", "spatial_panel", "impacts", "spatial_hausman", "lm_tests"):
        assert callable(getattr(cm.spatial, name)), name


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_vocabulary(name):
    params = inspect.signature(FUNCTIONS[name]).parameters
    bad = {p: FORBIDDEN[p] for p in params if p in FORBIDDEN and (name, p) not in ALLOWED}
    if "level" in bad and not isinstance(params["level"].default, float):
        del bad["level"]  # an administrative level ("province" / "city"), not an interval level
    assert not bad, f"{name} uses {bad} (old name -> vocabulary)"
    names = list(params)
    if names[:2] == ["panel", "y"] and len(names) > 2 and names[2] not in ("x",):
        # estimators on a panel: the regressor of interest is `treat`, intervals are `alpha`
        if "controls" in names:
            assert names.index("controls") > names.index("treat") if "treat" in names else True
        if "cluster" in names and params["cluster"].default not in (None, "unit"):
            pytest.fail(f"{name}: cluster default {params['cluster'].default!r}")


def _all_result_classes():
    for mod in pkgutil.walk_packages(cm.__path__, "climetrics."):
        if mod.name.startswith(("climetrics.study", "climetrics.cli")):
            continue
        importlib.import_module(mod.name)
    seen, todo = set(), [Result]
    while todo:
        c = todo.pop()
        for s in c.__subclasses__():
            if s not in seen:
                seen.add(s)
                todo.append(s)
    return sorted(seen, key=lambda c: c.__qualname__)


@pytest.mark.parametrize("cls", _all_result_classes(), ids=lambda c: c.__qualname__)
def test_every_result_class_implements_the_protocol(cls):
    """tidy, table, summary and reading are the class's own (not the abstract base's)."""
    for method in ("tidy", "table", "summary", "reading"):
        assert getattr(cls, method) is not getattr(Result, method), f"{cls.__qualname__}.{method}"
    assert issubclass(cls, Result)
    if issubclass(cls, TestResult):
        assert {"statistic", "p_value", "df", "df_denom", "null", "verdict"} <= set(
            cls.__dataclass_fields__
        )

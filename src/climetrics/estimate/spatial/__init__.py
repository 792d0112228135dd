"""Spatial econometrics: weights, Moran's I, panel spatial models with fixed effects, effects.

Modules: :mod:`.weights` (the :class:`SpatialWeights` object and its constructors), :mod:`.moran`
(global and local Moran's I), :mod:`.models` (panel SAR / SEM / SDM by maximum likelihood with
Lee & Yu's correction), :mod:`.effects` (LeSage & Pace direct / indirect / total effects),
:mod:`.logdet` (log |I - rho W| and trace estimates for small and large N), :mod:`.lm_tests`
(LM, LR, Wald and Hausman tests).

Every public function and class is also an attribute of this package, resolved on first use
(``import climetrics as cm; cm.spatial.contiguity(...)``, ``cm.spatial.moran(x, w)``,
``cm.spatial.spatial_panel(...)``), so importing the package stays cheap. ``moran`` is the
function (its module stays importable as ``climetrics.estimate.spatial.moran``).
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

# public name -> submodule defining it
_PUBLIC = {
    "SpatialWeights": "weights",
    "contiguity": "weights",
    "coordinates": "weights",
    "economic_nested": "weights",
    "from_geometry": "weights",
    "from_pairs": "weights",
    "great_circle_km": "weights",
    "inverse_distance": "weights",
    "knn": "weights",
    "link_islands": "weights",
    "match_units": "weights",
    "MoranResult": "moran",
    "moran": "moran",
    "moran_by_year": "moran",
    "local_moran": "moran",
    "moran_scatter": "moran",
    "moran_table": "moran",
    "spatial_panel": "models",
    "SpatialFit": "models",
    "impacts": "effects",
    "SpatialEffects": "effects",
    "lm_tests": "lm_tests",
    "lr_test": "lm_tests",
    "sdm_wald": "lm_tests",
    "spatial_hausman": "lm_tests",
    "LogDet": "logdet",
}
_MODULES = ("weights", "moran", "models", "effects", "lm_tests", "logdet")
# a function named like its module: the function wins over the submodule attribute
_SHADOWED = {"moran"}

__all__ = sorted({*_PUBLIC, *_MODULES})


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        value = getattr(importlib.import_module(f"{__name__}.{_PUBLIC[name]}"), name)
    elif name in _MODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


class _Namespace(types.ModuleType):
    """Keeps a function attribute (``moran``) when its submodule of the same name is imported
    (the import system would otherwise rebind the package attribute to the module)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SHADOWED and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Namespace

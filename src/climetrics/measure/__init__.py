"""Efficiency and productivity measurement by data envelopment analysis (DEA).

* :func:`nddf_performance` -- non-radial directional distance function with undesirable outputs
  and the total-factor carbon emission performance index (Zhou, Ang & Wang 2012; seed 000);
* :func:`ddf_efficiency` -- radial directional distance function (Chung, Fare & Grosskopf 1997);
* :func:`sbm_efficiency` -- SBM (Tone 2001), with undesirable outputs (Tone 2004) and
  super-efficiency (Tone 2002);
* :func:`radial_efficiency`, :func:`ccr`, :func:`bcc` -- CCR / BCC radial efficiency;
* :func:`malmquist_luenberger`, :func:`global_malmquist_luenberger` -- productivity change
  (Chung et al. 1997; Oh 2010) with their decompositions.

Every model takes contemporaneous, sequential, window or global frontiers and builds one HiGHS
LP per frontier, updating only the evaluated DMU's data between solves
(:mod:`climetrics.measure.dea`).
"""

from __future__ import annotations

from .dea import FRONTIERS, DEADataWarning, bcc, ccr, radial_efficiency
from .malmquist import global_malmquist_luenberger, malmquist_luenberger
from .nddf import ddf_efficiency, default_weights, nddf_performance
from .sbm import sbm_efficiency

__all__ = [
    "FRONTIERS",
    "DEADataWarning",
    "bcc",
    "ccr",
    "ddf_efficiency",
    "default_weights",
    "global_malmquist_luenberger",
    "malmquist_luenberger",
    "nddf_performance",
    "radial_efficiency",
    "sbm_efficiency",
]

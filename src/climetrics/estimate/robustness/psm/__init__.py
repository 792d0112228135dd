"""Propensity-score matching (PSM) and PSM-DID on city-year panels.

The pieces, each usable on its own:

* :func:`propensity_score` - logit or probit model of treatment on covariates (statsmodels),
  with McFadden's pseudo-R².
* :func:`nearest_neighbor_match`, :func:`radius_match`, :func:`kernel_match` and the dispatcher
  :func:`match` - matching on a score. They return a :class:`Matching` holding the weight of
  every control for every treated unit and the psmatch2 weights (``_weight``: 1 for a matched
  treated unit, for a control the sum over treated units of the weights it receives).
* :func:`common_support` - psmatch2's ``common`` option.
* :func:`balance` - the covariate balance test of Stata ``pstest`` (seed 002 Table 5).
* :func:`psm_did` - the two PSM-DID designs of applied work: match units on their pre-period
  covariate means, or match observations year by year; then re-estimate the TWFE DID on the
  matched sample.

Modules (estimation apart from results, as linearmodels keeps model.py apart from results.py):
``score`` (propensity model), ``matching`` (matching and common support), ``balance``
(pstest), ``results`` (:class:`PSMDiD`), ``model`` (:func:`psm_did`).

Conventions
-----------
Nearest-neighbour matching reproduces R MatchIt 4.5 ``method = "nearest"`` (Ho, Imai, King &
Stuart 2011): greedy, treated units taken in decreasing order of the score (``order =
"largest"``); without replacement and ``k > 1``, every treated unit receives its first match
before any receives a second. A treated unit takes the closest available control; among equally
distant controls the first in data order wins (MatchIt's ``which.min``), so results do not
depend on anything but the data order. A caliper admits controls with ``|p_j - p_i| <=
caliper``; by default it is given in standard deviations of the score matched on over all units
(MatchIt ``std.caliper``), so ``caliper=0.2`` when matching on the linear index of a logit is
Austin's (2011) 0.2 SD of the logit.

Kernel and radius matching, common support, the weights, the analytic standard error of the ATT
and the balance statistics follow psmatch2 / pstest (Leuven & Sianesi 2003): for treated unit
``i`` the weight of control ``j`` is ``K((p_j - p_i) / h)`` normalised to sum to one over the
controls, with ``K(u) = 1 - u²`` on ``|u| <= 1`` (Epanechnikov), the standard normal density
(Gaussian) or ``1`` on ``|u| <= 1`` (radius matching, ``h`` = caliper); a treated unit with no control inside
the kernel window is unmatched (psmatch2 sets ``_support = 0``).

References
----------
Rosenbaum, P. R. & Rubin, D. B. (1983). The central role of the propensity score in
    observational studies for causal effects. *Biometrika* 70(1), 41-55.
Rosenbaum, P. R. & Rubin, D. B. (1985). Constructing a control group using multivariate matched
    sampling methods that incorporate the propensity score. *The American Statistician* 39(1),
    33-38.
Heckman, J. J., Ichimura, H. & Todd, P. E. (1997). Matching as an econometric evaluation
    estimator: evidence from evaluating a job training programme. *Review of Economic Studies*
    64(4), 605-654.
Heckman, J. J., Ichimura, H. & Todd, P. E. (1998). Matching as an econometric evaluation
    estimator. *Review of Economic Studies* 65(2), 261-294.
Leuven, E. & Sianesi, B. (2003). PSMATCH2: Stata module to perform full Mahalanobis and
    propensity score matching, common support graphing, and covariate imbalance testing.
    Statistical Software Components S432001, Boston College.
Ho, D. E., Imai, K., King, G. & Stuart, E. A. (2011). MatchIt: nonparametric preprocessing for
    parametric causal inference. *Journal of Statistical Software* 42(8).
Abadie, A. & Imbens, G. W. (2008). On the failure of the bootstrap for matching estimators.
    *Econometrica* 76(6), 1537-1557.
Austin, P. C. (2011). Optimal caliper widths for propensity-score matching when estimating
    differences in means and differences in proportions in observational studies.
    *Pharmaceutical Statistics* 10(2), 150-161.
"""

from __future__ import annotations

from .balance import Balance, balance
from .matching import (
    Matching,
    common_support,
    kernel_match,
    match,
    nearest_neighbor_match,
    radius_match,
)
from .model import psm_did
from .results import PSMDiD
from .score import KERNELS, METHODS, MODELS, PropensityScore, propensity_score

__all__ = ["Balance", "KERNELS", "METHODS", "MODELS", "Matching", "PSMDiD", "PropensityScore", "balance", "common_support", "kernel_match", "match", "nearest_neighbor_match", "propensity_score", "psm_did", "radius_match"]

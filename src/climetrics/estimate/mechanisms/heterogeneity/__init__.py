"""Heterogeneity analysis: does the policy effect differ across groups of units?

Seed 000 (sec. 6.2, Table 8) splits cities at the mean of residents' disposable income and
adds the interaction ``DID x high income`` to the baseline regression; seed 002 compares
subsamples by location, city size and industrial structure. This module does both, on one
group definition, and tests the difference:

1. **Groups** are defined per unit (never per observation, so a unit cannot switch group
   because of the policy): a time-invariant ``by`` column is used as it is; a time-varying one
   is summarised by the unit's mean over the **common pre-treatment window** -- the periods
   before the first period in which any unit is treated -- so every unit is measured over the
   same years and before any effect of the policy (if some unit is treated from the first
   period, each unit's own untreated periods are used instead). ``baseline_period`` fixes the
   value at one period instead. Numeric values are split at the median or the mean (``"low"``
   at or below, ``"high"`` above, as seed 000: "above the mean"), or into ``q`` quantile groups
   ``Q1..Qq`` (``Qk`` holds the values in ``(cut_{k-1}, cut_k]``), or at fixed thresholds
   (``split=("threshold", c)``: ``"low"`` at or below ``c``, ``"high"`` above); categorical
   columns (region, coastal, ...) give one group per category. The split is over units,
   unweighted. ``by`` may also name a grouping bundled in :mod:`climetrics.data.groupings`
   (``"city_cluster"``, ``"resource_based"``, ``"sub_provincial"``, ``"size_class"`` with a
   ``population`` column, ...) that the panel does not have as a column: the panel's units are
   matched to the bundled city table by adcode or name.
2. **Subsample regressions**: the baseline TWFE regression on each group separately (time
   effects and control coefficients free to differ across groups).
3. **Interacted model** on the pooled sample with the common unit and time fixed effects::

       y_it = sum_g beta_g (D_it x 1[g_i = g]) + X_it' gamma [+ sum_{g>1} (X_it x 1[g_i = g])' delta_g]
              + mu_i + lambda_t + e_it

   The group main effects are absorbed by the unit FE. Only the treatment is interacted by
   default; ``interact_controls=True`` also lets the control coefficients differ by group. The
   time effects stay common. ``beta_g`` is the effect in group ``g``; the **Wald test** of
   ``beta_1 = ... = beta_q`` uses the model's clustered covariance:
   ``F = (R b)' (R V R')^{-1} (R b) / (q - 1)`` with rows of ``R`` the differences to the first
   group, p-value from ``F(q - 1, G - 1)``.
4. **Seed-000 interaction term**: the same model parametrised as ``D + sum_{g>1} D x 1[g]``,
   whose ``D x high`` coefficient is the difference between the groups (a reparametrisation:
   its Wald statistic equals that of step 3).
5. **Permutation test** of the difference: the group labels are permuted across units (group
   sizes kept), the interacted model is re-estimated and the studentized statistic (the Wald F
   of the differences; ``t²`` for two groups) is compared with the observed one,
   ``p = (1 + #{F_r >= F}) / (1 + R)`` (Phipson & Smyth 2010; studentizing keeps the test
   valid for unequal group variances, Chung & Romano 2013). For two groups the p-value of the
   raw difference ``|beta_high - beta_low|`` is reported too.

   The permutations are **batched**: only the interacted columns change with the labels, so
   ``y`` and the common regressors are projected on the fixed effects once; all permuted
   ``D x 1[g]`` (and ``X x 1[g]``) columns are within-transformed together, the common
   regressors are partialled out with one QR factorisation (Frisch–Waugh–Lovell), and the
   coefficients and CRV1 covariances of every draw follow from batched small solves and one
   sparse cluster-sum product -- no regression is re-run through pyfixest. With the observed
   labels the kernel reproduces the :func:`~climetrics.twfe` fit (checked in the tests).

Modules: ``groups`` (:func:`define_groups`), ``permutation`` (the batched permutation kernel),
``results`` (:class:`HeterogeneityResult`), ``model`` (:func:`heterogeneity`).

References
----------
Chung, E. and Romano, J. P. (2013). Exact and asymptotically robust permutation tests.
*Annals of Statistics* 41(2), 484–507.

Phipson, B. and Smyth, G. K. (2010). Permutation p-values should never be zero.
*Statistical Applications in Genetics and Molecular Biology* 9(1).

Cameron, A. C. and Miller, D. L. (2015). A practitioner's guide to cluster-robust inference.
*Journal of Human Resources* 50(2), 317–372.
"""

from __future__ import annotations

from .groups import SPLITS, GroupDefinition, define_groups
from .model import heterogeneity
from .results import HeterogeneityResult

__all__ = ["GroupDefinition", "HeterogeneityResult", "SPLITS", "define_groups", "heterogeneity"]

"""Mechanism (mediation) analysis: Baron–Kenny steps, Sobel–Goodman tests, cluster bootstrap.

The stepwise mechanism test of the seeds (seed 002, eqs. 4–5 and Tables 9–11; seed 000
sec. 6.1) estimates, with the fixed effects and clustered standard errors of the baseline::

    (1) y_it = c  * D_it + X_it' g1 + FE + e1        total effect c
    (2) M_it = a  * D_it + X_it' g2 + FE + e2        policy -> mediator a
    (3) y_it = c' * D_it + b * M_it + X_it' g3 + FE + e3

and calls ``a * b`` the indirect (mediated) effect and ``c'`` the direct effect (Baron &
Kenny 1986). On a common sample, OLS gives the identity ``c = c' + a b`` exactly
(MacKinnon, Warsi & Dwyer 1995), also with absorbed fixed effects (Frisch–Waugh–Lovell).

Tests of ``a b`` (first-order delta method, normal reference distribution):

* Sobel (1982):    ``z = ab / sqrt(b² s_a² + a² s_b²)``
* Aroian (1947):   ``z = ab / sqrt(b² s_a² + a² s_b² + s_a² s_b²)``
* Goodman (1960):  ``z = ab / sqrt(b² s_a² + a² s_b² - s_a² s_b²)``; this "unbiased" variance
  is not positive when ``s_a² s_b² >= b² s_a² + a² s_b²``; dividing by ``s_a² s_b²``, exactly
  when ``t_a² + t_b² <= 1`` with ``t_a = a/s_a`` and ``t_b = b/s_b`` (both paths far from
  significant). The Goodman z is then undefined (NaN) and a note says so.

``s_a`` and ``s_b`` are the clustered (CRV1) standard errors of the two regressions. Stata's
``sgmediation`` reports the same three statistics with conventional standard errors.

Because ``a b`` is a product, its sampling distribution is skewed and the normal-theory tests
are conservative (MacKinnon, Lockwood, Hoffman, West & Sheets 2002). The recommended interval
is a bootstrap: here a **cluster bootstrap** that resamples whole clusters (units by default),
keeping each unit's time series intact, with percentile and bias-corrected (BC, Efron 1987;
Efron & Tibshirani 1993, ch. 14) confidence intervals.

Batched bootstrap
-----------------
Drawing clusters with replacement is the same as giving cluster ``g`` the frequency weight
``m_g`` (the number of times it is drawn; ``m ~ Multinomial(G, 1/G)``). A unit drawn twice
enters a resampled data set as two relabelled copies with identical data; each copy gets its
own unit fixed effect, whose fitted value is the same for both, so the least-squares problem is
the weighted one with weight ``m`` on that unit's rows and a single unit effect. Hence every
bootstrap fit is a frequency-weighted FE regression on the original rows, and:

1. The variables ``[y, M, D, X]`` of every draw are within-transformed with that draw's
   weights by weighted alternating projections, for a whole chunk of draws at once (an
   ``(n, draws, variables)`` array; one sparse group-sum product per fixed effect and sweep).
   For a balanced unit x time panel the weights are constant within units, so the weighted
   two-way projection is exact after one sweep (the closed form
   ``x - x̄_i - x̄_t^w + x̄^w`` with weighted period means).
2. One weighted cross-product matrix ``Σ_i m_i v~_i v~_i'`` per draw holds everything the three
   regressions need: ``a``, ``b``, ``c'`` and ``c`` of every draw come from small batched
   linear solves of its blocks. No regression is re-run through pyfixest.

The equality of these draws with explicit fits on resampled data (duplicated, relabelled
units) is checked in ``tests/test_mediation.py``.

Modules: ``sobel`` (closed-form tests), ``bootstrap`` (the batched cluster bootstrap and its
intervals), ``results`` (:class:`MediationPath`, :class:`MediationResult`), ``model``
(:func:`mediation`).

References
----------
Baron, R. M. and Kenny, D. A. (1986). The moderator–mediator variable distinction in social
psychological research. *Journal of Personality and Social Psychology* 51(6), 1173–1182.

Sobel, M. E. (1982). Asymptotic confidence intervals for indirect effects in structural
equation models. *Sociological Methodology* 13, 290–312.

MacKinnon, D. P., Krull, J. L. and Lockwood, C. M. (2000). Equivalence of the mediation,
confounding and suppression effect. *Prevention Science* 1(4), 173–181.

MacKinnon, D. P., Lockwood, C. M., Hoffman, J. M., West, S. G. and Sheets, V. (2002). A
comparison of methods to test mediation and other intervening variable effects.
*Psychological Methods* 7(1), 83–104.

MacKinnon, D. P., Lockwood, C. M. and Williams, J. (2004). Confidence limits for the
indirect effect: distribution of the product and resampling methods. *Multivariate Behavioral
Research* 39(1), 99–128.

Efron, B. (1987). Better bootstrap confidence intervals. *JASA* 82(397), 171–185.

Zhao, X., Lynch, J. G. and Chen, Q. (2010). Reconsidering Baron and Kenny: myths and truths
about mediation analysis. *Journal of Consumer Research* 37(2), 197–206.

Jiang, T. (2022). Mediating effects and moderating effects in causal inference. *China
Industrial Economics* 2022(5), 100–120 (in Chinese).
"""

from __future__ import annotations

from .bootstrap import (
    MediationBootstrapJob,
    bias_corrected_ci,
    bootstrap_gram,
    cluster_bootstrap_weights,
    mediation_bootstrap_kernel,
    percentile_ci,
)
from .model import mediation
from .results import MediationPath, MediationResult
from .sobel import indirect_effect_tests

__all__ = ["MediationBootstrapJob", "MediationPath", "MediationResult", "bias_corrected_ci", "bootstrap_gram", "cluster_bootstrap_weights", "indirect_effect_tests", "mediation", "mediation_bootstrap_kernel", "percentile_ci"]

"""The wild cluster bootstrap of a TWFE coefficient as a function of its own.

``wild_cluster_bootstrap(panel, y, treat, ...)`` fits :func:`climetrics.twfe` and tests the
treatment coefficient(s) with the wild cluster bootstrap of
:mod:`climetrics.core.wild_bootstrap` (WCR by default; Cameron, Gelbach & Miller 2008;
MacKinnon, Nielsen & Webb 2023), returning the bootstrap p-value, the analytic t and the
test-inverted confidence interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...core.wild_bootstrap import WildBootstrapResult, WildOptions
from ...errors import EstimationError
from ...panel import Panel
from .twfe import _as_list, twfe


def wild_cluster_bootstrap(
    panel: Panel,
    y: str,
    treat: str | Sequence[str],
    controls: str | Sequence[str] = (),
    *,
    fe: str | Sequence[str] | None = None,
    cluster: str = "unit",
    n_draws: int = 9999,
    seed: int = 0,
    alpha: float = 0.05,
    backend: Any = None,
    weights_type: str = "rademacher",
    impose_null: bool = True,
    p_type: str = "symmetric",
    null: float = 0.0,
    term: str | None = None,
    ssc: str = "nested",
) -> WildBootstrapResult:
    """Wild cluster bootstrap test of ``H0: beta_term = null`` in the TWFE regression
    ``y ~ treat + controls | fe`` with errors clustered by ``cluster``.

    Parameters
    ----------
    panel, y, treat, controls, fe, ssc
        The regression, as in :func:`climetrics.twfe`.
    cluster
        Bootstrap (and CRV1) cluster variable; ``"unit"`` is the panel's unit column.
    n_draws, seed
        Bootstrap draws and seed. Rademacher weights with ``2^G <= n_draws`` enumerate all
        ``2^G`` sign vectors (exact; the seed is then unused).
    alpha
        Level of the test-inverted confidence interval.
    backend
        Replicate backend for the draws (``"serial"``, ``"processes"``, ``"dask"``).
    weights_type
        ``"rademacher"`` or ``"webb"`` (six-point; preferable with fewer than about 12 clusters).
    impose_null
        True: WCR (restricted residuals, recommended); False: WCU.
    p_type
        ``"symmetric"`` or ``"equal-tailed"``.
    null
        Null value ``h0`` of the test.
    term
        Treatment to test (default: every treatment column, with the same draws).

    Returns
    -------
    WildBootstrapResult
        ``tidy()`` has the bootstrap p-value and interval per tested term plus the analytic
        p-value, number of clusters and treated clusters, draws and whether they were enumerated.
    """
    treat_l = _as_list(treat)
    if term is not None and term not in treat_l:
        raise EstimationError(f"term '{term}' is not a treatment; treatments are {treat_l}")
    if cluster is None:
        raise EstimationError("the wild cluster bootstrap needs a cluster variable (cluster=None given)")
    options = WildOptions(n_draws=n_draws, weights_type=weights_type, impose_null=impose_null,
                          p_type=p_type, seed=seed, alpha=alpha, null=null, backend=backend)
    fit = twfe(panel, y, treat_l, controls, fe=fe, cluster=cluster, ssc=ssc, inference=options)
    tests = [t for t in fit.meta["wild"] if term is None or t.term == term]
    return WildBootstrapResult(tests, fit)

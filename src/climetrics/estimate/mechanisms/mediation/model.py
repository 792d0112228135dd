"""Mediation estimation: the three Baron-Kenny regressions per mediator, the tests and the bootstrap."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ....core.demean import FixedEffects, find_singletons
from ....errors import EstimationError, PanelError
from ....panel import Panel
from ...baseline.twfe import _as_list, twfe
from .bootstrap import (
    MediationBootstrapJob,
    _default_chunk,
    bias_corrected_ci,
    cluster_bootstrap_weights,
    mediation_bootstrap_kernel,
    percentile_ci,
)
from .results import MediationPath, MediationResult
from .sobel import _test, indirect_effect_tests


def _resolve(panel: Panel, fe, cluster) -> tuple[list[str], str | None]:
    fe_l = [panel.unit, panel.time] if fe is None else _as_list(fe)
    fe_l = [panel.unit if f == "unit" else panel.time if f == "time" else f for f in fe_l]
    clus = panel.unit if cluster == "unit" else cluster
    return fe_l, clus


def _check_mediator(
    df: pd.DataFrame, y: str, treat: str, m: str, fe_codes: list[np.ndarray], unit: str
) -> None:
    """Degenerate mediators: the outcome itself, constant, or absorbed by the fixed effects."""
    v = df[m].to_numpy(float)
    if np.array_equal(v, df[y].to_numpy(float)):
        raise EstimationError(
            f"mediator '{m}' is identical to the outcome '{y}' (same value in every row used); "
            "a variable cannot mediate its own effect"
        )
    if np.array_equal(v, df[treat].to_numpy(float)):
        raise EstimationError(f"mediator '{m}' is identical to the treatment '{treat}'")
    if np.nanmax(v) == np.nanmin(v):
        raise EstimationError(
            f"mediator '{m}' has no variation: it equals {v[0]:g} in every row used"
        )
    if fe_codes:
        r = FixedEffects(fe_codes).demean(v)
        if np.linalg.norm(r) <= 1e-9 * np.linalg.norm(v - v.mean()):
            raise EstimationError(
                f"mediator '{m}' has no variation left after the fixed effects (e.g. it is "
                f"constant within each {unit}); its effect is absorbed and b cannot be estimated"
            )


def mediation(
    panel: Panel,
    y: str,
    treat: str,
    mediators: str | Sequence[str],
    controls: str | Sequence[str] = (),
    *,
    fe: str | Sequence[str] | None = None,
    cluster: str | None = "unit",
    n_draws: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    backend: Any = None,
    scheduler: str | None = None,
    n_workers: int | None = None,
    chunk_size: int | None = None,
) -> MediationResult:
    """Baron–Kenny mediation analysis with Sobel–Goodman tests and a cluster bootstrap.

    For each mediator ``M`` three TWFE regressions are fitted with :func:`~climetrics.twfe`
    on the rows where ``y``, ``treat``, ``M`` and the controls are all observed (so that
    ``c = c' + a b`` holds exactly): ``y ~ treat`` (c), ``M ~ treat`` (a) and
    ``y ~ treat + M`` (c', b), each with ``controls``, fixed effects ``fe`` and standard errors
    clustered by ``cluster``.

    Parameters
    ----------
    panel
        The data.
    y, treat
        Outcome and treatment (e.g. the DID dummy).
    mediators
        One or several mediator columns; each is analysed separately (one column block each
        in :meth:`MediationResult.table`).
    controls
        Control variables, used in all three regressions.
    fe, cluster
        As in :func:`~climetrics.twfe` (default unit and time FE, clustered by unit;
        ``cluster=None``: heteroskedasticity-robust standard errors). The bootstrap resamples
        the clusters (units when ``cluster`` is None, so each unit's time series stays intact).
    n_draws
        Number of cluster-bootstrap draws of ``a b`` (0 to skip the bootstrap).
    seed
        Seed of the bootstrap draws (the same seed gives the same draws for every mediator
        that uses the same sample).
    alpha
        The bootstrap intervals have level ``1 - alpha``; ``alpha`` is also the level of the
        Sobel / Aroian / Goodman decisions and of the judgements in :attr:`MediationPath.kind`.
    backend, scheduler, n_workers, chunk_size
        Where the bootstrap draws run (:mod:`climetrics.core.replicate`): ``"serial"`` (default),
        ``"processes"`` or ``"dask"`` (``scheduler="tcp://host:port"``), ``chunk_size`` draws
        per task. Every draw has its own random stream, so the draws are the same on every
        backend.

    Returns
    -------
    MediationResult

    Raises
    ------
    EstimationError
        If a mediator is the outcome, the treatment, has no variation or is absorbed by the
        fixed effects, or is collinear with the treatment.

    References
    ----------
    Baron & Kenny (1986); Sobel (1982); MacKinnon, Krull & Lockwood (2000); MacKinnon et al.
    (2002); Efron (1987). See the module docstring.
    """
    meds = _as_list(mediators)
    ctrl = _as_list(controls)
    if not meds:
        raise EstimationError("mediation needs at least one mediator")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    if n_draws < 0:
        raise ValueError(f"n_draws must be >= 0, got {n_draws}")
    for m in meds:
        if m == y:
            raise EstimationError(
                f"mediator '{m}' is the outcome itself; a variable cannot mediate its own effect"
            )
        if m == treat:
            raise EstimationError(f"mediator '{m}' is the treatment itself")
        if m in ctrl:
            raise PanelError(f"mediator '{m}' also appears among the controls")
    if len(set(meds)) != len(meds):
        raise PanelError(f"mediators are listed twice: {meds}")
    fe_l, clus = _resolve(panel, fe, cluster)
    panel.require([y, treat, *meds, *ctrl], context="mediation")
    panel.require(
        list(dict.fromkeys(fe_l + ([clus] if clus else []))), numeric=False, context="mediation"
    )

    paths: dict[str, MediationPath] = {}
    notes: list[str] = []
    n_used = {}
    for m in meds:
        where = {
            "backend": backend,
            "scheduler": scheduler,
            "n_workers": n_workers,
            "chunk_size": chunk_size,
        }
        paths[m] = _one_mediator(panel, y, treat, m, ctrl, fe_l, clus, n_draws, seed, alpha, where)
        n_used[m] = paths[m].total.n_obs
    if len(set(n_used.values())) > 1:
        notes.append(
            "Samples differ across mediators (rows with a missing mediator are dropped for that "
            "mediator only): " + ", ".join(f"{k}: N={v}" for k, v in n_used.items()) + "."
        )
    return MediationResult(
        y=y, treat=treat, controls=ctrl, paths=paths, n_draws=n_draws, seed=seed, alpha=alpha, notes=notes
    )


def _one_mediator(
    panel: Panel,
    y: str,
    treat: str,
    m: str,
    ctrl: list[str],
    fe_l: list[str],
    clus: str | None,
    n_draws: int,
    seed: int,
    alpha: float,
    where: dict[str, Any],
) -> MediationPath:
    df = panel.df
    cols = list(dict.fromkeys([y, treat, m, *ctrl, *fe_l, *([clus] if clus else [])]))
    complete = df[cols].notna().all(axis=1).to_numpy()
    notes: list[str] = []
    sub = panel
    if not complete.all():
        notes.append(f"{int((~complete).sum())} rows with missing values dropped for mediator {m}.")
        sub = panel.subset(complete, note=f"mediation sample ({m})")
    sdf = sub.df
    fe_codes = [pd.factorize(sdf[f], sort=True)[0] for f in fe_l]
    keep = ~find_singletons(fe_codes) if fe_codes else np.ones(len(sdf), bool)
    if not keep.all():
        sub = sub.subset(keep, note="drop singletons")
        sdf = sub.df
        fe_codes = [pd.factorize(sdf[f], sort=True)[0] for f in fe_l]
    _check_mediator(sdf, y, treat, m, fe_codes, panel.unit)

    kw = dict(fe=fe_l, cluster=clus)
    total = twfe(sub, y, treat, ctrl, **kw)
    first = twfe(sub, m, treat, ctrl, **kw)
    second = twfe(sub, y, treat, [m, *ctrl], **kw)
    if m not in second.terms:
        raise EstimationError(
            f"mediator '{m}' is collinear with the treatment '{treat}' and the fixed effects; "
            "b and the direct effect cannot be separated"
        )
    for r, lab in ((total, f"{y} (total)"), (first, m), (second, f"{y} (with {m})")):
        r.label = lab
    if not (total.n_obs == first.n_obs == second.n_obs == len(sdf)):
        raise EstimationError(  # pragma: no cover - defensive
            f"the three mediation regressions for '{m}' used different samples "
            f"({total.n_obs}, {first.n_obs}, {second.n_obs} rows)"
        )
    tests = indirect_effect_tests(first.coef(treat), first.se(treat), second.coef(m), second.se(m),
                                  alpha=alpha)
    if not np.isfinite(_test(tests, "goodman").statistic):
        notes.append(
            f"Goodman test undefined for {m}: its variance b²s_a² + a²s_b² - s_a²s_b² is not "
            "positive (both a and b are estimated very imprecisely)."
        )

    # ------------------------------------------------------------ cluster bootstrap
    boot_key = clus or panel.unit
    clusters, ccodes = np.unique(sdf[boot_key].to_numpy(), return_inverse=True)
    g = clusters.size
    weights = cluster_bootstrap_weights(g, seed, np.arange(n_draws))
    boot = pd.DataFrame(columns=["a", "b", "c_prime", "c", "ab"], dtype=float)
    ci_p = ci_bc = (float("nan"), float("nan"))
    if n_draws:
        from ....core.replicate import map_replicates

        ctrl_a = list(first.meta["controls"])
        ctrl_b = [c for c in second.meta["controls"] if c != m]
        ctrl_c = list(total.meta["controls"])
        names = list(dict.fromkeys([y, m, treat, *ctrl_a, *ctrl_b, *ctrl_c]))
        pos = {c: i for i, c in enumerate(names)}
        V = sdf[names].to_numpy(float)
        job = MediationBootstrapJob(
            V,
            fe_codes,
            ccodes.ravel(),
            g,
            seed,
            pos[y],
            pos[m],
            pos[treat],
            [pos[c] for c in ctrl_a],
            [pos[c] for c in ctrl_b],
            [pos[c] for c in ctrl_c],
        )
        out = map_replicates(
            mediation_bootstrap_kernel,
            n_draws,
            job,
            default_chunk=_default_chunk(*V.shape),
            label="mediation bootstrap draws",
            **where,
        )
        void = out[:, 4] > 0
        boot = pd.DataFrame(out[:, :4], columns=["a", "b", "c_prime", "c"])
        boot.loc[void, :] = np.nan
        boot["ab"] = boot["a"] * boot["b"]
        n_void = int(boot["ab"].isna().sum())
        if n_void:
            notes.append(
                f"{n_void} of {n_draws} bootstrap draws for {m} were degenerate (no treatment "
                "variation or singular design) and are excluded from the intervals."
            )
        ab_hat = first.coef(treat) * second.coef(m)
        ci_p = percentile_ci(boot["ab"].to_numpy(), alpha)
        ci_bc = bias_corrected_ci(boot["ab"].to_numpy(), ab_hat, alpha)
    return MediationPath(
        mediator=m,
        treat=treat,
        y=y,
        total=total,
        first=first,
        second=second,
        tests=tests,
        alpha=alpha,
        boot=boot,
        boot_weights=weights,
        boot_clusters=clusters,
        ci_percentile=ci_p,
        ci_bc=ci_bc,
        notes=notes,
        seed=seed,
    )

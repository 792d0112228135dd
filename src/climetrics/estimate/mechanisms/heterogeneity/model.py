"""Heterogeneity estimation: subsample fits, the interacted model and the Wald test (:func:`heterogeneity`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ....core.demean import find_singletons
from ....core.results import (
    EstimationResult,
    TestResult,
    wald_test,
)
from ....data import GROUPINGS
from ....errors import EstimationError, PanelError
from ....panel import Panel
from ...baseline.twfe import _as_list, twfe
from .groups import _bundled_grouping, define_groups
from .permutation import _permutation
from .results import HeterogeneityResult


def _term_name(panel: Panel, base: str, group: str) -> str:
    name = f"{base} x {group}"
    if name in panel.columns:
        raise PanelError(f"cannot create interaction column '{name}': a column of that name exists")
    return name


def heterogeneity(
    panel: Panel,
    y: str,
    treat: str,
    controls: str | Sequence[str] = (),
    *,
    by: str,
    split: str | tuple | None = None,
    q: int | None = None,
    baseline_period: int | None = None,
    population: str | None = None,
    population_unit: str | None = None,
    include_unverified: bool = False,
    interaction: bool = True,
    subsamples: bool = True,
    interact_controls: bool = False,
    fe: str | Sequence[str] | None = None,
    cluster: str | None = "unit",
    n_draws: int = 999,
    seed: int = 0,
    alpha: float = 0.05,
) -> HeterogeneityResult:
    """Heterogeneous treatment effects across groups of units.

    Parameters
    ----------
    panel, y, treat, controls
        Data, outcome, treatment (e.g. the DID dummy) and controls of the baseline model.
    by, split, q, baseline_period
        Group definition; see :func:`define_groups`. ``by`` is a column or, if the panel has no
        such column, a bundled grouping (:data:`climetrics.data.GROUPINGS`: ``"coastal"``,
        ``"region"``, ``"city_cluster"``, ``"sub_provincial"``, ``"resource_based"``,
        ``"resource_type"``, ``"size_class"``), matched to the panel's units by adcode or
        city name. ``split`` defaults to ``"category"`` for bundled groupings and
        ``"median"`` otherwise (``split`` is ``"median"``, ``"mean"``, ``("threshold", c)``,
        ``"quantile"`` with ``q`` groups, or ``"category"``).
    population, population_unit
        For ``by="size_class"``: the population column and its unit (``"persons"`` or
        ``"10k persons"``), see :func:`climetrics.data.city_size_class`.
    include_unverified
        Use the entries of a bundled list that are not verified against a public source
        (otherwise those units get no group and are left out, with a note).
    interaction
        Fit the pooled interacted model, the Wald test of equal effects and the seed-000
        ``treat x group`` regression.
    subsamples
        Fit the baseline TWFE regression separately in every group.
    interact_controls
        Also interact the controls with the group dummies in the pooled model.
    fe, cluster
        As in :func:`~climetrics.twfe` (default unit and time FE, clustered by unit;
        ``cluster=None``: heteroskedasticity-robust standard errors).
    n_draws
        Permutations of the group labels across units for the permutation test (0 to skip).
    seed
        Seed of the permutations.
    alpha
        Level at which the Wald and permutation tests decide (their ``reject``).

    Returns
    -------
    HeterogeneityResult

    Raises
    ------
    EstimationError
        If a group has no treated units, a subsample regression cannot be estimated, or fewer
        than two groups can be formed.
    """
    if not (interaction or subsamples):
        raise ValueError("nothing to estimate: both interaction and subsamples are False")
    if n_draws < 0:
        raise ValueError(f"n_draws must be >= 0, got {n_draws}")
    ctrl = _as_list(controls)
    fe_l = [panel.unit, panel.time] if fe is None else _as_list(fe)
    fe_l = [panel.unit if f == "unit" else panel.time if f == "time" else f for f in fe_l]
    clus = panel.unit if cluster == "unit" else cluster
    panel.require([y, treat, *ctrl], context="heterogeneity")
    panel.require(list(dict.fromkeys(fe_l + ([clus] if clus else []))), numeric=False,
                  context="heterogeneity")
    if by in (y, treat):
        raise PanelError(f"cannot group by '{by}': it is the outcome or the treatment")
    notes: list[str] = []
    if by not in panel.columns and by in GROUPINGS:
        panel, note = _bundled_grouping(
            panel, by, population=population, population_unit=population_unit,
            include_unverified=include_unverified, treat=treat, baseline_period=baseline_period,
        )
        notes.append(note)
        split = "category" if split is None else split
    elif population is not None:
        raise ValueError(f"population= is only used with the bundled by='size_class' (got by={by!r})")
    groups = define_groups(panel, by, split=split or "median", q=q, baseline_period=baseline_period, treat=treat)
    labels = groups.labels

    # ------------------------------------------------------------ estimation sample
    df = panel.df
    grp = groups.group_of(df[panel.unit])
    cols = list(dict.fromkeys([y, treat, *ctrl, *fe_l, *([clus] if clus else [])]))
    use = (grp.notna() & df[cols].notna().all(axis=1)).to_numpy()
    sub = panel.subset(use, note=f"heterogeneity sample ({by})") if not use.all() else panel
    if fe_l:
        codes = [pd.factorize(sub.df[f], sort=True)[0] for f in fe_l]
        single = find_singletons(codes)
        if single.any():
            sub = sub.subset(~single, note="drop singletons")
    sgrp = groups.group_of(sub.df[panel.unit]).to_numpy()
    d = sub.df[treat].astype(float).to_numpy()
    for g in labels:
        in_g = sgrp == g
        if not in_g.any():
            raise EstimationError(f"group '{g}' of '{by}' has no observations in the estimation sample")
        if not (d[in_g] != 0).any():
            n_u = sub.df.loc[in_g, panel.unit].nunique()
            raise EstimationError(
                f"group '{g}' of '{by}' has no treated units ({n_u} units, {treat} = 0 throughout); "
                "the effect cannot be estimated in this group - merge groups or use fewer quantiles"
            )

    kw = dict(fe=fe_l, cluster=clus)
    subs: dict[str, EstimationResult] = {}
    if subsamples:
        for g in labels:
            part = sub.subset(sgrp == g, note=f"{by} = {g}")
            try:
                res = twfe(part, y, treat, ctrl, **kw)
            except EstimationError as e:
                raise EstimationError(f"subsample {by} = '{g}': {e}") from e
            res.label = f"{by}: {g}"
            subs[g] = res

    group_terms = {g: _term_name(sub, treat, g) for g in labels}
    diff_terms = {g: group_terms[g] for g in labels[1:]}
    interacted = inter = wald = perm = draws = assignments = perm_units = None
    if interaction:
        dummies = {g: (sgrp == g).astype(float) for g in labels}
        new = {group_terms[g]: d * dummies[g] for g in labels}
        ctrl_terms: dict[str, tuple[str, str]] = {}
        if interact_controls:
            for g in labels[1:]:
                for c in ctrl:
                    name = _term_name(sub, c, g)
                    ctrl_terms[name] = (c, g)
                    new[name] = sub.df[c].astype(float).to_numpy() * dummies[g]
        aug = sub.assign(**new)
        extra_ctrl = [*ctrl, *ctrl_terms]
        interacted = twfe(aug, y, [group_terms[g] for g in labels], extra_ctrl, **kw)
        interacted.label = f"{treat} by {by}"
        inter = twfe(aug, y, [treat, *diff_terms.values()], extra_ctrl, **kw)
        inter.label = f"{treat} x {by}"
        dropped = [c for c in extra_ctrl if c not in inter.meta["controls"]]
        if dropped:
            notes.append(f"Dropped from the interacted model (collinear): {', '.join(dropped)}.")
        wald = _wald_equal(interacted, [group_terms[g] for g in labels], alpha)
        if n_draws:
            perm, draws, assignments, perm_units = _permutation(
                sub, y, treat, groups, sgrp, inter, ctrl_terms, fe_l, clus, n_draws, seed, diff_terms,
                alpha,
            )
            if clus is None:
                notes.append(
                    "Without clustering, the permutation statistic uses a heteroskedasticity-"
                    "robust variance (each observation its own cluster, factor N/(N-K))."
                )
            if perm.details["n_valid"] < n_draws:
                notes.append(
                    f"{n_draws - perm.details['n_valid']} of {n_draws} permutations left a group without "
                    "treatment variation and were discarded."
                )
    return HeterogeneityResult(
        y=y,
        treat=treat,
        controls=ctrl,
        groups=groups,
        subsamples=subs,
        interacted=interacted,
        interaction=inter,
        wald=wald,
        permutation=perm,
        perm_draws=draws,
        group_terms=group_terms,
        diff_terms=diff_terms,
        notes=notes,
        perm_assignments=assignments,
        perm_units=perm_units,
    )


def _wald_equal(res: EstimationResult, terms: list[str], alpha: float = 0.05) -> TestResult:
    """Wald test of ``beta_1 = ... = beta_q``: ``F = (Rb)'(RVR')^{-1}(Rb)/(q-1)`` with rows of
    ``R`` the differences to the first group, F(q-1, df_t) (chi² without t degrees of freedom)."""
    idx = [res.terms.index(t) for t in terms]
    b = res.coefs["estimate"].to_numpy()[idx]
    V = np.asarray(res.cov)[np.ix_(idx, idx)]
    k = len(terms)
    R = np.hstack([-np.ones((k - 1, 1)), np.eye(k - 1)])
    return wald_test(b, V, restriction=R, name="Wald test of equal effects",
                     null="the effect is the same in every group", df_denom=res.meta.get("df_t"),
                     alpha=alpha)



"""Placebo (randomization-inference) tests of a staggered DID estimate.

The seeds' design: draw pseudo-treated units at random -- as many as really treated, keeping
the real distribution of adoption years -- re-estimate the baseline TWFE regression, repeat
(500 times in seeds 000 and 002), and compare the real estimate with the placebo distribution.
Three families (e.g. Cao & Dowd 2019; the in-space/in-time terminology of Abadie et al. 2015):

* ``"space"``: random units receive the real adoption years (permuted among them);
* ``"time"``: the real treated units receive random adoption years;
* ``"mixed"``: random units receive random adoption years.

All draws are estimated in one batched computation (:func:`.batched.batched_twfe`): the fixed-
effect projection of every pseudo-treatment column at once and a clustered SE per draw, equal
to separate fits. Each draw has its own random stream spawned from one
:class:`numpy.random.SeedSequence`, so results do not depend on how draws are chunked.

The randomization-inference p-value is ``(1 + #{draws at least as extreme}) / (1 + R)``
(Phipson & Smyth 2010), two-sided on |beta| and one-sided to the left and right.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...core.results import EstimationResult, Result
from ...errors import EstimationError
from ...panel import Panel
from ...report.tables import Table, fmt
from ..baseline.event_study import adoption_year
from ..baseline.twfe import _as_list, twfe

KINDS = ("space", "time", "mixed")


@dataclass
class PlaceboResult(Result):
    """Placebo distribution, the real estimate and randomization-inference p-values."""

    kind: str
    actual: EstimationResult
    treat: str
    draws: pd.DataFrame  # draw, coef, se, tstat, pvalue
    p_two_sided: float
    p_left: float
    p_right: float
    n_degenerate: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def estimate(self) -> float:
        return self.actual.coef(self.treat)

    def summary(self) -> dict[str, float]:
        c = self.draws["coef"].dropna()
        p = self.draws["pvalue"].dropna()
        return {
            "draws": int(len(c)),
            "actual": self.estimate,
            "placebo_mean": float(c.mean()),
            "placebo_sd": float(c.std(ddof=1)),
            "share_p_below_0.10": float((p < 0.10).mean()),
            "share_p_below_0.05": float((p < 0.05).mean()),
            "ri_p_two_sided": self.p_two_sided,
            "ri_p_left": self.p_left,
            "ri_p_right": self.p_right,
        }

    def table(self) -> Table:
        s = self.summary()
        rows = [
            ["Actual estimate", fmt(s["actual"], 4)],
            ["Placebo draws", fmt(s["draws"])],
            ["Mean of placebo estimates", fmt(s["placebo_mean"], 4)],
            ["SD of placebo estimates", fmt(s["placebo_sd"], 4)],
            ["Share of placebo p < 0.10", fmt(s["share_p_below_0.10"], 3)],
            ["Share of placebo p < 0.05", fmt(s["share_p_below_0.05"], 3)],
            ["RI p-value, two-sided", fmt(s["ri_p_two_sided"], 3)],
            ["RI p-value, left (placebo <= actual)", fmt(s["ri_p_left"], 3)],
            ["RI p-value, right (placebo >= actual)", fmt(s["ri_p_right"], 3)],
        ]
        what = {
            "space": "random units given the real adoption years",
            "time": "the real treated units given random adoption years",
            "mixed": "random units given random adoption years",
        }[self.kind]
        notes = [
            f"Placebo ({self.kind}): {what}; the baseline TWFE regression re-estimated per draw. "
            "RI p-value = (1 + draws at least as extreme) / (1 + draws)."
        ] + self.notes
        if self.kind == "time":
            notes.append(
                "In-time draws keep the real treated units, so when the policy works their distribution "
                "is centred away from zero; the test asks whether the real timing matters."
            )
        return Table(
            columns=["Value"], rows=rows, title=f"Placebo test ({self.kind})", notes=notes, stub=""
        )

    def figure(self, *, title: str | None = None):
        """Kernel density of placebo estimates and their p-values (seeds 000/002 style),
        the real estimate marked by a vertical line."""
        from scipy.stats import gaussian_kde

        from ...report.figures import _pyplot

        plt = _pyplot()
        d = self.draws.dropna()
        fig, ax = plt.subplots(figsize=(6.4, 3.6))
        lo = min(d["coef"].min(), self.estimate)
        hi = max(d["coef"].max(), self.estimate)
        pad = 0.08 * (hi - lo)
        xs = np.linspace(lo - pad, hi + pad, 300)
        ax.plot(
            xs, gaussian_kde(d["coef"])(xs), color="#1f4e8c", label="Density of placebo estimates"
        )
        ax.set_xlabel("Estimated coefficient")
        ax.set_ylabel("Density")
        ax.axvline(
            self.estimate,
            color="#b3261e",
            ls="--",
            lw=1.2,
            label=f"Actual estimate ({self.estimate:.4f})",
        )
        ax2 = ax.twinx()
        ax2.scatter(
            d["coef"], d["pvalue"], s=6, alpha=0.45, color="#7a7a7a", label="p-value of each draw"
        )
        ax2.axhline(0.1, color="#7a7a7a", lw=0.8, ls=":")
        ax2.set_ylim(0, 1)
        ax2.set_ylabel("p-value")
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, frameon=False, fontsize=8, loc="upper left")
        if title:
            ax.set_title(title)
        ax.spines[["top"]].set_visible(False)
        return fig


def draw_adoption_years(
    real: np.ndarray, years: np.ndarray, kind: str, n_draws: int, seed: int
) -> np.ndarray:
    """Pseudo adoption years, shape (n_units, n_draws); ``inf`` marks untreated units.

    ``real`` holds each unit's real adoption year (``nan`` if never treated). Random adoption
    years are drawn uniformly from ``years[1:]`` so every pseudo-treated unit has at least one
    pre-period. Draw ``r`` uses its own stream (:func:`climetrics.core.replicate.replicate_rng`).
    """
    return adoption_draws(real, years, kind, np.arange(n_draws), seed)


def adoption_draws(
    real: np.ndarray, years: np.ndarray, kind: str, draws: np.ndarray, seed: int
) -> np.ndarray:
    """Columns ``draws`` of :func:`draw_adoption_years`, shape (n_units, len(draws))."""
    from ...core.replicate import replicate_rng

    if kind not in KINDS:
        raise EstimationError(f"placebo kind must be one of {KINDS}, got {kind!r}")
    treated = np.flatnonzero(np.isfinite(real))
    n_units, n_treat = real.size, treated.size
    batches = real[treated]
    out = np.full((n_units, len(draws)), np.inf)
    candidates = years[1:]
    for j, r in enumerate(draws):
        rng = replicate_rng(seed, r)
        units = treated if kind == "time" else rng.choice(n_units, size=n_treat, replace=False)
        out[units, j] = (
            rng.permutation(batches) if kind == "space" else rng.choice(candidates, size=n_treat)
        )
    return out


@dataclass(frozen=True)
class PlaceboJob:
    """Shared data of :func:`placebo_kernel`: the draw-independent part of the regression
    (:class:`.batched._Model`) and what is needed to draw pseudo-treatments in a worker."""

    model: Any  # batched._Model
    real: np.ndarray  # real adoption year per unit code (nan: never treated)
    years: np.ndarray  # sorted periods
    unit: np.ndarray  # unit code of every estimation row
    time: np.ndarray  # period of every estimation row
    kind: str
    seed: int


def placebo_kernel(draws: np.ndarray, job: PlaceboJob) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coefficient, unscaled CRV1 variance and degeneracy of placebo ``draws`` (replicate kernel)."""
    pseudo = adoption_draws(job.real, job.years, job.kind, draws, job.seed)
    d = (job.time[:, None] >= pseudo[job.unit]).astype(float)
    return job.model.treatment_moments(d)


def placebo_job(
    panel: Panel,
    y: str,
    treat: str,
    controls: Sequence[str],
    *,
    kind: str,
    seed: int,
    cluster: str = "unit",
    ssc: str = "nested",
) -> PlaceboJob:
    """The shared data of :func:`placebo_kernel` for a placebo test (see :func:`placebo_test`):
    the regression without the treatment, prepared once, and the real adoption years."""
    from ...core.batched import _Model
    from ...core.covariance import SmallSampleCorrection

    if kind not in KINDS:
        raise EstimationError(f"placebo kind must be one of {KINDS}, got {kind!r}")
    clus = panel.unit if cluster == "unit" else cluster
    g = adoption_year(panel, treat)
    df = panel.df
    cols = list(dict.fromkeys([y, *controls]))
    complete = df[cols].apply(pd.to_numeric).notna().all(axis=1).to_numpy()
    unit_codes, units = pd.factorize(df[panel.unit], sort=True)
    real = g.groupby(unit_codes).first().reindex(range(len(units))).to_numpy(float)
    years = np.sort(df[panel.time].unique())
    t = df[panel.time].to_numpy()[complete]
    uc = unit_codes[complete]
    X = df.loc[complete, list(controls)].to_numpy(float) if controls else None
    fe = [uc, pd.factorize(df[panel.time])[0][complete]]
    cl = pd.factorize(df[clus])[0][complete]
    rule = SmallSampleCorrection(k_fixef="nonnested" if ssc == "nested" else "full")
    y_used = df.loc[complete, y].to_numpy(float)
    # the draws are complete 0/1 columns, so one zero column selects the same rows
    model, _ = _Model.build(
        y_used, np.zeros(len(y_used)), X, fe, cl, rule, True, 1e-12, 10_000, 1e-9
    )
    return PlaceboJob(model, real, years, uc[model.rows], t[model.rows], kind, seed)


def placebo_test(
    panel: Panel,
    y: str,
    treat: str,
    controls: str | Sequence[str] = (),
    *,
    kind: str = "space",
    n_draws: int = 500,
    seed: int = 0,
    cluster: str | None = "unit",
    ssc: str = "nested",
    chunk_size: int | None = None,
    backend: Any = None,
    scheduler: str | None = None,
    n_workers: int | None = None,
) -> PlaceboResult:
    """Randomization-inference placebo test of the baseline TWFE estimate.

    Parameters
    ----------
    panel, y, treat, controls
        As in :func:`climetrics.twfe`; ``treat`` is the staggered 0/1 DID dummy.
    kind
        ``"space"`` (random units, real adoption years), ``"time"`` (real units, random years)
        or ``"mixed"``.
    n_draws
        Number of placebo draws (the seeds use 500).
    seed
        Seed of the draws; the same seed gives identical draws.
    cluster, ssc
        Clustered standard errors as in :func:`climetrics.twfe` (clustering is required: the
        batched kernel computes CRV1).
    chunk_size, backend, scheduler, n_workers
        Where the draws run (:mod:`climetrics.core.replicate`): ``backend="serial"`` (default),
        ``"processes"`` or ``"dask"`` (``scheduler="tcp://host:port"`` for a running cluster),
        in chunks of ``chunk_size`` draws. Results are identical on every backend.
    """
    from ...core.replicate import map_replicates

    if n_draws < 1:
        raise EstimationError("n_draws must be at least 1")
    if cluster is None:
        raise EstimationError(
            "placebo_test computes clustered (CRV1) standard errors; give cluster="
        )
    ctrl = _as_list(controls)
    actual = twfe(panel, y, treat, ctrl, cluster=cluster, ssc=ssc)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        job = placebo_job(panel, y, treat, ctrl, kind=kind, seed=seed, cluster=cluster, ssc=ssc)
        coef, var, degenerate = map_replicates(
            placebo_kernel,
            n_draws,
            job,
            backend=backend,
            scheduler=scheduler,
            n_workers=n_workers,
            chunk_size=chunk_size,
            default_chunk=job.model.default_chunk(),
            label="placebo draws",
        )
        fit = job.model.fit(coef, var, degenerate)
    notes = [str(w.message) for w in caught]
    draws = pd.DataFrame(
        {
            "draw": np.arange(n_draws),
            "coef": fit.coef,
            "se": fit.se,
            "tstat": fit.tstat,
            "pvalue": fit.pvalue,
        }
    )
    b = actual.coef(treat)
    c = draws["coef"].dropna().to_numpy()
    if c.size == 0:
        raise EstimationError(
            "every placebo draw was degenerate (no within variation in the pseudo-treatment)"
        )
    eps = 1e-12 * max(1.0, abs(b))  # ties within rounding count as "at least as extreme"
    p2 = (1 + np.sum(np.abs(c) >= abs(b) - eps)) / (1 + c.size)
    pl = (1 + np.sum(c <= b + eps)) / (1 + c.size)
    pr = (1 + np.sum(c >= b - eps)) / (1 + c.size)
    if fit.n_degenerate:
        notes.append(
            f"{fit.n_degenerate} degenerate draws (pseudo-treatment without variation) left out."
        )
    return PlaceboResult(
        kind=kind,
        actual=actual,
        treat=treat,
        draws=draws,
        p_two_sided=float(p2),
        p_left=float(pl),
        p_right=float(pr),
        n_degenerate=int(fit.n_degenerate),
        notes=notes,
    )

"""Placebo (randomization-inference) tests of a staggered DID estimate.

The seeds' design: draw pseudo-treated units at random -- as many as really treated, keeping
the real distribution of adoption years -- re-estimate the baseline TWFE regression, repeat
(500 times in seeds 000 and 002), and compare the real estimate with the placebo distribution.
Three families (e.g. Cao & Dowd 2019; the in-space/in-time terminology of Abadie et al. 2015):

* ``"space"``: random units receive the real adoption years (permuted among them);
* ``"time"``: the real treated units receive random adoption years -- by default on the
  pre-adoption sample (their real post-adoption years dropped, random years drawn before the
  real adoption), so that the pseudo-treatments cannot pick up the real effect; on the full
  sample (``sample="full"``) they overlap the real post-adoption years and inherit part of it;
* ``"mixed"``: random units receive random adoption years.

All draws are estimated in one batched computation (:func:`.batched.batched_twfe`): the fixed-
effect projection of every pseudo-treatment column at once and a clustered SE per draw, equal
to separate fits. Each draw has its own random stream spawned from one
:class:`numpy.random.SeedSequence`, so results do not depend on how draws are chunked.

The randomization-inference p-value is ``(1 + #{draws at least as extreme}) / (1 + R)``
(Phipson & Smyth 2010), two-sided on |beta| and one-sided to the left and right.
The reading supports the baseline effect only when the actual estimate is extreme (two-sided
RI p < 0.05) *and* the placebo regressions are significant about as often as chance implies
(at most :data:`MAX_SHARE_SIGNIFICANT` of them at 5%): placebos that find "effects" are a
failed placebo test, however the actual estimate compares with them.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...core.results import EstimationResult, Result, TestResult, tidy_frame
from ...core.wording import count, p_phrase
from ...errors import EstimationError
from ...panel import Panel
from ...report.tables import Table, fmt
from ..baseline.event_study import adoption_year
from ..baseline.twfe import _as_list, twfe

KINDS = ("space", "time", "mixed")


_WHAT = {
    ("space", "full"): "random pseudo-treated units given the real adoption years",
    ("time", "pre"): "the real treated units given random adoption years before their real adoption "
                     "(pre-adoption sample: their real post-adoption years dropped)",
    ("time", "full"): "the real treated units given random adoption years on the full sample",
    ("mixed", "full"): "random units given random adoption years",
}

#: Share of placebo draws significant at 5% above which a placebo test is read as failed: under
#: a valid placebo about 5% of draws are significant; twice that is far outside the sampling
#: error of a few hundred draws (binomial SD of the share 1% with 500 draws).
MAX_SHARE_SIGNIFICANT = 0.10


@dataclass(eq=False, repr=False)
class PlaceboResult(Result):
    """Placebo distribution, the real estimate and randomization-inference p-values.

    Attributes
    ----------
    kind, sample
        Placebo family (``"space"``, ``"time"``, ``"mixed"``) and sample (``"pre"``: in-time
        draws on the pre-adoption sample; ``"full"``).
    actual
        The baseline TWFE fit on the full sample (its treatment coefficient is compared).
    draws
        One row per draw: ``draw``, ``coef``, ``se``, ``tstat``, ``pvalue``.
    p_two_sided, p_left, p_right
        Randomization-inference p-values (see :attr:`test`).
    """

    kind: str
    actual: EstimationResult
    treat: str
    draws: pd.DataFrame  # draw, coef, se, tstat, pvalue
    p_two_sided: float
    p_left: float
    p_right: float
    n_degenerate: int = 0
    notes: list[str] = field(default_factory=list)
    sample: str = "full"
    alpha: float = 0.05

    @property
    def estimate(self) -> float:
        return self.actual.coef(self.treat)

    @property
    def results(self) -> list[EstimationResult]:
        return [self.actual]

    @property
    def share_significant(self) -> float:
        """Share of placebo draws whose own p-value is below 0.05."""
        return float((self.draws["pvalue"].dropna() < 0.05).mean())

    @property
    def test(self) -> TestResult:
        """The two-sided randomization-inference test of the actual estimate against the
        placebo draws, ``p = (1 + #{|b_r| >= |b|}) / (1 + R)`` (Phipson & Smyth 2010)."""
        return TestResult(
            f"Randomization inference ({self.kind} placebo)", self.estimate, self.p_two_sided,
            distribution="randomization", details={"n_draws": int(self.draws["coef"].notna().sum())},
            null="the estimate is no more extreme than under placebo assignment", alpha=self.alpha,
        )

    def tidy(self) -> pd.DataFrame:
        """The actual treatment coefficient with its regression SE and the RI p-value in
        ``ri_p_value`` (two-sided), ``ri_p_left``, ``ri_p_right``, ``n_draws``."""
        row = self.actual.tidy()
        row = row[row["term"] == self.treat].copy()
        row["ri_p_value"], row["ri_p_left"], row["ri_p_right"] = self.p_two_sided, self.p_left, self.p_right
        row["n_draws"] = int(self.draws["coef"].notna().sum())
        row["kind"], row["sample"] = self.kind, self.sample
        return tidy_frame(row)

    def summary(self) -> dict[str, Any]:
        c = self.draws["coef"].dropna()
        p = self.draws["pvalue"].dropna()
        return {
            "kind": self.kind,
            "sample": self.sample,
            "draws": int(len(c)),
            "actual": self.estimate,
            "placebo_mean": float(c.mean()),
            "placebo_sd": float(c.std(ddof=1)) if len(c) > 1 else None,
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
        what = _WHAT[self.kind, self.sample]
        notes = [
            f"Placebo ({self.kind}): {what}; the baseline TWFE regression re-estimated per draw. "
            "RI p-value = (1 + draws at least as extreme) / (1 + draws)."
        ] + self.notes
        if self.kind == "time" and self.sample == "full":
            notes.append(
                "In-time draws on the full sample keep the real treated units and their post-adoption "
                "years, so when the policy works the draws inherit part of the real effect; "
                "sample='pre' avoids this."
            )
        return Table(
            columns=["Value"], rows=rows, title=f"Placebo test ({self.kind})", notes=notes, stub=""
        )

    def reading(self) -> str:
        """Where the actual estimate falls in the placebo distribution, and whether the placebo
        regressions themselves behave as placebos should (about 5% of them significant at 5%).
        The placebo supports the effect only when both hold: the actual estimate is extreme
        (two-sided RI p < 0.05) and at most :data:`MAX_SHARE_SIGNIFICANT` of the draws are
        significant."""
        s = self.summary()
        what = _WHAT[self.kind, self.sample]
        c = self.draws["coef"].dropna().to_numpy()
        share_extreme = 100 * float((np.abs(c) >= abs(s["actual"])).mean())
        share_sig = s["share_p_below_0.05"]
        sd = f"{s['placebo_sd']:.4f}" if s["placebo_sd"] is not None else "n/a"
        text = (
            f"With {what}, the {count(s['draws'], 'placebo estimate')} have mean {s['placebo_mean']:.4f} "
            f"and SD {sd}; {100 * share_sig:.1f}% of them are significant at 5%. "
            f"{share_extreme:.1f}% of the draws are at least as large in absolute value as the actual "
            f"estimate {s['actual']:.4f} (randomization-inference {p_phrase(s['ri_p_two_sided'])}). "
        )
        extreme = s["ri_p_two_sided"] < 0.05
        if share_sig > MAX_SHARE_SIGNIFICANT:
            why = ("the pseudo-treatments keep the real treated units and their post-adoption years, so they "
                   "pick up the real effect; run the in-time placebo on the pre-adoption sample"
                   if self.kind == "time" and self.sample == "full" else
                   "the regression finds 'effects' of treatments that have none, which points to "
                   "pre-existing differences or trends, or to standard errors that are too small")
            return text + (
                f"Far more than the 5% expected of placebos are significant, so this placebo test does NOT "
                f"support the baseline effect: {why}."
            )
        if not extreme:
            return text + ("The actual estimate does not stand out from the placebo distribution, so this "
                           "placebo test does NOT support the baseline effect: placebo assignment can produce "
                           "an estimate this large.")
        if self.kind == "time":
            return text + ("The actual estimate lies outside the distribution of estimates at random adoption "
                           "dates, and those dates rarely give significant 'effects': the effect is tied to the "
                           "real adoption dates rather than to the treated units alone.")
        return text + ("The actual estimate lies outside the placebo distribution and the placebo regressions "
                       "are significant about as often as chance implies, so the baseline effect is unlikely to "
                       "be an artefact of chance assignment.")

    def plot(self, *, title: str | None = None):
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
    real: np.ndarray, years: np.ndarray, kind: str, n_draws: int, seed: int, sample: str = "full"
) -> np.ndarray:
    """Pseudo adoption years, shape (n_units, n_draws); ``inf`` marks untreated units.

    ``real`` holds each unit's real adoption year (``nan`` if never treated). Random adoption
    years are drawn uniformly from ``years[1:]`` so every pseudo-treated unit has at least one
    pre-period; with ``sample="pre"`` (in-time draws on the pre-adoption sample) a treated unit's
    year is drawn from ``years[1:]`` before its real adoption year (``inf`` when there is none).
    Draw ``r`` uses its own stream (:func:`climetrics.core.replicate.replicate_rng`).
    """
    return adoption_draws(real, years, kind, np.arange(n_draws), seed, sample)


def adoption_draws(
    real: np.ndarray, years: np.ndarray, kind: str, draws: np.ndarray, seed: int, sample: str = "full"
) -> np.ndarray:
    """Columns ``draws`` of :func:`draw_adoption_years`, shape (n_units, len(draws))."""
    from ...core.replicate import replicate_rng

    _check_kind(kind, sample)
    treated = np.flatnonzero(np.isfinite(real))
    n_units, n_treat = real.size, treated.size
    batches = real[treated]
    out = np.full((n_units, len(draws)), np.inf)
    candidates = years[1:]
    if sample == "pre":  # per treated unit: the years strictly between the first and its adoption
        n_before = np.searchsorted(candidates, batches, side="left")
    for j, r in enumerate(draws):
        rng = replicate_rng(seed, r)
        if sample == "pre":
            pick = np.floor(rng.random(n_treat) * n_before).astype(int)
            out[treated, j] = np.where(n_before > 0, candidates[np.minimum(pick, len(candidates) - 1)], np.inf)
            continue
        units = treated if kind == "time" else rng.choice(n_units, size=n_treat, replace=False)
        out[units, j] = (
            rng.permutation(batches) if kind == "space" else rng.choice(candidates, size=n_treat)
        )
    return out


def _check_kind(kind: str, sample: str) -> None:
    if kind not in KINDS:
        raise EstimationError(f"placebo kind must be one of {KINDS}, got {kind!r}")
    if sample not in ("pre", "full"):
        raise EstimationError(f"placebo sample must be 'pre' or 'full', got {sample!r}")
    if sample == "pre" and kind != "time":
        raise EstimationError(
            f"sample='pre' is the in-time placebo on the pre-adoption sample (kind='time'); "
            f"kind={kind!r} needs sample='full'"
        )


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
    sample: str = "full"


def placebo_kernel(draws: np.ndarray, job: PlaceboJob) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coefficient, unscaled CRV1 variance and degeneracy of placebo ``draws`` (replicate kernel)."""
    pseudo = adoption_draws(job.real, job.years, job.kind, draws, job.seed, job.sample)
    d = (job.time[:, None] >= pseudo[job.unit]).astype(float)
    return job.model.treatment_moments(d)


def pre_adoption_rows(panel: Panel, treat: str) -> np.ndarray:
    """Rows of the pre-adoption sample: every row of never-treated units and the rows of
    treated units before their real adoption."""
    g = adoption_year(panel, treat).to_numpy(float)
    return ~(np.isfinite(g) & (panel.df[panel.time].to_numpy() >= g))


def placebo_job(
    panel: Panel,
    y: str,
    treat: str,
    controls: Sequence[str],
    *,
    kind: str,
    seed: int,
    cluster: str | None = "unit",
    ssc: str = "nested",
    sample: str = "full",
) -> PlaceboJob:
    """The shared data of :func:`placebo_kernel` for a placebo test (see :func:`placebo_test`):
    the regression without the treatment, prepared once, and the real adoption years.
    ``cluster=None``: every row is its own cluster, which gives the heteroskedasticity-robust
    (HC1) variance with the factor ``N/(N-K)`` (K counting every FE level) of :func:`climetrics.twfe`."""
    from ...core.batched import _Model
    from ...core.covariance import SmallSampleCorrection

    _check_kind(kind, sample)
    clus = panel.unit if cluster == "unit" else cluster
    g = adoption_year(panel, treat)
    df = panel.df
    cols = list(dict.fromkeys([y, *controls]))
    complete = df[cols].apply(pd.to_numeric).notna().all(axis=1).to_numpy()
    if sample == "pre":
        complete = complete & pre_adoption_rows(panel, treat)
    unit_codes, units = pd.factorize(df[panel.unit], sort=True)
    real = g.groupby(unit_codes).first().reindex(range(len(units))).to_numpy(float)
    years = np.sort(df[panel.time].unique())
    t = df[panel.time].to_numpy()[complete]
    uc = unit_codes[complete]
    X = df.loc[complete, list(controls)].to_numpy(float) if controls else None
    fe = [uc, pd.factorize(df[panel.time])[0][complete]]
    if clus is None:
        cl = np.arange(int(complete.sum()))
        rule = SmallSampleCorrection(k_fixef="full")
    else:
        cl = pd.factorize(df[clus])[0][complete]
        rule = SmallSampleCorrection(k_fixef="nonnested" if ssc == "nested" else "full")
    y_used = df.loc[complete, y].to_numpy(float)
    # the draws are complete 0/1 columns, so one zero column selects the same rows
    model, _ = _Model.build(
        y_used, np.zeros(len(y_used)), X, fe, cl, rule, True, 1e-12, 10_000, 1e-9
    )
    return PlaceboJob(model, real, years, uc[model.rows], t[model.rows], kind, seed, sample)


def placebo_test(
    panel: Panel,
    y: str,
    treat: str,
    controls: str | Sequence[str] = (),
    *,
    kind: str = "space",
    sample: str | None = None,
    n_draws: int = 500,
    seed: int = 0,
    cluster: str | None = "unit",
    alpha: float = 0.05,
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
    sample
        ``"pre"`` (default for ``kind="time"``): in-time draws on the pre-adoption sample --
        the treated units' real post-adoption years are dropped and each treated unit gets a
        random adoption year before its real one, so no real effect can leak into the
        pseudo-treatment (as :func:`~climetrics.estimate.robustness.checks.shift_timing`).
        ``"full"`` (the only choice for space and mixed draws): every row; in-time draws then
        overlap the real post-adoption years and inherit part of a real effect, which the
        reading says. The actual estimate is always the full-sample baseline.
    n_draws
        Number of placebo draws (the seeds use 500).
    seed
        Seed of the draws; the same seed gives identical draws.
    cluster, ssc
        Standard errors as in :func:`climetrics.twfe`: clustered by ``cluster`` (``"unit"``:
        the panel's unit column), or heteroskedasticity-robust with ``cluster=None``.
    alpha
        Level of the randomization-inference test (:attr:`PlaceboResult.test`).
    chunk_size, backend, scheduler, n_workers
        Where the draws run (:mod:`climetrics.core.replicate`): ``backend="serial"`` (default),
        ``"processes"`` or ``"dask"`` (``scheduler="tcp://host:port"`` for a running cluster),
        in chunks of ``chunk_size`` draws. Results are identical on every backend.
    """
    from scipy import stats

    from ...core.replicate import map_replicates

    sample = sample or ("pre" if kind == "time" else "full")
    _check_kind(kind, sample)
    if n_draws < 1:
        raise EstimationError("n_draws must be at least 1")
    ctrl = _as_list(controls)
    actual = twfe(panel, y, treat, ctrl, cluster=cluster, ssc=ssc)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        job = placebo_job(panel, y, treat, ctrl, kind=kind, seed=seed, cluster=cluster, ssc=ssc,
                          sample=sample)
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
    pvalue = fit.pvalue
    if cluster is None:  # t(N - K) as the heteroskedasticity-robust twfe fit, not t(G - 1)
        pvalue = 2.0 * stats.t.sf(np.abs(fit.tstat), fit.n_obs - fit.df_k)
    draws = pd.DataFrame(
        {
            "draw": np.arange(n_draws),
            "coef": fit.coef,
            "se": fit.se,
            "tstat": fit.tstat,
            "pvalue": pvalue,
        }
    )
    if sample == "pre":
        notes.append(
            f"In-time draws on the pre-adoption sample ({fit.n_obs} observations): the treated units' "
            "real post-adoption years are dropped."
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
        sample=sample,
        alpha=alpha,
    )

"""Inference and results of Callaway & Sant'Anna (2021): analytic and multiplier-bootstrap
standard errors from the influence functions, the ATT(g,t) result and its aggregations.

The estimator is in :mod:`climetrics.estimate.did.callaway_santanna`; the formulas (influence
functions, CS 2021 sec. 4 aggregations and algorithm 1 of the multiplier bootstrap) are in its
docstring.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ...core.covariance import cluster_codes, cluster_sums, coef_table
from ...core.results import EstimationResult, Result, jsonable
from ...errors import EstimationError

_KINDS = {
    "simple": "simple",
    "dynamic": "dynamic",
    "event": "dynamic",
    "group": "group",
    "calendar": "calendar",
}
_LEVEL_NAMES = {"dynamic": "event time", "group": "cohort", "calendar": "period"}


# ---------------------------------------------------------------------- inference
def analytic_se(psi: np.ndarray, cluster: np.ndarray) -> np.ndarray:
    """``sqrt(sum_c S_c^2) / n`` per column, S_c the within-cluster sum of the influence
    function; with one unit per cluster this is ``sqrt(mean(psi^2) / n)`` (R ``did``).

    With a single cluster the influence functions sum to zero and this would be 0; a standard
    error of 0 (one cluster, or no variation) is reported as NaN, so no p-value or star is
    printed for an effect whose uncertainty cannot be estimated."""
    codes, n_clusters = cluster_codes(cluster)
    s = cluster_sums(psi, codes)
    se = np.sqrt((s**2).sum(0)) / psi.shape[0]
    if n_clusters < 2:
        return np.full(se.shape, np.nan)
    return np.where(se > 0, se, np.nan)


def multiplier_weights(n_clusters: int, seed: int, draws: np.ndarray, kind: str) -> np.ndarray:
    """``(G, len(draws))`` i.i.d. multiplier weights, draw ``b`` from its own stream
    (:func:`climetrics.core.replicate.replicate_rng`): Rademacher (+-1 w.p. 1/2) or Mammen
    (``(1 - sqrt5)/2`` w.p. ``(sqrt5 + 1)/(2 sqrt5)``, else ``(1 + sqrt5)/2``)."""
    from ...core.replicate import replicate_rng

    r5 = np.sqrt(5.0)
    out = np.empty((n_clusters, len(draws)))
    for j, b in enumerate(draws):
        rng = replicate_rng(seed, b)
        if kind == "rademacher":
            out[:, j] = rng.choice([-1.0, 1.0], size=n_clusters)
        else:
            out[:, j] = np.where(
                rng.random(n_clusters) < (r5 + 1) / (2 * r5), (1 - r5) / 2, (1 + r5) / 2
            )
    return out


@dataclass(frozen=True)
class MultiplierJob:
    """Shared data of :func:`multiplier_kernel`: cluster sums of the influence functions."""

    sums: np.ndarray  # (G, K)
    n: int  # rows of psi
    seed: int
    weights: str


def multiplier_kernel(draws: np.ndarray, job: MultiplierJob) -> np.ndarray:
    """Replicate kernel: ``(len(draws), K)`` bootstrap deviations ``v_b' S / n``."""
    v = multiplier_weights(job.sums.shape[0], job.seed, draws, job.weights)
    return v.T @ job.sums / job.n


def multiplier_bootstrap(
    psi: np.ndarray,
    cluster: np.ndarray,
    *,
    n_draws: int,
    alpha: float,
    seed: int,
    weights: str,
    backend: Any = None,
) -> tuple[np.ndarray, float]:
    """Bootstrap standard errors and the uniform critical value (CS 2021 algorithm 1).

    Draws ``theta* - theta = V' S / n``, ``V`` a (clusters x n_draws) matrix of i.i.d.
    Rademacher or Mammen weights (:func:`multiplier_weights`) and ``S`` the cluster sums of the
    influence functions, in chunks of draws on the replicate engine (``backend``, see
    :mod:`climetrics.core.replicate`). The SE is the interquartile range of the draws over
    ``q(0.75) - q(0.25)`` of N(0,1); the critical value is the ``1 - alpha`` quantile of
    ``max_k |theta*_k - theta_k| / se_k`` (columns with zero variance are left out).
    """
    from ...core.replicate import map_replicates

    if weights not in ("rademacher", "mammen"):
        raise ValueError(f"bootstrap weights must be 'rademacher' or 'mammen', got {weights!r}")
    s = cluster_sums(psi, cluster_codes(cluster)[0])
    job = MultiplierJob(s, psi.shape[0], seed, weights)
    draws = map_replicates(
        multiplier_kernel,
        n_draws,
        job,
        backend=backend,
        default_chunk=max(1, 2**19 // s.shape[0]),
        label="multiplier bootstrap draws",
    )
    q75, q25 = np.quantile(draws, [0.75, 0.25], axis=0)
    se = (q75 - q25) / (stats.norm.ppf(0.75) - stats.norm.ppf(0.25))
    ok = se > 1e-12 * max(1.0, float(np.abs(draws).max(initial=0.0)))
    se = np.where(ok, se, np.nan)
    if not ok.any():
        return se, np.nan
    tmax = np.max(np.abs(draws[:, ok]) / se[ok], axis=1)
    return se, float(np.quantile(tmax, 1 - alpha))


@dataclass
class _Inference:
    """Shared inference settings of one fit."""

    cluster: np.ndarray
    alpha: float
    n_draws: int
    seed: int
    weights: str
    backend: Any = None

    def frame(self, est: np.ndarray, psi: np.ndarray) -> tuple[pd.DataFrame, float]:
        """Estimate, analytic SE, pointwise CI, bootstrap SE and uniform band per column."""
        se = analytic_se(psi, self.cluster)
        z = stats.norm.ppf(1 - self.alpha / 2)
        out = pd.DataFrame({"att": est, "se": se, "ci_low": est - z * se, "ci_high": est + z * se})
        if self.n_draws > 0:
            se_b, crit = multiplier_bootstrap(
                psi,
                self.cluster,
                n_draws=self.n_draws,
                alpha=self.alpha,
                seed=self.seed,
                weights=self.weights,
                backend=self.backend,
            )
            out["se_boot"] = se_b
            out["band_low"], out["band_high"] = est - crit * se_b, est + crit * se_b
        else:
            crit = np.nan
        return out, crit


# ---------------------------------------------------------------------- results
@dataclass(eq=False, repr=False)
class CSAggregate(Result):
    """An aggregation of ATT(g,t): overall effect and effects by event time, cohort or period.

    Attributes
    ----------
    kind
        ``"simple"``, ``"dynamic"``, ``"group"`` or ``"calendar"``.
    att, se
        Overall effect and its analytic standard error.
    by
        Effects by level (``e`` event time, ``g`` cohort or ``t`` period): columns ``att``,
        ``se``, ``ci_low``, ``ci_high`` (pointwise) and, with the bootstrap, ``se_boot``,
        ``band_low``, ``band_high`` (uniform band over the levels). Empty for ``"simple"``.
    crit_val
        Bootstrap critical value of the uniform band (NaN without bootstrap).
    psi, psi_by
        Influence functions (n_units) of the overall effect and (n_units x levels) of ``by``.
    """

    kind: str
    att: float
    se: float
    by: pd.DataFrame
    crit_val: float
    psi: np.ndarray = field(repr=False)
    psi_by: np.ndarray = field(repr=False)
    parent: CallawaySantAnna = field(repr=False)

    def to_result(self) -> EstimationResult:
        """EstimationResult with term ``"ATT"`` (overall) and one term per level
        (``"e=-2"``, ``"g=2014"``, ``"t=2016"``); z-based p-values and CIs."""
        p, by = self.parent, self.by
        levels = [f"{by.columns[0]}={int(v)}" for v in by.iloc[:, 0]] if len(by) else []
        est = np.r_[self.att, by["att"].to_numpy() if len(by) else []]
        se = np.r_[self.se, by["se"].to_numpy() if len(by) else []]
        return p._estimation_result(["ATT", *levels], est, se, self.crit_val, aggregation=self.kind)

    def table(self, **kwargs: Any):
        """Paper-style table of :meth:`to_result`."""
        kwargs.setdefault("stat", "se")
        kwargs.setdefault("title", f"Callaway-Sant'Anna ATT, {self.kind} aggregation")
        return self.to_result().table(**kwargs)

    @property
    def results(self) -> list[EstimationResult]:
        return [self.to_result()]

    def tidy(self) -> pd.DataFrame:
        """``ATT`` then one row per level; with the bootstrap, ``band_low``/``band_high`` (the
        uniform band) after the seven standard columns."""
        out = self.to_result().tidy()
        if len(self.by) and "band_low" in self.by:
            out["band_low"] = np.r_[np.nan, self.by["band_low"].to_numpy()]
            out["band_high"] = np.r_[np.nan, self.by["band_high"].to_numpy()]
        return out

    def summary(self) -> dict[str, Any]:
        r = self.to_result()
        row = r.coefs.iloc[0]
        return {"aggregation": self.kind, "att": jsonable(self.att), "std_error": jsonable(self.se),
                "p_value": jsonable(row["p_value"]), "ci_low": jsonable(row["ci_low"]),
                "ci_high": jsonable(row["ci_high"]), "n_levels": len(self.by),
                "n_units": self.parent.n_units, "control": self.parent.control, "method": self.parent.method}

    def reading(self) -> str:
        """The overall effect in words; for the dynamic aggregation also the pre-treatment
        estimates (individually, at 5%) and when the effect first becomes significant."""
        from ...core.wording import count, p_phrase, significance_phrase

        s = self.summary()
        p = s["p_value"] if s["p_value"] is not None else float("nan")
        what = {"simple": "the average over all post-treatment cohort-period cells",
                "dynamic": "the average over event times 0 and later",
                "group": "the cohort-size-weighted average of the cohort effects",
                "calendar": "the average over calendar periods"}[self.kind]
        control = {"never": "never-treated", "notyet": "not-yet-treated"}[self.parent.control]
        text = (f"Callaway-Sant'Anna ({control} controls, {self.parent.method}): "
                f"{what} is {self.att:.4f} (SE {self.se:.4f}, {p_phrase(p)}), {significance_phrase(p)}.")
        if self.kind == "dynamic" and len(self.by):
            r = self.to_result().tidy().iloc[1:]
            e = self.by["e"].to_numpy()
            pre, post = r[e < 0], r[e >= 0]
            if len(pre):
                n_sig = int((pre["p_value"] < 0.05).sum())
                text += (f" {n_sig} of {count(len(pre), 'pre-treatment estimate')} "
                         f"{'is' if n_sig == 1 else 'are'} significant at 5%"
                         + (" (no sign of diverging pre-trends)." if n_sig == 0 else
                            ", which questions parallel trends."))
            sig = e[e >= 0][(post["p_value"] < 0.05).to_numpy()]
            text += (f" The effect is significant at 5% from event time {int(sig.min())}." if len(sig) else
                     " No post-treatment event-time estimate is significant at 5%.")
        return text

    def plot(self, **kwargs: Any):
        """Estimates by level (event time, cohort or period) with pointwise confidence
        intervals; with the bootstrap, the uniform band as a shaded area."""
        from ...report.figures import coefficient_path

        if not len(self.by):
            raise NotImplementedError("the simple aggregation has no levels to plot")
        by, key = self.by, self.by.columns[0]
        fig = coefficient_path([f"{int(v)}" for v in by[key]], by["att"].to_numpy(),
                               by["ci_low"].to_numpy(), by["ci_high"].to_numpy(),
                               ylabel=kwargs.get("ylabel", f"ATT ({self.parent.y})"))
        ax = fig.axes[0]
        if "band_low" in by:
            ax.fill_between(np.arange(len(by)), by["band_low"], by["band_high"], color="#1f4e8c", alpha=0.12,
                            lw=0, label=f"{1 - self.parent.alpha:.0%} uniform band")
            ax.legend(frameon=False)
        ax.set_xlabel(_LEVEL_NAMES[self.kind])
        ax.set_title(kwargs.get("title") or f"Callaway-Sant'Anna ATT by {_LEVEL_NAMES[self.kind]}")
        return fig


@dataclass(eq=False, repr=False)
class CallawaySantAnna(Result):
    """ATT(g,t) estimates of :func:`callaway_santanna` and their influence functions.

    ``attgt`` has columns ``g``, ``t``, ``base`` (base period), ``event_time``, ``post``,
    ``att``, ``se``, ``ci_low``, ``ci_high`` and, with the bootstrap, ``se_boot``,
    ``band_low``, ``band_high`` (uniform over all cells). ``psi`` is the n_units x cells
    influence-function matrix (rows in ``units`` order).
    """

    attgt: pd.DataFrame
    psi: np.ndarray = field(repr=False)
    cohort: np.ndarray = field(repr=False)
    units: np.ndarray = field(repr=False)
    y: str
    control: str
    method: str
    alpha: float
    crit_val: float
    n_periods: int
    cluster_name: str | None
    notes: list[str]
    inference: _Inference = field(repr=False)

    @property
    def n_units(self) -> int:
        return len(self.units)

    @property
    def n_clusters(self) -> int:
        return len(np.unique(self.inference.cluster))

    # -------------------------------------------------------------- aggregation
    def aggregate(
        self,
        kind: str = "simple",
        *,
        min_e: float = -np.inf,
        max_e: float = np.inf,
        balance_e: int | None = None,
    ) -> CSAggregate:
        """Aggregate ATT(g,t) (CS 2021 sec. 3.3; R ``did::aggte``).

        ``simple``: cohort-size-weighted average of post-treatment ATT(g,t) (t >= g);
        ``dynamic`` / ``event``: by event time ``e = t - g`` (eq. 3.10), overall = mean over
        e >= 0; ``group``: by cohort, mean over its post periods (eq. 3.11), overall weighted by
        cohort size; ``calendar``: by period (eq. 3.12), overall = mean over periods.
        ``min_e``/``max_e`` restrict event times (all kinds but calendar); ``balance_e`` keeps,
        for ``dynamic``, only cohorts observed at least ``balance_e`` periods after treatment.
        """
        if kind not in _KINDS:
            raise ValueError(f"kind must be one of {sorted(_KINDS)}, got {kind!r}")
        kind = _KINDS[kind]
        tab = self.attgt
        g, e = tab["g"].to_numpy(), tab["event_time"].to_numpy()
        window = (e >= min_e) & (e <= max_e)
        pg = np.array([np.mean(self.cohort == c) for c in g])
        member = self.cohort[:, None] == g[None, :]
        parts = {
            "simple": self._simple,
            "dynamic": self._dynamic,
            "group": self._group,
            "calendar": self._calendar,
        }[kind]
        if kind == "dynamic" and balance_e is not None:
            last = tab.groupby("g")["event_time"].transform("max").to_numpy()
            window &= (last >= balance_e) & (e <= balance_e)
        cells = np.flatnonzero(window | (kind == "calendar"))
        levels, est_by, psi_by, overall, psi_all = parts(cells, pg, member)
        if not len(levels) and kind != "simple":
            raise EstimationError(
                f"no ATT(g,t) falls in the requested window for the {kind} aggregation"
            )
        se = float(analytic_se(psi_all[:, None], self.inference.cluster)[0])
        if kind == "simple":
            by, crit = pd.DataFrame(), np.nan
        else:
            by, crit = self.inference.frame(est_by, psi_by)
            by.insert(0, {"dynamic": "e", "group": "g", "calendar": "t"}[kind], levels)
        return CSAggregate(kind, overall, se, by, crit, psi_all, psi_by, self)

    def _weighted(
        self, idx: np.ndarray, pg: np.ndarray, member: np.ndarray, with_wif: bool = True
    ) -> tuple[float, np.ndarray]:
        """Cohort-size-weighted mean of ATT(g,t) over cells ``idx`` and its influence function,
        including the estimated weights (R ``did`` ``wif``)."""
        att = self.attgt["att"].to_numpy()[idx]
        w = pg[idx] / pg[idx].sum()
        psi = self.psi[:, idx] @ w
        if with_wif:
            dev = member[:, idx] - pg[idx]  # n x cells: 1[G=g] - P(G=g)
            wif = dev / pg[idx].sum() - np.outer(dev.sum(1), pg[idx] / pg[idx].sum() ** 2)
            psi = psi + wif @ att
        return float(att @ w), psi

    def _by(self, keys: np.ndarray, cells: np.ndarray, pg, member, with_wif: bool):
        levels = np.unique(keys[cells])
        fits = [self._weighted(cells[keys[cells] == v], pg, member, with_wif) for v in levels]
        est = np.array([f[0] for f in fits])
        psi = np.column_stack([f[1] for f in fits]) if fits else np.zeros((self.n_units, 0))
        return levels, est, psi

    def _simple(self, cells, pg, member):
        post = cells[self.attgt["post"].to_numpy()[cells]]
        if not len(post):
            raise EstimationError("no post-treatment ATT(g,t) in the requested window")
        att, psi = self._weighted(post, pg, member)
        return np.array([]), np.array([]), np.zeros((self.n_units, 0)), att, psi

    def _dynamic(self, cells, pg, member):
        e = self.attgt["event_time"].to_numpy()
        levels, est, psi = self._by(e, cells, pg, member, True)
        pos = levels >= 0
        overall = float(est[pos].mean()) if pos.any() else np.nan
        return (
            levels,
            est,
            psi,
            overall,
            psi[:, pos].mean(1) if pos.any() else np.full(self.n_units, np.nan),
        )

    def _group(self, cells, pg, member):
        post = cells[self.attgt["post"].to_numpy()[cells]]
        g = self.attgt["g"].to_numpy()
        levels, est, psi = self._by(g, post, pg, member, False)
        pgg = np.array([np.mean(self.cohort == c) for c in levels])
        w = pgg / pgg.sum()
        dev = (self.cohort[:, None] == levels[None, :]) - pgg
        wif = dev / pgg.sum() - np.outer(dev.sum(1), pgg / pgg.sum() ** 2)
        return levels, est, psi, float(est @ w), psi @ w + wif @ est

    def _calendar(self, cells, pg, member):
        post = cells[self.attgt["post"].to_numpy()[cells]]
        t = self.attgt["t"].to_numpy()
        levels, est, psi = self._by(t, post, pg, member, True)
        return levels, est, psi, float(est.mean()), psi.mean(1)

    # -------------------------------------------------------------- output
    def to_result(self) -> EstimationResult:
        """EstimationResult with one term ``"ATT(g,t)"`` per cell (z-based inference)."""
        tab = self.attgt
        terms = [f"ATT({int(g)},{int(t)})" for g, t in zip(tab["g"], tab["t"], strict=True)]
        return self._estimation_result(terms, tab["att"], tab["se"], self.crit_val)

    def _estimation_result(self, terms, est, se, crit_val: float, **meta: Any) -> EstimationResult:
        """The ATT(g,t) cells or an aggregation as an EstimationResult (z-based inference with
        the fit's alpha; ``meta`` adds e.g. the aggregation kind)."""
        return EstimationResult(
            coefs=coef_table(terms, est, se, alpha=self.alpha),
            depvar=self.y,
            model="Callaway-Sant'Anna",
            n_obs=self.n_units * self.n_periods,
            vcov="influence function",
            cluster=self.cluster_name,
            n_clusters=self.n_clusters,
            notes=list(self.notes),
            meta={
                **meta,
                "control": self.control,
                "method": self.method,
                "crit_val": crit_val,
                "n_units": self.n_units,
            },
        )

    def table(self, **kwargs: Any):
        """Paper-style table of the ATT(g,t) estimates."""
        kwargs.setdefault("stat", "se")
        kwargs.setdefault("title", "Callaway-Sant'Anna ATT(g,t)")
        return self.to_result().table(**kwargs)

    @property
    def results(self) -> list[EstimationResult]:
        return [self.to_result()]

    def tidy(self) -> pd.DataFrame:
        """One row per ATT(g,t), with ``g``, ``t``, ``event_time`` (and bootstrap columns)
        after the seven standard columns."""
        out = self.to_result().tidy()
        extra = [c for c in ("g", "t", "base", "event_time", "se_boot", "band_low", "band_high") if c in self.attgt]
        return pd.concat([out, self.attgt[extra].reset_index(drop=True)], axis=1)

    def summary(self) -> dict[str, Any]:
        """The simple aggregation's headline numbers plus the design (cells, cohorts, units)."""
        out = self.aggregate("simple").summary()
        out.update(n_cells=len(self.attgt), n_cohorts=int(self.attgt["g"].nunique()),
                   n_periods=self.n_periods, n_clusters=self.n_clusters)
        return out

    def reading(self) -> str:
        """The simple and the dynamic aggregations in words (see :meth:`CSAggregate.reading`)."""
        text = self.aggregate("simple").reading()
        try:
            dyn = self.aggregate("dynamic").reading()
        except EstimationError:
            return text
        return text + " By event time, " + dyn.split(": ", 1)[1]

    def plot(self, **kwargs: Any):
        """The dynamic (event-time) aggregation (see :meth:`CSAggregate.plot`)."""
        return self.aggregate("dynamic").plot(**kwargs)



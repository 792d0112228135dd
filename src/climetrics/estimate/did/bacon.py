"""What two-way fixed effects averages: the Goodman-Bacon decomposition and the
de Chaisemartin-D'Haultfoeuille weights.

Goodman-Bacon (2021, Theorem 1): on a balanced panel with an absorbing treatment, the TWFE
coefficient on the treatment dummy is a weighted average of all 2x2 DIDs between timing groups,

    beta_TWFE = sum_k s_kU b_kU + sum_{k<l} (s_kl^k b_kl^k + s_kl^l b_kl^l),

* ``b_kU``: group k (treated at t_k) vs the untreated group U over the whole panel;
* ``b_kl^k``: earlier-treated k vs later-treated l (not yet treated), periods before t_l;
* ``b_kl^l``: later-treated l vs earlier-treated k (already treated) -- the "forbidden"
  comparison, periods from t_k on;

with weights (eq. 10a-10c) built from group shares n, treated-time shares Dbar and the variance
of the two-way demeaned treatment, summing to one. Units treated in every period have the same
demeaned treatment as never-treated ones, so both form the untreated group U.

de Chaisemartin & D'Haultfoeuille (2020, Theorem 1): if ``Y_it = a_i + l_t + Delta_it D_it``,
then ``beta_TWFE = sum_{D_it = 1} w_it Delta_it`` with ``w_it = e_it / sum_{D=1} e_it`` and
``e_it`` the residual of D on unit and period dummies. Weights can be negative (typically for
long-treated cells); :func:`twfe_weights` reports them by cohort x period cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...core.results import Result, jsonable, tidy_frame
from ...errors import EstimationError, show
from ...panel import Panel
from .staggered import codes, cohorts_from_treatment, twoway_demean

EARLY_LATE = "Earlier vs Later Treated"
LATE_EARLY = "Later vs Earlier Treated"
VS_NEVER = "Treated vs Never Treated"
_COLORS = {EARLY_LATE: "#1f4e8c", LATE_EARLY: "#c0392b", VS_NEVER: "#2e8b57"}


@dataclass(eq=False)
class BaconDecomposition(Result):
    """2x2 DIDs and weights of :func:`bacon_decomposition`.

    ``comparisons`` has one row per comparison: ``treated`` and ``control`` (timing of the
    group playing each role; ``inf`` = untreated), ``type``, ``estimate`` and ``weight``.
    ``twfe`` is the TWFE coefficient computed directly (sum of demeaned D times y over sum of
    squares).
    """

    comparisons: pd.DataFrame
    twfe: float
    y: str
    treat: str

    @property
    def weighted_sum(self) -> float:
        """``sum weight x estimate``; equals :attr:`twfe` (Goodman-Bacon 2021, Theorem 1)."""
        return float(self.comparisons["weight"] @ self.comparisons["estimate"])

    def by_type(self) -> pd.DataFrame:
        """Total weight and weighted-average 2x2 estimate of each comparison type."""
        t = self.comparisons.assign(wb=self.comparisons["weight"] * self.comparisons["estimate"])
        out = t.groupby("type", sort=False).agg(weight=("weight", "sum"), wb=("wb", "sum"),
                                               n=("weight", "size"))
        out["estimate"] = out["wb"] / out["weight"]
        return out[["n", "weight", "estimate"]].reset_index()

    @property
    def forbidden_weight(self) -> float:
        """Total weight of the "later vs earlier treated" comparisons, which use already-treated
        units as controls."""
        c = self.comparisons
        return float(c.loc[c["type"] == LATE_EARLY, "weight"].sum())

    def tidy(self) -> pd.DataFrame:
        """One row per 2x2 comparison (no standard errors); ``type``, ``treated``, ``control``
        and ``weight`` after the standard columns."""
        c = self.comparisons

        def lab(v: float) -> str:
            return "untreated" if np.isinf(v) else f"{v:g}"

        terms = [f"{t}: {lab(a)} vs {lab(b)}" for t, a, b in zip(c["type"], c["treated"], c["control"], strict=True)]
        return tidy_frame(c.assign(term=terms))

    def table(self, **kwargs: Any):
        """Comparisons by type: count, total weight and weighted estimate; a note checks that
        the weighted sum equals the TWFE coefficient."""
        from ...report.tables import Table, fmt

        bt = self.by_type()
        return Table(
            columns=["2x2 comparisons", "Total weight", "Weighted estimate"],
            rows=[[str(r.type), fmt(int(r.n)), fmt(r.weight, 3), fmt(r.estimate, 4)] for r in bt.itertuples()],
            title=kwargs.get("title") or "Goodman-Bacon decomposition of the TWFE estimate (no controls)",
            stub="Comparison",
            notes=[f"The weighted sum of the 2x2 estimates equals the TWFE coefficient without controls, "
                   f"{self.twfe:.4f} (difference {abs(self.weighted_sum - self.twfe):.1e})."])

    def summary(self) -> dict[str, Any]:
        return {"twfe": jsonable(self.twfe), "weighted_sum": jsonable(self.weighted_sum),
                "n_comparisons": len(self.comparisons), "forbidden_weight": jsonable(self.forbidden_weight),
                **{f"weight: {r.type}": jsonable(r.weight) for r in self.by_type().itertuples()}}

    def reading(self) -> str:
        """How much of the TWFE estimate rests on comparisons with already-treated units."""
        w = self.forbidden_weight
        text = (f"TWFE ({self.twfe:.4f}) averages {len(self.comparisons)} 2x2 comparisons; "
                f"{100 * w:.1f}% of the weight is on later-treated units compared with already-treated ones")
        if w == 0:
            return text + "."
        late = self.by_type().set_index("type").loc[LATE_EARLY, "estimate"]
        return text + (f" (weighted estimate {late:.4f}). These comparisons are biased when effects change "
                       "over time" + (", so TWFE should be checked against the heterogeneity-robust "
                                      "estimators." if w > 0.1 else "; their weight here is small."))

    def plot(self, *, ax=None, title: str | None = None):
        """Scatter of each 2x2 DID estimate against its weight, coloured by comparison type, with
        the TWFE coefficient as a horizontal line (Goodman-Bacon 2021, Figure 6). Returns the
        matplotlib figure."""
        from ...report.figures import _pyplot

        plt = _pyplot()
        if ax is None:
            fig, ax = plt.subplots(figsize=(6.4, 4.0))
        else:
            fig = ax.figure
        for kind, part in self.comparisons.groupby("type", sort=False):
            ax.scatter(part["weight"], part["estimate"], label=kind, color=_COLORS[kind],
                       marker={EARLY_LATE: "o", LATE_EARLY: "x", VS_NEVER: "^"}[kind], s=36)
        ax.axhline(self.twfe, color="grey", lw=0.9, ls="--", label=f"TWFE = {self.twfe:.4g}")
        ax.axhline(0, color="black", lw=0.5)
        ax.set_xlabel("Weight")
        ax.set_ylabel("2x2 DID estimate")
        ax.set_title(title or f"Goodman-Bacon decomposition of TWFE ({self.y})")
        ax.legend(frameon=False, fontsize="small")
        ax.spines[["top", "right"]].set_visible(False)
        return fig

    def __repr__(self) -> str:
        return (f"BaconDecomposition({self.y} on {self.treat}: TWFE = {self.twfe:.6g}, "
                f"{len(self.comparisons)} 2x2 comparisons)\n{self.by_type().to_string(index=False)}")


def _balanced_wide(panel: Panel, cols: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Units, periods and a (units x periods x cols) array; raise unless balanced and complete."""
    rep = panel.balance()
    if not rep.balanced:
        m = rep.missing.iloc[0]
        raise EstimationError(
            f"the Bacon decomposition needs a balanced panel; {len(rep.missing)} unit-period pairs "
            f"are absent (e.g. {panel.unit} {show(m.iloc[0])} in {m.iloc[1]})"
        )
    panel.require(cols, context="bacon_decomposition")
    df = panel.df
    vals = df[cols].apply(pd.to_numeric).to_numpy(float)
    if np.isnan(vals).any():
        i = int(np.argmax(np.isnan(vals).any(1)))
        raise EstimationError(
            f"missing value in {', '.join(cols)} for {panel.unit} {show(df[panel.unit].iloc[i])} in "
            f"{df[panel.time].iloc[i]}; the decomposition needs complete data"
        )
    units, periods = np.sort(df[panel.unit].unique()), panel.periods
    return units, periods, vals.reshape(len(units), len(periods), len(cols))


def _dd(ybar: np.ndarray, a: int, b: int, pre: np.ndarray, post: np.ndarray) -> float:
    """2x2 DID of group row ``a`` against ``b`` between period masks ``pre`` and ``post``."""
    diff = ybar[a] - ybar[b]
    return float(diff[post].mean() - diff[pre].mean())


def bacon_decomposition(panel: Panel, y: str, treat: str) -> BaconDecomposition:
    """Goodman-Bacon (2021) decomposition of the TWFE DID coefficient.

    Parameters
    ----------
    panel
        A balanced panel (every unit in every period, no missing ``y``/``treat``).
    y
        Outcome.
    treat
        Absorbing 0/1 treatment dummy (once 1, stays 1).

    Returns
    -------
    BaconDecomposition
        2x2 estimates and weights; ``weighted_sum`` reproduces the TWFE coefficient.
    """
    units, periods, cube = _balanced_wide(panel, [y, treat])
    cohort = cohorts_from_treatment(panel, treat).reindex(units).to_numpy()
    yw, dw = cube[:, :, 0], cube[:, :, 1]
    nt = len(periods)
    untreated = np.isinf(cohort) | (cohort <= periods[0])  # D constant within unit
    timing = np.unique(cohort[~untreated])
    if not len(timing):
        raise EstimationError(f"treatment '{treat}' never switches on within the panel: nothing to decompose")
    labels = np.where(untreated, np.inf, cohort)
    groups = list(timing) + ([np.inf] if untreated.any() else [])
    ybar = np.array([yw[labels == g].mean(0) for g in groups])
    share = np.array([np.mean(labels == g) for g in groups])
    dbar = np.array([np.mean(periods >= g) for g in groups])
    u, t = np.repeat(np.arange(len(units)), nt), np.tile(np.arange(nt), len(units))
    dt = twoway_demean(dw.ravel(), u, t)
    vd = float(np.mean(dt**2))
    twfe = float(dt @ yw.ravel() / (dt @ dt))
    rows = []
    for a, k in enumerate(timing):
        post_k = periods >= k
        if untreated.any():
            iu = len(groups) - 1
            nku = share[a] / (share[a] + share[iu])
            w = (share[a] + share[iu]) ** 2 * nku * (1 - nku) * dbar[a] * (1 - dbar[a]) / vd
            rows.append((k, np.inf, VS_NEVER, _dd(ybar, a, iu, ~post_k, post_k), w))
        for b in range(a + 1, len(timing)):
            lt = timing[b]
            post_l = periods >= lt
            nkl = share[a] / (share[a] + share[b])
            base = (share[a] + share[b]) ** 2 * nkl * (1 - nkl) / vd
            gap = dbar[a] - dbar[b]
            w_early = base * (1 - dbar[b]) ** 2 * gap / (1 - dbar[b]) * (1 - dbar[a]) / (1 - dbar[b])
            w_late = base * dbar[a] ** 2 * (dbar[b] / dbar[a]) * gap / dbar[a]
            rows.append((k, lt, EARLY_LATE, _dd(ybar, a, b, ~post_k, post_k & ~post_l), w_early))
            rows.append((lt, k, LATE_EARLY, _dd(ybar, b, a, post_k & ~post_l, post_l), w_late))
    table = pd.DataFrame(rows, columns=["treated", "control", "type", "estimate", "weight"])
    return BaconDecomposition(comparisons=table, twfe=twfe, y=y, treat=treat)


# ---------------------------------------------------------------------- dCDH weights
@dataclass(eq=False)
class TWFEWeights(Result):
    """Weights TWFE attaches to the treated cohort x period cells (dCDH 2020, Theorem 1).

    ``cells``: ``g`` (cohort), ``t``, ``event_time``, ``n_obs`` and ``weight`` (summing to one
    over treated cells); ``beta_TWFE = sum weight x ATT(g,t)`` when effects are the only source
    of deviation from parallel trends.
    """

    cells: pd.DataFrame
    treat: str
    unit_weights: pd.DataFrame = field(repr=False)

    @property
    def n_cells(self) -> int:
        return len(self.cells)

    @property
    def n_negative(self) -> int:
        """Number of treated cells with a negative weight."""
        return int((self.cells["weight"] < 0).sum())

    @property
    def share_negative(self) -> float:
        """Share of treated cells with a negative weight."""
        return self.n_negative / self.n_cells

    @property
    def sum_negative(self) -> float:
        """Sum of the negative weights (0 if none)."""
        w = self.cells["weight"]
        return float(w[w < 0].sum())

    def summary(self) -> dict[str, Any]:
        return {"n_cells": self.n_cells, "n_negative": self.n_negative,
                "share_negative": jsonable(self.share_negative), "sum_negative": jsonable(self.sum_negative)}

    def reading(self) -> str:
        from ...core.wording import count

        return (
            f"TWFE weights on the {count(self.n_cells, 'treated cohort x period cell')} of '{self.treat}': "
            f"{self.n_negative} negative ({self.share_negative:.0%}), summing to {self.sum_negative:.4f}. "
            + ("Negative weights mean TWFE can have the wrong sign when effects differ across cells "
               "(de Chaisemartin & D'Haultfoeuille 2020)." if self.n_negative else
               "No negative weights.")
        )

    def tidy(self) -> pd.DataFrame:
        """One row per treated cell, ``estimate`` = its weight (no standard errors); ``g``,
        ``t``, ``event_time``, ``n_obs`` after the standard columns."""
        c = self.cells
        terms = [f"g={g}, t={t}" for g, t in zip(c["g"], c["t"], strict=True)]
        return tidy_frame(c.assign(term=terms, estimate=c["weight"]).drop(columns="weight"))

    def table(self, **kwargs: Any):
        from ...report.tables import Table, fmt

        return Table(columns=["Cohort", "Period", "Event time", "Obs.", "Weight"],
                     rows=[[f"{i + 1}", str(r.g), str(r.t), str(r.event_time), fmt(int(r.n_obs)), fmt(r.weight, 4)]
                           for i, r in enumerate(self.cells.itertuples())],
                     title=kwargs.get("title") or "TWFE weights on treated cells (de Chaisemartin & D'Haultfoeuille 2020)",
                     notes=[self.reading()], stub="Cell")

    def __repr__(self) -> str:
        return self.reading()


def twfe_weights(panel: Panel, treat: str) -> TWFEWeights:
    """de Chaisemartin & D'Haultfoeuille (2020) weights of TWFE on treated cells.

    Parameters
    ----------
    panel
        Data (balanced or not); rows with a missing treatment are dropped.
    treat
        Absorbing 0/1 treatment dummy.

    Returns
    -------
    TWFEWeights
        Cell weights (cohort x period) with the number, share and sum of negative weights;
        ``unit_weights`` has the observation-level weights ``w_it``.
    """
    panel.require([treat], context="twfe_weights")
    ok = panel.df[treat].notna().to_numpy()
    sub = panel if ok.all() else panel.subset(ok, note=f"rows with {treat}")
    cohort = cohorts_from_treatment(sub, treat)
    df = sub.df
    d = df[treat].to_numpy(float)
    if d.min() == d.max():
        raise EstimationError(f"treatment '{treat}' does not vary: there are no TWFE weights to compute")
    e = twoway_demean(d, codes(df[sub.unit]), codes(df[sub.time]))
    on = d == 1
    w = e[on] / e[on].sum()
    obs = pd.DataFrame({sub.unit: df[sub.unit].to_numpy()[on], sub.time: df[sub.time].to_numpy()[on],
                        "g": df[sub.unit].map(cohort).to_numpy()[on], "weight": w})
    cells = (obs.groupby(["g", sub.time], sort=True)
             .agg(n_obs=("weight", "size"), weight=("weight", "sum")).reset_index()
             .rename(columns={sub.time: "t"}))
    cells.insert(2, "event_time", cells["t"] - cells["g"])
    cells[["g", "t", "event_time"]] = cells[["g", "t", "event_time"]].astype(int)
    return TWFEWeights(cells=cells, treat=treat, unit_weights=obs)

"""Report sections of a study, in paper order. Each builder takes a :class:`Context` and
returns an :class:`Output` (the report section, its tables, figures and results).

Tables and figures are numbered by the runner in the order they appear, so builders give
titles without numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.results import EstimationResult
from ..panel import Panel
from ..report.html import Figure, Section
from ..report.tables import Table
from . import readings

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Context:
    """Everything a section needs: the prepared panel, the config and what the data step learnt."""

    panel: Panel
    config: dict[str, Any]
    truth: dict[str, Any] | None = None
    data_note: str | None = None
    warnings: list[str] = field(default_factory=list)
    config_dir: Path = field(default_factory=Path.cwd)
    #: weights of each ``[[prepare.entropy]]`` index, by the index's column name
    entropy_weights: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def y(self) -> str:
        return self.config["variables"]["outcome"]

    @property
    def d(self) -> str:
        return self.config["variables"]["treatment"]

    @property
    def controls(self) -> list[str]:
        return list(self.config["variables"]["controls"])

    @property
    def cluster(self) -> str | None:
        c = self.config["variables"]["cluster"]
        return None if c == "none" else (c or "unit")

    @property
    def labels(self) -> dict[str, str]:
        p = self.panel
        return {p.unit: p.unit.capitalize(), p.time: p.time.capitalize(), **self.config["variables"]["labels"]}

    def label(self, name: str) -> str:
        return self.labels.get(name, name)

    def truth_applies(self, *, spatial: bool = False) -> bool:
        """Whether the simulator's truth is about this outcome and treatment: a DID truth (ATT, event-time
        path, ...) or, with ``spatial=True``, also the spatial Durbin truth of the provincial scenario."""
        t = self.truth
        return (t is not None and t.get("treatment") == self.d
                and self.y in (t.get("outcome"), *t.get("same_effect_outcomes", ()))
                and ("att" in t or (spatial and t.get("model") == "SDM")))


@dataclass
class Output:
    """What a section produced."""

    section: Section
    tables: dict[str, Table] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)  # name -> matplotlib figure
    results: list[EstimationResult] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    def add_table(self, name: str, table: Table) -> None:
        self.tables[name] = table
        self.section.tables.append(table)

    def add_figure(self, name: str, fig: Any, caption: str) -> None:
        from ..report.figures import save

        self.figures[name] = fig
        self.section.figures.append(Figure(save(fig, "png", close=False), caption))


# ---------------------------------------------------------------------- builders
def data_section(ctx: Context) -> Output:
    p, d = ctx.panel, ctx.d
    paras = [ctx.data_note or "", p.balance().summary()]
    binary = d in p and set(p.df[d].dropna().unique()) <= {0, 1}
    if d in p and not binary:
        x = p.df[d]
        paras.append(f"Treatment '{ctx.label(d)}' is continuous: mean {x.mean():.4g}, standard deviation "
                     f"{x.std():.4g}, range [{x.min():.4g}, {x.max():.4g}].")
    if binary:
        ever = p.df.groupby(p.unit)[d].max()
        first = p.df[p.df[d] == 1].groupby(p.unit)[p.time].min()
        cohorts = first.value_counts().sort_index()
        paras.append(
            f"Treatment '{ctx.label(d)}': {int((ever == 1).sum())} treated and {int((ever == 0).sum())} "
            "never-treated units; adoption cohorts: "
            + ", ".join(f"{int(k)} ({int(v)} units)" for k, v in cohorts.items()) + "."
        )
    imp = p.imputed_cells()
    if len(imp):
        by = imp.groupby(["column", "method"]).size()
        paras.append("Imputed cells (flagged, not silent): "
                     + "; ".join(f"{c}: {n} by {m}" for (c, m), n in by.items()) + ".")
    if p.history:
        paras.append("Preparation steps: " + " -> ".join(p.history) + ".")
    paras += [f"Warning: {w}" for w in ctx.warnings]
    out = Output(Section("data", "Data and sample", paragraphs=[x for x in paras if x]))
    for column, weights in ctx.entropy_weights.items():
        out.add_table(f"entropy_weights_{column}", entropy_weights_table(ctx.label(column), weights, p.time))
    return out


def entropy_weights_table(label: str, weights: pd.DataFrame, time: str) -> Table:
    """The weights behind an entropy-weight index: entropy e_j, divergence 1 - e_j and weight
    w_j = (1 - e_j) / sum(1 - e_k) per indicator when pooled; the weight of every year when the
    weights are computed year by year."""
    if time in weights.columns:
        wide = weights.pivot(index="indicator", columns=time, values="weight")
        order = list(dict.fromkeys(weights["indicator"]))
        direction = weights.drop_duplicates("indicator").set_index("indicator")["direction"]
        rows = [[c, direction[c], *(f"{v:.3f}" for v in wide.loc[c])] for c in order]
        return Table(columns=["Direction", *(str(int(y)) for y in wide.columns)], rows=rows,
                     title=f"Entropy weights of {label}, by year", stub="Indicator",
                     notes=["Indicators min-max standardised and weighted within each year."])
    rows = [[r.indicator, r.direction, f"{r.entropy:.4f}", f"{r.divergence:.4f}", f"{r.weight:.3f}"]
            for r in weights.itertuples()]
    return Table(columns=["Direction", "Entropy e", "Divergence 1 - e", "Weight"], rows=rows,
                 title=f"Entropy weights of {label}", stub="Indicator",
                 notes=["Indicators min-max standardised over the pooled sample; "
                        "weight = divergence / sum of divergences."])


def descriptives_section(ctx: Context) -> Output:
    cols = ctx.config["descriptives"]["columns"] or [ctx.y, ctx.d, *ctx.controls]
    t = ctx.panel.describe(cols, labels=ctx.labels)
    t.title = "Descriptive statistics"
    out = Output(Section("descriptives", "Descriptive statistics"))
    out.add_table("descriptives", t)
    return out


def correlation_section(ctx: Context) -> Output:
    cols = ctx.config["correlation"]["columns"] or [ctx.y, *ctx.controls]
    t = ctx.panel.correlate(cols, labels=ctx.labels)
    t.title = "Correlation matrix"
    out = Output(Section("correlation", "Correlation analysis"))
    out.add_table("correlation", t)
    return out


def _inference(ctx: Context) -> tuple[Any, str]:
    """``[baseline] inference`` resolved for this panel: ``"analytic"`` or the wild bootstrap's
    options, and the sentence saying why the bootstrap is used (empty for analytic)."""
    from ..core.wild_bootstrap import (
        FEW_CLUSTERS,
        FEW_TREATED_CLUSTERS,
        WEBB_CLUSTERS,
        WildOptions,
        needs_wild,
        treated_clusters,
    )

    b = ctx.config["baseline"]
    clus = ctx.panel.unit if ctx.cluster == "unit" else ctx.cluster
    if b["inference"] == "analytic" or clus is None:
        return "analytic", ""
    df = ctx.panel.df
    n_clusters, n_treated = int(df[clus].nunique()), treated_clusters(df[ctx.d].to_numpy(), df[clus].to_numpy())
    if b["inference"] == "auto" and not needs_wild(n_clusters, n_treated):
        return "analytic", ""
    if b["inference"] == "wild":
        why = "As configured"
    elif n_clusters < FEW_CLUSTERS:
        why = f"Because there are only {n_clusters} clusters (fewer than {FEW_CLUSTERS})"
    else:
        why = f"Because only {n_treated} clusters are treated (fewer than {FEW_TREATED_CLUSTERS})"
    # with few clusters Rademacher weights allow only 2^G distinct draws (Webb 2023)
    weights = b["wild_weights"] if b["wild_weights"] != "auto" else (
        "webb" if n_clusters <= WEBB_CLUSTERS else "rademacher")
    options = WildOptions(n_draws=b["wild_draws"], weights_type=weights, seed=ctx.config["study"]["seed"])
    return options, f"{why}, p-values and confidence intervals come from the wild cluster bootstrap."


def baseline_section(ctx: Context) -> Output:
    from ..core.wild_bootstrap import wild_reading
    from ..estimate.baseline.twfe import twfe_stepwise
    from ..report.figures import group_trends

    b = ctx.config["baseline"]
    p, y, d = ctx.panel, ctx.y, ctx.d
    inference, why = _inference(ctx)
    rs = twfe_stepwise(p, y, d, ctx.controls, fe=b["fixed_effects"], cluster=ctx.cluster,
                       one_at_a_time=b["stepwise"], pooled_first=b["pooled_first"], ssc=b["ssc"],
                       inference=inference)
    reading = rs.reading(d, label=ctx.label(d), outcome_label=ctx.label(y)) + (
        " This is a causal effect only if treated and control units would have followed parallel "
        "trends without the policy, adoption was not anticipated, and effects do not vary across "
        "adoption cohorts in ways that bias two-way fixed effects; the event-study and robustness "
        "sections test these."
    )
    if why:
        reading += f" {why} " + wild_reading(rs.last.meta["wild"][0])
    keep = [d, *ctx.controls, *(["_cons"] if b["pooled_first"] else [])]
    t = rs.table(labels=ctx.labels, stat=b["stat"], keep=keep, title="Baseline regression: two-way fixed effects")
    paras = [f"Two-way fixed-effects (multi-period DID) estimates of {ctx.label(y)} on {ctx.label(d)}"
             + (", adding the controls one at a time." if b["stepwise"] else ".")]
    if ctx.truth_applies(spatial=True):
        paras.append(readings.truth_paragraph(rs.last, d, ctx.truth))
    out = Output(Section("baseline", "Baseline regression", paragraphs=paras, reading=reading),
                 results=list(rs), summary={"estimate": rs.last.coef(d), "se": rs.last.se(d), "p": rs.last.pvalue(d),
                                            "inference": rs.last.vcov})
    out.add_table("baseline", t)
    ever = p.df.groupby(p.unit)[d].transform("max").to_numpy()
    adopt = sorted(p.df[p.df[d] == 1].groupby(p.unit)[p.time].min().unique())
    fig = group_trends(p.df.assign(_treated=ever), y, p.time, "_treated", unit=p.unit, ylabel=ctx.label(y),
                       marks=[int(a) for a in adopt])
    out.add_figure("trends", fig, f"Mean {ctx.label(y)} of ever-treated and never-treated units by year "
                                  "(dotted lines: adoption years).")
    return out


def model_selection_section(ctx: Context) -> Output:
    from ..estimate.selection.panel_tests import model_selection_tests

    robust = ctx.config["model_selection"]["robust_hausman"]
    res = model_selection_tests(ctx.panel, ctx.y, ctx.d, ctx.controls,
                                cluster=(ctx.cluster or "unit") if robust else None)
    out = Output(Section("model_selection", "Model selection", paragraphs=[
        "Is a fixed-effects model needed (F test against pooled OLS), are there unit effects at all "
        "(Breusch-Pagan LM), and may they be treated as random (Hausman)?"],
        reading=res.reading()))
    out.add_table("model_selection", res.table())
    return out


def gmm_section(ctx: Context) -> Output:
    from ..estimate.endogeneity.gmm import dynamic_gmm

    g = ctx.config["gmm"]
    res = dynamic_gmm(ctx.panel, ctx.y, ctx.d, ctx.controls, lags=g["lags"], method=g["method"],
                      steps=g["steps"], collapse=g["collapse"])
    reading = res.reading(ctx.d, label=ctx.label(ctx.d))
    out = Output(Section("gmm", "Dynamic panel GMM", paragraphs=[
        f"{'System' if g['method'] == 'system' else 'Difference'} GMM ({g['steps']}-step"
        + (", Windmeijer-corrected SEs" if g["steps"] == 2 else "") + (", collapsed instruments" if g["collapse"] else "")
        + ") with the outcome lagged " + (f"{g['lags']} periods." if g["lags"] > 1 else "one period.")],
        reading=reading), results=[res])
    out.add_table("gmm", res.table(labels=ctx.labels))
    return out


def event_study_section(ctx: Context) -> Output:
    from ..estimate.baseline.event_study import event_study

    e = ctx.config["event_study"]
    ref = e["ref"] if isinstance(e["ref"], int) else tuple(e["ref"])
    inference, why = _inference(ctx)
    es = event_study(ctx.panel, ctx.y, treat=ctx.d, controls=ctx.controls, window=tuple(e["window"]),
                     bin_endpoints=e["bin_endpoints"], ref=ref, control=e["control"], cluster=ctx.cluster,
                     inference=inference)
    reading = es.reading()
    if why:
        reading += (f" {why} It is the {es.fit.meta['wild'][0].describe()}, with the same draws for every "
                    "period; the joint test of the leads stays the analytic Wald test.")
    t = es.table()
    t.title = f"Event study: {ctx.label(ctx.y)} around adoption"
    paras = ["Coefficients on event-time dummies (years relative to adoption) in a two-way fixed-effects "
             "regression with the baseline controls; never-treated units and not-yet-treated periods form "
             "the comparison."]
    if ctx.truth_applies():
        paras.append("True effect by event time (simulated data): " + ", ".join(
            f"k={k}: {v:.4f}" for k, v in sorted(ctx.truth["effect_by_event_time"].items())) + ".")
    out = Output(Section("event_study", "Parallel trends: event study", paragraphs=paras, reading=reading),
                 results=[es.fit], summary={"pretrend": es.pretrend.summary() if es.pretrend else None})
    out.add_table("event_study", t)
    out.add_figure("event_study", es.plot(ylabel=f"Effect on {ctx.label(ctx.y)}"),
                   "Event-study coefficients with 95% confidence intervals; period -1 is the reference.")
    if e["honest_did"]:
        _add_honest_did(out, es, ctx)
    return out


def _add_honest_did(out: Output, es: Any, ctx: Context) -> None:
    """Rambachan-Roth sensitivity of the average post-adoption effect (``[event_study] honest_did``)."""
    from ..estimate.did.honest_did import honest_did

    hd = honest_did(es, restriction="relative_magnitudes", target="average")
    out.section.paragraphs.append(
        "Sensitivity to violations of parallel trends (Rambachan & Roth 2023): robust confidence "
        "intervals for the average post-adoption effect when post-adoption deviations from parallel "
        "trends may reach Mbar times the largest deviation between consecutive pre-adoption periods.")
    out.section.reading = f"{out.section.reading} {hd.reading()}".strip()
    out.summary["honest_did"] = hd.summary()
    t = hd.table()
    t.title = f"Sensitivity to parallel-trends violations: {ctx.label(ctx.y)}"
    out.add_table("honest_did", t)
    out.add_figure("honest_did", hd.plot(ylabel=f"Effect on {ctx.label(ctx.y)}"),
                   "Robust 95% confidence intervals against Mbar (relative magnitudes); the grey "
                   "interval assumes exact parallel trends.")


def placebo_section(ctx: Context) -> Output:
    from ..estimate.robustness.placebo import placebo_test

    c = ctx.config["placebo"]
    seed = c["seed"] if c["seed"] is not None else ctx.config["study"]["seed"]
    out = Output(Section("placebo", "Placebo test", paragraphs=[
        f"The baseline regression is re-estimated {c['n_draws']} times with pseudo-treatments drawn at random "
        "(all draws computed as one batched fixed-effects projection, identical to separate regressions)."]))
    texts = []
    for kind in c["kinds"]:
        res = placebo_test(ctx.panel, ctx.y, ctx.d, ctx.controls, kind=kind, n_draws=c["n_draws"], seed=seed,
                           cluster=ctx.cluster, sample=c["time_sample"] if kind == "time" else "full")
        out.add_table(f"placebo_{kind}", res.table())
        out.add_figure(f"placebo_{kind}", res.plot(),
                       f"Placebo ({kind}): kernel density of {c['n_draws']} placebo estimates (line), their p-values "
                       "(dots, right axis), and the actual estimate (dashed).")
        out.summary[kind] = res.summary()
        texts.append(res.reading())
    out.section.reading = " ".join(texts)
    return out


def robustness_section(ctx: Context) -> Output:
    import pandas as pd

    from ..estimate.baseline.twfe import twfe
    from ..estimate.robustness import checks as rb

    r = ctx.config["robustness"]
    args = (ctx.panel, ctx.y, ctx.d, ctx.controls)
    kw = {"cluster": ctx.cluster}
    todo = [(f"timing -{k}", lambda k=k: rb.shift_timing(*args, years=k, sample=r["shift_sample"], **kw))
            for k in r["shift_timing"]]
    calendars = {name: pd.read_csv(ctx.config_dir / path) for name, path in r["concurrent_calendars"].items()}
    if r["concurrent_policies"] or calendars:
        todo.append(("concurrent policies", lambda: rb.control_concurrent_policies(
            *args, policies=r["concurrent_policies"], calendars=calendars,
            expand_provinces=r["expand_provinces"], **kw)))
    if r["trim_outcome"]:
        todo.append(("trimming", lambda: rb.trim_outcome(*args, lower=r["trim_outcome"][0],
                                                         upper=r["trim_outcome"][1], **kw)))
    if r["winsorize_outcome"]:
        todo.append(("winsorizing", lambda: rb.winsorize_outcome(*args, lower=r["winsorize_outcome"][0],
                                                                 upper=r["winsorize_outcome"][1], **kw)))
    for col in r["alternative_outcomes"]:
        todo.append((f"outcome {col}", lambda col=col: rb.replace_outcome(ctx.panel, col, ctx.d, ctx.controls, **kw)))
    for col in r["replace_treatment"]:
        todo.append((f"index {col}", lambda col=col: rb.replace_treatment(
            ctx.panel, ctx.y, col, ctx.controls, show_as=ctx.d, **kw)))
    base = twfe(*args, **kw)
    base.label = "Baseline"
    checks, failed = [], []
    for name, run in todo:
        try:
            checks.append(run())
        except Exception as err:  # one failed check is reported; the others still run
            failed.append(f"The {name} check could not be estimated: {err}")
    res = rb.RobustnessChecks(base, checks, treat=ctx.d, controls=ctx.controls)
    out = Output(Section("robustness", "Robustness checks", paragraphs=failed, reading=res.reading()),
                 results=res.results)
    if checks:
        out.add_table("robustness", res.table(labels=ctx.labels))
    return out


def robust_did_section(ctx: Context) -> Output:
    from ..estimate.did.bacon import bacon_decomposition, twfe_weights
    from ..estimate.did.staggered import compare_estimators

    p = ctx.panel
    cmp = compare_estimators(p, ctx.y, treat=ctx.d, controls=ctx.controls, cluster=ctx.cluster)
    paras = ["Two-way fixed effects with staggered adoption compares later adopters with earlier ones "
             "and can be biased when effects change over time or differ across cohorts (Goodman-Bacon 2021; "
             "de Chaisemartin & D'Haultfoeuille 2020). The columns below estimate the same average effect on "
             "the treated with estimators that avoid those comparisons."]
    if ctx.truth_applies():
        paras.append(f"True average effect on the treated (simulated data): {ctx.truth['att']:.4f}.")
    w = twfe_weights(p, ctx.d)
    paras.append(w.reading())
    out = Output(Section("robust_did", "TWFE versus heterogeneity-robust DID estimators", paragraphs=paras,
                         reading=cmp.reading()),
                 results=cmp.results,
                 summary={"estimates": cmp.frame().to_dict("records"), "negative_weights": int(w.n_negative)})
    out.add_table("robust_did", cmp.table(labels={**ctx.labels, "ATT": ctx.label(ctx.d)},
                                          title="TWFE versus heterogeneity-robust estimators"))
    if p.balance().balanced:
        bd = bacon_decomposition(p, ctx.y, ctx.d)
        out.add_table("bacon", bd.table())
        out.add_figure("bacon", bd.plot(), "Goodman-Bacon decomposition: each 2x2 DID estimate against its weight.")
        out.summary["bacon_forbidden_weight"] = bd.forbidden_weight
    else:
        out.section.paragraphs.append("The Goodman-Bacon decomposition needs a balanced panel; skipped.")
    return out


def psm_section(ctx: Context) -> Output:
    from ..estimate.robustness.psm import psm_did

    c = ctx.config["psm"]
    opts = {"kernel": c["kernel"], "bandwidth": c["bandwidth"]} if c["method"] == "kernel" else (
        {"caliper": c["caliper"]} if c["caliper"] is not None else {})
    covs = c["covariates"] or ctx.controls
    res = psm_did(ctx.panel, ctx.y, ctx.d, ctx.controls, covariates=covs, method=c["method"], model=c["model"],
                  period_by_period=c["period_by_period"], cluster=ctx.cluster, weighted=True, **opts)
    n = res.counts
    paras = [f"Propensity scores ({c['model']}) on {', '.join(ctx.label(v) for v in covs)} "
             + ("matched year by year" if c["period_by_period"] else "using pre-adoption means of each unit")
             + f"; {c['method']} matching" + (f" ({c['kernel']} kernel, bandwidth {c['bandwidth']:g})"
                                                if c["method"] == "kernel" else "")
             + f". {n['treated']} treated and {n['control']} control entities; {n['off_support']} off common "
               f"support, {n['unmatched']} unmatched.", *res.notes]
    if ctx.truth_applies():
        lo, hi = res.did.confint(ctx.d)
        paras.append(f"Truth (simulated data): {ctx.truth['att']:.4f}; the matched-sample 95% CI "
                     f"[{lo:.4f}, {hi:.4f}] " + ("covers" if lo <= ctx.truth["att"] <= hi else "does NOT cover")
                     + " it.")
    out = Output(Section("psm", "PSM-DID", paragraphs=paras, reading=res.reading()), results=res.results,
                 summary={"att": res.att, "att_se": res.att_se, "counts": n})
    out.add_table("psm_balance", res.balance.table())
    out.add_table("psm_did", res.table(labels=ctx.labels, keep=[ctx.d, *ctx.controls]))
    out.add_figure("psm_support", res.plot(),
                   "Propensity-score densities of treated and control units before and after matching.")
    return out


def iv_section(ctx: Context) -> Output:
    from ..estimate.endogeneity.iv import distance_trend_instrument, iv_2sls

    c = ctx.config["iv"]
    panel, instruments = ctx.panel, list(c["instruments"])
    paras = ["Two-stage least squares with unit and year fixed effects, instrumenting the treatment."]
    if c["distance_reference"]:
        panel = distance_trend_instrument(panel, c["distance_reference"], shift=1.0)
        instruments.append("iv_distance_trend")
        paras.append(f"Instrument iv_distance_trend = ln(1 + great-circle km to {c['distance_reference']}) x "
                     "(year - first year + 1), as in seed 000; its validity rests on distance affecting the outcome "
                     "only through the policy, which the data cannot test with one instrument.")
    res = iv_2sls(panel, ctx.y, ctx.d, instruments, ctx.controls, cluster=ctx.cluster)
    out = Output(Section("iv", "Endogeneity: instrumental variables", paragraphs=paras,
                         reading=res.reading(ctx.d)),
                 results=res.results,
                 summary={"estimate": res.coef(ctx.d), "first_stage_F": res.diagnostics.first_stage_F[ctx.d],
                          "ar_p": res.anderson_rubin.p_value})
    out.add_table("iv", res.table(labels=ctx.labels))
    return out


def nonlinear_section(ctx: Context) -> Output:
    from ..estimate.selection.nonlinear import polynomial_fe

    c = ctx.config["nonlinear"]
    res = polynomial_fe(ctx.panel, ctx.y, c["x"], [v for v in ctx.controls if v != c["x"]], degree=c["degree"],
                        cluster=ctx.cluster)
    out = Output(Section("nonlinear", "Nonlinearity", paragraphs=[
        f"Fixed-effects regression of {ctx.label(ctx.y)} on {ctx.label(c['x'])} and its powers up to "
        f"{c['degree']}; turning points with delta-method confidence intervals."], reading=res.reading()),
        results=[res.result])
    out.add_table("nonlinear", res.table())
    out.add_figure("nonlinear", res.plot(), f"Fitted relation of {ctx.label(ctx.y)} to {ctx.label(c['x'])} "
                                            "with 95% confidence band over the observed range.")
    return out


def threshold_section(ctx: Context) -> Output:
    """Hansen's (1999) panel threshold regression: thresholds with LR sets, bootstrap F tests,
    the LR figure and its reading."""
    from ..estimate.selection.threshold import threshold_regression

    c = ctx.config["threshold"]
    x, q = c["treat"] or ctx.d, c["threshold_var"]
    res = threshold_regression(ctx.panel, ctx.y, x, [v for v in ctx.controls if v != x], threshold_var=q,
                               n_thresholds=c["n_thresholds"], fe=c["fe"], trim=c["trim"], grid=c["grid"],
                               n_draws=c["n_draws"], seed=ctx.config["study"]["seed"], cluster=ctx.cluster)
    fe = "unit" if c["fe"] == "unit" else "unit and year"
    out = Output(Section("threshold", "Threshold effects", paragraphs=[
        f"Fixed-effects ({fe}) panel threshold regression (Hansen 1999): the slope of {ctx.label(x)} may change "
        f"where {ctx.label(q)} crosses up to {c['n_thresholds']} unknown threshold(s), estimated by least squares "
        "sequentially with refinement; F tests of the number of thresholds use Hansen's bootstrap and the "
        "thresholds' confidence sets invert the likelihood-ratio statistic."], reading=res.reading()),
        results=res.results, summary=res.summary())
    out.add_table("threshold", res.table(labels=ctx.labels))
    out.add_table("threshold_tests", res.test_table())
    out.add_figure("threshold_lr", res.plot(), f"Likelihood-ratio statistic against the candidate threshold of "
                   f"{ctx.label(q)}; the dashed line is the {100 * (1 - res.alpha):g}% critical value, below which "
                   "lies the confidence set.")
    return out


def mediation_section(ctx: Context) -> Output:
    from ..estimate.mechanisms.mediation import mediation

    m = ctx.config["mediation"]
    res = mediation(ctx.panel, ctx.y, ctx.d, m["mediators"], ctx.controls, cluster=ctx.cluster,
                    n_draws=m["n_boot"], seed=ctx.config["study"]["seed"])
    paras = ["Three-step (Baron-Kenny) mediation with unit and year fixed effects: (1) outcome on the "
             "treatment, (2) mediator on the treatment, (3) outcome on both; the indirect effect ab is tested "
             "with Sobel, Aroian and Goodman z and a cluster bootstrap. The policy -> mediator effect (column 2) "
             "is identified by the DID design; the mediator -> outcome step is not, because the mediator is not "
             "randomly assigned (Jiang 2022), so read columns 3 and the shares as descriptive."]
    if ctx.truth_applies() and ctx.truth.get("mediator") in m["mediators"]:
        t = ctx.truth
        paras.append(f"Truth (simulated data) for {t['mediator']}: indirect effect {t['indirect']:.4f} per unit of "
                     f"exposure, mediated share {t['mediated_share']:.3f} (effects start {t['lag']} years after "
                     "adoption, so DID-dummy estimates are diluted).")
    out = Output(Section("mediation", "Mechanism analysis", paragraphs=paras, reading=res.reading()),
                 results=res.results, summary={"paths": res.summary()["paths"]})
    out.add_table("mediation", res.table(labels=ctx.labels))
    return out


def heterogeneity_section(ctx: Context) -> Output:
    from ..estimate.mechanisms.heterogeneity import heterogeneity

    h = ctx.config["heterogeneity"]
    out = Output(Section("heterogeneity", "Heterogeneity analysis", paragraphs=[
        "Groups are fixed per unit (time-varying grouping variables are averaged over pre-treatment years) so "
        "the policy cannot move units between groups. Each group is estimated separately and in one interacted "
        "model; the Wald and permutation tests ask whether the effect differs across groups."]))
    texts = []
    for spec in h["by"]:
        col = spec["column"]
        split = ("threshold", spec["threshold"]) if spec["split"] == "threshold" else spec["split"]
        res = heterogeneity(ctx.panel, ctx.y, ctx.d, ctx.controls, by=col, split=split, q=spec["q"],
                            population=spec["population"], population_unit=spec["population_unit"],
                            n_draws=h["n_perm"], seed=ctx.config["study"]["seed"], cluster=ctx.cluster)
        out.add_table(f"heterogeneity_{col}", res.table(labels=ctx.labels))
        out.add_figure(f"heterogeneity_{col}", res.plot(),
                       f"Effect of {ctx.label(ctx.d)} by {ctx.label(col)} group with 95% confidence intervals.")
        out.summary[col] = res.summary()["groups"]
        texts.append(res.reading(ctx.label(col)))
        if ctx.truth_applies() and col == "income":
            out.section.paragraphs.append(
                f"Truth (simulated data): effect {ctx.truth['att_high_income']:.4f} in high-income and "
                f"{ctx.truth['att_low_income']:.4f} in low-income cities (split at the mean).")
    out.section.reading = " ".join(texts)
    return out


def spatial_section(ctx: Context) -> Output:
    """Moran's I, spatial model selection, SDM/SAR/SEM with effects, maps (see :mod:`.spatial_section`)."""
    from .spatial_section import spatial_section as build

    return build(ctx)


@dataclass(frozen=True)
class SectionSpec:
    key: str
    title: str
    build: Callable[[Context], Output]
    enabled: Callable[[dict[str, Any]], bool]


def _on(name: str) -> Callable[[dict[str, Any]], bool]:
    return lambda cfg: bool(cfg[name]["enabled"])


SECTIONS: list[SectionSpec] = [
    SectionSpec("data", "Data and sample", data_section, lambda cfg: True),
    SectionSpec("descriptives", "Descriptive statistics", descriptives_section, _on("descriptives")),
    SectionSpec("correlation", "Correlation analysis", correlation_section, _on("correlation")),
    SectionSpec("baseline", "Baseline regression", baseline_section, _on("baseline")),
    SectionSpec("model_selection", "Model selection", model_selection_section, _on("model_selection")),
    SectionSpec("event_study", "Parallel trends: event study", event_study_section, _on("event_study")),
    SectionSpec("placebo", "Placebo test", placebo_section, _on("placebo")),
    SectionSpec("robust_did", "TWFE versus heterogeneity-robust DID", robust_did_section, _on("robust_did")),
    SectionSpec("robustness", "Robustness checks", robustness_section, _on("robustness")),
    SectionSpec("psm", "PSM-DID", psm_section, _on("psm")),
    SectionSpec("iv", "Endogeneity: instrumental variables", iv_section,
                lambda cfg: cfg["iv"]["enabled"] and bool(cfg["iv"]["instruments"] or cfg["iv"]["distance_reference"])),
    SectionSpec("gmm", "Dynamic panel GMM", gmm_section, _on("gmm")),
    SectionSpec("mediation", "Mechanism analysis", mediation_section,
                lambda cfg: cfg["mediation"]["enabled"] and bool(cfg["mediation"]["mediators"])),
    SectionSpec("heterogeneity", "Heterogeneity analysis", heterogeneity_section,
                lambda cfg: cfg["heterogeneity"]["enabled"] and bool(cfg["heterogeneity"]["by"])),
    SectionSpec("nonlinear", "Nonlinearity", nonlinear_section,
                lambda cfg: cfg["nonlinear"]["enabled"] and cfg["nonlinear"]["x"] is not None),
    SectionSpec("threshold", "Threshold effects", threshold_section,
                lambda cfg: cfg["threshold"]["enabled"] and cfg["threshold"]["threshold_var"] is not None),
    SectionSpec("spatial", "Spatial effects", spatial_section, _on("spatial")),
]

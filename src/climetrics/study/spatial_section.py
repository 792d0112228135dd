"""The spatial section of a study, as in seed 001 section 4.1.

Global Moran's I of the outcome per year under each weights matrix (seed 001 Table 6), the
model-selection tests (LM lag / error and robust versions on the fixed-effects model, LR and
Wald tests of the SDM against the SAR and the SEM), the panel spatial model under each matrix
with LeSage & Pace direct / indirect / total effects (Tables 7-8), a Moran scatter plot and
choropleth maps of chosen variables (Figs. 3-5).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ..report.html import Section
from ..report.tables import Table, fmt, stars
from . import readings
from .sections import Context, Output

WEIGHTS_LABELS = {
    "contiguity": "0-1 contiguity",
    "economic": "economic-geographic nested",
    "inverse_distance": "inverse distance",
    "knn": "k-nearest neighbours",
    "file": "user-supplied",
}


def build_weights(ctx: Context, kind: str):
    """Row-standardised weights of ``kind`` for the panel's units (ids = the panel's unit values)."""
    from ..estimate.spatial import weights as sw

    c, units = ctx.config["spatial"], ctx.panel.units
    if kind == "file":
        return weights_from_file(c, ctx.config_dir, units).standardized()
    if kind == "contiguity":
        w = sw.contiguity(c["level"], units, attach_islands="nearest" if c["link_islands"] else None)
        return w.standardized()
    coords = sw.coordinates(c["level"], units)
    if kind == "knn":
        return sw.knn(coords, c["k"]).standardized()
    w0 = sw.inverse_distance(coords, c["cutoff_km"], c["power"])
    if kind == "inverse_distance":
        return w0.standardized()
    gdp = ctx.panel.df.groupby(ctx.panel.unit)[c["gdp"]].mean()  # Ybar_i over the sample years
    return sw.economic_nested(w0, gdp).standardized()


def weights_from_file(spatial: dict[str, Any], config_dir: Path, units: pd.Index):
    """The ``[spatial] weights_file`` pairs (columns ``unit``, ``neighbor`` and optionally
    ``weight``) as weights over ``units``; every problem, including a unit left without a
    neighbour, is a ConfigError naming the key and the file."""
    from ..errors import ConfigError, EstimationError
    from ..estimate.spatial.weights import from_pairs

    path = (config_dir / spatial["weights_file"]).resolve()
    key = f"'spatial.weights_file' ({path.name})"
    if not path.is_file():
        raise ConfigError([f"{key}: file not found at {path}"])
    pairs = pd.read_csv(path)
    missing = [col for col in ("unit", "neighbor") if col not in pairs.columns]
    if missing:
        raise ConfigError([f"{key}: needs columns unit, neighbor (and optionally weight); "
                           f"missing {missing}, found {list(pairs.columns)}"])
    if len(units) and pairs["unit"].dtype.kind in "iuf" and units.dtype.kind not in "iuf":
        pairs[["unit", "neighbor"]] = pairs[["unit", "neighbor"]].astype(str)
    try:
        w = from_pairs(pairs, "unit", "neighbor", "weight" if "weight" in pairs.columns else None,
                       ids=units, symmetric=not spatial["directed"], kind=f"pairs from {path.name}")
    except EstimationError as err:
        raise ConfigError([f"{key}: {err}"]) from err
    if w.islands:
        shown = ", ".join(map(repr, w.islands[:5]))
        raise ConfigError([f"{key}: {len(w.islands)} panel unit(s) have no neighbour: {shown}"])
    return w


def effects_table(effects: dict[str, Any], labels: dict[str, str], digits: int = 4) -> Table:
    """Direct / indirect / total effects (:class:`SpatialEffects`), one column per weights
    matrix, z-values in parentheses; the notes say which covariance the draws used and how many
    non-stationary draws were discarded under each matrix."""
    first = next(iter(effects.values()))
    rows: list[list[str]] = []
    for kind in ("direct", "indirect", "total"):
        for term in dict.fromkeys(first.frame["term"]):
            est, tval = [], []
            for eff in effects.values():
                r = eff.effect(term, kind)
                est.append(fmt(r["estimate"], digits) + stars(r["p_value"]))
                tval.append(f"({fmt(r['statistic'], 2)})")
            rows += [[f"{kind.capitalize()}: {labels.get(term, term)}", *est], ["", *tval]]
    notes = first.notes()[:1]
    notes += [f"{lab}: " + n for lab, eff in effects.items() for n in eff.notes()[1:]]
    return Table(list(effects), rows, title="Direct, indirect (spillover) and total effects", notes=notes)


def selection_table(tests, wlabel: str) -> Table:
    """The model-selection tests (a TestSet) with what each one restricts."""
    t = tests.table(title=f"Spatial model selection tests ({wlabel})")
    t.notes.append(
        "LM tests (Anselin 1988; robust forms Anselin et al. 1996) on the fixed-effects model with "
        "I_T (x) W (Elhorst 2010); LR and Wald tests restrict the SDM to the SAR (theta = 0) and to "
        "the SEM (theta + rho beta = 0), the Wald tests with the models' covariance; the Hausman test "
        "compares unit fixed with random effects over the slopes (splm's sphtest).")
    return t


def _covariance(ctx: Context) -> dict[str, Any]:
    """The spatial models' covariance following the study's: clustered by unit unless the study
    asks for robust (unclustered) standard errors; a coarser cluster column is not possible
    for the spatial scores, which pair units, so it falls back to clustering by unit."""
    c = ctx.cluster
    return {"vcov": "hetero"} if c is None else {"cluster": "unit"}


def spatial_section(ctx: Context) -> Output:
    from ..core.results import TestSet
    from ..estimate.spatial.effects import impacts
    from ..estimate.spatial.lm_tests import lm_tests, lr_test, sdm_wald, spatial_hausman
    from ..estimate.spatial.models import spatial_panel
    from ..estimate.spatial.moran import moran_by_year, moran_scatter, moran_table
    from ..report.maps import choropleth
    from ..report.tables import regression_table

    c, p, seed = ctx.config["spatial"], ctx.panel, ctx.config["study"]["seed"]
    xs = c["regressors"] or [ctx.d, *ctx.controls]
    ws = {f"W{i + 1} {WEIGHTS_LABELS[k]}": build_weights(ctx, k) for i, k in enumerate(c["weights"])}
    out = Output(Section("spatial", "Spatial effects", paragraphs=[
        "Weights: " + "; ".join(f"{lab}: {w.kind}, row-standardised" for lab, w in ws.items()) + "."]))

    mor = {lab: moran_by_year(p, c["moran_variable"] or ctx.y, w, n_draws=c["permutations"], seed=seed)
           for lab, w in ws.items()}
    t = moran_table(mor, time=p.time)
    t.title = f"Global Moran's I of {ctx.label(c['moran_variable'] or ctx.y)}"
    out.add_table("moran", t)
    w1_label, w1 = next(iter(ws.items()))
    last = p.df[p.df[p.time] == p.periods[-1]].set_index(p.unit)[c["moran_variable"] or ctx.y]
    out.add_figure("moran_scatter", moran_scatter(last, w1),
                   f"Moran scatter plot of {ctx.label(c['moran_variable'] or ctx.y)} in {p.periods[-1]} ({w1_label}).")

    cov = _covariance(ctx)
    if ctx.cluster not in (None, "unit", p.unit):
        out.section.paragraphs.append(
            f"The study clusters by '{ctx.cluster}'; the spatial models cluster by {p.unit} (their scores "
            "pair units, so coarser clusters are not available).")
    kw, model = dict(effects=c["effects"], lee_yu=c["lee_yu"], **cov), c["model"]
    fits = {m: spatial_panel(p, ctx.y, xs, w1, model=m, **kw) for m in ("sdm", "sar", "sem")}
    h = spatial_hausman(p, ctx.y, xs, w1, model=model)
    tests = TestSet([*lm_tests(p, ctx.y, xs, w1, effects=c["effects"]),
                     lr_test(fits["sar"], fits["sdm"]), lr_test(fits["sem"], fits["sdm"]),
                     sdm_wald(fits["sdm"], "sar"), sdm_wald(fits["sdm"], "sem"), h])
    if not h.details["positive_definite"]:
        out.section.paragraphs.append(h.verdict)
    out.add_table("spatial_tests", selection_table(tests, w1_label))

    res = {lab: (fits[model] if w is w1 else spatial_panel(p, ctx.y, xs, w, model=model, **kw))
           for lab, w in ws.items()}
    out.add_table("spatial_models", regression_table(
        list(res.values()), labels=ctx.labels, column_labels=list(res),
        title=f"{model.upper()} with {c['effects']} fixed effects"
              + (" (Lee-Yu bias-corrected ML)" if c["lee_yu"] else " (ML)")))
    out.results = list(res.values())
    effects = {}
    if model != "sem":
        effects = {lab: impacts(r, n_draws=c["draws"], seed=seed) for lab, r in res.items()}
        out.add_table("spatial_effects", effects_table(effects, ctx.labels))

    for var in c["maps"]:
        years = c["map_years"] or [p.periods[0], p.periods[-1]]
        out.add_figure(f"map_{var}", choropleth(p, var, level=c["level"], years=years),
                       f"Spatial distribution of {ctx.label(var)} in {', '.join(map(str, years))}.")

    rows = [{"test": t.name, "statistic": t.statistic, "df": t.df, "p_value": t.p_value} for t in tests]
    rows[-1]["positive_definite"] = h.details["positive_definite"]
    out.summary = {
        "moran": {lab: df.to_dict("records") for lab, df in mor.items()},
        "tests": rows,
        "effects": {lab: e.tidy().to_dict("records") for lab, e in effects.items()},
        "discarded_draws": {lab: e.discarded_share for lab, e in effects.items()},
        "vcov": fits[model].vcov,
        "rho": {lab: float(r.coefs.set_index("term").loc["lambda" if model == "sem" else "rho", "estimate"])
                for lab, r in res.items()},
    }
    reading = readings.spatial_reading(mor, rows, {}, ctx.d, ctx.label(ctx.d), ctx.label(ctx.y))
    for lab, e in effects.items():
        if ctx.d in set(e.frame["term"]):
            reading += f" Under {lab}: " + e.reading(ctx.d, label=ctx.label(ctx.d), outcome_label=ctx.label(ctx.y))
    out.section.reading = reading
    t = ctx.truth
    if t is not None and t.get("model") == "SDM" and t.get("treatment") in xs and model == "sdm":
        e = t["effects"]
        out.section.paragraphs.append(
            f"Truth (simulated data, {t['weights']}): rho = {t['rho']}, direct effect of {ctx.label(t['treatment'])} "
            f"{e['direct']:.4f}, indirect {e['indirect']:.4f}, total {e['total']:.4f}.")
    return out

"""Callaway & Sant'Anna reference numbers on mpdta from ``csdid`` (Python port of R ``did``).

Analytic (influence-function) standard errors only (``bstrap=False``): bootstrap draws are
random and not comparable across implementations. Writes tests/data/reference/cs_mpdta.json.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
from _common import mpdta, versions, write
from csdid.att_gt import ATTgt

CONFIGS = [
    # name, control, method, covariates, base_period, anticipation, cluster
    ("never_dr", "nevertreated", "dr", None, "varying", 0, None),
    ("notyet_dr", "notyettreated", "dr", None, "varying", 0, None),
    ("never_universal", "nevertreated", "dr", None, "universal", 0, None),
    ("never_anticipation1", "nevertreated", "dr", None, "varying", 1, None),
    ("never_dr_lpop", "nevertreated", "dr", "lpop", "varying", 0, None),
    ("never_ipw_lpop", "nevertreated", "ipw", "lpop", "varying", 0, None),
    ("never_reg_lpop", "nevertreated", "reg", "lpop", "varying", 0, None),
    ("notyet_dr_lpop", "notyettreated", "dr", "lpop", "varying", 0, None),
    ("notyet_ipw_lpop", "notyettreated", "ipw", "lpop", "varying", 0, None),
    ("notyet_reg_lpop", "notyettreated", "reg", "lpop", "varying", 0, None),
    ("never_dr_lpop_state", "nevertreated", "dr", "lpop", "varying", 0, "state"),
]
# Not-yet-treated controls without never-treated units (the never-treated counties dropped):
# R did cuts the periods from the last cohort's adoption on and uses that cohort as control.
TREATED_ONLY = [("notyet_dr_treated_only", "notyettreated", "dr", None, "varying", 0, None)]
AGGREGATIONS = [
    ("simple", {}),
    ("dynamic", {}),
    ("dynamic_window", {"typec": "dynamic", "min_e": -2, "max_e": 2}),
    ("dynamic_balance1", {"typec": "dynamic", "balance_e": 1}),
    ("group", {}),
    ("calendar", {}),
]


def run(control, method, cov, base_period, anticipation, cluster, treated_only=False):
    df = mpdta()
    if treated_only:
        df = df[df["first.treat"] > 0]
    fit = ATTgt(
        yname="lemp", tname="year", idname="countyreal", gname="first.treat", data=df,
        control_group=control, xformla=f"lemp ~ {cov}" if cov else None,
        anticipation=anticipation, clustervar=cluster,
    ).fit(est_method=method, base_period=base_period, bstrap=False)
    r = fit.results
    out = {"attgt": {"g": r["group"], "t": r["year"], "att": r["att"], "se": r["se"]}}
    for name, kw in AGGREGATIONS:
        kw = dict(kw)
        typec = kw.pop("typec", name)
        with contextlib.redirect_stdout(io.StringIO()):
            fit.aggte(typec=typec, bstrap=False, **kw)
        a = fit.atte
        out[name] = {"att": a["overall_att"], "se": a["overall_se"]}
        if typec != "simple":
            out[name].update(level=list(a["egt"]), level_att=list(a["att_egt"]),
                             level_se=list(np.ravel(a["se_egt"])))
    return out


def main() -> None:
    results = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, *spec in CONFIGS + TREATED_ONLY:
            only = (name, *spec) in TREATED_ONLY
            keys = ["control", "method", "covariates", "base_period", "anticipation", "cluster"]
            results[name] = {"spec": {**dict(zip(keys, spec, strict=True)), "treated_only": only},
                             **run(*spec, treated_only=only)}
    write("cs_mpdta.json", {
        "source": "csdid ATTgt(...).fit(bstrap=False) and .aggte(bstrap=False) on tests/data/mpdta.csv",
        "versions": versions("csdid", "drdid", "numpy", "pandas", "statsmodels"),
        "results": results,
    })


if __name__ == "__main__":
    main()

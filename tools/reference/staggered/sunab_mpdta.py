"""Sun & Abraham reference numbers on mpdta from statsmodels (explicit dummies) and pyfixest.

Primary reference: statsmodels OLS of lemp on explicit cohort x relative-period dummies plus
county and year dummies, cluster-robust by county (statsmodels' CRV1 correction
``(N-1)/(N-K) * G/(G-1)`` with K counting every dummy). Interaction weights are cohort shares
of observations, computed here from the data. Second reference for the point estimates:
pyfixest's saturated event study (``SaturatedEventStudy``), a different code path.
Writes tests/data/reference/sunab_mpdta.json.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm
from _common import mpdta, versions, write


def dummies_fit(df: pd.DataFrame, control: int | None, covs: list[str]) -> dict:
    """Saturated TWFE by explicit dummies; control=None means never-treated control."""
    g = df["first.treat"].to_numpy()
    treated = g > 0 if control is None else g != control
    rel = df["year"].to_numpy() - g
    cells = sorted({(int(a), int(b)) for a, b, tr in zip(g, rel, treated, strict=True) if tr and b != -1})
    names = [f"g{a}:e{b}" for a, b in cells]
    x = pd.DataFrame({n: ((g == a) & (rel == b)).astype(float) for n, (a, b) in zip(names, cells, strict=True)})
    x = pd.concat([x, df[covs].reset_index(drop=True),
                   pd.get_dummies(df["countyreal"], prefix="c", dtype=float).reset_index(drop=True),
                   pd.get_dummies(df["year"], prefix="y", drop_first=True, dtype=float).reset_index(drop=True)], axis=1)
    fit = sm.OLS(df["lemp"].to_numpy(), x).fit(cov_type="cluster", cov_kwds={"groups": df["countyreal"].to_numpy()})
    cnt = pd.Series([(a, b) for a, b, tr in zip(g, rel, treated, strict=True) if tr]).value_counts()
    n_obs = np.array([cnt[c] for c in cells], dtype=float)
    v = fit.cov_params().loc[names, names].to_numpy()
    beta = fit.params[names].to_numpy()
    e = np.array([b for _, b in cells])
    agg = {}
    for lv in sorted(set(e)):
        w = np.where(e == lv, n_obs, 0.0)
        w /= w.sum()
        agg[f"e={lv}"] = {"estimate": w @ beta, "std_error": np.sqrt(w @ v @ w)}
    w = np.where(e >= 0, n_obs, 0.0)
    w /= w.sum()
    agg["ATT"] = {"estimate": w @ beta, "std_error": np.sqrt(w @ v @ w)}
    return {
        "cells": {"name": names, "g": [a for a, _ in cells], "e": [b for _, b in cells],
                  "n_obs": n_obs, "estimate": beta, "std_error": fit.bse[names].to_numpy()},
        "covariates": {c: {"estimate": fit.params[c], "std_error": fit.bse[c]} for c in covs},
        "aggregates": agg,
        "n_obs": int(fit.nobs), "n_params": int(x.shape[1]), "n_clusters": int(df["countyreal"].nunique()),
    }


def pyfixest_saturated(df: pd.DataFrame) -> dict:
    """Cohort x relative-period coefficients of pyfixest's saturated event study."""
    from pyfixest.did.saturated_twfe import SaturatedEventStudy

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        es = SaturatedEventStudy(df, yname="lemp", idname="countyreal", tname="year", gname="first.treat",
                                 cluster="countyreal", display_warning=False)
        tidy = es.estimate().tidy().reset_index()
    parts = tidy["Coefficient"].str.extract(r"rel_time::(?P<e>[-0-9.]+):first_treated_period::(?P<g>[0-9]+)")
    return {"g": parts["g"].astype(int).to_numpy(), "e": parts["e"].astype(float).astype(int).to_numpy(),
            "estimate": tidy["Estimate"].astype(float).to_numpy()}


def main() -> None:
    df = mpdta()
    df["lpop_trend"] = df["lpop"] * (df["year"] - 2003) / 10
    last = df[(df["year"] < 2007) & (df["first.treat"] > 0)].reset_index(drop=True)
    write("sunab_mpdta.json", {
        "source": "statsmodels OLS with explicit dummies (cluster by county); pyfixest SaturatedEventStudy",
        "versions": versions("statsmodels", "pyfixest", "numpy", "pandas"),
        "results": {
            "never": dummies_fit(df, None, []),
            "never_lpop_trend": dummies_fit(df, None, ["lpop_trend"]),
            "lastcohort": dummies_fit(last, 2007, []),
        },
        "pyfixest_never": pyfixest_saturated(df),
        "notes": "lpop_trend = lpop * (year - 2003) / 10 (lpop alone is absorbed by the county effects)",
    })


if __name__ == "__main__":
    main()

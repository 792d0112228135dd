"""Borusyak-Jaravel-Spiess imputation reference numbers on mpdta from ``did-imputation``.

``did-imputation`` (PyPI) is a Python port of the Stata ``did_imputation`` command. Settings:
cluster by county, no leave-out (the package does not implement it), ``minn=0`` (no
suppression of horizons with few treated units). Each configuration is one call, as the
package reports either the overall ATT or horizons. Writes tests/data/reference/bjs_mpdta.json.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
from _common import mpdta, versions, write
from did_imputation import did_imputation


def run(covs: list[str], **kw) -> dict:
    df = mpdta()
    df["lpop_trend"] = df["lpop"] * (df["year"] - 2003) / 10
    df["Ei"] = df["first.treat"].where(df["first.treat"] > 0, np.nan)
    with contextlib.redirect_stdout(io.StringIO()):
        out = did_imputation(df, y="lemp", i="countyreal", t="year", Ei="Ei", controls=covs,
                             minn=0, **kw)
    res = {"estimates": out.estimates, "std_errors": out.std_errors}
    if out.pretrends_estimates:
        res.update(pretrends=out.pretrends_estimates, pretrends_se=out.pretrends_std_errors)
    if out.controls_estimates:
        res.update(controls=out.controls_estimates)
    return res


def main() -> None:
    write("bjs_mpdta.json", {
        "source": "did_imputation.did_imputation(...) on tests/data/mpdta.csv, cluster = county",
        "versions": versions("did-imputation", "pyhdfe", "statsmodels", "numpy", "pandas"),
        "results": {
            "att": run([]),
            "horizons": run([], horizons=[0, 1, 2, 3]),
            "horizons_pretrends": run([], horizons=[0, 1, 2, 3], pretrends=3),
            "att_lpop_trend": run(["lpop_trend"]),
            "horizons_lpop_trend": run(["lpop_trend"], horizons=[0, 1, 2, 3]),
        },
        "notes": "lpop_trend = lpop * (year - 2003) / 10; never treated: Ei missing",
    })


if __name__ == "__main__":
    main()

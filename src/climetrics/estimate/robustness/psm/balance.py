"""Covariate balance before and after matching (Stata ``pstest`` conventions): the
:class:`Balance` result and :func:`balance`."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ....core.results import (
    Result,
    TestResult,
    TestSet,
    jsonable,
    tidy_frame,
)
from ....core.wording import count
from ....errors import EstimationError
from ....panel import Panel
from ....report.tables import Table, fmt
from .score import MODELS, _covariate_matrix, _frame, _require, _treatment


@dataclass(eq=False)
class Balance(Result):
    """Covariate balance before and after matching, as Stata ``pstest``.

    Attributes
    ----------
    frame
        One row per covariate and sample (``Unmatched`` / ``Matched``): ``mean_treated``,
        ``mean_control``, ``bias`` (standardised % bias), ``reduction`` (% reduction of ``|bias|``,
        matched rows), ``t``, ``p_value`` and ``df`` of the mean-difference test.
    samples
        Per sample: ``pseudo_r2``, ``lr_chi2``, ``lr_pvalue`` of the propensity model re-estimated on
        the sample (weighted by the matching weights after matching), ``mean_bias`` and
        ``median_bias`` of ``|bias|`` over the covariates.
    model
        Link of the re-estimated propensity model.
    """

    frame: pd.DataFrame
    samples: pd.DataFrame
    model: str = "probit"

    @property
    def tests(self) -> TestSet:
        """The mean-difference t-tests (per covariate and sample) and the LR tests that the
        covariates jointly do not predict treatment (per sample), as :class:`TestResult`."""
        out = [
            TestResult(f"{r.variable} ({r.sample}): equal means", r.t, r.p_value, df=r.df, distribution="t",
                       null=f"treated and controls have the same mean of {r.variable}", alpha=0.1)
            for r in self.frame.itertuples()
        ]
        out += [
            TestResult(f"LR test ({sample}): covariates do not predict treatment", s["lr_chi2"], s["lr_pvalue"],
                       df=float(s["lr_df"]), distribution="chi2",
                       null="the covariates jointly have no effect on the propensity score", alpha=0.1)
            for sample, s in self.samples.iterrows()
        ]
        return TestSet(out, title="Covariate balance tests")

    def tidy(self) -> pd.DataFrame:
        """One row per covariate and sample: the mean difference treated - control as estimate,
        its t-test, and ``variable``, ``sample``, the means, ``bias`` and ``reduction``."""
        f = self.frame
        diff = f["mean_treated"] - f["mean_control"]
        with np.errstate(divide="ignore", invalid="ignore"):
            se = np.where(f["t"] != 0, diff / f["t"], np.nan)
        return tidy_frame(f.assign(term=f["variable"] + " (" + f["sample"] + ")", estimate=diff,
                                   std_error=se, statistic=f["t"]).drop(columns=["t"]))

    def summary(self) -> dict[str, Any]:
        """Per sample the propensity model's pseudo-R² and LR test and the mean / median |bias|;
        the largest matched |bias| and the covariates still different at 10%."""
        after = self.frame[self.frame["sample"] == "Matched"]
        worst = after.loc[after["bias"].abs().idxmax()] if len(after) else None
        return {
            "model": self.model,
            "samples": {k: {c: jsonable(v) for c, v in row.items()} for k, row in self.samples.iterrows()},
            "max_abs_bias_matched": jsonable(abs(float(worst["bias"]))) if worst is not None else None,
            "worst_covariate": str(worst["variable"]) if worst is not None else None,
            "n_different_10pct": int((after["p_value"] < 0.1).sum()),
        }

    def reading(self) -> str:
        """Covariate balance after matching: the worst standardised bias, how many covariates
        still differ at 10%, and the |bias| < 10% rule of thumb (Rosenbaum & Rubin 1985)."""
        after = self.frame[self.frame["sample"].str.lower().str.startswith("matched")]
        if after.empty:
            return "No matched sample: balance after matching cannot be assessed."
        worst = after.loc[after["bias"].abs().idxmax()]
        n_sig = int((after["p_value"] < 0.1).sum())
        return (f"After matching the largest standardized bias is {worst['bias']:.1f}% ({worst['variable']}) and "
                f"{n_sig} of {count(len(after), 'covariate')} still differ at 10%"
                + ("; balance is acceptable (|bias| < 10% is the usual rule of thumb)." if abs(worst["bias"]) < 10
                   else "; balance is imperfect, so read the matched estimates with care."))

    def table(self, *, labels: dict[str, str] | None = None, digits: int = 4,
              title: str | None = "Covariate balance test") -> Table:
        """Seed 002 Table 5 / pstest layout: per covariate an Unmatched and a Matched row with
        means, ``t (p-value)``, % bias and % reduction of ``|bias|``, then the summary rows."""
        labels = labels or {}
        rows: list[list[str]] = []
        for var, part in self.frame.groupby("variable", sort=False):
            for first, (_, r) in enumerate(part.iterrows()):
                rows.append([
                    labels.get(var, var) if first == 0 else "",
                    r["sample"],
                    fmt(r["mean_treated"], digits),
                    fmt(r["mean_control"], digits),
                    f"{fmt(r['t'], 2)} ({fmt(r['p_value'], 3)})",
                    fmt(r["bias"], 1),
                    fmt(r["reduction"], 1),
                ])
        rules = [len(rows)]
        for name, col, cell in (
            ("Pseudo R²", 5, lambda s: fmt(s["pseudo_r2"], 3)),
            ("LR chi² (p-value)", 4, lambda s: f"{fmt(s['lr_chi2'], 2)} ({fmt(s['lr_pvalue'], 3)})"),
            ("Mean |bias|", 5, lambda s: fmt(s["mean_bias"], 1)),
            ("Median |bias|", 5, lambda s: fmt(s["median_bias"], 1)),
        ):
            for first, (sample, s) in enumerate(self.samples.iterrows()):
                row = [name if first == 0 else "", str(sample), "", "", "", "", ""]
                row[col] = cell(s)
                rows.append(row)
        notes = [
            "%bias: standardised difference 100 (mean T - mean C) / sqrt((var T + var C) / 2), with the "
            "variances of the unmatched sample in both rows (Rosenbaum & Rubin 1985; pstest). "
            "Matched means, t-tests and the re-estimated "
            f"{self.model} model use the matching weights."
        ]
        return Table(
            columns=["Sample", "Treated", "Control", "t-test (p-value)", "%bias", "%reduct |bias|"],
            rows=rows, title=title, notes=notes, rules=rules, stub="Variable",
        )

    def __repr__(self) -> str:
        return self.table().to_text()


def _mean_difference_test(x: np.ndarray, t: np.ndarray, w: np.ndarray) -> tuple[float, float, float]:
    """t statistic, p-value and degrees of freedom of the treatment coefficient in the weighted regression of ``x`` on
    a constant and ``t`` with residual degrees of freedom ``sum(w) - 2`` (Stata ``regress`` with
    importance weights, as pstest)."""
    w1, w0 = w[t].sum(), w[~t].sum()
    m1, m0 = np.average(x[t], weights=w[t]), np.average(x[~t], weights=w[~t])
    rss = np.sum(w[t] * (x[t] - m1) ** 2) + np.sum(w[~t] * (x[~t] - m0) ** 2)
    df = w1 + w0 - 2
    se = np.sqrt(rss / df * (1 / w1 + 1 / w0))
    if not se > 0:
        return np.nan, np.nan, float(df)
    tstat = (m1 - m0) / se
    return float(tstat), float(2 * stats.t.sf(abs(tstat), df)), float(df)


def _weighted_pseudo_r2(t: np.ndarray, x: np.ndarray, w: np.ndarray, model: str) -> tuple[float, float, float, int]:
    """McFadden pseudo-R², LR chi², its p-value and degrees of freedom of a binary model fitted
    with frequency (Stata importance) weights ``w``."""
    import statsmodels.api as sm

    link = sm.families.links.Logit() if model == "logit" else sm.families.links.Probit()
    design = np.column_stack([np.ones(len(t)), x])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sm.GLM(t.astype(float), design, family=sm.families.Binomial(link=link),
                     freq_weights=w).fit(tol=1e-12, maxiter=200)
    p0 = np.sum(w * t) / np.sum(w)
    llnull = np.sum(w * np.where(t, np.log(p0), np.log1p(-p0)))
    chi2 = 2 * (fit.llf - llnull)
    dof = np.linalg.matrix_rank(design) - 1
    return float(1 - fit.llf / llnull), float(chi2), float(stats.chi2.sf(chi2, dof)), int(dof)


def balance(
    data: pd.DataFrame | Panel,
    treat: str | Any,
    covariates: Sequence[str],
    weights: Any,
    *,
    model: str = "probit",
) -> Balance:
    """Covariate balance before and after matching (Stata ``pstest`` conventions).

    For each covariate: the means of treated and controls in the unmatched sample and in the
    matched sample (weighted by ``weights``); the standardised % bias
    ``100 (m_T - m_C) / sqrt((s²_T + s²_C) / 2)`` of Rosenbaum & Rubin (1985), where ``s²`` are
    the *unmatched* sample variances in both rows; the % reduction ``100 (1 - |bias_M| /
    |bias_U|)``; and the t-test of equal means (OLS of the covariate on treatment before matching,
    weighted least squares with ``sum(w) - 2`` degrees of freedom after). The propensity model is
    re-estimated on both samples for the pseudo-R² and the LR test of joint insignificance.

    Parameters
    ----------
    data
        Covariate data, one row per unit.
    treat
        Treatment column name or 0/1 array aligned with ``data``.
    covariates
        Columns to test.
    weights
        Matching weights (:attr:`Matching.weights`): positive for the matched sample (1 for matched
        treated units), 0 for unmatched and off-support units.
    model
        Link of the re-estimated propensity model: ``"probit"`` as pstest, or ``"logit"``.

    Returns
    -------
    Balance
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    df = _frame(data)
    covariates = list(covariates)
    _require(df, covariates, "covariate")
    if isinstance(treat, str):
        _require(df, [treat], "treatment")
        t = _treatment(df[treat], treat)
    else:
        t = _treatment(treat, "treat")
    w = np.asarray(weights, dtype=float)
    if w.shape != t.shape or not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("weights must be finite, non-negative and aligned with the data")
    m = w > 0
    if not (m & t).any() or not (m & ~t).any():
        raise EstimationError("the matched sample needs at least one treated and one control unit")
    x = _covariate_matrix(df, covariates)
    frame = pd.DataFrame(
        [r for j, name in enumerate(covariates) for r in _covariate_rows(name, x[:, j], t, w)]
    )
    summary = pd.DataFrame(
        [_sample_summary(t, x, np.ones(len(t)), frame.loc[frame["sample"] == "Unmatched", "bias"], model),
         _sample_summary(t[m], x[m], w[m], frame.loc[frame["sample"] == "Matched", "bias"], model)],
        index=pd.Index(["Unmatched", "Matched"], name="sample"),
    )
    return Balance(frame, summary, model)


def _covariate_rows(name: str, x: np.ndarray, t: np.ndarray, w: np.ndarray) -> list[dict[str, Any]]:
    m = w > 0
    scale = np.sqrt((np.var(x[t], ddof=1) + np.var(x[~t], ddof=1)) / 2)
    rows = []
    for sample, xs, ts, ws in (("Unmatched", x, t, np.ones(len(x))), ("Matched", x[m], t[m], w[m])):
        m1, m0 = np.average(xs[ts], weights=ws[ts]), np.average(xs[~ts], weights=ws[~ts])
        tstat, p, df = _mean_difference_test(xs, ts, ws)
        bias = 100 * (m1 - m0) / scale if scale > 0 else np.nan
        rows.append({"variable": name, "sample": sample, "mean_treated": m1, "mean_control": m0,
                     "bias": bias, "reduction": np.nan, "t": tstat, "p_value": p, "df": df})
    unmatched, matched = rows[0]["bias"], rows[1]["bias"]
    rows[1]["reduction"] = 100 * (1 - abs(matched) / abs(unmatched)) if unmatched else np.nan
    return rows


def _sample_summary(t: np.ndarray, x: np.ndarray, w: np.ndarray, bias: pd.Series, model: str) -> dict[str, float]:
    r2, chi2, p, dof = _weighted_pseudo_r2(t, x, w, model)
    return {"pseudo_r2": r2, "lr_chi2": chi2, "lr_pvalue": p, "lr_df": dof,
            "mean_bias": float(bias.abs().mean()), "median_bias": float(bias.abs().median())}


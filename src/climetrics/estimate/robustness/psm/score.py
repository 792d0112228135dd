"""Propensity-score models (logit / probit, statsmodels) and the input checks shared by the
PSM modules."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ....errors import EstimationError, PanelError, did_you_mean, show
from ....panel import Panel
from ...baseline.twfe import collinear_columns

MODELS = ("logit", "probit")
METHODS = ("nearest", "radius", "kernel")
KERNELS = ("epan", "normal")
_EXTREME = 1e-12  # fitted scores this close to 0 or 1 signal (quasi-)complete separation


# ====================================================================== propensity score
@dataclass(frozen=True)
class PropensityScore:
    """A fitted propensity-score model (Rosenbaum & Rubin 1983).

    Attributes
    ----------
    score
        Fitted probability of treatment, one per row of the data.
    index
        Linear predictor ``x'b`` (the log-odds for a logit model).
    treat
        Treatment indicator (bool).
    covariates, model
        Covariates and link (``"logit"`` or ``"probit"``).
    fit
        The statsmodels results object.
    """

    score: np.ndarray
    index: np.ndarray
    treat: np.ndarray
    covariates: tuple[str, ...]
    model: str
    fit: Any = field(repr=False)

    @property
    def pseudo_r2(self) -> float:
        """McFadden's pseudo-R², ``1 - lnL / lnL0``."""
        return float(self.fit.prsquared)

    @property
    def lr_chi2(self) -> float:
        """Likelihood-ratio chi² of the covariates against a constant-only model."""
        return float(self.fit.llr)

    @property
    def lr_pvalue(self) -> float:
        return float(self.fit.llr_pvalue)


def _frame(data: pd.DataFrame | Panel) -> pd.DataFrame:
    return data.df if isinstance(data, Panel) else data


def _require(df: pd.DataFrame, cols: Sequence[str], role: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        hints = "; ".join(f"'{c}'{did_you_mean(c, df.columns)}" for c in missing)
        raise PanelError(f"{role} column not found: {hints}")


def _treatment(values: Any, name: str) -> np.ndarray:
    """0/1 treatment as bool; raise if it is not binary or has no treated or no control rows."""
    v = pd.to_numeric(pd.Series(np.asarray(values)), errors="coerce")
    bad = ~v.isin([0, 1])
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise EstimationError(
            f"treatment '{name}' must be 0/1 without missing values; row {i} has {show(np.asarray(values)[i])}"
        )
    t = v.to_numpy() == 1
    if not t.any():
        raise EstimationError(f"no treated units: '{name}' is 0 in every row used")
    if t.all():
        raise EstimationError(f"no control units: '{name}' is 1 in every row used")
    return t


def _covariate_matrix(df: pd.DataFrame, covariates: Sequence[str]) -> np.ndarray:
    x = df[list(covariates)].apply(pd.to_numeric, errors="coerce")
    bad = x.isna().sum()
    bad = bad[bad > 0]
    if len(bad):
        raise EstimationError(
            "covariates have missing or non-numeric values ("
            + ", ".join(f"{k}: {v} rows" for k, v in bad.items())
            + "); drop or impute those rows first"
        )
    return x.to_numpy(float)


def _separating_covariate(x: np.ndarray, t: np.ndarray, names: Sequence[str]) -> str | None:
    """First covariate whose treated and control values do not overlap (at most touch).

    Such a covariate separates treatment completely or quasi-completely, so the maximum-likelihood
    estimate does not exist (its coefficient diverges).
    """
    for j, name in enumerate(names):
        a, b = x[t, j], x[~t, j]
        if a.min() >= b.max() or a.max() <= b.min():
            return name
    return None


def _fit_binary(t: np.ndarray, x: np.ndarray, names: Sequence[str], model: str):
    import statsmodels.api as sm

    cls = sm.Logit if model == "logit" else sm.Probit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # non-convergence is checked below
        try:
            return cls(t.astype(float), np.column_stack([np.ones(len(t)), x])).fit(
                method="newton", maxiter=100, tol=1e-10, disp=0
            )
        except np.linalg.LinAlgError as err:
            raise EstimationError(
                f"the propensity model cannot be estimated (singular information matrix); "
                f"check the covariates {', '.join(names)} for separation or collinearity"
            ) from err


def propensity_score(
    data: pd.DataFrame | Panel,
    treat: str,
    covariates: Sequence[str],
    *,
    model: str = "logit",
) -> PropensityScore:
    """Estimate the propensity score ``P(treat = 1 | covariates)`` by maximum likelihood.

    Parameters
    ----------
    data
        A DataFrame or :class:`~climetrics.panel.Panel` (its rows are used as they are).
    treat
        0/1 treatment column.
    covariates
        Numeric covariate columns (a constant is added).
    model
        ``"logit"`` (default, as R ``glm`` / MatchIt) or ``"probit"`` (the psmatch2 default).

    Returns
    -------
    PropensityScore

    Raises
    ------
    EstimationError
        If there are no treated or no control rows, a covariate has missing values, is collinear
        with the constant or other covariates, or separates treatment (named when a single
        covariate does so), or the likelihood does not converge.
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    df = _frame(data)
    covariates = list(covariates)
    if not covariates:
        raise EstimationError("the propensity model needs at least one covariate")
    _require(df, [treat], "treatment")
    _require(df, covariates, "covariate")
    t = _treatment(df[treat], treat)
    x = _covariate_matrix(df, covariates)
    design = np.column_stack([np.ones(len(t)), x])
    collinear = collinear_columns(design, ["constant", *covariates])
    if collinear:
        raise EstimationError(
            f"covariate '{collinear[0]}' is constant or collinear with earlier covariates; "
            "drop it from the propensity model"
        )
    sep = _separating_covariate(x, t, covariates)
    if sep is not None:
        raise EstimationError(
            f"perfect separation in the propensity model: covariate '{sep}' separates treated from "
            "control units (their values do not overlap), so its coefficient diverges; "
            "drop or coarsen it"
        )
    fit = _fit_binary(t, x, covariates, model)
    with np.errstate(over="ignore", under="ignore"):  # diverging fits are reported below
        score = np.asarray(fit.predict(), dtype=float)
    extreme = (score < _EXTREME) | (score > 1 - _EXTREME)
    if not fit.mle_retvals.get("converged", True) or extreme.any():
        raise EstimationError(
            f"perfect separation in the propensity model: a combination of the covariates "
            f"{', '.join(covariates)} predicts treatment (almost) exactly "
            f"({int(extreme.sum())} fitted scores of 0 or 1); drop or coarsen covariates"
        )
    index = design @ np.asarray(fit.params, dtype=float)
    return PropensityScore(score, index, t, tuple(covariates), model, fit)


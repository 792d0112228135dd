"""Baseline two-way fixed-effects (TWFE) regressions and their stepwise tables.

The model is the multi-period DID of the seeds (e.g. seed 000 eq. 1)::

    y_it = beta * DID_it + X_it' gamma + mu_i + lambda_t + e_it

estimated by OLS after absorbing the fixed effects (pyfixest is the engine), with standard
errors clustered by unit by default. Small-sample correction follows fixest / reghdfe:
``V = (N-1)/(N-K) * G/(G-1) * V0`` where K excludes fixed effects nested in the cluster
variable (``ssc="nested"``); ``ssc="full"`` counts every fixed-effect level as Stata
``areg`` or a dummy-variable regression does.

Before fitting, the regressors are checked on the data actually used: a treatment without
variation, with no treated unit, or collinear with the fixed effects is an error; a control
collinear with the fixed effects or other regressors is dropped and the drop reported.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import EstimationError, PanelError
from ..panel import Panel
from ..result import EstimationResult, ResultSet

_SSC = ("nested", "full")


def _as_list(x: str | Sequence[str] | None) -> list[str]:
    if x is None:
        return []
    return [x] if isinstance(x, str) else list(x)


def _codes(df: pd.DataFrame, cols: Sequence[str]) -> list[np.ndarray]:
    return [pd.factorize(df[c], sort=True)[0] for c in cols]


def _demeaned(x: np.ndarray, df: pd.DataFrame, fe: Sequence[str]) -> np.ndarray:
    """Regressors net of the fixed effects (or of the constant when there are none)."""
    if not fe:
        return x - x.mean(axis=0)
    from .within import demean

    return demean(np.asarray(x, dtype=float), _codes(df, fe))


def collinear_columns(x: np.ndarray, names: Sequence[str], *, tol: float = 1e-9) -> list[str]:
    """Names of columns that are (numerically) linear combinations of earlier columns.

    Greedy in the given order, so earlier (more important) regressors are kept: a column is
    collinear when its residual on the kept columns has norm below ``tol`` times its own norm.
    """
    kept: list[int] = []
    dropped: list[str] = []
    for j in range(x.shape[1]):
        col = x[:, j]
        norm = np.linalg.norm(col)
        if norm == 0:
            dropped.append(names[j])
            continue
        if kept:
            basis = x[:, kept]
            coef, *_ = np.linalg.lstsq(basis, col, rcond=None)
            resid = col - basis @ coef
        else:
            resid = col
        if np.linalg.norm(resid) <= tol * norm:
            dropped.append(names[j])
        else:
            kept.append(j)
    return dropped


def _kept_rows(fit, n: int) -> np.ndarray:
    """Row positions pyfixest kept (it drops singletons and reports them in ``na_index``)."""
    drop = np.asarray(sorted(getattr(fit, "_na_index", ())), dtype=int)
    return np.setdiff1d(np.arange(n), drop)


def _small_sample(
    df: pd.DataFrame, fe: Sequence[str], cluster: str, *, n_slopes: int, nested: bool = True
) -> tuple[float, int, int]:
    """fixest/reghdfe CRV1 small-sample factor ``(N-1)/(N-K) * G/(G-1)``.

    K = slopes + sum of FE levels - (number of FE - 1), except that a fixed effect nested in the
    cluster variable (each of its levels inside one cluster) contributes a single parameter
    when ``nested`` (Cameron & Miller 2015, sec. VI; fixest ``ssc(fixef.K = "nested")``).
    Returns the factor, K and the number of clusters G.
    """
    from .batched import SmallSampleCorrection
    from .within import FixedEffects

    clus = pd.factorize(df[cluster])[0]
    n, g = len(df), int(clus.max()) + 1
    rule = SmallSampleCorrection(k_fixef="nonnested" if nested else "full")
    fx = FixedEffects(_codes(df, fe)) if fe else None
    k = rule.df_k(n_slopes, fx.n_levels if fx else [], fx.nested_in(clus) if fx else [])
    if n - k <= 0 or g < 2:
        raise EstimationError(
            f"too few observations or clusters for clustered standard errors (N={n}, K={k}, clusters={g})"
        )
    return rule.factor(n, k, g), k, g


def _coef_table(
    names: Sequence[str], beta: np.ndarray, se: np.ndarray, df_t: float
) -> pd.DataFrame:
    """Tidy coefficient table with t-statistics, p-values and 95% CIs from t(df_t)."""
    from scipy import stats

    t = beta / se
    crit = stats.t.ppf(0.975, df_t)
    return pd.DataFrame(
        {
            "term": list(names),
            "estimate": beta,
            "std_error": se,
            "statistic": t,
            "p_value": 2 * stats.t.sf(np.abs(t), df_t),
            "ci_low": beta - crit * se,
            "ci_high": beta + crit * se,
        }
    )


def _check_treatment(df: pd.DataFrame, treat: str, unit: str, time: str) -> dict[str, int]:
    """Degenerate treatment checks; returns treated counts for binary treatments."""
    v = df[treat].astype(float)
    if v.nunique() < 2:
        raise EstimationError(
            f"treatment '{treat}' takes the single value {v.iloc[0]:g} in every row used; "
            "there is nothing to compare (no treated units, or every unit treated throughout)"
        )
    info: dict[str, int] = {}
    if set(np.unique(v)) <= {0.0, 1.0}:
        treated_units = df.loc[v == 1, unit].nunique()
        info = {
            "treated_units": int(treated_units),
            "treated_obs": int((v == 1).sum()),
            "units": int(df[unit].nunique()),
        }
        if treated_units == df[unit].nunique() and df.loc[v == 0].empty:
            raise EstimationError(
                f"treatment '{treat}' is 1 in every row: there is no control group"
            )
    return info


def _fit_one(
    panel: Panel,
    y: str,
    treat: list[str],
    controls: list[str],
    fe: list[str],
    cluster: str | None,
    vcov: str,
    ssc: str,
) -> EstimationResult:
    import pyfixest as pf

    df0 = panel.df
    needed = [y, *treat, *controls]
    panel.require(needed, context="twfe")
    panel.require(
        [c for c in fe + ([cluster] if cluster else []) if c not in needed],
        numeric=False,
        context="twfe",
    )
    keys = list(
        dict.fromkeys([*needed, *fe, *([cluster] if cluster else []), panel.unit, panel.time])
    )
    df = df0[keys].copy()
    for c in needed:
        df[c] = pd.to_numeric(df[c]).astype(float)
    complete = df.notna().all(axis=1)
    notes: list[str] = []
    if not complete.all():
        n_drop = int((~complete).sum())
        worst = df.loc[~complete, needed].isna().sum().sort_values(ascending=False)
        worst = worst[worst > 0]
        notes.append(
            f"{n_drop} observations with missing values dropped ("
            + ", ".join(f"{k}: {v}" for k, v in worst.items())
            + ")."
        )
        df = df.loc[complete].reset_index(drop=True)
    if df.empty:
        raise EstimationError(f"no complete observations for {y} ~ {' + '.join(treat + controls)}")
    info = {}
    for t in treat:
        info = _check_treatment(df, t, panel.unit, panel.time) or info
    regs = treat + controls
    dropped = collinear_columns(_demeaned(df[regs].to_numpy(), df, fe), regs)
    bad_treat = [t for t in dropped if t in treat]
    if bad_treat:
        raise EstimationError(
            f"treatment '{bad_treat[0]}' is collinear with the fixed effects ({' + '.join(fe) or 'constant'})"
            " or with earlier regressors; it cannot be estimated (e.g. every treated unit adopts in the"
            " same period as every other unit, or the dummy is constant within units)"
        )
    if dropped:
        notes.append(
            f"Omitted because of collinearity with fixed effects or other regressors: {', '.join(dropped)}."
        )
        controls = [c for c in controls if c not in dropped]
        regs = treat + controls

    # Formula-safe internal names, mapped back afterwards.
    safe = {
        c: f"v{i}"
        for i, c in enumerate(dict.fromkeys([y, *regs, *fe, *([cluster] if cluster else [])]))
    }
    data = df.rename(columns=safe)[list(safe.values())]
    rhs = " + ".join(safe[r] for r in regs)
    fml = f"{safe[y]} ~ {rhs}" + (f" | {' + '.join(safe[f] for f in fe)}" if fe else "")
    if cluster:
        vc: str | dict[str, str] = {"CRV1": safe[cluster]}
        vcov_name = "CRV1"
    else:
        vc = vcov
        vcov_name = vcov
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # Raw sandwich from pyfixest; the small-sample factor is applied by _small_sample below so
        # that it depends on the data only (pyfixest 0.60 detects nested FE by column *name*).
        raw = pf.ssc(k_adj=False, G_adj=False) if cluster else pf.ssc(k_fixef="full")
        fit = pf.feols(fml, data=data, vcov=vc, ssc=raw, fixef_rm="singleton")
    for w in caught:
        msg = str(w.message)
        if "singleton" in msg.lower():
            notes.append(msg.strip())
    n_single = len(data) - int(fit._N)
    if n_single > 0 and not any("singleton" in n.lower() for n in notes):
        notes.append(f"{n_single} singleton observations dropped (units or periods observed once).")
    back = {v: k for k, v in safe.items()}
    names = [back.get(t, "_cons" if t == "Intercept" else t) for t in fit._coefnames]
    beta = np.asarray(fit._beta_hat, dtype=float)
    if cluster:
        used = df if n_single == 0 else df.iloc[_kept_rows(fit, len(df))].reset_index(drop=True)
        factor, df_k, g = _small_sample(
            used, fe, cluster, n_slopes=len(beta), nested=ssc == "nested"
        )
        cov = np.asarray(fit._vcov) * factor
        se = np.sqrt(np.diag(cov))
        df_t = g - 1
    else:
        cov = np.asarray(fit._vcov)
        se = np.asarray(fit._se, dtype=float)
        df_t = float(np.atleast_1d(fit._df_t)[0])
        g = None
    coefs = _coef_table(names, beta, se, df_t)
    stats = {"r2": float(fit._r2)}
    if fe:
        stats["r2_within"] = float(fit._r2_within)
    n_clusters = g
    meta = {
        "treat": treat,
        "controls": controls,
        "ssc": ssc,
        "formula": f"{y} ~ {' + '.join(regs)}" + (f" | {' + '.join(fe)}" if fe else ""),
        "df_t": df_t,
        **info,
    }
    return EstimationResult(
        coefs=coefs,
        depvar=y,
        model="TWFE" if len(fe) >= 2 else ("FE" if fe else "OLS"),
        n_obs=int(fit._N),
        fixed_effects=tuple(fe),
        vcov=vcov_name,
        cluster=cluster,
        n_clusters=n_clusters,
        stats=stats,
        notes=notes,
        meta=meta,
        cov=cov,
    )


def twfe(
    panel: Panel,
    y: str,
    treat: str | Sequence[str],
    controls: str | Sequence[str] = (),
    *,
    fe: str | Sequence[str] | None = None,
    cluster: str | None = "unit",
    vcov: str = "hetero",
    stepwise: bool = False,
    pooled_first: bool = False,
    ssc: str = "nested",
    title: str | None = None,
) -> EstimationResult | ResultSet:
    """Two-way fixed-effects (multi-period DID) regression.

    Parameters
    ----------
    panel
        The data.
    y, treat, controls
        Outcome, treatment variable(s) of interest (e.g. the DID dummy) and controls.
    fe
        Fixed effects to absorb; default unit and time. ``[]`` fits pooled OLS with a constant.
    cluster
        Cluster variable for CRV1 standard errors; ``"unit"`` (default) means the panel's unit
        column. ``None`` uses ``vcov`` instead (``"hetero"`` or ``"iid"``).
    stepwise
        Return a :class:`ResultSet` adding the controls one at a time: (1) no controls,
        (2) first control, ..., (k+1) all controls (seed 000 Table 2).
    pooled_first
        Prepend a pooled OLS column without fixed effects or controls (seed 003 Table 3 col. 1).
    ssc
        ``"nested"`` (fixest / reghdfe default) or ``"full"`` (count every FE level).

    Returns
    -------
    EstimationResult, or ResultSet when ``stepwise`` or ``pooled_first``.
    """
    treat_l, ctrl_l = _as_list(treat), _as_list(controls)
    if not treat_l:
        raise EstimationError("twfe needs at least one treatment variable")
    overlap = set(treat_l) & set(ctrl_l)
    if overlap:
        raise PanelError(f"variable(s) {sorted(overlap)} appear both as treatment and as control")
    if y in treat_l + ctrl_l:
        raise PanelError(f"outcome '{y}' also appears on the right-hand side")
    fe_l = [panel.unit, panel.time] if fe is None else _as_list(fe)
    fe_l = [panel.unit if f == "unit" else panel.time if f == "time" else f for f in fe_l]
    clus = panel.unit if cluster == "unit" else cluster
    if ssc not in _SSC:
        raise ValueError(f"ssc must be 'nested' or 'full', got {ssc!r}")
    if vcov not in ("hetero", "iid"):
        raise ValueError(f"vcov must be 'hetero' or 'iid' (or give cluster=), got {vcov!r}")

    def fit(ctrls: list[str], fes: list[str]) -> EstimationResult:
        return _fit_one(panel, y, treat_l, ctrls, fes, clus, vcov, ssc)

    if not stepwise and not pooled_first:
        res = fit(ctrl_l, fe_l)
        res.label = title
        return res
    specs: list[tuple[list[str], list[str]]] = []
    if pooled_first:
        specs.append(([], []))
    if stepwise:
        specs += [(ctrl_l[:k], fe_l) for k in range(len(ctrl_l) + 1)]
    else:
        specs.append((ctrl_l, fe_l))
    return ResultSet([fit(c, f) for c, f in specs], title=title)

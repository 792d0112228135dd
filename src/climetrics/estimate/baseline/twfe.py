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
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...core.covariance import cluster_codes, coef_table, sandwich
from ...core.results import EstimationResult, ResultSet
from ...errors import EstimationError, PanelError
from ...panel import Panel

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
    from ...core.demean import demean

    return demean(np.asarray(x, dtype=float), _codes(df, fe))


def collinear_columns(x: np.ndarray, names: Sequence[str], *, tol: float = 1e-9) -> list[str]:
    """Names of columns that are (numerically) linear combinations of earlier columns.

    Greedy in the given order, so earlier (more important) regressors are kept: a column is
    collinear when its residual on the kept columns has norm below ``tol`` times its own norm.
    The residuals come from an orthonormal basis of the kept columns built on the way
    (classical Gram-Schmidt with one re-orthogonalisation, "twice is enough": Giraud et al.
    2005), so the cost is one pass over ``x`` per column instead of one least-squares fit.
    """
    x = np.asarray(x, dtype=float)
    basis = np.empty((x.shape[0], x.shape[1]), order="F")
    n_kept = 0
    dropped: list[str] = []
    for j in range(x.shape[1]):
        resid = x[:, j].copy()
        norm = np.linalg.norm(resid)
        if norm == 0:
            dropped.append(names[j])
            continue
        q = basis[:, :n_kept]
        for _ in range(2 if n_kept else 0):
            resid -= q @ (q.T @ resid)
        size = np.linalg.norm(resid)
        if size <= tol * norm:
            dropped.append(names[j])
        else:
            basis[:, n_kept] = resid / size
            n_kept += 1
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
    from ...core.covariance import SmallSampleCorrection
    from ...core.demean import FixedEffects

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


def _few_treated_note(df: pd.DataFrame, treat: str, unit: str) -> list[str]:
    """Warn (and return a note) when a binary treatment switches on in a single unit: its
    effect is then identified by one unit and clustered standard errors badly understate the
    uncertainty (Conley & Taber 2011; MacKinnon & Webb 2017)."""
    v = df[treat]
    if not set(np.unique(v)) <= {0.0, 1.0}:
        return []
    treated = df.loc[v == 1, unit].unique()
    if len(treated) != 1:
        return []
    msg = (f"only one unit is ever treated by '{treat}' ({unit} {treated[0]!s}): the estimate rests "
           "on that unit alone and its clustered standard error is unreliable (Conley & Taber 2011)")
    warnings.warn(msg, UserWarning, stacklevel=4)
    return [msg[0].upper() + msg[1:] + "."]


#: From this many rows on, ``engine="auto"`` fits clustered regressions with :func:`_within_fit`.
LARGE_PANEL_ROWS = 200_000
_ENGINES = ("auto", "pyfixest", "within")


@dataclass
class _Fit:
    """What both fitting engines return to :func:`_fit_one`."""

    names: list[str]
    beta: np.ndarray
    cov: np.ndarray
    se: np.ndarray
    df_t: float
    n_clusters: int | None
    n_obs: int
    stats: dict[str, float]
    controls: list[str]
    notes: list[str]


def _fit_one(
    panel: Panel,
    y: str,
    treat: list[str],
    controls: list[str],
    fe: list[str],
    cluster: str | None,
    vcov: str,
    ssc: str,
    engine: str = "auto",
) -> EstimationResult:
    if engine not in _ENGINES:
        raise ValueError(f"engine must be one of {_ENGINES}, got {engine!r}")
    if engine == "within" and not (fe and cluster):
        raise EstimationError(
            "engine='within' (the large-panel path) needs fixed effects and a cluster variable "
            "(it computes CRV1 standard errors); use engine='pyfixest' otherwise"
        )
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
    if df[y].nunique() < 2:
        raise EstimationError(
            f"outcome '{y}' takes the single value {df[y].iloc[0]:g} in every row used "
            f"({len(df)} rows); there is no variation to explain"
        )
    info = {}
    for t in treat:
        info = _check_treatment(df, t, panel.unit, panel.time) or info
        notes += _few_treated_note(df, t, panel.unit)
    within = engine == "within" or (
        engine == "auto" and bool(fe) and bool(cluster) and len(df) >= LARGE_PANEL_ROWS
    )
    if within:
        fit = _within_fit(df, y, treat, controls, fe, cluster, ssc)
    else:
        fit = _pyfixest_fit(df, y, treat, controls, fe, cluster, vcov, ssc)
    perfect = [t for t, se in zip(fit.names, fit.se, strict=True) if t in treat and not se > 0]
    if perfect:
        raise EstimationError(
            f"the standard error of '{perfect[0]}' is {fit.se[fit.names.index(perfect[0])]:g}: "
            f"'{y}' is fitted exactly by the regressors and fixed effects (a perfect fit), so no "
            "test is possible"
        )
    regs = treat + fit.controls
    meta = {
        "treat": treat,
        "controls": fit.controls,
        "ssc": ssc,
        "formula": f"{y} ~ {' + '.join(regs)}" + (f" | {' + '.join(fe)}" if fe else ""),
        "df_t": fit.df_t,
        "engine": "within" if within else "pyfixest",
        **info,
    }
    return EstimationResult(
        coefs=coef_table(fit.names, fit.beta, fit.se, df=fit.df_t),
        depvar=y,
        model="TWFE" if len(fe) >= 2 else ("FE" if fe else "OLS"),
        n_obs=fit.n_obs,
        fixed_effects=tuple(fe),
        vcov="CRV1" if cluster else vcov,
        cluster=cluster,
        n_clusters=fit.n_clusters,
        stats=fit.stats,
        notes=notes + fit.notes,
        meta=meta,
        cov=fit.cov,
    )


def _drop_collinear(
    x_tilde: np.ndarray, treat: list[str], controls: list[str], fe: list[str]
) -> tuple[list[str], list[str]]:
    """Controls kept and notes, given the regressors net of the FE (treatments first).

    A collinear treatment is an error; collinear controls are dropped with a note.
    """
    regs = treat + controls
    dropped = collinear_columns(x_tilde, regs)
    bad_treat = [t for t in dropped if t in treat]
    if bad_treat:
        raise EstimationError(
            f"treatment '{bad_treat[0]}' is collinear with the fixed effects ({' + '.join(fe) or 'constant'})"
            " or with earlier regressors; it cannot be estimated (e.g. every treated unit adopts in the"
            " same period as every other unit, or the dummy is constant within units)"
        )
    if not dropped:
        return controls, []
    note = f"Omitted because of collinearity with fixed effects or other regressors: {', '.join(dropped)}."
    return [c for c in controls if c not in dropped], [note]


def _pyfixest_fit(
    df: pd.DataFrame,
    y: str,
    treat: list[str],
    controls: list[str],
    fe: list[str],
    cluster: str | None,
    vcov: str,
    ssc: str,
) -> _Fit:
    """Fit with pyfixest after our own collinearity check (the default for small panels)."""
    import pyfixest as pf

    controls, notes = _drop_collinear(
        _demeaned(df[treat + controls].to_numpy(), df, fe), treat, controls, fe
    )
    regs = treat + controls
    # Formula-safe internal names, mapped back afterwards.
    safe = {
        c: f"v{i}"
        for i, c in enumerate(dict.fromkeys([y, *regs, *fe, *([cluster] if cluster else [])]))
    }
    data = df.rename(columns=safe)[list(safe.values())]
    rhs = " + ".join(safe[r] for r in regs)
    fml = f"{safe[y]} ~ {rhs}" + (f" | {' + '.join(safe[f] for f in fe)}" if fe else "")
    vc: str | dict[str, str] = {"CRV1": safe[cluster]} if cluster else vcov
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
        notes.append(_singleton_note(n_single))
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
        df_t: float = g - 1
    else:
        cov = np.asarray(fit._vcov)
        se = np.asarray(fit._se, dtype=float)
        df_t = float(np.atleast_1d(fit._df_t)[0])
        g = None
    stats = {"r2": float(fit._r2)}
    if fe:
        stats["r2_within"] = float(fit._r2_within)
    return _Fit(names, beta, cov, se, df_t, g, int(fit._N), stats, controls, notes)


def _singleton_note(n: int) -> str:
    return f"{n} singleton observations dropped (units or periods observed once)."


def _within_fit(
    df: pd.DataFrame,
    y: str,
    treat: list[str],
    controls: list[str],
    fe: list[str],
    cluster: str,
    ssc: str,
) -> _Fit:
    """Large-panel path: one within transformation shared by the collinearity check and the fit.

    Singletons are dropped (iterated, as fixest does), ``[y, regressors]`` are demeaned once by
    :class:`.within.FixedEffects` (no dummy matrices: memory is a few ``(n, k)`` float arrays),
    then OLS on the demeaned data by QR (Frisch–Waugh–Lovell) and the CRV1 sandwich
    ``(X~'X~)^{-1} (sum_g s_g s_g') (X~'X~)^{-1}``, ``s_g = sum_{i in g} x~_i e_i``, times the
    small-sample factor of :func:`_small_sample` -- the same numbers as the pyfixest path.
    ``r2 = 1 - SSR / sum (y - ybar)^2`` and ``r2_within = 1 - SSR / sum y~^2``.
    """
    import scipy.linalg

    from ...core.demean import FixedEffects, find_singletons

    notes: list[str] = []
    codes = _codes(df, fe)
    single = find_singletons(codes)
    if single.any():
        notes.append(_singleton_note(int(single.sum())))
        df = df.loc[~single].reset_index(drop=True)
        codes = [c[~single] for c in codes]
    regs = treat + controls
    demeaned = FixedEffects(codes).demean(df[[y, *regs]].to_numpy(dtype=float))
    controls, more = _drop_collinear(demeaned[:, 1:], treat, controls, fe)
    notes += more
    keep = [0] + [1 + regs.index(r) for r in treat + controls]
    demeaned = demeaned[:, keep]
    y_t, X = demeaned[:, 0], demeaned[:, 1:]
    q, r = np.linalg.qr(X)
    beta = scipy.linalg.solve_triangular(r, q.T @ y_t)
    resid = y_t - X @ beta
    r_inv = scipy.linalg.solve_triangular(r, np.eye(r.shape[0]))
    bread = r_inv @ r_inv.T
    factor, _, g = _small_sample(df, fe, cluster, n_slopes=X.shape[1], nested=ssc == "nested")
    cov = sandwich(bread, X * resid[:, None], cluster_codes(df[cluster])[0], factor=factor)
    ssr = float(resid @ resid)
    yv = df[y].to_numpy(dtype=float)
    stats = {
        "r2": 1.0 - ssr / float(np.sum((yv - yv.mean()) ** 2)),
        "r2_within": 1.0 - ssr / float(y_t @ y_t),
    }
    names = treat + controls
    return _Fit(names, beta, cov, np.sqrt(np.diag(cov)), g - 1, g, len(df), stats, controls, notes)


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
    engine: str = "auto",
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
    engine
        ``"pyfixest"``: pyfixest fits the model; ``"within"``: the large-panel path (one
        within transformation by :class:`climetrics.core.demean.FixedEffects` shared by the
        collinearity check and the fit; clustered SEs only); ``"auto"`` (default): ``"within"``
        for clustered fits with fixed effects on at least :data:`LARGE_PANEL_ROWS` rows, else
        pyfixest. Both give the same estimates (tested to 1e-8).

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
        return _fit_one(panel, y, treat_l, ctrls, fes, clus, vcov, ssc, engine)

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

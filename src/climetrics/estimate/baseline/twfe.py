"""Baseline two-way fixed-effects (TWFE) regressions and their stepwise tables.

The model is the multi-period DID of the seeds (e.g. seed 000 eq. 1)::

    y_it = beta * DID_it + X_it' gamma + mu_i + lambda_t + e_it

estimated by OLS after absorbing the fixed effects (climetrics' own within transformation,
:mod:`climetrics.core.demean`; pyfixest is the reference engine, ``engine="pyfixest"``), with
standard errors clustered by unit by default. Small-sample correction follows fixest / reghdfe:
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
from ...core.demean import FixedEffects
from ...core.results import EstimationResult, ResultSet
from ...core.wild_bootstrap import WildOptions
from ...errors import EstimationError, PanelError, show
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
    df: pd.DataFrame,
    fe: Sequence[str],
    cluster: str,
    *,
    n_slopes: int,
    nested: bool = True,
    fx: FixedEffects | None = None,
) -> tuple[float, int, int]:
    """fixest/reghdfe CRV1 small-sample factor ``(N-1)/(N-K) * G/(G-1)``.

    K = slopes + sum of FE levels - (number of FE - 1), except that a fixed effect nested in the
    cluster variable (each of its levels inside one cluster) contributes a single parameter
    when ``nested`` (Cameron & Miller 2015, sec. VI; fixest ``ssc(fixef.K = "nested")``).
    Returns the factor, K and the number of clusters G.
    """
    from ...core.covariance import SmallSampleCorrection

    clus = pd.factorize(df[cluster])[0]
    n, g = len(df), int(clus.max()) + 1
    rule = SmallSampleCorrection(k_fixef="nonnested" if nested else "full")
    if fx is None and fe:
        fx = FixedEffects(_codes(df, fe))
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
    weights: str | None = None,
    wild: WildOptions | None = None,
    alpha: float = 0.05,
) -> EstimationResult:
    if engine not in _ENGINES:
        raise ValueError(f"engine must be one of {_ENGINES}, got {engine!r}")
    if weights is not None and not isinstance(weights, str):
        raise PanelError(
            f"weights must name a column of the panel, got a {type(weights).__name__}; add the "
            "values first (panel.assign(w=values)) and pass weights='w'"
        )
    if weights and wild is not None:
        raise EstimationError(
            "the wild cluster bootstrap is not available with regression weights; use "
            "inference='analytic' with weights, or drop weights="
        )
    df0 = panel.df
    needed = [y, *treat, *controls, *([weights] if weights else [])]
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
    if weights:
        bad = df[weights] <= 0
        if bad.any() or not np.isfinite(df[weights]).all():
            i = int(np.flatnonzero((bad | ~np.isfinite(df[weights])).to_numpy())[0])
            raise PanelError(
                f"regression weights '{weights}' must be positive and finite; {panel.unit} "
                f"{show(df[panel.unit].iloc[i])} in {show(df[panel.time].iloc[i])} has "
                f"{show(df[weights].iloc[i])}"
            )
    if df[y].nunique() < 2:
        raise EstimationError(
            f"outcome '{y}' takes the single value {df[y].iloc[0]:g} in every row used "
            f"({len(df)} rows); there is no variation to explain"
        )
    info = {}
    for t in treat:
        info = _check_treatment(df, t, panel.unit, panel.time) or info
    within = engine != "pyfixest"
    if within:
        fit = _within_fit(df, y, treat, controls, fe, cluster, vcov, ssc, weights)
    else:
        fit = _pyfixest_fit(df, y, treat, controls, fe, cluster, vcov, ssc, weights)
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
        "weights": weights,
        **info,
    }
    res = EstimationResult(
        coefs=coef_table(fit.names, fit.beta, fit.se, df=fit.df_t, alpha=alpha),
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
    return _wild_or_caveat(res, df, y, treat, fit.controls, fe, cluster, ssc, wild)


def _wild_or_caveat(
    res: EstimationResult, df: pd.DataFrame, y: str, treat: list[str], controls: list[str],
    fe: list[str], cluster: str | None, ssc: str, wild: WildOptions | None,
) -> EstimationResult:
    """Wild cluster bootstrap p-values and intervals for the treatments (``wild`` given), else
    the one-treated-cluster caveat (MacKinnon & Webb 2017) in the notes and as a warning."""
    from ...core import wild_bootstrap as wb
    from ...core.covariance import SmallSampleCorrection

    if wild is not None:
        rule = SmallSampleCorrection(k_fixef="nonnested" if ssc == "nested" else "full")
        return wb.apply_wild(res, df, y, treat, controls, fe, cluster, wild, ssc=rule)
    if cluster and wb.treated_clusters(df[treat].max(axis=1).to_numpy(), df[cluster].to_numpy()) == 1:
        caveat = wb.few_clusters_notes(res.n_clusters or 0, 1, wild=False)
        warnings.warn(caveat[0], UserWarning, stacklevel=4)
        res.notes.extend(caveat)
    return res


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
    weights: str | None = None,
) -> _Fit:
    """Fit with pyfixest after our own collinearity check (the reference engine)."""
    import pyfixest as pf

    controls, notes = _drop_collinear(
        _demeaned(df[treat + controls].to_numpy(), df, fe), treat, controls, fe
    )
    regs = treat + controls
    # Formula-safe internal names, mapped back afterwards.
    safe = {
        c: f"v{i}"
        for i, c in enumerate(
            dict.fromkeys([y, *regs, *fe, *([cluster] if cluster else []), *([weights] if weights else [])])
        )
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
        fit = pf.feols(
            fml, data=data, vcov=vc, ssc=raw, fixef_rm="singleton",
            weights=safe[weights] if weights else None,
        )
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
    cluster: str | None,
    vcov: str,
    ssc: str,
    weights: str | None = None,
) -> _Fit:
    """climetrics' own fit: one within transformation shared by the collinearity check and OLS.

    With fixed effects, singletons are dropped (iterated, as fixest does) and ``[y, regressors]``
    are demeaned once by :class:`climetrics.core.demean.FixedEffects` (no dummy matrices: memory
    is a few ``(n, k)`` float arrays); without them the design gets a constant (``_cons``).
    OLS by QR (Frisch-Waugh-Lovell), then

    * clustered (CRV1): ``(X~'X~)^{-1} (sum_g s_g s_g') (X~'X~)^{-1}``, ``s_g = sum_{i in g} x~_i e_i``,
      times the small-sample factor of :func:`_small_sample`, t(G - 1);
    * ``"hetero"`` (HC1): the same sandwich with one observation per cluster, times
      ``n / (n - K)``, t(n - K);
    * ``"iid"``: ``s^2 (X~'X~)^{-1}``, ``s^2 = SSR / (n - K)``, t(n - K),

    where K counts the slopes and every fixed-effect level (``ssc="full"``, as fixest and Stata
    ``areg`` do without clustering). These are pyfixest's numbers (tests compare both engines).
    ``r2 = 1 - SSR / sum (y - ybar)^2`` and ``r2_within = 1 - SSR / sum y~^2``.

    With regression ``weights`` w (analytic weights, as fixest / Stata ``aweight``), the
    projection and OLS are weighted (``FixedEffects(codes, w)``, then rows scaled by sqrt(w)),
    so scores are ``w_i x~_i e_i`` and sums of squares are weighted.
    """
    import scipy.linalg

    from ...core.demean import find_singletons

    notes: list[str] = []
    regs = treat + controls
    values = df[[y, *regs]].to_numpy(dtype=float)
    fx = None
    w = df[weights].to_numpy(dtype=float) if weights else None
    if fe:
        codes = _codes(df, fe)
        single = find_singletons(codes)
        if single.any():
            notes.append(_singleton_note(int(single.sum())))
            df = df.loc[~single].reset_index(drop=True)
            codes = [c[~single] for c in codes]
            values = values[~single]
            w = None if w is None else w[~single]
        fx = FixedEffects(codes, w)
        demeaned = fx.demean(values)
    else:
        demeaned = values - np.average(values, axis=0, weights=w)
    root_w = np.ones(len(values)) if w is None else np.sqrt(w)
    controls, more = _drop_collinear(demeaned[:, 1:], treat, controls, fe)
    notes += more
    keep = [0] + [1 + regs.index(r) for r in treat + controls]
    names = treat + controls
    if fe:
        y_t, X = demeaned[:, 0], demeaned[:, keep[1:]]
    else:  # the constant is estimated, so fit on the raw values with a column of ones
        y_t = values[:, 0]
        X = np.column_stack([np.ones(len(values)), values[:, keep[1:]]])
        names = ["_cons", *names]
    y_t, X = y_t * root_w, X * root_w[:, None]
    q, r = np.linalg.qr(X)
    beta = scipy.linalg.solve_triangular(r, q.T @ y_t)
    resid = y_t - X @ beta
    r_inv = scipy.linalg.solve_triangular(r, np.eye(r.shape[0]))
    bread = r_inv @ r_inv.T
    n = len(df)
    k_full = X.shape[1] + (sum(fx.n_levels) - (len(fe) - 1) if fx else 0)
    if cluster:
        factor, _, g = _small_sample(
            df, fe, cluster, n_slopes=X.shape[1], nested=ssc == "nested", fx=fx
        )
        cov = sandwich(bread, X * resid[:, None], cluster_codes(df[cluster])[0], factor=factor)
        df_t, n_clusters = float(g - 1), g
    else:
        if n - k_full <= 0:
            raise EstimationError(f"too few observations for the model (N={n}, K={k_full})")
        if vcov == "hetero":
            cov = sandwich(bread, X * resid[:, None], None, factor=n / (n - k_full))
        else:
            cov = bread * float(resid @ resid) / (n - k_full)
        df_t, n_clusters = float(n - k_full), None
    ssr = float(resid @ resid)
    yv = df[y].to_numpy(dtype=float)
    wv = np.ones(len(yv)) if w is None else w
    stats = {"r2": 1.0 - ssr / float(np.sum(wv * (yv - np.average(yv, weights=wv)) ** 2))}
    if fe:
        stats["r2_within"] = 1.0 - ssr / float(np.sum(wv * demeaned[:, 0] ** 2))
    se = np.sqrt(np.diag(cov))
    return _Fit(names, beta, cov, se, df_t, n_clusters, n, stats, controls, notes)


def _wild_options(inference: str | WildOptions, n_draws: int, seed: int) -> WildOptions | None:
    """The bootstrap settings of ``inference`` (None for analytic inference)."""
    if isinstance(inference, WildOptions):
        return inference
    if inference not in ("analytic", "wild"):
        raise ValueError(f"inference must be 'analytic', 'wild' or a WildOptions, got {inference!r}")
    return WildOptions(n_draws=n_draws, seed=seed) if inference == "wild" else None


def twfe(
    panel: Panel,
    y: str,
    treat: str | Sequence[str],
    controls: str | Sequence[str] = (),
    *,
    fe: str | Sequence[str] | None = None,
    cluster: str | None = "unit",
    weights: str | None = None,
    n_draws: int = 9999,
    seed: int = 0,
    alpha: float = 0.05,
    vcov: str = "hetero",
    ssc: str = "nested",
    inference: str | WildOptions = "analytic",
    title: str | None = None,
    engine: str = "auto",
) -> EstimationResult:
    """Two-way fixed-effects (multi-period DID) regression: one model, one
    :class:`EstimationResult`. Several columns (controls added one at a time, a pooled OLS
    column first) come from :func:`twfe_stepwise`, which always returns a :class:`ResultSet`:
    one function, one return type.

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
        column. ``None`` means no clustering: ``vcov`` is used instead (``"hetero"`` or ``"iid"``).
    weights
        Column of positive regression (analytic) weights, e.g. population; ``None`` for OLS.
        Weighted estimates equal pyfixest ``feols(..., weights=)`` / Stata ``[aw=]``.
    n_draws, seed
        Draws and seed of the wild cluster bootstrap (``inference="wild"`` only).
    alpha
        Level of the confidence intervals: ``0.05`` gives 95% intervals.
    ssc
        ``"nested"`` (fixest / reghdfe default) or ``"full"`` (count every FE level).
    inference
        ``"analytic"`` (CRV1 t-test, default) or ``"wild"``: p-values and confidence intervals
        of the treatment(s) from the WCR wild cluster bootstrap with Rademacher weights,
        ``n_draws`` draws and ``seed`` (see :mod:`climetrics.core.wild_bootstrap`; the result's
        ``vcov`` becomes ``"WCR"`` and a note says so). A
        :class:`~climetrics.core.wild_bootstrap.WildOptions` sets every bootstrap option.
    title
        Label of the result (its column header in tables).
    engine
        ``"auto"`` or ``"within"`` (the same; default): climetrics' own fit, one within
        transformation by :class:`climetrics.core.demean.FixedEffects` shared by the
        collinearity check and OLS (no JIT warm-up: the first fit of a session takes
        milliseconds); ``"pyfixest"``: pyfixest fits the model (the reference). Both give the
        same estimates and standard errors for every ``cluster`` / ``vcov`` / ``ssc`` (tests
        compare them to 1e-8).
    """
    fit = _fitter(panel, y, treat, controls, fe, cluster, vcov, ssc, engine, weights,
                  _wild_options(inference, n_draws, seed), alpha)
    res = fit(None, None)
    res.label = title
    return res


def twfe_stepwise(
    panel: Panel,
    y: str,
    treat: str | Sequence[str],
    controls: str | Sequence[str] = (),
    *,
    fe: str | Sequence[str] | None = None,
    cluster: str | None = "unit",
    weights: str | None = None,
    n_draws: int = 9999,
    seed: int = 0,
    alpha: float = 0.05,
    vcov: str = "hetero",
    one_at_a_time: bool = True,
    pooled_first: bool = False,
    ssc: str = "nested",
    inference: str | WildOptions = "analytic",
    title: str | None = None,
    engine: str = "auto",
) -> ResultSet:
    """The baseline table's columns as a :class:`ResultSet` of :func:`twfe` fits.

    Parameters
    ----------
    one_at_a_time
        Add the controls one at a time: (1) no controls, (2) first control, ..., (k+1) all
        controls (seed 000 Table 2). Otherwise one column with all controls.
    pooled_first
        Prepend a pooled OLS column without fixed effects or controls (seed 003 Table 3 col. 1).
    title
        Title of the table.

    The other arguments are those of :func:`twfe`. Kept apart from :func:`twfe` so that every
    function returns a single type: a model is an :class:`EstimationResult`, a table of
    models a :class:`ResultSet`.
    """
    fit = _fitter(panel, y, treat, controls, fe, cluster, vcov, ssc, engine, weights,
                  _wild_options(inference, n_draws, seed), alpha)
    ctrl_l = _as_list(controls)
    specs: list[tuple[list[str] | None, list[str] | None]] = [([], [])] if pooled_first else []
    specs += [(ctrl_l[:k], None) for k in range(len(ctrl_l) + 1)] if one_at_a_time else [(None, None)]
    return ResultSet([fit(c, f) for c, f in specs], title=title)


def _fitter(panel, y, treat, controls, fe, cluster, vcov, ssc, engine, weights=None, wild=None,
            alpha=0.05):
    """Validate the arguments of :func:`twfe` once; return ``fit(controls, fe)`` (None: the
    given controls / fixed effects)."""
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

    def fit(ctrls: list[str] | None, fes: list[str] | None) -> EstimationResult:
        return _fit_one(panel, y, treat_l, ctrl_l if ctrls is None else ctrls,
                        fe_l if fes is None else fes, clus, vcov, ssc, engine,
                        weights=weights, wild=wild, alpha=alpha)

    return fit

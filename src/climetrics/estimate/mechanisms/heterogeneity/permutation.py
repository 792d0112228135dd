"""The batched permutation test of equal effects across groups (see the package docstring)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ....core.covariance import SmallSampleCorrection, cluster_sums
from ....core.demean import FixedEffects
from ....core.results import (
    EstimationResult,
    TestResult,
)
from ....errors import EstimationError
from ....panel import Panel
from .groups import GroupDefinition

_CHUNK_BYTES = 16 * 2**20


@dataclass(frozen=True)
class _BlockKernel:
    """Regressions ``y ~ Z + W_r | FE`` that share ``y``, ``Z`` and FE; only ``W_r`` varies."""

    fes: FixedEffects
    q: np.ndarray  # Q of the demeaned common regressors (n, kz)
    y_star: np.ndarray  # outcome net of FE and Z (n,)
    cluster: np.ndarray  # compact cluster code of every row (n,)
    n_clusters: int
    factor: float  # CRV1 small-sample factor

    @classmethod
    def build(cls, y, Z, fe_codes, cluster, n_varying: int) -> _BlockKernel:
        fes = FixedEffects(fe_codes)
        yt = fes.demean(y)
        Zt = fes.demean(Z.reshape(len(y), -1))
        q, _ = np.linalg.qr(Zt)
        g = int(cluster.max()) + 1
        n = len(y)
        ssc = SmallSampleCorrection(k_fixef="nonnested")
        df_k = ssc.df_k(Zt.shape[1] + n_varying, fes.n_levels, fes.nested_in(cluster))
        return cls(fes, q, yt - q @ (q.T @ yt), cluster, g, ssc.factor(n, df_k, g))

    def fit(self, W: np.ndarray, n_test: int) -> tuple[np.ndarray, np.ndarray]:
        """Coefficients ``(R, m)`` of the varying block and the Wald F of its first
        ``n_test`` coefficients (CRV1, same small-sample factor as :func:`twfe`)."""
        n, r, m = W.shape
        Wt = self.fes.demean(W.reshape(n, r * m))
        Wt -= self.q @ (self.q.T @ Wt)
        Ws = Wt.reshape(n, r, m)
        A = np.einsum("irk,irl->rkl", Ws, Ws)
        c = np.einsum("irk,i->rk", Ws, self.y_star)
        raw = W.reshape(n, r * m)
        tss = (np.einsum("ij,ij->j", raw, raw) - n * raw.mean(axis=0) ** 2).reshape(r, m)
        bad = (np.diagonal(A, axis1=1, axis2=2) <= 1e-9 * np.maximum(tss, 1e-300)).any(axis=1)
        A[bad] = np.eye(m)
        Ainv = np.linalg.inv(A)
        beta = np.einsum("rkl,rl->rk", Ainv, c)
        e = self.y_star[:, None] - np.einsum("irk,rk->ir", Ws, beta)
        S = cluster_sums((Ws * e[:, :, None]).reshape(n, r * m), self.cluster, self.n_clusters).reshape(-1, r, m)
        meat = np.einsum("grk,grl->rkl", S, S)
        V = self.factor * Ainv @ meat @ Ainv
        bt = beta[:, :n_test]
        Vt = V[:, :n_test, :n_test].copy()
        Vt[bad] = np.eye(n_test)
        F = np.einsum("rk,rk->r", bt, np.linalg.solve(Vt, bt[:, :, None])[:, :, 0]) / n_test
        beta[bad] = np.nan
        F[bad] = np.nan
        return beta, F


def _permutation(
    sub: Panel,
    y: str,
    treat: str,
    groups: GroupDefinition,
    sgrp: np.ndarray,
    inter: EstimationResult,
    ctrl_terms: dict[str, tuple[str, str]],
    fe_l: list[str],
    clus: str | None,
    n_perm: int,
    seed: int,
    diff_terms: dict[str, str],
    alpha: float = 0.05,
) -> tuple[TestResult, pd.DataFrame, np.ndarray, np.ndarray]:
    """Batched permutation test of equal effects (see the module docstring)."""
    df = sub.df
    labels = groups.labels
    kept = inter.meta["controls"]
    common = [c for c in kept if c not in ctrl_terms]
    varying_ctrl = [ctrl_terms[c] for c in kept if c in ctrl_terms]
    n = len(df)
    if inter.n_obs != n:  # pragma: no cover - defensive
        raise EstimationError("internal: permutation sample differs from the interacted fit")
    ucodes, uniq = pd.factorize(df[sub.unit])
    label_idx = {g: k for k, g in enumerate(labels)}
    row_g = np.array([label_idx[g] for g in sgrp])
    unit_g = np.empty(len(uniq), dtype=int)
    unit_g[ucodes] = row_g
    fe_codes = [pd.factorize(df[f], sort=True)[0] for f in fe_l] or [np.zeros(n, dtype=int)]
    cl = pd.factorize(df[clus])[0] if clus else np.arange(n)
    d = df[treat].astype(float).to_numpy()
    Z = np.column_stack([d, *(df[c].astype(float).to_numpy() for c in common)])
    m_test = len(labels) - 1
    m = m_test + len(varying_ctrl)
    kernel = _BlockKernel.build(df[y].astype(float).to_numpy(), Z, fe_codes, cl, m)
    xs = {c: df[c].astype(float).to_numpy() for c, _ in varying_ctrl}

    def block(assign: np.ndarray) -> np.ndarray:  # assign: (n, r) group index per row
        r = assign.shape[1]
        W = np.empty((n, r, m))
        for k in range(1, len(labels)):
            W[:, :, k - 1] = d[:, None] * (assign == k)
        for j, (c, g) in enumerate(varying_ctrl):
            W[:, :, m_test + j] = xs[c][:, None] * (assign == label_idx[g])
        return W

    beta_obs, F_obs = kernel.fit(block(row_g[:, None]), m_test)
    rng = np.random.default_rng(seed)
    perms = np.stack([rng.permutation(unit_g) for _ in range(n_perm)], axis=1)  # (units, R)
    size = max(1, _CHUNK_BYTES // (8 * n * m))
    betas, Fs = [], []
    for s in range(0, n_perm, size):
        b, f = kernel.fit(block(perms[ucodes, s : s + size]), m_test)
        betas.append(b[:, :m_test])
        Fs.append(f)
    beta = np.vstack(betas)
    F = np.concatenate(Fs)
    valid = np.isfinite(F)
    n_valid = int(valid.sum())
    f_obs = float(F_obs[0])
    tol = 1e-12 * abs(f_obs)
    p_value = float((1 + np.sum(F[valid] >= f_obs - tol)) / (1 + n_valid))
    out: dict[str, float] = {"n_draws": n_perm, "n_valid": n_valid, "seed": seed}
    draws = pd.DataFrame({"F": F})
    for k, g in enumerate(labels[1:]):
        draws[diff_terms[g]] = beta[:, k]
    if m_test == 1:
        diff = float(beta_obs[0, 0])
        out["diff"] = diff
        a = np.abs(beta[valid, 0])
        out["p_value_diff"] = float((1 + np.sum(a >= abs(diff) - 1e-12 * abs(diff))) / (1 + n_valid))
    test = TestResult("Permutation test of equal effects", f_obs, p_value,
                      distribution="randomization", null="the effect is the same in every group",
                      alpha=alpha, details=out)
    return test, draws, perms, np.asarray(uniq)

"""Random-effects spatial lag and spatial error panels by ML, for the spatial Hausman test.

**Lag model** (Elhorst 2003, "Specification and estimation of spatial panel data models",
*International Regional Science Review* 26, 244-268; Elhorst 2014, ch. 3):
``y_t = rho W y_t + a + X_t beta + mu + e_t`` with ``mu_i ~ N(0, s_mu²)``. With
``phi² = s² / (T s_mu² + s²)`` every variable is quasi-demeaned, ``v* = v - (1 - phi) vbar_i``
(which commutes with ``I_T (x) W``), and the log-likelihood is

``-NT/2 log(2 pi s²) + N/2 log phi² + T log|I - rho W| - e'e / (2 s²)``,
``e = y* - rho W y* - X* beta`` (``X*`` with the quasi-demeaned constant ``phi``).

Given phi, rho maximises the concentrated likelihood exactly as in the FE model; the profile
likelihood in phi is then maximised over (0, 1] (nested bounded Brent searches, so the
result is the joint ML rather than Elhorst's alternating iterations, which converge to it).

**Error model** (Baltagi, Song & Koh 2003, "Testing panel data regression models with spatial
error correlation", *J. Econometrics* 117, 123-150; Elhorst 2003 and 2014, ch. 3, as above):
``y_t = a + X_t beta + mu + u_t``, ``u_t = lambda W u_t + e_t``, ``mu_i ~ N(0, s_mu²)`` (the
unit effect is not spatially filtered). With ``B = I - lambda W``, ``theta = s_mu² / s²`` and
``J = ii'/T``, stacking by period,
``Var(u) = s² [J (x) (T theta I + (B'B)^-1) + (I - J) (x) (B'B)^-1]``, so the log-likelihood is

``-NT/2 log(2 pi s²) - 1/2 log|I + T theta B'B| + T log|B| - Q / (2 s²)``,
``Q = sum_t (u_t - ubar)' B'B (u_t - ubar) + T ubar' B'B (I + T theta B'B)^-1 ubar``,

``u = y - a - X beta`` and ``ubar`` its unit means (the means part uses
``(T theta I + (B'B)^-1)^-1 = B'B (I + T theta B'B)^-1``). This holds for any W; only for a
symmetric W does it reduce to the eigenvalue form (``|I + T theta B'B| =
prod_i (1 + T theta (1 - lambda w_i)²)`` and a transform from W's eigenvectors, as in PySAL's
``spreg.Panel_RE_Error``, whose ``phi`` is ``sqrt(theta)``). Given (lambda, theta), beta is
GLS and s² = Q / NT.
The search is over ``phi = (1 + T theta)^-1/2`` in (0, 1) (``phi = 1``: no random effect;
``phi -> 0``: the fixed-effects limit), with the profile in lambda maximised inside, both by
bounded Brent; ``log|I + T theta B'B|`` and the solves come from a sparse LU. theta = 0 is
admissible: if the profile rises to phi = 1 the pooled SEM is returned, with a warning (also
one when phi reaches its lower end). The information
matrix of (beta, lambda, s²) given theta is the Gaussian one, ``1/2 tr(O^-1 O_a O^-1 O_b)``
(block-diagonal between beta and the rest): with ``G = (W'B + B'W)(B'B)^-1`` and
``S = I + T theta B'B``, ``I_ll = [tr (S^-1 G)² + (T - 1) tr G²] / 2``,
``I_ls = [tr S^-1 G + (T - 1) tr G] / (2 s²)``, ``I_ss = NT / (2 s⁴)``, ``I_bb = X*'X* / s²``
(the transformed regressors' cross-products, as in Q). With theta = 0 these are the FE SEM's.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import sparse

from .logdet import LogDet
from .models import _BLOCK, _optimise, _traces, information


def fit_re_lag(y: np.ndarray, z: np.ndarray, w, ld: LogDet) -> dict:
    """ML of the random-effects spatial lag model.

    ``y`` is ``N x T``, ``z`` is ``N x T x p`` (no constant; one is added), ``w`` the aligned
    :class:`SpatialWeights`. Returns the coefficients (constant first, then ``z``, then rho),
    ``phi``, ``sigma2``, ``loglik`` and the information matrix of (coefficients, rho, sigma²)
    at the estimates (``phi`` held fixed).
    """
    n, t = y.shape
    zc = np.concatenate([np.ones((n, t, 1)), z], axis=2)
    wy = (w.matrix @ y).reshape(n, t)

    def quasi(a: np.ndarray, phi: float) -> np.ndarray:
        return a - (1 - phi) * a.mean(axis=1, keepdims=True)

    def inner(phi: float):
        ys, wys = quasi(y, phi).ravel(), quasi(wy, phi).ravel()
        zs = quasi(zc, phi).reshape(n * t, -1)
        e0 = ys - zs @ np.linalg.lstsq(zs, ys, rcond=None)[0]
        el = wys - zs @ np.linalg.lstsq(zs, wys, rcond=None)[0]
        q = (e0 @ e0, e0 @ el, el @ el)

        def negll(r: float) -> float:
            return n * t / 2 * np.log((q[0] - 2 * r * q[1] + r * r * q[2]) / (n * t)) - t * ld(r)

        rho, _ = _optimise(negll, ld.bounds)
        return rho, negll(rho) - n * np.log(phi), ys, wys, zs

    phi, _ = _optimise(lambda f: inner(f)[1], (0.0, 1.0), "phi (random-effects weight)")
    rho, negll, ys, wys, zs = inner(phi)
    g = np.linalg.lstsq(zs, ys - rho * wys, rcond=None)[0]
    e = ys - rho * wys - zs @ g
    s2 = float(e @ e) / (n * t)
    return {
        "coef": np.append(g, rho),
        "phi": phi,
        "sigma2": s2,
        "loglik": -negll - n * t / 2 * (np.log(2 * np.pi) + 1),
        "information": information("sar", _traces(w, rho, False), "none", g, zs, s2, n, t),
    }


def _re_error_traces(w, lam: float, s_lu) -> tuple[float, float, float, float]:
    """``tr G``, ``tr G²``, ``tr S⁻¹G``, ``tr (S⁻¹G)²`` for the RE-SEM information matrix.

    ``G = (W'B + B'W)(B'B)⁻¹`` with ``B = I - lambda W`` and ``s_lu`` the factorisation of
    ``S = I + T theta B'B``. Exact, a block of columns at a time from sparse LU solves (no dense
    inverse), like :func:`.models._traces`.
    """
    from scipy.sparse.linalg import splu

    n, m = w.n, sparse.csr_array(w.matrix)
    b_lu = splu(sparse.csc_array(sparse.eye_array(n) - lam * m))
    d = sparse.csr_array(m + m.T - 2 * lam * (m.T @ m))

    def g(v: np.ndarray) -> np.ndarray:  # G v = D B⁻¹ B'⁻¹ v
        return d @ b_lu.solve(b_lu.solve(v, trans="T"))

    t1 = t2 = t3 = t4 = 0.0
    for start in range(0, n, _BLOCK):
        cols = np.arange(start, min(n, start + _BLOCK))
        e = np.zeros((n, cols.size))
        e[cols, np.arange(cols.size)] = 1.0
        ge = g(e)
        sge = s_lu.solve(ge)
        diag = (cols, np.arange(cols.size))
        t1 += ge[diag].sum()
        t2 += g(ge)[diag].sum()
        t3 += sge[diag].sum()
        t4 += s_lu.solve(g(sge))[diag].sum()
    return float(t1), float(t2), float(t3), float(t4)


def _re_error_profile(y: np.ndarray, z: np.ndarray, w, ld: LogDet):
    """The RE-SEM at given (lambda, phi): GLS beta, s², the cross-products, LU of S, -loglik.

    Returns a function ``at(lam, phi)`` giving ``(coef, ee, c, s_lu, negll)``: the coefficients
    (constant first; lambda not appended), ``Q`` at them, the cross-product matrix of the
    transformed ``(y, 1, z)``, the LU of ``S = I + T theta B'B`` and the concentrated
    negative log-likelihood (without the constant ``NT/2 (log 2 pi + 1)``).
    """
    from scipy.sparse.linalg import splu

    n, t = y.shape
    m = sparse.csr_array(w.matrix)
    zc = np.concatenate([np.ones((n, t, 1)), z], axis=2)
    k = zc.shape[2]
    # y minus its OLS fit: the GLS residuals are unchanged, the cross-products lose their scale
    b0 = np.linalg.lstsq(zc.reshape(n * t, k), y.ravel(), rcond=None)[0]
    dat = np.concatenate([(y - zc @ b0)[:, :, None], zc], axis=2)  # (N, T, 1 + k)
    bar = dat.mean(axis=1)
    dev = (dat - bar[:, None, :]).reshape(n, -1)
    wdev = (m @ dev).reshape(n * t, -1)
    dev = dev.reshape(n * t, -1)
    g0, g1, g2 = dev.T @ dev, dev.T @ wdev + wdev.T @ dev, wdev.T @ wdev
    wbar = m @ bar
    eye = sparse.eye_array(n, format="csc")

    def at(lam: float, phi: float):
        b = sparse.csc_array(eye - lam * m)
        tth = 1 / phi**2 - 1  # T theta
        s_lu = splu(sparse.csc_array(eye + tth * (b.T @ b)))
        mean = (bar - lam * wbar).T @ (b @ s_lu.solve(bar))  # bar' B'B S^-1 bar
        c = g0 - lam * g1 + lam**2 * g2 + t * (mean + mean.T) / 2
        sc = np.sqrt(np.diag(c)[1:])  # equilibrated normal equations
        delta = np.linalg.solve(c[1:, 1:] / np.outer(sc, sc), c[1:, 0] / sc) / sc
        ee = float(c[0, 0] - c[1:, 0] @ delta)
        logdet_s = float(np.sum(np.log(np.abs(s_lu.U.diagonal()))))
        negll = n * t / 2 * np.log(ee / (n * t)) + logdet_s / 2 - t * ld(lam)
        return b0 + delta, ee, c[1:, 1:], s_lu, negll

    return at


def fit_re_error(y: np.ndarray, z: np.ndarray, w, ld: LogDet) -> dict:
    """ML of the random-effects spatial error model (see the module docstring).

    ``y`` is ``N x T``, ``z`` is ``N x T x p`` (no constant; one is added), ``w`` the aligned
    :class:`SpatialWeights`. Returns the coefficients (constant first, then ``z``, then lambda),
    ``theta = s_mu² / s²`` (the variance ratio), ``phi = (1 + T theta)^-1/2`` (the searched
    weight), ``sigma2``, ``sigma2_mu``, ``loglik`` and the information matrix of
    (coefficients, lambda, sigma²) at the estimates (``theta`` held fixed).
    """
    n, t = y.shape
    at = _re_error_profile(y, z, w, ld)

    def inner(phi: float) -> tuple[float, float]:
        lam, _ = _optimise(lambda r: at(r, phi)[-1], ld.bounds)
        return lam, at(lam, phi)[-1]

    with warnings.catch_warnings():  # boundary notes of trial values are not results
        warnings.simplefilter("ignore")
        phi, edge = _optimise(lambda f: inner(f)[1], (0.0, 1.0), "phi")
        if edge and phi > 0.5 and inner(1.0)[1] <= inner(phi)[1]:
            phi = 1.0  # theta = 0 is admissible: the supremum is attained there
    if edge:
        warnings.warn(
            "the random-effects variance is estimated at zero (theta = 0): the random-effects "
            "SEM is the pooled SEM"
            if phi > 0.5
            else f"the random-effects weight phi is at its lower end ({phi:.3g}): the unit "
            "effects dominate and the random-effects SEM approaches the fixed-effects one",
            stacklevel=3,
        )
    lam, _ = inner(phi)
    coef, ee, cxx, s_lu, negll = at(lam, phi)
    s2 = ee / (n * t)
    theta = (1 / phi**2 - 1) / t
    t1, t2, t3, t4 = _re_error_traces(w, lam, s_lu)
    k = coef.size
    info = np.zeros((k + 2, k + 2))
    info[:k, :k] = cxx / s2
    info[k, k] = (t4 + (t - 1) * t2) / 2
    info[k, k + 1] = info[k + 1, k] = (t3 + (t - 1) * t1) / (2 * s2)
    info[k + 1, k + 1] = n * t / (2 * s2**2)
    return {
        "coef": np.append(coef, lam),
        "theta": theta,
        "phi": phi,
        "sigma2": s2,
        "sigma2_mu": theta * s2,
        "loglik": -negll - n * t / 2 * (np.log(2 * np.pi) + 1),
        "information": info,
    }

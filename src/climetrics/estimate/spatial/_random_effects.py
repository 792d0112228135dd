"""Random-effects spatial lag panel by ML, for the spatial Hausman test (private helper).

Model (Elhorst 2003, "Specification and estimation of spatial panel data models", *International
Regional Science Review* 26, 244-268; Elhorst 2014, ch. 3):
``y_t = rho W y_t + a + X_t beta + mu + e_t`` with ``mu_i ~ N(0, s_mu²)``. With
``phi² = s² / (T s_mu² + s²)`` every variable is quasi-demeaned, ``v* = v - (1 - phi) vbar_i``
(which commutes with ``I_T (x) W``), and the log-likelihood is

``-NT/2 log(2 pi s²) + N/2 log phi² + T log|I - rho W| - e'e / (2 s²)``,
``e = y* - rho W y* - X* beta`` (``X*`` with the quasi-demeaned constant ``phi``).

Given phi, rho maximises the concentrated likelihood exactly as in the FE model; the profile
likelihood in phi is then maximised over (0, 1] (nested bounded Brent searches, so the
result is the joint ML rather than Elhorst's alternating iterations, which converge to it).
"""

from __future__ import annotations

import numpy as np

from .logdet import LogDet
from .models import _optimise, information


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
        "information": information("sar", w, "none", rho, g, zs, s2, n, t, False),
    }

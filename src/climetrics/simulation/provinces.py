"""Synthetic province-year panel for seed 001: digital economy and carbon intensity with spillovers.

The 30 provinces of seed 001 (mainland China without Tibet), their real land borders and NBS
regions are bundled facts; every variable is simulated. The outcome follows a spatial Durbin
model with known parameters, so spatial estimators can be checked against the truth::

    lnci_t = rho W lnci_t + beta lnde_t + theta W lnde_t + X_t gamma + alpha + mu_t + e_t

for each year ``t`` (vectors over provinces), i.e. ``lnci_t = (I - rho W)^{-1}(...)``. ``W`` is
the row-standardised contiguity matrix with Hainan (no land border) linked to Guangdong, as is
usual in provincial studies. ``lnde`` is the log of digital-economy value added, the sum of
digital manufacturing (``sector1``), digital services (``sector2``) and industrial
digitalisation (``dde``), each in 10^8 yuan. The province effects ``alpha`` follow the "west
high, east low" pattern of seed 001's Fig. 3, so they are spatially clustered and correlated with
the (eastern-led) digital economy: two-way fixed effects are consistent, time effects alone
(seed 001's choice) are not.

The truth holds ``rho``, ``beta``, ``theta`` and the LeSage & Pace (2009) effects implied by them
on this ``W``: direct = mean of the diagonal of ``S = (I - rho W)^{-1} (beta I + theta W)``,
total = mean row sum of ``S``, indirect = total - direct.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..panel import Panel
from .cities import SIMULATED_NOTE, Simulated, _ar1

EXCLUDED = (540000,)  # Tibet: seed 001 drops it (no IO table); HK, Macao, Taiwan are not bundled


def province_contiguity() -> tuple[pd.DataFrame, np.ndarray]:
    """Seed 001's 30 provinces and their row-standardised contiguity matrix.

    Hainan has no land border; it is linked to its nearest province (Guangdong), as is usual.
    """
    from .. import data as cmdata
    from ..estimate.spatial.weights import contiguity

    prov = cmdata.provinces()
    prov = prov[~prov["province_adcode"].isin(EXCLUDED)].sort_values("province_adcode")
    prov = prov.reset_index(drop=True)
    w = contiguity("province", prov["province_adcode"], attach_islands="nearest").standardized()
    return prov, w.dense()


def sdm_effects(w: np.ndarray, rho: float, beta: float, theta: float) -> dict[str, float]:
    """LeSage & Pace (2009, sec. 2.7) average direct, indirect and total effects of one regressor."""
    s = np.linalg.solve(np.eye(len(w)) - rho * w, beta * np.eye(len(w)) + theta * w)
    direct = float(np.trace(s) / len(w))
    total = float(s.sum() / len(w))
    return {"direct": direct, "indirect": total - direct, "total": total}


def simulate_provinces(
    *,
    years: tuple[int, int] = (2012, 2017),
    rho: float = 0.30,
    beta: float = -0.25,
    theta: float = 0.20,
    noise: float = 0.02,
    seed: int = 0,
) -> Simulated:
    """Simulate seed 001's province-year panel with a spatial Durbin outcome and known effects.

    Parameters
    ----------
    years
        First and last year (inclusive); seed 001 covers 2012-2017.
    rho
        Spatial autoregressive coefficient of log carbon intensity.
    beta, theta
        Own and neighbours' (``W lnde``) effect of log digital-economy value added; a positive
        ``theta`` is seed 001's carbon spillover (neighbours' digital growth raises home intensity).
    noise
        Standard deviation of the idiosyncratic error.
    seed
        Seed of the random generator; the same seed gives identical data.
    """
    if years[1] <= years[0]:
        raise ValueError(f"years must be (first, last) with first < last, got {years}")
    if not -1 < rho < 1:
        raise ValueError(f"rho must lie in (-1, 1) for a row-standardised W, got {rho}")
    rng = np.random.default_rng(seed)
    prov, w = province_contiguity()
    n = len(prov)
    yrs = np.arange(years[0], years[1] + 1)
    t = len(yrs)
    trend = (yrs - yrs[0])[None, :]
    east = (prov["region"] == "East").to_numpy(float)[:, None]
    size = rng.normal(0, 1, n)[:, None] + 0.8 * east  # economic size, larger in the east

    # digital economy (log 10^8 yuan): manufacturing is concentrated, services and
    # industrial digitalisation track the size of the economy
    lnsector1 = 4.5 + 1.6 * size + 0.06 * trend + _ar1(rng, n, t, 0.8, 0.15)
    lnsector2 = 5.5 + 0.8 * size + 0.10 * trend + _ar1(rng, n, t, 0.8, 0.10)
    lndde = 7.5 + 0.7 * size + 0.08 * trend + _ar1(rng, n, t, 0.8, 0.10)
    de = np.exp(lnsector1) + np.exp(lnsector2) + np.exp(lndde)
    lnde = np.log(de)

    # controls (unaffected by the digital economy)
    lnpgdp = 10.5 + 0.3 * size + 0.06 * trend + _ar1(rng, n, t, 0.8, 0.03)
    lnpop = 8.2 + 0.5 * size + 0.004 * trend + _ar1(rng, n, t, 0.9, 0.01)
    lnurban = 6.8 + 0.6 * size + 0.03 * trend + _ar1(rng, n, t, 0.8, 0.03)
    struct = 1.0 + 0.15 * size + 0.05 * trend + _ar1(rng, n, t, 0.8, 0.05)
    envreg = np.clip(0.004 + 0.001 * size + _ar1(rng, n, t, 0.7, 0.001), 0.0005, None)
    gamma = {"lnpgdp": -0.40, "lnpop": 0.10, "lnurban": 0.15, "struct": -0.20, "envreg": -5.0}

    # province effects: carbon intensity is "west high, east low" (seed 001 Fig. 3), so they are
    # spatially clustered and, through the east's larger digital economy, correlated with lnde:
    # time fixed effects alone are then biased and two-way fixed effects are needed
    region_effect = prov["region"].map({"East": -0.15, "Central": 0.05, "Northeast": 0.15, "West": 0.30})
    alpha = region_effect.to_numpy(float) + rng.normal(0, 0.05, n)
    mu = -0.03 * (yrs - yrs[0]) + rng.normal(0, 0.01, t)
    xb = (
        beta * lnde + theta * (w @ lnde)
        + gamma["lnpgdp"] * lnpgdp + gamma["lnpop"] * lnpop + gamma["lnurban"] * lnurban
        + gamma["struct"] * struct + gamma["envreg"] * envreg
        + 4.0 + alpha[:, None] + mu[None, :] + rng.normal(0, noise, (n, t))
    )
    lnci = np.linalg.solve(np.eye(n) - rho * w, xb)  # all years at once: columns are years

    pop = np.exp(lnpop)  # 10^4 persons
    gdp = np.exp(lnpgdp) * pop / 1e4  # 10^8 yuan
    co2 = np.exp(lnci) * gdp  # 10^4 t

    rep = lambda a: np.repeat(np.asarray(a), t)  # noqa: E731 - province column to long form
    flat = lambda a: np.asarray(a).reshape(-1)  # noqa: E731
    df = pd.DataFrame({
        "province": rep(prov["province_adcode"]),
        "year": np.tile(yrs, n),
        "name": rep(prov["name"]),
        "name_en": rep(prov["name_en"]),
        "region": rep(prov["region"]),
        "lnci": flat(lnci),
        "co2": flat(co2),
        "gdp": flat(gdp),
        "lnde": flat(lnde),
        "lnsector1": flat(lnsector1),
        "lnsector2": flat(lnsector2),
        "lndde": flat(lndde),
        "lnpgdp": flat(lnpgdp),
        "lnpop": flat(lnpop),
        "lnurban": flat(lnurban),
        "struct": flat(struct),
        "envreg": flat(envreg),
    })
    truth: dict[str, Any] = {
        "outcome": "lnci",
        "treatment": "lnde",
        "model": "SDM",
        "rho": rho,
        "beta": beta,
        "theta": theta,
        "effects": sdm_effects(w, rho, beta, theta),
        "control_coefficients": gamma,
        "weights": "province contiguity, Hainan-Guangdong linked, row-standardised",
        "n_provinces": n,
    }
    params = dict(years=years, rho=rho, beta=beta, theta=theta, noise=noise, seed=seed)
    return Simulated(panel=Panel(df, "province", "year"), truth=truth, params=params,
                     note=SIMULATED_NOTE.replace("cities, provinces and policy calendar are",
                                                 "provinces and their borders are"))

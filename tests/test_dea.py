"""DEA models of climetrics.measure: textbook examples, hand-derived examples and agreement with
independent per-DMU LPs solved by scipy.optimize.linprog.

The reference LPs below are written from the papers, separately from the package: dense
matrices, one fresh ``linprog`` call per DMU, the textbook variables (``beta`` in data units for
the DDFs, Tone's ``(x_bar, y_bar)`` variables for super-SBM) rather than the package's
absolute-slack / slack-form layouts, and no column generation.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

import climetrics as cm
from climetrics.errors import EstimationError
from climetrics.measure import (
    DEADataWarning,
    bcc,
    ccr,
    ddf_efficiency,
    global_malmquist_luenberger,
    malmquist_luenberger,
    nddf_performance,
    radial_efficiency,
    sbm_efficiency,
)
from climetrics.measure import dea as dea_mod

DATA = Path(__file__).parent / "data"
OPTS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}
TOL = 1e-8


# --------------------------------------------------------------------------- reference LPs
def _lp(c, A_ub=None, b_ub=None, A_eq=None, b_eq=None, bounds=None):
    r = linprog(
        c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, bounds=bounds, method="highs", options=OPTS
    )
    return r.fun if r.status == 0 else np.nan, r.status


def ref_radial(X, Y, o, R, vrs, orientation):
    """CCR/BCC envelopment LP, variables (theta or eta, lambda_R)."""
    n, m, s = len(R), X.shape[1], Y.shape[1]
    XR, YR = X[R].T, Y[R].T
    eq = (np.r_[0.0, np.ones(n)][None], [1.0]) if vrs else (None, None)
    if orientation == "input":  # min theta: XR l - theta x_o <= 0, -YR l <= -y_o
        A = np.vstack([np.c_[-X[o], XR], np.c_[np.zeros(s), -YR]])
        f, st = _lp(
            np.r_[1.0, np.zeros(n)],
            A,
            np.r_[np.zeros(m), -Y[o]],
            *eq,
            bounds=[(None, None)] + [(0, None)] * n,
        )
        return f, st
    A = np.vstack([np.c_[np.zeros(m), XR], np.c_[Y[o], -YR]])  # max eta
    f, st = _lp(
        np.r_[-1.0, np.zeros(n)],
        A,
        np.r_[X[o], np.zeros(s)],
        *eq,
        bounds=[(None, None)] + [(0, None)] * n,
    )
    return 1.0 / -f, st


def ref_sbm(X, Yg, Yb, o, R, vrs, orientation):
    """Tone (2001) model (10) with undesirable outputs (Tone 2004): variables (t, Lam, S-, Sg, Sb)."""
    n, m, s, k = len(R), X.shape[1], Yg.shape[1], Yb.shape[1]
    x, yg, yb = X[o], Yg[o], Yb[o]
    nv = 1 + n + m + s + k
    c = np.zeros(nv)
    c[0] = 1.0
    c[1 + n : 1 + n + m] = -1.0 / (m * x)
    rows, rhs = [], []
    r0 = np.zeros(nv)
    r0[0] = 1.0
    r0[1 + n + m : 1 + n + m + s] = 1.0 / ((s + k) * yg)
    r0[1 + n + m + s :] = 1.0 / ((s + k) * yb)
    rows.append(r0)
    rhs.append(1.0)
    for i in range(m):  # X Lam + S- - t x = 0
        r = np.zeros(nv)
        r[0], r[1 : 1 + n], r[1 + n + i] = -x[i], X[R, i], 1.0
        rows.append(r)
        rhs.append(0.0)
    for j in range(s):  # Yg Lam - Sg - t yg = 0
        r = np.zeros(nv)
        r[0], r[1 : 1 + n], r[1 + n + m + j] = -yg[j], Yg[R, j], -1.0
        rows.append(r)
        rhs.append(0.0)
    for j in range(k):  # Yb Lam + Sb - t yb = 0
        r = np.zeros(nv)
        r[0], r[1 : 1 + n], r[1 + n + m + s + j] = -yb[j], Yb[R, j], 1.0
        rows.append(r)
        rhs.append(0.0)
    if vrs:
        r = np.zeros(nv)
        r[0], r[1 : 1 + n] = -1.0, 1.0
        rows.append(r)
        rhs.append(0.0)
    bounds = [(0, None)] * nv
    if orientation == "input":
        bounds[1 + n + m :] = [(0, 0)] * (s + k)
    elif orientation == "output":
        bounds[1 + n : 1 + n + m] = [(0, 0)] * m
    return _lp(c, A_eq=np.array(rows), b_eq=np.array(rhs), bounds=bounds)


def ref_super_sbm(X, Yg, Yb, o, R, vrs, orientation):
    """Tone (2002) super-SBM in the (x_bar, y_bar) variables, with bad outputs b_bar (b_bar >=
    b_o): delta = [(1/m) sum x_bar/x_o] / [1/(s+k) (sum y_bar/y_o + sum (2 - b_bar/b_o))],
    Charnes-Cooper variables (t, Lam_{R minus o}, phi = t x_bar, psi = t y_bar, chi = t b_bar)."""
    R = np.array([j for j in R if j != o])
    n, m, s, k = len(R), X.shape[1], Yg.shape[1], Yb.shape[1]
    x, yg, yb = X[o], Yg[o], Yb[o]
    it, il, ip, iq, ic = 0, 1, 1 + n, 1 + n + m, 1 + n + m + s
    nv = ic + k
    c = np.zeros(nv)
    c[ip:iq] = 1.0 / (m * x)
    Aeq, beq, Aub, bub = [], [], [], []
    r = np.zeros(nv)  # 1/(s+k) [sum psi/yg + sum (2 t - chi/yb)] = 1
    r[iq:ic] = 1.0 / ((s + k) * yg)
    r[it] = 2.0 * k / (s + k)
    r[ic:] = -1.0 / ((s + k) * yb)
    Aeq.append(r)
    beq.append(1.0)
    for i in range(m):
        r = np.zeros(nv)  # X Lam - phi <= 0
        r[il:ip], r[ip + i] = X[R, i], -1.0
        Aub.append(r)
        bub.append(0.0)
        r = np.zeros(nv)  # t x - phi <= 0 (x_bar >= x_o);  == 0 when output oriented
        r[it], r[ip + i] = x[i], -1.0
        (Aeq if orientation == "output" else Aub).append(r)
        (beq if orientation == "output" else bub).append(0.0)
    for j in range(s):
        r = np.zeros(nv)  # psi - Yg Lam <= 0
        r[il:ip], r[iq + j] = -Yg[R, j], 1.0
        Aub.append(r)
        bub.append(0.0)
        r = np.zeros(nv)  # psi - t y <= 0;  == 0 when input oriented
        r[it], r[iq + j] = -yg[j], 1.0
        (Aeq if orientation == "input" else Aub).append(r)
        (beq if orientation == "input" else bub).append(0.0)
    for j in range(k):
        r = np.zeros(nv)  # Yb Lam - chi <= 0
        r[il:ip], r[ic + j] = Yb[R, j], -1.0
        Aub.append(r)
        bub.append(0.0)
        r = np.zeros(nv)  # t b - chi <= 0;  == 0 when input oriented
        r[it], r[ic + j] = yb[j], -1.0
        (Aeq if orientation == "input" else Aub).append(r)
        (beq if orientation == "input" else bub).append(0.0)
    if vrs:
        r = np.zeros(nv)
        r[it], r[il:ip] = -1.0, 1.0
        Aeq.append(r)
        beq.append(0.0)
    return _lp(c, np.array(Aub), np.array(bub), np.array(Aeq), np.array(beq), [(0, None)] * nv)


def ref_nddf(X, Yg, Yb, o, R, vrs, w, beta_fixed=None):
    """ZAW (2012) model (6) in beta: max w'beta s.t. X'l + beta_x x_o <= x_o,
    -Y'l + beta_y y_o <= -y_o, B'l + beta_b b_o = b_o. ``beta_fixed`` pins beta (for checking a
    reported solution)."""
    n, m, s, k = len(R), X.shape[1], Yg.shape[1], Yb.shape[1]
    p = m + s + k
    A_ub = np.zeros((m + s, p + n))
    A_ub[:m, :m] = np.diag(X[o])
    A_ub[:m, p:] = X[R].T
    A_ub[m:, m : m + s] = np.diag(Yg[o])
    A_ub[m:, p:] = -Yg[R].T
    A_eq = np.zeros((k + vrs, p + n))
    A_eq[:k, m + s : p] = np.diag(Yb[o])
    A_eq[:k, p:] = Yb[R].T
    b_eq = list(Yb[o])
    if vrs:
        A_eq[k, p:] = 1.0
        b_eq.append(1.0)
    bounds = [(0, None)] * (p + n)
    if beta_fixed is not None:
        bounds[:p] = [(b, b) for b in beta_fixed]
    f, st = _lp(np.r_[-np.asarray(w), np.zeros(n)], A_ub, np.r_[X[o], -Yg[o]], A_eq, b_eq, bounds)
    return -f, st


def ref_ddf(X, Yg, Yb, o_data, R, vrs, full):
    """Chung et al. (1997) DDF: max beta s.t. X'l + beta gx <= x, -Y'l + beta y <= -y,
    B'l + beta b = b, beta free; ``o_data = (x, y, b)`` of the evaluated observation."""
    x, y, b = o_data
    n = len(R)
    A_ub = np.vstack([np.c_[x if full else np.zeros_like(x), X[R].T], np.c_[y, -Yg[R].T]])
    A_eq = np.c_[b, Yb[R].T]
    b_eq = list(b)
    if vrs:
        A_eq = np.vstack([A_eq, np.r_[0.0, np.ones(n)]])
        b_eq.append(1.0)
    f, st = _lp(
        np.r_[-1.0, np.zeros(n)], A_ub, np.r_[x, -y], A_eq, b_eq, [(None, None)] + [(0, None)] * n
    )
    return -f, st


# --------------------------------------------------------------------------- helpers
def ref_sets(periods: np.ndarray, frontier: str, window: int = 2):
    """{period position t: boolean mask of the reference observations}, written directly."""
    ps = np.sort(np.unique(periods))
    pos = np.searchsorted(ps, periods)
    out = {}
    for t in range(len(ps)):
        if frontier == "contemporaneous":
            out[t] = pos == t
        elif frontier == "sequential":
            out[t] = pos <= t
        elif frontier == "window":
            out[t] = (pos <= t) & (pos >= t - window + 1)
        else:
            out[t] = np.ones(len(periods), bool)
    return pos, out


def random_panel(n_units=24, n_periods=3, seed=0):
    rng = np.random.default_rng(seed)
    n = n_units * n_periods
    size = np.exp(rng.normal(0, 0.6, n))
    df = pd.DataFrame(
        {
            "unit": np.repeat([f"u{i:02d}" for i in range(n_units)], n_periods),
            "year": np.tile(2000 + np.arange(n_periods), n_units),
            "x1": size * np.exp(rng.normal(0, 0.3, n)),
            "x2": size * np.exp(rng.normal(0, 0.3, n)),
            "x3": size * np.exp(rng.normal(0, 0.3, n)),
        }
    )
    df["y1"] = (df.x1 * df.x2 * df.x3) ** (1 / 3) * np.exp(
        rng.normal(0, 0.25, n) + 0.03 * (df.year - 2000)
    )
    df["y2"] = size * np.exp(rng.normal(0, 0.4, n))
    df["b1"] = df.x3 * np.exp(rng.normal(0, 0.3, n))
    return df


@pytest.fixture(params=["direct", "colgen"])
def engine(request, monkeypatch):
    """Run each random-data check with every lambda column in the LP ('direct') and with
    column generation forced even for small reference sets ('colgen')."""
    monkeypatch.setattr(dea_mod, "COLGEN_MIN_COLUMNS", 10**9 if request.param == "direct" else 5)
    return request.param


@pytest.fixture(scope="module")
def panel():
    return random_panel()


@pytest.fixture(scope="module")
def city():
    return cm.simulate(seed=3).panel


# --------------------------------------------------------------------------- textbook examples
def test_ccr_hospital_example_cooper_seiford_tone():
    """CCR (input-oriented, CRS) scores of the hospital example of Cooper, Seiford & Tone (2007),
    data Table 1.5 (12 hospitals; doctors, nurses -> outpatients, inpatients). The book reports
    the scores to 3 decimals: A 1, B 1, C 0.883, D 1, E 0.763, F 0.835, G 0.902, H 0.796,
    I 0.960, J 0.871, K 0.955, L 0.958. Published digits are matched to half a unit of the last
    digit (5e-4); the output orientation gives the same scores under CRS (1/eta* = theta*)."""
    df = pd.read_csv(DATA / "dea_hospital.csv")
    published = [1, 1, 0.883, 1, 0.763, 0.835, 0.902, 0.796, 0.960, 0.871, 0.955, 0.958]
    r = ccr(df, ["doctors", "nurses"], ["outpatients", "inpatients"], unit="hospital")
    assert list(r["hospital"]) == list("ABCDEFGHIJKL")
    np.testing.assert_allclose(r["theta"], published, atol=5e-4)
    o = ccr(
        df,
        ["doctors", "nurses"],
        ["outpatients", "inpatients"],
        unit="hospital",
        orientation="output",
    )
    np.testing.assert_allclose(o["theta"], r["theta"], atol=1e-9)
    assert (r["status"] == "optimal").all()


def test_sbm_tone2001_numerical_example():
    """SBM (non-oriented, CRS) of Tone (2001), EJOR 130, numerical example of Table 2 (5 DMUs,
    2 inputs, 2 outputs). Published SBM scores (3 decimals): A 0.798, B 0.568, C 1, D 0.667,
    E 1 -- D is CCR-efficient (theta* = 1) but has slacks, so rho* = 2/3 exactly."""
    df = pd.read_csv(DATA / "dea_tone2001.csv")
    r = sbm_efficiency(df, ["x1", "x2"], ["y1", "y2"], unit="dmu")
    np.testing.assert_allclose(r["sbm"], [0.798, 0.568, 1.0, 0.667, 1.0], atol=5e-4)
    assert r["sbm"].iloc[3] == pytest.approx(2 / 3, abs=1e-12)
    assert ccr(df, ["x1", "x2"], ["y1", "y2"], unit="dmu")["theta"].iloc[3] == pytest.approx(
        1.0, abs=1e-12
    )


# --------------------------------------------------------------------------- hand-derived examples
NDDF_HAND = pd.DataFrame(
    {"x": [2.0, 1.0, 1.0], "y": [2.0, 3.0, 1.0], "b": [2.0, 1.0, 2.0]}, index=list("ABC")
)


def test_nddf_hand_derived_three_dmus():
    """NDDF, CRS, w = (1/3, 1/3, 1/3), DMUs (x, y, b): A (2, 2, 2), B (1, 3, 1), C (1, 1, 2).

    DMU A. Primal LP: max (bx + by + bb)/3 s.t. 2lA + lB + lC + 2bx <= 2 (dual u1 >= 0),
    -(2lA + 3lB + lC) + 2by <= -2 (u2 >= 0), 2lA + lB + 2lC + 2bb = 2 (u3 free).
    Feasible: lB = 2, beta = (0, 2, 0), value 2/3. Dual: min 2u1 - 2u2 + 2u3 s.t.
    lA: 2u1 - 2u2 + 2u3 >= 0, lB: u1 - 3u2 + u3 >= 0, lC: u1 - u2 + 2u3 >= 0,
    2u1, 2u2, 2u3 >= 1/3. u = (1/4, 1/6, 1/4) is feasible with value 2/3, so 2/3 is optimal.
    Its reduced costs of lA (2/3), lC (7/12), bx (1/6), bb (1/6) are positive, so these are 0
    in every optimum; then lB = 2 (row 3) and by = 2: the betas are unique.
    CPI_A = (1 - 0)/(1 + 2) = 1/3.

    DMU C (x_o, y_o, b_o) = (1, 1, 2). Feasible: lB = 1, beta = (0, 2, 1/2), value 5/6.
    Dual (min u1 - u2 + 2u3; lA: 2u1 - 2u2 + 2u3 >= 0, lB: u1 - 3u2 + u3 >= 0,
    lC: u1 - u2 + 2u3 >= 0, u1 >= 1/3, u2 >= 1/3, 2u3 >= 1/3): u = (5/6, 1/3, 1/6), value 5/6.
    Positive reduced costs of lA (4/3), lC (5/6), bx (1/2) fix them at 0, and on the remaining
    edge (by + bb)/3 = (2.5 lB)/3 is maximal at lB = 1: unique. CPI_C = (1 - 1/2)/(1 + 2) = 1/6.

    DMU B: u = (1/3, 2/9, 1/3) is dual feasible with value 0, so D_B = 0 and CPI_B = 1.
    """
    r = nddf_performance(NDDF_HAND, "x", "y", "b")  # default weights = (1/3, 1/3, 1/3) here
    np.testing.assert_allclose(
        r[["beta_x", "beta_y", "beta_b"]].to_numpy(),
        [[0, 2, 0], [0, 0, 0], [0, 2, 0.5]],
        atol=1e-12,
    )
    np.testing.assert_allclose(r["nddf"], [2 / 3, 0, 5 / 6], atol=1e-12)
    np.testing.assert_allclose(r["tfcpi"], [1 / 3, 1, 1 / 6], atol=1e-12)
    w = nddf_performance(NDDF_HAND, "x", "y", "b", weights={"x": 1, "y": 1, "b": 1})
    np.testing.assert_allclose(w["nddf"], 3 * r["nddf"], atol=1e-12)


def test_nddf_energy_and_unified_indices_hand_derived():
    """With x as the energy input, the same unique betas as above give
    EPI = (1 - b_x)/(1 + b_y) = (1/3, 1, 1/3) and
    ECPI = [(1 - b_x) + (1 - b_b)] / 2 / (1 + b_y) = ((1 + 1)/6, 1, (1 + 1/2)/6) = (1/3, 1, 1/4)."""
    r = nddf_performance(NDDF_HAND, "x", "y", "b", energy="x")
    np.testing.assert_allclose(r["epi"], [1 / 3, 1, 1 / 3], atol=1e-12)
    np.testing.assert_allclose(r["ecpi"], [1 / 3, 1, 1 / 4], atol=1e-12)
    np.testing.assert_allclose(r["tfcpi"], r["cpi"], atol=0)


def test_nddf_zero_weight_fixes_that_direction():
    """A zero weight sets that component of g to 0 (ZAW 2012's energy-environmental model keeps
    K and L fixed): beta_x is 0 and the rest is solved as if x were not contracted."""
    r = nddf_performance(NDDF_HAND, "x", "y", "b", weights=[0, 0.5, 0.5])
    assert (r["beta_x"] == 0).all()
    for o in range(3):
        X, Y, B = (
            NDDF_HAND[["x"]].to_numpy(),
            NDDF_HAND[["y"]].to_numpy(),
            NDDF_HAND[["b"]].to_numpy(),
        )
        n = 3
        # max 0.5 by + 0.5 bb s.t. X'l <= x_o, -Y'l + by y_o <= -y_o, B'l + bb b_o = b_o
        f, _ = _lp(
            np.r_[-0.5, -0.5, np.zeros(n)],
            np.vstack([np.r_[0, 0, X[:, 0]], np.r_[Y[o, 0], 0, -Y[:, 0]]]),
            np.r_[X[o, 0], -Y[o, 0]],
            np.r_[0, B[o, 0], B[:, 0]][None],
            [B[o, 0]],
            [(0, None)] * (2 + n),
        )
        assert r["nddf"].iloc[o] == pytest.approx(-f, abs=TOL)


def test_sbm_undesirable_hand_derived():
    """SBM with an undesirable output, CRS: A (x, y, b) = (1, 1, 1), B = (1, 2, 1).
    For A with intensities lA, lB (u = lA + lB): s- = 1 - u, sb = 1 - u, sg = u + lB - 1 >= 0,
    rho = [1 - s-] / [1 + (sg + sb)/2] = u / (1 + lB/2). For fixed u the minimum takes lB = u,
    giving u / (1 + u/2), increasing in u, with u >= 1/2 from sg >= 0: rho_A = 0.5/1.25 = 0.4.
    B is efficient (rho_B = 1)."""
    df = pd.DataFrame({"x": [1.0, 1.0], "y": [1.0, 2.0], "b": [1.0, 1.0]}, index=["A", "B"])
    r = sbm_efficiency(df, "x", "y", "b")
    np.testing.assert_allclose(r["sbm"], [0.4, 1.0], atol=1e-12)


def test_bcc_hand_derived_one_input_one_output():
    """BCC (VRS) against the frontier drawn by hand, one input x and one output y:
    A (2, 1), B (3, 3), C (6, 4), D (4, 2), E (5, 3.5). The VRS frontier joins A, B, C (slopes 2
    then 1/3, concave), so A, B, C score 1.
    Input orientation: the least input reaching y_D = 2 lies on AB, x = 2 + (2 - 1)/2 = 2.5, so
    theta_D = 2.5/4 = 0.625; for y_E = 3.5 on BC, x = 3 + 0.5 * 3 = 4.5, theta_E = 0.9.
    Output orientation: the most output at x_D = 4 lies on BC, y = 3 + 1/3, eta_D = 5/3
    (theta = 0.6); at x_E = 5, y = 3 + 2/3, eta_E = (11/3)/3.5 = 22/21.
    CCR: the best ratio y/x is B's (1), so theta = (y/x)/1 = (1/2, 1, 2/3, 1/2, 7/10), and the
    scale efficiency CCR/BCC of D is 0.5/0.625 = 0.8."""
    df = pd.DataFrame(
        {"x": [2.0, 3.0, 6.0, 4.0, 5.0], "y": [1.0, 3.0, 4.0, 2.0, 3.5]}, index=list("ABCDE")
    )
    r = bcc(df, "x", "y")
    np.testing.assert_allclose(r["theta"], [1, 1, 1, 0.625, 0.9], atol=1e-12)
    o = bcc(df, "x", "y", orientation="output")
    np.testing.assert_allclose(o["eta"], [1, 1, 1, 5 / 3, 22 / 21], atol=1e-12)
    np.testing.assert_allclose(o["theta"], 1 / o["eta"], atol=1e-12)
    c = ccr(df, "x", "y")
    np.testing.assert_allclose(c["theta"], [0.5, 1, 2 / 3, 0.5, 0.7], atol=1e-12)
    assert c["theta"].iloc[3] / r["theta"].iloc[3] == pytest.approx(0.8, abs=1e-12)


def test_first_solver_prints_no_banner():
    """HiGHS prints a version banner to fd 1 when a process builds its first model; a DEA call
    in a fresh process leaves stdout to the user."""
    code = (
        "import pandas as pd\n"
        "from climetrics.measure import ccr\n"
        "print('before', flush=True)\n"
        "r = ccr(pd.DataFrame({'x': [1.0, 2.0], 'y': [1.0, 1.0]}), 'x', 'y')\n"
        "print('after', round(float(r['theta'].iloc[1]), 3))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["before", "after", "0.5"]


def test_super_sbm_hand_derived():
    """Super-SBM (Tone 2002), one input and one output, CRS: A (1, 1), B (2, 1), C (4, 1).
    A is the only efficient DMU. Without A the technology is the ray y <= x/2 (spanned by B), so
    x_bar >= 2 lB and y_bar <= lB give delta = x_bar / y_bar >= 2, attained by x_bar = 2,
    y_bar = 1, lB = 1 (x_bar >= x_A, y_bar <= y_A hold): delta_A = 2. B and C keep rho = 1/2, 1/4."""
    df = pd.DataFrame({"x": [1.0, 2.0, 4.0], "y": [1.0, 1.0, 1.0]}, index=list("ABC"))
    r = sbm_efficiency(df, "x", "y", super_efficiency=True)
    np.testing.assert_allclose(r["sbm"], [1.0, 0.5, 0.25], atol=1e-12)
    assert r["super_sbm"].iloc[0] == pytest.approx(2.0, abs=1e-12)
    assert r["super_sbm"].iloc[1:].isna().all()
    np.testing.assert_allclose(r["score"], [2.0, 0.5, 0.25], atol=1e-12)


# --------------------------------------------------------------------------- independent LPs
@pytest.mark.parametrize("rts", ["crs", "vrs"])
@pytest.mark.parametrize("orientation", ["input", "output"])
@pytest.mark.parametrize("frontier", ["contemporaneous", "sequential"])
def test_radial_equals_linprog(panel, engine, rts, orientation, frontier):
    X, Y = panel[["x1", "x2"]].to_numpy(), panel[["y1", "y2"]].to_numpy()
    r = radial_efficiency(
        panel,
        ["x1", "x2"],
        ["y1", "y2"],
        rts=rts,
        orientation=orientation,
        frontier=frontier,
        unit="unit",
        period="year",
    )
    pos, sets = ref_sets(panel["year"].to_numpy(), frontier)
    ref = np.array(
        [
            ref_radial(X, Y, o, np.flatnonzero(sets[pos[o]]), rts == "vrs", orientation)[0]
            for o in range(len(panel))
        ]
    )
    np.testing.assert_allclose(r["theta"], ref, atol=TOL, rtol=0)
    assert (r["status"] == "optimal").all()


@pytest.mark.parametrize(
    ("rts", "orientation", "bad"),
    [
        ("crs", "non", True),
        ("vrs", "non", True),
        ("crs", "input", False),
        ("vrs", "output", True),
        ("vrs", "non", False),
        ("vrs", "input", True),
    ],
)
def test_sbm_and_super_sbm_equal_linprog(panel, engine, rts, orientation, bad):
    bads = ["b1"] if bad else []
    X, Yg = panel[["x1", "x2", "x3"]].to_numpy(), panel[["y1", "y2"]].to_numpy()
    Yb = panel[bads].to_numpy() if bad else np.zeros((len(panel), 0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DEADataWarning)
        r = sbm_efficiency(
            panel,
            ["x1", "x2", "x3"],
            ["y1", "y2"],
            bads,
            rts=rts,
            orientation=orientation,
            super_efficiency=True,
            frontier="global",
            unit="unit",
            period="year",
        )
    R = np.arange(len(panel))
    ref = np.array([ref_sbm(X, Yg, Yb, o, R, rts == "vrs", orientation)[0] for o in R])
    np.testing.assert_allclose(r["sbm"], ref, atol=TOL, rtol=0)
    eff = np.flatnonzero(ref >= 1 - 1e-6)
    assert eff.size >= 2
    for o in eff:
        val, st = ref_super_sbm(X, Yg, Yb, o, R, rts == "vrs", orientation)
        if st == 2:
            assert r["status"].iloc[o] == "super_infeasible" and np.isnan(r["score"].iloc[o])
        else:
            assert r["super_sbm"].iloc[o] == pytest.approx(val, abs=TOL)
            assert r["super_sbm"].iloc[o] >= 1 - 1e-9


@pytest.mark.parametrize("frontier", ["contemporaneous", "sequential", "window", "global"])
@pytest.mark.parametrize("rts", ["crs", "vrs"])
def test_nddf_equals_linprog_random(panel, engine, frontier, rts):
    """NDDF value per DMU equals the beta-form LP, and the reported betas are an optimal
    solution (the LP with beta fixed at them is feasible and reaches the same value)."""
    cols = (["x1", "x2", "x3"], ["y1"], ["b1"])
    X, Yg, Yb = (panel[c].to_numpy() for c in cols)
    w = np.array([0.1, 0.2, 0.1, 0.3, 0.3])
    r = nddf_performance(
        panel, *cols, weights=w, rts=rts, frontier=frontier, window=2, unit="unit", period="year"
    )
    pos, sets = ref_sets(panel["year"].to_numpy(), frontier, window=2)
    betas = r[["beta_x1", "beta_x2", "beta_x3", "beta_y1", "beta_b1"]].to_numpy()
    for o in range(len(panel)):
        R = np.flatnonzero(sets[pos[o]])
        val, _ = ref_nddf(X, Yg, Yb, o, R, rts == "vrs", w)
        assert r["nddf"].iloc[o] == pytest.approx(val, abs=TOL)
        fixed, st = ref_nddf(X, Yg, Yb, o, R, rts == "vrs", w, beta_fixed=betas[o])
        assert st == 0 and fixed == pytest.approx(val, abs=1e-7)
    np.testing.assert_allclose(r["tfcpi"], (1 - betas[:, 4]) / (1 + betas[:, 3]), atol=1e-15)


@pytest.mark.parametrize("frontier", ["contemporaneous", "sequential", "window", "global"])
def test_nddf_simulated_cities_equal_linprog(city, frontier):
    """Simulated city panel (297 cities x 16 years, capital, labour, energy -> GDP, CO2), seed
    000's weights: the NDDF values of 40 random city-years equal the independent LP (reference
    sets of up to 4,752 DMUs, so the package uses column generation here)."""
    cols = (["capital", "labour", "energy"], ["gdp"], ["co2"])
    r = nddf_performance(city, *cols, frontier=frontier, window=3, energy="energy")
    assert (r["status"] == "optimal").all()
    df = city.df
    X, Yg, Yb = (df[c].to_numpy() for c in cols)
    pos, sets = ref_sets(df["year"].to_numpy(), frontier, window=3)
    w = [1 / 9, 1 / 9, 1 / 9, 1 / 3, 1 / 3]
    for o in np.random.default_rng(7).choice(len(df), 40, replace=False):
        val, _ = ref_nddf(X, Yg, Yb, o, np.flatnonzero(sets[pos[o]]), False, w)
        assert r["nddf"].iloc[o] == pytest.approx(val, abs=TOL)
    assert ((r["tfcpi"] > 0) & (r["tfcpi"] <= 1 + 1e-12)).all()
    assert (r["ecpi"] <= 1 + 1e-12).all()
    if frontier == "global":
        assert r["tfcpi"].max() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("direction", ["output", "full"])
def test_ddf_equals_linprog(panel, engine, direction):
    cols = (["x1", "x2"], ["y1", "y2"], ["b1"])
    X, Yg, Yb = (panel[c].to_numpy() for c in cols)
    r = ddf_efficiency(
        panel,
        *cols,
        direction=direction,
        rts="vrs",
        frontier="sequential",
        unit="unit",
        period="year",
    )
    pos, sets = ref_sets(panel["year"].to_numpy(), "sequential")
    for o in range(len(panel)):
        val, _ = ref_ddf(
            X, Yg, Yb, (X[o], Yg[o], Yb[o]), np.flatnonzero(sets[pos[o]]), True, direction == "full"
        )
        assert r["ddf"].iloc[o] == pytest.approx(val, abs=TOL)


def test_frontier_definitions_are_consistent(panel):
    """window = 1 is contemporaneous, window >= T is sequential, sequential in the last period
    is global."""
    args = (panel, ["x1", "x2", "x3"], ["y1"], ["b1"])
    kw = dict(unit="unit", period="year")
    con = nddf_performance(*args, frontier="contemporaneous", **kw)
    seq = nddf_performance(*args, frontier="sequential", **kw)
    glo = nddf_performance(*args, frontier="global", **kw)
    np.testing.assert_allclose(
        nddf_performance(*args, frontier="window", window=1, **kw)["nddf"], con["nddf"], atol=1e-10
    )
    np.testing.assert_allclose(
        nddf_performance(*args, frontier="window", window=3, **kw)["nddf"], seq["nddf"], atol=1e-10
    )
    last = panel["year"] == panel["year"].max()
    np.testing.assert_allclose(seq.loc[last, "nddf"], glo.loc[last, "nddf"], atol=1e-10)
    assert (seq["nddf"] >= con["nddf"] - 1e-10).all() and (glo["nddf"] >= seq["nddf"] - 1e-10).all()


def test_column_generation_equals_full_model(city, monkeypatch):
    """Column generation and the model with all 4,752 lambda columns give the same values."""
    sub = city.subset((city.df["year"] >= 2016).to_numpy())
    cols = (["capital", "labour", "energy"], ["gdp"], ["co2"])
    cg = sbm_efficiency(sub, *cols, frontier="global", super_efficiency=True)
    cg_nddf = nddf_performance(sub, *cols, frontier="global", rts="vrs")
    monkeypatch.setattr(dea_mod, "COLGEN_MIN_COLUMNS", 10**9)
    full = sbm_efficiency(sub, *cols, frontier="global", super_efficiency=True)
    full_nddf = nddf_performance(sub, *cols, frontier="global", rts="vrs")
    np.testing.assert_allclose(cg["score"], full["score"], atol=1e-9)
    np.testing.assert_allclose(cg_nddf["nddf"], full_nddf["nddf"], atol=1e-9)


# --------------------------------------------------------------------------- Malmquist-Luenberger
def test_malmquist_luenberger_decomposition_and_hand_formula(panel):
    cols = (["x1", "x2"], ["y1"], ["b1"])
    X, Yg, Yb = (panel[c].to_numpy() for c in cols)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        ml = malmquist_luenberger(panel, *cols, unit="unit", period="year")
    assert len(ml) == 24 * 2
    ok = ml["status"] == "optimal"
    assert ok.sum() >= 30
    m = ml[ok]
    # ML = EC x TC exactly, and the hand formula from the four reported DDF values
    np.testing.assert_allclose(m["ml"], m["ec"] * m["tc"], rtol=1e-12, atol=0)
    a, b, c, e = (1 + m[k] for k in ("d_t_t", "d_t_t1", "d_t1_t", "d_t1_t1"))
    np.testing.assert_allclose(m["ml"], np.sqrt(a / b * c / e), rtol=1e-12, atol=0)
    np.testing.assert_allclose(m["ec"], a / e, rtol=1e-12, atol=0)
    # the four DDFs equal the independent LP (contemporaneous technologies)
    year = panel["year"].to_numpy()
    idx = {(u, y): i for i, (u, y) in enumerate(zip(panel["unit"], year, strict=True))}
    for _, row in ml.iterrows():
        i0, i1 = idx[(row["unit"], row["year_base"])], idx[(row["unit"], row["year"])]
        R0, R1 = np.flatnonzero(year == row["year_base"]), np.flatnonzero(year == row["year"])
        obs = lambda i: (X[i], Yg[i], Yb[i])  # noqa: E731
        vals = [
            ref_ddf(X, Yg, Yb, obs(i), R, False, False)
            for i, R in ((i0, R0), (i1, R0), (i0, R1), (i1, R1))
        ]
        feasible = all(st == 0 for _, st in vals)
        assert feasible == (row["status"] == "optimal"), row["status"]
        if feasible:
            got = row[["d_t_t", "d_t_t1", "d_t1_t", "d_t1_t1"]].to_numpy(float)
            np.testing.assert_allclose(got, [v for v, _ in vals], atol=TOL, rtol=0)
        else:
            assert np.isnan(row["ml"]) and "infeasible" in row["status"]


def test_global_malmquist_luenberger(panel):
    cols = (["x1", "x2"], ["y1"], ["b1"])
    g = global_malmquist_luenberger(panel, *cols, unit="unit", period="year", rts="vrs")
    assert (g["status"] == "optimal").all()
    np.testing.assert_allclose(g["gml"], g["ec"] * g["bpc"], rtol=1e-12, atol=0)
    np.testing.assert_allclose(g["gml"], (1 + g["d_g_t"]) / (1 + g["d_g_t1"]), rtol=1e-12, atol=0)
    glob = ddf_efficiency(panel, *cols, rts="vrs", frontier="global", unit="unit", period="year")
    con = ddf_efficiency(
        panel, *cols, rts="vrs", frontier="contemporaneous", unit="unit", period="year"
    )
    key = lambda f: dict(zip(zip(f["unit"], f["year"], strict=True), f["ddf"], strict=True))  # noqa: E731
    kg, kc = key(glob), key(con)
    for _, row in g.iterrows():
        assert row["d_g_t"] == pytest.approx(kg[(row["unit"], row["year_base"])], abs=1e-12)
        assert row["d_g_t1"] == pytest.approx(kg[(row["unit"], row["year"])], abs=1e-12)
        assert row["d_t1_t1"] == pytest.approx(kc[(row["unit"], row["year"])], abs=1e-12)
    # product of adjacent GML indices = the direct comparison of first and last period (circular)
    u = g[g["unit"] == "u03"].sort_values("year")
    first = kg[("u03", 2000)]
    last = kg[("u03", 2002)]
    assert u["gml"].prod() == pytest.approx((1 + first) / (1 + last), rel=1e-12)


# --------------------------------------------------------------------------- problems reported
def test_infeasible_super_sbm_vrs_named():
    """Input-oriented super-SBM under VRS (Tone 2002) on Tone's (2001) example: excluding C,
    y1 >= 6 forces lambda_D = 1 (only D has y1 = 6), then y2 = 1 < 2; excluding E, nobody has
    y2 >= 4. Both LPs are infeasible: reported by name, not crashed on."""
    df = pd.read_csv(DATA / "dea_tone2001.csv")
    with pytest.warns(DEADataWarning, match=r"dmu 'C' \(infeasible\); dmu 'E' \(infeasible\)"):
        r = sbm_efficiency(
            df,
            ["x1", "x2"],
            ["y1", "y2"],
            unit="dmu",
            rts="vrs",
            orientation="input",
            super_efficiency=True,
        )
    assert list(r.loc[r["status"] == "super_infeasible", "dmu"]) == ["C", "E"]
    assert r.loc[r["dmu"].isin(["C", "E"]), "score"].isna().all()
    assert r.loc[r["dmu"] == "B", "status"].item() == "optimal"


def test_zero_negative_and_missing_data_reported(panel):
    bad = panel.copy()
    bad.loc[0, "x1"] = 0.0
    bad.loc[5, "b1"] = -3.0
    bad.loc[7, "y1"] = np.nan
    cols = (["x1", "x2", "x3"], ["y1"], ["b1"])
    with pytest.warns(DEADataWarning) as rec:
        r = nddf_performance(bad, *cols, unit="unit", period="year", frontier="global")
    msg = str(rec[0].message)
    for i, what in ((0, "x1=0.0"), (5, "b1=-3.0"), (7, "y1=missing")):
        assert f"unit '{bad.loc[i, 'unit']}' in year {bad.loc[i, 'year']} ({what})" in msg
    assert list(np.flatnonzero(r["status"] == "invalid_data")) == [0, 5, 7]
    assert r.loc[[0, 5, 7], "nddf"].isna().all()
    clean = nddf_performance(
        panel.drop(index=[0, 5, 7]), *cols, unit="unit", period="year", frontier="global"
    )
    np.testing.assert_allclose(r.drop(index=[0, 5, 7])["nddf"], clean["nddf"], atol=1e-10)
    with pytest.raises(EstimationError, match="unit 'u00' in year 2000"):
        nddf_performance(bad, *cols, unit="unit", period="year", on_invalid="raise")


def test_bad_arguments_raise_clearly(panel):
    with pytest.raises(cm.PanelError, match="did you mean 'x1'"):
        ccr(panel, ["x_1"], ["y1"])
    with pytest.raises(ValueError, match="frontier must be one of"):
        nddf_performance(panel, "x1", "y1", "b1", frontier="rolling")
    with pytest.raises(ValueError, match="weights need 3 values"):
        nddf_performance(panel, "x1", "y1", "b1", weights=[1, 1])
    with pytest.raises(cm.PanelError, match="occurs 3 times"):
        bcc(panel, "x1", "y1", unit="unit")  # no period: units repeat
    with pytest.raises(EstimationError, match="needs a period column"):
        malmquist_luenberger(panel[panel["year"] == 2000], "x1", "y1", "b1", unit="unit")


def test_panel_input_and_key_columns(city):
    """A Panel supplies unit and period; results keep the caller's row order and keys."""
    sub = city.subset(city.df["city"].isin(city.df["city"].unique()[:20]).to_numpy())
    r = nddf_performance(sub, ["capital", "labour", "energy"], "gdp", "co2")
    assert list(r.columns[:2]) == ["city", "year"]
    assert r[["city", "year"]].equals(sub.df[["city", "year"]].reset_index(drop=True))
    with pytest.warns(DEADataWarning, match=r"infeasible: D\^t\(t\+1\)"):  # t+1 above T^t
        ml = malmquist_luenberger(
            sub, ["capital", "labour", "energy"], "gdp", "co2", frontier="sequential"
        )
    assert {"city", "year_base", "year", "ml", "ec", "tc", "status"} <= set(ml.columns)
    assert len(ml) == 20 * 15

"""Reference fixture for climetrics.honest_did from an independent HonestDiD implementation.

moderndid (PyPI, MIT; its ``didhonest`` subpackage ports the R package HonestDiD of Rambachan &
Roth) computes the robust intervals; pyfixest and moderndid's own Callaway-Sant'Anna estimate the
event-study coefficients, so no number in the fixture comes from climetrics. moderndid is *not*
a climetrics dependency; run this script in a throw-away environment from the repository root:

    python3.11 -m venv /tmp/hdref && /tmp/hdref/bin/pip install "moderndid[didhonest]==0.2.0" pyfixest
    /tmp/hdref/bin/python tools/reference/honest_did_moderndid.py

Writes ``tests/data/reference/honest_did.json``.

Inputs (two public panels in tests/data, and one made-up single post-period case):

* ``ehec``: the Medicaid-expansion example of HonestDiD's README -- states expanding in 2014
  against never-expanding states, 2008-2015, ``dins ~ i(year, D, ref=2013) | stfips + year``
  with standard errors clustered by state (5 pre-periods, 2 post-periods);
* ``mpdta``: Callaway-Sant'Anna ATT(g,t) of log teen employment with a universal base period,
  aggregated by event time (3 pre-periods, 4 post-periods); covariance ``IF' IF / n^2``;
* ``one_post``: made-up coefficients with one post-period, where the ARP test has no nuisance
  parameter (moderndid's ``compute_arp_ci``; relative magnitudes only: its no-nuisance
  smoothness test compares the normalised moment net of ``d`` with a critical value for the
  moment including it, unlike R's ``.test_in_identified_set``).

Smoothness (``Delta^SD``) intervals come from ``create_sensitivity_results_sm``. For relative
magnitudes (``Delta^RM``) moderndid 0.2.0 loops over ``s`` in ``-(T_pre-1)..-1`` with a
constraint matrix whose ``s`` points one period later than R HonestDiD's ``.create_A_RM``
(R loops over ``s`` in ``-(T_pre-1)..0``), so the location of the earliest pre-period
difference is never considered. The script therefore builds the ``Delta^RM_{s,sign}``
polyhedra as R does (checking that they equal moderndid's for the locations moderndid covers)
and runs moderndid's ARP engine (``compute_arp_nuisance_ci``) on each, on a common grid,
taking the union of accepted points as HonestDiD does.
"""

from __future__ import annotations

import json
import platform
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "reference" / "honest_did.json"
GRID_POINTS = 1000
ALPHA = 0.05


def ehec_inputs() -> dict:
    import pyfixest as pf

    df = pd.read_csv(ROOT / "tests" / "data" / "ehec.csv")
    df = df[(df["year"] < 2016) & (df["yexp2"].isna() | (df["yexp2"] != 2015))].copy()
    df["D"] = (df["yexp2"] == 2014).astype(int)
    fit = pf.feols("dins ~ i(year, D, ref=2013) | stfips + year", data=df, vcov={"CRV1": "stfips"})
    names = list(fit.coef().index)
    years = [int(n.split("::")[1].split(":")[0]) for n in names]
    order = np.argsort(years)
    beta = fit.coef().to_numpy()[order]
    sigma = np.asarray(fit._vcov)[np.ix_(order, order)]
    return {"beta": beta, "sigma": sigma, "event_times": [y - 2014 for y in np.sort(years)],
            "n_pre": 5, "n_post": 2}


def mpdta_inputs() -> dict:
    from moderndid import aggte, att_gt

    df = pd.read_csv(ROOT / "tests" / "data" / "mpdta.csv")
    gt = att_gt(data=df, yname="lemp", tname="year", gname="first.treat", idname="countyreal",
                est_method="dr", base_period="universal", boot=False)
    es = aggte(gt, type="dynamic")
    e = np.asarray(es.event_times)
    keep = e != -1
    psi = np.asarray(es.influence_func)[:, keep]
    n = psi.shape[0]
    return {"beta": np.asarray(es.att_by_event)[keep], "sigma": psi.T @ psi / n**2,
            "event_times": e[keep].astype(int).tolist(), "n_pre": int((e < -1).sum()),
            "n_post": int((e >= 0).sum())}


def one_post_inputs() -> dict:
    """A single post-period (no nuisance parameter: moderndid's ``compute_arp_ci``): made-up
    coefficients with equicorrelated errors, pre-trends of either sign."""
    beta = np.array([0.02, -0.01, 0.01, 0.3])
    sigma = 0.01**2 * (0.2 + 0.8 * np.eye(4))
    return {"beta": beta, "sigma": sigma, "event_times": [-4, -3, -2, 0], "n_pre": 3, "n_post": 1}


def rm_matrix_r(n_pre: int, n_post: int, mbar: float, s: int, positive: bool) -> np.ndarray:
    """R HonestDiD's ``.create_A_RM`` (s in -(n_pre-1)..0; 1-based columns n_pre+s, n_pre+1+s)."""
    n = n_pre + n_post
    a_tilde = np.zeros((n, n + 1))
    for r in range(n):
        a_tilde[r, r:r + 2] = [-1, 1]
    v = np.zeros(n + 1)
    v[n_pre + s - 1:n_pre + s + 1] = [-1, 1]
    if not positive:
        v = -v
    ub = np.vstack([np.tile(v, (n_pre, 1)), np.tile(mbar * v, (n_post, 1))])
    a = np.vstack([a_tilde - ub, -a_tilde - ub])
    a = a[(a**2).sum(1) > 1e-10]
    return np.delete(a, n_pre, axis=1)


def rm_interval(inp: dict, l_vec: np.ndarray, mbar: float, method: str) -> dict:
    from moderndid.didhonest.arp_no_nuisance import compute_arp_ci
    from moderndid.didhonest.arp_nuisance import compute_arp_nuisance_ci
    from moderndid.didhonest.delta.rm.rm import _create_relative_magnitudes_constraint_matrix

    beta, sigma, n_pre, n_post = inp["beta"], inp["sigma"], inp["n_pre"], inp["n_post"]
    sd = float(np.sqrt(l_vec @ sigma[n_pre:, n_pre:] @ l_vec))
    theta = float(l_vec @ beta[n_pre:])
    maxpre = float(np.max(np.abs(np.diff(np.r_[beta[:n_pre], 0.0]))))
    half = mbar * float(np.arange(1, n_post + 1) @ np.abs(l_vec)) * maxpre + 20 * sd
    lo, hi = theta - half, theta + half
    accept = np.zeros(GRID_POINTS, bool)
    for s in range(-(n_pre - 1), 1):
        for positive in (True, False):
            a = rm_matrix_r(n_pre, n_post, mbar, s, positive)
            if s <= 0 and s - 1 >= -(n_pre - 1):  # moderndid's s - 1 is R's s
                ours = _create_relative_magnitudes_constraint_matrix(n_pre, n_post, mbar, s - 1, positive)
                assert np.array_equal(ours, a), (s, positive)
            if n_post == 1:  # all moments, as R's .APR_computeCI_NoNuis
                res = compute_arp_ci(
                    beta_hat=beta, sigma=sigma, A=a, d=np.zeros(a.shape[0]), n_pre_periods=n_pre,
                    n_post_periods=1, alpha=ALPHA, grid_lb=lo, grid_ub=hi, grid_points=GRID_POINTS,
                    hybrid_flag="ARP",
                )
                accept |= np.asarray(res.accept_grid, bool)
                continue
            rows = np.flatnonzero(np.abs(a[:, n_pre:]).sum(1) > 0)
            res = compute_arp_nuisance_ci(
                betahat=beta, sigma=sigma, l_vec=l_vec, a_matrix=a, d_vec=np.zeros(a.shape[0]),
                num_pre_periods=n_pre, num_post_periods=n_post, alpha=ALPHA,
                hybrid_flag="LF" if method == "C-LF" else "ARP",
                hybrid_list={"hybrid_kappa": ALPHA / 10}, grid_lb=lo, grid_ub=hi,
                grid_points=GRID_POINTS, rows_for_arp=rows,
            )
            accept |= res.accept_grid[:, 1] > 0
    grid = np.linspace(lo, hi, GRID_POINTS)
    idx = np.flatnonzero(accept)
    return {"ci_low": float(grid[idx[0]]) if len(idx) else None,
            "ci_high": float(grid[idx[-1]]) if len(idx) else None,
            "grid_step": float(grid[1] - grid[0])}


def sd_intervals(inp: dict, l_vec: np.ndarray, m_vec: list[float], method: str) -> list[dict]:
    """Smoothness intervals; the conditional ones on an explicit grid of GRID_POINTS values:
    the linear extrapolation from beta_-1 +- (max M * sum_t |l_t| t(t+1)/2 + 20 SE)."""
    from moderndid.didhonest import create_sensitivity_results_sm

    beta, sigma, n_pre, n_post = inp["beta"], inp["sigma"], inp["n_pre"], inp["n_post"]
    grid = {}
    step = None
    if method != "FLCI":
        t = np.arange(1, n_post + 1)
        sd = float(np.sqrt(l_vec @ sigma[n_pre:, n_pre:] @ l_vec))
        center = float(l_vec @ beta[n_pre:]) + float(beta[n_pre - 1]) * float(t @ l_vec)
        half = max(m_vec) * float(np.abs(l_vec) @ (t * (t + 1) / 2)) + 20 * sd
        grid = {"grid_lb": center - half, "grid_ub": center + half}
        step = 2 * half / (GRID_POINTS - 1)
    res = create_sensitivity_results_sm(
        betahat=beta, sigma=sigma, num_pre_periods=n_pre, num_post_periods=n_post, method=method,
        m_vec=m_vec, l_vec=l_vec, alpha=ALPHA, grid_points=GRID_POINTS, **grid,
    )
    return [{"m": float(m), "ci_low": float(lo), "ci_high": float(hi), "grid_step": step}
            for m, lo, hi in zip(res["m"], res["lb"], res["ub"], strict=True)]


#: (restriction, method, target, values) of each reference case; C-LF and the conditional
#: smoothness intervals are slow in the reference (an LP per simulation draw and grid point),
#: so they are run on fewer values.
CASES = [
    ("smoothness", "FLCI", "first", None),
    ("smoothness", "FLCI", "average", None),
    ("smoothness", "Conditional", "first", "sd_short"),
    ("relative_magnitudes", "Conditional", "first", [0.0, 0.5, 1.0, 2.0]),
    ("relative_magnitudes", "Conditional", "average", [0.0, 1.0]),
    ("relative_magnitudes", "C-LF", "first", [0.5, 1.5]),
]


def cases(inp: dict, sd_m: list[float]) -> list[dict]:
    n_post = inp["n_post"]
    if n_post == 1:  # relative magnitudes, conditional (no simulation) only
        rows = [{"m": mb, **rm_interval(inp, np.ones(1), mb, "Conditional")} for mb in (0.0, 1.0, 2.0)]
        return [{"restriction": "relative_magnitudes", "method": "Conditional", "target": "first",
                 "rows": rows}]
    targets = {"first": np.eye(n_post)[0], "average": np.full(n_post, 1.0 / n_post)}
    out = []
    for restriction, method, target, values in CASES:
        l_vec = targets[target]
        if restriction == "smoothness":
            ms = sd_m if values is None else sd_m[:3]
            rows = sd_intervals(inp, l_vec, ms, method)
        else:
            rows = [{"m": mb, **rm_interval(inp, l_vec, mb, method)} for mb in values]
        out.append({"restriction": restriction, "method": method, "target": target, "rows": rows})
        print(restriction, method, target, "done", flush=True)
    return out


def clean(x):
    if isinstance(x, dict):
        return {k: clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, np.ndarray)):
        return [clean(v) for v in list(x)]
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x)
    return x


def main() -> None:
    import sys

    parts = {"ehec": (ehec_inputs, [0.0, 0.005, 0.01, 0.02, 0.04]),
             "mpdta": (mpdta_inputs, [0.0, 0.01, 0.02, 0.05]),
             "one_post": (one_post_inputs, [])}
    names = sys.argv[1:] or list(parts)
    out = json.loads(OUT.read_text()) if OUT.exists() else {"inputs": {}, "cases": {}}
    out.update({
        "source": "moderndid.didhonest (port of R HonestDiD); inputs from pyfixest (ehec) and "
                  "moderndid att_gt/aggte (mpdta); see tools/reference/honest_did_moderndid.py",
        "versions": {p: version(p) for p in ("moderndid", "pyfixest", "numpy", "scipy")}
        | {"python": platform.python_version()},
        "alpha": ALPHA,
        "grid_points": GRID_POINTS,
    })
    for name in names:  # one data set per call can run in parallel processes (then merged)
        make, sd_m = parts[name]
        inp = make()
        out["inputs"][name] = {k: clean(v) for k, v in inp.items()}
        out["cases"][name] = clean(cases(inp, sd_m))
        print(name, "done", flush=True)
    current = json.loads(OUT.read_text()) if OUT.exists() else {"inputs": {}, "cases": {}}
    for key in ("inputs", "cases"):
        current[key].update(out[key])
        out[key] = current[key]
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()

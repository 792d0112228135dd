"""Benchmark: TWFE and an event study on a 1,000,000-row firm panel with three fixed effects.

Design: 100,000 firms x 10 years (2010-2019), 60 industries; staggered adoption (40% of firms,
2013-2018); outcome with firm, year and industry-year effects; two controls. Written to a
parquet file, then -- in a fresh process per engine, so peak memory is that engine's alone --
read with ``Panel.from_file(..., columns=...)`` (only the columns the models use are decoded
from the parquet file) and fitted:

* ``twfe(..., fe=[firm, year, industry-year])`` clustered by firm;
* ``event_study(..., window=(-4, 4))`` with the same fixed effects (8 event-time dummies).

climetrics' large-panel path (``engine="within"``: one within transformation, no dummies) is
compared with the pyfixest path (``engine="pyfixest"``, which also demeans once more for the
collinearity check). Reported: seconds for each fit, the process's peak resident memory
(:func:`peak_rss_mib`) and the largest coefficient difference.

Run: ``.venv/bin/python bench/bench_large_panel.py`` (``run()`` returns the numbers).
"""

from __future__ import annotations

import multiprocessing
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

N_FIRMS, N_YEARS, N_INDUSTRIES, SEED = 100_000, 10, 60, 8
COLUMNS = ["firm", "year", "ind_year", "did", "x1", "x2", "y"]
FE = ["firm", "year", "ind_year"]


def write_panel(path: Path) -> int:
    """Simulate the panel and write it to ``path`` (parquet); return the number of rows."""
    import pandas as pd

    rng = np.random.default_rng(SEED)
    firm = np.repeat(np.arange(N_FIRMS), N_YEARS)
    year = np.tile(np.arange(2010, 2010 + N_YEARS), N_FIRMS)
    industry = rng.integers(0, N_INDUSTRIES, N_FIRMS)[firm]
    adopt = np.where(rng.random(N_FIRMS) < 0.4, rng.integers(2013, 2019, N_FIRMS), 0)[firm]
    did = ((adopt > 0) & (year >= adopt)).astype(float)
    x1, x2 = rng.normal(size=(2, firm.size))
    ind_year = rng.normal(size=(N_INDUSTRIES, N_YEARS))[industry, year - 2010]
    y = (
        0.1 * did
        + 0.5 * x1
        - 0.2 * x2
        + rng.normal(size=N_FIRMS)[firm]
        + rng.normal(size=N_YEARS)[year - 2010]
        + 0.3 * ind_year
        + rng.normal(size=firm.size)
    )
    df = pd.DataFrame(
        {
            "firm": firm,
            "year": year,
            "industry": industry,
            "did": did,
            "x1": x1,
            "x2": x2,
            "y": y,
            "extra": rng.normal(size=firm.size),
        }
    )
    df["ind_year"] = df["industry"] * 10_000 + df["year"]
    df.to_parquet(path, index=False)
    return len(df)


def fit(path: str, engine: str) -> dict:
    """In a fresh process: read the columns needed, fit TWFE and the event study."""
    import climetrics as cm

    t0 = time.perf_counter()
    panel = cm.Panel.from_file(path, "firm", "year", columns=COLUMNS)
    t_read = time.perf_counter() - t0
    t0 = time.perf_counter()
    tw = cm.twfe(panel, "y", "did", ["x1", "x2"], fe=FE, engine=engine)
    t_twfe = time.perf_counter() - t0
    t0 = time.perf_counter()
    ev = cm.event_study(
        panel, "y", treat="did", controls=["x1", "x2"], window=(-4, 4), fe=FE, engine=engine
    )
    t_event = time.perf_counter() - t0
    return {
        "read_seconds": t_read,
        "twfe_seconds": t_twfe,
        "event_seconds": t_event,
        "peak_rss_mib": peak_rss_mib(),
        "twfe_coefs": tw.coefs["estimate"].to_numpy(),
        "event_coefs": ev.coefs["estimate"].to_numpy(),
        "n_obs": tw.n_obs,
        "engine": tw.meta["engine"],
    }


def peak_rss_mib() -> float:
    """Peak resident memory of this process in MiB: ``VmHWM`` of /proc/self/status where it
    exists (Linux), else ``getrusage(RUSAGE_SELF).ru_maxrss``. ``ru_maxrss`` survives fork and
    exec on Linux, so in a child of a large process it would report the parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_fresh_process(path: str, engine: str) -> dict:
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        return pool.submit(fit, path, engine).result()


def run() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "firms.parquet"
        n = write_panel(path)
        ours = in_fresh_process(str(path), "within")
        ref = in_fresh_process(str(path), "pyfixest")
    diff = max(
        float(np.abs(ours["twfe_coefs"] - ref["twfe_coefs"]).max()),
        float(np.abs(ours["event_coefs"] - ref["event_coefs"]).max()),
    )
    t_ours = ours["twfe_seconds"] + ours["event_seconds"]
    t_ref = ref["twfe_seconds"] + ref["event_seconds"]
    return {
        "name": f"large panel: TWFE + event study, {n:,} rows, firm + year + industry-year FE "
        "(engine='within' vs the pyfixest path)",
        "ours_seconds": t_ours,
        "reference_seconds": t_ref,
        "ratio": t_ref / t_ours,
        "rows": n,
        "within": {k: v for k, v in ours.items() if not k.endswith("_coefs")},
        "pyfixest": {k: v for k, v in ref.items() if not k.endswith("_coefs")},
        "max_abs_coef_diff": diff,
    }


def main() -> None:
    r = run()
    print(r["name"])
    for engine in ("within", "pyfixest"):
        e = r[engine]
        print(
            f"  {engine:9s}: read parquet + Panel {e['read_seconds']:6.2f} s | twfe "
            f"{e['twfe_seconds']:6.2f} s | event study {e['event_seconds']:6.2f} s | peak RSS "
            f"{e['peak_rss_mib']:7.0f} MiB"
        )
    print(
        f"  ratio (pyfixest path / within path, twfe + event study): {r['ratio']:.2f}x; "
        f"max |coefficient difference| {r['max_abs_coef_diff']:.1e}"
    )


if __name__ == "__main__":
    main()

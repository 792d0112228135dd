"""Benchmark: the replicate engine's backends on one replicate-heavy job.

Design: mediation analysis on the ``cm.simulate(seed=1)`` city panel (297 cities x 16 years,
four controls, city + year FE) with B = 10,000 cluster-bootstrap draws -- about ten seconds of
kernel work. The same call runs on the serial backend, on two local worker processes
(``backend="processes"``) and on a Dask ``LocalCluster`` of two workers started by the call
(``backend="dask"``), in chunks of ``CHUNK`` draws; the draws are checked to be identical.
Parallel times include starting the workers (each imports climetrics) and sending them the
data once, so on a 2-core machine the gain is bounded by 2x minus that start-up.

Run: ``.venv/bin/python bench/bench_engine.py`` (``run()`` returns the numbers).
"""

from __future__ import annotations

import logging
import os
import time

import numpy as np

import climetrics as cm
from climetrics.estimate.mediation import mediation

N_BOOT, CHUNK, N_WORKERS = 10_000, 250, 2
X = ["lnpgdp", "gov", "str", "lnpden"]


def run() -> dict:
    import distributed  # noqa: F401  (configures its loggers; quieten them afterwards)

    logging.getLogger("distributed").setLevel(logging.WARNING)  # a dependency logs at INFO to root
    panel = cm.simulate(seed=1).panel

    def boot(**kw):
        t0 = time.perf_counter()
        res = mediation(
            panel, "lnci", "did", "green_innov", X, n_boot=N_BOOT, seed=4, chunk_size=CHUNK, **kw
        )
        return time.perf_counter() - t0, res["green_innov"].boot.to_numpy()

    t_serial, serial = boot(backend="serial")
    t_proc, proc = boot(backend="processes", n_workers=N_WORKERS)
    t_dask, dask = boot(backend="dask", n_workers=N_WORKERS)
    np.testing.assert_array_equal(proc, serial)
    np.testing.assert_array_equal(dask, serial)
    return {
        "name": f"engine: mediation bootstrap, {N_BOOT:,} draws (297x16), {N_WORKERS} worker "
        "processes vs serial",
        "ours_seconds": t_proc,
        "reference_seconds": t_serial,
        "ratio": t_serial / t_proc,
        "dask_local_cluster_seconds": t_dask,
        "reference_note": f"serial backend; draws identical on all backends; {os.cpu_count()} CPUs",
    }


def main() -> None:
    r = run()
    print(r["name"])
    print(f"  serial:    {r['reference_seconds']:7.2f} s")
    print(f"  processes: {r['ours_seconds']:7.2f} s (identical draws)")
    print(
        f"  dask:      {r['dask_local_cluster_seconds']:7.2f} s (LocalCluster started by the call)"
    )
    print(f"  speed-up:  {r['ratio']:.2f}x")


if __name__ == "__main__":
    main()

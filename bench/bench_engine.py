"""Benchmark: the replicate engine's backends on one replicate-heavy job.

Design: mediation analysis on the ``cm.simulate(seed=1)`` city panel (297 cities x 16 years,
four controls, city + year FE) with B = 10,000 cluster-bootstrap draws -- several seconds of
kernel work -- in chunks of ``CHUNK`` draws, on

* the serial backend (the reference);
* a running Dask cluster of two worker processes on loopback (``scheduler=...``, as with
  ``climetrics run --scheduler tcp://...``); the cluster is started before timing;
* two local worker processes started by the call (``backend="processes"``), whose time
  includes spawning the workers (each imports numpy, pandas, scipy and climetrics).

The draws are checked to be identical on all three. On a 2-core machine the gain is bounded by
2x, and by 1x where the two CPUs deliver one core's throughput (bench/run_all.py measures this
as ``parallel_throughput``).

Run: ``.venv/bin/python bench/bench_engine.py`` (``run()`` returns the numbers).
"""

from __future__ import annotations

import logging
import os
import time

import numpy as np

import climetrics as cm
from climetrics.estimate.mechanisms.mediation import mediation

N_BOOT, CHUNK, N_WORKERS = 10_000, 250, 2
X = ["lnpgdp", "gov", "str", "lnpden"]


def run() -> dict:
    from distributed import LocalCluster

    logging.getLogger("distributed").setLevel(logging.WARNING)  # a dependency logs to root
    panel = cm.simulate(seed=1).panel

    def boot(**kw):
        t0 = time.perf_counter()
        res = mediation(
            panel, "lnci", "did", "green_innov", X, n_draws=N_BOOT, seed=4, chunk_size=CHUNK, **kw
        )
        return time.perf_counter() - t0, res["green_innov"].boot.to_numpy()

    t_serial, serial = boot(backend="serial")
    t_proc, proc = boot(backend="processes", n_workers=N_WORKERS)
    with LocalCluster(
        n_workers=N_WORKERS,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.WARNING,
    ) as cluster:
        t_dask, dask = boot(scheduler=cluster.scheduler_address)
    np.testing.assert_array_equal(proc, serial)
    np.testing.assert_array_equal(dask, serial)
    return {
        "name": f"engine: mediation bootstrap, {N_BOOT:,} draws (297x16), running 2-worker Dask "
        "cluster vs serial",
        "ours_seconds": t_dask,
        "reference_seconds": t_serial,
        "ratio": t_serial / t_dask,
        "processes_cold_seconds": t_proc,
        "reference_note": f"serial backend; draws identical on all backends; {os.cpu_count()} CPUs",
    }


def main() -> None:
    r = run()
    print(r["name"])
    print(f"  serial:    {r['reference_seconds']:7.2f} s")
    print(f"  dask:      {r['ours_seconds']:7.2f} s (running 2-worker cluster; identical draws)")
    print(f"  processes: {r['processes_cold_seconds']:7.2f} s (2 workers started by the call)")
    print(f"  speed-up (serial / dask): {r['ratio']:.2f}x")


if __name__ == "__main__":
    main()

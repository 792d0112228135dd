"""Benchmark: the replicate engine's backends on one placebo test.

Design: ``cm.simulate(seed=2)`` city panel (297 cities x 16 years), three controls, city + year
FE, CRV1 by city, R = 2,000 in-space placebo draws. The same call runs on the serial backend
and on two local worker processes (``backend="processes"``, chunks of 100 draws); the draws
are checked to be identical. The processes time includes starting the workers (spawn) and
sending them the prepared regression once.

Run: ``.venv/bin/python bench/bench_engine.py`` (``run()`` returns the numbers).
"""

from __future__ import annotations

import os
import time

import numpy as np

import climetrics as cm
from climetrics.estimate.placebo import placebo_test

N_DRAWS, CHUNK, N_WORKERS = 2000, 100, 2
CONTROLS = ["lnpgdp", "gov", "str"]


def run() -> dict:
    panel = cm.simulate(seed=2).panel

    def placebo(**kw):
        t0 = time.perf_counter()
        res = placebo_test(panel, "lnci", "did", CONTROLS, n_draws=N_DRAWS, seed=1, **kw)
        return time.perf_counter() - t0, res

    placebo(backend="serial")  # warm-up
    t_serial, serial = placebo(backend="serial", chunk_size=CHUNK)
    t_proc, proc = placebo(backend="processes", n_workers=N_WORKERS, chunk_size=CHUNK)
    np.testing.assert_array_equal(proc.draws.to_numpy(), serial.draws.to_numpy())
    return {
        "name": f"engine: placebo, {N_DRAWS} draws (297x16), {N_WORKERS} worker processes vs serial",
        "ours_seconds": t_proc,
        "reference_seconds": t_serial,
        "ratio": t_serial / t_proc,
        "reference_note": f"serial backend; draws identical; {os.cpu_count()} CPUs",
    }


def main() -> None:
    r = run()
    print(r["name"])
    print(f"  serial:    {r['reference_seconds']:7.2f} s")
    print(f"  processes: {r['ours_seconds']:7.2f} s (identical draws)")
    print(f"  speed-up:  {r['ratio']:.2f}x")


if __name__ == "__main__":
    main()

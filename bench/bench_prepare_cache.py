"""Data step of the demo study (simulate + [prepare], incl. NDDF): recomputed vs read from the
prepared-panel cache of ``climetrics run``.

    python bench/bench_prepare_cache.py
"""

from __future__ import annotations

import tempfile
import time
from importlib import resources
from pathlib import Path

from climetrics.study.config import load_config
from climetrics.study.runner import Study


def _time(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    cfg = load_config(Path(str(resources.files("climetrics.study").joinpath("demo.toml"))))
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / ".cache"
        Study(cfg).load_panel(cache)  # fill the cache
        cold = _time(lambda: Study(cfg).load_panel())
        warm = _time(lambda: Study(cfg).load_panel(cache))
    print(f"data step, recomputed      : {cold:8.3f} s")
    print(f"data step, from the cache  : {warm:8.3f} s")
    print(f"ratio recomputed / cached  : {cold / warm:8.1f}x")


if __name__ == "__main__":
    main()

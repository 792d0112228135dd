"""Run every benchmark several times and print the median and range of its time and of its ratio
to the obvious alternative, with the machine's load before and after.

Benchmarks (each module's ``run()`` returns ``ours_seconds``, ``reference_seconds`` and
``ratio = reference / ours``; see the module docstrings for the designs):

* placebo (bench_placebo): batched TWFE kernel vs a loop of pyfixest fits;
* bootstrap (bench_bootstrap): batched mediation cluster bootstrap vs refits on resampled panels;
* DEA (bench_dea): NDDF on one global frontier vs a scipy linprog loop;
* spatial (bench_spatial): panel SDM vs spreg's panel lag model;
* engine (bench_engine): placebo draws on two worker processes vs the serial backend;
* large panel (bench_large_panel): TWFE + event study on 1,000,000 rows, three FE;
* wild cluster bootstrap (bench_wild): WCR vs the wildboottest package at G = 20/50/200;
* Callaway-Sant'Anna (bench_cs): ATT(g,t) + 999 multiplier-bootstrap draws vs csdid;
* fixed effects (bench_fe): twfe vs pyfixest feols, balanced / unbalanced, 2 and 3 FE, 1M and 5M rows;
* the full demo study (``climetrics demo --no-cache``) wall time (no alternative);
* ``climetrics --help`` start-up time vs a bare ``python -c pass``.

The machine is described in the output (with the 1-minute load average before and after each
benchmark: a busy machine slows both sides, so the ratio is what compares). Results go to
``bench/results.json``; ``--readme`` prints the README performance table from that file.

Run: ``.venv/bin/python bench/run_all.py [--only placebo,dea,...] [--repeats 3] [--readme]``
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"


def machine() -> dict:
    """CPU model, cores, memory, OS and the versions of the numerical stack."""
    import highspy  # noqa: F401  (version below)
    import numpy
    import pandas
    import pyfixest
    import scipy

    info = {"cpu": platform.processor() or platform.machine(), "cpus": os.cpu_count()}
    try:
        text = Path("/proc/cpuinfo").read_text()
        info["cpu"] = next(
            line.split(":", 1)[1].strip()
            for line in text.splitlines()
            if line.startswith("model name")
        )
        mem = Path("/proc/meminfo").read_text().split("\n", 1)[0].split()[1]
        info["memory_gib"] = round(int(mem) / 2**20, 1)
    except (OSError, StopIteration, IndexError):
        pass
    info.update(
        {
            "os": platform.platform(),
            "python": platform.python_version(),
            "numpy": numpy.__version__,
            "scipy": scipy.__version__,
            "pandas": pandas.__version__,
            "pyfixest": pyfixest.__version__,
            "parallel_throughput": parallel_throughput(),
        }
    )
    return info


_SPIN = "import time\nt = time.perf_counter()\nfor i in range(10_000_000): pass\nprint(time.perf_counter() - t)"


def parallel_throughput() -> float:
    """How many CPU-bound processes run at full speed at once: ``2 t_1 / t_2`` with ``t_1`` the
    time of one pure-Python loop alone and ``t_2`` the slower of two run concurrently (about
    2.0 on two real cores, 1.0 when the CPUs deliver one core's throughput)."""

    def spin(n: int) -> float:
        procs = [
            subprocess.Popen([sys.executable, "-c", _SPIN], stdout=subprocess.PIPE, text=True)
            for _ in range(n)
        ]
        return max(float(p.communicate()[0]) for p in procs)

    return round(2 * spin(1) / spin(2), 2)


def _climetrics_command() -> list[str]:
    script = Path(sys.executable).with_name("climetrics")
    return [str(script)] if script.exists() else [sys.executable, "-m", "climetrics.cli"]


def _best_wall(cmd: list[str], repeats: int, **kw) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, **kw)
        best = min(best, time.perf_counter() - t0)
    return best


def bench_startup() -> dict:
    help_cmd = [*_climetrics_command(), "--help"]
    t_help = _best_wall(help_cmd, 5)
    t_bare = _best_wall([sys.executable, "-c", "pass"], 5)
    return {
        "name": "start-up: `climetrics --help` vs a bare `python -c pass`",
        "ours_seconds": t_help,
        "reference_seconds": t_bare,
        "ratio": t_bare / t_help,
        "reference_note": "best of 5 each; ratio < 1 means slower than the bare interpreter",
    }


def bench_demo() -> dict:
    with tempfile.TemporaryDirectory() as out:
        t = _best_wall([*_climetrics_command(), "demo", "--out", out, "--no-cache"], 1)
    return {
        "name": "full demo study: `climetrics demo --no-cache` wall time",
        "ours_seconds": t,
        "reference_seconds": None,
        "ratio": None,
        "reference_note": "no alternative implementation; one run",
    }


def _module(name: str):
    def run() -> dict:
        return importlib.import_module(name).run()

    return run


BENCHMARKS = {
    "placebo": _module("bench_placebo"),
    "bootstrap": _module("bench_bootstrap"),
    "dea": _module("bench_dea"),
    "spatial": _module("bench_spatial"),
    "engine": _module("bench_engine"),
    "large_panel": _module("bench_large_panel"),
    "fe": _module("bench_fe"),
    "wild": _module("bench_wild"),
    "cs": _module("bench_cs"),
    "demo": bench_demo,
    "startup": bench_startup,
}


def _load() -> float | None:
    """1-minute load average (None where the OS does not report it)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def repeated(fn, repeats: int) -> dict:
    """Run a benchmark ``repeats`` times; the last run's fields plus the median and range of the
    times and ratios over all runs, and the load average around them."""
    runs, load_before = [], _load()
    for _ in range(repeats):
        runs.append(fn())
    out = dict(runs[-1])
    for key in ("ours_seconds", "reference_seconds", "ratio"):
        values = [r[key] for r in runs if r.get(key) is not None]
        if values:
            out[key] = statistics.median(values)
            out[f"{key}_range"] = [min(values), max(values)]
    out.update(repeats=repeats, load_before=load_before, load_after=_load())
    return out


def _span(r: dict, key: str, unit: str) -> str:
    if r.get(key) is None:
        return "-"
    lo, hi = r.get(f"{key}_range", [r[key], r[key]])
    return f"{r[key]:.2f}{unit} [{lo:.2f}-{hi:.2f}]"


def _line(key: str, r: dict) -> str:
    return (
        f"{key:12s} {_span(r, 'ours_seconds', ' s'):>24s}  {_span(r, 'reference_seconds', ' s'):>26s}  "
        f"{_span(r, 'ratio', 'x'):>24s}  load {r.get('load_before')}->{r.get('load_after')}  {r['name']}"
    )


def readme_table(results: dict) -> str:
    """The README performance table (Markdown) from recorded results: median [range] of n runs."""
    rows = [
        "| benchmark | climetrics | alternative | ratio (alternative / climetrics) |",
        "|---|---|---|---|",
    ]
    for r in results.values():
        if "skipped" in r:
            continue
        n = r.get("repeats", 1)
        rows.append(
            f"| {r['name']} | {_span(r, 'ours_seconds', ' s')} | {_span(r, 'reference_seconds', ' s')} "
            f"| {_span(r, 'ratio', 'x')} (median [range] of {n}) |"
        )
    return "\n".join(rows)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--only",
        type=lambda text: text.split(","),
        default=None,
        help=f"comma-separated subset of {','.join(BENCHMARKS)}; updates bench/results.json",
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per benchmark (default 3)")
    parser.add_argument(
        "--readme", action="store_true", help="print the README table from bench/results.json and exit"
    )
    args = parser.parse_args(argv)
    if args.readme:
        print(readme_table(json.loads(RESULTS.read_text())["results"]))
        return
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    only = None if args.only is None else set(args.only)
    if only is not None and only - set(BENCHMARKS):
        parser.error(f"unknown benchmark(s) {sorted(only - set(BENCHMARKS))}")
    sys.path.insert(0, str(HERE))
    info = machine()
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    print(f"{'benchmark':12s} {'climetrics':>24s}  {'alternative':>26s}  {'ratio':>24s}  (median [range] of {args.repeats})")
    results: dict[str, dict] = {}
    for key, fn in BENCHMARKS.items():
        if only is not None and key not in only:
            continue
        try:
            r = repeated(fn, args.repeats)
        except ModuleNotFoundError as err:  # an optional reference package is missing
            print(f"{key:12s} skipped: {err}")
            results[key] = {"skipped": str(err)}
            continue
        results[key] = r
        print(_line(key, r), flush=True)
    if only is not None and RESULTS.exists():  # a partial run updates the recorded results
        results = {**json.loads(RESULTS.read_text())["results"], **results}
    RESULTS.write_text(
        json.dumps({"machine": info, "results": results}, indent=2, default=float) + "\n"
    )
    print(f"written: {RESULTS.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main(sys.argv[1:])

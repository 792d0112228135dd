"""Command line: ``climetrics run study.toml``, ``demo``, ``check study.toml``, ``init data.csv``.

Exit codes: 0 success; 1 some sections failed (the report says which); 2 the config, the data
or the output folder are invalid, or a file cannot be read or written (every problem is listed,
no traceback).
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

from . import __version__
from .errors import ClimetricsError


def _demo_config_path() -> Path:
    return Path(str(resources.files("climetrics.study").joinpath("demo.toml")))


def _run(config: Path, out: str | None, cache: bool = True, force: bool = False) -> int:
    from .study.runner import Study

    study = Study.from_file(config)
    if sys.stderr.isatty():  # interactive: a progress bar; logs and CI get plain lines
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                   TimeElapsedColumn())
        from .core.replicate import reporting_progress

        with Progress(*columns, transient=True) as bar:
            task = bar.add_task("climetrics", total=None)
            work = bar.add_task("", total=None, visible=False)  # replicates within a section

            def advance(done: int, total: int, title: str) -> None:
                bar.update(task, completed=done, total=total, description=title)

            running = False

            def replicates(done: int, total: int, label: str) -> None:
                nonlocal running
                if not running:  # a new batch of replicates: restart the bar and its clock
                    bar.reset(work, total=total, description=f"  {label}", visible=True)
                    running = True
                bar.update(work, completed=done)
                if done >= total:
                    bar.update(work, visible=False)
                    running = False

            with reporting_progress(replicates):
                result = study.run(out, cache=cache, progress=advance, log=bar.console.print,
                                   force=force)
    else:
        result = study.run(out, cache=cache, force=force)
    if result.failed:
        print(f"climetrics: {len(result.failed)} section(s) failed: {', '.join(result.failed)} "
              f"(see {result.report_path})", file=sys.stderr)
        return 1
    return 0


def _check(config: Path) -> int:
    from .study.runner import Study

    study = Study.from_file(config)
    panel = study.load_panel()
    print(f"{config}: OK — {panel!r}")
    print(panel.balance().summary())
    return 0


def _init(data: Path, out: Path | None, force: bool, *, outcome: str | None = None,
          treatment: str | None = None, adoption: str | None = None) -> int:
    from .study.scaffold import scaffold

    target = out or data.with_suffix(".toml")
    if target.exists() and not force:
        print(f"climetrics: {target} exists; pass --force to overwrite it or -o to choose another file",
              file=sys.stderr)
        return 2
    if target.resolve() == data.resolve():
        print("climetrics: the config would overwrite the data file; choose another -o", file=sys.stderr)
        return 2
    from .study.output import atomic_write

    text = scaffold(data, config_dir=target.resolve().parent, config_name=str(target), outcome=outcome, treatment=treatment,
                    adoption=adoption)
    atomic_write(target, text)
    print(f"climetrics: wrote {target}; check the detected columns, then run `climetrics check {target}`")
    if "\n# treatment = " in text:
        print("climetrics: no treatment column found (no 0/1 column switching on within units, no "
              "adoption-year column); pass --treatment COLUMN or --adoption COLUMN", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="climetrics", description="Policy-evaluation econometrics for carbon studies.")
    p.add_argument("--version", action="version", version=f"climetrics {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run a study from a TOML config and write the report")
    r.add_argument("config", type=Path)
    r.add_argument("--out", help="output directory (default: study.output in the config)")
    r.add_argument("--no-cache", action="store_true", help="recompute every section")
    d = sub.add_parser("demo", help="run the bundled demo study on simulated data")
    d.add_argument("--out", default="out/demo", help="output directory (default: out/demo)")
    d.add_argument("--no-cache", action="store_true", help="recompute every section")
    for parser in (r, d):
        parser.add_argument("--backend", choices=("serial", "processes", "dask"),
                            help="where placebo draws, bootstraps and DEA solves run (default: serial)")
        parser.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                            help="address of a running Dask scheduler (implies --backend dask)")
        parser.add_argument("--force", action="store_true",
                            help="write into a non-empty output folder that climetrics did not create "
                                 "(files it did not write are kept)")
    c = sub.add_parser("check", help="validate a config and its data without running the study")
    c.add_argument("config", type=Path)
    i = sub.add_parser("init", help="write a commented study config for a data file (detects unit/time columns)")
    i.add_argument("data", type=Path)
    i.add_argument("-o", "--output", type=Path, help="config file to write (default: DATA with .toml)")
    i.add_argument("--force", action="store_true", help="overwrite an existing config")
    i.add_argument("--outcome", help="outcome column (default: guessed from the data)")
    how = i.add_mutually_exclusive_group()
    how.add_argument("--treatment", help="treatment column: a 0/1 DID dummy or a continuous regressor")
    how.add_argument("--adoption", metavar="COLUMN",
                     help="column with each unit's first treated year (0/empty: never); builds the DID dummy")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command in ("run", "demo"):
            from .core.replicate import using_backend

            config = args.config if args.command == "run" else _demo_config_path()
            with using_backend(args.backend, scheduler=args.scheduler):
                return _run(config, args.out, not args.no_cache, args.force)
        if args.command == "init":
            return _init(args.data, args.output, args.force, outcome=args.outcome, treatment=args.treatment,
                         adoption=args.adoption)
        return _check(args.config)
    except ClimetricsError as err:
        print(f"climetrics: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # e.g. no permission to write --out, disk full: the user's environment
        print(f"climetrics: {err.strerror or err}: {err.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

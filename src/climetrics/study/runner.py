"""Run a configured study: load and prepare the panel, run each section, write the outputs.

A failed section is reported in the report (and in ``manifest.json``) and the run continues
with the others. Outputs are staged and moved into the output directory only when the run
finished (:mod:`.output`: ownership marker, safe file names, removal of the previous run's
outputs); input files are only ever read.
"""

from __future__ import annotations

import functools
import hashlib
import json
import pickle
import platform
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError, EstimationError, PanelError
from ..panel import Panel
from ..report.html import Section, render_report
from .config import StudyConfig, check_against_data, load_config
from .output import OutputFolder, atomic_write

# warnings that concern library internals, not the user's data or model
_LIBRARY_NOISE = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)
_PACKAGES = ("numpy", "pandas", "scipy", "pyfixest", "statsmodels", "matplotlib")


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for p in ("climetrics", *_PACKAGES):
        try:
            out[p] = version(p)
        except PackageNotFoundError:
            out[p] = "not installed"
    return out


def _checked(cfg: StudyConfig, panel: Panel) -> Panel:
    """``panel`` if the configured variables hold usable values, else ConfigError listing why."""
    from .data_checks import check_variable_values

    problems = check_variable_values(cfg, panel)
    if problems:
        raise ConfigError(problems)
    return panel


def _file_digest(path: Path | None) -> str | None:
    """SHA-256 of a file's bytes; None for a missing file (its reader reports it clearly)."""
    return hashlib.sha256(path.read_bytes()).hexdigest() if path and path.is_file() else None


def frame_hash(df: pd.DataFrame) -> str:
    """Content hash of a DataFrame (values and column names), stable across runs."""
    h = hashlib.sha256()
    h.update("\x1f".join(map(str, df.columns)).encode())
    h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return h.hexdigest()


@dataclass
class RunResult:
    """What a run produced: sections, output paths and the manifest."""

    out_dir: Path
    sections: list[Section]
    results: dict[str, Any] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> list[str]:
        return [s.key for s in self.sections if s.error]

    @property
    def report_path(self) -> Path:
        return self.out_dir / "report.html"


class Study:
    """A study = a validated config plus the functions it calls.

    >>> study = Study.from_file("study.toml")   # doctest: +SKIP
    >>> run = study.run()                        # doctest: +SKIP
    """

    def __init__(self, config: StudyConfig):
        self.config = config
        self.truth: dict[str, Any] | None = None
        self.data_note: str | None = None
        self.data_hash: str | None = None
        self.warnings: list[str] = []
        #: weights of each [[prepare.entropy]] index, by the index's column name
        self.entropy_weights: dict[str, pd.DataFrame] = {}
        #: whether the last :meth:`load_panel` reused the prepared panel from the cache
        self.prepared_from_cache = False

    @classmethod
    def from_file(cls, path: str | Path) -> Study:
        return cls(load_config(path))

    # ------------------------------------------------------------------ data
    def load_panel(self, cache_dir: str | Path | None = None) -> Panel:
        """Load (or simulate) the panel and apply the [prepare] steps. Raises ConfigError listing
        every column problem at once.

        With ``cache_dir`` the prepared panel is stored there as ``prepared-<key>.pkl`` and reused
        while :meth:`_data_key` (data file, data and prepare config, code) is unchanged: reading,
        simulating and every [prepare] step (e.g. NDDF) are then skipped. The column check
        against the config's other sections still runs on every call."""
        cached = None if cache_dir is None else Path(cache_dir) / f"prepared-{self._data_key()}.pkl"
        if cached is not None and cached.exists():
            state = pickle.loads(cached.read_bytes())
            problems = check_against_data(self.config, state["raw_columns"])
            if problems:
                raise ConfigError(problems)
            self.truth, self.data_note, self.data_hash = (
                state["truth"],
                state["data_note"],
                state["data_hash"],
            )
            self.entropy_weights = state["entropy_weights"]
            self.warnings += state["warnings"]
            self.prepared_from_cache = True
            return _checked(self.config, state["panel"])
        cfg = self.config
        d = cfg["data"]
        found: list[str] = []
        if d["simulate"] is not None:
            from ..simulation.cities import simulate

            s = dict(d["simulate"])
            s["years"] = tuple(s["years"])
            if s["synthetic_batches"] is not None:
                s["synthetic_batches"] = tuple(s["synthetic_batches"])
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                sim = simulate(**s)
            found += _user_warnings(caught)
            panel, self.truth, self.data_note = sim.panel, sim.truth, sim.note
        elif d["simulate_provinces"] is not None:
            from ..simulation.provinces import simulate_provinces

            sim = simulate_provinces(
                **{**d["simulate_provinces"], "years": tuple(d["simulate_provinces"]["years"])}
            )
            panel, self.truth, self.data_note = sim.panel, sim.truth, sim.note
        else:
            path = cfg.data_path()
            panel = Panel.from_file(
                path, d["unit"], d["time"], sheet=d["sheet"], columns=d["columns"],
                na_values=d["na_values"],
            )
            self.data_note = f"Data: {path.name} ({len(panel)} rows)."
        self.data_hash = frame_hash(panel.df)
        raw_columns = panel.columns
        problems = check_against_data(cfg, raw_columns)
        if problems:
            raise ConfigError(problems)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            panel = self.prepare(panel)
        found += _user_warnings(caught)
        self.warnings += found
        if cached is not None:
            for old in cached.parent.glob("prepared-*.pkl"):
                old.unlink(missing_ok=True)
            state = {
                "panel": panel,
                "raw_columns": raw_columns,
                "truth": self.truth,
                "data_note": self.data_note,
                "data_hash": self.data_hash,
                "entropy_weights": self.entropy_weights,
                "warnings": found,
            }
            atomic_write(cached, pickle.dumps(state))
        return _checked(cfg, panel)

    def _data_key(self) -> str:
        """Hash of everything the prepared panel depends on: the bytes of the data file, of
        the policy calendars and of the files the measurement steps read (grid factors, IO
        tables, annual aggregates), the [data] and [prepare] config and the package code."""
        from . import measures

        cfg = self.config

        src = cfg.data_path()
        calendars = [pol["calendar"] for pol in cfg["prepare"]["policies"] if pol["calendar"]]
        payload = {
            "data": cfg["data"],
            "prepare": cfg["prepare"],
            "file": _file_digest(src),
            "calendars": {c: _file_digest((cfg.base_dir / c).resolve()) for c in calendars},
            "inputs": {
                str(f): _file_digest(f) for f in measures.input_files(cfg["prepare"], cfg.base_dir)
            },
            "code": _code_fingerprint(),
        }
        return hashlib.sha256(
            json.dumps(payload, sort_keys=True, default=str).encode()
        ).hexdigest()[:20]

    def input_files(self) -> list[Path]:
        """Every file the study reads: the config, the data, policy and concurrent-policy
        calendars, spatial weights and the measurement steps' files. They are protected:
        climetrics refuses an output folder that contains one of them."""
        from . import measures

        cfg, base = self.config, self.config.base_dir
        files = [cfg.path, cfg.data_path(), *measures.input_files(cfg["prepare"], base)]
        files += [base / pol["calendar"] for pol in cfg["prepare"]["policies"] if pol["calendar"]]
        files += [base / c for c in cfg["robustness"]["concurrent_calendars"].values()]
        if cfg["spatial"]["weights_file"]:
            files.append(base / cfg["spatial"]["weights_file"])
        return [Path(f).resolve() for f in files if f is not None]

    def prepare(self, panel: Panel) -> Panel:
        """Apply the [prepare] steps in a fixed, documented order:

        1. policy dummies (``[[prepare.policies]]``);
        2. CO2 from fuel use (``[[prepare.carbon]]``) and city energy use
           (``[[prepare.city_co2]]``), the provincial digital economy from IO tables
           (``[[prepare.digital_economy]]``) and downscaled provincial columns
           (``[[prepare.downscale]]``), so that they can be interpolated;
        3. linear interpolation of interior gaps (``interpolate``), then forecasts of trailing
           years (``[[prepare.fill_trailing]]``);
        4. real values (``[[prepare.deflate]]``) and perpetual-inventory capital stocks
           (``[[prepare.capital_stock]]``) from the completed series, then
           indices built from the completed columns: agglomeration (``[[prepare.agglomeration]]``),
           entropy-weight indices (``[[prepare.entropy]]``, weights kept in
           :attr:`entropy_weights`) and NDDF carbon performance (``[[prepare.nddf]]``);
        5. winsorizing, then logs.
        """
        from . import measures

        p = self.config["prepare"]
        from .. import data as cmdata

        for pol in p["policies"]:
            if pol["adoption"]:
                from ..data.adoption import adoption_dummies

                panel = adoption_dummies(panel, pol["adoption"], name=pol["column"] or pol["name"])
                continue
            calendar = None
            if pol["calendar"]:
                calendar = pd.read_csv((self.config.base_dir / pol["calendar"]).resolve())
            panel = cmdata.policy_dummies(
                panel,
                pol["name"],
                unit_key=pol["unit_key"],
                name=pol["column"],
                include_unverified=pol["include_unverified"],
                calendar=calendar,
                expand_provinces=pol["expand_provinces"],
                city=pol["city"],
            )
        for i, spec in enumerate(p["carbon"]):
            panel = measures.add_carbon(panel, spec, f"prepare.carbon[{i}]")
        base = self.config.base_dir
        for i, spec in enumerate(p["city_co2"]):
            panel = measures.add_city_co2(panel, spec, f"prepare.city_co2[{i}]", base)
        for i, spec in enumerate(p["digital_economy"]):
            panel = measures.add_digital_economy(panel, spec, f"prepare.digital_economy[{i}]", base)
        for i, spec in enumerate(p["downscale"]):
            panel = measures.add_downscaled(panel, spec, f"prepare.downscale[{i}]")
        if p["interpolate"]:
            panel = panel.interpolate(p["interpolate"], method="linear")
            if p["interpolate_by"]:
                panel = panel.interpolate(
                    p["interpolate"], method="group_mean", by=p["interpolate_by"]
                )
        for i, spec in enumerate(p["fill_trailing"]):
            panel = measures.fill_trailing_years(panel, spec, f"prepare.fill_trailing[{i}]")
        for i, spec in enumerate(p["deflate"]):
            panel = measures.add_deflated(panel, spec, f"prepare.deflate[{i}]")
        for i, spec in enumerate(p["capital_stock"]):
            panel = measures.add_capital_stock(panel, spec, f"prepare.capital_stock[{i}]")
        for i, spec in enumerate(p["agglomeration"]):
            panel = measures.add_agglomeration(panel, spec, f"prepare.agglomeration[{i}]")
        for i, spec in enumerate(p["entropy"]):
            panel, self.entropy_weights[spec["column"]] = measures.add_entropy(
                panel, spec, f"prepare.entropy[{i}]"
            )
        for i, spec in enumerate(p["nddf"]):
            panel = measures.add_nddf(panel, spec, f"prepare.nddf[{i}]")
        if p["winsorize"]:
            lo, hi = p["winsorize_limits"]
            panel = panel.winsorize(p["winsorize"], lo, hi)
        if p["log"]:
            panel = panel.log(p["log"])
        return panel

    # ------------------------------------------------------------------ run
    def _cache_key(self, section: str) -> str:
        """Hash of everything a section's result depends on: the data, the shared config
        (study seed, data, variables, prepare), the section's own config and the package code."""
        cfg = self.config.values
        wfile = cfg["spatial"]["weights_file"] if section == "spatial" else None
        payload = {
            "section": section,
            "own": cfg.get(section),
            "files": _file_digest(self.config.base_dir / wfile) if wfile else None,
            "shared": {k: cfg[k] for k in ("data", "variables", "prepare")}
            | {"seed": cfg["study"]["seed"]},
            "data": self.data_hash,
            "code": _code_fingerprint(),
        }
        return hashlib.sha256(
            json.dumps(payload, sort_keys=True, default=str).encode()
        ).hexdigest()[:20]

    def run(
        self,
        out_dir: str | Path | None = None,
        *,
        log: Callable[[str], None] = print,
        cache: bool = True,
        progress: Callable[[int, int, str], None] | None = None,
        force: bool = False,
    ) -> RunResult:
        """Run every enabled section and write report.html, tables/, figures/ and manifest.json.

        With ``cache`` a section whose inputs are unchanged since the last run into the same output
        directory is reused from ``out_dir/.cache`` (see :meth:`_cache_key`); failed sections are
        never cached. The prepared panel is cached there too (see :meth:`load_panel`).
        ``progress(done, total, title)`` is called before each section and once at the end (the
        CLI draws a progress bar with it).

        The output folder follows :class:`.output.OutputFolder`: a non-empty folder that
        climetrics did not create is refused unless ``force``, as is one holding an input file;
        outputs are staged and moved into place at the end, replacing the previous run's."""
        from ..report.figures import save
        from .sections import SECTIONS, Context

        cfg = self.config
        out = Path(out_dir) if out_dir is not None else (cfg.base_dir / cfg["study"]["output"])
        src = cfg.data_path()
        folder = OutputFolder(out, force=force, protected=self.input_files())
        folder.claim()
        out = folder.path
        t0 = time.perf_counter()
        log(f"climetrics: loading data ({src or 'simulated'})")
        panel = self.load_panel(folder.cache_dir if cache else None)
        if self.prepared_from_cache:
            log("  (data and [prepare] unchanged: prepared panel reused from the cache)")
        for w in self.warnings:
            log(f"  warning: {w}")
        ctx = Context(
            panel=panel,
            config=cfg.values,
            truth=self.truth,
            data_note=self.data_note,
            warnings=self.warnings,
            config_dir=cfg.base_dir,
            entropy_weights=self.entropy_weights,
        )
        sections: list[Section] = []
        results: dict[str, Any] = {}
        summaries: dict[str, Any] = {}
        timings: dict[str, float] = {}
        n_table = n_fig = 0
        reused: list[str] = []
        enabled = [spec for spec in SECTIONS if spec.enabled(cfg.values)]
        stage = folder.staging()
        for i, spec in enumerate(enabled):
            if progress:
                progress(i, len(enabled), spec.title)
            log(f"  - {spec.title} ...")
            s0 = time.perf_counter()
            key = self._cache_key(spec.key)
            cached = out / ".cache" / f"{spec.key}-{key}.pkl"
            try:
                if cache and cached.exists():
                    got = pickle.loads(cached.read_bytes())
                    reused.append(spec.key)
                    log("    (unchanged: reused from the cache)")
                else:
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        got = spec.build(ctx)
                        got.section.paragraphs += [f"Note: {m}" for m in _user_warnings(caught)]
                    if cache:
                        for old in cached.parent.glob(f"{spec.key}-*.pkl"):
                            old.unlink(missing_ok=True)
                        atomic_write(cached, pickle.dumps(got))
            except Exception as err:  # a failed section is reported, the run goes on
                msg = f"{type(err).__name__}: {err}"
                sections.append(Section(spec.key, spec.title, error=msg))
                log(f"    FAILED: {msg.splitlines()[0]}")
                if not isinstance(err, (PanelError, ConfigError, EstimationError)):
                    log("".join(traceback.format_exception(err)))
                continue
            finally:
                timings[spec.key] = round(time.perf_counter() - s0, 3)
            sections.append(got.section)
            for name, table in got.tables.items():
                n_table += 1
                table.title = (
                    f"Table {n_table}. {table.title}" if table.title else f"Table {n_table}"
                )
                stem = stage.stem("tables", name)  # a safe, unique file name (output.slug)
                stage.write(f"{stem}.md", table.to_markdown() + "\n")
                stage.write(f"{stem}.html", table.to_html() + "\n")
                stage.write(f"{stem}.tex", table.to_latex() + "\n")
                stage.write(f"{stem}.csv", table.to_csv())
                for ext, writer in (("xlsx", table.to_xlsx), ("docx", table.to_docx)):
                    stage.write(f"{stem}.{ext}", _to_bytes(writer))
            for (name, fig), shown in zip(got.figures.items(), got.section.figures, strict=True):
                n_fig += 1
                shown.caption = f"Figure {n_fig}. {shown.caption}"
                stem = stage.stem("figures", name)
                stage.write(f"{stem}.png", shown.png)  # rendered once, also embedded in the report
                for fmt in dict.fromkeys(cfg["study"]["figure_formats"]):
                    if fmt != "png":
                        stage.write(f"{stem}.{fmt}", save(fig, fmt, close=False))
                _close(fig)
            if got.results:
                results[spec.key] = got.results
            if got.summary:
                summaries[spec.key] = got.summary
        if progress:
            progress(len(enabled), len(enabled), "writing the report")
        title = cfg["study"]["title"]
        meta = [
            f"climetrics {_versions()['climetrics']} · {time.strftime('%Y-%m-%d %H:%M')} · seed {cfg['study']['seed']}"
        ]
        stage.write(
            "report.html",
            render_report(
                title,
                sections,
                banner=self.data_note if self.truth is not None else None,
                meta=meta,
            ),
        )
        manifest = {
            "title": title,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "versions": _versions(),
            "config": cfg.values,
            "config_text": cfg.source,
            "seed": cfg["study"]["seed"],
            "data": {
                "source": str(src) if src else "simulated",
                "sha256": self.data_hash,
                "rows": len(panel),
                "columns": panel.columns,
                "prepared_from_cache": self.prepared_from_cache,
            },
            "truth": self.truth,
            "sections": {
                s.key: ("failed: " + s.error.splitlines()[0]) if s.error else "ok" for s in sections
            },
            "summaries": summaries,
            "timings_s": timings,
            "reused_from_cache": reused,
            "results": {k: [r.to_dict() for r in v] for k, v in results.items()},
            "files": sorted(stage.files),
            "wall_time_s": round(time.perf_counter() - t0, 3),
        }
        stage.write(
            "manifest.json",
            json.dumps(manifest, indent=2, ensure_ascii=False, default=_json_default),
        )
        stage.commit()
        log(f"climetrics: wrote {out / 'report.html'} ({manifest['wall_time_s']:.1f} s)")
        return RunResult(out_dir=out, sections=sections, results=results, manifest=manifest)


@functools.cache
def _code_fingerprint() -> str:
    """Hash of the package's source, so a code change invalidates cached sections."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for f in sorted(root.rglob("*.py")):
        h.update(f.read_bytes())
    return h.hexdigest()


def _user_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    """Distinct messages of warnings about the user's data or model (library deprecations dropped)."""
    return list(
        dict.fromkeys(str(w.message) for w in caught if not issubclass(w.category, _LIBRARY_NOISE))
    )


def _close(fig: Any) -> None:
    """Release a figure once every requested format is written."""
    from ..report.figures import _pyplot

    _pyplot().close(fig)


def _to_bytes(writer: Callable[[Any], None]) -> bytes:
    """Bytes of a file written by ``writer(path_or_buffer)`` (for the atomic writer)."""
    import io

    buf = io.BytesIO()
    writer(buf)
    return buf.getvalue()


def _json_default(obj: Any) -> Any:
    """numpy scalars and other non-JSON values in summaries."""
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    return str(obj)

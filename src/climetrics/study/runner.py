"""Run a configured study: load and prepare the panel, run each section, write the outputs.

A failed section is reported in the report (and in ``manifest.json``) and the run continues
with the others. Outputs are written atomically (temporary file + rename) into the output
directory; input files are only ever read.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError, PanelError
from ..panel import Panel
from ..report.html import Figure, Section, render_report
from ..report.tables import Table
from .config import StudyConfig, check_against_data, load_config
from .readings import baseline_reading, truth_paragraph

_PACKAGES = ("numpy", "pandas", "scipy", "pyfixest", "statsmodels", "matplotlib")


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **({} if isinstance(data, bytes) else {"encoding": "utf-8"})) as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for p in ("climetrics", *_PACKAGES):
        try:
            out[p] = version(p)
        except PackageNotFoundError:
            out[p] = "not installed"
    return out


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

    @classmethod
    def from_file(cls, path: str | Path) -> Study:
        return cls(load_config(path))

    # ------------------------------------------------------------------ data
    def load_panel(self) -> Panel:
        """Load (or simulate) the panel and apply the [prepare] steps. Raises ConfigError listing
        every column problem at once."""
        cfg = self.config
        d = cfg["data"]
        if d["simulate"] is not None:
            from ..simulation import simulate

            s = dict(d["simulate"])
            s["years"] = tuple(s["years"])
            sim = simulate(**s)
            panel, self.truth, self.data_note = sim.panel, sim.truth, sim.note
        else:
            path = cfg.data_path()
            panel = Panel.from_file(path, d["unit"], d["time"], sheet=d["sheet"])
            self.data_note = f"Data: {path.name} ({len(panel)} rows)."
        self.data_hash = frame_hash(panel.df)
        problems = check_against_data(cfg, panel.columns)
        if problems:
            raise ConfigError(problems)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            panel = self.prepare(panel)
        self.warnings += [str(w.message) for w in caught]
        return panel

    def prepare(self, panel: Panel) -> Panel:
        """Apply the [prepare] steps in a fixed, documented order: policy dummies, interpolation,
        winsorizing, logs."""
        p = self.config["prepare"]
        from .. import data as cmdata

        for pol in p["policies"]:
            calendar = None
            if pol["calendar"]:
                calendar = pd.read_csv((self.config.base_dir / pol["calendar"]).resolve())
            panel = cmdata.policy_dummies(panel, pol["name"], unit_key=pol["unit_key"], name=pol["column"],
                                          include_unverified=pol["include_unverified"], calendar=calendar)
        if p["interpolate"]:
            panel = panel.interpolate(p["interpolate"], method="linear")
            if p["interpolate_by"]:
                panel = panel.interpolate(p["interpolate"], method="group_mean", by=p["interpolate_by"])
        if p["winsorize"]:
            lo, hi = p["winsorize_limits"]
            panel = panel.winsorize(p["winsorize"], lo, hi)
        if p["log"]:
            panel = panel.log(p["log"])
        return panel

    # ------------------------------------------------------------------ sections
    def _variables(self) -> tuple[str, str, list[str], str | None, dict[str, str]]:
        v = self.config["variables"]
        cluster = v["cluster"]
        return v["outcome"], v["treatment"], list(v["controls"]), cluster, dict(v["labels"])

    def section_data(self, panel: Panel) -> Section:
        y, d, ctrls, _, labels = self._variables()
        bal = panel.balance()
        paras = [self.data_note or "", bal.summary()]
        if d in panel:
            tr = panel.df.groupby(panel.unit)[d].max()
            first = panel.df[panel.df[d] == 1].groupby(panel.unit)[panel.time].min()
            cohorts = first.value_counts().sort_index()
            paras.append(
                f"Treatment '{labels.get(d, d)}': {int((tr == 1).sum())} treated and {int((tr == 0).sum())} "
                f"never-treated units; adoption cohorts: "
                + ", ".join(f"{int(k)} ({int(v)} units)" for k, v in cohorts.items()) + "."
            )
        imp = panel.imputed_cells()
        if len(imp):
            by = imp.groupby(["column", "method"]).size()
            paras.append("Imputed cells (flagged, not silent): " + "; ".join(
                f"{c}: {n} by {m}" for (c, m), n in by.items()) + ".")
        if panel.history:
            paras.append("Preparation steps: " + " -> ".join(panel.history) + ".")
        paras += [f"Warning: {w}" for w in self.warnings]
        return Section("data", "Data and sample", paragraphs=[p for p in paras if p])

    def section_descriptives(self, panel: Panel) -> tuple[Section, Table]:
        y, d, ctrls, _, labels = self._variables()
        cols = self.config["descriptives"]["columns"] or [y, d, *ctrls]
        t = panel.describe(cols, labels=labels)
        t.title = "Table 1. Descriptive statistics"
        return Section("descriptives", "Descriptive statistics", tables=[t]), t

    def section_correlation(self, panel: Panel) -> tuple[Section, Table]:
        y, d, ctrls, _, labels = self._variables()
        cols = self.config["correlation"]["columns"] or [y, *ctrls]
        t = panel.correlate(cols, labels=labels)
        t.title = "Table 2. Correlation matrix"
        return Section("correlation", "Correlation analysis", tables=[t]), t

    def section_baseline(self, panel: Panel) -> tuple[Section, Table, Any]:
        from ..estimate.fe import twfe
        from ..report.figures import group_trends, save

        y, d, ctrls, cluster, labels = self._variables()
        b = self.config["baseline"]
        clus = None if cluster == "none" else (cluster or "unit")
        rs = twfe(panel, y, d, ctrls, fe=b["fixed_effects"], cluster=clus, stepwise=b["stepwise"],
                  pooled_first=b["pooled_first"], ssc=b["ssc"])
        from ..result import ResultSet

        rs = rs if isinstance(rs, ResultSet) else ResultSet([rs])
        labels = {panel.unit: panel.unit.capitalize(), panel.time: panel.time.capitalize(), **labels}
        t = rs.table(labels=labels, stat=b["stat"], keep=[d, *ctrls, *(["_cons"] if b["pooled_first"] else [])],
                     title="Table 3. Baseline regression: two-way fixed effects")
        reading = baseline_reading(rs, d, y, labels)
        paras = [
            f"Two-way fixed-effects (multi-period DID) estimates of {labels.get(y, y)} on "
            f"{labels.get(d, d)}" + (", adding the controls one at a time." if b["stepwise"] else ".")
        ]
        if self.truth is not None and self.truth.get("outcome") == y and self.truth.get("treatment") == d:
            paras.append(truth_paragraph(rs.last, d, self.truth))
        figs = []
        treat_col = panel.df.groupby(panel.unit)[d].transform("max")
        df = panel.df.assign(_treated=treat_col.to_numpy())
        adopt = sorted(panel.df[panel.df[d] == 1].groupby(panel.unit)[panel.time].min().unique())
        fig = group_trends(df, y, panel.time, "_treated", unit=panel.unit, ylabel=labels.get(y, y),
                           marks=[int(a) for a in adopt])
        figs.append(Figure(save(fig), f"Figure 1. Mean {labels.get(y, y)} of ever-treated and never-treated "
                                      "units by year (dotted lines: adoption years)."))
        return Section("baseline", "Baseline regression", paragraphs=paras, tables=[t], figures=figs,
                       reading=reading), t, rs

    # ------------------------------------------------------------------ run
    def run(self, out_dir: str | Path | None = None, *, log: Callable[[str], None] = print) -> RunResult:
        """Run every enabled section and write report.html, tables/ and manifest.json."""
        cfg = self.config
        out = Path(out_dir) if out_dir is not None else (cfg.base_dir / cfg["study"]["output"])
        out = out.resolve()
        src = cfg.data_path()
        if src is not None and (src == out or out in src.parents):
            raise ConfigError(f"output directory {out} contains the input data {src}; choose another 'study.output'")
        t0 = time.perf_counter()
        np.random.seed(cfg["study"]["seed"])  # nothing should use the global RNG; this makes it harmless
        log(f"climetrics: loading data ({'simulated' if cfg['data']['simulate'] is not None else src})")
        panel = self.load_panel()
        for w in self.warnings:
            log(f"  warning: {w}")
        sections: list[Section] = []
        tables: dict[str, Table] = {}
        results: dict[str, Any] = {}
        steps: list[tuple[str, str, Callable[[], Any]]] = [("data", "Data and sample", lambda: self.section_data(panel))]
        if cfg["descriptives"]["enabled"]:
            steps.append(("descriptives", "Descriptive statistics", lambda: self.section_descriptives(panel)))
        if cfg["correlation"]["enabled"]:
            steps.append(("correlation", "Correlation analysis", lambda: self.section_correlation(panel)))
        if cfg["baseline"]["enabled"]:
            steps.append(("baseline", "Baseline regression", lambda: self.section_baseline(panel)))
        timings = {}
        for key, title, fn in steps:
            log(f"  - {title} ...")
            s0 = time.perf_counter()
            try:
                got = fn()
            except Exception as err:  # a failed section is reported, the run goes on
                msg = f"{type(err).__name__}: {err}"
                if not isinstance(err, (PanelError, ConfigError)):
                    msg += "\n" + "".join(traceback.format_exception_only(type(err), err)).strip()
                sections.append(Section(key, title, error=msg))
                log(f"    FAILED: {msg.splitlines()[0]}")
                continue
            finally:
                timings[key] = round(time.perf_counter() - s0, 3)
            sec = got[0] if isinstance(got, tuple) else got
            sections.append(sec)
            if isinstance(got, tuple):
                tables[key] = got[1]
                if len(got) > 2:
                    results[key] = got[2]
        title = cfg["study"]["title"]
        meta = [f"climetrics {_versions()['climetrics']} · {time.strftime('%Y-%m-%d %H:%M')} · seed {cfg['study']['seed']}"]
        html_doc = render_report(title, sections, banner=self.data_note if self.truth is not None else None, meta=meta)
        atomic_write(out / "report.html", html_doc)
        for key, t in tables.items():
            atomic_write(out / "tables" / f"{key}.md", t.to_markdown() + "\n")
            atomic_write(out / "tables" / f"{key}.html", t.to_html() + "\n")
            atomic_write(out / "tables" / f"{key}.tex", t.to_latex() + "\n")
            atomic_write(out / "tables" / f"{key}.csv", t.to_frame().to_csv(index=False))
        manifest = {
            "title": title,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "versions": _versions(),
            "config": cfg.values,
            "config_text": cfg.source,
            "seed": cfg["study"]["seed"],
            "data": {"source": str(src) if src else "simulated", "sha256": self.data_hash,
                     "rows": len(panel), "columns": panel.columns},
            "truth": self.truth,
            "sections": {s.key: ("failed: " + s.error.splitlines()[0]) if s.error else "ok" for s in sections},
            "timings_s": timings,
            "results": {k: [r.to_dict() for r in v] for k, v in results.items()},
            "files": sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name != "manifest.json"),
            "wall_time_s": round(time.perf_counter() - t0, 3),
        }
        atomic_write(out / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False, default=str))
        log(f"climetrics: wrote {out / 'report.html'} ({manifest['wall_time_s']:.1f} s)")
        return RunResult(out_dir=out, sections=sections, results=results, manifest=manifest)

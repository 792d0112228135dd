"""Your files are safe (issue 12): climetrics writes only inside ``--out``, never touches its
inputs, owns the folders it writes, keeps one run per folder and exports nothing that attacks
the reader."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from climetrics.cli import main
from climetrics.errors import ConfigError
from climetrics.report.tables import Table, neutralise
from climetrics.study.output import MARKER, MAX_NAME, OutputFolder, slug
from climetrics.study.runner import Study

HOSTILE = [
    "../../evil",
    "..\\..\\win",
    "/etc/passwd",
    ".hidden",
    "..",
    ".",
    "",
    "a/b\\c",
    "ctl\x01\x1fname\n",
    "x" * 300,
    "CON",
    "nul.txt",
    "-rf",
    "城市 数字/经济",
    "name\x00null",
]


@pytest.mark.parametrize("name", HOSTILE, ids=range(len(HOSTILE)))
def test_slug_never_leaves_the_folder(name: str, tmp_path: Path) -> None:
    s = slug(name)
    assert s and len(s) <= MAX_NAME
    assert "/" not in s and "\\" not in s and "\x00" not in s
    assert not s.startswith((".", "-")) and ".." not in s
    assert all(ch.isprintable() and not ch.isspace() for ch in s)
    assert s.split(".")[0].lower() not in {"con", "nul"}
    target = (tmp_path / f"{s}.csv").resolve()
    assert target.parent == tmp_path.resolve()
    assert slug(name) == s  # deterministic


def test_slug_keeps_readable_names_and_distinct_long_ones() -> None:
    assert slug("heterogeneity_income") == "heterogeneity_income"
    assert slug("城市") == "城市"
    assert slug("a" * 200 + "1") != slug("a" * 200 + "2")


def _hostile_study(root: Path) -> Path:
    """A study whose data header, config values and title are hostile strings."""
    rng = np.random.default_rng(3)
    rows = [(f"c{i:02d}", 2010 + t) for i in range(16) for t in range(8)]
    df = pd.DataFrame(rows, columns=["city", "year"])
    k = df["city"].str[1:].astype(int)
    df["did"] = ((k < 8) & (df["year"] >= 2013 + k % 2)).astype(int)
    df["x"] = rng.normal(size=len(df)).round(3)
    df["y"] = (0.4 * df["did"] + rng.normal(size=len(df))).round(3)
    names = ["../../evil", ".hidden", "a/b\\c", "=cmd|' /C calc'!A0", "z" * 150]
    for j, name in enumerate(names):
        df[name] = (k % (2 + j)).astype(float) + rng.normal(scale=0.01, size=len(df)).round(3)
    df["pos1"], df["pos2"] = rng.uniform(1, 2, len(df)).round(3), rng.uniform(1, 2, len(df)).round(3)
    df.to_csv(root / "data.csv", index=False)
    by = "\n".join(f'[[heterogeneity.by]]\ncolumn = {json.dumps(n)}\nsplit = "median"' for n in names)
    cfg = root / "study.toml"
    cfg.write_text(f"""
[study]
title = "=HYPERLINK(\\"http://x\\") <script>alert(1)</script>"
output = "out"
[data]
path = "data.csv"
unit = "city"
time = "year"
[variables]
outcome = "y"
treatment = "did"
controls = ["x"]
labels = {{ x = "@SUM(A1:A9)" }}
[[prepare.entropy]]
column = "../../../pwned"
positive = ["pos1", "pos2"]
[[prepare.entropy]]
column = "manifest.json"
positive = ["pos1", "pos2"]
[correlation]
enabled = false
[model_selection]
enabled = false
[event_study]
enabled = false
[robust_did]
enabled = false
[robustness]
enabled = false
[iv]
enabled = false
[nonlinear]
enabled = false
[psm]
enabled = false
[mediation]
enabled = false
[placebo]
enabled = false
[heterogeneity]
n_perm = 0
{by}
""")
    return cfg


def _hashes(root: Path, skip: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and skip not in p.parents
    }


def test_hostile_study_writes_nothing_outside_out(tmp_path: Path) -> None:
    """Hash every file of a sandbox before and after a run whose config and data are full of
    hostile names: only files inside --out appear or change, inputs are byte-identical."""
    sandbox = tmp_path / "home" / "user" / "project"
    sandbox.mkdir(parents=True)
    for far in (tmp_path / "home" / "user", tmp_path / "home", tmp_path):
        (far / "precious.txt").write_text(f"do not touch {far.name}")
    cfg = _hostile_study(sandbox)
    out = sandbox / "out"
    before = _hashes(tmp_path, out)
    assert main(["run", str(cfg)]) == 0
    assert _hashes(tmp_path, out) == before
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["sections"].values()) == {"ok"}
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()
                     and not p.name.startswith(".") and ".cache" not in p.parts)
    assert written == sorted(manifest["files"] + ["manifest.json"])
    for rel in manifest["files"]:
        folder, name = rel.split("/") if "/" in rel else ("", rel)
        assert folder in ("", "tables", "figures") and not name.startswith(".")
        assert len(Path(name).stem) <= MAX_NAME + 3
    assert "tables/heterogeneity_evil.csv" in manifest["files"]
    assert "tables/entropy_weights_pwned.csv" in manifest["files"]
    assert "tables/entropy_weights_manifest.json.csv" in manifest["files"]
    # the title and labels reach exports only neutralised / escaped
    html = (out / "report.html").read_text()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    csv = (out / "tables" / "baseline.csv").read_text()
    assert "'@SUM(A1:A9)" in csv and "\n@SUM" not in csv


def _small_study(root: Path, *, heterogeneity: bool = True) -> Path:
    rng = np.random.default_rng(1)
    rows = [(f"c{i:02d}", 2010 + t) for i in range(12) for t in range(6)]
    df = pd.DataFrame(rows, columns=["city", "year"])
    k = df["city"].str[1:].astype(int)
    df["did"] = ((k < 6) & (df["year"] >= 2013)).astype(int)
    df["x"] = rng.normal(size=len(df)).round(3)
    df["size"] = (k % 3).astype(float)
    df["y"] = (0.4 * df["did"] + rng.normal(size=len(df))).round(3)
    df.to_csv(root / "data.csv", index=False)
    off = "\n".join(f"[{s}]\nenabled = false" for s in (
        "descriptives", "correlation", "model_selection", "event_study", "robust_did", "robustness",
        "iv", "nonlinear", "psm", "mediation", "placebo"))
    het = '[heterogeneity]\nn_perm = 0\n[[heterogeneity.by]]\ncolumn = "size"' if heterogeneity else \
        "[heterogeneity]\nenabled = false"
    cfg = root / "study.toml"
    cfg.write_text(f'[study]\noutput = "out"\n[data]\npath = "data.csv"\nunit = "city"\ntime = "year"\n'
                   f'[variables]\noutcome = "y"\ntreatment = "did"\ncontrols = ["x"]\n{off}\n{het}\n')
    return cfg


def _listed_and_present(out: Path) -> tuple[list[str], list[str]]:
    listed = json.loads((out / "manifest.json").read_text())["files"]
    present = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()
                     and p.parts[len(out.parts)] in ("tables", "figures", "report.html"))
    return sorted(listed), present


def test_outputs_of_a_disabled_section_are_removed_and_foreign_files_kept(tmp_path: Path) -> None:
    cfg = _small_study(tmp_path)
    out = tmp_path / "out"
    assert main(["run", str(cfg)]) == 0
    assert (out / MARKER).is_file()
    assert (out / "tables" / "heterogeneity_size.csv").is_file()
    (out / "tables" / "my_notes.txt").write_text("mine")  # a file climetrics did not write
    cfg.write_text(cfg.read_text().replace('[heterogeneity]\nn_perm = 0\n[[heterogeneity.by]]\ncolumn = "size"',
                                           "[heterogeneity]\nenabled = false"))
    assert main(["run", str(cfg)]) == 0
    listed, present = _listed_and_present(out)
    assert not (out / "tables" / "heterogeneity_size.csv").exists()
    assert not (out / "figures" / "heterogeneity_size.png").exists()
    assert (out / "tables" / "my_notes.txt").read_text() == "mine"
    assert "tables/my_notes.txt" not in listed
    assert listed == [p for p in present if p != "tables/my_notes.txt"]
    assert 'id="heterogeneity"' not in (out / "report.html").read_text()


def test_force_adopts_a_foreign_folder_without_deleting_its_files(tmp_path: Path, capsys) -> None:
    cfg = _small_study(tmp_path, heterogeneity=False)
    out = tmp_path / "shared"
    out.mkdir()
    (out / "thesis.docx").write_text("chapter 1")
    (out / "manifest.json").write_text(json.dumps({"files": ["thesis.docx", "../data.csv"]}))
    assert main(["run", str(cfg), "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err and not (out / MARKER).exists()
    assert main(["run", str(cfg), "--out", str(out), "--force"]) == 0
    assert (out / "thesis.docx").read_text() == "chapter 1"  # a foreign manifest is not obeyed
    assert (tmp_path / "data.csv").is_file()
    assert "thesis.docx" not in json.loads((out / "manifest.json").read_text())["files"]
    assert main(["run", str(cfg), "--out", str(out)]) == 0  # adopted: no --force needed now


def test_protected_inputs_are_never_overwritten(tmp_path: Path) -> None:
    """A config (or calendar) inside the output folder is refused even with force."""
    cfg = _small_study(tmp_path, heterogeneity=False)
    out = tmp_path / "out"
    out.mkdir()
    inner = out / "report.html"
    inner.write_text(cfg.read_text().replace('path = "data.csv"', 'path = "../data.csv"'))
    before = inner.read_bytes()
    with pytest.raises(ConfigError, match="contains the input file"):
        Study.from_file(inner).run(out, force=True, log=lambda *_: None)
    assert inner.read_bytes() == before


def test_symlinked_subfolder_cannot_redirect_writes(tmp_path: Path) -> None:
    cfg = _small_study(tmp_path, heterogeneity=False)
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert main(["run", str(cfg)]) == 0
    import shutil

    shutil.rmtree(out / "tables")
    (out / "tables").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(ConfigError, match="outside"):
        Study.from_file(cfg).run(out, log=lambda *_: None)
    assert list(elsewhere.iterdir()) == []


def test_a_failed_run_leaves_the_previous_outputs_whole(tmp_path: Path, monkeypatch) -> None:
    cfg = _small_study(tmp_path, heterogeneity=False)
    out = tmp_path / "out"
    assert main(["run", str(cfg)]) == 0
    before = _hashes(out, out / ".cache")
    import climetrics.study.runner as runner

    def boom(*a, **k):
        raise KeyboardInterrupt  # the user pressed Ctrl-C while the report was written

    monkeypatch.setattr(runner, "render_report", boom)
    with pytest.raises(KeyboardInterrupt):
        Study.from_file(cfg).run(out, log=lambda *_: None, cache=False)
    import gc

    gc.collect()
    after = _hashes(out, out / ".cache")
    assert {k: v for k, v in after.items() if not k.startswith(".")} == \
        {k: v for k, v in before.items() if not k.startswith(".")}
    assert not list(out.glob(".staging-*"))


def test_concurrent_runs_leave_one_consistent_run(tmp_path: Path) -> None:
    """Two processes write different studies into one folder at once: the folder ends with one
    complete run (report, tables and manifest agree), never a mix."""
    cfg = _small_study(tmp_path)
    other = tmp_path / "other.toml"
    other.write_text(cfg.read_text().replace('[heterogeneity]\nn_perm = 0\n[[heterogeneity.by]]\ncolumn = "size"',
                                             "[heterogeneity]\nenabled = false")
                     .replace("[study]\n", '[study]\ntitle = "second"\n'))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    procs = [subprocess.Popen([sys.executable, "-m", "climetrics.cli", "run", str(c), "--out", str(out)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for c in (cfg, other)]
    assert [p.wait(timeout=600) for p in procs] == [0, 0], [p.stderr.read() for p in procs]
    listed, present = _listed_and_present(out)
    assert listed == present
    manifest = json.loads((out / "manifest.json").read_text())
    het = "tables/heterogeneity_size.csv" in listed
    assert het == (manifest["title"] != "second")
    assert (f"<h1>{manifest['title']}</h1>" in (out / "report.html").read_text()) or \
        manifest["title"] in (out / "report.html").read_text()


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_outputs_respect_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    cfg = _small_study(tmp_path, heterogeneity=False)
    old = os.umask(umask)
    try:
        Study.from_file(cfg).run(log=lambda *_: None)
    finally:
        os.umask(old)
    out = tmp_path / "out"
    for p in [out / "report.html", out / "manifest.json", out / "tables" / "baseline.csv",
              out / "tables" / "baseline.xlsx"]:
        assert stat.S_IMODE(p.stat().st_mode) == mode, p


def test_output_folder_rules_directly(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        OutputFolder(tmp_path / "f").claim()
    folder = OutputFolder(tmp_path / "new" / "deep")
    folder.claim()
    assert (tmp_path / "new" / "deep" / MARKER).is_file()
    # a run killed with SIGKILL leaves its staging folder; the next run removes it (its pid is gone)
    dead = tmp_path / "new" / "deep" / ".staging-999999999-dead"
    dead.mkdir()
    (dead / "report.html").write_text("half")
    OutputFolder(tmp_path / "new" / "deep").claim()
    assert not dead.exists()
    stage = folder.staging()
    assert stage.stem("tables", "../x") == "tables/x" and stage.stem("tables", "..\\x") == "tables/x-2"
    stage.write("report.html", "ok")
    stage.commit()
    assert (tmp_path / "new" / "deep" / "report.html").read_text() == "ok"
    assert not list((tmp_path / "new" / "deep").glob(".staging-*"))


# ---------------------------------------------------------------------- exports
FORMULAS = ["=1+2", "+SUM(A1)", "-2+3", "@cmd", "\tTAB", "\rCR", "=HYPERLINK(\"http://x\")"]


def test_formula_like_text_is_neutralised_in_csv_and_xlsx(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    t = Table(columns=["(1)"], rows=[[f, "-0.123***"] for f in FORMULAS] + [["ok", "(-1.20)"]],
              title="=title", notes=["@note"], stub="+stub")
    csv = t.to_csv()
    for f in FORMULAS:
        assert neutralise(f) == "'" + f
    assert "'=1+2" in csv and "-0.123***" in csv and "'-0.123" not in csv
    t.to_xlsx(tmp_path / "t.xlsx")
    ws = load_workbook(tmp_path / "t.xlsx").active
    cells = [c for row in ws.iter_rows() for c in row if c.value is not None]
    assert all(c.data_type == "s" for c in cells)  # no formula cell anywhere
    texts = {c.value for c in cells}
    assert {"'=title", "'@note", "'+stub", "'=1+2", "-0.123***", "(-1.20)"} <= texts

"""End to end: `climetrics demo / run / check` write the report and never touch inputs."""

import hashlib
import json
import sys
from pathlib import Path

import pytest

import climetrics as cm
from climetrics.cli import main


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(out)]) == 0
    return out


def test_demo_writes_report_tables_manifest(demo_out):
    html = (demo_out / "report.html").read_text()
    for sec in ("data", "descriptives", "correlation", "baseline"):
        assert f'<section id="{sec}">' in html
    assert "SIMULATED DATA" in html and "data:image/png;base64," in html
    assert (demo_out / "figures" / "event_study.png").stat().st_size > 1000
    # each figure is written once per requested format (issue 17): png only by default
    assert not list((demo_out / "figures").glob("*.svg")) and not list((demo_out / "figures").glob("*.pdf"))
    assert "covers the truth" in html
    for key in ("descriptives", "correlation", "baseline"):
        for ext in ("md", "html", "tex", "csv", "xlsx", "docx"):
            assert (demo_out / "tables" / f"{key}.{ext}").stat().st_size > 0
    m = json.loads((demo_out / "manifest.json").read_text())
    assert m["versions"]["pyfixest"] and len(m["data"]["sha256"]) == 64
    assert set(m["sections"].values()) == {"ok"} and len(m["sections"]) == 14
    base = m["results"]["baseline"]
    assert len(base) == 5 and base[-1]["coefs"][0]["term"] == "did"
    lo, hi = base[-1]["coefs"][0]["ci_low"], base[-1]["coefs"][0]["ci_high"]
    assert lo <= m["truth"]["att"] <= hi


def test_demo_is_deterministic(demo_out, tmp_path):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    a = json.loads((demo_out / "manifest.json").read_text())
    b = json.loads((tmp_path / "manifest.json").read_text())
    assert a["results"] == b["results"] and a["data"]["sha256"] == b["data"]["sha256"]
    assert (demo_out / "tables" / "baseline.md").read_text() == (tmp_path / "tables" / "baseline.md").read_text()


def _write_study(tmp_path: Path, extra: str = "", treatment: str = "bbc") -> Path:
    df = cm.simulate(seed=11).panel.df.drop(columns=["did"])
    df.to_csv(tmp_path / "cities.csv", index=False)
    cfg = tmp_path / "study.toml"
    cfg.write_text(f"""
[study]
title = "User data <b>study</b>"
output = "results"

[data]
path = "cities.csv"
unit = "city"
time = "year"

[variables]
outcome = "lnci"
treatment = "{treatment}"
controls = ["lnpgdp", "gov"]

[[prepare.policies]]
name = "broadband_china"
column = "bbc"
{extra}
""")
    return cfg


def test_run_on_user_file_leaves_input_untouched(tmp_path):
    cfg = _write_study(tmp_path)
    before = sha(tmp_path / "cities.csv")
    assert main(["run", str(cfg)]) == 0
    assert sha(tmp_path / "cities.csv") == before
    html = (tmp_path / "results" / "report.html").read_text()
    assert "User data &lt;b&gt;study&lt;/b&gt;" in html and "<b>study</b>" not in html
    m = json.loads((tmp_path / "results" / "manifest.json").read_text())
    assert m["results"]["baseline"][-1]["coefs"][0]["term"] == "bbc"
    assert m["data"]["source"].endswith("cities.csv")
    assert "Warning: 3 units treated by &#x27;broadband_china&#x27; are not in the panel" in html


def test_user_calendar_for_unbundled_policy(tmp_path):
    cfg = _write_study(tmp_path, treatment="smart")
    (tmp_path / "smart.csv").write_text("city,adoption_year\n320500,2012\n330100,2013\n110100,2012\n")
    cfg.write_text(cfg.read_text() + '\n[[prepare.policies]]\nname = "smart_city"\ncolumn = "smart"\n'
                   'calendar = "smart.csv"\nunit_key = "adcode"\n')
    assert main(["run", str(cfg), "--out", str(tmp_path / "o")]) == 0
    m = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert m["results"]["baseline"][-1]["coefs"][0]["term"] == "smart"


def test_check_reports_every_bad_column(tmp_path, capsys):
    cfg = _write_study(tmp_path)
    cfg.write_text(cfg.read_text().replace('controls = ["lnpgdp", "gov"]', 'controls = ["lnpgdpp", "gvo"]'))
    assert main(["check", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "'variables.controls[0]': column 'lnpgdpp' is not in the data (did you mean 'lnpgdp'?)" in err
    assert "'variables.controls[1]': column 'gvo'" in err and "2 problems" in err


def test_failed_section_is_reported_and_run_continues(tmp_path, capsys):
    cfg = _write_study(tmp_path, treatment="coastal")  # time-invariant: collinear with city FE
    assert main(["run", str(cfg)]) == 1
    html = (tmp_path / "results" / "report.html").read_text()
    assert "This section failed and was skipped" in html and "collinear with the fixed effects" in html
    m = json.loads((tmp_path / "results" / "manifest.json").read_text())
    assert m["sections"]["descriptives"] == "ok" and m["sections"]["baseline"].startswith("failed: EstimationError")
    assert "baseline" in capsys.readouterr().err


def test_output_may_not_contain_input(tmp_path):
    cfg = _write_study(tmp_path)
    assert main(["run", str(cfg), "--out", str(tmp_path)]) == 2


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and cm.__version__ in capsys.readouterr().out


def test_gmm_section_runs_when_enabled(tmp_path):
    cfg = _write_study(tmp_path, extra="\n[gmm]\nenabled = true\nmethod = \"system\"\n")
    assert main(["run", str(cfg), "--out", str(tmp_path / "g")]) == 0
    m = json.loads((tmp_path / "g" / "manifest.json").read_text())
    assert m["sections"]["gmm"] == "ok" and m["sections"]["model_selection"] == "ok"
    gmm = m["results"]["gmm"][0]
    assert gmm["coefs"][0]["term"] == "L.lnci" and gmm["stats"]["n_instruments"] > 0
    assert "AR(2) test p =" in (tmp_path / "g" / "report.html").read_text()


def test_iv_and_nonlinear_sections(tmp_path):
    cfg = _write_study(tmp_path, extra='\n[iv]\ndistance_reference = "杭州市"\n\n[nonlinear]\nx = "lnpgdp"\n')
    cfg.write_text(cfg.read_text().replace('controls = ["lnpgdp", "gov"]', 'controls = ["gov"]'))
    assert main(["run", str(cfg), "--out", str(tmp_path / "n")]) == 0
    m = json.loads((tmp_path / "n" / "manifest.json").read_text())
    assert m["sections"]["iv"] == "ok" and m["sections"]["nonlinear"] == "ok"
    assert m["summaries"]["iv"]["first_stage_F"] > 0
    html = (tmp_path / "n" / "report.html").read_text()
    assert "Anderson-Rubin test, valid however weak the instrument" in html and "U-test p =" in html


def test_nddf_prepare_step_and_alternative_outcome(tmp_path):
    extra = ('\n[[prepare.nddf]]\ncolumn = "tfcpi"\n\n[robustness]\nalternative_outcomes = ["tfcpi"]\n'
             "shift_timing = []\n")
    cfg = _write_study(tmp_path, extra=extra)
    assert main(["run", str(cfg), "--out", str(tmp_path / "d")]) == 0
    m = json.loads((tmp_path / "d" / "manifest.json").read_text())
    cols = [r["depvar"] for r in m["results"]["robustness"]]
    assert cols == ["lnci", "lnci", "lnci", "tfcpi"]
    df = cm.simulate(seed=11).panel
    ref = cm.nddf_performance(df, ["capital", "labour", "energy"], "gdp", "co2", frontier="global")
    # the study's 'bbc' dummy comes from the same Broadband China calendar as the simulator's 'did'
    res = cm.twfe(df.assign(tfcpi=ref["tfcpi"].to_numpy()), "tfcpi", "did", ["lnpgdp", "gov"])
    assert m["results"]["robustness"][-1]["coefs"][0]["estimate"] == pytest.approx(res.coef("did"), rel=1e-10)


def test_unchanged_sections_are_reused_and_changed_ones_recomputed(tmp_path):
    cfg = _write_study(tmp_path)
    assert main(["run", str(cfg)]) == 0
    first = json.loads((tmp_path / "results" / "manifest.json").read_text())
    assert first["reused_from_cache"] == []
    cfg.write_text(cfg.read_text() + "\n[placebo]\nn_draws = 50\n")
    assert main(["run", str(cfg)]) == 0
    second = json.loads((tmp_path / "results" / "manifest.json").read_text())
    assert "placebo" not in second["reused_from_cache"] and "baseline" in second["reused_from_cache"]
    assert second["results"]["baseline"] == first["results"]["baseline"]
    assert second["summaries"]["placebo"]["space"]["draws"] == 50
    assert main(["run", str(cfg), "--no-cache"]) == 0
    assert json.loads((tmp_path / "results" / "manifest.json").read_text())["reused_from_cache"] == []


def test_progress_callback_sees_every_section(tmp_path):
    from climetrics.study.runner import Study

    calls = []
    run = Study.from_file(_write_study(tmp_path)).run(tmp_path / "p", log=lambda m: None,
                                                      progress=lambda d, t, title: calls.append((d, t, title)))
    n = len(run.sections)
    assert [c[0] for c in calls] == list(range(n + 1)) and all(c[1] == n for c in calls)
    assert calls[0][2] == "Data and sample" and calls[-1][2] == "writing the report"


def test_terminal_run_draws_replicate_progress(tmp_path, monkeypatch):
    """On a terminal the run shows a bar per section and one per batch of replicates (the
    placebo draws, the bootstraps): rich's bars receive the placebo's draw counts."""
    import io

    from rich.progress import Progress

    seen: list[tuple[str, float, float]] = []
    update = Progress.update

    def spy(self, task_id, **kw):
        update(self, task_id, **kw)
        task = self._tasks[task_id]
        seen.append((str(task.description), task.completed, task.total))

    monkeypatch.setattr(Progress, "update", spy)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    cfg = _write_study(tmp_path, extra="\n[placebo]\nn_draws = 40\n")
    assert main(["run", str(cfg)]) == 0
    placebo = [(done, total) for label, done, total in seen if "placebo draws" in label]
    assert placebo and placebo[-1] == (40, 40)
    assert any(label == "Placebo test" for label, _, _ in seen)


def test_figure_formats_are_written_as_asked(tmp_path):
    cfg = _write_study(tmp_path)
    text = cfg.read_text()
    assert "[study]" in text
    cfg.write_text(text.replace("[study]", '[study]\nfigure_formats = ["png", "svg", "pdf"]', 1))
    assert main(["run", str(cfg), "--out", str(tmp_path / "o")]) == 0
    figs = tmp_path / "o" / "figures"
    stems = {p.stem for p in figs.glob("*.png")}
    assert stems and all((figs / f"{s}.svg").stat().st_size > 1000 and (figs / f"{s}.pdf").stat().st_size > 1000 for s in stems)
    cfg.write_text(text.replace("[study]", '[study]\nfigure_formats = ["png", "eps"]', 1))
    assert main(["check", str(cfg)]) == 2

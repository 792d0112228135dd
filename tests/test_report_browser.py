"""The demo report in a real browser: every figure decodes, no console errors; screenshot saved.

Uses Debian's Chromium (``/usr/bin/chromium``) driven by Playwright. CI installs Chromium
(`.ci/run`) and sets ``CI``, in which case a missing browser is a failure, not a skip.
"""

import os
import shutil
from pathlib import Path

import pytest

from climetrics.cli import main

ARTIFACTS = Path(__file__).resolve().parents[1] / "out" / "test-artifacts"


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is required in CI (.ci/run installs Debian's chromium package)")
        pytest.skip("Chromium not installed (apt-get install chromium)")
    return path


@pytest.mark.slow
def test_demo_report_renders_in_chromium(tmp_path):
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    exe = _chromium()
    assert main(["demo", "--out", str(tmp_path)]) == 0
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
            "--disable-background-networking", "--disable-component-update"])
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((tmp_path / "report.html").as_uri())
        images = page.evaluate("Array.from(document.images).map(i => [i.alt, i.complete && i.naturalWidth > 0])")
        sections = page.evaluate("Array.from(document.querySelectorAll('section')).map(s => s.id)")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "demo_report.png"), full_page=True)
        browser.close()
    assert errors == []
    assert len(images) >= 8 and all(ok for _, ok in images), [alt for alt, ok in images if not ok]
    assert {"baseline", "event_study", "placebo", "robust_did", "psm", "mediation", "heterogeneity", "spatial"} <= set(sections)
    assert (ARTIFACTS / "demo_report.png").stat().st_size > 50_000

"""The report in a real headless Chromium: plots render, sections and tables exist, nothing leaves file://.

Uses Debian's /usr/bin/chromium driven by playwright's bundled driver (never
``playwright install``); skipped only when either is absent.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from plugins.report import ReportStats

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOT_COPY = None  # set to Path("examples/report-screenshot.png") to refresh the README image by hand

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium")


def test_report_renders_offline_in_chromium(seeded_report: tuple[ReportStats, str], tmp_path: Path) -> None:
    stats, _ = seeded_report
    requests: list[str] = []
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(stats.output.resolve().as_uri())
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=30_000)
            page.wait_for_function(  # every plot drawn, not just the first
                "Array.from(document.querySelectorAll('.js-plotly-plot')).every(d => d.querySelector('.main-svg'))",
                timeout=30_000,
            )
            sections = page.eval_on_selector_all("main > section", "els => els.map(e => e.id)")
            plots = page.locator(".js-plotly-plot").count()
            traces = page.locator(".js-plotly-plot .trace").count()
            tables = page.eval_on_selector_all("table.sortable", "els => els.map(e => e.id)")
            # Sorting is live: clicking the effect-size header twice orders the drift table descending.
            header = page.locator("#drift-table th", has_text="effect size")
            header.click()
            header.click()
            effects = page.eval_on_selector_all(
                "#drift-table tbody tr td:nth-child(5)", "tds => tds.map(t => parseFloat(t.dataset.sort))")
            # The edge-case bars are laid out: the slice's top feature has the widest bar.
            bars = page.eval_on_selector_all(
                "#edge-case-attributions .bar > span", "els => els.map(e => e.getBoundingClientRect().width)")
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    external = [u for u in requests if not u.startswith("file://")]
    assert not external, f"the report made network requests: {external}"
    assert not errors, errors
    assert sections == ["overview", "drift", "validation", "edge-cases", "performance", "estimated", "loops",
                        "alerts"]
    assert plots == 10 and traces >= 10
    assert {"models-table", "drift-table", "multivariate-table", "validation-table", "edge-case-table",
            "attribution-drift-table", "performance-table", "alerts-table"} <= set(tables)
    assert len(bars) == 2 and bars[0] > bars[1] > 0
    assert effects == sorted(effects, reverse=True) and len(effects) >= 3
    assert shot.stat().st_size > 50_000
    if SCREENSHOT_COPY is not None:
        shutil.copyfile(shot, SCREENSHOT_COPY)

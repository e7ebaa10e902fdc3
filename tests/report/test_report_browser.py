"""The HTML report as a browser shows it: opened from disk in headless Chromium (Debian's package),
the summary and one laid-out chart per drill. The report's inline script records what the browser laid
out on <body> (data-rendered-charts, data-summary-rows); --dump-dom returns the DOM after it ran."""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile

import pytest

from alertdrill.report import write_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (apt-get install -y chromium)")


def chromium(*args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              text=True, timeout=120)


def test_chromium_lays_out_the_summary_and_one_chart_per_drill(timelines, tmp_path):
    report = write_html(timelines, tmp_path / "report.html")
    dom = chromium("--virtual-time-budget=5000", "--window-size=1280,2000", "--dump-dom", report.as_uri()).stdout
    body = re.search(r"<body([^>]*)>", dom)
    assert body, f"chromium returned no DOM: {dom[:300]}"
    charts = re.search(r'data-rendered-charts="(\d+)"', body.group(1))
    rows = re.search(r'data-summary-rows="(\d+)"', body.group(1))
    assert charts and rows, f"the report's layout script did not run in the browser: <body{body.group(1)}>"
    assert (int(rows.group(1)), int(charts.group(1))) == (len(timelines), len(timelines))


def test_chromium_screenshots_the_report(timelines, tmp_path):
    report = write_html(timelines, tmp_path / "report.html")
    png = tmp_path / "report.png"
    chromium(f"--screenshot={png}", "--window-size=1100,1400", report.as_uri())
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 30_000, "a blank page compresses far smaller than a page with tables and charts"

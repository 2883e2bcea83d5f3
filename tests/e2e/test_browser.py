"""Open report.html in headless Chromium: no console errors or CSP
violations, the inline script ran, a screenshot and a PDF are produced.

Renders a report built here (synthetic cluster plus hostile strings) and the
report of the bundled demo cluster (scanned here, or the report.json that
KAUDIT_E2E_REPORT points at).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kaudit.report.html import HtmlFormatter
from kaudit.report.json import load_report
from kaudit.report.synthetic import synthetic_report
from tests.unit.report_builders import hostile_report

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[2]
GIVEN_REPORT = os.environ.get("KAUDIT_E2E_REPORT")

if not os.access(CHROMIUM, os.X_OK):
    pytest.skip("chromium not installed", allow_module_level=True)

# Chromium's own chatter on a headless box without D-Bus or a GPU; none of it
# is about the page.
_NOISE = re.compile(r"dbus|vaapi|sandbox_linux|idle_linux|unexpected operator|gpu|viz|fontconfig", re.I)


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90)


def page_problems(stderr: str) -> list[str]:
    """Console messages (errors, CSP violations) and uncaught exceptions."""
    return [line for line in stderr.splitlines()
            if ("CONSOLE" in line or "Uncaught" in line) and not _NOISE.search(line.split("]", 1)[0])]


def _reports() -> list[tuple[str, object, object]]:
    base = synthetic_report(pods=600)
    # Hostile strings inside a realistic report: the page must still load cleanly.
    base.results.extend(hostile_report().results)
    return [("synthetic", base, synthetic_report(pods=600, seed=3)), ("demo", _demo_report(), None)]


def _demo_report():
    if GIVEN_REPORT:
        return load_report(Path(GIVEN_REPORT))
    from kaudit.catalog import load_catalog
    from kaudit.collect.manifests import ManifestSource
    from kaudit.collect.node.saved import SavedNodeFactsSource
    from kaudit.resources import demo_dir
    from kaudit.scan import ScanRequest, run_scan
    return run_scan(ScanRequest(
        catalog=load_catalog(), node_access="saved",
        cluster_source=ManifestSource([demo_dir() / "manifests"], source_name="demo"),
        node_source=SavedNodeFactsSource([demo_dir() / "nodes"])))


@pytest.mark.parametrize("name, report, previous", _reports(), ids=lambda v: v if isinstance(v, str) else "")
def test_report_opens_cleanly_runs_its_script_and_prints(tmp_path, name, report, previous):
    html_path = tmp_path / "report.html"
    html_path.write_bytes(HtmlFormatter(previous=previous).render(report))
    url = html_path.as_uri()

    dom = chromium(tmp_path, "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert page_problems(dom.stderr) == []
    # The filter script ran under the page's CSP: it marks the root and fills in the count.
    assert re.search(r'<html[^>]*data-js="ready"', dom.stdout)
    assert re.search(r'id="filter-count"[^>]*>\d+ of \d+ recommendations shown<', dom.stdout)
    assert '<div id="filters" class="filters" hidden' not in dom.stdout

    shot = tmp_path / f"{name}.png"
    run = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", url)
    assert run.returncode == 0 and page_problems(run.stderr) == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000

    pdf = tmp_path / f"{name}.pdf"
    run = chromium(tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", url)
    assert run.returncode == 0 and page_problems(run.stderr) == []
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page[^s]", data)) >= 3

    keep = os.environ.get("KAUDIT_E2E_KEEP")      # a directory to keep the artefacts for a human look
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for p in (html_path, shot, pdf):
            shutil.copy(p, Path(keep) / f"{name}-{p.name}" if p is html_path else Path(keep) / p.name)

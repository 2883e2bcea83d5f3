"""report.pdf as an auditor files it: the demo cluster scanned through the CLI,
the PDF read back with a PDF library (text, page count, running header and
footer) and its pages rendered to images (pdftoppm) that are kept as a test
artefact and checked for content cut off at the page edge."""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pypdf = pytest.importorskip("pypdf")
pytest.importorskip("weasyprint")

from kaudit.model import Evidence, Status, Target  # noqa: E402
from kaudit.report.pdf import PdfFormatter, split_matrix  # noqa: E402
from kaudit.report.html import build_view  # noqa: E402
from tests.unit.report_builders import hostile_report, report, result  # noqa: E402

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
# Page images land here so a person can look at them (CI keeps the directory).
ARTEFACTS = Path(os.environ.get("KAUDIT_TEST_ARTEFACTS", ROOT / "build" / "test-artefacts")) / "pdf"


def kaudit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kaudit", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)


def pages_text(pdf: bytes) -> list[str]:
    return [p.extract_text() or "" for p in pypdf.PdfReader(io.BytesIO(pdf)).pages]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo-pdf")
    proc = kaudit("scan", "--demo", "--output-dir", str(out), "--format", "json,html,junit,pdf",
                  "--fail-on", "never", "-q")
    assert proc.returncode == 0, proc.stderr
    return out


def test_demo_findings_edition_is_a_short_paginated_document(demo):
    pdf = (demo / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-")
    texts = pages_text(pdf)
    assert 5 <= len(texts) <= 25, len(texts)          # 136 pages when the HTML was printed
    n = len(texts)
    for i, text in enumerate(texts[1:], start=2):    # the title page has no running header
        flat = " ".join(text.split())
        assert f"page {i} of {n}" in flat, (i, flat[-200:])
        assert "Cluster kaudit demo cluster" in flat  # running header: the cluster
        assert "Scan 20" in flat                      # running footer: the scan date


def test_demo_pdf_carries_score_failures_with_evidence_and_the_pass_index(demo):
    data = json.loads((demo / "report.json").read_text())
    text = " ".join(" ".join(pages_text((demo / "report.pdf").read_bytes())).split())
    headline = data["score"]["headline_percent"]
    assert f"{headline:.1f}%" in text and "of CIS-Automated recommendations pass" in text
    fail = next(r for r in data["results"] if r["status"] == "FAIL" and r["evidence"])
    assert fail["check"] in text
    ev = fail["evidence"][0]
    assert ev["what"].split()[0] in text and str(ev["value"]).split()[0] in text
    assert "Recommendations that passed" in text
    passed_everywhere = {r["check"] for r in data["results"]} - {
        r["check"] for r in data["results"] if r["status"] != "PASS"}
    assert passed_everywhere and all(cid in text for cid in passed_everywhere)
    # The integrity link between the PDF and the JSON it was made from.
    import hashlib
    digest = hashlib.sha256((demo / "report.json").read_bytes()).hexdigest()
    assert digest in text.replace(" ", "")


def test_sha256sums_cover_the_pdf_with_report_json_first(demo):
    lines = (demo / "SHA256SUMS").read_text().splitlines()
    names = [line.split("  ", 1)[1] for line in lines]
    assert names[0] == "report.json" and "report.pdf" in names


def test_page_images_have_nothing_cut_off_at_the_right_edge(demo):
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) not installed")
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTEFACTS.glob("demo-*.ppm"):
        old.unlink()
    subprocess.run(["pdftoppm", "-r", "40", str(demo / "report.pdf"), str(ARTEFACTS / "demo")], check=True,
                   timeout=300)
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(demo / "report.pdf"), str(ARTEFACTS / "demo")],
                   check=True, timeout=300)
    images = sorted(ARTEFACTS.glob("demo-*.ppm"))
    assert images
    for path in images:
        width, height, pixels = _read_ppm(path.read_bytes())
        # The right page margin (14 mm of 210) must be blank: a table wider
        # than the page (the old node matrix) paints into it or off it.
        margin = int(width * 8 / 210)
        for y in range(height):
            row = pixels[(y * width + width - margin) * 3:(y * width + width) * 3]
            assert min(row) > 200, f"{path.name}: ink in the right margin at row {y}"
        path.unlink()                      # keep the PNGs only


def _read_ppm(data: bytes) -> tuple[int, int, bytes]:
    m = re.match(rb"P6\s+(\d+)\s+(\d+)\s+(\d+)\s", data)
    assert m, "not a binary PPM"
    width, height = int(m.group(1)), int(m.group(2))
    return width, height, data[m.end():]


def _wide_node_report():
    """30 node-level checks on 3 nodes: a matrix far wider than a page."""
    results = []
    for i in range(1, 31):
        for node in ("cp-1", "worker-1", "worker-2"):
            status = Status.FAIL if (i == 30 and node == "worker-2") else Status.PASS
            results.append(result(f"4.2.{i}", status, Target("Node", node, node=node), title=f"kubelet setting {i}",
                                  evidence=(Evidence(f"setting {i}", "x", f"configz of {node}"),)))
    return report(results)


def test_node_matrix_is_split_by_column_groups_with_node_names_repeated():
    rep = _wide_node_report()
    (mx,) = build_view(rep).matrices
    parts = split_matrix(mx, columns_per_table=14)
    assert [len(p.columns) for p in parts] == [14, 14, 2]
    assert all([r.nodes[0] for r in p.rows] == [r.nodes[0] for r in parts[0].rows] for p in parts)
    text = " ".join(" ".join(pages_text(PdfFormatter().render(rep))).split())
    matrix = text[text.index("Node matrix"):text.index("Findings")]
    assert "4.2.30" in matrix                       # the last column, with its FAIL, is on the page
    assert matrix.count("worker-2") >= 3            # the row label in every column group


def test_full_edition_shows_passing_targets_with_their_evidence():
    rep = _wide_node_report()
    findings = " ".join(" ".join(pages_text(PdfFormatter().render(rep))).split())
    full = " ".join(" ".join(pages_text(PdfFormatter(edition="full").render(rep))).split())
    assert "configz of cp-1" not in findings.split("Findings", 1)[1].split("Recommendations that passed")[0]
    assert "configz of cp-1" in full


def test_incomplete_scan_has_no_headline_score():
    rep = report([result("1.2.1", Status.PASS)], complete=False, incomplete_reasons=["SIGTERM while listing pods"])
    first = " ".join(pages_text(PdfFormatter().render(rep))[0].split())
    assert "Incomplete scan" in first and "SIGTERM while listing pods" in first
    assert "%" not in first


def test_hostile_strings_are_text_and_nothing_is_fetched():
    rep = hostile_report()
    rep.results.append(result("1.2.2", Status.FAIL, Target("Pod", '<img src="http://127.0.0.1:9/x.png">'),
                              message='<link rel=stylesheet href="file:///etc/passwd">'))
    html = PdfFormatter().render_html(rep)
    assert "<script>alert(1)" not in html and '<img src="http://127.0.0.1' not in html
    text = " ".join(" ".join(pages_text(PdfFormatter().render(rep))).split())
    assert "<img src=" in text                       # shown as text, not loaded


def test_a_grouped_pass_is_counted_in_the_findings_edition_and_named_capped_in_the_full_one():
    """issue 15: a PASS naming 250 workloads; the findings index counts them, the full edition names 100."""
    from kaudit.report.pdf import PDF_PASS_NAMES
    passed = tuple(Target("Deployment", f"ok{i:03d}", namespace="shop") for i in range(250))
    rep = report([result("5.4.1", Status.PASS, Target("Cluster", "cluster"), passed=passed,
                         message="250 of 250 workloads pass: none reads a Secret into environment variables")])
    findings = PdfFormatter().render_html(rep)
    index = findings[findings.index('id="passed-index"'):]
    assert "5.4.1" in index and "250 targets" in index and "ok000" not in findings
    full = PdfFormatter(edition="full").render_html(rep)
    assert "250 passing targets" in full and "ok000, ok001" in full
    assert f"ok{PDF_PASS_NAMES - 1:03d}" in full and f"ok{PDF_PASS_NAMES:03d}" not in full
    assert f"and {250 - PDF_PASS_NAMES} more" in full
    assert "more passing targets in report.json" not in full      # the row itself says how many more
    text = " ".join(pages_text(PdfFormatter(edition="full").render(rep)))
    assert "250 passing targets" in text

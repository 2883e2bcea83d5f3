"""report.pdf: the paginated deliverable an auditor files.

Rendered from the same view model as report.html (kaudit.report.html) with
print templates (templates/pdf/) and WeasyPrint, a renderer made for paged
media: CSS `@page` margin boxes carry the running header and footer
("page X of Y"), tables repeat their header rows on each page and rows never
split. Two editions:

- `findings` (default): cover, summary, trend, node matrix, every non-PASS
  result with its evidence and remediation, limits, waivers, and a one-line
  index of the recommendations that passed;
- `full`: the same plus the PASS results and their evidence; a PASS that
  stands for many targets names the first PDF_PASS_NAMES of them (the
  findings edition gives their count).

Safe by construction: every cluster string is escaped by the same jinja
environment as the HTML; cluster strings reach the running header through
CSS `string-set` from escaped text, never inside a stylesheet; and the
renderer fetches nothing (no network, no file): any URL is refused.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from markupsafe import Markup

from kaudit.model import Report, Result, Status
from kaudit.report import Formatter
from kaudit.report.html import (Matrix, MatrixRow, PassRow, ReportView, _environment, _pass_row, build_view)
from kaudit.resources import data_dir

EDITIONS = ("findings", "full")

# Print limits: a page holds far less than a screen. report.json keeps everything.
PDF_ROWS_PER_CHECK = 8           # non-PASS targets listed per recommendation
PDF_EVIDENCE_ROWS = 2            # ... of which the first ones carry their evidence table
PDF_EVIDENCE_PER_RESULT = 6
PDF_MATRIX_COLUMNS = 14          # node-matrix columns per page-wide table
PDF_MATRIX_ROWS = 40             # distinct node profiles per matrix
PDF_PASS_ROWS = 25               # PASS results with evidence per recommendation (full edition)
PDF_PASS_NAMES = 100             # targets named under a PASS that stands for many (full edition)


class PdfUnavailable(RuntimeError):
    """WeasyPrint (the `pdf` extra) or its system libraries are not installed."""


def require_renderer():
    try:
        import weasyprint            # noqa: PLC0415 - optional, heavy: only when a PDF is asked for
    except (ImportError, OSError) as exc:    # OSError: pango/harfbuzz missing
        raise PdfUnavailable(
            "PDF output needs WeasyPrint and the Pango library: pip install 'kaudit[pdf]' "
            f"(and the Debian package libpango-1.0-0): {exc}") from None
    return weasyprint


def _refuse_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    # A report never loads anything: not a font, not an image, not a file.
    raise ValueError(f"kaudit's PDF renderer fetches nothing (refused {url[:80]!r})")


@dataclass(slots=True)
class MatrixPage:
    """One page-wide slice of a node matrix: the same rows, a group of columns."""
    section: str
    title: str
    part: int
    parts: int
    columns: list[str]
    rows: list[MatrixRow]
    rows_hidden: int
    nodes_hidden: int


def split_matrix(mx: Matrix, columns_per_table: int = PDF_MATRIX_COLUMNS,
                 max_rows: int = PDF_MATRIX_ROWS) -> list[MatrixPage]:
    """Split a matrix by column groups, row labels repeated in each group, so
    no column falls off the right edge of the page."""
    groups = [list(range(i, min(i + columns_per_table, len(mx.columns))))
              for i in range(0, len(mx.columns), columns_per_table)] or [[]]
    rows = mx.rows[:max_rows]
    extra_rows = mx.rows[max_rows:]
    hidden = mx.rows_hidden + len(extra_rows)
    hidden_nodes = mx.nodes_hidden + sum(r.node_count for r in extra_rows)
    pages = []
    for part, idx in enumerate(groups, start=1):
        pages.append(MatrixPage(
            section=mx.section, title=mx.title, part=part, parts=len(groups),
            columns=[mx.columns[i] for i in idx],
            rows=[MatrixRow(nodes=r.nodes, node_count=r.node_count, cells=[r.cells[i] for i in idx])
                  for r in rows],
            rows_hidden=hidden, nodes_hidden=hidden_nodes))
    return pages


@dataclass(slots=True)
class PassIndexLine:
    id: str
    title: str
    targets: int
    cis_label: str


def pass_index(view: ReportView) -> list[PassIndexLine]:
    """Recommendations whose every target passed: one line each in the findings edition."""
    out = []
    for s in view.sections:
        for c in s.checks:
            if set(c.counts) == {Status.PASS.value}:
                out.append(PassIndexLine(id=c.id, title=c.title, targets=c.total, cis_label=c.cis_label))
    return out


class PdfFormatter(Formatter):
    name = "pdf"
    filename = "report.pdf"

    def __init__(self, previous: Report | None = None, section_titles: Mapping[str, str] | None = None,
                 edition: str = "findings", report_json_sha256: str | None = None) -> None:
        if edition not in EDITIONS:
            raise ValueError(f"unknown PDF edition {edition!r}; choose from {', '.join(EDITIONS)}")
        self.previous = previous
        self.section_titles = section_titles
        self.edition = edition
        self.report_json_sha256 = report_json_sha256
        self._env = _environment()

    def render_html(self, report: Report) -> str:
        """The print HTML WeasyPrint lays out (tests read it; it is not written)."""
        view = build_view(report, self.previous, self.section_titles, max_rows_per_check=PDF_ROWS_PER_CHECK)
        pass_rows: dict[str, list[PassRow]] = {}
        if self.edition == "full":
            for r in report.results:
                if r.status is Status.PASS:
                    rows = pass_rows.setdefault(r.check, [])
                    if len(rows) < PDF_PASS_ROWS:
                        rows.append(_pass_row(r, PDF_PASS_NAMES))
        style = (data_dir("templates") / "pdf" / "print.css").read_text(encoding="utf-8")
        return self._env.get_template("pdf/report.pdf.html.j2").render(
            v=view, r=report, scan=report.scan, edition=self.edition, style=Markup(style),   # kaudit's own CSS
            matrix_pages=[p for mx in view.matrices for p in split_matrix(mx)],
            pass_index=pass_index(view), pass_rows=pass_rows,
            pdf_evidence=PDF_EVIDENCE_PER_RESULT, evidence_rows=PDF_EVIDENCE_ROWS, report_json_sha256=self.report_json_sha256,
        )

    def render(self, report: Report) -> bytes:
        weasyprint = require_renderer()
        html = self.render_html(report)
        doc = weasyprint.HTML(string=html, url_fetcher=_refuse_fetch, base_url=None)
        return doc.write_pdf()

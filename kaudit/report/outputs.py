"""Write a report directory: report.json, report.html, junit.xml, SHA256SUMS.

Used by both `kaudit scan` and `kaudit render`. Every format is rendered
first (each into a hidden temporary file), so a formatter that fails leaves
the previous directory untouched rather than a mix of old and new files;
the files are then renamed into place and the checksums written last.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterable, Mapping

from kaudit.gcpause import paused_gc
from kaudit.model import Report
from kaudit.report import Formatter, stage_file
from kaudit.report.html import HtmlFormatter
from kaudit.report.integrity import SIGNATURE_NAME, sign_sha256sums, write_sha256sums
from kaudit.report.json import JsonFormatter
from kaudit.report.junit import JunitFormatter
from kaudit.report.text import TextFormatter

FORMATS = ("json", "html", "junit", "text", "pdf")
DEFAULT_FORMATS = ("json", "html", "junit")


def formatter_for(name: str, previous: Report | None = None,
                  section_titles: Mapping[str, str] | None = None, pdf_edition: str = "findings") -> Formatter:
    if name == "pdf":
        from kaudit.report.pdf import PdfFormatter    # WeasyPrint loads only when a PDF is asked for
        return PdfFormatter(previous=previous, section_titles=section_titles, edition=pdf_edition)
    if name == "json":
        return JsonFormatter()
    if name == "html":
        return HtmlFormatter(previous=previous, section_titles=section_titles)
    if name == "junit":
        return JunitFormatter()
    if name == "text":
        return TextFormatter()
    raise ValueError(f"unknown report format {name!r}; choose from {', '.join(FORMATS)}")


def write_reports(report: Report, output_dir: Path | str,
                  formats: Iterable[str] = DEFAULT_FORMATS,
                  previous: Report | None = None,
                  section_titles: Mapping[str, str] | None = None,
                  pdf_edition: str = "findings",
                  report_json_sha256: str | None = None,
                  sign_key=None) -> list[Path]:
    """Render `formats` into `output_dir`; returns the files written, SHA256SUMS last.

    report.json is rendered first, and its SHA-256 is shown in the HTML and
    PDF written with it (`report_json_sha256` gives it when report.json is
    not among the formats, as in `kaudit render` in place). SHA256SUMS covers
    every report file in the directory; with `sign_key` (a paramiko PKey) it is
    signed (SHA256SUMS.sig), and a signature it would no longer match is removed.
    """
    output_dir = Path(output_dir)
    names = list(dict.fromkeys(formats))          # keep order, drop duplicates
    if not names:
        raise ValueError("no report format selected")
    names.sort(key=lambda n: n != "json")         # report.json first: its digest goes into the others
    formatters = [formatter_for(n, previous, section_titles, pdf_edition) for n in names]
    # One format in memory at a time (at 150,000 pods report.json and junit.xml
    # are ~170 MB each): each is rendered into a hidden temporary file, and
    # only when every format rendered are they renamed into place.
    created = not output_dir.exists()
    staged: list[tuple[Path, str]] = []
    try:
        with paused_gc():      # rendering 150,000 results allocates millions of acyclic objects
            for f in formatters:
                path = output_dir / f.filename
                if hasattr(f, "report_json_sha256"):
                    f.report_json_sha256 = report_json_sha256
                data = f.render(report)
                if f.name == "json":
                    report_json_sha256 = hashlib.sha256(data).hexdigest()
                staged.append((path, stage_file(path, data)))
                del data
        for path, tmp in staged:
            os.replace(tmp, path)
    except BaseException:
        for _, tmp in staged:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        if created:
            try:
                output_dir.rmdir()          # only if still empty: never remove a user's files
            except OSError:
                pass
        raise
    written = [path for path, _ in staged]
    written.append(write_sha256sums(output_dir, report_set_files(output_dir)))
    if sign_key is not None:
        written.append(sign_sha256sums(output_dir, sign_key))
    else:
        try:
            (output_dir / SIGNATURE_NAME).unlink()     # it signed the SHA256SUMS just replaced
        except FileNotFoundError:
            pass
    return written


# Every file a report set can hold, report.json first (SHA256SUMS order).
REPORT_SET = ("report.json", "report.html", "junit.xml", "report.pdf", "report.txt")


def report_set_files(directory: Path) -> list[str]:
    """The report files present in `directory`: SHA256SUMS covers all of them,
    also those a `kaudit render` in place did not rewrite."""
    return [name for name in REPORT_SET if (directory / name).is_file()]

"""Write a report directory: report.json, report.html, junit.xml, SHA256SUMS.

Used by both `kaudit scan` and `kaudit render`. Every format is rendered in
memory first, so a formatter that fails leaves the previous directory
untouched rather than a mix of old and new files; each file is then written
atomically and the checksums last.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping

from kaudit.model import Report
from kaudit.report import Formatter, write_atomic
from kaudit.report.html import HtmlFormatter
from kaudit.report.integrity import write_sha256sums
from kaudit.report.json import JsonFormatter
from kaudit.report.junit import JunitFormatter
from kaudit.report.text import TextFormatter

FORMATS = ("json", "html", "junit", "text")
DEFAULT_FORMATS = ("json", "html", "junit")


def formatter_for(name: str, previous: Report | None = None,
                  section_titles: Mapping[str, str] | None = None) -> Formatter:
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
                  section_titles: Mapping[str, str] | None = None) -> list[Path]:
    """Render `formats` into `output_dir`; returns the files written, SHA256SUMS last."""
    output_dir = Path(output_dir)
    names = list(dict.fromkeys(formats))          # keep order, drop duplicates
    if not names:
        raise ValueError("no report format selected")
    formatters = [formatter_for(n, previous, section_titles) for n in names]
    rendered = [(f.filename, f.render(report)) for f in formatters]
    written: list[Path] = []
    for filename, data in rendered:
        path = output_dir / filename
        write_atomic(path, data)
        written.append(path)
    written.append(write_sha256sums(output_dir, [p.name for p in written]))
    return written

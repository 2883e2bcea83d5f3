"""Write a report directory: report.json, report.html, junit.xml, SHA256SUMS.

Used by both `kaudit scan` and `kaudit render`. Every format is rendered
first (each into a hidden temporary file), so a formatter that fails leaves
the previous directory untouched rather than a mix of old and new files;
the files are then renamed into place and the checksums written last.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Mapping

from kaudit.gcpause import paused_gc
from kaudit.model import Report
from kaudit.report import Formatter, stage_file
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
    # One format in memory at a time (at 150,000 pods report.json and junit.xml
    # are ~170 MB each): each is rendered into a hidden temporary file, and
    # only when every format rendered are they renamed into place.
    created = not output_dir.exists()
    staged: list[tuple[Path, str]] = []
    try:
        with paused_gc():      # rendering 150,000 results allocates millions of acyclic objects
            for f in formatters:
                path = output_dir / f.filename
                staged.append((path, stage_file(path, f.render(report))))
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
    written.append(write_sha256sums(output_dir, [p.name for p in written]))
    return written

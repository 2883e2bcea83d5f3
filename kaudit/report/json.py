"""report.json: the source of truth every other format is rendered from."""
from __future__ import annotations

import json
from pathlib import Path

from kaudit.model import Report
from kaudit.report import Formatter


class JsonFormatter(Formatter):
    name = "json"
    filename = "report.json"

    def render(self, report: Report) -> bytes:
        # A lone surrogate (possible from a hostile manifest's "\\ud800" escape)
        # cannot be UTF-8 encoded; backslashreplace writes it back as the JSON
        # escape it came from, so the file stays valid and round-trips.
        text = json.dumps(report.to_json(), indent=1, ensure_ascii=False) + "\n"
        return text.encode("utf-8", "backslashreplace")


def load_report(path: Path) -> Report:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read report: {exc}") from None
    return Report.from_json(data)

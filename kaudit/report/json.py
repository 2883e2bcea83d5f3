"""report.json: the source of truth every other format is rendered from."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Callable, Iterable

from kaudit import yamlsafe
from kaudit.gcpause import paused_gc
from kaudit.model import Report, Result, result_reader
from kaudit.report import Formatter

# The top-level members Report.to_json() writes, in order; "checks" and
# "results" are written one entry per line, everything before them indented.
_TOP_LEVEL = ("schema_version", "tool", "scan", "summary", "score", "waivers", "checks", "results")


class JsonFormatter(Formatter):
    name = "json"
    filename = "report.json"

    def render(self, report: Report) -> bytes:
        """report.json: the members before `checks` as `json.dumps(indent=1)`
        lays them out, then one line per check and one line per result.

        What every result of a check shares (title, remediation, level, ...)
        is written once, in `checks`; a result row holds what is its own.
        One compact line per result keeps a 150,000-pod report near a third
        of the indented, repeated layout's size (issue 15) and still lets
        `grep` and `jq -c` work line by line; `jq .` pretty-prints it.

        A lone surrogate (possible from a hostile manifest's "\\ud800" escape)
        cannot be UTF-8 encoded; backslashreplace writes it back as the JSON
        escape it came from, so the file stays valid and round-trips.
        Produced result by result: one result's dict is held at a time.
        """
        shell = copy.copy(report)
        shell.results = []
        top = shell.to_json()
        if tuple(top) != _TOP_LEVEL:
            raise AssertionError(f"report.json members changed: {tuple(top)}")
        top["summary"] = report.counts()
        top["score"] = report.benchmark_score().to_json()
        del top["checks"], top["results"]
        head = json.dumps(top, indent=1, ensure_ascii=False)
        assert head.endswith("\n}")
        chunks = [head[:-2]]
        chunks.append(',\n "checks": ')
        chunks.append(_lines(((cid, info) for cid, info in report.checks_table().items()), "{", "}",
                             lambda item: _compact(item[0]) + ": " + _compact(item[1])))
        chunks.append(',\n "results": ')
        chunks.append(_lines(report.results, "[", "]", lambda r: _compact(r.to_json(with_check_info=False))))
        chunks.append("\n}\n")
        return "".join(chunks).encode("utf-8", "backslashreplace")


def _compact(o: Any) -> str:
    return json.dumps(o, ensure_ascii=False, separators=(",", ":"))


def _lines(items: Iterable[Any], open_: str, close: str, one: Callable[[Any], str]) -> str:
    """A JSON array or object with one member per line, indented by two."""
    parts = [one(item) for item in items]
    if not parts:
        return open_ + close
    return open_ + "\n  " + ",\n  ".join(parts) + "\n " + close


def load_report_for_trend(path: Path) -> Report:
    """A previous report, reduced to what a trend or a diff compares: each
    result's check, title, severity, target and status (evidence, messages
    and remediation dropped). Streams `results` one at a time, so comparing
    with a 150,000-pod report does not hold it whole in memory."""
    from kaudit.collect.jsonstream import NotStreamable, iter_list

    drop = ("evidence", "remediation", "message", "waiver")
    members: dict = {}
    results: list[Result] = []
    read = None
    with paused_gc():
        try:
            with Path(path).open(encoding="utf-8") as fh:
                for event, key, value in iter_list(fh, array="results"):
                    if event == "member":
                        members[key] = value
                    elif isinstance(value, dict):
                        for k in drop:
                            value.pop(k, None)
                        if read is None:     # `checks` (schema 2.0) precedes `results`
                            light = dict(members)
                            if isinstance(light.get("checks"), dict):
                                light["checks"] = {c: {k: v for k, v in info.items() if k != "remediation"}
                                                   for c, info in light["checks"].items()
                                                   if isinstance(info, dict)}
                            read = result_reader(light)
                        results.append(read(value))
        except NotStreamable:
            return load_report(path)      # unusual layout: read it whole (same meaning)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: cannot read report: {exc}") from None
        members["results"] = []
        report = Report.from_json(members)
        report.results = results
        return report


def load_report(path: Path) -> Report:
    with paused_gc():     # a 150,000-pod report is ~200,000 results of small acyclic objects
        try:
            data = yamlsafe.load_json(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: cannot read report: {exc}") from None
        return Report.from_json(data)

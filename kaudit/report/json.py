"""report.json: the source of truth every other format is rendered from."""
from __future__ import annotations

import copy
import json
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

from kaudit import yamlsafe
from kaudit.gcpause import paused_gc
from kaudit.model import Report, Result
from kaudit.report import Formatter

# The top-level members Report.to_json() writes; the fast path below relies on
# "results" being the only one that grows with the cluster.
_TOP_LEVEL = ("schema_version", "tool", "scan", "summary", "score", "waivers", "results")


class JsonFormatter(Formatter):
    name = "json"
    filename = "report.json"

    def render(self, report: Report) -> bytes:
        """The bytes of `json.dumps(report.to_json(), indent=1, ensure_ascii=False) + "\\n"`.

        A lone surrogate (possible from a hostile manifest's "\\ud800" escape)
        cannot be UTF-8 encoded; backslashreplace writes it back as the JSON
        escape it came from, so the file stays valid and round-trips.

        Produced result by result: 150,000 results as one dict tree, one
        str and its bytes held 700 MiB and took 5.5 s with json's pure-Python
        indenting encoder; this holds one result's dict at a time.
        """
        shell = copy.copy(report)
        shell.results = []
        top = shell.to_json()
        if tuple(top) != _TOP_LEVEL:        # the model changed shape: take the plain path
            text = json.dumps(report.to_json(), indent=1, ensure_ascii=False) + "\n"
            return text.encode("utf-8", "backslashreplace")
        top["summary"] = report.counts()
        top["score"] = report.benchmark_score().to_json()
        head: list[str] = []
        del top["results"]
        _encode(top, 0, head)
        # `head` ends with "\n}": reopen the object to append "results".
        assert head[-1] == "\n}"
        head[-1] = ',\n "results": '
        chunks = ["".join(head).encode("utf-8", "backslashreplace")]
        if not report.results:
            chunks.append(b"[]")
        else:
            sep = "[\n  "
            for result in report.results:
                parts = [sep]
                _encode(result.to_json(), 2, parts)
                chunks.append("".join(parts).encode("utf-8", "backslashreplace"))
                sep = ",\n  "
            chunks.append(b"\n ]")
        chunks.append(b"\n}\n")
        return b"".join(chunks)


def _encode(o: Any, level: int, out: list[str]) -> None:
    """json.dumps(o, indent=1, ensure_ascii=False) at nesting `level`, appended to `out`.

    Exact types only (what Report.to_json produces); anything else goes
    through json.dumps itself, so the output is always json's own.
    """
    t = type(o)
    if t is str:
        out.append(encode_basestring(o))
    elif t is dict:
        if not o:
            out.append("{}")
            return
        if any(type(k) is not str for k in o):
            out.append(_reindent(json.dumps(o, indent=1, ensure_ascii=False), level))
            return
        inner = "\n" + " " * (level + 1)
        sep = "{" + inner
        for key, value in o.items():
            out.append(sep)
            out.append(encode_basestring(key))
            out.append(": ")
            _encode(value, level + 1, out)
            sep = "," + inner
        out.append("\n" + " " * level + "}")
    elif t is list or t is tuple:
        if not o:
            out.append("[]")
            return
        inner = "\n" + " " * (level + 1)
        sep = "[" + inner
        for value in o:
            out.append(sep)
            _encode(value, level + 1, out)
            sep = "," + inner
        out.append("\n" + " " * level + "]")
    elif o is None:
        out.append("null")
    elif o is True:
        out.append("true")
    elif o is False:
        out.append("false")
    elif t is int:
        out.append(int.__repr__(o))
    else:     # floats (NaN/Infinity spelling), subclasses, anything json itself must judge
        out.append(_reindent(json.dumps(o, indent=1, ensure_ascii=False), level))


def _reindent(text: str, level: int) -> str:
    # json never puts a raw newline inside a string, so every "\n" is layout.
    return text.replace("\n", "\n" + " " * level) if level else text


def load_report_for_trend(path: Path) -> Report:
    """A previous report, reduced to what a trend or a diff compares: each
    result's check, title, severity, target and status (evidence, messages
    and remediation dropped). Streams `results` one at a time, so comparing
    with a 150,000-pod report does not hold it whole in memory."""
    from kaudit.collect.jsonstream import NotStreamable, iter_list

    drop = ("evidence", "remediation", "message", "waiver")
    members: dict = {}
    results: list[Result] = []
    with paused_gc():
        try:
            with Path(path).open(encoding="utf-8") as fh:
                for event, key, value in iter_list(fh, array="results"):
                    if event == "member":
                        members[key] = value
                    elif isinstance(value, dict):
                        for k in drop:
                            value.pop(k, None)
                        results.append(Result.from_json(value))
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

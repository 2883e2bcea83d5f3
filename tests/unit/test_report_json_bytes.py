"""report.json (schema 2.0): the same document as Report.to_json(), laid out
with one line per check and one line per result, written result by result."""
from __future__ import annotations

import json
import math

from kaudit.model import CLUSTER, Evidence, Report, Status, Target, Waiver
from kaudit.report.json import JsonFormatter, load_report
from kaudit.report.synthetic import synthetic_report
from tests.unit.report_builders import hostile_report, report, result


def _same_document(rep: Report, data: bytes) -> dict:
    doc = json.loads(data.decode("utf-8", "surrogateescape"))
    expected = json.loads(json.dumps(rep.to_json(), ensure_ascii=False).encode(
        "utf-8", "backslashreplace").decode("utf-8"))
    assert _nan_safe(doc) == _nan_safe(expected)
    return doc


def _nan_safe(o):
    if isinstance(o, float) and math.isnan(o):
        return "NaN"
    if isinstance(o, dict):
        return {k: _nan_safe(v) for k, v in o.items()}
    if isinstance(o, list):
        return [_nan_safe(v) for v in o]
    return o


def _result_lines(data: bytes) -> list[bytes]:
    lines = data.split(b"\n")
    start = lines.index(b' "results": [')
    return lines[start + 1:lines.index(b" ]", start)]


def test_synthetic_cluster_report_is_the_model_one_line_per_result():
    rep = synthetic_report(pods=300)
    data = JsonFormatter().render(rep)
    doc = _same_document(rep, data)
    rows = _result_lines(data)
    assert len(rows) == len(rep.results) == len(doc["results"])
    for line, r in zip(rows, rep.results):
        assert json.loads(line.rstrip(b",")) == r.to_json(with_check_info=False)
    # what a check's results share is written once, not on every result
    assert data.count(rep.results[0].remediation.encode()) == 1
    assert set(doc["checks"]) == {r.check for r in rep.results}


def test_hostile_strings_surrogates_and_odd_values_round_trip(tmp_path):
    odd = result("9.9.9", Status.WAIVED, Target("Pod", "p\ud800\u2028\x00\"\\</script>", "ns\n", None),
                 evidence=(Evidence("w", "é漢字\U0001F600\x7f", "s", expected="\t", note=""),))
    rep = report([odd, result("1.2.1", Status.FAIL)] + hostile_report().results)
    rep.waivers = {"expired": [Waiver("1.2.1", "o", "j", "2020-01-01").to_json()], "stale": [],
                   "n": {1: 2.5, "x": float("nan"), "b": True, "y": None, "t": (1, [])}}
    data = JsonFormatter().render(rep)
    assert len(_result_lines(data)) == len(rep.results)      # no raw newline inside a row
    path = tmp_path / "report.json"
    path.write_bytes(data)
    back = load_report(path)
    assert back.results[0].target == odd.target     # round-trips, surrogate included
    assert [r.to_json() for r in back.results[1:]] == [r.to_json() for r in rep.results[1:]]


def test_grouped_passes_round_trip_and_are_written_compactly(tmp_path):
    passed = tuple(Target("Deployment", f"app-{i}", f"team-{i % 3}") for i in range(50)) + \
        (Target("ClusterRole", "viewer"),)
    r = result("5.2.2", Status.PASS, CLUSTER)
    from dataclasses import replace
    rep = report([replace(r, passed=passed)])
    data = JsonFormatter().render(rep)
    row = json.loads(_result_lines(data)[0])
    assert row["passed_targets"]["Deployment"]["team-1"][:2] == ["app-1", "app-4"]
    assert row["passed_targets"]["ClusterRole"] == {"": ["viewer"]}
    path = tmp_path / "report.json"
    path.write_bytes(data)
    back = load_report(path).results[0]
    assert sorted(t.key() for t in back.passed) == sorted(t.key() for t in passed)
    assert back.targets_judged == 51


def test_a_schema_1_report_is_still_read(tmp_path):
    rep = synthetic_report(pods=50)
    old = {**rep.to_json(), "schema_version": "1.0", "results": [r.to_json() for r in rep.results]}
    del old["checks"]
    path = tmp_path / "report.json"
    path.write_text(json.dumps(old, indent=1))
    back = load_report(path)
    assert [r.to_json() for r in back.results] == [r.to_json() for r in rep.results]


def test_empty_report():
    rep = report([])
    data = JsonFormatter().render(rep)
    doc = _same_document(rep, data)
    assert doc["results"] == [] and doc["checks"] == {}

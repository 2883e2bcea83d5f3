"""report.json is written result by result; it must stay byte for byte what
json.dumps(report.to_json(), indent=1, ensure_ascii=False) gives."""
from __future__ import annotations

import json

from kaudit.model import Evidence, Status, Target, Waiver
from kaudit.report.json import JsonFormatter, load_report
from kaudit.report.synthetic import synthetic_report
from tests.unit.report_builders import hostile_report, report, result


def reference(rep) -> bytes:
    return (json.dumps(rep.to_json(), indent=1, ensure_ascii=False) + "\n").encode("utf-8", "backslashreplace")


def test_synthetic_cluster_report_is_byte_identical():
    rep = synthetic_report(pods=300)
    assert JsonFormatter().render(rep) == reference(rep)


def test_hostile_strings_surrogates_and_odd_values_are_byte_identical(tmp_path):
    odd = result("5.1.1", Status.WAIVED, Target("Pod", "p\ud800\u2028\x00\"\\</script>", "ns\n", None),
                 evidence=(Evidence("w", "é漢字\U0001F600\x7f", "s", expected="\t", note=""),))
    rep = report([odd, result("1.2.1", Status.FAIL)] + hostile_report().results)
    rep.waivers = {"expired": [Waiver("1.2.1", "o", "j", "2020-01-01").to_json()], "stale": [],
                   "n": {1: 2.5, "x": float("nan"), "b": True, "y": None, "t": (1, [])}}
    data = JsonFormatter().render(rep)
    assert data == reference(rep)
    path = tmp_path / "report.json"
    path.write_bytes(data)
    assert load_report(path).results[0].target == odd.target     # round-trips, surrogate included


def test_empty_report_is_byte_identical():
    rep = report([])
    assert JsonFormatter().render(rep) == reference(rep)

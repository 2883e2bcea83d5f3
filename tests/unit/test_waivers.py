"""Waiver files: loading with line numbers, matching, expiry, stale waivers."""
from __future__ import annotations

from datetime import date

import pytest

from kaudit.model import Status, Target
from kaudit.report.waivers import WaiverError, apply_waivers, load_waivers

from tests.unit.report_builders import result

GOOD = """\
# accepted risks, reviewed quarterly
- check: "5.2.5"
  target:
    kind: Pod
    namespace: monitoring
    name: "node-exporter-*"
  owner: platform@example.com
  justification: >
    node-exporter reads host metrics
    over the host network
  expires: 2025-06-30
  ticket: SEC-12
- check: 5.2.*
  target: {namespace: "kube-system"}
  owner: platform@example.com
  justification: system components
  expires: 2024-01-01
- check: 4.2.10
  target: {node: "legacy-*"}
  owner: infra
  justification: old kubelets
  expires: 2025-12-31
- check: 1.2.16
  owner: infra
  justification: profiling needed for an incident, remove after
  expires: 2025-12-31
"""


def write(tmp_path, text: str):
    p = tmp_path / "waivers.yaml"
    p.write_text(text)
    return p


def test_load_reads_fields_and_keeps_ids_as_text(tmp_path):
    waivers = load_waivers(write(tmp_path, GOOD))
    assert [w.check for w in waivers] == ["5.2.5", "5.2.*", "4.2.10", "1.2.16"]   # 4.2.10 not 4.2.1
    first = waivers[0]
    assert first.selector == {"kind": "Pod", "namespace": "monitoring", "name": "node-exporter-*"}
    assert first.justification == "node-exporter reads host metrics over the host network"
    assert (first.owner, first.expires, first.ticket) == ("platform@example.com", "2025-06-30", "SEC-12")


def _results():
    return [
        result("5.2.5", Status.FAIL, Target("Pod", "node-exporter-abc", namespace="monitoring")),
        result("5.2.5", Status.FAIL, Target("Pod", "grafana-0", namespace="monitoring")),
        result("5.2.5", Status.FAIL, Target("Pod", "node-exporter-x", namespace="default")),
        result("5.2.2", Status.FAIL, Target("Pod", "kube-proxy-1", namespace="kube-system")),
        result("4.2.10", Status.WARN, Target("Node", "legacy-1", node="legacy-1")),
        result("4.2.10", Status.FAIL, Target("Node", "new-1", node="new-1")),
        result("1.2.16", Status.PASS, Target("Node", "cp-1", node="cp-1")),
        result("5.2.5", Status.PASS, Target("Pod", "node-exporter-ok", namespace="monitoring")),
    ]


def test_apply_waives_only_matching_failures_and_keeps_original_status(tmp_path):
    waivers = load_waivers(write(tmp_path, GOOD))
    out, summary = apply_waivers(_results(), waivers, today=date(2025, 3, 1))
    statuses = [(r.check, r.target.name, r.status) for r in out]
    assert statuses == [
        ("5.2.5", "node-exporter-abc", Status.WAIVED),
        ("5.2.5", "grafana-0", Status.FAIL),          # name glob does not match
        ("5.2.5", "node-exporter-x", Status.FAIL),    # other namespace
        ("5.2.2", "kube-proxy-1", Status.FAIL),       # its waiver expired on 2024-01-01
        ("4.2.10", "legacy-1", Status.WAIVED),        # WARN can be waived
        ("4.2.10", "new-1", Status.FAIL),
        ("1.2.16", "cp-1", Status.PASS),              # PASS is never touched
        ("5.2.5", "node-exporter-ok", Status.PASS),
    ]
    waived = out[0]
    assert waived.original_status is Status.FAIL and waived.waiver.ticket == "SEC-12"
    assert out[4].original_status is Status.WARN
    assert [w["check"] for w in summary["expired"]] == ["5.2.*"]
    assert [w["check"] for w in summary["stale"]] == ["1.2.16"]       # matched only a PASS
    assert [(a["waiver"]["check"], a["results"]) for a in summary["applied"]] == [("5.2.5", 1), ("4.2.10", 1)]


def test_waiver_applies_on_its_expiry_day_and_not_after(tmp_path):
    waivers = load_waivers(write(tmp_path, GOOD))[:1]
    on_day, _ = apply_waivers(_results()[:1], waivers, today=date(2025, 6, 30))
    after, summary = apply_waivers(_results()[:1], waivers, today=date(2025, 7, 1))
    assert on_day[0].status is Status.WAIVED
    assert after[0].status is Status.FAIL and summary["expired"] and not summary["applied"]


def test_section_wildcard_matches_only_that_section(tmp_path):
    waivers = load_waivers(write(tmp_path, """\
- check: "5.2.*"
  owner: a
  justification: b
  expires: 2099-01-01
"""))
    rs = [result("5.2.12", Status.FAIL), result("5.21.1", Status.FAIL), result("5.2", Status.FAIL)]
    out, _ = apply_waivers(rs, waivers, today=date(2025, 1, 1))
    assert [r.status for r in out] == [Status.WAIVED, Status.FAIL, Status.FAIL]


def test_selector_field_absent_on_target_does_not_match(tmp_path):
    waivers = load_waivers(write(tmp_path, """\
- check: "1.2.1"
  target: {node: "*"}
  owner: a
  justification: b
  expires: 2099-01-01
"""))
    out, summary = apply_waivers([result("1.2.1", Status.FAIL, Target("Cluster", "cluster"))], waivers,
                                 today=date(2025, 1, 1))
    assert out[0].status is Status.FAIL and summary["stale"]


@pytest.mark.parametrize("text, line, words", [
    ("- check: 1.2.1\n  owner: a\n  justification: b\n  expires: 2025-01-01\n"
     "- check: 1.2.2\n  owner: a\n  expires: 2025-01-01\n", 5, "'justification' is required"),
    ("- check: 1.2.1\n  owner: a\n  justification: b\n  expires: 31/12/2025\n", 1, "YYYY-MM-DD"),
    ("- check: 1.2.1\n  owner: a\n  justification: b\n  expires: 2025-02-30\n", 1, "not a real date"),
    ("\n\n- check: 1.2.1\n  target: {namepsace: x}\n  owner: a\n  justification: b\n  expires: 2025-01-01\n",
     3, "unknown target key(s) namepsace"),
    ("- check: '*'\n  owner: a\n  justification: b\n  expires: 2025-01-01\n", 1, "bare '*'"),
    ("- check: 1.2.1\n  owner: a\n  justification: b\n  expires: 2025-01-01\n  expiry: x\n", 1, "unknown key(s) expiry"),
    ("- check: 1.2.1\n  owner: [a\n", 3, "not valid YAML: expected ',' or ']', but got '<stream end>' "
     "(in the construct starting at line 2)"),
    ("check: 1.2.1\n", 1, "expected a list"),
    ("- just a string\n", 1, "must be a mapping"),
])
def test_invalid_file_names_file_and_line(tmp_path, text, line, words):
    path = write(tmp_path, text)
    with pytest.raises(WaiverError) as exc:
        load_waivers(path)
    message = str(exc.value)
    assert message.startswith(f"{path}:{line}:"), message
    assert words in message


def test_missing_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(WaiverError, match="nope.yaml"):
        load_waivers(tmp_path / "nope.yaml")


def test_empty_file_and_waivers_key_are_accepted(tmp_path):
    assert load_waivers(write(tmp_path, "# nothing yet\n")) == []
    ws = load_waivers(write(tmp_path, "waivers:\n- check: 1.2.1\n  owner: a\n  justification: b\n  expires: 2025-01-01\n"))
    assert [w.check for w in ws] == ["1.2.1"]


def test_waiver_of_a_check_undecided_for_the_cluster_is_unconfirmed_not_stale(tmp_path):
    # policy objects not collected: 5.2.2 errs once for the cluster; the namespace
    # the waiver names may still fail, so "matched nothing, remove it" would be wrong
    waivers = load_waivers(write(tmp_path, """\
- check: "5.2.*"
  target: {kind: Namespace, name: kaudit-nodes}
  owner: a
  justification: b
  expires: 2099-01-01
- check: "1.2.1"
  target: {kind: Namespace, name: kaudit-nodes}
  owner: a
  justification: b
  expires: 2099-01-01
"""))
    rs = [result("5.2.2", Status.ERROR, Target("Cluster", "cluster")),
          result("1.2.1", Status.PASS, Target("Node", "cp-1", node="cp-1"))]
    out, summary = apply_waivers(rs, waivers, today=date(2025, 1, 1))
    assert out[0].status is Status.ERROR                   # the cluster-wide error is not waived by it
    assert [w["check"] for w in summary["unconfirmed"]] == ["5.2.*"]
    assert [w["check"] for w in summary["stale"]] == ["1.2.1"]

"""junit.xml as CI reads it: real consumer library plus ElementTree."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from junitparser import Error, Failure, JUnitXml, Skipped

from kaudit.model import Evidence, Status, Target, Waiver
from kaudit.report.junit import JunitFormatter

from tests.unit.report_builders import HOSTILE, hostile_report, report, result


def _report():
    w = Waiver(check="5.2.2", owner="team-a", justification="needs hostNetwork", expires="2030-01-01")
    return report([
        result("1.2.1", Status.FAIL, Target("Node", "cp-1", node="cp-1"), message="--anonymous-auth is true",
               evidence=(Evidence("--anonymous-auth", "true", "process kube-apiserver on cp-1", expected="false"),)),
        result("1.2.2", Status.PASS, Target("Node", "cp-1", node="cp-1")),
        result("1.2.3", Status.ERROR, Target("Node", "cp-1", node="cp-1"), message="process not found"),
        result("5.2.2", Status.WAIVED, Target("Pod", "a", namespace="ns"), waiver=w, original_status=Status.FAIL),
        result("5.2.3", Status.WARN, Target("Pod", "a", namespace="ns"), message="review"),
        result("5.2.4", Status.SKIP, Target("Pod", "a", namespace="ns"), message="no Windows nodes"),
        result("2.1", Status.PASS, Target("Node", "cp-1", node="cp-1")),
    ])


def _write(tmp_path, rep):
    path = tmp_path / "junit.xml"
    path.write_bytes(JunitFormatter().render(rep))
    return path


def test_junitparser_reads_suites_cases_and_counts(tmp_path):
    xml = JUnitXml.fromfile(str(_write(tmp_path, _report())))
    suites = {s.name: s for s in xml}
    assert set(suites) == {"cis-1.12.1.2", "cis-1.12.2", "cis-1.12.5.2"}
    s12 = suites["cis-1.12.1.2"]
    assert (s12.tests, s12.failures, s12.errors, s12.skipped) == (3, 1, 1, 0)
    s52 = suites["cis-1.12.5.2"]
    assert (s52.tests, s52.failures, s52.errors, s52.skipped) == (3, 0, 0, 3)
    cases = {c.name: c for s in xml for c in s}
    fail = cases["1.2.1 Node//cp-1/cp-1"]
    assert fail.classname == "cis-1.12.1.2"
    (failure,) = fail.result
    assert isinstance(failure, Failure)
    assert failure.message == "--anonymous-auth is true"
    assert "--anonymous-auth = true" in failure.text and "Remediation: Set --anonymous-auth=false." in failure.text
    assert isinstance(cases["1.2.3 Node//cp-1/cp-1"].result[0], Error)
    waived = cases["5.2.2 Pod/ns/a/"].result[0]
    assert isinstance(waived, Skipped) and "WAIVED (was FAIL) by team-a until 2030-01-01" in waived.message
    assert "no Windows nodes" in cases["5.2.4 Pod/ns/a/"].result[0].message
    assert cases["1.2.2 Node//cp-1/cp-1"].is_passed


def test_root_totals_match_the_suites(tmp_path):
    root = ET.parse(_write(tmp_path, _report())).getroot()
    assert root.tag == "testsuites"
    assert {k: root.get(k) for k in ("tests", "failures", "errors", "skipped")} == \
        {"tests": "7", "failures": "1", "errors": "1", "skipped": "3"}
    for suite in root.iter("testsuite"):
        assert int(suite.get("tests")) == len(suite.findall("testcase"))
        assert int(suite.get("failures")) == len(suite.findall("testcase/failure"))
        assert suite.get("timestamp") == "2025-01-15T09:00:00"
    assert root.get("time") == "90.000"


def test_names_are_stable_between_renders_and_orders(tmp_path):
    rep = _report()
    first = [c.get("name") for c in ET.fromstring(JunitFormatter().render(rep)).iter("testcase")]
    rep.results.reverse()
    second = [c.get("name") for c in ET.fromstring(JunitFormatter().render(rep)).iter("testcase")]
    assert first == second


def test_hostile_strings_produce_well_formed_xml_without_illegal_characters(tmp_path):
    rep = hostile_report()
    data = JunitFormatter().render(rep)
    root = ET.fromstring(data)          # well-formed despite NUL, ESC, lone surrogates, "]]>"
    xml = JUnitXml.fromfile(str(_write(tmp_path, rep)))
    assert sum(s.tests for s in xml) == len(rep.results)
    text = data.decode("utf-8")
    for bad in ("\x00", "\x01", "\x07", "\x1b", "\ud800"):   # not XML 1.0 characters
        assert bad not in text
    # The markup in names is data, not elements.
    assert {e.tag for e in root.iter()} <= {"testsuites", "testsuite", "testcase", "failure", "error",
                                             "skipped", "system-out", "properties", "property"}
    names = [c.get("name") for c in root.iter("testcase")]
    assert any("<script>alert(1)</script>" in n for n in names)


def test_junit_does_not_repeat_what_the_test_case_already_says_at_scale():
    """issue 15: at 150,000 pods junit.xml was 88 MB, a fifth of it the same remediation."""
    import xml.etree.ElementTree as ET

    from kaudit.model import Status, Target
    from kaudit.report.junit import REMEDIATION_REPEAT, JunitFormatter
    from tests.unit.report_builders import report, result
    from kaudit.model import Evidence
    rs = [result("5.2.2", Status.FAIL, target=Target("Pod", f"p{i:03d}", namespace="ns"),
                 message=f"pod p{i:03d} is privileged",
                 evidence=(Evidence("securityContext.privileged", "true", f"pod ns/p{i:03d}"),))
          for i in range(200)]
    root = ET.fromstring(JunitFormatter().render(report(rs)))
    failures = list(root.iter("failure"))
    assert len(failures) == 200
    full = [f for f in failures if "Remediation: Set --anonymous-auth=false." in f.text]
    assert len(full) == REMEDIATION_REPEAT
    assert all(f.text.startswith("5.2.2 ") for f in full)             # with the check's title
    assert all("Remediation" not in f.text and f.text.startswith("Evidence:") for f in failures[REMEDIATION_REPEAT:])
    assert all(f.get("message") not in f.text for f in failures)    # the finding is the message attribute
    # each check's title and remediation are in its suite's properties, once
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["check.5.2.2.remediation"] == "Set --anonymous-auth=false."
    assert props["check.5.2.2.title"] == rs[0].title
    assert sum(1 for p in root.iter("property") if p.get("name") == "check.5.2.2.title") == 1


def test_junit_names_a_shared_source_and_expectation_once():
    import xml.etree.ElementTree as ET

    from kaudit.model import Evidence, Status, Target
    from kaudit.report.junit import JunitFormatter
    from tests.unit.report_builders import report, result
    src, exp = "ServiceAccount does not opt out of automounting", "no token mounted"
    ev = tuple(Evidence(f"Deployment ns/web (pod web-{i})", "token mounted", src, expected=exp) for i in range(3))
    r = result("5.1.6", Status.FAIL, target=Target("Deployment", "web", namespace="ns"), evidence=ev)
    text = next(ET.fromstring(JunitFormatter().render(report([r]))).iter("failure")).text
    assert text.count(src) == 1 and text.count(exp) == 1
    for i in range(3):
        assert f"Deployment ns/web (pod web-{i}) = token mounted" in text


def test_a_grouped_pass_is_one_test_case_with_its_count_and_no_names(tmp_path):
    """issue 15: a PASS standing for 5,000 workloads is one test case, not 5,000."""
    passed = tuple(Target("Deployment", f"app-{i}", namespace="shop") for i in range(5000))
    rep = report([result("5.4.1", Status.FAIL, Target("Deployment", "bad", namespace="shop")),
                  result("5.4.1", Status.PASS, Target("Cluster", "cluster"), passed=passed,
                         message="5,000 of 5,001 workloads pass: none reads a Secret into environment variables")])
    root = ET.fromstring(JunitFormatter().render(rep))
    cases = root.findall(".//testcase")
    assert len(cases) == 2
    grouped = next(c for c in cases if "Cluster" in c.get("name"))
    assert grouped.find("failure") is None and grouped.find("skipped") is None
    body = grouped.find("system-out").text
    assert "5,000 targets pass" in body and "passed_targets" in body
    assert "app-1" not in body

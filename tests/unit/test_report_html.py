"""report.html: content an auditor relies on, and safety against hostile cluster strings."""
from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser

import pytest

from kaudit.model import Evidence, Status, Target
from kaudit.report.html import MAX_ROWS_PER_CHECK, HtmlFormatter
from kaudit.report.synthetic import synthetic_report

from tests.unit.report_builders import HOSTILE, hostile_report, report, result

# Every element the templates emit; anything else in the output was injected.
TEMPLATE_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "nav", "main", "footer", "section",
    "h1", "h2", "h3", "h4", "p", "a", "strong", "em", "span", "div", "ol", "ul", "li", "dl", "dt",
    "dd", "table", "thead", "tbody", "tr", "th", "td", "details", "summary", "code", "svg", "rect",
    "label", "input", "button", "script",
}
TEMPLATE_ATTRS = {
    "lang", "charset", "http-equiv", "content", "name", "class", "id", "href", "role", "aria-label",
    "viewbox", "preserveaspectratio", "x", "y", "width", "height", "open", "hidden", "colspan",
    "title", "type", "data-status", "data-statuses", "checked", "placeholder", "aria-live", "fill",
}


class Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.raw_in: dict[str, list[str]] = {"style": [], "script": []}
        self._open: str | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in self.raw_in:
            self._open = tag

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag == self._open:
            self._open = None

    def handle_data(self, data):
        if self._open:
            self.raw_in[self._open].append(data)
        else:
            self.text.append(data)


def parse(html: bytes) -> Collector:
    c = Collector()
    c.feed(html.decode("utf-8"))
    c.close()
    return c


def render(rep, **kw) -> bytes:
    return HtmlFormatter(**kw).render(rep)


def section(html: bytes, section_id: str) -> str:
    """Visible text of one top-level part of the page."""
    text = html.decode()
    start = text.index(f'<section id="{section_id}"')
    nxt = re.search(r'<section id="(?!section-|check-)', text[start + 10:])
    chunk = text[start: start + 10 + nxt.start()] if nxt else text[start:]
    return " ".join("".join(parse(chunk.encode()).text).split())


# --------------------------------------------------------------------------- hostile input

@pytest.fixture(scope="module")
def hostile_html() -> bytes:
    return render(hostile_report(), previous=hostile_report())


def test_hostile_strings_inject_no_element_or_attribute(hostile_html):
    doc = parse(hostile_html)
    tags = {t for t, _ in doc.tags}
    assert tags <= TEMPLATE_TAGS, f"injected elements: {tags - TEMPLATE_TAGS}"
    attrs = {a for _, at in doc.tags for a in at}
    assert attrs <= TEMPLATE_ATTRS, f"injected attributes: {attrs - TEMPLATE_ATTRS}"
    assert not any(a.startswith("on") for a in attrs)
    assert [t for t, _ in doc.tags].count("script") == 1
    assert [t for t, _ in doc.tags].count("style") == 1
    # Links only point inside the document: nothing can navigate or load.
    for tag, at in doc.tags:
        if "href" in at:
            assert at["href"].startswith("#"), (tag, at)
        assert "src" not in at


def test_hostile_strings_are_shown_as_text_not_evaluated(hostile_html):
    text = "".join(parse(hostile_html).text)
    assert "<script>alert(1)</script>" in text            # displayed, escaped
    assert "{{ 7*191 }}" in text and "1337" not in text   # jinja did not evaluate data
    assert "{% if true %}JINJA{% endif %}" in text


def test_control_and_bidi_characters_are_made_visible(hostile_html):
    decoded = hostile_html.decode("utf-8")
    for raw in ("\x00", "\x01", "\x1b", "\x7f", "\u0085", "\u202e", "\u2066"):
        assert raw not in decoded, repr(raw)
    text = "".join(parse(hostile_html).text)
    assert "\\x1b[31m" in text and "\\u202egnp.exe" in text and "\\x00" in text


def test_page_loads_nothing_external_and_pins_its_inline_code(hostile_html):
    doc = parse(hostile_html)
    csp = next(at["content"] for t, at in doc.tags if t == "meta" and at.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp
    for kind in ("style", "script"):
        body = "".join(doc.raw_in[kind])
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp, f"inline {kind} would be blocked by the page's own CSP"
    style = "".join(doc.raw_in["style"])
    assert "@import" not in style and "url(" not in style
    assert b"http://" not in hostile_html and b"//cdn" not in hostile_html


# --------------------------------------------------------------------------- content

def _demo_results():
    return [
        result("1.2.1", Status.FAIL, Target("Node", "cp-1", node="cp-1"), severity="high",
               evidence=(Evidence("--anonymous-auth", None, "process kube-apiserver (pid 8) on cp-1",
                                  expected="false", note="flag absent; default true"),)),
        result("1.2.2", Status.PASS, Target("Node", "cp-1", node="cp-1"), title="token auth"),
        result("4.2.1", Status.ERROR, Target("Node", "w-1", node="w-1"), title="kubelet anon",
               message="kubelet config unreadable: permission denied"),
        result("5.2.2", Status.FAIL, Target("Pod", "a", namespace="ns1"), severity="medium", title="privileged"),
        result("5.2.2", Status.FAIL, Target("Pod", "b", namespace="ns1"), severity="medium", title="privileged"),
        result("5.2.3", Status.FAIL, Target("Pod", "c", namespace="ns2"), severity="critical", title="hostPID"),
        result("5.2.10", Status.SKIP, Target("Pod", "c", namespace="ns2"), title="windows",
               message="no Windows nodes"),
        result("5.1.1", Status.WARN, Target("ClusterRoleBinding", "admins"), title="cluster-admin",
               cis_label="Manual", message="review who is bound to cluster-admin",
               evidence=(Evidence("subjects", "group ops", "ClusterRoleBinding admins"),)),
    ]


def test_cover_names_cluster_scan_and_completeness():
    rep = report(_demo_results(), complete=False, incomplete_reasons=["node w-2 unreachable"])
    cover = section(render(rep), "cover")
    for expected in ("prod", "https://10.0.0.1:6443", "uid-1", "v1.31.0", "kubeadm",
                     "2025-01-15T09:00:00Z", "2025-01-15T09:01:30Z", "1 min 30 s", "kaudit 0.1.0",
                     "CIS Kubernetes Benchmark", "1.12.0", "ssh", "Scan incomplete", "node w-2 unreachable"):
        assert expected in cover, expected


def test_summary_defines_score_and_orders_failures_by_severity_then_count():
    html = render(report(_demo_results()))
    summary = section(html, "summary")
    # By recommendation, CIS-Automated only: 1.2.2 passed; 1.2.1, 5.2.2, 5.2.3 failed;
    # 4.2.1 (ERROR) undecided; 5.2.10 (SKIP) not applicable -> 1 / 4.
    assert "25.0% CIS-Automated recommendations passing" in summary
    assert "1 passed and 3 failed; 1 could not be decided" in summary
    # The Manual recommendation kaudit left to a person is a second figure, not mixed in.
    assert "kaudit's decisions on Manual recommendations: n/a" in summary
    top = summary[summary.index("Most important failures"):]
    assert top.index("5.2.3") < top.index("1.2.1") < top.index("5.2.2")


def test_incomplete_scan_shows_no_score_but_why():
    rep = report(_demo_results(), complete=False, incomplete_reasons=["SIGTERM received while inspecting nodes"])
    summary = section(render(rep), "summary")
    assert "%" not in summary.split("How the score")[0]          # no big figure at all
    assert "incomplete" in summary and "SIGTERM received while inspecting nodes" in summary


def test_each_recommendation_shows_its_pass_rate_over_targets():
    results = [result("5.2.2", Status.PASS, Target("Pod", f"p{i}", namespace="ns")) for i in range(3)]
    results.append(result("5.2.2", Status.FAIL, Target("Pod", "bad", namespace="ns")))
    body = section(render(report(results)), "recommendations")
    assert "3 of 4 decided targets pass (75.0%)" in body


def test_a_grouped_pass_counts_every_target_and_names_them_collapsed_and_capped():
    """issue 15: 3 failing and 250 passing Deployments are 1.2 % passing, not 0 %."""
    from kaudit.report.html import MAX_GROUPED_PASS_NAMES
    results = [result("5.1.6", Status.FAIL, Target("Deployment", f"bad{i}", namespace="ns")) for i in range(3)]
    results.append(result("5.1.6", Status.PASS, Target("Cluster", "cluster"), message="250 of 253 workloads pass",
                          evidence=(Evidence("service account token", "not mounted", "pods"),),
                          passed=tuple(Target("Deployment", f"ok{i:03d}", namespace="ns") for i in range(250))))
    html = render(report(results)).decode()
    body = section(html.encode(), "recommendations")
    assert "250 of 253 decided targets pass (98.8%)" in body
    assert "253 targets" in body and "PASS 250" in body
    passed = html[html.index('<details class="passed">'):]
    assert "Deployment ns: ok000, ok001" in passed
    assert f"ok{MAX_GROUPED_PASS_NAMES - 1:03d}" in passed and f"ok{MAX_GROUPED_PASS_NAMES:03d}" not in html
    assert f"and {250 - MAX_GROUPED_PASS_NAMES} more, all in report.json" in body
    assert '<details class="passed" open' not in html and "not mounted" in passed


def test_recommendation_shows_evidence_remediation_and_absent_value():
    body = section(render(report(_demo_results())), "recommendations")
    assert "--anonymous-auth" in body and "process kube-apiserver (pid 8) on cp-1" in body
    assert "(absent)" in body and "flag absent; default true" in body
    assert "Set --anonymous-auth=false." in body
    assert "Level 1" in body and "CIS: Manual" in body


def test_limits_list_every_error_and_skip_with_reason_and_collection_problems():
    rep = report(_demo_results(), collection_errors=["ClusterRole: forbidden"],
                 nodes_unreachable={"w-2": "ssh: timed out"})
    limits = section(render(rep), "limits")
    assert "kubelet config unreadable: permission denied" in limits
    assert "no Windows nodes" in limits
    assert "ClusterRole: forbidden" in limits
    assert "w-2" in limits and "ssh: timed out" in limits


def test_node_matrix_shows_status_per_node_and_check():
    html = render(report(_demo_results()))
    matrix = html.decode()[html.decode().index('<section id="matrix"'):html.decode().index('<section id="recommendations"')]
    assert 'title="1.2.1: FAIL"' in matrix and 'title="4.2.1: ERROR"' in matrix
    assert "5.2.2" not in matrix   # workload checks are not node checks


def test_trend_against_previous_report():
    old = report([result("1.2.1", Status.FAIL), result("1.2.2", Status.FAIL, title="x"),
                  result("1.2.3", Status.PASS, title="y")])
    new = report([result("1.2.1", Status.FAIL), result("1.2.2", Status.PASS, title="x"),
                  result("1.2.3", Status.FAIL, title="y"), result("1.2.4", Status.FAIL, title="z")])
    trend = section(render(new, previous=old), "trend")
    counts = dict(re.findall(r"(New failures|Regressed|Fixed|Still failing)\s*(\d+)", trend))
    assert counts == {"New failures": "1", "Regressed": "1", "Fixed": "1", "Still failing": "1"}
    assert "trend" not in [m for m in re.findall(r'<section id="(\w+)"', render(new).decode())]


def test_long_target_lists_are_truncated_with_counts():
    results = [result("5.2.2", Status.FAIL, Target("Pod", f"p{i}", namespace="ns"), title="priv")
               for i in range(MAX_ROWS_PER_CHECK + 60)]
    results += [result("5.2.2", Status.PASS, Target("Pod", f"ok{i}", namespace="ns"), title="priv")
                for i in range(100)]
    body = section(render(report(results)), "recommendations")
    assert "… and 60 more targets that did not pass" in body
    assert "100 targets passed" in body and "… and 75 more" in body


def test_waivers_applied_expired_and_stale_are_shown():
    from kaudit.model import Waiver
    w = Waiver(check="5.2.2", owner="team-a", justification="needs host access", expires="2030-01-01",
               ticket="SEC-1", selector={"namespace": "ns1"})
    old = Waiver(check="1.2.1", owner="team-b", justification="legacy", expires="2020-01-01")
    rep = report([result("5.2.2", Status.WAIVED, Target("Pod", "a", namespace="ns1"), waiver=w,
                         original_status=Status.FAIL)])
    rep.waivers = {"applied": [{"waiver": w.to_json(), "results": 1}], "expired": [old.to_json()],
                   "stale": [old.to_json()]}
    html = render(rep)
    waivers = section(html, "waivers")
    assert "team-a" in waivers and "SEC-1" in waivers and "2030-01-01" in waivers
    assert "Expired (1)" in waivers and "Stale (matched nothing) (1)" in waivers and "legacy" in waivers
    assert "Waived (was FAIL) by team-a until 2030-01-01" in section(html, "recommendations")


def test_manual_review_appendix_carries_evidence():
    appendix = section(render(report(_demo_results(), evidence_sources=["API server https://x"])), "appendix")
    assert "API server https://x" in appendix
    assert "5.1.1" in appendix and "review who is bound to cluster-admin" in appendix and "group ops" in appendix


def test_report_of_a_2000_pod_cluster_stays_under_2_mb():
    rep = synthetic_report(pods=2000)
    assert sum(r.targets_judged for r in rep.results) > 4000
    html = render(rep, previous=synthetic_report(pods=2000, seed=7))
    assert len(html) < 2 * 1024 * 1024


def test_render_is_deterministic():
    rep = synthetic_report(pods=300)
    assert render(rep) == render(rep)


def test_passing_targets_show_the_evidence_of_why_they_passed_collapsed():
    ev = (Evidence("--anonymous-auth", "false", "process kube-apiserver (pid 8) on cp-1", expected="false"),)
    html = render(report([result("1.2.1", Status.PASS, Target("Node", "cp-1", node="cp-1"), evidence=ev,
                                 message="--anonymous-auth is false")])).decode()
    passed = html[html.index('<details class="passed">'):]
    passed = passed[:passed.index("</details>\n</div>")]
    assert "with the evidence of why" in passed
    assert "process kube-apiserver (pid 8) on cp-1" in passed and "--anonymous-auth is false" in passed
    assert '<details class="passed" open' not in html          # collapsed: PASS is not the news


def test_a_grouped_pass_renders_the_same_after_a_round_trip_through_report_json(tmp_path):
    """report.json groups passed targets by kind and namespace; `kaudit render` must still reproduce the page."""
    from kaudit.report.json import JsonFormatter, load_report
    passed = (Target("Deployment", "z", "b"), Target("CronJob", "y", "a"), Target("Deployment", "x", "a"))
    rep = report([result("5.4.1", Status.PASS, Target("Cluster", "cluster"), passed=passed)])
    path = tmp_path / "report.json"
    path.write_bytes(JsonFormatter().render(rep))
    assert render(load_report(path)) == render(rep)

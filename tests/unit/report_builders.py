"""Builders for report tests: small Results and a Report full of hostile strings."""
from __future__ import annotations

from kaudit.model import (ClusterIdentity, Evidence, Report, Result, ScanInfo, Status, Target,
                          Waiver)

# Every kind of string a cluster could hand us that a careless report would
# execute, evaluate or display misleadingly.
HOSTILE = (
    '<script>alert(1)</script>"\'><img src=x onerror=alert(2)>'
    "{{ 7*191 }}{% if true %}JINJA{% endif %}{# c #}"
    "\x00\x01\x07\x1b[31m\x7f\u0085"
    "\u202egnp.exe\u202c\u2066\u2069"
    "</style></title><svg onload=alert(3)>"
    "javascript:alert(4)"
    "]]><!--"
    "\ud800"
)


def result(check: str = "1.2.1", status: Status = Status.FAIL, target: Target | None = None,
           title: str = "Ensure that the --anonymous-auth argument is set to false",
           severity: str = "high", message: str = "flag set", evidence: tuple[Evidence, ...] = (),
           cis_label: str = "Automated", waiver: Waiver | None = None,
           original_status: Status | None = None, passed: tuple[Target, ...] = ()) -> Result:
    section = check.rsplit(".", 1)[0] if check.count(".") >= 2 else check.split(".")[0]
    return Result(check=check, title=title, section=section, level=1, cis_label=cis_label,
                  automated=cis_label == "Automated", severity=severity, status=status,
                  target=target or Target("Node", "cp-1", node="cp-1"), message=message,
                  evidence=evidence, remediation="Set --anonymous-auth=false.",
                  waiver=waiver, original_status=original_status, passed=passed)


def scan(**overrides) -> ScanInfo:
    values = dict(
        started="2025-01-15T09:00:00Z", finished="2025-01-15T09:01:30Z", benchmark="cis-1.12",
        benchmark_title="CIS Kubernetes Benchmark", benchmark_version="1.12.0",
        cluster=ClusterIdentity(name="prod", api_server="https://10.0.0.1:6443", version="v1.31.0",
                                platform="kubeadm", cluster_id="uid-1", node_count=3),
        source="api", node_access="ssh", nodes_inspected=["cp-1"],
    )
    values.update(overrides)
    return ScanInfo(**values)


def report(results: list[Result], schema_version: str | None = None, **scan_overrides) -> Report:
    rep = Report(tool={"name": "kaudit", "version": "0.1.0"}, scan=scan(**scan_overrides), results=results)
    if schema_version is not None:
        rep.schema_version = schema_version
    return rep


def hostile_report() -> Report:
    """A Report with a hostile string in every field a cluster can influence."""
    h = HOSTILE
    ev = (Evidence(what=h, value=h, source=h, expected=h, note=h), Evidence(what=h, value=None, source=h))
    waiver = Waiver(check="5.2.2", owner=h, justification=h, expires="2099-01-01", ticket=h,
                    selector={"namespace": h, "name": h})
    results = [
        result("1.2.1", Status.FAIL, Target(h, h, namespace=h, node=h), message=h, evidence=ev),
        result("1.1.1", Status.PASS, Target("File", h, node=h), message=h, evidence=ev),
        result("5.2.2", Status.WAIVED, Target("Pod", h, namespace=h), message=h, evidence=ev,
               waiver=waiver, original_status=Status.FAIL, title=h),
        result("5.2.3", Status.ERROR, Target("Pod", h, namespace=h), message=h, evidence=ev),
        result("5.2.4", Status.SKIP, Target("Pod", h, namespace=h), message=h),
        result("5.1.1", Status.WARN, Target("ClusterRoleBinding", h), message=h, evidence=ev,
               cis_label="Manual"),
        result("4.2.1", Status.FAIL, Target("Node", h, node=h), message=h, evidence=ev),
        result("5.6.3", Status.PASS, Target("Cluster", "cluster"), message=h, evidence=ev,
               passed=(Target("Deployment", h, namespace=h), Target(h, h))),
    ]
    rep = report(
        results,
        cluster=ClusterIdentity(name=h, api_server=h, version=h, platform=h, cluster_id=h, node_count=1),
        source=h, node_access=h, nodes_inspected=[h], nodes_unreachable={h: h}, complete=False,
        incomplete_reasons=[h], collection_errors=[h], evidence_sources=[h],
        started=h, finished=h, benchmark=h, benchmark_title=h, benchmark_version=h,
    )
    rep.tool = {"name": h, "version": h}
    rep.waivers = {"applied": [{"waiver": waiver.to_json(), "results": 1}],
                   "expired": [waiver.to_json()], "stale": [waiver.to_json()]}
    return rep

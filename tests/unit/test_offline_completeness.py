"""Offline scans: an object without a namespace is in `default`, and data the
input never held yields no verdict (issue 13)."""
from __future__ import annotations

import codecs

from kaudit.catalog import load_catalog
from kaudit.collect.manifests import ManifestSource
from kaudit.engine import evaluate
from kaudit.model import Facts, Status
from kaudit.scan import build_report, utc_now

CATALOG = load_catalog()

DEPLOYMENT_NO_NAMESPACE = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
"""

# A fuller dump: every kind 5.6.4 lists, so only the namespace question decides it.
DEFAULT_NS_KINDS = """apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Namespace, metadata: {name: default}}
- {apiVersion: v1, kind: Namespace, metadata: {name: shop}}
- {apiVersion: v1, kind: Service, metadata: {name: kubernetes, namespace: default}, spec: {type: ClusterIP}}
- {apiVersion: v1, kind: ServiceAccount, metadata: {name: default, namespace: default}}
- {apiVersion: v1, kind: Pod, metadata: {name: api, namespace: shop}, spec: {containers: [{name: c, image: x}]}}
- {apiVersion: v1, kind: PersistentVolumeClaim, metadata: {name: data, namespace: shop}}
- {apiVersion: networking.k8s.io/v1, kind: Ingress, metadata: {name: www, namespace: shop}}
- {apiVersion: apps/v1, kind: Deployment, metadata: {name: api, namespace: shop}}
- {apiVersion: apps/v1, kind: StatefulSet, metadata: {name: db, namespace: shop}}
- {apiVersion: apps/v1, kind: DaemonSet, metadata: {name: agent, namespace: shop}}
- {apiVersion: apps/v1, kind: ReplicaSet, metadata: {name: rs, namespace: shop}}
- {apiVersion: batch/v1, kind: Job, metadata: {name: j, namespace: shop}}
- {apiVersion: batch/v1, kind: CronJob, metadata: {name: cj, namespace: shop}}
- {apiVersion: v1, kind: ReplicationController, metadata: {name: rc, namespace: shop}}
"""


def scan(tmp_path, *texts: str, checks=None, encoding: str | None = None):
    paths = []
    for i, text in enumerate(texts):
        p = tmp_path / f"part{i}.yaml"
        if encoding:
            p.write_bytes(text.encode(encoding) if "sig" in encoding or encoding.startswith("utf-16")
                          else codecs.BOM_UTF8 + text.encode())
        else:
            p.write_text(text)
        paths.append(p)
    cluster = ManifestSource(paths).collect()
    facts = Facts(cluster=cluster)
    results = evaluate(CATALOG, facts, checks)
    return cluster, results, build_report(CATALOG, facts, results, utc_now())


def of(results, check):
    return [r for r in results if r.check == check]


def test_namespaced_object_without_namespace_is_in_default(tmp_path):
    cluster, results, _ = scan(tmp_path, DEFAULT_NS_KINDS, "---\n" + DEPLOYMENT_NO_NAMESPACE, checks=["5.6.4"])
    (web,) = [d for d in cluster.of_kind("Deployment") if d.name == "web"]
    assert web.namespace == "default" and web.ref() == "default/web"
    statuses = {r.status for r in of(results, "5.6.4")}
    assert statuses == {Status.FAIL}, of(results, "5.6.4")
    fail = of(results, "5.6.4")[0]
    assert "Deployment default/web" in [e.what for e in fail.evidence]


def test_cluster_scoped_kinds_keep_no_namespace(tmp_path):
    text = """apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
rules: []
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec: {group: example.com, scope: Cluster, names: {kind: Widget, plural: widgets}}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
---
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: deny-all}
spec: {endpointSelector: {}}
"""
    cluster, _, _ = scan(tmp_path, text, checks=["5.6.1"])
    assert cluster.of_kind("ClusterRole")[0].namespace is None
    assert cluster.of_kind("Namespace")[0].namespace is None
    assert cluster.of_kind("Widget.example.com")[0].namespace is None
    assert cluster.of_kind("CiliumClusterwideNetworkPolicy.cilium.io")[0].namespace is None


def test_network_policy_without_namespace_covers_default(tmp_path):
    policy = """apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
"""
    ns = "apiVersion: v1\nkind: Namespace\nmetadata: {name: default}\n"
    cluster, results, _ = scan(tmp_path, ns, "---\n" + policy, checks=["5.3.2"])
    assert cluster.of_kind("NetworkPolicy")[0].namespace == "default"
    default = [r for r in of(results, "5.3.2") if r.target.name == "default"]
    assert [r.status for r in default] == [Status.PASS], default


def test_kind_not_in_the_input_is_an_error_and_the_report_incomplete(tmp_path):
    pods_only = """apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Pod, metadata: {name: api, namespace: shop}, spec: {containers: [{name: c, image: x}]}}
"""
    cluster, results, report = scan(tmp_path, pods_only)
    r515 = of(results, "5.1.5")
    assert r515 and all(r.status in (Status.ERROR, Status.WARN) for r in r515)
    assert any("ServiceAccount objects are not in the input" in r.message for r in r515)
    # 5.6.4 never saw Services: no PASS
    assert Status.PASS not in {r.status for r in of(results, "5.6.4")}
    assert any(r.status is Status.ERROR for r in of(results, "5.6.4"))
    assert not report.scan.complete
    reasons = " | ".join(report.scan.incomplete_reasons)
    assert "ServiceAccount objects are not in the input" in reasons
    assert "Node objects are not in the input" in reasons


def test_namespaces_not_in_the_input_do_not_fail_pod_security(tmp_path):
    pods_only = """apiVersion: v1
kind: Pod
metadata: {name: api, namespace: shop}
spec: {containers: [{name: c, image: x}]}
"""
    _, results, _ = scan(tmp_path, pods_only, checks=["5.2.2"])
    shop = [r for r in of(results, "5.2.2") if r.target.kind == "Namespace" and r.target.name == "shop"]
    assert all(r.status is not Status.FAIL for r in shop), shop


def test_full_dump_is_complete(tmp_path):
    _, results, report = scan(tmp_path, DEFAULT_NS_KINDS, checks=["5.6.4"])
    assert {r.status for r in of(results, "5.6.4")} == {Status.PASS}


def test_skipped_document_makes_the_report_incomplete(tmp_path):
    bad = DEFAULT_NS_KINDS + "---\nkind: Pod\nmetadata: {name: [unclosed\n"
    _, _, report = scan(tmp_path, bad, checks=["5.6.4"])
    assert not report.scan.complete
    assert any("skipped" in r for r in report.scan.incomplete_reasons), report.scan.incomplete_reasons


def test_utf16_and_bom_dumps_are_read(tmp_path):
    for encoding in ("utf-16", "utf-8-sig"):
        d = tmp_path / encoding
        d.mkdir()
        cluster, _, _ = scan(d, DEFAULT_NS_KINDS, checks=["5.6.4"], encoding=encoding)
        assert len(cluster.of_kind("Pod")) == 1 and cluster.load_errors == []


def test_pod_security_default_is_marked_assumed_when_not_seen(tmp_path):
    text = DEFAULT_NS_KINDS.replace("{apiVersion: v1, kind: Namespace, metadata: {name: shop}}",
                                    "{apiVersion: v1, kind: Namespace, metadata: {name: shop, labels: "
                                    "{pod-security.kubernetes.io/enforce: baseline}}}")
    _, results, _ = scan(tmp_path, text, checks=["5.2.2"])
    # Empty namespaces are named in one result's evidence, not judged one by one (5.2.x).
    psa = {e.what.rsplit(" ", 1)[-1]: e for r in of(results, "5.2.2") for e in r.evidence
           if e.what.startswith("Pod Security Admission enforce level")}
    assert "assumed" in (psa["default"].note or "") and psa["default"].value == "privileged"
    # A label is seen, not assumed.
    assert psa["shop"].value == "baseline" and "assumed" not in (psa["shop"].note or "")


def test_cover_names_what_the_dump_lacks(tmp_path):
    from kaudit.cli import main
    dump = tmp_path / "pods.yaml"
    dump.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: api, namespace: shop}\n"
                    "spec: {containers: [{name: c, image: x}]}\n")
    out = tmp_path / "out"
    main(["scan", "--manifests", str(dump), "--output-dir", str(out), "--format", "html", "-q"])
    html = (out / "report.html").read_text()
    start = html.index('<section id="cover"')
    cover = html[start:html.index("</section>", start)]
    assert "Node objects are not in the input" in cover
    assert "ServiceAccount objects are not in the input" in cover


def test_evidence_bundle_of_an_offline_scan_reproduces_it(tmp_path):
    """The demo (whole cluster, node facts) and a partial dump (assumed groups,
    a skipped document, a defaulted namespace) both round-trip."""
    import json

    from kaudit.cli import main
    dump = tmp_path / "dump.yaml"
    dump.write_text(DEFAULT_NS_KINDS + "---\n" + DEPLOYMENT_NO_NAMESPACE + "---\nkind: Pod\nmetadata: {name: [x\n")
    for name, source in (("demo", ["--demo"]), ("dump", ["--manifests", str(dump)])):
        bundle, first, again = tmp_path / f"{name}-ev", tmp_path / f"{name}-1", tmp_path / f"{name}-2"
        main(["scan", *source, "--save-evidence", str(bundle), "--output-dir", str(first), "--format", "json", "-q"])
        main(["scan", "--manifests", str(bundle), "--output-dir", str(again), "--format", "json", "-q"])
        one, two = (json.loads((d / "report.json").read_text()) for d in (first, again))
        assert two["results"] == one["results"], name
        assert two["scan"]["incomplete_reasons"] == one["scan"]["incomplete_reasons"], name
        assert two["scan"]["nodes_inspected"] == one["scan"]["nodes_inspected"], name
    assert not one["scan"]["complete"]


def test_token_mount_is_not_judged_on_service_accounts_never_seen(tmp_path):
    """5.1.6: without ServiceAccount objects, whether a pod that does not opt
    in or out mounts a token is unknown (its ServiceAccount may opt out)."""
    pods = """apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Pod, metadata: {name: quiet, namespace: shop}, spec: {containers: [{name: c, image: x}]}}
- {apiVersion: v1, kind: Pod, metadata: {name: loud, namespace: shop},
   spec: {automountServiceAccountToken: true, containers: [{name: c, image: x}]}}
"""
    _, results, _ = scan(tmp_path, pods, checks=["5.1.6"])
    failed = {r.target.name for r in of(results, "5.1.6") if r.status is Status.FAIL}
    assert failed == {"loud"}     # it opts in itself, with the default ServiceAccount
    assert any("ServiceAccount objects are not in the input" in r.message for r in of(results, "5.1.6"))

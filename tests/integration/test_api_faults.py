"""Completeness through the live API: every injected fault is an ERROR with its
reason and an incomplete report, never "no objects", never a PASS.

Real `kubernetes` client, real TLS, the wire-level test API server
(tests/integration/apiserver.py) injecting the faults.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from apiserver import FakeApiServer, sample_cluster
from kaudit.catalog import load_catalog
from kaudit.collect import SourceError
from kaudit.collect.api import ApiSource
from kaudit.model import CLUSTER_ROLE_BINDING, NODE, POD, Report, Status
from kaudit.scan import ScanRequest, run_scan

CATALOG = load_catalog("cis-1.12")


def source(server: FakeApiServer, kubeconfig_for, **kw) -> ApiSource:
    kw.setdefault("backoff", 0.01)
    kw.setdefault("max_attempts", 2)
    return ApiSource(kubeconfig_for(server), **kw)


def report(server: FakeApiServer, kubeconfig_for, **kw) -> Report:
    return run_scan(ScanRequest(catalog=CATALOG, cluster_source=source(server, kubeconfig_for, **kw)))


def verdicts(rep: Report, status: Status | None = None) -> set[tuple[str, str]]:
    return {(r.check, r.target.kind + ":" + (r.target.namespace or "") + "/" + r.target.name)
            for r in rep.results if status is None or r.status == status}


def assert_fails_closed(rep: Report, baseline: Report) -> None:
    """No new PASS; every check that lost a result shows an ERROR; incomplete."""
    assert verdicts(rep, Status.PASS) <= verdicts(baseline, Status.PASS)
    errored = {check for check, _ in verdicts(rep, Status.ERROR)}
    lost = verdicts(baseline) - verdicts(rep)
    assert {check for check, _ in lost} <= errored
    assert rep.scan.complete is False and rep.scan.incomplete_reasons


@pytest.fixture
def baseline(make_api_server, kubeconfig_for) -> Report:
    rep = report(make_api_server(), kubeconfig_for, page_size=2)
    assert rep.scan.complete
    return rep


# -- 404 / non-list bodies for a kind discovery says is served -------------------------------


def test_404_on_clusterrolebindings_is_an_error_not_an_empty_list(make_api_server, kubeconfig_for):
    """A user bound to cluster-admin gives FAILs; a 404 must not make them vanish."""
    admin = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
             "metadata": {"name": "alice-admin"},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
             "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}]}
    server = make_api_server(sample_cluster() + [admin])
    baseline = report(server, kubeconfig_for, page_size=2)
    server.inject(r"^/apis/rbac.authorization.k8s.io/v1/clusterrolebindings$", "status", status=404)
    rep = report(server, kubeconfig_for, page_size=2)
    assert_fails_closed(rep, baseline)
    lost_fails = {c for c, t in verdicts(baseline, Status.FAIL) - verdicts(rep, Status.FAIL)}
    assert lost_fails, "the fault should hide the cluster-admin binding's FAILs"
    assert lost_fails <= {c for c, _ in verdicts(rep, Status.ERROR)}
    assert any("ClusterRoleBinding" in e and "404" in e for e in rep.scan.collection_errors)


@pytest.mark.parametrize("body", [{"kind": "Status", "apiVersion": "v1", "status": "Success"}, {}, [],
                                  {"kind": "PodList", "items": {}}, "not json at all"],
                         ids=["status", "empty-object", "array", "items-not-a-list", "text"])
def test_a_200_that_is_not_a_list_is_an_error(api_server, kubeconfig_for, body):
    raw = body.encode() if isinstance(body, str) else None
    api_server.inject(r"^/api/v1/pods$", "body", body=raw if raw is not None else body)
    facts = source(api_server, kubeconfig_for).collect()
    reason = facts.unavailable[POD]
    assert reason.startswith("could not list pods: HTTP 200 invalid")
    assert "is not a list object" in reason or "invalid JSON" in reason
    assert facts.of_kind(POD) == []


def test_a_list_item_that_is_not_an_object_makes_the_list_incomplete(api_server, kubeconfig_for):
    api_server.inject(r"^/api/v1/pods$", "body", body={"kind": "PodList", "apiVersion": "v1",
                                                       "metadata": {}, "items": [{"metadata": {}}, "x"]})
    facts = source(api_server, kubeconfig_for).collect()
    assert facts.unavailable[POD].startswith("could not list pods: page 1 item 0 is not an object")
    assert facts.of_kind(POD) == []


@pytest.mark.parametrize("fault", [("status", {"status": 404}), ("body", {"body": {}}),
                                   ("status", {"status": 500}), ("reset", {})],
                         ids=["404", "empty-object", "500", "reset"])
def test_a_later_page_failing_keeps_none_of_the_list(api_server, kubeconfig_for, baseline, fault):
    """The privileged pod `default/debug` sits on the first page of two; the
    list is still incomplete, so pod checks must ERROR, not judge a part."""
    kind, kw = fault
    api_server.inject(r"^/api/v1/pods$", kind, query=r"continue=", **kw)
    rep = report(api_server, kubeconfig_for, page_size=2)
    assert_fails_closed(rep, baseline)
    assert any(e.startswith("Pod: could not list pods") for e in rep.scan.collection_errors)


def test_only_an_add_on_missing_from_discovery_is_not_installed(make_api_server, kubeconfig_for):
    from apiserver import BUILTIN_TYPES
    server = make_api_server()
    server.types = [t for t in BUILTIN_TYPES if t.resource != "rolebindings"]   # discovery omits it
    facts = source(server, kubeconfig_for).collect()
    assert "discovery does not list rolebindings" in facts.unavailable["RoleBinding"]
    assert "CiliumNetworkPolicy.cilium.io" not in facts.unavailable    # add-on: absent, not an error


def test_get_by_name_404_of_the_path_is_not_a_missing_object(api_server, kubeconfig_for):
    api_server.inject(r"/configmaps/kube-proxy$", "status", status=404)   # no Status details: not the object
    facts = source(api_server, kubeconfig_for).collect()
    assert "ConfigMap" in facts.unavailable


def test_a_configmap_that_does_not_exist_is_absent(make_api_server, kubeconfig_for):
    server = make_api_server([o for o in sample_cluster() if o["metadata"]["name"] != "kube-proxy"])
    facts = source(server, kubeconfig_for).collect()
    assert "ConfigMap" not in facts.unavailable and facts.of_kind("ConfigMap") == []


# -- pagination that never ends ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["repeat-continue", "endless-continue"])
def test_pagination_that_never_ends_is_an_error(api_server, kubeconfig_for, kind):
    fault = api_server.inject(r"^/api/v1/pods$", kind)
    facts = source(api_server, kubeconfig_for, page_size=2, max_list_pages=40).collect()
    assert facts.of_kind(POD) == []
    reason = facts.unavailable[POD]
    assert "continue token" in reason or "twice" in reason
    assert fault.hits <= 40


def test_the_same_object_twice_is_not_one_list(api_server, kubeconfig_for):
    """A server that loops over its pages with ever new tokens returns the
    same objects again: caught at the first repeat, long before the page limit."""
    page = {"kind": "NodeList", "apiVersion": "v1", "metadata": {"continue": "x"},
            "items": [{"metadata": {"name": "n1"}}]}
    api_server.inject(r"^/api/v1/nodes$", "body", body=page, times=1)
    api_server.inject(r"^/api/v1/nodes$", "body", body={**page, "metadata": {"continue": "y"}}, times=1)
    facts = source(api_server, kubeconfig_for).collect()
    assert "n1 twice" in facts.unavailable[NODE]


# -- total deadlines --------------------------------------------------------------------------


def test_a_trickling_node_list_is_cut_at_the_request_limit(api_server, kubeconfig_for):
    # One byte every 0.2 s: the ~1.5 KB node list would take minutes, and each
    # byte arrives well within a per-read timeout.
    fault = api_server.inject(r"^/api/v1/nodes$", "trickle", seconds=0.2)
    facts = source(api_server, kubeconfig_for, request_timeout=1.5).collect()
    assert fault.hits == 1                          # a time-out is not retried
    assert facts.unavailable[NODE] == "could not list nodes: no complete answer within 1.5s"
    assert len(facts.of_kind(POD)) == 7             # the rest is collected


def test_a_trickling_configz_is_cut_at_the_configz_limit(api_server, kubeconfig_for):
    api_server.inject(r"^/api/v1/nodes/worker-1/proxy/configz$", "trickle", seconds=0.2)
    facts = source(api_server, kubeconfig_for, configz_timeout=2).collect()
    assert facts.configz_errors == {"worker-1": "timed out: no complete answer within 2s"}
    assert sorted(facts.kubelet_configz) == ["cp-1", "worker-2"]


def test_retry_after_cannot_stretch_the_scan_past_its_deadline(api_server, kubeconfig_for, baseline):
    """Every list answers 429 Retry-After: 30 for ever. Without an overall
    deadline that is 30 s a retry, 5 retries a kind, ~25 kinds."""
    api_server.add_fault(r"^/api/v1/|^/apis/[^/]+/[^/]+/", 429, times=10**6, retry_after="30")
    rep = report(api_server, kubeconfig_for, max_attempts=5, deadline=2)
    assert_fails_closed(rep, baseline)
    facts_errors = "\n".join(rep.scan.collection_errors)
    assert "HTTP 429" in facts_errors
    assert rep.scan.cluster.version == "v1.30.2"


def test_past_the_deadline_nothing_more_is_requested(api_server, kubeconfig_for):
    api_server.inject(r"^/api/v1/namespaces$", "hang", seconds=4)
    facts = source(api_server, kubeconfig_for, deadline=1.5, request_timeout=30).collect()
    assert "the scan's API time limit (1.5s, --api-deadline) ran out" in facts.unavailable["Namespace"]
    assert facts.unavailable[NODE] == ("could not list nodes: the scan's API time limit (1.5s, "
                                       "--api-deadline) ran out before this request")
    assert not [r for r in api_server.requests if r.resource == "nodes"]


# -- /version, discovery and configz make the report incomplete --------------------------------


@pytest.mark.parametrize("fault", [("status", {"status": 500}), ("body", {"body": {"major": "1"}}),
                                   ("hang", {"seconds": 5}), ("reset", {})],
                         ids=["500", "no-gitVersion", "hang", "reset"])
def test_version_failure_makes_the_report_incomplete(api_server, kubeconfig_for, baseline, fault):
    kind, kw = fault
    api_server.inject(r"^/version$", kind, **kw)
    rep = report(api_server, kubeconfig_for, page_size=2, request_timeout=2)
    assert rep.scan.cluster.version is None
    assert rep.scan.complete is False
    assert "the API server's version (/version) could not be read" in rep.scan.incomplete_reasons
    assert verdicts(rep, Status.PASS) <= verdicts(baseline, Status.PASS)


def test_discovery_failure_of_one_group_makes_its_kinds_errors(api_server, kubeconfig_for, baseline):
    api_server.inject(r"^/apis/networking.k8s.io/v1$", "status", status=503)
    rep = report(api_server, kubeconfig_for, page_size=2)
    assert_fails_closed(rep, baseline)
    assert any(e.startswith("NetworkPolicy: API discovery of networking.k8s.io/v1 failed")
               for e in rep.scan.collection_errors)


def test_gatekeeper_constraint_discovery_failure_hides_no_policy(make_api_server, kubeconfig_for):
    from apiserver import ResourceType
    server = make_api_server(sample_cluster(), extra_types=[
        ResourceType("constraints.gatekeeper.sh", "v1beta1", "k8spspprivilegedcontainer",
                     "K8sPSPPrivilegedContainer", False, True)])
    server.inject(r"^/apis/constraints.gatekeeper.sh/v1beta1$", "status", status=503)
    facts = source(server, kubeconfig_for).collect()
    assert facts.unavailable["*.constraints.gatekeeper.sh"].startswith(
        "API discovery of constraints.gatekeeper.sh/v1beta1 failed: HTTP 503")
    server.faults.clear()
    server.inject(r"^/apis$", "status", status=500)
    facts = source(server, kubeconfig_for).collect()
    assert facts.unavailable["*.constraints.gatekeeper.sh"] == "API discovery failed (/apis); not collected"
    assert facts.unavailable["ClusterRole"] == "API discovery failed (/apis); not collected"


def test_configz_failure_makes_the_report_incomplete(api_server, kubeconfig_for, baseline):
    api_server.configz["worker-2"] = 503
    rep = report(api_server, kubeconfig_for, page_size=2)
    assert_fails_closed(rep, baseline)
    assert any("configz" in r for r in rep.scan.incomplete_reasons)
    kubelet_errors = [r for r in rep.results if r.status == Status.ERROR and r.target.node == "worker-2"]
    assert kubelet_errors and not [r for r in rep.results if r.target.node == "worker-2"
                                   and r.status in (Status.PASS, Status.SKIP)]


# -- exec credential plugins --------------------------------------------------------------------


def test_a_hanging_exec_plugin_is_stopped_with_one_line(api_server, tmp_path):
    marker = tmp_path / "plugin.pid"
    plugin = tmp_path / "hang-plugin"
    # The plugin starts a helper of its own (as `aws` starts python): both must go.
    plugin.write_text(f"#!/bin/sh\nsleep 300 &\necho $! > {marker}\nwait\n")
    plugin.chmod(0o755)
    cfg = api_server.kubeconfig_dict()
    cfg["users"][0]["user"] = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1",
                                        "command": str(plugin), "interactiveMode": "Never"}}
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(SourceError) as err:
        ApiSource(str(path), exec_timeout=1).collect()
    message = str(err.value)
    assert err.value.exit_code == 3 and "\n" not in message
    assert f'exec credential plugin "{plugin}"' in message and "did not finish within 1s" in message
    pid = int(marker.read_text())
    for _ in range(50):      # the kill is sent; give the kernel a moment to finish it
        if not Path(f"/proc/{pid}").exists() or Path(f"/proc/{pid}/stat").read_text().split()[2] in "ZX":
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the exec plugin's helper (pid {pid}) is still running")


def test_a_working_exec_plugin_still_authenticates(api_server, tmp_path):
    plugin = tmp_path / "token-plugin"
    plugin.write_text('#!/bin/sh\necho \'{"apiVersion": "client.authentication.k8s.io/v1beta1", '
                      '"kind": "ExecCredential", "status": {"token": "admin-token"}}\'\n')
    plugin.chmod(0o755)
    cfg = api_server.kubeconfig_dict()
    cfg["users"][0]["user"] = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1",
                                        "command": str(plugin), "interactiveMode": "Never"}}
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(cfg))
    assert len(ApiSource(str(path)).collect().of_kind(POD)) == 7


# -- the command line -----------------------------------------------------------------------------


def test_scan_options_set_the_limits(api_server, kubeconfig_for, tmp_path):
    import json
    import os
    import subprocess
    import sys
    api_server.inject(r"^/api/v1/nodes$", "trickle", seconds=0.2)
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower() and k != "KUBECONFIG"}
    run = subprocess.run([sys.executable, "-m", "kaudit", "scan", "--kubeconfig", kubeconfig_for(api_server),
                          "--api-request-timeout", "1.5", "--api-deadline", "60", "--configz-timeout", "2",
                          "--api-max-pages", "50", "--exec-timeout", "5", "--output-dir", str(out),
                          "--format", "json", "-q"], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode not in (0, 2), run.stderr
    scan = json.loads((out / "report.json").read_text())["scan"]
    assert scan["complete"] is False
    assert "Node: could not list nodes: no complete answer within 1.5s" in scan["collection_errors"]

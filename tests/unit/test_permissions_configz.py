"""`kaudit permissions`: why the role holds `get nodes/proxy`, per Kubernetes version (issue 13).

kaudit reads each kubelet's configz through the API server
(GET /api/v1/nodes/NAME/proxy/configz). The API server authorizes that as
`get nodes/proxy` for the caller, whatever the kubelet's
KubeletFineGrainedAuthz gate; the kubelet's own `nodes/configz` check
(pkg/kubelet/server/auth.go) applies to clients that connect to the kubelet.
"""
from __future__ import annotations

import yaml

from kaudit.cli import main


def run(capsys, *args):
    code = main(["permissions", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def proxy_rules(text):
    role = yaml.safe_load(text)
    return [r for r in role["rules"] if any(x.startswith("nodes/") for x in r["resources"])]


def test_role_explains_nodes_proxy_for_every_version(capsys):
    for version in ("v1.30.4", "1.32", "v1.33.1", "1.36.0"):
        code, out, _ = run(capsys, "--kubernetes-version", version)
        assert code == 0
        assert proxy_rules(out) == [{"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]}]
        comments = "\n".join(line for line in out.splitlines() if line.startswith("#"))
        assert "nodes/proxy" in comments and "not read-only" in comments
        if version.lstrip("v").startswith(("1.30", "1.32")):
            assert "nodes/configz does not exist before Kubernetes 1.33" in comments
        else:
            assert "nodes/configz" in comments and "through the API server" in comments


def test_default_output_says_why_too(capsys):
    _, out, _ = run(capsys)
    assert "through the API server" in out and "nodes/proxy" in out


def test_bad_version_is_a_usage_error(capsys):
    code, _, err = run(capsys, "--kubernetes-version", "latest")
    assert code == 2 and "--kubernetes-version" in err

"""The reason the PodSecurity cluster default is not visible is said once per
kind of failure, naming the other control-plane nodes (it is quoted in every
namespace's 5.2 evidence: at 1,500 namespaces a per-node repetition was MBs)."""
from kaudit.rules.predicates._admission import _fold_node_notes


def test_the_same_reason_on_three_api_servers_is_said_once():
    notes = [(f"process kube-apiserver (pid 834) on node {n}: --admission-control-config-file: "
              f"/etc/kubernetes/admission/config.yaml was not collected from node {n}", n)
             for n in ("cp-1", "cp-2", "cp-3")]
    text = _fold_node_notes(notes)
    assert text.count("was not collected") == 1
    assert text.endswith("from node cp-1 (likewise on nodes cp-2, cp-3)")


def test_different_reasons_are_all_kept():
    notes = [("process kube-apiserver on node cp-1: --admission-control-config-file: not collected", "cp-1"),
             ("PodSecurity configuration: /etc/psa.yaml does not parse (line 3)", "cp-2")]
    text = _fold_node_notes(notes)
    assert "not collected" in text and "does not parse (line 3)" in text and "likewise" not in text

"""The kubelet's effective configuration (kaudit/rules/effective/kubelet.py),
judged through the checks, on the files a stock kubeadm worker really has
(tests/unit/kubeadm_node.py cites where each comes from)."""
from __future__ import annotations

import dataclasses

from kaudit.catalog import load_catalog
from kaudit.engine import evaluate_check
from kaudit.model import FileInfo, Status
from kaudit.rules.effective.kubelet import effective_setting, kubelet_views
from tests.unit import kubeadm_node as kn

CATALOG = load_catalog()
DROPINS = "/etc/kubernetes/kubelet.conf.d"


def results(check_id: str, facts):
    return evaluate_check(CATALOG.by_id(check_id), facts)


def only(check_id: str, facts):
    [r] = results(check_id, facts)
    return r


def with_flags(*flags: str, node=None):
    nf = node or kn.worker()
    nf.processes = tuple(dataclasses.replace(p, argv=p.argv + flags) if p.argv[0].endswith("kubelet") else p
                         for p in nf.processes)
    return nf


def with_dropins(nf, files: dict[str, str], directory: str = DROPINS):
    """--config-dir DIRECTORY holding `files` (name -> contents), as the collector records them."""
    nf = with_flags(f"--config-dir={directory}", node=nf)
    nf.files[directory] = FileInfo(directory, True, "dir", 0o755, 0, 0, "root", "root")
    for name, text in files.items():
        path = f"{directory}/{name}"
        nf.files[path] = FileInfo(path, True, "file", 0o644, 0, 0, "root", "root")
        nf.contents[path] = text
    return nf


# --- the --config file and the kubelet's defaulting ---------------------------------

def test_stock_kubeadm_zero_idle_timeout_is_defaulted_to_4h():
    # kubeadm writes streamingConnectionIdleTimeout: 0s; SetDefaults_KubeletConfiguration
    # replaces that zero duration with 4h, so the kubelet never runs with 0.
    r = only("4.2.5", kn.facts([kn.worker()]))
    assert r.status is Status.PASS, r.message
    [ev] = r.evidence
    assert ev.value == "4h0m0s"
    assert "/var/lib/kubelet/config.yaml" in ev.source
    assert ev.note.startswith("default") and "0s" in ev.note


def test_zero_idle_timeout_from_a_flag_stays_zero():
    r = only("4.2.5", kn.facts([with_flags("--streaming-connection-idle-timeout=0")]))
    assert r.status is Status.FAIL
    assert r.evidence[0].source.startswith("--streaming-connection-idle-timeout")


def test_stock_kubeadm_kubelet_settings():
    facts = kn.facts([kn.worker()])
    want = {"4.2.1": Status.PASS, "4.2.2": Status.PASS, "4.2.3": Status.PASS, "4.2.4": Status.PASS,
            "4.2.5": Status.PASS, "4.2.6": Status.PASS, "4.2.7": Status.PASS, "4.2.10": Status.PASS,
            "4.2.11": Status.PASS, "4.2.13": Status.FAIL, "4.2.14": Status.FAIL, "4.2.9": Status.FAIL,
            "4.2.12": Status.FAIL}
    got = {c: only(c, facts).status for c in want}
    assert got == want


# --- --config-dir drop-ins ----------------------------------------------------------

def test_dropins_merge_in_lexical_order_over_the_config_file():
    nf = with_dropins(kn.worker(), {
        "10-open.conf": "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
                        "authentication:\n  anonymous:\n    enabled: true\n",
        "20-close.conf": "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
                         "authentication:\n  anonymous:\n    enabled: false\n",
        "9-late.conf": "readOnlyPort: 10255\n",     # "9-" sorts after "20-": lexical, not numeric
    })
    facts = kn.facts([nf])
    r = only("4.2.1", facts)
    assert r.status is Status.PASS
    assert r.evidence[0].source.startswith(f"{DROPINS}/20-close.conf")
    assert r.evidence[0].note.startswith("drop-in")
    r = only("4.2.4", facts)
    assert r.status is Status.FAIL
    assert f"{DROPINS}/9-late.conf" in r.evidence[0].source


def test_a_dropin_overrides_the_config_file_and_keeps_its_siblings():
    nf = with_dropins(kn.worker(), {"50-webhook-off.conf": "authorization:\n  mode: AlwaysAllow\n"})
    facts = kn.facts([nf])
    assert only("4.2.2", facts).status is Status.FAIL
    # the merge patch only replaces what the drop-in names
    assert only("4.2.3", facts).status is Status.PASS
    assert only("4.2.1", facts).status is Status.PASS


def test_a_zero_in_a_dropin_is_not_defaulted():
    # drop-ins are merged as raw JSON over the defaulted config (no second defaulting)
    nf = with_dropins(kn.worker(), {"90-idle.conf": "streamingConnectionIdleTimeout: 0s\n"})
    r = only("4.2.5", kn.facts([nf]))
    assert r.status is Status.FAIL
    assert "90-idle.conf" in r.evidence[0].source


def test_a_flag_wins_over_the_dropins():
    nf = with_dropins(with_flags("--read-only-port=0"), {"10-ro.conf": "readOnlyPort: 10255\n"})
    r = only("4.2.4", kn.facts([nf]))
    assert r.status is Status.PASS
    assert r.evidence[0].source.startswith("--read-only-port")


def test_only_conf_files_are_dropins():
    nf = with_dropins(kn.worker(), {"10-ro.yaml": "readOnlyPort: 10255\n", "10-ro.conf.bak": "readOnlyPort: 1\n"})
    assert only("4.2.4", kn.facts([nf])).status is Status.PASS


def test_dropins_in_subdirectories_are_merged_in_walk_order():
    nf = with_dropins(kn.worker(), {"10-a/99-ro.conf": "readOnlyPort: 10255\n", "20-b.conf": "readOnlyPort: 0\n"})
    r = only("4.2.4", kn.facts([nf]))
    assert r.status is Status.PASS and "20-b.conf" in r.evidence[0].source


def test_config_dir_without_config_file_merges_over_the_flag_defaults():
    argv = tuple(a for a in kn.KUBEADM_KUBELET_ARGV if not a.startswith("--config="))
    nf = with_dropins(kn.worker(kubelet_argv=argv), {"10-ca.conf": "readOnlyPort: 0\n"})
    facts = kn.facts([nf])
    r = only("4.2.1", facts)
    assert r.status is Status.FAIL          # --anonymous-auth defaults to true without a config file
    assert "flag default" in r.evidence[0].note
    assert only("4.2.4", facts).status is Status.PASS


def test_unparsable_dropin_is_error_naming_file_and_line_other_checks_keep_verdicts():
    nf = with_dropins(kn.worker(), {"10-bad.conf": "authentication:\n  anonymous: [\n"})
    facts = kn.facts([nf])
    r = only("4.2.1", facts)
    assert r.status is Status.ERROR
    assert f"{DROPINS}/10-bad.conf" in r.message and "line" in r.message
    # a flag-only setting and the file checks do not need the drop-in
    assert only("4.2.7", facts).status is Status.PASS
    assert only("4.1.5", facts).status is Status.PASS


def test_a_later_dropin_decides_over_an_unparsable_earlier_one():
    nf = with_dropins(kn.worker(), {"10-bad.conf": "x: [\n", "20-ro.conf": "readOnlyPort: 0\n"})
    facts = kn.facts([nf])
    assert only("4.2.4", facts).status is Status.PASS
    assert only("4.2.1", facts).status is Status.ERROR


def test_dropin_directory_not_collected_is_error():
    nf = with_flags(f"--config-dir={DROPINS}")
    r = only("4.2.1", kn.facts([nf]))
    assert r.status is Status.ERROR and DROPINS in r.message


def test_evidence_names_each_source():
    nf = with_dropins(with_flags("--hostname-override=w1"), {"10-pids.conf": "podPidsLimit: 4096\n"})
    facts = kn.facts([nf])
    [view] = kubelet_views(facts)
    origin = {name: effective_setting(view, spec, 30).origin for name, spec in {
        "flag": {"flag": "hostname-override"},
        "drop-in": {"flag": "pod-max-pids", "config": "podPidsLimit"},
        "config file": {"flag": "anonymous-auth", "config": "authentication.anonymous.enabled"},
        "default": {"flag": "seccomp-default", "config": "seccompDefault"},
    }.items()}
    assert origin == {"flag": "flag", "drop-in": "drop-in", "config file": "config file", "default": "default"}
    facts.cluster.kubelet_configz["worker-1"] = {"seccompDefault": True}
    [view] = kubelet_views(facts)
    assert effective_setting(view, {"flag": "seccomp-default", "config": "seccompDefault"}, 30).origin == "configz"


# --- what the reason says when the kubelet's files cannot be read -------------------

def _unreadable_config():
    nf = kn.worker()
    del nf.contents["/var/lib/kubelet/config.yaml"]
    nf.content_errors["/var/lib/kubelet/config.yaml"] = "permission denied"
    return nf


def test_unreadable_config_error_says_why_not_no_node_access():
    r = only("4.2.1", kn.facts([_unreadable_config()], kn.node_object()))
    assert r.status is Status.ERROR
    assert "config file unreadable: permission denied" in r.message and "/var/lib/kubelet/config.yaml" in r.message
    assert "no node access" not in r.message and "no live config" not in r.message


def test_client_ca_checks_error_when_the_config_cannot_be_read():
    facts = kn.facts([_unreadable_config()])
    for check in ("4.1.7", "4.1.8"):
        r = only(check, facts)
        assert r.status is Status.ERROR, (check, r.message)
        assert "permission denied" in r.message and "no client CA" not in r.message


def test_client_ca_from_a_dropin_is_the_file_judged():
    nf = with_dropins(kn.worker(), {"10-ca.conf": "authentication:\n  x509:\n    clientCAFile: /etc/pki/kca.crt\n"})
    nf.files["/etc/pki/kca.crt"] = FileInfo("/etc/pki/kca.crt", True, "file", 0o666, 0, 0, "root", "root")
    r = only("4.1.7", kn.facts([nf]))
    assert r.status is Status.FAIL and "/etc/pki/kca.crt" in r.message


# --- 4.1.1 / 4.1.2: the kubelet service drop-ins, not the packaged unit -------------

def test_service_file_checks_judge_the_dropins_not_the_packaged_unit():
    nf = kn.worker()
    dropin = "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"
    nf.files[dropin] = dataclasses.replace(nf.files[dropin], mode=0o600)
    # the packaged kubelet.service stays 0644 and owned by someone else
    nf.files["/usr/lib/systemd/system/kubelet.service"] = FileInfo(
        "/usr/lib/systemd/system/kubelet.service", True, "file", 0o644, 1000, 1000, "pkg", "pkg")
    facts = kn.facts([nf])
    r = only("4.1.1", facts)
    assert r.status is Status.PASS, r.message
    assert [e.what for e in r.evidence] == [f"mode of {dropin}"]
    assert only("4.1.2", facts).status is Status.PASS


def test_stock_kubeadm_dropin_0644_fails_411():
    r = only("4.1.1", kn.facts([kn.worker()]))
    assert r.status is Status.FAIL
    assert "10-kubeadm.conf" in r.message


def test_every_dropin_directory_is_judged():
    nf = kn.worker()
    dropin = "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"
    nf.files[dropin] = dataclasses.replace(nf.files[dropin], mode=0o600)
    extra = "/etc/systemd/system/kubelet.service.d/20-extra-args.conf"
    nf.files["/etc/systemd/system/kubelet.service.d"] = FileInfo(
        "/etc/systemd/system/kubelet.service.d", True, "dir", 0o755, 0, 0, "root", "root")
    nf.files[extra] = FileInfo(extra, True, "file", 0o640, 0, 1000, "root", "admins")
    facts = kn.facts([nf])
    assert only("4.1.1", facts).status is Status.FAIL
    r = only("4.1.2", facts)
    assert r.status is Status.FAIL and extra in r.message


def test_no_service_dropin_is_skip_with_reason():
    nf = kn.worker()
    del nf.files["/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"]
    r = only("4.1.1", kn.facts([nf]))
    assert r.status is Status.SKIP and "drop-in" in r.message


def test_unreadable_dropin_directory_is_error():
    nf = kn.worker()
    d = "/usr/lib/systemd/system/kubelet.service.d"
    nf.files[d] = FileInfo(d, True, error="permission denied")
    assert only("4.1.1", kn.facts([nf])).status is Status.ERROR


# --- nodes that node access did not inspect ------------------------------------------

def test_unreachable_node_kubelet_checks_error_per_node():
    down = kn.worker("worker-2")
    down.processes, down.files, down.contents = (), {}, {}
    down.unreachable = "connection timed out"
    facts = kn.facts([kn.worker(), down], kn.node_object("worker-1"), kn.node_object("worker-2"))
    for check in ("4.2.1", "4.1.1", "4.1.7"):
        by_node = {r.target.node: r for r in results(check, facts)}
        assert by_node["worker-2"].status is Status.ERROR, check
        assert "connection timed out" in by_node["worker-2"].message
        assert by_node["worker-1"].status is not Status.ERROR


def test_unreachable_node_without_node_object_or_roles_is_still_error():
    down = kn.worker("worker-2")
    down.processes, down.files, down.contents, down.roles = (), {}, {}, ()
    down.unreachable = "no route to host"
    by_node = {r.target.node: r.status for r in results("4.2.1", kn.facts([kn.worker(), down]))}
    assert by_node == {"worker-1": Status.PASS, "worker-2": Status.ERROR}


def test_node_cut_short_before_its_kubelet_is_error():
    cut = kn.worker("worker-2")
    cut.processes = ()
    cut.errors.append("collector output ended early (no END record): facts are incomplete")
    r = {x.target.node: x for x in results("4.2.1", kn.facts([cut]))}["worker-2"]
    assert r.status is Status.ERROR and "ended early" in r.message
    assert {x.status for x in results("4.1.9", kn.facts([cut]))} == {Status.ERROR}


def test_node_object_not_inspected_while_node_access_was_used():
    r = {x.target.node or x.target.kind: x for x in results("4.2.1", kn.facts([kn.worker()], kn.node_object("worker-9")))}
    # Nodes nothing was collected from share one ERROR per check that names them (issue 15).
    assert r["Cluster"].status is Status.ERROR
    assert "not inspected" in r["Cluster"].message and "worker-9" in r["Cluster"].message


def test_report_is_incomplete_when_a_node_was_cut_short():
    from kaudit.scan import build_report
    cut = kn.worker("worker-2")
    cut.processes = ()
    cut.errors.append("collector output ended early (no END record): facts are incomplete")
    facts = kn.facts([kn.worker(), cut])
    report = build_report(CATALOG, facts, [], "2026-12-01T00:00:00Z")
    assert report.scan.complete is False
    assert any("worker-2" in r for r in report.scan.incomplete_reasons)


def test_parse_is_bounded():
    nf = with_dropins(kn.worker(), {"10-huge.conf": "a: " + "x" * (2 << 20) + "\n"})
    r = only("4.2.1", kn.facts([nf]))
    assert r.status is Status.ERROR and "10-huge.conf is too large" in r.message
    # An alias bomb is refused by the one YAML loader with the rule the kubelet's own
    # YAML library applies (sigs.k8s.io/yaml, go-yaml "excessive aliasing"): the kubelet
    # would not start with this drop-in, so the setting is undetermined, never expanded.
    bomb = "a: &a [x,x,x,x,x,x,x,x]\n" + "".join(
        f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    bomb += "tlsCipherSuites: *i\n"
    nf = with_dropins(kn.worker(), {"10-bomb.conf": bomb})
    r = only("4.2.12", kn.facts([nf]))
    assert r.status is Status.ERROR and "10-bomb.conf is not valid YAML" in r.message
    assert len(r.message) < 1000


def test_flag_only_setting_with_configz_but_no_node_access_says_why():
    facts = kn.facts([], kn.node_object())
    facts.cluster.kubelet_configz["worker-1"] = {"authentication": {"anonymous": {"enabled": False}}}
    assert only("4.2.1", facts).status is Status.PASS
    r = only("4.2.7", facts)
    assert r.status is Status.ERROR
    assert "configz" in r.message and "node access is needed" in r.message


def test_directories_the_collector_could_not_list_are_errors():
    # collect.sh: "cannot list DIR: permission denied" when it may stat but not read a directory
    nf = with_dropins(kn.worker(), {"10-ro.conf": "readOnlyPort: 0\n"})
    nf.errors.append(f"cannot list {DROPINS}: permission denied")
    nf.errors.append("cannot list /usr/lib/systemd/system/kubelet.service.d: permission denied")
    facts = kn.facts([nf])
    r = only("4.2.4", facts)
    assert r.status is Status.ERROR and "permission denied" in r.message and DROPINS in r.message
    r = only("4.1.1", facts)
    assert r.status is Status.ERROR and "kubelet.service.d" in r.message
    assert only("4.2.7", facts).status is Status.PASS    # a flag-only setting needs no drop-in


def test_static_pod_files_error_when_the_kubelets_static_pod_path_is_unknown():
    from tests.unit import factories as fx
    cp = fx.node_facts("cp-1")
    cp.content_errors["/var/lib/kubelet/config.yaml"] = "permission denied"
    del cp.contents["/var/lib/kubelet/config.yaml"]
    r = only("1.1.1", kn.facts([cp]))
    assert r.status is Status.ERROR and "staticPodPath" in r.message and "permission denied" in r.message


def test_feature_gates_flag_dropin_file_default():
    gate = {"feature_gate": "RotateKubeletServerCertificate"}
    argv = tuple(a for a in kn.KUBEADM_KUBELET_ARGV if not a.startswith("--config="))
    [view] = kubelet_views(kn.facts([kn.worker(kubelet_argv=argv)]))
    s = effective_setting(view, gate, 30)
    assert (s.value, s.origin) == ("true", "default") and "process kubelet" in s.source
    nf = with_dropins(kn.worker(), {"10-fg.conf": "featureGates:\n  RotateKubeletServerCertificate: false\n"})
    assert only("4.2.11", kn.facts([nf])).status is Status.FAIL
    nf = with_flags("--feature-gates=RotateKubeletServerCertificate=true", node=nf)
    assert only("4.2.11", kn.facts([nf])).status is Status.PASS

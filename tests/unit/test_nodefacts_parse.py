"""The KAUDIT-NODE record parser: fuzzed, round-tripped, and kept in step
with the collector's own component identification."""
from __future__ import annotations

import subprocess
from importlib import resources

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from kaudit import components
from kaudit.collect.node.parse import (RecordCutShort, decode_token, encode_token,
                                       parse_collector_output, render_record)
from kaudit.model import FileInfo, NodeFacts, ProcessInfo

SCRIPT = str(resources.files("kaudit.collect.node").joinpath("collect.sh"))

text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=30)
argv = st.lists(text, min_size=1, max_size=6)
paths = st.builds(lambda parts: "/" + "/".join(parts),
                  st.lists(st.text(st.characters(blacklist_categories=("Cs",),
                                                 blacklist_characters="\0/"), min_size=1, max_size=8),
                           min_size=1, max_size=4))
files = st.builds(FileInfo, path=st.just(""), exists=st.just(True),
                  type=st.sampled_from(["file", "dir", "other"]), mode=st.integers(0, 0o7777),
                  uid=st.integers(0, 2**32 - 1), gid=st.integers(0, 2**32 - 1),
                  user=st.one_of(st.none(), text.filter(bool)), group=st.one_of(st.none(), text.filter(bool)))
# \x01 carries a newline inside an ETCD_* value (documented), so it cannot round-trip itself
env = st.dictionaries(st.from_regex(r"ETCD_[A-Z_]{1,10}", fullmatch=True),
                      text.filter(lambda v: "\x01" not in v), max_size=3)


@given(st.lists(st.tuples(st.integers(1, 2**22), argv, st.one_of(st.none(), env)), max_size=4,
                unique_by=lambda t: t[0]),
       st.dictionaries(paths, files, max_size=5),
       st.dictionaries(paths, text, max_size=3))
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
def test_round_trip(procs, file_map, contents):
    facts = NodeFacts(name="n", processes=tuple(ProcessInfo(pid, tuple(a), env=e) for pid, a, e in procs),
                      files={p: FileInfo(path=p, exists=True, type=f.type, mode=f.mode, uid=f.uid,
                                         gid=f.gid, user=f.user, group=f.group)
                             for p, f in file_map.items()},
                      contents=contents, errors=["x y"], collector_version="c/1", hostname="h")
    back = parse_collector_output(render_record(facts), "n", "test")
    assert back.processes == tuple(sorted(facts.processes, key=lambda p: p.pid))
    assert back.contents == contents and back.errors == ["x y"] and back.hostname == "h"
    for path, f in facts.files.items():
        got = back.files[path]
        assert (got.type, got.mode, got.uid, got.gid) == (f.type, f.mode, f.uid, f.gid)
        # names are per id, so two files with one uid share the last name given
        if f.user is not None:
            assert got.user is not None


@given(st.binary(max_size=300))
@settings(max_examples=300)
def test_garbage_is_a_clean_value_error(data):
    for payload in (data, b"KAUDIT-NODE 1\n" + data):
        try:
            parse_collector_output(payload, "n", "test")
        except ValueError:
            pass


record_line = st.one_of(
    st.builds(lambda k, fs: " ".join([k, *fs]),
              st.sampled_from(["META", "PROC", "ENV", "ENVERR", "FILE", "MISSING", "FILEERR", "CONTENT",
                               "CONTENTERR", "USER", "GROUP", "ERROR", "RUNNING", "END"]),
              st.lists(st.one_of(st.from_regex(r"%[0-9a-fA-F]{0,9}", fullmatch=True),
                                 st.from_regex(r"[0-9]{1,4}", fullmatch=True),
                                 st.sampled_from(["file", "dir", "644", "/etc/x", "", "%zz"]),
                                 st.text(max_size=5)), max_size=7)),
    st.text(max_size=20))


@given(st.lists(record_line, max_size=12))
@settings(max_examples=400)
def test_structured_garbage_is_a_clean_value_error(lines):
    try:
        facts = parse_collector_output("KAUDIT-NODE 1\n" + "\n".join(lines), "n", "test")
    except ValueError:
        return
    assert isinstance(facts, NodeFacts)
    for p in facts.processes:
        assert p.env is None or all(k.startswith("ETCD_") for k in p.env)


def test_header_and_truncation():
    with pytest.raises(ValueError, match="not a kaudit node record"):
        parse_collector_output("hello\n", "n", "t")
    with pytest.raises(ValueError, match="unsupported node record version"):
        parse_collector_output("KAUDIT-NODE 2\nEND\n", "n", "t")
    with pytest.raises(RecordCutShort, match=r"^collector output cut short after 1 records \(no END record\)$"):
        parse_collector_output("KAUDIT-NODE 1\nMISSING /etc/x\n", "n", "t")
    with pytest.raises(ValueError, match="END record has 1 fields"):
        parse_collector_output("KAUDIT-NODE 1\nMISSING /etc/x\nEND\n", "n", "t")
    with pytest.raises(ValueError, match="data after END"):
        parse_collector_output("KAUDIT-NODE 1\nEND 0\nMISSING /etc/x", "n", "t")
    with pytest.raises(ValueError, match="holds 1 records, its END record counts 0"):
        parse_collector_output("KAUDIT-NODE 1\nMISSING /etc/x\nEND 0\n", "n", "t")


def _real_record() -> bytes:
    """What collect.sh prints on this machine (the real framing, not render_record's)."""
    done = subprocess.run(["sh", SCRIPT], capture_output=True, check=True, timeout=60)
    return done.stdout


def test_a_record_cut_anywhere_is_cut_short_not_partial_facts():
    record = _real_record()
    lines = record.split(b"\n")
    assert lines[-2] == b"END %d" % (len(lines) - 3)      # header, records, END, "" after the last newline
    assert parse_collector_output(record, "n", "t").name == "n"
    boundaries = [i + 1 for i, byte in enumerate(record) if byte == ord("\n")][:-1]
    for cut in boundaries + list(range(len(b"KAUDIT-NODE 1"), len(record), 97)):
        with pytest.raises(RecordCutShort, match="collector output cut short after"):
            parse_collector_output(record[:cut], "n", "t")


def test_a_record_missing_lines_in_the_middle_is_cut_short():
    lines = _real_record().split(b"\n")
    total = len(lines) - 3
    for drop in (1, total // 2, total):
        with pytest.raises(RecordCutShort, match=f"^collector output cut short after {total - 1} of {total} records$"):
            parse_collector_output(b"\n".join(lines[:drop] + lines[drop + 1:]), "n", "t")


def test_env_other_than_etcd_is_dropped_and_binary_content_is_an_error():
    env = b"ETCD_A=1\x01two\nPASSWORD=x\nETCD_B=\n"
    cmd, ok, binary = b"etcd\0--x\0".hex(), b"ok".hex(), b"\x00\x01".hex()
    rec = (f"KAUDIT-NODE 1\nPROC 7 etcd %{cmd}\nENV 7 %{env.hex()}\n"
           f"CONTENT /a %{ok}\nCONTENT /b %{binary}\nCONTENT /c %ff\nEND 5\n")
    facts = parse_collector_output(rec, "n", "t")
    assert facts.processes[0].env == {"ETCD_A": "1\ntwo", "ETCD_B": ""}
    assert facts.contents == {"/a": "ok"}
    assert facts.content_errors["/b"].startswith("binary content")
    assert facts.content_errors["/c"].startswith("binary content")
    assert facts.roles == ("control-plane", "etcd")


def test_tokens():
    for raw in (b"", b"/etc/x", b"a b", b"%41", b"\xff\n"):
        assert decode_token(encode_token(raw)) == raw
    with pytest.raises(ValueError):
        decode_token("%4")
    with pytest.raises(ValueError):
        decode_token("a b")


# --- the sh collector and components.identify_component decide alike -----

def _sh_identify(a0: str, a1: str) -> str | None:
    out = subprocess.run(["sh", SCRIPT, "identify", a0, a1], capture_output=True, check=True).stdout
    return out.decode() or None


CASES = [["/usr/bin/kube-apiserver", "--x"], ["kubelet"], ["/opt/hyperkube", "kube-proxy"],
         ["hyperkube", "apiserver"], ["hyperkube", "kubelet"], ["hyperkube", "etcd"],
         ["hyperkube", "kube-etcd"], ["hyperkube", "bogus"], ["/usr/local/bin/k3s", "server"],
         ["k3s", "agent"], ["k3s", "kubectl"], ["/usr/local/bin/k3s server", ""], ["rke2 agent"],
         ["rke2", "server"], ["etcd"], ["/usr/bin/etcdctl"], ["sh", "kube-apiserver"],
         ["kube-scheduler"], ["kube-controller-manager"], ["/bin/kube-proxy"], ["dockerd"], [""]]


@pytest.mark.parametrize("case", CASES, ids=lambda c: " ".join(c) or "empty")
def test_sh_and_python_identify_alike(case):
    a0, a1 = case[0], case[1] if len(case) > 1 else ""
    py = components.identify_component([a0, a1] if len(case) > 1 else [a0])
    assert _sh_identify(a0, a1) == py


@given(st.sampled_from(["", "/usr/bin/", "x/"]),
       st.sampled_from(list(components.COMPONENTS) + ["hyperkube", "k3s", "rke2", "k3s server", "kubectl"]),
       st.sampled_from(["", "server", "agent", "kube-apiserver", "proxy", "kube-kubelet", "--v=2"]))
@settings(max_examples=60, deadline=None)
def test_sh_and_python_identify_alike_generated(prefix, exe, sub):
    argv = [prefix + exe, sub] if sub else [prefix + exe]
    assert _sh_identify(argv[0], sub) == components.identify_component(argv)


def test_records_the_etcd_environment_names_are_counted(tmp_path):
    """Files named by ETCD_* variables are followed too: those records must
    be in END's count (a record printed in a pipeline's subshell would not be)."""
    root, proc = tmp_path / "host", tmp_path / "proc"
    (root / "var/lib/etcd").mkdir(parents=True)
    (root / "etc/etcd").mkdir(parents=True)
    (root / "etc/etcd/etcd.yaml").write_text("name: cp-1\n")
    (proc / "42").mkdir(parents=True)
    (proc / "42/cmdline").write_bytes(b"/usr/bin/etcd\0--name=cp-1\0")
    (proc / "42/environ").write_bytes(b"PATH=/bin\0ETCD_DATA_DIR=/var/lib/etcd\0"
                                      b"ETCD_CONFIG_FILE=/etc/etcd/etcd.yaml\0")
    done = subprocess.run(["sh", SCRIPT], capture_output=True, check=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "KAUDIT_ROOT": str(root), "KAUDIT_PROC": str(proc)})
    facts = parse_collector_output(done.stdout, "cp-1", "t")
    assert facts.files["/var/lib/etcd"].type == "dir"
    assert facts.contents["/etc/etcd/etcd.yaml"] == "name: cp-1\n"
    assert facts.processes[0].env == {"ETCD_DATA_DIR": "/var/lib/etcd", "ETCD_CONFIG_FILE": "/etc/etcd/etcd.yaml"}

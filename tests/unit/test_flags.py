"""The one flag parser: every spelling a component accepts, and property tests."""
from __future__ import annotations

import string

from hypothesis import given, strategies as st

from kaudit.rules.flags import compare, duration_seconds, parse_flags, split_list
from kaudit.rules.files import mode_within


def test_spellings():
    f = parse_flags(["kube-apiserver", "--a=1", "--b", "2", "--profiling", "--c", "-d=4", "-e", "5"])
    assert f.get("a") == "1" and f.get("b") == "2" and f.get("c") == "true"
    assert f.get("profiling") == "true" and f.get("d") == "4" and f.get("e") == "5"


def test_boolean_flag_never_swallows_a_positional_or_flag():
    f = parse_flags(["kubelet", "--anonymous-auth", "--config", "/x"])
    assert f.get("anonymous-auth") == "true" and f.get("config") == "/x"
    assert parse_flags(["x", "--profiling", "false"]).get("profiling") == "false"
    assert parse_flags(["x", "--profiling", "server"]).get("profiling") == "true"


def test_repeated_flag_last_wins_and_list_flags_append():
    assert parse_flags(["x", "--profiling=true", "--profiling=false"]).get("profiling") == "false"
    f = parse_flags(["x", "--enable-admission-plugins=A,B", "--enable-admission-plugins=C"])
    assert split_list(f.get("enable-admission-plugins")) == ["A", "B", "C"]


def test_negative_number_is_a_value():
    assert parse_flags(["kubelet", "--pod-max-pids", "-1"]).get("pod-max-pids") == "-1"


def test_value_with_equals_and_empty_value():
    f = parse_flags(["x", "--feature-gates=A=true,B=false", "--token-auth-file="])
    assert f.get("feature-gates") == "A=true,B=false"
    assert f.get("token-auth-file") == "" and not compare("set", f.get("token-auth-file"), None)


def test_subcommand_positionals_are_ignored():
    f = parse_flags(["k3s", "server", "--kube-apiserver-arg=profiling=false"])
    assert f.get("kube-apiserver-arg") == "profiling=false"


def test_operators():
    assert compare("eq", "False", "false") and not compare("eq", None, "false")
    assert compare("nothave", "Node,RBAC", "AlwaysAllow") and not compare("has", "Node,RBAC", "RB")
    assert compare("gte", "30", 30) and not compare("gte", "abc", 30)
    assert compare("valid_elements", "A,B", ["A", "B", "C"]) and not compare("valid_elements", "", ["A"])
    assert compare("localhost", "127.0.0.1:10249", None) and not compare("localhost", "0.0.0.0:10249", None)
    assert compare("localhost", "[::1]:10249", None)
    assert not compare("nonzero_duration", "0s", None) and compare("nonzero_duration", "4h0m0s", None)
    assert duration_seconds("1h30m") == 5400 and duration_seconds("bogus") is None


names = st.text(alphabet=string.ascii_lowercase + "-", min_size=1, max_size=20).filter(
    lambda s: not s.startswith("-") and s not in ("true", "false"))
values = st.text(alphabet=string.ascii_letters + string.digits + "/.:,_=", min_size=1, max_size=30).filter(
    lambda s: not s.startswith("-"))


@given(st.dictionaries(names, values, min_size=1, max_size=12), st.data())
def test_property_every_spelling_parses_to_the_same_value(flags, data):
    argv = ["component"]
    for name, value in flags.items():
        if data.draw(st.booleans()):
            argv.append(f"--{name}={value}")
        else:
            argv += [f"--{name}", value]
    parsed = parse_flags(argv)
    from kaudit.rules.defaults import BOOLEAN_FLAGS, LIST_FLAGS
    for name, value in flags.items():
        if name in BOOLEAN_FLAGS or name in LIST_FLAGS:   # booleans only take a value with "="
            continue
        assert parsed.get(name) == value


@given(st.lists(st.tuples(names, values), min_size=1, max_size=10))
def test_property_last_occurrence_wins(pairs):
    from kaudit.rules.defaults import LIST_FLAGS
    argv = ["c"] + [f"--{n}={v}" for n, v in pairs]
    parsed = parse_flags(argv)
    last = {}
    for n, v in pairs:
        last[n] = v
    for n, v in last.items():
        if n not in LIST_FLAGS:
            assert parsed.get(n) == v


@given(st.integers(0, 0o7777), st.integers(0, 0o777))
def test_property_mode_within_means_no_extra_bit(mode, allowed):
    ok = mode_within(mode, allowed)
    assert ok == all(not (mode & bit) or (allowed & bit) for bit in (1 << i for i in range(12)))


def test_mode_examples_from_the_cis_text():
    assert mode_within(0o640, 0o644) and mode_within(0o600, 0o600) and mode_within(0o400, 0o600)
    assert not mode_within(0o611, 0o600) and not mode_within(0o644, 0o600) and not mode_within(0o4600, 0o600)

"""The one flag parser, the control-plane instances it reads, and the `flag` rule kind.

Every component's command line goes through `parse_flags`: `command` and
`args` joined, `--f=v`, `--f v`, bare `--f` (true), single-dash `-f` (etcd
uses Go's flag package), repeated flags (last wins; list flags append, as
pflag's stringSlice does), comma lists. An absent flag takes the
component's Kubernetes default (kaudit.rules.defaults).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Sequence

from kaudit import components as comp
from kaudit.catalog import Check
from kaudit.model import (CLUSTER, POD, Evidence, Facts, Finding, KObject, NodeFacts, Status,
                          Target)
from kaudit.rules import defaults
from kaudit.rules.effective import k3s
from kaudit.rules.predicates import Context

_NEGATIVE_NUMBER = re.compile(r"^-\d")


@dataclass(frozen=True, slots=True)
class FlagSet:
    """Parsed flags: name (without dashes) -> every value given, in order."""
    values: Mapping[str, tuple[str, ...]]

    def has(self, name: str) -> bool:
        return name in self.values

    def get(self, name: str) -> str | None:
        """The effective value as the component sees it: the last one given,
        or for list flags every occurrence joined (pflag appends)."""
        vals = self.values.get(name)
        if not vals:
            return None
        if name in defaults.LIST_FLAGS and len(vals) > 1:
            return ",".join(v for v in vals if v)
        return vals[-1]

    def items(self) -> Iterator[tuple[str, str]]:
        for name in self.values:
            value = self.get(name)
            if value is not None:
                yield name, value


def parse_flags(argv: Sequence[str]) -> FlagSet:
    """Parse a component command line (argv[0] is the program; for hyperkube or
    k3s the subcommand is skipped as a positional argument)."""
    values: dict[str, list[str]] = {}
    i = 1
    n = len(argv)
    while i < n:
        arg = argv[i]
        i += 1
        if arg == "--":
            break
        if not arg.startswith("-") or arg == "-" or _NEGATIVE_NUMBER.match(arg):
            continue  # positional argument (hyperkube/k3s subcommand)
        body = arg.lstrip("-")
        if not body:
            continue
        if "=" in body:
            name, value = body.split("=", 1)
        else:
            name = body
            nxt = argv[i] if i < n else None
            if name in defaults.BOOLEAN_FLAGS:
                # pflag booleans only take a value with "="; accept the common
                # "--flag false" spelling but never swallow another argument.
                if nxt is not None and nxt.lower() in ("true", "false"):
                    value, i = nxt, i + 1
                else:
                    value = "true"
            elif nxt is not None and (not nxt.startswith("-") or _NEGATIVE_NUMBER.match(nxt)):
                value, i = nxt, i + 1
            else:
                value = "true"  # bare flag
        values.setdefault(name, []).append(value)
    return FlagSet({k: tuple(v) for k, v in values.items()})


def split_list(value: str | None) -> list[str]:
    """A comma list as a list of non-empty, stripped items."""
    if not value:
        return []
    return [item.strip() for item in value.split(",") if item.strip()]


def parse_feature_gates(value: str | None) -> dict[str, str]:
    gates: dict[str, str] = {}
    for item in split_list(value):
        if "=" in item:
            k, v = item.split("=", 1)
            gates[k.strip()] = v.strip().lower()
    return gates


# ---------------------------------------------------------------------------
# Where a component runs: processes on inspected nodes and kube-system static pods
# ---------------------------------------------------------------------------

@dataclass(slots=True)
class ComponentInstance:
    component: str
    node: str | None
    target: Target
    source: str                       # human description of where argv came from
    argv: tuple[str, ...]
    flags: FlagSet
    env: Mapping[str, str] | None = None
    node_facts: NodeFacts | None = None
    pod: KObject | None = None
    notes: list[str] = field(default_factory=list)
    embedded_in: str | None = None    # the all-in-one process (k3s-server) running it in-process
    argv_error: str | None = None     # why the command line is not fully known (its config unreadable)
    builtin_flags: frozenset[str] = frozenset()   # flags the all-in-one process sets itself
    unknown_flags: Mapping[str, str] = field(default_factory=dict)   # flag -> why its built-in value is unknown


def pod_argv(pod: KObject, component: str) -> tuple[str, ...]:
    """`command` + `args` of the pod's container that runs the component."""
    chosen = _component_container(pod, component)
    if chosen is None:
        return ()
    command = [str(a) for a in chosen.get("command") or []]
    args = [str(a) for a in chosen.get("args") or []]
    argv = command + args
    # k3s/RKE2 style: only args, no command; keep argv[0] a placeholder so the
    # parser (which skips argv[0]) reads every flag.
    if not command:
        argv = [component] + args
    return tuple(argv)


def pod_env(pod: KObject, component: str) -> dict[str, str]:
    """The literal ETCD_* settings of the component's container (the only
    environment values the collectors keep)."""
    chosen = _component_container(pod, component) or {}
    return {str(e["name"]): str(e["value"]) for e in chosen.get("env") or ()
            if isinstance(e, dict) and "value" in e and str(e.get("name", "")).startswith("ETCD_")}


def _component_container(pod: KObject, component: str) -> dict | None:
    containers = (pod.body.get("spec") or {}).get("containers") or []
    chosen = None
    for c in containers:
        if c.get("name") == component:
            chosen = c
            break
    if chosen is None:
        for c in containers:
            if component in " ".join(map(str, (c.get("command") or [])[:1])) or \
                    component in str(c.get("image", "")):
                chosen = c
                break
    if chosen is None and containers:
        chosen = containers[0]
    return chosen


def _all_in_one_argv(proc_argv: Sequence[str], component: str, nf: NodeFacts,
                     env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    return _all_in_one_args(proc_argv, component, nf, env)[0]


def all_in_one_config(nf: NodeFacts, proc_argv: Sequence[str] | None = None,
                      env: Mapping[str, str] | None = None) -> k3s.DistConfig | None:
    """The k3s/RKE2 settings of the all-in-one process on `nf` (the one given,
    else the first the node runs), or None when there is none."""
    if proc_argv is None:
        proc = next((p for p in nf.processes if comp.identify_component(p.argv) in comp.ALL_IN_ONE), None)
        if proc is None:
            return None
        proc_argv, env = proc.argv, proc.env
    which = comp.identify_component(proc_argv)
    if which not in comp.ALL_IN_ONE:
        return None
    return k3s.load_config(nf, which, parse_flags(proc_argv).values, env)


def _all_in_one_args(proc_argv: Sequence[str], component: str, nf: NodeFacts,
                     env: Mapping[str, str] | None = None) -> tuple[tuple[str, ...], frozenset[str]]:
    """(argv, the flags in it that are the distribution's own). k3s embeds the
    components: their flags are the `kube-apiserver-arg` values of config.yaml,
    its drop-ins and the command line, over k3s's own built-in arguments
    (kaudit.rules.effective.k3s)."""
    key = f"{component.removeprefix('kube-')}-arg" if component != comp.ETCD else "etcd-arg"
    key = {"apiserver-arg": "kube-apiserver-arg", "controller-manager-arg": "kube-controller-manager-arg",
           "scheduler-arg": "kube-scheduler-arg", "proxy-arg": "kube-proxy-arg"}.get(key, key)
    cfg = all_in_one_config(nf, proc_argv, env)
    user_args = list(cfg.lists.get(key, ())) if cfg is not None else []
    if comp.identify_component(proc_argv) in (comp.K3S_SERVER, comp.K3S_AGENT):
        storage = None
        if component == comp.APISERVER and cfg is not None:
            storage = k3s.storage_args(k3s.datastore(nf, cfg)[0], cfg.options)
        return k3s.embedded_args(component, user_args, cfg.options if cfg else {}, nf.hostname or nf.name,
                                 storage)
    return tuple([component] + ["--" + a for a in user_args]), frozenset()


def _unknown_builtins(component: str, which: str, nf: NodeFacts, cfg: k3s.DistConfig | None) -> dict[str, str]:
    """Built-in arguments of an embedded component that depend on what kaudit
    could not establish: the API server's storage flags follow k3s's datastore."""
    if component != comp.APISERVER or which != comp.K3S_SERVER or cfg is None or cfg.error:
        return {}
    kind, why = k3s.datastore(nf, cfg)
    if k3s.storage_args(kind, cfg.options) is not None:
        return {}
    why = why or "its --datastore-endpoint was not collected (K3S_DATASTORE_ENDPOINT is kept only as set)"
    return {f: f"k3s's datastore, which decides --{f}, is not known: {why}" for f in k3s.STORAGE_FLAGS}


def all_in_one_config_error(nf: NodeFacts) -> str | None:
    """Why the k3s/RKE2 configuration (config.yaml and its drop-ins, which
    carry the components' `kube-*-arg` values) could not be used, or None. An
    absent file is no error: it is optional."""
    cfg = all_in_one_config(nf)
    return cfg.error if cfg is not None else None


def embedded_source(component: str, which: str, files: Sequence[str] = ()) -> str:
    """How the evidence names the argv of a component embedded in `which`."""
    if which == comp.K3S_SERVER and component == comp.ETCD:
        return f"embedded in {which}: the config file k3s writes for it (its etcd-arg values included)"
    if which in (comp.K3S_SERVER, comp.K3S_AGENT):
        where = f" ({', '.join(files)}, command line)" if files else ""
        return f"embedded in {which}: k3s built-in arguments, then its {component}-arg values{where}"
    return f"embedded in {which}"


def component_instances(facts: Facts, component: str, ctx: Context | None = None) -> list[ComponentInstance]:
    """Every place `component` runs: one instance per node (a process seen by
    node access wins over the node's static pod) or per static pod."""
    def build() -> list[ComponentInstance]:
        out: list[ComponentInstance] = []
        nodes_with_process: set[str] = set()
        for nf in facts.nodes:
            if nf.unreachable:
                continue
            for proc in nf.processes:
                which = comp.identify_component(proc.argv)
                builtin: frozenset[str] = frozenset()
                cfg = None
                unknown: dict[str, str] = {}
                if which == component:
                    argv = proc.argv
                elif which in comp.ALL_IN_ONE and component in comp.EMBEDDED.get(which, ()):
                    argv, builtin = _all_in_one_args(proc.argv, component, nf, proc.env)
                    cfg = all_in_one_config(nf, proc.argv, proc.env)
                    unknown = _unknown_builtins(component, which, nf, cfg)
                elif component == comp.ETCD and which == comp.K3S_SERVER:
                    # k3s with managed etcd runs it in-process from the file it writes
                    # (pkg/daemons/executor etcd.go: ToConfigFile, embed.ConfigFromFile).
                    cfg = all_in_one_config(nf, proc.argv, proc.env)
                    if cfg is None or k3s.datastore(nf, cfg)[0] != "etcd":
                        continue
                    argv = ("etcd", f"--config-file={cfg.data_dir}/server/db/etcd/config")
                else:
                    continue
                nodes_with_process.add(nf.name)
                inst = ComponentInstance(
                    component=component, node=nf.name,
                    target=Target(kind="Node", name=nf.name, node=nf.name),
                    source=f"process {component} (pid {proc.pid}) on node {nf.name}"
                           + (f" {embedded_source(component, which, cfg.files if cfg else ())}"
                              if which != component else ""),
                    argv=tuple(argv), flags=parse_flags(argv), env=proc.env, node_facts=nf,
                    embedded_in=which if which != component else None,
                    argv_error=(cfg.error if cfg else None) if which != component else None,
                    builtin_flags=builtin, unknown_flags=unknown)
                out.append(inst)
                break  # one instance per node
        for pod in facts.cluster.of_kind(POD):
            if pod.namespace != "kube-system":
                continue
            if comp.component_of_static_pod(pod.name, pod.labels) != component:
                continue
            if component in (comp.KUBELET, comp.PROXY):
                continue   # the kubelet is never a pod; kube-proxy is handled by its own resolver
            node = (pod.body.get("spec") or {}).get("nodeName")
            if node and node in nodes_with_process:
                continue
            argv = pod_argv(pod, component)
            if not argv:
                continue
            out.append(ComponentInstance(
                component=component, node=node,
                target=Target(kind="Pod", name=pod.name, namespace="kube-system", node=node),
                source=f"static pod kube-system/{pod.name} (command + args)"
                       + (f" on node {node}" if node else ""),
                argv=argv, flags=parse_flags(argv), env=pod_env(pod, component) or None,
                node_facts=facts.node(node) if node else None, pod=pod))
        return out
    if ctx is None:
        return build()
    return ctx.cached(f"instances:{component}", build)


def argv_unknown_finding(inst: ComponentInstance) -> Finding:
    """ERROR for an instance whose command line could not be fully known."""
    return Finding(Status.ERROR, inst.target, f"{inst.component}'s command line is not known: {inst.argv_error}",
                   (Evidence(f"command line of {inst.component}", None, inst.source, note=inst.argv_error),))


def no_instance_finding(facts: Facts, component: str) -> Finding:
    """What to say when a component was found nowhere."""
    if facts.cluster.identity.managed_control_plane and component in comp.CONTROL_PLANE:
        return Finding(Status.SKIP, CLUSTER, "managed control plane, not visible to the cluster user")
    reasons = []
    missing = facts.cluster.missing(POD)
    if missing:
        reasons.append(f"kube-system pods could not be read ({missing[POD]})")
    inspected = [n.name for n in facts.nodes if not n.unreachable]
    unreachable = [n.name for n in facts.nodes if n.unreachable]
    if inspected:
        reasons.append(f"not running on any of the {len(inspected)} inspected node(s)")
    else:
        reasons.append("no node was inspected (use --nodes ssh|daemonset|local or --node-facts)")
    if unreachable:
        reasons.append(f"{len(unreachable)} node(s) could not be reached: {', '.join(unreachable[:5])}")
    if facts.cluster.source in ("api", "manifests", "demo") and not missing:
        reasons.append("no kube-system static pod runs it")
    if component == comp.ETCD:
        sqlite, why_not = _sqlite_instead_of_etcd(facts)
        if sqlite:
            return Finding(Status.SKIP, CLUSTER, f"not applicable: {sqlite}",
                           (Evidence("datastore", "kine/SQLite", "k3s configuration and data dir", note=sqlite),))
        if why_not:
            reasons.append(why_not)
    return Finding(Status.ERROR, CLUSTER, f"no {component} found: " + "; ".join(reasons))


def _sqlite_instead_of_etcd(facts: Facts) -> tuple[str | None, str | None]:
    """(why etcd is not used at all: k3s on kine/SQLite, positively
    established on every k3s server; or None and why that is not established,
    None when no k3s server was seen)."""
    servers = [n for n in facts.nodes if not n.unreachable
               and any(comp.identify_component(p.argv) == comp.K3S_SERVER for p in n.processes)]
    if not servers:
        return None, None
    if any(n.unreachable for n in facts.nodes):
        return None, "a node that could not be inspected may run etcd"
    etcd_nodes = [o.name for o in facts.cluster.of_kind("Node")
                  if k3s.truthy((o.labels or {}).get("node-role.kubernetes.io/etcd"))]
    if etcd_nodes:
        return None, f"node(s) labelled with the etcd role: {', '.join(etcd_nodes[:5])}"
    established = []
    for nf in servers:
        cfg = all_in_one_config(nf)
        assert cfg is not None
        sqlite, why_not = k3s.sqlite_datastore(nf, cfg)
        if not sqlite:
            return None, f"k3s's datastore is not known to be SQLite: {why_not}"
        established.append(sqlite)
    return "; ".join(established), None


# ---------------------------------------------------------------------------
# The `flag` rule kind
# ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class FlagValue:
    name: str               # "--profiling", "ETCD_CERT_FILE", "feature gate X", "admission plugins"
    value: str | None
    origin: str             # "flag" | "env" | "default" | "unset" | "config file" | "config default" | "unknown"
    note: str | None = None

    def shown(self) -> str | None:
        return self.value


def effective_flag(inst: ComponentInstance, flag: str, minor: int | None) -> FlagValue:
    """The value a component really uses for `flag`: its resolver decides
    where a config file takes over (kaudit.rules.effective), else the flag,
    then Kubernetes' default."""
    # local import: the resolvers build on FlagValue and ComponentInstance
    from kaudit.rules.effective import apiserver, etcd, scheduler
    if inst.component == comp.ETCD:
        return etcd.effective_etcd_flag(inst, flag, minor)
    if inst.component == comp.APISERVER:
        resolved = apiserver.effective_apiserver_flag(inst, flag, minor)
        if resolved is not None:
            return resolved
    if inst.component == comp.SCHEDULER:
        resolved = scheduler.effective_scheduler_flag(inst, flag, minor)
        if resolved is not None:
            return resolved
    if flag in inst.unknown_flags and not inst.flags.has(flag):
        return FlagValue(f"--{flag}", None, "unknown", inst.unknown_flags[flag])
    if inst.flags.has(flag):
        note = (f"{inst.embedded_in}'s built-in argument (no {inst.component}-arg sets it)"
                if flag in inst.builtin_flags else None)
        return FlagValue(f"--{flag}", inst.flags.get(flag), "flag", note)
    known, value = defaults.flag_default(inst.component, flag, minor)
    if known and value is not None:
        return FlagValue(f"--{flag}", value, "default")
    return FlagValue(f"--{flag}", None, "unset")


def effective_admission_plugins(inst: ComponentInstance, minor: int | None) -> tuple[set[str], str]:
    enabled = set(split_list(inst.flags.get("enable-admission-plugins")))
    enabled |= set(split_list(inst.flags.get("admission-control")))   # removed in 1.24, still seen
    disabled = set(split_list(inst.flags.get("disable-admission-plugins")))
    effective = (defaults.default_admission_plugins(minor) | enabled) - disabled
    how = (f"--enable-admission-plugins={inst.flags.get('enable-admission-plugins') or ''}; "
           f"--disable-admission-plugins={inst.flags.get('disable-admission-plugins') or ''}; "
           "plus the plugins Kubernetes enables by default")
    return effective, how


def _truthy(value: str | None) -> bool | None:
    if value is None:
        return None
    v = value.strip().lower()
    if v in ("true", "1", "t", "yes"):
        return True
    if v in ("false", "0", "f", "no"):
        return False
    return None


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration_seconds(value: str | None) -> float | None:
    """Go duration ("4h0m0s", "30s", "0") in seconds, None if unparseable."""
    if value is None:
        return None
    v = value.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", v):
        return float(v)
    parts = _DURATION.findall(v)
    if not parts or "".join(a + b for a, b in parts) != v.lstrip("+"):
        return None
    return sum(float(num) * _UNIT_SECONDS[unit] for num, unit in parts)


def compare(op: str, seen: str | None, expected: Any) -> bool:
    """The operators of every rule kind. `seen` is the effective value
    (None = not set and no default)."""
    if op == "set":
        return seen is not None and seen != ""
    if op == "notset":
        return seen is None or seen == ""
    if op == "any":
        return True
    if seen is None:
        return False
    if op in ("eq", "noteq"):
        exp = str(expected).lower()
        if exp in ("true", "false"):
            t = _truthy(seen)
            equal = t is not None and t == (exp == "true")
        else:
            equal = seen.strip() == str(expected)
        return equal if op == "eq" else not equal
    if op in ("gte", "lte", "gt"):
        num = _number(seen)
        if num is None:
            return False
        return {"gte": num >= float(expected), "lte": num <= float(expected), "gt": num > float(expected)}[op]
    if op in ("has", "nothave"):
        present = str(expected) in split_list(seen)
        return present if op == "has" else not present
    if op == "valid_elements":
        allowed = set(split_list(expected) if isinstance(expected, str) else expected)
        items = split_list(seen)
        return bool(items) and all(i in allowed for i in items)
    if op == "nonzero_duration":
        secs = duration_seconds(seen)
        return secs is not None and secs != 0
    if op == "localhost":
        host = seen.rsplit(":", 1)[0].strip("[]") if ":" in seen else seen
        return host in ("127.0.0.1", "localhost", "::1")
    raise ValueError(f"unknown operator {op!r}")


_OP_TEXT = {"eq": "{v}", "noteq": "not {v}", "set": "set", "notset": "not set", "gte": ">= {v}",
            "lte": "<= {v}", "gt": "> {v}", "has": "includes {v}", "nothave": "does not include {v}",
            "valid_elements": "only: {v}", "nonzero_duration": "a non-zero duration",
            "localhost": "a loopback address", "any": "reviewed by a person"}


def expectation(op: str, value: Any) -> str:
    if isinstance(value, (list, tuple)):
        value = ",".join(map(str, value))
    return _OP_TEXT.get(op, op).format(v=value)


Outcome = tuple["bool | None", list[Evidence]]


def combine_group(test: Mapping[str, Any], outcomes: Sequence[Outcome]) -> Outcome:
    """An `all`/`any` group of tests, three-valued: None (undecidable) only
    when the decided members do not settle it. For a satisfied `any`, the
    evidence of the branch that satisfied it comes first, so the message
    explains the PASS."""
    values = [o for o, _ in outcomes]
    evidence = [e for _, ev in outcomes for e in ev]
    if "all" in test:
        if any(v is False for v in values):
            return False, evidence
        return (None if any(v is None for v in values) else True), evidence
    if any(v is True for v in values):
        winning = [e for o, ev in outcomes if o is True for e in ev]
        return True, winning + [e for e in evidence if e not in winning]
    return (None if any(v is None for v in values) else False), evidence


def _test_instance(test: Mapping[str, Any], inst: ComponentInstance, minor: int | None) -> Outcome:
    """Evaluate one test (or an all/any group) against one instance; None
    when the evidence cannot decide it."""
    if "all" in test or "any" in test:
        group = test.get("all") or test.get("any")
        return combine_group(test, [_test_instance(t, inst, minor) for t in group])
    op = test.get("op", "eq")
    expected = test.get("value")
    if "admission_plugin" in test:
        plugin = test["admission_plugin"]
        effective, how = effective_admission_plugins(inst, minor)
        on = plugin in effective
        want = test.get("enabled", True)
        return on == want, [Evidence(
            f"admission plugin {plugin}", "enabled" if on else "not enabled", inst.source,
            expected="enabled" if want else "not enabled", note=how)]
    if "feature_gate" in test:
        gate = test["feature_gate"]
        gates = parse_feature_gates(inst.flags.get("feature-gates"))
        if gate in gates:
            seen, note = gates[gate], "--feature-gates"
        else:
            seen = defaults.resolve(defaults.FEATURE_GATE_DEFAULTS.get(gate), minor)
            note = "feature gate not set: Kubernetes default"
        return compare(op, seen, expected), [Evidence(
            f"feature gate {gate}", seen, inst.source, expected=expectation(op, expected), note=note)]
    flag = test["flag"]
    fv = effective_flag(inst, flag, minor)
    ok: bool | None = None if fv.origin == "unknown" else compare(op, fv.value, expected)
    note = fv.note
    if fv.origin == "default" and not note:
        note = "flag absent: Kubernetes default applies"
    elif fv.origin == "unset" and not note:
        note = "flag absent (no default)"
    elif fv.origin == "env":
        note = "from the process environment"
    elif fv.origin == "flag" and not note:
        note = "set on the command line"
    return ok, [Evidence(fv.name, fv.value, inst.source, expected=expectation(op, expected), note=note)]


def evaluate_flag_rule(check: Check, rule: Mapping[str, Any], facts: Facts, ctx: Context) -> Iterable[Finding]:
    component = rule["component"]
    instances = component_instances(facts, component, ctx)
    if not instances:
        yield no_instance_finding(facts, component)
        return
    minor = facts.cluster.identity.minor()
    review = bool(rule.get("review"))
    for inst in instances:
        if inst.argv_error:
            yield argv_unknown_finding(inst)
            continue
        if rule.get("etcd_client"):
            local = _local_storage(inst, minor)
            if local is not None:
                yield local
                continue
        ok, evidence = _test_instance(rule["test"], inst, minor)
        summary = describe(evidence)
        if ok is None:
            notes = "; ".join(e.note for e in evidence if e.note) or "evidence missing"
            yield Finding(Status.ERROR, inst.target, f"could not be determined: {notes}", tuple(evidence))
            continue
        if ok and review:
            status = Status.WARN
            message = f"{summary}; {rule.get('review_message') or 'a person must judge whether this is appropriate'}"
        elif ok:
            status, message = Status.PASS, summary
        else:
            status, message = Status.FAIL, summary
        yield Finding(status, inst.target, message, tuple(evidence))


def _local_storage(inst: ComponentInstance, minor: int | None) -> Finding | None:
    """SKIP for the etcd client checks when the API server's storage is only
    local unix sockets (k3s's kine): no TLS is spoken there, so there is no
    etcd client certificate or CA to set."""
    fv = effective_flag(inst, "etcd-servers", minor)
    servers = split_list(fv.value) if fv.origin == "flag" else []
    if not servers or not all(s.startswith("unix://") for s in servers):
        return None
    ev = Evidence("--etcd-servers", fv.value, inst.source, note=fv.note)
    return Finding(Status.SKIP, inst.target,
                   f"not applicable: the API server's storage is the local socket --etcd-servers={fv.value} "
                   "(kine), not an etcd reached over the network: there is no etcd client certificate or CA "
                   "to set", (ev,))


def describe(evidence: Sequence[Evidence]) -> str:
    """One line from the evidence: "--profiling is true (flag absent: Kubernetes
    default applies); expected = false"."""
    parts = []
    for e in evidence[:3]:
        value = "not set" if e.value is None else (f"'{e.value}'" if e.value == "" else e.value)
        text = f"{e.what} is {value}"
        if e.note and ("default" in e.note or "absent" in e.note):
            text += f" ({e.note})"
        if e.expected:
            text += f"; expected {e.expected}"
        parts.append(text)
    return " | ".join(parts)

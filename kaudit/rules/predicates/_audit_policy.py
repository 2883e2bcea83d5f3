"""The API server's audit policy checker, for resource requests.

Modelled on staging/src/k8s.io/apiserver/pkg/audit/policy/checker.go: the
first rule that matches a request decides its level (None when no rule
matches). A rule matches when every field it sets matches: `users` (the
user's name), `userGroups` (any of the user's groups), `verbs`, then
`namespaces` ("" for cluster-scoped and all-namespace requests) and
`resources` (the API group compared exactly: "*" is not a wildcard;
`resources` entries "res", "res/sub", "*", "*/sub", "res/*"; `resourceNames`
narrow an entry to those object names). A rule with only
`nonResourceURLs` never matches a resource request.

A level therefore depends on who asks what: `levels_for` evaluates one
representative request for every combination of the values the policy
names (each user, group, verb, namespace, name it mentions, plus one that
no rule names). A user in several groups meets the rule of the group that
comes first, which some single-group request already shows, so single
groups cover every level a request can get.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

LEVELS = ("None", "Metadata", "Request", "RequestResponse")
OTHER = "\x00other"          # a value no rule names
VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")


@dataclass(frozen=True, slots=True)
class Request:
    user: str
    group: str | None      # the one group that matters (None: no group any rule names)
    verb: str
    namespace: str
    name: str
    verb_named: bool = False   # some rule names this verb

    def describe(self) -> str:
        """The narrowed attributes of this request, "" when none is."""
        parts = []
        if self.user != OTHER:
            parts.append(f"user {self.user}")
        if self.group is not None:
            parts.append(f"group {self.group}")
        if self.verb_named:
            parts.append(f"verb {self.verb}")
        if self.namespace != OTHER:
            parts.append(f"namespace {self.namespace or '(none: cluster-wide or all namespaces)'}")
        if self.name not in (OTHER, ""):
            parts.append(f"name {self.name}")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class _Rule:
    level: str
    users: frozenset[str] | None
    groups: frozenset[str] | None
    verbs: frozenset[str] | None
    namespaces: frozenset[str] | None
    resources: tuple[tuple[str, tuple[str, ...], frozenset[str] | None], ...] | None
    non_resource_only: bool

    def could_match(self, api_group: str, resource: str, subresource: str) -> bool:
        """Whether some request for this resource can meet the rule."""
        if self.resources is None:
            return not self.non_resource_only or self.namespaces is not None
        return any(_entry_matches(group, names, api_group, resource, subresource)
                   for group, names, _ in self.resources)

    def matches(self, req: Request, api_group: str, resource: str, subresource: str) -> bool:
        if self.users is not None and req.user not in self.users:
            return False
        if self.groups is not None and (req.group is None or req.group not in self.groups):
            return False
        if self.verbs is not None and req.verb not in self.verbs:
            return False
        if self.namespaces is None and self.resources is None:
            return not self.non_resource_only
        if self.namespaces is not None and req.namespace not in self.namespaces:
            return False
        if self.resources is None:
            return True
        return any(_entry_matches(group, names, api_group, resource, subresource)
                   for group, names, object_names in self.resources
                   if object_names is None or req.name in object_names)


def _entry_matches(group: str, names: tuple[str, ...], api_group: str, resource: str, subresource: str) -> bool:
    """One `resources` entry against a request's group and resource (checker.go ruleMatchesResource)."""
    if group != api_group:
        return False
    if not names:
        return True
    combined = f"{resource}/{subresource}" if subresource else resource
    for res in names:
        if res in (combined, "*"):
            return True
        if subresource and res.startswith("*/") and res[2:] == subresource:
            return True
        if res.endswith("/*") and res[:-2] == resource:
            return True
    return False


def _strings(value: Any) -> frozenset[str] | None:
    """A rule field as a set; None when the field is absent or empty (no narrowing)."""
    if not isinstance(value, (list, tuple)) or not value:
        return None
    return frozenset(str(v) for v in value)


def compile_rules(policy: Mapping[str, Any]) -> list[_Rule]:
    rules = []
    for raw in policy.get("rules") or ():
        if not isinstance(raw, Mapping):
            continue
        resources = None
        if isinstance(raw.get("resources"), (list, tuple)) and raw["resources"]:
            resources = tuple(
                (str(e.get("group") or ""), tuple(str(r) for r in e.get("resources") or ()),
                 _strings(e.get("resourceNames")))
                for e in raw["resources"] if isinstance(e, Mapping))
        rules.append(_Rule(
            level=str(raw.get("level") or "None"), users=_strings(raw.get("users")),
            groups=_strings(raw.get("userGroups")), verbs=_strings(raw.get("verbs")),
            namespaces=_strings(raw.get("namespaces")), resources=resources,
            non_resource_only=bool(raw.get("nonResourceURLs"))))
    return rules


def _named(rules: Iterable[_Rule], attr: str) -> set[str]:
    out: set[str] = set()
    for r in rules:
        out |= getattr(r, attr) or set()
    return out


def levels_for(rules: list[_Rule], api_group: str, resource_path: str) -> dict[str, Request]:
    """level -> the most general request that gets it, over every request
    for `resource_path` ("secrets", "pods/exec") in `api_group`."""
    resource, _, subresource = resource_path.partition("/")
    # only rules that can match this resource at all decide its requests
    rules = [r for r in rules if r.could_match(api_group, resource, subresource)]
    users = [OTHER, *sorted(_named(rules, "users"))]
    groups: list[str | None] = [None, *sorted(_named(rules, "groups"))]
    named_verbs = _named(rules, "verbs")
    verbs = sorted(set(VERBS) | named_verbs)
    namespaces = [OTHER, "", *sorted(_named(rules, "namespaces") - {""})]
    names = [OTHER, *sorted({n for r in rules for _, _, ns in (r.resources or ()) for n in (ns or ())})]
    found: dict[str, tuple[int, Request]] = {}
    for user, group, verb, namespace, name in itertools.product(users, groups, verbs, namespaces, names):
        req = Request(user, group, verb, namespace, name, verb in named_verbs)
        level = "None"
        for rule in rules:
            if rule.matches(req, api_group, resource, subresource):
                level = rule.level
                break
        narrowed = (user != OTHER) + (group is not None) + (verb in named_verbs) + (namespace != OTHER) \
            + (name != OTHER)
        if level not in found or narrowed < found[level][0]:
            found[level] = (narrowed, req)
    return {level: req for level, (_, req) in found.items()}

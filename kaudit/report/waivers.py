"""Waivers: accepted risks, read from a YAML file and applied to results.

File format (see docs/reports.md)::

    - check: "5.2.5"                 # exact CIS id, or "5.2.*" for a whole section
      target:                        # optional; omitted = every target of the check
        kind: Pod                    # fnmatch glob patterns, case-sensitive
        namespace: "monitoring"
        name: "node-exporter-*"
        # node: "worker-*"           # matches Target.node
      owner: "platform-team@example.com"
      justification: "node-exporter needs the host network to read host metrics"
      expires: 2025-12-31            # YYYY-MM-DD; the waiver applies up to and including this day
      ticket: SEC-1234               # optional

Scalars are read as their literal text (the YAML is composed, not
constructed), so `check: 2.10` stays "2.10" instead of becoming the float 2.1,
and the line of every entry is known for error messages. Unknown keys are an
error: a typo such as `namepsace:` would otherwise silently widen a waiver.
"""
from __future__ import annotations

import dataclasses
import fnmatch
import re
from datetime import date
from pathlib import Path
from typing import Any, Mapping

import yaml

from kaudit import yamlsafe
from kaudit.model import Result, Status, Target, Waiver, undecided_checks

WAIVABLE = frozenset({Status.FAIL, Status.WARN, Status.ERROR})
SELECTOR_KEYS = ("kind", "namespace", "name", "node")
_ENTRY_KEYS = frozenset({"check", "target", "owner", "justification", "expires", "ticket"})
_CHECK_ID = re.compile(r"^\d+(\.\d+)*$")
_SECTION_WILDCARD = re.compile(r"^(\d+(\.\d+)*)\.\*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class WaiverError(ValueError):
    """A waiver file that cannot be used; the message names file and line."""


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------

def load_waivers(path: Path | str) -> list[Waiver]:
    path = Path(path)
    try:
        text = yamlsafe.read_config(path, "waiver file")
    except (OSError, UnicodeDecodeError) as exc:
        raise WaiverError(f"{path}: cannot read waiver file: {exc}") from None
    return parse_waivers(text, str(path))


def parse_waivers(text: str, filename: str = "<waivers>") -> list[Waiver]:
    try:
        root = yamlsafe.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        context = getattr(exc, "context_mark", None)
        where = f"{filename}:{mark.line + 1}" if mark is not None else filename
        started = (f" (in the construct starting at line {context.line + 1})"
                   if context is not None and mark is not None and context.line != mark.line else "")
        raise WaiverError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}{started}") from None
    if root is None:
        return []
    entries = root
    if isinstance(root, yaml.MappingNode):
        # Also accept `waivers: [...]` so the file can grow other keys later.
        top = {k.value: v for k, v in root.value}
        if set(top) != {"waivers"}:
            raise WaiverError(f"{filename}:{root.start_mark.line + 1}: expected a list of waivers "
                              f"(or a mapping with only the key 'waivers')")
        entries = top["waivers"]
    if not isinstance(entries, yaml.SequenceNode):
        raise WaiverError(f"{filename}:{entries.start_mark.line + 1}: expected a list of waivers")
    return [_parse_entry(node, filename) for node in entries.value]


def _plain(node: yaml.Node, where: str) -> Any:
    """Node -> str / list / dict, scalars kept as their literal text."""
    if isinstance(node, yaml.ScalarNode):
        return node.value
    if isinstance(node, yaml.SequenceNode):
        return [_plain(n, where) for n in node.value]
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for k, v in node.value:
            if not isinstance(k, yaml.ScalarNode):
                raise WaiverError(f"{where}: keys must be plain strings")
            if k.value in out:
                raise WaiverError(f"{where}: key {k.value!r} given twice")
            out[k.value] = _plain(v, where)
        return out
    raise WaiverError(f"{where}: unsupported YAML node")


def _parse_entry(node: yaml.Node, filename: str) -> Waiver:
    where = f"{filename}:{node.start_mark.line + 1}"
    if not isinstance(node, yaml.MappingNode):
        raise WaiverError(f"{where}: each waiver must be a mapping")
    raw = _plain(node, where)
    label = f"{where}: waiver for check {raw.get('check', '?')!r}"

    unknown = sorted(set(raw) - _ENTRY_KEYS)
    if unknown:
        raise WaiverError(f"{label}: unknown key(s) {', '.join(unknown)} "
                          f"(allowed: {', '.join(sorted(_ENTRY_KEYS))})")
    for key in ("check", "owner", "justification", "expires"):
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise WaiverError(f"{label}: {key!r} is required and must be a non-empty string")

    check = raw["check"].strip()
    if not (_CHECK_ID.match(check) or _SECTION_WILDCARD.match(check)):
        raise WaiverError(f"{label}: 'check' must be a CIS id like 5.2.5 or a section "
                          f"wildcard like 5.2.* (a bare '*' is not allowed)")

    expires = raw["expires"].strip()
    if not _DATE.match(expires):
        raise WaiverError(f"{label}: 'expires' must be a date YYYY-MM-DD, got {expires!r}")
    try:
        date.fromisoformat(expires)
    except ValueError:
        raise WaiverError(f"{label}: 'expires' is not a real date: {expires!r}") from None

    selector = raw.get("target") or {}
    if not isinstance(selector, dict):
        raise WaiverError(f"{label}: 'target' must be a mapping of {', '.join(SELECTOR_KEYS)}")
    bad = sorted(set(selector) - set(SELECTOR_KEYS))
    if bad:
        raise WaiverError(f"{label}: unknown target key(s) {', '.join(bad)} "
                          f"(allowed: {', '.join(SELECTOR_KEYS)})")
    for key, pattern in selector.items():
        if not isinstance(pattern, str) or not pattern:
            raise WaiverError(f"{label}: target {key!r} must be a non-empty glob pattern")

    ticket = raw.get("ticket")
    if ticket is not None and not isinstance(ticket, str):
        raise WaiverError(f"{label}: 'ticket' must be a string")

    return Waiver(check=check, owner=raw["owner"].strip(),
                  justification=" ".join(raw["justification"].split()),
                  expires=expires, ticket=ticket.strip() if ticket else None,
                  selector={k: selector[k] for k in SELECTOR_KEYS if k in selector})


# ---------------------------------------------------------------------------
# Matching and applying
# ---------------------------------------------------------------------------

def check_matches(pattern: str, check_id: str) -> bool:
    m = _SECTION_WILDCARD.match(pattern)
    if m:
        return check_id.startswith(m.group(1) + ".")
    return pattern == check_id


def target_matches(selector: Mapping[str, str], target: Target) -> bool:
    """Every given pattern must match; a pattern for an absent field (node on a
    cluster-scoped object) does not match, so a selector never widens silently."""
    values = {"kind": target.kind, "namespace": target.namespace,
              "name": target.name, "node": target.node}
    for key, pattern in selector.items():
        value = values.get(key)
        if value is None or not fnmatch.fnmatchcase(value, pattern):
            return False
    return True


def waiver_matches(waiver: Waiver, result: Result) -> bool:
    return check_matches(waiver.check, result.check) and target_matches(waiver.selector, result.target)


def is_expired(waiver: Waiver, today: date) -> bool:
    return date.fromisoformat(waiver.expires) < today


def apply_waivers(results: list[Result], waivers: list[Waiver],
                  today: date) -> tuple[list[Result], dict[str, Any]]:
    """Turn matching FAIL/WARN/ERROR results into WAIVED.

    The first active waiver (file order) that matches wins. Returns the new
    results and the summary stored in Report.waivers:
    ``{"applied": [{"waiver": ..., "results": n}], "expired": [...], "stale": [...],
    "unconfirmed": [...]}``.
    Expired waivers are not applied (the result keeps its real status);
    "stale" lists active waivers that waived nothing (the risk is gone, or the
    selector is wrong) so they can be removed; "unconfirmed" those that waived
    nothing in a check that could not decide (an ERROR for the whole cluster).
    """
    active = [w for w in waivers if not is_expired(w, today)]
    expired = [w for w in waivers if is_expired(w, today)]
    used = [0] * len(active)
    out: list[Result] = []
    for result in results:
        if result.status in WAIVABLE:
            for i, waiver in enumerate(active):
                if waiver_matches(waiver, result):
                    used[i] += 1
                    result = dataclasses.replace(result, status=Status.WAIVED,
                                                 original_status=result.status, waiver=waiver)
                    break
        out.append(result)
    # A waiver that matched nothing is stale only where its checks decided:
    # a check that errored for the whole cluster may still fail the waived
    # target, so that waiver is kept as unconfirmed, not offered for removal.
    undecided = undecided_checks(results)
    unused = [w for w, n in zip(active, used) if not n]
    unconfirmed = [w for w in unused if any(check_matches(w.check, c) for c in undecided)]
    summary = {
        "applied": [{"waiver": w.to_json(), "results": n} for w, n in zip(active, used) if n],
        "expired": [w.to_json() for w in expired],
        "stale": [w.to_json() for w in unused if w not in unconfirmed],
        "unconfirmed": [w.to_json() for w in unconfirmed],
        "evaluated_on": today.isoformat(),
    }
    return out, summary

"""What every resolver returns: an effective value and where it came from."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

# Where an effective value came from; "unknown" means it could not be decided.
CONFIGZ = "configz"
FLAG = "flag"
CONFIG_FILE = "config file"
DROP_IN = "drop-in"
DEFAULT = "default"
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Setting:
    value: str | None
    origin: str          # one of the constants above
    source: str          # where it was read: a file path, a process, a ConfigMap, configz
    note: str | None = None


def get_path(obj: Mapping[str, Any] | None, dotted: str) -> tuple[bool, Any]:
    """(found, value) of a dotted field path in a parsed config document."""
    cur: Any = obj
    for part in dotted.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return False, None
        cur = cur[part]
    return True, cur


MAX_TEXT = 4096   # a value shown as evidence; YAML aliases can make a small file a huge tree


def as_text(value: Any) -> str | None:
    """A config value as the text the rule operators compare (bounded: a
    list or mapping built from YAML aliases is cut, not expanded forever)."""
    if value is None:
        return None
    out: list[str] = []
    budget = [MAX_TEXT]

    def emit(text: str) -> bool:
        if budget[0] <= 0:
            return False
        out.append(text[:budget[0]])
        budget[0] -= len(text)
        return budget[0] > 0

    def walk(v: Any) -> bool:
        if isinstance(v, bool):
            return emit("true" if v else "false")
        if isinstance(v, (list, tuple)):
            for i, item in enumerate(v):
                if (i and not emit(",")) or not walk(item):
                    return False
            return True
        if isinstance(v, Mapping):
            for i, (k, item) in enumerate(v.items()):
                if (i and not emit(",")) or not emit(f"{k}=") or not walk(item):
                    return False
            return True
        return emit(str(v))
    if not walk(value):
        out.append("...")
    return "".join(out)

"""The one way kaudit parses YAML it did not write: PyYAML's safe loader
(libyaml's C implementation when PyYAML was built with it, an order of
magnitude faster on large dumps; the same documents either way)."""
from __future__ import annotations

from typing import Any

import yaml

LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
YAMLError = yaml.YAMLError


def load(text: str) -> Any:
    """Parse one YAML document with the safe loader (raises YAMLError)."""
    loader = LOADER(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def error_line(exc: BaseException) -> int | None:
    """The 1-based line a YAML error points at, when it says."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return mark.line + 1 if mark is not None else None

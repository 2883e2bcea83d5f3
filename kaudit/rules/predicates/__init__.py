"""Registry of named predicates: checks that need real logic (RBAC
reachability, workload security, network-policy coverage, manual evidence).

A predicate is `fn(facts, check, params, ctx) -> Iterable[Finding]`, registered
with `@predicate("name")` and referenced from a check as
`rule: {predicate: name, params: {...}}`. Predicates are pure: they read
`Facts` and never do I/O. Anything expensive to derive (the RBAC resolution,
workload attribution) is built once per scan through `ctx.cached`.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Any, Callable, Iterable, Mapping, TypeVar

from kaudit.catalog import Check
from kaudit.model import Facts, Finding

T = TypeVar("T")

PredicateFn = Callable[[Facts, Check, Mapping[str, Any], "Context"], Iterable[Finding]]
_REGISTRY: dict[str, PredicateFn] = {}


class Context:
    """Per-scan memo so indexes are built once and shared across checks."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}

    def cached(self, key: str, build: Callable[[], T]) -> T:
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]


def predicate(name: str) -> Callable[[PredicateFn], PredicateFn]:
    def register(fn: PredicateFn) -> PredicateFn:
        if name in _REGISTRY:
            raise ValueError(f"predicate {name!r} registered twice")
        _REGISTRY[name] = fn
        return fn
    return register


def get_predicate(name: str) -> PredicateFn:
    _load_all()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown predicate {name!r}") from None


def registered() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


_loaded = False


def _load_all() -> None:
    """Import every module of this package so their @predicate run."""
    global _loaded
    if _loaded:
        return
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    _loaded = True

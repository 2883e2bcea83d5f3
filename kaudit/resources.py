"""Where the shipped data lives: top-level checks/ and templates/ in a source
checkout, kaudit/data/ inside an installed wheel."""
from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Directory of shipped data `name` ("checks" or "templates")."""
    installed = _PACKAGE / "data" / name
    if installed.is_dir():
        return installed
    checkout = _PACKAGE.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"kaudit data directory {name!r} not found (broken install?)")


def demo_dir() -> Path:
    return _PACKAGE / "demo"

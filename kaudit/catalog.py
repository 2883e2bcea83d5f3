"""The check catalog: checks/<benchmark>/*.yaml, validated at load.

A check is data: its CIS metadata plus one `rule` of a closed set of kinds
(see kaudit.engine). Loading fails loudly on anything malformed, naming the
file and the check, so a broken catalog never turns into missing results.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from kaudit import yamlsafe
from kaudit.resources import data_dir

LEVELS = (1, 2)
CIS_LABELS = ("Automated", "Manual")
SEVERITIES = ("critical", "high", "medium", "low", "info")
RULE_KINDS = ("flag", "file", "setting", "predicate")


class CatalogError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Check:
    id: str
    title: str
    section: str           # "1.2" for 1.2.3, "2" for 2.1
    level: int
    cis_label: str
    automated: bool        # kaudit decides it without a person
    severity: str
    remediation: str
    rule: Mapping[str, Any]
    references: tuple[str, ...] = ()
    rationale: str = ""

    @property
    def top_section(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def rule_kind(self) -> str:
        return next(k for k in RULE_KINDS if k in self.rule)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "section": self.section,
                "level": self.level, "cis_label": self.cis_label, "automated": self.automated,
                "severity": self.severity, "remediation": self.remediation,
                "references": list(self.references), "rule_kind": self.rule_kind}


@dataclass(slots=True)
class Catalog:
    benchmark: str
    title: str
    version: str
    checks: list[Check] = field(default_factory=list)
    sections: dict[str, str] = field(default_factory=dict)   # "1.2" -> "API Server"
    sha256: str = "unknown"          # of the benchmark's YAML files (kaudit.attribution.catalog_sha256)

    def by_id(self, check_id: str) -> Check:
        for c in self.checks:
            if c.id == check_id:
                return c
        raise KeyError(check_id)


def available_benchmarks(root: Path | None = None) -> list[str]:
    root = root or data_dir("checks")
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / "benchmark.yaml").exists())


def _id_key(check_id: str) -> tuple[int, ...]:
    return tuple(int(p) for p in check_id.split("."))


def load_catalog(benchmark: str = "cis-1.12", root: Path | None = None) -> Catalog:
    root = root or data_dir("checks")
    bdir = root / benchmark
    if not (bdir / "benchmark.yaml").is_file():
        raise CatalogError(
            f"unknown benchmark {benchmark!r}; available: {', '.join(available_benchmarks(root)) or 'none'}")
    meta = yamlsafe.load((bdir / "benchmark.yaml").read_text()) or {}
    catalog = Catalog(benchmark=benchmark, title=meta.get("title", benchmark),
                      version=str(meta.get("version", "")),
                      sections={str(k): v for k, v in (meta.get("sections") or {}).items()})
    seen: dict[str, Path] = {}
    for path in sorted(bdir.glob("*.yaml")):
        if path.name == "benchmark.yaml":
            continue
        doc = yamlsafe.load(path.read_text()) or {}
        for raw in doc.get("checks") or ():
            check = _parse_check(raw, path)
            if check.id in seen:
                raise CatalogError(f"{path.name}: check {check.id} already defined in {seen[check.id].name}")
            seen[check.id] = path
            catalog.checks.append(check)
    catalog.checks.sort(key=lambda c: _id_key(c.id))
    from kaudit.attribution import catalog_sha256
    catalog.sha256 = catalog_sha256(bdir)
    return catalog


def _parse_check(raw: Mapping[str, Any], path: Path) -> Check:
    where = f"{path.name}: check {raw.get('id', '?')}"
    if not isinstance(raw, Mapping):
        raise CatalogError(f"{path.name}: each check must be a mapping")
    for key in ("id", "title", "level", "cis_label", "automated", "severity", "remediation", "rule"):
        if key not in raw:
            raise CatalogError(f"{where}: missing {key!r}")
    check_id = str(raw["id"])
    try:
        _id_key(check_id)
    except ValueError:
        raise CatalogError(f"{where}: id must be dotted numbers") from None
    if raw["level"] not in LEVELS:
        raise CatalogError(f"{where}: level must be 1 or 2")
    if raw["cis_label"] not in CIS_LABELS:
        raise CatalogError(f"{where}: cis_label must be one of {CIS_LABELS}")
    if raw["severity"] not in SEVERITIES:
        raise CatalogError(f"{where}: severity must be one of {SEVERITIES}")
    rule = raw["rule"]
    if not isinstance(rule, Mapping) or sum(k in rule for k in RULE_KINDS) != 1:
        raise CatalogError(f"{where}: rule must have exactly one of {RULE_KINDS}")
    section = check_id.rsplit(".", 1)[0] if check_id.count(".") >= 2 else check_id.split(".")[0]
    return Check(
        id=check_id, title=str(raw["title"]).strip(), section=section, level=int(raw["level"]),
        cis_label=raw["cis_label"], automated=bool(raw["automated"]), severity=raw["severity"],
        remediation=" ".join(str(raw["remediation"]).split()), rule=rule,
        references=tuple(raw.get("references") or ()),
        rationale=" ".join(str(raw.get("rationale", "")).split()),
    )

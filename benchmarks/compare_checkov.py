"""kaudit against checkov on the same manifests: wall time, CPU time, peak RSS.

    .venv/bin/python benchmarks/compare_checkov.py              # the 1k size
    .venv/bin/python benchmarks/compare_checkov.py --size 10k

checkov is installed into its own venv (default /tmp/checkov-venv, created
with `pip install checkov` when missing), never into kaudit's. The synthetic
cluster from benchmarks/generate.py is converted to plain multi-document
YAML, one file per kind (checkov's kubernetes framework does not unwrap
`kind: List`), and both tools scan that same directory:

    checkov -d DIR --framework kubernetes -o json
    kaudit scan --manifests DIR --output-dir TMP      (json, html, junit written)

Target from the issue: kaudit at least 20x faster.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import CACHE, ensure_cluster, measure  # noqa: E402

import yaml  # noqa: E402

TARGET_RATIO = 20.0


def ensure_checkov(venv: Path) -> Path:
    exe = venv / "bin" / "checkov"
    if not exe.exists():
        print(f"installing checkov into {venv} (its own venv, not kaudit's)", flush=True)
        subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "checkov"], check=True)
    return exe


def to_plain_yaml(cluster_dir: Path, out: Path) -> int:
    """One multi-document YAML file per kind, one object per document."""
    out.mkdir(parents=True, exist_ok=True)
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    count = 0
    for path in sorted(cluster_dir.glob("*.json")):
        items = json.loads(path.read_text())["items"]
        if not items:
            continue
        with open(out / (path.stem + ".yaml"), "w", encoding="utf-8") as fh:
            yaml.dump_all(items, fh, Dumper=dumper, sort_keys=False)
        count += len(items)
    return count


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="1k")
    ap.add_argument("--data", type=Path, default=CACHE / "clusters")
    ap.add_argument("--checkov-venv", type=Path, default=Path("/tmp/checkov-venv"))
    args = ap.parse_args()
    checkov = ensure_checkov(args.checkov_venv)
    version = subprocess.run([str(checkov), "--version"], capture_output=True, text=True).stdout.strip()
    cluster = ensure_cluster(args.size, args.data, print)
    with tempfile.TemporaryDirectory(prefix="kaudit-vs-checkov-") as tmp:
        manifests = Path(tmp) / "manifests"
        objects = to_plain_yaml(cluster / "cluster", manifests)
        print(f"{args.size}: {objects:,} objects as plain YAML in {manifests}", flush=True)
        # kaudit first: a child's peak RSS counts the parent's at fork, and the parent
        # holds checkov's (large) JSON output once it has run.
        ka = measure([sys.executable, "-m", "kaudit", "scan", "--manifests", str(manifests),
                      "--output-dir", str(Path(tmp) / "kaudit"), "--quiet", "--fail-on", "never"])
        if ka["rc"] != 0:
            print(f"kaudit failed (exit {ka['rc']}):\n{ka['stderr']}", file=sys.stderr)
            return 2
        ck = measure([str(checkov), "-d", str(manifests), "--framework", "kubernetes", "-o", "json",
                      "--skip-download", "--quiet"], timeout=7200)
        if ck["rc"] not in (0, 1):      # 1: checkov found failed checks
            print(f"checkov failed (exit {ck['rc']}):\n{ck['stderr']}", file=sys.stderr)
            return 2
        try:
            ck_out = json.loads(ck["stdout"])
            ck_runs = ck_out if isinstance(ck_out, list) else [ck_out]
            ck_checks = sum(r.get("summary", {}).get("passed", 0) + r.get("summary", {}).get("failed", 0)
                            for r in ck_runs)
        except ValueError:
            ck_checks = None
        ka_results = len(json.loads((Path(tmp) / "kaudit" / "report.json").read_text())["results"])
    ratio = ck["wall_s"] / ka["wall_s"]
    print(f"\n| tool | wall (s) | CPU (s) | peak RSS (MiB) | results |\n|---|--:|--:|--:|--:|\n"
          f"| checkov {version} | {ck['wall_s']:.1f} | {ck['cpu_s']:.1f} | {ck['peak_rss_mib']:.0f} | "
          f"{ck_checks if ck_checks is not None else '?'} |\n"
          f"| kaudit | {ka['wall_s']:.1f} | {ka['cpu_s']:.1f} | {ka['peak_rss_mib']:.0f} | {ka_results} |\n")
    print(f"kaudit is {ratio:.1f}x faster than checkov on {objects:,} objects "
          f"(target >= {TARGET_RATIO:.0f}x: {'met' if ratio >= TARGET_RATIO else 'MISSED'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

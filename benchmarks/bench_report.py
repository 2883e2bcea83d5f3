"""Render time and size of the reports for synthetic clusters.

    .venv/bin/python benchmarks/bench_report.py               # 2,000 and 150,000 pods
    .venv/bin/python benchmarks/bench_report.py --pods 20000  # one size

Limits from the issue: report.html under 2 MB for 2,000 pods and under 20 MB
for 150,000 pods. Exits 1 when a limit is exceeded.
"""
from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kaudit.report.html import HtmlFormatter  # noqa: E402
from kaudit.report.json import JsonFormatter  # noqa: E402
from kaudit.report.junit import JunitFormatter  # noqa: E402
from kaudit.report.synthetic import synthetic_report  # noqa: E402
from kaudit.report.text import TextFormatter  # noqa: E402

LIMITS = {2_000: 2 * 1024 * 1024, 150_000: 20 * 1024 * 1024}


def bench(pods: int, trace_memory: bool) -> bool:
    t0 = time.perf_counter()
    report = synthetic_report(pods=pods)
    previous = synthetic_report(pods=pods, seed=2)
    built = time.perf_counter() - t0
    print(f"\n{pods:,} pods: {len(report.results):,} results "
          f"(synthetic report built in {built:.1f} s)")
    ok = True
    formatters = [("html (with trend)", HtmlFormatter(previous=previous)), ("json", JsonFormatter()),
                  ("junit", JunitFormatter()), ("text", TextFormatter())]
    for label, formatter in formatters:
        if trace_memory:
            tracemalloc.start()
        t = time.perf_counter()
        data = formatter.render(report)
        elapsed = time.perf_counter() - t
        peak = ""
        if trace_memory:
            peak = f", peak {tracemalloc.get_traced_memory()[1] / 2**20:,.0f} MiB"
            tracemalloc.stop()
        line = f"  {label:<18} {elapsed:6.2f} s  {len(data) / 2**20:8.2f} MiB{peak}"
        limit = LIMITS.get(pods)
        if formatter.name == "html" and limit:
            within = len(data) < limit
            ok &= within
            line += f"  (limit {limit / 2**20:.0f} MiB: {'ok' if within else 'EXCEEDED'})"
        print(line)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, action="append",
                        help="cluster size in pods (repeatable; default 2000 and 150000)")
    parser.add_argument("--memory", action="store_true", help="also report peak memory (slower)")
    args = parser.parse_args()
    ok = all([bench(p, args.memory) for p in (args.pods or [2_000, 150_000])])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

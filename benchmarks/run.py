"""kaudit's scale benchmarks: wall time, CPU time and peak RSS at 1k-150k pods.

    make benchmarks                                   # every size, every measurement
    .venv/bin/python benchmarks/run.py --sizes 1k,10k # a subset
    .venv/bin/python benchmarks/run.py --sizes 150k --only eval,scan

For each size the synthetic cluster from benchmarks/generate.py (generated
once, cached under --data) is measured three ways, each in a fresh
subprocess whose own rusage (os.wait4) gives CPU time and peak RSS:

  eval   evaluation from saved facts: the facts are loaded once and pickled
         (not timed); a child unpickles them and times `evaluate` alone.
  scan   `kaudit scan --manifests DIR --node-facts DIR --output-dir TMP`,
         every report written; the report sizes are recorded too.
  api    the same scan through the wire-level test API server
         (tests/integration/apiserver.py, in its own process, pages
         pre-serialised), `kaudit scan --kubeconfig ...`.

and once, SSH fan-out to 50 nodes (benchmarks/bench_ssh.py). Results merge
into benchmarks/results/tmp/measurements.json, from which
benchmarks/results/results.md and scaling.svg are rewritten.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
CACHE = RESULTS / "tmp"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from generate import EXTRA_SIZES, SIZES, generate, pods_for  # noqa: E402

MEASUREMENTS = ("eval", "scan", "api")
# Targets from the issue (2 cores, 24 GB).
TARGET_SCAN_S = 60.0
TARGET_API_S = 90.0
TARGET_RSS_MIB = 1536.0
HTML_LIMITS = {2_000: 2.0, 150_000: 20.0}     # MiB


# ---------------------------------------------------------------------------
# Measuring a child process
# ---------------------------------------------------------------------------

def measure(cmd: list[str], timeout: float = 1800.0, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run `cmd`; its wall time, CPU time and peak RSS (from wait4: this child only)."""
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    out, err = b"", b""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    # communicate() reaped the child through _Popen._try_wait, which kept its rusage.
    wall = time.monotonic() - t0
    ru = getattr(proc, "_kaudit_rusage", None)
    return {"wall_s": wall, "rc": proc.returncode, "stdout": out.decode(errors="replace"),
            "stderr": err.decode(errors="replace")[-2000:], **(ru or {})}


class _Popen(subprocess.Popen):
    """Popen that reaps with wait4, keeping the child's own rusage."""

    def _try_wait(self, wait_flags: int):  # type: ignore[override]
        try:
            pid, status, ru = os.wait4(self.pid, wait_flags)
        except ChildProcessError:
            return self.pid, 0
        if pid:
            self._kaudit_rusage = {"cpu_s": ru.ru_utime + ru.ru_stime, "peak_rss_mib": ru.ru_maxrss / 1024}
        return pid, status


subprocess.Popen = _Popen  # type: ignore[misc]  # only this script's children


# ---------------------------------------------------------------------------
# Child modes (run in fresh interpreters)
# ---------------------------------------------------------------------------

def child_save_facts(cluster_dir: str, node_dir: str, out: str) -> None:
    from kaudit.collect.manifests import ManifestSource
    from kaudit.collect.node.saved import SavedNodeFactsSource
    from kaudit.model import Facts
    cluster = ManifestSource([Path(cluster_dir)]).collect()
    nodes = SavedNodeFactsSource([node_dir]).collect(cluster)
    with open(out, "wb") as fh:
        pickle.dump(Facts(cluster=cluster, nodes=nodes, node_access="saved"), fh, protocol=pickle.HIGHEST_PROTOCOL)


def child_eval(facts_path: str) -> None:
    from kaudit.catalog import load_catalog
    from kaudit.engine import evaluate
    catalog = load_catalog("cis-1.12")
    with open(facts_path, "rb") as fh:
        facts = pickle.load(fh)
    from kaudit.gcpause import paused_gc
    c0, t0 = time.process_time(), time.perf_counter()
    with paused_gc():        # as kaudit.scan.run_scan does
        results = evaluate(catalog, facts)
    print(json.dumps({"eval_wall_s": time.perf_counter() - t0, "eval_cpu_s": time.process_time() - c0,
                      "results": len(results)}))


def child_serve(cluster_dir: str, page_size: int) -> None:
    from apiserver import FakeApiServer   # tests/integration
    server = FakeApiServer(record=False)
    count = 0
    for path in sorted(Path(cluster_dir).glob("*.json")):
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
        for obj in doc["items"]:
            rtype = server.rtype_for(obj["apiVersion"], obj["kind"])
            if rtype is None:
                raise SystemExit(f"no resource type in the test API server for {obj['apiVersion']} {obj['kind']}")
            server.store.objects.setdefault(rtype, {})[(obj["metadata"].get("namespace") or "",
                                                        obj["metadata"]["name"])] = obj
            count += 1
        del doc
    server.warm(page_size)
    server.start()
    kubeconfig = server.write_kubeconfig(server.tmpdir / "kubeconfig")
    print(json.dumps({"kubeconfig": str(kubeconfig), "objects": count}), flush=True)
    sys.stdin.read()          # until the parent closes our stdin
    server.stop()


# ---------------------------------------------------------------------------
# The measurements
# ---------------------------------------------------------------------------

def ensure_cluster(size: str, data: Path, log) -> Path:
    d = data / size
    if not (d / "summary.json").exists():
        log(f"[{size}] generating the synthetic cluster into {d}")
        t = time.monotonic()
        generate(pods_for(size), d)
        log(f"[{size}] generated in {time.monotonic() - t:.0f} s")
    return d


def _dir_mib(path: Path) -> float:
    return sum(p.stat().st_size for p in path.iterdir()) / 2**20


def run_size(size: str, data: Path, only: set[str], log) -> dict[str, Any]:
    d = ensure_cluster(size, data, log)
    summary = json.loads((d / "summary.json").read_text())
    row: dict[str, Any] = {"size": size, "pods": summary["pods"], "nodes": summary["nodes"],
                           "objects": summary["objects"], "node_facts": summary["node_facts"],
                           "input_mib": round(summary["bytes"] / 2**20, 1),
                           "measured": dt.datetime.now().isoformat(timespec="minutes")}
    py = sys.executable
    me = str(Path(__file__).resolve())
    cluster, nodes = str(d / "cluster"), str(d / "node-facts")
    with tempfile.TemporaryDirectory(prefix=f"kaudit-bench-{size}-", dir=str(data)) as tmp:
        if "eval" in only:
            facts = os.path.join(tmp, "facts.pickle")
            prep = measure([py, me, "--child-save-facts", cluster, nodes, facts])
            _check(prep, "saving facts")
            m = measure([py, me, "--child-eval", facts])
            _check(m, "evaluate")
            inner = json.loads(m["stdout"].strip().splitlines()[-1])
            row["eval"] = {"wall_s": inner["eval_wall_s"], "cpu_s": inner["eval_cpu_s"],
                           "peak_rss_mib": m["peak_rss_mib"], "results": inner["results"]}
            log(f"[{size}] eval: {inner['eval_wall_s']:.2f} s, {m['peak_rss_mib']:.0f} MiB peak "
                f"(process with facts loaded), {inner['results']} results")
        if "scan" in only:
            out = Path(tmp) / "scan"
            m = measure([py, "-m", "kaudit", "scan", "--manifests", cluster, "--node-facts", nodes,
                         "--output-dir", str(out), "--quiet", "--fail-on", "never"])
            _check(m, "kaudit scan --manifests")
            row["scan"] = {k: m[k] for k in ("wall_s", "cpu_s", "peak_rss_mib")}
            row["reports_mib"] = {p.name: round(p.stat().st_size / 2**20, 2) for p in sorted(out.iterdir())}
            log(f"[{size}] scan --manifests: {m['wall_s']:.1f} s wall, {m['cpu_s']:.1f} s CPU, "
                f"{m['peak_rss_mib']:.0f} MiB peak; reports {row['reports_mib']}")
        if "api" in only:
            row["api"] = measure_api(size, cluster, nodes, Path(tmp), log)
    return row


def measure_api(size: str, cluster: str, nodes: str, tmp: Path, log) -> dict[str, Any]:
    py = sys.executable
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests' / 'integration'}"}
    t0 = time.monotonic()
    server = subprocess.Popen([py, str(Path(__file__).resolve()), "--child-serve", cluster],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True)
    try:
        line = server.stdout.readline()
        if not line:
            raise SystemExit(f"[{size}] the test API server did not start")
        ready = json.loads(line)
        log(f"[{size}] test API server up with {ready['objects']} objects in {time.monotonic() - t0:.0f} s")
        m = measure([py, "-m", "kaudit", "scan", "--kubeconfig", ready["kubeconfig"], "--node-facts", nodes,
                     "--output-dir", str(tmp / "api"), "--quiet", "--fail-on", "never"])
        _check(m, "kaudit scan --kubeconfig")
    finally:
        server.stdin.close()
        server.wait(timeout=120)
    # Every kind is listed through the API (empty ones too), as in a real scan:
    # these are the report sizes a user of the live API gets.
    reports = {p.name: round(p.stat().st_size / 2**20, 2) for p in sorted((tmp / "api").iterdir())}
    log(f"[{size}] scan via API: {m['wall_s']:.1f} s wall, {m['cpu_s']:.1f} s CPU, {m['peak_rss_mib']:.0f} MiB peak; "
        f"reports {reports}")
    return {**{k: m[k] for k in ("wall_s", "cpu_s", "peak_rss_mib")}, "reports_mib": reports}


def measure_ssh(log) -> dict[str, Any]:
    m = measure([sys.executable, str(HERE / "bench_ssh.py"), "--nodes", "50"], timeout=600)
    log("ssh: " + " | ".join(m["stdout"].strip().splitlines()))
    return {"wall_s": m["wall_s"], "rc": m["rc"], "output": m["stdout"].strip()}


def _check(m: dict[str, Any], what: str) -> None:
    if m["rc"] != 0:
        raise SystemExit(f"{what} failed (exit {m['rc']}):\n{m['stderr']}")


# ---------------------------------------------------------------------------
# Output: results.md and scaling.svg
# ---------------------------------------------------------------------------

def _f(v: float | None, fmt: str = "{:.1f}") -> str:
    return "–" if v is None else fmt.format(v)


def write_markdown(db: dict[str, Any], path: Path) -> None:
    rows = sorted(db["sizes"].values(), key=lambda r: r["pods"])
    lines = ["# kaudit scale benchmarks", "",
             f"Machine: {db.get('machine', '')}. Regenerate with `make benchmarks` "
             "(or `.venv/bin/python benchmarks/run.py --sizes 1k,10k`). Synthetic clusters from "
             "`benchmarks/generate.py` (seed 1); see benchmarks/README.md.", "",
             "| size | pods | nodes | objects | input (MiB) | eval (s) | eval peak RSS (MiB) | "
             "scan --manifests wall (s) | CPU (s) | peak RSS (MiB) | report.html (MiB) | report.json (MiB) | "
             "junit.xml (MiB) | scan via API wall (s) | CPU (s) | peak RSS (MiB) |",
             "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for r in rows:
        e, s, a, rep = r.get("eval") or {}, r.get("scan") or {}, r.get("api") or {}, r.get("reports_mib") or {}
        lines.append(
            f"| {r['size']} | {r['pods']:,} | {r['nodes']:,} | {r['objects']:,} | {r['input_mib']:.0f} | "
            f"{_f(e.get('wall_s'), '{:.2f}')} | {_f(e.get('peak_rss_mib'), '{:.0f}')} | "
            f"{_f(s.get('wall_s'))} | {_f(s.get('cpu_s'))} | {_f(s.get('peak_rss_mib'), '{:.0f}')} | "
            f"{_f(rep.get('report.html'), '{:.2f}')} | {_f(rep.get('report.json'), '{:.2f}')} | "
            f"{_f(rep.get('junit.xml'), '{:.2f}')} | "
            f"{_f(a.get('wall_s'))} | {_f(a.get('cpu_s'))} | {_f(a.get('peak_rss_mib'), '{:.0f}')} |")
    lines += ["", "Peak RSS is the measured process's own maximum resident set (`wait4`). `eval` is "
              "`evaluate()` alone on facts already in memory (its RSS includes those facts). "
              "The API server runs in its own process on the same 2 cores.", ""]
    lines += ["## Against the targets", ""] + [f"- {c}" for c in target_checks(rows)]
    ssh = db.get("ssh")
    if ssh:
        lines += ["", "## SSH fan-out", "", "```", ssh["output"], "```"]
    lines += ["", "![scaling](scaling.svg)", ""]
    path.write_text("\n".join(lines))


def target_checks(rows: list[dict[str, Any]]) -> list[str]:
    out = []
    big = next((r for r in rows if r["size"] == "150k"), None)
    if big:
        s, a = big.get("scan"), big.get("api")
        if s:
            out.append(f"150k pods from --manifests: {s['wall_s']:.1f} s (target ≤ {TARGET_SCAN_S:.0f} s: "
                       f"{'met' if s['wall_s'] <= TARGET_SCAN_S else 'MISSED'}), peak RSS "
                       f"{s['peak_rss_mib']:.0f} MiB (target ≤ {TARGET_RSS_MIB:.0f} MiB: "
                       f"{'met' if s['peak_rss_mib'] <= TARGET_RSS_MIB else 'MISSED'})")
        if a:
            out.append(f"150k pods through the test API server: {a['wall_s']:.1f} s (target ≤ {TARGET_API_S:.0f} s: "
                       f"{'met' if a['wall_s'] <= TARGET_API_S else 'MISSED'}), peak RSS {a['peak_rss_mib']:.0f} MiB")
    for kind in ("scan", "api", "eval"):
        pts = [(r["objects"], r[kind]["wall_s"]) for r in rows if r.get(kind)]
        for (n1, t1), (n2, t2) in zip(pts, pts[1:]):
            if n1 < 5_000:      # below ~1 s the interpreter's start-up dominates; not a growth signal
                continue
            growth = (t2 / t1) / (n2 / n1)
            out.append(f"{kind}: {n1:,} → {n2:,} objects ({n2 / n1:.1f}×) took {t2 / t1:.1f}× the time "
                       f"(time per object × {growth:.2f}; target ≤ 1.10: {'met' if growth <= 1.10 else 'MISSED'})")
    for r in rows:
        html = (r.get("reports_mib") or {}).get("report.html")
        for pods, limit in HTML_LIMITS.items():
            if html is not None and abs(r["pods"] - pods) / pods < 0.1:
                out.append(f"report.html at {r['pods']:,} pods: {html:.2f} MiB (limit at {pods:,} pods "
                           f"< {limit:.0f} MiB: {'met' if html < limit else 'MISSED'})")
    return out


def write_svg(db: dict[str, Any], path: Path) -> None:
    """Log-log wall time against objects, one line per measurement, plus linear-growth guides."""
    rows = sorted(db["sizes"].values(), key=lambda r: r["objects"])
    series = [("scan", "kaudit scan --manifests", "#1f6feb"), ("api", "scan via test API server", "#d2691e"),
              ("eval", "evaluate() from saved facts", "#2da44e")]
    pts = {k: [(r["objects"], r[k]["wall_s"]) for r in rows if r.get(k)] for k, _, _ in series}
    allp = [p for v in pts.values() for p in v]
    W, H, L, R, T, B = 720, 440, 70, 220, 30, 55
    if not allp:
        path.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}"></svg>\n')
        return
    xmin, xmax = 10 ** math.floor(math.log10(min(p[0] for p in allp))), 10 ** math.ceil(math.log10(max(p[0] for p in allp)))
    ymin = 10 ** math.floor(math.log10(max(min(p[1] for p in allp), 0.01)))
    ymax = 10 ** math.ceil(math.log10(max(max(p[1] for p in allp), TARGET_API_S)))

    def x(v: float) -> float:
        return L + (math.log10(v) - math.log10(xmin)) / (math.log10(xmax) - math.log10(xmin)) * (W - L - R)

    def y(v: float) -> float:
        return H - B - (math.log10(v) - math.log10(ymin)) / (math.log10(ymax) - math.log10(ymin)) * (H - T - B)

    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{L}" y="18" font-size="14" font-weight="bold">kaudit wall time vs cluster size (log-log)</text>']
    e = math.log10(xmin)
    while e <= math.log10(xmax) + 1e-9:
        v = 10 ** e
        o.append(f'<line x1="{x(v):.1f}" y1="{T}" x2="{x(v):.1f}" y2="{H - B}" stroke="#ddd"/>')
        o.append(f'<text x="{x(v):.1f}" y="{H - B + 16}" text-anchor="middle">{v:,.0f}</text>')
        e += 1
    e = math.log10(ymin)
    while e <= math.log10(ymax) + 1e-9:
        v = 10 ** e
        o.append(f'<line x1="{L}" y1="{y(v):.1f}" x2="{W - R}" y2="{y(v):.1f}" stroke="#ddd"/>')
        o.append(f'<text x="{L - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:g} s</text>')
        e += 1
    o.append(f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">objects in the cluster</text>')
    for target, label in ((TARGET_SCAN_S, "60 s target (manifests)"), (TARGET_API_S, "90 s target (API)")):
        o.append(f'<line x1="{L}" y1="{y(target):.1f}" x2="{W - R}" y2="{y(target):.1f}" stroke="#c00" '
                 f'stroke-dasharray="4 3"/>')
        o.append(f'<text x="{W - R + 4}" y="{y(target) + 4:.1f}" fill="#c00">{label}</text>')
    ly = T + 80
    for key, label, color in series:
        p = pts[key]
        if not p:
            continue
        o.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>'
                 % (color, " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in p)))
        o += [f'<circle cx="{x(a):.1f}" cy="{y(b):.1f}" r="3.5" fill="{color}"/>' for a, b in p]
        # Linear growth from the first point at or above 5,000 objects (start-up dominates below).
        base = next(((a, b) for a, b in p if a >= 5_000), None)
        if base and p[-1][0] > base[0]:
            a0, b0 = base
            a1 = p[-1][0]
            o.append(f'<line x1="{x(a0):.1f}" y1="{y(b0):.1f}" x2="{x(a1):.1f}" y2="{y(b0 * a1 / a0):.1f}" '
                     f'stroke="{color}" stroke-opacity="0.4" stroke-dasharray="2 3"/>')
        o.append(f'<line x1="{W - R + 4}" y1="{ly}" x2="{W - R + 24}" y2="{ly}" stroke="{color}" stroke-width="2"/>')
        o.append(f'<text x="{W - R + 28}" y="{ly + 4}">{label}</text>')
        ly += 18
    o.append(f'<text x="{W - R + 4}" y="{ly + 10}" fill="#666">dotted: linear growth</text>')
    o.append("</svg>")
    path.write_text("\n".join(o) + "\n")


# ---------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default=",".join(SIZES),
                    help=f"comma list of {', '.join(SIZES)} (default all) or {', '.join(EXTRA_SIZES)}")
    ap.add_argument("--only", default=",".join(MEASUREMENTS), help="comma list of eval,scan,api")
    ap.add_argument("--no-ssh", action="store_true", help="skip the SSH fan-out measurement")
    ap.add_argument("--data", type=Path, default=CACHE / "clusters",
                    help="where generated clusters are cached (default benchmarks/results/tmp/clusters)")
    ap.add_argument("--child-save-facts", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--child-eval", help=argparse.SUPPRESS)
    ap.add_argument("--child-serve", help=argparse.SUPPRESS)
    ap.add_argument("--page-size", type=int, default=500, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_save_facts:
        child_save_facts(*args.child_save_facts)
        return 0
    if args.child_eval:
        child_eval(args.child_eval)
        return 0
    if args.child_serve:
        child_serve(args.child_serve, args.page_size)
        return 0

    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    bad = [s for s in sizes if s not in SIZES and s not in EXTRA_SIZES]
    only = {m.strip() for m in args.only.split(",") if m.strip()}
    if bad or not only <= set(MEASUREMENTS):
        ap.error(f"sizes must be among {', '.join([*SIZES, *EXTRA_SIZES])}; "
                 f"--only among {', '.join(MEASUREMENTS)}")
    args.data.mkdir(parents=True, exist_ok=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    db_path = CACHE / "measurements.json"
    db = json.loads(db_path.read_text()) if db_path.exists() else {"sizes": {}}
    db["machine"] = f"{os.cpu_count()} cores, {_mem_gib():.0f} GiB RAM, Python {sys.version.split()[0]}"

    def log(msg: str) -> None:
        print(msg, flush=True)

    for size in sizes:
        row = run_size(size, args.data, only, log)
        old = db["sizes"].get(size, {})
        db["sizes"][size] = {**old, **row}
        db_path.write_text(json.dumps(db, indent=1))
    if not args.no_ssh:
        db["ssh"] = measure_ssh(log)
        db_path.write_text(json.dumps(db, indent=1))
    RESULTS.mkdir(exist_ok=True)
    write_markdown(db, RESULTS / "results.md")
    write_svg(db, RESULTS / "scaling.svg")
    log(f"wrote {RESULTS / 'results.md'} and {RESULTS / 'scaling.svg'}")
    return 0


def _mem_gib() -> float:
    try:
        with open("/proc/meminfo") as fh:
            return int(fh.readline().split()[1]) / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


if __name__ == "__main__":
    raise SystemExit(main())

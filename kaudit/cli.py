"""Command line: parses arguments and wires sources, engine and formatters.

Exit status (EXIT_STATUS below; also in --help, README and docs/reports.md).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from kaudit import __version__
from kaudit.collect import SourceError
from kaudit.termsafe import terminal_line, terminal_text

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INCOMPLETE, EXIT_FAILED = 0, 1, 2, 3, 4
EXIT_STATUS = (
    "Exit status: 0 complete, no FAIL; 1 complete, at least one FAIL (--fail-on error: or ERROR; "
    "--fail-on never: always 0); 2 usage or configuration error, nothing scanned; 3 the scan could "
    "not complete (the report is marked incomplete: an unreachable node or server, an unreadable "
    "resource, SIGTERM), whatever --fail-on says; 4 kaudit failed (an internal error, or the reports "
    "could not be written: disk full, read-only, permission denied); the summary is still printed "
    "and report.json, marked incomplete, is written when the disk allows. A --save-facts or "
    "--save-evidence that cannot be written also exits 4, but the scan's results and reports stand "
    "and say what was not saved.")
REPORT_FORMATS = ("json", "html", "junit", "pdf")


class UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kaudit",
        description="Audit a Kubernetes cluster against the CIS Kubernetes Benchmark.",
        epilog=EXIT_STATUS)
    p.add_argument("--version", action="version", version=f"kaudit {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    scan = sub.add_parser("scan", help="audit a cluster and write the reports",
                          description="Audit a cluster (live API, manifest dumps or the demo) and its nodes.",
                          epilog=EXIT_STATUS)
    src = scan.add_argument_group("cluster source (default: the API server from the normal kubeconfig "
                                  "resolution, or in-cluster config inside a pod)")
    src.add_argument("--kubeconfig", metavar="PATH", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    src.add_argument("--context", metavar="NAME", help="kubeconfig context to use")
    src.add_argument("--manifests", metavar="PATH", action="append", type=Path, default=[],
                     help="offline: a YAML/JSON file or directory of objects (repeatable), or an evidence "
                          "bundle written by --save-evidence (on its own)")
    src.add_argument("--demo", action="store_true", help="scan the bundled demo cluster")
    src.add_argument("--cluster-name", metavar="NAME",
                     help="the cluster's name in the reports (default: the kubeconfig context, or the API "
                          "server host inside a pod; 'unknown' for manifests)")
    _api_limit_options(scan)
    nodes = scan.add_argument_group("node access")
    nodes.add_argument("--nodes", choices=("none", "ssh", "daemonset", "local"), default=None,
                       help="how to inspect nodes for sections 1-4 files and processes (default: none)")
    nodes.add_argument("--inventory", metavar="FILE", type=Path,
                       help="SSH inventory (YAML, see docs/node-collection.md); without it --nodes ssh "
                            "connects to the cluster's Node objects (InternalIP, then ExternalIP, then Hostname)")
    nodes.add_argument("--node-facts", metavar="PATH", action="append", type=Path, default=[],
                       help="saved node facts: a JSON file or a directory of them (repeatable)")
    nodes.add_argument("--known-hosts", metavar="FILE", type=Path, help="SSH known_hosts (default ~/.ssh/known_hosts)")
    nodes.add_argument("--trust-on-first-use", action="store_true",
                       help="accept and record unknown SSH host keys (changed keys are still refused)")
    nodes.add_argument("--ssh-concurrency", type=int, default=16, metavar="N", help="parallel SSH sessions (default 16)")
    nodes.add_argument("--ssh-timeout", type=float, default=120.0, metavar="SECONDS",
                       help="per-node command timeout (default 120)")
    nodes.add_argument("--daemonset-namespace", default="kaudit", help="namespace of the collector DaemonSet")
    nodes.add_argument("--daemonset-image", default=None, help="image of the collector DaemonSet")
    out = scan.add_argument_group("output")
    out.add_argument("--benchmark", default="cis-1.12", help="benchmark to evaluate (default cis-1.12)")
    out.add_argument("--checks", metavar="IDS", help="only these checks or sections, comma separated (e.g. 1.2,5.1.1)")
    out.add_argument("--output-dir", metavar="DIR", type=Path, help="write report.json, report.html, junit.xml, SHA256SUMS")
    out.add_argument("--format", default="json,html,junit", metavar="LIST",
                     help="formats written to --output-dir: json,html,junit,pdf (default json,html,junit)")
    out.add_argument("--pdf-edition", choices=("findings", "full"), default="findings",
                     help="with --format pdf: 'findings' (every non-PASS result with evidence, an index of "
                          "the PASSes; the default) or 'full' (PASS targets and their evidence too)")
    out.add_argument("--sign-key", metavar="KEY", type=Path,
                     help="sign SHA256SUMS with this SSH private key (SHA256SUMS.sig, checked by "
                          "'kaudit verify' or 'ssh-keygen -Y verify -n kaudit-report'); an encrypted key "
                          "reads its passphrase from $KAUDIT_SIGN_KEY_PASSPHRASE")
    out.add_argument("--waivers", metavar="FILE", type=Path, help="waivers (YAML) for accepted risks")
    out.add_argument("--previous", metavar="FILE", type=Path,
                     help="a previous report.json for the trend section (default: the report.json already "
                          "in --output-dir, if any)")
    out.add_argument("--save-facts", metavar="DIR", type=Path, help="also save the collected node facts (one JSON per node); if they cannot "
                     "be written the results stand and kaudit exits 4")
    out.add_argument("--save-evidence", metavar="DIR", type=Path,
                     help="also write the evidence bundle: the objects, node facts, kubelet configz and collection "
                          "record the scan saw (DIR must not exist or be empty); `kaudit scan --manifests DIR` "
                          "re-evaluates it offline (docs/facts.md); if it cannot be written the results "
                          "stand and kaudit exits 4")
    out.add_argument("--fail-on", choices=("fail", "error", "never"), default="fail",
                     help="exit 1 on FAIL (default), on FAIL or ERROR, or never (an incomplete scan "
                          "exits 3 whatever this says)")
    out.add_argument("-q", "--quiet", action="store_true", help="no progress and no summary on stdout")
    out.add_argument("-v", "--verbose", action="store_true",
                     help="print the full text report (every section and failing target) instead of the "
                          "short summary (score, why incomplete, the ten worst findings, the report path)")
    sched = scan.add_argument_group("scheduled runs (the in-cluster CronJob; see docs/in-cluster.md)")
    sched.add_argument("--reports-root", metavar="DIR", type=Path,
                       help="write to DIR/<cluster>/<timestamp>/ (<timestamp>-N for another run of the same "
                            "second; runs writing at once take turns), point DIR/<cluster>/latest at the newest "
                            "complete run (an incomplete one is kept with an INCOMPLETE file), use the "
                            "previous complete run for the trend")
    sched.add_argument("--keep", type=int, default=8, metavar="N",
                       help="with --reports-root: keep the newest N runs (default 8) and the newest "
                            "complete one; older runs are deleted before a run is written (one it cannot "
                            "delete is left, with a warning)")

    checks = sub.add_parser("checks", help="list the checks of a benchmark")
    checks.add_argument("--benchmark", default="cis-1.12")
    checks.add_argument("--format", choices=("table", "json"), default="table")

    render = sub.add_parser("render", help="re-render HTML and JUnit from a report.json, without the cluster")
    render.add_argument("report", type=Path)
    render.add_argument("--previous", type=Path, metavar="FILE")
    render.add_argument("--output-dir", type=Path, metavar="DIR", help="default: the report's directory")
    render.add_argument("--format", default="html,junit", metavar="LIST",
                        help="formats to write: json,html,junit,pdf (default html,junit)")
    render.add_argument("--pdf-edition", choices=("findings", "full"), default="findings",
                        help="with --format pdf: findings (default) or full")
    render.add_argument("--sign-key", metavar="KEY", type=Path,
                        help="sign the rewritten SHA256SUMS with this SSH private key (otherwise a previous "
                             "SHA256SUMS.sig, which no longer matches, is removed)")

    verify = sub.add_parser("verify", help="check a report directory's checksums and signature",
                            description="Check that every file of a report set matches SHA256SUMS (report.json "
                                        "first, no report file left out) and, when SHA256SUMS.sig is there, that "
                                        "the signature is valid. Exit 0 verified, 1 not verified, 2 usage error.")
    verify.add_argument("directory", type=Path)
    verify.add_argument("--allowed-signers", metavar="FILE", type=Path,
                        help="ssh-keygen allowed_signers file: the signature is then required and must be "
                             "made by a key it lists (for namespace kaudit-report)")

    diff = sub.add_parser("diff", help="print what changed between two reports")
    diff.add_argument("old", type=Path)
    diff.add_argument("new", type=Path)

    perms = sub.add_parser("permissions", help="print the least-privilege ClusterRole a scan needs",
                           description="Print the ClusterRole a scan needs: get/list only, no Secrets, "
                                       "no wildcards, plus get on nodes/proxy for the kubelets' configz "
                                       "(read through the API server, which authorizes it as nodes/proxy "
                                       "on every Kubernetes version).")
    perms.add_argument("--gatekeeper-constraint", metavar="RESOURCE", action="append", default=[],
                       help="also grant list on this Gatekeeper constraint resource (plural, lower case, "
                            "e.g. k8spspprivilegedcontainer); repeatable. Without it, a cluster's Gatekeeper "
                            "constraints are reported as not readable")
    perms.add_argument("--kubernetes-version", metavar="VERSION",
                       help="the cluster's version (e.g. v1.33.1): the output explains, for that version, why "
                            "the role holds get nodes/proxy")

    nf = sub.add_parser("node-facts", help="print this node's facts as JSON (used by the DaemonSet)")
    nf.add_argument("--root", default="/", help="where the host's filesystem is mounted (default /)")
    nf.add_argument("--node-name", default=None, help="node name (default: $KAUDIT_NODE_NAME, $NODE_NAME or the hostname)")
    return p


# Set when a scan was interrupted: threads may still be blocked on a hung peer.
_interrupted = False


def main(argv: Sequence[str] | None = None) -> int:
    code = _main(argv)
    if argv is None and _interrupted:
        # Run as the program and interrupted (SIGTERM): the report is written and
        # flushed; a worker thread still blocked on a hung node or kubelet would
        # hold the exit until its own timeout, past a pod's grace period. Leave now.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    args.raw_argv = list(sys.argv[1:] if argv is None else argv)
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    try:
        handler = {"scan": cmd_scan, "checks": cmd_checks, "render": cmd_render, "diff": cmd_diff,
                   "verify": cmd_verify,
                   "permissions": cmd_permissions, "node-facts": cmd_node_facts}[args.command]
        return handler(args)
    except UsageError as exc:
        print(f"kaudit: error: {terminal_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except SourceError as exc:   # e.g. an invalid inventory, before the scan starts
        print(f"kaudit: {terminal_line(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("kaudit: interrupted", file=sys.stderr)
        return EXIT_INCOMPLETE
    except Exception as exc:     # a bug or an unexpected input: one line, never a traceback
        print(f"kaudit: failed: {terminal_line(f'{type(exc).__name__}: {exc}')}", file=sys.stderr)
        return EXIT_FAILED


def _api_limit_options(scan: argparse.ArgumentParser) -> None:
    """Time and size limits of the live-API source (docs/live-api.md)."""
    from kaudit.collect import limits as api

    def positive(kind: type) -> Callable[[str], Any]:
        def parse(text: str) -> Any:
            try:
                value = kind(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
            if value <= 0:
                raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
            return value
        return parse

    lim = scan.add_argument_group("live API limits (each time is a total: connect, headers and the whole body)")
    lim.add_argument("--api-request-timeout", type=positive(float), default=api.DEFAULT_REQUEST_TIMEOUT,
                     metavar="SECONDS", help="one API request, e.g. one list page "
                     f"(default {api.DEFAULT_REQUEST_TIMEOUT:g})")
    lim.add_argument("--configz-timeout", type=positive(float), default=api.DEFAULT_CONFIGZ_TIMEOUT,
                     metavar="SECONDS", help=f"one node's kubelet configz (default {api.DEFAULT_CONFIGZ_TIMEOUT:g})")
    lim.add_argument("--api-deadline", type=positive(float), default=api.DEFAULT_API_DEADLINE, metavar="SECONDS",
                     help="the whole API collection, retries included; what is not read by then is an "
                     f"ERROR (default {api.DEFAULT_API_DEADLINE:g})")
    lim.add_argument("--api-max-pages", type=positive(int), default=api.DEFAULT_MAX_LIST_PAGES, metavar="N",
                     help=f"pages of one list before it counts as endless (default {api.DEFAULT_MAX_LIST_PAGES})")
    lim.add_argument("--exec-timeout", type=positive(float), default=api.DEFAULT_EXEC_TIMEOUT, metavar="SECONDS",
                     help="a kubeconfig exec credential plugin "
                     f"(default {api.DEFAULT_EXEC_TIMEOUT:g})")


def _load_catalog(name: str):
    from kaudit.catalog import CatalogError, load_catalog
    try:
        return load_catalog(name)
    except CatalogError as exc:
        raise UsageError(str(exc)) from None


def _formats(value: str, allowed: tuple[str, ...]) -> list[str]:
    chosen = [f.strip() for f in value.split(",") if f.strip()]
    bad = [f for f in chosen if f not in allowed]
    if bad:
        raise UsageError(f"unknown format(s) {', '.join(bad)}; choose from {', '.join(allowed)}")
    if "pdf" in chosen:              # say so before scanning, not after
        from kaudit.report.pdf import PdfUnavailable, require_renderer
        try:
            require_renderer()
        except PdfUnavailable as exc:
            raise UsageError(str(exc)) from None
    return chosen


def _progress(quiet: bool):
    if quiet or not sys.stderr.isatty():
        from kaudit.collect import no_progress
        return no_progress

    def show(message: str) -> None:
        sys.stderr.write(f"\r\033[K{terminal_text(message[:150])}")
        sys.stderr.flush()
    return show


def _sources(args: argparse.Namespace):
    from kaudit.collect.manifests import ManifestSource
    from kaudit.resources import demo_dir

    cluster_source = None
    node_source = None
    node_access = args.nodes or "none"
    offline = bool(args.manifests or args.demo)
    if args.demo and args.manifests:
        raise UsageError("--demo and --manifests cannot be combined")
    if args.demo:
        cluster_source = ManifestSource([demo_dir() / "manifests"], source_name="demo")
        if not args.node_facts and args.nodes in (None, "none"):
            args.node_facts = [demo_dir() / "nodes"]
    elif args.manifests:
        cluster_source = ManifestSource(args.manifests)
        from kaudit.collect.evidence import bundle_nodes, is_bundle
        bundled = bundle_nodes(args.manifests[0]) if is_bundle(args.manifests[0]) else None
        if bundled and not args.node_facts and args.nodes in (None, "none"):
            args.node_facts = [bundled]      # an evidence bundle carries its node facts
        if is_bundle(args.manifests[0]):
            _warn_if_catalog_changed(args.manifests[0], args.benchmark)
    elif args.kubeconfig or args.context or not args.node_facts:
        from kaudit.collect.api import ApiSource
        cluster_source = ApiSource(kubeconfig=str(args.kubeconfig) if args.kubeconfig else None,
                                   context=args.context, request_timeout=args.api_request_timeout,
                                   configz_timeout=args.configz_timeout, deadline=args.api_deadline,
                                   max_list_pages=args.api_max_pages, exec_timeout=args.exec_timeout)
    if args.node_facts:
        if args.nodes not in (None, "none"):
            raise UsageError("--node-facts cannot be combined with --nodes " + args.nodes)
        from kaudit.collect.node.saved import SavedNodeFactsSource
        node_source = SavedNodeFactsSource(args.node_facts)
        node_access = "saved"
    elif args.nodes == "ssh":
        from kaudit.collect.node.inventory import load_inventory
        from kaudit.collect.node.ssh import SshNodeSource, SshOptions
        if args.ssh_concurrency < 1:
            raise UsageError("--ssh-concurrency must be at least 1")
        options = SshOptions(known_hosts=str(args.known_hosts) if args.known_hosts else None,
                             trust_on_first_use=args.trust_on_first_use,
                             concurrency=args.ssh_concurrency, command_timeout=args.ssh_timeout)
        # Without an inventory the hosts are the cluster's Node objects (InternalIP first).
        inventory = load_inventory(str(args.inventory)) if args.inventory else None
        if inventory is None and offline and not args.manifests and not args.demo:
            raise UsageError("--nodes ssh needs --inventory or a cluster source listing the nodes")
        node_source = SshNodeSource(inventory, options)
    elif args.nodes == "daemonset":
        if offline:
            raise UsageError("--nodes daemonset needs a live cluster (not --manifests/--demo)")
        from kaudit.collect.node.daemonset import DaemonSetSource
        kwargs = {"namespace": args.daemonset_namespace}
        if args.daemonset_image:
            kwargs["image"] = args.daemonset_image
        node_source = DaemonSetSource(kubeconfig=str(args.kubeconfig) if args.kubeconfig else None,
                                      context=args.context, **kwargs)
    elif args.nodes == "local":
        from kaudit.collect.node.local import LocalSource
        node_source = LocalSource()
    return cluster_source, node_source, node_access


def _warn_if_catalog_changed(bundle: Path, benchmark: str) -> None:
    """Re-checking old evidence with a changed catalog can change verdicts: say so."""
    from kaudit.collect.evidence import catalog_sha256, read_record
    from kaudit.resources import data_dir
    record = read_record(bundle)
    then, now = record.get("catalog_sha256"), catalog_sha256(data_dir("checks") / benchmark)
    if record.get("benchmark") != benchmark or then != now:
        print(f"kaudit: warning: {bundle} was written by kaudit {(record.get('tool') or {}).get('version')} "
              f"for {record.get('benchmark')} (catalog sha256 {str(then)[:12]}); this is {benchmark} "
              f"(catalog sha256 {now[:12]}): results can differ from the original scan", file=sys.stderr)


def cmd_scan(args: argparse.Namespace) -> int:
    from kaudit.scan import ScanRequest

    catalog = _load_catalog(args.benchmark)
    formats = _formats(args.format, REPORT_FORMATS)
    sign_key = _sign_key(args.sign_key)
    waivers = None
    if args.waivers:
        from kaudit.report.waivers import WaiverError, load_waivers
        try:
            waivers = load_waivers(args.waivers)
        except (WaiverError, OSError) as exc:
            raise UsageError(str(exc)) from None
    previous = _load_previous(args.previous)
    if previous is None and args.output_dir and (args.output_dir / "report.json").is_file():
        # The last report found in the output directory is the trend's baseline
        # (it is about to be replaced). An unreadable one is simply not used.
        from kaudit.report.json import load_report_for_trend
        try:
            previous = load_report_for_trend(args.output_dir / "report.json")
        except ValueError:
            previous = None
    only = [c.strip() for c in args.checks.split(",")] if args.checks else []
    if only:
        known = {c.id for c in catalog.checks} | {c.section for c in catalog.checks} | {c.top_section for c in catalog.checks}
        unknown = [c for c in only if c not in known]
        if unknown:
            raise UsageError(f"unknown check or section: {', '.join(unknown)}")
    if args.save_evidence:
        from kaudit.collect.evidence import check_destination
        try:
            check_destination(args.save_evidence)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    cluster_source, node_source, node_access = _sources(args)
    if args.reports_root is not None:
        if args.output_dir:
            raise UsageError("--reports-root and --output-dir cannot be combined")
        if args.keep < 1:
            raise UsageError("--keep must be at least 1")
    progress = _progress(args.quiet)
    req = ScanRequest(catalog=catalog, cluster_source=cluster_source, node_source=node_source,
                      node_access=node_access, only_checks=only, progress=progress,
                      cluster_name=args.cluster_name, command_line=_command_line(args))
    return _run_scan(args, req, formats, waivers, previous, sign_key)


def _run_scan(args: argparse.Namespace, req, formats: list[str], waivers, previous, sign_key=None) -> int:
    """From here on the scan has started: whatever happens, a report is written
    (marked incomplete, with the reason, when the scan did not finish), the
    summary is printed, and the exit status says what happened."""
    global _interrupted
    from kaudit.collect import SourceError
    from kaudit.incluster import (ReportsNotWritten, ScanInterrupted, failed_report, scan_interruptibly,
                                  termination_handled)
    from kaudit.scan import utc_now

    started = utc_now()
    failure: tuple[int, str] | None = None        # (exit status, one line) when kaudit itself failed
    not_saved: list[str] = []                     # --save-facts/--save-evidence that could not be written
    with termination_handled() as term:
        try:
            report, facts, interrupted = scan_interruptibly(
                req, term, started, waivers=waivers, on_facts=_on_facts(args, req.catalog, not_saved))
        except SourceError as exc:
            if exc.exit_code == EXIT_USAGE:        # a bad input found while reading it: no scan happened
                _clear_progress(req.progress)
                print(f"kaudit: {terminal_line(str(exc))}", file=sys.stderr)
                return EXIT_USAGE
            report, facts, interrupted = failed_report(req, started, str(exc)), None, None
            failure = (exc.exit_code, str(exc))
        except ScanInterrupted as exc:     # the signal landed between two stages: nothing kept
            report, facts, interrupted = failed_report(req, started, exc.reason), None, exc.reason
        except Exception as exc:           # a kaudit bug, a full disk while saving facts, ...
            reason = f"kaudit failed: {type(exc).__name__}: {exc}"
            report, facts, interrupted = failed_report(req, started, reason), None, None
            failure = (EXIT_FAILED, reason)
        _clear_progress(req.progress)
        if not_saved:
            # An output asked for and not written: exit 4 as for the reports, but the
            # verdicts do not depend on it, so they stand; the report says what is missing.
            report.scan.collection_errors.extend(not_saved)
            message = "; ".join(not_saved) + "; the scan's results stand"
            failure = (EXIT_FAILED, f"{failure[1]}; {message}" if failure else message)

        options = {"pdf_edition": args.pdf_edition, "sign_key": sign_key}

        not_pruned: list[str] = []        # the one line naming old runs retention had to leave

        def write(report, formats: list[str]) -> str:
            if args.reports_root is not None:
                from kaudit.incluster import not_pruned_line, write_scheduled_run
                run = write_scheduled_run(report, facts, args.reports_root, keep=args.keep, formats=formats,
                                          previous=previous, report_options=options)
                if run.not_pruned:
                    not_pruned[:] = [not_pruned_line(run.run_dir.parent, run.not_pruned)]
                return str(run.run_dir)
            if args.output_dir:
                from kaudit.report.outputs import replace_report_dir
                replace_report_dir(report, args.output_dir, formats=formats, previous=previous,
                                   section_titles=req.catalog.sections, **options)
                return str(args.output_dir)
            return ""

        written_to = ""
        try:
            written_to = write(report, formats)
        except (ReportsNotWritten, OSError) as exc:
            message = str(exc) if isinstance(exc, ReportsNotWritten) else \
                f"cannot write the reports to {args.output_dir}: {exc.strerror or exc}"
            failure = (EXIT_FAILED, f"{failure[1]}; {message}" if failure else message)
        except Exception as exc:       # a formatter bug: report.json alone, marked incomplete
            reason = f"kaudit failed writing the reports: {type(exc).__name__}: {exc}"
            report.scan.complete = False
            report.scan.incomplete_reasons.append(reason)
            failure = (EXIT_FAILED, reason)
            with contextlib.suppress(Exception):
                written_to = write(report, ["json"])
        if interrupted:
            _interrupted = True
        if failure:
            what = "reports" if report.scan.complete else "incomplete report"
            note = f"; {what} written to {written_to}" if written_to else ""
            print(f"kaudit: {terminal_line(failure[1])}{note}", file=sys.stderr)
        elif interrupted:
            done = f"incomplete report written to {written_to}" if written_to else "the summary is incomplete"
            print(f"kaudit: {terminal_line(interrupted)}; {done}", file=sys.stderr)
        elif written_to and not args.quiet:
            print(f"reports written to {written_to}", file=sys.stderr)
        for line in not_pruned:
            print(f"kaudit: warning: {terminal_line(line)}", file=sys.stderr)
        if not args.quiet:
            _print_summary(report, args, _main_report_path(Path(written_to) if written_to else None, formats))
            sys.stdout.flush()
    if failure:
        return failure[0]
    return _exit_status(report, args.fail_on)


def _main_report_path(directory: Path | None, formats: list[str]) -> str | None:
    """The file a person opens: the HTML, else the PDF, else report.json."""
    if directory is None:
        return None
    for fmt, name in (("html", "report.html"), ("pdf", "report.pdf"), ("json", "report.json"),
                      ("junit", "junit.xml")):
        if fmt in formats:
            return str(directory / name)
    return str(directory)


def _print_summary(report, args: argparse.Namespace, report_path: str | None) -> None:
    """The short summary (kaudit.report.summary), or with --verbose the full text report."""
    if getattr(args, "verbose", False):
        from kaudit.report.text import TextFormatter
        sys.stdout.write(TextFormatter().render(report).decode("utf-8"))
        if report_path:
            sys.stdout.write(f"Report: {terminal_text(report_path)}\n")
        return
    from kaudit.report.summary import render_summary, use_colour
    sys.stdout.write(render_summary(report, report_path, colour=use_colour(sys.stdout)))


def _on_facts(args: argparse.Namespace, catalog, not_saved: list[str]):
    """What to keep of the facts once collected: --save-facts, --save-evidence.
    One that cannot be written (read-only, disk full, denied) is added to
    `not_saved` as one line, and does not stop the scan."""
    from kaudit.scan import save_facts
    if not (args.save_facts or args.save_evidence):
        return None
    from kaudit.collect.evidence import write_bundle
    from kaudit.resources import data_dir

    def keep(facts) -> None:
        if args.save_facts:
            try:
                save_facts(facts, args.save_facts)
            except Exception as exc:       # noqa: BLE001 -- whatever it is, the facts are not saved
                not_saved.append(_not_saved("--save-facts", args.save_facts, "node facts", exc))
        if args.save_evidence:
            try:
                write_bundle(facts, args.save_evidence, catalog.benchmark, data_dir("checks") / catalog.benchmark)
            except Exception as exc:       # noqa: BLE001 -- write_bundle removed its staging directory
                not_saved.append(_not_saved("--save-evidence", args.save_evidence, "evidence bundle", exc))
    return keep


def _not_saved(option: str, path: Path, what: str, exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        detail = exc.strerror + (f": {exc.filename}" if exc.filename else "")
    elif isinstance(exc, ValueError):
        detail = str(exc)
    else:
        detail = f"{type(exc).__name__}: {exc}"
    return f"{option} {path}: the {what} could not be saved ({detail})"


def _command_line(args: argparse.Namespace) -> list[str]:
    """How kaudit was invoked, for the report, with secrets redacted."""
    from kaudit.attribution import redact_command_line
    return redact_command_line(["kaudit", *getattr(args, "raw_argv", [])])


def _clear_progress(progress) -> None:
    from kaudit.collect import no_progress
    if progress is not no_progress:
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()


def _exit_status(report, fail_on: str) -> int:
    from kaudit.model import Status
    if not report.scan.complete:       # whatever --fail-on says: an incomplete audit is not a verdict
        return EXIT_INCOMPLETE
    statuses = {r.status for r in report.results}
    if fail_on == "never":
        return EXIT_OK
    if Status.FAIL in statuses or (fail_on == "error" and Status.ERROR in statuses):
        return EXIT_FAIL
    return EXIT_OK


def _load_previous(path: Path | None):
    if path is None:
        return None
    from kaudit.report.json import load_report_for_trend
    try:
        return load_report_for_trend(path)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def cmd_checks(args: argparse.Namespace) -> int:
    catalog = _load_catalog(args.benchmark)
    if args.format == "json":
        print(json.dumps({"benchmark": catalog.benchmark, "version": catalog.version,
                          "checks": [c.to_json() for c in catalog.checks]}, indent=1))
        return EXIT_OK
    print(f"{'ID':<8} {'LVL':<3} {'CIS':<9} {'KAUDIT':<9} {'SEV':<8} TITLE")
    for c in catalog.checks:
        print(f"{c.id:<8} L{c.level:<2} {c.cis_label:<9} {'automated' if c.automated else 'review':<9} "
              f"{c.severity:<8} {c.title}")
    print(f"\n{len(catalog.checks)} checks ({sum(c.automated for c in catalog.checks)} decided by kaudit, "
          f"the rest WARN with evidence for a person)")
    return EXIT_OK


def cmd_render(args: argparse.Namespace) -> int:
    from kaudit.report.json import load_report
    from kaudit.report.outputs import replace_report_dir
    try:
        report = load_report(args.report)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    formats = _formats(args.format, REPORT_FORMATS)
    out_dir = args.output_dir or args.report.parent
    from kaudit.report.integrity import sha256_file
    sign_key = _sign_key(args.sign_key)
    # As one set, like scan --output-dir: the report files not re-rendered
    # (report.json itself) are kept and covered by the new SHA256SUMS.
    written = replace_report_dir(report, out_dir, formats=formats, previous=_load_previous(args.previous),
                                 keep_other_reports=True, pdf_edition=args.pdf_edition,
                                 report_json_sha256=sha256_file(args.report), sign_key=sign_key)
    print(f"written: {', '.join(str(p) for p in written)}")
    return EXIT_OK


def _sign_key(path: Path | None):
    """Load --sign-key before any work, so a bad key is a usage error, not a lost scan."""
    if path is None:
        return None
    from kaudit.report.sshsig import SignatureError, load_private_key
    try:
        return load_private_key(path, os.environ.get("KAUDIT_SIGN_KEY_PASSPHRASE"))
    except SignatureError as exc:
        raise UsageError(f"--sign-key {exc}") from None


def cmd_verify(args: argparse.Namespace) -> int:
    from kaudit.report.integrity import verify_report_set
    from kaudit.report.outputs import REPORT_SET
    allowed = None
    if args.allowed_signers is not None:
        try:
            allowed = args.allowed_signers.read_text(encoding="utf-8", errors="replace")[:1_000_000]
        except OSError as exc:
            raise UsageError(f"--allowed-signers {args.allowed_signers}: {exc.strerror or exc}") from None
    if not args.directory.is_dir():
        raise UsageError(f"{args.directory}: not a directory")
    verdict = verify_report_set(args.directory, allowed, REPORT_SET)
    print(verdict.line)
    return EXIT_OK if verdict.ok else EXIT_FAIL


def cmd_diff(args: argparse.Namespace) -> int:
    from kaudit.report.diff import diff_reports, format_diff
    from kaudit.report.json import load_report_for_trend
    try:
        old, new = load_report_for_trend(args.old), load_report_for_trend(args.new)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    from kaudit.report.diff import not_comparable
    refusal = not_comparable(old, new)
    if refusal:
        raise UsageError(refusal)
    sys.stdout.write(format_diff(diff_reports(old, new)))
    return EXIT_OK


def cmd_permissions(args: argparse.Namespace) -> int:
    from kaudit.collect.permissions import cluster_role_yaml
    bad = [c for c in args.gatekeeper_constraint if not c.isalnum() or c.lower() != c]
    if bad:
        raise UsageError(f"not a constraint resource name (plural, lower case): {', '.join(bad)}")
    minor = None
    if args.kubernetes_version:
        from kaudit.model import ClusterIdentity
        minor = ClusterIdentity(version=args.kubernetes_version).minor()
        if minor is None or not args.kubernetes_version.lstrip("v").startswith("1."):
            raise UsageError(f"--kubernetes-version {args.kubernetes_version!r}: expected a version like v1.33.1")
    sys.stdout.write(cluster_role_yaml(constraint_resources=args.gatekeeper_constraint, kubernetes_minor=minor))
    return EXIT_OK


def cmd_node_facts(args: argparse.Namespace) -> int:
    from kaudit.collect.node.local import node_facts_main
    name = args.node_name or os.environ.get("KAUDIT_NODE_NAME") or os.environ.get("NODE_NAME")
    sys.stdout.write(node_facts_main(args.root, name))
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())

"""run_bench.py's command line: argparse subcommands wired to the modules of this package."""
import argparse
import dataclasses
import datetime
import importlib.util
import os
import sys

from runbench import allocators as allocator_names
from runbench.argtypes import comma_list, fraction, positive_int, thread_list
from runbench import build, environment, gate, harness, progress, report, results, suite, workloads
from runbench.compare import comparison_text
from runbench.errors import UsageError

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_BUILD_DIR = os.path.join(REPO_ROOT, "build", "bench")
DEFAULT_BASELINE = os.path.join(REPO_ROOT, "runbench", "baseline.json")
RUN_TIMEOUT_S = 300
# Google Benchmark's minimum measured time per process: long enough to average a few replays of
# the shipped workloads (0.2-0.5 s each) in a full run; quick runs and the gate time one replay.
FULL_MIN_TIME_S = 0.2
QUICK_MIN_TIME_S = 0.05
DEFAULT_REPETITIONS = 3
QUICK_REPETITIONS = 2
# Most of the gate's noise is per process (mem_io's CPU time per op on one trace clusters at
# 11, 14 or 21 ns by process), so it spends its time on rounds (processes) more than on
# repetitions inside a process; the latter's median only absorbs bursts of load.
CHECK_ROUNDS = 12
CHECK_QUICK_ROUNDS = 8
CHECK_REPETITIONS_PER_PROCESS = 2
THROUGHPUT_THRESHOLD = 0.25
MEMORY_THRESHOLD = 0.30
# Modules other engineers own, wired as subcommands when present: (name, path, help).
EXTERNAL_COMMANDS = (
    ("record", os.path.join("workloads", "tools", "record.py"),
     "record a program's allocations into a trace (LD_PRELOAD recorder)"),
    ("import-mtrace", os.path.join("workloads", "tools", "mtrace_import.py"),
     "convert a glibc mtrace() log into a mem_io trace"),
    ("stress", os.path.join("runbench", "stress.py"),
     "run the standard allocator stress programs against every allocator"),
)


def add_build_options(parser):
    group = parser.add_argument_group("build and harness")
    group.add_argument("--build-dir", default=DEFAULT_BUILD_DIR,
                       help="CMake build directory (default: build/bench, Release)")
    group.add_argument("--no-build", action="store_true",
                       help="use the harness already built in --build-dir; install nothing, build nothing")
    group.add_argument("--seed", type=int, default=None,
                       help="seed of the random run order (default: from the clock; recorded in results.json)")
    group.add_argument("--timeout", type=positive_int, default=RUN_TIMEOUT_S,
                       help=f"seconds before one harness process is stopped and counted as failed (default {RUN_TIMEOUT_S})")


def add_workload_option(parser):
    parser.add_argument("--workloads", type=comma_list, default=None, metavar="LIST",
                        help="comma-separated shipped workload names, globs over them (e.g. 'larson*') "
                             "or trace file paths (default: every workloads/**/*.trace.gz)")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="run_bench.py",
        description="Build mem_io's harness, replay every workload against mem_io, glibc malloc, jemalloc, "
                    "tcmalloc and mimalloc, and write results.json, a CSV, charts and report.html. "
                    "With no subcommand it runs the benchmark suite.",
        epilog="Examples: ./run_bench.py --quick | ./run_bench.py --allocators mem_io,system --threads 1,2 | "
               "./run_bench.py plot results/X/results.json | ./run_bench.py compare A.json B.json | "
               "./run_bench.py check --quick --baseline runbench/baseline.json")
    parser.add_argument("--allocators", type=comma_list, default=list(allocator_names.DEFAULT_ALLOCATORS),
                        metavar="LIST", help="comma-separated allocators: "
                        f"{', '.join(allocator_names.known_names())}, or NAME=PATH.so "
                        f"(default: {','.join(allocator_names.DEFAULT_ALLOCATORS)})")
    add_workload_option(parser)
    parser.add_argument("--threads", type=thread_list, default=None, metavar="LIST",
                        help="concurrent copies of each trace, e.g. 1,2 (default 1,2; --quick: 1)")
    parser.add_argument("--repetitions", type=positive_int, default=None,
                        help=f"interleaved rounds; one measured repetition per process "
                             f"(default {DEFAULT_REPETITIONS}; --quick: {QUICK_REPETITIONS})")
    parser.add_argument("--quick", action="store_true",
                        help="~2 minutes: one thread count, fewer repetitions, one replay per measurement")
    parser.add_argument("--out", default=None, help="results folder (default results/<UTC timestamp>)")
    add_build_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    plot = commands.add_parser("plot", help="redraw charts and report from a results.json")
    plot.add_argument("results", help="a results.json (or the folder holding it)")
    plot.add_argument("--out", default=None, help="folder for charts and report (default: beside results.json)")

    compare = commands.add_parser("compare", help="per-workload ratios between two results (B ÷ A)")
    compare.add_argument("before", metavar="A", help="results.json (or its folder)")
    compare.add_argument("after", metavar="B", help="results.json (or its folder)")

    check = commands.add_parser(
        "check", help="regression gate: mem_io vs system malloc against a baseline",
        description=gate.__doc__)
    check.add_argument("--baseline", default=DEFAULT_BASELINE,
                       help="baseline results.json made by check (default: runbench/baseline.json)")
    check.add_argument("--update-baseline", action="store_true",
                       help="measure and write the baseline instead of comparing with it")
    check.add_argument("--quick", action="store_true",
                       help=f"{CHECK_QUICK_ROUNDS} rounds instead of {CHECK_ROUNDS} (for CI: about 2 minutes)")
    check.add_argument("--repetitions", type=positive_int, default=None,
                       help=f"rounds (default {CHECK_ROUNDS}; --quick: {CHECK_QUICK_ROUNDS})")
    add_workload_option(check)
    check.add_argument("--throughput-threshold", type=fraction, default=THROUGHPUT_THRESHOLD,
                       help="fail when mem_io's throughput ratio to system malloc falls by more than this "
                            f"(default {THROUGHPUT_THRESHOLD})")
    check.add_argument("--memory-threshold", type=fraction, default=MEMORY_THRESHOLD,
                       help="fail when mem_io's fragmentation or peak RSS grows by more than this "
                            f"(default {MEMORY_THRESHOLD})")
    check.add_argument("--out", default=None, help="also write this run's results.json here")
    # Tests substitute a deliberately slow or wasteful library for mem_io to prove the gate fires.
    check.add_argument("--candidate", default="mem_io", help=argparse.SUPPRESS)
    add_build_options(check)

    for name, relative_path, help_text in EXTERNAL_COMMANDS:
        _add_external_command(commands, name, relative_path, help_text)
    return parser


def _add_external_command(commands, name, relative_path, help_text):
    path = os.path.join(REPO_ROOT, relative_path)
    module, problem = _load_module(name, path)
    if module is None:
        sub = commands.add_parser(name, help=f"{help_text} (not available: {problem})", add_help=False)
        sub.add_argument("ignored", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
        sub.set_defaults(handler=lambda args: _unavailable(name, problem))
        return
    sub = commands.add_parser(name, help=help_text, description=module.__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    module.add_arguments(sub)
    sub.set_defaults(handler=module.run)


def _load_module(name, path):
    if not os.path.isfile(path):
        return None, f"{os.path.relpath(path, REPO_ROOT)} is not in this checkout"
    try:
        spec = importlib.util.spec_from_file_location(f"runbench_external_{name.replace('-', '_')}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except Exception as error:  # a broken optional module must not break the other subcommands
        return None, f"{os.path.relpath(path, REPO_ROOT)} failed to load: {type(error).__name__}: {error}"
    if not callable(getattr(module, "add_arguments", None)) or not callable(getattr(module, "run", None)):
        return None, f"{os.path.relpath(path, REPO_ROOT)} lacks add_arguments(parser) and run(args)"
    return module, None


def _unavailable(name, problem):
    print(f"run_bench.py: the '{name}' subcommand is not available: {problem}", file=sys.stderr)
    return 2


def _results_path(text):
    return os.path.join(text, "results.json") if os.path.isdir(text) else text


def _prepare(args, targets):
    """Install what is missing, build, and return the harness binary."""
    if not args.no_build:
        build.ensure_packages()
        build.build(REPO_ROOT, args.build_dir, targets)
    return harness.find_binary(args.build_dir)


def _targets(allocator_specs):
    targets = [build.HARNESS_TARGET]
    if allocator_names.DROPIN_NAME in allocator_specs:
        targets.append(build.DROPIN_TARGET)
    return targets


def _validated_workloads(specs, binary):
    chosen = workloads.select(specs, REPO_ROOT)
    for workload in chosen:
        harness.check_trace(binary, workload.path)
    return chosen


def _seed(args):
    return args.seed if args.seed is not None else int(datetime.datetime.now().timestamp())


def command_run(args):
    threads = args.threads or ([1] if args.quick else [1, 2])
    rounds = args.repetitions or (QUICK_REPETITIONS if args.quick else DEFAULT_REPETITIONS)
    min_time = QUICK_MIN_TIME_S if args.quick else FULL_MIN_TIME_S
    out_dir = args.out or os.path.join(
        REPO_ROOT, "results", datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ"))
    if os.path.exists(os.path.join(out_dir, "results.json")):
        raise UsageError(f"{out_dir} already holds a results.json; choose another --out")
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise UsageError(f"--out {out_dir} exists and is not a folder")
    binary = _prepare(args, _targets(args.allocators))
    chosen_allocators = allocator_names.resolve_all(args.allocators, args.build_dir)
    chosen_workloads = _validated_workloads(args.workloads, binary)
    seed = _seed(args)
    options = {"allocators": [a.name for a in chosen_allocators], "workloads": [w.name for w in chosen_workloads],
               "threads": threads, "repetitions": rounds, "quick": args.quick, "min_time_s": min_time,
               "seed": seed, "build_dir": os.path.abspath(args.build_dir)}
    document = results.new_document("suite", options,
                                    environment.collect(REPO_ROOT, args.build_dir, chosen_allocators),
                                    chosen_allocators, chosen_workloads)
    planned = suite.plan(chosen_workloads, chosen_allocators, threads, rounds, seed, min_time)
    print(f"run_bench.py: {len(planned)} runs: {len(chosen_workloads)} workloads × {len(chosen_allocators)} "
          f"allocators × threads {threads} × {rounds} repetitions", file=sys.stderr)
    failures = suite.execute(binary, document, planned, progress.Progress(len(planned)), args.timeout)
    os.makedirs(out_dir, exist_ok=True)
    results.save(document, os.path.join(out_dir, "results.json"))
    report.write_folder_outputs(document, out_dir, sys.stderr)
    print(report.summary_text(document))
    print(f"\nresults: {out_dir}/results.json, results.csv, report.html, charts/", file=sys.stderr)
    if document.get("interrupted"):
        return 130
    return 1 if failures else 0


def command_plot(args):
    path = _results_path(args.results)
    document = results.load(path)
    out_dir = args.out or os.path.dirname(os.path.abspath(path))
    os.makedirs(out_dir, exist_ok=True)
    drawn = report.write_folder_outputs(document, out_dir, sys.stderr)
    print(f"run_bench.py: wrote {len(drawn)} charts, report.html and results.csv to {out_dir}", file=sys.stderr)
    return 0


def command_compare(args):
    before_path, after_path = _results_path(args.before), _results_path(args.after)
    print(comparison_text(results.load(before_path), results.load(after_path), before_path, after_path))
    return 0


def command_check(args):
    baseline = None if args.update_baseline else results.load(args.baseline)
    specs = args.workloads or (results.workloads_in(baseline) if baseline else None)
    binary = _prepare(args, _targets([args.candidate]))
    candidate = dataclasses.replace(allocator_names.resolve(args.candidate, args.build_dir), name=gate.CANDIDATE)
    reference = allocator_names.resolve(results.REFERENCE_ALLOCATOR, args.build_dir)
    chosen_workloads = _validated_workloads(specs, binary)
    rounds = args.repetitions or (CHECK_QUICK_ROUNDS if args.quick else CHECK_ROUNDS)
    seed = _seed(args)
    options = {"candidate": args.candidate, "workloads": [w.name for w in chosen_workloads], "threads": [1],
               "repetitions": rounds, "quick": args.quick, "min_time_s": QUICK_MIN_TIME_S, "seed": seed,
               "throughput_threshold": args.throughput_threshold, "memory_threshold": args.memory_threshold}
    document = results.new_document("check", options,
                                    environment.collect(REPO_ROOT, args.build_dir, [candidate, reference]),
                                    [candidate, reference], chosen_workloads)
    planned = suite.plan(chosen_workloads, [candidate, reference], [1], rounds, seed, QUICK_MIN_TIME_S,
                         timelines=False, repetitions=CHECK_REPETITIONS_PER_PROCESS)
    failures = suite.execute(binary, document, planned, progress.Progress(len(planned)), args.timeout)
    if document.get("interrupted"):
        return 130
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        results.save(document, os.path.join(args.out, "results.json"))
    failed_runs = [f"{f['workload']}/{f['allocator']} round {f['round']}" for f in document["failures"]]
    if args.update_baseline:
        if failures:
            print(f"check: FAILED: no baseline written; runs failed: {', '.join(failed_runs)}")
            return 1
        results.save(document, args.baseline)
        print(f"check: wrote baseline {args.baseline} ({len(chosen_workloads)} workloads, {rounds} rounds)")
        return 0
    thresholds = {"throughput": args.throughput_threshold, "fragmentation": args.memory_threshold,
                  "peak RSS": args.memory_threshold}
    verdicts = gate.evaluate(document, baseline, thresholds)
    print(gate.verdict_table(verdicts))
    for name in gate.missing_workloads(document, baseline):
        print(f"check: note: workload {name} is not in the baseline; not judged")
    regressed = [f"{v.workload} {v.metric.label} ({v.change:.2f}× baseline)" for v in verdicts if v.regressed]
    if regressed or failures:
        print("check: FAILED: " + "; ".join(
            ([f"{len(regressed)} regression(s): {', '.join(regressed)}"] if regressed else []) +
            ([f"{failures} run(s) failed: {', '.join(failed_runs)}"] if failures else [])))
        return 1
    print(f"check: passed ({len(verdicts)} comparisons; throughput threshold {args.throughput_threshold:.0%}, "
          f"memory threshold {args.memory_threshold:.0%}, 95% bootstrap confidence)")
    return 0


HANDLERS = {None: command_run, "plot": command_plot, "compare": command_compare, "check": command_check}


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None) or HANDLERS[args.command]
    try:
        return handler(args)
    except UsageError as error:
        print(f"run_bench.py: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head`: stop quietly, as other commands do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as error:  # e.g. an unwritable --out: name the file, no traceback
        print(f"run_bench.py: error: {error.filename or ''}: {error.strerror or error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("run_bench.py: interrupted", file=sys.stderr)
        return 130

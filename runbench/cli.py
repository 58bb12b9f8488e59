"""run_bench.py's command line: one argparse parser whose subcommands dispatch to this package's
modules and to workloads/tools. The benchmark suite is the `suite` subcommand, used when none is named.

Options shared by several subcommands are declared once, in the parent parsers below, on the main
parser and on each subcommand that takes them, all without argparse defaults: an option is only
set when the user gave it, before or after the subcommand (`--quick check` = `check --quick`), and
finish() then fills in the chosen subcommand's defaults. So a subcommand's default never overwrites
what the user gave, and an option given before a subcommand that does not take it is refused.
"""
import argparse
import concurrent.futures
import dataclasses
import datetime
import os
import re
import sys
import tempfile

from runbench import REPO_ROOT
from runbench import allocators as allocator_names
from runbench.argtypes import comma_list, fraction, positive_float, positive_int, thread_list
from runbench import build, callgrind, environment, fidelity, gate, harness, progress, report, results, stress, suite, workloads
from runbench.compare import comparison_text
from runbench.errors import BUILD_STATUS, USAGE_STATUS, BuildError, UsageError
from workloads.tools import mtrace_import, record

DEFAULT_BUILD_DIR = os.path.join(REPO_ROOT, "build", "bench")
DEFAULT_BASELINE = os.path.join(REPO_ROOT, "runbench", "baseline.json")
DEFAULT_DRIFT = os.path.join(REPO_ROOT, "runbench", "timed_drift.json")
RUN_TIMEOUT_S = 300
STRESS_TIMEOUT_S = 120
# Every suite process (a round of one workload, allocator and thread count) times 3 repetitions of
# >= 0.05 s and the round's value is their median: a replay descheduled by other load on the
# machine takes 10-25x its CPU time in wall time, and the median drops it. Rounds are what a
# verdict counts (results.relative: the distribution-free interval of the median over rounds),
# because most of the variance lies between processes; 6 rounds are the fewest that give a 95 %
# interval at all, 9 the fewest whose interval ignores one wild round.
MIN_TIME_S = 0.05
REPETITIONS_PER_PROCESS = 3
DEFAULT_REPETITIONS = 9
QUICK_REPETITIONS = 6
# Most of the gate's noise is per process (mem_io's CPU time per op on one trace clusters at
# 11, 14 or 21 ns by process), so it spends its time on rounds (processes) more than on
# repetitions inside a process; the latter's median only absorbs bursts of load.
CHECK_ROUNDS = 12
CHECK_QUICK_ROUNDS = 8
CHECK_REPETITIONS_PER_PROCESS = 2
THROUGHPUT_THRESHOLD = 0.25
MEMORY_THRESHOLD = 0.30
# Counted figures repeat exactly on single-threaded traces, so 1 % is pure signal: 1-2
# instructions per malloc on the fast path. The baseline replays each workload a few times under
# callgrind so that multi-threaded traces carry their own spread; a check replays each once.
INSTRUCTIONS_THRESHOLD = 0.01
BASELINE_CALLGRIND_RUNS = 3
STRESS_THREADS = [2]
# Each stress repetition is a round (one process per program and allocator): 6, the fewest whose
# ratios can be separated from 1.0 at 95 % (results.relative).
STRESS_REPETITIONS = 6

# Defaults of the shared options, then what differs per subcommand.
SHARED_DEFAULTS = {"allocators": list(allocator_names.DEFAULT_ALLOCATORS), "workloads": None, "threads": None,
                   "repetitions": None, "quick": False, "out": None, "build_dir": DEFAULT_BUILD_DIR,
                   "no_build": False, "seed": None, "timeout": RUN_TIMEOUT_S}
COMMAND_DEFAULTS = {
    "stress": {"threads": STRESS_THREADS, "repetitions": STRESS_REPETITIONS, "timeout": STRESS_TIMEOUT_S},
    "fidelity": {"repetitions": fidelity.DEFAULT_ROUNDS},
    # record without a build searches the usual build folders for the recorder (record.find_library)
    "record": {"build_dir": None},
}


def _shared_options():
    """{name: parent parser} of the options several subcommands take, each declared once."""
    def parent():
        return argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)

    allocators = parent()
    allocators.add_argument(
        "--allocators", type=comma_list, metavar="LIST",
        help=f"comma-separated allocators: {', '.join(allocator_names.known_names())}, or NAME=PATH.so "
             f"(default: {','.join(allocator_names.DEFAULT_ALLOCATORS)})")
    chosen_workloads = parent()
    chosen_workloads.add_argument(
        "--workloads", type=comma_list, metavar="LIST",
        help="comma-separated shipped workload names, globs over them (e.g. 'larson*') or trace file paths "
             "(default: every workloads/**/*.trace.gz; check: the baseline's)")
    threads = parent()
    threads.add_argument("--threads", type=thread_list, metavar="LIST",
                         help=f"thread counts, e.g. 1,2 (suite: concurrent copies of each trace, default 1,2, "
                              f"--quick 1; stress: default {','.join(map(str, STRESS_THREADS))})")
    repetitions = parent()
    repetitions.add_argument(
        "--repetitions", type=positive_int, metavar="N",
        help=f"interleaved rounds (suite: default {DEFAULT_REPETITIONS}, --quick {QUICK_REPETITIONS}, each a "
             f"process of {REPETITIONS_PER_PROCESS} repetitions; "
             f"check: {CHECK_ROUNDS}, --quick {CHECK_QUICK_ROUNDS}; stress: {STRESS_REPETITIONS}; "
             f"fidelity: {fidelity.DEFAULT_ROUNDS})")
    quick = parent()
    quick.add_argument("--quick", action="store_true",
                       help=f"suite: one thread count, {QUICK_REPETITIONS} rounds instead of "
                            f"{DEFAULT_REPETITIONS}; check: {CHECK_QUICK_ROUNDS} rounds instead of {CHECK_ROUNDS}")
    out = parent()
    out.add_argument("--out", metavar="DIR",
                     help="suite, stress and fidelity: results folder (default results/<UTC timestamp>); plot: folder for charts "
                          "and report (default beside results.json); check: also write results.json there")
    building = parent()
    group = building.add_argument_group("build")
    group.add_argument("--build-dir", metavar="DIR",
                       help="CMake build directory (default: build/bench, Release)")
    group.add_argument("--no-build", action="store_true",
                       help="use what is already built in --build-dir; install nothing, build nothing")
    runs = parent()
    group = runs.add_argument_group("runs")
    group.add_argument("--seed", type=int,
                       help="seed of the random run order (default: from the clock; recorded in results)")
    group.add_argument("--timeout", type=positive_float, metavar="S",
                       help=f"seconds before one process is stopped and counted as failed "
                            f"(default {RUN_TIMEOUT_S}; stress: {STRESS_TIMEOUT_S})")
    return {"allocators": allocators, "workloads": chosen_workloads, "threads": threads,
            "repetitions": repetitions, "quick": quick, "out": out, "build": building, "runs": runs}


SUITE_OPTIONS = ("allocators", "workloads", "threads", "repetitions", "quick", "out", "build", "runs")


def _version():
    with open(os.path.join(REPO_ROOT, "CMakeLists.txt"), encoding="utf-8") as cmake:
        match = re.search(r"project\(mem_io\s+VERSION\s+(\S+)", cmake.read())
    commit = environment.git_commit(REPO_ROOT)
    where = (commit["commit"][:12] + (" with uncommitted changes" if commit["dirty"] else "")) if commit \
        else "not a git checkout"
    return f"mem_io {match.group(1) if match else '(version unknown)'}, commit {where}"


def build_parser():
    shared = _shared_options()

    def parents(*names):
        return [shared[name] for name in names]

    parser = argparse.ArgumentParser(
        prog="run_bench.py", parents=parents(*SUITE_OPTIONS),
        description="Build mem_io's harness, replay every workload against mem_io, glibc malloc, jemalloc, "
                    "tcmalloc and mimalloc, and write results.json, a CSV, charts, report.html and summary.txt. "
                    "With no subcommand it runs the benchmark suite (`suite`), taking the suite's options.",
        epilog="Examples: ./run_bench.py --quick | ./run_bench.py --allocators mem_io,system --threads 1,2 | "
               "./run_bench.py plot results/X/results.json | ./run_bench.py compare A.json B.json | "
               "./run_bench.py check --quick --baseline runbench/baseline.json | "
               "./run_bench.py record -o t.trace.gz -- sort -n FILE. "
               "Exit status: 0 success, 1 a failed run or regression, 2 bad usage, 3 install or build failed.")
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="subcommand", metavar="COMMAND")
    parser.set_defaults(subcommand="suite", handler=command_suite)

    def command(name, handler, help_text, shared_names=(), **keywords):
        sub = commands.add_parser(name, help=help_text, parents=parents(*shared_names),
                                  description=keywords.pop("description", help_text), **keywords)
        sub.set_defaults(handler=handler)
        return sub

    command("suite", command_suite, "the benchmark suite (the default command)", SUITE_OPTIONS)

    plot = command("plot", command_plot, "redraw charts and report from a results.json", ("out",))
    plot.add_argument("results", help="a results.json (or the folder holding it)")

    compare = command("compare", command_compare, "per-workload ratios between two results (B ÷ A)")
    compare.add_argument("before", metavar="A", help="results.json (or its folder)")
    compare.add_argument("after", metavar="B", help="results.json (or its folder)")

    check = command("check", command_check, "regression gate: mem_io vs system malloc against a baseline",
                    ("workloads", "repetitions", "quick", "out", "build", "runs"), description=gate.__doc__)
    check.add_argument("--baseline", default=DEFAULT_BASELINE,
                       help="baseline results.json made by check (default: runbench/baseline.json)")
    check.add_argument("--update-baseline", action="store_true",
                       help="measure and write the baseline instead of comparing with it")
    check.add_argument("--drift", default=DEFAULT_DRIFT,
                       help="how far separate runs of one build landed apart, per workload and timed metric "
                            "(default: runbench/timed_drift.json)")
    check.add_argument("--update-drift", nargs="+", metavar="RESULTS",
                       help="write the --drift file from these runs of one build (check or suite results.json, "
                            "or their folders; the baseline counts as one) instead of running anything")
    check.add_argument("--throughput-threshold", type=fraction, default=THROUGHPUT_THRESHOLD,
                       help="fail when mem_io's throughput ratio to system malloc falls by more than this "
                            f"(default {THROUGHPUT_THRESHOLD})")
    check.add_argument("--memory-threshold", type=fraction, default=MEMORY_THRESHOLD,
                       help="fail when mem_io's fragmentation or peak RSS grows by more than this "
                            f"(default {MEMORY_THRESHOLD})")
    check.add_argument("--instructions-threshold", type=fraction, default=INSTRUCTIONS_THRESHOLD,
                       help="fail when mem_io's instructions or estimated cycles per operation or its peak "
                            "bytes from the OS, counted under callgrind, or its page faults per replay on a "
                            f"steady workload grow by more than this (default {INSTRUCTIONS_THRESHOLD})")
    # Tests substitute a deliberately slow or wasteful library for mem_io to prove the gate fires.
    check.add_argument("--candidate", default="mem_io", help=argparse.SUPPRESS)

    tool_format = argparse.RawDescriptionHelpFormatter
    stress_command = command("stress", command_stress,
                             "run the standard allocator stress programs against every allocator",
                             ("allocators", "threads", "repetitions", "out", "build", "runs"),
                             description=stress.__doc__, formatter_class=tool_format)
    stress.add_arguments(stress_command)

    fidelity_command = command("fidelity", command_fidelity,
                               "run programs under each allocator beside replays of their traces: does the replay "
                               "predict the program?", ("allocators", "repetitions", "out", "build", "runs"),
                               description=fidelity.__doc__, formatter_class=tool_format)
    fidelity.add_arguments(fidelity_command)

    record_command = command("record", command_record,
                             "record a program's allocations into a trace (LD_PRELOAD recorder)", ("build",),
                             description=record.__doc__, formatter_class=tool_format)
    record.add_arguments(record_command)

    mtrace = command("import-mtrace", command_import_mtrace, "convert a glibc mtrace() log into a mem_io trace",
                     description=mtrace_import.__doc__, formatter_class=tool_format)
    mtrace_import.add_arguments(mtrace)
    return parser


def finish(parser, args):
    """Refuse shared options the chosen subcommand does not take, then fill in its defaults; check
    that a given --out can be written before anything is built or run."""
    accepted = {action.dest for action in _subcommand_parser(parser, args.subcommand)._actions}
    for action in parser._actions:
        if action.dest in SHARED_DEFAULTS and hasattr(args, action.dest) and action.dest not in accepted:
            raise UsageError(f"{action.option_strings[0]} does not apply to '{args.subcommand}'")
    defaults = dict(SHARED_DEFAULTS, **COMMAND_DEFAULTS.get(args.subcommand, {}))
    for name, value in defaults.items():
        if name in accepted and not hasattr(args, name):
            setattr(args, name, value)
    if getattr(args, "out", None):
        check_writable_folder(args.out)
    return args


def check_writable_folder(path):
    """Fail now, not after minutes of building and running, when `path` cannot be created or
    written. Folders created to find out are removed again: a refused run leaves nothing behind."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"--out {path} exists and is not a folder")
    created = []
    missing = os.path.abspath(path)
    while not os.path.exists(missing):
        created.append(missing)
        missing = os.path.dirname(missing)
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise UsageError(f"--out {path} cannot be written: {error.strerror or error}") from error
    finally:
        for folder in created:  # deepest first
            if os.path.isdir(folder):
                os.rmdir(folder)


def _subcommand_parser(parser, name):
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return subparsers.choices[name]


def _results_path(text):
    return os.path.join(text, "results.json") if os.path.isdir(text) else text


def _install_and_build(build_dir, targets):
    build.ensure_packages()
    build.build(REPO_ROOT, build_dir, targets)


def _prepare(args, targets):
    """Install what is missing, build, and return the harness binary."""
    if not args.no_build:
        _install_and_build(args.build_dir, targets)
    return harness.find_binary(args.build_dir)


def _targets(allocator_specs):
    targets = [build.HARNESS_TARGET]
    if allocator_names.DROPIN_NAME in allocator_specs:
        targets.append(build.DROPIN_TARGET)
    return targets


def _validated_workloads(specs, binary):
    """The chosen workloads, each checked by the harness and with its replay thread count."""
    return [dataclasses.replace(workload, threads=harness.trace_threads(harness.check_trace(binary, workload.path)))
            for workload in workloads.select(specs, REPO_ROOT)]


def _results_folder(args):
    """The folder a suite or stress run writes: --out or results/<UTC time>, new and writable."""
    out_dir = args.out or os.path.join(
        REPO_ROOT, "results", datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ"))
    if os.path.exists(os.path.join(out_dir, "results.json")):
        raise UsageError(f"{out_dir} already holds a results.json; choose another --out")
    check_writable_folder(out_dir)
    return out_dir


def command_suite(args):
    threads = args.threads or ([1] if args.quick else [1, 2])
    rounds = args.repetitions or (QUICK_REPETITIONS if args.quick else DEFAULT_REPETITIONS)
    out_dir = _results_folder(args)
    binary = _prepare(args, _targets(args.allocators))
    chosen_allocators = allocator_names.resolve_all(args.allocators, args.build_dir)
    served = allocator_names.verify(chosen_allocators, binary)
    chosen_workloads = _validated_workloads(args.workloads, binary)
    seed = suite.chosen_seed(args.seed)
    options = {"allocators": [a.name for a in chosen_allocators], "workloads": [w.name for w in chosen_workloads],
               "threads": threads, "repetitions": rounds, "quick": args.quick, "min_time_s": MIN_TIME_S,
               "repetitions_per_process": REPETITIONS_PER_PROCESS,
               "seed": seed, "build_dir": os.path.abspath(args.build_dir)}
    document = results.new_document("suite", options,
                                    environment.collect(REPO_ROOT, args.build_dir, chosen_allocators, served),
                                    chosen_allocators, chosen_workloads)
    planned = suite.plan(chosen_workloads, chosen_allocators, threads, rounds, seed, MIN_TIME_S,
                         repetitions=REPETITIONS_PER_PROCESS)
    print(f"run_bench.py: {len(planned)} runs: {len(chosen_workloads)} workloads × {len(chosen_allocators)} "
          f"allocators × threads {threads} × {rounds} repetitions", file=sys.stderr)
    failures = suite.execute(binary, document, planned, progress.Progress(len(planned)), args.timeout)
    return suite.write_results(document, out_dir, failures)


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
    if args.update_drift:
        return _update_drift(args)
    baseline = None if args.update_baseline else results.load(args.baseline)
    drift = None if args.update_baseline else gate.load_drift(args.drift)
    specs = args.workloads or (results.workloads_in(baseline) if baseline else None)
    binary = _prepare(args, _targets([args.candidate]))
    callgrind.require_valgrind()
    candidate = dataclasses.replace(allocator_names.resolve(args.candidate, args.build_dir), name=gate.CANDIDATE)
    reference = allocator_names.resolve(results.REFERENCE_ALLOCATOR, args.build_dir)
    served = allocator_names.verify([candidate, reference], binary)
    chosen_workloads = _validated_workloads(specs, binary)
    rounds = args.repetitions or (CHECK_QUICK_ROUNDS if args.quick else CHECK_ROUNDS)
    seed = suite.chosen_seed(args.seed)
    options = {"candidate": args.candidate, "workloads": [w.name for w in chosen_workloads], "threads": [1],
               "repetitions": rounds, "quick": args.quick, "min_time_s": MIN_TIME_S, "seed": seed,
               "throughput_threshold": args.throughput_threshold, "memory_threshold": args.memory_threshold,
               "instructions_threshold": args.instructions_threshold}
    document = results.new_document("check", options,
                                    environment.collect(REPO_ROOT, args.build_dir, [candidate, reference], served),
                                    [candidate, reference], chosen_workloads)
    planned = suite.plan(chosen_workloads, [candidate, reference], [1], rounds, seed, MIN_TIME_S,
                         timelines=False, repetitions=CHECK_REPETITIONS_PER_PROCESS)
    suite.execute(binary, document, planned, progress.Progress(len(planned)), args.timeout)
    if document.get("interrupted"):
        return 130
    failed_runs = [f"{f['workload']}/{f['allocator']} round {f['round']}" for f in document["failures"]]
    runs_each = {w.name: BASELINE_CALLGRIND_RUNS if args.update_baseline else gate.counted_runs(baseline, w.name)
                 for w in chosen_workloads}
    failed_runs += _count_instructions(binary, candidate, chosen_workloads, runs_each, document, args.timeout)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        results.save(document, os.path.join(args.out, "results.json"))
    if args.update_baseline:
        if failed_runs:
            print(f"check: FAILED: no baseline written; runs failed: {', '.join(failed_runs)}")
            return 1
        _relative_workload_paths(document)
        results.save(document, args.baseline)
        print(f"check: wrote baseline {args.baseline} ({len(chosen_workloads)} workloads, {rounds} rounds, "
              f"{BASELINE_CALLGRIND_RUNS} callgrind runs each)")
        return 0
    thresholds = {"throughput": args.throughput_threshold, "fragmentation": args.memory_threshold,
                  "peak RSS": args.memory_threshold}
    fault_verdicts, unjudged_faults = gate.evaluate_faults(document, baseline, args.instructions_threshold)
    verdicts = (gate.evaluate_counted(document, baseline, args.instructions_threshold) + fault_verdicts
                + gate.evaluate(document, baseline, thresholds, drift))
    print(gate.verdict_table(verdicts))
    for reason in sorted(set(unjudged_faults.values())):
        names = sorted(w for w, why in unjudged_faults.items() if why == reason)
        print(f"check: note: page faults not judged for {', '.join(names)}: {reason}")
    for name in gate.missing_workloads(document, baseline):
        print(f"check: note: workload {name} is not in the baseline; not judged")
    short = sorted({v.workload for v in verdicts if not v.enough_rounds})
    if short:
        print(f"check: note: fewer than 6 rounds in this run or the baseline for {', '.join(short)}: no 95 % "
              "interval, so their timed verdicts are inconclusive (use more --repetitions)")
    unmeasured = sorted({v.workload for v in verdicts if v.interval is not None and v.workload not in drift})
    if unmeasured:
        print(f"check: note: {args.drift} has no drift for {', '.join(unmeasured)}; judged as if runs never drift "
              "(add runs with --update-drift)")
    if not results.callgrind_records(baseline):
        print("check: note: the baseline holds no callgrind counts; instructions and peak OS bytes not judged "
              "(remake it with --update-baseline)")
    for label in gate.counted_metrics_missing(document, baseline):
        print(f"check: note: the baseline's callgrind records hold no {label} (made before it was counted); "
              "not judged (remake the baseline with --update-baseline)")
    return _check_outcome(verdicts, failed_runs, args)


def _update_drift(args):
    documents = [results.load(_results_path(path)) for path in args.update_drift]
    drift = gate.write_drift(documents, args.drift)
    print(f"check: wrote {args.drift} from {len(documents)} runs; drift between runs (per-run medians, "
          "1 - min/max for throughput, max/min - 1 for memory):")
    labels = [metric.label for metric in gate.METRICS]
    print(report.format_table(["workload", *labels], [[workload, *(f"{drift[workload][label]:.1%}" if label in drift[workload]
                                                            else "—" for label in labels)]
                                               for workload in sorted(drift)]))
    return 0


def _count_instructions(binary, candidate, chosen_workloads, runs_each, document, timeout_s):
    """Replay every workload `runs_each[name]` times under callgrind, one process per core at once
    (the counts do not depend on load); record them and return the failures."""
    jobs = [w for w in chosen_workloads for _ in range(runs_each[w.name])]
    print(f"check: counting instructions: {len(jobs)} replays under callgrind", file=sys.stderr)
    failed = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        futures = {pool.submit(callgrind.replay_cost, binary, candidate, w, timeout_s): w for w in jobs}
        for done, future in enumerate(concurrent.futures.as_completed(futures), 1):
            workload = futures[future]
            try:
                cost = future.result()
            except (callgrind.CallgrindError, harness.HarnessError) as error:
                failed.append(f"{workload.name} under callgrind ({error})")
                continue
            results.add_callgrind(document, workload.name, candidate.name, cost)
            print(f"check: [{done}/{len(jobs)}] {workload.name}: {cost.instructions_per_op:.3f} instructions/op, "
                  f"{cost.estimated_cycles_per_op:.3f} est. cycles/op",
                  file=sys.stderr)
    return failed


def _relative_workload_paths(document):
    """Shipped traces by their repository-relative path, so a committed baseline names no machine's folders."""
    for workload in document["workloads"]:
        path = os.path.abspath(workload["path"])
        if os.path.commonpath([path, REPO_ROOT]) == REPO_ROOT:
            workload["path"] = os.path.relpath(path, REPO_ROOT)


def _check_outcome(verdicts, failed_runs, args):
    status = gate.exit_status(verdicts, failed_runs)
    failed = [f"{v.workload} {v.metric.label} ("
              + (f"{v.change:.4g}× baseline)" if v.baseline else f"{v.current:.4g}, baseline 0)")
              for v in verdicts if v.state == gate.FAIL]
    unclear = [f"{v.workload} {v.metric.label}" for v in verdicts if v.state == gate.INCONCLUSIVE]
    if status == 1:
        print("check: FAILED: " + "; ".join(
            ([f"{len(failed)} regression(s): {', '.join(failed)}"] if failed else []) +
            ([f"{len(failed_runs)} run(s) failed: {', '.join(failed_runs)}"] if failed_runs else [])))
    elif status == gate.EXIT_INCONCLUSIVE:
        print(f"check: INCONCLUSIVE (exit {status}): nothing failed, but for {', '.join(unclear)} the 95% interval, "
              "allowing for the drift between runs (the 'drift' column), covers the threshold, or a loss past it "
              "lies within that drift; rerun with more --repetitions, or on a quieter machine, to decide")
    else:
        print(f"check: passed ({len(verdicts)} comparisons; instructions threshold {args.instructions_threshold:.0%}, "
              f"throughput {args.throughput_threshold:.0%}, memory {args.memory_threshold:.0%}, "
              "95% bootstrap confidence)")
    return status


def command_stress(args):
    out_dir = _results_folder(args)
    if not args.no_build:
        _install_and_build(args.build_dir, list(stress.BUILD_TARGETS))
    return stress.run(args, REPO_ROOT, out_dir)


def command_fidelity(args):
    out_dir = _results_folder(args)
    if not args.no_build:
        _install_and_build(args.build_dir, [build.HARNESS_TARGET, build.DROPIN_TARGET, build.RECORDER_TARGET,
                                            stress.MEASURE_BINARY])
    return fidelity.run(args, REPO_ROOT, out_dir, harness.find_binary(args.build_dir))


def command_record(args):
    if not args.no_build and not args.library:
        args.build_dir = args.build_dir or DEFAULT_BUILD_DIR
        _install_and_build(args.build_dir, [build.RECORDER_TARGET])
    return record.run(args)


def command_import_mtrace(args):
    return mtrace_import.run(args)


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(finish(parser, args))
    except UsageError as error:
        print(f"run_bench.py: error: {error}", file=sys.stderr)
        return USAGE_STATUS
    except BuildError as error:
        print(f"run_bench.py: error: {error}", file=sys.stderr)
        return BUILD_STATUS
    except BrokenPipeError:  # output piped into `head`: stop quietly, as other commands do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as error:  # e.g. an unwritable --out: name the file, no traceback
        print(f"run_bench.py: error: {error.filename or ''}: {error.strerror or error}", file=sys.stderr)
        return USAGE_STATUS
    except KeyboardInterrupt:
        print("run_bench.py: interrupted", file=sys.stderr)
        return 130

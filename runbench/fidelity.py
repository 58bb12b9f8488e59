"""Replay fidelity: does replaying a program's trace predict how each allocator serves the program?

For each case (a shipped real trace with the command it was recorded from, workloads/real/
programs.json, or `-- PROGRAM ARGS`, recorded first), every round runs, for every allocator in a
fresh random order:
  program   the program itself under LD_PRELOAD (harness/stress/measure.c: wall and CPU time)
  warm      mem_io_replay of its trace: a warm-up replay, then timed replays (the suite's figure)
  cold      mem_io_replay --cold: the first replay of a fresh process, first-touch faults included
and once per round, for every allocator, a trivial program (/bin/true) under LD_PRELOAD: the
allocator's start-up cost, which a real program pays and a replay does not time.

Each allocator's saving against system malloc is system's time minus its own, paired within a
round, the median over rounds with its distribution-free 95 % interval. It is shown for the program
(real) and for four predictions: warm replay (what the suite measures), warm + start-up, cold
replay, cold + start-up. A prediction is within tolerance when it is within 30 % of the real
saving. Rankings: every pair of allocators (system included) whose real times are separated
(the interval of their difference excludes 0) must come out in the same order in the
prediction. Beside each case: the program's time and the replay's time under system malloc,
whose difference is the program's own work between allocation calls, which no replay times.
A prediction that misses but lies inside the real saving's 95 % interval is marked so (a miss the
real runs cannot resolve), beside the ±30 % verdict. Then the part without timing noise: minor
page faults of the program's process, of the cold replay's process (decoding and start-up
included) and of the timed cold replay alone, each allocator's minus system malloc's.
--real-only runs the programs alone: how far their real savings move between runs.

Writes to --out: results.json (every sample, kind "fidelity"), fidelity.json (the savings and
verdicts, the fault differences) and table.md (the tables it prints: wall time, CPU time, page
faults).

Examples:
  ./run_bench.py fidelity                                   # the five shipped real traces
  ./run_bench.py fidelity --cases cmake_string_lists --record --repetitions 7
  ./run_bench.py fidelity --stdin big.txt -- sort -n        # any program: recorded, then compared
  ./run_bench.py fidelity --real-only --cases gcc_cc1_compile   # the real savings alone
"""
import argparse
import functools
import itertools
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Optional

from runbench import allocators as allocator_names
from runbench import environment, harness, progress, results, stats, stress, suite
from runbench.argtypes import comma_list, positive_int
from runbench.errors import UsageError
from runbench.workloads import Workload

PROGRAMS_FILE = os.path.join("workloads", "real", "programs.json")
PROGRAM, WARM, COLD, STARTUP = "program", "warm", "cold", "start-up"
# Predictions: which measured times add up to what the program is predicted to pay.
MODELS = {"warm": (WARM,), "warm+start-up": (WARM, STARTUP), "cold": (COLD,), "cold+start-up": (COLD, STARTUP)}
STARTUP_COMMAND = ("/bin/true",)
STARTUP_CASE = "start-up"
TOLERANCE = 0.30
DEFAULT_ROUNDS = 5
WARM_REPLAYS = 3
WARM_MIN_TIME_S = 0.05
METRICS = {"wall": "real_time_ns", "cpu": "cpu_ns"}
FAULTS = "process_minor_faults"  # of the whole process: the program's, or a replay process's
REPLAY_FAULTS = "minor_faults"  # of the timed replay alone
# The fault table's columns: (heading, job kind, sample field).
FAULT_COLUMNS = (("program", PROGRAM, FAULTS), ("cold replay's process", COLD, FAULTS),
                 ("cold replay", COLD, REPLAY_FAULTS))
RECORD_TIMEOUT_S = 600


@dataclass(frozen=True)
class Case:
    name: str
    command: tuple  # absolute program path first
    trace: Optional[str] = None  # None: record it first
    env: dict = field(default_factory=dict, hash=False)
    stdin: Optional[str] = None
    max_ops: Optional[int] = None
    cwd: Optional[str] = None  # where the program runs: the repository root for the shipped cases


def add_arguments(parser):
    """The options of fidelity alone; run_bench.py adds the shared ones (allocators, repetitions,
    --out, build directory, seed, timeout)."""
    parser.add_argument("--cases", type=comma_list, metavar="LIST",
                        help="shipped real traces to check (default: all of workloads/real/programs.json)")
    parser.add_argument("--record", action="store_true",
                        help="record each shipped case's trace afresh, in full, instead of using the shipped "
                             "one (which may be cut short with --max-ops, or come from other program versions)")
    parser.add_argument("--real-only", action="store_true",
                        help="run the programs alone (no recording, replays or start-up runs): their real savings, "
                             "to measure how much these move between separate runs")
    parser.add_argument("--warm-replays", type=positive_int, default=WARM_REPLAYS, metavar="N",
                        help=f"timed warm replays per replay process (default {WARM_REPLAYS})")
    parser.add_argument("--stdin", metavar="FILE", help="with -- PROGRAM: its standard input")
    parser.add_argument("--name", help="with -- PROGRAM: the case's name (default: the program's file name)")
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="-- PROGRAM ARGS...: a program to record and check instead of the shipped cases")


def program_path(name):
    """The absolute path of a program named as a shell would find it."""
    found = shutil.which(name)
    if not found:
        raise UsageError(f"program '{name}' not found{'' if os.sep in name else ' in PATH'}")
    return os.path.abspath(found)


def shipped_cases(repo_root, names=None):
    """Cases for the shipped real traces (all, or those named), from workloads/real/programs.json."""
    with open(os.path.join(repo_root, PROGRAMS_FILE), encoding="utf-8") as listing:
        described = {name: entry for name, entry in json.load(listing).items() if not name.startswith("_")}
    unknown = sorted(set(names or ()) - set(described))
    if unknown:
        raise UsageError(f"--cases: no shipped case {', '.join(unknown)} (known: {', '.join(described)})")
    cases = []
    for name in names or described:
        entry = described[name]
        command = list(entry["command"])
        if "program_from" in entry:
            found = subprocess.run(entry["program_from"], stdout=subprocess.PIPE, text=True)
            command[0] = found.stdout.strip() if found.returncode == 0 else command[0]
        command[0] = program_path(command[0])
        stdin = entry.get("stdin")
        cases.append(Case(name, tuple(command), os.path.join(repo_root, "workloads", "real", name + ".trace.gz"),
                          dict(entry.get("env", {})), stdin and os.path.join(repo_root, stdin), entry.get("max_ops"),
                          repo_root))
    return cases


def user_case(args):
    command = args.command[1:] if args.command[:1] == ["--"] else list(args.command)
    if not command:
        raise UsageError("fidelity: nothing to run after --")
    if args.stdin and not os.path.isfile(args.stdin):
        raise UsageError(f"--stdin {args.stdin}: no such file")
    if args.name is not None and (not args.name or os.sep in args.name):
        raise UsageError(f"--name '{args.name}': give a plain name (it names the trace file)")
    program = program_path(command[0])
    return Case(args.name or os.path.basename(program), (program, *command[1:]),
                stdin=args.stdin and os.path.abspath(args.stdin), cwd=os.getcwd())


def record_trace(case, trace, args, repo_root):
    """Record case's program into `trace` (full length) with `run_bench.py record`; the case with
    that trace. Its exit status must be 0: a failing program measures nothing useful."""
    trace = os.path.abspath(trace)  # the program runs in case.cwd
    command = [sys.executable, os.path.join(repo_root, "run_bench.py"), "record", "--no-build",
               "--build-dir", os.path.abspath(args.build_dir), "-o", trace, "--", *case.command]
    stdin = open(case.stdin, "rb") if case.stdin else subprocess.DEVNULL
    try:
        proc = subprocess.run(command, env=dict(os.environ, **case.env), stdin=stdin, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, errors="replace", cwd=case.cwd,
                              timeout=RECORD_TIMEOUT_S)
    finally:
        if case.stdin:
            stdin.close()
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise UsageError(f"fidelity: recording {case.name} failed (exit status {proc.returncode}): {last}")
    return Case(case.name, case.command, trace, case.env, case.stdin, None, case.cwd)


def job_workloads(cases, real_only=False):
    """{workload name: (case, kind)} for every job kind of every case, and the start-up case; the
    programs alone with real_only."""
    if real_only:
        return {f"{case.name}/{PROGRAM}": (case, PROGRAM) for case in cases}
    kinds = {f"{case.name}/{kind}": (case, kind) for case in cases for kind in (PROGRAM, WARM, COLD)}
    kinds[STARTUP_CASE] = (Case(STARTUP_CASE, STARTUP_COMMAND), STARTUP)
    return kinds


def plan_workloads(kinds):
    return [Workload(name, case.trace if kind in (WARM, COLD) else case.command[0])
            for name, (case, kind) in kinds.items()]


def run_job(kinds, measure, binary, job, timeout):
    """suite.execute's run(binary, job, timeout) for every kind of job; every sample gets cpu_ns,
    the CPU time of the program or of one replay."""
    case, kind = kinds[job.workload.name]
    if kind in (PROGRAM, STARTUP):
        _, sample = stress.measure_process(measure, job.allocator, case.command, job.describe(), timeout,
                                           stdin=case.stdin, env=dict(os.environ, **case.env), cwd=case.cwd)
        sample["cpu_ns"] = sample["cpu_seconds"] * 1e9
        sample[FAULTS] = sample["minor_faults"]
        return harness.JobOutput(samples=[sample])
    output = harness.run(binary, job, timeout)
    for sample in output.samples:
        sample["cpu_ns"] = sample["cpu_ns_per_op"] * sample["ops"]
    return output


def plan(kinds, allocators, rounds, seed, warm_replays):
    planned = suite.plan(plan_workloads(kinds), allocators, [1], rounds, seed, timelines=False)
    for _, job in planned:
        kind = kinds[job.workload.name][1]
        if kind == WARM:
            job.repetitions, job.min_time = warm_replays, WARM_MIN_TIME_S
        elif kind == COLD:
            job.harness_args = ("--cold",)
    return planned


def difference(document, case, first, second, kinds, metric):
    """stats.Estimate of first's time minus second's (ns), summed over `kinds` of `case`, paired
    within a round: the median over rounds with the distribution-free interval of that median
    (stats.median_interval; below 6 rounds its coverage falls short of 95 %). None when no round
    measured them all."""
    series = []
    for kind in kinds:
        workload = STARTUP_CASE if kind == STARTUP else f"{case}/{kind}"
        for allocator in (first, second):
            series.append(results.round_repetitions(results.find_run(document, workload, allocator, 1), metric))
    shared = set(series[0]).intersection(*series[1:])
    if not shared:
        return None
    per_round = [sum(stats.median(s[r]) - stats.median(t[r]) for s, t in zip(series[::2], series[1::2]))
                 for r in sorted(shared, key=str)]
    low, high, coverage = stats.median_interval(per_round)
    return stats.Estimate(stats.median(per_round), low, high, confidence=coverage)


def separated(estimate):
    """+1 or -1 when the interval, at full confidence, lies wholly above or below 0, else 0."""
    if estimate.confidence < stats.CONFIDENCE:
        return 0
    return 1 if estimate.low > 0 else -1 if estimate.high < 0 else 0


def inside_interval(predicted, real):
    """Whether the prediction lies inside the real saving's 95 % interval: a miss there is one the
    real runs cannot resolve (reported beside the ±30 % verdict, never instead of it)."""
    return real.low <= predicted <= real.high


def within_tolerance(predicted, real):
    """The prediction's verdict against the real saving: within ±TOLERANCE of it where the real
    saving is separated from 0; inside the real interval where it is not (a real tie)."""
    if separated(real):
        return abs(predicted - real.value) <= TOLERANCE * abs(real.value)
    return inside_interval(predicted, real)


def ranking(document, case, allocators, metric, models=MODELS):
    """{model: (agreeing, separated)} over every pair of allocators whose real times are separated."""
    counts = {model: [0, 0] for model in models}
    for first, second in itertools.combinations(allocators, 2):
        real = difference(document, case, first, second, (PROGRAM,), metric)
        if real is None or not separated(real):
            continue
        for model, kinds in models.items():
            predicted = difference(document, case, first, second, kinds, metric)
            counts[model][1] += 1
            counts[model][0] += bool(predicted) and (predicted.value > 0) == (real.value > 0)
    return {model: tuple(count) for model, count in counts.items()}


def analyse_case(document, case, allocators, metric, models=MODELS, reference=results.REFERENCE_ALLOCATOR):
    """The savings, verdicts and rankings of one case for one metric (no models: the real savings
    alone)."""
    program = results.median_metric(results.find_run(document, f"{case}/{PROGRAM}", reference, 1), metric)
    replay = results.median_metric(results.find_run(document, f"{case}/{WARM}", reference, 1), metric)
    rows = []
    for allocator in allocators:
        if allocator == reference:
            continue
        real = difference(document, case, reference, allocator, (PROGRAM,), metric)
        if real is None:
            continue
        row = {"allocator": allocator, "real": _estimate(real), "real_separated": bool(separated(real))}
        for model, kinds in models.items():
            predicted = difference(document, case, reference, allocator, kinds, metric)
            row[model] = predicted and dict(_estimate(predicted), within=within_tolerance(predicted.value, real),
                                            inside_interval=inside_interval(predicted.value, real))
        rows.append(row)
    return {"case": case, "program_ns": program, "replay_ns": replay, "rows": rows,
            "ranking": ranking(document, case, allocators, metric, models)}


def _estimate(estimate):
    return {"value": estimate.value, "low": estimate.low, "high": estimate.high}


def analyse(document, cases, allocators, models=MODELS):
    return {name: [analyse_case(document, case, allocators, metric, models) for case in cases]
            for name, metric in METRICS.items()}


def fault_differences(document, cases, allocators, columns=FAULT_COLUMNS, reference=results.REFERENCE_ALLOCATOR):
    """Per case: the reference's minor faults (medians over rounds) in each of `columns` (the
    program's process, a cold replay's process, the timed cold replay alone), and every other
    allocator's minus those: {"case", "reference": {heading: faults}, "rows": [{"allocator",
    heading: difference}]}; None where a run is missing."""
    def faults(case, kind, field, allocator):
        return results.median_metric(results.find_run(document, f"{case}/{kind}", allocator, 1), field)

    analysed = []
    for case in cases:
        base = {heading: faults(case, kind, field, reference) for heading, kind, field in columns}
        rows = []
        for allocator in allocators:
            if allocator == reference:
                continue
            row = {"allocator": allocator}
            for heading, kind, field in columns:
                own = faults(case, kind, field, allocator)
                row[heading] = None if own is None or base[heading] is None else own - base[heading]
            rows.append(row)
        analysed.append({"case": case, "reference": base, "rows": rows})
    return analysed


def _faults(value, signed=True):
    return "–" if value is None else f"{value:+.0f}" if signed else f"{value:.0f}"


def fault_table(analysed, allocators, columns=FAULT_COLUMNS, reference=results.REFERENCE_ALLOCATOR):
    """Markdown: per case, the reference's faults in each column (joined with /), then per
    allocator its differences from them."""
    others = [a for a in allocators if a != reference]
    headings = [heading for heading, _, _ in columns]
    header = ["case", f"{reference}: {' / '.join(headings)}", *others]
    lines = [f"| {' | '.join(header)} |", "|" + "---|" * len(header)]
    for entry in analysed:
        base = entry["reference"]
        cells = [entry["case"], " / ".join(_faults(base[h], False) for h in headings)]
        by_allocator = {row["allocator"]: row for row in entry["rows"]}
        cells += [" / ".join(_faults(by_allocator[a][h]) for h in headings) for a in others]
        lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def _ms(ns):
    return f"{ns / 1e6:+.1f}"


def _cell(predicted, row):
    """A prediction: ms saved, its ratio to a separated real saving, ✗ outside tolerance, and
    "in CI" when such a miss still lies inside the real saving's interval."""
    if not predicted:
        return "–"
    ratio = f" ({predicted['value'] / row['real']['value']:.2f}×)" if row["real_separated"] else ""
    verdict = "" if predicted["within"] else " ✗ in CI" if predicted["inside_interval"] else " ✗"
    return f"{_ms(predicted['value'])}{ratio}{verdict}"


def table(analysed, metric_name, models=MODELS):
    """Markdown: per case and allocator, the real saving against system malloc and each model's
    prediction (_cell); then the totals per model: predictions within tolerance, predictions
    inside the real interval, and separated pairs of allocators in the same order."""
    header = ["case", "allocator", f"real saving, ms {metric_name} (95 % CI)", *models]
    lines = [f"| {' | '.join(header)} |", "|" + "---|" * len(header)]
    # within, rows, inside the real interval, agreeing pairs, separated pairs
    totals = {model: [0, 0, 0, 0, 0] for model in models}
    notes = []
    for entry in analysed:
        for row in entry["rows"]:
            real = row["real"]
            tie = "" if row["real_separated"] else " tie"
            cells = [entry["case"], row["allocator"],
                     f"{_ms(real['value'])} ({_ms(real['low'])}…{_ms(real['high'])}){tie}"]
            for model in models:
                cells.append(_cell(row[model], row))
                totals[model][0] += bool(row[model] and row[model]["within"])
                totals[model][1] += 1
                totals[model][2] += bool(row[model] and row[model]["inside_interval"])
            lines.append(f"| {' | '.join(cells)} |")
        for model, (agreeing, pairs) in entry["ranking"].items():
            totals[model][3] += agreeing
            totals[model][4] += pairs
        if entry["program_ns"] and entry["replay_ns"]:
            notes.append(f"{entry['case']}: under system malloc the program takes {entry['program_ns'] / 1e6:.1f} ms "
                         f"{metric_name}, a warm replay of its trace {entry['replay_ns'] / 1e6:.1f} ms "
                         f"({entry['replay_ns'] / entry['program_ns']:.0%})")
    if models:
        lines.append("| **within ±30 %** | | | " + " | ".join(f"{t[0]}/{t[1]}" for t in totals.values()) + " |")
        lines.append("| **inside the real 95 % CI** | | | "
                     + " | ".join(f"{t[2]}/{t[1]}" for t in totals.values()) + " |")
        lines.append("| **rankings agree** (separated pairs) | | | "
                     + " | ".join(f"{t[3]}/{t[4]}" for t in totals.values()) + " |")
    return "\n".join(lines + [""] + [f"- {note}" for note in notes]) + "\n"


def run(args, repo_root, out_dir, binary):
    """Record what needs recording, measure, write the folder; returns the exit status."""
    allocators = allocator_names.resolve_all(args.allocators, args.build_dir, allocator_names.resolve_for_programs)
    if results.REFERENCE_ALLOCATOR not in [a.name for a in allocators]:
        raise UsageError(f"fidelity: --allocators must include {results.REFERENCE_ALLOCATOR}, the reference "
                         "every saving is measured against")
    served = allocator_names.verify(allocators, binary)
    if args.command:
        if args.cases:
            raise UsageError("fidelity: give --cases or -- PROGRAM, not both")
        cases = [user_case(args)]
    elif args.stdin or args.name:
        raise UsageError("fidelity: --stdin and --name apply to -- PROGRAM only")
    else:
        cases = shipped_cases(repo_root, args.cases)
    if args.real_only and args.record:
        raise UsageError("fidelity: --real-only runs no replays, so it records nothing: leave out --record")
    # Programs run in their own folders (Case.cwd): the launcher's path must not be relative.
    measure = os.path.abspath(stress.program_path(args.build_dir, stress.MEASURE_BINARY))
    os.makedirs(out_dir, exist_ok=True)
    if (args.record or args.command) and not args.real_only:
        os.makedirs(os.path.join(out_dir, "traces"), exist_ok=True)
        cases = [record_trace(case, os.path.join(out_dir, "traces", case.name + ".trace.gz"), args, repo_root)
                 for case in cases]
    for case in cases:
        if not args.real_only:
            harness.check_trace(binary, case.trace)
    seed = suite.chosen_seed(args.seed)
    kinds = job_workloads(cases, args.real_only)
    options = {"allocators": [a.name for a in allocators], "cases": {c.name: {"command": list(c.command),
               "stdin": c.stdin, "env": c.env, "trace": c.trace} for c in cases}, "repetitions": args.repetitions,
               "warm_replays": args.warm_replays, "recorded": bool(args.record or args.command),
               "real_only": args.real_only, "seed": seed,
               "build_dir": os.path.abspath(args.build_dir)}
    document = results.new_document("fidelity", options,
                                    environment.collect(repo_root, args.build_dir, allocators, served),
                                    allocators, plan_workloads(kinds))
    planned = plan(kinds, allocators, args.repetitions, seed, args.warm_replays)
    jobs = "the program alone" if args.real_only else "program, warm and cold replay; and start-up runs"
    print(f"fidelity: {len(planned)} runs: {len(cases)} cases × {len(allocators)} allocators × "
          f"{args.repetitions} rounds ({jobs})", file=sys.stderr)
    failures = suite.execute(binary, document, planned, progress.Progress(len(planned)), args.timeout,
                             run=functools.partial(run_job, kinds, measure))
    results.save(document, os.path.join(out_dir, "results.json"))
    names = [a.name for a in allocators]
    models, columns = ({}, FAULT_COLUMNS[:1]) if args.real_only else (MODELS, FAULT_COLUMNS)
    analysed = analyse(document, [c.name for c in cases], names, models)
    faults = fault_differences(document, [c.name for c in cases], names, columns)
    with open(os.path.join(out_dir, "fidelity.json"), "w", encoding="utf-8") as handle:
        json.dump(dict(analysed, faults=faults), handle, indent=1)
    text = "\n".join(f"## {name} time\n\n{table(entries, name, models)}" for name, entries in analysed.items())
    text += (f"\n## minor page faults\n\nMedians over rounds, of: {'; '.join(h for h, _, _ in columns)} (a replay's "
             f"process includes decoding and start-up, the timed replay does not); each allocator's minus "
             f"{results.REFERENCE_ALLOCATOR}'s:\n\n{fault_table(faults, names, columns)}")
    with open(os.path.join(out_dir, "table.md"), "w", encoding="utf-8") as handle:
        handle.write(text)
    print(text)
    print(f"fidelity: {out_dir}/results.json, fidelity.json, table.md", file=sys.stderr)
    if document.get("interrupted"):
        return 130
    return 1 if failures else 0

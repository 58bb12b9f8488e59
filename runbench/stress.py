"""Run the standard allocator stress programs (harness/stress/) under every allocator and print
the comparison table: per program, each allocator's wall time and peak RSS relative to a
reference allocator (mimalloc by default), plus geometric means over the programs.

Every (program, threads, allocator) run is its own process with the allocator under LD_PRELOAD
('mem_io' means mem_io's drop-in libmem_io.so here, since the programs call plain malloc). Each
repetition visits the programs in a random order and runs a program's allocators back to back,
also in a random order; a ratio is taken within a repetition and the table shows its median
over repetitions, so the machine's swings between repetitions cancel. Wall time and peak RSS
(ru_maxrss) come from a small launcher, harness/stress/measure.c.
Each program prints a checksum that depends only on its arguments: a run whose checksum differs
from the others, that exits non-zero or that times out is reported and makes the command fail.

Examples:
  ./run_bench.py stress
  ./run_bench.py stress --allocators mem_io,system,mimalloc --programs larson,xmalloc-test --threads 1,2
  ./run_bench.py stress --no-build --build-dir build/perf --scale 0.02 --repetitions 1
"""
import argparse
import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import time

from runbench import allocators as allocator_names
from runbench import build, harness, stats
from runbench.argtypes import comma_list, positive_float
from runbench.errors import UsageError

# table name -> binary in <build>/harness/stress/
PROGRAMS = {
    "larson": "stress_larson",
    "xmalloc-test": "stress_xmalloc",
    "mstress": "stress_mstress",
    "cache-scratch": "stress_cache_scratch",
    "cache-thrash": "stress_cache_thrash",
    "glibc-simple": "stress_glibc_simple",
    "glibc-thread": "stress_glibc_thread",
    "alloc-test": "stress_alloc_test",
    "espresso": "stress_espresso_like",
    "malloc-large": "stress_malloc_large",
}
# The harness only probes, before any run, that each preloaded library really serves malloc.
BUILD_TARGETS = ("stress_programs", build.DROPIN_TARGET, build.HARNESS_TARGET)
MEASURE_BINARY = "stress_measure"
MEASURE_LINE = re.compile(r"^stress_measure: seconds=(\S+) cpu_seconds=(\S+) peak_rss_kib=(\d+) status=(\d+)$",
                          re.M)
RESULT_LINE = re.compile(r"^(\S+) threads=(\d+) scale=(\S+) checksum=([0-9a-f]+) corrupted=(\d+)$", re.M)


def program_list(text):
    """--programs: checked while parsing, before a build that may take minutes."""
    programs = comma_list(text)
    for program in programs:
        if program not in PROGRAMS:
            raise argparse.ArgumentTypeError(f"unknown stress program '{program}': use one of {', '.join(PROGRAMS)}")
    return programs


def add_arguments(parser):
    """The options of stress alone; run_bench.py adds the shared ones (allocators, threads, repetitions,
    build directory, seed, timeout)."""
    parser.add_argument("--programs", type=program_list, default=list(PROGRAMS), metavar="LIST",
                        help=f"comma-separated programs (default: all: {','.join(PROGRAMS)})")
    parser.add_argument("--scale", type=positive_float, default=1.0,
                        help="work multiplier passed to every program (default 1.0, ~0.3-2 s per run)")
    parser.add_argument("--metric", choices=("wall", "cpu"), default="wall",
                        help="time column: wall-clock seconds (default) or user+system CPU seconds, which "
                             "suffer less when other jobs load the machine (waiting threads cost nothing)")
    parser.add_argument("--reference", default="mimalloc",
                        help="allocator the table is relative to (default mimalloc; the first one if absent)")
    parser.add_argument("--json", dest="json_out", metavar="FILE", help="also write every sample to FILE")


def program_path(build_dir, program):
    """The built binary of a table name (or of the launcher, MEASURE_BINARY)."""
    if program != MEASURE_BINARY and program not in PROGRAMS:
        raise UsageError(f"unknown stress program '{program}': use one of {', '.join(PROGRAMS)}")
    path = os.path.join(build_dir, "harness", "stress", PROGRAMS.get(program, program))
    if not os.access(path, os.X_OK):
        raise UsageError(f"stress program {path} is not built: run without --no-build, or "
                         f"cmake --build {build_dir} --target stress_programs")
    return path


def run_once(measure, path, threads, scale, allocator, timeout):
    """One process under `allocator`, through the stress_measure launcher (why: see measure.c).
    Returns dict(seconds, cpu_seconds, peak_rss_kib, exit, timed_out, output)."""
    command = [measure] + ([f"--preload={allocator.preload_path}"] if allocator.preload_path else [])
    command += [path, str(threads), repr(scale)]
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)  # the launcher sets it for the program only
    # Own session, so a timeout kills the program too, not just the launcher above it.
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        stdout, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, _ = proc.communicate()
        return {"seconds": timeout, "cpu_seconds": 0.0, "peak_rss_kib": 0, "exit": -1, "timed_out": True,
                "output": stdout or ""}
    match = MEASURE_LINE.search(stdout)
    if not match:
        return {"seconds": 0.0, "cpu_seconds": 0.0, "peak_rss_kib": 0, "exit": proc.returncode or -1,
                "timed_out": False, "output": stdout}
    return {"seconds": float(match.group(1)), "cpu_seconds": float(match.group(2)),
            "peak_rss_kib": int(match.group(3)), "exit": int(match.group(4)), "timed_out": False,
            "output": stdout[:match.start()]}


def checksum_of(output):
    match = RESULT_LINE.search(output)
    return match.group(4) if match else None


def plan_runs(programs, threads, allocators, repetitions, rng):
    """Each repetition visits every (program, threads) in a shuffled order and runs its
    allocators back to back, also shuffled: the ratios pair runs seconds apart."""
    plan = []
    for repetition in range(repetitions):
        cases = [(p, t) for p in programs for t in threads]
        rng.shuffle(cases)
        for program, t in cases:
            order = list(allocators)
            rng.shuffle(order)
            plan.extend((program, t, a, repetition) for a in order)
    return plan


def find_problems(samples):
    """Failed runs and checksum disagreements, one line each."""
    problems = []
    by_case = {}
    for s in samples:
        where = f"{s['program']} threads={s['threads']} under {s['allocator']} (repetition {s['repetition'] + 1})"
        if s["timed_out"]:
            problems.append(f"{where}: timed out")
        elif s["exit"] != 0:
            tail = s["output"].strip().splitlines()[-1:] or ["no output"]
            problems.append(f"{where}: exit status {s['exit']}: {tail[0]}")
        elif s["checksum"] is None:
            problems.append(f"{where}: printed no result line")
        else:
            by_case.setdefault((s["program"], s["threads"]), {}).setdefault(s["checksum"], []).append(s["allocator"])
    for (program, threads), sums in sorted(by_case.items()):
        if len(sums) > 1:
            detail = "; ".join(f"{c} from {', '.join(sorted(set(a)))}" for c, a in sorted(sums.items()))
            problems.append(f"{program} threads={threads}: checksums differ: {detail}")
    return problems


def by_repetition(samples, program, threads, allocator, key):
    """{repetition: value} of one allocator's successful runs of a program."""
    return {s["repetition"]: s[key] for s in samples
            if (s["program"], s["threads"], s["allocator"]) == (program, threads, allocator) and s["exit"] == 0}


def summarise(samples, programs, threads, allocator_names_in_order, reference, time_key="seconds"):
    """Per (program, threads): each allocator's time and peak RSS ÷ the reference allocator's in the
    same repetition (medians), the reference's own medians, and each allocator's time ÷ its best
    peer's (`versus_best`: the largest paired ratio to any other allocator). time_key picks wall
    ("seconds") or CPU ("cpu_seconds") time."""
    rows = []
    for program in programs:
        for t in threads:
            times = {n: by_repetition(samples, program, t, n, time_key) for n in allocator_names_in_order}
            rss = {n: by_repetition(samples, program, t, n, "peak_rss_kib") for n in allocator_names_in_order}
            ratios, versus_best = {}, {}
            for name in allocator_names_in_order:
                time_ratio = stats.paired_median(times[name], times[reference])
                if time_ratio is not None:
                    ratios[name] = (time_ratio, stats.paired_median(rss[name], rss[reference]))
                against_peers = [stats.paired_median(times[name], times[other])
                                 for other in allocator_names_in_order if other != name]
                against_peers = [r for r in against_peers if r is not None]
                if against_peers:
                    versus_best[name] = max(against_peers)
            base = ((stats.median(times[reference].values()), stats.median(rss[reference].values()))
                    if times[reference] else None)
            rows.append({"program": program, "threads": t, "reference": base, "ratios": ratios,
                         "versus_best": versus_best})
    means = {name: (stats.geometric_mean([r["ratios"][name][0] for r in rows if name in r["ratios"]]),
                    stats.geometric_mean([r["ratios"][name][1] for r in rows if name in r["ratios"]]))
             for name in allocator_names_in_order}
    return rows, means


def format_table(rows, means, names, reference, scale, repetitions, metric="wall"):
    width = max(8, *(len(n) for n in names))
    head = " ".join(f"{n:>{width}}" for n in names)
    lines = [f"stress programs, scale {scale:g}: {metric} time and peak RSS relative to {reference} in the same "
             f"repetition, medians of {repetitions} (lower is better); {reference}'s own medians in the last columns",
             f"{'program':<14}{'thr':>4} | time {head} | rss  {head} | {reference} s, MiB"]
    for row in rows:
        cells_t = " ".join(f"{row['ratios'][n][0]:>{width}.2f}" if n in row["ratios"] else f"{'-':>{width}}"
                           for n in names)
        cells_m = " ".join(f"{row['ratios'][n][1]:>{width}.2f}" if n in row["ratios"] else f"{'-':>{width}}"
                           for n in names)
        base = row["reference"]
        absolute = f"{base[0]:.3f} s, {base[1] / 1024:.1f}" if base else "failed"
        lines.append(f"{row['program']:<14}{row['threads']:>4} | time {cells_t} | rss  {cells_m} | {absolute}")
    def mean_cells(index):
        return " ".join(f"{means[n][index]:>{width}.2f}" if not math.isnan(means[n][index]) else f"{'-':>{width}}"
                        for n in names)
    lines.append(f"{'geomean':<18} | time {mean_cells(0)} | rss  {mean_cells(1)} |")
    return "\n".join(lines)


def worst_against_best_peer(rows, name):
    """(factor, case) of the program where `name` trails its best peer the most."""
    cases = [(row["versus_best"][name], f"{row['program']} threads={row['threads']}")
             for row in rows if name in row["versus_best"]]
    return max(cases) if cases else None


def run(args):
    rng = random.Random(args.seed if args.seed is not None else time.time_ns())
    allocators = allocator_names.resolve_all(args.allocators, args.build_dir,
                                             allocator_names.resolve_for_programs)
    allocator_names.verify(allocators, harness.find_binary(args.build_dir))
    paths = {p: program_path(args.build_dir, p) for p in args.programs}
    measure = program_path(args.build_dir, MEASURE_BINARY)
    names = [a.name for a in allocators]
    reference = args.reference if args.reference in names else names[0]
    by_name = {a.name: a for a in allocators}

    plan = plan_runs(args.programs, args.threads, names, args.repetitions, rng)
    samples = []
    for index, (program, threads, name, repetition) in enumerate(plan, 1):
        result = run_once(measure, paths[program], threads, args.scale, by_name[name], args.timeout)
        result.update(program=program, threads=threads, allocator=name, repetition=repetition,
                      checksum=checksum_of(result["output"]))
        samples.append(result)
        print(f"[{index}/{len(plan)}] {program} threads={threads} {name}: {result['seconds']:.3f} s, "
              f"{result['peak_rss_kib'] / 1024:.1f} MiB" + ("" if result["exit"] == 0 else " FAILED"),
              file=sys.stderr)

    time_key = "cpu_seconds" if args.metric == "cpu" else "seconds"
    rows, means = summarise(samples, args.programs, args.threads, names, reference, time_key)
    print(format_table(rows, means, names, reference, args.scale, args.repetitions, args.metric))
    if len(names) > 1:  # each allocator's worst case, the figure a "fastest everywhere" claim needs
        for name in names:
            worst = worst_against_best_peer(rows, name)
            if worst:
                print(f"{name}'s slowest program against the best other allocator: {worst[0]:.2f}x ({worst[1]})")
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as handle:
            json.dump({"scale": args.scale, "reference": reference, "samples": samples}, handle, indent=1)
    problems = find_problems(samples)
    for problem in problems:
        print(f"stress: {problem}", file=sys.stderr)
    return 1 if problems else 0

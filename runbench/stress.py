"""Run the standard allocator stress programs (harness/stress/) under every allocator, through
the suite's pipeline: the same interleaved run plan (runbench.suite), the same results.json
(kind "stress", one "workload" per program), summary, CSV, charts and report, so `plot` and
`compare` read stress runs as they read suite runs.

Every (program, threads, allocator) run is its own process with the allocator under LD_PRELOAD
('mem_io' means mem_io's drop-in libmem_io.so here, since the programs call plain malloc). A
sample's throughput (ops_per_s) is runs per second of wall time (cpu_ops_per_s: per CPU second),
so ratios to system malloc read as in the suite: higher is faster. Wall and CPU time and peak
RSS (ru_maxrss) come from a small launcher, harness/stress/measure.c. Each program prints a
checksum that depends only on its arguments: a run whose checksum differs from the others', that
exits non-zero or that times out is recorded as a failed run and makes the command exit 1.

Examples:
  ./run_bench.py stress
  ./run_bench.py stress --allocators mem_io,system,mimalloc --programs larson,xmalloc-test --threads 1,2
  ./run_bench.py stress --no-build --build-dir build/perf --scale 0.02 --repetitions 1 --out results/stress
"""
import argparse
import functools
import os
import re
import signal
import subprocess
import sys

from runbench import allocators as allocator_names
from runbench import build, environment, harness, progress, results, suite, workloads
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
MEASURE_LINE = re.compile(r"^stress_measure: seconds=(?P<seconds>\S+) cpu_seconds=(?P<cpu>\S+) "
                          r"peak_rss_kib=(?P<rss>\d+) minor_faults=(?P<faults>\d+) status=(?P<status>\d+)$", re.M)
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
    --out, build directory, seed, timeout)."""
    parser.add_argument("--programs", type=program_list, default=list(PROGRAMS), metavar="LIST",
                        help=f"comma-separated programs (default: all: {','.join(PROGRAMS)})")
    parser.add_argument("--scale", type=positive_float, default=1.0,
                        help="work multiplier passed to every program (default 1.0, ~0.3-2 s per run)")


def program_path(build_dir, program):
    """The built binary of a table name (or of the launcher, MEASURE_BINARY)."""
    if program != MEASURE_BINARY and program not in PROGRAMS:
        raise UsageError(f"unknown stress program '{program}': use one of {', '.join(PROGRAMS)}")
    path = os.path.join(build_dir, "harness", "stress", PROGRAMS.get(program, program))
    if not os.access(path, os.X_OK):
        raise UsageError(f"stress program {path} is not built: run without --no-build, or "
                         f"cmake --build {build_dir} --target stress_programs")
    return path


def measure_process(measure, allocator, argv, describe, timeout, stdin=None, env=None, cwd=None):
    """Run argv through the stress_measure launcher `measure` (why: see measure.c) with the
    allocator's library preloaded for the program only; returns (output, sample) where sample
    holds real_time_ns, cpu_seconds, peak_rss_bytes and minor_faults. Raises harness.HarnessError
    (named by `describe`) when it times out, exits non-zero or prints no measurement."""
    command = [measure] + ([f"--preload={allocator.preload_path}"] if allocator.preload_path else [])
    command += ([f"--stdin={stdin}"] if stdin else []) + list(argv)
    env = dict(os.environ if env is None else env)
    env.pop("LD_PRELOAD", None)  # the launcher sets it for the program only
    # Own session, so a timeout kills the program too, not just the launcher above it.
    proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, errors="replace", start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise harness.HarnessError(f"{describe}: timed out after {timeout:g} s")
    measured = MEASURE_LINE.search(output)
    status = int(measured["status"]) if measured else proc.returncode
    if not measured or status != 0:
        tail = output[:measured.start() if measured else None].strip().splitlines()[-1:] or ["no output"]
        raise harness.HarnessError(f"{describe}: exit status {status}: {tail[0]}")
    seconds, cpu_seconds = float(measured["seconds"]), float(measured["cpu"])
    sample = {"real_time_ns": seconds * 1e9, "cpu_seconds": cpu_seconds, "peak_rss_bytes": int(measured["rss"]) * 1024,
              "minor_faults": int(measured["faults"])}
    return output, sample


def run_program(scale, checksums, measure, job, timeout):
    """One process of `job` (a harness.Job whose workload is a program) through measure_process;
    returns a harness.JobOutput of one sample, or raises harness.HarnessError. The checksum is
    noted in checksums[(program, threads)][checksum]. With scale and checksums bound, this is
    suite.execute's run(binary, job, timeout)."""
    output, sample = measure_process(measure, job.allocator, [job.workload.path, str(job.threads), repr(scale)],
                                     job.describe(), timeout)
    result = RESULT_LINE.search(output)
    if not result:
        raise harness.HarnessError(f"{job.describe()}: printed no result line")
    checksums.setdefault((job.workload.name, job.threads), {}).setdefault(result.group(4), []).append(
        job.allocator.name)
    # A time below the launcher's resolution (1 µs) gives no rate: absent, never 0 runs per second.
    for rate, seconds in (("ops_per_s", sample["real_time_ns"] * 1e-9), ("cpu_ops_per_s", sample["cpu_seconds"])):
        if seconds > 0:
            sample[rate] = 1 / seconds
    return harness.JobOutput(samples=[sample])


def checksum_failures(checksums):
    """A results.json failure per (program, threads) whose runs printed different checksums."""
    failures = []
    for (program, threads), sums in sorted(checksums.items()):
        if len(sums) > 1:
            detail = "; ".join(f"{c} from {', '.join(sorted(set(a)))}" for c, a in sorted(sums.items()))
            failures.append({"workload": program, "allocator": "(all)", "threads": threads, "round": None,
                             "error": f"{program} threads={threads}: checksums differ: {detail}"})
    return failures


def run(args, repo_root, out_dir):
    """Plan, run and write the results folder; returns the exit status."""
    allocators = allocator_names.resolve_all(args.allocators, args.build_dir,
                                             allocator_names.resolve_for_programs)
    served = allocator_names.verify(allocators, harness.find_binary(args.build_dir))
    programs = [workloads.Workload(p, program_path(args.build_dir, p)) for p in args.programs]
    measure = program_path(args.build_dir, MEASURE_BINARY)
    seed = suite.chosen_seed(args.seed)
    options = {"allocators": [a.name for a in allocators], "workloads": args.programs, "threads": args.threads,
               "repetitions": args.repetitions, "scale": args.scale, "seed": seed,
               "build_dir": os.path.abspath(args.build_dir)}
    document = results.new_document("stress", options,
                                    environment.collect(repo_root, args.build_dir, allocators, served),
                                    allocators, programs)
    planned = suite.plan(programs, allocators, args.threads, args.repetitions, seed, timelines=False)
    print(f"stress: {len(planned)} runs: {len(programs)} programs × {len(allocators)} allocators × threads "
          f"{args.threads} × {args.repetitions} repetitions, scale {args.scale:g}", file=sys.stderr)
    checksums = {}
    failures = suite.execute(measure, document, planned, progress.Progress(len(planned)), args.timeout,
                             run=functools.partial(run_program, args.scale, checksums))
    disagreements = checksum_failures(checksums)
    document["failures"].extend(disagreements)
    failures += len(disagreements)
    return suite.write_results(document, out_dir, failures)


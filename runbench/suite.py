"""Running a set of jobs interleaved: every round visits every workload and runs its allocators in
a fresh random order, so drift in machine speed spreads over all allocators instead of biasing one."""
import os
import random
import sys
import time

from runbench import harness, report, results
from runbench.harness import Job


def chosen_seed(seed):
    """The run order's seed: the one given (--seed), or one from the clock; results.json records it,
    so the same order can be run again."""
    return seed if seed is not None else time.time_ns() % 2 ** 32


def plan(workloads, allocators, thread_counts, rounds, seed, min_time=None, timelines=True, repetitions=1):
    """Return [(round, Job)] in execution order; each job measures `repetitions` times in its process."""
    rng = random.Random(seed)
    planned = []
    for round_index in range(rounds):
        for workload in workloads:
            for threads in thread_counts:
                order = list(allocators)
                rng.shuffle(order)
                for allocator in order:
                    planned.append((round_index, Job(workload, allocator, threads, repetitions=repetitions,
                                                     min_time=min_time,
                                                     timeline=timelines and round_index == 0)))
    return planned


def execute(binary, document, planned, progress, timeout_s, run=harness.run):
    """Run every planned job, recording measurements or failures in `document`; return failure count.
    run(binary, job, timeout_s) -> harness.JobOutput measures one job (stress runs programs instead).

    Ctrl-C stops the run but keeps what was measured: the document is marked "interrupted".
    """
    failures = 0
    for round_index, job in planned:
        progress.running(job.describe())
        try:
            output = run(binary, job, timeout_s)
        except KeyboardInterrupt:
            document["interrupted"] = True
            progress.message("run_bench.py: interrupted; keeping the runs finished so far")
            return failures
        except harness.HarnessError as error:
            failures += 1
            results.add_failure(document, job, round_index, error)
            progress.message(f"run_bench.py: FAILED {error}")
        else:
            results.add_output(document, job, output, round_index)
        progress.step(job.describe())
    return failures


def write_results(document, out_dir, failures):
    """The results folder of a suite or stress run, the summary on stdout; returns the exit status."""
    os.makedirs(out_dir, exist_ok=True)
    results.save(document, os.path.join(out_dir, "results.json"))
    report.write_folder_outputs(document, out_dir, sys.stderr)
    print(report.summary_text(document))
    print(f"\nresults: {out_dir}/results.json, results.csv, report.html, charts/", file=sys.stderr)
    if document.get("interrupted"):
        return 130
    return 1 if failures else 0

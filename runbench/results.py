"""results.json: the one schema that the charts, the report, `compare` and the gate all read.

Layout (schema "mem_io-results", version 1):
  created_utc, kind ("suite", "check", or "stress": one workload per stress program), options
  (the run's options, e.g. repetitions = rounds and repetitions_per_process), environment
  (machine, compiler, git commit, per allocator its package, version and served_by {malloc,
  free}: the files the probe found serving them; harness_context: what the harness reported that
  holds for every job — host, CPUs, caches, timer resolution and overhead, touch policy, Google
  Benchmark's version and benchmark_library_build_type, how that library was built),
  allocators [{name, harness_allocator, preload}],
  workloads [{name, path, threads: replay threads of one copy, when the harness said}],
  runs [{workload, allocator, threads, samples: [{round, metric: value…}], timeline (the
  harness's timeline for the first round, or null)}],
  failures [{workload, allocator, threads, round, error}], and for `check`, callgrind
  [{workload, allocator, instructions, replayed_ops, instructions_per_op, l1_misses, ll_misses,
  estimated_cycles_per_op, peak_os_bytes}] (one record per replay process under callgrind; see
  runbench/callgrind.py; baselines made before the cache simulation lack the misses and cycles).
Each sample is one measured repetition; metric names are the harness's counters
(ops_per_s, peak_rss_bytes, fragmentation, lat_<op>_p99_ns, lat_<op>_p99_censored, …) plus
real_time_ns, cpu_ops_per_s, iterations and repetition_index (within its process).
"""
import csv
import datetime
import json
import os

from runbench import stats
from runbench.errors import UsageError

SCHEMA = "mem_io-results"
SCHEMA_VERSION = 1
THROUGHPUT = "ops_per_s"
CPU_THROUGHPUT = "cpu_ops_per_s"
REFERENCE_ALLOCATOR = "system"
TIMELINE_MAX_POINTS = 600


def new_document(kind, options, environment, allocators, workloads):
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "kind": kind,
        "created_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "options": options,
        "environment": environment,
        "allocators": [{"name": a.name, "harness_allocator": a.harness_allocator, "preload": a.preload_path}
                       for a in allocators],
        "workloads": [{"name": w.name, "path": w.path, **({"threads": w.threads} if w.threads else {})}
                      for w in workloads],
        "runs": [],
        "failures": [],
    }


def find_run(document, workload, allocator, threads):
    for run in document["runs"]:
        if (run["workload"], run["allocator"], run["threads"]) == (workload, allocator, threads):
            return run
    return None


def add_output(document, job, output, round_index):
    workload, allocator, threads = job.key
    run = find_run(document, workload, allocator, threads)
    if run is None:
        run = {"workload": workload, "allocator": allocator, "threads": threads, "samples": [], "timeline": None}
        document["runs"].append(run)
    for sample in output.samples:
        run["samples"].append(dict(sample, round=round_index))
    if run["timeline"] is None and output.timeline is not None:
        run["timeline"] = downsample_timeline(output.timeline)
    if output.context and "harness_context" not in document["environment"]:
        document["environment"]["harness_context"] = run_context(output.context)


# The harness context's keys that hold for every job of a run: the machine, its CPU, caches and
# timer, the touch policy (the runner never varies it) and Google Benchmark's version. The others
# differ per job (allocator, label and preload: see allocators and environment.allocators) or
# per process (date, load).
_RUN_CONTEXT_KEYS = ("host_name", "num_cpus", "mhz_per_cpu", "cpu_scaling_enabled", "caches", "library_version",
                     "touch", "ticks_per_ns", "timer_overhead_ns", "timer_resolution_ns")


def run_context(context):
    """The part of one job's harness context that describes the whole run. Google Benchmark's
    library_build_type is how its own library was built, not the harness, hence the new name."""
    kept = {key: context[key] for key in _RUN_CONTEXT_KEYS if key in context}
    if "library_build_type" in context:
        kept["benchmark_library_build_type"] = context["library_build_type"]
    return kept


def add_callgrind(document, workload, allocator, cost):
    """Record one callgrind.ReplayCost."""
    document.setdefault("callgrind", []).append({
        "workload": workload, "allocator": allocator, "instructions": cost.instructions,
        "replayed_ops": cost.replayed_ops, "instructions_per_op": cost.instructions_per_op,
        "l1_misses": cost.l1_misses, "ll_misses": cost.ll_misses,
        "estimated_cycles_per_op": cost.estimated_cycles_per_op, "peak_os_bytes": cost.peak_os_bytes})


def callgrind_records(document, workload=None, allocator=None):
    return [r for r in document.get("callgrind", [])
            if (workload is None or r.get("workload") == workload)
            and (allocator is None or r.get("allocator") == allocator)]


def add_failure(document, job, round_index, error):
    workload, allocator, threads = job.key
    document["failures"].append({"workload": workload, "allocator": allocator, "threads": threads,
                                 "round": round_index, "error": str(error)})


def downsample_timeline(timeline):
    """Keep at most TIMELINE_MAX_POINTS evenly spaced samples of every list in the timeline."""
    if isinstance(timeline, list):
        step = max(1, -(-len(timeline) // TIMELINE_MAX_POINTS))
        return timeline[::step]
    if isinstance(timeline, dict):
        return {key: downsample_timeline(value) for key, value in timeline.items()}
    return timeline


def save(document, path):
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=1, sort_keys=False)
        handle.write("\n")
    os.replace(temporary, path)


def load(path):
    """Read and validate a results.json; raise UsageError naming the file and the problem."""
    document = load_json(path, "results file", SCHEMA)
    validate(document, path)
    return document


def load_json(path, what, schema, remedy=""):
    """The JSON document in `path`, a `what` (e.g. "drift file") whose "schema" must be `schema`;
    otherwise UsageError: the path, then why it is not one (`remedy` appended to a wrong schema)."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such {what}")
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory, not a {what}")
    except OSError as error:
        raise UsageError(f"{path}: cannot read the {what}: {error.strerror or error}")
    except ValueError as error:  # bad UTF-8 included
        raise UsageError(f"{path}: {what} is not valid JSON: {error}")
    if not isinstance(document, dict) or document.get("schema") != schema:
        raise UsageError(f"{path}: not a {what} (expected \"schema\": \"{schema}\"){remedy}")
    return document


def validate(document, path):
    version = document.get("schema_version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise UsageError(f"{path}: schema_version {version!r} is not supported (this run_bench reads "
                         f"up to {SCHEMA_VERSION})")
    runs = document.get("runs")
    if not isinstance(runs, list):
        raise UsageError(f"{path}: 'runs' must be a list")
    for index, run in enumerate(runs):
        if not isinstance(run, dict) or not all(k in run for k in ("workload", "allocator", "threads", "samples")) \
                or not isinstance(run["samples"], list) or not all(isinstance(s, dict) for s in run["samples"]):
            raise UsageError(f"{path}: runs[{index}] needs workload, allocator, threads and a list of samples")
        run.setdefault("timeline", None)
    callgrind = document.get("callgrind", [])
    if not isinstance(callgrind, list) or not all(isinstance(r, dict) and "workload" in r for r in callgrind):
        raise UsageError(f"{path}: 'callgrind' must be a list of records with a workload")
    for key, default in (("failures", []), ("options", {}), ("environment", {}), ("callgrind", [])):
        document.setdefault(key, default)


def values(run, metric):
    return [s[metric] for s in run["samples"] if isinstance(s.get(metric), (int, float))]


def median_metric(run, metric):
    found = values(run, metric) if run else []
    return stats.median(found) if found else None


def workloads_in(document):
    return sorted({r["workload"] for r in document["runs"]})


def allocators_in(document):
    """Allocators in the order the run listed them."""
    listed = [a["name"] for a in document.get("allocators", [])]
    present = {r["allocator"] for r in document["runs"]}
    return [name for name in listed if name in present] + sorted(present - set(listed))


def threads_in(document):
    return sorted({r["threads"] for r in document["runs"]})


def round_repetitions(run, metric):
    """{round: [the metric of each of that round's repetitions]} of a run."""
    by_round = {}
    for sample in run["samples"] if run else []:
        if isinstance(sample.get(metric), (int, float)):
            by_round.setdefault(sample.get("round"), []).append(sample[metric])
    return by_round


def round_medians(run, metric):
    """{round: the median of that round's repetitions} of a run's metric."""
    return {round_index: stats.median(found) for round_index, found in round_repetitions(run, metric).items()}


def paired_ratios(run, reference, metric):
    """run ÷ reference, one ratio per round that measured both (a round runs a workload's
    allocators back to back), in round order."""
    return stats.paired_ratios(round_medians(run, metric), round_medians(reference, metric))


def _relative_rounds(document, workload, allocator, threads, metric, versus):
    """(rounds, statistic) for relative(): the rounds that measured the allocator, system malloc
    and `versus`, as (allocator's, system's, versus's repetitions)."""
    by_round = [round_repetitions(find_run(document, workload, name, threads), metric)
                for name in (allocator, REFERENCE_ALLOCATOR, versus)]
    shared = set(by_round[0]).intersection(*by_round[1:])
    rounds = [tuple(series[r] for series in by_round) for r in sorted(shared, key=str)]

    def statistic(sampled):
        medians = [[stats.median(series) for series in one] for one in sampled]
        mine = stats.median([m[0] / m[1] for m in medians])
        return mine if versus == REFERENCE_ALLOCATOR else mine / stats.median([m[2] / m[1] for m in medians])

    def round_value(one):
        """The ratio within one round: allocator ÷ system malloc, or ÷ versus."""
        mine, reference, other = (stats.median(series) for series in one)
        return mine / (reference if versus == REFERENCE_ALLOCATOR else other)
    return rounds, statistic, round_value


def judged_time_note(document, threads=None):
    """What the throughput verdicts on the document's cases (those of `threads`, when given)
    judge, for titles: CPU time, wall time, or which cases are judged on each."""
    judged = {judged_throughput(document, r["workload"], r["threads"]) for r in document["runs"]
              if threads is None or r["threads"] == threads}
    if judged == {CPU_THROUGHPUT}:
        return "CPU time"
    if judged == {THROUGHPUT}:
        return "wall time"
    return "CPU time of one-thread replays, wall time of multi-threaded ones"


def judged_throughput(document, workload, threads):
    """The throughput metric a verdict on this case judges: per CPU second of the replay thread
    where the replay runs one thread (the trace's threads × copies = 1), since a replay that other
    load deschedules loses wall time but not CPU time; per wall second otherwise, where CPU time
    would miss the time an allocator's threads wait on its locks (blocked, they use none). A
    workload whose thread count was not recorded is judged on wall time."""
    return CPU_THROUGHPUT if threads == 1 and workload_threads(document, workload) == 1 else THROUGHPUT


def workload_threads(document, workload):
    """The replay threads of one copy of `workload`'s trace, as the harness said; None if not recorded."""
    entry = next((w for w in document.get("workloads") or [] if isinstance(w, dict) and w.get("name") == workload),
                 {})
    return entry.get("threads")


def relative(document, workload, allocator, threads, metric=None, versus=REFERENCE_ALLOCATOR):
    """stats.Estimate of an allocator's metric (default: its judged throughput,
    judged_throughput) ÷ system malloc's in the same round (the median
    over rounds), divided by `versus`'s same ratio when versus is another allocator; None when
    no round measured them all. Every table, chart and the Standing use this one ratio, so
    mem_io ÷ mimalloc in the Standing is exactly the quotient of their throughput-table cells.
    The interval is the distribution-free 95 % interval of the median of the rounds' ratios
    (stats.rounds_estimate): rounds are separate processes, and what varies between processes
    (the other load on the machine, the host's) is what the interval must cover. The verdict's
    margin is the denominator allocator's own median gap between rounds (stats.round_gap): a
    difference smaller than two processes of one allocator show is not a result."""
    metric = metric or judged_throughput(document, workload, threads)
    rounds, statistic, round_value = _relative_rounds(document, workload, allocator, threads, metric, versus)
    if not rounds or any(stats.median(one[1]) == 0 or stats.median(one[2]) == 0 for one in rounds):
        return None
    denominator = 1 if versus == REFERENCE_ALLOCATOR else 2
    return stats.rounds_estimate(rounds, statistic, round_value,
                                 [stats.median(one[denominator]) for one in rounds])


def _relative_value(document, workload, allocator, threads, metric, versus):
    """relative()'s point value without its interval (for choosing among many), or None."""
    rounds, statistic, _ = _relative_rounds(document, workload, allocator, threads, metric, versus)
    return statistic(rounds) if rounds and all(stats.median(one[1]) for one in rounds) else None


def standing(document):
    """{allocator: (time, rss, worst, counted)} over every (workload, threads) case: stats.Estimates
    of the geometric means of its time per op and peak RSS ÷ system malloc's (None where no case
    has both), worst = (Estimate, case, other) for its slowest case against the fastest other
    allocator there, or None, and counted = how many cases each geometric mean covers. Time per op ÷ system is 1 ÷ the throughput table's ratio, and the
    slowest case's factor is the quotient of the two allocators' throughput-table ratios."""
    cases = sorted({(r["workload"], r["threads"]) for r in document["runs"]})
    names = allocators_in(document)
    answer = {}
    for allocator in names:
        times, footprints, worst = [], [], None
        for workload, threads in cases:
            if find_run(document, workload, allocator, threads) is None:
                continue
            throughput = relative(document, workload, allocator, threads)
            footprint = relative(document, workload, allocator, threads, "peak_rss_bytes")
            if throughput:
                times.append(throughput.inverse())
            if footprint:
                footprints.append(footprint)
            for other in names:
                factor = (_relative_value(document, workload, other, threads,
                                          judged_throughput(document, workload, threads), allocator)
                          if other != allocator else None)
                if factor and (worst is None or factor > worst[0]):
                    worst = (factor, workload, threads, other)
        if worst:
            factor, workload, threads, other = worst
            worst = (relative(document, workload, other, threads, versus=allocator), f"{workload}/{threads}", other)
        answer[allocator] = (stats.geometric_mean_estimate(times) if times else None,
                             stats.geometric_mean_estimate(footprints) if footprints else None, worst,
                             (len(times), len(footprints)))
    return answer


def write_csv(document, path):
    """One row per measured repetition; one column per metric."""
    metrics = sorted({key for run in document["runs"] for sample in run["samples"] for key in sample
                      if key not in ("round", "benchmark")})
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["workload", "allocator", "threads", "round", *metrics])
        for run in document["runs"]:
            for sample in run["samples"]:
                writer.writerow([run["workload"], run["allocator"], run["threads"], sample.get("round", ""),
                                 *(sample.get(m, "") for m in metrics)])

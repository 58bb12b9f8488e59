"""A results.json document (runbench.results schema) as the plain chart descriptions that
plots.draw_all draws (see plots/README.md): which charts a run gets, their titles, and the
numbers in each — ratios with their intervals, medians over repetitions, geometric means.

draw_all(document, out_dir) draws them all and returns [(title, file stem)].
"""
import plots
from runbench import results, stats

LATENCY_OPS = ("malloc", "free", "realloc", "calloc", "aligned")
PERCENTILES = (("p50", "p50"), ("p99", "p99"), ("p999", "p99.9"), ("max", "max"))
MIB = 1024 * 1024
# What makes a ratio a tie (stats.NOT_SEPARATED), for the legend of charts with faded bars.
TIE_NOTE = "95 % interval within the margin of 1.0"


def draw_all(document, out_dir):
    return plots.draw_all(charts(document), out_dir, results.allocators_in(document))


def charts(document):
    """Every chart of a document, in the report's order."""
    all_threads = results.threads_in(document)
    base_threads = min(all_threads, default=1)
    plan = [_bars(document, f"Throughput relative to system malloc ({results.judged_time_note(document, threads)}), {_copies(threads)}",
                  f"throughput_threads{threads}", "throughput ÷ system malloc\n(log scale; higher is better)",
                  _relative_bar(document, threads, None), reference_line=1.0, log=True)
            for threads in all_threads]
    plan.append(_bars(document, "Throughput per CPU second of the replay threads relative to system malloc, "
                      f"{_copies(base_threads)}", "cpu_throughput",
                      "ops per CPU-s ÷ system malloc\n(log scale; higher is better)",
                      _relative_bar(document, base_threads, "cpu_ops_per_s"), reference_line=1.0, log=True))
    plan.append(_bars(document, f"Fragmentation, {_copies(base_threads)}", "fragmentation",
                      "(peak RSS − baseline RSS)\n÷ peak live bytes (lower is better)",
                      _spread_bar(document, base_threads, "fragmentation"), reference_line=1.0))
    plan.append(_bars(document, f"Peak RSS, {_copies(base_threads)}", "peak_rss", "peak RSS (MiB, lower is better)",
                      _spread_bar(document, base_threads, "peak_rss_bytes", 1 / MIB)))
    if len(all_threads) > 1:
        plan.append(_scaling(document, all_threads))
    plan += [_timeline(document, workload, base_threads) for workload in results.workloads_in(document)]
    plan += [_latency(document, op, base_threads) for op in LATENCY_OPS]
    return plan


def _copies(threads):
    return "1 copy of each trace" if threads == 1 else f"{threads} concurrent copies of each trace"


def _bars(document, title, stem, ylabel, bar_of, reference_line=None, log=False):
    """bar_of(workload, allocator) -> (value, low, high) or (value, low, high, tie), or None."""
    workloads = results.workloads_in(document)
    series = {}
    for allocator in results.allocators_in(document):
        found = {workload: bar_of(workload, allocator) for workload in workloads}
        series[allocator] = {workload: bar for workload, bar in found.items() if bar is not None}
    return {"kind": "bars", "title": title, "stem": stem, "ylabel": ylabel, "groups": workloads,
            "series": series, "reference_line": reference_line, "log": log, "tie_note": TIE_NOTE}


def _spread_bar(document, threads, metric, scale=1.0):
    """The median over repetitions, its error bar the range."""
    def bar_of(workload, allocator):
        run = results.find_run(document, workload, allocator, threads)
        scaled = [v * scale for v in results.values(run, metric)] if run else []
        return (stats.median(scaled), min(scaled), max(scaled)) if scaled else None
    return bar_of


def _relative_bar(document, threads, metric):
    """results.relative's median, 95 % interval and tie flag (metric None: the judged throughput)."""
    def bar_of(workload, allocator):
        if allocator == results.REFERENCE_ALLOCATOR:
            return (1.0, 1.0, 1.0)  # by definition
        found = results.relative(document, workload, allocator, threads, metric)
        return found and (found.value, found.low, found.high, found.verdict == stats.NOT_SEPARATED)
    return bar_of


def _scaling(document, thread_counts):
    """Median ops/s (in millions) against thread count, per workload and allocator."""
    panels = {}
    for workload in results.workloads_in(document):
        panels[workload] = {}
        for allocator in results.allocators_in(document):
            points = [(t, results.median_metric(results.find_run(document, workload, allocator, t), "ops_per_s"))
                      for t in thread_counts]
            panels[workload][allocator] = [(t, v / 1e6) for t, v in points if v]
    return {"kind": "scaling", "title": "Thread scaling: throughput against copies of the trace",
            "stem": "scaling", "x_ticks": thread_counts, "panels": panels}


def _timeline(document, workload, threads):
    """The first round's RSS − baseline RSS per allocator, and the trace's live bytes from the
    best-sampled run (they are the trace's, the same under every allocator)."""
    timelines = {}
    for allocator in results.allocators_in(document):
        run = results.find_run(document, workload, allocator, threads)
        timeline = run.get("timeline") if run else None
        if timeline and timeline.get("t_ms"):
            timelines[allocator] = timeline
    live = max((t for t in timelines.values() if t.get("live_bytes")), key=lambda t: len(t["t_ms"]), default=None)
    series = {}
    for allocator, timeline in timelines.items():
        baseline = timeline.get("baseline_rss_bytes", 0)
        series[allocator] = {"t_ms": timeline["t_ms"], "interval_ms": timeline.get("interval_ms", 1),
                             "mib": [(rss - baseline) / MIB for rss in timeline["rss_bytes"]]}
    return {"kind": "timeline", "title": f"RSS over time against live bytes: {workload}",
            "stem": f"timeline_{workload}", "series": series,
            "live": live and {"t_ms": live["t_ms"], "mib": [b / MIB for b in live["live_bytes"]]}}


def _latency(document, op, threads):
    return {"kind": "latency", "stem": f"latency_{op}",
            "title": f"{op} latency percentiles (geometric mean over workloads), {_copies(threads)}",
            "percentiles": [label for _, label in PERCENTILES],
            "series": {allocator: _latency_points(document, allocator, op, threads)
                       for allocator in results.allocators_in(document)}}


def _latency_points(document, allocator, op, threads):
    """[(ns, upper bound)] per percentile: the geometric mean over the workloads that report all
    four percentiles (so p50 <= p99 <= p99.9 <= max holds for the means as it does in each run)
    of each workload's median over repetitions; an upper bound when any workload's value is one
    (below the timer's resolution)."""
    per_workload = []
    for workload in results.workloads_in(document):
        run = results.find_run(document, workload, allocator, threads)
        medians = [results.median_metric(run, f"lat_{op}_{key}_ns") for key, _ in PERCENTILES]
        if all(medians):
            censored = [any(results.values(run, f"lat_{op}_{key}_censored")) for key, _ in PERCENTILES]
            per_workload.append((medians, censored))
    if not per_workload:
        return []
    return [(stats.geometric_mean([m[index] for m, _ in per_workload]), any(c[index] for _, c in per_workload))
            for index in range(len(PERCENTILES))]

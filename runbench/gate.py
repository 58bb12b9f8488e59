"""`check`: the regression gate. mem_io and system malloc run interleaved, in random order, once per
round; the gate compares mem_io's per-round throughput ratio to system malloc (machine speed
cancels) and mem_io's fragmentation and peak RSS with a baseline results.json made by the same
code. A metric regresses only when its median moved past the threshold in the bad direction AND
the bootstrap 95 % confidence interval of that change excludes "no change"."""
from dataclasses import dataclass

from runbench import results, stats
from runbench.report import format_table

CANDIDATE = "mem_io"


@dataclass(frozen=True)
class Metric:
    label: str
    counter: str
    higher_is_better: bool
    relative_to_system: bool
    min_absolute_change: float  # changes smaller than this are page-granularity noise, never regressions


METRICS = (
    Metric("throughput", "ops_per_s", True, True, 0.0),
    Metric("fragmentation", "fragmentation", False, False, 0.05),
    Metric("peak RSS", "peak_rss_bytes", False, False, 256 * 1024),
)


@dataclass
class Verdict:
    workload: str
    metric: Metric
    baseline: float
    current: float
    change: float
    interval: tuple
    regressed: bool


def samples(document, workload, metric, threads):
    """Per-round values of a metric for the candidate; throughput as candidate ÷ system of that round."""
    run = results.find_run(document, workload, CANDIDATE, threads)
    if run is None:
        return []
    if not metric.relative_to_system:
        return results.values(run, metric.counter)
    reference = results.find_run(document, workload, results.REFERENCE_ALLOCATOR, threads)
    if reference is None:
        return []
    by_round = {s.get("round"): s[metric.counter] for s in reference["samples"] if s.get(metric.counter)}
    return [s[metric.counter] / by_round[s["round"]] for s in run["samples"]
            if s.get("round") in by_round and isinstance(s.get(metric.counter), (int, float))]


def evaluate(current, baseline, thresholds, threads=1):
    """Verdicts for every workload and metric present in both documents."""
    verdicts = []
    for workload in results.workloads_in(current):
        for metric in METRICS:
            now = samples(current, workload, metric, threads)
            before = samples(baseline, workload, metric, threads)
            if not now or not before or stats.median(before) == 0:
                continue
            now_median, before_median = stats.median(now), stats.median(before)
            change = now_median / before_median
            low, high = stats.bootstrap_ratio_interval(now, before)
            threshold = thresholds[metric.label]
            if metric.higher_is_better:
                worse = change < 1 - threshold and high < 1
            else:
                worse = (change > 1 + threshold and low > 1
                         and now_median - before_median > metric.min_absolute_change)
            verdicts.append(Verdict(workload, metric, before_median, now_median, change, (low, high), worse))
    return verdicts


def missing_workloads(current, baseline):
    return sorted(set(results.workloads_in(current)) - set(results.workloads_in(baseline)))


def verdict_table(verdicts):
    def shown(metric, value):
        if metric.relative_to_system:
            return f"{value:.3f}× sys"
        if metric.counter == "peak_rss_bytes":
            return f"{value / 1048576:.2f} MiB"
        return f"{value:.3f}"

    header = ["workload", "metric", "baseline", "now", "now ÷ baseline", "95% CI", "verdict"]
    rows = [[v.workload, v.metric.label, shown(v.metric, v.baseline), shown(v.metric, v.current),
             f"{v.change:.3f}", f"{v.interval[0]:.3f}–{v.interval[1]:.3f}",
             "REGRESSED" if v.regressed else "ok"] for v in verdicts]
    return format_table(header, rows)

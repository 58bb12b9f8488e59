"""`check`: the regression gate. mem_io and system malloc run interleaved, in random order, once per
round (a few measured repetitions in each process); the gate compares mem_io's per-round
throughput ratio to system malloc (machine speed cancels; throughput per CPU second of the
replay threads, which other processes' load barely moves) and mem_io's fragmentation and peak
RSS with a baseline results.json made by the same code. A metric regresses only when its median
moved past the threshold (or, if larger, the spread of the baseline's own rounds) in the bad
direction, by more than a small absolute floor, AND the bootstrap 95 % confidence interval of
that change excludes "no change"."""
from dataclasses import dataclass
from typing import Optional

from runbench import results, stats
from runbench.report import format_table

CANDIDATE = "mem_io"


# Memory that moves by less than this between runs is the allocator's timing (delayed release to
# the OS, thread interleaving), not a regression: measured run-to-run spread on the shipped traces.
MEMORY_FLOOR_BYTES = 1 << 20


@dataclass(frozen=True)
class Metric:
    label: str
    counter: str
    higher_is_better: bool
    relative_to_system: bool
    # For memory metrics, how a change converts to bytes for the MEMORY_FLOOR_BYTES test: IN_BYTES,
    # or the counter to multiply by; None for throughput.
    bytes_per_unit: Optional[str]


IN_BYTES = "bytes"
METRICS = (
    Metric("throughput", "cpu_ops_per_s", True, True, None),
    Metric("fragmentation", "fragmentation", False, False, "ideal_bytes"),
    Metric("peak RSS", "peak_rss_bytes", False, False, IN_BYTES),
)


@dataclass
class Verdict:
    workload: str
    metric: Metric
    baseline: float
    current: float
    change: float
    interval: tuple
    threshold: float
    regressed: bool


def samples(document, workload, metric, threads):
    """One value per round for the candidate (the median of that round's repetitions); throughput
    as candidate ÷ system malloc of the same round."""
    run = results.find_run(document, workload, CANDIDATE, threads)
    if run is None:
        return []
    if not metric.relative_to_system:
        candidate = results.round_medians(run, metric.counter)
        return [candidate[r] for r in sorted(candidate, key=str)]
    reference = results.find_run(document, workload, results.REFERENCE_ALLOCATOR, threads)
    return results.paired_ratios(run, reference, metric.counter)


def _change_in_bytes(document, workload, metric, difference, threads):
    if metric.bytes_per_unit == IN_BYTES:
        return difference
    run = results.find_run(document, workload, CANDIDATE, threads)
    return difference * (results.median_metric(run, metric.bytes_per_unit) or 0)


def baseline_spread(before, metric):
    """How far apart the baseline's own rounds lie (10th vs 90th percentile), as a fraction.

    A workload whose rounds scatter (multi-threaded traces: CPU time spent waiting for other
    threads depends on scheduling) gets this as its threshold instead of the default, so the
    gate only fails it for a change larger than its own noise.
    """
    ordered = sorted(before)
    low, high = stats.quantile(ordered, 0.1), stats.quantile(ordered, 0.9)
    if low <= 0:
        return 0.0
    return 1 - low / high if metric.higher_is_better else high / low - 1


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
            threshold = max(thresholds[metric.label], baseline_spread(before, metric))
            if metric.higher_is_better:
                worse = change < 1 - threshold and high < 1
            else:
                worse = (change > 1 + threshold and low > 1 and _change_in_bytes(
                    current, workload, metric, now_median - before_median, threads) > MEMORY_FLOOR_BYTES)
            verdicts.append(Verdict(workload, metric, before_median, now_median, change, (low, high), threshold,
                                    worse))
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

    header = ["workload", "metric", "baseline", "now", "now ÷ baseline", "95% CI", "threshold", "verdict"]
    rows = [[v.workload, v.metric.label, shown(v.metric, v.baseline), shown(v.metric, v.current),
             f"{v.change:.3f}", f"{v.interval[0]:.3f}–{v.interval[1]:.3f}",
             f"{'−' if v.metric.higher_is_better else '+'}{v.threshold:.0%}",
             "REGRESSED" if v.regressed else "ok"] for v in verdicts]
    return format_table(header, rows)

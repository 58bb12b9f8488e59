"""`check`: the regression gate. Two kinds of evidence, each verdict pass, fail or inconclusive.

Counted (deterministic, tight threshold): mem_io replays each workload once under valgrind's
callgrind; the gate compares the instructions executed inside mem_io's entry points per trace
operation, and the bytes mem_io held from the OS at its peak, with the baseline's. Either growing
by more than the threshold (1 %, or twice the spread of the baseline's own callgrind runs when
that is larger; peak OS bytes also by more than two 64 KiB pages) fails; otherwise it passes.

Timed (for large effects): mem_io and system malloc run interleaved, in random order, once per
round (a few measured repetitions in each process); the gate compares mem_io's per-round
throughput ratio to system malloc (machine speed cancels; throughput per CPU second of the
replay threads, which other processes' load barely moves) and mem_io's fragmentation and peak
RSS with the baseline. A metric fails only when its median moved in the bad direction past the
threshold and past the range of both runs' own rounds (noise of this size is the machine's, not
the code's), by more than a small absolute floor, AND the bootstrap 95 % confidence interval of
that change excludes "no change"; it passes only when the whole interval lies on the good side of
the threshold (the default, or the baseline's spread between rounds when larger); anything else
is inconclusive.

Exit status: 0 every verdict passed; 1 a verdict failed or a run failed; 4 nothing failed but a
timed verdict is inconclusive; 2 bad input; 3 the build failed."""
from dataclasses import dataclass
from typing import Optional

from runbench import results, stats
from runbench.report import format_table

CANDIDATE = "mem_io"
PASS, FAIL, INCONCLUSIVE = "pass", "FAIL", "inconclusive"
EXIT_INCONCLUSIVE = 4


# Memory that moves by less than this between runs is the allocator's timing (delayed release to
# the OS, thread interleaving), not a regression: measured run-to-run spread on the shipped traces.
MEMORY_FLOOR_BYTES = 1 << 20
# A counted metric's threshold is at least this many times the spread (max/min - 1) of the
# baseline's own callgrind runs: a few runs understate the range of many.
COUNTED_SPREAD_FACTOR = 2
# The timed threshold's floor is the spread of the baseline's rounds from this quantile to 1 - it.
BASELINE_SPREAD_TAIL = 0.1
# mem_io takes memory from the OS in 64 KiB pages; on multi-threaded traces the peak moves by one
# or two such pages between callgrind runs (pipeline: 3.69-3.81 MiB), so growth up to two is not
# judged.
COUNTED_BYTES_FLOOR = 2 << 16


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
# From the callgrind runs (results.CALLGRIND records); lower is better.
COUNTED_METRICS = (
    Metric("instructions/op", "instructions_per_op", False, False, None),
    Metric("peak OS bytes", "peak_os_bytes", False, False, IN_BYTES),
)


@dataclass
class Verdict:
    workload: str
    metric: Metric
    baseline: float
    current: float
    change: float
    interval: Optional[tuple]  # bootstrap 95 % interval of the change; None for counted metrics
    threshold: float
    state: str
    # Timed metrics: the change must also pass this to fail (the rounds' own range, see evaluate).
    fail_threshold: Optional[float] = None


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


def spread(values, metric, tail=0.0):
    """How far apart values lie, from their `tail` quantile to their (1 - tail) one, as a fraction
    in the metric's bad direction: 1 - low/high where higher is better, high/low - 1 otherwise;
    0 for no values or a low end not above 0."""
    if not values:
        return 0.0
    ordered = sorted(values)
    low, high = stats.quantile(ordered, tail), stats.quantile(ordered, 1 - tail)
    if low <= 0:
        return 0.0
    return 1 - low / high if metric.higher_is_better else high / low - 1


def _timed_state(metric, change, interval, threshold, fail_threshold, bytes_at):
    """FAIL: past fail_threshold and the interval excludes no change (memory: and more than the
    floor). PASS: the whole interval on the good side of the threshold (memory: or its worst end
    below the floor). Otherwise INCONCLUSIVE."""
    low, high = interval
    if metric.higher_is_better:
        if change < 1 - fail_threshold and high < 1:
            return FAIL
        return PASS if low >= 1 - threshold else INCONCLUSIVE
    if change > 1 + fail_threshold and low > 1 and bytes_at(change) > MEMORY_FLOOR_BYTES:
        return FAIL
    return PASS if high <= 1 + threshold or bytes_at(high) <= MEMORY_FLOOR_BYTES else INCONCLUSIVE


def evaluate(current, baseline, thresholds, threads=1):
    """Timed verdicts for every workload and metric present in both documents. A metric passes
    within its threshold (the default, or the baseline's spread between rounds when larger), and
    fails only past the range of both runs' own rounds as well: an unchanged build measured on a
    loaded machine, or landing in the other mode of a bimodal trace, is inconclusive, not FAIL."""
    verdicts = []
    for workload in results.workloads_in(current):
        for metric in METRICS:
            now = samples(current, workload, metric, threads)
            before = samples(baseline, workload, metric, threads)
            if not now or not before or stats.median(before) == 0:
                continue
            now_median, before_median = stats.median(now), stats.median(before)
            change = now_median / before_median
            interval = stats.bootstrap_ratio_interval(now, before)
            # A workload whose baseline rounds scatter (multi-threaded traces: CPU time spent waiting
            # for other threads depends on scheduling) gets their spread, 10th to 90th percentile,
            # as its threshold, so it fails only for a change larger than its own noise.
            threshold = max(thresholds[metric.label], spread(before, metric, BASELINE_SPREAD_TAIL))
            # Failing also takes a change past the extreme rounds of both runs: multi-threaded traces
            # are bimodal per process (the baseline's producer_consumer rounds: 5.1x system malloc in
            # 11 of 12, 0.36x in one), and a loaded machine spreads every round.
            fail_threshold = max(threshold, spread(before, metric), spread(now, metric))

            def bytes_at(ratio, metric=metric, before_median=before_median):
                return _change_in_bytes(current, workload, metric, before_median * (ratio - 1), threads)

            verdicts.append(Verdict(workload, metric, before_median, now_median, change, interval, threshold,
                                    _timed_state(metric, change, interval, threshold, fail_threshold, bytes_at),
                                    fail_threshold))
    return verdicts


def counted_values(document, workload, metric):
    return [r[metric.counter] for r in results.callgrind_records(document, workload, CANDIDATE)
            if isinstance(r.get(metric.counter), (int, float))]


def evaluate_counted(current, baseline, threshold):
    """Counted verdicts (instructions per op, peak OS bytes) for every workload callgrind measured
    in both documents: FAIL when the median grew by more than the threshold (bytes: and by more
    than COUNTED_BYTES_FLOOR), else PASS."""
    verdicts = []
    for workload in sorted({r["workload"] for r in results.callgrind_records(current)}):
        for metric in COUNTED_METRICS:
            now, before = counted_values(current, workload, metric), counted_values(baseline, workload, metric)
            if not now or not before or stats.median(before) == 0:
                continue
            now_median, before_median = stats.median(now), stats.median(before)
            change = now_median / before_median
            applied = max(threshold, COUNTED_SPREAD_FACTOR * spread(before, metric))  # 0 when deterministic
            grown = metric.bytes_per_unit != IN_BYTES or now_median - before_median > COUNTED_BYTES_FLOOR
            verdicts.append(Verdict(workload, metric, before_median, now_median, change, None, applied,
                                    FAIL if change > 1 + applied and grown else PASS))
    return verdicts


def missing_workloads(current, baseline):
    return sorted(set(results.workloads_in(current)) - set(results.workloads_in(baseline)))


def exit_status(verdicts, failed_runs):
    if failed_runs or any(v.state == FAIL for v in verdicts):
        return 1
    return EXIT_INCONCLUSIVE if any(v.state == INCONCLUSIVE for v in verdicts) else 0


def verdict_table(verdicts):
    def shown(metric, value):
        if metric.relative_to_system:
            return f"{value:.3f}× sys"
        if metric.bytes_per_unit == IN_BYTES:
            return f"{value / 1048576:.2f} MiB"
        return f"{value:.3f}"

    def percent(metric, fraction):
        return "—" if fraction is None else \
            f"{'−' if metric.higher_is_better else '+'}{fraction:.{1 if fraction < 0.1 else 0}%}"

    header = ["workload", "metric", "baseline", "now", "now ÷ baseline", "95% CI", "threshold", "fails past",
              "verdict"]
    rows = [[v.workload, v.metric.label, shown(v.metric, v.baseline), shown(v.metric, v.current),
             f"{v.change:.4f}" if v.interval is None else f"{v.change:.3f}",
             "counted" if v.interval is None else f"{v.interval[0]:.3f}–{v.interval[1]:.3f}",
             percent(v.metric, v.threshold), percent(v.metric, v.fail_threshold or v.threshold),
             v.state] for v in verdicts]
    return format_table(header, rows)

"""`check`: the regression gate. Two kinds of evidence, each verdict pass, fail or inconclusive.

Counted (deterministic, tight threshold): mem_io replays each workload once under valgrind's
callgrind (several times where the baseline's runs disagree: multi-threaded traces whose threads
interleave differently from run to run, so a median meets a median); the gate compares the
instructions executed inside mem_io's entry points per trace operation, the cycles callgrind
estimates for them from its simulated cache misses, and the bytes mem_io held from the OS at its
peak, with the baseline's. Any growing
by more than the threshold (1 %, or twice the spread of the baseline's own callgrind runs when
that is larger; peak OS bytes also by more than two 64 KiB pages) fails; otherwise it passes.
The timed rounds' page faults per replay are judged the same way, without an interval, on the
one-thread workloads whose baseline rounds agree (evaluate_faults).

Timed (for large effects): mem_io and system malloc run interleaved, in random order, once per
round (a few measured repetitions in each process); the gate compares mem_io's per-round
throughput ratio to system malloc (machine speed cancels; throughput per CPU second of the
replay threads, which other processes' load barely moves) and mem_io's fragmentation and peak
RSS with the baseline. The baseline is one session of the machine, and separate runs of one build
land apart by more than their rounds show (fragmentation's throughput ratio: 11.8-15.7x system
malloc in seven runs within two hours), so each workload's metric carries its measured drift
between runs (the drift file, --update-drift). A metric fails only when its median moved in the
bad direction past the threshold, by more than a small absolute floor for memory, AND the
bootstrap 95 % confidence interval of that change lies wholly beyond the drift; it passes only
when the whole interval, allowing for the drift, lies on the good side of the threshold (the
default, or the baseline's spread between rounds when larger); anything else is inconclusive, and
so is every timed metric of a run or baseline with fewer than 6 rounds (no 95 % interval).

Exit status: 0 every verdict passed; 1 a verdict failed or a run failed; 4 nothing failed but a
timed verdict is inconclusive; 2 bad input; 3 the build failed."""
import datetime
import json
from dataclasses import dataclass
from typing import Optional

from runbench import results, stats
from runbench.errors import UsageError
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
# A workload whose baseline callgrind runs disagree (threads interleave differently under
# valgrind's scheduler: pipeline's single runs span 218.3-221.2 instructions/op, 1.3 %) is counted
# this many times by a check, so that the medians compared are both medians of several runs.
VARYING_COUNTED_RUNS = 5
# Baseline runs closer than this are taken as deterministic (python3_threaded_queue: 1 in 10^6).
VARYING_COUNTED_SPREAD = 0.001
# The timed threshold's floor is the spread of the baseline's rounds from this quantile to 1 - it.
BASELINE_SPREAD_TAIL = 0.1
DRIFT_SCHEMA = "mem_io-timed-drift"
# Fewer runs than this say nothing about how far runs land apart.
DRIFT_MIN_RUNS = 2
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
# From the timed rounds: the harness's minor page faults per measured replay (getrusage of the
# whole process, the warm-up replay left out), one value per round: the fewest of its
# repetitions, the process's steady state (where one replay outlasts the minimum time, Google
# Benchmark reports the first measured run, whose one replay is the first after the warm-up:
# python3_ast_tokenize's faulted 75 times where later ones fault 0). Judged like a counted
# metric, without an interval, on one-thread traces whose baseline rounds agree; lower is better.
FAULTS = Metric("page faults/replay", "minor_faults", False, False, None)
# Page faults per replay that a steady workload may gain beyond its threshold: a fault costs ~12 µs
# here, under 1 % of the shortest shipped replay that has any small blocks (churn, ~2 ms).
FAULTS_FLOOR_PER_REPLAY = 1.0
# From the callgrind runs (results.CALLGRIND records); lower is better.
COUNTED_METRICS = (
    Metric("instructions/op", "instructions_per_op", False, False, None),
    # Instructions plus the simulated cache misses at callgrind's cycle estimate: a change that
    # costs misses but no instructions moves it, one that trades a miss for a few instructions not.
    Metric("est. cycles/op", "estimated_cycles_per_op", False, False, None),
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
    # Timed metrics: how far separate runs of one build landed apart (the drift file; 0 unmeasured).
    drift: Optional[float] = None
    # Timed metrics: False when this run or the baseline has too few rounds for a 95 % interval.
    enough_rounds: bool = True


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


def _timed_state(metric, change, interval, threshold, drift, bytes_at):
    """FAIL: the median past the threshold and the whole interval beyond the drift (memory: and
    more than the floor): a loss that neither the rounds nor the runs' drift explains. PASS: the
    whole interval within the threshold once the drift is allowed for, i.e. the interval's worst end
    within the threshold compounded with the drift (memory: or below the floor). Otherwise
    INCONCLUSIVE."""
    low, high = interval
    if metric.higher_is_better:
        if change < 1 - threshold and high < 1 - drift:
            return FAIL
        return PASS if low >= (1 - threshold) * (1 - drift) else INCONCLUSIVE
    if change > 1 + threshold and low > 1 + drift and bytes_at(change) > MEMORY_FLOOR_BYTES:
        return FAIL
    return PASS if high <= (1 + threshold) * (1 + drift) or bytes_at(high) <= MEMORY_FLOOR_BYTES else INCONCLUSIVE


def evaluate(current, baseline, thresholds, drift=None, threads=1):
    """Timed verdicts for every workload and metric present in both documents. A metric passes
    within its threshold (the default, or the baseline's spread between rounds when larger) even
    where this run and the baseline's session lie its measured drift apart (drift: {workload:
    {metric label: fraction}}, from drift_between_runs), and fails only for a change that neither
    the rounds (the interval) nor the drift between runs explains: an unchanged build measured in
    another of the machine's moods, or landing in the other mode of a bimodal trace, is
    inconclusive at worst, not FAIL."""
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
            moved = (drift or {}).get(workload, {}).get(metric.label, 0.0)

            def bytes_at(ratio, metric=metric, before_median=before_median):
                return _change_in_bytes(current, workload, metric, before_median * (ratio - 1), threads)

            # Below 6 rounds a side no interval reaches 95 %, however narrow a bootstrap of them is.
            enough_rounds = stats.least_coverage(now, before) >= stats.CONFIDENCE
            state = _timed_state(metric, change, interval, threshold, moved, bytes_at) if enough_rounds else INCONCLUSIVE
            verdicts.append(Verdict(workload, metric, before_median, now_median, change, interval, threshold, state,
                                    moved, enough_rounds))
    return verdicts


def drift_between_runs(documents, threads=1):
    """({workload: {metric label: drift}}, {workload: {metric label: [median of each run]}}) over
    separate runs of one build (check or suite results with mem_io and system malloc): a timed
    metric's drift is the spread of its per-run medians (spread(): 1 - min/max for throughput,
    max/min - 1 for memory), for workloads that at least DRIFT_MIN_RUNS runs measured."""
    medians = {}
    for document in documents:
        for workload in results.workloads_in(document):
            for metric in METRICS:
                found = samples(document, workload, metric, threads)
                if found:
                    medians.setdefault(workload, {}).setdefault(metric.label, []).append(stats.median(found))
    drift = {workload: {metric.label: spread(by_metric[metric.label], metric) for metric in METRICS
                        if len(by_metric.get(metric.label, ())) >= DRIFT_MIN_RUNS}
             for workload, by_metric in medians.items()}
    return {w: d for w, d in drift.items() if d}, medians


def write_drift(documents, path):
    """Write the drift file from separate runs of one build; returns its drift table."""
    drift, medians = drift_between_runs(documents)
    if not drift:
        raise UsageError(f"--update-drift needs at least {DRIFT_MIN_RUNS} runs measuring mem_io and system "
                         f"malloc at threads 1; got {len(documents)} that share no such workload")
    runs = [{"created_utc": d.get("created_utc"), "kind": d.get("kind"),
             "rounds": (d.get("options") or {}).get("repetitions"),
             "commit": ((d.get("environment") or {}).get("git") or {}).get("commit")} for d in documents]
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"schema": DRIFT_SCHEMA, "schema_version": 1,
                   "created_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                   "runs": runs, "medians": medians, "drift": drift}, handle, indent=1, sort_keys=True)
        handle.write("\n")
    return drift


def load_drift(path):
    """{workload: {metric label: drift}} from a drift file; UsageError naming what is wrong."""
    document = results.load_json(path, "drift file", DRIFT_SCHEMA, ": make one with check --update-drift")
    drift = document.get("drift")
    labels = {metric.label for metric in METRICS}
    if not isinstance(drift, dict) or not all(
            isinstance(by_metric, dict) and all(label in labels and isinstance(value, (int, float))
                                                and not isinstance(value, bool) and 0 <= value < 1e3
                                                for label, value in by_metric.items())
            for by_metric in drift.values()):
        raise UsageError(f"{path}: a drift file's 'drift' must map workloads to {{metric: fraction >= 0}} "
                         f"with metrics among {', '.join(sorted(labels))}")
    return drift


def counted_values(document, workload, metric):
    return [r[metric.counter] for r in results.callgrind_records(document, workload, CANDIDATE)
            if isinstance(r.get(metric.counter), (int, float))]


def counted_runs(baseline, workload):
    """How many callgrind runs a check makes of `workload`: one where the baseline's runs agree,
    VARYING_COUNTED_RUNS where they do not (one sample of a varying count is too noisy for 1 %)."""
    varies = any(spread(counted_values(baseline, workload, metric), metric) > VARYING_COUNTED_SPREAD
                 for metric in COUNTED_METRICS) if baseline else False
    return VARYING_COUNTED_RUNS if varies else 1


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


def fault_rounds(document, workload, threads):
    """One value per round of the candidate's page faults per replay: the fewest of the round's
    repetitions."""
    run = results.find_run(document, workload, CANDIDATE, threads)
    by_round = results.round_repetitions(run, FAULTS.counter)
    return [min(by_round[r]) for r in sorted(by_round, key=str)]


def evaluate_faults(current, baseline, threshold, threads=1):
    """(verdicts, unjudged): page faults per replay for every one-thread workload whose baseline
    rounds show the same count from their BASELINE_SPREAD_TAIL quantile to the opposite one (on
    the shipped traces 0: mem_io reuses what the warm-up replay faulted in); FAIL when this run's
    median over rounds exceeds the baseline's by more than the threshold and
    FAULTS_FLOOR_PER_REPLAY, else PASS. `unjudged` maps the others to why: a multi-threaded trace's
    replay starts its threads afresh (their stacks fault) and they interleave differently; a
    one-thread trace's rounds can disagree where the decay clock fires at load-dependent points."""
    verdicts, unjudged = [], {}
    for workload in results.workloads_in(current):
        now, before = fault_rounds(current, workload, threads), fault_rounds(baseline, workload, threads)
        if not now or not before:
            continue
        if threads != 1 or results.workload_threads(current, workload) != 1:
            unjudged[workload] = "replayed on several threads"
            continue
        ordered = sorted(before)
        if stats.quantile(ordered, BASELINE_SPREAD_TAIL) != stats.quantile(ordered, 1 - BASELINE_SPREAD_TAIL):
            unjudged[workload] = "the baseline's rounds disagree"
            continue
        now_median, before_value = stats.median(now), stats.median(before)
        change = now_median / before_value if before_value else (1.0 if now_median == 0 else float("inf"))
        allowed = before_value * (1 + threshold) + FAULTS_FLOOR_PER_REPLAY
        verdicts.append(Verdict(workload, FAULTS, before_value, now_median, change, None, threshold,
                                FAIL if now_median > allowed else PASS))
    return verdicts, unjudged


def counted_metrics_missing(current, baseline):
    """Labels of the counted metrics that this run measured and the baseline's callgrind records
    lack (a baseline made before the metric existed): those are not judged."""
    def measured(document):
        return {metric.label for metric in COUNTED_METRICS for record in results.callgrind_records(document)
                if isinstance(record.get(metric.counter), (int, float))}
    return sorted(measured(current) - measured(baseline)) if results.callgrind_records(baseline) else []


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

    header = ["workload", "metric", "baseline", "now", "now ÷ baseline", "95% CI", "threshold", "drift",
              "verdict"]
    rows = [[v.workload, v.metric.label, shown(v.metric, v.baseline), shown(v.metric, v.current),
             f"{v.change:.4f}" if v.interval is None else f"{v.change:.3f}",
             ("rounds' median" if v.metric == FAULTS else "counted") if v.interval is None
             else f"{v.interval[0]:.3f}–{v.interval[1]:.3f}",
             percent(v.metric, v.threshold), "—" if v.drift is None else f"±{v.drift:.{1 if v.drift < 0.1 else 0}%}",
             v.state] for v in verdicts]
    return format_table(header, rows)

"""The pure parts: statistics, the gate's rule, workload selection, reading harness JSON, progress."""
import io
import json
import os
import tempfile
import unittest
from unittest import mock

from runbench import allocators, build, chart_data, compare, gate, harness, report, results, stats, suite, workloads
from runbench.errors import BuildError, UsageError
from runbench.progress import Progress


def document_with(ratios_by_round, fragmentation=1.2, peak=8 << 20, workload="w"):
    """A check-style results document: candidate ops/s = ratio × system's 1e6 ops/s per round."""
    def samples(values):
        return [dict(values(r), round=r) for r in range(len(ratios_by_round))]
    document = {"schema": results.SCHEMA, "schema_version": 1, "runs": [], "failures": []}
    document["runs"].append({"workload": workload, "allocator": "system", "threads": 1, "samples": samples(
        lambda r: {"cpu_ops_per_s": 1e6, "fragmentation": 1.0, "peak_rss_bytes": 4 << 20, "ideal_bytes": 4 << 20})})
    document["runs"].append({"workload": workload, "allocator": "mem_io", "threads": 1, "samples": samples(
        lambda r: {"cpu_ops_per_s": 1e6 * ratios_by_round[r], "fragmentation": fragmentation,
                   "peak_rss_bytes": peak, "ideal_bytes": 4 << 20})})
    return document


THRESHOLDS = {"throughput": 0.25, "fragmentation": 0.10, "peak RSS": 0.10}


class StatsTest(unittest.TestCase):
    def test_median_and_geometric_mean(self):
        self.assertEqual(stats.median([3, 1, 2]), 2)
        self.assertEqual(stats.median([4, 1, 3, 2]), 2.5)
        self.assertAlmostEqual(stats.geometric_mean([1, 4]), 2.0)
        with self.assertRaises(ValueError):
            stats.median([])

    def test_bootstrap_interval_brackets_the_true_ratio(self):
        low, high = stats.bootstrap_ratio_interval([2.0, 2.1, 1.9, 2.05, 1.95], [1.0, 1.02, 0.98, 1.01, 0.99])
        self.assertLess(low, 2.0)
        self.assertGreater(high, 2.0)
        self.assertGreater(low, 1.5)

    def test_median_interval_is_the_order_statistics_that_reach_95_percent(self):
        self.assertEqual(stats.median_interval([5, 1, 4, 2, 6, 3]), (1, 6, 1 - 2 / 64))
        low, high, coverage = stats.median_interval(range(1, 10))
        self.assertEqual((low, high), (2, 8), "one wild round out of 9 cannot set the interval")
        self.assertAlmostEqual(coverage, 1 - 2 * 10 / 512)
        low, high, coverage = stats.median_interval([3, 1, 2])
        self.assertEqual((low, high), (1, 3))
        self.assertEqual(coverage, 0.75)


class GateRuleTest(unittest.TestCase):
    def verdicts(self, current, baseline, drift=0.0):
        """Verdicts by (workload, metric), every timed metric of workload w given `drift` between runs."""
        drifts = {"w": {metric.label: drift for metric in gate.METRICS}}
        return {(v.workload, v.metric.label): v for v in gate.evaluate(current, baseline, THRESHOLDS, drifts)}

    def test_noise_within_threshold_passes(self):
        baseline = document_with([1.5, 1.4, 1.6, 1.5, 1.45, 1.55])
        current = document_with([1.3, 1.7, 1.35, 1.5, 1.25, 1.45])
        self.assertEqual({v.state for v in self.verdicts(current, baseline).values()}, {gate.PASS})

    def test_clear_slowdown_regresses_throughput_only(self):
        verdicts = self.verdicts(document_with([0.7, 0.75, 0.72, 0.69, 0.71, 0.73]),
                                 document_with([1.5, 1.4, 1.6, 1.5, 1.45, 1.55]))
        self.assertEqual(verdicts["w", "throughput"].state, gate.FAIL)
        self.assertEqual(verdicts["w", "peak RSS"].state, gate.PASS)

    def test_fewer_than_six_rounds_give_no_timed_verdict(self):
        halved, baseline = document_with([0.7, 0.75, 0.72, 0.69, 0.71]), document_with([1.5, 1.4, 1.6, 1.5, 1.45])
        for verdict in self.verdicts(halved, baseline).values():
            self.assertEqual(verdict.state, gate.INCONCLUSIVE, verdict.metric.label)
            self.assertFalse(verdict.enough_rounds)
        six = document_with([1.5, 1.4, 1.6, 1.5, 1.45, 1.55])
        self.assertEqual(self.verdicts(halved, six)["w", "throughput"].state, gate.INCONCLUSIVE,
                         "5 rounds now against 6 in the baseline")

    def test_large_change_with_overlapping_noise_is_inconclusive(self):
        # Median falls 30 % but the samples overlap the baseline: the interval includes no change.
        current, baseline = document_with([0.6, 1.6, 0.7, 1.5, 0.7, 0.65]), document_with([1.0, 1.6, 0.9, 1.5, 1.0, 0.95])
        verdicts = self.verdicts(current, baseline)
        self.assertLess(verdicts["w", "throughput"].change, 0.75)
        self.assertEqual(verdicts["w", "throughput"].state, gate.INCONCLUSIVE, "the interval covers the threshold")

    def test_a_run_in_a_bimodal_traces_other_mode_is_inconclusive_not_failed(self):
        # The baseline's rounds show the slow mode once; the unchanged build lands in it more often,
        # as separate runs of this trace did (their medians 0.43-1.0 of each other: drift 57 %).
        baseline = document_with([5.1, 5.0, 5.2, 0.36, 5.1, 5.0, 4.9, 5.1])
        current = document_with([1.2, 1.3, 5.0, 1.1, 1.4, 1.2, 5.1, 1.3])
        throughput = self.verdicts(current, baseline, drift=0.57)["w", "throughput"]
        self.assertLess(throughput.change, 0.3)
        self.assertEqual(throughput.state, gate.INCONCLUSIVE)
        self.assertEqual(self.verdicts(current, baseline)["w", "throughput"].state, gate.FAIL,
                         "without the drift between runs the same figures fail")

    def test_drift_between_runs_lets_an_unchanged_build_pass_and_still_fails_a_larger_loss(self):
        # Rounds around 0.80 of the baseline: the machine's other mood, as separate runs of the
        # fragmentation trace showed (medians 0.75-1.0 of each other).
        baseline = document_with([15.6, 15.2, 16.0, 15.7, 15.4, 15.9, 15.5, 15.8])
        other_mood = document_with([11.0, 13.8, 11.6, 13.2, 12.0, 13.5, 11.4, 12.9])
        self.assertEqual(self.verdicts(other_mood, baseline)["w", "throughput"].state, gate.INCONCLUSIVE)
        self.assertEqual(self.verdicts(other_mood, baseline, drift=0.25)["w", "throughput"].state, gate.PASS)
        slower = document_with([10.4, 10.9, 10.1, 10.7, 10.5, 11.0, 10.2, 10.6])  # 0.67x
        self.assertEqual(self.verdicts(slower, baseline, drift=0.25)["w", "throughput"].state, gate.FAIL,
                         "past the threshold, and the whole interval beyond the drift")
        self.assertNotEqual(self.verdicts(slower, baseline, drift=0.4)["w", "throughput"].state, gate.FAIL,
                            "a loss within the drift between runs is no FAIL")

    def test_a_loaded_run_with_a_measured_drift_is_inconclusive_and_a_halving_still_fails(self):
        baseline = document_with([1.5, 1.4, 1.6, 1.5, 1.45, 1.55])
        unchanged_under_load = self.verdicts(document_with([0.5, 1.5, 0.9, 1.4, 0.8, 1.0]), baseline,
                                             drift=0.3)["w", "throughput"]
        self.assertEqual(unchanged_under_load.state, gate.INCONCLUSIVE, "its rounds span 3x")
        halved_under_load = self.verdicts(document_with([0.75, 0.6, 0.8, 0.7, 0.55, 0.78]), baseline,
                                          drift=0.3)["w", "throughput"]
        self.assertEqual(halved_under_load.state, gate.FAIL, "2x slower: beyond the rounds and the drift")

    def test_memory_fails_only_beyond_threshold_and_drift(self):
        ratios = [1.0] * 6
        grown, before = document_with(ratios, peak=16 << 20), document_with(ratios, peak=12 << 20)
        self.assertEqual(self.verdicts(grown, before, drift=0.4)["w", "peak RSS"].state, gate.PASS,
                         "+33 %: within 10 % compounded with a drift of 40 %")
        self.assertEqual(self.verdicts(grown, before, drift=0.2)["w", "peak RSS"].state, gate.FAIL,
                         "+33 %: past 10 % and beyond a drift of 20 %")

    def test_drift_between_runs_is_the_spread_of_their_medians(self):
        runs = [document_with([1.0, 1.1, 0.9], peak=10 << 20), document_with([0.8, 0.7, 0.9], peak=11 << 20),
                document_with([0.95] * 3, peak=10 << 20), document_with([0.9] * 3, workload="only-once")]
        drift, medians = gate.drift_between_runs(runs)
        self.assertEqual(medians["w"]["throughput"], [1.0, 0.8, 0.95])
        self.assertAlmostEqual(drift["w"]["throughput"], 0.2, msg="1 - 0.8 / 1.0")
        self.assertAlmostEqual(drift["w"]["peak RSS"], 0.1, msg="11 MiB / 10 MiB - 1")
        self.assertEqual(drift["w"]["fragmentation"], 0.0)
        self.assertNotIn("only-once", drift, "one run says nothing about drift")

    def test_drift_file_round_trip_and_refusals(self):
        with tempfile.TemporaryDirectory() as scratch:
            path = os.path.join(scratch, "drift.json")
            written = gate.write_drift([document_with([1.0] * 3), document_with([0.8] * 3)], path)
            self.assertEqual(gate.load_drift(path), written)
            with self.assertRaisesRegex(UsageError, "at least 2 runs"):
                gate.write_drift([document_with([1.0] * 3)], path)
            for content, message in (("{", "drift file is not valid JSON"),
                                     ('{"schema": "other"}', "not a drift file .* make one with check --update-drift"),
                                     (json.dumps({"schema": gate.DRIFT_SCHEMA, "drift": {"w": {"throughput": -1}}}),
                                      "fraction >= 0"),
                                     (json.dumps({"schema": gate.DRIFT_SCHEMA, "drift": {"w": {"speed": 0.1}}}),
                                      "metrics among")):
                with open(path, "w", encoding="utf-8") as handle:
                    handle.write(content)
                with self.assertRaisesRegex(UsageError, message):
                    gate.load_drift(path)
            with self.assertRaisesRegex(UsageError, "absent.json: no such drift file"):
                gate.load_drift(os.path.join(scratch, "absent.json"))
            with self.assertRaisesRegex(UsageError, ": is a directory, not a drift file"):
                gate.load_drift(scratch)

    def test_memory_growth_regresses_but_page_noise_does_not(self):
        ratios = [1.0] * 6
        grown = self.verdicts(document_with(ratios, fragmentation=2.0, peak=16 << 20), document_with(ratios))
        self.assertEqual(grown["w", "fragmentation"].state, gate.FAIL)
        self.assertEqual(grown["w", "peak RSS"].state, gate.FAIL)
        small = self.verdicts(document_with(ratios, fragmentation=1.4, peak=(2 << 20) + 900 * 1024),
                              document_with(ratios, peak=2 << 20))
        self.assertEqual(small["w", "peak RSS"].state, gate.PASS, "900 KiB is below the absolute floor")
        self.assertEqual(small["w", "fragmentation"].state, gate.PASS, "0.2 × 4 MiB ideal is below the floor")

    def test_counted_growth_past_the_threshold_fails(self):
        def counted(*per_op, os_bytes=4 << 20):
            return {"callgrind": [{"workload": "w", "allocator": "mem_io", "instructions_per_op": value,
                                   "peak_os_bytes": os_bytes} for value in per_op]}
        def states(current, baseline):
            return {v.metric.label: v.state for v in gate.evaluate_counted(current, baseline, 0.01)}
        self.assertEqual(states(counted(40.0), counted(40.0, 40.0)), {"instructions/op": gate.PASS,
                                                                      "peak OS bytes": gate.PASS})
        self.assertEqual(states(counted(40.6), counted(40.0))["instructions/op"], gate.FAIL, "+1.5 %")
        self.assertEqual(states(counted(40.0, os_bytes=5 << 20), counted(40.0))["peak OS bytes"], gate.FAIL)
        self.assertEqual(states(counted(40.0, os_bytes=(1 << 20) + (2 << 16)), counted(40.0, os_bytes=1 << 20))[
            "peak OS bytes"], gate.PASS, "two 64 KiB pages are below the floor")
        # A baseline whose runs spread by 3 % (multi-threaded) widens its threshold to 2 × 3 %
        # around its median, 101.5.
        self.assertEqual(states(counted(104.0), counted(100.0, 103.0))["instructions/op"], gate.PASS)
        self.assertEqual(states(counted(108.0), counted(100.0, 103.0))["instructions/op"], gate.FAIL)

    def test_cache_misses_without_instructions_fail_and_an_older_baseline_is_not_judged_on_them(self):
        def counted(cycles_per_op):
            record = {"workload": "w", "allocator": "mem_io", "instructions_per_op": 40.0, "peak_os_bytes": 4 << 20}
            if cycles_per_op is not None:
                record["estimated_cycles_per_op"] = cycles_per_op
            return {"callgrind": [record]}
        def states(current, baseline):
            return {v.metric.label: v.state for v in gate.evaluate_counted(current, baseline, 0.01)}
        self.assertEqual(states(counted(48.0), counted(46.0)), {"instructions/op": gate.PASS,
                                                                "est. cycles/op": gate.FAIL,
                                                                "peak OS bytes": gate.PASS})
        self.assertEqual(states(counted(46.4), counted(46.0))["est. cycles/op"], gate.PASS, "+0.9 %")
        older = counted(None)
        self.assertNotIn("est. cycles/op", states(counted(48.0), older))
        self.assertEqual(gate.counted_metrics_missing(counted(48.0), older), ["est. cycles/op"])
        self.assertEqual(gate.counted_metrics_missing(counted(48.0), counted(46.0)), [])
        self.assertEqual(gate.counted_metrics_missing(counted(48.0), {}), [], "no counts at all: noted elsewhere")

    def test_page_faults_fail_on_steady_one_thread_workloads_and_the_others_are_named(self):
        def faults(threaded=(), **per_workload):
            """Each round two repetitions: the given value, and the same again (or first-run faults above it)."""
            return {"workloads": [{"name": w, "threads": 3 if w in threaded else 1} for w in per_workload],
                    "runs": [{"workload": w, "allocator": "mem_io", "threads": 1,
                              "samples": [{"round": r, "minor_faults": value + extra}
                                          for r, value in enumerate(rounds) for extra in (0.0, 75.0)]}
                             for w, rounds in per_workload.items()]}
        verdicts, unjudged = gate.evaluate_faults(
            faults(steady=[0.0, 0.0, 3.0, 0.0], faulting=[900.0, 880.0, 910.0], decaying=[12.0], rare=[0.0],
                   threads=[40.0], threaded=("threads",)),
            faults(steady=[0.0] * 6, faulting=[0.0] * 6, decaying=[0.0, 0.0, 6.6, 0.0, 3.3, 0.0],
                   rare=[0.0] * 11 + [1.5], threads=[5.0] * 6, threaded=("threads",)), 0.01)
        self.assertEqual({v.workload: v.state for v in verdicts},
                         {"steady": gate.PASS, "faulting": gate.FAIL, "rare": gate.PASS},
                         "one round in 12 past the 90th percentile leaves a workload steady; a round's first-run "
                         "faults (the 75) do not count")
        self.assertEqual(unjudged, {"decaying": "the baseline's rounds disagree",
                                    "threads": "replayed on several threads"})
        verdicts, _ = gate.evaluate_faults(faults(w=[5.0, 6.5, 6.5]), faults(w=[5.0, 5.0]), 0.01)
        self.assertEqual(verdicts[0].state, gate.FAIL, "1.5 faults more per replay is past 1 % and the floor")
        verdicts, _ = gate.evaluate_faults(faults(w=[5.0, 5.9, 5.9]), faults(w=[5.0, 5.0]), 0.01)
        self.assertEqual(verdicts[0].state, gate.PASS)

    def test_a_check_counts_a_varying_workload_as_often_as_its_median_needs(self):
        def counted(*per_op):
            return {"callgrind": [{"workload": "w", "allocator": "mem_io", "instructions_per_op": value,
                                   "peak_os_bytes": 4 << 20} for value in per_op]}
        self.assertEqual(gate.counted_runs(counted(40.0, 40.0, 40.0), "w"), 1)
        self.assertEqual(gate.counted_runs(counted(218.3, 219.2, 218.9), "w"), gate.VARYING_COUNTED_RUNS)
        self.assertEqual(gate.counted_runs(None, "w"), 1, "no baseline: nothing to compare against")

    def test_exit_status_is_three_valued(self):
        def verdict(state):
            return gate.Verdict("w", gate.METRICS[0], 1.0, 1.0, 1.0, (0.9, 1.1), 0.25, state)
        self.assertEqual(gate.exit_status([verdict(gate.PASS)], []), 0)
        self.assertEqual(gate.exit_status([verdict(gate.PASS), verdict(gate.INCONCLUSIVE)], []), 4)
        self.assertEqual(gate.exit_status([verdict(gate.INCONCLUSIVE), verdict(gate.FAIL)], []), 1)
        self.assertEqual(gate.exit_status([verdict(gate.PASS)], ["churn under callgrind"]), 1)

    def test_throughput_is_paired_by_round_using_each_rounds_median(self):
        document = document_with([2.0, 3.0])
        document["runs"][0]["samples"][1]["cpu_ops_per_s"] = 3e6  # system sped up in round 1 only
        # A second and third repetition in round 0, one of them hit by a burst of load.
        document["runs"][1]["samples"] += [{"round": 0, "cpu_ops_per_s": 2e6}, {"round": 0, "cpu_ops_per_s": 0.1e6}]
        self.assertEqual(gate.samples(document, "w", gate.METRICS[0], 1), [2.0, 1.0])

    def test_report_throughput_is_paired_by_round_too(self):
        document = document_with([2.0, 3.0])
        document["runs"][0]["samples"][1]["cpu_ops_per_s"] = 3e6  # system sped up in round 1 only
        # unpaired (each round over system's median of 2e6) it would read 1.25 x
        found = results.relative(document, "w", "mem_io", 1, "cpu_ops_per_s")
        self.assertEqual((found.value, found.low, found.high), (1.5, 1.0, 2.0))
        self.assertIsNone(results.relative(document, "w", "jemalloc", 1, "cpu_ops_per_s"))

    def test_one_thread_replays_are_judged_on_cpu_time_multi_threaded_ones_on_wall_time(self):
        document = document_with([2.0] * 6)
        for run in document["runs"]:  # wall time says the opposite of CPU time
            for sample in run["samples"]:
                sample["ops_per_s"] = 1e6 if run["allocator"] == "mem_io" else 2e6
        document["workloads"] = [{"name": "w", "path": "w.trace", "threads": 1}]
        self.assertEqual(results.judged_throughput(document, "w", 1), results.CPU_THROUGHPUT)
        self.assertEqual(results.relative(document, "w", "mem_io", 1).value, 2.0)
        title, header, rows = report.summary_tables(document)[1]
        self.assertIn("time judged: CPU time)", title)
        self.assertEqual((header[-1], rows[0][-1]), ("time judged", "CPU"))
        for unknown_or_threaded in ({"name": "w", "path": "w.trace", "threads": 3}, {"name": "w", "path": "w.trace"}):
            document["workloads"] = [unknown_or_threaded]
            self.assertEqual(results.judged_throughput(document, "w", 1), results.THROUGHPUT)
            self.assertEqual(results.relative(document, "w", "mem_io", 1).value, 0.5)
            self.assertEqual(report.summary_tables(document)[1][2][0][-1], "wall")
        document["workloads"] = [{"name": "w", "path": "w.trace", "threads": 1}]
        self.assertEqual(results.judged_throughput(document, "w", 2), results.THROUGHPUT, "two copies: two threads")

    def test_titles_name_the_time_that_is_judged(self):
        document = document_with([2.0] * 6)
        document["workloads"] = [{"name": "w", "path": "w.trace"}]  # as a stress run: no thread count
        title = report.standing_table(document)[0]
        self.assertIn("(wall time)", title)
        self.assertNotIn("CPU time", title)
        document["workloads"] = [{"name": "w", "path": "w.trace", "threads": 1}]
        self.assertIn("(CPU time)", report.standing_table(document)[0])
        document["runs"] += [dict(run, threads=2) for run in document["runs"]]
        self.assertIn("CPU time of one-thread replays, wall time of multi-threaded ones",
                      report.standing_table(document)[0])
        self.assertIn("wall time) ", report.summary_tables(document)[-3][0], "the threads=2 table")

    def test_an_interval_spanning_one_is_a_tie_not_a_winner(self):
        def verdict(ratios):
            return results.relative(document_with(ratios), "w", "mem_io", 1, "cpu_ops_per_s").verdict
        self.assertEqual(verdict([1.3, 1.4, 1.2, 1.35, 1.25, 1.3]), stats.SEPARATED_HIGHER)
        self.assertEqual(verdict([0.7, 0.8, 0.75, 0.72, 0.78, 0.74]), stats.SEPARATED_LOWER)
        tie = results.relative(document_with([1.5, 0.8, 1.3, 0.9, 1.2, 1.4]), "w", "mem_io", 1, "cpu_ops_per_s")
        self.assertEqual(tie.verdict, stats.NOT_SEPARATED)
        self.assertTrue(report.ratio_cell(tie).startswith("tie ("), report.ratio_cell(tie))

    def test_too_few_rounds_or_an_effect_inside_the_margin_is_a_tie(self):
        three = results.relative(document_with([1.3, 1.4, 1.2]), "w", "mem_io", 1, "cpu_ops_per_s")
        self.assertEqual((three.low, three.high, three.verdict), (1.2, 1.4, stats.NOT_SEPARATED),
                         "3 rounds all above 1 happen 1 time in 4 by chance")
        small = results.relative(document_with([1.03, 1.04, 1.02, 1.03, 1.035, 1.04]), "w", "mem_io", 1,
                                 "cpu_ops_per_s")
        self.assertGreater(small.low, 1.0)
        self.assertEqual(small.verdict, stats.NOT_SEPARATED, "within the separation margin")

    def test_the_margin_is_the_reference_allocators_own_gap_between_rounds(self):
        # system malloc lands 1x, 2x, 1x, 2x … apart between rounds (median gap between two rounds 2x);
        # mem_io is 1.5x it in every round: clearly above 1, but less than system differs from itself.
        document = document_with([1.5] * 6)
        for sample, scale in zip(document["runs"][0]["samples"], (1, 2, 1, 2, 1, 2)):
            sample["cpu_ops_per_s"] *= scale
        for sample, scale in zip(document["runs"][1]["samples"], (1, 2, 1, 2, 1, 2)):
            sample["cpu_ops_per_s"] *= scale
        found = results.relative(document, "w", "mem_io", 1, "cpu_ops_per_s")
        self.assertEqual((found.low, found.high), (1.5, 1.5))
        self.assertAlmostEqual(stats.round_gap([1, 2, 1, 2, 1, 2]), 1.0)
        self.assertAlmostEqual(found.margin, 1.0)
        self.assertEqual(found.verdict, stats.NOT_SEPARATED)
        self.assertEqual(results.relative(document_with([1.5] * 6), "w", "mem_io", 1, "cpu_ops_per_s").verdict,
                         stats.SEPARATED_HIGHER, "the same ratio over a steady system malloc")

    def test_one_slow_repetition_cannot_decide_a_round(self):
        # Round 0's mem_io process measured three repetitions, one descheduled (20x slower).
        document = document_with([1.2, 1.25])
        document["runs"][1]["samples"] += [{"round": 0, "cpu_ops_per_s": 1.2e6}, {"round": 0, "cpu_ops_per_s": 0.06e6}]
        document["runs"][0]["samples"] += [{"round": 0, "cpu_ops_per_s": 1e6}, {"round": 0, "cpu_ops_per_s": 1e6}]
        found = results.relative(document, "w", "mem_io", 1, "cpu_ops_per_s")
        self.assertAlmostEqual(found.value, 1.225)
        self.assertGreater(found.high, 1.2)

    def test_standing_is_computed_from_the_throughput_tables_ratios(self):
        def run(workload, allocator, times, rss):
            return {"workload": workload, "allocator": allocator, "threads": 1,
                    "samples": [{"round": r, "ops_per_s": 1e9 / t, "peak_rss_bytes": rss} for r, t in enumerate(times)]}
        document = {"runs": [run("w", "system", [10, 40, 20], 100), run("w", "mem_io", [5, 20, 10], 110),
                             run("w", "jemalloc", [4, 40, 10], 120), run("v", "system", [10, 10, 10], 100),
                             run("v", "mem_io", [40, 40, 40], 90)], "allocators": []}
        standing = results.standing(document)
        time, rss, worst, counted = standing["mem_io"]
        self.assertAlmostEqual(time.value, (0.5 * 4.0) ** 0.5)   # w: 0.5 in every round; v: 4
        self.assertEqual(counted, (2, 2))
        self.assertAlmostEqual(rss.value, (1.1 * 0.9) ** 0.5)
        self.assertAlmostEqual(worst[0].value, 4.0)
        self.assertEqual(worst[1:], ("v/1", "system"))
        # jemalloc's throughput ÷ system's: 2.5, 1, 2 (median 2); mem_io's: 2 in every round; so in the
        # Standing jemalloc is 2 ÷ 2 = 1 x mem_io's time on w, exactly what the two table cells say.
        jemalloc_worst = standing["jemalloc"][2]
        cells = [results.relative(document, "w", name, 1).value for name in ("mem_io", "jemalloc")]
        self.assertAlmostEqual(jemalloc_worst[0].value, cells[0] / cells[1])
        self.assertEqual(jemalloc_worst[1:], ("w/1", "mem_io"))
        self.assertEqual(jemalloc_worst[0].verdict, stats.NOT_SEPARATED)
        self.assertEqual(standing["jemalloc"][3], (1, 1), "jemalloc never ran v")

    def test_a_geometric_mean_over_fewer_cases_says_so(self):
        document = document_with([1.5] * 6)
        document["runs"] += document_with([2.0] * 6, workload="v")["runs"][:1]  # v: mem_io's runs failed
        document["allocators"] = [{"name": "mem_io"}, {"name": "system"}]
        document["workloads"] = [{"name": "w", "threads": 1}, {"name": "v", "threads": 1}]
        tables = {title.split(" ")[0]: rows for title, _, rows in report.summary_tables(document)}
        self.assertEqual(tables["Standing"][0][1:3], ["0.667× (0.667–0.667) over 1 of 2",
                                                      "2.000× (2.000–2.000) over 1 of 2"])
        self.assertEqual(tables["Throughput"][-1][1:3], ["1.50× (1.50–1.50) over 1 of 2", "1"])
        self.assertEqual(tables["Fragmentation"][-1][1:], ["1.20 over 1 of 2", "1.00"])
        self.assertEqual(tables["Peak"][-1][1:], ["8.0 over 1 of 2", "4.0"])

    def test_cpu_throughput_is_derived_from_the_harness_counter(self):
        handle = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump({"benchmarks": [{"name": "replay/w/x", "real_time": 1, "cpu_ns_per_op": 50.0}]}, handle)
        handle.close()
        self.addCleanup(os.unlink, handle.name)
        _, samples = harness.parse_benchmark_json(handle.name, "job")
        self.assertEqual(samples[0]["cpu_ops_per_s"], 2e7)


class CompareWarningsTest(unittest.TestCase):
    @staticmethod
    def run_document(quick=False, threads=(1, 2), cpu="CPU A", commit="abc", dirty=False, touch="pages"):
        return {"options": {"quick": quick, "repetitions": 3, "threads": list(threads), "min_time_s": 0.2},
                "environment": {"cpu_model": cpu, "cores": 2, "kernel": "Linux 6.1", "glibc": "glibc 2.36",
                                "git": {"commit": commit, "dirty": dirty}, "harness_context": {"touch": touch},
                                "allocators": {"jemalloc": {"version": "5.3.0-1"}}},
                "runs": [], "failures": []}

    def test_identical_runs_raise_no_warning(self):
        self.assertEqual(compare.differences(self.run_document(), self.run_document()), [])

    def test_each_difference_is_one_line(self):
        before = self.run_document()
        after = self.run_document(quick=True, threads=(1,), cpu="CPU B", commit="def", touch="full")
        after["environment"]["allocators"]["jemalloc"]["version"] = "5.3.0-2"
        lines = compare.differences(before, after)
        for expected in ("options: quick: A False, B True", "options: thread counts: A 1,2, B 1",
                         "options: touch policy: A pages, B full", "machine: CPU: A CPU A, B CPU B",
                         "harness code may differ: A at abc, B at def", "jemalloc: A 5.3.0-1, B 5.3.0-2"):
            self.assertEqual(sum(expected in line for line in lines), 1, (expected, lines))
        self.assertEqual(len(lines), 6, lines)
        self.assertTrue(all(line.startswith("warning: ") for line in lines))

    def test_uncommitted_changes_are_a_warning_even_at_one_commit(self):
        lines = compare.differences(self.run_document(), self.run_document(dirty=True))
        self.assertEqual(len(lines), 1)
        self.assertIn("uncommitted changes", lines[0])


class CompareRowsTest(unittest.TestCase):
    @staticmethod
    def run_of(ops_per_round, repetitions=3):
        """System malloc's run: ops/s per round, repeated (±0.1 %) within each round's process."""
        samples = [{"round": r, "ops_per_s": ops * (1 + 0.001 * k), "peak_rss_bytes": 8 << 20}
                   for r, ops in enumerate(ops_per_round) for k in range(repetitions)]
        return {"runs": [{"workload": "w", "allocator": "system", "threads": 1, "samples": samples}]}

    def test_a_change_rests_on_rounds_not_on_repetitions(self):
        # 2 rounds × 3 repetitions: 6 values a side, but 2 independent processes.
        row = compare.comparison_rows(self.run_of([1e6, 1.01e6]), self.run_of([2e6, 2.02e6]))[0]
        self.assertAlmostEqual(row[3].value, 2.0, places=2)
        self.assertLess(row[3].confidence, stats.CONFIDENCE)
        self.assertEqual(row[3].verdict, stats.NOT_SEPARATED)
        self.assertTrue(report.ratio_cell(row[3]).startswith("tie"))
        row = compare.comparison_rows(self.run_of([1e6, 1.01e6] * 3), self.run_of([2e6, 2.02e6] * 3))[0]
        self.assertEqual(row[3].verdict, stats.SEPARATED_HIGHER)
        self.assertEqual(row[6].verdict, stats.NOT_SEPARATED, "peak RSS unchanged")


class VerdictAgreementTest(unittest.TestCase):
    @staticmethod
    def suite_with(ratios_by_workload):
        """mem_io's ops/s = ratio × system's 1e6 in each round, per workload."""
        runs = []
        for workload, ratios in ratios_by_workload.items():
            for allocator, scale in (("system", [1.0] * len(ratios)), ("mem_io", ratios)):
                runs.append({"workload": workload, "allocator": allocator, "threads": 1,
                             "samples": [{"round": r, "ops_per_s": 1e6 * x} for r, x in enumerate(scale)]})
        return {"runs": runs, "allocators": []}

    def test_outcomes_are_counted_and_reversals_named(self):
        full = self.suite_with({"a": [2.0, 2.1, 2.2] * 2, "b": [0.5, 0.6, 0.55] * 2, "c": [0.9, 1.1, 1.0] * 2,
                                "d": [2, 2, 2] * 2})
        quick = self.suite_with({"a": [1.8, 2.0, 1.9] * 2, "b": [1.5, 1.6, 1.7] * 2, "c": [1.2, 1.3, 1.4] * 2,
                                 "d": [0.8, 1.3, 1] * 2})
        counts, reversed_keys = compare.verdict_agreement(full, quick)
        self.assertEqual(counts, {"same verdict": 1, "reversed": 1, "tie in A only": 1, "tie in B only": 1})
        self.assertEqual(reversed_keys, [("b", "mem_io", 1)])


class SeedTest(unittest.TestCase):
    def test_a_given_seed_is_kept_and_a_missing_one_drawn_from_the_clock(self):
        self.assertEqual(suite.chosen_seed(0), 0)
        self.assertEqual(suite.chosen_seed(7), 7)
        drawn = suite.chosen_seed(None)
        self.assertIsInstance(drawn, int)
        self.assertTrue(0 <= drawn < 2 ** 32, drawn)


class WorkloadSelectionTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.TemporaryDirectory()
        self.addCleanup(self.root.cleanup)
        os.makedirs(os.path.join(self.root.name, "workloads", "synthetic"))
        for name in ("churn", "larson", "larson_big"):
            open(os.path.join(self.root.name, "workloads", "synthetic", f"{name}.trace.gz"), "w").close()

    def names(self, specs):
        return [w.name for w in workloads.select(specs, self.root.name)]

    def test_default_is_every_shipped_trace_and_globs_match_names(self):
        self.assertEqual(self.names(None), ["churn", "larson", "larson_big"])
        self.assertEqual(self.names(["larson*"]), ["larson", "larson_big"])
        self.assertEqual(self.names(["churn", "churn"]), ["churn"])

    def test_user_file_and_errors(self):
        path = os.path.join(self.root.name, "mine.trace")
        open(path, "w").close()
        self.assertEqual(self.names([path]), ["mine"])
        with self.assertRaisesRegex(UsageError, "no shipped workload matches"):
            self.names(["nothing"])
        with self.assertRaisesRegex(UsageError, "does not exist"):
            self.names([os.path.join(self.root.name, "gone.trace.gz")])
        clash = os.path.join(self.root.name, "churn.trace")
        open(clash, "w").close()
        with self.assertRaisesRegex(UsageError, "share the workload name 'churn'"):
            self.names(["churn", clash])


class HarnessJsonTest(unittest.TestCase):
    def write(self, document):
        handle = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump(document, handle)
        handle.close()
        self.addCleanup(os.unlink, handle.name)
        return handle.name

    def test_iterations_kept_aggregates_dropped_units_converted(self):
        path = self.write({"context": {"label": "x"}, "benchmarks": [
            {"name": "replay/w/x/manual_time", "run_type": "iteration", "repetition_index": 0, "iterations": 3,
             "real_time": 2.5, "time_unit": "ms", "ops_per_s": 1e6, "threads": 1},
            {"name": "replay/w/x/manual_time_mean", "run_type": "aggregate", "ops_per_s": 1e6}]})
        context, samples = harness.parse_benchmark_json(path, "job")
        self.assertEqual(context, {"label": "x"})
        self.assertEqual(len(samples), 1)
        self.assertEqual(samples[0]["real_time_ns"], 2.5e6)
        self.assertEqual(samples[0]["ops_per_s"], 1e6)

    def test_trace_threads_from_the_check_line(self):
        self.assertEqual(harness.trace_threads("t.trace.gz: ok: 67200 ops, 4 threads, ideal 437984 bytes, 67203 lines"), 4)
        self.assertEqual(harness.trace_threads("t.trace.gz: ok: 200000 ops, 1 threads, ideal 298968 bytes"), 1)
        self.assertIsNone(harness.trace_threads("something else"))

    def test_not_benchmark_json_is_a_harness_error(self):
        with self.assertRaisesRegex(harness.HarnessError, "not Google Benchmark JSON"):
            harness.parse_benchmark_json(self.write([1, 2]), "job")


class HarnessContextTest(unittest.TestCase):
    def test_results_keep_only_the_context_that_holds_for_every_job(self):
        document = results.new_document("suite", {}, {}, [], [])
        for allocator, preload in (("jemalloc", "libjemalloc.so.2"), ("system", "")):
            context = {"host_name": "vm", "num_cpus": 2, "caches": [{"level": 1, "size": 49152}], "touch": "pages",
                       "library_build_type": "debug", "allocator": "system", "label": allocator,
                       "ld_preload": preload, "malloc_library": preload, "date": "today", "load_avg": [1.0]}
            job = mock.Mock(key=("w", allocator, 1))
            results.add_output(document, job, harness.JobOutput([{"ops_per_s": 1.0}], context), 0)
        self.assertEqual(document["environment"]["harness_context"],
                         {"host_name": "vm", "num_cpus": 2, "caches": [{"level": 1, "size": 49152}],
                          "touch": "pages", "benchmark_library_build_type": "debug"})


class PackageTest(unittest.TestCase):
    def test_missing_package_without_root_prints_the_apt_line(self):
        with mock.patch("os.geteuid", return_value=1000):
            with self.assertRaisesRegex(BuildError, r"apt-get install -y runbench-no-such-package\b"):
                build.ensure_packages(("runbench-no-such-package", "libc6"))

    def test_installed_packages_need_nothing(self):
        self.assertEqual(build.missing_packages(("libc6",)), [])

    def test_package_list_holds_the_build_tools_and_every_peer_allocator(self):
        needed = build.required_packages()
        self.assertIn("cmake", needed)
        self.assertIn("libbenchmark-dev", needed)
        for name in allocators.DEFAULT_ALLOCATORS:
            package = allocators.resolve(name, "build").package
            if package and package != "libc6":
                self.assertIn(package, needed, name)


class AptLockTest(unittest.TestCase):
    """run_apt waits while another package manager holds the lock, then runs; a fake apt-get on
    PATH stands in for the real one (locked for its first `locked_runs` runs)."""

    def fake_apt(self, locked_runs, other_failure=False):
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        counter = os.path.join(folder.name, "runs")
        failure = ('echo "E: Unable to locate package nothing" >&2; exit 100' if other_failure else
                   'echo "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 42 (apt-get)" >&2; '
                   'exit 100')
        with open(os.path.join(folder.name, "apt-get"), "w", encoding="utf-8") as script:
            script.write(f"#!/bin/sh\necho x >> {counter}\n"
                         f"if [ $(wc -l < {counter}) -le {locked_runs} ]; then {failure}; fi\nexit 0\n")
        os.chmod(os.path.join(folder.name, "apt-get"), 0o755)
        path = mock.patch.dict(os.environ, PATH=folder.name + os.pathsep + os.environ["PATH"])
        path.start()
        self.addCleanup(path.stop)
        return counter

    def runs(self, counter):
        with open(counter, encoding="utf-8") as handle:
            return len(handle.readlines())

    def test_waits_for_the_lock_with_a_message_then_runs(self):
        counter = self.fake_apt(locked_runs=2)
        log = io.StringIO()
        self.assertIsNone(build.run_apt(["apt-get", "update"], log, wait_s=60, poll_s=0.01))
        self.assertEqual(self.runs(counter), 3)
        self.assertEqual(log.getvalue().count("waiting for it (up to 60 s)"), 1)
        self.assertIn("held by process 42", log.getvalue())

    def test_gives_up_after_the_time_limit(self):
        self.fake_apt(locked_runs=10 ** 6)
        failure = build.run_apt(["apt-get", "update"], io.StringIO(), wait_s=0.05, poll_s=0.01)
        self.assertEqual(failure, "the package manager's lock was still held after 0.05 s")

    def test_other_failures_are_not_retried(self):
        counter = self.fake_apt(locked_runs=1, other_failure=True)
        log = io.StringIO()
        self.assertEqual(build.run_apt(["apt-get", "install", "nothing"], log, wait_s=60, poll_s=0.01),
                         "exit status 100")
        self.assertEqual(self.runs(counter), 1)
        self.assertIn("Unable to locate package", log.getvalue())


class ChartDataTest(unittest.TestCase):
    """A results document as plots' plain chart descriptions (plots/tests draws them)."""

    def test_every_chart_of_a_run_in_order(self):
        document = document_with([1.0, 2.0])
        document["runs"].append(dict(document["runs"][1], threads=2))
        stems = [chart["stem"] for chart in chart_data.charts(document)]
        self.assertEqual(stems, ["throughput_threads1", "throughput_threads2", "cpu_throughput", "fragmentation",
                                 "peak_rss", "scaling", "timeline_w", *(f"latency_{op}" for op in chart_data.LATENCY_OPS)])

    def test_bars_are_ratios_to_system_malloc_and_medians_with_their_range(self):
        document = document_with([1.5, 2.0, 2.5] * 2, peak=6 << 20)  # 6 rounds: the fewest that separate
        charts = {chart["stem"]: chart for chart in chart_data.charts(document)}
        cpu = charts["cpu_throughput"]["series"]
        self.assertEqual(cpu["system"], {"w": (1.0, 1.0, 1.0)})
        value, low, high, tie = cpu["mem_io"]["w"]
        self.assertAlmostEqual(value, 2.0)
        self.assertLessEqual(low, value)
        self.assertGreaterEqual(high, value)
        self.assertFalse(tie)
        self.assertEqual(charts["peak_rss"]["series"]["mem_io"], {"w": (6.0, 6.0, 6.0)})
        self.assertEqual(charts["throughput_threads1"]["series"]["mem_io"], {})  # no ops_per_s in these samples

    def test_timeline_subtracts_the_baseline_and_takes_live_bytes_from_the_best_sampled_run(self):
        def timeline(samples, baseline):
            return {"t_ms": list(range(samples)), "rss_bytes": [baseline + (1 << 20)] * samples,
                    "baseline_rss_bytes": baseline, "live_bytes": [1 << 19] * samples, "interval_ms": 1}
        document = {"runs": [{"workload": "w", "allocator": name, "threads": 1, "samples": [], "timeline": line}
                             for name, line in (("mem_io", timeline(4, 1 << 20)), ("system", timeline(50, 0)),
                                                ("jemalloc", None))]}
        chart = chart_data.charts(document)[4]
        self.assertEqual(chart["stem"], "timeline_w")
        self.assertEqual(set(chart["series"]), {"mem_io", "system"})
        self.assertEqual(chart["series"]["mem_io"]["mib"], [1.0] * 4)
        self.assertEqual(chart["live"]["mib"], [0.5] * 50)


class ProgressTest(unittest.TestCase):
    def test_plain_output_every_tenth_with_eta(self):
        now = [0.0]
        stream = io.StringIO()
        progress = Progress(20, stream=stream, clock=lambda: now[0])
        for step in range(20):
            now[0] += 1.0
            progress.step(f"job{step}")
        lines = stream.getvalue().splitlines()
        self.assertEqual(len(lines), 11)
        self.assertIn("10/20", lines[5])
        self.assertIn("ETA 0:10", lines[5])
        self.assertTrue(lines[-1].startswith("[" + "#" * 30 + "] 20/20 100%"))


if __name__ == "__main__":
    unittest.main()

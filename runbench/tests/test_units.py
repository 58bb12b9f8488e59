"""The pure parts: statistics, the gate's rule, workload selection, reading harness JSON, progress."""
import io
import json
import os
import tempfile
import unittest
from unittest import mock

from runbench import build, gate, harness, results, stats, workloads
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


class GateRuleTest(unittest.TestCase):
    def verdicts(self, current, baseline):
        return {(v.workload, v.metric.label): v for v in gate.evaluate(current, baseline, THRESHOLDS)}

    def test_noise_within_threshold_passes(self):
        baseline = document_with([1.5, 1.4, 1.6, 1.5, 1.45])
        current = document_with([1.3, 1.7, 1.35, 1.5, 1.25])
        self.assertFalse(any(v.regressed for v in self.verdicts(current, baseline).values()))

    def test_clear_slowdown_regresses_throughput_only(self):
        verdicts = self.verdicts(document_with([0.7, 0.75, 0.72, 0.69, 0.71]),
                                 document_with([1.5, 1.4, 1.6, 1.5, 1.45]))
        self.assertTrue(verdicts["w", "throughput"].regressed)
        self.assertFalse(verdicts["w", "peak RSS"].regressed)

    def test_large_change_with_overlapping_noise_is_not_a_regression(self):
        # Median falls 30 % but the samples overlap the baseline: the interval includes no change.
        current, baseline = document_with([0.6, 1.6, 0.7, 1.5, 0.7]), document_with([1.0, 1.6, 0.9, 1.5, 1.0])
        verdicts = self.verdicts(current, baseline)
        self.assertLess(verdicts["w", "throughput"].change, 0.75)
        self.assertFalse(verdicts["w", "throughput"].regressed)

    def test_memory_growth_regresses_but_page_noise_does_not(self):
        ratios = [1.0] * 5
        grown = self.verdicts(document_with(ratios, fragmentation=2.0, peak=16 << 20), document_with(ratios))
        self.assertTrue(grown["w", "fragmentation"].regressed)
        self.assertTrue(grown["w", "peak RSS"].regressed)
        small = self.verdicts(document_with(ratios, fragmentation=1.4, peak=(2 << 20) + 900 * 1024),
                              document_with(ratios, peak=2 << 20))
        self.assertFalse(small["w", "peak RSS"].regressed, "900 KiB is below the absolute floor")
        self.assertFalse(small["w", "fragmentation"].regressed, "0.2 × 4 MiB ideal is below the floor")

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
        self.assertEqual(results.relative_throughput(document, "w", "mem_io", 1, "cpu_ops_per_s"), (1.5, 1.0, 2.0))
        self.assertIsNone(results.relative_throughput(document, "w", "jemalloc", 1, "cpu_ops_per_s"))

    def test_standing_pairs_rounds_and_names_the_slowest_case(self):
        def run(workload, allocator, times, rss):
            return {"workload": workload, "allocator": allocator, "threads": 1,
                    "samples": [{"round": r, "ns_per_op": t, "peak_rss_bytes": rss} for r, t in enumerate(times)]}
        document = {"runs": [run("w", "system", [10, 40], 100), run("w", "mem_io", [5, 20], 110),
                             run("w", "jemalloc", [4, 40], 120), run("v", "system", [10, 10], 100),
                             run("v", "mem_io", [40, 40], 90)], "allocators": []}
        standing = results.standing(document)
        time, rss, worst = standing["mem_io"]
        self.assertAlmostEqual(time, (0.5 * 4.0) ** 0.5)   # w: 0.5 in both rounds; v: 4
        self.assertAlmostEqual(rss, (1.1 * 0.9) ** 0.5)
        self.assertEqual(worst, (4.0, "v/1", "system"))
        self.assertEqual(standing["jemalloc"][2], (1.4, "w/1", "mem_io"))  # 0.8 and 2.0: median 1.4

    def test_cpu_throughput_is_derived_from_the_harness_counter(self):
        handle = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump({"benchmarks": [{"name": "replay/w/x", "real_time": 1, "cpu_ns_per_op": 50.0}]}, handle)
        handle.close()
        self.addCleanup(os.unlink, handle.name)
        _, samples = harness.parse_benchmark_json(handle.name, "job")
        self.assertEqual(samples[0]["cpu_ops_per_s"], 2e7)


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

    def test_not_benchmark_json_is_a_harness_error(self):
        with self.assertRaisesRegex(harness.HarnessError, "not Google Benchmark JSON"):
            harness.parse_benchmark_json(self.write([1, 2]), "job")


class PackageTest(unittest.TestCase):
    def test_missing_package_without_root_prints_the_apt_line(self):
        with mock.patch("os.geteuid", return_value=1000):
            with self.assertRaisesRegex(BuildError, r"apt-get install -y runbench-no-such-package\b"):
                build.ensure_packages(("runbench-no-such-package", "libc6"))

    def test_installed_packages_need_nothing(self):
        self.assertEqual(build.missing_packages(("libc6",)), [])


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

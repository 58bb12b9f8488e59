"""Tests of runbench/stress.py: a program run through a fake stress_measure launcher becomes one
results.json sample, failures and checksum disagreements become recorded failures, and a stress
document goes through the suite's summary. ctest's stress_programs_checksums runs the real programs."""
import argparse
import os
import stat
import tempfile
import unittest

from runbench import allocators, chart_data, harness, report, results, stress, workloads


def fake_launcher(folder, output, status=0):
    """A stand-in for stress_measure that prints `output` and exits with `status`."""
    path = os.path.join(folder, f"measure{status}")
    with open(path, "w", encoding="utf-8") as script:
        script.write(f"#!/bin/sh\ncat <<'END'\n{output}\nEND\nexit {status}\n")
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


MEASURED = "stress_measure: seconds=0.5 cpu_seconds=0.25 peak_rss_kib=2048 minor_faults=300 status=0"


class RunProgramTest(unittest.TestCase):
    def setUp(self):
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        self.folder = folder.name
        system = allocators.resolve_for_programs("system", "build")
        self.job = harness.Job(workloads.Workload("larson", "/bin/true"), system, 2)

    def test_a_run_is_one_sample_in_the_suite_metrics_and_notes_its_checksum(self):
        launcher = fake_launcher(self.folder, f"larson threads=2 scale=1 checksum=00ff12 corrupted=0\n{MEASURED}")
        checksums = {}
        output = stress.run_program(1.0, checksums, launcher, self.job, 10)
        self.assertEqual(output.samples, [{"real_time_ns": 0.5e9, "ops_per_s": 2.0, "cpu_seconds": 0.25,
                                           "cpu_ops_per_s": 4.0, "peak_rss_bytes": 2048 * 1024, "minor_faults": 300}])
        self.assertEqual(checksums, {("larson", 2): {"00ff12": ["system"]}})

    def test_a_time_below_the_launchers_resolution_gives_no_rate(self):
        launcher = fake_launcher(self.folder, "larson threads=2 scale=1 checksum=00ff12 corrupted=0\n"
                                 "stress_measure: seconds=0.000000 cpu_seconds=0.000000 peak_rss_kib=2048 "
                                 "minor_faults=300 status=0")
        sample = stress.run_program(1.0, {}, launcher, self.job, 10).samples[0]
        self.assertNotIn("ops_per_s", sample)
        self.assertNotIn("cpu_ops_per_s", sample)

    def test_failed_and_silent_runs_raise_harness_errors(self):
        failing = fake_launcher(self.folder, "boom\nstress_measure: seconds=0.1 cpu_seconds=0.1 peak_rss_kib=1 minor_faults=9 status=3")
        with self.assertRaisesRegex(harness.HarnessError, "larson/system/threads:2: exit status 3: boom"):
            stress.run_program(1.0, {}, failing, self.job, 10)
        silent = fake_launcher(self.folder, MEASURED)
        with self.assertRaisesRegex(harness.HarnessError, "printed no result line"):
            stress.run_program(1.0, {}, silent, self.job, 10)


class ChecksumTest(unittest.TestCase):
    def test_agreeing_runs_are_fine(self):
        self.assertEqual(stress.checksum_failures({("a", 2): {"ab": ["mem_io", "system"]}}), [])

    def test_differing_checksum_is_a_failure_naming_both_allocators(self):
        failures = stress.checksum_failures({("a", 2): {"ab": ["mem_io"], "cd": ["system", "system"]}})
        self.assertEqual(len(failures), 1)
        self.assertEqual((failures[0]["workload"], failures[0]["threads"]), ("a", 2))
        self.assertEqual(failures[0]["error"], "a threads=2: checksums differ: ab from mem_io; cd from system")


class ProgramListTest(unittest.TestCase):
    def test_unknown_program_is_refused_while_parsing(self):
        self.assertEqual(stress.program_list("larson,mstress"), ["larson", "mstress"])
        with self.assertRaisesRegex(argparse.ArgumentTypeError, "unknown stress program 'hoard'"):
            stress.program_list("larson,hoard")


class SummaryTest(unittest.TestCase):
    def test_a_stress_document_reads_like_a_suite_document(self):
        chosen = [allocators.resolve_for_programs(name, "build") for name in ("system", "jemalloc")]
        program = workloads.Workload("larson", "harness/stress/stress_larson")
        document = results.new_document("stress", {}, {}, chosen, [program])
        for round_index, (system_s, jemalloc_s) in enumerate(((1.0, 0.5), (1.2, 0.6), (1.0, 0.5)) * 2):
            for allocator, seconds in zip(chosen, (system_s, jemalloc_s)):
                sample = {"real_time_ns": seconds * 1e9, "ops_per_s": 1 / seconds, "peak_rss_bytes": 1 << 20}
                results.add_output(document, harness.Job(program, allocator, 2), harness.JobOutput([sample]),
                                   round_index)
        text = report.summary_text(document)
        self.assertRegex(text, r"(?m)^larson\s+1\s+2\.00×")  # jemalloc twice as fast in every round
        self.assertNotIn("Fragmentation", text)  # not measured for programs: no empty table
        # The charts a stress run draws (ctest's stress_programs_checksums leaves drawing out).
        charts = {chart["stem"]: chart for chart in chart_data.charts(document)}
        self.assertEqual(charts["throughput_threads2"]["series"]["jemalloc"]["larson"][:3], (2.0, 2.0, 2.0))
        self.assertEqual(charts["peak_rss"]["series"]["system"]["larson"], (1.0, 1.0, 1.0))
        self.assertEqual(charts["fragmentation"]["series"], {"system": {}, "jemalloc": {}})
        self.assertEqual(charts["latency_malloc"]["series"], {"system": [], "jemalloc": []})


if __name__ == "__main__":
    unittest.main()

"""A real run on a tiny trace: results.json, CSV, report and charts; redraw, compare; no matplotlib."""
import csv
import json
import os
import tempfile
import unittest

from runbench.tests.support import CommandTestCase, build_dir, run_bench, write_trace

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class EndToEndTest(CommandTestCase):
    @classmethod
    def setUpClass(cls):
        cls.scratch = tempfile.TemporaryDirectory()
        cls.out = os.path.join(cls.scratch.name, "out")
        trace = write_trace(os.path.join(cls.scratch.name, "tiny.trace"))
        cls.proc = run_bench("--no-build", "--build-dir", build_dir(), "--quick", "--out", cls.out,
                             "--allocators", "mem_io,system", "--workloads", trace, "--threads", "1,2",
                             "--repetitions", "2", "--seed", "7")

    @classmethod
    def tearDownClass(cls):
        cls.scratch.cleanup()

    def test_run_succeeds_and_prints_summary(self):
        self.assertEqual(self.proc.returncode, 0, self.proc.stderr)
        self.assertIn("Throughput ÷ system malloc", self.proc.stdout)
        self.assertRegex(self.proc.stdout, r"mem_io\s+(tie \(|\d+\.\d+× \()")  # every ratio with its interval
        self.assertIn("tiny", self.proc.stdout)

    def test_terminal_and_summary_txt_show_every_thread_count(self):
        with open(os.path.join(self.out, "summary.txt"), encoding="utf-8") as handle:
            summary = handle.read()
        for text in (self.proc.stdout, summary):
            for threads in (1, 2):
                self.assertRegex(text, rf"(?m)^Throughput ÷ system malloc.*, threads={threads}$")
                self.assertRegex(text, rf"(?m)^Peak RSS in MiB.*, threads={threads}$")

    def test_results_json_records_environment_options_and_every_repetition(self):
        with open(os.path.join(self.out, "results.json"), encoding="utf-8") as handle:
            document = json.load(handle)
        self.assertEqual((document["schema"], document["schema_version"]), ("mem_io-results", 1))
        for key in ("cpu_model", "cores", "kernel", "glibc", "compiler", "git", "allocators"):
            self.assertIn(key, document["environment"])
        self.assertEqual(document["options"]["threads"], [1, 2])
        runs = {(r["workload"], r["allocator"], r["threads"]): r for r in document["runs"]}
        self.assertEqual(set(runs), {("tiny", a, t) for a in ("mem_io", "system") for t in (1, 2)})
        for run in runs.values():
            # --quick: three repetitions in each round's process
            self.assertEqual(sorted(s["round"] for s in run["samples"]), [0, 0, 0, 1, 1, 1])
            for sample in run["samples"]:
                self.assertGreater(sample["ops_per_s"], 0)
                self.assertGreater(sample["peak_rss_bytes"], 0)
        timeline = runs["tiny", "mem_io", 1]["timeline"]
        self.assertEqual(len(timeline["t_ms"]), len(timeline["rss_bytes"]))
        self.assertEqual(document["failures"], [])
        served = document["environment"]["allocators"]["system"]["served_by"]
        self.assertRegex(served["malloc"], r"/libc\.so")

    def test_latency_percentiles_are_positive_and_monotone_in_the_csv(self):
        with open(os.path.join(self.out, "results.csv"), encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        checked = 0
        for row in rows:
            for op in ("malloc", "free"):
                values = [float(row[f"lat_{op}_{key}_ns"]) for key in ("p50", "p99", "p999", "max")]
                self.assertGreater(values[0], 0, row)
                self.assertEqual(values, sorted(values), row)
                self.assertGreaterEqual(values[0], float(row["timer_resolution_ns"]), row)
                checked += 1
        self.assertEqual(checked, 2 * len(rows))
    def test_csv_has_a_row_per_repetition(self):
        with open(os.path.join(self.out, "results.csv"), encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        self.assertEqual(len(rows), 24)  # 2 allocators × 2 thread counts × 2 rounds × 3 repetitions
        self.assertTrue(all(float(row["ops_per_s"]) > 0 for row in rows))

    def test_charts_are_non_empty_pngs_and_the_report_shows_them(self):
        charts = os.path.join(self.out, "charts")
        for stem in ("throughput_threads1", "throughput_threads2", "cpu_throughput", "fragmentation",
                     "peak_rss", "scaling", "timeline_tiny", "latency_malloc", "latency_free"):
            with open(os.path.join(charts, f"{stem}.png"), "rb") as handle:
                self.assertEqual(handle.read(8), PNG_MAGIC, stem)
            self.assertGreater(os.path.getsize(os.path.join(charts, f"{stem}.svg")), 1000, stem)
        with open(os.path.join(self.out, "report.html"), encoding="utf-8") as handle:
            page = handle.read()
        self.assertIn("charts/throughput_threads1.svg", page)
        self.assertIn("<table>", page)

    def test_plot_redraws_into_another_folder_and_compare_prints_ratios(self):
        redraw = os.path.join(self.scratch.name, "redraw")
        proc = run_bench("plot", self.out, "--out", redraw)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertTrue(os.path.getsize(os.path.join(redraw, "charts", "fragmentation.png")) > 0)
        proc = run_bench("compare", self.out, os.path.join(self.out, "results.json"))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        # A run against itself: every ratio's median is 1, so a tie, never a win.
        self.assertRegex(proc.stdout, r"tiny\s+mem_io\s+1\s+tie \(\d")
        self.assertNotIn("×", proc.stdout.split("-\n", 1)[-1])

    def test_without_matplotlib_results_are_written_and_the_reason_given(self):
        hidden = os.path.join(self.scratch.name, "no-matplotlib")
        os.makedirs(os.path.join(hidden, "matplotlib"))
        with open(os.path.join(hidden, "matplotlib", "__init__.py"), "w", encoding="utf-8") as handle:
            handle.write("raise ImportError('matplotlib hidden by the test')\n")
        out = os.path.join(self.scratch.name, "plain")
        proc = run_bench("plot", self.out, "--out", out, env=dict(os.environ, PYTHONPATH=hidden))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)
        self.assertIn("no charts", proc.stderr)
        self.assertIn("python3-matplotlib", proc.stderr)
        self.assertTrue(os.path.exists(os.path.join(out, "results.csv")))
        self.assertFalse(os.path.exists(os.path.join(out, "charts")))


if __name__ == "__main__":
    unittest.main()

"""Bad options, missing or malformed traces and results files end in a clear error, never a traceback."""
import json
import os
import subprocess
import tempfile

from runbench.tests.support import CommandTestCase, build_dir, run_bench, write_trace


class BadInputTest(CommandTestCase):
    def setUp(self):
        self.scratch = tempfile.TemporaryDirectory()
        self.addCleanup(self.scratch.cleanup)
        self.build = build_dir()

    def path(self, name):
        return os.path.join(self.scratch.name, name)

    def run_suite(self, *args):
        return run_bench("--no-build", "--build-dir", self.build, "--out", self.path("out"), *args)

    def test_bad_thread_list(self):
        self.assertCleanError(self.run_suite("--threads", "1,two"), "--threads", "'1,two'")
        self.assertCleanError(self.run_suite("--threads", "0"), "between 1 and 256")

    def test_unknown_allocator(self):
        proc = self.run_suite("--allocators", "mem_io,hoard", "--workloads", write_trace(self.path("t.trace")))
        self.assertCleanError(proc, "unknown allocator 'hoard'")

    def test_missing_preload_library(self):
        proc = self.run_suite("--allocators", f"mine={self.path('nope.so')}")
        self.assertCleanError(proc, "allocator 'mine'", "nope.so does not exist")

    def test_missing_trace_file(self):
        proc = self.run_suite("--workloads", self.path("absent.trace.gz"))
        self.assertCleanError(proc, "absent.trace.gz", "does not exist")

    def assertRefusedBeforeAnyRun(self, proc, *fragments):
        self.assertCleanError(proc, *fragments)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertFalse(os.path.exists(self.path("out")), "nothing may run for a refused allocator")

    def test_preload_that_is_not_a_library(self):
        not_elf = self.path("text.so")
        with open(not_elf, "w", encoding="utf-8") as handle:
            handle.write("not a library\n")
        proc = self.run_suite("--allocators", f"system,mine={not_elf}", "--workloads", write_trace(self.path("t.trace")))
        self.assertRefusedBeforeAnyRun(proc, "allocator 'mine'", "is not an ELF file")
        proc = run_bench("stress", "--no-build", "--build-dir", self.build, "--allocators", f"system,mine={not_elf}",
                         "--programs", "larson", "--scale", "0.01", "--repetitions", "1")
        self.assertRefusedBeforeAnyRun(proc, "allocator 'mine'", "is not an ELF file")
        self.assertNotIn("[1/", proc.stderr, "no stress program may run")

    def test_preload_that_ld_so_ignores(self):
        program = self.path("program")
        source = self.path("program.c")
        with open(source, "w", encoding="utf-8") as handle:
            handle.write("int main(void) { return 0; }\n")
        subprocess.run(["cc", "-fPIE", "-pie", "-o", program, source], check=True)  # ELF, ET_DYN, not a library
        proc = self.run_suite("--allocators", f"system,exe={program}", "--workloads", write_trace(self.path("t.trace")))
        self.assertRefusedBeforeAnyRun(proc, "allocator 'exe'", "ld.so", "cannot be preloaded")

    def test_library_that_does_not_serve_malloc(self):
        library = self.path("libplain.so")
        source = self.path("plain.c")
        with open(source, "w", encoding="utf-8") as handle:
            handle.write("int plain_answer(void) { return 42; }\n")
        subprocess.run(["cc", "-shared", "-fPIC", "-o", library, source], check=True)
        trace = write_trace(self.path("t.trace"))
        proc = self.run_suite("--allocators", f"system,plain={library}", "--workloads", trace)
        self.assertRefusedBeforeAnyRun(proc, "allocator 'plain'", "does not serve malloc", "libc")
        proc = run_bench("check", "--no-build", "--build-dir", self.build, "--update-baseline", "--baseline",
                         self.path("baseline.json"), "--candidate", f"plain={library}", "--workloads", trace)
        self.assertCleanError(proc, "does not serve malloc")
        self.assertEqual(proc.returncode, 2)
        self.assertFalse(os.path.exists(self.path("baseline.json")))

    def test_unknown_workload_name(self):
        self.assertCleanError(self.run_suite("--workloads", "no_such_workload"), "'no_such_workload'",
                              "no shipped workload matches")

    def test_malformed_trace_names_file_and_line(self):
        bad = self.path("bad.trace")
        with open(bad, "w", encoding="utf-8") as handle:
            handle.write("mem_io-trace 1\n0 m 1 64\n0 f 2\n")
        proc = self.run_suite("--workloads", bad)
        self.assertCleanError(proc, "invalid trace", "bad.trace:3")
        self.assertFalse(os.path.exists(self.path("out")), "no results folder for a refused run")

    def test_missing_build(self):
        proc = run_bench("--no-build", "--build-dir", self.path("empty-build"))
        self.assertCleanError(proc, "harness binary", "is missing")

    def test_out_is_a_file(self):
        open(self.path("out"), "w").close()
        self.assertCleanError(self.run_suite(), "exists and is not a folder")

    def test_plot_missing_and_malformed_results(self):
        self.assertCleanError(run_bench("plot", self.path("none.json")), "none.json", "no such results file")
        with open(self.path("broken.json"), "w", encoding="utf-8") as handle:
            handle.write("{ not json")
        proc = run_bench("plot", self.path("broken.json"))
        self.assertCleanError(proc, "broken.json: results file is not valid JSON")
        self.assertEqual(proc.returncode, 2, proc.stderr)
        with open(self.path("other.json"), "w", encoding="utf-8") as handle:
            json.dump({"benchmarks": []}, handle)
        self.assertCleanError(run_bench("compare", self.path("other.json"), self.path("other.json")),
                              "other.json", 'not a results file (expected "schema": "mem_io-results")')

    def test_check_without_baseline(self):
        proc = run_bench("check", "--no-build", "--build-dir", self.build, "--baseline", self.path("none.json"))
        self.assertCleanError(proc, "none.json", "no such results file")

    def test_check_with_a_bad_drift_file(self):
        with open(self.path("broken.json"), "w", encoding="utf-8") as handle:
            handle.write("{ not json")
        for path, fragment in ((self.path("none.json"), "no such drift file"),
                               (self.path("broken.json"), "drift file is not valid JSON")):
            proc = run_bench("check", "--no-build", "--build-dir", self.build, "--drift", path)
            self.assertCleanError(proc, "none.json" if "none" in path else "broken.json", fragment)
            self.assertEqual(proc.returncode, 2, proc.stderr)

    def test_update_drift_from_a_single_run(self):
        baseline = os.path.join(os.path.dirname(__file__), "..", "baseline.json")
        proc = run_bench("check", "--update-drift", baseline, "--drift", self.path("drift.json"))
        self.assertCleanError(proc, "--update-drift needs at least 2 runs")
        self.assertFalse(os.path.exists(self.path("drift.json")))

    def test_bad_threshold(self):
        self.assertCleanError(run_bench("check", "--throughput-threshold", "1.5"), "between 0 and 1")

"""An A/A test: system malloc against itself under a second name (glibc's library preloaded) must
come out a tie in a quick and in a full run (6 and 9 rounds), in throughput and in peak RSS: the
verdict rule may not name a winner between two copies of one allocator."""
import json
import os
import subprocess
import tempfile
import unittest

from runbench import results, stats
from runbench.harness import HARNESS_RELATIVE_PATH
from runbench.tests.support import build_dir, run_bench, write_trace

ALIAS = "system-again"


def glibc_library():
    """The file that serves malloc in a plain replay process, as the harness's probe finds it."""
    probe = subprocess.run([os.path.join(build_dir(), HARNESS_RELATIVE_PATH), "--probe"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=True, timeout=60)
    return json.loads(probe.stdout)["malloc"]


class SameAllocatorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.scratch = tempfile.TemporaryDirectory()
        # Single-threaded and a few ms per replay: long enough that a round is not one time slice.
        cls.trace = write_trace(os.path.join(cls.scratch.name, "same.trace"), blocks=30000, live=1000,
                                cross_thread=False)
        cls.allocators = f"system,{ALIAS}={glibc_library()}"

    @classmethod
    def tearDownClass(cls):
        cls.scratch.cleanup()

    def assert_ties(self, name, *options):
        out = os.path.join(self.scratch.name, name)
        proc = run_bench("--no-build", "--build-dir", build_dir(), "--out", out, "--allocators", self.allocators,
                         "--workloads", self.trace, "--threads", "1", "--seed", "11", *options, timeout=300)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        document = results.load(os.path.join(out, "results.json"))
        self.assertEqual(results.judged_throughput(document, "same", 1), results.CPU_THROUGHPUT,
                         "a one-thread replay is judged on CPU time")
        for metric in (None, results.THROUGHPUT, "peak_rss_bytes"):  # None: the judged throughput
            found = results.relative(document, "same", ALIAS, 1, metric)
            self.assertIsNotNone(found, metric)
            self.assertEqual(found.verdict, stats.NOT_SEPARATED, f"{name} {metric}: {found}")

    def test_quick_run_calls_it_a_tie(self):
        self.assert_ties("quick", "--quick")

    def test_full_run_calls_it_a_tie(self):
        self.assert_ties("full")


if __name__ == "__main__":
    unittest.main()

"""The traces shipped in workloads/real/ load (by mem_io_replay --check when built), stay within
the size limit, and each has its line in workloads/real/README.md."""
import glob
import os
import unittest

from workloads.tools.tests.support import TOOLS, validate

REAL = os.path.join(os.path.dirname(TOOLS), "real")
MAX_BYTES = 20 * 1024 * 1024


class RealTracesTest(unittest.TestCase):
    def test_every_shipped_trace_is_valid_small_and_documented(self):
        traces = sorted(glob.glob(os.path.join(REAL, "*.trace.gz")))
        self.assertGreaterEqual(len(traces), 5)
        with open(os.path.join(REAL, "README.md")) as readme_file:
            readme = readme_file.read()
        for trace in traces:
            name = os.path.basename(trace)
            with self.subTest(trace=name):
                self.assertLessEqual(os.path.getsize(trace), MAX_BYTES)
                self.assertIn("`%s`" % name, readme)
                ops, threads, ideal = validate(trace)
                self.assertGreater(ops, 100000)
                self.assertGreater(ideal, 0)


if __name__ == "__main__":
    unittest.main()

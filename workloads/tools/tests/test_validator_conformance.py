"""The two trace validators agree: on every trace under harness/tests/data/, the harness's loader
(`mem_io_replay --check`) and tracefile.check give the same verdict, valid or invalid."""
import glob
import os
import subprocess
import unittest

from runbench import REPO_ROOT
from workloads.tools import tracefile
from workloads.tools.tests.support import built

DATA = os.path.join(REPO_ROOT, "harness", "tests", "data")


class ValidatorConformanceTest(unittest.TestCase):
    def test_loader_and_tracefile_give_the_same_verdict_on_every_test_trace(self):
        replay = built("MEM_IO_REPLAY")
        traces = sorted(glob.glob(os.path.join(DATA, "*.trace")) + glob.glob(os.path.join(DATA, "*.trace.gz")))
        self.assertGreaterEqual(len(traces), 20)
        self.assertTrue(any(os.path.basename(t).startswith("bad_") for t in traces))
        for trace in traces:
            with self.subTest(trace=os.path.basename(trace)):
                loader = subprocess.run([replay, "--allocator=system", "--trace=" + trace, "--check"],
                                        capture_output=True, text=True, timeout=60)
                try:
                    tracefile.check(trace)
                    python_verdict, python_error = "valid", ""
                except tracefile.TraceError as error:
                    python_verdict, python_error = "invalid", str(error)
                    self.assertIn(os.path.basename(trace), python_error)  # the error names the file
                loader_verdict = "valid" if loader.returncode == 0 else "invalid"
                self.assertEqual(python_verdict, loader_verdict,
                                 f"mem_io_replay --check: {loader.stderr.strip() or 'ok'}; "
                                 f"tracefile.check: {python_error or 'ok'}")


if __name__ == "__main__":
    unittest.main()

"""The counted gate sees a slowdown of 2 instructions per malloc, about 2.6 % of mem_io's
77-instruction malloc+free pair: mem_io_replay_injected (mem_io built with 2 extra instructions on
its malloc fast path, harness/CMakeLists.txt) fails 10 runs out of 10 against a baseline counted on
the unchanged mem_io_replay, which passes 10 of 10. Each run is a fresh callgrind replay judged by
the gate's own rule and default threshold."""
import concurrent.futures
import os
import tempfile
import unittest

from runbench import allocators, callgrind, cli, gate, harness, results
from runbench.tests.support import build_dir, write_trace
from runbench.workloads import Workload

RUNS = 10
INJECTED_RELATIVE_PATH = os.path.join("harness", "mem_io_replay_injected")
TIMEOUT_S = 120


class InstructionGateTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        callgrind.require_valgrind()
        cls.unchanged = harness.find_binary(build_dir())
        cls.injected = os.path.join(build_dir(), INJECTED_RELATIVE_PATH)
        if not os.access(cls.injected, os.X_OK):
            raise AssertionError(f"{cls.injected} is not built (target mem_io_replay_injected)")
        cls.scratch = tempfile.TemporaryDirectory()
        # Single-threaded and small: a few seconds per callgrind replay, and exactly repeatable.
        path = write_trace(os.path.join(cls.scratch.name, "pairs.trace"), blocks=20000, live=500,
                           cross_thread=False)
        cls.workload = Workload("pairs", path)
        cls.mem_io = allocators.resolve("mem_io", build_dir())
        cls.baseline = cls.counted([cls.unchanged] * cli.BASELINE_CALLGRIND_RUNS)

    @classmethod
    def tearDownClass(cls):
        cls.scratch.cleanup()

    @classmethod
    def counted(cls, binaries):
        """A results document holding one callgrind record per binary replayed."""
        document = {"callgrind": []}
        with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            costs = pool.map(lambda binary: callgrind.replay_cost(binary, cls.mem_io, cls.workload, TIMEOUT_S),
                             binaries)
            for cost in costs:
                results.add_callgrind(document, cls.workload.name, gate.CANDIDATE, cost)
        return document

    def verdicts_per_run(self, binary):
        """The instructions/op verdict of each of RUNS separate replays of `binary`."""
        verdicts = []
        for record in self.counted([binary] * RUNS)["callgrind"]:
            judged = gate.evaluate_counted({"callgrind": [record]}, self.baseline, cli.INSTRUCTIONS_THRESHOLD)
            verdicts += [v for v in judged if v.metric.counter == "instructions_per_op"]
        self.assertEqual(len(verdicts), RUNS)
        return verdicts

    def test_unchanged_build_passes_every_run(self):
        verdicts = self.verdicts_per_run(self.unchanged)
        self.assertEqual([v.state for v in verdicts], [gate.PASS] * RUNS,
                         [f"{v.change:.4f}" for v in verdicts])

    def test_two_instructions_per_malloc_fail_every_run(self):
        verdicts = self.verdicts_per_run(self.injected)
        self.assertEqual([v.state for v in verdicts], [gate.FAIL] * RUNS,
                         [f"{v.change:.4f}" for v in verdicts])
        # The slowdown is 2 instructions per malloc, and half the trace's operations are mallocs.
        for v in verdicts:
            self.assertAlmostEqual(v.current - v.baseline, 1.0, delta=0.05)


if __name__ == "__main__":
    unittest.main()

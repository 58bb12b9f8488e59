"""The page-fault gate sees memory given back to the OS and faulted in again, which costs no
instruction that callgrind counts (under callgrind the decay clock is held off): mem_io with
MEM_IO_DECAY_MS=0, where every emptied page goes back at once, fails CHECKS checks of ROUNDS rounds
out of CHECKS against a baseline of the default build, which passes CHECKS of CHECKS. Each round is
one harness process timing 2 repetitions, as check's are, judged by the gate's own rule."""
import os
import tempfile
import unittest

from runbench import allocators, cli, gate, harness, results
from runbench.tests.support import build_dir, write_trace
from runbench.workloads import Workload

CHECKS = 5
ROUNDS = 3
BASELINE_ROUNDS = 6
TIMEOUT_S = 60
IMMEDIATE_RELEASE = {"MEM_IO_DECAY_MS": "0"}


class FaultGateTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.binary = harness.find_binary(build_dir())
        cls.scratch = tempfile.TemporaryDirectory()
        # 5000 blocks live (~2.5 MB) and all freed at the end of each replay: pages empty out, and
        # with the decay clock at 0 go back to the OS before the next replay takes them again.
        path = write_trace(os.path.join(cls.scratch.name, "wave.trace"), blocks=20000, live=5000,
                           cross_thread=False)
        cls.workload = Workload("wave", path)
        cls.mem_io = allocators.resolve("mem_io", build_dir())
        cls.baseline = cls.rounds(BASELINE_ROUNDS, {})

    @classmethod
    def tearDownClass(cls):
        cls.scratch.cleanup()

    @classmethod
    def rounds(cls, count, environment):
        """A results document holding `count` rounds of mem_io, each its own harness process."""
        document = {"runs": [], "environment": {}, "workloads": [{"name": cls.workload.name, "threads": 1}]}
        job = harness.Job(cls.workload, cls.mem_io, threads=1, repetitions=cli.CHECK_REPETITIONS_PER_PROCESS,
                          min_time=cli.MIN_TIME_S)
        for round_index in range(count):
            output = harness.run(cls.binary, job, TIMEOUT_S, dict(os.environ, **environment))
            results.add_output(document, job, output, round_index)
        return document

    def verdicts_per_check(self, environment):
        verdicts = []
        for _ in range(CHECKS):
            judged, unjudged = gate.evaluate_faults(self.rounds(ROUNDS, environment), self.baseline,
                                                    cli.INSTRUCTIONS_THRESHOLD)
            self.assertEqual(unjudged, {}, "the default build's rounds all fault the same (not at all)")
            verdicts += judged
        self.assertEqual(len(verdicts), CHECKS)
        return verdicts

    def test_default_build_passes_every_check(self):
        verdicts = self.verdicts_per_check({})
        self.assertEqual([v.state for v in verdicts], [gate.PASS] * CHECKS, [v.current for v in verdicts])

    def test_memory_given_back_at_once_fails_every_check(self):
        verdicts = self.verdicts_per_check(IMMEDIATE_RELEASE)
        self.assertEqual([v.state for v in verdicts], [gate.FAIL] * CHECKS, [v.current for v in verdicts])
        # The live set's pages, 4 KiB each, fault in again on every replay.
        for v in verdicts:
            self.assertGreater(v.current, 100)


if __name__ == "__main__":
    unittest.main()

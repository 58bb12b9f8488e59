"""Tests of runbench/stress.py's bookkeeping: failure and checksum detection, ratios paired by
repetition and their medians, geometric means, the worst-case line and the interleaved run
plan. No programs are run here; ctest's stress_programs_checksums runs the real ones."""
import random
import unittest

from runbench import stress


def sample(program, allocator, seconds, rss, checksum="ab", exit_status=0, threads=2, repetition=0):
    return {"program": program, "threads": threads, "allocator": allocator, "repetition": repetition,
            "seconds": seconds, "cpu_seconds": seconds * 2, "peak_rss_kib": rss, "exit": exit_status, "timed_out": False,
            "checksum": checksum, "output": "boom\n" if exit_status else ""}


class FindProblems(unittest.TestCase):
    def test_agreeing_runs_are_fine(self):
        runs = [sample("larson", "mimalloc", 1, 10), sample("larson", "mem_io", 1, 10)]
        self.assertEqual(stress.find_problems(runs), [])

    def test_differing_checksum_names_both_allocators(self):
        runs = [sample("larson", "mimalloc", 1, 10, "ab"), sample("larson", "mem_io", 1, 10, "cd")]
        problems = stress.find_problems(runs)
        self.assertEqual(len(problems), 1)
        self.assertIn("checksums differ", problems[0])
        self.assertIn("cd from mem_io", problems[0])

    def test_failed_and_silent_runs_are_reported(self):
        runs = [sample("mstress", "mem_io", 1, 10, exit_status=134), sample("espresso", "system", 1, 10, None)]
        problems = stress.find_problems(runs)
        self.assertIn("exit status 134: boom", problems[0])
        self.assertIn("printed no result line", problems[1])

    def test_result_line_parsing(self):
        out = "larson threads=2 scale=0.5 checksum=00ff12 corrupted=0\n"
        self.assertEqual(stress.checksum_of(out), "00ff12")
        self.assertIsNone(stress.checksum_of("garbage"))


class Summarise(unittest.TestCase):
    def test_medians_ratios_and_geomeans(self):
        runs = [sample("a", "mimalloc", s, 100, repetition=i) for i, s in enumerate((1.0, 2.0, 9.0))]
        runs += [sample("a", "mem_io", s, 50, repetition=i) for i, s in enumerate((1.0, 1.0, 1.0))]
        runs += [sample("b", "mimalloc", 1.0, 100), sample("b", "mem_io", 4.0, 200)]
        rows, means = stress.summarise(runs, ["a", "b"], [2], ["mem_io", "mimalloc"], "mimalloc")
        self.assertAlmostEqual(rows[0]["ratios"]["mem_io"][0], 0.5)   # median 1.0 vs median 2.0
        self.assertAlmostEqual(rows[0]["ratios"]["mem_io"][1], 0.5)
        self.assertAlmostEqual(rows[1]["ratios"]["mem_io"][0], 4.0)
        self.assertAlmostEqual(means["mem_io"][0], 2 ** 0.5)          # sqrt(0.5 * 4)
        self.assertAlmostEqual(means["mimalloc"][0], 1.0)

    def test_cpu_metric_uses_cpu_seconds(self):
        runs = [sample("a", "mimalloc", 1.0, 100), sample("a", "mem_io", 3.0, 100)]
        runs[1]["cpu_seconds"] = 1.0  # waited on the wall clock, worked little
        rows, _ = stress.summarise(runs, ["a"], [2], ["mem_io", "mimalloc"], "mimalloc", "cpu_seconds")
        self.assertAlmostEqual(rows[0]["ratios"]["mem_io"][0], 0.5)
        rows, _ = stress.summarise(runs, ["a"], [2], ["mem_io", "mimalloc"], "mimalloc")
        self.assertAlmostEqual(rows[0]["ratios"]["mem_io"][0], 3.0)

    def test_failed_runs_leave_a_gap(self):
        runs = [sample("a", "mimalloc", 1.0, 100), sample("a", "mem_io", 1.0, 100, exit_status=1)]
        rows, _ = stress.summarise(runs, ["a"], [2], ["mem_io", "mimalloc"], "mimalloc")
        self.assertNotIn("mem_io", rows[0]["ratios"])
        self.assertIn("-", stress.format_table(rows, {"mem_io": (1, 1), "mimalloc": (1, 1)},
                                               ["mem_io", "mimalloc"], "mimalloc", 1.0, 1))

    def test_ratios_are_taken_within_a_repetition(self):
        # The machine slowed 4x for mimalloc's runs of repetitions 1 and 2 and for mem_io's of 2:
        # within each repetition mem_io took 2, 0.5 and 2 x mimalloc's time.
        runs = [sample("a", "mimalloc", s, 100, repetition=i) for i, s in enumerate((1.0, 4.0, 4.0))]
        runs += [sample("a", "mem_io", s, 100, repetition=i) for i, s in enumerate((2.0, 2.0, 8.0))]
        rows, _ = stress.summarise(runs, ["a"], [2], ["mem_io", "mimalloc"], "mimalloc")
        self.assertAlmostEqual(rows[0]["ratios"]["mem_io"][0], 2.0)  # the medians' ratio would say 0.5
        self.assertEqual(rows[0]["reference"], (4.0, 100))

    def test_worst_against_best_peer(self):
        runs = [sample("a", "mem_io", 1.2, 1), sample("a", "system", 0.6, 1), sample("a", "mimalloc", 1, 1),
                sample("b", "mem_io", 0.5, 1), sample("b", "system", 2, 1), sample("b", "mimalloc", 1, 1)]
        rows, _ = stress.summarise(runs, ["a", "b"], [2], ["mem_io", "system", "mimalloc"], "mimalloc")
        factor, where = stress.worst_against_best_peer(rows, "mem_io")
        self.assertAlmostEqual(factor, 2.0)
        self.assertEqual(where, "a threads=2")


class Plan(unittest.TestCase):
    def test_every_case_once_per_repetition_in_order_of_repetitions(self):
        plan = stress.plan_runs(["a", "b"], [1, 2], ["x", "y", "z"], 3, random.Random(1))
        self.assertEqual(len(plan), 2 * 2 * 3 * 3)
        self.assertEqual([r for *_, r in plan], sorted(r for *_, r in plan))
        for repetition in range(3):
            cases = {c[:3] for c in plan if c[3] == repetition}
            self.assertEqual(len(cases), 12)
        for start in range(0, len(plan), 3):  # a case's allocators run back to back
            self.assertEqual(len({(p, t, r) for p, t, _, r in plan[start:start + 3]}), 1)
            self.assertEqual({a for _, _, a, _ in plan[start:start + 3]}, {"x", "y", "z"})


if __name__ == "__main__":
    unittest.main()

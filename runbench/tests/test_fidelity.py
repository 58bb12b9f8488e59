"""fidelity: savings, separation, tolerance and ranking rules on synthetic documents; the
subcommand's errors; one smoke run that records and checks a tiny real program (sort)."""
import json
import os
import tempfile
import unittest

from runbench import fidelity, results
from runbench.tests.support import CommandTestCase, build_dir, run_bench

CASE = "prog"


def document(times_by_kind):
    """A fidelity document: times_by_kind[kind][allocator] = one time (ms) per round."""
    runs = []
    for kind, by_allocator in times_by_kind.items():
        workload = fidelity.STARTUP_CASE if kind == fidelity.STARTUP else f"{CASE}/{kind}"
        for allocator, times in by_allocator.items():
            runs.append({"workload": workload, "allocator": allocator, "threads": 1,
                         "samples": [{"round": r, "real_time_ns": t * 1e6, "cpu_ns": t * 1e6}
                                     for r, t in enumerate(times)]})
    return {"schema": results.SCHEMA, "schema_version": 1, "runs": runs, "failures": []}


def steady(value, rounds=6, spread=0.2):
    """Round times around value, alternating ± spread."""
    return [value + (spread if r % 2 else -spread) for r in range(rounds)]


def kinds(program, warm, cold, startup):
    return {fidelity.PROGRAM: program, fidelity.WARM: warm, fidelity.COLD: cold, fidelity.STARTUP: startup}


class DifferenceTest(unittest.TestCase):
    def test_saving_is_paired_and_summed_over_the_model_kinds(self):
        doc = document(kinds({"system": steady(100), "fast": steady(60)},
                             {"system": steady(20), "fast": steady(10)},
                             {"system": steady(30), "fast": steady(12)},
                             {"system": steady(5), "fast": steady(7)}))
        real = fidelity.difference(doc, CASE, "system", "fast", (fidelity.PROGRAM,), "real_time_ns")
        self.assertAlmostEqual(real.value / 1e6, 40)
        self.assertEqual(fidelity.separated(real), 1)
        cold_startup = fidelity.difference(doc, CASE, "system", "fast", fidelity.MODELS["cold+start-up"],
                                           "real_time_ns")
        self.assertAlmostEqual(cold_startup.value / 1e6, 18 - 2)

    def test_rounds_missing_a_series_are_left_out(self):
        doc = document(kinds({"system": [10, 10, 10], "fast": [5, 5]}, {}, {}, {}))
        real = fidelity.difference(doc, CASE, "system", "fast", (fidelity.PROGRAM,), "real_time_ns")
        self.assertAlmostEqual(real.value / 1e6, 5)
        self.assertIsNone(fidelity.difference(doc, CASE, "system", "fast", (fidelity.WARM,), "real_time_ns"))

    def test_an_interval_across_zero_is_not_separated(self):
        doc = document(kinds({"system": [10, 12, 10, 12], "noisy": [11, 11, 11, 11]}, {}, {}, {}))
        real = fidelity.difference(doc, CASE, "system", "noisy", (fidelity.PROGRAM,), "real_time_ns")
        self.assertEqual(fidelity.separated(real), 0)


class VerdictTest(unittest.TestCase):
    def test_tolerance_is_thirty_percent_of_a_separated_saving(self):
        real = fidelity.stats.Estimate(40.0, 35.0, 45.0)
        self.assertTrue(fidelity.within_tolerance(52.0, real))
        self.assertFalse(fidelity.within_tolerance(53.0, real))
        self.assertTrue(fidelity.within_tolerance(28.0, real))
        self.assertFalse(fidelity.within_tolerance(-40.0, real))

    def test_a_real_tie_needs_the_prediction_inside_its_interval(self):
        tie = fidelity.stats.Estimate(1.0, -3.0, 5.0)
        self.assertTrue(fidelity.within_tolerance(4.0, tie))
        self.assertFalse(fidelity.within_tolerance(6.0, tie))

    def test_rankings_count_only_separated_pairs(self):
        # Real: system 100, a 60, b 59.9 (a and b not separated). Warm predicts a faster than
        # system (agrees) and b slower than system (disagrees).
        b_times = [59.9 + (-0.3 if r % 2 else 0.3) for r in range(6)]  # pairs with a alternate in sign
        doc = document(kinds({"system": steady(100), "a": steady(60), "b": b_times},
                             {"system": steady(20), "a": steady(10), "b": steady(25)},
                             {"system": steady(20), "a": steady(10), "b": steady(15)},
                             {"system": steady(1), "a": steady(1), "b": steady(1)}))
        counts = fidelity.ranking(doc, CASE, ["system", "a", "b"], "real_time_ns")
        self.assertEqual(counts["warm"], (1, 2))
        self.assertEqual(counts["cold"], (2, 2))

    def test_table_marks_misses_and_totals_them(self):
        doc = document(kinds({"system": steady(100), "fast": steady(60)},
                             {"system": steady(20), "fast": steady(10)},
                             {"system": steady(60), "fast": steady(22)},
                             {"system": steady(5), "fast": steady(6)}))
        analysed = [fidelity.analyse_case(doc, CASE, ["system", "fast"], "real_time_ns")]
        text = fidelity.table(analysed, "wall")
        row = next(line for line in text.splitlines() if line.startswith(f"| {CASE} | fast"))
        self.assertIn("+40.0", row)
        self.assertIn("+10.0 (0.25×) ✗", row)  # warm: a quarter of the real saving
        self.assertIn("+38.0 (0.95×) |", row)  # cold: within tolerance
        self.assertIn("| **within ±30 %** | | | 0/1 | 0/1 | 1/1 | 1/1 |", text)
        self.assertIn("| **inside the real 95 % CI** | | | 0/1 | 0/1 | 0/1 | 0/1 |", text)  # the interval is 40…40
        self.assertIn("| **rankings agree** (separated pairs) | | | 1/1 | 1/1 | 1/1 | 1/1 |", text)
        self.assertIn("the program takes 100.0 ms wall, a warm replay of its trace 20.0 ms (20%)", text)


    def test_a_miss_inside_the_real_interval_is_marked_so(self):
        # Real saving 40 ms, 20 to 60 over the rounds: a prediction of 55 misses ±30 % but lies
        # inside the interval; one of 70 lies outside it.
        doc = document(kinds({"system": steady(100), "fast": [80, 40, 60, 60, 60, 60, 40, 40, 40, 60]},
                             {"system": steady(100, 10), "fast": steady(45, 10)},
                             {"system": steady(100, 10), "fast": steady(30, 10)},
                             {"system": steady(5, 10), "fast": steady(5, 10)}))
        analysed = [fidelity.analyse_case(doc, CASE, ["system", "fast"], "real_time_ns")]
        row = analysed[0]["rows"][0]
        self.assertTrue(row["real_separated"])
        self.assertAlmostEqual(row["real"]["value"] / 1e6, 40)
        self.assertTrue(row["real"]["low"] / 1e6 < 55 < row["real"]["high"] / 1e6 < 70)
        self.assertEqual((row["warm"]["within"], row["warm"]["inside_interval"]), (False, True))
        self.assertEqual((row["cold"]["within"], row["cold"]["inside_interval"]), (False, False))
        text = fidelity.table(analysed, "wall")
        cells = next(line for line in text.splitlines() if line.startswith(f"| {CASE} | fast")).rstrip(" |").split(" | ")
        self.assertEqual(cells[3:], ["+55.0 (1.38×) ✗ in CI"] * 2 + ["+70.0 (1.75×) ✗"] * 2)

    def test_real_savings_alone_without_models(self):
        doc = document(kinds({"system": steady(100), "fast": steady(60)}, {}, {}, {}))
        analysed = [fidelity.analyse_case(doc, CASE, ["system", "fast"], "real_time_ns", models={})]
        self.assertEqual(set(analysed[0]["rows"][0]), {"allocator", "real", "real_separated"})
        text = fidelity.table(analysed, "wall", models={})
        self.assertIn(f"| {CASE} | fast | +40.0 (+40.0…+40.0) |", text)
        self.assertNotIn("within", text)


class FaultTest(unittest.TestCase):
    def test_faults_are_differences_from_the_reference_per_process_kind(self):
        # Program: system 1000 faults, lean 400; cold replay process: system 3000, lean 2500 in
        # most rounds (the median), of which the timed replay took 1000 fewer; no cold replay of
        # `other`.
        runs = [{"workload": f"{CASE}/{kind}", "allocator": allocator, "threads": 1,
                 "samples": [{"round": r, fidelity.FAULTS: f, fidelity.REPLAY_FAULTS: f - 1000}
                             for r, f in enumerate(faults)]}
                for kind, allocator, faults in ((fidelity.PROGRAM, "system", [1000, 1002, 998]),
                                                (fidelity.PROGRAM, "lean", [400, 400, 401]),
                                                (fidelity.PROGRAM, "other", [1500, 1500, 1500]),
                                                (fidelity.COLD, "system", [3000, 3000, 3000]),
                                                (fidelity.COLD, "lean", [2500, 2600, 2500]))]
        doc = {"schema": results.SCHEMA, "schema_version": 1, "runs": runs, "failures": []}
        analysed = fidelity.fault_differences(doc, [CASE], ["system", "lean", "other"])
        program, process, replay = (heading for heading, _, _ in fidelity.FAULT_COLUMNS)
        self.assertEqual(analysed[0]["reference"], {program: 1000, process: 3000, replay: 2000})
        rows = {row["allocator"]: row for row in analysed[0]["rows"]}
        self.assertEqual(rows["lean"], {"allocator": "lean", program: -600, process: -500, replay: -500})
        self.assertEqual(rows["other"], {"allocator": "other", program: 500, process: None, replay: None})
        text = fidelity.fault_table(analysed, ["system", "lean", "other"])
        self.assertIn(f"| {CASE} | 1000 / 3000 / 2000 | -600 / -500 / -500 | +500 / – / – |", text)
        only_program = fidelity.FAULT_COLUMNS[:1]
        text = fidelity.fault_table(fidelity.fault_differences(doc, [CASE], ["system", "lean"], only_program),
                                    ["system", "lean"], only_program)
        self.assertIn(f"| {CASE} | 1000 | -600 |", text)


class CommandTest(CommandTestCase):
    def test_unknown_case_and_missing_program_are_clear_errors(self):
        with tempfile.TemporaryDirectory() as out:
            proc = run_bench("fidelity", "--no-build", "--build-dir", build_dir(), "--cases", "nope",
                             "--out", os.path.join(out, "a"))
            self.assertCleanError(proc, "no shipped case nope")
            self.assertEqual(proc.returncode, 2)
            proc = run_bench("fidelity", "--no-build", "--build-dir", build_dir(), "--out", os.path.join(out, "b"),
                             "--", "no-such-program-here")
            self.assertCleanError(proc, "program 'no-such-program-here' not found")
            self.assertEqual(proc.returncode, 2)
            proc = run_bench("fidelity", "--no-build", "--build-dir", build_dir(), "--allocators", "mem_io",
                             "--out", os.path.join(out, "c"), "--", "true")
            self.assertCleanError(proc, "must include system")
            proc = run_bench("fidelity", "--no-build", "--build-dir", build_dir(), "--name", "a/b",
                             "--out", os.path.join(out, "d"), "--", "true")
            self.assertCleanError(proc, "--name 'a/b': give a plain name")
            proc = run_bench("fidelity", "--no-build", "--build-dir", build_dir(), "--real-only", "--record",
                             "--out", os.path.join(out, "e"))
            self.assertCleanError(proc, "--real-only runs no replays")
            self.assertEqual(proc.returncode, 2)

    def test_real_only_runs_the_programs_alone(self):
        with tempfile.TemporaryDirectory() as scratch:
            proc = run_bench("fidelity", "--no-build", "--build-dir", build_dir(), "--allocators", "system,mem_io",
                             "--repetitions", "2", "--seed", "1", "--out", "out", "--real-only", "--", "true",
                             timeout=120, cwd=scratch)
            self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])
            self.assertIn("| true | mem_io |", proc.stdout)
            self.assertNotIn("within ±30 %", proc.stdout)
            out = os.path.join(scratch, "out")
            self.assertFalse(os.path.exists(os.path.join(out, "traces")))  # nothing recorded
            document = results.load(os.path.join(out, "results.json"))
            self.assertEqual({run["workload"] for run in document["runs"]}, {"true/program"})
            self.assertEqual(len(results.find_run(document, "true/program", "mem_io", 1)["samples"]), 2)

    def test_smoke_run_on_a_tiny_program(self):
        # Run from another folder with relative paths: the program sees the caller's folder.
        with tempfile.TemporaryDirectory() as scratch:
            for name, first in (("numbers.txt", 0), ("more.txt", 5000)):
                with open(os.path.join(scratch, name), "w", encoding="utf-8") as handle:
                    handle.write("\n".join(str((k * 7919) % 5000 + first) for k in range(5000)) + "\n")
            proc = run_bench("fidelity", "--no-build", "--build-dir", build_dir(), "--allocators", "system,mem_io",
                             "--repetitions", "2", "--warm-replays", "2", "--seed", "1", "--out", "out",
                             "--stdin", "numbers.txt", "--", "sort", "-n", "-", "more.txt", timeout=280, cwd=scratch)
            self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])
            self.assertIn("| sort | mem_io |", proc.stdout)
            out = os.path.join(scratch, "out")
            with open(os.path.join(out, "fidelity.json"), encoding="utf-8") as handle:
                analysed = json.load(handle)
            row = analysed["wall"][0]["rows"][0]
            self.assertEqual(row["allocator"], "mem_io")
            self.assertTrue(all(row[model] for model in fidelity.MODELS))
            self.assertTrue(os.path.isfile(os.path.join(out, "traces", "sort.trace.gz")))
            document = results.load(os.path.join(out, "results.json"))
            cold = results.find_run(document, "sort/cold", "system", 1)
            self.assertEqual(len(cold["samples"]), 2)  # one cold replay per process, one process per round
            program = results.find_run(document, "sort/program", "system", 1)
            for run in (cold, program):  # a process's page faults: at least the pages its binary touched
                self.assertTrue(all(s[fidelity.FAULTS] > 50 for s in run["samples"]), run["samples"])
            faults = analysed["faults"][0]
            self.assertEqual([row["allocator"] for row in faults["rows"]], ["mem_io"])
            self.assertIn("## minor page faults", proc.stdout)


if __name__ == "__main__":
    unittest.main()

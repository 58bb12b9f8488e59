"""mtrace_import.py on a log that glibc's libc_malloc_debug.so writes for known_allocations.c
inside the test, and on hand-written logs with oddities and syntax errors."""
import os
import subprocess
import unittest

from workloads.tools.tests.support import ScratchDirectoryTest, built, op_counts, replay, run_bench, validate

MALLOC_DEBUG = "/usr/lib/x86_64-linux-gnu/libc_malloc_debug.so.0"


class MtraceImportTest(ScratchDirectoryTest):
    def write_log(self, text):
        log = self.path("hand.log")
        with open(log, "w") as out:
            out.write(text)
        return log

    def import_log(self, log, output, *options):
        return run_bench("import-mtrace", log, "-o", output, *options, timeout=60)

    def import_body(self, log, output):
        """Imports log, which must succeed; returns the trace's lines but comments, and the result."""
        result = self.import_log(log, output)
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(output) as lines:
            return [line.strip() for line in lines if not line.startswith("#")], result

    def assert_refused(self, log, message, *options):
        """Importing log exits with status 2, names the problem, and leaves no trace file behind."""
        output = self.path("x.trace")
        result = self.import_log(log, output, *options)
        self.assertEqual(result.returncode, 2)
        self.assertIn(message, result.stderr)
        self.assertFalse(os.path.exists(output))

    def test_log_of_known_program_imports_and_replays(self):
        log = self.path("known.log")
        environment = dict(os.environ, LD_PRELOAD=MALLOC_DEBUG, MALLOC_TRACE=log)
        subprocess.run([built("KNOWN_ALLOCATIONS"), "mtrace"], env=environment, check=True, timeout=60)
        trace = self.path("known.trace.gz")
        result = self.import_log(log, trace)
        self.assertEqual(result.returncode, 0, result.stderr)
        # mtrace writes calloc and the aligned calls as plain allocations
        self.assertEqual(op_counts(trace), {"m": 14, "r": 1, "f": 14})
        self.assertEqual(validate(trace), (29, 1, 1000 + 240 + 100 + 200 + 5000))
        replay(trace)

    def test_reused_address_gets_a_new_block_and_oddities_are_counted(self):
        log = self.write_log(
            "= Start\n"
            "@ ./app:[0x1166] + 0x1000 0x20\n"
            "@ ./app:[0x1180] - 0x1000\n"
            "@ /lib/libc.so.6:(fn+0x1f)[0x7f00] + 0x1000 0x40\n"  # same address, new block
            "@ [0x7f10] - 0x2000\n"  # never allocated
            "@ ./app:[0x1190] + (nil) 0x100000\n"  # failed
            "@ ./app:[0x11a0] < 0x1000\n"
            "@ ./app:[0x11a0] > 0x3000 0x80\n"
            "@ ./app:[0x11b0] ! 0x3000 0x1000000\n"  # failed realloc
            "= End\n"
        )
        trace = self.path("hand.trace")
        body, result = self.import_body(log, trace)
        self.assertEqual(body, ["mem_io-trace 1", "0 m 1 32", "0 f 1", "0 m 2 64", "0 r 2 128"])
        self.assertIn("1 x free of an address the log never allocated (skipped), first at %s:5" % log, result.stderr)
        self.assertIn("first at %s:6" % log, result.stderr)
        self.assertIn("first at %s:9" % log, result.stderr)
        self.assertEqual(validate(trace), (4, 1, 128))

    def test_missed_free_is_inserted_before_a_block_arrives_at_a_live_address(self):
        log = self.write_log(
            "= Start\n"
            "@ ./app:[0x1166] + 0x1000 0x20\n"
            "@ ./app:[0x1166] + 0x1000 0x40\n"  # malloc at a live address: its free was missed
            "@ ./app:[0x1166] + 0x2000 0x10\n"
            "@ ./app:[0x11a0] < 0x2000\n"
            "@ ./app:[0x11a0] > 0x1000 0x80\n"  # realloc moving onto a live address
            "= End\n"
        )
        body, result = self.import_body(log, self.path("missed.trace"))
        self.assertEqual(body, ["mem_io-trace 1", "0 m 1 32", "0 f 1", "0 m 2 64", "0 m 3 16", "0 f 2", "0 r 3 128"])
        self.assertIn("2 x allocation at a live address (missed free inserted)", result.stderr)

    def test_strict_turns_an_oddity_into_an_error(self):
        log = self.write_log("= Start\n@ [0x7f10] - 0x2000\n")
        self.assert_refused(log, "%s:2: free of an address the log never allocated" % log, "--strict")

    def test_malformed_line_is_reported_with_its_number(self):
        log = self.write_log("= Start\n@ ./app:[0x1] + 0x10 0x20\n@ ./app:[0x2] + 0x10\n")
        self.assert_refused(log, "%s:3: '+' needs a size" % log)
        log = self.write_log("= Start\nsomething else\n")
        self.assert_refused(log, "%s:2: not an mtrace line: 'something else'" % log)

    def test_log_without_allocations_is_refused(self):
        log = self.write_log("= Start\n= End\n")
        self.assert_refused(log, "%s: no allocation calls to import" % log)

    def test_missing_log_and_unwritable_output(self):
        result = self.import_log(self.path("none.log"), self.path("x.trace"))
        self.assertEqual(result.returncode, 2)
        self.assertIn("cannot read %s" % self.path("none.log"), result.stderr)
        log = self.write_log("= Start\n@ ./app:[0x1] + 0x10 0x20\n= End\n")
        result = self.import_log(log, self.path("no-dir/x.trace"))
        self.assertEqual(result.returncode, 2)
        self.assertIn("cannot write %s" % self.path("no-dir/x.trace"), result.stderr)


if __name__ == "__main__":
    unittest.main()

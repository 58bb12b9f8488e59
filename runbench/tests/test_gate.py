"""`check` does not fail against its own baseline and fails, naming the workload, when a regression
is injected: an LD_PRELOAD library built here stands in for mem_io and burns time or pads blocks.
(Its instruction counts come through the system adapter's entry points, malloc & co.)"""
import os
import subprocess
import tempfile
import unittest

from runbench.tests.support import CommandTestCase, build_dir, run_bench, write_trace

# Forwards to glibc; RUNBENCH_TEST_SPIN adds a busy loop to every call, RUNBENCH_TEST_PAD adds bytes
# to every block.
WRAPPER_SOURCE = r"""
#include <stddef.h>
#include <stdlib.h>
extern void *__libc_malloc(size_t), *__libc_calloc(size_t, size_t), *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
static long spin = -1, pad = -1;
static void configure(void) {
    if (spin >= 0) return;
    const char *s = getenv("RUNBENCH_TEST_SPIN"), *p = getenv("RUNBENCH_TEST_PAD");
    pad = p ? atol(p) : 0;
    spin = s ? atol(s) : 0;
}
static void burn(void) { for (volatile long i = 0; i < spin; i++) {} }
void *malloc(size_t n) { configure(); burn(); return __libc_malloc(n + pad); }
void *calloc(size_t c, size_t n) { configure(); burn(); return c && n > ((size_t)-1 - pad) / c ? NULL : __libc_calloc(1, c * n + pad); }
void *realloc(void *p, size_t n) { configure(); burn(); return __libc_realloc(p, n + pad); }
void free(void *p) { configure(); burn(); __libc_free(p); }
"""
ROUNDS = "6"  # the fewest that give the timed verdicts a 95 % interval


class GateTest(CommandTestCase):
    @classmethod
    def setUpClass(cls):
        cls.scratch = tempfile.TemporaryDirectory()
        cls.library = os.path.join(cls.scratch.name, "libwrapper.so")
        source = os.path.join(cls.scratch.name, "wrapper.c")
        with open(source, "w", encoding="utf-8") as handle:
            handle.write(WRAPPER_SOURCE)
        subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", cls.library, source], check=True)
        # Single-threaded: the CPU time of cross-thread waits varies with scheduling and would
        # blur a test that must not fail from noise.
        cls.trace = write_trace(os.path.join(cls.scratch.name, "gated.trace"), blocks=50000, live=2000,
                                cross_thread=False)
        cls.baseline = os.path.join(cls.scratch.name, "baseline.json")
        proc = cls.check("--update-baseline")
        if proc.returncode != 0:
            raise AssertionError(f"making the baseline failed:\n{proc.stdout}\n{proc.stderr}")

    @classmethod
    def tearDownClass(cls):
        cls.scratch.cleanup()

    @classmethod
    def check(cls, *args, **environment):
        return run_bench("check", "--no-build", "--build-dir", build_dir(), "--baseline", cls.baseline,
                         "--candidate", f"wrapper={cls.library}", "--workloads", cls.trace,
                         "--repetitions", ROUNDS, *args, env=dict(os.environ, **environment))

    def test_same_code_does_not_fail(self):
        # 6 rounds of timings may leave a throughput interval across its threshold (exit 4,
        # inconclusive); the counted metrics and memory must pass.
        proc = self.check()
        self.assertIn(proc.returncode, (0, 4), proc.stdout + proc.stderr)
        self.assertNotIn("FAIL", proc.stdout)
        self.assertRegex(proc.stdout, r"gated\s+instructions/op\s.*pass")

    def test_slow_allocator_fails_naming_workload_and_throughput(self):
        proc = self.check(RUNBENCH_TEST_SPIN="3000")
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertRegex(proc.stdout, r"gated\s+throughput\s.*FAIL")
        self.assertRegex(proc.stdout, r"gated\s+instructions/op\s.*FAIL")
        self.assertIn("check: FAILED", proc.stdout)

    def test_wasteful_allocator_fails_naming_workload_and_memory(self):
        proc = self.check(RUNBENCH_TEST_PAD="4096")
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertRegex(proc.stdout, r"gated\s+peak RSS\s.*FAIL")


if __name__ == "__main__":
    unittest.main()

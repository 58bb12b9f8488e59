"""run_bench.py record with libmem_io_recorder.so on small programs whose allocations are known
(tests/*.c, built by CMake): counts, ideal bytes, cross-thread frees, fork, exec, errors."""
import os
import unittest

from workloads.tools import record
from runbench import REPO_ROOT
from workloads.tools.tests.support import (REPLAY, ScratchDirectoryTest, built, op_counts, operations, replay, run_bench,
                                           validate)

# known_allocations.c: 10 malloc(100), calloc(10, 24), aligned_alloc(4096, 100),
# posix_memalign(64, 200), malloc(16) grown by realloc to 5000, then 14 frees (one by realloc(p, 0)).
KNOWN_COUNTS = {"m": 11, "c": 1, "a": 2, "r": 1, "f": 14}
KNOWN_IDEAL = 1000 + 240 + 100 + 200 + 5000


class RecordTest(ScratchDirectoryTest):
    def record(self, output, command, *options, library=True, environment=None):
        """Runs the record subcommand; library=True passes the built recorder, a path passes that
        path, None lets it build or find one (options then say where)."""
        chosen = ["--library", built("RECORDER_LIBRARY") if library is True else library] if library else []
        return run_bench("record", *chosen, "-o", output, *options, "--", *command, environment=environment)

    def test_known_program_gives_exact_counts_and_ideal_bytes(self):
        trace = self.path("known.trace.gz")
        result = self.record(trace, [built("KNOWN_ALLOCATIONS")])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertNotIn(" x ", result.stderr)  # nothing repaired or skipped
        self.assertEqual(op_counts(trace), KNOWN_COUNTS)
        self.assertEqual(validate(trace), (sum(KNOWN_COUNTS.values()), 1, KNOWN_IDEAL))
        alignments = sorted(args[0] for _, op, _, args in operations(trace) if op == "a")
        self.assertEqual(alignments, [64, 4096])

    def test_partly_touched_mmapped_block_records_its_touched_pages(self):
        trace = self.path("touched.trace")
        result = self.record(trace, [built("PARTLY_TOUCHED")])
        self.assertEqual(result.returncode, 0, result.stderr)
        large = [(op, args) for _, op, _, args in operations(trace) if op in "rf" and args[:1] != (0,)]
        # realloc: 2 MiB, and 5 of the old 1 MiB block's 256 pages touched; free: 8 of 512
        # (the first page holds glibc's chunk header, which the first write shares)
        self.assertIn(("r", (2 << 20, 5)), large)
        self.assertIn(("f", (8,)), large)
        replay(trace)

    @unittest.skipUnless(REPLAY, "needs harness/mem_io_replay")
    def test_replay_harness_keeps_its_own_allocations_out_of_malloc(self):
        # mem_io_replay's own blocks (its strings, Google Benchmark's) come from its own heap
        # (harness/src/own_heap.cpp). The benchmark's name holds the label: were they malloc'd,
        # a block at least as long as the label would show, longer than anything the C library
        # and zlib allocate there.
        label = "x" * 100000
        trace = self.path("harness.trace")
        known = os.path.join(REPO_ROOT, "harness", "tests", "data", "known.trace")
        result = self.record(trace, [REPLAY, "--allocator=bump", "--label=" + label, "--trace=" + known, "--cold"])
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        sizes = [args[-1] for _, op, _, args in operations(trace) if op in "mca"]
        self.assertLess(max(sizes), len(label))

    def test_threaded_handoff_records_every_free_on_the_other_thread(self):
        trace = self.path("handoff.trace.gz")
        result = self.record(trace, [built("THREADED_HANDOFF")])
        self.assertEqual(result.returncode, 0, result.stderr)
        _, threads, _ = validate(trace)
        self.assertEqual(threads, 2)
        allocated_by = {}
        cross_thread_frees = 0
        for thread, op, block, _ in operations(trace):
            if op == "m" and block not in allocated_by:
                allocated_by[block] = thread
            elif op == "f":
                cross_thread_frees += allocated_by.pop(block, thread) != thread
        self.assertEqual(cross_thread_frees, 2 * 20000)  # threaded_handoff.c: BLOCKS_PER_THREAD each
        # an address freed by one thread and reused by the other must be ordered free-first:
        # a misordered pair would show as a repaired "allocation at a live address"
        self.assertNotIn("live address", result.stderr)
        replay(trace)

    def test_address_reused_across_threads_is_freed_before_reallocated(self):
        # no tcache and one arena: a block one thread frees goes straight to the other's malloc
        tunables = "glibc.malloc.tcache_count=0:glibc.malloc.arena_max=1"
        trace = self.path("race.trace.gz")
        result = self.record(trace, [built("ADDRESS_RACE")], environment=dict(os.environ, GLIBC_TUNABLES=tunables))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertNotIn("live address", result.stderr)  # a free numbered after the reuse
        self.assertEqual(op_counts(trace).get("f"), 2 * (50000 + 1))  # address_race.c: ROUNDS + 1 per thread
        self.assertEqual(validate(trace)[1], 2)

    def test_forked_child_writes_its_own_trace(self):
        trace = self.path("fork.trace")
        result = self.record(trace, [built("FORKING")], "--children")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(op_counts(trace), {"m": 8, "f": 8})  # 7 x 32 bytes and the 1000-byte block
        children = [name for name in os.listdir(self.directory.name) if name.startswith("fork.") and name != "fork.trace"]
        self.assertEqual(len(children), 1, children)
        child = self.path(children[0])
        self.assertEqual(op_counts(child), {"m": 5, "f": 5})  # the inherited block's free is skipped
        self.assertEqual(validate(child), (10, 1, 5 * 48))
        self.assertIn("free of an address never allocated", result.stderr)

    def test_without_children_option_only_the_parent_is_written(self):
        trace = self.path("fork.trace")
        result = self.record(trace, [built("FORKING")])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(os.listdir(self.directory.name), ["fork.trace"])
        self.assertIn("1 other process image", result.stderr)

    def test_exec_records_the_program_that_ran_last(self):
        trace = self.path("exec.trace")
        result = self.record(trace, ["/bin/sh", "-c", "exec " + built("KNOWN_ALLOCATIONS")])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(op_counts(trace), KNOWN_COUNTS)

    def test_max_ops_keeps_a_valid_prefix_and_frees_the_rest(self):
        trace = self.path("trimmed.trace")
        result = self.record(trace, [built("KNOWN_ALLOCATIONS")], "--max-ops", "12")
        self.assertEqual(result.returncode, 0, result.stderr)
        # first 12 ops: 10 malloc, calloc, aligned_alloc; then the 12 live blocks are freed
        self.assertEqual(op_counts(trace), {"m": 10, "c": 1, "a": 1, "f": 12})
        self.assertEqual(validate(trace), (24, 1, 1000 + 240 + 100))

    def test_corrupt_raw_recording_is_a_clear_error(self):
        raw = self.path("raw.1")
        with open(raw, "wb") as out:
            out.write(record.FILE_HEADER.pack(record.FILE_MAGIC, record.RAW_VERSION, 1))
            out.write(record.CHUNK_HEADER.pack(record.CHUNK_MAGIC, 0, 3, 0))  # claims 3 events
            out.write(record.EVENT.pack(1, 0x1000, 16, 0, record.MALLOC, 0))
        with self.assertRaisesRegex(record.RecordError, "raw.1: corrupt chunk at byte 16"):
            record.RawImage(raw)
        with open(raw, "wb") as out:
            out.write(b"not a recording")
        with self.assertRaisesRegex(record.RecordError, "raw.1: truncated raw file"):
            record.RawImage(raw)

    def test_program_exit_status_is_passed_on(self):
        # the newline in the command must not break the trace's comment line
        result = self.record(self.path("false.trace"), ["/bin/bash", "-c", "true\nexit 3"])
        self.assertEqual(result.returncode, 3, result.stderr)
        self.assertIn("exited with status 3", result.stderr)
        validate(self.path("false.trace"))

    def test_program_without_allocations_writes_no_trace(self):
        result = self.record(self.path("none.trace"), ["/bin/sh", "-c", "exit 0"])  # dash never mallocs here
        self.assertEqual(result.returncode, 2)
        self.assertIn("made no allocation calls that the recorder saw; no trace written", result.stderr)
        self.assertFalse(os.path.exists(self.path("none.trace")))

    def test_missing_program_is_a_clear_error(self):
        result = self.record(self.path("x.trace"), ["no-such-program-mem-io"])
        self.assertEqual(result.returncode, 2)
        self.assertIn("program 'no-such-program-mem-io' not found", result.stderr)

    def test_unwritable_output_is_refused_before_running(self):
        marker = self.path("ran")
        result = self.record(os.path.join(self.path("missing-dir"), "x.trace"), ["/bin/sh", "-c", "touch " + marker])
        self.assertEqual(result.returncode, 2)
        self.assertIn("does not exist", result.stderr)
        self.assertFalse(os.path.exists(marker))

    def test_missing_library_is_a_clear_error(self):
        result = self.record(self.path("x.trace"), ["/bin/true"], library=self.path("libnothere.so"))
        self.assertEqual(result.returncode, 2)
        self.assertIn("recorder library %s does not exist" % self.path("libnothere.so"), result.stderr)

    def test_unbuilt_library_with_no_build_tells_how_to_build_it(self):
        result = self.record(self.path("x.trace"), ["/bin/true"], "--no-build", "--build-dir", self.directory.name,
                             library=None)
        self.assertEqual(result.returncode, 2)
        self.assertIn("build it first", result.stderr)
        self.assertIn("--target mem_io_recorder", result.stderr)

    def test_record_builds_the_recorder_first(self):
        """Without --no-build, record runs the same CMake build as the suite; a cmake that fails
        proves the build was attempted, and its failure has the build's exit status, 3."""
        fake_bin = self.path("bin")
        os.mkdir(fake_bin)
        with open(os.path.join(fake_bin, "cmake"), "w") as script:
            script.write("#!/bin/sh\necho fake cmake refuses >&2\nexit 1\n")
        os.chmod(os.path.join(fake_bin, "cmake"), 0o755)
        environment = dict(os.environ, PATH=fake_bin + os.pathsep + os.environ["PATH"])
        result = self.record(self.path("x.trace"), ["/bin/true"], "--build-dir", self.path("build"),
                             library=None, environment=environment)
        self.assertEqual(result.returncode, 3, result.stderr)
        self.assertIn("building mem_io_recorder", result.stderr)
        self.assertIn("fake cmake refuses", result.stderr)

    def test_no_program_given(self):
        result = self.record(self.path("x.trace"), [])
        self.assertEqual(result.returncode, 2)
        self.assertIn("no program given", result.stderr)


if __name__ == "__main__":
    unittest.main()

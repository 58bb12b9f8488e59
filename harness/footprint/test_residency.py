"""mem_io_residency against hand-written traces: a line's TOUCHED (workloads/FORMAT.md) limits
how much of its block the replay writes, so the peak RSS holds only the pages touched.
The binary's path comes from MEM_IO_RESIDENCY (CMake sets it for ctest)."""
import os
import re
import subprocess
import tempfile
import unittest

BLOCK = 16 << 20  # 4096 pages: touched whole, far above the allocator's own few pages


def residency(lines):
    """mem_io_residency run on a trace of these lines after the header: (exit status, stdout, stderr)."""
    binary = os.environ.get("MEM_IO_RESIDENCY")
    if not binary:
        raise RuntimeError("set MEM_IO_RESIDENCY to the mem_io_residency binary (ctest does)")
    with tempfile.NamedTemporaryFile("w", suffix=".trace") as trace:
        trace.write("mem_io-trace 1\n" + "\n".join(lines) + "\n")
        trace.flush()
        proc = subprocess.run([binary, trace.name], capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stdout, proc.stderr


def peak_over_baseline_mb(lines):
    status, output, errors = residency(lines)
    if status != 0:
        raise AssertionError(f"mem_io_residency exited {status}: {errors}")
    return float(re.search(r"peak RSS over the baseline: (-?[\d.]+) MB", output).group(1))


class TouchedTest(unittest.TestCase):
    def test_a_block_is_written_only_as_far_as_the_line_that_frees_it_says(self):
        self.assertGreater(peak_over_baseline_mb([f"0 m 1 {BLOCK}", "0 f 1"]), BLOCK / 1e6)
        self.assertLess(peak_over_baseline_mb([f"0 m 1 {BLOCK}", "0 f 1 1"]), 1)
        self.assertLess(peak_over_baseline_mb([f"0 m 1 {BLOCK}", f"0 s 1 {BLOCK} 0"]), 1)

    def test_a_reallocated_block_is_written_as_far_as_its_release_says(self):
        # The peak is sampled after every 64th op, so the realloc is op 64.
        before = ["0 m 1 4096", *(f"0 m {block} 16" for block in range(2, 65))]
        self.assertGreater(peak_over_baseline_mb([*before, f"0 r 1 {BLOCK} 1", "0 f 1"]), BLOCK / 1e6)
        self.assertLess(peak_over_baseline_mb([*before, f"0 r 1 {BLOCK} 1", "0 f 1 2"]), 1)


class TraceInputTest(unittest.TestCase):
    def test_block_ids_anywhere_in_64_bits_replay(self):
        # Ids were table indices: the largest one asked for a table of 2^64 pointers.
        largest = 2**64 - 1
        self.assertGreater(peak_over_baseline_mb([f"0 m {largest} {BLOCK}", "0 m 7 16", f"0 f {largest}",
                                                  "0 f 7"]), BLOCK / 1e6)

    def test_a_bad_line_is_named_with_its_place_and_why(self):
        for lines, why in ((["0 m 1 100", "0 x 1"], ":3: unknown op"),
                           (["0 m 1"], ":2: wrong number of fields"),
                           (["0 f 1 2 3"], ":2: wrong number of fields"),
                           ([f"0 c 1 {2**32} {2**32}"], ":2: calloc's COUNT x SIZE overflows")):
            status, output, errors = residency(lines)
            self.assertEqual(status, 1, lines)
            self.assertIn(why, errors)
            self.assertEqual(output, "")

    def test_an_allocation_mem_io_refuses_is_an_error_not_a_crash(self):
        status, _, errors = residency([f"0 m 1 {2**63}"])  # past PTRDIFF_MAX: refused anywhere
        self.assertEqual(status, 1)
        self.assertIn(f"could not allocate {2**63} bytes (operation 1)", errors)


if __name__ == "__main__":
    unittest.main()

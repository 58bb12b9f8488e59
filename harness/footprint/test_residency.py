"""mem_io_residency against hand-written traces: a line's TOUCHED (workloads/FORMAT.md) limits
how much of its block the replay writes, so the peak RSS holds only the pages touched.
The binary's path comes from MEM_IO_RESIDENCY (CMake sets it for ctest)."""
import os
import re
import subprocess
import tempfile
import unittest

BLOCK = 16 << 20  # 4096 pages: touched whole, far above the allocator's own few pages


def peak_over_baseline_mb(lines):
    binary = os.environ.get("MEM_IO_RESIDENCY")
    if not binary:
        raise RuntimeError("set MEM_IO_RESIDENCY to the mem_io_residency binary (ctest does)")
    with tempfile.NamedTemporaryFile("w", suffix=".trace") as trace:
        trace.write("mem_io-trace 1\n" + "\n".join(lines) + "\n")
        trace.flush()
        output = subprocess.run([binary, trace.name], capture_output=True, text=True, check=True).stdout
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


if __name__ == "__main__":
    unittest.main()

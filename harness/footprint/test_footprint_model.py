"""footprint_model.py on small traces whose figures can be worked out by hand."""
import io
import os
import re
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout

from harness.footprint import footprint_model


class FootprintModelTest(unittest.TestCase):
    def write_trace(self, lines):
        handle, path = tempfile.mkstemp(suffix=".trace")
        self.addCleanup(os.remove, path)
        with os.fdopen(handle, "w") as out:
            out.write("mem_io-trace 1\n" + "\n".join(lines) + "\n")
        return path

    def test_class_sizes_follow_the_allocator_table(self):
        source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "allocator", "src", "size_classes.c")
        with open(source) as text:
            table = re.search(r"class_size\[NUM_CLASSES\] = \{([^}]*)\}", text.read()).group(1)
        sizes = [int(size) for size in table.replace(",", " ").split()]
        self.assertEqual(len(sizes), 64)
        for n in range(0, footprint_model.SMALL_MAX + 1):
            self.assertEqual(footprint_model.class_size(n), min(s for s in sizes if s >= max(n, 1)), n)

    def test_two_classes_that_peak_apart(self):
        # 1000 blocks of 16 bytes, all freed, then 1000 of 32 bytes: the live peak is the
        # second phase, but a size-class allocator keeps both classes' pages.
        lines = ["0 m %d 16" % i for i in range(1000)] + ["0 f %d" % i for i in range(1000)]
        lines += ["0 m %d 32" % i for i in range(1000, 2000)]
        events = list(footprint_model.small_blocks(self.write_trace(lines)))
        self.assertEqual(footprint_model.class_peaks(events), (32000, 16000 + 32000))
        # 64 KiB pages: 16 000 bytes carved in 4 KiB steps touch 16 KiB, 32 000 touch 32 KiB
        # (the emptied 16-byte page is its class's only one, so it stays there).
        self.assertEqual(footprint_model.model_footprint(events, 65536), 16384 + 32768)
        # 4 KiB pages: emptied pages move to the 32-byte class, so the footprint is the
        # 32-byte phase's 8 pages plus one page the 16-byte class keeps.
        self.assertEqual(footprint_model.model_footprint(events, 4096), (8 + 1) * 4096)

    def test_bad_trace_is_reported_with_its_line(self):
        path = self.write_trace(["0 f 7"])
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            status = footprint_model.main([path])
        self.assertEqual(status, 1)
        self.assertIn("%s:2: f of block 7, which is not live" % path, err.getvalue())


if __name__ == "__main__":
    unittest.main()

"""rss_breakdown's parsing and grouping against a hand-written smaps sample, and a real run."""
import sys
import unittest

from harness.footprint import rss_breakdown

SMAPS = """\
55d0c0000000-55d0c0001000 r--p 00000000 fe:00 42                         /usr/bin/prog
Rss:                   4 kB
55d0c1000000-55d0c1021000 rw-p 00000000 00:00 0                          [heap]
Rss:                  28 kB
2c1c00000000-2c1c00010000 rw-p 00000000 00:00 0 
Rss:                   4 kB
2c1c02000000-2c1c04000000 rw-p 00000000 00:00 0 
Rss:                  44 kB
2c2c00000000-2c2c01000000 rw-p 00000000 00:00 0 
Rss:                  80 kB
7fd591444000-7fd591447000 r--p 00000000 fe:00 7    /lib/libmem_io.so.0.1
Rss:                  12 kB
7fd591447000-7fd591458000 r-xp 00003000 fe:00 7    /lib/libmem_io.so.0.1
Rss:                  68 kB
7fd591463000-7fd5915a9000 rw-p 00000000 00:00 0 
Rss:                  16 kB
"""


class BreakdownTest(unittest.TestCase):
    def test_groups_by_kind(self):
        kinds = rss_breakdown.breakdown(rss_breakdown.parse_smaps(SMAPS))
        self.assertEqual(kinds, {
            "file prog": 4, "[heap]": 28, "mem_io page descriptors": 4,
            "mem_io small pages": 44,
            "mem_io range +65536 MiB": 80, "file libmem_io.so.0.1": 80,
            "other anonymous": 16})

    def test_no_mem_io_ranges(self):
        text = "7f0000000000-7f0000001000 rw-p 00000000 00:00 0 \nRss: 8 kB\n"
        self.assertEqual(rss_breakdown.breakdown(rss_breakdown.parse_smaps(text)),
                         {"other anonymous": 8})

    def test_run_keeps_the_highest_sample(self):
        grow = "b = bytearray(64 << 20); b[::4096] = b'x' * 16384; import time; time.sleep(0.3)"
        status, mappings = rss_breakdown.peak_sample([sys.executable, "-c", grow], 0.005)
        self.assertEqual(status, 0)
        self.assertGreater(sum(rss for _, _, rss in mappings), 64 << 10)  # KiB

    def test_bad_interval_is_a_usage_error(self):
        with self.assertRaises(SystemExit) as exit_:
            rss_breakdown.main(["--interval-ms", "0", "true"])
        self.assertEqual(exit_.exception.code, 2)


if __name__ == "__main__":
    unittest.main()

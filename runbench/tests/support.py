"""Helpers shared by the run_bench tests: the build tree under test, running run_bench.py, traces."""
import os
import subprocess
import unittest

from runbench import REPO_ROOT

RUN_BENCH = os.path.join(REPO_ROOT, "run_bench.py")
PYTHON = "/usr/bin/python3"


def build_dir():
    """The build tree ctest runs in (MEM_IO_BUILD_DIR, set by runbench/CMakeLists.txt)."""
    path = os.environ.get("MEM_IO_BUILD_DIR")
    if not path:
        raise unittest.SkipTest("MEM_IO_BUILD_DIR is not set; run these tests through ctest")
    return path


def run_bench(*args, env=None, timeout=240, cwd=REPO_ROOT):
    return subprocess.run([PYTHON, RUN_BENCH, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, env=env, timeout=timeout, cwd=cwd)


def write_trace(path, blocks=4000, live=200, cross_thread=True):
    """A small valid trace: thread 0 allocates mixed sizes keeping `live` blocks alive and frees
    them; with cross_thread, thread 1 frees every eighth block instead."""
    sizes = (16, 24, 40, 64, 100, 256, 700, 3000)
    lines = ["mem_io-trace 1"]
    for block in range(blocks):
        lines.append(f"0 m {block} {sizes[block % len(sizes)]}")
        old = block - live
        if old >= 0:
            lines.append(f"{1 if cross_thread and old % 8 == 0 else 0} f {old}")
    lines.extend(f"0 f {block}" for block in range(max(blocks - live, 0), blocks))
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


class CommandTestCase(unittest.TestCase):
    def assertCleanError(self, proc, *fragments):
        """A clear one-line error: non-zero exit, the fragments in stderr, never a traceback."""
        self.assertNotEqual(proc.returncode, 0, proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)
        for fragment in fragments:
            self.assertIn(fragment, proc.stderr)

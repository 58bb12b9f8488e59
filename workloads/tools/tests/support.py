"""Helpers shared by the recorder and importer tests: where the built programs are, a scratch
directory per test, and how a trace is validated (by the harness's replayer when it was built, else
by tracefile.check)."""
import os
import re
import subprocess
import sys
import tempfile
import unittest

from runbench import REPO_ROOT
from workloads.tools import tracefile

TOOLS = os.path.join(REPO_ROOT, "workloads", "tools")
RUN_BENCH = os.path.join(REPO_ROOT, "run_bench.py")

REPLAY = os.environ.get("MEM_IO_REPLAY")  # set by CMake when harness/mem_io_replay is built


class ScratchDirectoryTest(unittest.TestCase):
    """Each test gets a fresh temporary directory, removed afterwards; path(name) is a file in it."""

    def setUp(self):
        self.directory = tempfile.TemporaryDirectory(prefix="mem_io_%s." % type(self).__name__)
        self.addCleanup(self.directory.cleanup)

    def path(self, name):
        return os.path.join(self.directory.name, name)


def built(name):
    """Path of a program CMake built for the tests (passed as an environment variable)."""
    path = os.environ.get(name)
    if not path or not os.path.exists(path):
        raise RuntimeError("environment variable %s must name a built file; run the tests through ctest" % name)
    return path


def run_bench(*arguments, environment=None, timeout=120):
    """Runs `run_bench.py ARGUMENTS` (the record and import-mtrace subcommands) from another folder."""
    return subprocess.run([sys.executable, RUN_BENCH, *arguments], capture_output=True, text=True,
                          timeout=timeout, env=environment, cwd=tempfile.gettempdir())


def validate(path):
    """(operations, threads, ideal bytes) of a trace that the replayer's loader accepts."""
    if not REPLAY:
        return tracefile.check(path)
    result = subprocess.run([REPLAY, "--allocator=system", "--trace=" + path, "--check"], capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError("mem_io_replay --check rejected %s: %s" % (path, result.stderr.strip()))
    match = re.search(r"ok: (\d+) ops, (\d+) threads, ideal (\d+) bytes", result.stdout)
    if not match:
        raise AssertionError("unexpected mem_io_replay --check output: %r" % result.stdout)
    return tuple(int(group) for group in match.groups())


def replay(path):
    """Replays a trace on the system allocator once; fails the test if the replay fails.
    Without the replayer only validation is possible, and that is done instead."""
    if not REPLAY:
        tracefile.check(path)
        return
    result = subprocess.run([REPLAY, "--allocator=system", "--trace=" + path, "--benchmark_min_time=0.01"],
                            capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise AssertionError("mem_io_replay failed on %s: %s" % (path, result.stderr.strip()))


def operations(path):
    """The trace's operations as (thread, op, block, args) tuples."""
    result = []
    with tracefile.open_text(path, "r") as lines:
        for line in lines:
            fields = line.split("#", 1)[0].split()
            if len(fields) >= 3 and fields[1] in "mcarfs":
                result.append((int(fields[0]), fields[1], int(fields[2]), tuple(int(f) for f in fields[3:])))
    return result


def op_counts(path):
    counts = {}
    for _, op, _, _ in operations(path):
        counts[op] = counts.get(op, 0) + 1
    return counts

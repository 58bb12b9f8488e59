"""Instruction counts from valgrind's callgrind: exact and repeatable where wall time on a shared
machine is not. Used by the gate (`replay_cost`) and by harness/fastpath/callgrind_pairs.py
(`instructions`)."""
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

from runbench import harness
from runbench.errors import UsageError

COLLECTED = re.compile(r"Collected : (\d+)")
# The functions each harness adapter calls for the trace's operations. Collection is switched on
# while one of them runs (callees included), so the replay loop, its spin-waits, the trace
# decoding and the touching of blocks are not counted.
ENTRY_POINTS = {
    "mem_io": ("mem_io_malloc", "mem_io_calloc", "mem_io_aligned_alloc", "mem_io_realloc", "mem_io_free",
               "mem_io_free_sized"),
    "system": ("malloc", "calloc", "aligned_alloc", "realloc", "free", "free_sized"),
}
# Google Benchmark (1.7) stops at the first iteration that lasts longer than this: one measured
# replay, after the harness's warm-up replay.
ONE_REPLAY_MIN_TIME_S = 1e-9
WARM_UP_REPLAYS = 1
# mem_io returns memory that stayed free for MEM_IO_DECAY_MS (1 s) to the OS. Under callgrind a
# replay runs ~50x slower, so that clock would fire at points a native replay never reaches, and
# at points that depend on the machine's load (realloc_growth's count moved by 5 % between runs).
# Held off for the replay, the count is the same on every run.
DECAY_OFF_ENVIRONMENT = {"MEM_IO_DECAY_MS": str(3600 * 1000)}
STDERR_TAIL_CHARS = 500


class CallgrindError(Exception):
    """valgrind failed or printed no instruction count; the message says which command and why."""


@dataclass(frozen=True)
class ReplayCost:
    instructions: int       # inside the allocator's entry points, every replay of the process
    replayed_ops: int       # trace operations replayed (warm-up included)
    peak_os_bytes: float    # mem_io_peak_os_bytes (None for allocators that do not report it)

    @property
    def instructions_per_op(self):
        return self.instructions / self.replayed_ops


def require_valgrind():
    if shutil.which("valgrind") is None:
        raise UsageError("valgrind is not installed: it counts the gate's instructions "
                         "(apt-get install valgrind, or run without --no-build as root)")


def instructions(command, env=None, toggles=(), timeout_s=None):
    """Instructions `command` executes under callgrind; with `toggles`, only those inside the
    named functions and what they call."""
    with tempfile.TemporaryDirectory(prefix="runbench-callgrind-") as scratch:
        args = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={os.path.join(scratch, 'callgrind.out')}",
                *(f"--toggle-collect={name}" for name in toggles), *command]
        try:
            proc = subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                  errors="replace", timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise CallgrindError(f"{' '.join(command)}: ran longer than {timeout_s} s under callgrind")
    match = COLLECTED.search(proc.stderr)
    if proc.returncode != 0 or not match:
        raise CallgrindError(f"{' '.join(command)} under callgrind exited with {proc.returncode}: "
                             f"{proc.stderr.strip()[-STDERR_TAIL_CHARS:]}")
    return int(match.group(1))


def replay_cost(binary, allocator, workload, timeout_s):
    """Replay `workload` once (after the warm-up replay) against `allocator` under callgrind."""
    toggles = ENTRY_POINTS.get(allocator.harness_allocator)
    if toggles is None:
        raise UsageError(f"allocator '{allocator.name}': callgrind cannot separate the "
                         f"'{allocator.harness_allocator}' adapter's calls from the replay loop")
    job = harness.Job(workload, allocator, threads=1, min_time=ONE_REPLAY_MIN_TIME_S)
    what = f"{workload.name}/{allocator.name} under callgrind"
    with tempfile.TemporaryDirectory(prefix="runbench-") as scratch:
        out_json = os.path.join(scratch, "benchmark.json")
        count = instructions(harness.command(binary, job, out_json, None),
                             env=allocator.environment(dict(os.environ, **DECAY_OFF_ENVIRONMENT)), toggles=toggles,
                             timeout_s=timeout_s)
        _, samples = harness.parse_benchmark_json(out_json, what)
    if len(samples) != 1 or not samples[0].get("ops") or not samples[0].get("iterations"):
        raise CallgrindError(f"{what}: expected one measured run with its ops and iterations in the JSON")
    sample = samples[0]
    return ReplayCost(count, int(sample["ops"]) * (int(sample["iterations"]) + WARM_UP_REPLAYS),
                      sample.get("mem_io_peak_os_bytes"))

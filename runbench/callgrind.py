"""Instruction counts and simulated cache misses from valgrind's callgrind: exact and repeatable
where wall time on a shared machine is not. Used by the gate (`replay_cost`) and by
harness/fastpath/callgrind_pairs.py (`instructions`)."""
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

from runbench import harness
from runbench.errors import UsageError

EVENTS_LINE = re.compile(r"^events: (.+)$", re.MULTILINE)
TOTALS_LINE = re.compile(r"^(?:totals|summary): (.+)$", re.MULTILINE)
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
# The simulated caches, fixed rather than read from the host (valgrind took this VM's L3 as
# direct-mapped, and another machine's caches would give other counts than the baseline's): the
# 2-core EPYC's L1s and its 32 MiB 16-way L3 as the last level. Callgrind simulates the caches for
# every instruction, collected or not, so the replay loop's touching of blocks between calls warms
# and evicts lines as it does natively (churn's D1 write misses inside mem_io: 12 094 with the
# harness's default --touch=pages, 193 478 with --touch=none).
CACHE_SIMULATION = ("--cache-sim=yes", "--I1=32768,8,64", "--D1=49152,12,64", "--LL=33554432,16,64")
L1_MISS_EVENTS = ("I1mr", "D1mr", "D1mw")
LL_MISS_EVENTS = ("ILmr", "DLmr", "DLmw")
# Callgrind's own cycle estimate (kcachegrind's CEst without branches): an L1 miss that hits the
# last level costs about 10 instructions' time, a last-level miss about 100.
L1_MISS_CYCLES = 10
LL_MISS_CYCLES = 100


class CallgrindError(Exception):
    """valgrind failed or printed no instruction count; the message says which command and why."""


@dataclass(frozen=True)
class ReplayCost:
    instructions: int       # inside the allocator's entry points, every replay of the process
    l1_misses: int          # simulated L1 misses (instruction and data) inside them
    ll_misses: int          # simulated last-level misses inside them
    replayed_ops: int       # trace operations replayed (warm-up included)
    peak_os_bytes: float    # mem_io_peak_os_bytes (None for allocators that do not report it)

    @property
    def instructions_per_op(self):
        return self.instructions / self.replayed_ops

    @property
    def estimated_cycles_per_op(self):
        return (self.instructions + L1_MISS_CYCLES * self.l1_misses
                + LL_MISS_CYCLES * self.ll_misses) / self.replayed_ops


def require_valgrind():
    if shutil.which("valgrind") is None:
        raise UsageError("valgrind is not installed: it counts the gate's instructions "
                         "(apt-get install valgrind, or run without --no-build as root)")


def events(command, env=None, toggles=(), timeout_s=None, cache_simulation=False):
    """{event: count} of `command` under callgrind: Ir (instructions), and with `cache_simulation`
    the simulated misses (L1_MISS_EVENTS, LL_MISS_EVENTS) too; with `toggles`, only those inside
    the named functions and what they call."""
    with tempfile.TemporaryDirectory(prefix="runbench-callgrind-") as scratch:
        out_file = os.path.join(scratch, "callgrind.out")
        args = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}",
                *(CACHE_SIMULATION if cache_simulation else ()),
                *(f"--toggle-collect={name}" for name in toggles), *command]
        try:
            proc = subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                  errors="replace", timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise CallgrindError(f"{' '.join(command)}: ran longer than {timeout_s} s under callgrind")
        profile = ""
        if proc.returncode == 0 and os.path.exists(out_file):
            with open(out_file, encoding="utf-8", errors="replace") as handle:
                profile = handle.read()
    names, totals = EVENTS_LINE.search(profile), TOTALS_LINE.search(profile)
    if proc.returncode != 0 or not names or not totals:
        raise CallgrindError(f"{' '.join(command)} under callgrind exited with {proc.returncode}"
                             f"{'' if proc.returncode else ' and wrote no event totals'}: "
                             f"{proc.stderr.strip()[-STDERR_TAIL_CHARS:]}")
    # the format lets a cost line leave off trailing events that are 0
    counts = [int(value) for value in totals.group(1).split()]
    return {name: counts[i] if i < len(counts) else 0 for i, name in enumerate(names.group(1).split())}


def instructions(command, env=None, toggles=(), timeout_s=None):
    """Instructions `command` executes under callgrind; with `toggles`, only those inside the
    named functions and what they call."""
    return events(command, env, toggles, timeout_s)["Ir"]


def replay_cost(binary, allocator, workload, timeout_s):
    """Replay `workload` once (after the warm-up replay) against `allocator` under callgrind,
    with the caches simulated."""
    toggles = ENTRY_POINTS.get(allocator.harness_allocator)
    if toggles is None:
        raise UsageError(f"allocator '{allocator.name}': callgrind cannot separate the "
                         f"'{allocator.harness_allocator}' adapter's calls from the replay loop")
    job = harness.Job(workload, allocator, threads=1, min_time=ONE_REPLAY_MIN_TIME_S)
    what = f"{workload.name}/{allocator.name} under callgrind"
    with tempfile.TemporaryDirectory(prefix="runbench-") as scratch:
        out_json = os.path.join(scratch, "benchmark.json")
        counts = events(harness.command(binary, job, out_json, None),
                        env=allocator.environment(dict(os.environ, **DECAY_OFF_ENVIRONMENT)), toggles=toggles,
                        timeout_s=timeout_s, cache_simulation=True)
        _, samples = harness.parse_benchmark_json(out_json, what)
    if len(samples) != 1 or not samples[0].get("ops") or not samples[0].get("iterations"):
        raise CallgrindError(f"{what}: expected one measured run with its ops and iterations in the JSON")
    sample = samples[0]
    return ReplayCost(counts["Ir"], sum(counts[e] for e in L1_MISS_EVENTS), sum(counts[e] for e in LL_MISS_EVENTS),
                      int(sample["ops"]) * (int(sample["iterations"]) + WARM_UP_REPLAYS),
                      sample.get("mem_io_peak_os_bytes"))

"""Running mem_io_replay (one process per workload, allocator and thread count) and reading its JSON."""
import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from typing import Optional

from runbench.errors import UsageError

HARNESS_RELATIVE_PATH = os.path.join("harness", "mem_io_replay")
# Keys Google Benchmark writes for every run; every other numeric key is a harness counter.
_BENCHMARK_KEYS = {
    "name", "family_index", "per_family_instance_index", "run_name", "run_type", "repetitions",
    "repetition_index", "threads", "iterations", "real_time", "cpu_time", "time_unit",
    "aggregate_name", "aggregate_unit", "error_occurred", "error_message", "label",
}
_NS_PER_UNIT = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
STDERR_TAIL_CHARS = 2000
# Google Benchmark's banner (date, binary, CPU, caches, load, the harness's context keys).
_BANNER = re.compile(r"^(\d{4}-\d\d-\d\dT\S+$|Running |Run on |CPU Caches:|  L\d |Load Average:|\*\*\*WARNING\*\*\*"
                     r"|(allocator|label|ld_preload|ticks_per_ns|touch): )")


class HarnessError(Exception):
    """One harness process failed; the message says which run and why."""


@dataclass
class Job:
    workload: object  # runbench.workloads.Workload
    allocator: object  # runbench.allocators.Allocator
    threads: int
    repetitions: int = 1
    min_time: Optional[float] = None
    timeline: bool = False
    harness_args: tuple = ()  # further mem_io_replay options, e.g. ("--cold",)

    @property
    def key(self):
        return (self.workload.name, self.allocator.name, self.threads)

    def describe(self):
        return f"{self.workload.name}/{self.allocator.name}/threads:{self.threads}"


@dataclass
class JobOutput:
    samples: list  # one dict of metrics per repetition
    context: dict = field(default_factory=dict)
    timeline: Optional[dict] = None


def find_binary(build_dir):
    path = os.path.join(build_dir, HARNESS_RELATIVE_PATH)
    if not os.access(path, os.X_OK):
        raise UsageError(f"harness binary {path} is missing: build the project (drop --no-build) "
                         "or point --build-dir at a build tree")
    return path


def command(binary, job, out_json, timeline_json):
    args = [
        binary,
        f"--allocator={job.allocator.harness_allocator}",
        f"--label={job.allocator.name}",
        f"--trace={job.workload.path}",
        f"--threads={job.threads}",
        f"--benchmark_out={out_json}",
        "--benchmark_out_format=json",
        f"--benchmark_repetitions={job.repetitions}",
    ]
    if job.min_time is not None:
        args.append(f"--benchmark_min_time={job.min_time}")
    if timeline_json:
        args.append(f"--timeline_out={timeline_json}")
    return args + list(job.harness_args)


def run(binary, job, timeout_s, base_env=None):
    """Run one job; return its JobOutput or raise HarnessError."""
    env = job.allocator.environment(os.environ if base_env is None else base_env)
    with tempfile.TemporaryDirectory(prefix="runbench-") as scratch:
        out_json = os.path.join(scratch, "benchmark.json")
        timeline_json = os.path.join(scratch, "timeline.json") if job.timeline else None
        try:
            proc = subprocess.run(command(binary, job, out_json, timeline_json), env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  text=True, errors="replace", timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise HarnessError(f"{job.describe()}: harness ran longer than {timeout_s} s and was stopped")
        if proc.returncode != 0:
            raise HarnessError(f"{job.describe()}: harness exited with {_exit_text(proc.returncode)}: "
                               f"{_problem(proc.stderr) or '(no message)'}")
        context, samples = parse_benchmark_json(out_json, job.describe())
        if not samples:
            raise HarnessError(f"{job.describe()}: harness wrote no measurements to its JSON output")
        timeline = None
        if timeline_json and os.path.exists(timeline_json):
            timeline = first_timeline(_read_json(timeline_json, f"{job.describe()}: timeline"))
        return JobOutput(samples, context, timeline)


def check_trace(binary, path, timeout_s=120):
    """Validate a trace with `mem_io_replay --check`; raise UsageError with the loader's message."""
    proc = subprocess.run([binary, "--allocator=system", f"--trace={path}", "--check"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          errors="replace", timeout=timeout_s)
    if proc.returncode != 0:
        message = proc.stderr.strip() or proc.stdout.strip() or f"exit status {proc.returncode}"
        raise UsageError(f"invalid trace {path}: {message[-STDERR_TAIL_CHARS:]}")
    return proc.stdout.strip()


def trace_threads(check_output):
    """The replay threads of one copy of a trace, from `mem_io_replay --check`'s line
    ('…: ok: 67200 ops, 4 threads, …'), or None when the line does not say."""
    found = re.search(r", (\d+) threads,", check_output)
    return int(found.group(1)) if found else None


def parse_benchmark_json(path, what):
    """Return (context, samples): one sample (dict) per measured repetition, aggregates dropped."""
    document = _read_json(path, what)
    if not isinstance(document, dict) or not isinstance(document.get("benchmarks"), list):
        raise HarnessError(f"{what}: {path} is not Google Benchmark JSON (no 'benchmarks' list)")
    samples = []
    for entry in document["benchmarks"]:
        if entry.get("run_type", "iteration") != "iteration":
            continue
        if entry.get("error_occurred"):
            raise HarnessError(f"{what}: benchmark {entry.get('name')} failed: {entry.get('error_message')}")
        samples.append(_sample(entry))
    return document.get("context", {}), samples


def first_timeline(document):
    """The harness writes {"version": 1, "timelines": [{t_ms, rss_bytes, live_bytes, …}]}; one job has one."""
    timelines = document.get("timelines") if isinstance(document, dict) else None
    if not timelines or not isinstance(timelines[0], dict):
        return None
    return timelines[0]


def _sample(entry):
    sample = {key: value for key, value in entry.items()
              if key not in _BENCHMARK_KEYS and isinstance(value, (int, float)) and not isinstance(value, bool)}
    scale = _NS_PER_UNIT.get(entry.get("time_unit", "ns"), 1.0)
    sample["real_time_ns"] = float(entry.get("real_time", 0.0)) * scale
    if sample.get("cpu_ns_per_op"):
        # Throughput per CPU second of the replay threads: other processes' load barely moves it.
        sample["cpu_ops_per_s"] = 1e9 / sample["cpu_ns_per_op"]
    sample["iterations"] = entry.get("iterations", 0)
    sample["repetition_index"] = entry.get("repetition_index", 0)
    sample["benchmark"] = entry.get("name", "")
    return sample


def _read_json(path, what):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise HarnessError(f"{what}: harness did not write {os.path.basename(path)}")
    except (OSError, ValueError) as error:
        raise HarnessError(f"{what}: cannot read {os.path.basename(path)}: {error}")


def _problem(stderr):
    """The harness's or allocator's complaint, without Google Benchmark's start-up banner."""
    lines = [line for line in stderr.strip().splitlines() if line.strip() and not _BANNER.match(line)]
    return "\n".join(lines)[-STDERR_TAIL_CHARS:]


def _exit_text(returncode):
    if returncode < 0:
        return f"signal {-returncode}"
    return f"status {returncode}"

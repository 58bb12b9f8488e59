"""Fast-path table: CPU nanoseconds per malloc+free pair by size class, for every allocator,
each in its own process, interleaved in random order, median over repetitions.

  /usr/bin/python3 -m harness.fastpath.fastpath --build-dir build/perf
                     [--allocators mem_io,mem_io-preload,system,...] [--repetitions 3] [--min-time 0.1]
                     [--sizes 16,64]
  (from the repository root)

Allocators: mem_io (linked, its own API: mem_io_malloc/mem_io_free), mem_io-preload (its drop-in
libmem_io.so under LD_PRELOAD), system, jemalloc, tcmalloc, mimalloc, NAME=PATH.so; every one
but the first calls plain malloc/free with the library preloaded. Build first:
  cmake --build BUILD --target fastpath_programs
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys

from harness.fastpath import programs
from runbench import allocators as allocator_names
from runbench.errors import UsageError

DEFAULT_ALLOCATORS = "mem_io,mem_io-preload,system,jemalloc,tcmalloc,mimalloc"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", default=programs.DEFAULT_BUILD_DIR)
    parser.add_argument("--allocators", default=DEFAULT_ALLOCATORS)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--min-time", type=float, default=0.1, help="Google Benchmark seconds per benchmark")
    parser.add_argument("--sizes", default=None, help="comma-separated size classes (default: all)")
    args = parser.parse_args(argv)
    if args.repetitions < 1 or args.min_time <= 0:
        parser.error("--repetitions must be at least 1 and --min-time above 0")
    return args


def measure(binary, allocator, min_time, size_filter):
    """One process; returns {(kind, size): cpu ns per pair}."""
    command = [binary, f"--api={programs.api(allocator)}", f"--label={allocator.name}", "--benchmark_format=json",
               f"--benchmark_min_time={min_time}"]
    if size_filter:
        command.append(f"--benchmark_filter=/({'|'.join(size_filter)})$")
    proc = subprocess.run(command, env=allocator.environment(os.environ), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise UsageError(f"{allocator.name}: {' '.join(command)} failed ({proc.returncode}): {proc.stderr.strip()}")
    figures = {}
    for bench in json.loads(proc.stdout)["benchmarks"]:
        kind, _, size = bench["name"].split("/")
        figures[(kind, int(size))] = bench["per_pair"] * 1e9
    return figures


def main(argv=None):
    args = parse_args(argv)
    try:
        binary = programs.built(args.build_dir, "mem_io_fastpath")
        allocators = allocator_names.resolve_all(args.allocators.split(","), args.build_dir)
        sizes = args.sizes.split(",") if args.sizes else None
        samples = {a.name: [] for a in allocators}
        for _ in range(args.repetitions):
            order = list(allocators)
            random.shuffle(order)
            for allocator in order:
                samples[allocator.name].append(measure(binary, allocator, args.min_time, sizes))
                print(f"measured {allocator.name}", file=sys.stderr)
    except UsageError as error:
        print(f"fastpath: {error}", file=sys.stderr)
        return 2
    names = [a.name for a in allocators]
    keys = sorted(samples[names[0]][0], key=lambda k: (k[0] != "pair", k[1]))
    width = max(9, *(len(n) for n in names))
    print(f"CPU ns per malloc+free pair, median of {args.repetitions} processes per allocator")
    print(f"{'benchmark':<12}" + "".join(f"{n:>{width + 1}}" for n in names))
    for key in keys:
        cells = "".join(f"{statistics.median(run[key] for run in samples[n]):>{width + 1}.1f}" for n in names)
        print(f"{key[0] + '/' + str(key[1]):<12}{cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

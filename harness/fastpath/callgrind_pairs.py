"""Exact instructions per malloc+free pair, from valgrind --tool=callgrind.

  /usr/bin/python3 -m harness.fastpath.callgrind_pairs --build-dir build/perf
                     [--allocators mem_io,system,mimalloc] [--sizes 16,64,512,4096]
  (from the repository root)

For each allocator and size it runs fastpath_loop under callgrind twice, with SMALL and LARGE
pair counts, and prints (instructions(LARGE) - instructions(SMALL)) / (LARGE - SMALL): start-up,
the first page faults and exit cancel out, leaving one warmed-up pair. Unlike timings on this
shared 2-core machine, the figure is exact and repeatable. Allocators as in fastpath.py; mem_io
is the linked API, the others call malloc with their library preloaded.

Two tables: "pair" frees each block at once (its page may empty on every free, which sends some
allocators, mimalloc among them, down their page-retire path), and "ring of 100" keeps 100
blocks live and frees the oldest (the steady state of a working set: both calls stay fast).
"""
import argparse
import os
import sys

from harness.fastpath import programs
from runbench import allocators as allocator_names
from runbench import callgrind
from runbench.errors import UsageError

SMALL, LARGE = 10_000, 110_000
RING = 100


def instructions(loop, allocator, size, pairs, live):
    try:
        return callgrind.instructions([loop, programs.api(allocator), str(size), str(pairs), str(live)],
                                      env=allocator.environment(os.environ))
    except callgrind.CallgrindError as error:
        raise UsageError(f"{allocator.name}: {error}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", default=programs.DEFAULT_BUILD_DIR)
    parser.add_argument("--allocators", default="mem_io,mem_io-preload,system,mimalloc,tcmalloc,jemalloc")
    parser.add_argument("--sizes", default="16,64,512,4096")
    args = parser.parse_args(argv)
    try:
        loop = programs.built(args.build_dir, "fastpath_loop")
        try:
            sizes = [int(s) for s in args.sizes.split(",")]
        except ValueError:
            raise UsageError(f"--sizes: '{args.sizes}' is not a comma-separated list of byte counts")
        allocators = allocator_names.resolve_all(args.allocators.split(","), args.build_dir)
        width = max(9, *(len(a.name) for a in allocators))
        for live, title in ((0, "pair: malloc then free at once"), (RING, f"ring of {RING} live blocks")):
            print(f"instructions per malloc+free pair (callgrind, warmed up), {title}")
            print(f"{'size':>6}" + "".join(f"{a.name:>{width + 1}}" for a in allocators))
            for size in sizes:
                cells = []
                for allocator in allocators:
                    extra = (instructions(loop, allocator, size, LARGE, live)
                             - instructions(loop, allocator, size, SMALL, live))
                    cells.append(f"{extra / (LARGE - SMALL):>{width + 1}.1f}")
                print(f"{size:>6}" + "".join(cells), flush=True)
    except UsageError as error:
        print(f"callgrind_pairs: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

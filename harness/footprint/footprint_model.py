"""What mem_io's small pages must hold for a trace, from the trace alone.

A size-class allocator keeps each class's memory for that class: a page serves another class
only once every block in it is free. Its small footprint is therefore about the sum over classes
of each class's own peak, where glibc's one coalescing heap needs about the peak of the sum.
This prints, in MB, for blocks up to 16 KiB (mem_io's small blocks):
  live peak      the peak of live bytes, each block rounded up to its mem_io class
  sum of class peaks   each class's own peak of live bytes, added up
  model P KiB    the bytes touched by a model of mem_io's small pages of P KiB: a queue of pages
                 per class, a free list per page, free lists carved 4 KiB at a time, emptied
                 pages shared by every class with their touched memory still resident (nothing
                 goes back to the OS). mem_io keeps no other per-block metadata in
                 its small pages.
All threads of a trace share one heap here (mem_io gives each thread its own).

    /usr/bin/python3 -m harness.footprint.footprint_model workloads/*/*.trace.gz
    (from the repository root, so that it imports the trace reader, workloads/tools/tracefile.py)
"""
import argparse
import collections
import os
import sys

from workloads.tools import tracefile

SMALL_MAX = 16384
CARVE_BYTES = 4096  # EXTEND_BYTES in allocator/src/internal.h


def class_size(n):
    """mem_io's small class of n bytes (allocator/src/size_classes.c): 16-byte steps up to
    128 bytes, then eight classes per power of two."""
    if n <= 128:
        return max(16, (n + 15) // 16 * 16)
    step = 1 << ((n - 1).bit_length() - 4)
    return (n + step - 1) // step * step


def small_blocks(path):
    """Yields ('m', block, class) and ('f', block, class) for the trace's small blocks."""
    classes = {}
    for _thread, op, block, size in tracefile.read_ops(path):
        old = classes.pop(block, None)
        if old:
            yield "f", block, old
        if op in "mcar" and size <= SMALL_MAX:
            classes[block] = class_size(size)
            yield "m", block, classes[block]


class Page:
    def __init__(self):
        self.touched = 0

    def format(self, size, page_bytes):
        self.size, self.capacity, self.carved, self.free, self.used = size, max(1, page_bytes // size), 0, [], 0


def model_footprint(events, page_bytes):
    """Bytes touched by the page model above, states included, at the end (its peak)."""
    queues, where, pool = collections.defaultdict(list), {}, []
    pages = []
    for op, block, size in events:
        queue = queues[size]
        if op == "f":
            page = where.pop(block)
            page.free.append(block)
            page.used -= 1
            if page.used == 0 and len(queue) > 1 and page in queue:
                queue.remove(page)
                pool.append(page)
            elif page not in queue:
                queue.append(page)
            continue
        while True:
            if not queue:
                if pool:
                    page = pool.pop()
                else:
                    page = Page()
                    pages.append(page)
                page.format(size, page_bytes)
                queue.append(page)
            page = queue[0]
            if not page.free and page.carved < page.capacity:
                carved = min(max(1, CARVE_BYTES // size), page.capacity - page.carved)
                page.carved += carved
                page.free.extend(range(carved))  # tokens: only their number matters
                touched = -(-page.carved * size // 4096) * 4096
                page.touched = max(page.touched, min(touched, max(page_bytes, size)))
            if page.free:
                page.free.pop()
                break
            queue.pop(0)  # full: out of the queue until a block comes back
        page.used += 1
        where[block] = page
    return sum(page.touched for page in pages)


def class_peaks(events):
    live = collections.Counter()
    peaks = collections.Counter()
    total = peak = 0
    for op, _block, size in events:
        delta = size if op == "m" else -size
        live[size] += delta
        total += delta
        peaks[size] = max(peaks[size], live[size])
        peak = max(peak, total)
    return peak, sum(peaks.values())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("traces", nargs="+", metavar="TRACE", help="trace files (.trace or .trace.gz)")
    parser.add_argument("--page-kib", default="64", help="comma-separated page sizes to model (default 64, mem_io's)")
    args = parser.parse_args(argv)
    page_sizes = [int(kib) << 10 for kib in args.page_kib.split(",")]
    print("%-24s %10s %19s" % ("trace", "live peak", "sum of class peaks")
          + "".join("%14s" % ("model %d KiB" % (p >> 10)) for p in page_sizes))
    for path in args.traces:
        try:
            events = list(small_blocks(path))
        except tracefile.TraceError as error:
            print(error, file=sys.stderr)
            return 1
        peak, summed = class_peaks(events)
        models = [model_footprint(events, p) for p in page_sizes]
        name = os.path.basename(path).split(".trace")[0]
        print("%-24s %10.2f %19.2f" % (name, peak / 1e6, summed / 1e6) + "".join("%14.2f" % (m / 1e6) for m in models))
    return 0


if __name__ == "__main__":
    sys.exit(main())

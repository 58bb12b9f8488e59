"""Where a running program's resident memory is, at its highest sampled RSS.

Runs a command, reads its /proc/PID/smaps every --interval-ms until it exits, keeps the sample
with the highest total Rss, and prints that sample's kilobytes by kind: each mapped file, the
sbrk heap, the stack, mem_io's ranges, and all other anonymous memory. Works under any
allocator (put it in the command: `env LD_PRELOAD=LIB.so PROGRAM ...`), so two runs compare
mem_io's fixed and per-class costs with glibc's arenas line by line.

mem_io places its ranges in [32 TiB, 64 TiB) (allocator/README.md, "Address space"). With the
default 16 GiB small range, that range's descriptors and pages start 0 and 32 MiB above the
lowest of them; anything else there (the medium arenas' slices, or a
range placed in a smaller hole) prints as its offset.
"""
import argparse
import os
import re
import subprocess
import sys
import time

RANGES_LOW = 32 << 40
RANGES_HIGH = 64 << 40
SMALL_RANGE_PARTS = {0: "mem_io page descriptors", 32 << 20: "mem_io small pages"}
HEADER = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$")


def parse_smaps(text):
    """[(start, name, rss_kib)] for every mapping in an smaps text."""
    mappings = []
    for line in text.splitlines():
        header = HEADER.match(line)
        if header:
            mappings.append([int(header[1], 16), header[3].strip(), 0])
        elif line.startswith("Rss:") and mappings:
            mappings[-1][2] = int(line.split()[1])
    return [tuple(m) for m in mappings]


def in_ranges(start, name):
    return not name and RANGES_LOW <= start < RANGES_HIGH


def kind_of(start, name, ranges_base):
    if in_ranges(start, name):
        offset = start - ranges_base
        return SMALL_RANGE_PARTS.get(offset, f"mem_io range +{offset >> 20} MiB")
    if name.startswith("/"):
        return "file " + os.path.basename(name)
    if name:
        return name
    return "other anonymous"


def breakdown(mappings):
    """{kind: rss_kib} for one smaps sample."""
    starts = [start for start, name, _ in mappings if in_ranges(start, name)]
    base = min(starts) if starts else 0
    kinds = {}
    for start, name, rss in mappings:
        kind = kind_of(start, name, base)
        kinds[kind] = kinds.get(kind, 0) + rss
    return kinds


def peak_sample(command, interval_s):
    """(exit status, mappings of the sample with the highest total Rss) of one run."""
    child = subprocess.Popen(command)
    best, best_total = [], -1
    while child.poll() is None:
        try:
            with open(f"/proc/{child.pid}/smaps") as smaps:
                mappings = parse_smaps(smaps.read())
        except OSError:
            break
        total = sum(rss for _, _, rss in mappings)
        if total > best_total:
            best, best_total = mappings, total
        time.sleep(interval_s)
    return child.wait(), best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="example: %(prog)s -- env LD_PRELOAD="
                                     "build/release/allocator/dropin/libmem_io.so "
                                     "build/release/harness/stress/stress_espresso_like 1 0.5")
    parser.add_argument("--interval-ms", type=float, default=5.0,
                        help="time between smaps samples (default 5)")
    parser.add_argument("command", nargs="+", help="the program and its arguments")
    args = parser.parse_args(argv)
    if args.interval_ms <= 0:
        parser.error(f"--interval-ms: {args.interval_ms} is not positive")
    try:
        status, mappings = peak_sample(args.command, args.interval_ms / 1000)
    except OSError as error:
        print(f"rss_breakdown: cannot run {args.command[0]}: {error.strerror}", file=sys.stderr)
        return 2
    kinds = breakdown(mappings)
    for kind in sorted(kinds, key=lambda k: -kinds[k]):
        if kinds[kind]:
            print(f"{kinds[kind]:8d} KiB  {kind}")
    print(f"{sum(kinds.values()):8d} KiB  total at the highest sample")
    if status != 0:
        print(f"rss_breakdown: {args.command[0]} exited with status {status}", file=sys.stderr)
    return 0 if status == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

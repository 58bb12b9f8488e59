#!/usr/bin/python3
"""Runs alloc_bench under each allocator (LD_PRELOAD), interleaved, and prints the median
ns/op per case and its ratio to mimalloc. Usage:
    compare.py BENCH_BINARY LIBMEM_IO_SO [--reps N] [--cases a,b,c]"""
import argparse
import statistics
import subprocess
import sys
import time

PEERS = {
    "glibc": None,
    "jemalloc": "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
    "tcmalloc": "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
    "mimalloc": "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2",
}
CASES = ["pair-16", "pair-64", "pair-256", "pair-1024", "pair-8192", "batch-64", "batch-512",
         "larson", "xmalloc", "medium", "large"]


def run(binary, preload, case):
    env = {"PATH": "/usr/bin:/bin"}
    if preload:
        env["LD_PRELOAD"] = preload
    start = time.time()
    out = subprocess.run([binary, case], env=env, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        sys.exit(f"compare.py: {case} under {preload or 'glibc'} failed: {out.stderr.strip()}")
    return float(out.stdout.split()[1]), time.time() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary")
    parser.add_argument("mem_io")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--cases", default=",".join(CASES))
    args = parser.parse_args()
    allocators = dict(PEERS, mem_io=args.mem_io)
    cases = args.cases.split(",")
    results = {(c, a): [] for c in cases for a in allocators}
    for _ in range(args.reps):
        for case in cases:
            for name, lib in allocators.items():  # interleaved: noise hits all alike
                results[(case, name)].append(run(args.binary, lib, case)[0])
    names = list(allocators)
    print("case".ljust(12) + "".join(n.rjust(10) for n in names) + "   mem_io/mimalloc  mem_io/best")
    ratios = []
    for case in cases:
        med = {n: statistics.median(results[(case, n)]) for n in names}
        ratio = med["mem_io"] / med["mimalloc"]
        best = min(v for n, v in med.items() if n != "mem_io")
        ratios.append(ratio)
        print(case.ljust(12) + "".join(f"{med[n]:10.2f}" for n in names) +
              f"   {ratio:15.2f}  {med['mem_io'] / best:11.2f}")
    print(f"geometric mean mem_io/mimalloc: {statistics.geometric_mean(ratios):.3f}")


if __name__ == "__main__":
    main()

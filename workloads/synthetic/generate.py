#!/usr/bin/python3
"""Generates the synthetic workload traces in this folder (format: workloads/FORMAT.md).

Every workload comes from a fixed seed, so running this again reproduces the committed
.trace.gz files byte for byte:

    workloads/synthetic/generate.py all                 # rewrite every trace here
    workloads/synthetic/generate.py churn --out /tmp    # one workload, elsewhere
    workloads/synthetic/generate.py --list

Ids are reused once a block is freed (the format allows it), which keeps the files small.
"""
import argparse
import gzip
import os
import random
import sys

HEADER = "mem_io-trace 1\n"


class Trace:
    """Collects trace lines and tracks live blocks so generators cannot emit an invalid trace."""

    def __init__(self, description):
        self.lines = ["# " + line + "\n" for line in description.strip().splitlines()]
        self.live = {}

    def malloc(self, thread, block, size):
        self._allocate(block, size)
        self.lines.append(f"{thread} m {block} {size}\n")

    def calloc(self, thread, block, count, size):
        self._allocate(block, count * size)
        self.lines.append(f"{thread} c {block} {count} {size}\n")

    def aligned(self, thread, block, alignment, size):
        self._allocate(block, size)
        self.lines.append(f"{thread} a {block} {alignment} {size}\n")

    def realloc(self, thread, block, size):
        assert block in self.live and size > 0, block
        self.live[block] = size
        self.lines.append(f"{thread} r {block} {size}\n")

    def free(self, thread, block):
        assert block in self.live, block
        del self.live[block]
        self.lines.append(f"{thread} f {block}\n")

    def free_sized(self, thread, block):
        size = self.live.pop(block)
        self.lines.append(f"{thread} s {block} {size}\n")

    def _allocate(self, block, size):
        assert block not in self.live, block
        self.live[block] = size

    def text(self):
        return HEADER + "".join(self.lines)


def small_size(rng):
    """16..128 bytes in steps of 8: the bulk of allocations in C and C++ programs."""
    return rng.randrange(16, 129, 8)


def mixed_size(rng):
    """A size distribution shaped like real programs: mostly small, a long tail of large."""
    r = rng.random()
    if r < 0.60:
        return rng.randrange(8, 65)
    if r < 0.85:
        return rng.randrange(65, 513)
    if r < 0.95:
        return rng.randrange(513, 4097)
    if r < 0.99:
        return rng.randrange(4097, 65537)
    return rng.randrange(65537, 262145)


def toggle_random_slots(t, rng, slot_count, steps, size):
    """Thread 0, `steps` times: pick a random slot; free its block if it has one, else
    allocate one of `size(rng)` bytes."""
    slots = [False] * slot_count
    for _ in range(steps):
        i = rng.randrange(slot_count)
        if slots[i]:
            t.free(0, i)
        else:
            t.malloc(0, i, size(rng))
        slots[i] = not slots[i]


def churn(rng):
    t = Trace("""small-object churn: one thread, 8000 block slots, 16-128 byte blocks; each step frees
the slot's block if it has one, else allocates one. Measures the malloc/free fast path.""")
    toggle_random_slots(t, rng, slot_count=8000, steps=200_000, size=small_size)
    return t


def size_mix(rng):
    t = Trace("""realistic size mix: one thread, 2000 slots, mostly small sizes with a tail up to 256 KiB;
5 % calloc, 5 % realloc of a live block, 1 % aligned_alloc, free_sized for a quarter of frees.""")
    slots = [False] * 2000
    for _ in range(150_000):
        i = rng.randrange(len(slots))
        if slots[i]:
            r = rng.random()
            if r < 0.10:
                t.realloc(0, i, mixed_size(rng))
                continue
            if r < 0.35:
                t.free_sized(0, i)
            else:
                t.free(0, i)
            slots[i] = False
            continue
        r = rng.random()
        if r < 0.05:
            t.calloc(0, i, rng.randrange(1, 17), rng.randrange(8, 65))
        elif r < 0.06:
            t.aligned(0, i, rng.choice([32, 64, 256, 4096]), mixed_size(rng))
        else:
            t.malloc(0, i, mixed_size(rng))
        slots[i] = True
    return t


def producer_consumer(rng):
    t = Trace("""producer-consumer: thread 0 allocates messages of 32-1024 bytes, thread 1 frees them
(every free is cross-thread); up to 256 messages in flight.""")
    depth = 256
    produced = consumed = 0
    total = 100_000
    while consumed < total:
        if produced < total and produced - consumed < depth and (produced == consumed or rng.random() < 0.5):
            t.malloc(0, produced % depth, rng.randrange(32, 1025, 16))
            produced += 1
        else:
            t.free(1, consumed % depth)
            consumed += 1
    return t


def larson(rng):
    t = Trace("""larson-like server: 4 threads each keep 400 blocks of 16-512 bytes and replace random ones;
after each round every thread hands its blocks to the next thread, which frees them later.""")
    threads, per_thread, rounds, steps = 4, 400, 8, 4000
    owner_blocks = [[th * per_thread + i for i in range(per_thread)] for th in range(threads)]
    for th in range(threads):
        for block in owner_blocks[th]:
            t.malloc(th, block, rng.randrange(16, 513, 16))
    for _ in range(rounds):
        for th in range(threads):
            for _ in range(steps // threads):
                block = rng.choice(owner_blocks[th])
                t.free(th, block)
                t.malloc(th, block, rng.randrange(16, 513, 16))
        owner_blocks = owner_blocks[-1:] + owner_blocks[:-1]  # hand off to the next thread
    for th in range(threads):
        for block in owner_blocks[th]:
            t.free(th, block)
    return t


def realloc_growth(rng):
    t = Trace("""vector-style growth: one thread grows 64 vectors by doubling (and sometimes by +50 %) from
16 bytes up to 16 KiB .. 1 MiB, then frees them, with small allocations in between.""")
    vectors = {}
    next_small = 1000
    smalls = []
    for _ in range(3000):
        v = rng.randrange(64)
        if v not in vectors:
            vectors[v] = (16, rng.choice([16 << 10, 64 << 10, 256 << 10, 1 << 20]))
            t.malloc(0, v, 16)
        else:
            size, limit = vectors[v]
            if size >= limit:
                t.free(0, v)
                del vectors[v]
            else:
                size = size * 2 if rng.random() < 0.7 else size * 3 // 2
                t.realloc(0, v, size)
                vectors[v] = (size, limit)
        if rng.random() < 0.5:
            t.malloc(0, next_small, small_size(rng))
            smalls.append(next_small)
            next_small += 1
            if len(smalls) > 200:
                t.free(0, smalls.pop(rng.randrange(len(smalls))))
    return t


def large_blocks(rng):
    t = Trace("""large blocks above glibc's 128 KiB mmap threshold: one thread keeps up to 12 blocks of
128 KiB .. 2 MiB and replaces random ones; every page of every block is touched once.""")
    toggle_random_slots(t, rng, slot_count=12, steps=500,
                        size=lambda rng: rng.randrange(128 << 10, (2 << 20) + 1, 4096))
    return t


def fragmentation(rng):
    t = Trace("""fragmentation-adversarial: allocate 20000 small blocks (16-64 bytes), free every other
one, then ask for 5000 blocks of 256-1024 bytes that cannot fit the holes; three cycles.""")
    for cycle in range(3):
        base = cycle * 100_000
        for i in range(20_000):
            t.malloc(0, base + i, rng.randrange(16, 65, 8))
        for i in range(0, 20_000, 2):
            t.free(0, base + i)
        for i in range(5_000):
            t.malloc(0, base + 50_000 + i, rng.randrange(256, 1025, 16))
        for i in range(1, 20_000, 2):
            t.free(0, base + i)
        for i in range(5_000):
            t.free(0, base + 50_000 + i)
    return t


def lifetimes(rng):
    t = Trace("""long- and short-lived objects: one thread; 95 % of blocks die within ~20 operations,
5 % live for tens of thousands (caches, sessions), pinning memory between short-lived ones.""")
    short, long_lived = [], []
    next_id = 0
    for _ in range(100_000):
        if rng.random() < 0.05:
            t.malloc(0, next_id, mixed_size(rng))
            long_lived.append(next_id)
            if len(long_lived) > 1500:
                t.free(0, long_lived.pop(rng.randrange(len(long_lived))))
        else:
            t.malloc(0, next_id, small_size(rng))
            short.append(next_id)
            if len(short) > 20:
                t.free(0, short.pop(0))
        next_id = (next_id + 1) % 1_000_000
    return t


def pipeline(rng):
    t = Trace("""three-stage pipeline: thread 0 allocates a request, thread 1 grows it with realloc,
thread 2 frees it (a block allocated, resized and freed by three different threads).""")
    depth = 128
    for n in range(30_000):
        block = n % depth
        if n >= depth:
            t.free(2, block)
        t.malloc(0, block, rng.randrange(64, 513, 16))
        t.realloc(1, block, rng.randrange(600, 4097, 16))
    return t


WORKLOADS = {
    "churn": (churn, 1),
    "size_mix": (size_mix, 2),
    "producer_consumer": (producer_consumer, 3),
    "larson": (larson, 4),
    "realloc_growth": (realloc_growth, 5),
    "large_blocks": (large_blocks, 6),
    "fragmentation": (fragmentation, 7),
    "lifetimes": (lifetimes, 8),
    "pipeline": (pipeline, 9),
}


def generate(name):
    """The text of workload `name`, always the same."""
    make, seed = WORKLOADS[name]
    return make(random.Random(seed)).text()


def write(name, out_dir):
    path = os.path.join(out_dir, name + ".trace.gz")
    data = generate(name).encode()
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz:
        gz.write(data)
    return path


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workload", nargs="?", choices=sorted(WORKLOADS) + ["all"], help="which trace to write")
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)), help="output folder (default: here)")
    parser.add_argument("--list", action="store_true", help="list the workloads and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name in sorted(WORKLOADS):
            print(name)
        return 0
    if not args.workload:
        parser.error("name a workload or 'all'")
    if not os.path.isdir(args.out):
        print(f"generate.py: --out {args.out}: not a directory", file=sys.stderr)
        return 1
    for name in sorted(WORKLOADS) if args.workload == "all" else [args.workload]:
        print(write(name, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

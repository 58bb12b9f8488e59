#!/usr/bin/python3
"""Rough cost of the real-program workloads on each allocator, under LD_PRELOAD.

    compare_allocators.py LIBMEM_IO [--repetitions N]

Runs python and perl (the workloads of run_program.sh), sqlite3 (30000 inserts
and a query) and gcc (compiling allocator/memory.c) on glibc,
mem_io, mimalloc, jemalloc and tcmalloc, interleaved, N times each, and prints
the median CPU time (user + sys, from /usr/bin/time) and peak RSS of each, and
the CPU ratio to glibc. Not a test: the machine is shared and noisy, so read
the ratios, not the absolute numbers.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ALLOCATOR = os.path.normpath(os.path.join(HERE, "..", "..", ".."))  # gcc compiles mem_io itself
PEERS = {
    "glibc": None,
    "mimalloc": "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2",
    "jemalloc": "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
    "tcmalloc": "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
}


def workloads(scratch):
    inserts = os.path.join(scratch, "inserts.sql")
    with open(inserts, "w") as sql:
        sql.write("CREATE TABLE item(id, name, weight);\nBEGIN;\n")
        sql.writelines(f"INSERT INTO item VALUES({i}, 'item-{i}', {i * 37 % 101});\n"
                       for i in range(1, 30001))
        sql.write("COMMIT;\nSELECT weight % 7, count(*), sum(id) FROM item GROUP BY 1;\n")
    return {
        "python": (["/usr/bin/python3", os.path.join(HERE, "workload.py")], None),
        "perl": (["perl", os.path.join(HERE, "workload.pl")], None),
        "sqlite": (["sqlite3", os.path.join(scratch, "db.sqlite")], inserts),
        "gcc": (["gcc", "-O2", "-c", "-o", os.path.join(scratch, "memory.o"), "-I", ALLOCATOR,
                 os.path.join(ALLOCATOR, "memory.c")], None),
    }


def measure(command, stdin_path, preload, scratch):
    """Returns (cpu seconds, peak RSS KiB) of one run."""
    env = dict(os.environ, PYTHONMALLOC="malloc")
    env.pop("LD_PRELOAD", None)
    if preload:
        env["LD_PRELOAD"] = preload
    database = os.path.join(scratch, "db.sqlite")
    if os.path.exists(database):
        os.remove(database)
    report = os.path.join(scratch, "time.txt")
    with open(stdin_path or os.devnull) as stdin:
        subprocess.run(["/usr/bin/time", "-o", report, "-f", "%U %S %M"] + command, env=env,
                       stdin=stdin, stdout=subprocess.DEVNULL, check=True)
    user, system, rss = open(report).read().split()[-3:]
    return float(user) + float(system), int(rss)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("library", help="path to libmem_io.so")
    parser.add_argument("--repetitions", type=int, default=3)
    args = parser.parse_args()
    if not os.path.isfile(args.library):
        sys.exit(f"compare_allocators.py: no library at {args.library} (build mem_io_shared)")
    allocators = dict(PEERS, mem_io=os.path.abspath(args.library))
    allocators = {name: path for name, path in allocators.items() if path is None or os.path.isfile(path)}
    with tempfile.TemporaryDirectory() as scratch:
        programs = workloads(scratch)
        results = {}
        for _ in range(args.repetitions):
            for program, (command, stdin_path) in programs.items():
                for name, preload in allocators.items():
                    results.setdefault((program, name), []).append(
                        measure(command, stdin_path, preload, scratch))
    print(f"{'program':8} {'allocator':9} {'cpu s':>6} {'vs glibc':>8} {'peak RSS MiB':>12}")
    for program in programs:
        baseline = statistics.median(cpu for cpu, _ in results[(program, "glibc")])
        for name in allocators:
            cpu = statistics.median(cpu for cpu, _ in results[(program, name)])
            rss = statistics.median(rss for _, rss in results[(program, name)]) / 1024
            print(f"{program:8} {name:9} {cpu:6.2f} {cpu / baseline:8.2f} {rss:12.1f}")


if __name__ == "__main__":
    main()

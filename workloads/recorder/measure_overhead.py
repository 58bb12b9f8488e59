"""Measures how much slower programs run while the recorder records them.

    /usr/bin/python3 -m workloads.recorder.measure_overhead [--rounds 7] [--library PATH | --build-dir DIR]
    (from the repository root, so that it imports the record tool's library lookup)

Runs each program plainly and under libmem_io_recorder.so, alternating the two in every round
so that the machine's drift hits both alike, and prints the median wall times and their ratio
as a Markdown table. The recorded run includes writing the raw recording, not record.py's
conversion afterwards. The programs' inputs are in workloads/real/inputs/.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from runbench import REPO_ROOT
from workloads.tools import record

INPUTS = os.path.join(REPO_ROOT, "workloads", "real", "inputs")
PROGRAMS = [  # (name, command, extra environment)
    ("python3 text processing (1.9 M calls)", ["/usr/bin/python3", os.path.join(INPUTS, "python_text_processing.py")], {"PYTHONMALLOC": "malloc"}),
    ("python3 4 threads + queue (1.2 M calls)", ["/usr/bin/python3", os.path.join(INPUTS, "python_threaded_queue.py")], {"PYTHONMALLOC": "malloc"}),
    ("cmake -P list script (1.0 M calls)", ["cmake", "-P", os.path.join(INPUTS, "cmake_string_lists.cmake")], {}),
    ("sqlite3 insert + query (0.27 M calls)", ["/bin/sh", "-c", "exec sqlite3 :memory: < " + os.path.join(INPUTS, "sqlite_insert_query.sql")], {}),
]


def timed_run(command, environment):
    start = time.perf_counter()
    subprocess.run(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--library")
    parser.add_argument("--build-dir")
    args = parser.parse_args()
    try:
        library = record.find_library(args)
    except record.RecordError as error:
        print("measure_overhead: %s" % error, file=sys.stderr)
        return 2
    print("| program | plain (median of %d) | recorded | ratio |" % args.rounds)
    print("|---|---|---|---|")
    for name, command, extra in PROGRAMS:
        plain_environment = dict(os.environ, **extra)
        plain, recorded = [], []
        for _ in range(args.rounds):
            raw_directory = tempfile.mkdtemp(prefix="mem_io_overhead.")
            recorded_environment = dict(plain_environment, LD_PRELOAD=library, **{record.PREFIX_VARIABLE: os.path.join(raw_directory, "raw")})
            try:
                plain.append(timed_run(command, plain_environment))
                recorded.append(timed_run(command, recorded_environment))
            finally:
                shutil.rmtree(raw_directory)
        plain_median, recorded_median = statistics.median(plain), statistics.median(recorded)
        print("| %s | %.0f ms | %.0f ms | %.2f× |" % (name, plain_median * 1e3, recorded_median * 1e3, recorded_median / plain_median))
    return 0


if __name__ == "__main__":
    sys.exit(main())

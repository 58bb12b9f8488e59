#!/usr/bin/python3
"""mem_io's benchmark command: build, replay workloads against allocators, chart, report, gate.

Run `./run_bench.py --help`; user documentation is in runbench/README.md. Python puts this
file's folder (the repository root, symlinks resolved) first on the import path, so the
runbench and workloads packages import from any current directory.
"""
import sys

from runbench.cli import main

if __name__ == "__main__":
    sys.exit(main())

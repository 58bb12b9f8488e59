#!/usr/bin/python3
"""mem_io's benchmark command: build, replay workloads against allocators, chart, report, gate.

Run `./run_bench.py --help`; user documentation is in runbench/README.md.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from runbench.cli import main  # noqa: E402  (needs the path above)

if __name__ == "__main__":
    sys.exit(main())

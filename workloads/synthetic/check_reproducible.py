#!/usr/bin/python3
"""Test: generate.py reproduces every committed synthetic trace byte for byte."""
import os
import sys
import tempfile

import generate  # this file's folder is first on the import path when it runs as a script

here = os.path.dirname(os.path.abspath(__file__))
failures = []
with tempfile.TemporaryDirectory() as out:
    for name in sorted(generate.WORKLOADS):
        fresh = generate.write(name, out)
        committed = os.path.join(here, name + ".trace.gz")
        if not os.path.exists(committed):
            failures.append(f"{committed}: missing (run generate.py {name})")
            continue
        with open(fresh, "rb") as a, open(committed, "rb") as b:
            if a.read() != b.read():
                failures.append(f"{committed}: differs from what generate.py {name} writes now")
for failure in failures:
    print(failure, file=sys.stderr)
print(f"{len(generate.WORKLOADS) - len(failures)} of {len(generate.WORKLOADS)} synthetic traces reproduced")
sys.exit(1 if failures else 0)

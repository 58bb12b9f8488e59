#!/usr/bin/env bash
# Re-records every trace in this folder from programs.json (see README.md for what each exercises).
#   workloads/real/record.sh [RECORDER_LIBRARY]
# The recorder library defaults to the one `run_bench.py record` builds in build/bench. Address-space
# randomisation is off (setarch -R) and Python's hash seed fixed (programs.json), so that re-recording
# with the same program versions gives the same traces, except where threads interleave differently.
set -euo pipefail
cd "$(dirname "$0")/../.."
/usr/bin/python3 - "${1:-}" <<'PYTHON'
import os, subprocess, sys
from runbench import REPO_ROOT, fidelity

library = sys.argv[1]
for case in fidelity.shipped_cases(REPO_ROOT):
    command = ["setarch", "-R", "./run_bench.py", "record", *(["--library", library] if library else []),
               *(["--max-ops", str(case.max_ops)] if case.max_ops else []), "-o", case.trace, "--", *case.command]
    with open(case.stdin or os.devnull, "rb") as stdin:
        subprocess.run(command, env=dict(os.environ, **case.env), stdin=stdin, check=True)
PYTHON

#!/bin/sh
# ctest's stress_programs_checksums, run from the repository root: check_checksums.sh BUILD_DIR.
# Every stress program at a tiny scale, 1 and 2 threads, on glibc and on mem_io's drop-in library:
# `run_bench.py stress` exits non-zero when the checksums differ or a run fails, and `compare` must
# read the results.json it writes as it reads a suite's.
# The results go to a fresh temporary folder: in a fixed one, a second ctest on the same build tree
# refused to overwrite the first one's results. Charts are not drawn (matplotlib hidden): they were
# half the test's CPU time, and under load its wall time came within 30 s of ctest's limit;
# test_stress_report.py checks the chart descriptions of a stress run without drawing them.
set -eu
build=$1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mkdir "$out/hidden" "$out/hidden/matplotlib"
echo "raise ImportError('hidden by check_checksums.sh: no charts')" > "$out/hidden/matplotlib/__init__.py"
PYTHONPATH="$out/hidden" /usr/bin/python3 run_bench.py stress --no-build --build-dir "$build" \
  --allocators system,mem_io --threads 1,2 --repetitions 1 --scale 0.01 --out "$out/results"
/usr/bin/python3 run_bench.py compare "$out/results" "$out/results"

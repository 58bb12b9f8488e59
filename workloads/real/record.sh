#!/usr/bin/env bash
# Re-records every trace in this folder (see README.md for what each one exercises).
#   workloads/real/record.sh [RECORDER_LIBRARY]
# The recorder library defaults to the one `run_bench.py record` builds in build/bench. Address-space
# randomisation is off (setarch -R) and Python's hash seed fixed, so that re-recording with the
# same program versions gives the same traces, except where threads interleave differently.
set -euo pipefail
cd "$(dirname "$0")/../.."
record=(setarch -R ./run_bench.py record ${1:+--library "$1"})
inputs=workloads/real/inputs
out=workloads/real

PYTHONHASHSEED=0 PYTHONMALLOC=malloc "${record[@]}" --max-ops 1200000 -o $out/python3_ast_tokenize.trace.gz -- \
  /usr/bin/python3 $inputs/python_text_processing.py
PYTHONHASHSEED=0 PYTHONMALLOC=malloc "${record[@]}" -o $out/python3_threaded_queue.trace.gz -- \
  /usr/bin/python3 $inputs/python_threaded_queue.py
"${record[@]}" -o $out/sqlite3_insert_query.trace.gz -- \
  /bin/sh -c "exec sqlite3 :memory: < $inputs/sqlite_insert_query.sql"
"${record[@]}" -o $out/cmake_string_lists.trace.gz -- \
  cmake -P $inputs/cmake_string_lists.cmake
"${record[@]}" -o $out/gcc_cc1_compile.trace.gz -- \
  "$(gcc -print-prog-name=cc1)" -quiet -imultiarch x86_64-linux-gnu -O2 workloads/recorder/recorder.c -o /dev/null

#!/usr/bin/env bash
# Builds mem_io three ways and runs every test:
#   build/release  gcc, Release: all tests (unit, real programs under LD_PRELOAD, python)
#   build/asan     clang, AddressSanitizer + UBSan: unit tests and the libFuzzer run
#   build/tsan     clang, ThreadSanitizer: unit tests
# Installs the Debian packages it needs when run as root on a machine that lacks them.
set -euo pipefail
cd "$(dirname "$0")"

# every package of debian-packages.txt (its first column; '#' starts a comment)
mapfile -t packages < <(sed -e 's/#.*//' debian-packages.txt | awk 'NF { print $1 }')
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "run_tests.sh: missing Debian packages; install them with:" >&2
    echo "  apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "run_tests.sh: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

jobs=$(nproc)
build() {  # build DIR [cmake options...]
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
}

echo "== release build: all tests"
build build/release
ctest --test-dir build/release --output-on-failure -j "$jobs"

echo "== AddressSanitizer + UBSan build: unit and fuzz tests"
build build/asan -DMEM_IO_SANITIZE=address -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
ctest --test-dir build/asan --output-on-failure -j "$jobs" -L 'unit|fuzz'

echo "== ThreadSanitizer build: unit tests"
build build/tsan -DMEM_IO_SANITIZE=thread -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
ctest --test-dir build/tsan --output-on-failure -j "$jobs" -L unit

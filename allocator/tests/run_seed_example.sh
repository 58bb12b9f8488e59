#!/bin/sh
# Compiles one seed example with the seed's own command line (plus -Werror) and runs it.
# Usage (from the repository root): run_seed_example.sh NAME
set -eu
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
gcc -Wall -Werror -I allocator -o "$out/prog" "allocator/examples/$1.c" allocator/memory.c -pthread
"$out/prog" > "$out/stdout" 2> "$out/stderr"
if [ "$1" = debugging_allocations ]; then
  grep -q "heap start=" "$out/stderr"
  grep -q "errors=0" "$out/stderr"
  grep -q "flags=USED" "$out/stderr"
fi
echo "seed example $1: ok"

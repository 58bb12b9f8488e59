#!/usr/bin/env bash
# Replays traces against any malloc shared library through LD_PRELOAD:
#   replay_with.sh /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 jemalloc --trace=T.trace.gz [more flags]
set -euo pipefail
if (($# < 2)); then
  echo "usage: replay_with.sh LIBRARY.so LABEL [mem_io_replay flags...]" >&2
  exit 1
fi
library=$1 label=$2
shift 2
if [[ ! -f $library ]]; then
  echo "replay_with.sh: $library: no such library" >&2
  exit 1
fi
LD_PRELOAD=$library exec "$(dirname "$0")/mem_io_replay" --allocator=system --label="$label" "$@"

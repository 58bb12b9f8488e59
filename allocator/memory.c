/* mem_io, built as one translation unit: compile this file alone
 *     gcc -I allocator -c allocator/memory.c -pthread
 * and every part of the allocator (one file per concern under src/) is compiled together,
 * so the fast paths inline across files. See README.md for the design. */
#define _GNU_SOURCE
#include "src/internal.h"
#include "src/state.h"

#include "src/os.c"
#include "src/format.c"
#include "src/options.c"
#include "src/errors.c"
#include "src/size_classes.c"
#include "src/stats.c"
#include "src/pages.c"
#include "src/heap.c"
#include "src/arena.c"
#include "src/large.c"
#include "src/alloc.c"
#include "src/free.c"
#include "src/secure.c"
#include "src/debug.c"
#include "src/init.c"

/* The recorder's raw output, read by workloads/tools/record.py (keep the two in step).
 * Little-endian, native x86-64 layout:
 *   file  = raw_file_header, then chunks
 *   chunk = raw_chunk_header, then `count` raw_events of one thread, in sequence order
 * A chunk with magic RAW_EXIT_MAGIC and no events marks that the process began exit(); an
 * image without it ended by exec, _exit or a signal and lost the events it still buffered. */
#ifndef MEM_IO_RECORDER_RAW_FORMAT_H
#define MEM_IO_RECORDER_RAW_FORMAT_H

#include <stdint.h>

#define RAW_PREFIX_VARIABLE "MEM_IO_RECORD_PREFIX"
#define RAW_FILE_MAGIC 0x31574152494f4d4dull /* "MMOIRAW1" */
#define RAW_VERSION 2u
#define RAW_CHUNK_MAGIC 0x4b4e4843u /* "CHNK" */
#define RAW_EXIT_MAGIC 0x54495845u  /* "EXIT" */

struct raw_file_header {
    uint64_t magic;
    uint32_t version;
    uint32_t pid;
};

struct raw_chunk_header {
    uint32_t magic;
    uint32_t thread; /* per-process thread number, in order of first event */
    uint32_t count;
    uint32_t reserved;
};

/* raw_event.flags */
#define RAW_FLAG_RESIDENT 1u /* extra = resident 4 KiB pages of the block (FREE, FREE_SIZED,
                                REALLOC_RELEASE of a block of at least one page) */

enum raw_op {
    RAW_MALLOC = 1,          /* address, size */
    RAW_CALLOC = 2,          /* address, size, extra = count */
    RAW_ALIGNED = 3,         /* address, size, extra = alignment */
    RAW_FREE = 4,            /* address */
    RAW_FREE_SIZED = 5,      /* address, size */
    RAW_REALLOC_RELEASE = 6, /* address = old block; numbered before realloc runs */
    RAW_REALLOC_TAKE = 7,    /* address = new block, size; extra = 1 if realloc failed (block stays);
                                always the same thread's next event after its RELEASE */
};

struct raw_event {
    uint64_t sequence; /* global order across the process's threads */
    uint64_t address;
    uint64_t size;
    uint64_t extra;
    uint32_t op;
    uint32_t flags; /* RAW_FLAG_* */
};

_Static_assert(sizeof(struct raw_file_header) == 16, "record.py reads 16-byte file headers");
_Static_assert(sizeof(struct raw_chunk_header) == 16, "record.py reads 16-byte chunk headers");
_Static_assert(sizeof(struct raw_event) == 40, "record.py reads 40-byte events");

#endif

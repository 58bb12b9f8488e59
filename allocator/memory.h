/* mem_io: a thread-caching memory allocator with misuse detection.
 *
 * The seed's API (mem_io_malloc, mem_io_free, mem_io_realloc and the two debug dumps) plus the
 * rest of what a C program expects from malloc. Every function is thread-safe. See README.md
 * beside this file for the design. */
#ifndef MEM_IO_MEMORY_H
#define MEM_IO_MEMORY_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MEM_IO_PAGE 4096                     /* the heap grows with sbrk in multiples of this */
#define MEM_IO_FLAG_FREE 0x1u
#define MEM_IO_FLAG_USED 0x2u
#define MEM_IO_FLAG_CORRUPTED 0x4u
#define MEM_IO_FLAG_MMAP 0x8u
#define MEM_IO_MAGIC_NUMBER 0xDEADBEEFu      /* stored keyed with a per-process secret, see README */
#define MEM_IO_MMAP_THRESHOLD (128 * 1024)   /* requests of this size or more are mmap'd */
#define MEM_IO_ALIGNMENT 16                  /* every pointer mem_io returns is 16-byte aligned */
/* Rounds a size up to the allocator's alignment (16 bytes, as glibc on x86-64). */
#define ALIGN(size) (((size) + (MEM_IO_ALIGNMENT - 1)) & ~(size_t)(MEM_IO_ALIGNMENT - 1))

/* The header in front of every block that is not a small size-classed block: blocks carved
 * from the sbrk heap (medium sizes) and mmap'd blocks. For heap blocks, next and prev are the
 * physically adjacent blocks; for mmap'd blocks, prev is the start of the mapping. */
struct mem_io_block {
    size_t size;                 /* bytes of the whole block, header included */
    struct mem_io_block *next;
    struct mem_io_block *prev;
    uint32_t flags;              /* MEM_IO_FLAG_* */
    uint32_t magic;              /* MEM_IO_MAGIC_NUMBER keyed with a secret and the block address */
};

void *mem_io_malloc(size_t size);
void mem_io_free(void *ptr);
void *mem_io_realloc(void *ptr, size_t size);
void *mem_io_calloc(size_t count, size_t size);                          /* overflow-checked */
int mem_io_posix_memalign(void **out, size_t alignment, size_t size);   /* EINVAL or ENOMEM; *out untouched on failure */
void *mem_io_aligned_alloc(size_t alignment, size_t size);              /* EINVAL when alignment is not a power of two */
void *mem_io_memalign(size_t alignment, size_t size);                   /* rounds alignment up to a power of two */
size_t mem_io_usable_size(const void *ptr);                             /* 0 for NULL */
void mem_io_free_sized(void *ptr, size_t size);
void mem_io_free_aligned_sized(void *ptr, size_t alignment, size_t size);

struct mem_io_stats {
    size_t live_bytes;       /* bytes in live blocks (usable size of each block, >= the request) */
    size_t peak_live_bytes;  /* exact at fold points: stats reads, new mmaps, new pages (README) */
    size_t os_bytes;         /* bytes currently held from the OS (sbrk + mmap) */
    size_t peak_os_bytes;
    uint64_t malloc_calls, calloc_calls, realloc_calls, aligned_calls, free_calls;
    uint64_t errors;         /* misuse detected: invalid or double frees, corrupted metadata */
};
void mem_io_get_stats(struct mem_io_stats *out);

enum mem_io_error_mode { MEM_IO_ERRORS_ABORT, MEM_IO_ERRORS_CONTINUE };
/* Default comes from the environment: MEM_IO_ON_ERROR=abort|continue (abort when unset). */
void mem_io_set_error_mode(enum mem_io_error_mode mode);

void mem_io_log_trace(void);    /* heap bounds, call counts, byte counts, error count (stderr) */
/* Every live block of every page, heap extent and mapping (address, size, flags, magic), and one
 * line per run of free blocks between them (stderr). */
void mem_io_stack_trace(void);
void mem_io_stack_trace_full(void);  /* the same, with every free block on a line of its own */

#ifdef __cplusplus
}
#endif
#endif

/* mem_io internals: the core types and how they fit together.
 *
 * Three kinds of blocks, chosen by size:
 *
 *  small  (<= 16 KiB, 64 size classes: 16-byte steps to 128, then 8 per power of two)
 *         Carved from 64 KiB "pages" inside ONE virtual range reserved at start-up. A pointer is
 *         small iff (ptr - small_base) < small_span: one subtraction and one compare. The page's
 *         descriptor is descs[(ptr - small_base) >> 16]; it says with one multiply whether a
 *         pointer starts one of the page's carved blocks (block_start). Small blocks carry no
 *         header: a free block holds its free-list link and a keyed mark (free_mark: the secret
 *         and its own address) in its first 16 bytes, and malloc clears the mark, so free tells
 *         a freed block from a live one by the line its link store writes anyway.
 *         Each thread owns a heap (initial-exec TLS) holding a queue of pages per class.
 *         malloc pops the current page's free list; free by the owning thread pushes it back.
 *         Neither takes a lock nor an atomic read-modify-write. A free from another thread
 *         marks the block and puts it in the freeing heap's outbox for its class; a full
 *         outbox goes to the owner heaps' `remote` lists, one CAS per run of blocks with one
 *         owner, and each owner collects its list on its next slow path.
 *         Free-list links are stored XOR-ed with a per-process secret and the block address
 *         and checked (same page, block marked free) when popped.
 *  medium (16 KiB .. 128 KiB, and anything a thread asks for after its heap is gone)
 *         The seed's design: blocks with a struct mem_io_block header on sbrk-grown extents,
 *         split on allocation, coalesced with free neighbours on free, kept in 64 segregated
 *         bins (4 per power of two) with a bitmap of non-empty bins, under a mutex. Arena 0
 *         grows with sbrk; arenas 1..7 each bump through a slice of one reserved range, so
 *         a pointer's arena is found with a subtraction and a shift. Heaps take the arenas in
 *         turn. In front, a per-thread cache of freed blocks, taken and refilled without the
 *         mutex.
 *  large  (>= MEM_IO_MMAP_THRESHOLD) mmap'd with a header; a hash set of live mappings proves
 *         a pointer is ours before its header is read; realloc uses mremap; freed mappings wait
 *         in a small cache of the heap that allocated them for MEM_IO_DECAY_MS before they are
 *         unmapped.
 *
 * Memory returns to the OS only after a delay (a page fault costs as much as thousands of
 * fast-path mallocs): empty small pages go to a global pool and are madvise'd away when they
 * stayed unused for the decay time. */
#ifndef MEM_IO_INTERNAL_H
#define MEM_IO_INTERNAL_H

#include "../memory.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <unistd.h>

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define relaxed memory_order_relaxed
#define LOAD(x) atomic_load_explicit(&(x), relaxed)
#define STORE(x, v) atomic_store_explicit(&(x), (v), relaxed)
/* Counter bump without a locked instruction: only the owning thread writes it, readers fold. */
#define BUMP(x, v) STORE(x, LOAD(x) + (v))
/* The regression gate's proof (CMake option MEM_IO_INJECT_MALLOC_INSTRUCTIONS, test target
 * mem_io_injected): N extra instructions on mem_io_malloc's fast path; nothing in normal builds. */
#if defined(MEM_IO_INJECT_MALLOC_INSTRUCTIONS) && MEM_IO_INJECT_MALLOC_INSTRUCTIONS > 0
#define INJECTED_SLOWDOWN_STRING(n) #n
#define INJECTED_SLOWDOWN_REPEAT(n) INJECTED_SLOWDOWN_STRING(n)
#define INJECTED_SLOWDOWN() \
    __asm__ volatile(".rept " INJECTED_SLOWDOWN_REPEAT(MEM_IO_INJECT_MALLOC_INSTRUCTIONS) "\n\tnop\n\t.endr")
#else
#define INJECTED_SLOWDOWN() ((void)0)
#endif

/* ---- small blocks ---- */
#define PAGE_SHIFT 16
#define PAGE_SIZE ((size_t)1 << PAGE_SHIFT)
#define GRAIN_SHIFT 4                          /* blocks are 16-byte aligned */
#define SMALL_MAX 16384
#define NUM_CLASSES 64
/* a page's free list grows ~one OS page at a time, so the blocks a malloc takes next were
 * written by the carving shortly before and are still cached; the gate's proof of its cache-miss
 * figure (CMake option MEM_IO_INJECT_EXTEND_BYTES, unset normally) carves more at once */
#ifdef MEM_IO_INJECT_EXTEND_BYTES
#define EXTEND_BYTES MEM_IO_INJECT_EXTEND_BYTES
#else
#define EXTEND_BYTES 4096
#endif
/* A page fault per 4 KiB is the dearest part of a growing program's memory; a transparent huge
 * page maps 2 MiB in one fault. Memory that one owner fills front to back (a heap's
 * runs of small pages, an arena's slice) asks for huge pages once that owner has used
 * HUGE_AFTER_BYTES: a program that stays small keeps 4 KiB pages and its RSS, a big one wastes
 * at most the unfilled part of one huge page per owner. */
#define OS_HUGE_PAGE ((size_t)2 << 20)
#define HUGE_AFTER_BYTES ((size_t)16 << 20)
#define PEAK_FOLD_PAGES 8                      /* least pool pages a heap takes between
                                                  live-peak folds (a fold walks every page) */

enum page_place { PAGE_UNUSED, PAGE_IN_QUEUE, PAGE_IN_FULL, PAGE_IN_EMPTY, PAGE_IN_STASH, PAGE_IN_POOL };

/* A free small block: its link in a free list, outbox or remote list, and free_mark(), which
 * every free block carries and malloc clears (pages.c says why). */
struct free_block { uintptr_t next_encoded, mark; };
/* A free block of 32 bytes or more sent back to its owner (outboxes) also names a block
 * further down the same list: a prefetch hint for the owner's walk (heap.c). */
struct returned_block { struct free_block free; uintptr_t ahead_encoded; };

struct heap;
struct arena;
struct page {
    /* Set when the page is formatted for a class, read by every free, other threads' too. */
    _Atomic(struct heap *) heap;      /* owner, NULL while in the global pool */
    _Atomic uint32_t block_size;
    uint32_t reserved;                /* blocks that fit in the page */
    uint8_t class_id;
    bool purged;                      /* pool only: memory given back with madvise */
    uint64_t idle_since_ms;           /* stash and pool: when the page left its class (the
                                         page clock, pages.c) */
    uint64_t purged_ms;               /* pool only: when a decay round gave its memory back
                                         (0: never; a page skipped for a huge page) */
    struct heap *last_owner;          /* pool only: the heap that emptied it */
    _Atomic uint64_t start_magic;     /* 2^64 / block_size + 1, rounded down: block_start() */
    _Atomic uint64_t start_limit;     /* block_start(): below it once multiplied by the magic,
                                         the offsets of carved blocks only (0: none carved) */
    /* Written by the owner on every malloc and free: on a cache line of their own, so that
     * a free from another thread reading the fields above does not wait for the owner's. The
     * counts are read by stats folds (stats.c says how they make the call counts). */
    _Alignas(64) struct free_block *free;  /* owner only: blocks ready to hand out */
    _Atomic uint64_t counts;          /* page_used() and page_allocs(), packed (below) */
    _Atomic uint32_t capacity;        /* blocks carved so far (read by the dumps) */
    uint8_t place;                    /* enum page_place */
    struct page *next, *prev;         /* links in a queue, the full list or the pool */
    _Atomic uint64_t collected;       /* of page_allocs(), freed by other threads and taken back */
};

/* A page's two counts share one word, so that malloc bumps both with one add: the blocks out
 * (REMOTE ones included; at most 4096) in the low bits, and above them the blocks handed out
 * since the page took its class (2^48 before it wraps). Two separate counters cost malloc more
 * instructions than the one mask that free pays for the packing. */
#define PAGE_USED_BITS 16
#define PAGE_USED_MASK (((uint64_t)1 << PAGE_USED_BITS) - 1)
#define PAGE_ALLOC_STEP (((uint64_t)1 << PAGE_USED_BITS) + 1)  /* one more out, one more handed out */

static inline uint32_t page_used(struct page *pg)
{
    return (uint32_t)(LOAD(pg->counts) & PAGE_USED_MASK);
}

static inline uint64_t page_allocs(struct page *pg)
{
    return LOAD(pg->counts) >> PAGE_USED_BITS;
}

struct page_list { struct page *head, *tail; size_t count; };

#define OUTBOX_CLASS_BYTES 4096                /* per class: sent to the owners past this */
#define OUTBOX_HEAP_BYTES 16384                /* all classes of one heap: all sent past this */
#define REMOTE_PREFETCH_DISTANCE 4             /* blocks between a returned block and its hint */
/* Small blocks of other heaps' pages that this thread freed, on their way back to their
 * owners in batches (heap.c says why): a run of blocks of one owner, newest first, and the
 * newest REMOTE_PREFETCH_DISTANCE of them, whose hints the next ones become. */
struct outbox {
    struct free_block *head, *tail;
    struct heap *owner;
    struct returned_block *recent[REMOTE_PREFETCH_DISTANCE];  /* by blocks % the distance */
    _Atomic uint32_t bytes, blocks;          /* read by stats folds */
};

/* Medium blocks of 16 KiB..160 KiB freed by a thread wait in its cache (per size class, up to
 * MEDIUM_CACHE_DEPTH each) and are handed out again without splitting or coalescing. */
#define FLAG_CACHED 0x10u                      /* header flag: in a thread's medium cache */
#define MEDIUM_CACHE_CLASSES 16
#define MEDIUM_CACHE_DEPTH 8
#define MEDIUM_CACHE_MAX_BYTES ((size_t)160 << 10)  /* one block of the largest class */
struct medium_cache {
    uint8_t count[MEDIUM_CACHE_CLASSES];
    size_t bytes;
    struct mem_io_block *blocks[MEDIUM_CACHE_CLASSES][MEDIUM_CACHE_DEPTH];
    uintptr_t extent_start, extent_end;   /* the extent of this thread's last locked free */
};


/* Freed large mappings kept for reuse until MEM_IO_DECAY_MS (large.c): one cache per heap,
 * which gets back the ranges of the blocks its thread allocated, whoever frees them; all the
 * caches are under the large-block mutex. */
#define LARGE_CACHE_SLOTS 32
struct large_cached {
    void *base;
    size_t len;
    uintptr_t origin;                  /* start of the mmap it came from: only pieces of one
                                          mapping (one kernel vma) merge, so mremap works */
    uint64_t since_ms;
    bool guarded;                      /* its last page is PROT_NONE: the guard page of the
                                          secure-mode block that ended there, kept */
};
/* What a large block's pages hold when large_alloc hands it out. */
enum large_memory {
    LARGE_FRESH,                       /* a new mapping: zero */
    LARGE_REUSED,                      /* what the range last held */
    LARGE_GUARDED                      /* the same, and its last page is PROT_NONE already */
};
struct large_cache {
    struct large_cached ranges[LARGE_CACHE_SLOTS];
    size_t count;
    struct large_cache *next;          /* in the list of every cache (large.caches) */
    bool listed;
};

/* Call counts and live bytes. Small blocks are counted by their pages (struct page: allocs,
 * collected, used), whose counts move here when a page leaves its class; a free by the owner
 * is not counted at all, it is what the page's counts leave over (stats.c). The other fields
 * count what the slow paths do. Per-heap values may go negative (cross-thread frees). */
struct heap_stats {
    _Atomic uint64_t small_allocs;          /* from pages that left their class */
    _Atomic uint64_t small_frees;           /* by the owner, from pages that left their class */
    _Atomic uint64_t collected_bytes;       /* other threads' frees taken back, from those pages */
    _Atomic uint64_t remote_frees;          /* blocks of other heaps' pages this thread freed and
                                               sent back (stats.c adds those in its outboxes) */
    _Atomic uint64_t remote_free_bytes;
    _Atomic uint64_t small_other_allocs;   /* small blocks made by calloc, realloc, aligned */
    _Atomic uint64_t small_other_frees;    /* small blocks freed by realloc */
    _Atomic int64_t live;                  /* medium and large bytes */
    _Atomic uint64_t malloc_calls, free_calls;  /* those not serving a small block */
    _Atomic uint64_t calloc_calls, realloc_calls, aligned_calls;
};

/* Secure mode's freed blocks, zeroed, waiting before the core may hand them out again
 * (secure.c): a ring of the last QUARANTINE_SLOTS, at most QUARANTINE_BYTES together. */
#define QUARANTINE_SLOTS 256
#define QUARANTINE_BYTES ((size_t)1 << 20)
struct quarantined { void *block; size_t usable; };
struct quarantine {
    struct quarantined slots[QUARANTINE_SLOTS];
    unsigned head, count;
    size_t bytes;
};

struct heap {
    struct page *current[NUM_CLASSES];       /* queue head, or &empty_page: the fast path's only load */
    struct page_list queue[NUM_CLASSES];     /* pages with (maybe) free blocks */
    struct page_list full;                   /* pages with none: skipped until a block comes back */
    struct page_list empty;                  /* a few empty pages kept for quick reuse */
    struct page_list stash;                  /* more of them, unformatted: reused before the pool */
    uint64_t stash_checked_ms;               /* when the stash last sent its due pages (pages.c) */
    _Alignas(64) struct outbox outbox[NUM_CLASSES];  /* other heaps' blocks this thread freed: a line each */
    _Atomic size_t outbox_bytes;             /* in all outboxes (read by stats folds) */
    struct heap_stats stats;
    struct medium_cache medium;
    struct arena *arena;                     /* where this thread's medium blocks come from */
    size_t pages_acquired;                   /* pool pages taken so far */
    size_t next_fold;                        /* pages_acquired at which the stats fold next */
    size_t run_next, run_end;                /* page indices of this heap's run not used yet */
    size_t fresh_pages;                      /* never-used pages taken from the range so far */
    struct heap *next_all;                   /* every heap ever made, for stats and dumps */
    struct heap *next_abandoned;
    bool abandoned;
    _Alignas(64) struct large_cache large_cache;  /* ranges of this heap's freed large blocks */
    _Alignas(64) _Atomic(struct free_block *) remote;  /* frees from other threads */
    struct quarantine quarantine;            /* secure mode only */
};

/* ---- headered blocks (medium and large) ---- */
#define HEADER_SIZE sizeof(struct mem_io_block)
#define MEDIUM_MIN_BLOCK 64


#endif

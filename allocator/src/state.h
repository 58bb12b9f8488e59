/* The process-wide state of mem_io (one translation unit, so it is all `static` here) and
 * the functions that one source file calls in another. */
#ifndef MEM_IO_STATE_H
#define MEM_IO_STATE_H

#include "internal.h"

#include <sched.h>

static uintptr_t mem_io_secret;

/* ---- small pages (pages.c) ---- */
static _Atomic uintptr_t small_base;   /* start of the page range, 64 KiB aligned */
static _Atomic uintptr_t small_span;   /* its length mapped so far; 0 until the first page
                                          is needed, so nothing is small */
static _Atomic uintptr_t small_grains; /* small_span / 16 (free's fast test, pages.c) */
static struct page *descs;             /* one descriptor per page */
static struct page empty_page;         /* no free block: sends the fast path to the slow one */
/* The holes found at start-up for the ranges that grow in place, held until both are found
 * (os_probe). */
struct room_probe { void *at; size_t len; };
static struct room_probe room_probes[2];

#define HEAP_EMPTY_PAGES 8             /* empty pages a heap keeps formatted (the biggest
                                          glibc-simple batch empties 6 at once) */
#define HEAP_STASH_PAGES 32            /* and unformatted, before the pool (pages.c says why) */
static struct {
    pthread_mutex_t lock;
    struct page_list warm;             /* empty pages, most recently emptied first */
    struct page_list purged;           /* empty pages whose memory went back to the OS */
    size_t bumped;                     /* pages ever carved from the range */
    size_t total;                      /* pages mapped so far (and small) */
    size_t room;                       /* pages the range can grow to */
    size_t desc_mapped;                /* bytes of descriptors mapped so far */
    uint64_t decayed_ms;               /* when the last decay round ran (pages.c) */
    _Atomic unsigned decay_shift;      /* pages wait decay_ms << this before they go back
                                          (pages.c: it grows when given-back pages are needed
                                          again soon after) */
    uint64_t shift_changed_ms;         /* when decay_shift last moved */
    uint64_t refaulted_ms;             /* when a page given back was last needed too soon */
    _Atomic uint64_t clock_seen_ms;    /* when the page clock was last read (pages.c) */
    _Atomic uint64_t clock_quiet_ms;   /* the quiet time the page clock leaves out */
} pool = {.lock = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP};

/* ---- heaps (heap.c) ---- */
static struct heap empty_heap = {.current = {[0 ... NUM_CLASSES - 1] = &empty_page}};
static struct heap dead_heap = {.current = {[0 ... NUM_CLASSES - 1] = &empty_page}};
static struct {
    pthread_mutex_t lock;
    struct heap *all;
    struct heap *abandoned;
    char *meta_next, *meta_end;
    unsigned created;                  /* heaps made so far: the next one's arena */
} heaps = {.lock = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP};
/* This thread's heap; empty_heap until first use, dead_heap once the thread has exited. */
static __thread struct heap *tls_heap __attribute__((tls_model("initial-exec"))) = &empty_heap;
static pthread_key_t heap_key;
static _Atomic bool heap_key_ready;

/* ---- medium blocks (arena.c) ---- */
#define ARENA_BINS 64
#define ARENA_MAX_EXTENTS 4096
#define ARENA_QUARANTINE 64
/* Arena 0 grows with sbrk (the seed's heap). Arenas 1.. each own a slice of one reserved
 * range, so a pointer's arena is one subtraction and a shift away; heaps take arenas in turn,
 * and threads that allocate medium blocks at once do not share a lock. */
#define ARENA_COUNT 8
#define ARENA_SLICE_SHIFT_MAX 32               /* 4 GiB of address space per arena */
#define ARENA_SLICE_SHIFT_MIN 26               /* 64 MiB: below this, everyone shares arena 0 */
enum extent_source { EXTENT_SBRK, EXTENT_MMAP, EXTENT_SLICE };
struct extent {
    uintptr_t start, end;              /* 16-byte aligned bounds of the blocks */
    uintptr_t raw_end;                 /* where the break (or mapping, or slice use) really ends */
    struct mem_io_block *last;         /* the block that ends the extent */
    uint8_t source;                    /* enum extent_source */
};
enum arena_answer { ARENA_DONE, ARENA_MOVE, ARENA_ELSEWHERE };
struct arena {                         /* its lock: arena_lock() */
    struct mem_io_block *bins[ARENA_BINS];
    uint64_t nonempty;                 /* bit i: bins[i] has a block */
    size_t extent_count;
    bool top;                          /* extents[top_index] ends where the arena grows next */
    size_t top_index;
    _Atomic uintptr_t span_lo, span_hi;  /* every extent lies in [span_lo, span_hi) */
    size_t slice_used;                 /* arenas 1..: bytes of their slice used so far */
    size_t slice_mapped;               /* and mapped so far (arena_slice_map) */
    uintptr_t heap_start;              /* first sbrk extent, for the log trace */
    size_t heap_bytes;
    size_t quarantine_next;
    struct mem_io_block *quarantine[ARENA_QUARANTINE];  /* headers reported as corrupted */
    struct extent extents[ARENA_MAX_EXTENTS];  /* sorted by address */
};
/* Zero-initialised, so the 1.3 MB array lies in .bss: a page of it costs memory only once its
 * arena writes it (with a static lock initialiser it was file-backed .data, and the kernel
 * mapped 64 KiB of it around each first read). The locks live apart, in a small array with
 * the initialiser, so an arena no heap uses costs nothing. */
static struct arena arenas[ARENA_COUNT];
static struct {
    _Alignas(64) pthread_mutex_t lock;  /* a line each: threads on other arenas share none */
} arena_locks[ARENA_COUNT] = {[0 ... ARENA_COUNT - 1] = {PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP}};

static inline pthread_mutex_t *arena_lock(const struct arena *a)
{
    return &arena_locks[a - arenas].lock;
}
static _Atomic uintptr_t slices_base;  /* arena i >= 1 owns slice i - 1 of the range here */
static _Atomic uintptr_t slices_span;  /* 0 until room is found (or where there is none): then
                                          every heap uses arena 0 */
static unsigned slice_shift;

/* ---- large blocks (large.c) ---- */
enum { SLOT_EMPTY, SLOT_LIVE, SLOT_FREED };
struct large_slot {
    uintptr_t user;
    struct large_cache *home;          /* where the block's range goes when it is freed */
    uint8_t state;
};
static struct {
    pthread_mutex_t lock;
    /* Next to the lock: every large call writes them, and takes the lock anyway. */
    size_t occupied, live;
    size_t cached_bytes;               /* in all caches together */
    size_t unfolded_bytes;             /* mapped since the last live-peak fold here */
    uint64_t oldest_ms;                /* no cached range is older (while cached_bytes > 0) */
    struct large_cache *caches;        /* every cache that ever held a range */
    struct large_slot *slots;          /* open addressing, linear probing */
    size_t capacity;
    struct large_cache shared;         /* for the blocks of threads without a heap */
} large = {.lock = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP};

/* ---- calls across files ---- */
static inline void ensure_init(void);
static void report_error(const char *function, const char *problem, const void *ptr);
static void stats_fold(struct mem_io_stats *out);
static void os_bytes_add(size_t n);
static void os_bytes_sub(size_t n);
static inline void stat_live(int64_t delta);
static inline void stat_call(_Atomic uint64_t *counter);
static inline void stat_add(_Atomic uint64_t *counter, uint64_t n);
static inline bool heap_is_shared(const struct heap *h);
static void medium_cache_flush(struct heap *h);
static int medium_cache_class(size_t size);
static size_t medium_class_need(size_t need);
static void *medium_cache_take(struct heap *h, size_t need);
static void pool_put(struct page *pg, bool due);
static void pool_put_many(struct page **pgs, const bool *due, size_t n, uint64_t now);
static size_t pool_pages_carved(void);
static struct heap *heap_acquire(void);
static void heap_thread_exit(void *arg);
static struct mem_io_block *arena_new_extent(struct arena *a, char *got, size_t len, enum extent_source source);
static void arena_set_last(struct arena *a, struct mem_io_block *b);
static void block_absorb_next(struct arena *a, struct mem_io_block *b);
static bool large_usable(const void *p, const char *function, size_t *usable);
static void free_generic(void *p, const char *function);
static inline bool free_fast(void *p);
static size_t small_usable(const void *p, const char *function);
static void *alloc_generic(size_t n, size_t alignment, bool zero);
static void free_core(void *p);
static void secure_init(void);
static void *secure_alloc(size_t n, size_t alignment);
static void secure_free(void *p, const char *function);
static void *secure_realloc(void *p, size_t n);
static size_t secure_usable_size(const void *p);
#endif

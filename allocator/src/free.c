/* Free and size queries. mem_io_free's fast path: one compare says "small", the page's owner
 * is this thread, p starts a carved block, the block is not marked free; then push it on the
 * page's free list. Every other pointer is proven ours (arena extent, large-block set) before
 * a header is read. */
#include "internal.h"

/* The usable size of a small block, after checking that p starts a live block. */
static size_t small_usable(const void *p, const char *function)
{
    struct page *pg = page_of(small_offset(p));
    enum small_kind kind = small_block_kind(p, pg);
    if (kind == SMALL_LIVE)
        return LOAD(pg->block_size);
    report_error(function, kind == SMALL_INVALID ? "invalid pointer" : "use of a freed block", p);
    return 0;
}

/* A small pointer that free_fast did not take (every caller tries it first): a block of
 * another thread's heap, or not a live block. Sets no errno (free_remote, report_error). */
static void free_small(void *p, uintptr_t off, const char *function)
{
    struct page *pg = page_of(off);
    struct heap *owner = atomic_load_explicit(&pg->heap, relaxed), *h = tls_heap;
    if (owner != h)
        free_remote(p, pg, owner, h, function);
    else
        report_error(function, small_block_kind(p, pg) == SMALL_INVALID ? "invalid pointer" : "double free detected", p);
}

/* Medium and large blocks, and pointers that are none of ours. */
static void free_headered(void *p, const char *function)
{
    int saved = errno;
    ensure_init();
    if (!arena_free(p, function) && !large_free(p, function))
        report_error(function, "invalid pointer", p);
    errno = saved;
}

static void free_generic(void *p, const char *function)
{
    if (!p)
        return;
    uintptr_t off = small_offset(p);
    if (off < LOAD(small_span))
        free_small(p, off, function);
    else
        free_headered(p, function);
}

/* What free does with a non-NULL p that the fast path did not take: small blocks go straight
 * to free_small (most are other threads' blocks: the remote free), medium blocks to the
 * thread's cache when they can, the rest to free_headered. */
static void free_core_slow(void *p)
{
    uintptr_t off = small_offset(p);
    if (off < LOAD(small_span)) {
        free_small(p, off, "free");
        return;
    }
    struct heap *h = tls_heap;
    if (medium_cache_put(h, p)) {  /* only h's own extent passes: h is this thread's */
        BUMP(h->stats.free_calls, 1);
        return;
    }
    stat_call(&h->stats.free_calls);
    free_headered(p, "free");
}

/* Not inlined into mem_io_free, so the fast path needs no stack frame. */
static __attribute__((noinline)) void free_slow(void *p)
{
    if (!p)
        return;
    if (unlikely(secure_mode))
        secure_free(p, "free");
    else
        free_core_slow(p);
}

/* pg's owner by a plain load, which the compiler folds into free's compare (an atomic load it
 * does not: one instruction less per free). No valid free races with a write of the owner: a
 * thread holds a block of pg only after pg took its owner (the pointer reached it through the
 * program's own synchronisation), and pg changes owner only once every block has come back. */
static inline struct heap *page_owner_unsynchronised(const struct page *pg)
{
    return *(struct heap *const *)&pg->heap;
}

/* block_start() for the owner of pg, by plain loads as above: only the owner writes the
 * page's magic and limit, so its own reads race with nothing. */
static inline bool block_start_owned(const void *p, const struct page *pg)
{
    return block_start(p, *(const uint64_t *)&pg->start_magic, *(const uint64_t *)&pg->start_limit);
}

/* The owner's free of a small block: when p (at `grain`, a 16-byte aligned small offset) is a
 * live block of h's, it goes on its page's free list, marked. False for any other pointer.
 * The mark is read from the line that the link store writes anyway (pages.c, free_mark).
 * The default mode's free makes the page its class's current page, so the class's next malloc
 * hands p out again while its line is still in this core's cache, as a thread cache's last-in
 * first-out list does. Secure mode's (`secure`) does not (every malloc of it takes the slow
 * path), and tests only the owner: secure.c proved p a live block when the program freed it,
 * and that nothing wrote to it since. A page on the full list is moved back by
 * page_after_free. */
static inline bool free_small_owned(void *p, struct page *pg, struct heap *h, bool secure)
{
    struct free_block *b = p;
    if (likely(page_owner_unsynchronised(pg) == h &&
               (secure || (block_start_owned(p, pg) && !block_marked_free(b))))) {
        b->next_encoded = link_encode((uintptr_t)pg->free, b);
        b->mark = free_mark(b);
        pg->free = b;
        if (!secure)
            h->current[pg->class_id] = pg;
        uint16_t used = page_used_drop(pg);
        /* slow only to leave the full list or to retire an empty page that is not the
         * class's last one (keeping that one avoids thrash in alloc/free ping-pong); the
         * links are OR-ed and the count tested as 16 bits: an instruction less each */
        if (unlikely(pg->place != PAGE_IN_QUEUE ||
                     (used == 0 && ((uintptr_t)pg->next | (uintptr_t)pg->prev))))
            page_after_free(h, pg);
        return true;
    }
    return false;
}

/* The page of a small pointer's grain (small_grain). */
static inline struct page *grain_page(uintptr_t grain)
{
    return &descs[grain >> (PAGE_SHIFT - GRAIN_SHIFT)];
}

/* The fast path: p is a USED block of this thread's heap, pushed on its page's free list.
 * False for any other pointer, which the caller's general path then sorts out (and reports,
 * under its own function name); *foreign is then p's page when another heap owns it (p may be
 * one of its blocks), else NULL. Never true in secure mode (small_grains is 0 there). */
static inline bool free_fast_or_foreign(void *p, struct page **foreign)
{
    uintptr_t grain = small_grain(p);
    struct heap *h = tls_heap;
    *foreign = NULL;
    if (likely(grain < LOAD(small_grains))) {  /* small, 16-byte aligned */
        struct page *pg = grain_page(grain);
        if (likely(free_small_owned(p, pg, h, false)))
            return true;
        if (page_owner_unsynchronised(pg) != h)
            *foreign = pg;
    }
    return false;
}

static inline bool free_fast(void *p)
{
    struct page *foreign;
    return free_fast_or_foreign(p, &foreign);
}

/* free of a small pointer p into page pg of another heap: the remote free, straight from
 * mem_io_free (free_slow's tests are passed already; errno needs no saving, free_remote). */
static __attribute__((noinline)) void free_foreign(void *p, struct page *pg)
{
    free_remote(p, pg, atomic_load_explicit(&pg->heap, relaxed), tls_heap, "free");
}

/* Secure mode's free of a block it proved live and unwritten since (free_small_owned): the
 * core's free, fast path included. */
static void free_core(void *p)
{
    uintptr_t grain = small_grain(p);
    if (grain < (LOAD(small_span) >> GRAIN_SHIFT) && free_small_owned(p, grain_page(grain), tls_heap, true))
        return;
    free_core_slow(p);
}

void mem_io_free(void *p)
{
    struct page *foreign;
    if (likely(free_fast_or_foreign(p, &foreign)))
        return;
    if (foreign)
        free_foreign(p, foreign);
    else
        free_slow(p);
}

void mem_io_free_sized(void *p, size_t size)
{
    (void)size;  /* the block knows its size; a wrong size is not trusted */
    mem_io_free(p);
}

void mem_io_free_aligned_sized(void *p, size_t alignment, size_t size)
{
    (void)alignment;
    (void)size;
    mem_io_free(p);
}

size_t mem_io_usable_size(const void *p)
{
    if (!p)
        return 0;
    ensure_init();
    if (unlikely(secure_mode))
        return secure_usable_size(p);
    if (is_small(p))
        return small_usable(p, "malloc_usable_size");
    ensure_init();
    size_t usable = 0;
    if (!arena_usable(p, "malloc_usable_size", &usable) &&
        !large_usable(p, "malloc_usable_size", &usable))
        report_error("malloc_usable_size", "invalid pointer", p);
    return usable;
}

/* Statistics. Call counts and live bytes are per-heap counters that only the owning thread
 * writes (plain loads and stores, no lock prefix); a read folds every heap together. Bytes
 * held from the OS change only on slow paths, so they are global atomics. */
#include "internal.h"

static _Atomic size_t os_bytes, peak_os_bytes;
static _Atomic size_t peak_live_bytes;

static void os_bytes_add(size_t n)
{
    size_t now = atomic_fetch_add(&os_bytes, n) + n;
    size_t peak = atomic_load(&peak_os_bytes);
    while (now > peak && !atomic_compare_exchange_weak(&peak_os_bytes, &peak, now)) {
    }
}

static void os_bytes_sub(size_t n)
{
    atomic_fetch_sub(&os_bytes, n);
}

/* Counts on this thread's heap; threads without one (not started, or exiting) share
 * empty_heap/dead_heap, whose counters take a real atomic add. */
static inline bool heap_is_shared(const struct heap *h)
{
    return h == &empty_heap || h == &dead_heap;
}

static inline void stat_add(_Atomic uint64_t *counter, uint64_t n)
{
    if (heap_is_shared(tls_heap))
        atomic_fetch_add_explicit(counter, n, relaxed);
    else
        BUMP(*counter, n);
}

static inline void stat_call(_Atomic uint64_t *counter)
{
    stat_add(counter, 1);
}

static inline void stat_live(int64_t delta)
{
    struct heap *h = tls_heap;
    if (heap_is_shared(h))
        atomic_fetch_add_explicit(&h->stats.live, delta, relaxed);
    else
        BUMP(h->stats.live, delta);
}

/* Small blocks are counted where the fast paths pay nothing new for it: malloc bumps its page's
 * `counts` (used and allocs, one add) on the cache line it writes anyway, a free by the owner
 * only lowers `used`, and the slow paths count the rest. A page's frees by its owner are then
 *     allocs - used - collected
 * (collected: its blocks that other threads freed and the owner took back). Those threads
 * count their frees and the bytes when they send them back, and a fold adds those still in
 * their outboxes (stats_add_outboxes); until the owner takes such a block back it
 * is still in its page's `used`, so the live small bytes are
 *     sum over pages of (used + collected) * block size - (remote_free_bytes - collected_bytes).
 * A page that leaves its class (used is 0 then) hands its counts to its heap. Per-class heap
 * counters would cost instructions on every malloc and free and two more cache lines; these
 * cost free one mask of the packed count (internal.h). */
static void stats_take_page_counts(struct heap *h, struct page *pg)
{
    uint64_t allocs = page_allocs(pg), collected = LOAD(pg->collected);
    BUMP(h->stats.small_allocs, allocs);
    BUMP(h->stats.small_frees, allocs - collected);
    BUMP(h->stats.collected_bytes, collected * LOAD(pg->block_size));
    STORE(pg->counts, LOAD(pg->counts) & PAGE_USED_MASK);
    STORE(pg->collected, 0);
}

/* Running sums of a fold: signed, since counts read while their owners run may be a step
 * apart (the owner changes a page's `collected` and then its `counts`). */
struct fold { int64_t mallocs, frees, live; };

/* Other heaps' blocks that h freed and holds in its outboxes: counted in its remote frees once
 * sent (heap.c, outbox_take), so that the remote free itself pays for no counter. */
static void stats_add_outboxes(struct fold *f, const struct heap *h)
{
    if (!LOAD(h->outbox_bytes))  /* the usual case, and a single thread's always: no walk */
        return;
    for (unsigned c = 0; c < NUM_CLASSES; c++) {
        f->frees += LOAD(h->outbox[c].blocks);
        f->live -= LOAD(h->outbox[c].bytes);
    }
}

static void stats_add_heap(struct fold *f, struct mem_io_stats *sum, struct heap *h)
{
    const struct heap_stats *st = &h->stats;
    f->mallocs += (int64_t)(LOAD(st->small_allocs) + LOAD(st->malloc_calls) - LOAD(st->small_other_allocs));
    f->frees += (int64_t)(LOAD(st->small_frees) + LOAD(st->remote_frees) + LOAD(st->free_calls) -
                          LOAD(st->small_other_frees));
    f->live += LOAD(st->live) + (int64_t)(LOAD(st->collected_bytes) - LOAD(st->remote_free_bytes));
    stats_add_outboxes(f, h);
    sum->calloc_calls += LOAD(st->calloc_calls);
    sum->realloc_calls += LOAD(st->realloc_calls);
    sum->aligned_calls += LOAD(st->aligned_calls);
}

/* Every page that has an owner: the counts its owner has not handed to the heap yet. */
static void stats_add_pages(struct fold *f)
{
    size_t pages = pool_pages_carved();
    for (size_t i = 0; i < pages; i++) {
        struct page *pg = &descs[i];
        if (!atomic_load_explicit(&pg->heap, relaxed))
            continue;
        uint64_t counts = LOAD(pg->counts);
        int64_t allocs = (int64_t)(counts >> PAGE_USED_BITS), used = (int64_t)(counts & PAGE_USED_MASK);
        int64_t collected = (int64_t)LOAD(pg->collected);
        f->mallocs += allocs;
        f->frees += allocs - used - collected;
        f->live += (used + collected) * (int64_t)LOAD(pg->block_size);
    }
}

static uint64_t at_least_zero(int64_t v)
{
    return v > 0 ? (uint64_t)v : 0;
}

/* Adds up every heap's counters and raises the live-bytes peak: the fold point. */
static void stats_fold(struct mem_io_stats *out)
{
    struct mem_io_stats sum = {0};
    struct fold f = {0};
    stats_add_heap(&f, &sum, &empty_heap);
    stats_add_heap(&f, &sum, &dead_heap);
    pthread_mutex_lock(&heaps.lock);
    for (struct heap *h = heaps.all; h; h = h->next_all)
        stats_add_heap(&f, &sum, h);
    pthread_mutex_unlock(&heaps.lock);
    stats_add_pages(&f);
    sum.malloc_calls = at_least_zero(f.mallocs);
    sum.free_calls = at_least_zero(f.frees);
    sum.live_bytes = at_least_zero(f.live);
    size_t peak = atomic_load(&peak_live_bytes);
    while (sum.live_bytes > peak &&
           !atomic_compare_exchange_weak(&peak_live_bytes, &peak, sum.live_bytes)) {
    }
    if (!out)
        return;
    sum.peak_live_bytes = sum.live_bytes > peak ? sum.live_bytes : peak;
    sum.os_bytes = atomic_load(&os_bytes);
    sum.peak_os_bytes = atomic_load(&peak_os_bytes);
    sum.errors = atomic_load(&error_count);
    *out = sum;
}

void mem_io_get_stats(struct mem_io_stats *out)
{
    if (!out)
        return;
    ensure_init();
    stats_fold(out);
}

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

static void stat_add(_Atomic uint64_t *counter, uint64_t n)
{
    if (heap_is_shared(tls_heap))
        atomic_fetch_add_explicit(counter, n, relaxed);
    else
        BUMP(*counter, n);
}

static void stat_call(_Atomic uint64_t *counter)
{
    stat_add(counter, 1);
}

static void stat_live(int64_t delta)
{
    struct heap *h = tls_heap;
    if (heap_is_shared(h))
        atomic_fetch_add_explicit(&h->stats.live, delta, relaxed);
    else
        BUMP(h->stats.live, delta);
}

static void stats_add_heap(struct mem_io_stats *sum, int64_t *live, struct heap *h)
{
    const struct heap_stats *st = &h->stats;
    for (unsigned c = 0; c < NUM_CLASSES; c++) {
        uint64_t allocs = LOAD(st->small_allocs[c]), frees = LOAD(st->small_frees[c]);
        *live += (int64_t)(allocs - frees) * (int64_t)class_size[c];
        sum->malloc_calls += allocs;
        sum->free_calls += frees;
    }
    sum->malloc_calls += LOAD(st->malloc_calls) - LOAD(st->small_other_allocs);
    sum->free_calls += LOAD(st->free_calls) - LOAD(st->small_other_frees);
    *live += LOAD(st->live);
    sum->calloc_calls += LOAD(st->calloc_calls);
    sum->realloc_calls += LOAD(st->realloc_calls);
    sum->aligned_calls += LOAD(st->aligned_calls);
}

/* Adds up every heap's counters and raises the live-bytes peak: the fold point. */
static void stats_fold(struct mem_io_stats *out)
{
    struct mem_io_stats sum = {0};
    int64_t live = 0;
    stats_add_heap(&sum, &live, &empty_heap);
    stats_add_heap(&sum, &live, &dead_heap);
    pthread_mutex_lock(&heaps.lock);
    for (struct heap *h = heaps.all; h; h = h->next_all)
        stats_add_heap(&sum, &live, h);
    pthread_mutex_unlock(&heaps.lock);
    sum.live_bytes = live > 0 ? (size_t)live : 0;
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

/* Per-thread heaps: creation and adoption, the slow path of small allocation, frees that
 * come back from other threads, and the hand-back when a thread exits. */
#include "internal.h"

#define HEAP_META_CHUNK ((size_t)256 * 1024)


/* The page malloc's fast path pops from for `cls`. In secure mode none: every malloc then
 * takes the slow path, which hands it to secure.c. */
static inline void heap_set_current(struct heap *h, unsigned cls, struct page *pg)
{
    h->current[cls] = secure_mode ? &empty_page : pg;
}

/* Heaps live in mmap'd chunks and are never unmapped: a heap whose thread exited is reused
 * whole by the next new thread, pages, counters and pending remote frees included. */
static struct heap *heap_new_locked(void)
{
    size_t size = (sizeof(struct heap) + 63) & ~(size_t)63;
    if ((size_t)(heaps.meta_end - heaps.meta_next) < size) {
        char *chunk = os_map(HEAP_META_CHUNK);
        if (!chunk)
            return NULL;
        os_bytes_add(HEAP_META_CHUNK);
        heaps.meta_next = chunk;
        heaps.meta_end = chunk + HEAP_META_CHUNK;
    }
    struct heap *h = (struct heap *)heaps.meta_next;
    heaps.meta_next += size;
    for (unsigned c = 0; c < NUM_CLASSES; c++)
        h->current[c] = &empty_page;
    /* in turn, from arena 0 (the first heap is usually the main thread's: it keeps sbrk) */
    h->arena = &arenas[LOAD(slices_span) ? heaps.created++ % ARENA_COUNT : 0];
    h->next_all = heaps.all;
    heaps.all = h;
    return h;
}

/* The calling thread's heap, made or adopted on first use; NULL when the thread has already
 * handed its heap back (it is exiting) or no heap can be made: callers then use the arena.
 * errno is kept (a failed mmap sets it), so free's remote path need not save it. */
static struct heap *heap_acquire(void)
{
    struct heap *h = tls_heap;
    if (h != &empty_heap)
        return h == &dead_heap ? NULL : h;
    int saved = errno;
    ensure_init();
    pthread_mutex_lock(&heaps.lock);
    h = heaps.abandoned;
    if (h) {
        heaps.abandoned = h->next_abandoned;
        h->abandoned = false;
    } else {
        h = heap_new_locked();
    }
    pthread_mutex_unlock(&heaps.lock);
    if (h) {
        tls_heap = h;  /* before setspecific, which may allocate */
        if (atomic_load(&heap_key_ready))
            pthread_setspecific(heap_key, h);
    }
    errno = saved;
    return h;
}

/* Moves a page that got a free block back from the full list, or retires it when empty. */
static void page_after_free(struct heap *h, struct page *pg)
{
    unsigned cls = pg->class_id;
    struct page_list *queue = &h->queue[cls];
    if (page_used(pg) == 0) {
        if (pg->place == PAGE_IN_QUEUE && queue->count == 1)
            return;  /* keep one page per class to avoid thrashing */
        list_remove(pg->place == PAGE_IN_QUEUE ? queue : &h->full, pg);
        heap_set_current(h, cls, queue->head ? queue->head : &empty_page);
        page_retire(h, pg);
    } else if (pg->place == PAGE_IN_FULL) {
        list_remove(&h->full, pg);
        pg->place = PAGE_IN_QUEUE;
        list_push_tail(queue, pg);
        heap_set_current(h, cls, pg);  /* its returned block goes out next, as free.c's do */
    }
}

/* Returns a block freed by another thread to its page (owner thread only); it carries its mark
 * since that thread freed it. */
static void free_collected(struct heap *h, struct free_block *b, struct page *pg)
{
    b->next_encoded = link_encode((uintptr_t)pg->free, b);
    pg->free = b;
    BUMP(pg->collected, 1);
    if (page_used_drop(pg) == 0 || pg->place != PAGE_IN_QUEUE)
        page_after_free(h, pg);
}

/* The next block of a remote list, whose blocks lie in the small range's first `span` bytes
 * (read once by the walk: it only grows): a link that is not a 16-byte aligned small address
 * is reported and ends the list (its blocks are leaked, never handed out). */
static inline struct free_block *cross_page_next(struct free_block *b, uintptr_t base, uintptr_t span)
{
    uintptr_t next = link_decode(b->next_encoded, b);
    if (unlikely(next - base >= span || (next & 15)) && next) {
        report_error("free", "corrupted cross-thread free list", (void *)next);
        return NULL;
    }
    return (struct free_block *)next;
}

/* Whether returned blocks of `size` bytes have room for a prefetch hint (struct
 * returned_block). Not in secure mode, whose blocks are zero past their struct free_block
 * while they wait. */
static inline bool hint_room(uint32_t size)
{
    return !secure_mode && size >= sizeof(struct returned_block);
}

/* The walk reads each returned block once, and most are in another core's cache: one miss
 * per block, each waiting for the last when the links are followed. The blocks' `ahead`
 * hints let REMOTE_PREFETCH_DISTANCE of those misses be in flight at once (a prefetch of a
 * bad address is harmless, so the hints need no check). A returned block that lost its mark
 * was handed out meanwhile: a second free of it went unseen, since a use-after-free write
 * had erased the mark (pages.c, free_mark). It is reported and stays with its new user. */
static void heap_collect_remote(struct heap *h)
{
    if (!atomic_load_explicit(&h->remote, relaxed))
        return;
    struct free_block *b = atomic_exchange_explicit(&h->remote, NULL, memory_order_acquire);
    /* read once, not per block: the base never moves, and h's pages lie within the span */
    const uintptr_t base = LOAD(small_base), span = LOAD(small_span);
    while (b) {
        struct page *pg = page_of((uintptr_t)b - base);
        if (hint_room(LOAD(pg->block_size))) {
            struct returned_block *r = (struct returned_block *)b;
            __builtin_prefetch((void *)link_decode(r->ahead_encoded, &r->ahead_encoded), 1);
        }
        struct free_block *next = cross_page_next(b, base, span);
        if (likely(block_marked_free(b)))
            free_collected(h, b, pg);
        else
            report_error("free", "corrupted cross-thread free list", b);
        b = next;
    }
}

/* Pushes the chain first..last (linked already) on the owner's remote list with one CAS. */
static void remote_push(struct heap *owner, struct free_block *first, struct free_block *last)
{
    struct free_block *head = atomic_load_explicit(&owner->remote, relaxed);
    do {
        last->next_encoded = link_encode((uintptr_t)head, last);
    } while (!atomic_compare_exchange_weak_explicit(&owner->remote, &head, first,
                                                    memory_order_release, relaxed));
}

/* Outboxes. A thread that frees blocks of another heap's pages gathers them per class and
 * hands them back in batches: one CAS per run of blocks with one owner (a hand-off between
 * two threads makes one run) instead of one CAS on the owner's contended list head per block.
 * An outbox holds one run: a block of another owner sends the run first. So a batch goes back
 * without a walk: its owner, its ends and its prefetch hints are set as blocks come in.
 * The owner's page still counts them as out, and the owner cannot reuse them meanwhile, so
 * outboxes are small (OUTBOX_CLASS_BYTES per class, OUTBOX_HEAP_BYTES in all) and emptied
 * when their thread exits. The blocks keep their mark meanwhile, so a second free of one is
 * still caught.
 * The freeing thread does not hand them out itself, as tcmalloc's and jemalloc's caches do:
 * measured, that made larson and cache-scratch at 2 threads several times slower (the state
 * bytes and the blocks' cache lines then take writes from two threads, blocks under 64 bytes
 * share lines with the owner's, and a block handed out by a thread that does not own its page
 * stays foreign: each later free of it is a remote one) for a small gain on xmalloc-test
 * (docs/allocator-history.md). */

/* Empties the outbox of class cls, returning its run (its tail's link not set). Its blocks
 * join the heap's remote-free counts now (stats.c adds those still waiting). */
static struct free_block *outbox_take(struct heap *h, unsigned cls)
{
    struct outbox *box = &h->outbox[cls];
    struct free_block *run = box->head;
    BUMP(h->stats.remote_frees, LOAD(box->blocks));
    BUMP(h->stats.remote_free_bytes, LOAD(box->bytes));
    STORE(h->outbox_bytes, LOAD(h->outbox_bytes) - LOAD(box->bytes));
    box->head = NULL;
    STORE(box->bytes, 0);
    STORE(box->blocks, 0);
    memset(box->recent, 0, sizeof box->recent);
    return run;
}

/* Not inlined (nor outbox_flush_all): outbox_put's calls are then jumps, and a remote free
 * needs no stack frame. */
static __attribute__((noinline)) void outbox_flush(struct heap *h, unsigned cls)
{
    struct outbox *box = &h->outbox[cls];
    struct heap *owner = box->owner;
    struct free_block *last = box->tail;
    remote_push(owner, outbox_take(h, cls), last);
}

/* All classes go back, the outboxes of neighbouring classes with one owner as one run (a
 * hand-off of mixed sizes): one CAS for each. */
static __attribute__((noinline)) void outbox_flush_all(struct heap *h)
{
    struct free_block *run = NULL, *last = NULL;
    struct heap *owner = NULL;
    for (unsigned c = 0; c < NUM_CLASSES; c++) {
        struct outbox *box = &h->outbox[c];
        if (!box->head)
            continue;
        if (run && box->owner != owner) {
            remote_push(owner, run, last);
            run = NULL;
        }
        if (run) {
            box->tail->next_encoded = link_encode((uintptr_t)run, box->tail);
        } else {
            last = box->tail;
            owner = box->owner;
        }
        run = outbox_take(h, c);
    }
    if (run)
        remote_push(owner, run, last);
}

/* Block b (of `size` bytes), the newest of its outbox's run after `blocks` others, names as
 * its prefetch hint the block that came in REMOTE_PREFETCH_DISTANCE blocks before it, which
 * the owner's walk meets that many blocks later (NULL for the run's first ones). Only blocks
 * with room for the hint. */
static inline void outbox_hint(struct outbox *box, struct free_block *b, uint32_t blocks, uint32_t size)
{
    if (!hint_room(size))
        return;
    struct returned_block *r = (struct returned_block *)b;
    struct returned_block **slot = &box->recent[blocks % REMOTE_PREFETCH_DISTANCE];
    r->ahead_encoded = link_encode((uintptr_t)*slot, &r->ahead_encoded);
    *slot = r;
}

static void outbox_put_new_run(struct heap *h, struct free_block *b, unsigned cls, uint32_t size,
                               struct heap *owner);

/* Puts block b of class cls (`size` bytes), whose page `owner` owns, in h's outbox for its
 * class. Every call it makes is its last act, so the common path needs no stack frame. */
static inline void outbox_put(struct heap *h, struct free_block *b, unsigned cls, uint32_t size,
                              struct heap *owner)
{
    struct outbox *box = &h->outbox[cls];
    struct free_block *head = box->head;
    if (head && box->owner != owner) {  /* a run has one owner */
        outbox_put_new_run(h, b, cls, size, owner);
        return;
    }
    if (!head) {
        box->tail = b;
        box->owner = owner;
    }
    b->next_encoded = link_encode((uintptr_t)head, b);
    box->head = b;
    uint32_t blocks = LOAD(box->blocks);
    outbox_hint(box, b, blocks, size);
    STORE(box->blocks, blocks + 1);
    uint32_t bytes = LOAD(box->bytes) + size;
    STORE(box->bytes, bytes);
    size_t all = LOAD(h->outbox_bytes) + size;
    STORE(h->outbox_bytes, all);
    if (bytes > OUTBOX_CLASS_BYTES)  /* blocks bigger than an outbox go back at once */
        outbox_flush(h, cls);
    else if (all > OUTBOX_HEAP_BYTES)
        outbox_flush_all(h);
}

static __attribute__((noinline)) void outbox_put_new_run(struct heap *h, struct free_block *b, unsigned cls,
                                                         uint32_t size, struct heap *owner)
{
    outbox_flush(h, cls);
    outbox_put(h, b, cls, size, owner);
}

/* free_remote's block b of page pg when this thread has no heap: it takes one on its first
 * call, or sends b straight to its owner when it is exiting. */
static __attribute__((noinline)) void free_remote_without_heap(struct free_block *b, struct page *pg,
                                                               struct heap *owner)
{
    struct heap *h = heap_acquire();
    if (h) {
        outbox_put(h, b, pg->class_id, LOAD(pg->block_size), owner);
        return;
    }
    stat_add(&tls_heap->stats.remote_frees, 1);
    stat_add(&tls_heap->stats.remote_free_bytes, LOAD(pg->block_size));
    if (hint_room(LOAD(pg->block_size))) {
        struct returned_block *r = (struct returned_block *)b;
        r->ahead_encoded = link_encode(0, &r->ahead_encoded);
    }
    remote_push(owner, b, b);
}

/* A free from a thread (its heap h) that does not own the page (`owner` does): the block is marked free (so
 * a later free of it by any thread is caught), then goes into this thread's outbox, or
 * straight to the owner when this thread has no heap (it is exiting). The mark is written with
 * a plain store, as the owner's own free writes it. Only two frees of one block racing at the
 * same instant go uncaught, as they do on the owner's path. Nothing here sets errno
 * (report_error and heap_acquire keep it), so free calls this without saving it. */
static inline void free_remote(void *p, struct page *pg, struct heap *owner, struct heap *h,
                               const char *function)
{
    enum small_kind kind = small_block_kind(p, pg);
    if (unlikely(kind != SMALL_LIVE)) {
        report_error(function, kind == SMALL_INVALID ? "invalid pointer" : "double free detected", p);
        return;
    }
    struct free_block *b = p;
    b->mark = free_mark(b);
    if (unlikely(heap_is_shared(h))) {
        free_remote_without_heap(b, pg, owner);
        return;
    }
    outbox_put(h, b, pg->class_id, LOAD(pg->block_size), owner);
}

/* The corrupted free list of a page is dropped (its blocks are leaked, never handed out). */
static void free_list_corrupted(struct page *pg)
{
    void *bad = pg->free;
    pg->free = NULL;
    report_error("malloc", "corrupted free list", bad);
}

/* The head of pg's free list, checked (marked free, its link plausible) and unmarked. */
static inline void *page_pop(struct page *pg)
{
    struct free_block *b = pg->free;
    uintptr_t next = link_decode(b->next_encoded, b);
    if (unlikely(!block_marked_free(b) || !link_plausible(next, b)))
        return NULL;
    pg->free = (struct free_block *)next;
    b->mark = 0;
    BUMP(pg->counts, PAGE_ALLOC_STEP);
    return b;
}

/* The current page of `cls` has no free block: take back remote frees, then walk the class
 * queue (moving exhausted pages to the full list), then take a fresh page. */
static void *small_alloc_slow(struct heap *h, unsigned cls)
{
    heap_collect_remote(h);
    struct page_list *queue = &h->queue[cls];
    for (;;) {
        struct page *pg = queue->head;
        while (pg) {
            if (!pg->free && LOAD(pg->capacity) < pg->reserved)
                page_extend(pg);
            if (pg->free)
                break;
            struct page *next = pg->next;
            list_remove(queue, pg);
            pg->place = PAGE_IN_FULL;
            list_push_tail(&h->full, pg);
            pg = next;
        }
        if (!pg) {
            pg = page_acquire(h, cls);
            if (!pg)
                return NULL;
            pg->place = PAGE_IN_QUEUE;
            list_push_head(queue, pg);
            if (!pg->free)
                page_extend(pg);
        } else if (pg != queue->head) {
            list_remove(queue, pg);
            list_push_head(queue, pg);
        }
        heap_set_current(h, cls, pg);
        void *b = page_pop(pg);
        if (b)
            return b;
        free_list_corrupted(pg);
    }
}

/* Thread exit (pthread key destructor): empty pages go back to the pool and the heap waits,
 * with its partly used pages, for the next thread. Later frees by this thread take the
 * remote path; later allocations use the arena. */
static void heap_thread_exit(void *arg)
{
    struct heap *h = arg;
    tls_heap = &dead_heap;
    outbox_flush_all(h);
    heap_collect_remote(h);
    for (unsigned c = 0; c < NUM_CLASSES; c++) {
        struct page *pg = h->queue[c].head;
        while (pg) {
            struct page *next = pg->next;
            if (page_used(pg) == 0) {
                list_remove(&h->queue[c], pg);
                page_retire(h, pg);
            }
            pg = next;
        }
        heap_set_current(h, c, h->queue[c].head ? h->queue[c].head : &empty_page);
    }
    struct page *pg;
    while ((pg = list_pop_head(&h->empty)))
        pool_put(pg, false);
    while ((pg = list_pop_head(&h->stash)))
        pool_put(pg, false);
    medium_cache_flush(h);
    pthread_mutex_lock(&heaps.lock);
    h->abandoned = true;
    h->next_abandoned = heaps.abandoned;
    heaps.abandoned = h;
    pthread_mutex_unlock(&heaps.lock);
}

/* Small pages: the reserved range, the global pool of empty pages, and carving a page into
 * blocks of one size class. */
#include "internal.h"

#define SMALL_RANGE_MIN_BYTES ((size_t)32 << 20)  /* smallest range worth having */
#define SMALL_RANGE_BYTES ((size_t)16 << 30)
#define SMALL_MAP_AHEAD_BYTES ((size_t)32 << 20)  /* pages mapped ahead of use at once */
#define HEAP_RUN_PAGES 16                        /* fresh pages a heap takes from the range at once */
#define HUGE_RUN_PAGES (OS_HUGE_PAGE / PAGE_SIZE) /* a run that is one huge page */
#define POOL_OWNER_SCAN 64                        /* pool pages looked at for the caller's own */
#define DECAY_BATCH_PAGES 128                     /* pool pages sorted at once to give back */
#define DECAY_ROUND_SPLIT 8                       /* decay rounds per decay time, at most */
#define DECAY_SHIFT_MAX 3                         /* the decay time grows to 8 x MEM_IO_DECAY_MS */
#define DECAY_CALM_TIMES 4                        /* decay times without a page needed too soon
                                                     before the decay time halves again */
#define DECAY_QUIET_SPLIT 4                       /* a quiet spell counts as at most this
                                                     fraction of MEM_IO_DECAY_MS */

static inline uintptr_t small_offset(const void *p)
{
    return (uintptr_t)p - LOAD(small_base);
}

static inline bool is_small(const void *p)
{
    return small_offset(p) < LOAD(small_span);
}

static inline struct page *page_of(uintptr_t off)
{
    return &descs[off >> PAGE_SHIFT];
}

/* p's offset in grains, rotated so that the low bits of a pointer that is not 16-byte aligned
 * land at the top: `small_grain(p) < small_grains` says in one compare that p is small and
 * may start a block. */
static inline uintptr_t small_grain(const void *p)
{
    uintptr_t off = small_offset(p);
    return off >> GRAIN_SHIFT | off << (64 - GRAIN_SHIFT);
}

static inline uintptr_t page_start(const struct page *pg)
{
    return LOAD(small_base) + ((uintptr_t)(pg - descs) << PAGE_SHIFT);
}

/* Free-list links are stored keyed with the secret and their own address, so a stray write
 * or a forged link decodes to garbage that the pop check rejects. */
static inline uintptr_t link_encode(uintptr_t next, const void *at)
{
    return next ^ mem_io_secret ^ (uintptr_t)at;
}

static inline uintptr_t link_decode(uintptr_t stored, const void *at)
{
    return stored ^ mem_io_secret ^ (uintptr_t)at;
}

/* A decoded link is plausible when it is a 16-byte aligned block of the same page (next and
 * the aligned `at` then differ only in the bits of a grain index: one test of the common
 * case), or NULL. */
static inline bool link_plausible(uintptr_t next, const void *at)
{
    uintptr_t differ = next ^ (uintptr_t)at;
    return (differ & ~(uintptr_t)(PAGE_SIZE - (1u << GRAIN_SHIFT))) == 0 || next == 0;
}

/* Every free small block carries this mark in its second word (struct free_block), and
 * malloc clears it, so a block that carries it is free: free and realloc read it in the
 * block's first line, which free writes anyway, where a state byte per 16 bytes cost free a
 * line of its own (an L1 miss per call on larson). Keyed like the links, it cannot be forged
 * without the secret; a block whose mark a use-after-free write erased reads as live. */
static inline uintptr_t free_mark(const void *b)
{
    return mem_io_secret ^ (uintptr_t)b;
}

static inline bool block_marked_free(const void *b)
{
    return ((const struct free_block *)b)->mark == free_mark(b);
}

/* The block_start() magic of a block size (at least 16): 2^64 / size + 1, rounded down. */
static uint64_t start_magic_of(uint32_t size)
{
    return (uint64_t)(((unsigned __int128)1 << 64) / size) + 1;
}

/* Whether the small pointer p starts one of the `capacity` carved blocks of `size` bytes of
 * its page, tested as block_start() does: its start_limit. A multiple k * size of the block
 * size times the magic wraps to k * e, where e = magic * size - 2^64 is 1..size; any other
 * offset below 64 KiB gives at least 2^50 (Lemire's divisibility test). */
static uint64_t start_limit_of(uint32_t size, uint32_t capacity)
{
    return (uint64_t)capacity * (start_magic_of(size) * size);
}

/* Whether p, a pointer into a page whose magic and limit these are, starts one of its carved
 * blocks (so it is 16-byte aligned): one multiply and one compare, where a division would
 * take tens of cycles. */
static inline bool block_start(const void *p, uint64_t magic, uint64_t limit)
{
    return ((uintptr_t)p & (PAGE_SIZE - 1)) * magic < limit;
}

/* The same test from any thread (pg's owner may be carving it). */
static inline bool small_block_start(const void *p, struct page *pg)
{
    return block_start(p, LOAD(pg->start_magic), LOAD(pg->start_limit));
}

/* What a pointer into a small page is: a live block, a freed one, or no block at all (not
 * 16-byte aligned, not where a carved block starts). */
enum small_kind { SMALL_LIVE, SMALL_FREED, SMALL_INVALID };

static inline enum small_kind small_block_kind(const void *p, struct page *pg)
{
    if (!small_block_start(p, pg))
        return SMALL_INVALID;
    return block_marked_free(p) ? SMALL_FREED : SMALL_LIVE;
}

/* One block of the page came back: page_used() drops by one (owner only; folds read it). A
 * free is not counted anywhere else: stats.c derives the owner's frees from the page's counts.
 * The used count is at least 1 here, so the subtraction never borrows from the allocs above. */
static inline uint16_t page_used_drop(struct page *pg)
{
    uint64_t counts = LOAD(pg->counts) - 1;
    STORE(pg->counts, counts);
    return (uint16_t)counts;  /* the low PAGE_USED_BITS: one 16-bit test, no masking */
}

/* Finds room for the range of descriptors and pages, falling back to smaller
 * sizes where the address space is limited; nothing is mapped yet (small_range_map_locked
 * maps it as pages are needed, and until then nothing is small). Without room every size is
 * served as medium. */
static void small_range_init(void)
{
    for (size_t span = SMALL_RANGE_BYTES; span >= SMALL_RANGE_MIN_BYTES; span >>= 1) {
        size_t pages = span >> PAGE_SHIFT;
        size_t desc_bytes = (pages * sizeof(struct page) + MEM_IO_PAGE - 1) & ~(size_t)(MEM_IO_PAGE - 1);
        size_t len = desc_bytes + span + PAGE_SIZE;
        char *raw = os_probe(len, os_room_hint(0));
        if (!raw)
            continue;
        room_probes[0] = (struct room_probe){raw, len};
        descs = (struct page *)raw;
        uintptr_t base = ((uintptr_t)raw + desc_bytes + PAGE_SIZE - 1) & ~(uintptr_t)(PAGE_SIZE - 1);
        pool.room = pages;
        STORE(small_base, base);
        return;
    }
}

/* Maps the range up to page `pages`: descriptors and the pages themselves, then
 * makes them small (pool lock held). False, with nothing changed, when it cannot. */
static bool small_range_map_locked(size_t pages)
{
    uintptr_t desc_from = (uintptr_t)descs + pool.desc_mapped;
    uintptr_t desc_to = ((uintptr_t)(descs + pages) + MEM_IO_PAGE - 1) & ~(uintptr_t)(MEM_IO_PAGE - 1);
    char *page_from = (char *)LOAD(small_base) + (pool.total << PAGE_SHIFT);
    size_t page_len = (pages - pool.total) << PAGE_SHIFT;
    bool descs_mapped = desc_to <= desc_from || os_map_at((void *)desc_from, desc_to - desc_from);
    if (!descs_mapped || !os_map_at(page_from, page_len)) {
        if (descs_mapped && desc_to > desc_from)
            os_unmap((void *)desc_from, desc_to - desc_from);
        return false;
    }
    if (desc_to > desc_from)
        pool.desc_mapped = desc_to - (uintptr_t)descs;
    pool.total = pages;
    STORE(small_grains, secure_mode ? 0 : (pages << PAGE_SHIFT) >> GRAIN_SHIFT);  /* secure.c says why */
    atomic_store_explicit(&small_span, pages << PAGE_SHIFT, memory_order_release);
    return true;
}

/* Makes sure pages up to `end` are mapped if the room and the address space allow (pool lock
 * held): a step ahead (os_map_ahead) when it can, else just what is asked. */
static void small_range_grow_locked(size_t end)
{
    if (end > pool.room)
        end = pool.room;
    if (end <= pool.total)
        return;
    size_t ahead = pool.total + (os_map_ahead(SMALL_MAP_AHEAD_BYTES) >> PAGE_SHIFT);
    if (ahead > pool.room)
        ahead = pool.room;
    if (ahead <= end || !small_range_map_locked(ahead))
        small_range_map_locked(end);
}

static void list_push_head(struct page_list *list, struct page *pg)
{
    pg->prev = NULL;
    pg->next = list->head;
    if (list->head)
        list->head->prev = pg;
    else
        list->tail = pg;
    list->head = pg;
    list->count++;
}

static void list_push_tail(struct page_list *list, struct page *pg)
{
    pg->next = NULL;
    pg->prev = list->tail;
    if (list->tail)
        list->tail->next = pg;
    else
        list->head = pg;
    list->tail = pg;
    list->count++;
}

static void list_remove(struct page_list *list, struct page *pg)
{
    if (pg->prev)
        pg->prev->next = pg->next;
    else
        list->head = pg->next;
    if (pg->next)
        pg->next->prev = pg->prev;
    else
        list->tail = pg->prev;
    pg->next = pg->prev = NULL;
    list->count--;
}

static struct page *list_pop_head(struct page_list *list)
{
    struct page *pg = list->head;
    if (pg)
        list_remove(list, pg);
    return pg;
}

/* Gives back the memory of the pages at the sorted indices idx[0..n): one madvise for each
 * run of neighbours. */
static void pages_decommit_sorted(const size_t *idx, size_t n)
{
    for (size_t first = 0, last; first < n; first = last + 1) {
        for (last = first; last + 1 < n && idx[last + 1] == idx[last] + 1; last++)
            ;
        size_t pages = last - first + 1;
        os_decommit((void *)page_start(&descs[idx[first]]), pages * PAGE_SIZE);
    }
}

/* How long an empty page waits before its memory goes back to the OS: MEM_IO_DECAY_MS, grown
 * (up to 2^DECAY_SHIFT_MAX times) whenever a page given back under the current decay time is
 * needed again within that time, to the first doubling longer than the page had been idle,
 * and halved after DECAY_CALM_TIMES decay times in which no page was. */
static inline uint64_t pool_decay_time(void)
{
    return decay_ms << LOAD(pool.decay_shift);
}

/* The milliseconds from `then` to `now` on the page clock, 0 when `then` reads later (two
 * threads reading the clock at a quiet spell's end may see it step back by that spell). */
static inline uint64_t clock_since(uint64_t then, uint64_t now)
{
    return now > then ? now - then : 0;
}

/* The clock that empty pages age by: wall time, but a quiet spell (no page went to or came
 * from a heap's stash or the pool) counts as at most 1/DECAY_QUIET_SPLIT of MEM_IO_DECAY_MS.
 * Memory goes back on allocation slow paths only, never while the program sleeps, so by the
 * wall clock a program that pauses for longer than the decay time gives back its empty
 * pages at the moment it resumes, just before it asks for them again, and faults them all
 * in: rptest, whose threads burst for a few milliseconds between pauses of 1-3 s, gave back
 * and faulted in 17-25 MB per run. By this clock a page goes back once it stayed unused
 * through the program's activity for the decay time, or through DECAY_QUIET_SPLIT pauses
 * (more once the decay time grew: pages needed again after that many pauses are then kept
 * through more). */
static uint64_t page_clock_ms(void)
{
    uint64_t now = os_now_ms();
    uint64_t seen = atomic_exchange_explicit(&pool.clock_seen_ms, now, relaxed);
    uint64_t counted = decay_ms / DECAY_QUIET_SPLIT;
    if (seen && now > seen + counted)
        atomic_fetch_add_explicit(&pool.clock_quiet_ms, now - seen - counted, relaxed);
    return now - LOAD(pool.clock_quiet_ms);
}

/* A page whose memory went back to the OS is taken again (pool lock held): when that is
 * sooner than the decay time that sent it back, the decay time grows past the time the page
 * was idle, so that a page idle that long is kept next time. */
static void pool_note_reuse_locked(const struct page *pg, uint64_t now)
{
    if (pg->purged_ms == 0 || pg->purged_ms < pool.shift_changed_ms ||
        clock_since(pg->purged_ms, now) >= pool_decay_time())
        return;  /* never used (skipped for a huge page), given back under an older decay time,
                    or not too soon */
    pool.refaulted_ms = now;
    unsigned shift = LOAD(pool.decay_shift);
    while (shift < DECAY_SHIFT_MAX && decay_ms << shift <= clock_since(pg->idle_since_ms, now))
        shift++;
    if (shift != LOAD(pool.decay_shift)) {
        STORE(pool.decay_shift, shift);
        pool.shift_changed_ms = now;
    }
}

/* Halves the decay time again once pages have gone back for DECAY_CALM_TIMES decay times with
 * none needed too soon (pool lock held). */
static void pool_decay_calm_locked(uint64_t now)
{
    unsigned shift = LOAD(pool.decay_shift);
    uint64_t calm = DECAY_CALM_TIMES * pool_decay_time();
    if (shift > 0 && clock_since(pool.refaulted_ms, now) >= calm &&
        clock_since(pool.shift_changed_ms, now) >= calm) {
        STORE(pool.decay_shift, shift - 1);
        pool.shift_changed_ms = now;
    }
}

/* Pool pages idle for longer than the decay time give their memory back (pool lock held), in
 * rounds: at most one per DECAY_ROUND_SPLIT-th of the decay time, and one whenever pages due
 * already come in (`due_put`: a heap's stash sends those at most once a round). A round sorts the due pages
 * by address, so that neighbours share one madvise: with two threads running, each call
 * flushes the TLB of every CPU the process runs on (an interrupt per CPU, dear in a VM). Pages
 * that came due one by one, each given back on its own, made madvise half of rptest's CPU
 * time. */
static void pool_decay_locked(uint64_t now, bool due_put)
{
    uint64_t decay = pool_decay_time();
    if (!due_put && clock_since(pool.decayed_ms, now) < decay / DECAY_ROUND_SPLIT)
        return;
    pool.decayed_ms = now;
    size_t batch[DECAY_BATCH_PAGES], n, given_back = 0;
    do {
        struct page *pg;
        n = 0;
        while (n < DECAY_BATCH_PAGES && (pg = pool.warm.tail) &&
               clock_since(pg->idle_since_ms, now) >= decay) {
            list_remove(&pool.warm, pg);
            pg->purged = true;
            pg->purged_ms = now;
            list_push_head(&pool.purged, pg);
            os_bytes_sub(PAGE_SIZE);
            size_t index = (size_t)(pg - descs), at = n++;
            for (; at > 0 && batch[at - 1] > index; at--)  /* insertion sort: n is small */
                batch[at] = batch[at - 1];
            batch[at] = index;
        }
        pages_decommit_sorted(batch, n);
        given_back += n;
    } while (n == DECAY_BATCH_PAGES);
    if (given_back)
        pool_decay_calm_locked(now);
}

/* Two threads each running an alloc/free batch loop used several times the CPU time of one
 * thread running both loops (not when both threads were pinned to one CPU) while their heaps'
 * pages lay side by side in the range, and about the same once each heap's pages lay apart.
 * We measured the effect, not its mechanism (a hardware prefetcher reaching into the
 * neighbour's page is a guess). So a heap takes fresh pages in runs of its own and takes back
 * from the pool the pages it emptied itself. */

/* A warm pool page for h, preferably one h emptied itself (pool lock held). */
static struct page *pool_take_warm_locked(struct heap *h)
{
    unsigned scanned = 0;
    for (struct page *pg = pool.warm.head; pg && scanned < POOL_OWNER_SCAN; pg = pg->next, scanned++)
        if (pg->last_owner == h) {
            list_remove(&pool.warm, pg);
            return pg;
        }
    return list_pop_head(&pool.warm);
}

/* The index of the first page at or after page i that starts a huge page. */
static size_t huge_aligned_index(size_t i)
{
    uintptr_t at = page_start(&descs[i]);
    uintptr_t aligned = (at + OS_HUGE_PAGE - 1) & ~(uintptr_t)(OS_HUGE_PAGE - 1);
    return i + ((aligned - at) >> PAGE_SHIFT);
}

/* The next never-used page of h's run, starting a new run when it is used up (pool lock held);
 * NULL when the range is exhausted. Once a heap has taken HUGE_AFTER_BYTES of fresh pages, each
 * run is one aligned 2 MiB huge page (the pages skipped to align it go to the pool, unused):
 * the heap fills its own runs front to back, so it wastes at most one part-filled huge page.
 * The range as a whole is no such thing: with 16 threads, each heap's first page of a huge page
 * it shared with others made all 2 MiB resident. */
static struct page *heap_run_take_locked(struct heap *h)
{
    if (h->run_next == h->run_end) {
        size_t start = pool.bumped, n = HEAP_RUN_PAGES;
        bool huge = huge_pages && h->fresh_pages >= HUGE_AFTER_BYTES / PAGE_SIZE;
        size_t aligned = huge ? huge_aligned_index(start) : start;
        small_range_grow_locked(huge ? aligned + HUGE_RUN_PAGES : start + n);
        if (huge && aligned + HUGE_RUN_PAGES <= pool.total) {
            start = aligned;
            n = HUGE_RUN_PAGES;
            for (; pool.bumped < start; pool.bumped++) {
                descs[pool.bumped].purged = true;  /* never touched: costs faults, like a purged page */
                list_push_tail(&pool.purged, &descs[pool.bumped]);
            }
            os_hugepages((void *)page_start(&descs[start]), OS_HUGE_PAGE);
        }
        if (n > pool.total - start)
            n = pool.total - start;
        h->run_next = start;
        h->run_end = pool.bumped = start + n;
    }
    if (h->run_next == h->run_end)
        return NULL;
    h->fresh_pages++;
    return &descs[h->run_next++];
}

/* Clears what a class left in a page: its carved blocks, so that stale pointers into it read
 * as invalid. In secure mode also the free-list links and marks in its blocks: secure.c
 * zeroes a block's body when it is freed, so the page is then all zero again. */
static void page_unformat(struct page *pg)
{
    uint32_t capacity = LOAD(pg->capacity), size = LOAD(pg->block_size);
    STORE(pg->start_limit, 0);
    if (secure_mode)
        for (uint32_t i = 0; i < capacity; i++)
            memset((void *)(page_start(pg) + (uintptr_t)i * size), 0, sizeof(struct free_block));
    STORE(pg->capacity, 0);
    pg->free = NULL;
}

/* An empty page of h's still formatted for `cls`, or NULL. */
static struct page *heap_take_empty(struct heap *h, unsigned cls)
{
    for (struct page *pg = h->empty.head; pg; pg = pg->next)
        if (pg->class_id == cls) {
            list_remove(&h->empty, pg);
            return pg;
        }
    return NULL;
}

/* An empty page for `cls`, owned by `h`; NULL when the range is exhausted. One of h's empty
 * pages still formatted for the class comes back as it was, blocks carved; then one of h's
 * stash, then another of h's empty pages, then pool pages whose memory is still resident (a
 * fresh one costs a page fault per 4 KiB). */
static struct page *page_acquire(struct heap *h, unsigned cls)
{
    struct page *pg = heap_take_empty(h, cls);
    if (pg)
        return pg;
    pg = list_pop_head(&h->stash);  /* the most recently stashed: the likeliest in cache */
    if (!pg && (pg = h->empty.tail)) {  /* the least recently emptied: the least likely asked for */
        list_remove(&h->empty, pg);
        page_unformat(pg);
    } else if (!pg) {
        uint64_t now = page_clock_ms();
        pthread_mutex_lock(&pool.lock);
        pool_decay_locked(now, false);
        pg = pool_take_warm_locked(h);
        if (!pg && (pg = list_pop_head(&pool.purged)))
            pool_note_reuse_locked(pg, now);
        if (!pg)
            pg = heap_run_take_locked(h);
        size_t pages = pool.bumped;
        pthread_mutex_unlock(&pool.lock);
        if (!pg)
            return NULL;
        if (pg->purged || LOAD(pg->block_size) == 0)
            os_bytes_add(PAGE_SIZE);
        pg->purged = false;
        atomic_store_explicit(&pg->heap, h, memory_order_relaxed);
        if (++h->pages_acquired >= h->next_fold) {  /* the footprint grew: a live-peak fold */
            stats_fold(NULL);  /* it walks every page: at most once per 1/16 of them */
            h->next_fold = h->pages_acquired + (pages / 16 > PEAK_FOLD_PAGES ? pages / 16 : PEAK_FOLD_PAGES);
        }
    }
    STORE(pg->block_size, class_size[cls]);
    STORE(pg->start_magic, start_magic_of(class_size[cls]));
    pg->reserved = (uint32_t)(PAGE_SIZE / class_size[cls]);
    pg->class_id = (uint8_t)cls;
    STORE(pg->counts, LOAD(pg->counts) & ~PAGE_USED_MASK);  /* none out; allocs were handed on */
    return pg;
}

/* Secure mode's order for page_extend's `count` new blocks: a shuffle (Fisher-Yates, keyed by
 * the secret and the blocks' address), so that where the next block lies cannot be predicted
 * from where the last one did. */
static void carve_shuffle(uint16_t *order, uint32_t count, uintptr_t first)
{
    for (uint32_t i = 0; i < count; i++)
        order[i] = (uint16_t)i;
    uint64_t random = mem_io_secret ^ first;
    for (uint32_t i = count; i > 1; i--) {
        random = mix64(random);
        uint32_t j = (uint32_t)(random % i);
        uint16_t swap = order[i - 1];
        order[i - 1] = order[j];
        order[j] = swap;
    }
}

/* Carves about one OS page more of blocks into the (empty) free list, in address order
 * (shuffled in secure mode). */
static void page_extend(struct page *pg)
{
    uint32_t capacity = LOAD(pg->capacity), size = LOAD(pg->block_size);
    uint32_t count = EXTEND_BYTES / size;
    if (count == 0)
        count = 1;
    if (count > pg->reserved - capacity)
        count = pg->reserved - capacity;
    uintptr_t first = page_start(pg) + (uintptr_t)capacity * size;
    uint16_t order[EXTEND_BYTES >> GRAIN_SHIFT];
    if (secure_mode)
        carve_shuffle(order, count, first);
    uintptr_t next = (uintptr_t)pg->free;
    for (uint32_t i = count; i-- > 0;) {
        uintptr_t block = first + (uintptr_t)(secure_mode ? order[i] : i) * size;
        struct free_block *b = (struct free_block *)block;
        b->next_encoded = link_encode(next, b);
        b->mark = free_mark(b);
        next = block;
    }
    pg->free = (struct free_block *)next;
    STORE(pg->capacity, capacity + count);
    STORE(pg->start_limit, start_limit_of(size, capacity + count));
}

/* Keeps an empty page of h's, unformatted, in h's stash for h's next new page. The pool is
 * one list under one lock for every thread: when each page a heap emptied went there and came
 * back from there, a program that empties and refills pages took that lock for each, and each
 * 8 pages taken from the pool made a live-peak fold read every heap's page descriptors. The
 * stash keeps most of that traffic inside the heap. The pool sees a page only when the stash overflows, when it stayed unused for the decay time (so the
 * memory still goes back to the OS; checked whenever h stashes a page) or at thread exit. */
static void stash_put(struct heap *h, struct page *pg)
{
    uint64_t now = page_clock_ms();
    /* due pages are looked for once a decay round, so that they leave together */
    uint64_t decay = pool_decay_time();
    bool look_for_due = clock_since(h->stash_checked_ms, now) >= decay / DECAY_ROUND_SPLIT;
    if (look_for_due)
        h->stash_checked_ms = now;
    struct page *leaving[HEAP_STASH_PAGES];
    bool due[HEAP_STASH_PAGES];
    size_t n = 0;
    struct page *oldest;
    while ((oldest = h->stash.tail)) {
        due[n] = look_for_due && clock_since(oldest->idle_since_ms, now) >= decay;
        if (!due[n] && h->stash.count < HEAP_STASH_PAGES)
            break;
        list_remove(&h->stash, oldest);
        leaving[n++] = oldest;
    }
    if (n)
        pool_put_many(leaving, due, n, now);
    page_unformat(pg);
    pg->place = PAGE_IN_STASH;
    pg->idle_since_ms = now;
    list_push_head(&h->stash, pg);
}

/* A page with no block out leaves its class's queue. The heap keeps the HEAP_EMPTY_PAGES
 * most recently emptied, still formatted: a batch of one size that comes back finds its blocks
 * carved instead of carving and clearing its pages again. Older ones go to the stash. */
static void page_retire(struct heap *h, struct page *pg)
{
    stats_take_page_counts(h, pg);
    if (h->empty.count == HEAP_EMPTY_PAGES) {
        struct page *oldest = h->empty.tail;
        list_remove(&h->empty, oldest);
        stash_put(h, oldest);
    }
    pg->place = PAGE_IN_EMPTY;
    list_push_head(&h->empty, pg);
}

/* Pages ever carved from the range: descs[0 .. this) is every page that may have an owner. */
static size_t pool_pages_carved(void)
{
    pthread_mutex_lock(&pool.lock);
    size_t pages = pool.bumped;
    pthread_mutex_unlock(&pool.lock);
    return pages;
}

/* Gives empty pages to the pool. One that was `due` (unused for the decay time already) goes
 * to the far end of the warm list, and a decay round gives its memory back at once; the others
 * wait there for the decay time. */
static void pool_put_many(struct page **pgs, const bool *due, size_t n, uint64_t now)
{
    bool any_due = false;
    for (size_t i = 0; i < n; i++) {
        struct page *pg = pgs[i];
        page_unformat(pg);
        pg->place = PAGE_IN_POOL;
        pg->last_owner = atomic_load_explicit(&pg->heap, memory_order_relaxed);
        atomic_store_explicit(&pg->heap, NULL, memory_order_relaxed);
        if (!due[i])
            pg->idle_since_ms = now;
        any_due |= due[i];
    }
    pthread_mutex_lock(&pool.lock);
    for (size_t i = 0; i < n; i++) {
        if (due[i])
            list_push_tail(&pool.warm, pgs[i]);
        else
            list_push_head(&pool.warm, pgs[i]);
    }
    pool_decay_locked(now, any_due);
    pthread_mutex_unlock(&pool.lock);
}

static void pool_put(struct page *pg, bool due)
{
    pool_put_many(&pg, &due, 1, page_clock_ms());
}

/* Large blocks (>= MEM_IO_MMAP_THRESHOLD): one mapping each, a header in front of the user
 * pointer (size = mapping length, prev = mapping start). A hash set of user pointers proves
 * a pointer is one of ours before its header is read; freed entries stay as tombstones so a
 * second free is reported as a double free. Freed mappings wait for the decay time before
 * munmap, in a small cache of the heap that allocated them: a reused mapping costs no page
 * faults, and a thread reusing its own shares no cache lines with the others. */
#include "internal.h"

#define LARGE_CACHE_MAX_BYTES ((size_t)64 << 20)
#define LARGE_MIN_REMAINDER ((size_t)64 << 10)   /* smaller cache remainders go with the block */
#define LARGE_COLOR_MASK ((uintptr_t)MEM_IO_PAGE - 64)  /* start offsets: cache lines of a page */

static inline size_t large_hash(uintptr_t user, size_t capacity)
{
    return (size_t)(mix64(user) & (capacity - 1));
}

static struct large_slot *large_find_locked(uintptr_t user)
{
    if (!large.capacity)
        return NULL;
    for (size_t i = large_hash(user, large.capacity);; i = (i + 1) & (large.capacity - 1)) {
        struct large_slot *s = &large.slots[i];
        if (s->state == SLOT_EMPTY)
            return NULL;
        if (s->user == user)
            return s;
    }
}

/* Makes room for one more entry, rehashing into a bigger table when half full. */
static bool large_reserve_locked(void)
{
    if ((large.occupied + 1) * 2 > large.capacity) {
        size_t capacity = large.capacity ? large.capacity : 512;
        while ((large.live + 1) * 4 > capacity)
            capacity *= 2;
        struct large_slot *slots = os_map(capacity * sizeof *slots);
        if (!slots)
            return false;
        struct large_slot *old = large.slots;
        size_t old_capacity = large.capacity;
        large.slots = slots;
        large.capacity = capacity;
        large.occupied = 0;
        for (size_t i = 0; i < old_capacity; i++)  /* tombstones are dropped here */
            if (old[i].state == SLOT_LIVE) {
                size_t j = large_hash(old[i].user, capacity);
                while (slots[j].state != SLOT_EMPTY)
                    j = (j + 1) & (capacity - 1);
                slots[j] = old[i];
                large.occupied++;
            }
        if (old)
            os_unmap(old, old_capacity * sizeof *old);
    }
    return true;
}

/* Tracks a live block whose range goes back to cache `home` when it is freed. */
static bool large_insert_locked(uintptr_t user, struct large_cache *home)
{
    if (!large_reserve_locked())
        return false;
    struct large_slot *s = large_find_locked(user);
    if (!s) {
        size_t i = large_hash(user, large.capacity);
        while (large.slots[i].state != SLOT_EMPTY)
            i = (i + 1) & (large.capacity - 1);
        s = &large.slots[i];
        large.occupied++;
    }
    s->user = user;
    s->home = home;
    s->state = SLOT_LIVE;
    large.live++;
    return true;
}

/* Unmaps cached ranges idle for the decay time, in every cache (large lock held). It runs on
 * every large malloc and free but reads no cache until the oldest range may be due. Entries
 * that stay are not rewritten: a store to each entry made every thread's next call fetch the
 * whole array from the last one's core. */
static void large_cache_decay_locked(uint64_t now)
{
    if (!large.cached_bytes || now - large.oldest_ms < decay_ms)
        return;
    uint64_t oldest = now;
    for (struct large_cache *c = large.caches; c; c = c->next) {
        size_t kept = 0;
        for (size_t i = 0; i < c->count; i++) {
            struct large_cached *r = &c->ranges[i];
            if (now - r->since_ms >= decay_ms) {
                os_unmap(r->base, r->len);
                os_bytes_sub(r->len);
                large.cached_bytes -= r->len;
                continue;
            }
            if (r->since_ms < oldest)
                oldest = r->since_ms;
            if (kept != i)
                c->ranges[kept] = *r;
            kept++;
        }
        c->count = kept;
    }
    large.oldest_ms = oldest;
}

/* Takes cached range i out of cache c (large lock held) and returns it. */
static struct large_cached large_cache_remove_locked(struct large_cache *c, size_t i)
{
    struct large_cached r = c->ranges[i];
    large.cached_bytes -= r.len;
    c->ranges[i] = c->ranges[--c->count];
    return r;
}

/* Takes the first `len` bytes of cached range `r` of c, dropping the range when nothing is
 * left. */
static void large_cache_take_front_locked(struct large_cache *c, struct large_cached *r, size_t len)
{
    if (r->len == len) {
        large_cache_remove_locked(c, (size_t)(r - c->ranges));
    } else {
        large.cached_bytes -= len;
        r->base = (char *)r->base + len;
        r->len -= len;
    }
}

/* The front `len` bytes of the smallest range of c that holds them (the rest stays cached),
 * or NULL. Cached pages were touched before, so reusing them costs no faults. *guarded: the
 * bytes taken end in a kept guard page (the whole range was taken, and it had one). */
static void *large_cache_take_locked(struct large_cache *c, size_t *len_io, uintptr_t *origin, bool *guarded)
{
    size_t len = *len_io;
    size_t best = c->count;
    for (size_t i = 0; i < c->count; i++)
        if (c->ranges[i].len >= len && (best == c->count || c->ranges[i].len < c->ranges[best].len))
            best = i;
    if (best == c->count)
        return NULL;
    struct large_cached *r = &c->ranges[best];
    char *base = r->base;
    *origin = r->origin;
    /* No small fragment: it would only be unmapped later. A range that ends in a kept guard
     * page goes whole up to a quarter more than asked (the large rounding's own step is an
     * eighth): splitting it costs an mprotect call for the block's guard, and another when the
     * ranges merge again. */
    if (r->len - len < LARGE_MIN_REMAINDER || (r->guarded && r->len - len <= len / 4))
        len = *len_io = r->len;
    *guarded = len == r->len && r->guarded;
    large_cache_take_front_locked(c, r, len);
    return base;
}

static bool large_cache_holds_locked(const struct large_cache *c, size_t len)
{
    for (size_t i = 0; i < c->count; i++)
        if (c->ranges[i].len >= len)
            return true;
    return false;
}

/* Takes `len` bytes at `at` out of a range of c of the same mapping that starts there. */
static bool large_cache_extend_locked(struct large_cache *c, char *at, size_t len, uintptr_t origin)
{
    for (size_t i = 0; i < c->count; i++) {
        struct large_cached *r = &c->ranges[i];
        if (r->base == at && r->origin == origin && r->len >= len) {
            large_cache_take_front_locked(c, r, len);
            return true;
        }
    }
    return false;
}

/* Unmaps the oldest range of cache c, or of all caches when c is NULL (large lock held). */
static void large_cache_drop_oldest_locked(struct large_cache *c)
{
    struct large_cache *from = NULL;
    size_t oldest = 0;
    for (struct large_cache *k = c ? c : large.caches; k; k = c ? NULL : k->next)
        for (size_t i = 0; i < k->count; i++)
            if (!from || k->ranges[i].since_ms < from->ranges[oldest].since_ms) {
                from = k;
                oldest = i;
            }
    struct large_cached r = large_cache_remove_locked(from, oldest);
    os_unmap(r.base, r.len);
    os_bytes_sub(r.len);
}

/* Keeps a freed page range for reuse in cache c, merged with ranges of c it touches (the
 * kernel tends to place mappings side by side, so big ranges form again). All caches
 * together hold at most LARGE_CACHE_MAX_BYTES: room is made by dropping the oldest ranges of
 * any cache (with only c's, many threads each found the others' ranges filling the total and
 * unmapped their own, so every malloc mapped afresh). `guarded`: the range ends in a kept
 * guard page; one that a merge puts inside the range is made accessible again. */
static void large_cache_put_locked(struct large_cache *c, char *base, size_t len, uintptr_t origin, bool guarded)
{
    uint64_t now = os_now_ms();
    for (size_t i = 0; i < c->count;) {
        struct large_cached *r = &c->ranges[i];
        bool below = (char *)r->base + r->len == base, above = base + len == (char *)r->base;
        if (r->origin == origin && (below || above)) {
            struct large_cached lower = below ? *r : (struct large_cached){.base = base, .len = len, .guarded = guarded};
            if (lower.guarded)
                os_protect((char *)lower.base + lower.len - MEM_IO_PAGE, MEM_IO_PAGE, PROT_READ | PROT_WRITE);
            if (below)
                base = r->base;
            else
                guarded = r->guarded;
            len += large_cache_remove_locked(c, i).len;
            continue;
        }
        i++;
    }
    if (len > LARGE_CACHE_MAX_BYTES) {
        os_unmap(base, len);
        os_bytes_sub(len);
        return;
    }
    if (c->count == LARGE_CACHE_SLOTS)
        large_cache_drop_oldest_locked(c);
    while (large.cached_bytes + len > LARGE_CACHE_MAX_BYTES)
        large_cache_drop_oldest_locked(NULL);
    if (!large.cached_bytes)
        large.oldest_ms = now;
    if (!c->listed) {  /* caches live as long as the process, like heaps */
        c->listed = true;
        c->next = large.caches;
        large.caches = c;
    }
    c->ranges[c->count++] = (struct large_cached){
        .base = base, .len = len, .origin = origin, .since_ms = now, .guarded = guarded};
    large.cached_bytes += len;
}

/* The cache that the ranges of the blocks the caller allocates go back to when they are freed
 * (by any thread): its heap's, or the shared one for a thread that has no heap (it is
 * exiting). One cache per thread: a thread that reuses its own freed ranges shares no cache
 * lines with another thread doing the same. A miss does not look in other threads' caches:
 * that moved ranges from cache to cache and raised the peak RSS. */
static struct large_cache *large_home(void)
{
    struct heap *h = heap_acquire();
    return h ? &h->large_cache : &large.shared;
}

/* Mapping length for `bytes`: 8 steps per power of two (<= 12.5 % more address space), so a
 * freed range fits later requests of its step exactly instead of leaving fragments. */
static size_t large_round(size_t bytes)
{
    unsigned top = 63u - (unsigned)__builtin_clzll(bytes - 1);
    size_t step = (size_t)1 << (top - 3);
    if (step < MEM_IO_PAGE)
        step = MEM_IO_PAGE;
    return (bytes + step - 1) & ~(step - 1);
}

/* Takes the largest range of c out of it (large lock held); base NULL when c is empty. */
static struct large_cached large_cache_take_largest_locked(struct large_cache *c)
{
    if (!c->count)
        return (struct large_cached){0};
    size_t best = 0;
    for (size_t i = 1; i < c->count; i++)
        if (c->ranges[i].len > c->ranges[best].len)
            best = i;
    return large_cache_remove_locked(c, best);
}

/* A mapping of `len` bytes when no cached range holds it: `grown`, the largest range of the
 * caller's cache (shorter than len; base NULL when that cache was empty), is grown with mremap
 * rather than a fresh mapping made beside the cache. Its pages stay faulted in, only the added tail faults,
 * and the footprint grows by the difference alone (the cache is spent before the footprint
 * grows, so freed memory never adds to the peak). A kept guard page is made accessible
 * first: mremap moves only a range of one protection. */
static char *large_map(size_t len, struct large_cached grown, uintptr_t *origin, enum large_memory *memory)
{
    if (grown.base) {
        if (grown.guarded)
            os_protect((char *)grown.base + grown.len - MEM_IO_PAGE, MEM_IO_PAGE, PROT_READ | PROT_WRITE);
        void *moved = mremap(grown.base, grown.len, len, MREMAP_MAYMOVE);
        if (moved != MAP_FAILED) {
            *origin = moved == grown.base ? grown.origin : (uintptr_t)moved;
            *memory = LARGE_REUSED;
            os_bytes_add(len - grown.len);
            return moved;
        }
        os_unmap(grown.base, grown.len);
        os_bytes_sub(grown.len);
    }
    char *base = os_map(len);
    if (base) {
        *origin = (uintptr_t)base;
        *memory = LARGE_FRESH;
        os_bytes_add(len);
    }
    return base;
}

/* Writes the header of a large block in [base, base + len) and returns its user pointer.
 * Without an alignment request the block starts at a pseudo-random cache line of its first
 * OS page (jemalloc's "cache-oblivious" placement): page-aligned blocks put the same offset
 * of every block, and of each of their pages, in the same few cache sets, which evict each
 * other. */
static uintptr_t large_place(char *base, size_t len, uintptr_t origin, size_t alignment)
{
    uintptr_t color = alignment > MEM_IO_ALIGNMENT ? 0 : mix64((uintptr_t)base) & LARGE_COLOR_MASK;
    uintptr_t user = ((uintptr_t)base + color + HEADER_SIZE + alignment - 1) & ~(uintptr_t)(alignment - 1);
    struct mem_io_block *h = (struct mem_io_block *)(user - HEADER_SIZE);
    h->size = len;
    h->prev = (struct mem_io_block *)base;
    h->next = (struct mem_io_block *)origin;  /* mmap blocks have no neighbour: the origin */
    h->flags = MEM_IO_FLAG_MMAP | MEM_IO_FLAG_USED;
    seal(h);
    return user;
}

/* A grown footprint is a fold point for the live-bytes peak (stats.c), but a fold walks every
 * small page: with a gigabyte of small blocks live, the walk cost more than the mapping it
 * accompanied. So it comes once the mappings made since the last one add up to 1/16 of the small pages'
 * bytes, as page_acquire spaces its folds: a byte mapped costs far more when first touched (a
 * page fault per 4 KiB) than its share of the walk. Large lock held; `pages` from
 * pool_pages_carved(), read before it was taken (the pool lock comes first). */
static bool large_fold_due_locked(size_t len, size_t pages)
{
    large.unfolded_bytes += len;
    if (large.unfolded_bytes < (pages << PAGE_SHIFT) / 16)
        return false;
    large.unfolded_bytes = 0;
    return true;
}

/* Unmaps every cached range, of every thread's cache: what a mapping that failed for want of
 * address space can still get. False when nothing was cached. */
static bool large_cache_release_all(void)
{
    pthread_mutex_lock(&large.lock);
    bool any = large.cached_bytes > 0;
    while (large.cached_bytes > 0)
        large_cache_drop_oldest_locked(NULL);
    pthread_mutex_unlock(&large.lock);
    return any;
}

/* *memory says what the block's pages hold. A cache hit takes the lock once; only a miss,
 * which makes or grows a mapping, takes it again. */
static void *large_alloc(size_t n, size_t alignment, enum large_memory *memory)
{
    size_t slack = HEADER_SIZE + (alignment > MEM_IO_ALIGNMENT ? alignment : LARGE_COLOR_MASK);
    if (n > PTRDIFF_MAX - slack - MEM_IO_PAGE) {
        errno = ENOMEM;
        return NULL;
    }
    size_t len = large_round(n + slack);
    uintptr_t origin = 0, user = 0;
    struct large_cached grown = {0};
    struct large_cache *home = large_home();
    bool guarded = false;
    pthread_mutex_lock(&large.lock);
    large_cache_decay_locked(os_now_ms());
    bool room = large_reserve_locked();  /* first: a rehash moves the slots */
    char *base = room ? large_cache_take_locked(home, &len, &origin, &guarded) : NULL;
    if (!base && room && home != &large.shared)  /* ranges of blocks of exiting threads */
        base = large_cache_take_locked(&large.shared, &len, &origin, &guarded);
    if (base) {
        user = large_place(base, len, origin, alignment);
        large_insert_locked(user, home);  /* cannot fail: room was reserved above */
    } else if (room) {
        grown = large_cache_take_largest_locked(home);  /* in the same hold: shorter than len */
    }
    pthread_mutex_unlock(&large.lock);
    *memory = guarded ? LARGE_GUARDED : LARGE_REUSED;
    bool fold = false;
    if (!base) {
        base = room ? large_map(len, grown, &origin, memory) : NULL;
        if (!base && room && large_cache_release_all())  /* out of address space (RLIMIT_AS) */
            base = large_map(len, (struct large_cached){0}, &origin, memory);
        if (!base) {
            errno = ENOMEM;
            return NULL;
        }
        user = large_place(base, len, origin, alignment);
        size_t pages = pool_pages_carved();
        pthread_mutex_lock(&large.lock);
        bool tracked = large_insert_locked(user, home);
        fold = tracked && large_fold_due_locked(len - grown.len, pages);
        pthread_mutex_unlock(&large.lock);
        if (!tracked) {
            os_unmap(base, len);
            os_bytes_sub(len);
            errno = ENOMEM;
            return NULL;
        }
    }
    stat_live((int64_t)((uintptr_t)base + len - user));
    if (fold)
        stats_fold(NULL);
    return (void *)user;
}

/* The live large block at p (large lock held), reporting a double free or a bad header. */
static struct mem_io_block *large_check_locked(struct large_slot *s, const void *p, const char *function)
{
    if (s->state != SLOT_LIVE) {
        report_error(function, "double free detected", p);
        return NULL;
    }
    struct mem_io_block *h = (struct mem_io_block *)((uintptr_t)p - HEADER_SIZE);
    if (!sealed(h)) {
        h->flags |= MEM_IO_FLAG_CORRUPTED;
        report_error(function, "corrupted block header", p);
        return NULL;
    }
    return h;
}

/* Takes the large lock and finds p's slot. NULL, with the lock released again, when p is no
 * large block; otherwise the caller holds the lock. */
static struct large_slot *large_lock_slot(const void *p)
{
    pthread_mutex_lock(&large.lock);
    struct large_slot *s = large_find_locked((uintptr_t)p);
    if (!s)
        pthread_mutex_unlock(&large.lock);
    return s;
}

/* False when p is not a large block at all (the caller goes on checking). In secure mode
 * every large block ends in its guard page (secure.c), which stays PROT_NONE in the cache. */
static bool large_free(void *p, const char *function)
{
    struct large_slot *s = large_lock_slot(p);
    if (!s)
        return false;
    struct mem_io_block *h = large_check_locked(s, p, function);
    if (h) {
        s->state = SLOT_FREED;
        large.live--;
        char *base = (char *)h->prev;
        size_t len = h->size;
        stat_live(-(int64_t)((uintptr_t)base + len - (uintptr_t)p));
        large_cache_put_locked(s->home, base, len, (uintptr_t)h->next, secure_mode);
        large_cache_decay_locked(os_now_ms());
    }
    pthread_mutex_unlock(&large.lock);
    return true;
}

/* Usable size of a large block; false when p is not one. */
static bool large_usable(const void *p, const char *function, size_t *usable)
{
    struct large_slot *s = large_lock_slot(p);
    if (!s)
        return false;
    struct mem_io_block *h = large_check_locked(s, p, function);
    *usable = h ? (uintptr_t)h->prev + h->size - (uintptr_t)p : 0;
    pthread_mutex_unlock(&large.lock);
    return true;
}

/* Grows or shrinks a large block with mremap (which may move it); NULL on failure. */
static void *large_resize(void *p, size_t n)
{
    struct large_cache *mine = large_home();  /* where a moved block would come from */
    pthread_mutex_lock(&large.lock);
    bool room = large_reserve_locked();  /* first: a rehash moves the slots */
    struct large_slot *s = large_find_locked((uintptr_t)p);
    struct mem_io_block *h = s ? large_check_locked(s, p, "realloc") : NULL;
    if (!h || !room || n > PTRDIFF_MAX - MEM_IO_PAGE) {
        pthread_mutex_unlock(&large.lock);
        return NULL;
    }
    char *base = (char *)h->prev;
    uintptr_t origin = (uintptr_t)h->next;
    size_t len = h->size, offset = (uintptr_t)p - (uintptr_t)base;
    size_t new_len = (offset + n + MEM_IO_PAGE - 1) & ~(size_t)(MEM_IO_PAGE - 1);
    void *moved = base;
    bool from_cache = new_len > len && large_cache_extend_locked(s->home, base + len, new_len - len, origin);
    if (!from_cache && new_len > len && large_cache_holds_locked(mine, new_len)) {
        /* Copying into cached, already faulted pages is far cheaper than faulting in the pages
         * mremap would add (a page fault costs more than copying the page): the caller moves
         * the block. */
        pthread_mutex_unlock(&large.lock);
        return NULL;
    }
    if (!from_cache && new_len != len) {  /* from_cache: grown over a cached piece, no faults */
        moved = mremap(base, len, new_len, MREMAP_MAYMOVE);
        if (moved == MAP_FAILED) {
            pthread_mutex_unlock(&large.lock);
            return NULL;  /* the caller copies into a new block */
        }
        if (moved != base)
            origin = (uintptr_t)moved;
    }
    char *user = (char *)moved + offset;
    if (user != (char *)p) {
        s->state = SLOT_FREED;
        large.live--;
        large_insert_locked((uintptr_t)user, s->home);  /* cannot fail: room was reserved above */
    }
    h = (struct mem_io_block *)(user - HEADER_SIZE);
    h->size = new_len;
    h->prev = moved;
    h->next = (struct mem_io_block *)origin;
    seal(h);
    pthread_mutex_unlock(&large.lock);
    if (!from_cache && new_len > len)  /* cached pages are already counted */
        os_bytes_add(new_len - len);
    else if (new_len < len)
        os_bytes_sub(len - new_len);
    stat_live((int64_t)new_len - (int64_t)len);
    return user;
}

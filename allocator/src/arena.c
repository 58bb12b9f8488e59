/* Medium blocks: the seed's design, once per arena. Blocks with a struct mem_io_block header
 * tile extents of memory; `next`/`prev` link physical neighbours. Free blocks sit in
 * segregated bins, are split on allocation and coalesced with free neighbours on free. Arena 0
 * grows with sbrk (or mmap where the break cannot move); arenas 1.. bump through their slice
 * of one reserved range. Each arena has a mutex; a thread allocates from its heap's arena, and
 * frees into the arena the pointer lies in. A per-thread cache of freed blocks in front of
 * them is used without a mutex (medium_cache_put, medium_cache_take). */
#include "internal.h"

#define ARENA_GROW_MIN ((size_t)256 * 1024)
#define BIN_SCAN_LIMIT 16
#define ARENA_MAP_AHEAD_BYTES ((size_t)32 << 20)  /* slice bytes mapped ahead of use at once */

struct bin_links {
    struct mem_io_block *next, *prev;
};

static inline struct bin_links *links_of(struct mem_io_block *b)
{
    return (struct bin_links *)(b + 1);
}

/* Header words a thread reads or writes without the arena lock (its cached blocks' flags, the
 * headers checked on the cached free path) are relaxed atomics: plain moves on x86, and a torn
 * view only sends that path to the locked one, which decides. */
#define HLOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define HSTORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

/* The stored magic: MEM_IO_MAGIC_NUMBER keyed with the secret, the block's address, size and
 * flags. A header overwritten with the literal 0xDEADBEEF (or anything else) fails. FLAG_CACHED
 * is left out: its owner flips it without the lock, so the magic must not change with it. */
static inline uint32_t seal_of(const struct mem_io_block *b, size_t size, uint32_t flags)
{
    return (uint32_t)mix64((uint64_t)MEM_IO_MAGIC_NUMBER ^ mem_io_secret ^ (uintptr_t)b ^
                           ((uint64_t)size << 17) ^ ((uint64_t)(flags & ~FLAG_CACHED) << 7));
}

static inline uint32_t block_seal(const struct mem_io_block *b)
{
    return seal_of(b, HLOAD(b->size), HLOAD(b->flags));
}

/* A header swallowed by coalescing keeps this mark, so a second free of it reads as a
 * double free rather than as a random pointer. */
#define SEAL_ABSORBED 0x6b43a9b5u

static inline void seal(struct mem_io_block *b)
{
    HSTORE(b->magic, block_seal(b));
}

static inline bool sealed(const struct mem_io_block *b)
{
    return HLOAD(b->magic) == block_seal(b);
}

static unsigned bin_index(size_t size)
{
    unsigned top = 63u - (unsigned)__builtin_clzll(size);
    unsigned index = (top - 6u) * 4u + (unsigned)((size >> (top - 2u)) & 3u);
    return index < ARENA_BINS ? index : ARENA_BINS - 1;
}

static void bin_insert(struct arena *a, struct mem_io_block *b)
{
    unsigned i = bin_index(b->size);
    struct bin_links *l = links_of(b);
    l->prev = NULL;
    l->next = a->bins[i];
    if (l->next)
        links_of(l->next)->prev = b;
    a->bins[i] = b;
    a->nonempty |= (uint64_t)1 << i;
}

static void bin_remove(struct arena *a, struct mem_io_block *b)
{
    unsigned i = bin_index(b->size);
    struct bin_links *l = links_of(b);
    if (l->prev)
        links_of(l->prev)->next = l->next;
    else
        a->bins[i] = l->next;
    if (l->next)
        links_of(l->next)->prev = l->prev;
    if (!a->bins[i])
        a->nonempty &= ~((uint64_t)1 << i);
}

static struct mem_io_block *bin_find(struct arena *a, size_t need)
{
    unsigned i = bin_index(need);
    int scanned = 0;
    for (struct mem_io_block *b = a->bins[i]; b && scanned < BIN_SCAN_LIMIT; b = links_of(b)->next, scanned++)
        if (b->size >= need)
            return b;
    /* any block of a higher bin fits: bins are floors of 4-per-power-of-two classes */
    uint64_t higher = i + 1 < ARENA_BINS ? a->nonempty & (~(uint64_t)0 << (i + 1)) : 0;
    if (!higher)
        return NULL;
    unsigned j = (unsigned)__builtin_ctzll(higher);
    struct mem_io_block *b = a->bins[j];
    if (j == ARENA_BINS - 1)
        while (b && b->size < need)
            b = links_of(b)->next;
    return b;
}

/* Index of the extent holding address `at`, or -1 (binary search: extents are sorted). */
static long extent_find(const struct arena *a, uintptr_t at)
{
    size_t lo = 0, hi = a->extent_count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (a->extents[mid].start <= at)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || at >= a->extents[lo - 1].end)
        return -1;
    return (long)lo - 1;
}

/* Widens the span that holds every extent (arena lock held). Extents only grow and never go
 * away, so a pointer outside the span is no medium block, known without taking the lock. */
static void arena_span_include(struct arena *a, uintptr_t start, uintptr_t end)
{
    if (!LOAD(a->span_hi) || start < LOAD(a->span_lo))
        STORE(a->span_lo, start);
    if (end > LOAD(a->span_hi))
        STORE(a->span_hi, end);
}

static inline bool arena_may_hold(const struct arena *a, const void *p)
{
    return (uintptr_t)p >= LOAD(a->span_lo) && (uintptr_t)p < LOAD(a->span_hi);
}

/* Finds room for the slices of arenas 1.., smaller where address space is limited; each arena
 * maps its slice as it grows (arena_slice_map). Without room every thread uses arena 0. */
static void arena_slices_init(void)
{
    for (unsigned shift = ARENA_SLICE_SHIFT_MAX; shift >= ARENA_SLICE_SHIFT_MIN; shift--) {
        size_t span = (size_t)(ARENA_COUNT - 1) << shift;
        char *raw = os_probe(span, os_room_hint(1));
        if (!raw)
            continue;
        room_probes[1] = (struct room_probe){raw, span};
        slice_shift = shift;
        STORE(slices_base, (uintptr_t)raw);
        atomic_store_explicit(&slices_span, span, memory_order_release);
        return;
    }
}

/* Maps arena a's slice, which starts at `start`, up to at least `end` bytes: a step ahead when
 * it can (os_map_ahead), else just that; past HUGE_AFTER_BYTES in huge pages, since each arena
 * fills its slice front to back. False when the address space has no room (arena lock held). */
static bool arena_slice_map(struct arena *a, char *start, size_t end)
{
    size_t from = a->slice_mapped;
    size_t ahead = from + os_map_ahead(ARENA_MAP_AHEAD_BYTES);
    if (ahead > ((size_t)1 << slice_shift))
        ahead = (size_t)1 << slice_shift;
    bool mapped_ahead = ahead > end && os_map_at(start + from, ahead - from);
    if (!mapped_ahead && !os_map_at(start + from, end - from))
        return false;
    size_t to = mapped_ahead ? ahead : end;
    if (huge_pages && to > HUGE_AFTER_BYTES) {
        size_t huge_from = from > HUGE_AFTER_BYTES ? from : HUGE_AFTER_BYTES;
        os_hugepages(start + huge_from, to - huge_from);
    }
    a->slice_mapped = to;
    return true;
}

/* The arena whose memory p would be in, or NULL when p is in none (no medium block). */
static inline struct arena *arena_of(const void *p)
{
    uintptr_t off = (uintptr_t)p - LOAD(slices_base);
    if (off < LOAD(slices_span))
        return &arenas[1 + (off >> slice_shift)];
    return arena_may_hold(&arenas[0], p) ? &arenas[0] : NULL;
}

static struct extent *extent_add(struct arena *a, uintptr_t start, uintptr_t end, uintptr_t raw_end,
                                 enum extent_source source)
{
    if (a->extent_count == ARENA_MAX_EXTENTS)
        return NULL;
    size_t at = a->extent_count;
    while (at > 0 && a->extents[at - 1].start > start)
        at--;
    memmove(&a->extents[at + 1], &a->extents[at], (a->extent_count - at) * sizeof(struct extent));
    a->extent_count++;
    a->extents[at] = (struct extent){.start = start, .end = end, .raw_end = raw_end,
                                     .last = NULL, .source = (uint8_t)source};
    arena_span_include(a, start, end);
    return &a->extents[at];
}

/* The top extent grows by `len` bytes that were just obtained at its raw end; returns the
 * free block that ends it (merged with a free last block). */
static struct mem_io_block *arena_extend_top(struct arena *a, size_t len)
{
    struct extent *top = &a->extents[a->top_index];
    uintptr_t new_end = (top->raw_end + len) & ~(uintptr_t)15;
    struct mem_io_block *last = top->last;
    struct mem_io_block *b;
    if ((HLOAD(last->flags) & MEM_IO_FLAG_FREE) && sealed(last)) {
        bin_remove(a, last);
        b = last;
        HSTORE(b->size, new_end - (uintptr_t)b);
    } else {
        b = (struct mem_io_block *)top->end;
        HSTORE(b->size, new_end - top->end);
        b->prev = last;
        last->next = b;
        top->last = b;
    }
    b->next = NULL;
    HSTORE(b->flags, MEM_IO_FLAG_FREE);
    seal(b);
    top->end = new_end;
    arena_span_include(a, top->start, new_end);
    top->raw_end += len;
    a->heap_bytes += len;
    os_bytes_add(len);
    return b;
}

/* Arena 0: the top extent grows in place when the new memory starts where it ends; when the
 * break cannot move (rlimit, valgrind, a mapping in the way) mmap serves. */
static struct mem_io_block *arena_grow_sbrk(struct arena *a, size_t grow)
{
    char *got = os_sbrk(grow);
    if (got && a->top && got == (char *)a->extents[a->top_index].raw_end)
        return arena_extend_top(a, grow);
    if (got)  /* the first extent, or someone else moved the break: a separate extent */
        return arena_new_extent(a, got, grow, EXTENT_SBRK);
    got = os_map(grow);
    return got ? arena_new_extent(a, got, grow, EXTENT_MMAP) : NULL;
}

/* Arenas 1..: the next piece of the slice (mapped ahead, so mostly no system call); NULL when
 * the slice is used up or cannot be mapped. */
static struct mem_io_block *arena_grow_slice(struct arena *a, size_t grow)
{
    if (grow > ((size_t)1 << slice_shift) - a->slice_used)
        return NULL;
    size_t slice = (size_t)(a - &arenas[1]);  /* arena i owns slice i - 1 */
    char *start = (char *)(LOAD(slices_base) + (slice << slice_shift));
    if (a->slice_used + grow > a->slice_mapped && !arena_slice_map(a, start, a->slice_used + grow))
        return NULL;
    char *got = start + a->slice_used;
    a->slice_used += grow;
    if (a->top)
        return arena_extend_top(a, grow);
    return arena_new_extent(a, got, grow, EXTENT_SLICE);
}

/* Makes a new free block of at least `need` bytes at the end of the arena (its lock held). */
static struct mem_io_block *arena_grow(struct arena *a, size_t need)
{
    size_t grow = (need + HEADER_SIZE + MEM_IO_PAGE - 1) & ~(size_t)(MEM_IO_PAGE - 1);
    if (grow < ARENA_GROW_MIN)
        grow = ARENA_GROW_MIN;
    return a == &arenas[0] ? arena_grow_sbrk(a, grow) : arena_grow_slice(a, grow);
}

static struct mem_io_block *arena_new_extent(struct arena *a, char *got, size_t len, enum extent_source source)
{
    uintptr_t start = ((uintptr_t)got + 15) & ~(uintptr_t)15;
    uintptr_t end = ((uintptr_t)got + len) & ~(uintptr_t)15;
    struct extent *e = extent_add(a, start, end, (uintptr_t)got + len, source);
    if (!e) {
        if (source == EXTENT_MMAP)
            os_unmap(got, len);
        return NULL;  /* an sbrk'd piece or slice we cannot track stays unused */
    }
    struct mem_io_block *b = (struct mem_io_block *)start;
    HSTORE(b->size, end - start);
    b->next = b->prev = NULL;
    HSTORE(b->flags, MEM_IO_FLAG_FREE);
    seal(b);
    e->last = b;
    if (source != EXTENT_MMAP) {  /* where the arena grows next */
        a->top = true;
        a->top_index = (size_t)(e - a->extents);
    } else if (a->top && a->top_index >= (size_t)(e - a->extents)) {
        a->top_index++;  /* the insertion shifted the top extent */
    }
    if (source == EXTENT_SBRK && a->heap_start == 0)
        a->heap_start = start;
    a->heap_bytes += len;
    os_bytes_add(len);
    return b;
}

/* Keeps `need` bytes of b and turns the rest, if big enough, into a free block. */
static void block_split(struct arena *a, struct mem_io_block *b, size_t need)
{
    if (b->size - need < MEDIUM_MIN_BLOCK)
        return;
    struct mem_io_block *rest = (struct mem_io_block *)((char *)b + need);
    HSTORE(rest->size, b->size - need);
    rest->prev = b;
    rest->next = b->next;
    HSTORE(rest->flags, MEM_IO_FLAG_FREE);
    HSTORE(b->size, need);
    b->next = rest;
    seal(b);
    if (rest->next)
        rest->next->prev = rest;
    else
        arena_set_last(a, rest);
    struct mem_io_block *after = rest->next;
    if (after && (HLOAD(after->flags) & MEM_IO_FLAG_FREE) && sealed(after)) {
        bin_remove(a, after);
        block_absorb_next(a, rest);
    }
    seal(rest);
    bin_insert(a, rest);
}

/* The extent whose last block was just replaced by b. */
static void arena_set_last(struct arena *a, struct mem_io_block *b)
{
    long i = extent_find(a, (uintptr_t)b);
    if (i >= 0)
        a->extents[i].last = b;
}

/* Zeroes the header and bin links of b, which a neighbour absorbed: secure mode hands medium
 * blocks out without zeroing them (secure.c), so free memory holds nothing else. A later free
 * of b's pointer then finds no header: "invalid pointer", where the default mode's absorbed
 * mark says "double free detected". */
static void block_clear(struct mem_io_block *b)
{
    HSTORE(b->size, 0);
    b->next = b->prev = NULL;
    HSTORE(b->flags, 0);
    HSTORE(b->magic, 0);
    memset(links_of(b), 0, sizeof(struct bin_links));
}

/* b swallows its free physical successor (already out of its bin). */
static void block_absorb_next(struct arena *a, struct mem_io_block *b)
{
    struct mem_io_block *n = b->next;
    HSTORE(b->size, b->size + n->size);
    b->next = n->next;
    if (b->next)
        b->next->prev = b;
    else
        arena_set_last(a, b);
    if (secure_mode)
        block_clear(n);
    else
        HSTORE(n->magic, block_seal(n) ^ SEAL_ABSORBED);
}

static size_t medium_need(size_t n)
{
    size_t need = ALIGN(n) + HEADER_SIZE;
    return need < MEDIUM_MIN_BLOCK ? MEDIUM_MIN_BLOCK : need;
}

/* A block of `need` bytes from arena a whose user pointer is aligned to `alignment`, or NULL
 * when the arena cannot grow. */
static struct mem_io_block *arena_take(struct arena *a, size_t need, size_t alignment)
{
    size_t search = alignment > MEM_IO_ALIGNMENT ? need + alignment + MEDIUM_MIN_BLOCK : need;
    pthread_mutex_lock(arena_lock(a));
    struct mem_io_block *b = bin_find(a, search);
    if (b)
        bin_remove(a, b);
    else
        b = arena_grow(a, search);
    if (!b) {
        pthread_mutex_unlock(arena_lock(a));
        return NULL;
    }
    uintptr_t user = (uintptr_t)(b + 1);
    if (user & (alignment - 1)) {
        /* cut a free front block off so that the user pointer lands on the alignment */
        uintptr_t aligned = ((uintptr_t)b + MEDIUM_MIN_BLOCK + HEADER_SIZE + alignment - 1) & ~(uintptr_t)(alignment - 1);
        struct mem_io_block *front = b;
        b = (struct mem_io_block *)(aligned - HEADER_SIZE);
        HSTORE(b->size, front->size - ((uintptr_t)b - (uintptr_t)front));
        b->next = front->next;
        b->prev = front;
        HSTORE(front->size, (uintptr_t)b - (uintptr_t)front);
        front->next = b;
        HSTORE(front->flags, MEM_IO_FLAG_FREE);
        seal(front);
        bin_insert(a, front);
        if (b->next)
            b->next->prev = b;
        else
            arena_set_last(a, b);
    }
    HSTORE(b->flags, MEM_IO_FLAG_USED);
    block_split(a, b, need);
    seal(b);
    pthread_mutex_unlock(arena_lock(a));
    return b;
}

/* A block of at least n usable bytes whose user pointer is aligned to `alignment`: from this
 * thread's medium cache, else from its arena, else (its slice is used up) from arena 0. */
static void *arena_alloc(size_t n, size_t alignment)
{
    if (n > PTRDIFF_MAX - 2 * alignment - MEDIUM_MIN_BLOCK) {
        errno = ENOMEM;
        return NULL;
    }
    size_t need = medium_need(n);
    struct heap *h = heap_acquire();  /* NULL for an exiting thread */
    if (h && alignment <= MEM_IO_ALIGNMENT && medium_cache_class(need) >= 0) {
        need = medium_class_need(need);
        void *cached = medium_cache_take(h, need);
        if (cached)
            return cached;
    }
    struct arena *a = h ? h->arena : &arenas[0];
    struct mem_io_block *b = arena_take(a, need, alignment);
    if (!b && a != &arenas[0])
        b = arena_take(&arenas[0], need, alignment);
    /* Out of address space (RLIMIT_AS): the free blocks of other threads' arenas are all that
     * is left. */
    for (unsigned i = 1; !b && i < ARENA_COUNT; i++)
        if (&arenas[i] != a && LOAD(arenas[i].span_hi))
            b = arena_take(&arenas[i], need, alignment);
    if (!b) {
        errno = ENOMEM;
        return NULL;
    }
    stat_live((int64_t)(b->size - HEADER_SIZE));
    return b + 1;
}

/* True when b is a real block start whose header was overwritten, not a random pointer:
 * an intact neighbour links to it, or a walk from the extent start reaches it (error path
 * only, so O(blocks) is fine). */
static bool arena_is_block_start(const struct extent *e, const struct mem_io_block *b)
{
    uintptr_t at = (uintptr_t)b, prev = (uintptr_t)b->prev, next = (uintptr_t)b->next;
    if (prev >= e->start && prev < at && !(prev & 15) && sealed(b->prev) && b->prev->next == b)
        return true;
    if (next > at && next + HEADER_SIZE <= e->end && !(next & 15) && sealed(b->next) && b->next->prev == b)
        return true;
    uintptr_t walk = e->start;
    while (walk < at && walk + HEADER_SIZE <= e->end && sealed((const struct mem_io_block *)walk))
        walk += ((const struct mem_io_block *)walk)->size;
    return walk == at;
}

/* Headers already reported as corrupted: they are never coalesced into (their size cannot
 * be trusted) and not reported again when a neighbour is freed (arena lock held). */
static bool arena_quarantined(const struct arena *a, const struct mem_io_block *b)
{
    for (size_t i = 0; i < ARENA_QUARANTINE; i++)
        if (a->quarantine[i] == b)
            return true;
    return false;
}

static void arena_quarantine(struct arena *a, struct mem_io_block *b)
{
    __atomic_fetch_or(&b->flags, MEM_IO_FLAG_CORRUPTED, __ATOMIC_RELAXED);
    if (!arena_quarantined(a, b))
        a->quarantine[a->quarantine_next++ % ARENA_QUARANTINE] = b;
}

/* Proves p is a live medium block before anything is written (arena lock held); reports and
 * returns NULL otherwise. Also checks the successor's header, which an overflow of p reaches.
 * *where: the extent holding p, NULL when p is in none (not ours). */
static struct mem_io_block *arena_check(struct arena *a, const void *p, const char *function, const struct extent **where)
{
    long extent = extent_find(a, (uintptr_t)p);
    *where = extent >= 0 ? &a->extents[extent] : NULL;
    if (!*where)
        return NULL;
    const struct extent *e = *where;
    uintptr_t u = (uintptr_t)p;
    if ((u & 15) || u < e->start + HEADER_SIZE) {
        report_error(function, "invalid pointer", p);
        return NULL;
    }
    struct mem_io_block *b = (struct mem_io_block *)(u - HEADER_SIZE);
    if (!sealed(b)) {
        if (HLOAD(b->magic) == (block_seal(b) ^ SEAL_ABSORBED)) {
            report_error(function, "double free detected", p);
        } else if (arena_is_block_start(e, b)) {
            arena_quarantine(a, b);
            report_error(function, "corrupted block header", p);
        } else {
            report_error(function, "invalid pointer", p);
        }
        return NULL;
    }
    if (HLOAD(b->flags) & (MEM_IO_FLAG_FREE | FLAG_CACHED)) {
        report_error(function, "double free detected", p);
        return NULL;
    }
    struct mem_io_block *n = b->next;
    if (n && ((uintptr_t)n != (uintptr_t)b + b->size || !sealed(n) || n->prev != b)) {
        if ((uintptr_t)n != (uintptr_t)b + b->size || (uintptr_t)n >= e->end) {
            report_error(function, "corrupted block header", p);  /* b's own links are bad */
            return NULL;
        }
        if (arena_quarantined(a, n))
            return b;  /* reported before; b is freed, never merged with n */
        arena_quarantine(a, n);
        report_error(function, "corrupted block header (overflow from the previous block)", n + 1);
        return NULL;
    }
    return b;
}

/* Frees b into the bins, coalescing with free neighbours (arena lock held). */
static void arena_release_locked(struct arena *a, struct mem_io_block *b)
{
    HSTORE(b->flags, MEM_IO_FLAG_FREE);
    struct mem_io_block *n = b->next;
    if (n && (HLOAD(n->flags) & MEM_IO_FLAG_FREE) && sealed(n)) {
        bin_remove(a, n);
        block_absorb_next(a, b);
    }
    struct mem_io_block *prev = b->prev;
    if (prev && (HLOAD(prev->flags) & MEM_IO_FLAG_FREE) && sealed(prev) && prev->next == b) {
        bin_remove(a, prev);
        seal(b);
        block_absorb_next(a, prev);
        b = prev;
    }
    seal(b);
    bin_insert(a, b);
}

/* Medium cache class of a block of `size` bytes, or -1 when it is not cached. */
static int medium_cache_class(size_t size)
{
    if (size < SMALL_MAX || size >= (size_t)MEM_IO_MMAP_THRESHOLD + MEM_IO_MMAP_THRESHOLD / 4)
        return -1;
    return (int)(bin_index(size) - bin_index(SMALL_MAX));
}

/* Request size rounded up to its cache class, so cached blocks fit any request of the class. */
static size_t medium_class_need(size_t need)
{
    size_t w = need - 1;
    unsigned top = 63u - (unsigned)__builtin_clzll(w);
    size_t step = (size_t)1 << (top - 2);
    return (need + step - 1) & ~(step - 1);
}

/* free's medium fast path, without the lock (the caller counts the call). p must lie in the extent this
 * thread last proved a block in (extents never shrink or go away, so its memory is ours), and
 * its header is keyed to its address: a sealed USED header is a live block (CACHED would be a
 * double free). The successor's header must be intact and link back, as arena_check demands;
 * a block whose successor may be beyond that extent takes the locked path. Anything unusual
 * (including a successor changing under another thread's lock) goes there too, and that path
 * decides and reports. The block stays USED to the bins, so they never touch it. */
static bool medium_cache_put(struct heap *h, void *p)
{
    uintptr_t u = (uintptr_t)p;
    struct medium_cache *c = &h->medium;
    if ((u & 15) || u < c->extent_start + HEADER_SIZE || u >= c->extent_end)
        return false;
    struct mem_io_block *b = (struct mem_io_block *)(u - HEADER_SIZE);
    size_t size = HLOAD(b->size);
    if (HLOAD(b->flags) != MEM_IO_FLAG_USED || HLOAD(b->magic) != seal_of(b, size, MEM_IO_FLAG_USED))
        return false;
    int cls = medium_cache_class(size);
    if (cls < 0 || c->count[cls] == MEDIUM_CACHE_DEPTH || c->bytes + size > MEDIUM_CACHE_MAX_BYTES)
        return false;
    struct mem_io_block *n = (struct mem_io_block *)((uintptr_t)b + size);
    if ((uintptr_t)n + HEADER_SIZE > c->extent_end || b->next != n || !sealed(n) || n->prev != b)
        return false;
    HSTORE(b->flags, MEM_IO_FLAG_USED | FLAG_CACHED);
    c->blocks[cls][c->count[cls]++] = b;
    c->bytes += size;
    BUMP(h->stats.live, -(int64_t)(size - HEADER_SIZE));
    return true;
}

/* False when p lies in no extent (not a medium pointer); true when handled or reported.
 * A thread with a heap keeps the block in its medium cache when there is room. */
static bool arena_free(void *p, const char *function)
{
    struct arena *a = arena_of(p);
    if (!a)
        return false;
    struct heap *h = heap_acquire();  /* NULL for an exiting thread: no cache */
    const struct extent *e;
    pthread_mutex_lock(arena_lock(a));
    struct mem_io_block *b = arena_check(a, p, function, &e);
    if (!b) {
        pthread_mutex_unlock(arena_lock(a));
        return e != NULL;
    }
    size_t freed = b->size - HEADER_SIZE;
    int cls = h ? medium_cache_class(b->size) : -1;
    if (h) {  /* the next free of a block in this extent can skip the lock */
        h->medium.extent_start = e->start;
        h->medium.extent_end = e->end;
    }
    if (cls >= 0 && h->medium.count[cls] < MEDIUM_CACHE_DEPTH &&
        h->medium.bytes + b->size <= MEDIUM_CACHE_MAX_BYTES) {
        HSTORE(b->flags, MEM_IO_FLAG_USED | FLAG_CACHED);
        pthread_mutex_unlock(arena_lock(a));
        h->medium.blocks[cls][h->medium.count[cls]++] = b;
        h->medium.bytes += b->size;
    } else {
        arena_release_locked(a, b);
        pthread_mutex_unlock(arena_lock(a));
    }
    stat_live(-(int64_t)freed);
    return true;
}

/* A block from the cache of h (this thread's heap, or a shared one whose cache is empty) for a
 * request of `need` bytes, or NULL. No lock: the bins saw the block as USED all along; only the
 * CACHED mark goes. */
static void *medium_cache_take(struct heap *h, size_t need)
{
    int cls = medium_cache_class(need);
    if (cls < 0 || h->medium.count[cls] == 0)
        return NULL;
    struct mem_io_block *b = h->medium.blocks[cls][--h->medium.count[cls]];
    h->medium.bytes -= b->size;
    HSTORE(b->flags, MEM_IO_FLAG_USED);
    BUMP(h->stats.live, (int64_t)(b->size - HEADER_SIZE));
    return b + 1;
}

/* Thread exit: cached blocks go back to the bins of their arenas. */
static void medium_cache_flush(struct heap *h)
{
    struct arena *locked = NULL;  /* the blocks are nearly always all of one arena: one lock */
    for (int cls = 0; cls < MEDIUM_CACHE_CLASSES; cls++)
        while (h->medium.count[cls]) {
            struct mem_io_block *b = h->medium.blocks[cls][--h->medium.count[cls]];
            struct arena *a = arena_of(b);
            if (a != locked) {
                if (locked)
                    pthread_mutex_unlock(arena_lock(locked));
                pthread_mutex_lock(arena_lock(a));
                locked = a;
            }
            arena_release_locked(a, b);
        }
    if (locked)
        pthread_mutex_unlock(arena_lock(locked));
    h->medium.bytes = 0;
}

/* Usable bytes of a live medium block; 0 when reported; false when p is in no extent. */
static bool arena_usable(const void *p, const char *function, size_t *usable)
{
    struct arena *a = arena_of(p);
    if (!a)
        return false;
    const struct extent *e;
    pthread_mutex_lock(arena_lock(a));
    struct mem_io_block *b = arena_check(a, p, function, &e);
    *usable = b ? b->size - HEADER_SIZE : 0;
    pthread_mutex_unlock(arena_lock(a));
    return e != NULL;
}

/* Resizes in place when it fits or the next block is free. ARENA_MOVE: the caller must move
 * it (*old_usable bytes to copy, 0 when p was reported as bad); ARENA_ELSEWHERE: not ours.
 * Inlined into both callers (realloc, and secure mode's), so that realloc's code stays as it
 * was with one caller. */
static inline __attribute__((always_inline)) enum arena_answer arena_resize(void *p, size_t n, size_t *old_usable)
{
    size_t need = medium_need(n);
    const struct extent *e;
    *old_usable = 0;
    struct arena *a = arena_of(p);
    if (!a)
        return ARENA_ELSEWHERE;
    pthread_mutex_lock(arena_lock(a));
    struct mem_io_block *b = arena_check(a, p, "realloc", &e);
    if (!b) {
        pthread_mutex_unlock(arena_lock(a));
        return e ? ARENA_MOVE : ARENA_ELSEWHERE;
    }
    size_t before = b->size;
    *old_usable = before - HEADER_SIZE;
    struct mem_io_block *next = b->next;
    if (need > b->size && next && (HLOAD(next->flags) & MEM_IO_FLAG_FREE) && sealed(next) &&
        b->size + next->size >= need) {
        bin_remove(a, next);
        block_absorb_next(a, b);
    }
    bool fits = need <= b->size;
    if (fits)
        block_split(a, b, need);
    seal(b);
    size_t after = b->size;
    pthread_mutex_unlock(arena_lock(a));
    if (!fits)
        return ARENA_MOVE;
    stat_live((int64_t)after - (int64_t)before);
    return ARENA_DONE;
}

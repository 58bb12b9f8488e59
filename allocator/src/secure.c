/* Secure mode (MEM_IO_SECURE=1, or a build configured with MEM_IO_SECURE_DEFAULT=ON): every
 * call goes through this layer over the core, which adds what hardened allocators check.
 *
 * How the default mode stays as fast as without it: in secure mode `small_grains` is 0, so the
 * fast paths of free and realloc never take a block, and no heap ever has a current page, so
 * malloc's fast path never pops one. Each of them falls to its slow path, which tests
 * `secure_mode` there. The default mode's fast paths run the same instructions as before.
 * Secure mode has a fast path of its own for small blocks, with no calls: malloc pops the
 * head page of the class's queue (what `current` would be), free proves the block as
 * small_usable does, inline.
 *
 * A block of n bytes is a core block of at least n + TAIL_BYTES, of usable size U:
 *   [0, n)            the caller's bytes, zero when handed out (calloc costs nothing more)
 *   [n, n + 16)       canary bytes (as far as U - TAIL_BYTES allows; at least none), written
 *                     and checked as two 8-byte words
 *   [U - 4, U)        the tail: U - n keyed with the secret and the block address, 7 bits
 *                     per byte, top bit set in each
 * Canary bytes are keyed the same way and have their top bit set too, so a write of any byte
 * below 0x80 there (a NUL from an off-by-one, text) is always caught, any other byte with
 * probability 127/128 per byte. free and realloc check both before anything else. A freed
 * block is zeroed, its tail set to a keyed "freed" mark (no top bits, so no live tail looks
 * like it), and it waits in its thread's quarantine (the last QUARANTINE_SLOTS blocks, at most
 * QUARANTINE_BYTES) before the core gets it back; a block leaving the quarantine must still
 * be zero with its mark, or it was written after free. A second free of a quarantined block
 * finds the mark: a double free. Blocks over QUARANTINE_BLOCK_MAX bytes skip the quarantine
 * (zeroing them would fault in pages the program never touched).
 *
 * So a small block is zero when the core hands it out again, but for its first 16 bytes (the
 * free-list links) and for links that a page's previous class left, which page_unformat
 * clears: malloc zeroes 16 bytes, not n. A medium block likewise: every block the core gets
 * back was proven zero (or zeroed), and in secure mode the core clears the header and bin
 * links of a block that a neighbour absorbs (block_clear), so free arena memory is zero but
 * for the headers of free blocks (outside what is handed out) and their bin links (the first
 * 16 bytes). Large blocks may hold what their range last held: they are zeroed when handed
 * out, page by page (resident pages written, the others given back: zero_pages).
 *
 * A large block is asked of the core one page longer: that last page is its guard page,
 * PROT_NONE while the block is live, so a write (or read) that runs on past the canary and the
 * rounding of the block faults there, and the SIGSEGV handler names the block.
 *
 * malloc(0) returns a distinct 16-byte slot of a PROT_NONE range: any access faults, and the
 * SIGSEGV handler names it before it aborts. */
#include "internal.h"

#include <signal.h>

#define ALWAYS_INLINE inline __attribute__((always_inline))  /* a small block's path: no calls */
#define TAIL_BYTES 4
#define TAIL_SLACK_MAX (((size_t)1 << 28) - 1)   /* 4 bytes of 7 bits */
#define CANARY_BYTES 16
#define QUARANTINE_BLOCK_MAX ((size_t)256 << 10)
#define SECURE_PAGEWISE_MIN MEM_IO_MMAP_THRESHOLD /* zeroed page by page from here (secure_zero) */
#define ZERO_SLOT_WORDS 1024                      /* 65536 live malloc(0) objects */
#define ZERO_SLOT_SIZE 16

static struct {
    uintptr_t base, end;                         /* the PROT_NONE range */
    _Atomic uint64_t used[ZERO_SLOT_WORDS];      /* one bit per slot */
    _Atomic unsigned cursor;                     /* the word the next search starts at */
    struct sigaction previous;                   /* the SIGSEGV action before ours */
} zero_objects;

/* The key of the block at p: the 128-bit product of its address, keyed with the secret, by an
 * odd constant, folded to 64 bits (one multiply; every output bit depends on every input bit,
 * and the fold cannot be undone to give the secret back). */
static inline uint64_t secure_key(const void *p)
{
    unsigned __int128 product = (unsigned __int128)(mem_io_secret ^ (uintptr_t)p) * 0x9e3779b97f4a7c15u;
    return (uint64_t)product ^ (uint64_t)(product >> 64);
}

/* The canary bytes after a block: those of this word, over and over (top bit of each set). */
static inline uint64_t canary_word(uint64_t key)
{
    return key | 0x8080808080808080u;
}

/* The tail: 28 bits, 7 in each byte, the top bit of each byte set. Spread (and gathered) in
 * two steps, 14-bit halves then 7-bit bytes, each moving two fields at once. */
static inline uint32_t tail_encode(uint32_t v)
{
    uint32_t halves = (v & 0x3fff) | (v << 2 & 0x3fff0000);
    return 0x80808080u | (halves & 0x007f007f) | (halves << 1 & 0x7f007f00);
}

static inline uint32_t tail_decode(uint32_t t)
{
    uint32_t halves = (t & 0x007f007f) | (t >> 1 & 0x3f803f80);
    return (halves & 0x3fff) | (halves >> 2 & 0xfffc000);
}

/* The tail of a freed block: no byte with its top bit set (so no live tail equals it), none 0. */
static inline uint32_t freed_mark(uint64_t key)
{
    return ((uint32_t)(key >> 8) & 0x7e7e7e7eu) | 0x01010101u;
}

static inline uint32_t tail_load(const unsigned char *p, size_t usable)
{
    uint32_t t;
    memcpy(&t, p + usable - TAIL_BYTES, TAIL_BYTES);
    return t;
}

static inline void tail_store(unsigned char *p, size_t usable, uint32_t t)
{
    memcpy(p + usable - TAIL_BYTES, &t, TAIL_BYTES);
}

/* ---- zero-size objects ---- */

/* The live large block whose guard page holds `at`, or 0. Runs in the SIGSEGV handler, without
 * the large lock: the program is about to stop (a table being rehashed at that instant may be
 * missed). */
static uintptr_t guarded_block_at(uintptr_t at)
{
    const struct large_slot *slots = large.slots;
    for (size_t i = 0; slots && i < large.capacity; i++) {
        if (slots[i].state != SLOT_LIVE)
            continue;
        const struct mem_io_block *h = (const struct mem_io_block *)(slots[i].user - HEADER_SIZE);
        uintptr_t end = (uintptr_t)h->prev + h->size;  /* the guard is the block's last page */
        if (at >= end - MEM_IO_PAGE && at < end)
            return slots[i].user;
    }
    return 0;
}

static void secure_fault(int sig, siginfo_t *info, void *context)
{
    uintptr_t at = (uintptr_t)info->si_addr, block;
    if (at >= zero_objects.base && at < zero_objects.end)
        report_error("malloc(0)", "access to a zero-size object", info->si_addr);
    else if ((block = guarded_block_at(at)))
        report_error("malloc", "heap overflow: an access past the end of the block hit its guard page",
                     (void *)block);
    /* not ours (or errors continue): the default action, or the program's, on the retry */
    sigaction(sig, &zero_objects.previous, NULL);
    (void)context;
}

static void secure_init(void)
{
    if (zero_objects.base)
        return;
    size_t len = (size_t)ZERO_SLOT_WORDS * 64 * ZERO_SLOT_SIZE;
    void *range = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (range == MAP_FAILED)
        return;  /* malloc(0) then gets an ordinary block of 0 bytes */
    zero_objects.base = (uintptr_t)range;
    zero_objects.end = (uintptr_t)range + len;
    struct sigaction action = {.sa_sigaction = secure_fault, .sa_flags = SA_SIGINFO | SA_ONSTACK};
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, &zero_objects.previous);
}

static inline bool is_zero_object(const void *p)
{
    return (uintptr_t)p - zero_objects.base < zero_objects.end - zero_objects.base;
}

static void *zero_object_new(void)
{
    if (!zero_objects.base)
        return NULL;
    unsigned start = atomic_load_explicit(&zero_objects.cursor, relaxed);
    for (unsigned k = 0; k < ZERO_SLOT_WORDS; k++) {
        unsigned w = (start + k) % ZERO_SLOT_WORDS;
        uint64_t bits = atomic_load_explicit(&zero_objects.used[w], relaxed);
        while (~bits) {
            unsigned bit = (unsigned)__builtin_ctzll(~bits);
            if (atomic_compare_exchange_weak(&zero_objects.used[w], &bits, bits | (uint64_t)1 << bit)) {
                atomic_store_explicit(&zero_objects.cursor, w, relaxed);
                return (void *)(zero_objects.base + ((size_t)w * 64 + bit) * ZERO_SLOT_SIZE);
            }
        }
    }
    return NULL;
}

/* False when p was no live zero-size object (reported). */
static bool zero_object_free(void *p, const char *function)
{
    uintptr_t off = (uintptr_t)p - zero_objects.base;
    if (off % ZERO_SLOT_SIZE) {
        report_error(function, "invalid pointer", p);
        return false;
    }
    uintptr_t slot = off / ZERO_SLOT_SIZE;
    uint64_t bit = (uint64_t)1 << (slot % 64);
    if (!(atomic_fetch_and(&zero_objects.used[slot / 64], ~bit) & bit)) {
        report_error(function, "double free detected", p);
        return false;
    }
    return true;
}

/* ---- canaries ---- */

/* The usable size of the core block p for secure mode's use, after the core's own checks.
 * A large block's last page is its guard page (secure_alloc): *guarded says so, and the
 * usable size ends before it. */
static size_t core_usable(const void *p, const char *function, bool *guarded)
{
    *guarded = false;
    if (is_small(p))
        return small_usable(p, function);
    size_t usable = 0;
    if (arena_usable(p, function, &usable))
        return usable;
    if (large_usable(p, function, &usable)) {
        *guarded = usable != 0;
        return usable ? usable - MEM_IO_PAGE : 0;
    }
    report_error(function, "invalid pointer", p);
    return 0;
}

static inline uint64_t word_load(const unsigned char *at)
{
    uint64_t w;
    memcpy(&w, at, 8);
    return w;
}

static inline void word_store(unsigned char *at, uint64_t w)
{
    memcpy(at, &w, 8);
}

/* The canary as the 8 bytes at offset `at` of its block: byte i of a block is byte i % 8 of
 * its canary word, so that words stored at any offsets, overlapping or not, agree. */
static inline uint64_t canary_at(uint64_t canary, size_t at)
{
    unsigned shift = 8 * (unsigned)(at & 7);
    return canary >> shift | canary << ((64 - shift) & 63);
}

/* Where the canary bytes [n, n + CANARY_BYTES) of a block lie, cut at its tail: two 8-byte
 * words (overlapping when fewer than 16 bytes fit), or, when fewer than 8 fit, the top bytes
 * of the word that ends at the tail (its other bytes are the caller's). Two word stores or
 * loads and compares instead of a loop over bytes. */
struct canary_words { size_t first, second; uint64_t mask; };

static inline struct canary_words canary_words(size_t n, size_t usable)
{
    size_t room = usable - TAIL_BYTES - n;
    if (room >= 8)
        return (struct canary_words){n, room >= 16 ? n + 8 : n + room - 8, ~(uint64_t)0};
    size_t at = n + room - 8;  /* usable >= 16, so at >= 4: inside the block */
    return (struct canary_words){at, at, room ? ~(uint64_t)0 << (8 * (8 - room)) : 0};
}

static inline void canary_merge(unsigned char *p, size_t at, uint64_t canary, uint64_t mask)
{
    word_store(p + at, (word_load(p + at) & ~mask) | (canary_at(canary, at) & mask));
}

/* Marks [n, usable) of block p: canary bytes after n, the keyed slack in the tail. */
static ALWAYS_INLINE void canary_write(unsigned char *p, size_t n, size_t usable, uint64_t key)
{
    uint64_t canary = canary_word(key);
    struct canary_words w = canary_words(n, usable);
    if (likely(w.mask == ~(uint64_t)0)) {  /* whole words: stored without a load of their line */
        word_store(p + w.first, canary_at(canary, w.first));
        word_store(p + w.second, canary_at(canary, w.second));
    } else {
        canary_merge(p, w.first, canary, w.mask);  /* one word (first == second) */
    }
    size_t slack = usable - n < TAIL_SLACK_MAX ? usable - n : TAIL_SLACK_MAX;
    tail_store(p, usable, tail_encode((uint32_t)((slack ^ (key >> 32)) & TAIL_SLACK_MAX)));
}

static ALWAYS_INLINE bool canary_intact(const unsigned char *p, size_t n, size_t usable, uint64_t canary)
{
    struct canary_words w = canary_words(n, usable);
    return (((word_load(p + w.first) ^ canary_at(canary, w.first)) |
             (word_load(p + w.second) ^ canary_at(canary, w.second))) & w.mask) == 0;
}

/* The caller's size of the live block p of core usable size `usable`; SIZE_MAX when p is a
 * freed (quarantined) block or its canary was overwritten (reported). */
static ALWAYS_INLINE size_t secure_live_size(unsigned char *p, size_t usable, uint64_t key, const char *function)
{
    uint32_t tail = tail_load(p, usable);
    if (tail == freed_mark(key)) {
        report_error(function, "double free detected", p);
        return SIZE_MAX;
    }
    size_t slack = (tail_decode(tail) ^ (key >> 32)) & TAIL_SLACK_MAX;
    bool tail_ok = (tail & 0x80808080u) == 0x80808080u;
    if (likely(tail_ok && slack >= TAIL_BYTES && slack <= usable &&
               canary_intact(p, usable - slack, usable, canary_word(key))))
        return usable - slack;
    report_error(function, "heap overflow: the canary after the block was overwritten", p);
    return SIZE_MAX;
}

/* ---- zeroing ---- */

typedef uint64_t secure_vec __attribute__((vector_size(16), may_alias));
#define ZERO_STORES_MAX 2048  /* bytes zeroed by a loop of stores; rep stosb beyond, as memset */

/* Zeroes the block p of `len` bytes (16-byte aligned, a multiple of 16 long), without a call:
 * free's small path then keeps nothing in saved registers. */
static inline void zero_block(unsigned char *p, size_t len)
{
    if (len > ZERO_STORES_MAX) {
        __asm__ volatile("rep stosb" : "+D"(p), "+c"(len) : "a"(0) : "memory");  /* memset's way */
        return;
    }
    size_t i = 0;
    for (; i + 64 <= len; i += 64) {
        *(secure_vec *)(p + i) = *(secure_vec *)(p + i + 16) = (secure_vec){0, 0};
        *(secure_vec *)(p + i + 32) = *(secure_vec *)(p + i + 48) = (secure_vec){0, 0};
        __asm__("" : "+r"(i));  /* stores, not a rep stos: that starts slowly for short blocks */
    }
    for (; i < len; i += 16) {
        *(secure_vec *)(p + i) = (secure_vec){0, 0};
        __asm__("" : "+r"(i));
    }
}

/* Whether the block p of `usable` bytes is as secure_release left it: zero but for the freed
 * mark in its tail. */
static bool still_freed(const unsigned char *p, size_t usable, uint32_t mark)
{
    secure_vec any = *(const secure_vec *)(p + usable - 16);
    any[1] ^= (uint64_t)mark << 32;  /* the tail: the top 4 bytes of the last 16 */
    size_t i = 0, body = usable - 16;
    for (; i + 64 <= body; i += 64)
        any |= *(const secure_vec *)(p + i) | *(const secure_vec *)(p + i + 16) |
               *(const secure_vec *)(p + i + 32) | *(const secure_vec *)(p + i + 48);
    for (; i < body; i += 16)
        any |= *(const secure_vec *)(p + i);
    return (any[0] | any[1]) == 0;
}

/* Zeroes the whole OS pages [first, first + pages * MEM_IO_PAGE) without making resident a
 * page that was not: resident pages (the last user's, faulted in already) are written, the
 * others given back (MADV_DONTNEED: they read as zero, also one that was swapped out). A
 * reused large range keeps its faulted pages, and a block's untouched pages stay untouched. */
static void zero_pages(uintptr_t first, size_t pages)
{
    unsigned char resident[1024];  /* mincore's answer, one byte per page: 4 MiB a call */
    uintptr_t run = first;        /* the pages since `run` are all resident, or none */
    bool run_resident = false;
    for (size_t done = 0; done < pages;) {
        size_t batch = pages - done < sizeof resident ? pages - done : sizeof resident;
        uintptr_t at = first + done * MEM_IO_PAGE;
        int saved = errno;
        bool known = mincore((void *)at, batch * MEM_IO_PAGE, resident) == 0;
        errno = saved;
        for (size_t i = 0; i < batch; i++) {
            bool in = known && (resident[i] & 1);
            uintptr_t page = at + i * MEM_IO_PAGE;
            if (in != run_resident && page > run) {
                if (run_resident)
                    memset((void *)run, 0, page - run);
                else
                    os_decommit((void *)run, page - run);
                run = page;
            }
            run_resident = in;
        }
        done += batch;
    }
    uintptr_t end = first + pages * MEM_IO_PAGE;
    if (run_resident)
        memset((void *)run, 0, end - run);
    else if (end > run)
        os_decommit((void *)run, end - run);
}

/* Zeroes [p, p + len): by memset, or, from SECURE_PAGEWISE_MIN on, page by page as zero_pages
 * does (memset would make every page of a large block resident, also those the program
 * never touched; giving them all back would make every page fault again). */
static void secure_zero(unsigned char *p, size_t len)
{
    uintptr_t first = ((uintptr_t)p + MEM_IO_PAGE - 1) & ~(uintptr_t)(MEM_IO_PAGE - 1);
    uintptr_t last = ((uintptr_t)p + len) & ~(uintptr_t)(MEM_IO_PAGE - 1);
    if (len < SECURE_PAGEWISE_MIN || last <= first) {
        memset(p, 0, len);
        return;
    }
    memset(p, 0, first - (uintptr_t)p);
    zero_pages(first, (last - first) / MEM_IO_PAGE);
    memset((void *)last, 0, (uintptr_t)p + len - last);
}

/* Makes the guard page after the `usable` bytes of large block p inaccessible (PROT_NONE) or
 * accessible again (os_protect: where the kernel refuses, the block has no guard). */
static void guard_protect(unsigned char *p, size_t usable, int protection)
{
    os_protect(p + usable, MEM_IO_PAGE, protection);
}


/* ---- allocation ---- */

/* A block of class cls from the current page of this thread's heap, as malloc's fast path
 * pops it in the default mode (secure mode leaves heap->current empty: heap.c); NULL when
 * that page has none ready. */
static inline void *secure_small_pop(unsigned cls)
{
    struct page *pg = tls_heap->queue[cls].head;  /* none in empty_heap and dead_heap */
    return pg && pg->free ? page_pop(pg) : NULL;
}

/* The usable size of the medium block p, which this thread proved live: its header, read
 * without the arena lock. */
static size_t medium_usable(const void *p)
{
    return HLOAD(((const struct mem_io_block *)p - 1)->size) - HEADER_SIZE;
}

/* A block of at least `need` bytes from this thread's medium cache, or NULL. Such a block is
 * all zero: it was proven zero when it left the quarantine (its tail cleared), and the cache
 * writes only its header. *usable: its usable size. */
static unsigned char *medium_cached(size_t need, size_t *usable)
{
    if (need <= SMALL_MAX || need >= MEM_IO_MMAP_THRESHOLD)
        return NULL;
    unsigned char *p = medium_cache_take(tls_heap, medium_class_need(medium_need(need)));
    if (p)
        *usable = medium_usable(p);
    return p;
}

/* A large block for n bytes, `need` with its guard page, which ends in that guard page
 * (PROT_NONE); *usable: its usable size short of the guard, *memory: what its pages hold. */
static unsigned char *secure_large_alloc(size_t n, size_t need, size_t alignment, size_t *usable,
                                         enum large_memory *memory)
{
    unsigned char *p = large_alloc(need, alignment, memory);
    if (!p)
        return NULL;
    bool guarded;
    *usable = core_usable(p, "malloc", &guarded);
    /* Slack past the block that the design does not allow is cut off: an alignment's (the
     * guard page then follows the block, as it does any other large block) and more than the
     * tail's 28 bits hold (a block over 4 GiB, rounded up by 1/8). A large block's rounding,
     * which the large cache reuses, stays. */
    size_t slack = *usable - (n + TAIL_BYTES);
    if (slack >= MEM_IO_PAGE && (alignment > MEM_IO_ALIGNMENT || slack > TAIL_SLACK_MAX) && large_resize(p, need)) {
        *usable = core_usable(p, "malloc", &guarded);
        if (*memory == LARGE_GUARDED)
            *memory = LARGE_REUSED;  /* the kept guard page went with the slack */
    }
    if (*memory != LARGE_GUARDED)
        guard_protect(p, *usable, PROT_NONE);
    return p;
}

/* A block of n bytes whose first `copied` bytes are those at `from` (realloc), the rest zero. */
static __attribute__((noinline)) void *secure_alloc_copy(size_t n, size_t alignment, const void *from, size_t copied)
{
    if (n == 0 && alignment <= MEM_IO_ALIGNMENT) {
        void *z = zero_object_new();
        if (z)
            return z;
    }
    unsigned char *p = NULL;
    size_t usable;
    enum large_memory memory = LARGE_REUSED;
    if (likely(n <= SMALL_MAX - TAIL_BYTES && alignment <= MEM_IO_ALIGNMENT)) {
        unsigned cls = class_of(n + TAIL_BYTES);
        p = secure_small_pop(cls);
        usable = class_size[cls];
    }
    bool guarded = false;
    if (unlikely(!p)) {
        size_t need;
        if (__builtin_add_overflow(n, TAIL_BYTES + MEM_IO_PAGE, &need) || need > PTRDIFF_MAX) {
            errno = ENOMEM;
            return NULL;
        }
        guarded = served_large(need, alignment);  /* a large block: one more page, its guard */
        if (guarded) {
            if (!(p = secure_large_alloc(n, need, alignment, &usable, &memory)))
                return NULL;
        } else {
            need -= MEM_IO_PAGE;
            if (alignment > MEM_IO_ALIGNMENT || !(p = medium_cached(need, &usable))) {
                if (!(p = alloc_generic(need, alignment, false)))
                    return NULL;
                usable = core_usable(p, "malloc", &guarded);
            }
        }
    }
    if (copied)
        memcpy(p, from, copied);
    /* a small or medium block is zero but for its free-list links (the comment at the top) */
    if (!guarded) {
        _Static_assert(sizeof(struct free_block) == sizeof(struct bin_links), "links of both kinds");
        memset(p + copied, 0, copied < sizeof(struct free_block) ? sizeof(struct free_block) - copied : 0);
    } else if (memory != LARGE_FRESH) {
        secure_zero(p + copied, n - copied);
    }
    canary_write(p, n, usable, secure_key(p));
    return p;
}

static void *secure_alloc(size_t n, size_t alignment)
{
    if (likely(n - 1 < SMALL_MAX - TAIL_BYTES && alignment <= MEM_IO_ALIGNMENT)) {
        /* secure_alloc_copy's small case, without its calls (so without saved registers) */
        unsigned cls = class_of(n + TAIL_BYTES);
        unsigned char *p = secure_small_pop(cls);
        if (likely(p != NULL)) {
            memset(p, 0, sizeof(struct free_block));  /* the rest is zero (the comment at the top) */
            canary_write(p, n, class_size[cls], secure_key(p));
            return p;
        }
    }
    return secure_alloc_copy(n, alignment, NULL, 0);
}

/* ---- the quarantine ---- */

/* Gives a block that left the quarantine back to the core, after checking that nothing
 * wrote to it while it was free. Every call in it is a tail call (errors continue: a block
 * written after free is leaked, never handed out again), so it needs no frame. */
static __attribute__((noinline)) void quarantine_release(unsigned char *p, size_t usable)
{
    if (unlikely(!still_freed(p, usable, freed_mark(secure_key(p))))) {
        report_error("free", "write to a freed block (found when it left the quarantine)", p);
    } else {
        tail_store(p, usable, 0);
        free_core(p);
    }
}

/* Adds p to the quarantine after the oldest blocks left it, as many as make room. */
static __attribute__((noinline)) void quarantine_put_slow(struct quarantine *qu, unsigned char *p, size_t usable)
{
    while (qu->count == QUARANTINE_SLOTS || (qu->count && qu->bytes + usable > QUARANTINE_BYTES)) {
        struct quarantined out = qu->slots[qu->head];
        qu->head = (qu->head + 1) % QUARANTINE_SLOTS;
        qu->count--;
        qu->bytes -= out.usable;
        quarantine_release(out.block, out.usable);
    }
    qu->slots[(qu->head + qu->count) % QUARANTINE_SLOTS] = (struct quarantined){p, usable};
    qu->count++;
    qu->bytes += usable;
}

/* quarantine_put for a thread that has no heap yet (made now) or no more (it is exiting: the
 * block goes back at once, its freed mark cleared). */
static __attribute__((noinline)) void quarantine_put_heapless(unsigned char *p, size_t usable)
{
    struct heap *h = heap_acquire();
    if (h) {
        quarantine_put_slow(&h->quarantine, p, usable);
        return;
    }
    tail_store(p, usable, 0);
    free_core(p);
}

/* Adds the freed block p to the thread's quarantine. Once the ring is full (the steady state)
 * p takes the oldest block's slot and that block leaves, last, so that this is a tail call. */
static ALWAYS_INLINE void quarantine_put(struct quarantine *qu, unsigned char *p, size_t usable)
{
    struct quarantined *oldest = &qu->slots[qu->head];
    if (likely(qu->count == QUARANTINE_SLOTS && qu->bytes - oldest->usable + usable <= QUARANTINE_BYTES)) {
        struct quarantined out = *oldest;
        *oldest = (struct quarantined){p, usable};
        qu->head = (qu->head + 1) % QUARANTINE_SLOTS;
        qu->bytes += usable - out.usable;
        quarantine_release(out.block, out.usable);
        return;
    }
    quarantine_put_slow(qu, p, usable);
}

/* Frees the live block p of `usable` bytes: zeroed, marked, and quarantined. Blocks over
 * QUARANTINE_BLOCK_MAX go back at once, unzeroed (secure_alloc zeroes large blocks). */
static ALWAYS_INLINE void secure_release(unsigned char *p, size_t usable, uint64_t key)
{
    if (usable > QUARANTINE_BLOCK_MAX) {
        free_core(p);  /* a large block's range keeps its guard page (large_free) */
        return;
    }
    zero_block(p, usable);
    tail_store(p, usable, freed_mark(key));
    struct heap *h = tls_heap;
    if (unlikely(h == &empty_heap || h == &dead_heap)) {
        quarantine_put_heapless(p, usable);
        return;
    }
    quarantine_put(&h->quarantine, p, usable);
}

/* Frees the block p of usable size `usable` (core_usable's) after its checks. */
static ALWAYS_INLINE void secure_free_checked(unsigned char *p, size_t usable,
                                              const char *function)
{
    uint64_t key = secure_key(p);
    if (secure_live_size(p, usable, key, function) != SIZE_MAX)
        secure_release(p, usable, key);
}

/* free of anything but a live small block. */
static __attribute__((noinline)) void secure_free_other(void *p, const char *function)
{
    if (!p)
        return;
    int saved = errno;
    if (is_zero_object(p)) {
        zero_object_free(p, function);
    } else {
        bool guarded;
        size_t usable = core_usable(p, function, &guarded);
        if (usable)
            secure_free_checked(p, usable, function);
    }
    errno = saved;
}

static void secure_free(void *p, const char *function)
{
    uintptr_t off = small_offset(p);
    struct page *pg = page_of(off);
    if (likely(off < LOAD(small_span) && small_block_kind(p, pg) == SMALL_LIVE)) {
        /* a live small block (small_usable's test, inline); nothing on this path sets errno */
        secure_free_checked(p, LOAD(pg->block_size), function);
        return;
    }
    secure_free_other(p, function);
}

/* realloc of the live large block p (old bytes of `usable`) to a large size n as the core
 * grows a large block, in place or by mremap, without a copy; NULL (p unchanged) where the
 * core would rather have it copied. The old guard page and whatever the range held past it
 * become part of the block: zeroed, as the tail beyond old is. */
static unsigned char *secure_large_resize(unsigned char *p, size_t usable, size_t old, size_t n)
{
    guard_protect(p, usable, PROT_READ | PROT_WRITE);
    unsigned char *q = large_resize(p, n + TAIL_BYTES + MEM_IO_PAGE);
    if (!q) {
        guard_protect(p, usable, PROT_NONE);
        return NULL;
    }
    bool guarded;
    usable = core_usable(q, "realloc", &guarded);
    guard_protect(q, usable, PROT_NONE);
    if (n > old)
        secure_zero(q + old, n - old);
    canary_write(q, n, usable, secure_key(q));
    return q;
}

static void *secure_realloc(void *p, size_t n)
{
    if (!p)
        return secure_alloc(n, MEM_IO_ALIGNMENT);
    if (n == 0) {
        secure_free(p, "realloc");
        return NULL;
    }
    if (is_zero_object(p)) {
        if (!zero_object_free(p, "realloc")) {
            errno = EINVAL;
            return NULL;
        }
        return secure_alloc(n, MEM_IO_ALIGNMENT);
    }
    bool guarded;
    size_t usable = core_usable(p, "realloc", &guarded);
    uint64_t key = secure_key(p);
    size_t old = usable ? secure_live_size(p, usable, key, "realloc") : SIZE_MAX;
    if (old == SIZE_MAX) {
        errno = EINVAL;  /* reported; the bad call is ignored */
        return NULL;
    }
    if (n <= usable - TAIL_BYTES && n >= old / 2) {  /* stays, with its canary moved */
        if (n > old)
            memset((unsigned char *)p + old, 0, n - old);  /* no canary bytes leak out */
        canary_write(p, n, usable, key);
        return p;
    }
    if (n > old && !guarded && !is_small(p) && !served_large(n + TAIL_BYTES, MEM_IO_ALIGNMENT)) {
        /* a medium block grows over a free neighbour, as in the default mode; what it takes in
         * may hold the core's headers and links: zeroed */
        size_t ignored;
        if (arena_resize(p, n + TAIL_BYTES, &ignored) == ARENA_DONE) {
            memset((unsigned char *)p + old, 0, n - old);
            canary_write(p, n, medium_usable(p), key);
            return p;
        }
    }
    if (guarded && served_large(n + TAIL_BYTES + MEM_IO_PAGE, MEM_IO_ALIGNMENT)) {
        unsigned char *q = secure_large_resize(p, usable, old, n);
        if (q)
            return q;
    }
    void *q = secure_alloc_copy(n, MEM_IO_ALIGNMENT, p, old < n ? old : n);
    if (q)
        secure_release(p, usable, key);
    return q;
}

static size_t secure_usable_size(const void *p)
{
    if (!p || is_zero_object(p))
        return 0;
    bool guarded;
    size_t usable = core_usable(p, "malloc_usable_size", &guarded);
    size_t n = usable ? secure_live_size((void *)p, usable, secure_key(p), "malloc_usable_size") : SIZE_MAX;
    return n == SIZE_MAX ? 0 : n;
}

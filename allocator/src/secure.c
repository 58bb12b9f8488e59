/* Secure mode (MEM_IO_SECURE=1, or a build configured with MEM_IO_SECURE_DEFAULT=ON): every
 * call goes through this layer over the core, which adds what hardened allocators check.
 *
 * How the default mode stays as fast as without it: in secure mode `small_grains` is 0, so the
 * fast paths of free and realloc never take a block, and no heap ever has a current page, so
 * malloc's fast path never pops one. Each of them falls to its slow path, which tests
 * `secure_mode` there. The default mode's fast paths run the same instructions as before.
 *
 * A block of n bytes is a core block of at least n + TAIL_BYTES, of usable size U:
 *   [0, n)            the caller's bytes, zeroed on allocation (calloc costs nothing more)
 *   [n, n + 16)       canary bytes (as far as U - TAIL_BYTES allows; at least none)
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
 * malloc(0) returns a distinct 16-byte slot of a PROT_NONE range: any access faults, and the
 * SIGSEGV handler names it before it aborts. */
#include "internal.h"

#include <signal.h>

#define TAIL_BYTES 4
#define TAIL_SLACK_MAX (((size_t)1 << 28) - 1)   /* 4 bytes of 7 bits */
#define CANARY_BYTES 16
#define QUARANTINE_BLOCK_MAX ((size_t)256 << 10)
#define SECURE_DECOMMIT_MIN ((size_t)64 << 10)     /* zeroed by giving pages back from here */
#define ZERO_SLOT_WORDS 1024                      /* 65536 live malloc(0) objects */
#define ZERO_SLOT_SIZE 16

static struct {
    uintptr_t base, end;                         /* the PROT_NONE range */
    _Atomic uint64_t used[ZERO_SLOT_WORDS];      /* one bit per slot */
    _Atomic unsigned cursor;                     /* the word the next search starts at */
    struct sigaction previous;                   /* the SIGSEGV action before ours */
} zero_objects;

static inline uint64_t secure_key(const void *p)
{
    return mix64(mem_io_secret ^ (uintptr_t)p);
}

static inline uint8_t canary_byte(uint64_t key, size_t i)
{
    return (uint8_t)(0x80 | (key >> (7 * (i & 7))));
}

static inline uint8_t freed_mark_byte(uint64_t key, unsigned i)
{
    return (uint8_t)(0x01 | ((key >> (8 * i + 1)) & 0x7e));  /* top bit clear, never 0 */
}

/* ---- zero-size objects ---- */

static void zero_fault(int sig, siginfo_t *info, void *context)
{
    uintptr_t at = (uintptr_t)info->si_addr;
    if (at >= zero_objects.base && at < zero_objects.end)
        report_error("malloc(0)", "access to a zero-size object", info->si_addr);
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
    struct sigaction action = {.sa_sigaction = zero_fault, .sa_flags = SA_SIGINFO | SA_ONSTACK};
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

/* The usable size of the core block p without secure mode's checks (the core's own run). */
static size_t core_usable(const void *p, const char *function)
{
    if (is_small(p))
        return small_usable(p, function);
    size_t usable = 0;
    if (!arena_usable(p, function, &usable) && !large_usable(p, function, &usable))
        report_error(function, "invalid pointer", p);
    return usable;
}

/* Marks [n, usable) of block p: canary bytes after n, the keyed slack in the tail. */
static void canary_write(unsigned char *p, size_t n, size_t usable)
{
    uint64_t key = secure_key(p);
    size_t end = n + CANARY_BYTES < usable - TAIL_BYTES ? n + CANARY_BYTES : usable - TAIL_BYTES;
    for (size_t i = n; i < end; i++)
        p[i] = canary_byte(key, i - n);
    size_t slack = usable - n < TAIL_SLACK_MAX ? usable - n : TAIL_SLACK_MAX;
    uint32_t coded = (uint32_t)((slack ^ (key >> 32)) & TAIL_SLACK_MAX);
    for (unsigned i = 0; i < TAIL_BYTES; i++)
        p[usable - TAIL_BYTES + i] = (uint8_t)(0x80 | (coded >> (7 * i)));
}

static bool freed_mark_intact(const unsigned char *p, size_t usable, uint64_t key)
{
    for (unsigned i = 0; i < TAIL_BYTES; i++)
        if (p[usable - TAIL_BYTES + i] != freed_mark_byte(key, i))
            return false;
    return true;
}

/* The caller's size of the live block p, its core usable size in *usable; SIZE_MAX when p is
 * no live block or its canary was overwritten (reported). */
static size_t secure_live_size(void *p, const char *function, size_t *usable)
{
    size_t u = core_usable(p, function);
    if (u == 0)
        return SIZE_MAX;
    unsigned char *bytes = p;
    uint64_t key = secure_key(p);
    if (freed_mark_intact(bytes, u, key)) {
        report_error(function, "double free detected", p);
        return SIZE_MAX;
    }
    uint32_t coded = 0;
    bool tail_ok = true;
    for (unsigned i = 0; i < TAIL_BYTES; i++) {
        uint8_t b = bytes[u - TAIL_BYTES + i];
        tail_ok &= (b & 0x80) != 0;
        coded |= (uint32_t)(b & 0x7f) << (7 * i);
    }
    size_t slack = (coded ^ (key >> 32)) & TAIL_SLACK_MAX;
    if (tail_ok && slack >= TAIL_BYTES && slack <= u) {
        size_t n = u - slack;
        size_t end = n + CANARY_BYTES < u - TAIL_BYTES ? n + CANARY_BYTES : u - TAIL_BYTES;
        size_t i = n;
        while (i < end && bytes[i] == canary_byte(key, i - n))
            i++;
        if (i == end) {
            *usable = u;
            return n;
        }
    }
    report_error(function, "heap overflow: the canary after the block was overwritten", p);
    return SIZE_MAX;
}

/* Zeroes [p, p + len). Whole OS pages of a long range are given back instead (they read as
 * zero and cost no memory until written again): memset would make every page of a large block
 * resident, also those the program never touched. */
static void secure_zero(unsigned char *p, size_t len)
{
    if (len < SECURE_DECOMMIT_MIN) {
        memset(p, 0, len);
        return;
    }
    uintptr_t first = ((uintptr_t)p + MEM_IO_PAGE - 1) & ~(uintptr_t)(MEM_IO_PAGE - 1);
    uintptr_t last = ((uintptr_t)p + len) & ~(uintptr_t)(MEM_IO_PAGE - 1);
    memset(p, 0, first - (uintptr_t)p);
    os_decommit((void *)first, last - first);
    memset((void *)last, 0, (uintptr_t)p + len - last);
}

/* Whether the first len bytes of p (a multiple of 8 bytes long, 8-byte aligned) are zero. */
static bool secure_all_zero(const unsigned char *p, size_t len)
{
    const uint64_t *words = (const uint64_t *)p;
    uint64_t any = 0;
    for (size_t i = 0; i < len / 8; i++)
        any |= words[i];
    return any == 0;
}

/* ---- allocation ---- */

static void *secure_alloc(size_t n, size_t alignment)
{
    if (n == 0 && alignment <= MEM_IO_ALIGNMENT) {
        void *z = zero_object_new();
        if (z)
            return z;
    }
    size_t need;
    if (__builtin_add_overflow(n, TAIL_BYTES, &need) || need > PTRDIFF_MAX) {
        errno = ENOMEM;
        return NULL;
    }
    unsigned char *p = alloc_generic(need, alignment, false);
    if (!p)
        return NULL;
    size_t usable = core_usable(p, "malloc");
    secure_zero(p, n);
    canary_write(p, n, usable);
    return p;
}

/* ---- the quarantine ---- */

/* Gives a block that left the quarantine back to the core, after checking that nothing
 * wrote to it while it was free. */
static void quarantine_release(struct quarantined q)
{
    unsigned char *p = q.block;
    size_t body = q.usable - TAIL_BYTES;
    uint32_t last;  /* usable sizes are multiples of 16: words, then 4 bytes before the tail */
    memcpy(&last, p + body - 4, 4);
    if (!freed_mark_intact(p, q.usable, secure_key(p)) || last || !secure_all_zero(p, body - 4)) {
        report_error("free", "write to a freed block (found when it left the quarantine)", p);
        return;  /* errors continue: the block is leaked, never handed out again */
    }
    memset(p + body, 0, TAIL_BYTES);
    free_core(p);
}

/* Frees the live block p of `usable` bytes: zeroed, marked, and quarantined. */
static void secure_release(unsigned char *p, size_t usable)
{
    struct heap *h = heap_acquire();
    if (usable > QUARANTINE_BLOCK_MAX || !h) {
        free_core(p);
        return;
    }
    secure_zero(p, usable - TAIL_BYTES);
    uint64_t key = secure_key(p);
    for (unsigned i = 0; i < TAIL_BYTES; i++)
        p[usable - TAIL_BYTES + i] = freed_mark_byte(key, i);
    struct quarantine *qu = &h->quarantine;
    while (qu->count == QUARANTINE_SLOTS || (qu->count && qu->bytes + usable > QUARANTINE_BYTES)) {
        struct quarantined out = qu->slots[qu->head];
        qu->head = (qu->head + 1) % QUARANTINE_SLOTS;
        qu->count--;
        qu->bytes -= out.usable;
        quarantine_release(out);
    }
    qu->slots[(qu->head + qu->count) % QUARANTINE_SLOTS] = (struct quarantined){p, usable};
    qu->count++;
    qu->bytes += usable;
}

static void secure_free(void *p, const char *function)
{
    if (!p)
        return;
    int saved = errno;
    if (is_zero_object(p)) {
        zero_object_free(p, function);
    } else {
        size_t usable;
        if (secure_live_size(p, function, &usable) != SIZE_MAX)
            secure_release(p, usable);
    }
    errno = saved;
}

static void *secure_realloc(void *p, size_t n)
{
    if (!p)
        return secure_alloc(n, MEM_IO_ALIGNMENT);
    if (n == 0) {
        secure_free(p, "realloc");
        return NULL;
    }
    size_t old = 0, usable = 0;
    if (is_zero_object(p)) {
        if (!zero_object_free(p, "realloc")) {
            errno = EINVAL;
            return NULL;
        }
        return secure_alloc(n, MEM_IO_ALIGNMENT);
    }
    old = secure_live_size(p, "realloc", &usable);
    if (old == SIZE_MAX) {
        errno = EINVAL;  /* reported; the bad call is ignored */
        return NULL;
    }
    if (n <= usable - TAIL_BYTES && n >= old / 2) {  /* stays, with its canary moved */
        if (n > old)
            memset((unsigned char *)p + old, 0, n - old);  /* no canary bytes leak out */
        canary_write(p, n, usable);
        return p;
    }
    void *q = secure_alloc(n, MEM_IO_ALIGNMENT);
    if (!q)
        return NULL;
    memcpy(q, p, old < n ? old : n);
    secure_release(p, usable);
    return q;
}

static size_t secure_usable_size(const void *p)
{
    if (!p || is_zero_object(p))
        return 0;
    size_t usable;
    size_t n = secure_live_size((void *)p, "malloc_usable_size", &usable);
    return n == SIZE_MAX ? 0 : n;
}

/* Allocation entry points. mem_io_malloc's fast path: table lookup of the class, pop the
 * current page's free list, check the popped block (marked free, link inside the page),
 * clear its mark. Everything else goes through alloc_generic. */
#include "internal.h"

/* Whether alloc_generic serves a request that is not small with a large (mmap'd) block. */
static inline bool served_large(size_t n, size_t alignment)
{
    return n >= MEM_IO_MMAP_THRESHOLD || n + alignment >= MEM_IO_MMAP_THRESHOLD + MEM_IO_ALIGNMENT;
}

/* Any size, no call counted; zero says whether the caller needs zeroed memory (calloc). */
static void *alloc_generic(size_t n, size_t alignment, bool zero)
{
    ensure_init();  /* the secret keys every header: it must exist before the first one */
    if (n <= SMALL_MAX) {
        size_t want = n;
        if (alignment > MEM_IO_ALIGNMENT) {
            /* small blocks sit at multiples of their class size from a 64 KiB boundary */
            want = (n + alignment - 1) & ~(alignment - 1);
            if (want == 0)
                want = alignment;
        }
        if (want <= SMALL_MAX) {
            unsigned cls = class_of(want);
            if (class_size[cls] & (alignment - 1)) {
                size_t pow2 = (size_t)1 << (64 - __builtin_clzll(want - 1));
                cls = pow2 <= SMALL_MAX ? class_of(pow2) : NUM_CLASSES;
            }
            struct heap *h = cls < NUM_CLASSES ? heap_acquire() : NULL;
            if (h) {
                void *p = small_alloc_slow(h, cls);
                if (p) {
                    if (zero)
                        memset(p, 0, class_size[cls]);
                    return p;
                }
            }
        }
    }
    if (served_large(n, alignment)) {
        if (n > PTRDIFF_MAX) {
            errno = ENOMEM;
            return NULL;
        }
        enum large_memory memory;
        void *p = large_alloc(n, alignment, &memory);
        if (p && zero && memory != LARGE_FRESH)
            memset(p, 0, n);
        return p;
    }
    void *p = arena_alloc(n, alignment);
    if (p && zero)
        memset(p, 0, n);
    return p;
}

static inline void *alloc_small_fast(struct heap *h, size_t n)
{
    struct page *pg = h->current[class_of(n)];
    if (likely(pg->free != NULL))
        return page_pop(pg);
    return NULL;
}

/* The default mode's slow path, and secure mode's until initialisation has read its flag. */
static __attribute__((noinline)) void *malloc_core_slow(size_t n)
{
    ensure_init();  /* secure_mode must be known before the first block */
    if (unlikely(secure_mode))
        return secure_alloc(n, MEM_IO_ALIGNMENT);
    struct heap *h = tls_heap;
    if (n > SMALL_MAX && n < MEM_IO_MMAP_THRESHOLD) {  /* a medium block this thread freed */
        void *p = medium_cache_take(h, medium_class_need(medium_need(n)));
        if (p) {
            BUMP(h->stats.malloc_calls, 1);
            return p;
        }
    }
    void *p = alloc_generic(n, MEM_IO_ALIGNMENT, false);
    if (!p || !is_small(p))
        stat_call(&tls_heap->stats.malloc_calls);  /* small ones are counted per class */
    return p;
}

/* Not inlined into mem_io_malloc, so the fast path needs no stack frame. secure_mode is only
 * set by initialisation, so it is tested first: secure mode's every malloc comes here, and
 * leaves as a tail call without a frame of its own. */
static __attribute__((noinline)) void *malloc_slow(size_t n)
{
    if (unlikely(secure_mode))
        return secure_alloc(n, MEM_IO_ALIGNMENT);
    return malloc_core_slow(n);
}

void *mem_io_malloc(size_t n)
{
    if (likely(n <= SMALL_MAX)) {
        void *p = alloc_small_fast(tls_heap, n);
        if (likely(p != NULL)) {
            INJECTED_SLOWDOWN();
            return p;
        }
    }
    return malloc_slow(n);
}

/* A small block made by calloc, realloc or an aligned call: not a malloc call. */
static inline void *count_other(void *p)
{
    if (p && is_small(p))
        stat_call(&tls_heap->stats.small_other_allocs);
    return p;
}

/* Any block that is not malloc's: secure mode's, or the core's. */
static void *alloc_any(size_t n, size_t alignment, bool zero)
{
    ensure_init();  /* secure_mode must be known before the first block */
    if (unlikely(secure_mode))
        return secure_alloc(n, alignment);  /* always zeroed */
    return count_other(alloc_generic(n, alignment, zero));
}

/* A block for calloc or realloc (zeroed for calloc): from the small fast path when it can,
 * as malloc's is, and counted as not a malloc call. */
static inline void *alloc_other(size_t n, bool zero)
{
    if (n <= SMALL_MAX) {
        void *p = alloc_small_fast(tls_heap, n);
        if (p) {
            if (zero)
                memset(p, 0, n);
            return count_other(p);
        }
    }
    return alloc_any(n, MEM_IO_ALIGNMENT, zero);
}

void *mem_io_calloc(size_t count, size_t size)
{
    size_t n;
    stat_call(&tls_heap->stats.calloc_calls);
    if (__builtin_mul_overflow(count, size, &n)) {
        errno = ENOMEM;
        return NULL;
    }
    return alloc_other(n, true);
}

static void *alloc_aligned(size_t alignment, size_t n)
{
    stat_call(&tls_heap->stats.aligned_calls);
    if (alignment <= MEM_IO_ALIGNMENT)
        return alloc_other(n, false);  /* every block is 16-byte aligned: malloc's fast path */
    if (alignment > PTRDIFF_MAX / 2 || n > PTRDIFF_MAX - alignment) {
        errno = ENOMEM;
        return NULL;
    }
    return alloc_any(n, alignment, false);
}

static inline bool power_of_two(size_t x)
{
    return x && !(x & (x - 1));
}

int mem_io_posix_memalign(void **out, size_t alignment, size_t n)
{
    if (!power_of_two(alignment) || alignment < sizeof(void *))
        return EINVAL;
    /* A failure for want of memory leaves errno ENOMEM, as glibc's does: programs read it (glibc's
     * tst-malloc-thread-fail tells ENOMEM from other failures by errno). */
    void *p = alloc_aligned(alignment, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

void *mem_io_aligned_alloc(size_t alignment, size_t n)
{
    if (!power_of_two(alignment)) {
        errno = EINVAL;
        return NULL;
    }
    return alloc_aligned(alignment, n);
}

/* glibc's rules: an alignment that is not a power of two is rounded up to one, but one above
 * the largest power of two cannot be (the rounding would wrap): EINVAL, as glibc answers
 * memalign(-1, n). Powers of two too big to serve are ENOMEM. */
void *mem_io_memalign(size_t alignment, size_t n)
{
    if (alignment > SIZE_MAX / 2 + 1) {
        errno = EINVAL;
        return NULL;
    }
    if (alignment > PTRDIFF_MAX / 2) {
        errno = ENOMEM;
        return NULL;
    }
    size_t rounded = MEM_IO_ALIGNMENT;
    while (rounded < alignment)
        rounded <<= 1;
    return alloc_aligned(rounded, n);
}

/* A free done by realloc: not a free call. */
static void realloc_free(void *p)
{
    if (is_small(p))
        stat_call(&tls_heap->stats.small_other_frees);
    if (!free_fast(p))
        free_generic(p, "realloc");
}

/* A small block that may stay where it is: it has room for n and would not waste more than
 * half of itself (a 32-byte block always stays). */
static inline bool small_resize_in_place(size_t old, size_t n)
{
    return n <= old && (n > old / 2 || old <= 32);
}

/* glibc's realloc: NULL is malloc, size 0 frees, contents kept up to the smaller size, and
 * a block grows in place when it has room (usable size, a free neighbour, mremap). Every
 * case but mem_io_realloc's fast one; not inlined there, so that one needs no stack frame. */
static __attribute__((noinline)) void *realloc_slow(void *p, size_t n)
{
    ensure_init();
    if (unlikely(secure_mode))
        return secure_realloc(p, n);
    stat_call(&tls_heap->stats.realloc_calls);
    if (!p)
        return alloc_other(n, false);
    if (n == 0) {
        realloc_free(p);
        return NULL;
    }
    if (n > PTRDIFF_MAX) {
        errno = ENOMEM;
        return NULL;
    }
    size_t old;
    if (is_small(p)) {
        old = small_usable(p, "realloc");
        if (old && small_resize_in_place(old, n))
            return p;
    } else {
        ensure_init();
        enum arena_answer answer = arena_resize(p, n, &old);
        if (answer == ARENA_DONE)
            return p;
        if (answer == ARENA_ELSEWHERE && large_usable(p, "realloc", &old)) {
            if (old && n >= MEM_IO_MMAP_THRESHOLD) {
                void *moved = large_resize(p, n);
                if (moved)
                    return moved;
            }
        } else if (answer == ARENA_ELSEWHERE) {
            report_error("realloc", "invalid pointer", p);
            old = 0;
        }
    }
    if (!old) {
        errno = EINVAL;  /* reported; the bad call is ignored */
        return NULL;
    }
    void *q = alloc_other(n, false);
    if (!q)
        return NULL;
    memcpy(q, p, old < n ? old : n);
    realloc_free(p);
    return q;
}

/* The common case: a live small block that stays small (sqlite's and Python's growing buffers;
 * a third of the pipeline trace's calls). Its page says that it starts a block and how big
 * it is, and its mark that it is live; the new block comes from malloc's fast path and the
 * old one goes back by free's, so a moving realloc costs about a malloc, a copy and a free.
 * Anything else, including a bad pointer, takes realloc_slow, which reports. */
void *mem_io_realloc(void *p, size_t n)
{
    uintptr_t grain = small_grain(p);
    struct page *pg = &descs[grain >> (PAGE_SHIFT - GRAIN_SHIFT)];
    if (likely(grain < LOAD(small_grains) && n - 1 < SMALL_MAX && small_block_kind(p, pg) == SMALL_LIVE)) {
        size_t old = LOAD(pg->block_size);
        struct heap *h = tls_heap;
        if (small_resize_in_place(old, n)) {
            stat_call(&h->stats.realloc_calls);
            return p;
        }
        void *q = alloc_small_fast(h, n);
        if (likely(q != NULL)) {  /* so h is a thread's own heap: plain counter bumps */
            memcpy(q, p, old < n ? old : n);
            BUMP(h->stats.realloc_calls, 1);
            BUMP(h->stats.small_other_allocs, 1);
            BUMP(h->stats.small_other_frees, 1);
            if (!free_fast(p))
                free_generic(p, "realloc");
            return q;
        }
    }
    return realloc_slow(p, n);
}

/* OS primitives: mappings, the program break, time and the per-process secret.
 * Nothing here allocates; failures come back as NULL for the caller to turn into ENOMEM. */
#include "internal.h"

#include <sys/auxv.h>
#include <sys/resource.h>
#include <time.h>

static void *os_map(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void os_unmap(void *p, size_t len)
{
    int saved = errno;
    munmap(p, len);
    errno = saved;
}

/* Address space is mapped as it is used, never reserved far ahead: every mapping counts
 * against RLIMIT_AS (ulimit -v, containers, CI sandboxes) whatever its protection, and the
 * 44 GiB the small range and the arena slices used to reserve at start-up left a process that
 * set a limit afterwards no room for a thread stack (glibc's tst-malloc-thread-fail). A range
 * that grows in place (small pages, arena slices) finds a hole for its largest size once, with
 * os_probe, and then maps its pieces there with os_map_at as they are needed. */

/* A hole of len bytes, held by an inaccessible mapping until the caller releases it (so that
 * the search for a second range does not find the same hole); NULL when there is none. The
 * hint (os_room_hint) asks for a place far below the kernel's own mappings, which fill the
 * address space from the top down: growth there rarely meets another mapping. */
static void *os_probe(size_t len, uintptr_t hint)
{
    void *p = mmap((void *)hint, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Hint number `nth` (64 GiB apart) in [32 TiB, 64 TiB): below PIE executables and the mmap
 * area on x86-64's 47-bit address space, and above AddressSanitizer's shadow. Picked with
 * the secret, so the place differs from process to process. A hint that is taken (or that a
 * sanitizer's mmap drops) only means the kernel picks the place. */
static uintptr_t os_room_hint(unsigned nth)
{
    return ((uintptr_t)32 << 40) + (((mem_io_secret >> 4) & 0x1fff) << 32) + ((uintptr_t)nth << 36);
}

/* Maps [at, at + len) readable and writable (committed page by page as touched) where nothing
 * is mapped yet; NULL when the address-space limit is reached or another mapping is there. */
static void *os_map_at(void *at, size_t len)
{
    int saved = errno;
    void *p = mmap(at, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    errno = saved;
    if (p == MAP_FAILED)
        return NULL;
    if (p != at) {  /* a kernel before 4.17 reads MAP_FIXED_NOREPLACE as a mere hint */
        os_unmap(p, len);
        return NULL;
    }
    return p;
}

/* How much to map ahead of use at once: `step`, or where the address space is limited a 64th
 * of the limit (read each time: a program may set it at any moment), in whole huge pages, so
 * that what is mapped but unused stays a small share of it. */
static size_t os_map_ahead(size_t step)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY)
        return step;
    size_t share = (size_t)(limit.rlim_cur / 64) & ~(OS_HUGE_PAGE - 1);
    if (share < OS_HUGE_PAGE)
        share = OS_HUGE_PAGE;
    return share < step ? share : step;
}

/* Asks for transparent huge pages in [p, p + len), trimmed inward to whole 2 MiB units: one
 * fault then maps 2 MiB. */
static void os_hugepages(void *p, size_t len)
{
    uintptr_t start = ((uintptr_t)p + OS_HUGE_PAGE - 1) & ~(uintptr_t)(OS_HUGE_PAGE - 1);
    uintptr_t end = ((uintptr_t)p + len) & ~(uintptr_t)(OS_HUGE_PAGE - 1);
    if (start < end) {
        int saved = errno;
        madvise((void *)start, end - start, MADV_HUGEPAGE);
        errno = saved;
    }
}

/* mprotect without touching errno. Where the kernel refuses (its limit on the number of
 * mappings) the range keeps its protection: secure mode's guard pages are then missing, and
 * the canaries still find an overflow at free. */
static void os_protect(void *p, size_t len, int protection)
{
    int saved = errno;
    mprotect(p, len, protection);
    errno = saved;
}

/* Gives the physical pages back but keeps the range; the next touch faults in zeroes. */
static void os_decommit(void *p, size_t len)
{
    int saved = errno;
    madvise(p, len, MADV_DONTNEED);
    errno = saved;
}

/* The program break moved by `grow` bytes, or NULL. Other code in the process (glibc's
 * malloc) moves it too, so callers must check where the memory landed. */
static void *os_sbrk(size_t grow)
{
    int saved = errno;
    void *p = sbrk((intptr_t)grow);
    errno = saved;
    return p == (void *)-1 ? NULL : p;
}

static uint64_t os_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* The kernel's 16 random bytes for this process (auxv AT_RANDOM): no syscall, no allocation. */
static uintptr_t os_random_secret(void)
{
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    const unsigned char *random_bytes = (const unsigned char *)getauxval(AT_RANDOM);
    if (random_bytes) {
        for (int i = 0; i < 16; i++)
            seed = mix64(seed ^ ((uint64_t)random_bytes[i] << (8 * (i % 8))));
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    seed = mix64(seed ^ (uint64_t)ts.tv_nsec ^ (uintptr_t)&ts);
    return (uintptr_t)(seed | 1);
}

/* OS primitives: mappings, the program break, time and the per-process secret.
 * Nothing here allocates; failures come back as NULL for the caller to turn into ENOMEM. */
#include "internal.h"

#include <sys/auxv.h>
#include <time.h>

static void *os_map(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Address space that costs nothing until touched: the kernel commits it page by page. */
static void *os_reserve(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void os_unmap(void *p, size_t len)
{
    int saved = errno;
    munmap(p, len);
    errno = saved;
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

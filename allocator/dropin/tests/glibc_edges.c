/* glibc-compatible edge cases of the malloc interface, one ctest test per case:
 *   glibc_edges CASE
 * Each case checks what glibc (and programs written against it) rely on. */
#define _GNU_SOURCE /* memalign, valloc, pvalloc */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api_under_test.h"
#include "case_runner.h"

/* Sizes over every range: tiny, each small class boundary, medium, and the
 * mmap range above MEM_IO_MMAP_THRESHOLD. */
static size_t sample_size(size_t index)
{
    static const size_t large[] = {
        4095, 4096, 4097, 65535, 65536, 100000, MEM_IO_MMAP_THRESHOLD - 1,
        MEM_IO_MMAP_THRESHOLD, MEM_IO_MMAP_THRESHOLD + 1, 1 << 20, (1 << 22) + 3,
    };
    if (index <= 1100)
        return index; /* every size from 0 to past the small classes */
    index -= 1101;
    return index < sizeof large / sizeof large[0] ? large[index] : 0;
}
#define SAMPLE_COUNT (1101 + 11)

static int is_aligned(const void *ptr, size_t alignment)
{
    return ((uintptr_t)ptr & (alignment - 1)) == 0;
}

static void test_alignment_16_for_every_size(void)
{
    for (size_t i = 0; i < SAMPLE_COUNT; i++) {
        size_t size = sample_size(i);
        char *block = api_malloc(size);
        CHECK(block && is_aligned(block, 16), "malloc(%zu) = %p", size, (void *)block);
        char *zeroed = api_calloc(1, size);
        CHECK(zeroed && is_aligned(zeroed, 16), "calloc(1, %zu) = %p", size, (void *)zeroed);
        char *moved = api_realloc(block, size + 17);
        CHECK(moved && is_aligned(moved, 16), "realloc(%zu) = %p", size + 17, (void *)moved);
        api_free(moved);
        api_free(zeroed);
    }
}

/* Run as the first allocation of its process: mmap'd blocks made before
 * anything else initialised the allocator must still free cleanly (a program's
 * first call may be a large one, as in gcc-compiled code calling qsort). */
static void test_large_blocks_as_first_allocations(void)
{
    char *first = api_malloc(400000);
    char *second = api_malloc(400000);
    CHECK(first && second, "malloc(400000) failed");
    if (!first || !second)
        return;
    memset(first, 1, 400000);
    memset(second, 2, 400000);
    api_free(second);
    CHECK(first[0] == 1 && first[399999] == 1, "the first block changed");
    api_free(first);
}

static void test_malloc_zero_is_unique_and_freeable(void)
{
    void *first = api_malloc(0);
    void *second = api_malloc(0);
    CHECK(first && second && first != second, "malloc(0) gave %p and %p", first, second);
    api_free(first);
    api_free(second);
}

static void test_posix_memalign_rejects_bad_alignment(void)
{
    static const size_t bad[] = {0, 1, 2, 3, 4, 24, 48, sizeof(void *) / 2, 4096 + 8};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        void *untouched = (void *)0x1234;
        void *out = untouched;
        errno = 0;
        int result = api_posix_memalign(&out, bad[i], 64);
        CHECK(result == EINVAL, "posix_memalign(alignment %zu) returned %d", bad[i], result);
        CHECK(out == untouched, "posix_memalign(alignment %zu) wrote %p", bad[i], out);
    }
    /* Valid alignments succeed and are honoured, so the failures above mean something. */
    for (size_t alignment = sizeof(void *); alignment <= (1 << 21); alignment <<= 1) {
        void *out = NULL;
        int result = api_posix_memalign(&out, alignment, 100);
        CHECK(result == 0 && out && is_aligned(out, alignment),
              "posix_memalign(alignment %zu) = %d, %p", alignment, result, out);
        api_free(out);
    }
}

static void test_aligned_alloc_rejects_non_power_of_two(void)
{
    static const size_t bad[] = {0, 3, 24, 48, 100, 4096 + 16};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        void *block = api_aligned_alloc(opaque_size(bad[i]), 256);
        CHECK(block == NULL && errno == EINVAL, "aligned_alloc(%zu, 256) = %p, errno %d", bad[i],
              block, errno);
        api_free(block);
    }
    for (size_t alignment = 1; alignment <= (1 << 16); alignment <<= 1) {
        void *block = api_aligned_alloc(alignment, 256);
        CHECK(block && is_aligned(block, alignment), "aligned_alloc(%zu, 256) = %p", alignment,
              block);
        api_free(block);
    }
}

static void test_overflowing_sizes_fail_with_enomem(void)
{
    errno = 0;
    void *block = api_calloc(opaque_size(SIZE_MAX), 2);
    CHECK(block == NULL && errno == ENOMEM, "calloc(SIZE_MAX, 2) = %p, errno %d", block, errno);
    errno = 0;
    block = api_calloc(2, opaque_size(SIZE_MAX / 2 + 1));
    CHECK(block == NULL && errno == ENOMEM, "calloc(2, SIZE_MAX/2+1) = %p, errno %d", block, errno);
    errno = 0;
    block = api_malloc(opaque_size((size_t)PTRDIFF_MAX + 1));
    CHECK(block == NULL && errno == ENOMEM, "malloc(PTRDIFF_MAX+1) = %p, errno %d", block, errno);
    errno = 0;
    block = api_malloc(opaque_size(SIZE_MAX));
    CHECK(block == NULL && errno == ENOMEM, "malloc(SIZE_MAX) = %p, errno %d", block, errno);
    void *out = (void *)0x1234;
    int result = api_posix_memalign(&out, 64, opaque_size((size_t)PTRDIFF_MAX + 1));
    CHECK(result == ENOMEM && out == (void *)0x1234, "posix_memalign(64, huge) = %d, %p", result,
          out);

    /* A failed realloc leaves the original block alive and unchanged. */
    char *kept = api_malloc(100);
    CHECK(kept != NULL, "malloc(100) failed");
    if (!kept)
        return;
    memset(kept, 0x5a, 100);
    errno = 0;
    void *grown = api_realloc(kept, opaque_size((size_t)PTRDIFF_MAX + 1));
    CHECK(grown == NULL && errno == ENOMEM, "realloc(p, PTRDIFF_MAX+1) = %p, errno %d", grown,
          errno);
    for (int i = 0; i < 100; i++)
        CHECK(kept[i] == 0x5a, "byte %d of the block changed after a failed realloc", i);
    api_free(kept);
}

static void test_realloc_within_usable_size_does_not_move(void)
{
    for (size_t i = 0; i < SAMPLE_COUNT; i += (i < 1100 ? 7 : 1)) {
        size_t size = sample_size(i);
        unsigned char *block = api_malloc(size);
        size_t usable = api_usable_size(block);
        CHECK(block && usable >= size, "malloc(%zu): usable size %zu", size, usable);
        if (!block)
            continue;
        memset(block, 0xa5, usable); /* all of the usable size may be written */
        /* Every size up to the usable one, stepping so large blocks stay quick. */
        size_t step = usable > 4096 ? usable / 64 : 1;
        for (size_t wanted = size ? size : 1; wanted <= usable; wanted += step) {
            void *same = api_realloc(block, wanted);
            CHECK(same == block, "realloc(%p, %zu) moved to %p (usable %zu)", (void *)block,
                  wanted, same, usable);
            if (same != block) {
                block = same;
                break;
            }
        }
        void *same = api_realloc(block, usable);
        CHECK(same == block, "realloc to the usable size %zu moved the block", usable);
        block = same;
        for (size_t byte = 0; byte < size; byte++)
            if (block[byte] != 0xa5) {
                CHECK(block[byte] == 0xa5, "byte %zu of a %zu-byte block lost", byte, size);
                break;
            }
        api_free(block);
    }
    CHECK(api_usable_size(NULL) == 0, "usable size of NULL is %zu", api_usable_size(NULL));
}

static void test_realloc_to_zero_frees(void)
{
    struct mem_io_stats before, after;
    mem_io_get_stats(&before);
    void *block = api_malloc(1000);
    CHECK(block != NULL, "malloc(1000) failed");
    void *result = api_realloc(block, 0);
    CHECK(result == NULL, "realloc(p, 0) returned %p instead of freeing", result);
    mem_io_get_stats(&after);
    CHECK(after.live_bytes == before.live_bytes, "live bytes went from %zu to %zu",
          before.live_bytes, after.live_bytes);

    void *fresh = api_realloc(NULL, 0); /* realloc(NULL, 0) is malloc(0) */
    CHECK(fresh != NULL, "realloc(NULL, 0) returned NULL");
    api_free(fresh);
}

static void test_free_keeps_errno(void)
{
    for (size_t i = 0; i < SAMPLE_COUNT; i += (i < 1100 ? 13 : 1)) {
        void *block = api_malloc(sample_size(i));
        errno = 4242;
        api_free(block);
        CHECK(errno == 4242, "free of a %zu-byte block changed errno to %d", sample_size(i),
              errno);
    }
    errno = 4242;
    api_free(NULL);
    CHECK(errno == 4242, "free(NULL) changed errno to %d", errno);
    void *sized = api_malloc(300);
    errno = 4242;
    mem_io_free_sized(sized, 300);
    CHECK(errno == 4242, "free_sized changed errno to %d", errno);
}

static void test_memalign_rounds_alignment_up(void)
{
    static const size_t requested[] = {3, 24, 100, 1000, 5000};
    for (size_t i = 0; i < sizeof requested / sizeof requested[0]; i++) {
        size_t power = 1;
        while (power < requested[i])
            power <<= 1;
        void *block = api_memalign(requested[i], 77);
        CHECK(block && is_aligned(block, power), "memalign(%zu, 77) = %p", requested[i], block);
        api_free(block);
    }
}

/* glibc's memalign: an alignment above the largest power of two is EINVAL (rounding it up would
 * wrap; glibc's tst-memalign asks memalign(-1, pagesize)), while a power of two or a size too big
 * to serve is ENOMEM. aligned_alloc and posix_memalign reject such alignments as not powers of
 * two. */
static void test_memalign_rejects_unroundable_alignment(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    static const size_t unroundable[] = {SIZE_MAX, SIZE_MAX / 2 + 2, SIZE_MAX - 4095};
    for (size_t i = 0; i < sizeof unroundable / sizeof unroundable[0]; i++) {
        errno = 0;
        void *block = api_memalign(opaque_size(unroundable[i]), page);
        CHECK(block == NULL && errno == EINVAL, "memalign(%#zx, %zu) = %p, errno %d",
              unroundable[i], page, block, errno);
        errno = 0;
        block = api_aligned_alloc(opaque_size(unroundable[i]), page);
        CHECK(block == NULL && errno == EINVAL, "aligned_alloc(%#zx, %zu) = %p, errno %d",
              unroundable[i], page, block, errno);
        void *out = (void *)0x1234;
        int result = api_posix_memalign(&out, opaque_size(unroundable[i]), page);
        CHECK(result == EINVAL && out == (void *)0x1234, "posix_memalign(%#zx) = %d, %p",
              unroundable[i], result, out);
    }
    static const struct { size_t alignment, size; } too_big[] = {
        {SIZE_MAX / 2 + 1, 16}, {sizeof(void *), SIZE_MAX}, {4096, -(size_t)4096}};
    for (size_t i = 0; i < sizeof too_big / sizeof too_big[0]; i++) {
        errno = 0;
        void *block = api_memalign(opaque_size(too_big[i].alignment), opaque_size(too_big[i].size));
        CHECK(block == NULL && errno == ENOMEM, "memalign(%#zx, %#zx) = %p, errno %d",
              too_big[i].alignment, too_big[i].size, block, errno);
    }
    void *out = (void *)0x1234;
    errno = 0;
    int result = api_posix_memalign(&out, 64, opaque_size((size_t)PTRDIFF_MAX + 1));
    int error = *(volatile int *)&errno;  /* GCC assumes posix_memalign keeps errno: load it */
    CHECK(result == ENOMEM && error == ENOMEM && out == (void *)0x1234,
          "posix_memalign(64, huge) = %d, errno %d (glibc leaves ENOMEM), %p", result, error, out);
    void *block = api_memalign(opaque_size(0x100), 10);  /* the failures above left it working */
    CHECK(block && is_aligned(block, 0x100), "memalign(0x100, 10) = %p", block);
    api_free(block);
}

/* fork() while other threads allocate: the child must find the allocator's
 * locks free and its heap consistent (the core's atfork handlers), allocate at
 * once, and the parent's threads must carry on. A deadlock ends in SIGALRM. */
static atomic_int stop_churning;

static void *churn_until_stopped(void *unused)
{
    (void)unused;
    unsigned size = 1;
    while (!atomic_load(&stop_churning)) {
        void *blocks[16];
        for (int i = 0; i < 16; i++)
            blocks[i] = api_malloc(size = size * 7 % 300007); /* small, medium and mmap sizes */
        for (int i = 0; i < 16; i++)
            api_free(blocks[i]);
    }
    return NULL;
}

static void test_fork_while_threads_allocate(void)
{
    pthread_t threads[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&threads[i], NULL, churn_until_stopped, NULL);
    for (int round = 0; round < 12; round++) {
        pid_t child = fork();
        if (child == 0) {
            alarm(10);
            for (size_t i = 0; i < 2000; i++) {
                char *block = api_malloc(i * 37 % 200000);
                if (!block)
                    _exit(2);
                memset(block, 1, i * 37 % 200000);
                api_free(block);
            }
            _exit(0);
        }
        int status = 0;
        CHECK(child > 0 && waitpid(child, &status, 0) == child, "fork/waitpid failed");
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "forked child %d: status %#x (a signal 14 means it deadlocked)", round, status);
    }
    atomic_store(&stop_churning, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(threads[i], NULL);
}

#ifdef MEM_IO_TEST_EXPORTED_NAMES
/* Under an address-space limit set after start-up (glibc's tst-malloc-thread-fail sets
 * RLIMIT_AS to 200 MB, as ulimit -v and containers do), for small, medium and large blocks, each
 * in a child process of its own: threads can still be created (their stacks need address
 * space the allocator must not have taken), allocating past the limit fails with NULL and
 * ENOMEM, and once the blocks are freed the same allocation succeeds again. Release build
 * only: the sanitizers' shadow memory alone is far above such a limit. */
enum { limit_threads = 4, limit_mib = 200 };
static size_t limit_block_size;

/* Allocates blocks until the first failure, then frees them; returns how many it got plus
 * one, or 0 when the failure was not ENOMEM. */
static void *allocate_until_enomem(void *unused)
{
    (void)unused;
    struct chained { struct chained *next; } *head = NULL;
    size_t count = 0;
    for (;;) {
        errno = 0;
        struct chained *block = api_malloc(limit_block_size);
        if (!block)
            break;
        block->next = head;
        head = block;
        count++;
    }
    bool enomem = errno == ENOMEM;
    while (head) {
        struct chained *next = head->next;
        api_free(head);
        head = next;
    }
    return (void *)(uintptr_t)(enomem ? count + 1 : 0);
}

static int exhaust_address_space(size_t size)
{
    limit_block_size = size;
    pthread_attr_t small_stack;
    pthread_attr_init(&small_stack);
    pthread_attr_setstacksize(&small_stack, 256 << 10);
    pthread_t threads[limit_threads];
    for (int i = 0; i < limit_threads; i++)
        if (pthread_create(&threads[i], &small_stack, allocate_until_enomem, NULL) != 0)
            return 10;
    size_t blocks = 0;
    int status = 0;
    for (int i = 0; i < limit_threads; i++) {
        void *result;
        pthread_join(threads[i], &result);
        if (result == NULL)
            status = 11;
        else
            blocks += (uintptr_t)result - 1;
    }
    if (status == 0 && blocks * size < ((size_t)limit_mib << 20) / 4)
        return 13;  /* the limit, not the allocator, should be what runs out */
    void *again = api_malloc(size);
    if (!again)
        return 12;
    api_free(again);
    return status;
}

static void test_address_space_limit(void)
{
    struct rlimit limit;
    getrlimit(RLIMIT_AS, &limit);
    limit.rlim_cur = (rlim_t)limit_mib << 20;
    CHECK(setrlimit(RLIMIT_AS, &limit) == 0, "setrlimit(RLIMIT_AS, %d MiB) failed", limit_mib);
    static const size_t sizes[] = {144, 40000, 1 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        pid_t child = fork();
        if (child == 0) {
            alarm(60);
            _exit(exhaust_address_space(sizes[i]));
        }
        int status = 0;
        CHECK(child > 0 && waitpid(child, &status, 0) == child, "fork/waitpid failed");
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "blocks of %zu bytes under a %d MiB limit: status %#x (exit 10: pthread_create "
              "failed, 11: an allocation failed without ENOMEM, 12: none after the frees, "
              "13: less than a quarter of the limit was allocated)",
              sizes[i], limit_mib, status);
    }
}

#endif

#ifdef MEM_IO_TEST_EXPORTED_NAMES
/* Exports with no mem_io_* counterpart, so only testable through libmem_io.so. */
void cfree(void *ptr);
void free_sized(void *ptr, size_t size);
void free_aligned_sized(void *ptr, size_t alignment, size_t size);

static void test_page_allocations_and_obsolete_names(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void *block = valloc(10);
    CHECK(block && is_aligned(block, page), "valloc(10) = %p", block);
    free(block);
    block = pvalloc(10);
    CHECK(block && is_aligned(block, page) && malloc_usable_size(block) >= page,
          "pvalloc(10) = %p, usable %zu", block, block ? malloc_usable_size(block) : 0);
    free(block);
    block = pvalloc(0);
    CHECK(block && is_aligned(block, page), "pvalloc(0) = %p", block);
    free(block);
    errno = 0;
    block = pvalloc(opaque_size(SIZE_MAX - 10));
    CHECK(block == NULL && errno == ENOMEM, "pvalloc(SIZE_MAX-10) = %p, errno %d", block, errno);

    struct mem_io_stats before, after;
    mem_io_get_stats(&before);
    cfree(malloc(40));
    free_sized(malloc(50), 50);
    free_aligned_sized(aligned_alloc(64, 128), 64, 128);
    mem_io_get_stats(&after);
    CHECK(after.free_calls - before.free_calls == 3 && after.live_bytes == before.live_bytes,
          "cfree/free_sized/free_aligned_sized: %llu frees counted, live %zu -> %zu",
          (unsigned long long)(after.free_calls - before.free_calls), before.live_bytes,
          after.live_bytes);
}
#endif

static const struct test_case cases[] = {
    {"large_first", test_large_blocks_as_first_allocations},
    {"alignment_16", test_alignment_16_for_every_size},
    {"malloc_zero", test_malloc_zero_is_unique_and_freeable},
    {"posix_memalign_einval", test_posix_memalign_rejects_bad_alignment},
    {"aligned_alloc_einval", test_aligned_alloc_rejects_non_power_of_two},
    {"overflow_enomem", test_overflowing_sizes_fail_with_enomem},
    {"realloc_in_place", test_realloc_within_usable_size_does_not_move},
    {"realloc_zero_frees", test_realloc_to_zero_frees},
    {"free_keeps_errno", test_free_keeps_errno},
    {"memalign_rounds_up", test_memalign_rounds_alignment_up},
    {"memalign_einval", test_memalign_rejects_unroundable_alignment},
    {"fork_while_threads_allocate", test_fork_while_threads_allocate},
#ifdef MEM_IO_TEST_EXPORTED_NAMES
    {"address_space_limit", test_address_space_limit},
    {"page_and_obsolete", test_page_allocations_and_obsolete_names},
#endif
};

int main(int argc, char **argv)
{
    return run_named_case(argc, argv, cases, sizeof cases / sizeof cases[0]);
}

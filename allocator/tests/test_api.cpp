// Unit tests of every public function and the malloc-compatible edge cases.
#include "memory.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

bool aligned_to(const void *p, size_t alignment)
{
    return (reinterpret_cast<uintptr_t>(p) & (alignment - 1)) == 0;
}

// Sizes across every path: small classes, medium (sbrk heap), large (mmap).
const size_t kSizes[] = {0,    1,     8,     15,    16,    17,     100,    128,    129,
                         1000, 1024,  1025,  4096,  8000,  16384,  16385,  65536,  131071,
                         131072, 131073, 1 << 20, 5 << 20};

void fill(void *p, size_t n, unsigned seed)
{
    auto *b = static_cast<unsigned char *>(p);
    for (size_t i = 0; i < n; i++)
        b[i] = static_cast<unsigned char>(seed + i * 7);
}

bool check(const void *p, size_t n, unsigned seed)
{
    auto *b = static_cast<const unsigned char *>(p);
    for (size_t i = 0; i < n; i++)
        if (b[i] != static_cast<unsigned char>(seed + i * 7))
            return false;
    return true;
}

TEST(Malloc, EverySizeIs16ByteAlignedAndWritableToUsableSize)
{
    for (size_t n : kSizes) {
        void *p = mem_io_malloc(n);
        ASSERT_NE(p, nullptr) << n;
        EXPECT_TRUE(aligned_to(p, 16)) << n;
        size_t usable = mem_io_usable_size(p);
        EXPECT_GE(usable, n);
        fill(p, usable, 3);
        EXPECT_TRUE(check(p, usable, 3));
        mem_io_free(p);
    }
}

// Every small size gets the smallest class that holds it: 16-byte steps to 128 B, then 8
// classes per power of two (waste at most an eighth of the size), never a smaller class.
TEST(Malloc, EverySmallSizeGetsItsTightClass)
{
    size_t previous = 0;
    for (size_t n = 1; n <= 16384; n++) {
        void *p = mem_io_malloc(n);
        ASSERT_NE(p, nullptr) << n;
        size_t usable = mem_io_usable_size(p);
        mem_io_free(p);
        ASSERT_GE(usable, n);
        ASSERT_LE(usable - n, std::max<size_t>(15, n / 8)) << n;
        ASSERT_GE(usable, previous) << n;
        ASSERT_EQ(usable % 16, 0u) << n;
        previous = usable;
    }
}

TEST(Malloc, ZeroReturnsUniqueFreeablePointers)
{
    std::set<void *> seen;
    std::vector<void *> kept;
    for (int i = 0; i < 100; i++) {
        void *p = mem_io_malloc(0);
        ASSERT_NE(p, nullptr);
        EXPECT_TRUE(seen.insert(p).second);
        kept.push_back(p);
    }
    for (void *p : kept)
        mem_io_free(p);
}

TEST(Malloc, LiveBlocksDoNotOverlap)
{
    std::vector<std::pair<void *, size_t>> blocks;
    for (int round = 0; round < 4; round++)
        for (size_t n : kSizes) {
            void *p = mem_io_malloc(n);
            ASSERT_NE(p, nullptr);
            fill(p, n, static_cast<unsigned>(blocks.size()));
            blocks.emplace_back(p, n);
        }
    for (size_t i = 0; i < blocks.size(); i++)
        EXPECT_TRUE(check(blocks[i].first, blocks[i].second, static_cast<unsigned>(i))) << i;
    for (auto &b : blocks)
        mem_io_free(b.first);
}

TEST(Malloc, TooLargeFailsWithEnomem)
{
    errno = 0;
    EXPECT_EQ(mem_io_malloc(static_cast<size_t>(PTRDIFF_MAX) + 1), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    errno = 0;
    EXPECT_EQ(mem_io_malloc(SIZE_MAX), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    errno = 0;
    EXPECT_EQ(mem_io_malloc(static_cast<size_t>(PTRDIFF_MAX)), nullptr);  // no 8 EiB here
    EXPECT_EQ(errno, ENOMEM);
}

TEST(Free, NullIsANoOpAndErrnoIsKept)
{
    errno = 1234;
    mem_io_free(nullptr);
    EXPECT_EQ(errno, 1234);
    for (size_t n : kSizes) {
        void *p = mem_io_malloc(n);
        errno = 4321;
        mem_io_free(p);
        EXPECT_EQ(errno, 4321) << n;
    }
}

TEST(Free, SizedVariantsFree)
{
    struct mem_io_stats before, after;
    mem_io_get_stats(&before);
    void *a = mem_io_malloc(40);
    void *b = mem_io_aligned_alloc(64, 100);
    mem_io_free_sized(a, 40);
    mem_io_free_aligned_sized(b, 64, 100);
    mem_io_get_stats(&after);
    EXPECT_EQ(after.free_calls - before.free_calls, 2u);
    EXPECT_EQ(after.errors, before.errors);
}

TEST(Calloc, ZeroesEverySizeEvenReusedMemory)
{
    for (size_t n : kSizes) {
        void *dirty = mem_io_malloc(n);
        fill(dirty, n, 9);
        mem_io_free(dirty);
        auto *p = static_cast<unsigned char *>(mem_io_calloc(1, n));
        ASSERT_NE(p, nullptr);
        for (size_t i = 0; i < n; i++)
            ASSERT_EQ(p[i], 0) << n << " at " << i;
        mem_io_free(p);
    }
    auto *q = static_cast<int *>(mem_io_calloc(100, sizeof(int)));
    for (int i = 0; i < 100; i++)
        EXPECT_EQ(q[i], 0);
    mem_io_free(q);
}

TEST(Calloc, OverflowFailsWithEnomem)
{
    errno = 0;
    EXPECT_EQ(mem_io_calloc(SIZE_MAX, 2), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    errno = 0;
    EXPECT_EQ(mem_io_calloc(SIZE_MAX / 4 + 1, 4), nullptr);
    EXPECT_EQ(errno, ENOMEM);
}

TEST(Realloc, NullIsMallocAndZeroFreesReturningNull)
{
    struct mem_io_stats before, after;
    void *p = mem_io_realloc(nullptr, 50);
    ASSERT_NE(p, nullptr);
    EXPECT_GE(mem_io_usable_size(p), 50u);
    mem_io_get_stats(&before);
    EXPECT_EQ(mem_io_realloc(p, 0), nullptr);
    mem_io_get_stats(&after);
    EXPECT_LT(after.live_bytes, before.live_bytes);
    void *z = mem_io_realloc(nullptr, 0);
    EXPECT_NE(z, nullptr);
    mem_io_free(z);
}

TEST(Realloc, KeepsContentsAcrossEveryPath)
{
    for (size_t from : kSizes)
        for (size_t to : kSizes) {
            if (to == 0)
                continue;  // realloc(p, 0) frees: tested above
            void *p = mem_io_malloc(from);
            fill(p, from, 5);
            void *q = mem_io_realloc(p, to);
            ASSERT_NE(q, nullptr);
            EXPECT_TRUE(aligned_to(q, 16));
            EXPECT_TRUE(check(q, from < to ? from : to, 5)) << from << " -> " << to;
            mem_io_free(q);
        }
}

TEST(Realloc, GrowingWithinUsableSizeNeverMoves)
{
    for (size_t n : kSizes) {
        void *p = mem_io_malloc(n);
        size_t usable = mem_io_usable_size(p);
        EXPECT_EQ(mem_io_realloc(p, usable), p) << n;
        mem_io_free(p);
    }
}

TEST(Realloc, MediumBlockGrowsInPlaceIntoAFreeNeighbour)
{
    void *blocks[16];
    for (auto &b : blocks)
        b = mem_io_malloc(20000);
    char *a = nullptr, *b = nullptr;
    for (int i = 0; i < 16 && !a; i++)
        for (int j = 0; j < 16; j++)
            if (blocks[j] == static_cast<char *>(blocks[i]) + mem_io_usable_size(blocks[i]) + sizeof(struct mem_io_block)) {
                a = static_cast<char *>(blocks[i]);
                b = static_cast<char *>(blocks[j]);
                blocks[i] = blocks[j] = nullptr;
                break;
            }
    ASSERT_NE(a, nullptr) << "no two adjacent medium blocks";
    // freed by a thread that then exits, so b goes back to the heap's bins, not a thread cache
    std::thread([b] { mem_io_free(b); }).join();
    fill(a, 20000, 1);
    EXPECT_EQ(mem_io_realloc(a, 36000), a);
    EXPECT_TRUE(check(a, 20000, 1));
    mem_io_free(a);
    for (void *p : blocks)
        mem_io_free(p);
}

TEST(Realloc, LargeBlockGrowsWithContents)
{
    void *p = mem_io_malloc(200000);
    fill(p, 200000, 7);
    void *q = mem_io_realloc(p, 3000000);
    ASSERT_NE(q, nullptr);
    EXPECT_TRUE(check(q, 200000, 7));
    EXPECT_GE(mem_io_usable_size(q), 3000000u);
    void *r = mem_io_realloc(q, 150000);
    EXPECT_TRUE(check(r, 150000, 7));
    mem_io_free(r);
}

// A freed large range is cached; a smaller block carved from its front can then grow in place
// over the cached rest. The OS byte count must stay consistent (it once wrapped around here).
TEST(Realloc, LargeBlockGrowsOverItsCachedNeighbour)
{
    struct mem_io_stats before, after;
    mem_io_get_stats(&before);
    void *big = mem_io_malloc(8 << 20);
    mem_io_free(big);
    void *p = mem_io_malloc(1 << 20);
    fill(p, 1 << 20, 6);
    void *q = mem_io_realloc(p, 3 << 20);
    ASSERT_NE(q, nullptr);
    EXPECT_TRUE(check(q, 1 << 20, 6));
    EXPECT_GE(mem_io_usable_size(q), size_t(3) << 20);
    mem_io_get_stats(&after);
    EXPECT_LE(after.os_bytes, after.peak_os_bytes);
    EXPECT_LE(after.os_bytes, before.os_bytes + (size_t(16) << 20));
    mem_io_free(q);
}

// A large request that no cached range holds grows the largest cached range (mremap) instead
// of mapping fresh memory beside the cache: the footprint grows by the difference only.
// Sizes above any other test's, so that the 16 MiB range is the largest one cached.
TEST(Malloc, LargeMissGrowsTheCachedRangeInsteadOfMappingBesideIt)
{
    const size_t first_size = size_t(16) << 20, bigger_size = size_t(48) << 20, edge = 1 << 20;
    char *first = static_cast<char *>(mem_io_malloc(first_size));
    ASSERT_NE(first, nullptr);
    fill(first, edge, 3);
    mem_io_free(first);
    struct mem_io_stats before, after;
    mem_io_get_stats(&before);
    char *bigger = static_cast<char *>(mem_io_malloc(bigger_size));
    ASSERT_NE(bigger, nullptr);
    fill(bigger, edge, 4);
    fill(bigger + bigger_size - edge, edge, 5);
    EXPECT_TRUE(check(bigger, edge, 4));
    EXPECT_TRUE(check(bigger + bigger_size - edge, edge, 5));
    mem_io_get_stats(&after);
    // 52 MiB mapped where 18 MiB was cached: 34 MiB more, not 52 MiB
    EXPECT_LE(after.os_bytes, before.os_bytes + (size_t(40) << 20));
    mem_io_free(bigger);
}

// Large blocks start at varied cache lines of their first page, so the same offsets of
// different blocks do not all fall in the same cache sets; aligned requests stay aligned.
TEST(Malloc, LargeBlocksStartAtVariedCacheLines)
{
    std::vector<void *> blocks;
    std::set<uintptr_t> offsets;
    for (int i = 0; i < 16; i++) {
        void *p = mem_io_malloc((size_t(256) << 10) + size_t(i) * 40000);
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u);
        fill(p, mem_io_usable_size(p), 6);
        offsets.insert(reinterpret_cast<uintptr_t>(p) & 4095);
        blocks.push_back(p);
    }
    EXPECT_GE(offsets.size(), 4u);
    void *aligned = mem_io_aligned_alloc(4096, size_t(1) << 20);
    ASSERT_NE(aligned, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(aligned) % 4096, 0u);
    blocks.push_back(aligned);
    for (void *p : blocks)
        mem_io_free(p);
}

// Whether the mapping that holds `addr` asks for transparent huge pages ("hg" among the
// VmFlags of /proc/self/smaps).
bool asks_for_huge_pages(uintptr_t addr)
{
    std::ifstream smaps("/proc/self/smaps");
    std::string line;
    bool inside = false;
    while (std::getline(smaps, line)) {
        unsigned long start, end;
        if (std::sscanf(line.c_str(), "%lx-%lx ", &start, &end) == 2 && line.find(':') > line.find(' ')) {
            inside = start <= addr && addr < end;
        } else if (inside && line.rfind("VmFlags:", 0) == 0) {
            std::istringstream flags(line.substr(8));
            std::string flag;
            while (flags >> flag)
                if (flag == "hg")
                    return true;
            return false;
        }
    }
    return false;
}

// Small blocks filled in by one thread, `bytes` in all, 16 KiB each; returns them.
std::vector<void *> fill_small_blocks(size_t bytes)
{
    std::vector<void *> blocks;
    for (size_t done = 0; done < bytes; done += 16384) {
        blocks.push_back(mem_io_malloc(16384));
        std::memset(blocks.back(), 1, 16384);
    }
    return blocks;
}

// In a fresh process, exits 0 when huge pages are asked for exactly where an owner fills its
// memory past its first 16 MiB (or nowhere when `wanted` is false): the slice of the second
// heap's medium arena (the first heap, this thread's, has the sbrk arena), the small pages of
// a heap that took 24 MiB. Heaps that each take 2 MiB ask for none, though together they take
// 32 MiB of the small range.
[[noreturn]] void check_huge_page_owners(bool wanted)
{
    void *first_small = fill_small_blocks(16384).front();  // makes this thread's heap: arena 0
    uintptr_t medium = 0;
    std::thread([&] { medium = reinterpret_cast<uintptr_t>(mem_io_malloc(20000)); }).join();
    bool owners_ok = !asks_for_huge_pages(medium) && !asks_for_huge_pages(medium + (size_t(15) << 20)) &&
                     asks_for_huge_pages(medium + (size_t(19) << 20)) == wanted;
    std::atomic<bool> ok{true};
    std::atomic<int> filled{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 16; i++)
        threads.emplace_back([&] {
            std::vector<void *> blocks = fill_small_blocks(size_t(2) << 20);
            filled++;
            while (filled < 16)  // no thread exits early, so none adopts another's heap
                std::this_thread::yield();
            for (void *p : blocks)
                if (asks_for_huge_pages(reinterpret_cast<uintptr_t>(p)))
                    ok = false;
        });
    for (auto &t : threads)
        t.join();
    std::vector<void *> big_fill = fill_small_blocks(size_t(24) << 20);
    owners_ok = owners_ok && ok && !asks_for_huge_pages(reinterpret_cast<uintptr_t>(first_small)) &&
                asks_for_huge_pages(reinterpret_cast<uintptr_t>(big_fill.back())) == wanted;
    std::exit(owners_ok ? 0 : 1);
}

bool kernel_has_huge_pages()
{
    return std::ifstream("/sys/kernel/mm/transparent_hugepage/enabled").good();
}

TEST(HugePages, AskedForPastTheFirst16MiBAnOwnerFills)
{
    if (!kernel_has_huge_pages())
        GTEST_SKIP() << "this kernel has no transparent huge pages";
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(check_huge_page_owners(true), ::testing::ExitedWithCode(0), "");
}

TEST(HugePages, NeverAskedForWithMemIoHugePages0)
{
    if (!kernel_has_huge_pages())
        GTEST_SKIP() << "this kernel has no transparent huge pages";
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    setenv("MEM_IO_HUGE_PAGES", "0", 1);
    EXPECT_EXIT(check_huge_page_owners(false), ::testing::ExitedWithCode(0), "");
    unsetenv("MEM_IO_HUGE_PAGES");
}

TEST(Realloc, TooLargeFailsAndKeepsTheBlock)
{
    void *p = mem_io_malloc(64);
    fill(p, 64, 2);
    errno = 0;
    EXPECT_EQ(mem_io_realloc(p, static_cast<size_t>(PTRDIFF_MAX) + 1), nullptr);
    EXPECT_EQ(errno, ENOMEM);
    EXPECT_TRUE(check(p, 64, 2));
    mem_io_free(p);
}

TEST(PosixMemalign, RejectsBadAlignmentsLeavingOutUntouched)
{
    void *sentinel = reinterpret_cast<void *>(0x1234);
    for (size_t alignment : {size_t(0), size_t(1), size_t(2), size_t(3), size_t(4), size_t(24), size_t(100)}) {
        void *out = sentinel;
        EXPECT_EQ(mem_io_posix_memalign(&out, alignment, 10), EINVAL) << alignment;
        EXPECT_EQ(out, sentinel);
    }
    void *out = sentinel;
    EXPECT_EQ(mem_io_posix_memalign(&out, 64, static_cast<size_t>(PTRDIFF_MAX)), ENOMEM);
    EXPECT_EQ(out, sentinel);
}

TEST(PosixMemalign, EveryAlignmentAndSize)
{
    for (size_t alignment = sizeof(void *); alignment <= (size_t(1) << 21); alignment <<= 1)
        for (size_t n : kSizes) {
            void *p = nullptr;
            ASSERT_EQ(mem_io_posix_memalign(&p, alignment, n), 0);
            EXPECT_TRUE(aligned_to(p, alignment)) << alignment << " " << n;
            EXPECT_GE(mem_io_usable_size(p), n);
            fill(p, n, 4);
            mem_io_free(p);
        }
}

TEST(AlignedAlloc, NonPowerOfTwoIsEinval)
{
    errno = 0;
    EXPECT_EQ(mem_io_aligned_alloc(24, 100), nullptr);
    EXPECT_EQ(errno, EINVAL);
    errno = 0;
    EXPECT_EQ(mem_io_aligned_alloc(0, 100), nullptr);
    EXPECT_EQ(errno, EINVAL);
    void *p = mem_io_aligned_alloc(4096, 100);
    EXPECT_TRUE(aligned_to(p, 4096));
    mem_io_free(p);
    p = mem_io_aligned_alloc(1, 3);  // tiny alignments are at least 16
    EXPECT_TRUE(aligned_to(p, 16));
    mem_io_free(p);
}

TEST(Memalign, RoundsAlignmentUpToAPowerOfTwo)
{
    for (size_t alignment : {size_t(24), size_t(48), size_t(100), size_t(3000), size_t(40000)}) {
        size_t pow2 = 1;
        while (pow2 < alignment)
            pow2 <<= 1;
        void *p = mem_io_memalign(alignment, 77);
        ASSERT_NE(p, nullptr);
        EXPECT_TRUE(aligned_to(p, pow2)) << alignment;
        mem_io_free(p);
    }
}

TEST(UsableSize, NullIsZero)
{
    EXPECT_EQ(mem_io_usable_size(nullptr), 0u);
}

// A page keeps its blocks out and its blocks handed out in one word (internal.h): a page of
// 16-byte blocks all out at once, and many more handed out than the page holds, must both count.
// A freed small block is the next one its size class hands out, whether its page was the
// class's current one, a full one or a partly used one that is not current: the block's lines are
// still in the freeing core's cache (larson's new[] missed L1 half as often).
TEST(Malloc, FreedSmallBlockIsHandedOutNext)
{
    const size_t kSize = 256, kPageBlocks = 65536 / kSize;
    std::vector<void *> blocks(3 * kPageBlocks - 50);  // two full pages, the third one current
    for (auto &p : blocks)
        p = mem_io_malloc(kSize);
    const size_t order[] = {10, kPageBlocks + 20, 11, blocks.size() - 1, 12};
    for (size_t i : order) {
        void *old = blocks[i];
        mem_io_free(old);
        blocks[i] = mem_io_malloc(kSize);
        EXPECT_EQ(blocks[i], old) << "block " << i;
    }
    for (void *p : blocks)
        mem_io_free(p);
}

TEST(Stats, FullPagesAndLongChurnCountEveryCall)
{
    const size_t kPageBlocks = 65536 / 16, kChurn = 100000;
    std::vector<void *> blocks(2 * kPageBlocks);
    struct mem_io_stats before, full, after;
    mem_io_get_stats(&before);
    for (auto &p : blocks)
        p = mem_io_malloc(16);
    for (size_t i = 0; i < kChurn; i++)
        mem_io_free(mem_io_malloc(16));
    mem_io_get_stats(&full);
    EXPECT_EQ(full.malloc_calls - before.malloc_calls, blocks.size() + kChurn);
    EXPECT_EQ(full.free_calls - before.free_calls, kChurn);
    EXPECT_EQ(full.live_bytes - before.live_bytes, blocks.size() * 16);
    for (void *p : blocks)
        mem_io_free(p);
    mem_io_get_stats(&after);
    EXPECT_EQ(after.free_calls - before.free_calls, blocks.size() + kChurn);
    EXPECT_EQ(after.live_bytes, before.live_bytes);
}

TEST(Stats, CountEveryCallAndTrackLiveBytes)
{
    struct mem_io_stats before, during, after;
    mem_io_get_stats(&before);
    void *a = mem_io_malloc(100);
    void *b = mem_io_calloc(10, 10);
    void *c = mem_io_aligned_alloc(256, 256);
    void *d = mem_io_malloc(300000);
    b = mem_io_realloc(b, 5000);
    mem_io_get_stats(&during);
    EXPECT_EQ(during.malloc_calls - before.malloc_calls, 2u);
    EXPECT_EQ(during.calloc_calls - before.calloc_calls, 1u);
    EXPECT_EQ(during.aligned_calls - before.aligned_calls, 1u);
    EXPECT_EQ(during.realloc_calls - before.realloc_calls, 1u);
    size_t usable = mem_io_usable_size(a) + mem_io_usable_size(b) + mem_io_usable_size(c) + mem_io_usable_size(d);
    EXPECT_EQ(during.live_bytes - before.live_bytes, usable);
    EXPECT_GE(during.peak_live_bytes, during.live_bytes);
    EXPECT_GE(during.os_bytes, 300000u);
    EXPECT_GE(during.peak_os_bytes, during.os_bytes);
    for (void *p : {a, b, c, d})
        mem_io_free(p);
    mem_io_get_stats(&after);
    EXPECT_EQ(after.free_calls - before.free_calls, 4u);
    EXPECT_EQ(after.live_bytes, before.live_bytes);
    EXPECT_EQ(after.errors, before.errors);
}

// A new mapping is a fold point for the live-bytes peak: a big block freed before the next
// stats read still shows in peak_live_bytes. (Folds on this path are spaced by the bytes
// mapped since the last one, against the small pages' bytes: a few MiB in this process.)
TEST(Stats, PeakLiveBytesSeesABigBlockFreedBeforeTheRead)
{
    const size_t kBig = size_t(128) << 20;
    struct mem_io_stats before, after;
    mem_io_get_stats(&before);
    void *big = mem_io_malloc(kBig);
    ASSERT_NE(big, nullptr);
    mem_io_free(big);
    mem_io_get_stats(&after);
    EXPECT_GE(after.peak_live_bytes, before.live_bytes + kBig);
}

}  // namespace

// mem_io shares the process with glibc's malloc, and both move the program break: mem_io must
// never assume its sbrk memory is contiguous, nor hand out memory that is not its own. The
// test interleaves glibc malloc (brk-served sizes), mem_io medium blocks (sbrk arena) and
// direct sbrk calls, and checks every block's contents at the end.
#include "memory.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <unistd.h>
#include <vector>

namespace {

struct Block {
    unsigned char *ptr;
    size_t size;
    bool ours;
    unsigned char fill;
};

bool intact(const Block &b)
{
    for (size_t i = 0; i < b.size; i++)
        if (b.ptr[i] != b.fill)
            return false;
    return true;
}

TEST(GlibcInterleave, BothAllocatorsMoveTheBreakWithoutOverlap)
{
    std::mt19937 rng(42);
    std::vector<Block> blocks;
    struct mem_io_stats before, after;
    mem_io_get_stats(&before);
    for (int i = 0; i < 3000; i++) {
        unsigned what = rng() % 10;
        if (what < 4) {
            size_t n = 16385 + rng() % 100000;  // mem_io's sbrk arena
            Block b{static_cast<unsigned char *>(mem_io_malloc(n)), n, true,
                    static_cast<unsigned char>(rng())};
            ASSERT_NE(b.ptr, nullptr);
            memset(b.ptr, b.fill, n);
            blocks.push_back(b);
        } else if (what < 8) {
            size_t n = 1 + rng() % 100000;  // glibc: below its mmap threshold, so from brk
            Block b{static_cast<unsigned char *>(malloc(n)), n, false,
                    static_cast<unsigned char>(rng())};
            ASSERT_NE(b.ptr, nullptr);
            memset(b.ptr, b.fill, n);
            blocks.push_back(b);
        } else if (what < 9 && !blocks.empty()) {
            size_t k = rng() % blocks.size();
            ASSERT_TRUE(intact(blocks[k])) << k;
            if (blocks[k].ours)
                mem_io_free(blocks[k].ptr);
            else
                free(blocks[k].ptr);
            blocks[k] = blocks.back();
            blocks.pop_back();
        } else {
            void *moved = sbrk(4096 * (1 + rng() % 4));  // someone else moves the break
            ASSERT_NE(moved, reinterpret_cast<void *>(-1));
        }
    }
    for (const Block &b : blocks) {
        EXPECT_TRUE(intact(b));
        if (b.ours)
            mem_io_free(b.ptr);
        else
            free(b.ptr);
    }
    mem_io_get_stats(&after);
    EXPECT_EQ(after.errors, before.errors);
    EXPECT_EQ(after.live_bytes, before.live_bytes);
}

}  // namespace

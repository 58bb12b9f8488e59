// The seed's debug dumps print what the seed promises: mem_io_log_trace the heap bounds,
// allocation counts and error counts; mem_io_stack_trace every block with its address,
// size, flags and magic, in every kind of memory (small pages, sbrk arena, mmap).
#include "capture_stderr.h"
#include "memory.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace {

TEST(Dumps, LogTracePrintsHeapBoundsCountsAndErrors)
{
    void *medium = mem_io_malloc(40000);  // makes the sbrk heap exist
    struct mem_io_stats s;
    mem_io_get_stats(&s);
    std::string text = capture_stderr([] { mem_io_log_trace(); });
    EXPECT_NE(text.find("heap start=0x"), std::string::npos) << text;
    EXPECT_NE(text.find(" end=0x"), std::string::npos);
    EXPECT_NE(text.find("malloc=" + std::to_string(s.malloc_calls)), std::string::npos) << text;
    EXPECT_NE(text.find("free=" + std::to_string(s.free_calls)), std::string::npos);
    EXPECT_NE(text.find("errors=" + std::to_string(s.errors)), std::string::npos);
    mem_io_free(medium);
}

TEST(Dumps, LogTraceCountsADetectedError)
{
    mem_io_set_error_mode(MEM_IO_ERRORS_CONTINUE);
    struct mem_io_stats s;
    mem_io_get_stats(&s);
    void *p = mem_io_malloc(24);
    mem_io_free(p);
    std::string error = capture_stderr([&] { mem_io_free(p); });
    EXPECT_EQ(error, "mem_io: free(): double free detected (ptr=" + hex(p) + ")\n");
    std::string text = capture_stderr([] { mem_io_log_trace(); });
    EXPECT_NE(text.find("errors=" + std::to_string(s.errors + 1)), std::string::npos) << text;
    mem_io_set_error_mode(MEM_IO_ERRORS_ABORT);
}

TEST(Dumps, StackTraceListsEveryKindOfBlock)
{
    void *small = mem_io_malloc(100);
    void *small_freed = mem_io_malloc(100);
    void *medium = mem_io_malloc(30000);
    void *large = mem_io_malloc(300000);
    mem_io_free(small_freed);
    std::string text = capture_stderr([] { mem_io_stack_trace(); });
    auto line_of = [&](const void *p) {
        size_t at = text.find("block " + hex(p) + " ");
        if (at == std::string::npos)
            return std::string();
        return text.substr(at, text.find('\n', at) - at);
    };
    EXPECT_NE(line_of(small).find("size=112 flags=USED"), std::string::npos) << line_of(small);
    EXPECT_NE(line_of(small_freed).find("flags=FREE"), std::string::npos) << line_of(small_freed);
    std::string m = line_of(medium);
    EXPECT_NE(m.find("flags=USED magic=0x"), std::string::npos) << m;
    EXPECT_NE(m.find("(valid)"), std::string::npos) << m;
    std::string l = line_of(large);
    EXPECT_NE(l.find("flags=USED|MMAP magic=0x"), std::string::npos) << l;
    EXPECT_NE(text.find("arena extent"), std::string::npos);
    EXPECT_NE(text.find("small page"), std::string::npos);
    mem_io_free(small);
    mem_io_free(medium);
    mem_io_free(large);
}

TEST(Dumps, StackTraceShowsAFreedMediumBlockAsFree)
{
    void *a = mem_io_malloc(50000);
    void *guard = mem_io_malloc(50000);
    mem_io_free(a);
    std::string text = capture_stderr([] { mem_io_stack_trace(); });
    size_t at = text.find("block " + hex(a) + " ");
    ASSERT_NE(at, std::string::npos);
    std::string line = text.substr(at, text.find('\n', at) - at);
    // freed into the bins, or kept in this thread's medium cache
    EXPECT_TRUE(line.find("flags=FREE") != std::string::npos || line.find("CACHED") != std::string::npos) << line;
    mem_io_free(guard);
}

// The arena named by the extent line the dump lists a block under ("arena extent ... (arena N,"),
// or -1 when the block is not listed.
int arena_listing(const std::string &text, const void *p)
{
    size_t at = text.find("block " + hex(p) + " ");
    size_t extent = at == std::string::npos ? at : text.rfind("arena extent", at);
    if (extent == std::string::npos)
        return -1;
    size_t number = text.find("(arena ", extent) + 7;
    return std::stoi(text.substr(number, text.find(',', number) - number));
}

TEST(Dumps, ThreadsAllocatingAtOnceUseTheirOwnArenas)
{
    void *mine = mem_io_malloc(40000);
    void *theirs[2];
    std::atomic<int> ready{0};
    std::atomic<bool> done{false};
    std::thread threads[2];
    for (int i = 0; i < 2; i++)
        threads[i] = std::thread([&, i] {
            theirs[i] = mem_io_malloc(40000);
            ready++;
            while (!done)
                std::this_thread::yield();
        });
    while (ready < 2)
        std::this_thread::yield();
    std::string text = capture_stderr([] { mem_io_stack_trace(); });
    done = true;
    for (auto &t : threads)
        t.join();
    int arena_main = arena_listing(text, mine), arena_0 = arena_listing(text, theirs[0]),
        arena_1 = arena_listing(text, theirs[1]);
    EXPECT_GE(arena_main, 0);
    EXPECT_GE(arena_0, 0);
    EXPECT_GE(arena_1, 0);
    EXPECT_NE(arena_0, arena_1) << "two live threads share a medium arena";
    mem_io_free(theirs[0]);  // freed into their own arenas by this thread
    mem_io_free(theirs[1]);
    mem_io_free(mine);
}

}  // namespace

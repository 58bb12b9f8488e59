// The seed's debug dumps print what the seed promises: mem_io_log_trace the heap bounds,
// allocation counts and error counts; mem_io_stack_trace every live block with its address,
// size, flags and magic, in every kind of memory (small pages, sbrk arena, mmap), and each run
// of free blocks on one line; mem_io_stack_trace_full every block.
#include "capture_stderr.h"
#include "memory.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <sstream>
#include <thread>
#include <vector>

namespace {

std::vector<std::string> lines_of(const std::string &text)
{
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    return lines;
}

// The number after "name=" in a line (0 when absent).
size_t field(const std::string &line, const std::string &name)
{
    size_t at = line.find(name + "=");
    return at == std::string::npos ? 0 : std::stoul(line.substr(at + name.size() + 1));
}

// The free run line whose range [start, end) holds p, or "" when none does.
std::string free_run_holding(const std::string &text, const void *p)
{
    auto address = reinterpret_cast<uintptr_t>(p);
    for (const std::string &line : lines_of(text)) {
        size_t at = line.find("free run 0x");
        if (at == std::string::npos)
            continue;
        size_t dash = line.find('-', at);
        uintptr_t start = std::stoul(line.substr(at + 9, dash - at - 9), nullptr, 16);
        uintptr_t end = std::stoul(line.substr(dash + 1), nullptr, 16);
        if (start <= address && address < end)
            return line;
    }
    return "";
}

// The line of p's block ("block 0x... size=..."), or "" when the dump does not list it.
std::string block_line(const std::string &text, const void *p)
{
    size_t at = text.find("block " + hex(p) + " ");
    if (at == std::string::npos)
        return "";
    return text.substr(at, text.find('\n', at) - at);
}

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

TEST(Dumps, StackTraceListsEveryKindOfLiveBlock)
{
    void *small = mem_io_malloc(100);
    void *small_freed = mem_io_malloc(100);
    void *medium = mem_io_malloc(30000);
    void *large = mem_io_malloc(300000);
    mem_io_free(small_freed);
    std::string text = capture_stderr([] { mem_io_stack_trace(); });
    EXPECT_NE(block_line(text, small).find("size=112 flags=USED"), std::string::npos) << block_line(text, small);
    EXPECT_EQ(block_line(text, small_freed), "") << "a free block has no line of its own";
    EXPECT_NE(free_run_holding(text, small_freed), "") << text;
    std::string m = block_line(text, medium);
    EXPECT_NE(m.find("flags=USED magic=0x"), std::string::npos) << m;
    EXPECT_NE(m.find("(valid)"), std::string::npos) << m;
    std::string l = block_line(text, large);
    EXPECT_NE(l.find("flags=USED|MMAP magic=0x"), std::string::npos) << l;
    EXPECT_NE(text.find("arena extent"), std::string::npos);
    EXPECT_NE(text.find("small page"), std::string::npos);
    mem_io_free(small);
    mem_io_free(medium);
    mem_io_free(large);
}

// Every carved block of a small page is either a live block line or counted in exactly one free
// run, runs never sit next to each other, and no free block gets a line of its own.
TEST(Dumps, StackTraceSummarisesFreeBlocksInRuns)
{
    std::vector<void *> blocks;
    for (int i = 0; i < 40; i++)
        blocks.push_back(mem_io_malloc(48));
    for (int i = 0; i < 40; i++)
        if (i % 8 != 3)  // keep five live blocks with free runs between them
            mem_io_free(blocks[i]);
    std::string text = capture_stderr([] { mem_io_stack_trace(); });
    std::vector<std::string> lines = lines_of(text);
    size_t pages = 0;
    for (size_t i = 0; i < lines.size(); i++) {
        if (lines[i].find("mem_io: small page ") != 0)
            continue;
        pages++;
        size_t carved = field(lines[i], "carved"), counted = 0;
        bool previous_was_run = false;
        size_t j = i + 1;
        for (; j < lines.size() && lines[j].find("mem_io:   ") == 0; j++) {
            bool run = lines[j].find("free run ") != std::string::npos;
            EXPECT_FALSE(run && previous_was_run) << "two free runs in a row: " << lines[j];
            EXPECT_EQ(lines[j].find("flags=FREE"), std::string::npos) << lines[j];
            counted += run ? field(lines[j], "blocks") : 1;
            previous_was_run = run;
        }
        EXPECT_EQ(counted, carved) << lines[i];
        i = j - 1;
    }
    EXPECT_GT(pages, 0u);
    for (int i = 0; i < 40; i++)
        if (i % 8 == 3) {
            EXPECT_NE(block_line(text, blocks[i]).find("flags=USED"), std::string::npos) << text;
            mem_io_free(blocks[i]);
        }
}

TEST(Dumps, StackTraceFullListsEveryBlock)
{
    void *small = mem_io_malloc(100);
    void *small_freed = mem_io_malloc(100);
    mem_io_free(small_freed);
    std::string summary = capture_stderr([] { mem_io_stack_trace(); });
    std::string full = capture_stderr([] { mem_io_stack_trace_full(); });
    EXPECT_NE(block_line(full, small).find("flags=USED"), std::string::npos);
    EXPECT_NE(block_line(full, small_freed).find("flags=FREE"), std::string::npos) << block_line(full, small_freed);
    EXPECT_EQ(full.find("free run"), std::string::npos);
    EXPECT_LT(lines_of(summary).size(), lines_of(full).size());
    // a small page's header line is followed by exactly its carved blocks
    std::vector<std::string> lines = lines_of(full);
    for (size_t i = 0; i < lines.size(); i++)
        if (lines[i].find("mem_io: small page ") == 0) {
            size_t blocks = 0;
            while (i + 1 + blocks < lines.size() && lines[i + 1 + blocks].find("mem_io:   block ") == 0)
                blocks++;
            EXPECT_EQ(blocks, field(lines[i], "carved")) << lines[i];
        }
    mem_io_free(small);
}

TEST(Dumps, StackTraceCountsAFreedMediumBlockInAFreeRun)
{
    void *a = mem_io_malloc(50000);
    void *guard = mem_io_malloc(50000);
    mem_io_free(a);
    std::string text = capture_stderr([] { mem_io_stack_trace(); });
    // freed into the bins, or kept in this thread's medium cache: free to the program either way
    EXPECT_NE(free_run_holding(text, a), "") << text;
    std::string full = capture_stderr([] { mem_io_stack_trace_full(); });
    std::string line = block_line(full, a);
    EXPECT_TRUE(line.find("flags=FREE") != std::string::npos || line.find("CACHED") != std::string::npos) << line;
    mem_io_free(guard);
}

// The arena named by the extent line the dump lists a live block under
// ("arena extent ... (arena N,"), or -1 when the block is not listed.
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

// Misuse is caught, reported in one line, counted, and (in continue mode) ignored without
// losing live data; in the default abort mode the process dies with SIGABRT.
#include "capture_stderr.h"
#include "memory.h"

#include <gtest/gtest.h>

#include <cstring>
#include <sys/mman.h>
#include <sys/wait.h>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

namespace {

class Misuse : public ::testing::Test {
protected:
    void SetUp() override
    {
        mem_io_set_error_mode(MEM_IO_ERRORS_CONTINUE);
        mem_io_get_stats(&before_);
        for (size_t i = 0; i < kBystanders; i++) {
            bystanders_[i] = static_cast<unsigned char *>(mem_io_malloc(kSizes[i]));
            memset(bystanders_[i], static_cast<int>(i + 1), kSizes[i]);
        }
    }
    void TearDown() override
    {
        for (size_t i = 0; i < kBystanders; i++) {
            for (size_t j = 0; j < kSizes[i]; j++)
                ASSERT_EQ(bystanders_[i][j], static_cast<unsigned char>(i + 1)) << "bystander " << i;
            mem_io_free(bystanders_[i]);
        }
        void *later = mem_io_malloc(64);  // the allocator still works
        ASSERT_NE(later, nullptr);
        mem_io_free(later);
        mem_io_set_error_mode(MEM_IO_ERRORS_ABORT);
    }
public:
    // Runs the misuse, expects exactly one report line with `problem` about `ptr`.
    void expect_report(const std::function<void()> &misuse, const std::string &function,
                       const std::string &problem, const void *ptr)
    {
        struct mem_io_stats s0, s1;
        mem_io_get_stats(&s0);
        std::string text = capture_stderr(misuse);
        mem_io_get_stats(&s1);
        EXPECT_EQ(s1.errors, s0.errors + 1) << text;
        std::string prefix = "mem_io: " + function + "(): " + problem;
        EXPECT_EQ(text.compare(0, prefix.size(), prefix), 0) << text;
        EXPECT_NE(text.find("(ptr=" + hex(ptr) + ")\n"), std::string::npos) << text;
        EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
    }

    static constexpr size_t kBystanders = 6;
    static constexpr size_t kSizes[kBystanders] = {16, 100, 3000, 20000, 70000, 300000};
    unsigned char *bystanders_[kBystanders];
    struct mem_io_stats before_;
};

constexpr size_t Misuse::kSizes[];

// Keeps the compiler from reasoning about (and warning on) deliberately bad pointers.
template <typename T> T *opaque(T *p)
{
    asm volatile("" : "+r"(p));
    return p;
}

TEST_F(Misuse, DoubleFreeOfEveryKindOfBlock)
{
    for (size_t n : {size_t(8), size_t(500), size_t(16384), size_t(20000), size_t(100000), size_t(400000)}) {
        void *p = mem_io_malloc(n);
        mem_io_free(p);
        expect_report([&] { mem_io_free(opaque(p)); }, "free", "double free detected", p);
    }
}

TEST_F(Misuse, DoubleFreeAfterOtherFreesAndPQP)
{
    for (size_t n : {size_t(64), size_t(40000)}) {
        void *p = mem_io_malloc(n), *q = mem_io_malloc(n), *r = mem_io_malloc(n);
        mem_io_free(p);
        mem_io_free(q);
        expect_report([&] { mem_io_free(opaque(p)); }, "free", "double free detected", p);
        mem_io_free(r);
    }
}

TEST_F(Misuse, DoubleFreeFromAnotherThread)
{
    for (size_t n : {size_t(64), size_t(40000)}) {
        void *p = mem_io_malloc(n);
        mem_io_free(p);
        std::string text;
        struct mem_io_stats s0, s1;
        mem_io_get_stats(&s0);
        text = capture_stderr([&] { std::thread([&] { mem_io_free(opaque(p)); }).join(); });
        mem_io_get_stats(&s1);
        EXPECT_EQ(s1.errors, s0.errors + 1);
        EXPECT_NE(text.find("double free detected (ptr=" + hex(p) + ")"), std::string::npos) << text;
    }
    // freed by another thread first, then by its owner
    void *p = mem_io_malloc(64);
    std::thread([&] { mem_io_free(p); }).join();
    expect_report([&] { mem_io_free(opaque(p)); }, "free", "double free detected", p);
    // freed twice by another thread: the first free left it in that thread's outbox
    void *q = mem_io_malloc(64);
    std::thread([&] {
        mem_io_free(q);
        expect_report([&] { mem_io_free(opaque(q)); }, "free", "double free detected", q);
    }).join();
}

// A block freed by another thread goes back to its owner's page when the owner next takes a
// slow path; a second free is caught before that and after it.
TEST_F(Misuse, DoubleFreeOfABlockThatWentBackToItsOwner)
{
    void *p = mem_io_malloc(64);
    std::thread([&] { mem_io_free(p); }).join();  // the thread's exit sends it back
    mem_io_free(mem_io_malloc(11000));  // a class without free blocks: the slow path takes it back
    expect_report([&] { mem_io_free(opaque(p)); }, "free", "double free detected", p);
    expect_report([&] { EXPECT_EQ(mem_io_usable_size(opaque(p)), 0u); }, "malloc_usable_size",
                  "use of a freed block", p);
}

// A use-after-free write that erases a freed block's mark hides a second free of it from
// another thread; the block is caught when it comes back to its owner, and never handed out
// twice: here the owner has handed it out again by then.
TEST_F(Misuse, SecondFreeAfterAUseAfterFreeWriteIsCaughtWhenTheBlockComesBack)
{
    char *p = static_cast<char *>(mem_io_malloc(64));
    mem_io_free(p);
    memset(opaque(p), 0, 16);                      // its link and mark
    std::thread([&] { mem_io_free(p); }).join();  // reads as live; the thread's exit sends it back
    char *again = static_cast<char *>(mem_io_malloc(64));
    ASSERT_EQ(again, p) << "the owner's free list hands out its last freed block first";
    // a class without free blocks: the slow path takes the returned block back
    expect_report([&] { mem_io_free(mem_io_malloc(10000)); }, "free", "corrupted cross-thread free list", p);
    void *others[64];
    for (auto &q : others) {
        q = mem_io_malloc(64);
        EXPECT_NE(q, static_cast<void *>(p));
    }
    for (auto &q : others)
        mem_io_free(q);
    mem_io_free(again);
}

// Pointers inside a block of each class (16-byte blocks have no inside), live or freed, and
// where the page has no block carved yet, start no block: every one is an invalid pointer
// (block starts are found by multiplying the offset in the page, so many class sizes are tried).
TEST_F(Misuse, PointersThatStartNoCarvedBlock)
{
    for (size_t n : {size_t(32), size_t(48), size_t(112), size_t(144), size_t(208), size_t(400),
                     size_t(1040), size_t(3072), size_t(5120), size_t(9216), size_t(14336), size_t(16384)}) {
        char *p = static_cast<char *>(mem_io_malloc(n));
        size_t size = mem_io_usable_size(p);
        for (size_t off : {size_t(16), size / 2 & ~size_t(15), size - 16}) {
            expect_report([&] { mem_io_free(opaque(p + off)); }, "free", "invalid pointer", p + off);
            expect_report([&] { EXPECT_EQ(mem_io_usable_size(opaque(p + off)), 0u); }, "malloc_usable_size",
                          "invalid pointer", p + off);
        }
        mem_io_free(p);
        expect_report([&] { mem_io_free(opaque(p + 16)); }, "free", "invalid pointer", p + 16);
        expect_report([&] { mem_io_free(opaque(p)); }, "free", "double free detected", p);
    }
    // 12 KiB blocks are carved one at a time: the first block of a page has no neighbour yet
    char *first = nullptr;
    std::vector<void *> before;
    while (!first) {
        char *q = static_cast<char *>(mem_io_malloc(12288));
        if ((reinterpret_cast<uintptr_t>(q) & 0xffff) == 0)
            first = q;
        else
            before.push_back(q);
    }
    expect_report([&] { mem_io_free(opaque(first + 12288)); }, "free", "invalid pointer", first + 12288);
    mem_io_free(first);
    for (void *q : before)
        mem_io_free(q);
}

TEST_F(Misuse, FreeOfPointersNeverReturned)
{
    int on_stack = 0;
    static int global_int;
    char *small = static_cast<char *>(mem_io_malloc(100));
    char *medium = static_cast<char *>(mem_io_malloc(30000));
    char *large = static_cast<char *>(mem_io_malloc(200000));
    void *foreign = mmap(nullptr, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *inside_foreign = static_cast<char *>(foreign) + 4096 + 64;
    for (void *bad : {static_cast<void *>(&on_stack), static_cast<void *>(&global_int),
                      reinterpret_cast<void *>(1), static_cast<void *>(small + 8),
                      static_cast<void *>(small + 16), static_cast<void *>(small + 3),
                      static_cast<void *>(medium + 8), static_cast<void *>(medium + 64),
                      static_cast<void *>(large + 16), static_cast<void *>(inside_foreign)})
        expect_report([&] { mem_io_free(opaque(bad)); }, "free", "invalid pointer", bad);
    mem_io_free(small);
    mem_io_free(medium);
    mem_io_free(large);
    munmap(foreign, 1 << 16);
}

// Another thread's medium block lies in that thread's arena: pointers into it, or past what
// that arena has carved, are reported like any other bad pointer; the block itself is freed.
TEST_F(Misuse, BadPointersIntoAnotherThreadsArena)
{
    char *medium = nullptr;
    std::thread([&] { medium = static_cast<char *>(mem_io_malloc(30000)); }).join();
    for (void *bad : {static_cast<void *>(medium + 64), static_cast<void *>(medium + (8 << 20))})
        expect_report([&] { mem_io_free(opaque(bad)); }, "free", "invalid pointer", bad);
    EXPECT_GE(mem_io_usable_size(medium), size_t(30000));
    mem_io_free(medium);
    expect_report([&] { mem_io_free(opaque(medium)); }, "free", "double free detected", medium);
}

TEST_F(Misuse, ReallocAndUsableSizeOfBadPointers)
{
    int on_stack = 0;
    char *small = static_cast<char *>(mem_io_malloc(100));
    char *medium = static_cast<char *>(mem_io_malloc(30000));
    for (void *bad : {static_cast<void *>(&on_stack), static_cast<void *>(small + 8),
                      static_cast<void *>(medium + 8)}) {
        expect_report([&] { EXPECT_EQ(mem_io_realloc(opaque(bad), 10), nullptr); }, "realloc",
                      "invalid pointer", bad);
        expect_report([&] { EXPECT_EQ(mem_io_usable_size(opaque(bad)), 0u); }, "malloc_usable_size",
                      "invalid pointer", bad);
    }
    mem_io_free(small);
    mem_io_free(medium);
    void *freed = mem_io_malloc(40000);
    mem_io_free(freed);
    expect_report([&] { EXPECT_EQ(mem_io_realloc(opaque(freed), 10), nullptr); }, "realloc",
                  "double free detected", freed);
    // realloc's small fast path takes only live blocks; a freed one is left to the checked path
    // (the 300-byte class gets a page with free blocks first, so the fast path could move it)
    mem_io_free(mem_io_malloc(300));
    void *freed_small = mem_io_malloc(100);
    mem_io_free(freed_small);
    expect_report([&] { EXPECT_EQ(mem_io_realloc(opaque(freed_small), 300), nullptr); }, "realloc",
                  "use of a freed block", freed_small);
}

// Takes out of `blocks` the first pair whose second block starts `gap(first)` bytes after the
// first (physical neighbours), leaving nullptr in their places; {nullptr, nullptr} if none.
template <size_t N, typename Gap>
static std::pair<char *, char *> take_neighbours(char *(&blocks)[N], Gap gap)
{
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < N; j++)
            if (blocks[i] && blocks[j] && blocks[j] == blocks[i] + gap(blocks[i])) {
                std::pair<char *, char *> pair{blocks[i], blocks[j]};
                blocks[i] = blocks[j] = nullptr;
                return pair;
            }
    return {nullptr, nullptr};
}

// Two adjacent medium blocks: the lower one overflows into the upper one's header. Freeing
// the lower block reports it (its free checks the successor), so does freeing the upper one.
// One other block is freed first, so that the thread's medium cache has a block and knows the
// extent: the lower block's free then starts on the cache's lock-free path.
static void overflow_into_the_next_header(Misuse *test)
{
    char *blocks[16];
    for (auto &b : blocks)
        b = static_cast<char *>(mem_io_malloc(20000));
    char *lower, *upper;
    std::tie(lower, upper) = take_neighbours(blocks, [](char *p) {
        return mem_io_usable_size(p) + sizeof(struct mem_io_block);
    });
    ASSERT_NE(lower, nullptr);
    for (auto &b : blocks)
        if (b) {
            mem_io_free(b);
            b = nullptr;
            break;
        }
    memset(opaque(lower), 'A', mem_io_usable_size(lower) + 8);
    test->expect_report([&] { mem_io_free(lower); }, "free", "corrupted block header", upper);
    test->expect_report([&] { mem_io_free(upper); }, "free", "corrupted block header", upper);
    for (auto &b : blocks)
        mem_io_free(b);
}

TEST_F(Misuse, OverflowIntoTheNextHeaderIsCaughtOnFree)
{
    overflow_into_the_next_header(this);
}

TEST_F(Misuse, OverflowIntoTheNextHeaderIsCaughtOnFreeByAFreshThread)
{
    std::thread([this] { overflow_into_the_next_header(this); }).join();
}

TEST_F(Misuse, HeaderForgedWithTheLiteralMagicIsCaught)
{
    for (size_t n : {size_t(20000), size_t(300000)}) {
        char *p = static_cast<char *>(mem_io_malloc(n));
        struct mem_io_block *header = reinterpret_cast<struct mem_io_block *>(p) - 1;
        header->magic = MEM_IO_MAGIC_NUMBER;
        expect_report([&] { mem_io_free(p); }, "free", "corrupted block header", p);
    }
}

TEST_F(Misuse, OverflowIntoAFreeSmallNeighbourIsCaughtOnFreeOrReuse)
{
    char *blocks[64];
    for (auto &b : blocks)
        b = static_cast<char *>(mem_io_malloc(64));
    char *lower, *upper;
    std::tie(lower, upper) = take_neighbours(blocks, [](char *) { return size_t(64); });
    ASSERT_NE(lower, nullptr);
    for (auto &b : blocks)
        mem_io_free(b);
    mem_io_free(upper);
    memset(opaque(lower), 'A', 64 + 16);
    struct mem_io_stats s0, s1;
    mem_io_get_stats(&s0);
    std::string text = capture_stderr([&] {
        mem_io_free(lower);
        void *again[4];
        for (auto &p : again)
            p = mem_io_malloc(64);
        for (auto &p : again)
            mem_io_free(p);
    });
    mem_io_get_stats(&s1);
    EXPECT_GE(s1.errors, s0.errors + 1) << text;
    EXPECT_NE(text.find("corrupted free list"), std::string::npos) << text;
}

TEST(MisuseAbort, DefaultModeAbortsWithOneLine)
{
    int pipe_fds[2];
    ASSERT_EQ(pipe(pipe_fds), 0);
    pid_t child = fork();
    if (child == 0) {
        dup2(pipe_fds[1], 2);
        mem_io_set_error_mode(MEM_IO_ERRORS_ABORT);
        void *p = mem_io_malloc(32);
        mem_io_free(p);
        mem_io_free(opaque(p));
        _exit(0);
    }
    close(pipe_fds[1]);
    char buf[256] = {0};
    ssize_t n = read(pipe_fds[0], buf, sizeof buf - 1);
    close(pipe_fds[0]);
    int status = 0;
    waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status));
    EXPECT_EQ(WTERMSIG(status), SIGABRT);
    ASSERT_GT(n, 0);
    EXPECT_EQ(std::string(buf).find("mem_io: free(): double free detected (ptr=0x"), 0u) << buf;
}

}  // namespace

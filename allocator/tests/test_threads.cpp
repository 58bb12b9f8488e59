// Multi-threaded stress: 4 threads per wave, 3 waves (so exited threads' heaps are adopted),
// random sizes over small, medium and mmap blocks, blocks handed to other threads to be
// resized and freed there, every block's contents checked against its pattern.
#include "memory.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

namespace {

struct Block {
    unsigned char *ptr;
    size_t size;
    uint32_t seed;
};

unsigned char pattern(uint32_t seed, size_t i)
{
    return static_cast<unsigned char>(seed * 131 + i * 7 + (i >> 8));
}

// Every byte of small blocks; for big ones the first and last KiB and one byte per 512.
template <typename F> void for_checked_bytes(size_t size, F f)
{
    if (size <= 4096) {
        for (size_t i = 0; i < size; i++)
            f(i);
        return;
    }
    for (size_t i = 0; i < 1024; i++) {
        f(i);
        f(size - 1 - i);
    }
    for (size_t i = 1024; i < size - 1024; i += 512)
        f(i);
}

void paint(const Block &b)
{
    for_checked_bytes(b.size, [&](size_t i) { b.ptr[i] = pattern(b.seed, i); });
}

// The painted bytes of b below `limit` (b.size, or the new size after a shrinking realloc).
bool intact(const Block &b, size_t limit = SIZE_MAX)
{
    bool ok = true;
    for_checked_bytes(b.size, [&](size_t i) { ok &= i >= limit || b.ptr[i] == pattern(b.seed, i); });
    return ok;
}

size_t random_size(std::mt19937 &rng)
{
    unsigned kind = rng() % 100;
    if (kind < 70)
        return rng() % 1025;                      // small, table classes
    if (kind < 88)
        return 1025 + rng() % (16384 - 1024);     // small, computed classes
    if (kind < 98)
        return 16385 + rng() % (131072 - 16385);  // medium: the thread's arena
    return 131072 + rng() % (1 << 20);            // large: mmap
}

std::mutex exchange_lock;
std::vector<Block> exchange;  // blocks on their way to another thread
std::atomic<int> corrupt_blocks{0};

void worker(uint32_t id, int ops)
{
    std::mt19937 rng(id * 7919 + 1);
    std::vector<Block> mine;
    uint32_t next_seed = id << 20;
    for (int op = 0; op < ops; op++) {
        unsigned what = rng() % 10;
        if (what < 5 || mine.empty()) {
            Block b{nullptr, random_size(rng), next_seed++};
            b.ptr = static_cast<unsigned char *>(rng() % 8 ? mem_io_malloc(b.size) : mem_io_calloc(1, b.size));
            ASSERT_NE(b.ptr, nullptr);
            ASSERT_EQ(reinterpret_cast<uintptr_t>(b.ptr) % 16, 0u);
            paint(b);
            mine.push_back(b);
        } else if (what < 8) {
            size_t i = rng() % mine.size();
            if (!intact(mine[i]))
                corrupt_blocks++;
            mem_io_free(mine[i].ptr);
            mine[i] = mine.back();
            mine.pop_back();
        } else if (what < 9) {
            std::lock_guard<std::mutex> g(exchange_lock);
            exchange.push_back(mine.back());
            mine.pop_back();
        } else {
            Block b;
            {
                std::lock_guard<std::mutex> g(exchange_lock);
                if (exchange.empty())
                    continue;
                b = exchange.back();
                exchange.pop_back();
            }
            if (!intact(b))
                corrupt_blocks++;
            size_t new_size = random_size(rng) + 1;  // realloc(p, 0) would free
            b.ptr = static_cast<unsigned char *>(mem_io_realloc(b.ptr, new_size));
            ASSERT_NE(b.ptr, nullptr);
            if (!intact(b, new_size))
                corrupt_blocks++;
            b.size = new_size;
            b.seed = next_seed++;
            paint(b);
            mine.push_back(b);  // now owned here, freed later by this thread
        }
    }
    // Leave some blocks behind for the next wave to free across a thread exit.
    std::lock_guard<std::mutex> g(exchange_lock);
    for (const Block &b : mine)
        exchange.push_back(b);
}

TEST(Threads, RandomSizesCrossThreadFreesAndThreadExits)
{
    struct mem_io_stats before, after;
    mem_io_get_stats(&before);
    const int kWaves = 3, kThreads = 4, kOps = 2500;
    for (int wave = 0; wave < kWaves; wave++) {
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; t++)
            threads.emplace_back(worker, static_cast<uint32_t>(wave * kThreads + t + 1), kOps);
        for (auto &t : threads)
            t.join();
    }
    for (const Block &b : exchange) {
        EXPECT_TRUE(intact(b));
        mem_io_free(b.ptr);
    }
    exchange.clear();
    EXPECT_EQ(corrupt_blocks.load(), 0);
    mem_io_get_stats(&after);
    EXPECT_EQ(after.errors, before.errors);
    EXPECT_EQ(after.live_bytes, before.live_bytes);
    EXPECT_LE(after.os_bytes, after.peak_os_bytes);
    EXPECT_LE(after.live_bytes, after.peak_live_bytes);
    // every block made by malloc or calloc was freed once (realloc only resized them)
    EXPECT_EQ(after.malloc_calls + after.calloc_calls - after.free_calls,
              before.malloc_calls + before.calloc_calls - before.free_calls);
}

// Producer/consumer: every block allocated by one thread is freed by the other, so all frees
// take the remote path; the owner must get them back (its memory must not grow without bound).
TEST(Threads, ProducerConsumerMemoryIsReused)
{
    const int kRounds = 40, kBatch = 2000;
    std::vector<void *> batch(kBatch);
    struct mem_io_stats first{}, last{};
    std::thread producer([&] {
        for (int r = 0; r < kRounds; r++) {
            for (auto &p : batch) {
                p = mem_io_malloc(48);
                static_cast<char *>(p)[0] = 1;
            }
            std::thread consumer([&] {
                for (void *p : batch)
                    mem_io_free(p);
            });
            consumer.join();
            if (r == 1)
                mem_io_get_stats(&first);
        }
        mem_io_get_stats(&last);
    });
    producer.join();
    // 2000 x 48 bytes is ~2 pages; forty rounds must reuse them, not grab 80 more
    EXPECT_LT(last.os_bytes, first.os_bytes + 1024 * 1024);
}

// Small blocks are counted by their pages (stats.c): a free by another thread counts, and
// leaves the live bytes, the moment it happens, although the owner takes the block back only on
// a later slow path; taking it back, and the page leaving its class, count nothing twice.
TEST(Threads, CrossThreadFreesCountOnceWhenTheyHappen)
{
    const size_t kBlocks = 3000, kSize = 48;  // 48 B is a class size: usable == requested
    std::vector<void *> blocks(kBlocks);
    struct mem_io_stats start, allocated, freed, again, end;
    mem_io_get_stats(&start);
    for (auto &p : blocks)
        p = mem_io_malloc(kSize);
    mem_io_get_stats(&allocated);
    EXPECT_EQ(allocated.malloc_calls - start.malloc_calls, kBlocks);
    EXPECT_EQ(allocated.live_bytes - start.live_bytes, kBlocks * kSize);

    std::thread other([&] {
        for (void *p : blocks)
            mem_io_free(p);
    });
    other.join();
    mem_io_get_stats(&freed);  // not taken back yet: this thread has not allocated since
    EXPECT_EQ(freed.free_calls - allocated.free_calls, kBlocks);
    EXPECT_EQ(freed.live_bytes, start.live_bytes);

    for (auto &p : blocks)  // runs the slow path, which takes the blocks back and reuses them
        p = mem_io_malloc(kSize);
    mem_io_get_stats(&again);
    EXPECT_EQ(again.malloc_calls - freed.malloc_calls, kBlocks);
    EXPECT_EQ(again.free_calls, freed.free_calls);
    EXPECT_EQ(again.live_bytes - freed.live_bytes, kBlocks * kSize);

    for (void *p : blocks)  // the owner's own frees: the pages empty and leave their class
        mem_io_free(p);
    mem_io_get_stats(&end);
    EXPECT_EQ(end.free_calls - again.free_calls, kBlocks);
    EXPECT_EQ(end.malloc_calls, again.malloc_calls);
    EXPECT_EQ(end.live_bytes, start.live_bytes);
    EXPECT_EQ(end.errors, start.errors);
}

// A remote free counts when it happens although its block waits in the freeing thread's
// outbox (a few blocks stay there until the thread exits), and the send counts nothing twice.
TEST(Threads, RemoteFreesCountWhileTheirBlocksWaitInAnOutbox)
{
    const size_t kBlocks = 10, kSize = 48;  // 480 B: far below what an outbox holds
    std::vector<void *> blocks(kBlocks);
    for (auto &p : blocks)
        p = mem_io_malloc(kSize);
    struct mem_io_stats before, waiting, sent;
    mem_io_get_stats(&before);
    std::atomic<int> step{0};
    std::thread other([&] {
        for (void *p : blocks)
            mem_io_free(p);
        step.store(1);
        while (step.load() < 2)  // alive, so its outbox keeps the blocks
            std::this_thread::yield();
    });
    while (step.load() < 1)
        std::this_thread::yield();
    mem_io_get_stats(&waiting);
    step.store(2);
    other.join();  // its exit sends the blocks back
    mem_io_get_stats(&sent);
    EXPECT_EQ(waiting.free_calls - before.free_calls, kBlocks);
    EXPECT_EQ(before.live_bytes - waiting.live_bytes, kBlocks * kSize);
    EXPECT_EQ(sent.free_calls, waiting.free_calls);
    EXPECT_EQ(sent.live_bytes, waiting.live_bytes);
}

// An outbox holds the blocks of one owner: a thread that frees the blocks of two owners in
// turn sends a run at every change of owner, and each owner gets its own blocks back (here
// it reuses them instead of carving new ones, round after round).
TEST(Threads, FreesOfTwoOwnersInTurnGoBackToEach)
{
    const int kRounds = 20, kBatch = 500;
    std::vector<void *> handed[2] = {std::vector<void *>(kBatch), std::vector<void *>(kBatch)};
    std::set<void *> distinct[2];
    std::atomic<int> made{0}, freed{0};
    struct mem_io_stats start, end;
    mem_io_get_stats(&start);
    auto owner = [&](int me) {
        for (int r = 1; r <= kRounds; r++) {
            for (auto &p : handed[me]) {
                p = mem_io_malloc(64);
                static_cast<char *>(p)[0] = static_cast<char>(me);
                distinct[me].insert(p);
            }
            made.fetch_add(1);
            while (freed.load() < r)
                std::this_thread::yield();
        }
    };
    std::thread a(owner, 0), b(owner, 1);
    std::thread freer([&] {
        for (int r = 1; r <= kRounds; r++) {
            while (made.load() < 2 * r)
                std::this_thread::yield();
            for (int i = 0; i < kBatch; i++)
                for (int me = 0; me < 2; me++) {
                    EXPECT_EQ(static_cast<char *>(handed[me][i])[0], me);
                    mem_io_free(handed[me][i]);
                }
            freed.store(r);
        }
    });
    a.join();
    b.join();
    freer.join();
    mem_io_get_stats(&end);
    // kRounds * kBatch = 10000 per owner if nothing came back while the freeing thread ran
    EXPECT_LT(distinct[0].size(), size_t(3 * kBatch));
    EXPECT_LT(distinct[1].size(), size_t(3 * kBatch));
    EXPECT_EQ(end.free_calls - start.free_calls, size_t(2 * kRounds * kBatch));
    EXPECT_EQ(end.live_bytes, start.live_bytes);
    EXPECT_EQ(end.errors, start.errors);
}

// The same with one consumer that lives throughout: it sends the blocks back in batches while
// it runs (it may hold a few KiB per size class), so the producer keeps reusing the same
// blocks instead of new ones every round.
TEST(Threads, ALiveConsumerSendsBlocksBackWhileItRuns)
{
    const int kRounds = 40, kBatch = 2000;
    std::vector<void *> batch(kBatch);
    std::atomic<int> handed{0}, consumed{0};
    std::thread consumer([&] {
        for (int r = 1; r <= kRounds; r++) {
            while (handed.load() < r)
                std::this_thread::yield();
            for (void *p : batch)
                mem_io_free(p);
            consumed.store(r);
        }
    });
    std::set<void *> distinct;
    std::thread producer([&] {
        for (int r = 1; r <= kRounds; r++) {
            for (auto &p : batch) {
                p = mem_io_malloc(48);
                static_cast<char *>(p)[0] = 1;
                distinct.insert(p);
            }
            handed.store(r);
            while (consumed.load() < r)
                std::this_thread::yield();
        }
    });
    producer.join();
    consumer.join();
    // kRounds * kBatch = 80000 if nothing came back before the consumer's exit
    EXPECT_LT(distinct.size(), size_t(3 * kBatch));
}

// Runs `child` in a fresh process (a death test; the allocator's state then starts clean); it
// passes by exiting with 0.
static void expect_exit_0(void (*child)())
{
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(child(), ::testing::ExitedWithCode(0), "");
}

// Two threads that take fresh small pages by turns get pages apart from each other's (each
// heap takes a run of pages): pages of two heaps side by side measured 3-4x slower
// (pages.c). Run in a fresh process, so that no page comes from an earlier test's pool.
void take_fresh_pages_by_turns()
{
    const int kBlocks = 130;  // 1000-byte blocks: just over two 64 KiB pages
    std::set<uintptr_t> pages[2];
    std::vector<void *> blocks[2];
    std::atomic<int> turn{0};
    auto take = [&](int who) {
        for (int i = 0; i < kBlocks; i++) {
            void *p = mem_io_malloc(1000);
            blocks[who].push_back(p);
            pages[who].insert(reinterpret_cast<uintptr_t>(p) >> 16);
        }
    };
    std::thread a([&] {
        take(0);
        turn = 1;
        while (turn != 2)
            std::this_thread::yield();
        take(0);
    });
    std::thread b([&] {
        while (turn != 1)
            std::this_thread::yield();
        take(1);
        turn = 2;
    });
    a.join();
    b.join();
    bool side_by_side = false;
    for (uintptr_t page : pages[0])
        side_by_side |= pages[1].count(page - 1) || pages[1].count(page + 1) || pages[1].count(page);
    for (auto &list : blocks)
        for (void *p : list)
            mem_io_free(p);
    exit(side_by_side ? 1 : 0);
}

TEST(Threads, HeapsTakeFreshPagesApartFromEachOther)
{
    expect_exit_0(take_fresh_pages_by_turns);
}

// A freed large block's range goes back to the cache of the thread that allocated it, whoever
// frees it: the allocating thread reuses it (no new mapping, no page faults), and the freeing
// thread serves itself from its own cache first, although the other range fits better (one
// process-wide cache handed it the best fit: the other thread's). Sizes no other test uses, so
// that no older cached range fits them better.
TEST(Threads, LargeRangeGoesBackToTheThreadThatAllocatedIt)
{
    const size_t kSize = (size_t(3) << 20) + 12345, kFreersOwn = (size_t(3) << 20) + (300 << 10);
    void *first = nullptr, *freer_got = nullptr, *again = nullptr;
    std::atomic<int> step{0};
    std::thread owner([&] {
        first = mem_io_malloc(kSize);
        static_cast<char *>(first)[kSize - 1] = 1;
        step = 1;
        while (step != 2)  // the freer has freed `first` and taken a block of its own
            std::this_thread::yield();
        again = mem_io_malloc(kSize);
        step = 3;
        while (step != 4)  // keeps its heap (and cache) until the checks are done
            std::this_thread::yield();
        mem_io_free(again);
    });
    std::thread freer([&] {
        while (step != 1)
            std::this_thread::yield();
        mem_io_free(mem_io_malloc(kFreersOwn));  // a bigger range in the freer's own cache
        mem_io_free(first);
        freer_got = mem_io_malloc(kSize);
        step = 2;
        while (step != 3)  // its heap (and cache) stays until the owner has allocated again
            std::this_thread::yield();
    });
    freer.join();
    EXPECT_NE(freer_got, first);
    EXPECT_EQ(again, first);
    step = 4;
    owner.join();
    mem_io_free(freer_got);
}

// expect_exit_0, with MEM_IO_DECAY_MS at decay_ms in the child.
static void expect_exit_0_with_decay(const char *decay_ms, void (*child)())
{
    setenv("MEM_IO_DECAY_MS", decay_ms, 1);
    expect_exit_0(child);
    unsetenv("MEM_IO_DECAY_MS");
}

// Cached ranges decay after MEM_IO_DECAY_MS whichever thread's cache holds them: a large call
// by any thread unmaps those of a thread that has exited.
static void decay_reaches_other_threads_caches()
{
    const size_t kSize = size_t(8) << 20;
    std::thread([&] { mem_io_free(mem_io_malloc(kSize)); }).join();
    struct mem_io_stats cached, decayed;
    mem_io_get_stats(&cached);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    mem_io_free(mem_io_malloc(kSize / 2));
    mem_io_get_stats(&decayed);
    exit(decayed.os_bytes + kSize <= cached.os_bytes + kSize / 2 + (size_t(1) << 20) ? 0 : 1);
}

TEST(Threads, CachedLargeRangesDecayWhicheverThreadHoldsThem)
{
    expect_exit_0_with_decay("20", decay_reaches_other_threads_caches);
}

static size_t os_bytes_now()
{
    struct mem_io_stats stats;
    mem_io_get_stats(&stats);
    return stats.os_bytes;
}

// One reading of the clock that empty pages age by (pages.c): a new thread takes a page from
// the pool and gives it back when it exits.
static void read_page_clock()
{
    std::thread([] { mem_io_free(mem_io_malloc(2048)); }).join();
}

// Lets `steps` x `step_ms` pass as a busy program does: the page clock is read every step_ms,
// less than the quiet spell that the clock would count short.
static void stay_busy(int steps, int step_ms)
{
    for (int i = 0; i < steps; i++) {
        std::this_thread::sleep_for(std::chrono::milliseconds(step_ms));
        read_page_clock();
    }
}

// Pages a thread emptied go back to the OS after MEM_IO_DECAY_MS, also the ones its heap
// keeps to itself (the stash, pages.c) rather than in the shared pool: 48 pages of 1 KiB
// blocks emptied at once fill the kept pages, the stash and then the pool; once they are
// due, the thread's next emptied page sends the stash's to the pool, which gives them back.
static void emptied_pages_decay()
{
    const size_t kPage = 64 * 1024, kPerPage = kPage / 1024, kPages = 48;
    std::vector<void *> blocks;
    for (size_t i = 0; i < kPages * kPerPage; i++)
        blocks.push_back(mem_io_malloc(1024));
    // Read before the frees: a free loop slowed past the decay time (a sanitizer on a loaded
    // machine) would already have given pages back by a reading taken after it.
    struct mem_io_stats full, decayed;
    mem_io_get_stats(&full);
    for (void *p : blocks)
        mem_io_free(p);
    stay_busy(50, 2);  // at least 100 ms on the page clock; each step's page stays warm
    blocks.clear();
    for (size_t i = 0; i < 3 * kPage / 2048; i++)  // 3 pages of another class, emptied again
        blocks.push_back(mem_io_malloc(2048));
    for (void *p : blocks)
        mem_io_free(p);
    mem_io_get_stats(&decayed);
    // the pool alone held ~7 of the pages (one kept warm by the steps); the stash held 32,
    // of which the 2048-byte blocks took 3 back
    exit(decayed.os_bytes + 24 * kPage <= full.os_bytes ? 0 : 1);
}

TEST(Threads, EmptiedPagesGoBackToTheOsAfterTheDecayTime)
{
    expect_exit_0_with_decay("20", emptied_pages_decay);
}

// A thread fills `pages` pages with 1 KiB blocks, frees them and exits: its emptied pages go
// to the pool. first_os_bytes gets the OS bytes after its first block.
static void fill_empty_and_exit(size_t pages, size_t *first_os_bytes)
{
    std::thread([&] {
        std::vector<void *> blocks;
        for (size_t i = 0; i < pages * 64; i++) {
            blocks.push_back(mem_io_malloc(1024));
            if (i == 0 && first_os_bytes)
                *first_os_bytes = os_bytes_now();
        }
        for (void *p : blocks)
            mem_io_free(p);
    }).join();
}

// Pauses of 100 ms, each ended by a page-clock reading: under a 200 ms decay time each counts
// 50 ms on the page clock (pages.c), whatever the machine's load adds to the sleep.
static void pause_and_read_page_clock(int pauses)
{
    for (int i = 0; i < pauses; i++) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        read_page_clock();
    }
}

// A page given back to the OS and needed again sooner than the decay time that sent it back
// makes the decay time longer than that page had been idle (pages.c): pages that a thread
// emptied go back after four pauses (200 ms on the page clock, the decay time) and are taken
// again at once; the same pages, emptied again, then stay through five pauses.
static void pages_needed_soon_after_going_back_lengthen_the_decay()
{
    const size_t kPage = 64 * 1024, kPages = 24;
    fill_empty_and_exit(kPages, nullptr);
    size_t pooled = os_bytes_now(), after_first = 0;
    pause_and_read_page_clock(4);  // the readings take one page of the 24 and keep it warm
    fill_empty_and_exit(kPages, &after_first);
    if (after_first + (kPages - 2) * kPage > pooled)
        exit(2);  // the idle pages did not go back: the first half proves nothing
    size_t pooled_again = os_bytes_now();
    pause_and_read_page_clock(5);
    exit(os_bytes_now() + 4 * kPage >= pooled_again ? 0 : 1);
}

TEST(Threads, PagesNeededSoonAfterGoingBackLengthenTheDecayTime)
{
    expect_exit_0_with_decay("200", pages_needed_soon_after_going_back_lengthen_the_decay);
}

// A quiet spell (no page taken or emptied) counts as at most a quarter of MEM_IO_DECAY_MS on
// the page clock (pages.c), so pages emptied before a pause are still there when the program
// resumes: 24 emptied pages stay through a pause of 5 decay times and two shorter ones, and
// go back after the fourth pause.
static void pauses_count_short_on_the_page_clock()
{
    const size_t kPage = 64 * 1024, kPages = 24;
    fill_empty_and_exit(kPages, nullptr);
    size_t pooled = os_bytes_now();
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    read_page_clock();
    pause_and_read_page_clock(2);
    if (os_bytes_now() + 2 * kPage < pooled)
        exit(1);  // three pauses (3 quarters of the decay time) gave pages back
    pause_and_read_page_clock(1);
    exit(os_bytes_now() + (kPages - 4) * kPage <= pooled ? 0 : 2);
}

TEST(Threads, PausesCountShortOnThePageClock)
{
    expect_exit_0_with_decay("200", pauses_count_short_on_the_page_clock);
}

// The caches together hold at most 64 MiB. When a thread's freed range would pass that, the
// oldest ranges of any cache make room: here another (exited) thread's. The freer gets its
// range back, contents and all (a fresh mapping would read as zeros).
static void full_caches_make_room_from_the_oldest_range()
{
    const size_t kSize = size_t(18) << 20;  // a 20 MiB mapping: three of them are 60 MiB
    mem_io_free(mem_io_malloc(16));  // this thread's own heap, not the exited one's, adopted
    std::thread([&] {
        void *blocks[3];
        for (auto &b : blocks)
            b = mem_io_malloc(kSize);
        for (auto b : blocks)
            mem_io_free(b);
    }).join();
    unsigned char *mine = static_cast<unsigned char *>(mem_io_malloc(kSize));
    memset(mine, 0xab, 4096);
    mem_io_free(mine);
    unsigned char *again = static_cast<unsigned char *>(mem_io_malloc(kSize));
    bool kept = again == mine && again[0] == 0xab && again[4095] == 0xab;
    mem_io_free(again);
    exit(kept ? 0 : 1);
}

TEST(Threads, FullLargeCachesMakeRoomFromTheOldestRangeOfAnyThread)
{
    expect_exit_0(full_caches_make_room_from_the_oldest_range);
}

}  // namespace

// Loader and replay tests: decoding, determinism, cross-thread handoffs, metrics on a trace
// whose answers are known by hand, and corruption detection.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "allocators.hpp"
#include "replay.hpp"
#include "trace.hpp"

using namespace memio;

namespace {

std::string data(const std::string& name) { return std::string(TEST_DATA_DIR) + "/" + name; }

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif

// Unique pointers (bump memory is never reused) with a log of every call, in the order the
// calls happened.
class RecordingAllocator {
 public:
  struct Call {
    OpKind kind;
    void* in;
    void* out;
    std::thread::id thread;
  };
  void* malloc(size_t size) { return log(OpKind::malloc_, nullptr, bump_.malloc(size)); }
  void* calloc(size_t count, size_t size) { return log(OpKind::calloc_, nullptr, bump_.calloc(count, size)); }
  void* aligned(size_t alignment, size_t size) { return log(OpKind::aligned_, nullptr, bump_.aligned(alignment, size)); }
  void* realloc(void* ptr, size_t old_size, size_t size) {
    return log(OpKind::realloc_, ptr, bump_.realloc(ptr, old_size, size));
  }
  void free(void* ptr) { log(OpKind::free_, ptr, nullptr); }
  void free_sized(void* ptr, size_t) { log(OpKind::free_sized_, ptr, nullptr); }
  void after_replay() { bump_.after_replay(); }

  std::vector<Call> calls;

 private:
  void* log(OpKind kind, void* in, void* out) {
    std::lock_guard<std::mutex> lock(mutex_);
    calls.push_back({kind, in, out, std::this_thread::get_id()});
    return out;
  }
  BumpAllocator bump_;
  std::mutex mutex_;
};

// Simulates an allocator that overwrites live memory: during the fourth malloc it flips the
// first byte of the block the third malloc returned.
class CorruptingAllocator {
 public:
  void* malloc(size_t size) {
    ++mallocs_;
    if (mallocs_ == 4 && victim_) *static_cast<unsigned char*>(victim_) ^= 0xff;
    void* p = system_.malloc(size);
    if (mallocs_ == 3) victim_ = p;
    return p;
  }
  void* calloc(size_t count, size_t size) { return system_.calloc(count, size); }
  void* aligned(size_t alignment, size_t size) { return system_.aligned(alignment, size); }
  void* realloc(void* ptr, size_t old_size, size_t size) { return system_.realloc(ptr, old_size, size); }
  void free(void* ptr) { system_.free(ptr); }
  void free_sized(void* ptr, size_t size) { system_.free_sized(ptr, size); }
  void after_replay() {
    mallocs_ = 0;
    victim_ = nullptr;
  }

 private:
  SystemAllocator system_;
  int mallocs_ = 0;
  void* victim_ = nullptr;
};

// Every block in a fresh mapping of its own, as glibc serves large blocks; free and realloc note
// how many of the block's pages are resident, i.e. how many the replay touched.
class MappingAllocator {
 public:
  void* malloc(size_t size) { return map(size); }
  void* calloc(size_t count, size_t size) { return map(count * size); }
  void* aligned(size_t, size_t size) { return map(size); }  // page-aligned anyway
  void* realloc(void* ptr, size_t old_size, size_t size) {
    resident_at_release.push_back(resident_pages(ptr, old_size));
    // Moved as glibc moves a large block: its pages, untouched.
    void* p = mremap(ptr, old_size, size, MREMAP_MAYMOVE);
    if (p == MAP_FAILED) return nullptr;
    sizes_.erase(ptr);
    sizes_[p] = size;
    kept_ = std::min(old_size, size);
    return p;
  }
  void free(void* ptr) { free_sized(ptr, sizes_[ptr]); }
  void free_sized(void* ptr, size_t size) {
    resident_at_release.push_back(resident_pages(ptr, size));
    munmap(ptr, size);
  }
  void after_replay() {}

  std::vector<size_t> resident_at_release;

 protected:
  size_t kept_ = 0;  // of the last realloc: the bytes it moved

 private:
  void* map(size_t size) {
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    sizes_[p] = size;
    return p;
  }
  static size_t resident_pages(void* p, size_t size) {
    std::vector<unsigned char> resident((size + 4095) / 4096);
    if (mincore(p, size, resident.data()) != 0) return SIZE_MAX;
    return size_t(std::count_if(resident.begin(), resident.end(), [](unsigned char r) { return r & 1; }));
  }
  std::map<void*, size_t> sizes_;
};

TimerCalibration timer() {
  static TimerCalibration t = calibrate_timer();
  return t;
}

}  // namespace

TEST(Loader, KnownTraceHasHandComputedIdealAndCounts) {
  Trace t = load_trace(data("known.trace"));
  EXPECT_EQ(t.workload, "known");
  EXPECT_EQ(t.op_count, 9u);
  EXPECT_EQ(t.ideal_bytes, 6512u);
  ASSERT_EQ(t.threads.size(), 1u);
  const ThreadStream& s = t.threads[0];
  EXPECT_EQ(s.op_counts[int(OpKind::malloc_)], 2u);
  EXPECT_EQ(s.op_counts[int(OpKind::free_)], 3u);
  EXPECT_EQ(s.op_counts[int(OpKind::free_sized_)], 1u);
  EXPECT_EQ(s.ops[3].kind(), OpKind::aligned_);
  EXPECT_EQ(s.ops[3].alignment(), 64u);
  EXPECT_EQ(s.ops[3].size(), 512u);
  EXPECT_EQ(s.ops[5].kind(), OpKind::calloc_);
  EXPECT_EQ(s.ops[5].size() * s.ops[5].aux, 1000u);
  // Block 1's slot is freed on line 3, so block 3 (allocated next by the same thread) reuses it.
  EXPECT_EQ(s.ops[3].slot, s.ops[0].slot);
  for (const Op& op : s.ops) EXPECT_FALSE(op.waits() || op.publishes());
}

TEST(Loader, WorkloadNameDropsTraceSuffixes) {
  EXPECT_EQ(workload_name("a/b/churn.trace.gz"), "churn");
  EXPECT_EQ(workload_name("churn.trace"), "churn");
  EXPECT_EQ(workload_name("dir/x.gz"), "x");
}

TEST(Loader, SameTraceDecodesIdentically) {
  Trace a = load_trace(data("handoff.trace"));
  Trace b = load_trace(data("handoff.trace"));
  EXPECT_EQ(a.op_count, b.op_count);
  EXPECT_EQ(a.ideal_bytes, b.ideal_bytes);
  ASSERT_EQ(a.threads.size(), b.threads.size());
  for (size_t i = 0; i < a.threads.size(); ++i) {
    ASSERT_EQ(a.threads[i].ops.size(), b.threads[i].ops.size());
    EXPECT_EQ(0, std::memcmp(a.threads[i].ops.data(), b.threads[i].ops.data(), a.threads[i].ops.size() * sizeof(Op)));
  }
}

TEST(Loader, HandoffsWaitOnThePreviousThread) {
  Trace t = load_trace(data("handoff.trace"));
  ASSERT_EQ(t.threads.size(), 3u);
  for (size_t i = 0; i < 40; ++i) {
    const Op& m = t.threads[0].ops[i];
    const Op& r = t.threads[1].ops[i];
    const Op& f = t.threads[2].ops[i];
    EXPECT_TRUE(m.publishes() && !m.waits());
    EXPECT_TRUE(r.waits() && r.publishes());
    EXPECT_EQ(r.aux, 1u);  // after the malloc's publish
    EXPECT_TRUE(f.waits() && !f.publishes());
    EXPECT_EQ(f.aux, 2u);  // after the realloc's publish
    EXPECT_EQ(m.slot, r.slot);
    EXPECT_EQ(m.slot, f.slot);
  }
  EXPECT_EQ(t.ideal_bytes, 5040u);  // each block is freed before the next one exists; the last realloc is the peak
}

TEST(Loader, TouchedPagesGoToTheOpThatMadeTheBlockAndTheOpThatChecksIt) {
  Trace t = load_trace(data("partly_touched.trace"));
  ASSERT_EQ(t.threads.size(), 1u);
  const ThreadStream& s = t.threads[0];
  ASSERT_EQ(s.ops.size(), 9u);
  const bool old_extent[] = {false, true, true, false, false, false, true, false, true};
  const bool new_extent[] = {true, true, false, false, false, true, false, true, false};
  for (size_t i = 0; i < 9; ++i) {
    EXPECT_EQ(s.ops[i].has_old_extent(), old_extent[i]) << "op " << i;
    EXPECT_EQ(s.ops[i].has_new_extent(), new_extent[i]) << "op " << i;
  }
  // in op order, the old block's extent before the new one's: key = 2 × op index (+ 1: new)
  const std::vector<std::pair<uint64_t, uint64_t>> expected = {
      {1, 10 * 4096}, {2, 10 * 4096}, {3, 30 * 4096}, {4, 30 * 4096}, {11, 2 * 4096}, {12, 2 * 4096}, {15, 0}, {16, 0}};
  std::vector<std::pair<uint64_t, uint64_t>> found;
  for (const TouchExtent& e : s.extents) found.emplace_back(e.key, e.bytes);
  EXPECT_EQ(found, expected);
}

TEST(Loader, CorruptGzipIsRefusedNotCrashed) {
  EXPECT_THROW(load_trace(data("bad_corrupt.trace.gz")), TraceError);
  EXPECT_THROW(load_trace(data("bad_truncated.trace.gz")), TraceError);
  try {
    load_trace(data("does_not_exist.trace"));
    FAIL();
  } catch (const TraceError& e) {
    EXPECT_NE(std::string(e.what()).find("does_not_exist.trace: cannot open: No such file"), std::string::npos);
  }
}

TEST(Replay, CrossThreadHandoffsHappenInTraceOrder) {
  Trace t = load_trace(data("handoff.trace"));
  RecordingAllocator allocator;
  Replayer<RecordingAllocator> replayer(t, allocator, Touch::pages, 1, timer());
  for (int run = 0; run < 3; ++run) {
    allocator.calls.clear();
    replayer.run();
    ASSERT_FALSE(replayer.problem().found) << describe_problem(t, replayer.problem());
    ASSERT_EQ(allocator.calls.size(), 120u);
    // Every block: malloc returns p, then realloc(p) returns q, then free(q), in that order.
    std::map<void*, size_t> returned_at;
    size_t reallocs = 0, frees = 0;
    for (size_t i = 0; i < allocator.calls.size(); ++i) {
      const auto& c = allocator.calls[i];
      if (c.kind != OpKind::malloc_) {
        auto from = returned_at.find(c.in);
        ASSERT_NE(from, returned_at.end()) << "call " << i << " used a pointer no earlier call returned";
        OpKind before = allocator.calls[from->second].kind;
        EXPECT_EQ(before, c.kind == OpKind::realloc_ ? OpKind::malloc_ : OpKind::realloc_);
        returned_at.erase(from);
        (c.kind == OpKind::realloc_ ? reallocs : frees)++;
      }
      if (c.out) returned_at[c.out] = i;
    }
    EXPECT_EQ(reallocs, 40u);
    EXPECT_EQ(frees, 40u);
    EXPECT_TRUE(returned_at.empty());
  }
}

TEST(Replay, FirstTraceThreadRunsOnTheCallingThread) {
  // handoff.trace: thread 0 makes every malloc, threads 1 and 2 every realloc and free.
  Trace t = load_trace(data("handoff.trace"));
  RecordingAllocator allocator;
  Replayer<RecordingAllocator> replayer(t, allocator, Touch::ends, 1, timer());
  replayer.run();
  ASSERT_EQ(allocator.calls.size(), 120u);
  for (const auto& c : allocator.calls)
    EXPECT_EQ(c.thread == std::this_thread::get_id(), c.kind == OpKind::malloc_) << "call of kind " << int(c.kind);
}

// How many threads the process has, from /proc/self/status; 0 if unknown.
int process_threads() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  return 0;
}

// Notes the most threads the process had while the allocator was called.
class ThreadCountingAllocator {
 public:
  void* malloc(size_t size) {
    max_threads = std::max(max_threads, process_threads());
    return bump_.malloc(size);
  }
  void* calloc(size_t count, size_t size) { return bump_.calloc(count, size); }
  void* aligned(size_t alignment, size_t size) { return bump_.aligned(alignment, size); }
  void* realloc(void* ptr, size_t old_size, size_t size) { return bump_.realloc(ptr, old_size, size); }
  void free(void*) {}
  void free_sized(void*, size_t) {}
  void after_replay() { bump_.after_replay(); }
  int max_threads = 0;

 private:
  BumpAllocator bump_;
};

TEST(Replay, OneThreadTraceReplaysWithoutAnotherThread) {
  // Like the program it was recorded from: glibc would serve another thread from a thread arena.
  // Threads that earlier tests joined may linger in /proc for a moment; a sanitizer may run one
  // of its own, hence a count relative to the process's own.
  int own = process_threads();
  for (int tries = 0; tries < 1000 && own > 1; ++tries, own = process_threads())
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_GE(own, 1);
  Trace t = load_trace(data("known.trace"));
  ThreadCountingAllocator allocator;
  {
    Replayer<ThreadCountingAllocator> replayer(t, allocator, Touch::ends, 1, timer());
    replayer.run();
  }
  EXPECT_EQ(allocator.max_threads, own);
  allocator.max_threads = 0;
  {
    Replayer<ThreadCountingAllocator> replayer(t, allocator, Touch::ends, 1, timer(), true);  // a timeline: sampled
    replayer.run();
    EXPECT_GT(replayer.timeline().t_ms.size(), 0u);
  }
  EXPECT_EQ(allocator.max_threads, own + 1);
}

// Counts live blocks as the allocator sees them.
class LiveCountingAllocator {
 public:
  void* malloc(size_t size) {
    std::lock_guard<std::mutex> lock(mutex_);
    max_live = std::max(max_live, ++live_);
    return system_.malloc(size);
  }
  void* calloc(size_t count, size_t size) { return system_.calloc(count, size); }
  void* aligned(size_t alignment, size_t size) { return system_.aligned(alignment, size); }
  void* realloc(void* ptr, size_t old_size, size_t size) { return system_.realloc(ptr, old_size, size); }
  void free(void* ptr) {
    std::lock_guard<std::mutex> lock(mutex_);
    --live_;
    system_.free(ptr);
  }
  void free_sized(void* ptr, size_t) { free(ptr); }
  void after_replay() {}
  size_t max_live = 0;

 private:
  SystemAllocator system_;
  std::mutex mutex_;
  size_t live_ = 0;
};

TEST(Replay, ProducerCannotRunFarAheadOfConsumer) {
  // Thread 0 allocates 20000 blocks, thread 1 frees each right after: at most one is live in the
  // trace. Handoff waits alone would let thread 0 allocate them all before thread 1 starts.
  std::string path = ::testing::TempDir() + "/producer_consumer_skew.trace";
  {
    std::ofstream out(path);
    out << "mem_io-trace 1\n";
    for (int i = 0; i < 20000; ++i) out << "0 m " << i << " 64\n1 f " << i << "\n";
  }
  Trace t = load_trace(path);
  LiveCountingAllocator allocator;
  Replayer<LiveCountingAllocator> replayer(t, allocator, Touch::ends, 1, timer());
  replayer.run();
  EXPECT_FALSE(replayer.problem().found);
  // Trace positions alternate between the threads: the skew bound plus one chunk each way.
  EXPECT_LE(allocator.max_live, (max_thread_skew_ops + 2 * replay_chunk_ops) / 2 + 1);
  EXPECT_GE(allocator.max_live, 1u);
}

TEST(Replay, SameTraceGivesSameCallCounts) {
  Trace t = load_trace(data("handoff.trace"));
  RecordingAllocator allocator;
  Replayer<RecordingAllocator> replayer(t, allocator, Touch::ends, 2, timer());
  std::vector<size_t> counts;
  for (int run = 0; run < 2; ++run) {
    allocator.calls.clear();
    replayer.run();
    size_t per_kind[op_kind_count] = {};
    for (const auto& c : allocator.calls) ++per_kind[int(c.kind)];
    counts.insert(counts.end(), per_kind, per_kind + op_kind_count);
  }
  EXPECT_EQ(std::vector<size_t>(counts.begin(), counts.begin() + op_kind_count),
            std::vector<size_t>(counts.begin() + op_kind_count, counts.end()));
  EXPECT_EQ(counts[int(OpKind::malloc_)], 80u);  // two copies
}

TEST(Replay, LatencyIsSampledEvery64thOpAcrossReplays) {
  Trace t = load_trace(data("known.trace"));
  SystemAllocator allocator;
  Replayer<SystemAllocator> replayer(t, allocator, Touch::full, 1, timer());
  ReplayResult r = replayer.run();
  r = replayer.run();
  EXPECT_FALSE(replayer.problem().found);
  // Op 0 (a malloc) is the only one sampled (every 64th), once per replay.
  EXPECT_EQ(replayer.latency(int(OpKind::malloc_)).size(), 2u);
  EXPECT_EQ(replayer.latency(int(OpKind::free_)).size(), 0u);
  replayer.clear_latency();
  EXPECT_EQ(replayer.latency(int(OpKind::malloc_)).size(), 0u);
  EXPECT_GT(r.wall_ticks, 0u);
  EXPECT_EQ(r.failed_allocs, 0u);
}

TEST(Replay, FragmentationOfBumpAllocatorIsAboutOne) {
#ifdef UNDER_TSAN
  GTEST_SKIP() << "ThreadSanitizer's shadow memory is part of RSS";
#endif
  Trace t = load_trace(data("big_blocks.trace"));
  EXPECT_EQ(t.ideal_bytes, 64u * 65536u);
  BumpAllocator allocator;
  Replayer<BumpAllocator> replayer(t, allocator, Touch::full, 1, timer());
  replayer.run();  // warm-up: thread stacks and code paged in
  uint64_t baseline = current_rss_bytes();
  ReplayResult r = replayer.run();
  double fragmentation = (double(r.peak_rss) - double(baseline)) / double(t.ideal_bytes);
  // Bump memory is touched in full and never reused: RSS grows by ideal plus a few pages of
  // stacks; ASan's shadow adds 1/8.
  EXPECT_GT(fragmentation, 0.95);
  EXPECT_LT(fragmentation, 1.3);
}

TEST(Replay, NoFalseAlarmForAnySizeOrTouchPolicyOrTouchedPages) {
  for (const char* name : {"all_small_sizes.trace", "partly_touched.trace"}) {
    Trace t = load_trace(data(name));
    SystemAllocator allocator;
    for (Touch touch : {Touch::ends, Touch::pages, Touch::full}) {
      Replayer<SystemAllocator> replayer(t, allocator, touch, 1, timer());
      replayer.run();
      EXPECT_FALSE(replayer.problem().found)
          << name << ", " << touch_name(touch) << ": " << describe_problem(t, replayer.problem());
    }
  }
}

TEST(Replay, TouchesOnlyThePagesTheProgramTouched) {
  Trace t = load_trace(data("partly_touched.trace"));
  MappingAllocator allocator;
  Replayer<MappingAllocator> replayer(t, allocator, Touch::pages, 1, timer());
  replayer.run();
  EXPECT_FALSE(replayer.problem().found) << describe_problem(t, replayer.problem());
  // 10 and 30 pages of block 1 (its realloc moved the first 10), all 256 of block 2, 2 of the
  // calloc'd block 3 (its ends are checked for zeros within its extent), none of block 4
  EXPECT_EQ(allocator.resident_at_release, (std::vector<size_t>{10, 30, 256, 2, 0}));
}

// Blocks as MappingAllocator's; a realloc makes the whole pages it moved read-only, so a replay
// that writes again what the block kept faults (and fails this test with SIGSEGV).
class SealingAllocator : public MappingAllocator {
 public:
  void* realloc(void* ptr, size_t old_size, size_t size) {
    if (mprotect(ptr, old_size, PROT_READ | PROT_WRITE) != 0) return nullptr;  // mremap moves one mapping
    void* p = MappingAllocator::realloc(ptr, old_size, size);
    if (p && kept_ >= 4096 && mprotect(p, kept_ & ~size_t(4095), PROT_READ) != 0) return nullptr;
    return p;
  }
};

TEST(Replay, AReallocWritesOnlyWhatItsBlockDidNotKeep) {
  Trace t = load_trace(data("growing.trace"));  // 8 KiB grown to 64 KiB and 1 MiB, shrunk to 20000 bytes
  for (Touch touch : {Touch::ends, Touch::pages, Touch::full}) {
    SealingAllocator allocator;
    Replayer<SealingAllocator> replayer(t, allocator, touch, 1, timer());
    replayer.run();
    EXPECT_FALSE(replayer.problem().found) << touch_name(touch) << ": " << describe_problem(t, replayer.problem());
    // pages: the 2 of the first block, then the 14 and 240 each growth added, and the shrunk
    // block's last page (its end mark is new); ends and full as the policy writes them
    if (touch == Touch::pages) {
      EXPECT_EQ(allocator.resident_at_release, (std::vector<size_t>{2, 16, 256, 5}));
    }
  }
}

TEST(Replay, CorruptedBlockIsReportedWithItsIdAndLine) {
  Trace t = load_trace(data("corrupt_third.trace"));
  CorruptingAllocator allocator;
  Replayer<CorruptingAllocator> replayer(t, allocator, Touch::ends, 1, timer());
  replayer.run();
  ASSERT_TRUE(replayer.problem().found);
  std::string message = describe_problem(t, replayer.problem());
  EXPECT_EQ(message.rfind("replay: block 3 corrupted before free: at offset 0 expected 0x", 0), 0u) << message;
  EXPECT_NE(message.find("corrupt_third.trace:10, thread 0)"), std::string::npos) << message;
}

// calloc hands out blocks whose last byte is not zero.
class DirtyCallocAllocator : public CorruptingAllocator {
 public:
  void* calloc(size_t count, size_t size) {
    auto* p = static_cast<unsigned char*>(CorruptingAllocator::calloc(count, size));
    if (p && count * size != 0) p[count * size - 1] = 1;
    return p;
  }
};

TEST(Replay, NonZeroCallocIsReported) {
  Trace t = load_trace(data("known.trace"));  // one calloc, of 10 x 100 bytes
  DirtyCallocAllocator allocator;
  Replayer<DirtyCallocAllocator> replayer(t, allocator, Touch::pages, 1, timer());
  replayer.run();
  ASSERT_TRUE(replayer.problem().found);
  std::string message = describe_problem(t, replayer.problem());
  EXPECT_NE(message.find("calloc returned non-zero memory at offset 992"), std::string::npos) << message;
}

TEST(Replay, WithoutTouchingNothingIsVerified) {
  Trace t = load_trace(data("corrupt_third.trace"));
  CorruptingAllocator allocator;
  Replayer<CorruptingAllocator> replayer(t, allocator, Touch::none, 1, timer());
  replayer.run();
  EXPECT_FALSE(replayer.problem().found);
}

TEST(Measure, PercentilesAreMonotoneAndNeverBelowTheTimerResolution) {
  TimerCalibration timer;
  timer.ticks_per_ns = 2;  // 2 ticks per ns
  timer.overhead_ticks = 20;
  timer.resolution_ticks = 10;
  std::vector<uint32_t> samples(1000, 22);  // 2 ticks past the overhead: below the resolution
  for (size_t i = 0; i < 20; ++i) samples[i] = 60 + uint32_t(i);  // the slow 2 %
  samples[500] = 1020;
  Percentiles p = percentiles(samples, timer);
  EXPECT_EQ(p.p50, 5.0);  // censored: at most the resolution, 10 ticks = 5 ns; never 0
  EXPECT_TRUE(p.p50_censored);
  EXPECT_FALSE(p.p99_censored);
  EXPECT_EQ(p.max, 500.0);  // (1020 - 20) ticks
  EXPECT_FALSE(p.max_censored);
  EXPECT_LE(p.p50, p.p99);
  EXPECT_LE(p.p99, p.p999);
  EXPECT_LE(p.p999, p.max);
}

TEST(Measure, CalibrationFindsAPositiveResolution) {
  TimerCalibration t = timer();
  EXPECT_GE(t.resolution_ticks, 1u);
  EXPECT_GT(t.ticks_per_ns, 0);
}

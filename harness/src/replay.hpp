// The replay engine: runs a decoded trace's per-thread op streams on OS threads against one
// allocator adapter, touching blocks as programs do and checking that nothing overwrote them.
//
// Design: decode (trace.cpp) -> one op stream per trace thread -> the calling thread runs the
// first stream and a pool of OS threads the others, released together from a barrier -> each
// runs its stream; an op whose block was last used by another thread waits for that thread's
// publish on the block (waits point backwards in the trace, so no deadlock) -> every 64th op's
// allocator call is timed -> leftovers are freed after the clock stops.
#pragma once

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "measure.hpp"
#include "trace.hpp"

namespace memio {

enum class Touch { none, ends, pages, full };
bool parse_touch(const std::string& text, Touch* touch);
const char* touch_name(Touch touch);

// Latency groups: free_sized counts as free.
constexpr int latency_group_count = 5;
const char* latency_group_name(int group);
inline int latency_group(OpKind kind) { return kind == OpKind::free_sized_ ? int(OpKind::free_) : int(kind); }

constexpr uint64_t latency_sample_every = replay_chunk_ops;
// How far (in trace positions) a replay thread may run ahead of the others. Handoff waits alone
// would let a producer allocate its whole trace before the consumer frees anything; bounding
// the drift keeps the replay's live set close to the trace's.
constexpr uint64_t max_thread_skew_ops = 1024;
constexpr size_t max_latency_samples = size_t(1) << 20;  // per op type, across replays

// The first problem a replay thread found.
struct ReplayProblem {
  std::atomic<bool> found{false};
  int stream = 0;         // which trace thread (index into Trace::threads)
  uint64_t op_index = 0;  // which of its ops
  std::string what;       // e.g. "corrupted before free: at offset 8 expected 0x… found 0x…"
};

// "replay: block 17 corrupted before free (thread 0, line 42): …", with the line and block id
// looked up in the trace file.
std::string describe_problem(const Trace& trace, const ReplayProblem& problem);

struct ReplayResult {
  uint64_t wall_ticks = 0;
  uint64_t cpu_ns = 0;  // CPU time of the replay threads, summed: robust against a busy machine
  uint64_t failed_allocs = 0;
  uint64_t peak_rss = 0;  // VmHWM after the replay (with a timeline, or the sampler's maximum)
};

namespace detail {

// 16 bytes, four to a cache line: the table is the replay's main memory traffic.
struct Block {
  void* ptr;
  uint64_t size;
};

inline void wait_for(const std::atomic<uint32_t>& handoffs, uint32_t target) {
  for (unsigned spins = 0; handoffs.load(std::memory_order_acquire) < target; ++spins) {
#if defined(__x86_64__) || defined(__i386__)
    if (spins < 64) { _mm_pause(); continue; }
#endif
    sched_yield();  // two cores and maybe many threads: let the publisher run
  }
}

// The word written into a block: depends on the block's table entry, so a block swapped with
// another one is caught too.
inline uint64_t pattern_of(const Block& b) { return (reinterpret_cast<uintptr_t>(&b) >> 3) * 0x9E3779B97F4A7C15ull | 1; }

}  // namespace detail

// The calling thread replays the trace's first thread (of the first copy), as the recorded
// program's main thread made those calls: a one-thread trace then replays in a one-thread
// process, so glibc serves it from its main arena (grown and trimmed with brk) on its
// single-thread paths, as it served the program; a pool thread would get a thread arena
// (mmapped heaps grown with mprotect) and locked paths. For the same reason the RSS/live-bytes
// sampler thread runs only when a timeline is asked for (or the kernel cannot reset VmHWM).
template <class Allocator>
class Replayer {
 public:
  Replayer(const Trace& trace, Allocator& allocator, Touch touch, int copies, const TimerCalibration& timer,
           bool want_timeline = false)
      : trace_(trace), allocator_(allocator), touch_(touch), timer_(timer) {
    size_t streams = trace.threads.size();
    blocks_.reset(new detail::Block[size_t(trace.slot_count) * size_t(copies)]);
    handoffs_.reset(new std::atomic<uint32_t>[size_t(trace.slot_count) * size_t(copies)]);
    reset_blocks(size_t(trace.slot_count) * size_t(copies));
    live_.reset(new LiveCounter[streams * size_t(copies)]);
    positions_.reset(new Position[streams * size_t(copies)]);
    for (int copy = 0; copy < copies; ++copy)
      for (size_t s = 0; s < streams; ++s) {
        Worker w;
        w.stream = int(s);
        w.ops = &trace.threads[s].ops;
        w.blocks = blocks_.get() + size_t(copy) * trace.slot_count;
        w.handoffs = handoffs_.get() + size_t(copy) * trace.slot_count;
        w.live = &live_[workers_.size()];
        w.stream_data = &trace.threads[s];
        w.position = &positions_[workers_.size()].value;
        w.group = &positions_[size_t(copy) * streams];
        w.group_size = streams;
        size_t samples = w.ops->size() / latency_sample_every + 1;
        for (int g = 0; g < latency_group_count; ++g) {
          uint64_t of_group = trace.threads[s].op_counts[g] + (g == int(OpKind::free_) ? trace.threads[s].op_counts[int(OpKind::free_sized_)] : 0);
          w.latency[g].resize(std::min<uint64_t>(samples, of_group));  // resized now so it is paged in
        }
        workers_.push_back(std::move(w));
      }
    // The buffers that gather samples across replays are sized and paged in now, so that the
    // harness's own memory does not grow between the baseline and the measured replays.
    for (int g = 0; g < latency_group_count; ++g) {
      size_t per_replay = 0;
      for (const Worker& w : workers_) per_replay += w.latency[g].size();
      latency_[g].resize(std::min(max_latency_samples, per_replay * 256));
      latency_[g].clear();
    }
    if (want_timeline || !reset_peak_rss()) sampler_.reset(new Sampler(live_.get(), workers_.size()));
    threads_.reserve(workers_.size() - 1);
    for (size_t i = 1; i < workers_.size(); ++i) threads_.emplace_back([this, &w = workers_[i]] { pool_thread(w); });
  }

  int thread_count() const { return int(workers_.size()); }
  // Latency samples (raw ticks, timer overhead included) of every replay since clear_latency().
  std::vector<uint32_t>& latency(int group) { return latency_[group]; }
  void clear_latency() {
    for (auto& samples : latency_) samples.clear();
  }
  // The RSS/live-bytes timeline of the last replay; empty unless constructed with want_timeline.
  const Timeline& timeline() const { return sampler_ ? sampler_->timeline() : no_timeline_; }
  const ReplayProblem& problem() const { return problem_; }

  ~Replayer() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      quit_ = true;
    }
    start_cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  Replayer(const Replayer&) = delete;
  Replayer& operator=(const Replayer&) = delete;

  ReplayResult run() {
    for (Worker& w : workers_) {
      w.failed_allocs = 0;
      std::fill(std::begin(w.latency_used), std::end(w.latency_used), 0);
      w.live->bytes.store(0, std::memory_order_relaxed);
      w.position->store(0, std::memory_order_relaxed);
    }
    ready_.store(0);
    go_.store(false);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      finished_ = 0;
      ++round_;
    }
    start_cv_.notify_all();
    while (ready_.load() != int(threads_.size())) sched_yield();
    bool hwm_reset = reset_peak_rss();
    if (sampler_) sampler_->start();
    uint64_t start = ticks();
    go_.store(true, std::memory_order_release);
    run_timed(workers_[0]);
    {
      std::unique_lock<std::mutex> lock(mutex_);
      done_cv_.wait(lock, [this] { return finished_ == threads_.size(); });
    }
    ReplayResult result;
    if (sampler_) sampler_->stop();
    result.peak_rss = std::max(hwm_reset ? peak_rss_bytes() : 0, sampler_ ? sampler_->max_rss() : 0);
    for (Worker& w : workers_) {
      result.wall_ticks = std::max(result.wall_ticks, w.end_ticks - start);
      result.failed_allocs += w.failed_allocs;
      result.cpu_ns += w.cpu_ns;
      for (int g = 0; g < latency_group_count; ++g) {
        size_t take = std::min(w.latency_used[g], latency_[g].capacity() - latency_[g].size());
        latency_[g].insert(latency_[g].end(), w.latency[g].begin(), w.latency[g].begin() + take);
      }
    }
    free_leftovers();
    return result;
  }

 private:
  struct Worker;
  struct alignas(64) Position {
    std::atomic<uint64_t> value{0};
  };
  // The replay threads live as long as the Replayer, like a program's threads: creating fresh
  // ones for every replay would make thread-caching allocators abandon and rebuild their
  // per-thread heaps each time, which no real program does.
  void pool_thread(Worker& w) {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        start_cv_.wait(lock, [&] { return quit_ || round_ != seen; });
        if (quit_) return;
        seen = round_;
      }
      ready_.fetch_add(1);
      while (!go_.load(std::memory_order_acquire)) sched_yield();
      run_timed(w);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (++finished_ == threads_.size()) done_cv_.notify_one();
      }
    }
  }

  void run_timed(Worker& w) {
    uint64_t cpu_start = thread_cpu_ns();
    run_worker(w);
    w.end_ticks = ticks();
    w.cpu_ns = thread_cpu_ns() - cpu_start;
  }

  struct Worker {
    int stream = 0;
    const OpArray* ops = nullptr;
    detail::Block* blocks = nullptr;
    std::atomic<uint32_t>* handoffs = nullptr;  // per slot: publishes so far (see Op::aux)
    const ThreadStream* stream_data = nullptr;
    std::atomic<uint64_t>* position = nullptr;  // trace position this thread is at (or before)
    const Position* group = nullptr;            // positions of all threads of this copy
    size_t group_size = 0;
    LiveCounter* live = nullptr;
    std::vector<uint32_t> latency[latency_group_count];
    size_t latency_used[latency_group_count] = {};
    uint64_t failed_allocs = 0;
    uint64_t end_ticks = 0;
    uint64_t cpu_ns = 0;
  };

  void reset_blocks(size_t count) {
    for (size_t i = 0; i < count; ++i) {
      blocks_[i].ptr = nullptr;
      blocks_[i].size = 0;
      handoffs_[i].store(0, std::memory_order_relaxed);
    }
  }

  void free_leftovers() {
    size_t count = size_t(trace_.slot_count) * (workers_.size() / std::max<size_t>(1, trace_.threads.size()));
    for (size_t i = 0; i < count; ++i)
      if (blocks_[i].ptr) allocator_.free(blocks_[i].ptr);
    reset_blocks(count);
    allocator_.after_replay();
  }

  void run_worker(Worker& w) {
    switch (touch_) {
      case Touch::none: return run_ops<Touch::none>(w);
      case Touch::ends: return run_ops<Touch::ends>(w);
      case Touch::pages: return run_ops<Touch::pages>(w);
      case Touch::full: return run_ops<Touch::full>(w);
    }
  }

  // What the hot loop touches, held in locals so the compiler keeps it in registers (stores
  // into blocks could otherwise alias the Worker's fields and force reloads).
  struct Lane {
    detail::Block* blocks;
    std::atomic<uint32_t>* handoffs;
    std::atomic<int64_t>* live_bytes;
    int64_t live;
    std::atomic<uint64_t>* position;
    const uint64_t* wait_positions;
    size_t next_wait;
    const TouchExtent* extents;
    size_t next_extent;
  };

  // Holds a thread at trace position `at` until no other thread of its copy is more than
  // max_thread_skew_ops behind. A thread publishes its exact position before every handoff wait
  // and its chunk's first position before this check, so the thread furthest behind is never
  // held: no deadlock.
  static void limit_skew(const Worker& w, uint64_t at) {
    if (at < max_thread_skew_ops) return;
    for (size_t u = 0; u < w.group_size; ++u) {
      const std::atomic<uint64_t>& other = w.group[u].value;
      for (unsigned spins = 0; other.load(std::memory_order_acquire) < at - max_thread_skew_ops; ++spins) {
#if defined(__x86_64__) || defined(__i386__)
        if (spins < 64) { _mm_pause(); continue; }
#endif
        sched_yield();
      }
    }
  }

  template <Touch T>
  void run_ops(Worker& w) {
    const Op* ops = w.ops->data();
    const size_t n = w.ops->size();
    Lane lane{w.blocks, w.handoffs, &w.live->bytes, 0, w.position, w.stream_data->wait_positions.data(), 0,
              w.stream_data->extents.data(), 0};
    const bool threaded = w.group_size > 1;
    for (size_t i = 0; i < n; i += latency_sample_every) {  // one timed op, then 63 untimed
      if (threaded) {
        uint64_t at = w.stream_data->chunk_positions[i / replay_chunk_ops];
        w.position->store(at, std::memory_order_release);
        limit_skew(w, at);
      }
      run_op<T, true>(w, lane, ops[i], i);
      const size_t stop = std::min<size_t>(n, i + latency_sample_every);
      for (size_t j = i + 1; j < stop; ++j) run_op<T, false>(w, lane, ops[j], j);
      lane.live_bytes->store(lane.live, std::memory_order_relaxed);  // per chunk is plenty for a 1 ms sampler
    }
    w.position->store(UINT64_MAX, std::memory_order_release);  // done: never holds anyone back
  }

  template <Touch T, bool timed>
  void run_op(Worker& w, Lane& lane, const Op& op, size_t index) {
    detail::Block& b = lane.blocks[op.slot];
    if (op.waits()) {
      lane.position->store(lane.wait_positions[lane.next_wait++], std::memory_order_release);
      detail::wait_for(lane.handoffs[op.slot], op.aux);
    }
    // How many bytes from each block's start the program touched: the block this op frees or
    // reallocates (old) and the one it returns (new); all of it where the trace does not say.
    uint64_t old_extent = UINT64_MAX, new_extent = UINT64_MAX;
    if (__builtin_expect(op.has_old_extent(), 0)) old_extent = lane.extents[lane.next_extent++].bytes;
    if (__builtin_expect(op.has_new_extent(), 0)) new_extent = lane.extents[lane.next_extent++].bytes;
    const OpKind kind = op.kind();
    // A realloc keeps its block's contents, so the marks already written there stay valid.
    const uint64_t kept = kind == OpKind::realloc_ ? std::min(b.size, old_extent) : 0;
    const uint64_t t0 = timed ? ticks() : 0;
    void* p;
    uint64_t size;
    switch (kind) {
      case OpKind::malloc_:
        size = op.size();
        p = allocator_.malloc(size);
        break;
      case OpKind::calloc_: {
        uint64_t stored = op.size();
        size = stored * op.aux;
        p = op.calloc_swapped() ? allocator_.calloc(stored, op.aux) : allocator_.calloc(op.aux, stored);
        break;
      }
      case OpKind::aligned_:
        size = op.size();
        p = allocator_.aligned(op.alignment(), size);
        break;
      case OpKind::realloc_:
        // Its ends only: the free verifies every mark, whichever reallocs kept them.
        if (T != Touch::none) verify<Touch::ends>(w, b, old_extent, index, "realloc");
        size = op.size();
        p = allocator_.realloc(b.ptr, b.size, size);
        break;
      default:  // free_, free_sized_
        if (T != Touch::none) verify<T>(w, b, old_extent, index, kind == OpKind::free_ ? "free" : "free_sized");
        if (kind == OpKind::free_)
          allocator_.free(b.ptr);
        else
          allocator_.free_sized(b.ptr, b.size);  // the size it was allocated with, whatever the trace says
        if (timed) record_latency(w, kind, ticks() - t0);
        lane.live -= int64_t(b.size);
        b.ptr = nullptr;
        finish_op(lane, op);
        return;
    }
    if (timed) record_latency(w, kind, ticks() - t0);
    if (__builtin_expect(!p && size, 0)) {
      ++w.failed_allocs;  // a failed realloc leaves the old block live and intact
      // Its next op checks it against the extent that the realloc's result had in the program.
      if (kind == OpKind::realloc_ && T != Touch::none) stamp<T>(b, new_extent);
    } else {
      if (kind == OpKind::calloc_ && T != Touch::none) check_zeroed(w, p, std::min(size, new_extent), index);
      if (kind == OpKind::aligned_ && (reinterpret_cast<uintptr_t>(p) & (op.alignment() - 1)))
        report(w, index, "aligned_alloc returned a misaligned pointer");
      lane.live += int64_t(size) - (kind == OpKind::realloc_ ? int64_t(b.size) : 0);
      b.ptr = p;
      b.size = size;
      if (T != Touch::none) stamp<T>(b, new_extent, kept);
    }
    finish_op(lane, op);
  }

  static void finish_op(Lane& lane, const Op& op) {
    if (op.publishes()) lane.handoffs[op.slot].fetch_add(1, std::memory_order_release);
  }

  void record_latency(Worker& w, OpKind kind, uint64_t elapsed) {
    int g = latency_group(kind);
    if (w.latency_used[g] == w.latency[g].size()) return;
    w.latency[g][w.latency_used[g]++] = uint32_t(std::min<uint64_t>(elapsed, UINT32_MAX));
  }

  // Calls f(offset, bytes) for every place the touch policy writes a word: both ends, and for
  // `pages` and `full` one word per 4 KiB.
  template <Touch T, class F>
  static void for_each_mark(uint64_t size, F f) {
    if (size == 0) return;
    if (size <= 8) return f(0, size);
    f(0, 8);
    if (T == Touch::pages || T == Touch::full)
      for (uint64_t offset = 4096; offset + 8 < size; offset += 4096) f(offset, 8);
    f(size - 8, 8);
  }

  // The block's pattern as seen from `offset`: byte i of the block is always byte (i mod 8) of
  // the pattern, so marks that overlap (blocks of 9..15 bytes) agree with each other.
  static uint64_t pattern_at(uint64_t pattern, uint64_t offset) {
    static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "pattern_at assumes little-endian words");
    unsigned shift = unsigned(offset & 7) * 8;
    return shift ? (pattern >> shift) | (pattern << (64 - shift)) : pattern;
  }

  // Writes the block's first min(size, extent) bytes as the touch policy says, but for what a
  // realloc kept in place: the first `kept` bytes, stamped as the block was before it (0: none).
  // A program that grows a block writes its new part, not again what it had written: glibc moves
  // a large block's pages with mremap, untouched, and rewriting every page of every grown block
  // cost a replay of perl 143 000 page writes that perl never made.
  template <Touch T>
  static void stamp(detail::Block& b, uint64_t extent, uint64_t kept = 0) {
    char* p = static_cast<char*>(b.ptr);
    uint64_t pattern = detail::pattern_of(b);
    const uint64_t touched = std::min(b.size, extent);
    if (T == Touch::full)  // every byte written; the marks below are what gets verified
      for (uint64_t offset = std::min(kept, touched) & ~uint64_t(7); offset < touched; offset += 8) {
        uint64_t word = pattern_at(pattern, offset);
        std::memcpy(p + offset, &word, std::min<uint64_t>(8, touched - offset));
      }
    for_each_mark<T>(touched, [&](uint64_t offset, uint64_t bytes) {
      // The block before the realloc had this mark: within its kept bytes, at its start or, for
      // `pages`, at a page boundary (`full` wrote every kept byte).
      const bool there = offset + bytes <= kept &&
                         (T == Touch::full || offset == 0 || (T == Touch::pages && offset % 4096 == 0));
      if (there) return;
      uint64_t word = pattern_at(pattern, offset);
      std::memcpy(p + offset, &word, bytes);
    });
  }

  // Checks the marks stamp<T>(b, extent) wrote.
  template <Touch T>
  void verify(Worker& w, const detail::Block& b, uint64_t extent, size_t index, const char* before) {
    if (!b.ptr) return;
    const char* p = static_cast<const char*>(b.ptr);
    uint64_t pattern = detail::pattern_of(b);
    for_each_mark<T>(std::min(b.size, extent), [&](uint64_t offset, uint64_t bytes) {
      uint64_t found = 0;
      std::memcpy(&found, p + offset, bytes);
      uint64_t expected = 0;
      uint64_t word = pattern_at(pattern, offset);
      std::memcpy(&expected, &word, bytes);
      if (found != expected)
        report(w, index, std::string("corrupted before ") + before + ": at offset " + std::to_string(offset) +
                             " expected " + hex(expected) + ", found " + hex(found));
    });
  }

  // At the block's ends only: reading a fresh page maps the zero page, and the stamp's write
  // then faults it a second time, a cost the program does not pay (git's calloc'd buffers: ~1600
  // extra faults per replay under glibc, none under mimalloc, which hands out reused memory).
  void check_zeroed(Worker& w, const void* p, uint64_t size, size_t index) {
    for_each_mark<Touch::ends>(size, [&](uint64_t offset, uint64_t bytes) {
      uint64_t found = 0;
      std::memcpy(&found, static_cast<const char*>(p) + offset, bytes);
      if (found) report(w, index, "calloc returned non-zero memory at offset " + std::to_string(offset));
    });
  }

  static std::string hex(uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
  }

  void report(const Worker& w, size_t index, std::string what) {
    if (problem_.found.exchange(true)) return;  // keep the first problem only
    problem_.stream = w.stream;
    problem_.op_index = index;
    problem_.what = std::move(what);
  }

  const Trace& trace_;
  Allocator& allocator_;
  Touch touch_;
  TimerCalibration timer_;
  std::unique_ptr<detail::Block[]> blocks_;
  std::unique_ptr<std::atomic<uint32_t>[]> handoffs_;
  std::unique_ptr<LiveCounter[]> live_;
  std::unique_ptr<Position[]> positions_;
  std::vector<Worker> workers_;
  std::unique_ptr<Sampler> sampler_;  // null: no timeline asked for
  Timeline no_timeline_;
  ReplayProblem problem_;
  std::vector<uint32_t> latency_[latency_group_count];
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable start_cv_, done_cv_;
  uint64_t round_ = 0;      // replays started; a change wakes the pool
  size_t finished_ = 0;     // pool threads done with this round
  bool quit_ = false;
  std::atomic<int> ready_{0};
  std::atomic<bool> go_{false};
};

}  // namespace memio

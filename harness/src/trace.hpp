// Loading a mem_io trace (workloads/FORMAT.md): parse, validate, decode into per-thread streams
// of compact operations that the replay can run without any lookup.
#pragma once

#include <sys/mman.h>

#include <cstdint>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace memio {

enum class OpKind : uint8_t { malloc_, calloc_, aligned_, realloc_, free_, free_sized_ };
constexpr int op_kind_count = 6;
const char* op_kind_name(OpKind kind);

constexpr uint64_t max_trace_size = uint64_t(1) << 40;
constexpr int max_trace_threads = 256;
constexpr uint64_t touch_page_size = 4096;  // the unit of a line's optional TOUCHED field

// One decoded operation. Blocks live in "slots" (dense indices into the replay's block table)
// instead of trace ids, so the replay needs no hash lookups. A slot is reused only by the thread
// that freed it, so an allocation never has to wait for another thread.
struct Op {
  // size (41 bits) | kind (3) | wait (1) | publish (1) | swap_calloc (1) | log2 alignment (5) |
  // old_extent (1) | new_extent (1)
  uint64_t packed;
  uint32_t slot;
  // wait: the slot's operation count this op waits for; calloc: the smaller of COUNT and SIZE
  // (the other one is in size; swap_calloc says SIZE is the one stored here).
  uint32_t aux;

  static constexpr int kind_shift = 41, wait_bit = 44, publish_bit = 45, swap_bit = 46,
                       align_shift = 47, old_extent_bit = 52, new_extent_bit = 53;
  uint64_t size() const { return packed & ((uint64_t(1) << kind_shift) - 1); }
  OpKind kind() const { return OpKind((packed >> kind_shift) & 7); }
  bool waits() const { return (packed >> wait_bit) & 1; }
  bool publishes() const { return (packed >> publish_bit) & 1; }
  bool calloc_swapped() const { return (packed >> swap_bit) & 1; }
  uint64_t alignment() const { return uint64_t(1) << ((packed >> align_shift) & 31); }
  // The program touched only part of a block (TOUCHED): the block this op frees or reallocates
  // (old), the block it returns (new). The extents are in ThreadStream::extents.
  bool has_old_extent() const { return (packed >> old_extent_bit) & 1; }
  bool has_new_extent() const { return (packed >> new_extent_bit) & 1; }
};
static_assert(sizeof(Op) <= 16, "decoded operations must stay compact");

// The decoder's memory lives in its own mappings, not in the allocator being measured. An
// allocator that kept it resident would inflate the baseline RSS and then give it back during
// the replay, making fragmentation come out too low. And glibc's malloc raises its mmap and trim
// thresholds when a block it had mmapped is freed: the decoder's growing buffers, freed through
// it, would start every replay with thresholds the recorded program never had, skipping the heap
// growth and trimming (and their page faults) that cost glibc most of its time in cmake.
template <class T>
struct MmapAllocator {
  using value_type = T;
  MmapAllocator() = default;
  template <class U>
  MmapAllocator(const MmapAllocator<U>&) {}
  T* allocate(size_t n) {
    void* p = mmap(nullptr, n * sizeof(T), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t n) { munmap(p, n * sizeof(T)); }
  bool operator==(const MmapAllocator&) const { return true; }
  bool operator!=(const MmapAllocator&) const { return false; }
};
template <class T>
using MappedVector = std::vector<T, MmapAllocator<T>>;

// A growable array of ops in its own mapping: it grows with mremap (no copying) and asks for
// huge pages, because a page fault per 4 KiB would otherwise dominate loading.
class OpArray {
 public:
  OpArray() = default;
  OpArray(OpArray&& other) noexcept { swap(other); }
  OpArray& operator=(OpArray&& other) noexcept {
    swap(other);
    return *this;
  }
  ~OpArray();
  void push_back(const Op& op) {
    if (size_ == capacity_) grow();
    data_[size_++] = op;
  }
  Op& operator[](size_t i) { return data_[i]; }
  const Op& operator[](size_t i) const { return data_[i]; }
  const Op* data() const { return data_; }
  size_t size() const { return size_; }
  const Op* begin() const { return data_; }
  const Op* end() const { return data_ + size_; }

 private:
  void grow();
  void swap(OpArray& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    std::swap(capacity_, other.capacity_);
  }
  Op* data_ = nullptr;
  size_t size_ = 0, capacity_ = 0;
};

// Ops of one thread are replayed in chunks of this many; a chunk is the unit of the skew check.
constexpr size_t replay_chunk_ops = 64;

// How much of a block the replay touches: the first `bytes` (a whole number of pages, or the
// block's size if smaller). key = 2 × the op's index in its stream, + 1 for the op's new block.
struct TouchExtent {
  uint64_t key;
  uint64_t bytes;
};

struct ThreadStream {
  int trace_thread;          // THREAD as written in the trace
  OpArray ops;
  uint64_t op_counts[op_kind_count] = {};
  // Trace positions (0-based index over all threads' ops), which bound how far apart the
  // replay threads may drift: of the first op of every chunk, and of every op that waits.
  MappedVector<uint64_t> chunk_positions;
  MappedVector<uint64_t> wait_positions;
  // In op order: the extent of every op's old block, then of its new one, as its flags say.
  MappedVector<TouchExtent> extents;
};

struct Trace {
  std::string path;
  std::string workload;      // file name without .trace / .trace.gz
  std::vector<ThreadStream> threads;
  uint32_t slot_count = 0;
  uint64_t op_count = 0;
  uint64_t line_count = 0;
  uint64_t ideal_bytes = 0;  // peak of live requested bytes, in trace order
};

// A bad trace: what() is "FILE:LINE: problem".
struct TraceError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string workload_name(const std::string& path);
Trace load_trace(const std::string& path);

// Re-reads the trace to find the line and block id of a thread's op_index-th operation, for
// error messages (the decoded form keeps neither).
struct OpLocation {
  uint64_t line = 0;
  uint64_t block_id = 0;
};
OpLocation locate_op(const std::string& path, int trace_thread, uint64_t op_index);

}  // namespace memio

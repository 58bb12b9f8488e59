// Allocator adapters. The replay engine is a template over these, so each call is a direct
// (inlinable) call, not an indirect one: the harness's own cost stays near zero.
// Every adapter has malloc, calloc, aligned, realloc (given the block's current size too, which
// only the bump allocator needs), free, free_sized and after_replay (called once all blocks of a
// replay are freed, outside timing).
#pragma once

#include <dlfcn.h>
#include <sys/mman.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "memory.h"

// glibc before 2.39 lacks free_sized; an LD_PRELOADed allocator may provide it.
extern "C" void free_sized(void* ptr, size_t size) __attribute__((weak));

namespace memio {

// The file of the shared object (or program) that defines `symbol` for this process, as the
// dynamic linker binds calls to it: what an LD_PRELOADed library really replaced. "" if none.
inline std::string library_serving(const char* symbol) {
  void* address = dlsym(RTLD_DEFAULT, symbol);
  Dl_info info;
  if (!address || !dladdr(address, &info) || !info.dli_fname) return "";
  return info.dli_fname;
}

// The C library's malloc, or whatever LD_PRELOAD put in its place.
struct SystemAllocator {
  void* malloc(size_t size) { return std::malloc(size); }
  void* calloc(size_t count, size_t size) { return std::calloc(count, size); }
  void* aligned(size_t alignment, size_t size) { return std::aligned_alloc(alignment, size); }
  void* realloc(void* ptr, size_t, size_t size) { return std::realloc(ptr, size); }
  void free(void* ptr) { std::free(ptr); }
  void free_sized(void* ptr, size_t size) {
    if (::free_sized) ::free_sized(ptr, size); else std::free(ptr);
  }
  void after_replay() {}
};

// mem_io linked in and called through its own API.
struct MemIoAllocator {
  void* malloc(size_t size) { return mem_io_malloc(size); }
  void* calloc(size_t count, size_t size) { return mem_io_calloc(count, size); }
  void* aligned(size_t alignment, size_t size) { return mem_io_aligned_alloc(alignment, size); }
  void* realloc(void* ptr, size_t, size_t size) { return mem_io_realloc(ptr, size); }
  void free(void* ptr) { mem_io_free(ptr); }
  void free_sized(void* ptr, size_t size) { mem_io_free_sized(ptr, size); }
  void after_replay() {}
};

// Hands out memory from one big reservation and never reuses it; free does nothing. Replaying
// against it measures what the harness itself costs per operation.
class BumpAllocator {
 public:
  BumpAllocator() {
    for (size_t size = size_t(1) << 36; size >= (size_t(1) << 30) && !base_; size /= 2) {
      void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (p != MAP_FAILED) {
        base_ = static_cast<char*>(p);
        capacity_ = size;
      }
    }
  }
  ~BumpAllocator() {
    if (base_) munmap(base_, capacity_);
  }
  BumpAllocator(const BumpAllocator&) = delete;
  BumpAllocator& operator=(const BumpAllocator&) = delete;

  // The fast path is small enough to inline into the replay loop; blocks are 16-byte aligned
  // because every size is rounded up to 16. Nothing is written, so with touching off the memory
  // is never faulted in.
  __attribute__((always_inline)) void* malloc(size_t size) {
    Chunk& c = chunk_;
    size_t rounded = (size + 15) & ~size_t(15);
    if (__builtin_expect(c.generation == generation_.load(std::memory_order_relaxed) &&
                             size_t(c.end - c.cursor) >= rounded, 1)) {
      char* block = c.cursor;
      c.cursor += rounded;
      return block;
    }
    return aligned(16, size);
  }
  void* calloc(size_t count, size_t size) {
    return count && size > SIZE_MAX / count ? nullptr : malloc(count * size);  // fresh pages are zero
  }
  __attribute__((noinline)) void* aligned(size_t alignment, size_t size) {
    if (alignment < 16) alignment = 16;
    if (size > capacity_) return nullptr;
    size_t need = size + alignment + 15;
    Chunk& c = chunk_;
    if (c.generation != generation_.load(std::memory_order_relaxed) || size_t(c.end - c.cursor) < need) {
      if (!refill(need)) return nullptr;
    }
    uintptr_t start = (reinterpret_cast<uintptr_t>(c.cursor) + alignment - 1) & ~uintptr_t(alignment - 1);
    char* block = reinterpret_cast<char*>(start);
    c.cursor = block + ((size + 15) & ~size_t(15));
    return block;
  }
  void* realloc(void* ptr, size_t old_size, size_t size) {
    void* fresh = malloc(size);
    if (fresh && ptr) std::memcpy(fresh, ptr, old_size < size ? old_size : size);
    return fresh;
  }
  void free(void*) {}
  void free_sized(void*, size_t) {}
  // Gives the pages back and starts over; threads' chunks become stale via the generation.
  void after_replay() {
    size_t used = used_.exchange(0);
    if (used) madvise(base_, used < capacity_ ? used : capacity_, MADV_DONTNEED);
    generation_.store(next_generation());
  }

 private:
  static constexpr size_t chunk_size = size_t(1) << 20;
  struct Chunk {
    char* cursor = nullptr;
    char* end = nullptr;
    uint64_t generation = 0;
  };
  bool refill(size_t need) {
    size_t take = need > chunk_size ? need : chunk_size;
    size_t offset = used_.fetch_add(take);
    if (!base_ || offset + take > capacity_) return false;
    chunk_.cursor = base_ + offset;
    chunk_.end = chunk_.cursor + take;
    chunk_.generation = generation_.load();
    return true;
  }
  char* base_ = nullptr;
  size_t capacity_ = 0;
  std::atomic<size_t> used_{0};
  // Unique across instances: a thread's chunk (thread_local, shared by every instance) must not
  // look current to an instance other than the one that filled it.
  static uint64_t next_generation() {
    static std::atomic<uint64_t> last{0};
    return last.fetch_add(1) + 1;
  }
  std::atomic<uint64_t> generation_{next_generation()};
  static thread_local Chunk chunk_;
};

inline thread_local BumpAllocator::Chunk BumpAllocator::chunk_;

}  // namespace memio

// The harness's own heap: every operator new and delete of mem_io_replay (its own objects, Google
// Benchmark's, the C++ library's) is served here, from private mappings, never by the malloc
// under test. Through glibc's malloc those blocks shared the main arena with the replayed ones:
// their number and sizes follow the command line (the trace's path, the label, --threads), and
// they moved where glibc grows and trims its heap, so a cold replay of git's trace took 12 308 or
// 13 917 page faults by the length of the trace's path alone. The allocator is simple: power-of-two
// classes carved from 4 MiB chunks and kept on free lists, one mapping per block above 1 MiB,
// a 16-byte header before each block. Not built into sanitizer builds, whose runtime replaces
// malloc and operator new alike.
#include <sys/mman.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>

namespace {

constexpr size_t header_bytes = 16;  // keeps blocks 16-byte aligned, as malloc's are
constexpr int min_class = 5, max_class = 20;  // blocks of 32 B .. 1 MiB, header included
constexpr size_t chunk_bytes = size_t(4) << 20;

// Right before each block: which class it came from (or, above max_class, the bytes of its own
// mapping) and how far the block's start is from what was carved or mapped (more than the header
// for over-aligned blocks).
struct Header {
  uint64_t class_or_mapping;
  uint64_t offset;
};
static_assert(sizeof(Header) == header_bytes, "the header must keep blocks aligned");

struct FreeBlock {
  FreeBlock* next;
};

class OwnHeap {
 public:
  void* allocate(size_t size, size_t alignment) {
    const size_t extra = alignment > header_bytes ? alignment : 0;  // room to align within
    if (size > SIZE_MAX / 4 || alignment > SIZE_MAX / 4) return nullptr;
    if (size + header_bytes + extra > (size_t(1) << max_class)) return allocate_mapping(size, alignment);
    int k = min_class;
    while ((size_t(1) << k) < size + header_bytes + extra) ++k;
    char* raw = take(k);
    return raw ? place(raw, k, alignment) : nullptr;
  }

  void release(void* p) {
    if (!p) return;
    const Header* h = static_cast<const Header*>(p) - 1;
    char* raw = static_cast<char*>(p) - h->offset;
    if (h->class_or_mapping > uint64_t(max_class)) {
      munmap(raw, h->class_or_mapping);
      return;
    }
    lock();
    FreeBlock* block = reinterpret_cast<FreeBlock*>(raw);
    block->next = free_[h->class_or_mapping];
    free_[h->class_or_mapping] = block;
    unlock();
  }

 private:
  static void* place(char* raw, uint64_t class_or_mapping, size_t alignment) {
    uintptr_t start = reinterpret_cast<uintptr_t>(raw) + header_bytes;
    if (alignment > header_bytes) start = (start + alignment - 1) & ~uintptr_t(alignment - 1);
    Header* h = reinterpret_cast<Header*>(start) - 1;
    h->class_or_mapping = class_or_mapping;
    h->offset = start - reinterpret_cast<uintptr_t>(raw);
    return reinterpret_cast<void*>(start);
  }

  void* allocate_mapping(size_t size, size_t alignment) {
    const size_t extra = alignment > header_bytes ? alignment : 0;
    const size_t bytes = (size + header_bytes + extra + 4095) & ~size_t(4095);
    void* raw = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return raw == MAP_FAILED ? nullptr : place(static_cast<char*>(raw), bytes, alignment);
  }

  char* take(int k) {
    const size_t bytes = size_t(1) << k;
    lock();
    char* raw = reinterpret_cast<char*>(free_[k]);
    if (raw) {
      free_[k] = free_[k]->next;
    } else {
      if (size_t(chunk_end_ - chunk_next_) < bytes) {  // the rest of the chunk is left unused
        void* chunk = mmap(nullptr, chunk_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (chunk == MAP_FAILED) {
          unlock();
          return nullptr;
        }
        chunk_next_ = static_cast<char*>(chunk);
        chunk_end_ = chunk_next_ + chunk_bytes;
      }
      raw = chunk_next_;
      chunk_next_ += bytes;
    }
    unlock();
    return raw;
  }

  void lock() {
    while (busy_.test_and_set(std::memory_order_acquire)) {
    }
  }
  void unlock() { busy_.clear(std::memory_order_release); }

  std::atomic_flag busy_ = ATOMIC_FLAG_INIT;
  FreeBlock* free_[max_class + 1] = {};
  char* chunk_next_ = nullptr;
  char* chunk_end_ = nullptr;
};

// Constant-initialised, so it works for allocations made before any constructor runs.
OwnHeap heap;

void* allocate_or_throw(size_t size, size_t alignment) {
  void* p = heap.allocate(size, alignment);
  if (!p) throw std::bad_alloc();
  return p;
}

}  // namespace

void* operator new(size_t size) { return allocate_or_throw(size, 0); }
void* operator new[](size_t size) { return allocate_or_throw(size, 0); }
void* operator new(size_t size, const std::nothrow_t&) noexcept { return heap.allocate(size, 0); }
void* operator new[](size_t size, const std::nothrow_t&) noexcept { return heap.allocate(size, 0); }
void* operator new(size_t size, std::align_val_t alignment) { return allocate_or_throw(size, size_t(alignment)); }
void* operator new[](size_t size, std::align_val_t alignment) { return allocate_or_throw(size, size_t(alignment)); }
void* operator new(size_t size, std::align_val_t alignment, const std::nothrow_t&) noexcept {
  return heap.allocate(size, size_t(alignment));
}
void* operator new[](size_t size, std::align_val_t alignment, const std::nothrow_t&) noexcept {
  return heap.allocate(size, size_t(alignment));
}

void operator delete(void* p) noexcept { heap.release(p); }
void operator delete[](void* p) noexcept { heap.release(p); }
void operator delete(void* p, size_t) noexcept { heap.release(p); }
void operator delete[](void* p, size_t) noexcept { heap.release(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { heap.release(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { heap.release(p); }
void operator delete(void* p, std::align_val_t) noexcept { heap.release(p); }
void operator delete[](void* p, std::align_val_t) noexcept { heap.release(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { heap.release(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { heap.release(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { heap.release(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { heap.release(p); }

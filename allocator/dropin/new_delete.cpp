// The C++ half of libmem_io.so: every replaceable global operator new and
// delete, so that C++ programs allocate from mem_io even where libstdc++ would
// otherwise call its own operator new (which calls malloc, but sized and
// aligned deletes must reach mem_io's sized and aligned frees).
//
// The throwing forms follow the standard's loop: try, and on failure call the
// installed new_handler and retry; throw std::bad_alloc when there is none.
// The nothrow forms run the same loop and turn the exception into nullptr.
#include <cstddef>
#include <new>

extern "C" {
#include "memory.h"
}

#define MEM_IO_EXPORTED __attribute__((visibility("default")))

namespace {

void *allocate_slow(std::size_t size, std::size_t alignment)
{
    for (;;) {
        void *block = alignment ? mem_io_memalign(alignment, size) : mem_io_malloc(size);
        if (block)
            return block;
        std::new_handler handler = std::get_new_handler();
        if (!handler)
            throw std::bad_alloc();
        handler();
    }
}

inline void *allocate(std::size_t size)
{
    void *block = mem_io_malloc(size);
    return block ? block : allocate_slow(size, 0);
}

inline void *allocate_aligned(std::size_t size, std::align_val_t alignment)
{
    void *block = mem_io_memalign(static_cast<std::size_t>(alignment), size);
    return block ? block : allocate_slow(size, static_cast<std::size_t>(alignment));
}

void *allocate_or_null(std::size_t size, std::size_t alignment) noexcept
{
    try {
        return allocate_slow(size, alignment);
    } catch (...) {
        return nullptr;
    }
}

} // namespace

MEM_IO_EXPORTED void *operator new(std::size_t size) { return allocate(size); }
MEM_IO_EXPORTED void *operator new[](std::size_t size) { return allocate(size); }
MEM_IO_EXPORTED void *operator new(std::size_t size, const std::nothrow_t &) noexcept
{
    return allocate_or_null(size, 0);
}
MEM_IO_EXPORTED void *operator new[](std::size_t size, const std::nothrow_t &) noexcept
{
    return allocate_or_null(size, 0);
}
MEM_IO_EXPORTED void *operator new(std::size_t size, std::align_val_t alignment)
{
    return allocate_aligned(size, alignment);
}
MEM_IO_EXPORTED void *operator new[](std::size_t size, std::align_val_t alignment)
{
    return allocate_aligned(size, alignment);
}
MEM_IO_EXPORTED void *operator new(std::size_t size, std::align_val_t alignment,
                                   const std::nothrow_t &) noexcept
{
    return allocate_or_null(size, static_cast<std::size_t>(alignment));
}
MEM_IO_EXPORTED void *operator new[](std::size_t size, std::align_val_t alignment,
                                     const std::nothrow_t &) noexcept
{
    return allocate_or_null(size, static_cast<std::size_t>(alignment));
}

MEM_IO_EXPORTED void operator delete(void *block) noexcept { mem_io_free(block); }
MEM_IO_EXPORTED void operator delete[](void *block) noexcept { mem_io_free(block); }
MEM_IO_EXPORTED void operator delete(void *block, const std::nothrow_t &) noexcept
{
    mem_io_free(block);
}
MEM_IO_EXPORTED void operator delete[](void *block, const std::nothrow_t &) noexcept
{
    mem_io_free(block);
}
MEM_IO_EXPORTED void operator delete(void *block, std::size_t size) noexcept
{
    mem_io_free_sized(block, size);
}
MEM_IO_EXPORTED void operator delete[](void *block, std::size_t size) noexcept
{
    mem_io_free_sized(block, size);
}
// Without a size, an aligned block is freed like any other.
MEM_IO_EXPORTED void operator delete(void *block, std::align_val_t) noexcept
{
    mem_io_free(block);
}
MEM_IO_EXPORTED void operator delete[](void *block, std::align_val_t) noexcept
{
    mem_io_free(block);
}
MEM_IO_EXPORTED void operator delete(void *block, std::align_val_t,
                                     const std::nothrow_t &) noexcept
{
    mem_io_free(block);
}
MEM_IO_EXPORTED void operator delete[](void *block, std::align_val_t,
                                       const std::nothrow_t &) noexcept
{
    mem_io_free(block);
}
MEM_IO_EXPORTED void operator delete(void *block, std::size_t size,
                                     std::align_val_t alignment) noexcept
{
    mem_io_free_aligned_sized(block, static_cast<std::size_t>(alignment), size);
}
MEM_IO_EXPORTED void operator delete[](void *block, std::size_t size,
                                       std::align_val_t alignment) noexcept
{
    mem_io_free_aligned_sized(block, static_cast<std::size_t>(alignment), size);
}

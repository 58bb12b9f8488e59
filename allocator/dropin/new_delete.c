/* The C++ half of libmem_io.so, written in C under the Itanium-mangled names:
 * every replaceable global operator new and delete but the plain ones, which
 * exports.c answers with malloc's and free's fast paths inline (they come here
 * when those have no block). Being C, the library
 * needs no libstdc++, so preloading it into a C program (bash, sqlite3…) maps
 * no C++ runtime (~0.9 MiB of RSS per process); only a C++ program, which has
 * libstdc++ loaded anyway, ever calls these.
 *
 * Throwing forms follow the standard's loop: on failure call the installed
 * std::new_handler and retry; with none, throw std::bad_alloc through
 * libstdc++'s own std::__throw_bad_alloc(). Both are looked up by name on the
 * failure path only (dlsym there is fine: nothing is locked, and it still finds
 * a libstdc++ that a C program dlopen()ed later). This file is compiled with
 * -fexceptions so the exception unwinds through these frames.
 * Nothrow forms return NULL on failure without calling the new_handler: a
 * handler may throw, and C cannot catch it. */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>

#include "memory.h"

#define MEM_IO_EXPORTED __attribute__((used, visibility("default")))

typedef void (*new_handler_function)(void);

static void *try_allocate(size_t size, size_t alignment)
{
    return alignment ? mem_io_memalign(alignment, size) : mem_io_malloc(size);
}

__attribute__((noinline)) static void *allocate_or_throw(size_t size, size_t alignment)
{
    for (;;) {
        void *block = try_allocate(size, alignment);
        if (block)
            return block;
        new_handler_function (*get_new_handler)(void) =
            (new_handler_function(*)(void))dlsym(RTLD_DEFAULT, "_ZSt15get_new_handlerv");
        new_handler_function handler = get_new_handler ? get_new_handler() : NULL;
        if (handler) {
            handler();
            continue;
        }
        void (*throw_bad_alloc)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "_ZSt17__throw_bad_allocv");
        if (throw_bad_alloc)
            throw_bad_alloc();
        abort(); /* no C++ runtime in the process: nothing could catch it */
    }
}

static inline void *allocate(size_t size, size_t alignment)
{
    void *block = try_allocate(size, alignment);
    return block ? block : allocate_or_throw(size, alignment);
}

/* operator new(size_t) and new[](size_t) when malloc's fast path has no block
 * (exports.c): not exported */
__attribute__((visibility("hidden"))) void *mem_io_operator_new_slow(size_t size)
{
    return allocate(size, 0);
}

/* the align_val_t forms of operator new and new[] */
MEM_IO_EXPORTED void *_ZnwmSt11align_val_t(size_t size, size_t alignment)
{
    return allocate(size, alignment);
}
MEM_IO_EXPORTED void *_ZnamSt11align_val_t(size_t size, size_t alignment)
{
    return allocate(size, alignment);
}

/* nothrow forms: the std::nothrow_t argument is an unused reference */
MEM_IO_EXPORTED void *_ZnwmRKSt9nothrow_t(size_t size, const void *nothrow)
{
    (void)nothrow;
    return try_allocate(size, 0);
}
MEM_IO_EXPORTED void *_ZnamRKSt9nothrow_t(size_t size, const void *nothrow)
{
    (void)nothrow;
    return try_allocate(size, 0);
}
MEM_IO_EXPORTED void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t size, size_t alignment,
                                                          const void *nothrow)
{
    (void)nothrow;
    return try_allocate(size, alignment);
}
MEM_IO_EXPORTED void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t size, size_t alignment,
                                                          const void *nothrow)
{
    (void)nothrow;
    return try_allocate(size, alignment);
}

/* operator delete: nothrow, and aligned without a size, all a plain free (the
 * plain ones are aliases of free, exports.c) */
MEM_IO_EXPORTED void _ZdlPvRKSt9nothrow_t(void *block, const void *nothrow)
{
    (void)nothrow;
    mem_io_free(block);
}
MEM_IO_EXPORTED void _ZdaPvRKSt9nothrow_t(void *block, const void *nothrow)
{
    (void)nothrow;
    mem_io_free(block);
}
MEM_IO_EXPORTED void _ZdlPvSt11align_val_t(void *block, size_t alignment)
{
    (void)alignment;
    mem_io_free(block);
}
MEM_IO_EXPORTED void _ZdaPvSt11align_val_t(void *block, size_t alignment)
{
    (void)alignment;
    mem_io_free(block);
}
MEM_IO_EXPORTED void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *block, size_t alignment,
                                                          const void *nothrow)
{
    (void)alignment, (void)nothrow;
    mem_io_free(block);
}
MEM_IO_EXPORTED void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *block, size_t alignment,
                                                          const void *nothrow)
{
    (void)alignment, (void)nothrow;
    mem_io_free(block);
}

/* sized deletes go to mem_io's sized frees */
MEM_IO_EXPORTED void _ZdlPvm(void *block, size_t size) { mem_io_free_sized(block, size); }
MEM_IO_EXPORTED void _ZdaPvm(void *block, size_t size) { mem_io_free_sized(block, size); }
MEM_IO_EXPORTED void _ZdlPvmSt11align_val_t(void *block, size_t size, size_t alignment)
{
    mem_io_free_aligned_sized(block, alignment, size);
}
MEM_IO_EXPORTED void _ZdaPvmSt11align_val_t(void *block, size_t size, size_t alignment)
{
    mem_io_free_aligned_sized(block, alignment, size);
}

/* Which names the drop-in tests call.
 *
 * Release build (MEM_IO_TEST_EXPORTED_NAMES): the glibc names, resolved to
 * libmem_io.so because the test is linked against it, so the tests prove the
 * exports themselves. Sanitizer builds: ASan and TSan intercept malloc and
 * friends, so the tests call mem_io's own API from the static library. */
#ifndef MEM_IO_API_UNDER_TEST_H
#define MEM_IO_API_UNDER_TEST_H

#include <stddef.h>
#include "memory.h"

#ifdef MEM_IO_TEST_EXPORTED_NAMES
#include <malloc.h>
#include <stdlib.h>
#define api_malloc malloc
#define api_free free
#define api_calloc calloc
#define api_realloc realloc
#define api_posix_memalign posix_memalign
#define api_aligned_alloc aligned_alloc
#define api_memalign memalign
#define api_usable_size malloc_usable_size
#define API_NAMES "exported glibc names in libmem_io.so"
#else
#define api_malloc mem_io_malloc
#define api_free mem_io_free
#define api_calloc mem_io_calloc
#define api_realloc mem_io_realloc
#define api_posix_memalign mem_io_posix_memalign
#define api_aligned_alloc mem_io_aligned_alloc
#define api_memalign mem_io_memalign
#define api_usable_size mem_io_usable_size
#define API_NAMES "mem_io_* API of the static library"
#endif

/* Hides where a pointer came from, so the compiler neither warns about nor
 * optimises away the deliberate misuse the tests commit. */
static inline void *opaque_pointer(void *ptr)
{
    __asm__ volatile("" : "+r"(ptr));
    return ptr;
}

static inline size_t opaque_size(size_t size)
{
    __asm__ volatile("" : "+r"(size));
    return size;
}

#endif

/* The C half of libmem_io.so: glibc's malloc interface, answered by mem_io.
 *
 * This translation unit includes the core's single-file build (memory.c) so
 * that the exported names can be ELF aliases of the mem_io_* functions: a
 * program calling malloc() lands directly in mem_io_malloc(), with no extra
 * call or PLT hop. Functions whose glibc signature or semantics differ from
 * the core's (valloc, pvalloc, malloc_usable_size) are small wrappers.
 *
 * The set is what glibc's manual lists under "Replacing malloc", plus the
 * __libc_* names some programs and libraries call to reach "the real malloc"
 * (they must reach mem_io too, or a block would cross allocators).
 * reallocarray and strdup are deliberately NOT exported: glibc's versions
 * call malloc/realloc through the PLT, so they already land here. */
#include "memory.c"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MEM_IO_EXPORT_ALIAS(name, target) \
    extern __typeof__(target) name __attribute__((alias(#target), used, visibility("default")))
#define MEM_IO_EXPORTED __attribute__((used, visibility("default")))

MEM_IO_EXPORT_ALIAS(malloc, mem_io_malloc);
MEM_IO_EXPORT_ALIAS(free, mem_io_free);
MEM_IO_EXPORT_ALIAS(calloc, mem_io_calloc);
MEM_IO_EXPORT_ALIAS(realloc, mem_io_realloc);
MEM_IO_EXPORT_ALIAS(aligned_alloc, mem_io_aligned_alloc);
MEM_IO_EXPORT_ALIAS(posix_memalign, mem_io_posix_memalign);
MEM_IO_EXPORT_ALIAS(memalign, mem_io_memalign);
MEM_IO_EXPORT_ALIAS(free_sized, mem_io_free_sized);
MEM_IO_EXPORT_ALIAS(free_aligned_sized, mem_io_free_aligned_sized);
MEM_IO_EXPORT_ALIAS(cfree, mem_io_free); /* obsolete, still imported by old binaries */

/* operator new(size_t) and new[](size_t): a C++ program's malloc (larson's every
 * allocation), with malloc's fast path inline, which a call to malloc cost 7
 * instructions more; anything else goes to new_delete.c, which retries through
 * the std::new_handler and throws std::bad_alloc. operator delete and delete[]
 * are free itself. */
void *mem_io_operator_new_slow(size_t size);
MEM_IO_EXPORTED void *_Znwm(size_t size)
{
    if (likely(size <= SMALL_MAX)) {
        void *block = alloc_small_fast(tls_heap, size);
        if (likely(block != NULL))
            return block;
    }
    return mem_io_operator_new_slow(size);
}
MEM_IO_EXPORT_ALIAS(_Znam, _Znwm);
MEM_IO_EXPORT_ALIAS(_ZdlPv, mem_io_free);
MEM_IO_EXPORT_ALIAS(_ZdaPv, mem_io_free);

/* glibc's prototype takes a non-const pointer; the core's takes const. */
MEM_IO_EXPORTED size_t malloc_usable_size(void *ptr)
{
    return mem_io_usable_size(ptr);
}

static size_t system_page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE); /* reads the auxv; never allocates */
}

MEM_IO_EXPORTED void *valloc(size_t size)
{
    return mem_io_memalign(system_page_size(), size);
}

/* glibc's pvalloc rounds the size up to whole pages; pvalloc(0) is one page. */
MEM_IO_EXPORTED void *pvalloc(size_t size)
{
    size_t page = system_page_size();
    size_t rounded = size == 0 ? page : (size + page - 1) & ~(page - 1);
    if (rounded < size) { /* the round-up wrapped around */
        errno = ENOMEM;
        return NULL;
    }
    return mem_io_memalign(page, rounded);
}

MEM_IO_EXPORT_ALIAS(__libc_malloc, mem_io_malloc);
MEM_IO_EXPORT_ALIAS(__libc_free, mem_io_free);
MEM_IO_EXPORT_ALIAS(__libc_calloc, mem_io_calloc);
MEM_IO_EXPORT_ALIAS(__libc_realloc, mem_io_realloc);
MEM_IO_EXPORT_ALIAS(__libc_memalign, mem_io_memalign);
MEM_IO_EXPORTED void *__libc_valloc(size_t size)
{
    return valloc(size);
}

MEM_IO_EXPORTED void *__libc_pvalloc(size_t size)
{
    return pvalloc(size);
}

/* MEM_IO_STATS=1: one line of counters on stderr when the process exits, so
 * that a user (and the tests) can see that mem_io really served a program.
 * MEM_IO_STATS=/absolute/path appends the line to that file instead: many
 * programs (coreutils among them) close stderr before exit, and a file
 * collects the lines of every process of a pipeline or a build in one place.
 * Built with the core's formatter (format.c): stdio could allocate during exit. */
__attribute__((destructor)) static void print_stats_at_exit(void)
{
    const char *setting = getenv("MEM_IO_STATS");
    int fd;
    if (setting && strcmp(setting, "1") == 0)
        fd = STDERR_FILENO;
    else if (setting && setting[0] == '/')
        fd = open(setting, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    else
        return;
    if (fd < 0)
        return;
    struct mem_io_stats stats;
    mem_io_get_stats(&stats);
    /* The line (under 400 bytes) fits the buffer, so out_flush writes it at once:
     * one write, which O_APPEND keeps whole. */
    struct out_buf line = {.fd = fd};
    out_str(&line, "mem_io: stats:");
    out_label_dec(&line, " pid=", (uint64_t)getpid());
    out_label_dec(&line, " malloc_calls=", stats.malloc_calls);
    out_label_dec(&line, " calloc_calls=", stats.calloc_calls);
    out_label_dec(&line, " realloc_calls=", stats.realloc_calls);
    out_label_dec(&line, " aligned_calls=", stats.aligned_calls);
    out_label_dec(&line, " free_calls=", stats.free_calls);
    out_label_dec(&line, " errors=", stats.errors);
    out_label_dec(&line, " live_bytes=", stats.live_bytes);
    out_label_dec(&line, " peak_live_bytes=", stats.peak_live_bytes);
    out_label_dec(&line, " peak_os_bytes=", stats.peak_os_bytes);
    out_str(&line, "\n");
    out_flush(&line);
    if (fd != STDERR_FILENO)
        close(fd);
}

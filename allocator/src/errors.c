/* Misuse reports: one line on stderr, a count in the stats, then abort() unless the error
 * mode is continue, in which case the caller ignores the bad call. errno is kept: free's
 * paths report without saving it. */
#include "internal.h"

static _Atomic uint64_t error_count;

static void report_error(const char *function, const char *problem, const void *ptr)
{
    int saved = errno;
    struct out_buf out = {.fd = 2};
    out_str(&out, "mem_io: ");
    out_str(&out, function);
    out_str(&out, "(): ");
    out_str(&out, problem);
    out_str(&out, " (ptr=");
    out_hex(&out, (uintptr_t)ptr);
    out_str(&out, ")\n");
    out_flush(&out);
    atomic_fetch_add(&error_count, 1);
    if (atomic_load(&error_mode) == MEM_IO_ERRORS_ABORT)
        abort();
    errno = saved;
}

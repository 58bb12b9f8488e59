/* Run-time options, read from the environment once at initialisation (getenv does not
 * allocate). MEM_IO_ON_ERROR=abort|continue picks what a detected misuse does;
 * MEM_IO_DECAY_MS is how long freed memory waits before it goes back to the OS (for small
 * pages the least: pages.c lengthens it while pages come back too soon after);
 * MEM_IO_HUGE_PAGES=0 keeps every range in 4 KiB pages; MEM_IO_SECURE=1|0 turns secure mode
 * (secure.c) on or off, whose default the build picks (MEM_IO_SECURE_DEFAULT). */
#include "internal.h"

static _Atomic int error_mode = MEM_IO_ERRORS_ABORT;
#ifdef MEM_IO_INJECT_DECAY_MS  /* the gate's proof of its fault count (CMake option); unset normally */
static uint64_t decay_ms = MEM_IO_INJECT_DECAY_MS;
#else
static uint64_t decay_ms = 1000;
#endif
static bool huge_pages = true;
#ifndef MEM_IO_SECURE_DEFAULT
#define MEM_IO_SECURE_DEFAULT 0
#endif
static bool secure_mode;  /* fixed before the first block exists */

static void options_init(void)
{
    const char *mode = getenv("MEM_IO_ON_ERROR");
    if (mode && strcmp(mode, "continue") == 0)
        atomic_store(&error_mode, MEM_IO_ERRORS_CONTINUE);
    const char *decay = getenv("MEM_IO_DECAY_MS");
    if (decay && *decay) {
        uint64_t v = 0;
        for (; *decay >= '0' && *decay <= '9'; decay++)
            v = v * 10 + (uint64_t)(*decay - '0');
        decay_ms = v;
    }
    const char *huge = getenv("MEM_IO_HUGE_PAGES");
    if (huge && strcmp(huge, "0") == 0)
        huge_pages = false;
    const char *secure = getenv("MEM_IO_SECURE");
    secure_mode = secure && *secure ? strcmp(secure, "0") != 0 : MEM_IO_SECURE_DEFAULT;
}

void mem_io_set_error_mode(enum mem_io_error_mode mode)
{
    atomic_store(&error_mode, mode == MEM_IO_ERRORS_CONTINUE ? MEM_IO_ERRORS_CONTINUE
                                                             : MEM_IO_ERRORS_ABORT);
}

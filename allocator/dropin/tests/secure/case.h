/* What every secure-mode case program shares. Each program is one case, run under LD_PRELOAD
 * of libmem_io.so with MEM_IO_SECURE=1 by run_case.py, which classifies how it ended. */
#ifndef SECURE_CASE_H
#define SECURE_CASE_H
#define _GNU_SOURCE
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Hides where a pointer came from, so the compiler cannot drop or fold a deliberate misuse. */
static inline void *opaque(void *p)
{
    __asm__ volatile("" : "+r"(p));
    return p;
}

/* Frees enough other blocks of every kind that a quarantined block has left the quarantine:
 * what a program that goes on allocating does. */
static inline void churn(void)
{
    static const size_t sizes[] = {16, 100, 1000, 40000, 200000};
    for (int round = 0; round < 2000; round++)
        free(opaque(malloc(sizes[round % 5])));
}

/* A normal case that found something wrong: exit 1 with one line (not mem_io's). */
static inline void expect(int ok, const char *what)
{
    if (!ok) {
        printf("case failed: %s\n", what);
        exit(1);
    }
}
/* Grows a block of `start` bytes with realloc `steps` times by 1 to `max_pages` pages (and a few
 * bytes more, so sizes are not page multiples): each time the caller's bytes must be kept, every
 * byte past them zero (also where the old canary, guard page or a neighbour's header lay), and
 * writes up to the new end allowed. Exits 0 when all holds. */
static inline int grow_by_realloc_expecting_zero_tail(size_t start, int steps, int max_pages)
{
    size_t n = start;
    unsigned char *p = malloc(n);
    expect(p != NULL, "malloc returned NULL");
    memset(p, 0x5a, n);
    for (int step = 0; step < steps; step++) {
        size_t grown = n + 4096 * (size_t)(1 + step % max_pages) + (size_t)step * 13;
        p = realloc(p, grown);
        expect(p != NULL, "realloc returned NULL");
        for (size_t i = 0; i < n; i++)
            expect(p[i] == 0x5a, "realloc lost the caller's bytes");
        for (size_t i = n; i < grown; i++)
            expect(p[i] == 0, "stale data past the old end after realloc");
        memset(p + n, 0x5a, grown - n);
        n = grown;
    }
    free(p);
    return 0;
}
#endif

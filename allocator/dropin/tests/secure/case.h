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
#endif

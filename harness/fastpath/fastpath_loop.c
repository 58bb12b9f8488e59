/* fastpath_loop: PAIRS malloc+free pairs of SIZE bytes and nothing else, for callgrind.
 *
 *   fastpath_loop malloc|mem_io SIZE PAIRS [LIVE]
 *
 * LIVE = 0 (default): malloc then free at once, so the block's page may empty on every free.
 * LIVE = N: N blocks stay allocated in a ring; each step frees the oldest and allocates anew,
 * so neither call meets an empty page (the steady state of a program's working set).
 *
 * callgrind_pairs.py runs it twice with different PAIRS and divides the difference in
 * instructions by the difference in pairs: start-up, first-touch and exit cancel out, leaving
 * the instructions of one warmed-up malloc+free pair. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memory.h"

static unsigned long parse_count(const char *text, const char *what, unsigned long min)
{
    char *end;
    errno = 0;
    unsigned long value = strtoul(text, &end, 10);
    if (errno || *end || end == text || value < min || value > 1000000000ul) {
        fprintf(stderr, "fastpath_loop: %s must be an integer from %lu to 1e9, got '%s'\n", what, min, text);
        exit(2);
    }
    return value;
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: fastpath_loop malloc|mem_io SIZE PAIRS [LIVE]\n");
        return 2;
    }
    size_t size = parse_count(argv[2], "SIZE", 1);
    unsigned long pairs = parse_count(argv[3], "PAIRS", 1);
    unsigned long live = argc == 5 ? parse_count(argv[4], "LIVE", 0) : 0;
    void *(*allocate)(size_t) = malloc;
    void (*release)(void *) = free;
    if (strcmp(argv[1], "mem_io") == 0) {
        allocate = mem_io_malloc;
        release = mem_io_free;
    } else if (strcmp(argv[1], "malloc") != 0) {
        fprintf(stderr, "fastpath_loop: unknown API '%s' (malloc or mem_io)\n", argv[1]);
        return 2;
    }
    void **ring = live ? calloc(live, sizeof *ring) : NULL;
    if (live && !ring) {
        fprintf(stderr, "fastpath_loop: no memory for %lu live blocks\n", live);
        return 1;
    }
    for (unsigned long i = 0; i < live; i++) ring[i] = allocate(size);
    for (unsigned long i = 0; i < pairs; i++) {
        void *block = allocate(size);
        /* Keeps the compiler from pairing malloc with free and deleting both. */
        __asm__ volatile("" : : "r"(block) : "memory");
        if (live) {
            void **slot = &ring[i % live];
            void *oldest = *slot;
            *slot = block;
            block = oldest;
        }
        release(block);
    }
    for (unsigned long i = 0; i < live; i++) release(ring[i]);
    free(ring);
    return 0;
}

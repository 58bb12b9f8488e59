/* fastpath_loop: PAIRS malloc+free pairs of SIZE bytes and nothing else, for callgrind.
 *
 *   fastpath_loop malloc|mem_io SIZE PAIRS
 *
 * callgrind_pairs.py runs it twice with different PAIRS and divides the difference in
 * instructions by the difference in pairs: start-up, first-touch and exit cancel out, leaving
 * the instructions of one warmed-up malloc+free pair. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef MEM_IO_HAVE_ALLOCATOR
#include "memory.h"
#endif

static unsigned long parse_count(const char *text, const char *what)
{
    char *end;
    errno = 0;
    unsigned long value = strtoul(text, &end, 10);
    if (errno || *end || end == text || value == 0) {
        fprintf(stderr, "fastpath_loop: %s must be a positive integer, got '%s'\n", what, text);
        exit(2);
    }
    return value;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: fastpath_loop malloc|mem_io SIZE PAIRS\n");
        return 2;
    }
    size_t size = parse_count(argv[2], "SIZE");
    unsigned long pairs = parse_count(argv[3], "PAIRS");
    void *(*allocate)(size_t) = malloc;
    void (*release)(void *) = free;
    if (strcmp(argv[1], "mem_io") == 0) {
#ifdef MEM_IO_HAVE_ALLOCATOR
        allocate = mem_io_malloc;
        release = mem_io_free;
#else
        fprintf(stderr, "fastpath_loop: this build has no mem_io allocator library\n");
        return 2;
#endif
    } else if (strcmp(argv[1], "malloc") != 0) {
        fprintf(stderr, "fastpath_loop: unknown API '%s' (malloc or mem_io)\n", argv[1]);
        return 2;
    }
    for (unsigned long i = 0; i < pairs; i++) {
        void *block = allocate(size);
        /* Keeps the compiler from pairing malloc with free and deleting both. */
        __asm__ volatile("" : : "r"(block) : "memory");
        release(block);
    }
    return 0;
}

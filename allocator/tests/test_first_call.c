/* The very first call into mem_io may be any allocation kind (a program's first malloc can be
 * large or aligned). Run in a fresh process per kind: allocate, write, free, expect no error.
 * Usage: test_first_call small|medium|large|aligned */
#include "memory.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s small|medium|large|aligned\n", argv[0]);
        return 2;
    }
    size_t n = 100;
    void *p;
    if (strcmp(argv[1], "aligned") == 0) {
        p = mem_io_aligned_alloc(4096, 300000);
        n = 300000;
    } else {
        n = strcmp(argv[1], "large") == 0 ? 1 << 20 : strcmp(argv[1], "medium") == 0 ? 40000 : 100;
        p = mem_io_malloc(n);
    }
    if (!p)
        return 1;
    memset(p, 0x5a, n);
    mem_io_free(p);
    struct mem_io_stats s;
    mem_io_get_stats(&s);
    if (s.errors != 0 || s.live_bytes != 0) {
        fprintf(stderr, "first call %s: errors=%llu live=%zu\n", argv[1], (unsigned long long)s.errors, s.live_bytes);
        return 1;
    }
    return 0;
}

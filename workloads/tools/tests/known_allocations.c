/* Makes a fixed set of allocation calls, so that tests know the exact trace a recording or an
 * mtrace log of it must give (see test_recorder.py for the expected counts). No stdio: its
 * buffers would add allocations. With the argument "mtrace" it runs between mtrace() and
 * muntrace(), for glibc's malloc tracer. */
#define _GNU_SOURCE
#include <malloc.h>
#include <mcheck.h>
#include <stdlib.h>
#include <string.h>

/* Storing each pointer here makes it escape, so the compiler cannot drop a malloc-free pair. */
void *volatile escaped;
#define KEEP(pointer) (escaped = (pointer))

int main(int argc, char **argv) {
    int traced_by_glibc = argc > 1 && strcmp(argv[1], "mtrace") == 0;
    if (traced_by_glibc) mtrace();
    void *blocks[10];
    for (int i = 0; i < 10; i++) KEEP(blocks[i] = malloc(100));      /* 10 m, 1000 bytes */
    void *zeroed = KEEP(calloc(10, 24));                             /* c: 240 bytes */
    void *page_aligned = KEEP(aligned_alloc(4096, 100));             /* a: 100 bytes */
    void *cache_aligned = NULL;
    if (posix_memalign(&cache_aligned, 64, 200) != 0) return 1;      /* a: 200 bytes */
    char *growing = KEEP(malloc(16));                                /* m: 16 bytes */
    growing = realloc(growing, 5000);                                /* r: now 5000 bytes */
    memset(growing, 1, 5000);
    /* live peak here: 1000 + 240 + 100 + 200 + 5000 = 6540 bytes */
    for (int i = 0; i < 10; i++) free(blocks[i]);                    /* 10 f */
    growing = realloc(growing, 0);                                   /* f (glibc frees, returns NULL) */
    free(zeroed);
    free(page_aligned);
    free(cache_aligned);
    free(NULL);                                                      /* no event */
    if (traced_by_glibc) muntrace();
    return growing != NULL;
}

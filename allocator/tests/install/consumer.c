/* A program outside the mem_io tree, built against an installed mem_io (see check_install.sh).
 * It allocates small, medium and mmap'd blocks, checks their contents, alignment and mem_io's
 * counters, and frees them. Built with MEM_IO_REPLACES_MALLOC (linked to the shared library),
 * it also checks that plain malloc and free are mem_io's. Prints "consumer: ok" and exits 0
 * when every check holds. */
#include <mem_io/memory.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

static void check(int condition, const char *what)
{
    if (!condition) {
        fprintf(stderr, "consumer: check failed: %s\n", what);
        failures++;
    }
}

static void check_api(void)
{
    static const size_t sizes[] = {1, 24, 100, 4000, 40000, 300000};
    enum { COUNT = sizeof sizes / sizeof sizes[0] };
    struct mem_io_stats before, during, after;
    mem_io_get_stats(&before);
    unsigned char *blocks[COUNT];
    for (int i = 0; i < COUNT; i++) {
        blocks[i] = mem_io_malloc(sizes[i]);
        check(blocks[i] != NULL, "mem_io_malloc returns a block");
        if (!blocks[i])
            return;
        check((uintptr_t)blocks[i] % MEM_IO_ALIGNMENT == 0, "blocks are 16-byte aligned");
        check(mem_io_usable_size(blocks[i]) >= sizes[i], "usable size covers the request");
        memset(blocks[i], 'a' + i, sizes[i]);
    }
    mem_io_get_stats(&during);
    check(during.malloc_calls - before.malloc_calls >= COUNT, "mem_io counted the mallocs");
    check(during.live_bytes > before.live_bytes, "live bytes grew");

    unsigned char *grown = mem_io_realloc(blocks[2], 50000);
    check(grown != NULL, "mem_io_realloc grows a block");
    if (grown) {
        blocks[2] = grown;
        for (size_t b = 0; b < sizes[2]; b++)
            if (grown[b] != 'a' + 2) {
                check(0, "realloc keeps the contents");
                break;
            }
    }
    for (int i = 0; i < COUNT; i++) {
        size_t n = i == 2 ? sizes[2] : sizes[i];
        for (size_t b = 0; b < n; b++)
            if (blocks[i][b] != 'a' + i) {
                check(0, "every block keeps its contents");
                break;
            }
        mem_io_free(blocks[i]);
    }
    int *zeros = mem_io_calloc(1000, sizeof *zeros);
    check(zeros != NULL, "mem_io_calloc returns a block");
    for (int i = 0; zeros && i < 1000; i++)
        if (zeros[i] != 0) {
            check(0, "mem_io_calloc zeroes");
            break;
        }
    mem_io_free(zeros);
    mem_io_get_stats(&after);
    check(after.live_bytes == before.live_bytes, "live bytes return to where they were");
    check(after.errors == 0, "no misuse reported");
}

#ifdef MEM_IO_REPLACES_MALLOC
static void check_malloc_is_mem_io(void)
{
    struct mem_io_stats before, after;
    mem_io_get_stats(&before);
    char *text = malloc(64);
    check(text != NULL, "malloc returns a block");
    if (text)
        strcpy(text, "served by mem_io");
    mem_io_get_stats(&after);
    check(after.malloc_calls == before.malloc_calls + 1, "malloc is counted by mem_io");
    check(after.live_bytes > before.live_bytes, "malloc's block is live in mem_io");
    free(text);
}
#endif

int main(void)
{
    check_api();
#ifdef MEM_IO_REPLACES_MALLOC
    check_malloc_is_mem_io();
#endif
    if (failures)
        return 1;
    puts("consumer: ok");
    return 0;
}

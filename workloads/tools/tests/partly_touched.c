/* Writes only part of two large blocks, which glibc serves from mappings of their own (above its
 * 128 KiB mmap threshold), so that a recording must say how many of their pages were touched:
 * 5 pages of a 1 MiB block, which realloc grows to 2 MiB (glibc moves the mapping with mremap,
 * pages and all), then 3 more pages of it before its free. One byte per page, at the same offset
 * from the block's start as the block's offset in its mapping, so each write stays in its page.
 * The writes are volatile: a compiler may drop stores into a block that is freed next. */
#include <stdlib.h>

void *volatile escaped; /* the blocks escape, so the compiler keeps every call */

int main(void) {
    const size_t page = 4096, mebibyte = 1 << 20;
    char *block = malloc(mebibyte);
    if (!block) return 1;
    for (size_t i = 0; i < 5; i++) ((volatile char *)block)[i * page] = 1;
    escaped = block;
    char *grown = realloc(block, 2 * mebibyte);
    if (!grown) return 1;
    for (size_t i = 0; i < 3; i++) ((volatile char *)grown)[mebibyte + i * page] = 1;
    escaped = grown;
    free(grown);
    return 0;
}

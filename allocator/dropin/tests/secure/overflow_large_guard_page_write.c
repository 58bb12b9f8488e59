/* A write running off the end of a large block (a copy loop with a wrong bound), byte after
 * byte: it must stop at the guard page after the block, at the write, before any free. */
#include "case.h"
int main(void)
{
    size_t n = 300000;
    unsigned char *p = opaque(malloc(n));
    for (size_t i = 0; i < n + n / 2; i++)
        p[i] = 'x';
    printf("case failed: wrote %zu bytes past the end of the block\n", n / 2);
    return 1;
}

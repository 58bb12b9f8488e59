/* A read running off the end of a large block (a copy out with a length the caller was told,
 * Heartbleed's kind of bug): it must stop at the guard page after the block. */
#include "case.h"
int main(void)
{
    size_t n = 1 << 20;
    unsigned char *p = opaque(malloc(n));
    memset(p, 'x', n);
    unsigned sum = 0;
    for (size_t i = 0; i < n + n / 2; i++)
        sum += ((volatile unsigned char *)p)[i];
    printf("case failed: read %zu bytes past the end of the block (sum %u)\n", n / 2, sum);
    return 1;
}

/* A write running off the end of a large block aligned to 1 MiB: the alignment leaves slack in
 * the mapping, and the guard page must still follow the block, stopping the write before free. */
#include "case.h"
int main(void)
{
    size_t n = 300000;
    void *block = NULL;
    if (posix_memalign(&block, (size_t)1 << 20, n) != 0)
        return 2;
    unsigned char *p = opaque(block);
    for (size_t i = 0; i < n + n / 2; i++)
        p[i] = 'x';
    printf("case failed: wrote %zu bytes past the end of the block\n", n / 2);
    return 1;
}

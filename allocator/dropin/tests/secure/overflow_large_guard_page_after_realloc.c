/* A large block grown with realloc, then written past its new end: its guard page moved with
 * the end and stops the write there. */
#include "case.h"
int main(void)
{
    size_t n = 300000;
    unsigned char *p = opaque(malloc(n));
    for (int step = 0; step < 8; step++)
        p = opaque(realloc(p, n += 70000));
    for (size_t i = 0; i < n + n / 2; i++)
        p[i] = 'x';
    printf("case failed: wrote %zu bytes past the end of the block\n", n / 2);
    return 1;
}

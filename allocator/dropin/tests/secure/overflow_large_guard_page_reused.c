/* A large block freed and allocated again at the same size gets its range back from the large
 * cache, whose last page is still the guard page it had: a write running off the end of the
 * second block must stop there too. */
#include "case.h"
int main(void)
{
    size_t n = 300000;
    for (int round = 0; round < 3; round++)
        free(opaque(malloc(n)));
    unsigned char *p = opaque(malloc(n));
    for (size_t i = 0; i < n + n / 2; i++)
        p[i] = 'x';
    printf("case failed: wrote %zu bytes past the end of the block\n", n / 2);
    return 1;
}

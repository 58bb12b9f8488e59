/* 64 bytes of 0xDEADBEEF written past a 64-byte block, over its live neighbour; both freed. */
#include "case.h"
int main(void)
{
    uint32_t *lower = opaque(malloc(64));
    uint32_t *upper = opaque(malloc(64));
    for (int i = 0; i < 32; i++)
        lower[i] = 0xDEADBEEF;
    free(lower);
    free(upper);
    return 0;
}

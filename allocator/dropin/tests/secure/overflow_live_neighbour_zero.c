/* 48 zero bytes written past a 100-byte block, over its live neighbour; both freed. */
#include "case.h"
int main(void)
{
    unsigned char *lower = opaque(malloc(100));
    unsigned char *upper = opaque(malloc(100));
    memset(lower + 100, 0, 48);
    free(lower);
    free(upper);
    return 0;
}

/* One byte past a block whose size is a size class of its own (64): no rounding slack. */
#include "case.h"
int main(void)
{
    unsigned char *p = opaque(malloc(64));
    p[64] = 'A';
    free(p);
    return 0;
}

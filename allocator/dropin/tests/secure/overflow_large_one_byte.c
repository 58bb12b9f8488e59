/* One byte past a large (mmap'd) block of 300000 bytes. */
#include "case.h"
int main(void)
{
    unsigned char *p = opaque(malloc(300000));
    p[300000] = 0;
    free(p);
    return 0;
}

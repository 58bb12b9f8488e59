/* One byte past a medium block (40000 bytes). */
#include "case.h"
int main(void)
{
    unsigned char *p = opaque(malloc(40000));
    p[40000] = 0;
    free(p);
    return 0;
}

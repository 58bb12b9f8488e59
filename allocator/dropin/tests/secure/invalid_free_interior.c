/* free of a pointer 16 bytes into a live block. */
#include "case.h"
int main(void)
{
    char *p = opaque(malloc(100));
    free(opaque(p + 16));
    return 0;
}

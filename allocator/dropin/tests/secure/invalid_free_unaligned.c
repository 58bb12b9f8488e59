/* free of a pointer 1 byte past the start of a live block. */
#include "case.h"
int main(void)
{
    char *p = opaque(malloc(100));
    free(opaque(p + 1));
    return 0;
}

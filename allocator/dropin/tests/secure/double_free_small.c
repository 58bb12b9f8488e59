/* A small block (100 bytes) freed twice in a row. */
#include "case.h"
int main(void)
{
    void *p = opaque(malloc(100));
    free(p);
    free(p);
    return 0;
}

/* A medium block (40000 bytes) freed twice in a row. */
#include "case.h"
int main(void)
{
    void *p = opaque(malloc(40000));
    free(p);
    free(p);
    return 0;
}

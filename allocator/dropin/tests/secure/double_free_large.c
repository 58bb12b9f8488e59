/* A large block (200000 bytes) freed twice in a row. */
#include "case.h"
int main(void)
{
    void *p = opaque(malloc(200000));
    free(p);
    free(p);
    return 0;
}

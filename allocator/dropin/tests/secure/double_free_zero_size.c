/* The object of malloc(0) freed twice. */
#include "case.h"
int main(void)
{
    void *p = opaque(malloc(0));
    free(p);
    free(p);
    return 0;
}

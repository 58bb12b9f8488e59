/* A write through the pointer malloc(0) returned. */
#include "case.h"
int main(void)
{
    volatile char *p = opaque(malloc(0));
    p[0] = 1;
    return 0;
}

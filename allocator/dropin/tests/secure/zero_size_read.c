/* A read through the pointer malloc(0) returned. */
#include "case.h"
int main(void)
{
    volatile char *p = opaque(malloc(0));
    printf("%d\n", p[0]);
    return 0;
}

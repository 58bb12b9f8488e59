/* An overflow is found by realloc as well as by free. */
#include "case.h"
int main(void)
{
    unsigned char *p = opaque(malloc(100));
    p[100] = 'x';
    p = realloc(p, 200);
    free(p);
    return 0;
}

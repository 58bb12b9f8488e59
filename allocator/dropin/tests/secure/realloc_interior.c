/* realloc of a pointer into the middle of a live block. */
#include "case.h"
int main(void)
{
    char *p = opaque(malloc(100));
    p = realloc(opaque(p + 32), 200);
    return 0;
}
